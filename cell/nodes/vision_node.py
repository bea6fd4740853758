"""The vision node: camera frames -> body and hand landmarks and task events on the bus.

A thin shell around ``cell.vision.pipeline.VisionPipeline``: it takes the
newest frame from the camera (``CameraSource`` drops the older ones), runs pose,
hands and zone tracking, and publishes a ``PoseFrame`` (for the ergonomics node)
and the pick/place/press ``TaskEvent``s (for the engine). Part checks look into
their fixture on each frame and publish ``part_present`` when a part has settled.

A camera that stops delivering (unplugged, a stream that drops, a file that
ended) is reported as a ``Fault`` on component ``camera`` after
``thresholds.camera_lost_s``, again every few seconds while it lasts (a node
that joins late still hears it); the engine falls back to confirmation by hand.
When frames come again the fault is cleared and tracking takes over.

Frames are never written to disk unless ``vision.debug_frames`` is on; then the
log says so at start and a ``privacy`` notice is published every few seconds,
which the projector shows on the bench for as long as it lasts.
"""

from __future__ import annotations

import time
from pathlib import Path

from cell.bus import BusEndpoints
from cell.config import CellConfig
from cell.messages import Fault, Message, PoseFrame, StepState
from cell.runtime import Node

REPEAT_S = 5.0        # a lasting fault or notice is published again this often
DEBUG_EVERY_S = 0.5   # at most this many debug frames a second (when on)


def camera_to_bench_for(config: CellConfig):
    """The camera->bench calibration the config names (camera.calibration, else the file beside
    projector.calibration); a clear error when the camera has not been calibrated."""
    from projection.calibration import camera_calibration_path, load_camera_to_bench

    if config.camera.calibration is not None:
        path = config.resolve(config.camera.calibration)
    elif config.projector.calibration is not None:
        path = camera_calibration_path(config.resolve(config.projector.calibration))
    else:
        raise ValueError("the camera is not calibrated to the bench: set camera.calibration, or run "
                         "`cell calibrate projector CONFIG` (it writes the camera file beside projector.calibration)")
    try:
        return load_camera_to_bench(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: no camera calibration there (camera.calibration); run "
                         "`cell calibrate projector CONFIG` first") from None


class VisionNode(Node):
    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options, *, camera_to_bench=None,
                 backend=None, source=None, opener=None):
        super().__init__("vision", endpoints, topics=["step.state"], heartbeat_s=config.bus.heartbeat_s,
                         tick_s=min(0.02, 0.5 / config.camera.fps))
        self.config = config
        self.profile = config.operator(options.operator_id)
        self.camera_to_bench = camera_to_bench if camera_to_bench is not None else camera_to_bench_for(config)
        self.source = config.camera.source if source is None else source
        self._backend = backend
        self._opener = opener
        self.camera = None
        self.pipeline = None
        self.part_checks: list = []
        self.frames = 0
        self.last_frame_at: float | None = None
        self.lost: str = ""               # why the camera counts as lost ("" = it delivers)
        self._lost_said = -float("inf")
        self._privacy_said = -float("inf")
        self._debug_at = -float("inf")
        self._step: StepState | None = None

    def on_start(self, now: float) -> None:
        from cell.vision.camera import CameraSource, open_capture
        from cell.vision.pipeline import VisionPipeline

        self.pipeline = VisionPipeline.from_config(self.config, self.profile, self.camera_to_bench,
                                                   backend=self._backend)
        self.part_checks = _part_checks(self.config, self.camera_to_bench)
        source = int(self.source) if isinstance(self.source, str) and self.source.isdigit() else self.source
        self.camera = CameraSource(source, fps=self.config.camera.fps, opener=self._opener or open_capture,
                                   clock=self.clock).start()
        self.status = f"{self.camera.name}: starting"
        self.last_frame_at = now  # the camera gets camera_lost_s to deliver its first frame
        if self.config.vision.debug_frames:
            self.log("warning", f"vision.debug_frames is on: camera pictures are written to "
                                f"{self.config.resolve(self.config.vision.debug_dir)}; turn it off after debugging")

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, StepState) and msg.assignee == "operator":
            self._step = msg

    def on_tick(self, now: float) -> None:
        assert self.camera is not None and self.pipeline is not None
        frame = self.camera.latest(timeout_s=0.0)
        if frame is None:
            self._check_lost(now)
        else:
            self._take(frame, now)
        if self.config.vision.debug_frames and now - self._privacy_said >= REPEAT_S:
            self._privacy_said = now
            self.publish(Fault(src=self.name, t=now, component="privacy", severity="warning",
                               text="camera pictures are being saved (vision.debug_frames)"))
        self.counters["frames"] = self.frames
        self.counters["dropped_frames"] = self.camera.dropped

    def _check_lost(self, now: float) -> None:
        cam = self.camera
        assert cam is not None
        silent = self.last_frame_at is not None and now - self.last_frame_at >= self.config.thresholds.camera_lost_s
        if not (silent or cam.ended):  # a reconnect within camera_lost_s goes unnoticed by the engine
            return
        why = (cam.status.split(": ", 1)[-1] if cam.status != "streaming"  # "lost: ..." / "ended: ..."
               else f"{cam.name}: no frames for {now - self.last_frame_at:.0f} s")
        if not self.lost:
            self.log("warning", f"camera lost: {why}; steps are confirmed by hand until it is back")
        self._say_lost(why, now)

    def _take(self, frame, now: float) -> None:
        assert self.pipeline is not None and self.camera is not None
        self.last_frame_at = now
        try:
            out = self.pipeline.process(frame.t, frame.image, frame.index)
        except ValueError as exc:  # e.g. frames of another size than the calibration: the camera is no use
            self._unusable(str(exc), now)
            return
        if self.lost:
            self.log("info", f"{self.camera.name} is back: tracking resumes")
            self.publish(Fault(src=self.name, t=now, component="camera", severity="pause", text="back",
                               cleared=True))
            self.lost, self._lost_said = "", -float("inf")
        self.status = f"{self.camera.name}: streaming"
        self.frames += 1
        for ev in out.events:
            self.publish(ev)
        if out.pose is not None:
            self.publish(_pose_frame(self.name, frame.t, frame.index, self.profile.id, out))
        for check, zone in list(self.part_checks):
            try:
                ev = check.update(frame.t, frame.image,
                                  hand_near(zone, out.hands_mm, self.config.thresholds.hand_exit_margin_mm))
            except ValueError as exc:  # the check cannot read these frames: said once, the check stops
                self.log("error", f"part check of zone {zone.id} stopped: {exc}")
                self.part_checks.remove((check, zone))
                continue
            if ev is not None:
                self.publish(ev)
        if self.config.vision.debug_frames and now - self._debug_at >= DEBUG_EVERY_S:
            self._debug_at = now
            _save_debug_frame(self.config.resolve(self.config.vision.debug_dir), frame, out)

    def _unusable(self, why: str, now: float) -> None:
        """Frames arrive but cannot be used: as good as a lost camera for the engine, and said once."""
        if self.lost != why:
            self.log("error", f"camera frames unusable: {why}; steps are confirmed by hand")
            self._lost_said = -float("inf")
        self._say_lost(why, now)

    def _say_lost(self, why: str, now: float) -> None:
        """The camera counts as lost: in the status now, to the engine every REPEAT_S (a late joiner hears it)."""
        self.lost = why
        self.status = f"camera lost: {why}"
        if now - self._lost_said >= REPEAT_S:
            self._lost_said = now
            self.publish(Fault(src=self.name, t=now, component="camera", severity="pause", text=why))

    def on_stop(self, now: float) -> None:
        if self.camera is not None:
            self.camera.stop()
        if self.pipeline is not None:
            self.pipeline.close()
        if self.config.vision.debug_frames:
            self.publish(Fault(src=self.name, t=now, component="privacy", severity="warning",
                               text="camera pictures are no longer saved", cleared=True))


