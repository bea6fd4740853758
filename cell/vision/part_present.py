"""Is the part in the fixture? The camera's view of a fixture zone against reference photos or a classifier.

A step verified by ``part_present`` is done when the engine gets a
``TaskEvent(kind="part_present", zone=...)``; this module decides when to send
one. The fixture zone is cut out of each camera frame as a small top-down patch
(:class:`ZonePatch`, through the camera-to-bench calibration), and the patch is
read one of two ways:

* :class:`ReferenceComparison`: how much it looks like a photo of the empty
  fixture and like a photo of the filled one, taken once by the integrator
  with the same camera. No training, and a new product variant is two photos.
* :class:`PartClassifier`: an ONNX image classifier the integrator brings,
  for parts that are hard to tell from the empty fixture by their look alone.

:class:`PartPresenceCheck` turns readings into events: one event per unit,
only after the answer has held ``settle_s`` with no hand over the fixture.
Every threshold comes from the YAML (``vision.part_checks``). Pure apart from
loading the photos or the model once at construction.

A vision node builds one check per ``vision.part_checks`` entry and feeds it
every frame::

    checks = [PartPresenceCheck.from_config(pc, cfg, camera_to_bench) for pc in cfg.vision.part_checks]
    ...
    for check in checks:
        event = check.update(t, frame_bgr, hand_in_zone=check.zone_id in zones_with_a_hand)
        if event is not None:
            publish(event)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from cell.config import CellConfig, PartCheck, Zone
from cell.messages import TaskEvent
from projection.calibration import CameraToBench

__all__ = ["PartCheckError", "PartClassifier", "PartPresenceCheck", "PartReading", "ReferenceComparison",
           "ZonePatch"]

State = Literal["present", "absent", "unsure"]

#: long side of the patch in reference mode: about 2 mm per pixel on a 250 mm fixture,
#: fine enough to see a part, coarse enough that camera noise averages out
PATCH_LONG_SIDE_PX = 128
#: left out at each edge of the zone, as a fraction of its shorter side: the
#: calibration is a few mm off and the fixture's rim is not the part
EDGE_MARGIN = 0.05
#: blur before comparing (patch pixels): single-pixel noise and a part a mm off carry no meaning
BLUR_SIGMA_PX = 1.0
#: finest sampling of the zone per patch pixel and axis (a 4 x 4 average already tames aliasing)
MAX_SUPERSAMPLING = 4
#: two reference photos more alike than this inside the zone are the same photo (a set-up mistake)
SAME_PHOTOS = 0.999


class PartCheckError(ValueError):
    """A part check cannot be set up or fed; the message names the YAML field and the file."""


@dataclass(frozen=True)
class PartReading:
    """What one frame says about the fixture."""

    state: State
    margin: float  # 0 = cannot tell .. 1 = as sure as it gets
    detail: str  # plain words with the numbers, for the event and the log


class ZonePatch:
    """Cuts a zone out of a camera frame as a fixed-size top-down patch (BGR, ``size`` = width, height).

    Patch columns run along bench +x and row 0 is the zone's far edge, so the
    patch shows the fixture as the operator sees it. The pixel maps go through
    the full camera model (lens included), which is why this is a precomputed
    ``cv2.remap`` rather than ``cv2.warpPerspective``: same speed, and right
    for a bent lens too. Where the camera is sharper than the patch, the zone
    is sampled finer and averaged down, so fine texture and sensor noise
    average out instead of aliasing. A polygon zone is looked at through its
    bounding box.
    ``frame_size`` (width, height), when given, is the only frame size accepted;
    ``size_from`` says where that size comes from, for the error.
    """

    def __init__(self, zone: Zone, camera: CameraToBench, size: tuple[int, int],
                 frame_size: tuple[int, int] | None = None, size_from: str = "the camera calibration"):
        pts = np.asarray(zone.points(), dtype=np.float64)
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        m = EDGE_MARGIN * min(x1 - x0, y1 - y0)
        x0, y0, x1, y1 = x0 + m, y0 + m, x1 - m, y1 - m
        w, h = size
        px = _camera_px(camera, (x0, y0, x1, y1), w, h)
        step = max(np.hypot(*np.diff(px, axis=a).reshape(-1, 2).T).max(initial=0.0) for a in (0, 1))
        self._fine = min(MAX_SUPERSAMPLING, max(1, int(np.ceil(step))))  # camera px per patch px, rounded up
        if self._fine > 1:
            px = _camera_px(camera, (x0, y0, x1, y1), w * self._fine, h * self._fine)
        self.zone_id, self.size, self.frame_size, self._size_from = zone.id, (w, h), frame_size, size_from
        if frame_size is not None:
            fw, fh = frame_size
            if px[..., 0].min() < -0.5 or px[..., 1].min() < -0.5 or px[..., 0].max() > fw - 0.5 \
                    or px[..., 1].max() > fh - 0.5:
                raise PartCheckError(f"zone '{zone.id}' lies partly outside the camera image ({fw}x{fh}): "
                                     "move the camera or check the zone and the camera calibration")
        self._maps = cv2.convertMaps(px[..., 0], px[..., 1], cv2.CV_16SC2)

    def __call__(self, frame_bgr: np.ndarray) -> np.ndarray:
        fh, fw = frame_bgr.shape[:2]
        if self.frame_size is not None and (fw, fh) != tuple(self.frame_size):
            ew, eh = self.frame_size
            raise PartCheckError(f"part check of zone '{self.zone_id}': the camera frame is {fw}x{fh} but "
                                 f"{self._size_from} is {ew}x{eh}; use the same camera resolution")
        patch = cv2.remap(frame_bgr, *self._maps, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return cv2.resize(patch, self.size, interpolation=cv2.INTER_AREA) if self._fine > 1 else patch


def _camera_px(camera: CameraToBench, box: tuple[float, float, float, float], w: int, h: int) -> np.ndarray:
    """``(h, w, 2)`` camera px of the centres of a w x h grid over the bench box (x0, y0, x1, y1), far edge first."""
    x0, y0, x1, y1 = box
    xs = x0 + (np.arange(w) + 0.5) * (x1 - x0) / w
    ys = y1 - (np.arange(h) + 0.5) * (y1 - y0) / h
    gx, gy = np.meshgrid(xs, ys)
    return camera.to_px(np.column_stack([gx.ravel(), gy.ravel()])).reshape(h, w, 2).astype(np.float32)


def _standardised(patch_bgr: np.ndarray) -> np.ndarray:
    """Blurred grey at zero mean and unit spread: what is left is the pattern, not the light level."""
    g = cv2.GaussianBlur(cv2.cvtColor(patch_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32), (0, 0), BLUR_SIGMA_PX)
    g -= g.mean()
    sd = float(g.std())
    return g / sd if sd > 1e-3 else np.zeros_like(g)  # a featureless patch (covered lens) is like nothing


def _likeness(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two standardised patches, clipped to 0 (unlike) .. 1 (same)."""
    return float(np.clip(np.mean(a * b), 0.0, 1.0))


