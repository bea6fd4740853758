"""Run every benchmark in bench/: `python -m bench`, or `python -m bench --quick` (about a minute)."""

import sys

from bench import allocation_speed, ergonomics_throughput, projector_fps, shift_speed, vision_fps

quick = ["--quick"] if "--quick" in sys.argv[1:] else []
codes = []
for name, bench in (("shift simulation", shift_speed), ("ergonomic scoring throughput", ergonomics_throughput),
                    ("allocation decision time", allocation_speed), ("projector frame rate", projector_fps),
                    ("vision frame rate", vision_fps)):
    print(f"== {name} ==", flush=True)
    codes.append(bench.main(list(quick)))
raise SystemExit(max(codes))
