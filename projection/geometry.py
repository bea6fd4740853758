"""Bench millimetres <-> projector pixels.

Bench frame: origin at the front-left corner of the bench top as the operator
sees it, +x to the operator's right, +y away from the operator (mm).
Projector frame: pixel (0, 0) is the top-left of the projected image, +x right,
+y down.

A :class:`BenchToProjector` is a plane-to-plane homography.  Straight lines on
the bench stay straight in the projector image, so zone polygons mapped vertex
by vertex are exact, also for a keystoned (calibrated) projector.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

__all__ = ["BenchToProjector"]

_FORMAT_VERSION = 1


def _as_points(points: Iterable[Sequence[float]] | np.ndarray) -> tuple[np.ndarray, bool]:
    """Return ``(N, 2)`` float64 points and whether the input was a single point."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1:
        if arr.shape[0] != 2:
            raise ValueError(f"a point has 2 coordinates, got {arr.shape[0]}")
        return arr.reshape(1, 2), True
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {arr.shape}")
    return arr, False


def _apply(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    homog = np.hstack([pts, np.ones((pts.shape[0], 1))]) @ h.T
    w = homog[:, 2:3]
    if np.any(np.abs(w) < 1e-12):
        raise ValueError("point maps to infinity (on the homography's horizon line)")
    return homog[:, :2] / w


def _load_yaml(text: str, path: str | os.PathLike):
    """Parse hand-written YAML with ruamel.yaml (the project's YAML library) or PyYAML."""
    try:
        from ruamel.yaml import YAML  # type: ignore[import-not-found]
    except ImportError:
        try:
            import yaml  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ValueError(f"{path}: not JSON, and no YAML library is installed") from exc
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid JSON or YAML: {exc}") from exc
    try:
        return YAML(typ="safe").load(text)
    except Exception as exc:  # ruamel raises several unrelated error types
        raise ValueError(f"{path}: not valid JSON or YAML: {exc}") from exc


class BenchToProjector:
    """Homography from bench millimetres to projector pixels.

    Build one with :meth:`default` (bench rectangle fitted into the screen,
    front edge at the bottom), :meth:`from_correspondences` (calibration: at
    least 4 bench points and where they appear in the projector image) or
    :meth:`load`.
    """

    def __init__(
        self,
        homography: np.ndarray | Sequence[Sequence[float]],
        *,
        bench_points_mm: Sequence[Sequence[float]] | None = None,
        projector_points_px: Sequence[Sequence[float]] | None = None,
        resolution: tuple[int, int] | None = None,
    ) -> None:
        h = np.asarray(homography, dtype=np.float64)
        if h.shape != (3, 3) or not np.all(np.isfinite(h)):
            raise ValueError(f"homography must be a finite 3x3 matrix, got shape {h.shape}")
        if abs(np.linalg.det(h)) < 1e-12:
            raise ValueError("homography is singular (degenerate calibration points?)")
        if abs(h[2, 2]) > 1e-12:
            h = h / h[2, 2]
        self._h = h
        self._h_inv = np.linalg.inv(h)
        self.bench_points_mm: tuple[tuple[float, float], ...] = tuple(
            (float(x), float(y)) for x, y in (bench_points_mm or ())
        )
        self.projector_points_px: tuple[tuple[float, float], ...] = tuple(
            (float(x), float(y)) for x, y in (projector_points_px or ())
        )
        self.resolution: tuple[int, int] | None = (
            (int(resolution[0]), int(resolution[1])) if resolution is not None else None
        )

    # -- construction -----------------------------------------------------

    @classmethod
    def from_correspondences(
        cls,
        bench_pts_mm: Sequence[Sequence[float]],
        projector_pts_px: Sequence[Sequence[float]],
        *,
        resolution: tuple[int, int] | None = None,
    ) -> "BenchToProjector":
        """Fit the mapping from >= 4 point pairs (exact for 4, least squares for more)."""
        import cv2  # local: only calibration needs OpenCV

        src, _ = _as_points(bench_pts_mm)
        dst, _ = _as_points(projector_pts_px)
        if src.shape != dst.shape:
            raise ValueError(
                f"need as many bench points as projector points, got {len(src)} and {len(dst)}"
            )
        if len(src) < 4:
            raise ValueError(f"need at least 4 point pairs, got {len(src)}")
        if len(src) == 4:
            h = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))
        else:
            h, _mask = cv2.findHomography(src, dst, 0)
        if h is None or not np.all(np.isfinite(h)) or abs(np.linalg.det(h)) < 1e-12:
            raise ValueError("calibration points are degenerate (three or more on one line?)")
        return cls(h, bench_points_mm=src.tolist(), projector_points_px=dst.tolist(),
                   resolution=resolution)

    @classmethod
    def default(
        cls,
        bench_w_mm: float,
        bench_d_mm: float,
        res_w: int,
        res_h: int,
        margin_px: float = 0,
    ) -> "BenchToProjector":
        """Fit the bench rectangle into the screen, aspect kept, centred, front edge at the bottom."""
        if bench_w_mm <= 0 or bench_d_mm <= 0:
            raise ValueError("bench width and depth must be positive")
        avail_w = res_w - 2 * margin_px
        avail_h = res_h - 2 * margin_px
        if avail_w <= 0 or avail_h <= 0:
            raise ValueError("margin leaves no room on the screen")
        s = min(avail_w / bench_w_mm, avail_h / bench_d_mm)
        ox = (res_w - s * bench_w_mm) / 2.0
        oy = (res_h - s * bench_d_mm) / 2.0
        bench = [(0.0, 0.0), (bench_w_mm, 0.0), (bench_w_mm, bench_d_mm), (0.0, bench_d_mm)]
        h = np.array([[s, 0.0, ox], [0.0, -s, oy + s * bench_d_mm], [0.0, 0.0, 1.0]])
        px = _apply(h, np.asarray(bench, dtype=np.float64)).tolist()
        return cls(h, bench_points_mm=bench, projector_points_px=px, resolution=(res_w, res_h))

    # -- mapping ------------------------------------------------------------

    @property
    def homography(self) -> np.ndarray:
        """A copy of the 3x3 bench-mm -> projector-px matrix."""
        return self._h.copy()

    def to_px(self, points_mm) -> np.ndarray:
        """Bench mm -> projector px. ``(2,)`` in gives ``(2,)`` out, ``(N, 2)`` gives ``(N, 2)``."""
        pts, single = _as_points(points_mm)
        out = _apply(self._h, pts)
        return out[0] if single else out

    def to_mm(self, points_px) -> np.ndarray:
        """Projector px -> bench mm (inverse of :meth:`to_px`)."""
        pts, single = _as_points(points_px)
        out = _apply(self._h_inv, pts)
        return out[0] if single else out

    def jacobian(self, point_mm: Sequence[float]) -> np.ndarray:
        """2x2 derivative d(px)/d(mm) at a bench point."""
        x, y = float(point_mm[0]), float(point_mm[1])
        h = self._h
        w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
        u = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w
        v = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w
        return np.array([
            [(h[0, 0] - u * h[2, 0]) / w, (h[0, 1] - u * h[2, 1]) / w],
            [(h[1, 0] - v * h[2, 0]) / w, (h[1, 1] - v * h[2, 1]) / w],
        ])

    def mm_per_px(self, point_mm: Sequence[float]) -> float:
        """Local scale at a bench point: millimetres covered by one pixel (area-averaged)."""
        det = abs(float(np.linalg.det(self.jacobian(point_mm))))
        if det < 1e-18:
            raise ValueError("mapping is degenerate at this point")
        return 1.0 / math.sqrt(det)

    def text_orientation(self, point_mm: Sequence[float]) -> tuple[float, bool]:
        """How to turn content drawn upright on screen so it reads upright for the operator.

        Returns ``(angle_deg, mirrored)``: flip the surface left-right first if
        ``mirrored``, then rotate it counter-clockwise by ``angle_deg`` (pygame's
        ``transform.rotate`` convention).  ``(0.0, False)`` for the default mapping,
        ``(180.0, False)`` for a projector that shows the bench upside down.
        """
        # screen direction of text-right (bench +x) and text-down (bench -y)
        m = self.jacobian(point_mm) @ np.array([[1.0, 0.0], [0.0, -1.0]])
        mirrored = float(np.linalg.det(m)) < 0
        right = m @ np.array([-1.0, 0.0] if mirrored else [1.0, 0.0])
        angle = math.degrees(math.atan2(-right[1], right[0]))
        return angle, mirrored

    def is_mirrored(self, point_mm: Sequence[float] = (0.0, 0.0)) -> bool:
        """True if the projected image appears mirrored on the bench (e.g. folded by a mirror)."""
        return self.text_orientation(point_mm)[1]

    # -- persistence ------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "format": "bench_to_projector",
            "version": _FORMAT_VERSION,
            "homography": self._h.tolist(),
            "bench_points_mm": [list(p) for p in self.bench_points_mm],
            "projector_points_px": [list(p) for p in self.projector_points_px],
            "resolution": list(self.resolution) if self.resolution else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "BenchToProjector":
        if not isinstance(data, dict):
            raise ValueError("calibration file must hold a mapping")
        version = data.get("version", _FORMAT_VERSION)
        if version != _FORMAT_VERSION:
            raise ValueError(f"unsupported calibration format version {version!r}")
        bench = data.get("bench_points_mm") or None
        proj = data.get("projector_points_px") or None
        res = data.get("resolution")
        res_t = (int(res[0]), int(res[1])) if res else None
        if data.get("homography") is not None:
            return cls(data["homography"], bench_points_mm=bench, projector_points_px=proj,
                       resolution=res_t)
        if bench and proj:
            return cls.from_correspondences(bench, proj, resolution=res_t)
        raise ValueError("calibration file has neither 'homography' nor point pairs")

    def save(self, path: str | os.PathLike) -> None:
        """Write JSON (which is also valid YAML, so ``.yaml`` paths work)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BenchToProjector":
        """Read a file written by :meth:`save`, or a hand-written YAML file."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = _load_yaml(text, path)
        try:
            return cls.from_dict(data)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ValueError(f"{path}: {exc}") from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BenchToProjector):
            return NotImplemented
        return bool(np.allclose(self._h, other._h, rtol=1e-9, atol=1e-9))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BenchToProjector(homography={self._h.tolist()!r}, resolution={self.resolution!r})"
