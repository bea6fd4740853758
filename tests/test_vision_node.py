"""The vision node on a bus: a real photograph through MediaPipe, a camera pulled out and put back.

The camera is a VideoCapture-like object over scikit-image's astronaut photograph
that can be "unplugged" (reads fail and it does not reopen, as a USB camera does)
and plugged in again. Engine, event log and projection run as real nodes in
threads: the test checks what each of them does with the lost camera.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from cell.bus import Subscriber
from cell.config import StoreSettings
from cell.config_loader import load_config
from cell.messages import Fault, Heartbeat, PoseFrame, StepState, TaskEvent
from cell.nodes import RunOptions
from projection.calibration import CameraToBench
from tests.helpers_nodes import running_bus, wait_until
from tests.test_cell_processes import EXAMPLE, make_node_at

pytest.importorskip("skimage")


def wait_for(sub: Subscriber, predicate, timeout_s: float, seen: list):
    """The first message (already seen, or arriving within the timeout) the predicate accepts."""
    for msg in seen:
        if predicate(msg):
            seen.remove(msg)
            return msg
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = sub.recv(100)
        if msg is None:
            continue
        if predicate(msg):
            return msg
        seen.append(msg)
    kinds = [f"{type(m).__name__}({getattr(m, 'component', getattr(m, 'step_id', ''))})" for m in seen[-8:]]
    raise AssertionError(f"timed out; last messages: {kinds}")


class UnpluggableCamera:
    """Opens like a camera device; ``unplug()`` makes reads fail and reopening fail until ``plug()``."""

    def __init__(self, bgr: np.ndarray, fps: float = 15.0):
        self.bgr = bgr
        self.period = 1.0 / fps
        self.plugged = threading.Event()
        self.plugged.set()
        self.opened = 0

    def open(self, source):
        self.opened += 1
        return _Capture(self)

    def unplug(self) -> None:
        self.plugged.clear()

    def plug(self) -> None:
        self.plugged.set()


class _Capture:
    def __init__(self, cam: UnpluggableCamera):
        self.cam = cam
        self.ok = cam.plugged.is_set()

    def isOpened(self) -> bool:  # noqa: N802 - the VideoCapture interface
        return self.ok

    def read(self):
        time.sleep(self.cam.period)
        if not self.cam.plugged.is_set():
            self.ok = False
            return False, None
        return True, self.cam.bgr.copy()

    def get(self, prop) -> float:
        return 1.0 / self.cam.period

    def release(self) -> None:
        self.ok = False


@pytest.fixture(scope="module")
def astronaut_bgr():
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


def bench_mapping(width_px: int, height_px: int, cfg) -> CameraToBench:
    """The camera sees the whole bench top-down: pixels scale straight to millimetres."""
    sx, sy = cfg.bench.width_mm / width_px, cfg.bench.depth_mm / height_px
    return CameraToBench(homography=np.array([[sx, 0, 0], [0, sy, 0], [0, 0, 1.0]]))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_camera_unplugged_the_engine_falls_back_to_confirmation_by_hand_and_tracking_resumes(tmp_path,
                                                                                          astronaut_bgr):
    from cell.nodes.vision_node import VisionNode

    cfg = load_config(EXAMPLE)
    cfg = cfg.model_copy(update={"store": StoreSettings(path=tmp_path / "events.sqlite"), "robot": None,
                                 "camera": cfg.camera.model_copy(update={"source": 0, "fps": 15})})
    options = RunOptions(state_dir=str(tmp_path / "state"), frames_dir=str(tmp_path / "frames"))
    cam = UnpluggableCamera(astronaut_bgr)
    h, w = astronaut_bgr.shape[:2]
    with running_bus() as (ctx, ep, _proxy):
        sub = Subscriber(ctx, ep.sub, ["step.state", "fault.", "pose.frame", "heartbeat.vision"])
        nodes = {name: make_node_at(name, cfg, ep, options) for name in ("store", "engine", "projection")}
        nodes["vision"] = VisionNode(cfg, ep, options, camera_to_bench=bench_mapping(w, h, cfg), opener=cam.open)
        threads = {name: node.start_thread() for name, node in nodes.items()}
        seen: list = []
        try:
            # the camera works: MediaPipe finds the astronaut, the ergonomics get her landmarks
            pose = wait_for(sub, lambda m: isinstance(m, PoseFrame), 30, seen)
            assert pose.operator_id == cfg.operators[0].id and len(pose.world) == 99 and not pose.simulated
            wait_for(sub, lambda m: isinstance(m, StepState) and m.phase == "active" and m.assignee == "operator",
                     30, seen)
            # pulled out: the vision node says so, the engine goes on by hand, the bench tells the operator how
            cam.unplug()
            lost = wait_for(sub, lambda m: isinstance(m, Fault) and m.component == "camera" and not m.cleared
                            and m.src == "vision", cfg.thresholds.camera_lost_s + 5, seen)
            assert "camera device 0" in lost.text
            manual = wait_for(sub, lambda m: isinstance(m, StepState) and m.manual, 5, seen)
            assert not manual.paused and "camera device 0" in manual.manual
            beat = wait_for(sub, lambda m: isinstance(m, Heartbeat) and m.src == "vision"
                            and m.status.startswith("camera lost"), 5, seen)
            assert "camera device 0" in beat.status
            projection = nodes["projection"]
            assert wait_until(lambda: projection.view is not None and projection.view.banner is not None
                              and "camera" in projection.view.banner.text.lower(), 5.0)
            # a confirmation by hand finishes the operator's step although nothing is seen
            step = manual if manual.assignee == "operator" else \
                wait_for(sub, lambda m: isinstance(m, StepState) and m.manual and m.assignee == "operator", 5, seen)
            nodes["vision"].publish(TaskEvent(src="devices", t=time.monotonic(), kind="confirm", detail="pedal"))
            wait_for(sub, lambda m: isinstance(m, StepState) and (m.step_id, m.unit, m.phase)
                     == (step.step_id, step.unit, "done"), 10, seen)
            # plugged back in: the fault clears, the engine stops asking, landmarks flow again
            cam.plug()
            wait_for(sub, lambda m: isinstance(m, Fault) and m.component == "camera" and m.cleared, 10, seen)
            wait_for(sub, lambda m: isinstance(m, StepState) and not m.manual, 5, seen)
            wait_for(sub, lambda m: isinstance(m, PoseFrame), 10, seen)
            assert cam.opened >= 2  # the node reopened the camera
        finally:
            sub.close()
            for _thread, stop in threads.values():
                stop.set()
            for thread, _ in threads.values():
                thread.join(10)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_debug_frames_are_written_only_when_asked_and_the_bench_says_so(tmp_path, astronaut_bgr):
    from cell.nodes.vision_node import VisionNode

    cfg = load_config(EXAMPLE)
    h, w = astronaut_bgr.shape[:2]
    for debug in (False, True):
        folder = tmp_path / f"debug-{debug}"
        vision = cfg.vision.model_copy(update={"debug_frames": debug, "debug_dir": folder})
        c = cfg.model_copy(update={"vision": vision, "robot": None,
                                   "camera": cfg.camera.model_copy(update={"source": 0, "fps": 15})})
        options = RunOptions(state_dir=str(tmp_path / "state"), frames_dir=str(tmp_path / "frames"))
        with running_bus() as (ctx, ep, _proxy):
            sub = Subscriber(ctx, ep.sub, ["pose.frame", "fault."])
            node = VisionNode(c, ep, options, camera_to_bench=bench_mapping(w, h, c),
                              opener=UnpluggableCamera(astronaut_bgr).open)
            projection = make_node_at("projection", c, ep, options)
            threads = [node.start_thread(), projection.start_thread()]
            seen: list = []
            try:
                for _ in range(3):
                    wait_for(sub, lambda m: isinstance(m, PoseFrame), 30, seen)
                notices = [m for m in seen if isinstance(m, Fault) and m.component == "privacy"]
                if debug:
                    assert notices and "camera pictures are being saved" in notices[0].text
                    assert wait_until(lambda: projection.view is not None and projection.view.recording, 5.0)
                    assert list(folder.glob("*.jpg"))
                else:
                    assert not notices and not folder.exists()
                    assert projection.view is None or not projection.view.recording
            finally:
                sub.close()
                for _thread, stop in threads:
                    stop.set()
                for thread, _ in threads:
                    thread.join(10)


@pytest.mark.timeout(60)
def test_frames_of_another_size_than_the_calibration_count_as_a_lost_camera(tmp_path, astronaut_bgr):
    from cell.nodes.vision_node import VisionNode

    cfg = load_config(EXAMPLE)
    cfg = cfg.model_copy(update={"robot": None, "camera": cfg.camera.model_copy(update={"source": 0, "fps": 15})})
    options = RunOptions(state_dir=str(tmp_path / "state"), frames_dir=str(tmp_path / "frames"))
    calibrated_at = CameraToBench(homography=np.eye(3), image_size=(1280, 720))  # the frames are 512x512
    with running_bus() as (ctx, ep, _proxy):
        sub = Subscriber(ctx, ep.sub, ["fault.", "pose.frame"])
        node = VisionNode(cfg, ep, options, camera_to_bench=calibrated_at, opener=UnpluggableCamera(astronaut_bgr).open)
        thread, stop = node.start_thread()
        seen: list = []
        try:
            fault = wait_for(sub, lambda m: isinstance(m, Fault) and m.component == "camera", 20, seen)
            assert "512x512" in fault.text and "1280x720" in fault.text and not fault.cleared
            time.sleep(1.0)
            more = [m for m in seen if isinstance(m, Fault)] + [m for m in iter(lambda: sub.recv(50), None)]
            assert not any(isinstance(m, PoseFrame) for m in more)  # nothing from frames it cannot place
            assert node.frames == 0 and node.status.startswith("camera lost")
        finally:
            sub.close()
            stop.set()
            thread.join(10)


def test_a_real_camera_needs_a_calibration_and_then_gets_the_vision_node(tmp_path):
    from cell.nodes import NodeUnavailable, nodes_for

    cfg = load_config(EXAMPLE)
    live = cfg.model_copy(update={"camera": cfg.camera.model_copy(update={"source": 0, "calibration": None}),
                                  "projector": cfg.projector.model_copy(update={"calibration": None})})
    with pytest.raises(NodeUnavailable, match="cell calibrate projector"):
        nodes_for(live)
    missing = live.model_copy(update={"camera": live.camera.model_copy(update={"calibration": tmp_path / "no.camera.yaml"})})
    with pytest.raises(NodeUnavailable, match="no camera calibration there"):
        nodes_for(missing)
    assert "sim-operator" in nodes_for(cfg) and "vision" not in nodes_for(cfg)  # the simulated camera
