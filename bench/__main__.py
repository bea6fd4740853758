"""Run every benchmark in bench/ (`python -m bench`, or `python -m bench --quick`)."""

import sys

from bench import shift_speed

quick = "--quick" in sys.argv[1:]
raise SystemExit(shift_speed.main(["--quick"] if quick else []))
