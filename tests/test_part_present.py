"""Is the part in the fixture? (cell/vision/part_present.py) on camera views of a bench built from real photos.

The cell is the example lamp cell (configs/lamp-cell.yaml) and its fixture
zone. The bench is a worktop (skimage's gravel photo) with a fixture plate on it
(the brick photo, darkened, with a black rim); the part is the coffee cup of
skimage's coffee photo, cut out round; a hand is skin from the astronaut
photo in the shape of a palm and fingers; a sheet of paper is the page photo.
Everything is drawn in bench millimetres and seen through a known
bench->camera homography, then lit brighter or darker and given sensor noise.
The golden answers come from the scene: what lies in the fixture, where the
hand is, how the clock runs.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import skimage.data
from onnx import TensorProto, helper

from cell.config import PartCheck, Rect, Zone
from cell.config_loader import load_config
from cell.vision.part_present import PartCheckError, PartPresenceCheck, ZonePatch
from projection.calibration import CameraToBench

CFG = load_config(Path(__file__).resolve().parent.parent / "configs" / "lamp-cell.yaml")
FIXTURE = CFG.zone("fixture")  # x 450..700, y 250..450 mm
BENCH_MM = (int(CFG.bench.width_mm), int(CFG.bench.depth_mm))
CAMERA_RES = (640, 480)
# the camera looks down from above the operator at the working area: its far edge looks smaller
TRUE_BENCH_TO_CAMERA = cv2.getPerspectiveTransform(
    np.float32([(200, 100), (1000, 100), (1000, 650), (200, 650)]),
    np.float32([(60, 460), (580, 455), (505, 70), (130, 60)])).astype(np.float64)
CAMERA = CameraToBench(np.linalg.inv(TRUE_BENCH_TO_CAMERA), image_size=CAMERA_RES)
CUP_CENTRE = (575.0, 350.0)  # the fixture's centre: the part sits in the middle
FPS = 8  # frame times i / 8 are exact in binary, so 'held settle_s' lands on a frame


def _texture(grey: np.ndarray, size: tuple[int, int], lo: float, hi: float, tint=(1.0, 1.0, 1.0)) -> np.ndarray:
    g = cv2.resize(grey.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    g = lo + (g - g.min()) / (g.max() - g.min()) * (hi - lo)
    return np.clip(np.dstack([g * t for t in tint]), 0, 255).astype(np.uint8)


WORKTOP = _texture(skimage.data.gravel(), BENCH_MM, 120, 210, tint=(0.85, 0.95, 1.05))
PLATE = _texture(skimage.data.brick(), (250, 200), 30, 110, tint=(1.05, 1.0, 0.95))
CUP = cv2.resize(cv2.cvtColor(skimage.data.coffee()[15:215, 170:415], cv2.COLOR_RGB2BGR), (150, 122),
                 interpolation=cv2.INTER_AREA)
CUP_MASK = cv2.ellipse(np.zeros((122, 150), np.uint8), (75, 61), (74, 60), 0, 0, 360, 255, -1)
SKIN = cv2.resize(cv2.cvtColor(skimage.data.astronaut()[118:150, 182:212], cv2.COLOR_RGB2BGR), (90, 190))  # a cheek
HAND_MASK = np.zeros((190, 90), np.uint8)
cv2.ellipse(HAND_MASK, (45, 50), (40, 48), 0, 0, 360, 255, -1)  # palm, towards the operator (low bench y)
for fx, length in ((14, 60), (34, 75), (54, 72), (74, 55)):  # fingers, pointing away from the operator
    cv2.ellipse(HAND_MASK, (fx, 90 + length // 2), (8, length // 2 + 10), 0, 0, 360, 255, -1)
PAPER = _texture(skimage.data.page(), (290, 240), 150, 245)


def _paste(canvas: np.ndarray, image: np.ndarray, mask: np.ndarray, centre: tuple[float, float],
           angle_deg: float = 0.0) -> None:
    """Lay ``image`` (where ``mask``) on the bench canvas with its centre at ``centre`` mm, turned by ``angle_deg``."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle_deg, 1.0)
    m[:, 2] += np.array(centre) - ((w - 1) / 2, (h - 1) / 2)
    size = (canvas.shape[1], canvas.shape[0])
    img = cv2.warpAffine(image, m, size)
    alpha = cv2.warpAffine(mask, m, size).astype(np.float32)[..., None] / 255.0
    canvas[:] = (canvas * (1 - alpha) + img * alpha).astype(np.uint8)


