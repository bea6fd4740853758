"""The ONNX pose backend against tiny ONNX models built here, whose outputs come from the image.

Every model reads the same picture code: point k of K is a disc of colour (R, G, B) = (q_k * a, a, 0)
with q_k = k / (K - 1) and strength a in 0..255. The model first undoes the configured layout, colour
order and mean/std, then scores each pixel for point k as G/255 * exp(-((R/G - q_k) / sigma)^2): the
ratio R/G names the point whatever the blending at a disc's edge, and G sets the score. So a wrong
letterbox, colour order, layout or normalisation moves or loses the points. From that map:

* heatmap: a Gaussian blur, then every 4th pixel (a heatmap at 1/4 of the input, cell i = pixel 4i);
* simcc: the blur's maximum over rows and over columns, resampled to r = 2 bins a pixel;
* keypoints: the map's centroid and maximum per point (x, y, score, optionally z = 0).

Golden positions are where the test draws: a disc centred on pixel (px, py) of a 320 x 240 frame sits at
((px + 0.5) / 320, (py + 0.5) / 240). The model input is 192 x 256 (portrait), so the landscape frame is
scaled by 0.6 and padded 56 rows top and bottom.
"""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cell.config import OnnxPose
from cell.vision.onnx_pose import COCO17, OnnxPoseError, OnnxPoseModel, TRUNK_M, letterbox

W, H = 320, 240                  # the camera frame: landscape
INPUT = (192, 256)               # the model input (w, h): portrait
IMAGENET = dict(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))

# A person facing the camera: their left is on the image's right. COCO order, original-frame pixels.
FIGURE = [(160, 40), (178, 22), (142, 22), (200, 34), (120, 34), (205, 75), (115, 75), (240, 110),
          (80, 110), (262, 150), (58, 150), (185, 150), (135, 150), (190, 190), (130, 190), (193, 224),
          (127, 224)]
# MediaPipe index of each COCO point, written out here rather than taken from the module under test
MEDIAPIPE = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
LEFT_WRIST_COCO, LEFT_WRIST_MP, RIGHT_WRIST_MP = 9, 15, 16


def draw(points: dict[int, tuple[int, int]], k: int, strength: dict[int, int] | None = None) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    for i, (x, y) in points.items():
        a = (strength or {}).get(i, 255)
        cv2.circle(img, (x, y), 7, (round(a * i / (k - 1)), a, 0), thickness=-1)
    return img


def expected(px: tuple[int, int]) -> np.ndarray:
    return np.array([(px[0] + 0.5) / W, (px[1] + 0.5) / H])


# --- building the test models -------------------------------------------------------------------------

class Graph:
    def __init__(self):
        self.nodes, self.inits, self._n = [], [], 0

    def const(self, value, dtype=np.float32) -> str:
        self._n += 1
        name = f"c{self._n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def ints(self, value) -> str:
        return self.const(value, np.int64)

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        self._n += 1
        out = f"t{self._n}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def point_map(g: Graph, k: int, layout: str, color: str, mean, std) -> str:
    """(1, K, h, w): how much each input pixel looks like point k (see the module docstring)."""
    x = g.op("Transpose", "image", perm=[0, 3, 1, 2]) if layout == "nhwc" else "image"
    x = g.op("Add", g.op("Mul", x, g.const(np.reshape(std, (1, 3, 1, 1)))), g.const(np.reshape(mean, (1, 3, 1, 1))))
    r_channel = 2 if color == "bgr" else 0
    red = g.op("Slice", x, g.ints([r_channel]), g.ints([r_channel + 1]), g.ints([1]))
    green = g.op("Slice", x, g.ints([1]), g.ints([2]), g.ints([1]))
    ratio = g.op("Div", red, g.op("Add", green, g.const(0.25)))
    d = g.op("Sub", ratio, g.const(np.linspace(0, 1, k).reshape(1, k, 1, 1)))
    sigma = 0.25 / (k - 1)
    match = g.op("Exp", g.op("Mul", g.op("Mul", d, d), g.const(-1 / sigma**2)))
    return g.op("Mul", match, g.op("Div", green, g.const(255.0)))


def blur(g: Graph, x: str, k: int) -> str:
    ax = np.arange(-4, 5)
    kernel = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * 2.0**2))
    kernel = np.broadcast_to(kernel / kernel.sum(), (k, 1, 9, 9))
    return g.op("Conv", x, g.const(kernel), group=k, pads=[4, 4, 4, 4])


