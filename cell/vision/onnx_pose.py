"""Pose from an ONNX model the integrator brings (``vision.backend: onnx``), run with onnxruntime.

``OnnxPoseModel`` has ``MediaPipePose``'s interface (``process(rgb) -> PoseResult | None``, ``close()``),
so the vision pipeline can use either. The YAML (``cell.config.OnnxPose``) says what the model's
output means:

* ``heatmap``: one output (1, K, h, w), a map per point. The point is the arg-max moved a quarter of a
  cell toward the higher neighbour on each axis (the usual HRNet/mmpose refinement); the score is the peak.
* ``simcc``: two outputs (1, K, W*r) and (1, K, H*r), x first. The point is each arg-max divided by
  ``simcc_split_ratio``; the score is the lower of the two maxima (a point is as sure as its weaker axis).
* ``keypoints``: one output (1, K, 3) x, y, score or (1, K, 4) x, y, z, score, in model-input pixels or 0..1;
  z is ignored.

``mean`` and ``std`` apply to the channels in the order the model takes them (after any swap to BGR).

Coordinates follow mmpose, where most such models come from: a pixel's index is its coordinate, heatmap
cell i stands for input pixel i * (input size / heatmap size), SimCC bin j for input pixel j / r. The frame
is letterboxed into the model input (scaled to fit, aspect ratio kept, centred, black padding) and the
points are mapped back through the same transform, so ``PoseResult.image`` is normalised to the original
frame: 0 at its left/top edge, 1 at its right/bottom edge.

These are top-down models, trained on crops around one person: the whole frame goes in, so the camera
must frame the operator (as the cell's camera does); there is no person detector.

COCO-17 points are put in MediaPipe's 33-point order. Points COCO lacks (eye corners, mouth, hand and
foot points) get visibility 0 and a position extrapolated from the nearest COCO points, so code that
reads them by index gets a plausible place, never a seen point.

World landmarks are a planar estimate, ``PoseResult.planar`` is True: the image points in metres, origin
between the hips (the mean of the hips seen), +x to the image's right (the operator's left when they face
the camera, as MediaPipe's), +y down, z = 0. The scale assumes the mid-shoulder to mid-hip distance in the
image is ``TRUNK_M`` = 0.5 m (an adult trunk seen square-on). Anything out of the image plane is not seen:
a bend toward or away from the camera shortens the trunk in the image, which this scale turns into a
larger body rather than a bend, so a forward bend toward the camera reads as upright; side bends and arm
movements in the image plane are measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cell.config import OnnxPose
from cell.vision.pose import PoseResult
from ergonomics.landmarks import PoseLandmark as P

TRUNK_M = 0.5   # mid-shoulder to mid-hip, metres: sets the scale of the planar world estimate

COCO17 = (P.NOSE, P.LEFT_EYE, P.RIGHT_EYE, P.LEFT_EAR, P.RIGHT_EAR, P.LEFT_SHOULDER, P.RIGHT_SHOULDER,
          P.LEFT_ELBOW, P.RIGHT_ELBOW, P.LEFT_WRIST, P.RIGHT_WRIST, P.LEFT_HIP, P.RIGHT_HIP,
          P.LEFT_KNEE, P.RIGHT_KNEE, P.LEFT_ANKLE, P.RIGHT_ANKLE)   # MediaPipe index of each COCO point

# Points COCO lacks, as weighted sums of COCO points (weights add up to 1, so the estimate holds under
# the letterbox's scaling): eye corners along the eye line, the mouth below the nose, hand points along
# the forearm past the wrist, heel and toes along the shin past the ankle.
_DERIVED = {
    P.LEFT_EYE_INNER: {1: 0.8, 2: 0.2}, P.LEFT_EYE_OUTER: {1: 1.2, 2: -0.2},
    P.RIGHT_EYE_INNER: {2: 0.8, 1: 0.2}, P.RIGHT_EYE_OUTER: {2: 1.2, 1: -0.2},
    P.MOUTH_LEFT: {0: 1.6, 1: -0.1, 2: -0.5}, P.MOUTH_RIGHT: {0: 1.6, 1: -0.5, 2: -0.1},
    P.LEFT_PINKY: {9: 1.35, 7: -0.35}, P.LEFT_INDEX: {9: 1.35, 7: -0.35}, P.LEFT_THUMB: {9: 1.2, 7: -0.2},
    P.RIGHT_PINKY: {10: 1.35, 8: -0.35}, P.RIGHT_INDEX: {10: 1.35, 8: -0.35}, P.RIGHT_THUMB: {10: 1.2, 8: -0.2},
    P.LEFT_HEEL: {15: 1.1, 13: -0.1}, P.LEFT_FOOT_INDEX: {15: 1.2, 13: -0.2},
    P.RIGHT_HEEL: {16: 1.1, 14: -0.1}, P.RIGHT_FOOT_INDEX: {16: 1.2, 14: -0.2},
}


def _coco_to_mediapipe() -> np.ndarray:
    m = np.zeros((33, 17))
    m[list(COCO17), range(17)] = 1.0
    for mp_index, weights in _DERIVED.items():
        m[mp_index, list(weights)] = list(weights.values())
    return m


COCO_TO_MEDIAPIPE = _coco_to_mediapipe()   # (33, 17): image33 = COCO_TO_MEDIAPIPE @ coco17

POINTS = {"coco17": 17, "mediapipe33": 33}
OUTPUTS = {"heatmap": "1 output (1, K, h, w)", "simcc": "2 outputs (1, K, W*r) and (1, K, H*r), x first",
           "keypoints": "1 output (1, K, 3) x, y, score or (1, K, 4) x, y, z, score"}


class OnnxPoseError(ValueError):
    """The model file is missing, unreadable, or does not fit its configuration."""


@dataclass(frozen=True)
class Letterbox:
    """Where the frame sits inside the model input, in input pixels."""

    left: int
    top: int
    width: int
    height: int

    def to_normalised(self, xy: np.ndarray) -> np.ndarray:
        """Model-input pixel coordinates (pixel index = coordinate) -> 0..1 of the original frame."""
        return (xy + 0.5 - (self.left, self.top)) / (self.width, self.height)


def letterbox(rgb: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """The frame scaled to fit ``size`` (width, height) with its aspect ratio kept, centred on black.

    Area averaging when shrinking, so a camera frame several times the input size does not alias."""
    w, h = size
    H, W = rgb.shape[:2]
    s = min(w / W, h / H)
    nw, nh = min(w, max(1, round(W * s))), min(h, max(1, round(H * s)))
    box = Letterbox((w - nw) // 2, (h - nh) // 2, nw, nh)
    out = np.zeros((h, w, 3), np.uint8)
    out[box.top:box.top + nh, box.left:box.left + nw] = cv2.resize(
        rgb, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    return out, box


def decode_heatmaps(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, h, w) maps -> (K, 2) x, y in heatmap cells and (K,) peak scores."""
    k, h, w = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    idx = flat.argmax(axis=1)
    score = flat[np.arange(k), idx]
    y, x = np.divmod(idx, w)
    xy = np.stack([x, y], axis=1).astype(np.float64)
    for i in range(k):
        hm, xi, yi = heatmaps[i], x[i], y[i]
        if 0 < xi < w - 1:
            xy[i, 0] += 0.25 * np.sign(hm[yi, xi + 1] - hm[yi, xi - 1])
        if 0 < yi < h - 1:
            xy[i, 1] += 0.25 * np.sign(hm[yi + 1, xi] - hm[yi - 1, xi])
    return xy, score.astype(np.float64)


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """(K, W*r) and (K, H*r) -> (K, 2) x, y in input pixels and (K,) scores (the lower axis maximum)."""
    xy = np.stack([simcc_x.argmax(axis=1), simcc_y.argmax(axis=1)], axis=1) / split_ratio
    return xy, np.minimum(simcc_x.max(axis=1), simcc_y.max(axis=1)).astype(np.float64)