class ReferenceComparison:
    """Reads a patch by how much it looks like the empty and like the filled reference patch.

    Likeness is the normalised cross-correlation of slightly blurred grey
    patches: a lamp switched on, a cloud or the camera's auto-exposure scales
    the brightness and contrast of the whole patch, which this ignores; a part
    in the fixture changes the pattern, which it does not. With ``d = 1 -
    likeness`` for each photo, ``margin = |d_empty - d_filled| / (d_empty +
    d_filled)``: 0 when the frame is equally like both, 1 when it is the one
    photo and nothing like the other.
    """

    def __init__(self, empty_patch: np.ndarray, filled_patch: np.ndarray, min_margin: float):
        self._empty, self._filled = _standardised(empty_patch), _standardised(filled_patch)
        self.min_margin = min_margin
        self.photos_likeness = _likeness(self._empty, self._filled)

    def read(self, patch_bgr: np.ndarray) -> PartReading:
        live = _standardised(patch_bgr)
        like_empty, like_filled = _likeness(live, self._empty), _likeness(live, self._filled)
        d_empty, d_filled = 1.0 - like_empty, 1.0 - like_filled
        margin = abs(d_empty - d_filled) / (d_empty + d_filled) if d_empty + d_filled > 1e-9 else 0.0
        state: State = "unsure" if margin < self.min_margin else "present" if d_filled < d_empty else "absent"
        return PartReading(state, margin, f"{like_filled:.2f} like the filled photo, "
                                          f"{like_empty:.2f} like the empty one")


