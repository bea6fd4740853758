"""Projector frames per second at 1920x1080 for a typical step view, against an empty frame.

    python -m bench.projector_fps [--seconds 3] [--quick]

A frame is what the projection node does each tick while a highlight pulses:
``BenchRenderer.render(view, t)`` (a copy of the cached layer, the pulsing
highlights, the panel) and ``ProjectorWindow.show`` (blit and flip), under the
SDL dummy video driver, so the number is the software's cost without a GPU or
a real display. The typical view is the example cell's "screw the stem" step
for the novice profile (full guidance: a pulsing pick highlight with its
quantity and dots, the place zone with its arrow, the cobot area, the virtual
buttons, the instruction panel), drawn through the example's bench mapped onto
1920x1080. The baseline is the same renderer and window drawing a view with no
zones and no panel text (an empty bench), in the same process, one after the
other. Target: >= 60 frames per second for the typical view.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench.table import Check, Row, exit_code

EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "lamp-cell.yaml"
RESOLUTION = (1920, 1080)
TARGET_FPS = 60.0


def frames_per_second(renderer, window, view, seconds: float) -> tuple[float, int]:
    """Render and show ``view`` with the pulse moving on, for about ``seconds``."""
    dt = 1.0 / 60.0
    for i in range(5):  # warm the caches, as a running node has
        window.show(renderer.render(view, i * dt))
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        window.show(renderer.render(view, n * dt))
        n += 1
        now = time.perf_counter()
        if now >= end:
            return n / (now - t0), n


def table_rows(argv: list[str] | None = None) -> list[Row]:
    """Measure and print the detail lines; the result as table rows (bench/table.py)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="how long each view is timed")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    seconds = 1.0 if args.quick else args.seconds
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

    from cell.config_loader import load_config
    from cell.messages import StepState
    from projection.bench_view import bench_view
    from projection.geometry import BenchToProjector
    from projection.renderer import BenchRenderer, ProjectorWindow
    from projection.view import BenchView

    cfg = load_config(EXAMPLE)
    task = cfg.tasks[0]
    step = task.step("screw_stem")
    state = StepState(src="bench", t=0.0, seq=1, order_id="bench", task_id=task.id, step_id=step.id,
                      step_index=task.steps.index(step), step_count=len(task.steps), phase="active",
                      assignee="operator", unit=3, units_total=20)
    typical = bench_view(cfg, cfg.operator("op-novice-01"), state)
    empty = BenchView(cfg.bench.width_mm, cfg.bench.depth_mm)
    mapping = BenchToProjector.default(cfg.bench.width_mm, cfg.bench.depth_mm, *RESOLUTION)
    renderer = BenchRenderer(RESOLUTION, mapping)
    driver = os.environ.get("SDL_VIDEODRIVER", "")
    print(f"projector frames per second at {RESOLUTION[0]}x{RESOLUTION[1]} (render + show, SDL video driver "
          f"'{driver}'), {seconds:g} s per view, same process")
    with ProjectorWindow(0, RESOLUTION, fullscreen=False, title="projector fps bench") as window:
        base, n_base = frames_per_second(renderer, window, empty, seconds)
        step_fps, n_step = frames_per_second(renderer, window, typical, seconds)
    assert renderer.animated(typical), "the typical view should pulse"
    ok = step_fps >= TARGET_FPS
    print(f"  empty bench (baseline)   {base:8.1f} fps  ({1000.0 / base:6.2f} ms/frame, {n_base} frames)")
    print(f"  typical step view        {step_fps:8.1f} fps  ({1000.0 / step_fps:6.2f} ms/frame, {n_step} frames)"
          f"   {step_fps / base:5.2f}x the baseline")
    print(f"  target >= {TARGET_FPS:g} fps for the typical step view: {'yes' if ok else 'NO'}")
    return [Row(bench="projector_fps", measures=f"typical step view at {RESOLUTION[0]}x{RESOLUTION[1]}, "
                f"render + show", ours=step_fps, unit="frames/s", baseline="empty bench", baseline_value=base,
                better="higher", checks=(Check("typical view", step_fps, ">=", TARGET_FPS, "frames/s"),),
                note=f"SDL driver '{driver}', {seconds:g} s per view")]


def main(argv: list[str] | None = None) -> int:
    """The detail lines; 0 if the target is met."""
    return exit_code(table_rows(argv))


if __name__ == "__main__":
    raise SystemExit(main())
