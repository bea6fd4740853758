"""How many frames a second get joint angles and RULA: batched numpy path against the per-frame loop.

    python -m bench.ergonomics_throughput [--frames 20000] [--repeat 3] [--seed 0] [--quick]

The baseline is the plain per-frame loop
``[rula_from_angles(joint_angles(world[i], visibility[i], left[i], right[i])) for i ...]``
run in the same process on the same frames, side by side with
``rula_batch(joint_angles_batch(world, visibility, left, right, ...))``.
Frames are realistic skeletons: forward kinematics of random postures within
human ranges (standing and seated, random statures) with some landmarks
less visible and some hands not seen. Both paths get the same inputs and must
agree on every RULA intermediate of every frame. Target: the batched path
scores at least 100 000 frames/s on one core. The process is pinned to one
core where the OS allows it and numpy's thread pools are set to one thread.
"""

from __future__ import annotations

import os
import sys

# one thread for numpy's BLAS/OpenMP pools; only effective if numpy is not imported yet
_NUMPY_WAS_IMPORTED = "numpy" in sys.modules
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
for _var in _THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from cell.simulator.body import BodyDimensions, Posture, forward_kinematics  # noqa: E402
from ergonomics.angles import joint_angles  # noqa: E402
from ergonomics.batch import joint_angles_batch, rula_batch  # noqa: E402
from ergonomics.rula import rula_from_angles  # noqa: E402

from bench.table import Check, Row, exit_code  # noqa: E402

TARGET = 100_000.0
BATCH_SIZES = (1, 10, 100, 1000)


def pin_to_one_core() -> str:
    """Pin this process to its first allowed core; say what happened."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no os.sched_setaffinity on this platform)"
    try:
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
    except OSError as exc:
        return f"not pinned ({exc})"
    return f"pinned to core {core}"


def realistic_frames(n: int, seed: int) -> dict[str, np.ndarray]:
    """world (n,33,3), visibility (n,33), left/right hands (n,21,3) and their presence (n,)."""
    rng = np.random.default_rng(seed)
    # a pool of operators: each BodyDimensions builds its landmark matrix once (~1 ms)
    bodies = [BodyDimensions.from_stature(s) for s in rng.uniform(1.5, 1.95, 24)]
    frames = [forward_kinematics(Posture.random(rng), bodies[rng.integers(len(bodies))])
              for _ in range(n)]
    visibility = np.full((n, 33), 0.95)
    low = rng.random((n, 33)) < 0.05
    visibility[low] = rng.uniform(0.1, 0.6, int(low.sum()))
    return {
        "world": np.stack([f.world for f in frames]),
        "visibility": visibility,
        "left_hand": np.stack([f.left_hand for f in frames]),
        "right_hand": np.stack([f.right_hand for f in frames]),
        "left_present": rng.random(n) < 0.8,
        "right_present": rng.random(n) < 0.8,
    }


def per_frame(d: dict[str, np.ndarray], options: dict) -> list:
    world, vis, lh, rh = d["world"], d["visibility"], d["left_hand"], d["right_hand"]
    lp, rp = d["left_present"], d["right_present"]
    return [rula_from_angles(joint_angles(world[i], vis[i], lh[i] if lp[i] else None,
                                          rh[i] if rp[i] else None), **options)
            for i in range(len(world))]


def batched(d: dict[str, np.ndarray], options: dict, lo: int = 0, hi: int | None = None):
    s = slice(lo, hi)
    angles = joint_angles_batch(d["world"][s], d["visibility"][s], d["left_hand"][s],
                                d["right_hand"][s], left_hand_present=d["left_present"][s],
                                right_hand_present=d["right_present"][s])
    return rula_batch(angles, **options)


def table_rows(argv: list[str] | None = None) -> list[Row]:
    """Measure and print the detail lines; the result as table rows (bench/table.py)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="5 000 frames, one run")
    args = ap.parse_args(argv)
    if args.quick:
        args.frames, args.repeat = 5_000, 1
    pinned = pin_to_one_core()
    threads = ("set to 1 before numpy was imported" if not _NUMPY_WAS_IMPORTED else
               "set to 1, but numpy was already imported (may not apply)")

    t0 = time.perf_counter()
    data = realistic_frames(args.frames, args.seed)
    build_s = time.perf_counter() - t0
    n = args.frames
    options = {"load_kg": 3.0, "load_static_or_repeated": True, "muscle_use_repetitive": True}

    batched(data, options, 0, min(n, 100))  # warm-up: first-call costs of numpy and imports
    loop_s, batch_s = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        reference = per_frame(data, options)
        loop_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        result = batched(data, options)
        batch_s.append(time.perf_counter() - t)

    mismatches = [i for i in range(n) if result.frame(i) != reference[i]]

    sizes = []
    for size in BATCH_SIZES:
        if size >= n:
            continue
        count = min(n, max(size, 2000))
        t = time.perf_counter()
        for lo in range(0, count - size + 1, size):
            batched(data, options, lo, lo + size)
        sizes.append((size, (count // size * size) / (time.perf_counter() - t)))

    loop_fps = n / statistics.median(loop_s)
    batch_fps = n / statistics.median(batch_s)
    ratio = batch_fps / loop_fps
    print(f"ergonomics throughput: joint angles + RULA of {n:,} realistic frames "
          f"(FK of random postures, built in {build_s:.1f} s), {args.repeat} run(s) each, same process")
    print(f"  cpu                   {pinned}; {', '.join(_THREAD_VARS)} {threads}")
    print(f"  per-frame loop        {loop_fps:>12,.0f} frames/s  (median {statistics.median(loop_s) * 1e3:.1f} ms;"
          f" {1e6 / loop_fps:.1f} us/frame)  <- baseline")
    print(f"  batched (N={n:,})     {batch_fps:>12,.0f} frames/s  (median {statistics.median(batch_s) * 1e3:.1f} ms;"
          f" {1e6 / batch_fps:.2f} us/frame)")
    for size, fps in sizes:
        print(f"  batched in chunks of {size:<5} {fps:>9,.0f} frames/s")
    print(f"  batched / per-frame   {ratio:,.1f}x")
    print(f"  results agree         {'yes' if not mismatches else 'NO'}: every RULA intermediate of "
          f"{n - len(mismatches):,} / {n:,} frames identical")
    print(f"  batched >= {TARGET:,.0f} frames/s: {'yes' if batch_fps >= TARGET else 'no'}"
          f"  -> {'OK' if batch_fps >= TARGET else 'BELOW TARGET'}")
    if mismatches:
        print(f"  first mismatching frames: {mismatches[:10]}")
    return [Row(bench="ergonomics_throughput", measures=f"joint angles + RULA of {n:,} frames, batched, one core",
                ours=batch_fps, unit="frames/s", baseline="per-frame loop", baseline_value=loop_fps,
                better="higher", checks=(Check("batched", batch_fps, ">=", TARGET, "frames/s"),
                                         Check("mismatching frames", len(mismatches), "==", 0)),
                note=f"median of {args.repeat} run(s); {pinned}")]


def main(argv: list[str] | None = None) -> int:
    """The detail lines; 0 if the target is met and both paths agree on every frame."""
    return exit_code(table_rows(argv))


if __name__ == "__main__":
    raise SystemExit(main())
