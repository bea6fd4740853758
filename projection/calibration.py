"""Projector calibration: where on the bench does each projector pixel land?

The chain, with a camera as the go-between::

    projector px ──(ChArUco pattern, seen by the camera)──► camera px
    camera px    ──(ArUco markers at known bench places)──► bench mm

The projector shows a ChArUco board full screen (:func:`charuco_pattern`); we
know the projector pixel of every chessboard corner.  The camera sees where
the corners land (:func:`detect_projected`), which gives the projector->camera
homography (:func:`fit_projector_to_camera`).  Printed ArUco markers lie on the
bench at places the config names (``camera.bench_markers``); their four
corners give the camera->bench homography (:func:`fit_camera_to_bench`).
Together they give the :class:`~projection.geometry.BenchToProjector` the
projection node draws with: :func:`calibrate` fits it to every projected
corner taken to bench mm through the camera (:func:`compose` multiplies the two
homographies, which is the same up to noise).

A camera lens bends straight lines, which no homography can express; left in,
a webcam's lens bends the bench mapping by millimetres while every residual
stays small.  So the lens is measured from the same two point sets
(:func:`estimate_lens`, a radial model) and taken out first.

Every step is checked in bench millimetres, the unit the operator feels:
:class:`CalibrationResult` carries the residuals (mean and max) and says in
words why a calibration is refused (:meth:`CalibrationResult.refusals`).

Conventions: pixel coordinates put pixel *centres* on integers (OpenCV's
convention), so the edge between projector pixels 99 and 100 is at 99.5.
Bench millimetres as in :mod:`projection.geometry` (origin front-left,
+x right, +y away from the operator).

Everything here is pure (images in, numbers out) except the file functions
(:func:`save_calibration`, :func:`load_camera_to_bench`) and
:func:`run_calibration`, which takes the projector and the camera as two
callables so tests and the CLI can pass anything.
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import cv2
import numpy as np

from projection.geometry import BenchToProjector, _apply, _as_points

if TYPE_CHECKING:  # pragma: no cover
    from cell.config import BenchMarker, CellConfig

__all__ = [
    "BENCH_MARKER_DICTIONARY",
    "PATTERN_DICTIONARY",
    "CalibrationRefused",
    "CalibrationResult",
    "CameraToBench",
    "ChArUcoLayout",
    "MarkerDetection",
    "ProjectedCorners",
    "ProjectorToCamera",
    "RadialLens",
    "Residual",
    "calibrate",
    "camera_calibration_path",
    "charuco_pattern",
    "compose",
    "detect_bench_markers",
    "detect_projected",
    "estimate_lens",
    "fit_camera_to_bench",
    "fit_projector_to_camera",
    "load_camera_to_bench",
    "run_calibration",
    "save_calibration",
    "white_frame",
]

#: ArUco dictionary of the markers printed and laid on the bench (``camera.bench_markers``).
BENCH_MARKER_DICTIONARY = "DICT_4X4_1000"
#: ArUco dictionary of the markers inside the projected ChArUco board.  A different
#: dictionary from the bench markers, so neither detector mistakes one for the other.
PATTERN_DICTIONARY = "DICT_5X5_250"

_CAMERA_FORMAT_VERSION = 1
# projected corners this close to a marker's paper (assumed 1.5 x the marker's side) are not used
_PRINT_CLEARANCE_MM = 15.0
# fewer projected corners than this: the camera lens is not estimated (taken as perfect)
_MIN_LENS_CORNERS = 16
# a marker further than this between the marker image and the pattern image: the camera moved
_MOVED_PX = 2.0
# a lens that bends the image corners less than this is not worth a word
_LENS_NOTE_PX = 2.0

# corners of a marker as ArUco returns them (top-left, top-right, bottom-right,
# bottom-left of the printed marker), as offsets from its centre in units of its
# size, for a marker lying upright as read by the operator: top edge away from them
_MARKER_CORNER_OFFSETS = np.array([[-0.5, 0.5], [0.5, 0.5], [0.5, -0.5], [-0.5, -0.5]])


def _dictionary(name: str) -> cv2.aruco.Dictionary:
    try:
        return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, name))
    except AttributeError:
        raise ValueError(f"unknown ArUco dictionary {name!r}") from None


def _gray(image: np.ndarray) -> np.ndarray:
    """8-bit grey from grey, BGR or BGRA (other depths are scaled to 0..255)."""
    img = np.asarray(image)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    if img.ndim != 2:
        raise ValueError(f"expected a grey or colour image, got shape {img.shape}")
    if img.dtype != np.uint8:
        img = cv2.normalize(img.astype(np.float32), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return img


# -- the projected pattern ------------------------------------------------------------------


@dataclass(frozen=True)
class ChArUcoLayout:
    """Where the ChArUco board sits in the projector image, and its corners in projector px.

    ``corners_px[i]`` is ChArUco corner id ``i`` (pixel-centre convention).
    """

    resolution: tuple[int, int]
    squares: tuple[int, int]
    square_px: int
    marker_px: int
    origin_px: tuple[int, int]
    dictionary: str = PATTERN_DICTIONARY

    @property
    def corner_count(self) -> int:
        return (self.squares[0] - 1) * (self.squares[1] - 1)

    @property
    def corners_px(self) -> np.ndarray:
        """``(N, 2)`` projector px of the inner chessboard corners, by ChArUco id."""
        nx, ny = self.squares[0] - 1, self.squares[1] - 1
        i, j = np.meshgrid(np.arange(1, nx + 1), np.arange(1, ny + 1))  # row-major, as OpenCV numbers them
        x = self.origin_px[0] + i.ravel() * self.square_px - 0.5
        y = self.origin_px[1] + j.ravel() * self.square_px - 0.5
        return np.column_stack([x, y]).astype(np.float64)

    def board(self) -> cv2.aruco.CharucoBoard:
        """The OpenCV board (lengths in projector px)."""
        return cv2.aruco.CharucoBoard(self.squares, float(self.square_px), float(self.marker_px),
                                      _dictionary(self.dictionary))

    def as_dict(self) -> dict:
        return {"resolution": list(self.resolution), "squares": list(self.squares), "square_px": self.square_px,
                "marker_px": self.marker_px, "origin_px": list(self.origin_px), "dictionary": self.dictionary}


def charuco_layout(resolution: tuple[int, int], *, squares_y: int = 7, margin: float = 0.06,
                   marker_ratio: float = 0.7, dictionary: str = PATTERN_DICTIONARY) -> ChArUcoLayout:
    """Size a ChArUco board to fill the projector image inside a white margin.

    ``squares_y`` rows of square squares; as many columns as fit. ``margin`` is
    the white border on each side as a fraction of the shorter image side.
    Defaults for 1280 x 800: 11 x 7 squares of 100 px, 60 inner corners,
    markers of 70 px (10 px per bit at 5x5 bits plus border: easy to decode).
    """
    w, h = int(resolution[0]), int(resolution[1])
    if w < 64 or h < 64:
        raise ValueError(f"projector resolution {w}x{h} is too small for a calibration pattern")
    if squares_y < 3:
        raise ValueError("the board needs at least 3 rows of squares")
    if not 0 <= margin < 0.4:
        raise ValueError("margin must be a fraction between 0 and 0.4 of the image")
    m = int(round(margin * min(w, h)))
    square = (h - 2 * m) // squares_y
    squares_x = (w - 2 * m) // square
    if squares_x < 3 or square < 12:
        raise ValueError(f"projector resolution {w}x{h} leaves no room for a {squares_y}-row board")
    ox = (w - squares_x * square) // 2
    oy = (h - squares_y * square) // 2
    return ChArUcoLayout(resolution=(w, h), squares=(squares_x, squares_y), square_px=square,
                         marker_px=int(round(marker_ratio * square)), origin_px=(ox, oy), dictionary=dictionary)


def charuco_pattern(resolution: tuple[int, int], **layout_options) -> tuple[np.ndarray, cv2.aruco.CharucoBoard,
                                                                            ChArUcoLayout]:
    """The image to project full screen (8-bit grey, ``h x w``), its board, and its layout.

    White margin around the board; the projector pixel of every ChArUco corner
    is ``layout.corners_px``. Options as for :func:`charuco_layout`.
    """
    layout = charuco_layout(resolution, **layout_options)
    board = layout.board()
    bw, bh = layout.squares[0] * layout.square_px, layout.squares[1] * layout.square_px
    board_img = board.generateImage((bw, bh), marginSize=0, borderBits=1)
    w, h = layout.resolution
    image = np.full((h, w), 255, np.uint8)
    ox, oy = layout.origin_px
    image[oy:oy + bh, ox:ox + bw] = board_img
    return image, board, layout


def white_frame(resolution: tuple[int, int]) -> np.ndarray:
    """A full-white projector frame: lights the bench evenly so printed markers read well."""
    return np.full((int(resolution[1]), int(resolution[0])), 255, np.uint8)


# -- detection ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectedCorners:
    """ChArUco corners found in a camera image: ``ids[i]`` is at ``camera_px[i]``."""

    ids: np.ndarray  # (N,) int
    camera_px: np.ndarray  # (N, 2) float64

    def __len__(self) -> int:
        return len(self.ids)


def detect_projected(camera_image: np.ndarray, board: cv2.aruco.CharucoBoard) -> ProjectedCorners:
    """Find the projected ChArUco corners in a camera image (camera px, with their ids).

    Uses :class:`cv2.aruco.CharucoDetector`, then refines every corner again with
    :func:`cv2.cornerSubPix` on the saddle itself: OpenCV 4.11 (and every 4.x
    before the fix for opencv/opencv#25539) returns ChArUco corners shifted by
    about +0.5 px, which is half a millimetre and more on the bench.
    Re-refining converges on the true saddle with or without that bug.
    """
    gray = _gray(camera_image)
    params = cv2.aruco.DetectorParameters()
    params.adaptiveThreshWinSizeMax = 53  # projected light can be uneven over the bench
    charuco_params = cv2.aruco.CharucoParameters()
    charuco_params.tryRefineMarkers = True
    detector = cv2.aruco.CharucoDetector(board, charuco_params, params)
    corners, ids, _marker_corners, _marker_ids = detector.detectBoard(gray)
    if ids is None or corners is None or len(ids) == 0:
        return ProjectedCorners(np.zeros(0, int), np.zeros((0, 2)))
    ids = ids.reshape(-1).astype(int)
    pts = corners.reshape(-1, 1, 2).astype(np.float32)
    pts = _refine_saddles(gray, pts, board, ids)
    return ProjectedCorners(ids, pts.reshape(-1, 2).astype(np.float64))


def _refine_saddles(gray: np.ndarray, pts: np.ndarray, board: cv2.aruco.CharucoBoard,
                    ids: np.ndarray) -> np.ndarray:
    """cornerSubPix with a window that stays inside the corner's four squares and clear of the markers."""
    obj = board.getChessboardCorners()[ids, :2].astype(np.float64)
    if len(ids) >= 2:
        # camera px per board unit, from neighbouring corners: the window scales with the squares
        d_img = np.linalg.norm(pts[:, 0, None, :] - pts[None, :, 0, :], axis=2)
        d_obj = np.linalg.norm(obj[:, None, :] - obj[None, :, :], axis=2)
        np.fill_diagonal(d_obj, np.inf)
        nearest = np.argmin(d_obj, axis=1)
        scale = np.median(d_img[np.arange(len(ids)), nearest] / d_obj[np.arange(len(ids)), nearest])
        square_cam = scale * board.getSquareLength()
        gap = (board.getSquareLength() - board.getMarkerLength()) / 2 * scale  # corner to marker edge
        half = int(np.clip(math.floor(0.6 * gap), 2, 10)) if np.isfinite(square_cam) else 5
    else:
        half = 5
    term = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.001)
    refined = pts.copy()
    cv2.cornerSubPix(gray, refined, (half, half), (-1, -1), term)
    # a corner that wandered far found no saddle in its window: keep OpenCV's estimate for it
    moved = np.linalg.norm(refined - pts, axis=2).ravel() > 2.0
    refined[moved] = pts[moved]
    return refined