def _shape(arg) -> str:
    return f"'{arg.name}' {list(arg.shape)}"


class OnnxPoseModel:
    """A 2-D pose model in an ONNX file, decoded as configured; see the module docstring."""

    def __init__(self, settings: OnnxPose, model_path: Path):
        """``model_path`` is ``settings.model`` resolved against its YAML (``CellConfig.resolve``)."""
        import onnxruntime as ort

        self.settings = settings
        self.path = Path(model_path)
        if not self.path.is_file():
            raise OnnxPoseError(f"pose model {self.path} does not exist (vision.onnx.model is relative to the YAML)")
        opts = ort.SessionOptions()
        # two cores are shared by every node process; one inference thread leaves the other to them
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=opts,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise OnnxPoseError(f"pose model {self.path} is not a valid ONNX model: {exc}") from exc
        self._k = POINTS[settings.keypoints]
        self._check_input()
        self._check_outputs()
        self._input = self._session.get_inputs()[0].name
        self._mean = np.asarray(settings.mean, np.float32)
        self._std = np.asarray(settings.std, np.float32)

    def _fail(self, what: str) -> OnnxPoseError:
        return OnnxPoseError(f"pose model {self.path}: {what}")

    def _check_input(self) -> None:
        """One float image input whose fixed dimensions agree with input_size and layout."""
        s = self.settings
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise self._fail(f"needs 1 image input, found {len(inputs)}: {', '.join(map(_shape, inputs))}")
        inp = inputs[0]
        if inp.type != "tensor(float)":
            raise self._fail(f"input {_shape(inp)} is {inp.type}; only float32 (tensor(float)) is supported")
        w, h = s.input_size
        want = [1, 3, h, w] if s.layout == "nchw" else [1, h, w, 3]
        if len(inp.shape) != 4 or any(isinstance(d, int) and d != e for d, e in zip(inp.shape, want)):
            raise self._fail(f"input {_shape(inp)} does not fit input_size (w, h) = ({w}, {h}) with layout "
                             f"{s.layout}, which needs {want}; set input_size and layout (nchw or nhwc) to match")

    def _check_outputs(self) -> None:
        """The outputs the configured kind needs, with K points where the model fixes K."""
        s = self.settings
        outputs = self._session.get_outputs()
        found = ", ".join(map(_shape, outputs))
        n, rank = {"heatmap": (1, 4), "simcc": (2, 3), "keypoints": (1, 3)}[s.output]
        if len(outputs) != n:
            raise self._fail(f"output '{s.output}' needs {OUTPUTS[s.output]}; found {len(outputs)}: {found}. "
                             f"Allowed outputs: " + "; ".join(f"{k}: {v}" for k, v in OUTPUTS.items()))
        for o in outputs:
            dims = o.shape
            ok = len(dims) == rank and (not isinstance(dims[1], int) or dims[1] == self._k)
            if s.output == "keypoints":
                ok = ok and (not isinstance(dims[2], int) or dims[2] in (3, 4))
            if not ok:
                raise self._fail(f"output '{s.output}' with keypoints {s.keypoints} needs "
                                 f"{OUTPUTS[s.output].replace('K', str(self._k))}; found {found}")
        if s.output == "simcc":
            w, h = s.input_size
            lengths = [o.shape[2] for o in outputs]
            want = [round(w * s.simcc_split_ratio), round(h * s.simcc_split_ratio)]
            if any(isinstance(d, int) and d != e for d, e in zip(lengths, want)):
                raise self._fail(f"SimCC outputs of length {lengths} do not fit input_size ({w}, {h}) x "
                                 f"simcc_split_ratio {s.simcc_split_ratio} = {want} (x first, then y)")

    def _tensor(self, canvas: np.ndarray) -> np.ndarray:
        """Colour order, then mean/std (given in the model's channel order), then layout."""
        s = self.settings
        x = canvas[..., ::-1] if s.color == "bgr" else canvas
        x = (x.astype(np.float32) - self._mean) / self._std
        if s.layout == "nchw":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x[None])

    def _decode(self, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Model outputs -> (K, 2) x, y in model-input pixels and (K,) scores."""
        s = self.settings
        w, h = s.input_size
        shapes = [o.shape for o in outputs]
        try:
            if s.output == "heatmap":
                hm = outputs[0].reshape(self._k, *outputs[0].shape[-2:])
                xy, score = decode_heatmaps(hm)
                return xy * (w / hm.shape[2], h / hm.shape[1]), score
            if s.output == "simcc":
                return decode_simcc(outputs[0].reshape(self._k, -1), outputs[1].reshape(self._k, -1),
                                    s.simcc_split_ratio)
            if outputs[0].shape[-1] not in (3, 4):
                raise ValueError
            kp = outputs[0].reshape(self._k, outputs[0].shape[-1])
        except ValueError as exc:
            raise self._fail(f"outputs of shape {shapes} do not hold {self._k} points as '{s.output}'") from exc
        xy = kp[:, :2].astype(np.float64)
        if s.keypoint_units == "normalised":   # 0..1 from edge to edge of the input, not pixel centres
            xy = xy * (w, h) - 0.5
        return xy, kp[:, -1].astype(np.float64)

    def process(self, rgb: np.ndarray) -> PoseResult | None:
        """Landmarks of the person in an RGB uint8 image, or None without a shoulder and a hip seen."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {rgb.dtype} {rgb.shape}")
        canvas, box = letterbox(rgb, self.settings.input_size)
        xy, score = self._decode(self._session.run(None, {self._input: self._tensor(canvas)}))
        image_xy = box.to_normalised(xy)
        vis = np.where(score >= self.settings.min_score, np.clip(score, 0.0, 1.0), 0.0)
        if self._k == 17:
            image_xy = COCO_TO_MEDIAPIPE @ image_xy
            vis33 = np.zeros(33)
            vis33[list(COCO17)] = vis
            vis = vis33
        return _pose(image_xy, vis, rgb.shape[1], rgb.shape[0])

    def close(self) -> None:
        self._session = None


def _pose(image_xy: np.ndarray, vis: np.ndarray, width: int, height: int) -> PoseResult | None:
    """The planar world estimate around normalised image points in MediaPipe's order (module docstring)."""
    px = image_xy * (width, height)   # pixels, so the scale is the same on both axes
    shoulders = [i for i in (P.LEFT_SHOULDER, P.RIGHT_SHOULDER) if vis[i] > 0]
    hips = [i for i in (P.LEFT_HIP, P.RIGHT_HIP) if vis[i] > 0]
    if not shoulders or not hips:
        return None
    mid_hip = px[hips].mean(axis=0)
    trunk_px = float(np.linalg.norm(px[shoulders].mean(axis=0) - mid_hip))
    if trunk_px < 1.0:
        return None
    world = np.zeros((33, 3))
    world[:, :2] = (px - mid_hip) * (TRUNK_M / trunk_px)
    image = np.zeros((33, 3))
    image[:, :2] = image_xy
    return PoseResult(world=world, visibility=vis, image=image, planar=True)
