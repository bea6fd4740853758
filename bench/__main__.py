"""Run every speed benchmark in bench/ and print one table of ratios against their baselines.

    python -m bench [--quick] [--only NAME ...] [--timeout SECONDS] [--json FILE]

Each benchmark runs in its own Python process (``python -m bench --child NAME``), one after
the other, so none inherits another's state: ergonomics_throughput pins its process to one
core and sets numpy's thread pools to one thread, which in a shared process would also hold
for the vision and bus benchmarks after it. Each prints its detail lines as it goes; the
table comes last, in markdown, headed by the command, the date and the machine. Exit code 0
only if every target is met; the ones missed are listed under the table. ``--quick`` passes
``--quick`` to every benchmark (the whole run in well under a minute on 2 cores).

bench.angle_noise is not in the table: it is an accuracy study (angle error under landmark
noise), not a speed ratio against a baseline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.table import Row, did_not_finish, exit_code, format_table, summary

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = (  # module in bench/, title of its detail section
    ("shift_speed", "shift simulation"),
    ("ergonomics_throughput", "ergonomic scoring throughput"),
    ("allocation_speed", "allocation decision time"),
    ("projector_fps", "projector frame rate"),
    ("vision_fps", "vision frame rate"),
    ("bus_latency", "bus latency and throughput"),
)
NOT_IN_TABLE = "bench.angle_noise (accuracy of the joint angles under landmark noise; not a speed ratio)"


def machine() -> str:
    """Cores, CPU model, OS and Python, for the line above the table."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    cpus = f"{cores} cores" + (f" ({usable} usable)" if usable != cores else "")
    return f"{platform.system()} {platform.machine()}, {cpus}, {model}, Python {platform.python_version()}"


def load() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


class OthersCpu:
    """How much of the machine's CPU time other processes took while we ran (from /proc/stat).

    All busy CPU time of the machine minus what our benchmark processes used, as a share of
    every core's wall time: 0 % is a quiet machine, 50 % on 2 cores is one core taken by
    someone else. None where /proc/stat is missing.
    """

    def __init__(self) -> None:
        self.t0, self.busy0, self.ours0 = time.monotonic(), self._busy(), self._ours()

    @staticmethod
    def _busy() -> float | None:
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        except (OSError, IndexError):
            return None
        ticks = [int(x) for x in fields[:8]]  # user nice system idle iowait irq softirq steal
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _ours() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def share(self) -> float | None:
        busy = self._busy()
        if busy is None or self.busy0 is None:
            return None
        wall = (time.monotonic() - self.t0) * (os.cpu_count() or 1)
        return max(0.0, (busy - self.busy0) - (self._ours() - self.ours0)) / wall if wall > 0 else None


def others(share: float | None) -> str:
    return "?" if share is None else f"{100 * share:.0f} %"


def run_one(name: str, quick: bool, timeout: float) -> list[Row]:
    """One benchmark in a child process; its detail lines go straight to our stdout and stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [sys.executable, "-m", "bench", "--child", name, "--rows-out", str(out)] + (["--quick"] if quick else [])
        try:
            proc = subprocess.run(cmd, cwd=ROOT, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [did_not_finish(name, f"still running after {timeout:g} s")]
        if not out.exists():
            return [did_not_finish(name, f"exit code {proc.returncode}, no result")]
        return [Row.from_dict(d) for d in json.loads(out.read_text())]


def child(name: str, rows_out: Path, quick: bool) -> int:
    """In the child process: run one benchmark module and write its rows as JSON."""
    module = importlib.import_module(f"bench.{name}")
    rows = module.table_rows(["--quick"] if quick else [])
    sys.stdout.flush()
    rows_out.write_text(json.dumps([r.to_dict() for r in rows]))
    return exit_code(rows)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = [n for n, _ in BENCHMARKS]
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="every benchmark's quick mode (under a minute in all)")
    ap.add_argument("--only", nargs="+", choices=names, metavar="NAME", help=f"only these: {', '.join(names)}")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds one benchmark may take before it counts as missed (default 120 quick, 900 full)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write the rows and the run's header as JSON")
    ap.add_argument("--child", choices=names, help=argparse.SUPPRESS)
    ap.add_argument("--rows-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child, args.rows_out, args.quick)

    timeout = args.timeout or (120.0 if args.quick else 900.0)
    command = " ".join(["python -m bench", *argv])
    started = dt.datetime.now().astimezone()
    load_before = load()
    t0 = time.perf_counter()
    rows: list[Row] = []
    whole = OthersCpu()
    for name, title in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        print(f"== {title} (bench.{name}) ==", flush=True)
        meter = OthersCpu()
        got = run_one(name, args.quick, timeout)
        share = meter.share()
        print(f"  (other processes used {others(share)} of the machine's CPU time meanwhile)", flush=True)
        rows += [replace(r, note="; ".join(filter(None, (r.note, f"others' CPU {others(share)}")))) for r in got]
        print(flush=True)
    wall = time.perf_counter() - t0

    head = (f"Command: `{command}` · {started:%Y-%m-%d %H:%M %Z} · {machine()} · "
            f"load average (1/5/15 min) {load_before} before, {load()} after · other processes used "
            f"{others(whole.share())} of the CPU time meanwhile · {wall:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps({"header": head, "rows": [r.to_dict() for r in rows],
                                         "exit_code": exit_code(rows)}, indent=1))
    print(head)
    print()
    print(format_table(rows))
    print()
    print(summary(rows))
    print(f"Not in the table: {NOT_IN_TABLE}.")
    return exit_code(rows)


if __name__ == "__main__":
    raise SystemExit(main())