@dataclass(frozen=True)
class MarkerDetection:
    """Bench markers found in a camera image: id -> four corners (camera px), and ids seen twice."""

    corners: dict[int, np.ndarray]
    duplicates: tuple[int, ...] = ()


def detect_bench_markers(camera_image: np.ndarray, dictionary: str = BENCH_MARKER_DICTIONARY) -> MarkerDetection:
    """Find printed ArUco markers with :class:`cv2.aruco.ArucoDetector` (sub-pixel corners).

    Corners come in ArUco's order: top-left, top-right, bottom-right, bottom-left
    of the printed marker.
    """
    gray = _gray(camera_image)
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    params.cornerRefinementWinSize = 4
    params.adaptiveThreshWinSizeMax = 53
    detector = cv2.aruco.ArucoDetector(_dictionary(dictionary), params)
    corners, ids, _rejected = detector.detectMarkers(gray)
    found: dict[int, np.ndarray] = {}
    dup: set[int] = set()
    if ids is not None:
        grey_f = gray.astype(np.float32)
        cells = int(detector.getDictionary().markerSize) + 2  # the bits and a one-cell black border
        for c, i in zip(corners, ids.reshape(-1)):
            i = int(i)
            if i in found:
                dup.add(i)
            found[i] = _refine_marker_edges(grey_f, c.reshape(4, 2).astype(np.float64), cells)
    return MarkerDetection(found, tuple(sorted(dup)))