def bench(part: tuple[float, float, float] | None = None, hand: bool = False, paper: bool = False) -> np.ndarray:
    """The bench top in millimetres (1 px = 1 mm, row = bench y). ``part``: (dx mm, dy mm, turn deg) off centre."""
    canvas = WORKTOP.copy()
    canvas[250:450, 450:700] = PLATE
    cv2.rectangle(canvas, (450, 250), (699, 449), (20, 20, 20), 6)  # the fixture's rim
    if part is not None:
        _paste(canvas, CUP, CUP_MASK, (CUP_CENTRE[0] + part[0], CUP_CENTRE[1] + part[1]), part[2])
    if paper:
        _paste(canvas, PAPER, np.full(PAPER.shape[:2], 255, np.uint8), CUP_CENTRE)
    if hand:  # reaching in from the front: the palm over the front half of the fixture, fingers on the part
        _paste(canvas, SKIN, HAND_MASK, (600.0, 310.0))
    return canvas


# sensor noise, sigma 4 grey levels: a pool of fields drawn once, as drawing them per frame is most of a test's time
NOISE = [np.random.default_rng(seed).normal(0.0, 4.0, (CAMERA_RES[1], CAMERA_RES[0], 3)).astype(np.float32)
         for seed in range(12)]


def shoot(canvas: np.ndarray, gain: float = 1.0, noise: bool = True, seed: int = 0) -> np.ndarray:
    """What the camera sees: the bench through the homography, lit by ``gain``, with sensor noise."""
    view = cv2.warpPerspective(canvas, TRUE_BENCH_TO_CAMERA, CAMERA_RES).astype(np.float32) * gain
    return np.clip(view + NOISE[seed % len(NOISE)] if noise else view, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """The integrator's two reference photos (part square in the middle), as files."""
    d = tmp_path_factory.mktemp("part_present")
    cv2.imwrite(str(d / "empty.png"), shoot(bench(), seed=0))
    cv2.imwrite(str(d / "filled.png"), shoot(bench(part=(0, 0, 0)), seed=11))
    return d


def reference_check(photos: Path, **kw) -> PartPresenceCheck:
    pc = PartCheck(zone="fixture", empty_image=photos / "empty.png", filled_image=photos / "filled.png", **kw)
    return PartPresenceCheck.from_config(pc, CFG, CAMERA)


# the live scenes; the part lies 3 mm off and turned 4 degrees against the reference photo
SCENES = {"empty": bench(), "filled": bench(part=(3, -2, 4)), "hand": bench(part=(3, -2, 4), hand=True),
          "hand_empty": bench(hand=True), "paper": bench(paper=True)}


class Scenes:
    """Camera frames of the scenes in one light; noise fields 1..10 in turn (0 and 11 are the photos')."""

    def __init__(self, gain: float = 1.0):
        self.gain, self.seed = gain, 0

    def frame(self, scene: str) -> np.ndarray:
        self.seed = self.seed % 10 + 1
        return shoot(SCENES[scene], self.gain, seed=self.seed)


def play(check: PartPresenceCheck, script: list[tuple[float, str]], scenes: Scenes | None = None) -> list:
    """Feed frames at FPS: ``script`` is (seconds, scene) in order; the hand scenes say a hand is in the zone.

    Returns (t, event) for every event.
    """
    scenes = scenes or Scenes()
    events, i = [], 0
    for seconds, scene in script:
        for _ in range(round(seconds * FPS)):
            t = i / FPS
            ev = check.update(t, scenes.frame(scene), hand_in_zone=scene.startswith("hand"))
            if ev is not None:
                events.append((t, ev))
            i += 1
    return events


# -- reference photos ------------------------------------------------------------------------------


@pytest.mark.parametrize("gain", [0.7, 1.0, 1.3])
@pytest.mark.parametrize("scene,expected", [("empty", "absent"), ("filled", "present")])
def test_empty_and_filled_told_apart_in_any_light(photos, gain, scene, expected):
    # the live part lies 3 mm off and turned 4 degrees against the photo; the room is 30 % darker or brighter
    check = reference_check(photos)
    reading = check.reader.read(check.patch(Scenes(gain).frame(scene)))
    assert reading.state == expected
    assert reading.margin >= 0.15


def test_patch_is_the_fixture_from_above_far_edge_up():
    # a white dot 25 mm in from the fixture's far-left corner (450, 450) lands in the patch's top-left
    canvas = bench()
    cv2.circle(canvas, (475, 425), 6, (255, 255, 255), -1)
    patch = ZonePatch(FIXTURE, CAMERA, (230, 180))(shoot(canvas, noise=False))
    grey = cv2.GaussianBlur(cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY), (0, 0), 3)
    row, col = np.unravel_index(np.argmax(grey), grey.shape)
    # the patch spans x 460..690, y 260..440 mm (the zone less 10 mm at each edge) at 1 mm per pixel
    assert (col, row) == (pytest.approx(475 - 460, abs=3), pytest.approx(440 - 425, abs=3))


