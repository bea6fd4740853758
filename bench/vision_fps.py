"""Vision frames per second at 640x480: the whole vision path against raw MediaPipe on the same frames.

    python -m bench.vision_fps [--rounds 3] [--quick]

The whole path is what the vision node does for each frame: decode the next
frame of a video file (``open_capture``), then ``VisionPipeline.process``:
BGR to RGB, MediaPipe Pose and Hands in tracking mode with the models in the
wheel, the landmarks into a ``PoseResult``, ``hands_on_bench`` and
``HandZoneTracker.update``. The baseline is MediaPipe's own ``Pose.process``
and ``Hands.process`` with the same settings (those ``MediaPipePose`` uses) on
the same frames, decoded and turned to RGB beforehand, so the ratio is what
the cell adds around the models. The frames are the test scene
(tests/vision_scene.py, needs scikit-image): a real photograph of a person
whose hand visits bins, the fixture and a button, written to an MPEG-4 file.
Both run in one process, taking turns every ``CHUNK`` frames, so a neighbour
that loads the machine for a moment slows both alike. Targets: the whole path
>= 25 frames/s and >= 0.9 x the baseline.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.table import Check, Row, exit_code

EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "lamp-cell.yaml"
TARGET_FPS = 25.0
TARGET_RATIO = 0.9
CHUNK = 10


def one_round(pose, hands, pipeline, rgb_frames: list, video: Path, fps: float) -> tuple[dict, list]:
    """Every frame through both paths in turns; seconds spent per part, and the pipeline's events."""
    from cell.vision.camera import open_capture

    spent = {"raw": 0.0, "pose": 0.0, "hands": 0.0, "path": 0.0}
    events = []
    cap = open_capture(str(video))
    try:
        for start in range(0, len(rgb_frames), CHUNK):
            chunk = range(start, min(start + CHUNK, len(rgb_frames)))
            for i in chunk:
                t0 = time.perf_counter()
                pose.process(rgb_frames[i])
                t1 = time.perf_counter()
                if hands is not None:
                    hands.process(rgb_frames[i])
                t2 = time.perf_counter()
                spent["pose"] += t1 - t0
                spent["hands"] += t2 - t1
                spent["raw"] += t2 - t0
            t0 = time.perf_counter()
            for i in chunk:
                ok, bgr = cap.read()
                if not ok:
                    raise RuntimeError(f"{video}: frame {i} does not decode")
                events += pipeline.process(i / fps, bgr, i).events
            spent["path"] += time.perf_counter() - t0
    finally:
        cap.release()
    return spent, events


def table_rows(argv: list[str] | None = None) -> list[Row]:
    """Measure and print the detail lines; the result as table rows (bench/table.py)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="passes over the video")
    ap.add_argument("--quick", action="store_true", help="one pass")
    args = ap.parse_args(argv)
    rounds = 1 if args.quick else args.rounds

    import cv2

    from cell.config_loader import load_config
    from cell.vision.camera import open_capture
    from cell.vision.pipeline import VisionPipeline
    from tests import vision_scene

    import mediapipe as mp  # after cell.vision (its pose module quiets MediaPipe's start-up log)

    cfg = load_config(EXAMPLE)
    vision = cfg.vision
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "bench.mp4"
        n = vision_scene.write_video(video, cfg)
        cap = open_capture(str(video))
        rgb_frames = []
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            rgb_frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        cap.release()

        # the settings MediaPipePose(static_image=False, ...) gives its two models
        pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=vision.model_complexity)
        hands = mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=2) if vision.hands else None
        pipeline = VisionPipeline.from_config(cfg, cfg.operator(), vision_scene.camera_to_bench())
        total = {"raw": 0.0, "pose": 0.0, "hands": 0.0, "path": 0.0}
        try:
            for rgb in rgb_frames[:CHUNK]:  # first-call costs (XNNPACK set-up) out of the timing
                pose.process(rgb)
                if hands is not None:
                    hands.process(rgb)
                pipeline.process(0.0, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            for r in range(rounds):
                spent, events = one_round(pose, hands, pipeline, rgb_frames, video, vision_scene.FPS)
                total = {k: total[k] + spent[k] for k in total}
                if r == 0:
                    first_events = [(e.kind, e.zone) for e in events]
        finally:
            pose.close()
            if hands is not None:
                hands.close()
            pipeline.close()

    frames = n * rounds
    raw_fps, path_fps = frames / total["raw"], frames / total["path"]
    ratio = path_fps / raw_fps
    expected = [("pick", "bin_base"), ("place", "fixture"), ("pick", "bin_cable"), ("press", "button_done")]
    print(f"vision frames per second at {vision_scene.SIZE[0]}x{vision_scene.SIZE[1]}: {n} frames of the test "
          f"scene (MPEG-4 file) x {rounds} round(s), both paths in one process taking turns every {CHUNK} "
          f"frames, {os.cpu_count()} cpu(s); MediaPipe pose model_complexity {vision.model_complexity}, "
          f"hands {'on' if vision.hands else 'off'}, tracking mode")
    print(f"  raw MediaPipe (baseline) {raw_fps:6.1f} fps  ({1000 / raw_fps:5.1f} ms/frame: pose "
          f"{1000 * total['pose'] / frames:.1f}, hands {1000 * total['hands'] / frames:.1f})  "
          f"Pose/Hands .process() on decoded RGB frames")
    print(f"  whole vision path        {path_fps:6.1f} fps  ({1000 / path_fps:5.1f} ms/frame)  decode, BGR->RGB, "
          f"pose, hands, bench mm, tracking   {ratio:4.2f}x the baseline")
    print(f"  events of the first round as scripted ({', '.join(f'{k} {z}' for k, z in expected)}): "
          f"{'yes' if first_events == expected else f'NO, {first_events}'}")
    print(f"  target >= {TARGET_FPS:g} fps for the whole path: {'yes' if path_fps >= TARGET_FPS else 'NO'}")
    print(f"  target >= {TARGET_RATIO:g}x the baseline: {'yes' if ratio >= TARGET_RATIO else 'NO'}")
    return [Row(bench="vision_fps", measures=f"whole vision path at {vision_scene.SIZE[0]}x{vision_scene.SIZE[1]}, "
                f"pose + hands", ours=path_fps, unit="frames/s", baseline="raw MediaPipe", baseline_value=raw_fps,
                better="higher", checks=(Check("whole path", path_fps, ">=", TARGET_FPS, "frames/s"),
                                         Check("ratio", ratio, ">=", TARGET_RATIO, "×")),
                note=f"{n} frames x {rounds} round(s); events as scripted: "
                     f"{'yes' if first_events == expected else 'NO'}")]


def main(argv: list[str] | None = None) -> int:
    """The detail lines; 0 if both targets are met."""
    return exit_code(table_rows(argv))


if __name__ == "__main__":
    raise SystemExit(main())