class PartClassifier:
    """Reads a patch with an ONNX image classifier (an onnxruntime session).

    The model gets the patch as float32 NCHW ``(1, 3, h, w)``, RGB, values
    0..1 (pixel / 255), ``w, h = classifier_input``; collect its training
    patches with :class:`ZonePatch` at that size so it sees what it will be
    shown. Its first output is ``(1, C)`` class scores, taken as probabilities
    when they already are (all in 0..1, summing to 1) and put through a softmax
    otherwise; ``filled_class`` is the index of "part present". A model with a
    single output gives P(part present) itself (a sigmoid is applied when the
    value is outside 0..1). ``margin = |p - 0.5| * 2``.
    """

    def __init__(self, session, size: tuple[int, int], filled_class: int, min_margin: float):
        self._session, self.size, self.filled_class, self.min_margin = session, size, filled_class, min_margin
        self._input = session.get_inputs()[0].name
        self._output = session.get_outputs()[0].name

    def scores(self, patch_bgr: np.ndarray) -> np.ndarray:
        """The model's first output for a patch of ``size``, flat, as it gives it."""
        x = cv2.cvtColor(patch_bgr, cv2.COLOR_BGR2RGB).astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        return np.asarray(self._session.run([self._output], {self._input: x})[0], dtype=np.float64).ravel()

    def probability(self, patch_bgr: np.ndarray) -> float:
        """P(part present) for a patch of ``size``."""
        s = self.scores(patch_bgr)
        if s.size == 1:
            return float(s[0]) if 0.0 <= s[0] <= 1.0 else float(1.0 / (1.0 + np.exp(-s[0])))
        if not (s.min() >= 0.0 and s.max() <= 1.0 and abs(s.sum() - 1.0) < 1e-3):
            s = np.exp(s - s.max())
            s /= s.sum()
        return float(s[self.filled_class])

    def read(self, patch_bgr: np.ndarray) -> PartReading:
        p = self.probability(patch_bgr)
        margin = abs(p - 0.5) * 2.0
        state: State = "unsure" if margin < self.min_margin else "present" if p > 0.5 else "absent"
        return PartReading(state, margin, f"the classifier says {p:.2f} likely")


def _read_photo(path: Path, where: str) -> np.ndarray:
    if not path.is_file():
        raise PartCheckError(f"{where}: {path} does not exist")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise PartCheckError(f"{where}: {path} is not an image OpenCV can read")
    return img


def _load_classifier(path: Path, check: PartCheck, where: str) -> PartClassifier:
    if not path.is_file():
        raise PartCheckError(f"{where}.classifier: {path} does not exist")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # a small model on a small patch: threads cost more than they give
    opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own unrelated types
        raise PartCheckError(f"{where}.classifier: {path} is not an ONNX model onnxruntime can load: {exc}") from None
    clf = PartClassifier(session, check.classifier_input, check.filled_class, check.min_margin)
    w, h = check.classifier_input
    try:  # one dry run, so a wrong input size or class index shows at start-up, not mid-shift
        classes = clf.scores(np.zeros((h, w, 3), np.uint8)).size
    except Exception as exc:
        raise PartCheckError(f"{where}.classifier_input: {path} does not take a (1, 3, {h}, {w}) RGB patch; set "
                             f"classifier_input to the width, height it takes ({exc})") from None
    if classes > 1 and check.filled_class >= classes:
        raise PartCheckError(f"{where}.filled_class: {check.filled_class}, but {path} has {classes} classes "
                             f"(0..{classes - 1})")
    return clf


