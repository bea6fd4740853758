"""Projector calibration against a synthetic bench whose truth we know.

A 1200 x 800 mm bench, a keystoned projector slightly off-axis (a known
bench->projector homography), a camera looking down at an angle (a known
bench->camera homography). The camera image is rendered physically: what the
camera sees is the bench's reflectance (grey worktop, printed ArUco markers on
white paper) times the light on it (room light plus the projector's image,
mapped projector px -> bench mm), supersampled, then blurred, vignetted and
noisy. The golden truth is the two synthetic homographies, never our output.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest

from projection.calibration import (
    CalibrationRefused,
    calibrate,
    camera_calibration_path,
    charuco_pattern,
    compose,
    detect_bench_markers,
    detect_projected,
    load_camera_to_bench,
    run_calibration,
    save_calibration,
    white_frame,
)
from projection.geometry import BenchToProjector

ROOT = Path(__file__).resolve().parent.parent

BENCH_MM = (1200.0, 800.0)
PROJECTOR_RES = (1280, 800)
CAMERA_RES = (1280, 720)
CORNERS_MM = np.array([(0.0, 0.0), (1200.0, 0.0), (1200.0, 800.0), (0.0, 800.0)])
# where the bench corners (front-left, front-right, back-right, back-left) land:
# the projector hangs above the bench, a little to the right and tilted, so the
# image is keystoned and slightly rotated; it overshoots the bench a little
PROJECTOR_PX = np.array([(52.0, 771.0), (1236.0, 786.0), (1188.0, 22.0), (81.0, 41.0)])
# the camera looks down from above the front edge: the far edge is smaller
CAMERA_PX = np.array([(148.0, 684.0), (1151.0, 697.0), (1036.0, 66.0), (238.0, 49.0)])

TRUE_BENCH_TO_PROJECTOR = cv2.getPerspectiveTransform(CORNERS_MM.astype(np.float32),
                                                      PROJECTOR_PX.astype(np.float32)).astype(np.float64)
TRUE_BENCH_TO_CAMERA = cv2.getPerspectiveTransform(CORNERS_MM.astype(np.float32),
                                                   CAMERA_PX.astype(np.float32)).astype(np.float64)


@dataclass(frozen=True)
class Marker:
    """What tests put in camera.bench_markers (the same fields as cell.config.BenchMarker)."""

    id: int
    x_mm: float
    y_mm: float
    size_mm: float = 80.0


MARKERS = (Marker(0, 70, 70), Marker(1, 600, 70), Marker(2, 1130, 70),
           Marker(3, 1130, 730), Marker(4, 600, 730), Marker(5, 70, 730))

_ARUCO = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_1000)


def _bits(marker_id: int) -> np.ndarray:
    """6 x 6 cells (border included), True = black ink, row 0 = the marker's top edge."""
    return cv2.aruco.generateImageMarker(_ARUCO, marker_id, 6, borderBits=1) < 128


