"""The vision core the vision node calls per camera frame: image -> landmarks -> hands on the bench -> events.

Pure apart from the pose model it holds: the frame and its time come in, a
``VisionOutput`` goes out; nothing here reads a clock, a camera or the bus, so
the node stays a thin shell and a test can feed it a video file frame by frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

import cv2
import numpy as np

from cell.config import CellConfig, OperatorProfile, Vision, Zone
from cell.messages import TaskEvent
from cell.vision.pose import MediaPipePose, PoseResult, hands_on_bench
from cell.vision.tracking import HandZoneTracker

if TYPE_CHECKING:  # pragma: no cover
    from projection.calibration import CameraToBench

# MediaPipe Pose's landmark model per model_complexity; only "full" is inside the wheel
POSE_MODELS = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}


class PoseBackend(Protocol):
    def process(self, rgb: np.ndarray) -> PoseResult | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class VisionOutput:
    t: float
    index: int
    pose: PoseResult | None
    hands_mm: dict[str, tuple[float, float] | None]   # "left"/"right" -> bench mm, None when not seen
    events: list[TaskEvent]


def make_pose_backend(vision: Vision, resolve: Callable[[Path], Path], *, video: bool = True) -> PoseBackend:
    """The pose model the config names. ``resolve`` turns a path from the YAML into a file
    (``CellConfig.resolve``). ``video``: frames of one stream, so MediaPipe tracks the person from
    frame to frame instead of searching every frame anew (faster, and the landmarks jitter less).

    MediaPipe would download a pose model that is not in its wheel when it starts; the cell never
    downloads at run time, so such a setting is refused here, with what to write instead."""
    if vision.backend == "onnx":
        from cell.vision.onnx_pose import OnnxPoseModel

        return OnnxPoseModel(vision.onnx, resolve(vision.onnx.model))
    import mediapipe

    models = Path(mediapipe.__file__).parent / "modules" / "pose_landmark"
    shipped = [c for c, name in POSE_MODELS.items() if (models / name).is_file()]
    if vision.model_complexity not in shipped:
        raise ValueError(f"vision.model_complexity {vision.model_complexity}: the mediapipe wheel has no "
                         f"{POSE_MODELS[vision.model_complexity]} and the cell does not download models; "
                         f"allowed here: {shipped}")
    return MediaPipePose(static_image=not video, model_complexity=vision.model_complexity, hands=vision.hands)


class VisionPipeline:
    """One camera's frames -> where the operator's hands are on the bench and what they did."""

    def __init__(self, backend: PoseBackend, zones: list[Zone], camera_to_bench: "CameraToBench", *,
                 dwell_s: float, exit_margin_mm: float, left_handed: bool = False, min_visibility: float = 0.5):
        self.backend = backend
        self.camera_to_bench = camera_to_bench
        self.min_visibility = min_visibility
        self.tracker = HandZoneTracker(list(zones), dwell_s=dwell_s, exit_margin_mm=exit_margin_mm,
                                       left_handed=left_handed)

    @classmethod
    def from_config(cls, config: CellConfig, operator: OperatorProfile, camera_to_bench: "CameraToBench",
                    backend: PoseBackend | None = None) -> "VisionPipeline":
        """The pipeline for this cell and operator (a left-handed operator's zones are at their
        ``left_rect``); the pose model from ``config.vision`` unless one is given."""
        if backend is None:
            backend = make_pose_backend(config.vision, config.resolve)
        return cls(backend, config.zones, camera_to_bench, dwell_s=config.thresholds.hand_dwell_s,
                   exit_margin_mm=config.thresholds.hand_exit_margin_mm,
                   left_handed=operator.handedness == "left", min_visibility=config.vision.min_visibility)

    def process(self, t: float, bgr: np.ndarray, index: int = 0) -> VisionOutput:
        """One BGR frame (as OpenCV reads it) taken at ``t`` (the source's clock, seconds).

        A frame of another size than the calibration's would put every hand in the wrong place
        without a sign, so it is refused."""
        h, w = bgr.shape[:2]
        size = self.camera_to_bench.image_size
        if size is not None and tuple(size) != (w, h):
            raise ValueError(f"frame {index} is {w}x{h} but the camera-to-bench calibration was made at "
                             f"{size[0]}x{size[1]}: set the camera's resolution to that, or calibrate again")
        pose = self.backend.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if pose is None:
            hands: dict[str, tuple[float, float] | None] = {"left": None, "right": None}
        else:
            hands = hands_on_bench(pose, (w, h), self.camera_to_bench, self.min_visibility)
        return VisionOutput(t, index, pose, hands, self.tracker.update(t, hands))

    def close(self) -> None:
        self.backend.close()