def _refine_marker_edges(gray: np.ndarray, corners: np.ndarray, cells: int = 6, passes: int = 2) -> np.ndarray:
    """Corners of a marker as the intersections of its four outer edges, each fitted to sub-pixel edge points.

    ArUco's corner refinements look at the corner itself, and on a blurred
    image the corner of a dark square is pulled inwards (0.2-0.4 px here, which
    is up to half a millimetre on the bench).  A straight edge's half-way
    crossing between black border and white paper does not move with a
    symmetric blur, so fitting lines to those crossings is unbiased.
    ``cells``: cells along a side, border included (6 for 4x4 markers).
    Returns the input unchanged if an edge cannot be measured.
    """
    pts = corners.copy()
    for _ in range(passes):
        lines = []
        for k in range(4):
            a, b = pts[k], pts[(k + 1) % 4]
            length = float(np.linalg.norm(b - a))
            if length < 12:
                return corners
            t = (b - a) / length
            n = np.array([-t[1], t[0]])
            cell = length / cells
            reach = float(np.clip(0.8 * cell, 2.0, 6.0))  # stays inside the black border and the white margin
            offsets = np.arange(-reach, reach + 1e-9, 0.25)
            along = np.linspace(0.15, 0.85, max(8, int(0.7 * length)))
            base = a[None, :] + along[:, None] * (b - a)[None, :]
            samples = base[:, None, :] + offsets[None, :, None] * n[None, None, :]
            prof = cv2.remap(gray, samples[..., 0].astype(np.float32), samples[..., 1].astype(np.float32),
                             cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float64)
            end = max(2, len(offsets) // 6)
            lo_side, hi_side = prof[:, :end].mean(axis=1), prof[:, -end:].mean(axis=1)
            mid = (lo_side + hi_side) / 2
            contrast = np.abs(hi_side - lo_side)
            edge_pts = []
            for p, m, c, q in zip(prof, mid, contrast, base):
                if c < 15:
                    continue
                s = np.sign(p - m)
                cross = np.nonzero(s[:-1] * s[1:] < 0)[0]
                if len(cross) != 1:
                    continue
                j = cross[0]
                f = (m - p[j]) / (p[j + 1] - p[j])
                o = offsets[j] + f * (offsets[j + 1] - offsets[j])
                edge_pts.append(q + o * n)
            if len(edge_pts) < 6:
                return corners
            e = np.asarray(edge_pts)
            centre = e.mean(axis=0)
            _u, _s, vt = np.linalg.svd(e - centre)
            normal = vt[1]
            lines.append(np.array([normal[0], normal[1], -normal @ centre]))
        new = np.empty_like(pts)
        for k in range(4):
            x = np.cross(lines[(k - 1) % 4], lines[k])  # corner k joins edge k-1 and edge k
            if abs(x[2]) < 1e-12:
                return corners
            new[k] = x[:2] / x[2]
        if np.max(np.linalg.norm(new - corners, axis=1)) > 3.0:
            return corners
        pts = new
    return pts


# -- the homographies -----------------------------------------------------------------------


@dataclass(frozen=True)
class Residual:
    """Mean and largest error over ``count`` points (unit in the name of the field holding it)."""

    mean: float
    max: float
    count: int

    @classmethod
    def of(cls, errors: Iterable[float]) -> "Residual":
        e = np.asarray(list(errors), dtype=np.float64)
        if e.size == 0:
            return cls(float("nan"), float("nan"), 0)
        return cls(float(e.mean()), float(e.max()), int(e.size))

    def as_dict(self) -> dict:
        return {"mean": round(self.mean, 4), "max": round(self.max, 4), "count": self.count}


@dataclass(frozen=True)
class RadialLens:
    """The camera lens's barrel, pincushion or wavy distortion: observed px -> ideal (pinhole) px.

    ``ideal = c + (observed - c) * (1 + k1 r^2 + k2 r^4)`` with
    ``r = |observed - c| / norm``, ``c`` the image centre and ``norm`` half its
    diagonal, so ``(k1 + k2) * norm`` is how many pixels the image corners are
    bent. ``k1 = k2 = 0`` is a perfect lens.
    """

    k1: float
    k2: float
    centre: tuple[float, float]
    norm: float

    @classmethod
    def perfect(cls, image_size: tuple[int, int]) -> "RadialLens":
        w, h = image_size
        return cls(0.0, 0.0, ((w - 1) / 2.0, (h - 1) / 2.0), math.hypot(w, h) / 2.0)

    def with_k(self, k1: float, k2: float = 0.0) -> "RadialLens":
        return RadialLens(float(k1), float(k2), self.centre, self.norm)

    def _factor(self, pts: np.ndarray) -> np.ndarray:
        d = (pts - np.asarray(self.centre)) / self.norm
        r2 = np.sum(d * d, axis=1, keepdims=True)
        return 1 + self.k1 * r2 + self.k2 * r2 * r2

    def undistort(self, points) -> np.ndarray:
        """Observed camera px -> ideal camera px."""
        pts, single = _as_points(points)
        c = np.asarray(self.centre)
        out = c + (pts - c) * self._factor(pts)
        return out[0] if single else out

    def distort(self, points) -> np.ndarray:
        """Ideal camera px -> observed camera px (the inverse of :meth:`undistort`, by iteration)."""
        pts, single = _as_points(points)
        c = np.asarray(self.centre)
        obs = pts.copy()
        for _ in range(100):
            nxt = c + (pts - c) / self._factor(obs)
            done = np.max(np.abs(nxt - obs)) < 1e-9
            obs = nxt
            if done:
                break
        return obs[0] if single else obs

    @property
    def corner_shift_px(self) -> float:
        """How far the lens moves the image corners (px)."""
        return abs(self.k1 + self.k2) * self.norm

    def as_dict(self) -> dict:
        return {"model": "radial", "k1": float(self.k1), "k2": float(self.k2),
                "centre": [float(v) for v in self.centre], "norm": float(self.norm)}


def _homography_residuals(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    h, _ = cv2.findHomography(src, dst, 0)
    if h is None or not np.all(np.isfinite(h)):
        return np.full(len(src), 1e6)
    return np.linalg.norm(_apply(h, src) - dst, axis=1)


def _nelder_mead(f: Callable[[np.ndarray], float], x0: np.ndarray, step: float, iterations: int = 200,
                 tol: float = 1e-10) -> np.ndarray:
    """Minimise ``f`` from ``x0`` (a few parameters; no SciPy in the product's dependencies)."""
    n = len(x0)
    simplex = [np.asarray(x0, dtype=np.float64)]
    for i in range(n):
        x = simplex[0].copy()
        x[i] += step
        simplex.append(x)
    values = [f(x) for x in simplex]
    for _ in range(iterations):
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        if abs(values[-1] - values[0]) < tol:
            break
        centroid = np.mean(simplex[:-1], axis=0)
        xr = centroid + (centroid - simplex[-1])
        fr = f(xr)
        if fr < values[0]:
            xe = centroid + 2 * (centroid - simplex[-1])
            fe = f(xe)
            simplex[-1], values[-1] = (xe, fe) if fe < fr else (xr, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = xr, fr
        else:
            xc = centroid + 0.5 * (simplex[-1] - centroid)
            fc = f(xc)
            if fc < values[-1]:
                simplex[-1], values[-1] = xc, fc
            else:
                simplex = [simplex[0] + 0.5 * (x - simplex[0]) for x in simplex]
                values = [values[0]] + [f(x) for x in simplex[1:]]
    return simplex[int(np.argmin(values))]


def estimate_lens(image_size: tuple[int, int], projector_px: np.ndarray, camera_px: np.ndarray,
                  marker_camera_px: np.ndarray | None = None, marker_bench_mm: np.ndarray | None = None,
                  *, trim: float = 0.8, max_k: float = 0.3) -> RadialLens:
    """The camera lens under which the projected corners and the marker corners each fit one homography.

    Both point sets are flat (the bench), so with a pinhole camera each is
    exactly a homography away from its known layout (projector px, bench mm);
    what a homography cannot explain and a radial bend can is the lens.  The
    marker corners matter most: they lie near the bench's corners, far out in
    the image where the lens bends most.  ``trim``: the worst corners
    (1 - trim) do not count, so a few bad ones do not bend the estimate.
    """
    lens = RadialLens.perfect(image_size)
    src, _ = _as_points(projector_px)
    dst, _ = _as_points(camera_px)
    have_markers = marker_camera_px is not None and marker_bench_mm is not None and len(marker_camera_px) >= 8
    n_keep = max(4, int(trim * len(src)))

    def cost(k: np.ndarray) -> float:
        if abs(k[0]) > max_k or abs(k[1]) > max_k:
            return 1e12
        candidate = lens.with_k(k[0], k[1])
        res = np.sort(_homography_residuals(src, candidate.undistort(dst)))[:n_keep]
        total = float(np.mean(res ** 2))
        if have_markers:
            # bench mm -> ideal camera px, residual in camera px like the corners'
            res_m = _homography_residuals(np.asarray(marker_bench_mm, dtype=np.float64),
                                          candidate.undistort(marker_camera_px))
            total += float(np.mean(res_m ** 2))
        return total

    grid = np.linspace(-max_k, max_k, 61)
    k1 = float(grid[int(np.argmin([cost(np.array([k, 0.0])) for k in grid]))])
    best = _nelder_mead(cost, np.array([k1, 0.0]), step=0.01)
    return lens.with_k(best[0], best[1])


@dataclass(frozen=True)
class ProjectorToCamera:
    """Projector px -> ideal camera px, and which detected corners fit (RANSAC inliers)."""

    homography: np.ndarray  # projector px -> ideal camera px (lens.undistort of what the camera sees)
    lens: RadialLens
    inliers: np.ndarray  # (N,) bool, per detected corner
    residual_px: Residual  # over the inliers, camera px


def fit_projector_to_camera(projector_px: np.ndarray, camera_px: np.ndarray, *, lens: RadialLens | None = None,
                            ransac_px: float = 3.0) -> ProjectorToCamera:
    """Homography projector px -> camera px with RANSAC; residual in camera px over the inliers.

    With a ``lens`` (:func:`estimate_lens`) the camera points are corrected for
    it first and the homography is to ideal camera px.
    """
    src, _ = _as_points(projector_px)
    dst, _ = _as_points(camera_px)
    if len(src) < 4:
        raise ValueError(f"need at least 4 corners for a homography, got {len(src)}")
    if lens is None:
        w, h = float(np.max(dst[:, 0]) + 1), float(np.max(dst[:, 1]) + 1)
        lens = RadialLens(0.0, 0.0, ((w - 1) / 2, (h - 1) / 2), math.hypot(w, h) / 2)
    ideal = lens.undistort(dst)
    h, mask = cv2.findHomography(src, ideal, cv2.RANSAC, ransac_px, maxIters=5000, confidence=0.999)
    if h is None:
        raise ValueError("the corners do not fit a homography (degenerate?)")
    inliers = mask.reshape(-1).astype(bool)
    # least squares on the inliers: the result must not depend on RANSAC's random sample
    if inliers.sum() >= 4:
        h2, _ = cv2.findHomography(src[inliers], ideal[inliers], 0)
        if h2 is not None:
            h = h2
    err = np.linalg.norm(_apply(h, src[inliers]) - ideal[inliers], axis=1)
    return ProjectorToCamera(h / h[2, 2], lens, inliers, Residual.of(err))


@dataclass(frozen=True)
class CameraToBenchFit:
    """Camera px -> bench mm from the bench markers, and how well each marker fits (mm)."""

    homography: np.ndarray
    residual_mm: Residual  # over every marker corner
    marker_error_mm: dict[int, float]  # mean corner error per marker
    turned: dict[int, int]  # marker id -> degrees it lies turned (only markers not upright)
    camera_px: np.ndarray  # (4N, 2) the marker corners used, as given
    bench_mm: np.ndarray  # (4N, 2) where they are on the bench


def _marker_centre(c: np.ndarray) -> np.ndarray:
    """Intersection of the diagonals: the perspective-correct centre of a square."""
    p0, p1, p2, p3 = c
    a = np.cross(np.append(p0, 1.0), np.append(p2, 1.0))
    b = np.cross(np.append(p1, 1.0), np.append(p3, 1.0))
    x = np.cross(a, b)
    if abs(x[2]) < 1e-12:
        return c.mean(axis=0)
    return x[:2] / x[2]


def fit_camera_to_bench(found: dict[int, np.ndarray], markers: Sequence["BenchMarker"],
                        lens: RadialLens | None = None) -> CameraToBenchFit:
    """Homography camera px -> bench mm from the four corners of every marker (centre +- size/2).

    Needs at least 4 of the markers found.  A marker may lie turned by 90, 180
    or 270 degrees: the centres alone give a first mapping that tells which way
    each one lies, then all corners are fitted together.  With a ``lens`` the
    homography is from ideal (lens-corrected) camera px.
    """
    by_id = {m.id: m for m in markers}
    ids = [i for i in sorted(found) if i in by_id]
    if len(ids) < 4:
        raise ValueError(f"need at least 4 bench markers in the image, found {len(ids)}")
    seen_px = {i: (lens.undistort(found[i]) if lens is not None else found[i]) for i in ids}
    centres_cam = np.array([_marker_centre(seen_px[i]) for i in ids])
    centres_mm = np.array([(by_id[i].x_mm, by_id[i].y_mm) for i in ids], dtype=np.float64)
    h0, _ = cv2.findHomography(centres_cam, centres_mm, 0)
    if h0 is None:
        raise ValueError("the bench markers lie on one line: spread them over the bench corners")
    cam_pts, raw_pts, mm_pts, owner, turned = [], [], [], [], {}
    for i in ids:
        m = by_id[i]
        ideal = np.array([m.x_mm, m.y_mm]) + _MARKER_CORNER_OFFSETS * m.size_mm
        at = _apply(h0, seen_px[i])
        shift = min(range(4), key=lambda r: float(np.sum((at - np.roll(ideal, -r, axis=0)) ** 2)))
        if shift:
            turned[i] = 90 * shift
        cam_pts.append(seen_px[i])
        raw_pts.append(found[i])
        mm_pts.append(np.roll(ideal, -shift, axis=0))
        owner += [i] * 4
    cam = np.vstack(cam_pts)
    mm = np.vstack(mm_pts)
    h, _ = cv2.findHomography(cam, mm, 0)
    if h is None or abs(np.linalg.det(h)) < 1e-15:
        raise ValueError("the bench markers give no homography (all on one line?)")
    err = np.linalg.norm(_apply(h, cam) - mm, axis=1)
    owner_arr = np.array(owner)
    per_marker = {i: float(err[owner_arr == i].mean()) for i in ids}
    return CameraToBenchFit(h / h[2, 2], Residual.of(err), per_marker, turned, np.vstack(raw_pts), mm)


def compose(projector_to_camera: np.ndarray, camera_to_bench: np.ndarray,
            resolution: tuple[int, int] | None = None) -> BenchToProjector:
    """bench mm -> projector px as the inverse of (camera->bench after projector->camera).

    Both homographies in the same camera pixels (the lens-corrected ones of a
    :class:`CalibrationResult`).  :func:`calibrate` fits bench->projector to the
    corners directly instead, which is the same mapping up to noise.
    """
    p2b = np.asarray(camera_to_bench, dtype=np.float64) @ np.asarray(projector_to_camera, dtype=np.float64)
    return BenchToProjector(np.linalg.inv(p2b), resolution=resolution)


# -- the result -----------------------------------------------------------------------------


class CalibrationRefused(ValueError):
    """The calibration is not good enough to use; ``reasons`` says why, in words an integrator acts on."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("calibration refused: " + "; ".join(self.reasons))


_BENCH_CAUSES = ("likely causes: the bench top is not flat or something stands on it, a lens bends straight "
                 "lines more than the lens correction follows (a fisheye camera, the projector's lens), the "
                 "camera or projector moved during the calibration, or the camera image is out of focus")
_MARKER_CAUSES = ("likely causes: a marker is not where camera.bench_markers says (measure x_mm, y_mm to "
                  "its centre again), size_mm is not the side of the black square, a marker does not "
                  "lie flat, or a wide-angle camera lens bends straight lines")


def _mm(value: float, limit: float) -> str:
    """One decimal, or two where one would not show that the value is over the limit."""
    text = f"{value:.1f}"
    return text if float(text) > limit else f"{value:.2f}"


@dataclass
class CalibrationResult:
    """Both mappings, their residuals, what was seen, and what is wrong with it (if anything).

    ``problems`` are reasons to refuse that do not depend on the limit (too few
    corners, a marker missing); :meth:`refusals` adds the residual limit.
    Mappings are ``None`` when there was too little to compute them.
    """

    layout: ChArUcoLayout
    camera_image_size: tuple[int, int]
    corners_total: int
    corners_seen: int
    corners_used: int
    min_corners: int
    markers_expected: tuple[int, ...]
    markers_found: tuple[int, ...]
    bench_to_projector: BenchToProjector | None = None
    camera_to_bench: np.ndarray | None = None  # ideal (lens-corrected) camera px -> bench mm
    projector_to_camera: np.ndarray | None = None  # projector px -> ideal camera px
    camera_lens: RadialLens | None = None
    camera_residual_px: Residual | None = None
    bench_residual_mm: Residual | None = None
    marker_residual_mm: Residual | None = None
    marker_error_mm: dict[int, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Both mappings could be computed (not yet: that they are good enough)."""
        return self.bench_to_projector is not None and self.camera_to_bench is not None

    def refusals(self, max_residual_mm: float) -> list[str]:
        """Every reason to refuse this calibration; empty when it may be used."""
        reasons = list(self.problems)
        if not self.complete and not reasons:
            reasons.append("no mapping could be computed from this image")
        limit = f"the limit of {max_residual_mm:g} mm (projector.max_residual_mm)"
        b = self.bench_residual_mm
        if b is not None and b.count and not b.mean <= max_residual_mm:
            reasons.append(f"mean error {_mm(b.mean, max_residual_mm)} mm on the bench (projected corners against a flat-bench "
                           f"mapping, largest {b.max:.1f} mm) is over {limit}; {_BENCH_CAUSES}")
        mk = self.marker_residual_mm
        if mk is not None and mk.count and not mk.mean <= max_residual_mm:
            worst = max(self.marker_error_mm, key=self.marker_error_mm.get) if self.marker_error_mm else None
            worst_text = (f"; marker {worst} fits worst ({self.marker_error_mm[worst]:.1f} mm off)"
                          if worst is not None else "")
            reasons.append(f"mean error {_mm(mk.mean, max_residual_mm)} mm at the bench markers (largest {mk.max:.1f} mm) is over "
                           f"{limit}{worst_text}; {_MARKER_CAUSES}")
        return reasons

    def check(self, max_residual_mm: float) -> None:
        """Raise :class:`CalibrationRefused` with every reason, or return quietly."""
        reasons = self.refusals(max_residual_mm)
        if reasons:
            raise CalibrationRefused(reasons)

    def summary(self) -> list[str]:
        """Lines for a person: what was seen and how well it fits."""
        lines = [f"ChArUco corners   {self.corners_seen} of {self.corners_total} seen, {self.corners_used} used "
                 f"(camera image {self.camera_image_size[0]}x{self.camera_image_size[1]})"]
        if self.camera_residual_px is not None:
            r = self.camera_residual_px
            lens = (f"; camera lens bends {self.camera_lens.corner_shift_px:.1f} px at the image corners, corrected"
                    if self.camera_lens is not None and self.camera_lens.corner_shift_px >= _LENS_NOTE_PX else "")
            lines.append(f"projector->camera mean {r.mean:.2f} px, max {r.max:.2f} px (camera pixels){lens}")
        found = ", ".join(str(i) for i in self.markers_found) or "none"
        line = f"bench markers     {len(self.markers_found)} of {len(self.markers_expected)} found ({found})"
        if self.marker_residual_mm is not None:
            r = self.marker_residual_mm
            line += f"; fit mean {r.mean:.2f} mm, max {r.max:.2f} mm"
        lines.append(line)
        if self.bench_residual_mm is not None:
            r = self.bench_residual_mm
            lines.append(f"on the bench      mean {r.mean:.2f} mm, max {r.max:.2f} mm "
                         f"({r.count} projected corners)")
        return lines


def _corner_name(x: float, y: float) -> str:
    return f"{'front' if y == 0 else 'back'}-{'left' if x == 0 else 'right'} corner (x {x:g}, y {y:g})"


def calibrate(camera_image: np.ndarray, layout: ChArUcoLayout, markers: Sequence["BenchMarker"], *,
              marker_image: np.ndarray | None = None, bench_size_mm: tuple[float, float] | None = None,
              min_corner_fraction: float = 0.5, marker_dictionary: str = BENCH_MARKER_DICTIONARY,
              ransac_px: float = 3.0, correct_lens: bool = True) -> CalibrationResult:
    """Calibrate from a camera image of the projected pattern (and the bench markers).

    ``camera_image``: taken while the projector showed :func:`charuco_pattern`'s
    image for ``layout``. ``marker_image``: taken from the same place with the
    projector showing white (or off); without it the markers are looked for in
    ``camera_image``, which works where the pattern's white border or no
    projected light falls on them. ``bench_size_mm`` only adds notes (a bench
    corner the projector does not reach). ``correct_lens``: measure and take
    out the camera's lens distortion (:class:`RadialLens`, from the corners and the markers).

    Never raises for a bad image: what went wrong is in ``result.problems``.
    """
    gray = _gray(camera_image)
    size = (int(gray.shape[1]), int(gray.shape[0]))
    if marker_image is not None and _gray(marker_image).shape != gray.shape:
        raise ValueError(f"the marker image is {_gray(marker_image).shape[1]}x{_gray(marker_image).shape[0]}, "
                         f"the pattern image {size[0]}x{size[1]}: both must come from the same camera")
    expected = tuple(sorted(m.id for m in markers))
    min_corners = max(4, int(math.ceil(min_corner_fraction * layout.corner_count)))
    problems: list[str] = []
    notes: list[str] = []

    # the bench markers
    detection = detect_bench_markers(gray if marker_image is None else marker_image, marker_dictionary)
    found = {i: c for i, c in detection.corners.items() if i in expected}
    for i in detection.duplicates:
        if i in expected:
            problems.append(f"marker {i} is seen twice: every marker id on the bench must be different")
    missing = [m for m in markers if m.id not in found]
    if missing:
        where = "in the camera image" if marker_image is None else "in the marker image (projector white)"
        one = len(missing) == 1
        ids = (f"marker {missing[0].id}" if one else
               "markers " + ", ".join(str(m.id) for m in missing[:-1]) + f" and {missing[-1].id}")
        places = "; ".join(f"{'' if one else f'{m.id} '}at x {m.x_mm:g}, y {m.y_mm:g} mm, {m.size_mm:g} mm"
                           for m in missing)
        hint = (f"{'is it' if one else 'are they'} covered, out of the camera's view, printed too small, or in "
                f"the projected pattern's light? (then also give a photo with the projector showing white)"
                if marker_image is None else
                f"{'is it' if one else 'are they'} covered, out of the camera's view or printed too small?")
        problems.append(f"{ids} not found {where} (camera.bench_markers: {places}; {marker_dictionary}): {hint}")
    if len(markers) < 4:
        problems.append(f"camera.bench_markers lists {len(markers)} marker{'s' if len(markers) != 1 else ''}; "
                        f"calibration needs at least 4, one near each corner of the bench")
    if marker_image is not None:
        # markers the pattern's light leaves readable must be where they were in the marker image
        # (the pattern's light over a marker can pull it by a pixel or two, so one marker alone must move more)
        again = detect_bench_markers(gray, marker_dictionary).corners
        shifts = {i: float(np.linalg.norm(_marker_centre(again[i]) - _marker_centre(found[i])))
                  for i in again if i in found}
        moved = (len(shifts) >= 2 and float(np.median(list(shifts.values()))) > _MOVED_PX) or \
                (len(shifts) == 1 and next(iter(shifts.values())) > 2.5 * _MOVED_PX)
        if moved:
            i = max(shifts, key=shifts.get)
            problems.append(f"the camera moved between the two images (marker {i} is {shifts[i]:.1f} px from "
                            f"where it was with the projector white): take both from the same place, the "
                            f"camera fixed where it works")
    other = sorted(set(detection.corners) - set(expected))
    if other:
        notes.append(f"markers not in camera.bench_markers were ignored: {', '.join(map(str, other))}")
    rough: CameraToBenchFit | None = None
    if len(found) >= 4:
        try:
            rough = fit_camera_to_bench(found, markers)  # before the lens is known: good to a few mm
        except ValueError as exc:
            problems.append(str(exc))

    # the projected corners
    corners = detect_projected(gray, layout.board())
    seen = len(corners)
    if rough is not None and seen:
        # a corner whose light falls on a printed marker (or its paper) is pulled by the print: leave it out
        at = _apply(rough.homography, corners.camera_px)
        on_print = np.zeros(seen, bool)
        for m in markers:
            reach = 0.75 * m.size_mm + _PRINT_CLEARANCE_MM
            on_print |= (np.abs(at[:, 0] - m.x_mm) <= reach) & (np.abs(at[:, 1] - m.y_mm) <= reach)
        if on_print.any():
            notes.append(f"{int(on_print.sum())} projected corners fell on a bench marker and were left out")
            corners = ProjectedCorners(corners.ids[~on_print], corners.camera_px[~on_print])
    used = 0
    p2c: ProjectorToCamera | None = None
    lens = RadialLens.perfect(size)
    if len(corners) >= 4:
        proj_px = layout.corners_px[corners.ids]
        try:
            if correct_lens and len(corners) >= _MIN_LENS_CORNERS:
                m_cam = rough.camera_px if rough is not None else None
                m_mm = rough.bench_mm if rough is not None else None
                lens = estimate_lens(size, proj_px, corners.camera_px, m_cam, m_mm)
                p2c = fit_projector_to_camera(proj_px, corners.camera_px, lens=lens, ransac_px=ransac_px)
                if not p2c.inliers.all() and p2c.inliers.sum() >= _MIN_LENS_CORNERS:
                    # once more without the corners that did not fit, at full weight
                    keep = p2c.inliers
                    lens = estimate_lens(size, proj_px[keep], corners.camera_px[keep], m_cam, m_mm, trim=1.0)
                    p2c = fit_projector_to_camera(proj_px, corners.camera_px, lens=lens, ransac_px=ransac_px)
            else:
                p2c = fit_projector_to_camera(proj_px, corners.camera_px, lens=lens, ransac_px=ransac_px)
            used = int(p2c.inliers.sum())
        except ValueError as exc:
            problems.append(f"the projected corners give no mapping: {exc}")
    if seen < min_corners:
        problems.insert(0, f"only {seen} of {layout.corner_count} ChArUco corners seen (at least "
                           f"{min_corners} needed): is the projector on and showing the pattern full screen, "
                           f"and is the camera pointed at the bench?")
    elif used < min_corners:
        problems.insert(0, f"only {used} of the {seen} ChArUco corners seen lie on one flat surface (at "
                           f"least {min_corners} needed): is something standing on the bench, or does part of "
                           f"the pattern fall off the bench top?")
    elif used < len(corners):
        notes.append(f"{len(corners) - used} projected corners did not fit the flat bench and were left out "
                     f"(something on the bench, or the pattern falls over its edge there)")
    if lens.corner_shift_px >= _LENS_NOTE_PX:
        notes.append(f"the camera lens bends the image (about {lens.corner_shift_px:.1f} px at its corners); "
                     f"measured from the pattern and the markers and taken out")

    # camera -> bench, on the lens-corrected marker corners
    cam_fit: CameraToBenchFit | None = None
    if rough is not None:
        try:
            cam_fit = fit_camera_to_bench(found, markers, lens)
        except ValueError as exc:
            problems.append(str(exc))
    for i, deg in sorted((cam_fit.turned if cam_fit else {}).items()):
        notes.append(f"marker {i} lies turned by {deg} degrees clockwise (seen from above; that is fine)")

    result = CalibrationResult(layout=layout, camera_image_size=size, corners_total=layout.corner_count,
                               corners_seen=seen, corners_used=used, min_corners=min_corners,
                               markers_expected=expected, markers_found=tuple(sorted(found)),
                               camera_lens=lens, problems=problems, notes=notes)
    if cam_fit is not None:
        result.camera_to_bench = cam_fit.homography
        result.marker_residual_mm = cam_fit.residual_mm
        result.marker_error_mm = cam_fit.marker_error_mm
    if p2c is not None:
        result.projector_to_camera = p2c.homography
        result.camera_residual_px = p2c.residual_px
    if cam_fit is None or p2c is None:
        return result

    # bench -> projector: fit the inlier corners, projector px against their bench mm through the camera
    inl = p2c.inliers
    proj = layout.corners_px[corners.ids[inl]]
    bench = _apply(cam_fit.homography, lens.undistort(corners.camera_px[inl]))
    try:
        mapping = BenchToProjector.from_correspondences(bench, proj, resolution=layout.resolution)
    except ValueError as exc:
        problems.append(f"the projected corners give no bench mapping: {exc}")
        return result
    result.bench_to_projector = mapping
    result.bench_residual_mm = Residual.of(np.linalg.norm(mapping.to_mm(proj) - bench, axis=1))

    if bench_size_mm is not None:
        w, d = bench_size_mm
        res_w, res_h = layout.resolution
        for x, y in ((0.0, 0.0), (w, 0.0), (w, d), (0.0, d)):
            u, v = mapping.to_px((x, y))
            if not (-0.5 <= u <= res_w - 0.5 and -0.5 <= v <= res_h - 0.5):
                notes.append(f"the projector image does not reach the bench's {_corner_name(x, y)}: "
                             f"nothing can be shown there")
        if mapping.is_mirrored((w / 2, d / 2)):
            notes.append("the projected image is mirrored on the bench (a mirror in the light path?): "
                         "the renderer corrects for it")
    return result


# -- running it on hardware (or anything that looks like it) --------------------------------


def run_calibration(config: "CellConfig", grab_frame: Callable[[], np.ndarray],
                    show: Callable[[np.ndarray], None], *, separate_marker_frame: bool = True,
                    frames: dict[str, np.ndarray] | None = None) -> CalibrationResult:
    """Project the pattern with ``show``, take camera frames with ``grab_frame``, calibrate.

    With ``separate_marker_frame`` (default) the projector first shows white and
    one frame is taken for the bench markers (evenly lit, no pattern over
    them), then the pattern for the corners. ``show`` is called with an 8-bit
    grey image of the projector's resolution and must return once the image is
    on the projector; ``grab_frame`` returns a camera frame taken after that.
    If ``frames`` is a dict, the frames taken are put in it (``"pattern"``,
    ``"markers"``) for a look afterwards.
    """
    resolution = config.projector.resolution
    image, _board, layout = charuco_pattern(resolution)
    marker_frame = None
    if separate_marker_frame:
        show(white_frame(resolution))
        marker_frame = grab_frame()
        if frames is not None:
            frames["markers"] = marker_frame
    show(image)
    pattern_frame = grab_frame()
    if frames is not None:
        frames["pattern"] = pattern_frame
    return calibrate(pattern_frame, layout, config.camera.bench_markers, marker_image=marker_frame,
                     bench_size_mm=(config.bench.width_mm, config.bench.depth_mm))


# -- files ----------------------------------------------------------------------------------


def camera_calibration_path(projector_calibration: str | os.PathLike) -> Path:
    """Where the camera->bench file goes: next to the projector's, ``<name>.camera.yaml``."""
    p = Path(projector_calibration)
    return p.with_name(p.stem + ".camera.yaml")


def save_calibration(result: CalibrationResult, path: str | os.PathLike,
                     *, now: _dt.datetime | None = None) -> tuple[Path, Path]:
    """Write bench->projector to ``path`` (what ``projector.calibration`` names) and camera->bench beside it.

    Returns both paths. Refuses (:class:`ValueError`) a result without both
    mappings; checking the residual limit is the caller's (:meth:`CalibrationResult.check`).
    """
    if not result.complete:
        raise ValueError("nothing to save: the calibration has no mapping (" + "; ".join(result.problems) + ")")
    assert result.bench_to_projector is not None and result.camera_to_bench is not None
    path = Path(path)
    result.bench_to_projector.save(path)
    cam_path = camera_calibration_path(path)
    when = (now or _dt.datetime.now(_dt.timezone.utc)).isoformat(timespec="seconds")
    doc = {
        "format": "camera_to_bench",
        "version": _CAMERA_FORMAT_VERSION,
        "created": when,
        "homography": [[float(v) for v in row] for row in result.camera_to_bench],
        "lens": (result.camera_lens or RadialLens.perfect(result.camera_image_size)).as_dict(),
        "camera_image_size": list(result.camera_image_size),
        "projector_calibration": path.name,
        "projector_to_camera": ([[float(v) for v in row] for row in result.projector_to_camera]
                                if result.projector_to_camera is not None else None),
        "pattern": result.layout.as_dict(),
        "markers": {
            "dictionary": BENCH_MARKER_DICTIONARY,
            "found": list(result.markers_found),
            "error_mm": {int(k): round(v, 4) for k, v in sorted(result.marker_error_mm.items())},
        },
        "corners": {"total": result.corners_total, "seen": result.corners_seen, "used": result.corners_used},
        "residuals": {
            "bench_mm": result.bench_residual_mm.as_dict() if result.bench_residual_mm else None,
            "markers_mm": result.marker_residual_mm.as_dict() if result.marker_residual_mm else None,
            "projector_to_camera_px": result.camera_residual_px.as_dict() if result.camera_residual_px else None,
        },
        "notes": list(result.notes),
    }
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")  # keeps the order written here
    yaml.default_flow_style = None  # leaf lists (matrix rows) on one line
    buf = io.StringIO()
    buf.write("# Camera pixels -> bench millimetres, written by `cell calibrate projector`.\n"
              "# A camera pixel is first corrected for the lens (lens), then homography maps it to bench mm.\n"
              "# Load with projection.calibration.load_camera_to_bench(path).\n")
    yaml.dump(doc, buf)
    cam_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cam_path.with_suffix(cam_path.suffix + ".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, cam_path)
    return path, cam_path


@dataclass(frozen=True)
class CameraToBench:
    """Camera pixels <-> bench millimetres, as saved by :func:`save_calibration`.

    A camera pixel is corrected for the lens, then mapped by the homography.
    """

    homography: np.ndarray  # ideal (lens-corrected) camera px -> bench mm
    lens: RadialLens | None = None
    image_size: tuple[int, int] | None = None
    marker_residual_mm: Residual | None = None

    def to_mm(self, points_px) -> np.ndarray:
        """Camera px (as in the camera's frames) -> bench mm. ``(2,)`` gives ``(2,)``, ``(N, 2)`` gives ``(N, 2)``."""
        pts, single = _as_points(points_px)
        if self.lens is not None:
            pts = self.lens.undistort(pts)
        out = _apply(self.homography, pts)
        return out[0] if single else out

    def to_px(self, points_mm) -> np.ndarray:
        """Bench mm -> camera px (as in the camera's frames)."""
        pts, single = _as_points(points_mm)
        out = _apply(np.linalg.inv(self.homography), pts)
        if self.lens is not None:
            out = self.lens.distort(out)
        return out[0] if single else out


def load_camera_to_bench(path: str | os.PathLike) -> CameraToBench:
    """Read the camera->bench file (``<name>.camera.yaml``; the projector file's path works too)."""
    from ruamel.yaml import YAML

    p = Path(path)
    if not p.name.endswith(".camera.yaml"):
        p = camera_calibration_path(p)
    try:
        data = YAML(typ="safe", pure=True).load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except Exception as exc:  # ruamel raises several unrelated types
        raise ValueError(f"{p}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != "camera_to_bench":
        raise ValueError(f"{p}: not a camera-to-bench calibration file")
    if data.get("version") != _CAMERA_FORMAT_VERSION:
        raise ValueError(f"{p}: unsupported camera calibration version {data.get('version')!r}")
    h = np.asarray(data.get("homography"), dtype=np.float64)
    if h.shape != (3, 3) or not np.all(np.isfinite(h)) or abs(np.linalg.det(h)) < 1e-15:
        raise ValueError(f"{p}: 'homography' must be a finite, invertible 3x3 matrix")
    size = data.get("camera_image_size")
    lens = None
    ld = data.get("lens")
    if ld is not None:
        if not isinstance(ld, dict) or ld.get("model") != "radial":
            raise ValueError(f"{p}: 'lens' must be a radial lens model")
        try:
            lens = RadialLens(float(ld["k1"]), float(ld.get("k2", 0.0)),
                              (float(ld["centre"][0]), float(ld["centre"][1])), float(ld["norm"]))
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ValueError(f"{p}: 'lens' needs k1, k2, centre [x, y] and norm: {exc}") from None
    mk = (data.get("residuals") or {}).get("markers_mm")
    return CameraToBench(h, lens, (int(size[0]), int(size[1])) if size else None,
                         Residual(float(mk["mean"]), float(mk["max"]), int(mk["count"])) if mk else None)