def _apply(h: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    return (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w, (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w


@dataclass
class SyntheticBench:
    """A bench, a projector and a camera with known geometry; ``show`` and ``grab`` as on hardware."""

    markers: tuple[Marker, ...] = MARKERS
    bench_to_projector: np.ndarray = field(default_factory=lambda: TRUE_BENCH_TO_PROJECTOR.copy())
    bench_to_camera: np.ndarray = field(default_factory=lambda: TRUE_BENCH_TO_CAMERA.copy())
    supersample: int = 3
    blur_px: float = 1.0
    noise: float = 2.0
    room_light: float = 0.25  # light on the bench with the projector off, relative to a white projector pixel
    lens: tuple[float, float] = (0.0, 0.0)  # camera lens distortion, Brown k1, k2 at f = 1000 px (0: a pinhole)
    covered_px: tuple[int, int, int, int] | None = None  # x, y, w, h in camera px: something in front of the lens
    warp: Callable | None = None  # (u, v) -> (u, v) camera px: any other bending of the image
    turned: dict[int, int] = field(default_factory=dict)  # marker id -> quarter turns clockwise as it lies
    seed: int = 0
    projector_image: np.ndarray | None = None

    def show(self, image: np.ndarray) -> None:
        self.projector_image = np.asarray(image)

    def grab(self) -> np.ndarray:
        assert self.projector_image is not None, "show something first"
        return self.render(self.projector_image)

    def render(self, projector_image: np.ndarray) -> np.ndarray:
        """The 8-bit grey camera frame of the bench lit by ``projector_image``."""
        if projector_image.ndim == 3:
            projector_image = cv2.cvtColor(projector_image, cv2.COLOR_BGR2GRAY)
        k = self.supersample
        w, h = CAMERA_RES
        camera_to_bench = np.linalg.inv(self.bench_to_camera)
        out = np.zeros((h, w), np.float64)
        centre = np.array([(w - 1) / 2, (h - 1) / 2])
        norm = math.hypot(*centre)
        bits = {m.id: np.rot90(_bits(m.id), -self.turned.get(m.id, 0)) for m in self.markers}
        ph, pw = projector_image.shape
        proj = projector_image.astype(np.float64) / 255.0
        rows = 48
        for r0 in range(0, h, rows):
            r1 = min(h, r0 + rows)
            ys, xs = np.mgrid[r0 * k:r1 * k, 0:w * k]
            u = (xs + 0.5) / k - 0.5
            v = (ys + 0.5) / k - 0.5
            if self.warp is not None:
                u, v = self.warp(u, v)
            if any(self.lens):
                # the lens bends ideal (pinhole) points p_u to p_d = c + (p_u - c)(1 + k1 r^2 + k2 r^4), r in
                # units of the focal length; this pixel is p_d: find the p_u it shows
                k1, k2 = self.lens
                du, dv = (u - centre[0]) / 1000.0, (v - centre[1]) / 1000.0
                iu, iv = du.copy(), dv.copy()
                for _ in range(20):
                    r2 = iu * iu + iv * iv
                    f = 1 + k1 * r2 + k2 * r2 * r2
                    iu, iv = du / f, dv / f
                u, v = centre[0] + iu * 1000.0, centre[1] + iv * 1000.0
            bx, by = _apply(camera_to_bench, u, v)
            on_bench = (bx >= 0) & (bx <= BENCH_MM[0]) & (by >= 0) & (by <= BENCH_MM[1])
            albedo = np.where(on_bench, 0.55, 0.03)
            for m in self.markers:
                paper = (np.abs(bx - m.x_mm) <= 0.75 * m.size_mm) & (np.abs(by - m.y_mm) <= 0.75 * m.size_mm)
                albedo[paper] = 0.85
                cell = m.size_mm / 6
                col = np.floor((bx - (m.x_mm - m.size_mm / 2)) / cell).astype(int)
                row = np.floor(((m.y_mm + m.size_mm / 2) - by) / cell).astype(int)
                inside = (col >= 0) & (col < 6) & (row >= 0) & (row < 6)
                ink = np.zeros_like(inside)
                ink[inside] = bits[m.id][row[inside], col[inside]]
                albedo[ink] = 0.06
            pu, pv = _apply(self.bench_to_projector, bx, by)
            iu, iv = np.floor(pu + 0.5).astype(int), np.floor(pv + 0.5).astype(int)
            lit = (iu >= 0) & (iu < pw) & (iv >= 0) & (iv < ph)
            light = np.full(albedo.shape, self.room_light)
            light[lit] += 0.02 + 0.98 * proj[iv[lit], iu[lit]]
            vignette = 1 - 0.2 * (((u - centre[0]) ** 2 + (v - centre[1]) ** 2) / norm ** 2)
            value = 190.0 * albedo * light * vignette
            out[r0:r1] = value.reshape(r1 - r0, k, w, k).mean(axis=(1, 3))
        if self.blur_px:
            out = cv2.GaussianBlur(out, (0, 0), self.blur_px)
        rng = np.random.default_rng(self.seed)
        out += rng.normal(0, self.noise, out.shape)
        if self.covered_px is not None:
            x, y, cw, ch = self.covered_px
            out[y:y + ch, x:x + cw] = 40 + rng.normal(0, self.noise, (min(ch, h - y), min(cw, w - x)))
        return np.clip(np.round(out), 0, 255).astype(np.uint8)


def bench_error_mm(mapping: BenchToProjector, step_mm: float = 5.0) -> np.ndarray:
    """Over a dense grid on the whole bench: how far from the intended bench point the light lands (mm).

    A bench point p is drawn at projector pixel mapping.to_px(p); the true
    projector puts that pixel at TRUE^-1(px) on the bench.
    """
    xs = np.arange(0.0, BENCH_MM[0] + 1e-9, step_mm)
    ys = np.arange(0.0, BENCH_MM[1] + 1e-9, step_mm)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    px = mapping.to_px(pts)
    lands = BenchToProjector(TRUE_BENCH_TO_PROJECTOR).to_mm(px)
    return np.linalg.norm(lands - pts, axis=1)


# -- configs --------------------------------------------------------------------------------


def cell_config(markers=MARKERS, source=0, max_residual_mm=1.0):
    """The example cell on the synthetic bench: 1200 x 800 mm, these markers, this camera source."""
    from cell.config import Bench, BenchMarker, Camera, Projector
    from cell.config_loader import load_config

    base = load_config(ROOT / "configs" / "lamp-cell.yaml")
    return base.model_copy(update={
        "bench": Bench(width_mm=BENCH_MM[0], depth_mm=BENCH_MM[1]),
        "camera": Camera(source=source, resolution=CAMERA_RES, bench_markers=[
            BenchMarker(id=m.id, x_mm=m.x_mm, y_mm=m.y_mm, size_mm=m.size_mm) for m in markers]),
        "projector": Projector(display=1, resolution=PROJECTOR_RES, max_residual_mm=max_residual_mm),
    })


MARKERS_YAML = "".join(f"    - {{id: {m.id}, x_mm: {m.x_mm:g}, y_mm: {m.y_mm:g}, size_mm: {m.size_mm:g}}}\n"
                       for m in MARKERS)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} not once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def cell_yaml(tmp_path: Path) -> Path:
    """A copy of the example cell on a 1200 mm bench, with the markers and projector.calibration set."""
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    path = tmp_path / "configs" / "lamp-cell.yaml"
    _edit(path, "width_mm: 1400", "width_mm: 1200")
    _edit(path, "rect: {x: 1110, y: 40, w: 260, h: 220}", "rect: {x: 930, y: 40, w: 260, h: 220}")
    _edit(path, "rect: {x: 1100, y: 300, w: 290, h: 480}", "rect: {x: 900, y: 300, w: 290, h: 480}")
    _edit(path, "  resolution: [1280, 720]\n", "  resolution: [1280, 720]\n  bench_markers:\n" + MARKERS_YAML)
    _edit(path, "  fps: 20\n", "  fps: 20\n  calibration: calibration/projector.json\n")
    return path


# -- frames ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pattern():
    return charuco_pattern(PROJECTOR_RES)


@pytest.fixture(scope="module")
def frames(pattern):
    """What the camera sees with the projector white, and with the pattern (the default rig)."""
    rig = SyntheticBench()
    return {"markers": rig.render(white_frame(PROJECTOR_RES)), "pattern": rig.render(pattern[0])}


# -- the pattern and the detectors ----------------------------------------------------------


def test_pattern_fills_the_projector_with_a_white_margin_and_known_corners(pattern):
    image, board, layout = pattern
    assert image.shape == (800, 1280) and image.dtype == np.uint8
    assert layout.squares == (11, 7) and layout.corner_count == 60 and layout.square_px == 100
    # a white margin all round, the board inside it
    ox, oy = layout.origin_px
    assert ox >= 40 and oy >= 40
    assert image[:oy].min() == 255 and image[:, :ox].min() == 255 and image[-oy:].min() == 255
    # corner 0 is a chessboard saddle: the edges between pixels meet at (x - 0.5, y - 0.5) of a pixel
    x, y = layout.corners_px[0]
    assert (x, y) == (ox + 100 - 0.5, oy + 100 - 0.5)
    xi, yi = int(x + 0.5), int(y + 0.5)
    assert image[yi - 1, xi - 1] == image[yi, xi] != image[yi - 1, xi] == image[yi, xi - 1]
    # OpenCV's own idea of the corners, in board units, is the same grid
    obj = board.getChessboardCorners()[:, :2]
    assert np.allclose(obj + np.array(layout.origin_px) - 0.5, layout.corners_px)


def test_projected_corners_are_found_to_a_tenth_of_a_pixel(pattern):
    """No half-pixel bias (OpenCV 4.11's CharucoDetector alone is 0.5 px off: opencv/opencv#25539)."""
    image, board, layout = pattern
    for sigma in (0.7, 1.5):
        seen = detect_projected(cv2.GaussianBlur(image, (0, 0), sigma), board)
        assert len(seen) == layout.corner_count
        err = seen.camera_px - layout.corners_px[seen.ids]
        assert np.abs(err.mean(axis=0)).max() < 0.05 and np.abs(err).max() < 0.1, (sigma, err.mean(axis=0))


def test_bench_marker_corners_are_found_to_a_fifth_of_a_pixel(frames):
    found = detect_bench_markers(frames["markers"])
    assert sorted(found.corners) == [m.id for m in MARKERS] and not found.duplicates
    offsets = np.array([[-0.5, 0.5], [0.5, 0.5], [0.5, -0.5], [-0.5, -0.5]])
    for m in MARKERS:
        truth = cv2.perspectiveTransform((np.array([m.x_mm, m.y_mm]) + offsets * m.size_mm).reshape(-1, 1, 2),
                                         TRUE_BENCH_TO_CAMERA).reshape(-1, 2)
        assert np.linalg.norm(found.corners[m.id] - truth, axis=1).max() < 0.2, m.id


# -- accuracy over the whole bench ------------------------------------------------------------


def test_calibration_is_within_1_mm_everywhere_on_the_bench(pattern):
    """run_calibration on the synthetic rig; judged against the true homographies on a 5 mm grid."""
    rig = SyntheticBench()
    taken: dict = {}
    result = run_calibration(cell_config(), rig.grab, rig.show, frames=taken)
    assert sorted(taken) == ["markers", "pattern"]
    assert result.refusals(1.0) == [], result.refusals(1.0)
    result.check(1.0)
    err = bench_error_mm(result.bench_to_projector)
    print(f"\nbench->projector error over the 1200 x 800 mm bench: max {err.max():.3f} mm, "
          f"mean {err.mean():.3f} mm; reported: {result.summary()}")
    assert err.max() <= 1.0
    assert err.mean() <= 0.3
    # the two homographies multiplied give the same mapping
    assert bench_error_mm(compose(result.projector_to_camera, result.camera_to_bench)).max() <= 1.0
    # camera -> bench against the truth too, over the same grid (through the camera pixels it sees)
    xs, ys = np.meshgrid(np.arange(0, 1201, 10.0), np.arange(0, 801, 10.0))
    pts = np.column_stack([xs.ravel(), ys.ravel()])
    cam_px = cv2.perspectiveTransform(pts.reshape(-1, 1, 2), TRUE_BENCH_TO_CAMERA).reshape(-1, 2)
    back = cv2.perspectiveTransform(result.camera_lens.undistort(cam_px).reshape(-1, 1, 2),
                                    result.camera_to_bench).reshape(-1, 2)
    assert np.linalg.norm(back - pts, axis=1).max() <= 1.0
    # what it reports is in line with what it is
    assert result.corners_used >= 50 and result.markers_found == (0, 1, 2, 3, 4, 5)
    assert result.bench_residual_mm.mean < 0.3 and result.marker_residual_mm.mean < 0.3
    assert result.camera_residual_px.mean < 0.3


@pytest.mark.parametrize("case", ["ceiling mount, 50 mm markers, barrel lens", "moustache lens, 4 markers turned"])
def test_other_rigs_are_within_1_mm_everywhere(case):
    if case.startswith("ceiling"):
        # the projector hangs upside down (image turned 180 degrees) and further off-axis; a webcam lens
        # that bends the image corners by some 40 px; the config's default 50 mm markers
        projector_px = np.array([(1228.0, 28.0), (70.0, 12.0), (148.0, 778.0), (1175.0, 760.0)])
        markers = tuple(Marker(m.id, m.x_mm, m.y_mm, 50.0) for m in MARKERS)
        rig = SyntheticBench(markers=markers, lens=(-0.12, 0.05), seed=1,
                             bench_to_projector=cv2.getPerspectiveTransform(
                                 CORNERS_MM.astype(np.float32), projector_px.astype(np.float32)).astype(np.float64))
    else:
        # moustache distortion (k1 and k2 of opposite sign); only the 4 corner markers, lying turned
        markers = tuple(m for m in MARKERS if m.id in (0, 2, 3, 5))
        rig = SyntheticBench(markers=markers, lens=(-0.2, 0.3), seed=2, noise=3.0, turned={0: 1, 3: 2})
    result = run_calibration(cell_config(markers), rig.grab, rig.show)
    result.check(1.0)
    truth = BenchToProjector(rig.bench_to_projector)
    xs, ys = np.meshgrid(np.arange(0, 1201, 5.0), np.arange(0, 801, 5.0))
    pts = np.column_stack([xs.ravel(), ys.ravel()])
    err = np.linalg.norm(truth.to_mm(result.bench_to_projector.to_px(pts)) - pts, axis=1)
    print(f"\n{case}: max {err.max():.3f} mm, mean {err.mean():.3f} mm; {result.summary()}; {result.notes}")
    assert err.max() <= 1.0
    if case.startswith("ceiling"):
        assert result.camera_lens.corner_shift_px > 20
    else:
        assert any("marker 0 lies turned by 90 degrees clockwise" in n for n in result.notes), result.notes
        assert any("marker 3 lies turned by 180 degrees clockwise" in n for n in result.notes), result.notes


# -- refusals -------------------------------------------------------------------------------


def _wavy(u, v):
    """Not a lens: the image wobbles (a bent mirror, a wavy bench top, rolling shutter on a vibrating mount)."""
    return u + 1.5 * np.sin(2 * np.pi * v / 260.0), v + 1.5 * np.sin(2 * np.pi * u / 330.0)


def test_a_badly_distorted_image_is_refused_as_over_the_limit_on_the_bench():
    rig = SyntheticBench(warp=_wavy, supersample=2)
    result = run_calibration(cell_config(), rig.grab, rig.show)
    reasons = result.refusals(1.0)
    assert reasons, result.summary()
    assert any(r.startswith("mean error") and "over the limit of 1 mm (projector.max_residual_mm)" in r
               and "likely causes" in r for r in reasons), reasons
    with pytest.raises(CalibrationRefused) as refused:
        result.check(1.0)
    assert "over the limit of 1 mm" in str(refused.value)
    # and it was right to refuse: the mapping really is off by more than a millimetre somewhere
    assert bench_error_mm(result.bench_to_projector).max() > 1.0


def test_a_mostly_hidden_pattern_is_refused_for_too_few_corners():
    rig = SyntheticBench(covered_px=(420, 0, 860, 720), supersample=2)  # something in front of the camera
    result = run_calibration(cell_config(), rig.grab, rig.show)
    reasons = result.refusals(1.0)
    assert reasons[0].startswith(f"only {result.corners_seen} of 60 ChArUco corners seen"), reasons
    assert "is the projector on" in reasons[0] and "camera pointed at the bench" in reasons[0]
    assert result.corners_seen < 30
    assert any(r.startswith("markers ") and " not found in the marker image" in r and "2 at x 1130, y 70 mm" in r
               for r in reasons), reasons


def test_a_missing_marker_is_named():
    rig = SyntheticBench(markers=tuple(m for m in MARKERS if m.id != 3), supersample=2)
    result = run_calibration(cell_config(), rig.grab, rig.show)
    reasons = result.refusals(1.0)
    assert [r for r in reasons if "marker" in r][0].startswith("marker 3 not found"), reasons
    assert len(reasons) == 1, reasons  # the other five still give a good mapping
    assert result.bench_to_projector is not None


def test_a_marker_measured_wrong_in_the_config_is_refused_and_named(frames, pattern):
    wrong = tuple(Marker(m.id, m.x_mm + (25 if m.id == 4 else 0), m.y_mm) for m in MARKERS)
    result = calibrate(frames["pattern"], pattern[2], wrong, marker_image=frames["markers"], bench_size_mm=BENCH_MM)
    reasons = result.refusals(1.0)
    assert len(reasons) == 1 and "at the bench markers" in reasons[0], reasons
    assert "marker 4 fits worst" in reasons[0] and "measure x_mm, y_mm" in reasons[0]


def test_a_camera_that_moved_between_the_two_frames_is_refused(frames, pattern):
    bumped = TRUE_BENCH_TO_CAMERA.copy()
    bumped[0, 2] += 8.0  # 8 px to the right
    moved = SyntheticBench(bench_to_camera=bumped, supersample=2).render(white_frame(PROJECTOR_RES))
    result = calibrate(frames["pattern"], pattern[2], MARKERS, marker_image=moved, bench_size_mm=BENCH_MM)
    reasons = result.refusals(1.0)
    assert any(r.startswith("the camera moved between the two images") for r in reasons), reasons
    # not when it stayed put
    still = calibrate(frames["pattern"], pattern[2], MARKERS, marker_image=frames["markers"])
    assert not any("moved" in r for r in still.refusals(1.0))


# -- files ----------------------------------------------------------------------------------


def test_save_writes_what_the_projection_node_loads_and_the_camera_mapping_beside_it(frames, pattern, tmp_path):
    result = calibrate(frames["pattern"], pattern[2], MARKERS, marker_image=frames["markers"])
    path, cam_path = save_calibration(result, tmp_path / "calibration" / "projector.json")
    assert cam_path == camera_calibration_path(path) == tmp_path / "calibration" / "projector.camera.yaml"
    loaded = BenchToProjector.load(path)  # what projection.node does with projector.calibration
    assert loaded == result.bench_to_projector and loaded.resolution == PROJECTOR_RES
    cam = load_camera_to_bench(cam_path)
    assert load_camera_to_bench(path).homography.tolist() == cam.homography.tolist()  # either path works
    assert cam.image_size == CAMERA_RES and cam.marker_residual_mm.count == 24
    pts = np.array([(100.0, 100.0), (600.0, 400.0), (1150.0, 760.0)])
    seen_px = cv2.perspectiveTransform(pts.reshape(-1, 1, 2), TRUE_BENCH_TO_CAMERA).reshape(-1, 2)
    assert np.abs(cam.to_mm(seen_px) - pts).max() < 1.0
    assert np.abs(cam.to_px(cam.to_mm(seen_px)) - seen_px).max() < 1e-6
    text = cam_path.read_text(encoding="utf-8")
    assert text.startswith("# Camera pixels -> bench millimetres") and "format: camera_to_bench" in text
    refused = calibrate(np.zeros((720, 1280), np.uint8), pattern[2], MARKERS)
    with pytest.raises(ValueError, match="nothing to save"):
        save_calibration(refused, tmp_path / "nothing.json")


# -- the command ----------------------------------------------------------------------------


def _invoke(*args: str):
    from typer.testing import CliRunner

    from cell.cli_calibrate import calibrate_app

    return CliRunner().invoke(calibrate_app, ["projector", *args])


def test_cli_calibrates_from_photos_and_writes_where_the_config_says(cell_yaml, frames, tmp_path):
    photo, white = tmp_path / "pattern-photo.png", tmp_path / "white-photo.png"
    cv2.imwrite(str(photo), frames["pattern"])
    cv2.imwrite(str(white), frames["markers"])
    r = _invoke(str(cell_yaml), "--camera-image", str(photo), "--markers-image", str(white))
    assert r.exit_code == 0, r.output
    assert "accepted" in r.output and "on the bench      mean" in r.output and "6 of 6 found" in r.output
    target = cell_yaml.parent / "calibration" / "projector.json"
    assert f"written: {target}" in r.output
    mapping = BenchToProjector.load(target)
    assert bench_error_mm(mapping).max() <= 1.0
    assert load_camera_to_bench(camera_calibration_path(target)).image_size == CAMERA_RES
    # --out writes elsewhere and says how to use it
    other = tmp_path / "elsewhere" / "proj.json"
    r = _invoke(str(cell_yaml), "--camera-image", str(photo), "--markers-image", str(white), "--out", str(other))
    assert r.exit_code == 0 and other.exists() and (other.parent / "proj.camera.yaml").exists(), r.output
    assert "set it to" in r.output


def test_cli_refuses_a_single_photo_with_the_pattern_over_the_markers(cell_yaml, frames, tmp_path):
    photo = tmp_path / "pattern-photo.png"
    cv2.imwrite(str(photo), frames["pattern"])
    r = _invoke(str(cell_yaml), "--camera-image", str(photo))
    assert r.exit_code == 1, r.output
    assert "refused, nothing written" in r.output
    assert "not found in the camera image" in r.output and "projector showing white" in r.output
    assert not (cell_yaml.parent / "calibration").exists()


def test_cli_refuses_a_distorted_photo_naming_the_limit(cell_yaml, tmp_path, pattern):
    rig = SyntheticBench(warp=_wavy, supersample=2)
    photo, white = tmp_path / "p.png", tmp_path / "w.png"
    cv2.imwrite(str(photo), rig.render(pattern[0]))
    cv2.imwrite(str(white), rig.render(white_frame(PROJECTOR_RES)))
    r = _invoke(str(cell_yaml), "--camera-image", str(photo), "--markers-image", str(white))
    assert r.exit_code == 1, r.output
    assert "over the limit of 0.5 mm (projector.max_residual_mm)" in r.output
    assert not (cell_yaml.parent / "calibration").exists()


def test_cli_with_a_simulated_camera_needs_a_camera_or_a_photo(cell_yaml):
    r = _invoke(str(cell_yaml))
    assert r.exit_code == 2, r.output
    assert "camera.source is sim" in r.output and "--camera-image" in r.output


def test_cli_saves_the_pattern_to_project_by_other_means(cell_yaml, tmp_path, pattern):
    out = tmp_path / "pattern.png"
    r = _invoke(str(cell_yaml), "--save-pattern", str(out))
    assert r.exit_code == 0, r.output
    saved = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
    assert saved.shape == (800, 1280) and np.array_equal(saved, pattern[0])
    assert "--camera-image" in r.output  # says what to do next


def test_cli_names_unreadable_photos_and_a_missing_calibration_path(cell_yaml, tmp_path):
    r = _invoke(str(cell_yaml), "--camera-image", str(tmp_path / "nope.png"))
    assert r.exit_code == 2 and "no such file" in r.output
    _edit(cell_yaml, "  calibration: calibration/projector.json\n", "")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png")
    r = _invoke(str(cell_yaml), "--camera-image", str(junk))
    assert r.exit_code == 2 and "nowhere to write" in r.output and "projector.calibration" in r.output


def test_cli_live_path_shows_the_pattern_and_reads_the_camera(cell_yaml, tmp_path, monkeypatch):
    """`cell calibrate projector` with a camera: pygame window (SDL dummy driver), VideoCapture faked by the rig."""
    import pygame

    import projection.renderer as renderer

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    _edit(cell_yaml, "source: sim ", "source: 0 ")
    _edit(cell_yaml, "  display: 1 ", "  display: 0 ")
    rig = SyntheticBench(supersample=2)
    rendered: dict = {}

    class FakeCapture:
        def __init__(self, source):
            assert source == 0
            self.size = {}

        def isOpened(self):
            return True

        def set(self, prop, value):
            self.size[prop] = value
            return True

        def grab(self):
            return True

        def read(self):
            key = rig.projector_image.tobytes()
            if key not in rendered:
                rendered[key] = cv2.cvtColor(rig.grab(), cv2.COLOR_GRAY2BGR)  # cameras give BGR
            return True, rendered[key]

        def release(self):
            pass

    original_show = renderer.ProjectorWindow.show

    def show(self, surface):  # what reaches the projector goes to the rig's bench
        rig.show(pygame.surfarray.array3d(surface).transpose(1, 0, 2)[:, :, 0].copy())
        original_show(self, surface)

    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    monkeypatch.setattr(renderer.ProjectorWindow, "show", show)
    frames_dir = tmp_path / "frames"
    r = _invoke(str(cell_yaml), "--settle-s", "0", "--save-frames", str(frames_dir))
    assert r.exit_code == 0, r.output
    assert "accepted" in r.output and "camera 0, projector display 0" in r.output
    assert len(rendered) == 2  # white, then the pattern
    assert sorted(p.name for p in frames_dir.iterdir()) == ["calibration-markers.png", "calibration-pattern.png"]
    assert bench_error_mm(BenchToProjector.load(cell_yaml.parent / "calibration" / "projector.json")).max() <= 1.0