def build(path, output: str, *, k: int = 17, layout: str = "nchw", color: str = "rgb", mean=(0, 0, 0),
          std=(255, 255, 255), units: str = "pixels", columns: int = 3, ratio: float = 2.0):
    w, h = INPUT
    g = Graph()
    m = point_map(g, k, layout, color, mean, std)
    out_shapes = {"heatmap": [[1, k, h // 4, w // 4]], "simcc": [[1, k, int(w * ratio)], [1, k, int(h * ratio)]],
                  "keypoints": [[1, k, columns]]}[output]
    if output == "heatmap":
        outs = [g.op("Slice", blur(g, m, k), g.ints([0, 0]), g.ints([h, w]), g.ints([2, 3]), g.ints([4, 4]))]
    elif output == "simcc":
        b = blur(g, m, k)
        outs = []
        for axis, scales in ((2, [1, 1, 1, ratio]), (3, [1, 1, ratio, 1])):
            profile = g.op("ReduceMax", b, axes=[axis], keepdims=1)
            bins = g.op("Resize", profile, "", g.const(scales), mode="linear",
                        coordinate_transformation_mode="asymmetric")
            outs.append(g.op("Squeeze", bins, g.ints([axis])))
    else:
        total = g.op("Add", g.op("ReduceSum", m, g.ints([2, 3]), keepdims=0), g.const(1e-6))
        xs = g.op("Div", g.op("ReduceSum", g.op("Mul", m, g.const(np.arange(w).reshape(1, 1, 1, w))),
                              g.ints([2, 3]), keepdims=0), total)
        ys = g.op("Div", g.op("ReduceSum", g.op("Mul", m, g.const(np.arange(h).reshape(1, 1, h, 1))),
                              g.ints([2, 3]), keepdims=0), total)
        if units == "normalised":
            xs = g.op("Div", g.op("Add", xs, g.const(0.5)), g.const(float(w)))
            ys = g.op("Div", g.op("Add", ys, g.const(0.5)), g.const(float(h)))
        score = g.op("ReduceMax", m, axes=[2, 3], keepdims=0)
        cols = [xs, ys, g.op("Mul", xs, g.const(0.0)), score] if columns == 4 else [xs, ys, score]
        outs = [g.op("Concat", *(g.op("Unsqueeze", c, g.ints([2])) for c in cols), axis=2)]
    shape = [1, 3, h, w] if layout == "nchw" else [1, h, w, 3]
    graph = helper.make_graph(
        g.nodes, "pose", [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, s) for o, s in zip(outs, out_shapes)], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


# Each output kind with a different preprocessing, so layout, colour order and mean/std are exercised.
# Tolerance in original-frame pixels: a heatmap cell is 4 input pixels = 6.7 frame pixels and the quarter
# offset is good to a quarter cell (1.7 px); a SimCC bin is half an input pixel (0.8 px); a centroid is
# exact but for the resampling of the disc's edge.
CASES = {
    "heatmap": (dict(output="heatmap"), 2.5),
    "simcc-nhwc-bgr-imagenet": (dict(output="simcc", layout="nhwc", color="bgr", **IMAGENET), 1.0),
    "keypoints-pixels": (dict(output="keypoints"), 0.3),
    "keypoints-normalised-xyzs-bgr": (dict(output="keypoints", units="normalised", columns=4, color="bgr"), 0.3),
}


def model_for(tmp_path, case: str, k: int = 17, **settings) -> OnnxPoseModel:
    """The case's model built for K points, configured as it was built (plus ``settings``)."""
    spec = CASES[case][0]
    path = build(tmp_path / f"{case}-{k}.onnx", k=k, **spec)
    config = {key: v for key, v in spec.items() if key not in ("units", "columns")}
    config["keypoint_units"] = spec.get("units", "pixels")
    config["keypoints"] = "coco17" if k == 17 else "mediapipe33"
    return OnnxPoseModel(OnnxPose(model=path, input_size=INPUT, **config, **settings), path)


# --- tests ----------------------------------------------------------------------------------------------

def test_letterbox_keeps_the_aspect_ratio_and_centres_the_frame():
    frame = np.full((H, W, 3), 200, np.uint8)
    canvas, box = letterbox(frame, INPUT)
    assert canvas.shape == (256, 192, 3)
    assert (box.left, box.top, box.width, box.height) == (0, 56, 192, 144)   # 320 x 240 scaled by 0.6
    assert canvas[:56].max() == 0 and canvas[200:].max() == 0 and canvas[56:200].min() == 200


@pytest.mark.parametrize("case", CASES)
def test_points_come_back_where_they_were_drawn(tmp_path, case):
    model = model_for(tmp_path, case)
    result = model.process(draw(dict(enumerate(FIGURE)), 17))
    assert result is not None
    tol = CASES[case][1]
    for coco, mp in enumerate(MEDIAPIPE):
        err_px = np.abs(result.image[mp, :2] - expected(FIGURE[coco])) * (W, H)
        assert err_px.max() <= tol, (case, coco, mp, result.image[mp, :2] * (W, H), FIGURE[coco])
        assert result.visibility[mp] > 0.5
    assert result.image[LEFT_WRIST_MP, 0] > 0.8   # the person's left wrist is on the image's right
    not_coco = sorted(set(range(33)) - set(MEDIAPIPE))
    assert np.all(result.visibility[not_coco] == 0)
    assert np.all((result.image[not_coco, :2] > 0) & (result.image[not_coco, :2] < 1))   # placed on the body
    model.close()


@pytest.mark.parametrize("case", CASES)
def test_a_point_below_min_score_is_not_visible(tmp_path, case):
    frame = draw(dict(enumerate(FIGURE)), 17, strength={LEFT_WRIST_COCO: 48})   # score about 48/255 = 0.19
    result = model_for(tmp_path, case).process(frame)
    assert result.visibility[LEFT_WRIST_MP] == 0                    # min_score 0.3
    assert result.visibility[RIGHT_WRIST_MP] > 0.5
    lenient = model_for(tmp_path, case, min_score=0.1).process(frame)
    assert 0.1 <= lenient.visibility[LEFT_WRIST_MP] < 0.3           # seen, only weakly


def test_world_landmarks_are_planar_around_the_hips(tmp_path):
    result = model_for(tmp_path, "keypoints-pixels").process(draw(dict(enumerate(FIGURE)), 17))
    world = result.world
    assert result.planar and np.all(world[:, 2] == 0)
    np.testing.assert_allclose((world[23] + world[24]) / 2, 0, atol=1e-9)
    trunk = (world[11] + world[12]) / 2 - (world[23] + world[24]) / 2
    assert trunk[1] < 0 and np.linalg.norm(trunk) == pytest.approx(TRUNK_M)   # +y down: shoulders above
    assert world[23, 0] > world[24, 0]     # +x the operator's left, as MediaPipe
    # metres per pixel the same on both axes: hip width 50 px, trunk 75 px
    assert (world[23, 0] - world[24, 0]) / np.linalg.norm(trunk) == pytest.approx(50 / 75, rel=0.02)


def test_mediapipe33_points_keep_their_order(tmp_path):
    k = 33
    drawn = {11: (205, 75), 12: (115, 75), 15: (262, 150), 23: (185, 150), 24: (135, 150)}
    result = model_for(tmp_path, "keypoints-pixels", k=k).process(draw(drawn, k))
    for i, px in drawn.items():
        assert (np.abs(result.image[i, :2] - expected(px)) * (W, H)).max() <= 0.3
        assert result.visibility[i] > 0.5
    assert np.all(np.delete(result.visibility, list(drawn)) == 0)


def test_no_person_without_a_shoulder_and_a_hip(tmp_path):
    model = model_for(tmp_path, "heatmap")
    assert model.process(np.zeros((H, W, 3), np.uint8)) is None
    arms_only = {i: FIGURE[i] for i in (5, 6, 7, 8, 9, 10)}
    assert model.process(draw(arms_only, 17)) is None
    with pytest.raises(ValueError, match="RGB uint8"):
        model.process(np.zeros((H, W), np.uint8))


def test_coco_table_is_mediapipes_order():
    assert list(COCO17) == MEDIAPIPE


def test_missing_file(tmp_path):
    path = tmp_path / "nope.onnx"
    with pytest.raises(OnnxPoseError, match="nope.onnx does not exist"):
        OnnxPoseModel(OnnxPose(model=path, output="heatmap"), path)


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"this is not a protobuf \x00\xff" * 10)
    with pytest.raises(OnnxPoseError, match="garbage.onnx is not a valid ONNX model"):
        OnnxPoseModel(OnnxPose(model=path, output="heatmap"), path)


def test_simcc_needs_two_outputs(tmp_path):
    path = build(tmp_path / "heatmap.onnx", "heatmap")
    with pytest.raises(OnnxPoseError, match=r"'simcc' needs 2 outputs .* found 1: 't\d+' \[") as err:
        OnnxPoseModel(OnnxPose(model=path, output="simcc", input_size=INPUT), path)
    assert "heatmap: 1 output (1, K, h, w)" in str(err.value)   # says what is allowed


def test_output_kind_and_input_size_must_fit(tmp_path):
    path = build(tmp_path / "keypoints.onnx", "keypoints")
    with pytest.raises(OnnxPoseError, match="'heatmap' with keypoints coco17 needs 1 output"):
        OnnxPoseModel(OnnxPose(model=path, output="heatmap", input_size=INPUT), path)
    with pytest.raises(OnnxPoseError, match="needs 1 output .*found 't\\d+' \\[1, 17, 3\\]"):
        OnnxPoseModel(OnnxPose(model=path, output="keypoints", keypoints="mediapipe33", input_size=INPUT), path)
    with pytest.raises(OnnxPoseError, match=r"does not fit input_size \(w, h\) = \(256, 192\) with layout nchw"):
        OnnxPoseModel(OnnxPose(model=path, output="keypoints", input_size=(256, 192)), path)
    with pytest.raises(OnnxPoseError, match="layout nhwc, which needs"):
        OnnxPoseModel(OnnxPose(model=path, output="keypoints", input_size=INPUT, layout="nhwc"), path)
