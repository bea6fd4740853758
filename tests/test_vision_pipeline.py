"""The vision pipeline (cell/vision/pipeline.py) on a synthetic bench video, through the real MediaPipe path.

The video (tests/vision_scene.py) is a real photograph of a man whose right hand
is scripted to visit the example cell's zones: bin A (the lamp base), the
fixture, bin D (the cable, which the second step does not want) and the "done"
button. It is written to a file and read back as the camera would deliver it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cell.allocation import StaticAllocator
from cell.config import Vision
from cell.config_loader import load_config
from cell.engine import TaskEngine
from cell.messages import StepState, TaskEvent
from cell.vision.camera import open_capture
from cell.vision.pipeline import VisionOutput, VisionPipeline, make_pose_backend
from tests import vision_scene

EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "lamp-cell.yaml"
# what the scene's script does, visit by visit (vision_scene.VISITS)
EXPECTED = [("pick", "bin_base"), ("place", "fixture"), ("pick", "bin_cable"), ("press", "button_done")]


@pytest.fixture(scope="module")
def cfg():
    return load_config(EXAMPLE)


@pytest.fixture(scope="module")
def run(cfg, tmp_path_factory) -> list[VisionOutput]:
    """Every frame of the scene's video through the pipeline, timed by its place in the video."""
    pytest.importorskip("skimage.data")  # the photograph in the scene
    video = tmp_path_factory.mktemp("scene") / "bench.avi"
    written = vision_scene.write_video(video, cfg)
    pipeline = VisionPipeline.from_config(cfg, cfg.operator("op-novice-01"), vision_scene.camera_to_bench())
    cap = open_capture(str(video))
    outputs: list[VisionOutput] = []
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            i = len(outputs)
            outputs.append(pipeline.process(i / vision_scene.FPS, bgr, i))
    finally:
        cap.release()
        pipeline.close()
    assert len(outputs) == written
    return outputs


def scripted_stays(cfg) -> list[tuple[float, float]]:
    """When the scripted hand enters and leaves each visited zone (seconds), in the order of the visits."""
    path = vision_scene.hand_path(cfg)
    stays: list[tuple[float, float]] = []
    i = 0
    for zone_id in vision_scene.VISITS:
        r = cfg.zone(zone_id).rect
        inside = [r.x <= x <= r.x + r.w and r.y <= y <= r.y + r.h for x, y in path]
        first = inside.index(True, i)
        i = inside.index(False, first) if False in inside[first:] else len(path)
        stays.append((first / vision_scene.FPS, (i - 1) / vision_scene.FPS))
    return stays


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_video_gives_exactly_the_scripted_events(cfg, run):
    events = [e for out in run for e in out.events]
    assert [(e.kind, e.zone) for e in events] == EXPECTED
    assert {e.detail for e in events} == {"right hand"}
    # each while the scripted hand is in that zone, once it has stayed there the cell's dwell time (the hand
    # moves 40 mm a frame: MediaPipe may see it in the zone up to two frames before the script has it there)
    dwell = cfg.thresholds.hand_dwell_s
    for e, (first, last) in zip(events, scripted_stays(cfg)):
        assert first + dwell - 2 / vision_scene.FPS <= e.t <= last, (e, first, last)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_hand_is_found_where_the_script_puts_it(cfg, run):
    path = vision_scene.hand_path(cfg)
    seen = [(np.array(out.hands_mm["right"]), path[out.index]) for out in run if out.hands_mm["right"] is not None]
    assert len(seen) >= 0.85 * len(run)  # MediaPipe's detector needs a few frames to find him
    error = [float(np.linalg.norm(mm - truth)) for mm, truth in seen]
    assert np.median(error) < 40.0  # mm; the bins are 150 mm wide, the button 100 mm


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_engine_answers_the_pick_from_the_wrong_bin(cfg, run):
    engine = TaskEngine(cfg, cfg.operator("op-novice-01"), StaticAllocator(cfg.allocation))
    engine.start_order("desk-lamp", 1, 0.0)
    answers = [m for out in run for e in out.events for m in engine.handle(e, e.t)]
    steps = [(m.step_id, m.phase) for m in answers if isinstance(m, StepState)]
    wrong = [(m.zone, m.step_id, m.detail) for m in answers if isinstance(m, TaskEvent) and m.kind == "wrong_pick"]
    assert steps == [("base_to_fixture", "done"), ("insert_stem", "active"), ("insert_stem", "active")]
    assert wrong == [("bin_cable", "insert_stem", "take from bin B")]
    # "done" pressed while the stem is not in: the step stays open
    assert engine.operator_step().id == "insert_stem"


class NoPose:
    """A pose model that sees nobody (and counts how often it was asked)."""

    def __init__(self):
        self.calls = 0

    def process(self, rgb):
        self.calls += 1
        return None

    def close(self) -> None:
        pass


def test_frames_of_another_size_than_the_calibration_are_refused(cfg):
    backend = NoPose()
    pipeline = VisionPipeline.from_config(cfg, cfg.operator("op-novice-01"), vision_scene.camera_to_bench(),
                                          backend=backend)
    out = pipeline.process(0.0, np.zeros((480, 640, 3), np.uint8), 7)
    assert (out.index, out.pose, out.hands_mm, out.events) == (7, None, {"left": None, "right": None}, [])
    with pytest.raises(ValueError, match="1280x720 but the camera-to-bench calibration was made at 640x480"):
        pipeline.process(0.1, np.zeros((720, 1280, 3), np.uint8), 8)
    assert backend.calls == 1


def test_the_pipeline_takes_thresholds_and_handedness_from_the_config(cfg):
    pipeline = VisionPipeline.from_config(cfg, cfg.operator("op-limited-03"), vision_scene.camera_to_bench(),
                                          backend=NoPose())
    assert pipeline.tracker.left_handed and pipeline.tracker.dwell_s == cfg.thresholds.hand_dwell_s
    assert pipeline.tracker.exit_margin_mm == cfg.thresholds.hand_exit_margin_mm
    assert pipeline.min_visibility == cfg.vision.min_visibility


@pytest.mark.parametrize("complexity", [0, 2])
def test_a_pose_model_the_wheel_does_not_ship_is_refused_not_downloaded(complexity):
    with pytest.raises(ValueError, match="does not download models; allowed here: \\[1\\]"):
        make_pose_backend(Vision(model_complexity=complexity), Path)