def hand_near(zone, hands_mm: dict, margin_mm: float) -> bool:
    """Is a seen hand over the zone or within the margin of it (it may hide the part)?"""
    import cv2
    import numpy as np

    shape = np.asarray(zone.points(), dtype=np.float32).reshape(-1, 1, 2)
    return any(p is not None and cv2.pointPolygonTest(shape, (float(p[0]), float(p[1])), True) >= -margin_mm
               for p in hands_mm.values())


def _pose_frame(src: str, t: float, index: int, operator_id: str, out) -> PoseFrame:
    pose = out.pose
    hands_mm = {side: (float(p[0]), float(p[1]), 0.0) for side, p in out.hands_mm.items() if p is not None}
    return PoseFrame(src=src, t=t, frame=index, operator_id=operator_id,
                     world=[float(v) for v in pose.world.reshape(-1)],
                     image=[float(v) for v in pose.image.reshape(-1)],
                     visibility=[float(v) for v in pose.visibility],
                     left_hand=None if pose.left_hand is None else [float(v) for v in pose.left_hand.reshape(-1)],
                     right_hand=None if pose.right_hand is None else [float(v) for v in pose.right_hand.reshape(-1)],
                     hands_bench_mm=hands_mm)


def _part_checks(config: CellConfig, camera_to_bench) -> list:
    if not config.vision.part_checks:
        return []
    from cell.vision.part_present import PartPresenceCheck

    return [(PartPresenceCheck.from_config(check, config, camera_to_bench), config.zone(check.zone))
            for check in config.vision.part_checks]


def _save_debug_frame(folder: Path, frame, out) -> None:
    """An annotated camera frame (landmarks, hands in bench mm) for debugging; only with vision.debug_frames."""
    import cv2

    img = frame.image.copy()
    h, w = img.shape[:2]
    if out.pose is not None:
        for (x, y, _), v in zip(out.pose.image, out.pose.visibility):
            if v > 0.5:
                cv2.circle(img, (int(x * w), int(y * h)), 3, (0, 228, 240), -1, cv2.LINE_AA)
    text = "  ".join(f"{s}: {p[0]:.0f},{p[1]:.0f} mm" for s, p in out.hands_mm.items() if p is not None)
    cv2.putText(img, text or "no hands", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / f"frame-{time.strftime('%Y%m%d-%H%M%S')}-{frame.index:06d}.jpg"), img)