def test_detail_finer_than_a_patch_pixel_averages_out_on_a_sharp_camera():
    # a 4x sharper camera sees the plate's 1 mm checks; a patch pixel is about 1.7 mm, so it must show their mean
    canvas = bench()
    canvas[250:450, 450:700] = (np.indices((200, 250)).sum(axis=0) % 2 * 255)[..., None]
    sharp = np.diag([4.0, 4.0, 1.0]) @ TRUE_BENCH_TO_CAMERA
    view = cv2.warpPerspective(canvas, sharp, (2560, 1920))
    patch = ZonePatch(FIXTURE, CameraToBench(np.linalg.inv(sharp)), (128, 102))(view)
    assert abs(patch.mean() - 127.5) < 10 and patch.std() < 10  # point-sampled, the checks would alias into stripes


def test_one_event_when_the_part_has_settled_with_no_hand(photos):
    check = reference_check(photos, settle_s=0.5)
    events = play(check, [(1.0, "empty"), (1.0, "hand"), (0.25, "filled"), (0.5, "hand"), (2.0, "filled")])
    # the hand left at 1.0 + 1.0 + 0.25 + 0.5 = 2.75 s; the part must then be seen for settle_s = 0.5 s
    assert [t for t, _ in events] == [3.25]
    ev = events[0][1]
    assert (ev.kind, ev.zone, ev.src) == ("part_present", "fixture", "vision")
    assert "like the filled photo" in ev.detail and "like the empty one" in ev.detail


def test_one_event_per_unit_and_re_armed_by_an_empty_fixture(photos):
    check = reference_check(photos, settle_s=0.5)
    events = play(check, [
        (1.0, "empty"), (0.5, "hand"), (3.0, "filled"),  # unit 1: one event however long it sits
        (0.25, "empty"), (1.0, "filled"),  # a blink of empty is shorter than settle_s: not the next unit
        (0.5, "hand_empty"), (1.0, "empty"),  # unit 1 taken out
        (0.5, "hand"), (1.0, "filled"),  # unit 2
    ])
    # unit 1 seen from 1.5 s, unit 2 from 1.5 + 3 + 0.25 + 1 + 0.5 + 1 + 0.5 = 7.75 s; each then held 0.5 s
    assert [t for t, _ in events] == [2.0, 8.25]


def test_a_view_like_neither_photo_is_unsure_and_sends_nothing(photos):
    # a sheet of paper over the fixture is neither the empty fixture nor the part
    check = reference_check(photos, settle_s=0.2)
    assert play(check, [(1.0, "empty"), (2.0, "paper")]) == []
    assert check.last.state == "unsure" and check.last.margin < 0.15


def test_min_margin_comes_from_the_yaml(photos):
    # nothing real is ever exactly one photo: asking for a margin of 1 leaves every frame unsure
    check = reference_check(photos, min_margin=1.0, settle_s=0.0)
    assert play(check, [(1.0, "filled")]) == []
    assert check.last.state == "unsure"


# -- classifier ------------------------------------------------------------------------------------


def _zone_brightness(canvas: np.ndarray) -> float:
    """Mean of R, G, B in 0..1 over the fixture inside its rim, from the bench as drawn."""
    return float(canvas[260:440, 460:690].mean() / 255.0)