class PartPresenceCheck:
    """Turns per-frame readings of one fixture into one ``part_present`` event per unit.

    A hand over the fixture hides it, so while a hand is in the zone nothing is
    read and the answer starts over once it has gone. An answer counts once it
    has held ``settle_s`` in a row. "present" sends the event once; the check
    re-arms only after "absent" has held (the unit was taken out), so one part
    left in the fixture is one event however long it sits there. "unsure"
    (margin below ``min_margin``) does neither. The check starts armed: a part
    already in the fixture at start-up is reported, which the engine ignores
    unless it is waiting for it.
    """

    def __init__(self, zone_id: str, patch: ZonePatch, reader: ReferenceComparison | PartClassifier,
                 settle_s: float, src: str = "vision"):
        self.zone_id, self.patch, self.reader, self.settle_s, self.src = zone_id, patch, reader, settle_s, src
        self.last: PartReading | None = None  # the latest reading (for a debug overlay or a status line)
        self._armed = True
        self._held: State | None = None
        self._since = 0.0

    @classmethod
    def from_config(cls, check: PartCheck, config: CellConfig, camera: CameraToBench,
                    src: str = "vision") -> "PartPresenceCheck":
        """Build from a ``vision.part_checks`` entry of ``config``: loads the photos (or the classifier) now.

        Paths are relative to the YAML. Reference photos must come from this
        camera at this resolution and pose; every frame fed later must have their size.
        """
        where = f"vision.part_checks (zone '{check.zone}')"
        zone, resolve = config.zone(check.zone), config.resolve
        if check.classifier is not None:
            reader = _load_classifier(resolve(check.classifier), check, where)
            return cls(zone.id, ZonePatch(zone, camera, check.classifier_input, camera.image_size),
                       reader, check.settle_s, src)
        assert check.empty_image is not None and check.filled_image is not None  # PartCheck validates this
        empty = _read_photo(resolve(check.empty_image), f"{where}.empty_image")
        filled = _read_photo(resolve(check.filled_image), f"{where}.filled_image")
        if empty.shape != filled.shape:
            raise PartCheckError(f"{where}: empty_image is {empty.shape[1]}x{empty.shape[0]} but filled_image is "
                                 f"{filled.shape[1]}x{filled.shape[0]}; take both with the same camera setting")
        size = (empty.shape[1], empty.shape[0])
        if camera.image_size is not None and tuple(camera.image_size) != size:
            raise PartCheckError(f"{where}: the reference photos are {size[0]}x{size[1]} but the camera calibration "
                                 f"is for {camera.image_size[0]}x{camera.image_size[1]}; take them at that resolution")
        pts = np.asarray(zone.points())
        zw, zh = np.ptp(pts, axis=0)
        scale = PATCH_LONG_SIDE_PX / max(zw, zh)
        patch = ZonePatch(zone, camera, (max(16, int(round(zw * scale))), max(16, int(round(zh * scale)))), size,
                          "the reference photos' size")
        reader = ReferenceComparison(patch(empty), patch(filled), check.min_margin)
        if reader.photos_likeness >= SAME_PHOTOS:
            raise PartCheckError(f"{where}: empty_image and filled_image look the same inside the zone; "
                                 "is one photo given twice, or the zone in the wrong place?")
        return cls(zone.id, patch, reader, check.settle_s, src)

    def update(self, t: float, frame_bgr: np.ndarray, hand_in_zone: bool) -> TaskEvent | None:
        """Feed one camera frame taken at ``t``; the event to publish, if this frame completes one."""
        if hand_in_zone:
            self._held = None
            return None
        reading = self.last = self.reader.read(self.patch(frame_bgr))
        if reading.state != self._held:
            self._held, self._since = reading.state, t
        if t - self._since < self.settle_s:
            return None
        if reading.state == "absent":
            self._armed = True
        elif reading.state == "present" and self._armed:
            self._armed = False
            return TaskEvent(src=self.src, t=t, kind="part_present", zone=self.zone_id,
                             detail=f"part in {self.zone_id}: {reading.detail}")
        return None
