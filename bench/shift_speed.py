"""How fast a simulated 8-hour shift runs: simulated time / wall time, against real time.

    python -m bench.shift_speed [--hours 8] [--operator ID] [--repeat 3]

The baseline is the wall clock itself (a real shift runs at 1x); the target is
at least 2000x, i.e. an 8-hour shift of the example cell in under 15 s on a
2-core machine. Each run simulates the whole cell: the engine, the allocator,
the simulated operator's body (inverse kinematics, 33 landmarks, image
projection at 1 frame per simulated second), RULA, REBA, exposure and fatigue on every frame, the stress
estimate and the event log in SQLite.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.table import Check, Row, exit_code
from cell.config_loader import load_config
from cell.simulator.shift import run_shift

EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "lamp-cell.yaml"
TARGET = 2000.0


def table_rows(argv: list[str] | None = None) -> list[Row]:
    """Measure and print the detail lines; the result as table rows (bench/table.py)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=EXAMPLE)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--operator", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one 1-hour run")
    args = ap.parse_args(argv)
    if args.quick:
        args.hours, args.repeat = 1.0, 1
    cfg = load_config(args.config)
    sim_s = args.hours * 3600.0
    walls, units = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            t0 = time.perf_counter()
            s = run_shift(cfg, operator_id=args.operator, duration_s=sim_s, seed=i,
                          log_path=Path(tmp) / f"shift-{i}.sqlite")
            walls.append(time.perf_counter() - t0)
            units.append(s.units)
    wall = statistics.median(walls)
    ratio = sim_s / wall
    print(f"shift simulation: {args.hours:g} h of {cfg.cell.id} ({s.operator}), {args.repeat} run(s)")
    print(f"  wall time per shift   median {wall:.2f} s (runs: {', '.join(f'{w:.2f}' for w in walls)})")
    print(f"  units per shift       {', '.join(map(str, units))}; {s.rula_frames} frames scored, "
          f"{s.events_logged} events logged")
    print(f"  simulated / wall      {ratio:,.0f}x real time (baseline: real time = 1x; target >= {TARGET:,.0f}x)"
          f"  -> {'OK' if ratio >= TARGET else 'BELOW TARGET'}")
    return [Row(bench="shift_speed", measures=f"simulated {args.hours:g} h shift of the example cell, "
                f"simulated time / wall time", ours=ratio, unit="× real time", baseline="real time",
                baseline_value=1.0, better="higher", checks=(Check("speed", ratio, ">=", TARGET, "× real time"),),
                note=f"median of {args.repeat} run(s): {wall:.2f} s wall per shift")]


def main(argv: list[str] | None = None) -> int:
    """The detail lines; 0 if the target is met."""
    return exit_code(table_rows(argv))


if __name__ == "__main__":
    raise SystemExit(main())