def brightness_classifier(path: Path, threshold: float, outputs: int, size=(64, 64), steep: float = 80.0) -> Path:
    """An ONNX model that says "part" when the patch is brighter than ``threshold`` (the cup is lighter than the plate).

    ``outputs=2``: class logits (empty, filled); ``outputs=1``: P(part) through a sigmoid.
    """
    w, h = size
    if outputs == 2:
        b, c, last = [[-steep, steep]], [steep * threshold, -steep * threshold], []
    else:
        b, c, last = [[steep]], [-steep * threshold], [helper.make_node("Sigmoid", ["scores"], ["p"])]
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["patch"], ["m4"], axes=[1, 2, 3], keepdims=1),
         helper.make_node("Reshape", ["m4", "shape"], ["m"]),
         helper.make_node("Gemm", ["m", "B", "C"], ["scores"])] + last,
        "brightness",
        [helper.make_tensor_value_info("patch", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("p" if last else "scores", TensorProto.FLOAT, [1, outputs])],
        [helper.make_tensor("shape", TensorProto.INT64, [2], [1, 1]),
         helper.make_tensor("B", TensorProto.FLOAT, [1, outputs], sum(b, [])),
         helper.make_tensor("C", TensorProto.FLOAT, [outputs], c)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("outputs", [2, 1])
def test_classifier_decides_and_sends_the_event(tmp_path, outputs):
    threshold = (_zone_brightness(bench()) + _zone_brightness(bench(part=(3, -2, 4)))) / 2
    brightness_classifier(tmp_path / "part.onnx", threshold, outputs)
    pc = PartCheck(zone="fixture", classifier=tmp_path / "part.onnx", settle_s=0.25)
    check = PartPresenceCheck.from_config(pc, CFG, CAMERA, src="vision-2")
    scenes = Scenes()
    assert check.reader.read(check.patch(scenes.frame("empty"))).state == "absent"
    assert check.reader.read(check.patch(scenes.frame("filled"))).state == "present"
    events = play(check, [(1.0, "empty"), (0.5, "hand"), (1.0, "filled")], scenes)
    assert [t for t, _ in events] == [1.5 + 0.25]
    assert events[0][1].src == "vision-2" and "classifier" in events[0][1].detail


def test_classifier_of_another_input_size_is_refused_at_start(tmp_path):
    brightness_classifier(tmp_path / "part.onnx", 0.3, 2, size=(96, 48))
    pc = PartCheck(zone="fixture", classifier=tmp_path / "part.onnx", classifier_input=(64, 64))
    with pytest.raises(PartCheckError, match=r"classifier_input.*\(1, 3, 64, 64\)"):
        PartPresenceCheck.from_config(pc, CFG, CAMERA)


def test_filled_class_beyond_the_classes_is_refused(tmp_path):
    brightness_classifier(tmp_path / "part.onnx", 0.3, 2)
    pc = PartCheck(zone="fixture", classifier=tmp_path / "part.onnx", filled_class=2)
    with pytest.raises(PartCheckError, match=r"filled_class: 2, but .* has 2 classes"):
        PartPresenceCheck.from_config(pc, CFG, CAMERA)


# -- set-up mistakes -------------------------------------------------------------------------------


def test_missing_reference_photo_names_the_field_and_the_file(tmp_path):
    cv2.imwrite(str(tmp_path / "filled.png"), shoot(bench(part=(0, 0, 0))))
    pc = PartCheck(zone="fixture", empty_image=tmp_path / "empty.png", filled_image=tmp_path / "filled.png")
    with pytest.raises(PartCheckError, match=r"vision\.part_checks \(zone 'fixture'\)\.empty_image: .*empty\.png "
                                             r"does not exist"):
        PartPresenceCheck.from_config(pc, CFG, CAMERA)


def test_unreadable_reference_photo(tmp_path):
    (tmp_path / "empty.png").write_text("not a picture")
    cv2.imwrite(str(tmp_path / "filled.png"), shoot(bench(part=(0, 0, 0))))
    pc = PartCheck(zone="fixture", empty_image=tmp_path / "empty.png", filled_image=tmp_path / "filled.png")
    with pytest.raises(PartCheckError, match=r"empty_image: .*empty\.png is not an image"):
        PartPresenceCheck.from_config(pc, CFG, CAMERA)


def test_missing_classifier(tmp_path):
    pc = PartCheck(zone="fixture", classifier=tmp_path / "none.onnx")
    with pytest.raises(PartCheckError, match=r"\.classifier: .*none\.onnx does not exist"):
        PartPresenceCheck.from_config(pc, CFG, CAMERA)


def test_photos_at_another_resolution_than_the_camera_are_refused(tmp_path):
    for name, canvas in (("empty", bench()), ("filled", bench(part=(0, 0, 0)))):
        cv2.imwrite(str(tmp_path / f"{name}.png"), cv2.resize(shoot(canvas), (320, 240)))
    with pytest.raises(PartCheckError, match=r"photos are 320x240 but the camera calibration is for 640x480"):
        reference_check(tmp_path)


def test_frames_at_another_resolution_are_refused(photos):
    check = reference_check(photos)
    with pytest.raises(PartCheckError, match=r"camera frame is 1280x960 but the reference photos' size is 640x480"):
        check.update(0.0, cv2.resize(shoot(bench()), (1280, 960)), hand_in_zone=False)


def test_the_same_photo_twice_is_refused(photos):
    pc = PartCheck(zone="fixture", empty_image=photos / "empty.png", filled_image=photos / "empty.png")
    with pytest.raises(PartCheckError, match="look the same"):
        PartPresenceCheck.from_config(pc, CFG, CAMERA)


def test_zone_outside_the_camera_image_is_refused():
    off = Zone(id="fixture", kind="fixture", rect=Rect(x=1100, y=250, w=250, h=200))  # right of the camera's view
    with pytest.raises(PartCheckError, match="outside the camera image"):
        ZonePatch(off, CAMERA, (64, 64), CAMERA.image_size)
