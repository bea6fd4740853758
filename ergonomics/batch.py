"""Joint angles, RULA and REBA of many frames at once, as numpy arrays.

The per-frame path (``ergonomics.angles.joint_angles``, then
``ergonomics.rula.rula_from_angles`` / ``ergonomics.reba.reba_from_angles``)
works on plain floats and is the reference. This module computes the same
thing for N frames with one numpy operation per step of that code, for
offline work: scoring a recorded shift, a simulated week, a parameter sweep.
It is pure (data in, data out) like the rest of ``ergonomics``.

* ``joint_angles_batch(world, visibility, left_hand, right_hand)`` ->
  ``AnglesBatch``: one (N,) array per field of ``JointAngles`` and
  ``ArmAngles`` (``left_upper_arm_flexion``, ..., ``neck_flexion``, ...,
  ``legs_confidence``). An unmeasured wrist angle or shoulder-ear ratio is
  NaN where the per-frame path says None. ``AnglesBatch.frame(i)`` gives
  the ``JointAngles`` of one frame, ``AnglesBatch.from_angles(seq)`` packs
  per-frame results.
* ``rula_batch(angles, **options)`` -> ``RulaBatch`` and
  ``reba_batch(angles, **options)`` -> ``RebaBatch``: every intermediate
  score per side as (N,) integer arrays, the worse side's score, action
  level and confidence; ``.frame(i)`` gives the ``RulaAssessment`` /
  ``RebaAssessment`` of one frame. Every option is a scalar (all frames) or
  an (N,) array (one value per frame).

Same results as the per-frame path
----------------------------------
Every step repeats the per-frame arithmetic in the same order, so sums,
products, square roots and every decision made on them (shoulder raised,
across the midline, one-leg stance, confidences) are bit for bit the same.
The only difference is in ``atan2``/``asin``/``acos``: numpy's vectorised
versions may differ from the C library's ``math`` functions in the last bit
or two (on AVX-512 machines about a third of all results do), i.e. by about
1e-13 degrees. A score can only change if an angle lies that close to a
band edge, so every frame with an angle within ``EDGE_GUARD_DEG`` of a band
edge that RULA or REBA uses (or of the -90/270 wrap of upper-arm flexion)
is recomputed with ``joint_angles`` itself. Scores are therefore exactly
those of the per-frame path, and angles agree to ~1e-13 degrees (bit for
bit on recomputed frames).

Hands in a batch
----------------
``left_hand``/``right_hand`` are (N, 21, 3) arrays or None (no hand in any
frame). ``left_hand_present``/``right_hand_present`` (N,) bool say which
frames have that hand; a frame without it is scored as the per-frame path
scores ``hand=None`` and its rows are not looked at (they may hold NaN).
A non-finite coordinate in the pose or in a present hand raises ValueError,
as ``joint_angles`` does.

Band edges
----------
The band functions below are numpy versions of those in ``ergonomics.rula``
and ``ergonomics.reba`` with the same boundary conventions (a shared range
end belongs to the lower band, "> x" is strict), written as ``np.select``
over the same if/elif chain so that even a NaN input lands in the same band.
Thresholds that those modules expose are imported; the band edges they keep
as literals inside their functions (20/45/90 degrees, 2/10 kg, ...) are
named below, and tests/test_batch.py checks every band function against its
scalar twin on a grid through every edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import angles as _angles
from .angles import _cross, _dot, _mid, _sub  # tuple arithmetic: works unchanged on tuples of (N,) arrays
from . import reba as _reba
from . import rula as _rula
from .angles import (
    MIDLINE_MARGIN,
    MIN_VISIBILITY,
    NO_HAND_CONFIDENCE,
    ONE_LEG_LIFT_RATIO,
    OUT_TO_SIDE_MARGIN,
    SHOULDER_RAISED_RATIO,
    ArmAngles,
    JointAngles,
    joint_angles,
)
from .landmarks import HAND_LANDMARK_COUNT, POSE_LANDMARK_COUNT, HandLandmark, PoseLandmark, Side
from .reba import Coupling, RebaAssessment, RebaScore
from .rula import (
    ABDUCTION_THRESHOLD_DEG,
    NEUTRAL_TOLERANCE_DEG,
    SIDE_BEND_THRESHOLD_DEG,
    TWIST_THRESHOLD_DEG,
    WRIST_DEVIATION_THRESHOLD_DEG,
    RulaAssessment,
    RulaScore,
)

__all__ = [
    "EDGE_GUARD_DEG",
    "AnglesBatch",
    "RebaBatch",
    "RebaSideBatch",
    "RulaBatch",
    "RulaSideBatch",
    "joint_angles_batch",
    "reba_action_levels",
    "reba_legs_scores",
    "reba_load_scores",
    "reba_lower_arm_scores",
    "reba_neck_scores",
    "reba_trunk_scores",
    "reba_upper_arm_scores",
    "reba_wrist_scores",
    "rula_action_levels",
    "rula_batch",
    "rula_force_load_scores",
    "rula_lower_arm_scores",
    "rula_neck_scores",
    "rula_trunk_scores",
    "rula_upper_arm_scores",
    "rula_wrist_scores",
    "reba_batch",
]

# numbers the per-frame module keeps private: read, never copied
_EPS: float = _angles._EPS
_DEG: float = _angles._DEG
_UP: tuple[float, float, float] = _angles._UP
_SIDEWAYS_EPS = 1e-9  # angles._arm: |arm.F| + |arm.D| below this = arm straight out to the side

# band edges that rula.py / reba.py write as literals inside their band functions (degrees, kg)
UPPER_ARM_EDGES_DEG = (-20.0, 20.0, 45.0, 90.0)   # both methods
LOWER_ARM_RANGE_DEG = (60.0, 100.0)               # both methods: inside = 1
RULA_WRIST_EDGE_DEG = 15.0                        # |flexion| <= tolerance 1, <= 15 2, else 3
RULA_NECK_EDGES_DEG = (10.0, 20.0)
TRUNK_EDGES_DEG = (-20.0, 20.0, 60.0)             # both methods (RULA extension as REBA)
RULA_FORCE_EDGES_KG = (2.0, 10.0)
REBA_NECK_EDGE_DEG = 20.0
REBA_WRIST_EDGE_DEG = 15.0
REBA_KNEE_EDGES_DEG = (30.0, 60.0)
REBA_LOAD_EDGES_KG = (5.0, 10.0)
UPPER_ARM_WRAP_DEG = -90.0                        # angles._arm: flexion < -90 reads +360

EDGE_GUARD_DEG = 1e-9
"""Frames with an angle this close to a band edge are recomputed with ``joint_angles``."""

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


# ---------------------------------------------------------------- tables, once

def _lut(function: Any, count: int) -> IntArray:
    """``function(i)`` for i = 0..count-1; index 0 (never a valid score) holds 0."""
    return np.array([0] + [function(i) for i in range(1, count)], dtype=np.int64)


_RULA_A = np.array(_rula.TABLE_A, dtype=np.int64)      # [upper arm][lower arm][wrist, twist]
_RULA_B = np.array(_rula.TABLE_B, dtype=np.int64)      # [neck][trunk, legs]
_RULA_C = np.array(_rula.TABLE_C, dtype=np.int64)      # [score C][score D]
_RULA_A_FLAT, _RULA_B_FLAT, _RULA_C_FLAT = _RULA_A.ravel(), _RULA_B.ravel(), _RULA_C.ravel()
_RULA_C_ROWS, _RULA_C_COLS = _RULA_C.shape
_RULA_LEVEL = _lut(_rula.action_level, int(_RULA_C.max()) + 1)
_RULA_LEGS = np.array([_rula.legs_score(False), _rula.legs_score(True)], dtype=np.int64)
_RULA_TWIST = np.array([_rula.wrist_twist_score(False), _rula.wrist_twist_score(True)],
                       dtype=np.int64)
_RULA_MUSCLE = np.array([[_rula.muscle_use_score(s, r) for r in (False, True)]
                         for s in (False, True)], dtype=np.int64)

_REBA_A = np.array(_reba.TABLE_A, dtype=np.int64)      # [neck][trunk][legs]
_REBA_B = np.array(_reba.TABLE_B, dtype=np.int64)      # [lower arm][upper arm][wrist]
_REBA_C = np.array(_reba.TABLE_C, dtype=np.int64)      # [score A][score B]
_REBA_A_FLAT, _REBA_B_FLAT, _REBA_C_FLAT = _REBA_A.ravel(), _REBA_B.ravel(), _REBA_C.ravel()
_REBA_MAX_ACTIVITY = _reba.activity_score(True, True, True)
_REBA_LEVEL = _lut(_reba.action_level, int(_REBA_C.max()) + _REBA_MAX_ACTIVITY + 1)
_REBA_ACTIVITY = np.array([[[_reba.activity_score(s, r, c) for c in (False, True)]
                            for r in (False, True)] for s in (False, True)], dtype=np.int64)
_REBA_RISK = np.array(_reba.RISK_LEVELS, dtype=object)
_COUPLING_MAX = max(int(c) for c in Coupling)

for _table in (_RULA_A, _RULA_B, _RULA_C, _REBA_A, _REBA_B, _REBA_C):
    _table.setflags(write=False)


# ---------------------------------------------------------------- vector math on (x, y, z) arrays
# The same helpers as angles.py, on tuples of (N,) arrays (or floats), in the same operation order.

Vec = tuple[Any, Any, Any]


def _norm(a: Vec) -> FloatArray:
    return np.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])


def _neg(a: Vec) -> Vec:
    return (-a[0], -a[1], -a[2])


def _where(cond: BoolArray, a: Vec, b: Vec) -> Vec:
    return (np.where(cond, a[0], b[0]), np.where(cond, a[1], b[1]), np.where(cond, a[2], b[2]))


def _scaled(a: Vec, n: FloatArray, ok: BoolArray) -> Vec:
    """``a / n`` where ``ok``, undefined (but finite) elsewhere."""
    safe = np.where(ok, n, 1.0)
    return (a[0] / safe, a[1] / safe, a[2] / safe)


def _unit(a: Vec) -> tuple[Vec, BoolArray]:
    """angles._unit: (a / |a|, or the zero vector when |a| < eps) and the zero mask."""
    n = _norm(a)
    zero = n < _EPS
    return _where(zero, (0.0, 0.0, 0.0), _scaled(a, n, ~zero)), zero


def _reject(a: Vec, axis: Vec) -> Vec:
    k = a[0] * axis[0] + a[1] * axis[1] + a[2] * axis[2]
    return (a[0] - k * axis[0], a[1] - k * axis[1], a[2] - k * axis[2])


def _clamp1(x: FloatArray) -> FloatArray:
    return np.maximum(-1.0, np.minimum(1.0, x))


def _angle_between(a: Vec, b: Vec) -> FloatArray:
    na, nb = _norm(a), _norm(b)
    bad = (na < _EPS) | (nb < _EPS)
    c = _dot(a, b) / np.where(bad, 1.0, na * nb)
    return np.where(bad, 0.0, np.arccos(_clamp1(c)) * _DEG)


def _asin_deg(x: FloatArray) -> FloatArray:
    return np.arcsin(_clamp1(x)) * _DEG


def _signed_angle(a: Vec, b: Vec, axis: Vec) -> FloatArray:
    return np.arctan2(_dot(_cross(a, b), axis), _dot(a, b)) * _DEG


# ---------------------------------------------------------------- the angles of N frames

_ARM_FIELDS = tuple(f.name for f in fields(ArmAngles))
_BODY_FIELDS = tuple(f.name for f in fields(JointAngles) if f.name not in ("left", "right"))
_BOOL_FIELDS = frozenset({"shoulder_raised", "across_midline", "out_to_side", "one_leg_stance"})
_OPTIONAL_FIELDS = frozenset({"wrist_flexion", "wrist_deviation", "shoulder_ear_ratio"})


@dataclass(frozen=True, eq=False)
class AnglesBatch:
    """Joint angles of N frames: one (N,) array per field of ``JointAngles``/``ArmAngles``.

    Arm fields carry a ``left_``/``right_`` prefix. Degrees; confidences 0..1;
    ``shoulder_raised``, ``across_midline``, ``out_to_side``, ``one_leg_stance``
    are bool; NaN in ``*_wrist_flexion``, ``*_wrist_deviation`` and
    ``*_shoulder_ear_ratio`` means "not measured" (None in ``JointAngles``).
    """

    left_upper_arm_flexion: FloatArray
    left_upper_arm_abduction: FloatArray
    left_shoulder_raised: BoolArray
    left_lower_arm_flexion: FloatArray
    left_across_midline: BoolArray
    left_out_to_side: BoolArray
    left_wrist_flexion: FloatArray
    left_wrist_deviation: FloatArray
    left_confidence: FloatArray
    left_shoulder_ear_ratio: FloatArray
    right_upper_arm_flexion: FloatArray
    right_upper_arm_abduction: FloatArray
    right_shoulder_raised: BoolArray
    right_lower_arm_flexion: FloatArray
    right_across_midline: BoolArray
    right_out_to_side: BoolArray
    right_wrist_flexion: FloatArray
    right_wrist_deviation: FloatArray
    right_confidence: FloatArray
    right_shoulder_ear_ratio: FloatArray
    neck_flexion: FloatArray
    neck_twist: FloatArray
    neck_side_bend: FloatArray
    trunk_flexion: FloatArray
    trunk_twist: FloatArray
    trunk_side_bend: FloatArray
    knee_flexion_left: FloatArray
    knee_flexion_right: FloatArray
    one_leg_stance: BoolArray
    neck_confidence: FloatArray
    trunk_confidence: FloatArray
    legs_confidence: FloatArray

    def __post_init__(self) -> None:
        shape = None
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, np.ndarray) or value.ndim != 1:
                raise ValueError(f"AnglesBatch.{f.name} must be a 1-D numpy array, "
                                 f"got {type(value).__name__} {getattr(value, 'shape', '')}")
            if shape is None:
                shape = value.shape
            elif value.shape != shape:
                raise ValueError(f"AnglesBatch.{f.name} has shape {value.shape}, "
                                 f"the other fields {shape}")

    def __len__(self) -> int:
        return int(self.neck_flexion.shape[0])

    def arm(self, side: Side) -> dict[str, NDArray[Any]]:
        """The arrays of one arm, keyed by the ``ArmAngles`` field names."""
        prefix = "left_" if side is Side.LEFT else "right_"
        return {name: getattr(self, prefix + name) for name in _ARM_FIELDS}

    @property
    def confidence(self) -> FloatArray:
        """The lowest confidence of any region, per frame."""
        return np.minimum.reduce([self.left_confidence, self.right_confidence,
                                  self.neck_confidence, self.trunk_confidence,
                                  self.legs_confidence])

    def frame(self, i: int) -> JointAngles:
        """The ``JointAngles`` of frame ``i`` (NaN -> None, numpy scalars -> Python)."""
        def value(name: str, key: str) -> Any:
            x = getattr(self, name)[i]
            if key in _BOOL_FIELDS:
                return bool(x)
            x = float(x)
            return None if (key in _OPTIONAL_FIELDS and x != x) else x

        arms = [ArmAngles(**{k: value(prefix + k, k) for k in _ARM_FIELDS})
                for prefix in ("left_", "right_")]
        return JointAngles(left=arms[0], right=arms[1],
                           **{k: value(k, k) for k in _BODY_FIELDS})

    @classmethod
    def from_angles(cls, frames: Sequence[JointAngles]) -> AnglesBatch:
        """Pack per-frame ``JointAngles`` into a batch (None -> NaN)."""
        out: dict[str, NDArray[Any]] = {}

        def pack(name: str, key: str, values: list[Any]) -> None:
            if key in _BOOL_FIELDS:
                out[name] = np.array(values, dtype=bool)
            else:
                out[name] = np.array([math.nan if v is None else v for v in values],
                                     dtype=np.float64)

        for side in ("left", "right"):
            arms = [getattr(f, side) for f in frames]
            for k in _ARM_FIELDS:
                pack(f"{side}_{k}", k, [getattr(a, k) for a in arms])
        for k in _BODY_FIELDS:
            pack(k, k, [getattr(f, k) for f in frames])
        return cls(**out)


_L_EAR, _R_EAR = int(PoseLandmark.LEFT_EAR), int(PoseLandmark.RIGHT_EAR)
_L_SH, _R_SH = int(PoseLandmark.LEFT_SHOULDER), int(PoseLandmark.RIGHT_SHOULDER)
_L_EL, _R_EL = int(PoseLandmark.LEFT_ELBOW), int(PoseLandmark.RIGHT_ELBOW)
_L_WR, _R_WR = int(PoseLandmark.LEFT_WRIST), int(PoseLandmark.RIGHT_WRIST)
_L_HIP, _R_HIP = int(PoseLandmark.LEFT_HIP), int(PoseLandmark.RIGHT_HIP)
_L_KNEE, _R_KNEE = int(PoseLandmark.LEFT_KNEE), int(PoseLandmark.RIGHT_KNEE)
_L_ANK, _R_ANK = int(PoseLandmark.LEFT_ANKLE), int(PoseLandmark.RIGHT_ANKLE)
_POSE_USED = (_L_EAR, _R_EAR, _L_SH, _R_SH, _L_EL, _R_EL, _L_WR, _R_WR,
              _L_HIP, _R_HIP, _L_KNEE, _R_KNEE, _L_ANK, _R_ANK)
_HAND_USED = (int(HandLandmark.WRIST), int(HandLandmark.INDEX_FINGER_MCP),
              int(HandLandmark.MIDDLE_FINGER_MCP), int(HandLandmark.PINKY_MCP))


def _checked_points(value: ArrayLike, count: int, name: str, n: int | None,
                    present: BoolArray | None = None) -> NDArray[np.floating]:
    """An (N, count, 3) array of finite coordinates (only frames in ``present`` are checked)."""
    a = np.asarray(value)
    if a.dtype.kind not in "fiu":
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be numbers, got dtype {a.dtype}") from None
    want = f"(N, {count}, 3)" if n is None else f"({n}, {count}, 3)"
    if a.ndim != 3 or a.shape[1:] != (count, 3) or (n is not None and a.shape[0] != n):
        raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a).all(axis=(1, 2))
        if present is not None:
            bad &= present
        if bad.any():
            raise ValueError(f"{name} contains a non-finite coordinate "
                             f"(frame {int(np.flatnonzero(bad)[0])})")
    return a


def _components(a: NDArray[np.floating], rows: tuple[int, ...]) -> dict[int, Vec]:
    """Landmark index -> (x, y, z) contiguous float64 (N,) arrays."""
    block = np.ascontiguousarray(a[:, rows, :].transpose(1, 2, 0), dtype=np.float64)
    return {r: (block[k, 0], block[k, 1], block[k, 2]) for k, r in enumerate(rows)}


def _hand_components(hand: NDArray[np.floating], present: BoolArray | None) -> dict[int, Vec]:
    """The hand landmarks the wrist angles use; an absent frame's hand becomes all zeros, a
    degenerate hand, which scores as ``hand=None`` does (no wrist angles, confidence lowered)."""
    if present is None:
        return _components(hand, _HAND_USED)
    used = np.where(present[:, None, None], hand[:, _HAND_USED, :], 0.0)
    rows = _components(used, tuple(range(len(_HAND_USED))))
    return {landmark: rows[k] for k, landmark in enumerate(_HAND_USED)}


def _frame_mask(value: ArrayLike | None, n: int, name: str) -> BoolArray | None:
    if value is None:
        return None
    m = np.asarray(value)
    if m.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {m.shape}")
    return m.astype(bool)


def _wrist_angles(forearm: Vec, hand: dict[int, Vec], side_sign: float
                  ) -> tuple[FloatArray, FloatArray, BoolArray]:
    """angles._wrist_angles: flexion, deviation (NaN where degenerate) and the measured mask."""
    wrist, index, middle, pinky = (hand[i] for i in _HAND_USED)
    h, h_zero = _unit(_sub(middle, wrist))
    radial, r_zero = _unit(_reject(_sub(index, pinky), h))
    bad = h_zero | r_zero
    palmar = _cross(radial, h)
    if side_sign > 0:
        palmar = _neg(palmar)
    flexion = np.arctan2(-_dot(forearm, palmar), _dot(forearm, h)) * _DEG
    deviation = _asin_deg(-_dot(forearm, radial))
    return np.where(bad, np.nan, flexion), np.where(bad, np.nan, deviation), ~bad


def _arm(side_sign: float, shoulder: Vec, elbow: Vec, wrist: Vec, mid_shoulder: Vec,
         up: Vec, left: Vec, forward: Vec, trunk_length: FloatArray,
         shoulder_width: FloatArray, neck_length: FloatArray, hand: dict[int, Vec] | None,
         confidence: FloatArray, shoulder_raised_ratio: Any) -> dict[str, NDArray[Any]]:
    """angles._arm on N frames."""
    outward = (side_sign * left[0], side_sign * left[1], side_sign * left[2])
    upper = _sub(elbow, shoulder)
    forearm = _sub(wrist, elbow)
    u, _ = _unit(upper)

    x_fwd, x_down = _dot(u, forward), -_dot(u, up)
    flexion = np.arctan2(x_fwd, x_down) * _DEG
    flexion = np.where(flexion < UPPER_ARM_WRAP_DEG, flexion + 360.0, flexion)
    flexion = np.where(np.abs(x_fwd) + np.abs(x_down) < _SIDEWAYS_EPS, 0.0, flexion)
    abduction = _asin_deg(_dot(u, outward))

    lower = _angle_between(upper, forearm)

    lateral_wrist = side_sign * _dot(_sub(wrist, mid_shoulder), left)
    lateral_shoulder = side_sign * _dot(_sub(shoulder, mid_shoulder), left)
    across = lateral_wrist < -MIDLINE_MARGIN * shoulder_width
    out_to_side = lateral_wrist - lateral_shoulder > OUT_TO_SIDE_MARGIN * shoulder_width

    measured = trunk_length > _EPS
    above_mid = _dot(_sub(shoulder, mid_shoulder), up)
    ratio = (neck_length - above_mid) / np.where(measured, trunk_length, 1.0)
    raised = measured & (ratio < shoulder_raised_ratio)
    ratio = np.where(measured, ratio, np.nan)

    n = trunk_length.shape[0]
    if hand is None:
        wrist_flexion, wrist_deviation = np.full(n, np.nan), np.full(n, np.nan)
        confidence = confidence * NO_HAND_CONFIDENCE
    else:
        wrist_flexion, wrist_deviation, ok = _wrist_angles(_unit(forearm)[0], hand, side_sign)
        confidence = np.where(ok, confidence, confidence * NO_HAND_CONFIDENCE)

    return {
        "upper_arm_flexion": flexion,
        "upper_arm_abduction": abduction,
        "shoulder_raised": raised,
        "lower_arm_flexion": lower,
        "across_midline": across,
        "out_to_side": out_to_side,
        "wrist_flexion": wrist_flexion,
        "wrist_deviation": wrist_deviation,
        "confidence": confidence,
        "shoulder_ear_ratio": ratio,
    }


def _edges() -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    """Angle field (without side prefix) -> (signed edges, edges of |angle|) RULA or REBA use."""
    tol = NEUTRAL_TOLERANCE_DEG
    return {
        "upper_arm_flexion": ((*UPPER_ARM_EDGES_DEG, UPPER_ARM_WRAP_DEG,
                               UPPER_ARM_WRAP_DEG + 360.0), ()),
        "upper_arm_abduction": ((ABDUCTION_THRESHOLD_DEG,), ()),
        "lower_arm_flexion": (LOWER_ARM_RANGE_DEG, ()),
        "wrist_flexion": ((), (tol, RULA_WRIST_EDGE_DEG, REBA_WRIST_EDGE_DEG)),
        "wrist_deviation": ((), (WRIST_DEVIATION_THRESHOLD_DEG,)),
        "neck_flexion": ((-tol, *RULA_NECK_EDGES_DEG, REBA_NECK_EDGE_DEG), ()),
        "neck_twist": ((), (TWIST_THRESHOLD_DEG,)),
        "neck_side_bend": ((), (SIDE_BEND_THRESHOLD_DEG,)),
        "trunk_flexion": (TRUNK_EDGES_DEG, (tol,)),
        "trunk_twist": ((), (TWIST_THRESHOLD_DEG,)),
        "trunk_side_bend": ((), (SIDE_BEND_THRESHOLD_DEG,)),
        "knee_flexion_left": (REBA_KNEE_EDGES_DEG, ()),
        "knee_flexion_right": (REBA_KNEE_EDGES_DEG, ()),
    }


_EDGES = _edges()


def _near_band_edge(values: dict[str, NDArray[Any]], n: int) -> BoolArray:
    """Frames with an angle within ``EDGE_GUARD_DEG`` of a band edge (keys as in ``_EDGES``,
    arm fields with their side prefix)."""
    near = np.zeros(n, dtype=bool)
    for key, (signed, absolute) in _EDGES.items():
        names = [key] if key in values else [f"left_{key}", f"right_{key}"]
        for name in names:
            v = values[name]
            for edge in signed:
                near |= np.abs(v - edge) <= EDGE_GUARD_DEG
            if absolute:
                a = np.abs(v)
                for edge in absolute:
                    near |= np.abs(a - edge) <= EDGE_GUARD_DEG
    return near


def joint_angles_batch(world: ArrayLike, visibility: ArrayLike | None = None,
                       left_hand: ArrayLike | None = None, right_hand: ArrayLike | None = None,
                       *, left_hand_present: ArrayLike | None = None,
                       right_hand_present: ArrayLike | None = None,
                       shoulder_raised_ratio: float | ArrayLike = SHOULDER_RAISED_RATIO
                       ) -> AnglesBatch:
    """Joint angles of N frames, the same as ``joint_angles`` on each frame.

    ``world``: (N, 33, 3) pose world landmarks; ``visibility``: (N, 33) or None
    (all visible; NaN counts as not visible, values are clipped to 0..1);
    ``left_hand``/``right_hand``: (N, 21, 3) or None (no hand in any frame);
    ``*_hand_present``: (N,) bool, which frames have that hand (default: all,
    when the hand array is given). ``shoulder_raised_ratio``: scalar or (N,).
    Raises ValueError on a wrong shape or a non-finite coordinate in the pose
    or in a present hand, naming the first such frame.
    """
    pose = _checked_points(world, POSE_LANDMARK_COUNT, "world", None)
    n = pose.shape[0]
    P = _components(pose, _POSE_USED)
    ratio_threshold = np.asarray(shoulder_raised_ratio, dtype=np.float64)
    if ratio_threshold.ndim and ratio_threshold.shape != (n,):
        raise ValueError(f"shoulder_raised_ratio must be a number or have shape ({n},), "
                         f"got {ratio_threshold.shape}")

    vis: dict[int, FloatArray] | None = None
    vis_all: FloatArray | None = None
    if visibility is not None:
        vis_all = np.asarray(visibility, dtype=np.float64)
        if vis_all.shape != (n, POSE_LANDMARK_COUNT):
            raise ValueError(f"visibility must have shape ({n}, {POSE_LANDMARK_COUNT}), "
                             f"got {vis_all.shape}")
        v = np.ascontiguousarray(vis_all[:, _POSE_USED].T)
        # as angles._visibilities: NaN -> 0, below 0 -> 0, above 1 -> 1
        v = np.where(np.isnan(v), 0.0, np.where(v < 0.0, 0.0, np.where(v > 1.0, 1.0, v)))
        vis = {r: v[k] for k, r in enumerate(_POSE_USED)}
    ones = np.ones(n)

    def seen(*idx: int) -> FloatArray:
        if vis is None:
            return ones
        out = vis[idx[0]]
        for i in idx[1:]:
            out = np.minimum(out, vis[i])
        return out

    hands: list[dict[int, Vec] | None] = []
    hand_inputs: list[tuple[NDArray[np.floating] | None, BoolArray | None]] = []
    for name, value, present_value in (("left_hand", left_hand, left_hand_present),
                                       ("right_hand", right_hand, right_hand_present)):
        present = _frame_mask(present_value, n, f"{name}_present")
        if value is None:
            if present is not None and present.any():
                raise ValueError(f"{name}_present marks frames with a hand but {name} is None")
            hands.append(None)
            hand_inputs.append((None, None))
            continue
        h = _checked_points(value, HAND_LANDMARK_COUNT, name, n, present)
        hand_inputs.append((h, present))
        hands.append(_hand_components(h, present))

    with np.errstate(over="ignore", invalid="ignore"):
        values = _angles_of(P, seen, hands, ratio_threshold, n)

    # exactness guard (module doc): recompute frames with an angle on a band edge
    for i in np.flatnonzero(_near_band_edge(values, n)).tolist():
        lh, rh = ((None if h is None or (m is not None and not m[i]) else h[i])
                  for h, m in hand_inputs)
        ref = joint_angles(pose[i], None if vis_all is None else vis_all[i], lh, rh,
                           shoulder_raised_ratio=float(ratio_threshold if ratio_threshold.ndim == 0
                                                       else ratio_threshold[i]))
        for prefix, arm in (("left_", ref.left), ("right_", ref.right)):
            for k in _ARM_FIELDS:
                x = getattr(arm, k)
                values[prefix + k][i] = np.nan if x is None else x
        for k in _BODY_FIELDS:
            values[k][i] = getattr(ref, k)
    return AnglesBatch(**values)


def _angles_of(P: dict[int, Vec], seen: Any, hands: list[dict[int, Vec] | None],
               ratio_threshold: Any, n: int) -> dict[str, NDArray[Any]]:
    """The body of angles.joint_angles, step by step, on N frames."""
    l_sh, r_sh = P[_L_SH], P[_R_SH]
    l_hip, r_hip = P[_L_HIP], P[_R_HIP]
    mid_hip = _mid(l_hip, r_hip)
    mid_sh = _mid(l_sh, r_sh)
    trunk = _sub(mid_sh, mid_hip)
    trunk_length = _norm(trunk)
    shoulder_line = _sub(l_sh, r_sh)
    shoulder_width = _norm(shoulder_line)
    hip_line = _sub(l_hip, r_hip)

    # pelvis frame: world up, horizontal hip line, forward = left x up
    p_left, p_zero = _unit((hip_line[0], 0.0, hip_line[2]))
    p_left = _where(p_zero, (1.0, 0.0, 0.0), p_left)
    p_fwd = _cross(p_left, _UP)
    has_trunk = trunk_length > _EPS
    up = _where(has_trunk, _scaled(trunk, trunk_length, has_trunk), _UP)
    trunk_flexion = np.arctan2(_dot(up, p_fwd), _dot(up, _UP)) * _DEG
    trunk_side_bend = _asin_deg(_dot(up, p_left))

    # trunk frame
    left, left_zero = _unit(_reject(shoulder_line, up))
    left = _where(left_zero, p_left, left)
    forward = _cross(left, up)
    trunk_twist = _signed_angle(_reject(hip_line, up), _reject(shoulder_line, up), up)
    trunk_conf = seen(_L_SH, _R_SH, _L_HIP, _R_HIP)

    # neck
    l_ear, r_ear = P[_L_EAR], P[_R_EAR]
    head = _sub(_mid(l_ear, r_ear), mid_sh)
    neck_length = _norm(head)
    has_neck = neck_length > _EPS
    nk = _where(has_neck, _scaled(head, neck_length, has_neck), up)
    neck_flexion = np.arctan2(_dot(nk, forward), _dot(nk, up)) * _DEG
    neck_side_bend = _asin_deg(_dot(nk, left))
    neck_twist = _signed_angle(_reject(left, nk), _reject(_sub(l_ear, r_ear), nk), nk)
    ears = seen(_L_EAR, _R_EAR)
    neck_conf = np.minimum(trunk_conf, ears)

    degenerate = (trunk_length < _EPS) | (shoulder_width < _EPS)
    trunk_conf = np.where(degenerate, 0.0, trunk_conf)
    neck_conf = np.where(degenerate, 0.0, neck_conf)
    arm_base = np.minimum(trunk_conf, ears)

    out: dict[str, NDArray[Any]] = {}
    for prefix, sign, sh, el, wr, hand in (
            ("left_", 1.0, l_sh, _L_EL, _L_WR, hands[0]),
            ("right_", -1.0, r_sh, _R_EL, _R_WR, hands[1])):
        arm = _arm(sign, sh, P[el], P[wr], mid_sh, up, left, forward, trunk_length,
                   shoulder_width, neck_length, hand,
                   np.minimum(arm_base, seen(el, wr)), ratio_threshold)
        out.update({prefix + k: v for k, v in arm.items()})

    # legs
    l_knee, r_knee = P[_L_KNEE], P[_R_KNEE]
    l_ank, r_ank = P[_L_ANK], P[_R_ANK]
    l_thigh, r_thigh = _sub(l_knee, l_hip), _sub(r_knee, r_hip)
    l_shank, r_shank = _sub(l_ank, l_knee), _sub(r_ank, r_knee)
    knee_left = _angle_between(l_thigh, l_shank)
    knee_right = _angle_between(r_thigh, r_shank)
    leg_length = 0.5 * (_norm(l_thigh) + _norm(l_shank) + _norm(r_thigh) + _norm(r_shank))
    ankles_seen = seen(_L_ANK, _R_ANK)
    lift = np.abs(_dot(_sub(l_ank, r_ank), _UP))
    one_leg = (ankles_seen >= MIN_VISIBILITY) & (lift > ONE_LEG_LIFT_RATIO * leg_length)
    legs_conf = seen(_L_HIP, _R_HIP, _L_KNEE, _R_KNEE, _L_ANK, _R_ANK)
    legs_conf = np.where(leg_length < _EPS, 0.0, legs_conf)

    def full(x: Any) -> FloatArray:  # a region confidence may still be the shared `ones`
        return np.array(np.broadcast_to(x, (n,)), dtype=np.float64)

    out.update(
        neck_flexion=neck_flexion, neck_twist=neck_twist, neck_side_bend=neck_side_bend,
        trunk_flexion=trunk_flexion, trunk_twist=trunk_twist, trunk_side_bend=trunk_side_bend,
        knee_flexion_left=knee_left, knee_flexion_right=knee_right, one_leg_stance=one_leg,
        neck_confidence=full(neck_conf), trunk_confidence=full(trunk_conf),
        legs_confidence=full(legs_conf),
    )
    for k in ("left_confidence", "right_confidence"):
        out[k] = full(out[k])
    return out


# ---------------------------------------------------------------- options

def _flag(value: Any, n: int, name: str) -> BoolArray:
    """A bool option: a scalar (every frame) or one value per frame, as (N,) bool."""
    a = np.asarray(value)
    if a.ndim == 0:
        return np.full(n, bool(a))
    if a.shape != (n,):
        raise ValueError(f"{name} must be a bool or have shape ({n},), got shape {a.shape}")
    return a.astype(bool)


def _amount(value: Any, n: int, name: str) -> FloatArray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{name} must be a number or have shape ({n},), got shape {a.shape}")
    return a


def _check_load(load: FloatArray) -> None:
    negative = load < 0.0
    if negative.any():
        i = int(np.flatnonzero(negative)[0])
        raise ValueError(f"load must be >= 0 kg, got {float(load[i])} (frame {i})")


def _ints(*flags: Any) -> IntArray:
    """Sum of bool/int arrays as int64 (numpy refuses ``bool - bool``)."""
    total = np.asarray(flags[0], dtype=np.int64)
    for f in flags[1:]:
        total = total + np.asarray(f, dtype=np.int64)
    return total


# ---------------------------------------------------------------- RULA bands (as rula.py)

def rula_upper_arm_scores(flexion: ArrayLike, *, shoulder_raised: ArrayLike = False,
                          abducted: ArrayLike = False, supported: ArrayLike = False) -> IntArray:
    """``rula.upper_arm_score`` on arrays."""
    f = np.asarray(flexion, dtype=np.float64)
    e0, e1, e2, e3 = UPPER_ARM_EDGES_DEG
    band = np.select([f < e0, f <= e1, f <= e2, f <= e3], [2, 1, 2, 3], 4)
    band = band + _ints(shoulder_raised) + _ints(abducted) - _ints(supported)
    return np.maximum(1, np.minimum(6, band))


def rula_lower_arm_scores(flexion: ArrayLike, *,
                          across_midline_or_out_to_side: ArrayLike = False) -> IntArray:
    """``rula.lower_arm_score`` on arrays."""
    f = np.asarray(flexion, dtype=np.float64)
    lo, hi = LOWER_ARM_RANGE_DEG
    band = np.where((lo <= f) & (f <= hi), 1, 2)
    return band + _ints(across_midline_or_out_to_side)


def rula_wrist_scores(flexion: ArrayLike, deviation: ArrayLike | None = None) -> IntArray:
    """``rula.wrist_score`` on arrays; NaN flexion/deviation = None (not measured)."""
    f = np.asarray(flexion, dtype=np.float64)
    bend = np.abs(f)
    band = np.select([np.isnan(f), bend <= NEUTRAL_TOLERANCE_DEG, bend <= RULA_WRIST_EDGE_DEG],
                     [_rula.UNKNOWN_WRIST_BAND, 1, 2], 3)
    if deviation is not None:
        d = np.asarray(deviation, dtype=np.float64)
        band = band + _ints(~np.isnan(d) & (np.abs(d) > WRIST_DEVIATION_THRESHOLD_DEG))
    return band


def rula_neck_scores(flexion: ArrayLike, *, twisted: ArrayLike = False,
                     side_bent: ArrayLike = False) -> IntArray:
    """``rula.neck_score`` on arrays."""
    f = np.asarray(flexion, dtype=np.float64)
    e1, e2 = RULA_NECK_EDGES_DEG
    band = np.select([f < -NEUTRAL_TOLERANCE_DEG, f <= e1, f <= e2], [4, 1, 2], 3)
    return band + _ints(twisted) + _ints(side_bent)


def rula_trunk_scores(flexion: ArrayLike, *, twisted: ArrayLike = False,
                      side_bent: ArrayLike = False) -> IntArray:
    """``rula.trunk_score`` on arrays (extension scored as REBA does)."""
    f = np.asarray(flexion, dtype=np.float64)
    return _trunk_band(f) + _ints(twisted) + _ints(side_bent)


def _trunk_band(f: FloatArray) -> IntArray:
    ext, e1, e2 = TRUNK_EDGES_DEG
    return np.select([np.abs(f) <= NEUTRAL_TOLERANCE_DEG, (f < 0.0) & (f >= ext), f < 0.0,
                      f <= e1, f <= e2], [1, 2, 3, 2, 3], 4)


def rula_force_load_scores(load_kg: ArrayLike, *, static_or_repeated: ArrayLike = False,
                           shock: ArrayLike = False) -> IntArray:
    """``rula.force_load_score`` on arrays; raises ValueError on a negative load."""
    load = np.asarray(load_kg, dtype=np.float64)
    _check_load(np.atleast_1d(load))
    sr = np.asarray(static_or_repeated, dtype=bool)
    e1, e2 = RULA_FORCE_EDGES_KG
    return np.select([np.asarray(shock, dtype=bool), load < e1, load <= e2],
                     [3, 0, np.where(sr, 2, 1)], np.where(sr, 3, 2))


def rula_action_levels(grand: ArrayLike) -> IntArray:
    """``rula.action_level`` on arrays (grand scores 1..7)."""
    return _RULA_LEVEL[np.asarray(grand, dtype=np.int64)]


# ---------------------------------------------------------------- REBA bands (as reba.py)

def reba_trunk_scores(flexion: ArrayLike, *, twisted_or_side_flexed: ArrayLike = False
                      ) -> IntArray:
    """``reba.trunk_score`` on arrays."""
    return _trunk_band(np.asarray(flexion, dtype=np.float64)) + _ints(twisted_or_side_flexed)


def reba_neck_scores(flexion: ArrayLike, *, twisted_or_side_flexed: ArrayLike = False
                     ) -> IntArray:
    """``reba.neck_score`` on arrays."""
    f = np.asarray(flexion, dtype=np.float64)
    band = np.where((f < -NEUTRAL_TOLERANCE_DEG) | (f > REBA_NECK_EDGE_DEG), 2, 1)
    return band + _ints(twisted_or_side_flexed)


def reba_legs_scores(bilateral: ArrayLike, knee_flexion: ArrayLike = 0.0, *,
                     sitting: ArrayLike = False) -> IntArray:
    """``reba.legs_score`` on arrays."""
    k = np.asarray(knee_flexion, dtype=np.float64)
    e1, e2 = REBA_KNEE_EDGES_DEG
    band = np.where(np.asarray(bilateral, dtype=bool), 1, 2) + np.select([k > e2, k >= e1],
                                                                         [2, 1], 0)
    return np.where(np.asarray(sitting, dtype=bool), 1, band)


def reba_upper_arm_scores(flexion: ArrayLike, *, abducted_or_rotated: ArrayLike = False,
                          shoulder_raised: ArrayLike = False, supported: ArrayLike = False
                          ) -> IntArray:
    """``reba.upper_arm_score`` on arrays (RULA's bands and adjustments)."""
    return rula_upper_arm_scores(flexion, shoulder_raised=shoulder_raised,
                                 abducted=abducted_or_rotated, supported=supported)


def reba_lower_arm_scores(flexion: ArrayLike) -> IntArray:
    """``reba.lower_arm_score`` on arrays."""
    return rula_lower_arm_scores(flexion)


def reba_wrist_scores(flexion: ArrayLike, deviation: ArrayLike | None = None, *,
                      twisted: ArrayLike = False) -> IntArray:
    """``reba.wrist_score`` on arrays; NaN flexion/deviation = None (not measured)."""
    f = np.asarray(flexion, dtype=np.float64)
    band = np.select([np.isnan(f), np.abs(f) <= REBA_WRIST_EDGE_DEG],
                     [_reba.UNKNOWN_WRIST_BAND, 1], 2)
    deviated = np.zeros(np.shape(band), dtype=bool)
    if deviation is not None:
        d = np.asarray(deviation, dtype=np.float64)
        deviated = ~np.isnan(d) & (np.abs(d) > WRIST_DEVIATION_THRESHOLD_DEG)
    return band + _ints(deviated | np.asarray(twisted, dtype=bool))


def reba_load_scores(load_kg: ArrayLike, *, shock: ArrayLike = False) -> IntArray:
    """``reba.load_score`` on arrays; raises ValueError on a negative load."""
    load = np.asarray(load_kg, dtype=np.float64)
    _check_load(np.atleast_1d(load))
    e1, e2 = REBA_LOAD_EDGES_KG
    return np.select([load < e1, load <= e2], [0, 1], 2) + _ints(shock)


def reba_action_levels(score: ArrayLike) -> IntArray:
    """``reba.action_level`` on arrays (REBA scores 1..15)."""
    return _REBA_LEVEL[np.asarray(score, dtype=np.int64)]


def _coupling_scores(coupling: Any, n: int) -> IntArray:
    if isinstance(coupling, (str, Coupling)) or np.ndim(coupling) == 0:
        return np.full(n, _reba.coupling_score(coupling), dtype=np.int64)
    a = np.asarray(coupling)
    if a.shape != (n,):
        raise ValueError(f"coupling must be one value or have shape ({n},), got shape {a.shape}")
    if a.dtype.kind in "USO":
        return np.array([_reba.coupling_score(c) for c in a.tolist()], dtype=np.int64)
    if a.dtype.kind not in "fiub":
        raise ValueError(f"coupling must be scores 0..3 or names, got dtype {a.dtype}")
    bad = (a < 0) | (a > _COUPLING_MAX) | (a != np.round(a))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"coupling must be good, fair, poor or unacceptable (0..{_COUPLING_MAX}), "
                         f"got {a[i]!r} (frame {i})")
    return a.astype(np.int64)


# ---------------------------------------------------------------- RULA of N frames

@dataclass(frozen=True, eq=False)
class RulaSideBatch:
    """``RulaScore`` of one side for N frames: one (N,) array per field."""

    side: Side
    upper_arm: IntArray
    lower_arm: IntArray
    wrist: IntArray
    wrist_twist: IntArray
    posture_a: IntArray
    muscle_use: IntArray
    force_load: IntArray
    score_c: IntArray
    neck: IntArray
    trunk: IntArray
    legs: IntArray
    posture_b: IntArray
    score_d: IntArray
    grand: IntArray
    action_level: IntArray
    confidence: FloatArray
    wrist_measured: BoolArray

    def frame(self, i: int) -> RulaScore:
        return RulaScore(side=self.side, confidence=float(self.confidence[i]),
                         wrist_measured=bool(self.wrist_measured[i]),
                         **{k: int(getattr(self, k)[i]) for k in _RULA_INT_FIELDS})


_RULA_INT_FIELDS = tuple(f.name for f in fields(RulaSideBatch)
                         if f.name not in ("side", "confidence", "wrist_measured"))


@dataclass(frozen=True, eq=False)
class RulaBatch:
    """RULA of N frames; ``grand``, ``action_level`` are the worse side's, as in ``RulaAssessment``.

    ``right_is_worse[i]`` says the worse side of frame i is the right one.
    """

    left: RulaSideBatch
    right: RulaSideBatch
    grand: IntArray
    action_level: IntArray
    right_is_worse: BoolArray
    confidence: FloatArray

    def __len__(self) -> int:
        return int(self.grand.shape[0])

    def side(self, side: Side) -> RulaSideBatch:
        return self.left if side is Side.LEFT else self.right

    def frame(self, i: int) -> RulaAssessment:
        """The ``RulaAssessment`` of frame ``i``."""
        return RulaAssessment(left=self.left.frame(i), right=self.right.frame(i),
                              grand=int(self.grand[i]), action_level=int(self.action_level[i]),
                              worse_side=Side.RIGHT if self.right_is_worse[i] else Side.LEFT,
                              confidence=float(self.confidence[i]))


def rula_batch(angles: AnglesBatch, *, load_kg: float | ArrayLike = 0.0,
               load_static_or_repeated: bool | ArrayLike = False, shock: bool | ArrayLike = False,
               muscle_use_static: bool | ArrayLike = False,
               muscle_use_repetitive: bool | ArrayLike = False,
               arm_supported: bool | ArrayLike = False, legs_supported: bool | ArrayLike = True,
               wrist_twist_end_of_range: bool | ArrayLike = False) -> RulaBatch:
    """RULA of N frames, the same as ``rula_from_angles`` on each frame.

    Every option is a scalar (all frames) or an (N,) array (one per frame).
    Raises ValueError on a negative load or an option of the wrong shape.
    """
    a = angles
    n = len(a)
    load = _amount(load_kg, n, "load_kg")
    static_or_repeated = _flag(load_static_or_repeated, n, "load_static_or_repeated")
    shocks = _flag(shock, n, "shock")
    static = _flag(muscle_use_static, n, "muscle_use_static")
    repetitive = _flag(muscle_use_repetitive, n, "muscle_use_repetitive")
    supported = _flag(arm_supported, n, "arm_supported")
    legs_ok = _flag(legs_supported, n, "legs_supported")
    twist_end = _flag(wrist_twist_end_of_range, n, "wrist_twist_end_of_range")

    neck = rula_neck_scores(a.neck_flexion,
                            twisted=np.abs(a.neck_twist) > TWIST_THRESHOLD_DEG,
                            side_bent=np.abs(a.neck_side_bend) > SIDE_BEND_THRESHOLD_DEG)
    trunk = rula_trunk_scores(a.trunk_flexion,
                              twisted=np.abs(a.trunk_twist) > TWIST_THRESHOLD_DEG,
                              side_bent=np.abs(a.trunk_side_bend) > SIDE_BEND_THRESHOLD_DEG)
    legs = _RULA_LEGS[(legs_ok & ~a.one_leg_stance).astype(np.intp)]
    muscle = _RULA_MUSCLE[static.astype(np.intp), repetitive.astype(np.intp)]
    force = rula_force_load_scores(load, static_or_repeated=static_or_repeated, shock=shocks)
    twist = _RULA_TWIST[twist_end.astype(np.intp)]
    body_conf = np.minimum(a.neck_confidence, a.trunk_confidence)

    # TABLE_B columns are (trunk - 1) * 2 + legs - 1, as rula.table_b indexes them
    posture_b = _RULA_B_FLAT[(neck - 1) * _RULA_B.shape[1] + (trunk - 1) * 2 + (legs - 1)]
    extra = muscle + force
    score_d = posture_b + extra

    def one_side(side: Side, prefix: str) -> RulaSideBatch:
        flexion = getattr(a, prefix + "wrist_flexion")
        upper = rula_upper_arm_scores(
            getattr(a, prefix + "upper_arm_flexion"),
            shoulder_raised=getattr(a, prefix + "shoulder_raised"),
            abducted=getattr(a, prefix + "upper_arm_abduction") > ABDUCTION_THRESHOLD_DEG,
            supported=supported)
        lower = rula_lower_arm_scores(
            getattr(a, prefix + "lower_arm_flexion"),
            across_midline_or_out_to_side=(getattr(a, prefix + "across_midline")
                                           | getattr(a, prefix + "out_to_side")))
        wrist = rula_wrist_scores(flexion, getattr(a, prefix + "wrist_deviation"))
        _, la, wt = _RULA_A.shape
        posture_a = _RULA_A_FLAT[((upper - 1) * la + (lower - 1)) * wt
                                 + (wrist - 1) * 2 + (twist - 1)]
        score_c = posture_a + extra
        grand = _RULA_C_FLAT[(np.minimum(score_c, _RULA_C_ROWS) - 1) * _RULA_C_COLS
                             + np.minimum(score_d, _RULA_C_COLS) - 1]
        return RulaSideBatch(
            side=side, upper_arm=upper, lower_arm=lower, wrist=wrist, wrist_twist=twist,
            posture_a=posture_a, muscle_use=muscle, force_load=force, score_c=score_c,
            neck=neck, trunk=trunk, legs=legs, posture_b=posture_b, score_d=score_d,
            grand=grand, action_level=_RULA_LEVEL[grand],
            confidence=np.minimum(getattr(a, prefix + "confidence"), body_conf),
            wrist_measured=~np.isnan(flexion))

    left = one_side(Side.LEFT, "left_")
    right = one_side(Side.RIGHT, "right_")
    right_worse = (right.grand > left.grand) | ((right.grand == left.grand)
                                                & (right.score_c > left.score_c))
    return RulaBatch(left=left, right=right,
                     grand=np.where(right_worse, right.grand, left.grand),
                     action_level=np.where(right_worse, right.action_level, left.action_level),
                     right_is_worse=right_worse,
                     confidence=np.minimum(left.confidence, right.confidence))


# ---------------------------------------------------------------- REBA of N frames

@dataclass(frozen=True, eq=False)
class RebaSideBatch:
    """``RebaScore`` of one side for N frames: one (N,) array per field (``risk`` derived)."""

    side: Side
    neck: IntArray
    trunk: IntArray
    legs: IntArray
    posture_a: IntArray
    load: IntArray
    score_a: IntArray
    upper_arm: IntArray
    lower_arm: IntArray
    wrist: IntArray
    posture_b: IntArray
    coupling: IntArray
    score_b: IntArray
    score_c: IntArray
    activity: IntArray
    score: IntArray
    action_level: IntArray
    confidence: FloatArray
    wrist_measured: BoolArray

    @property
    def risk(self) -> NDArray[np.object_]:
        """Risk name per frame (``reba.RISK_LEVELS`` of the action level)."""
        return _REBA_RISK[self.action_level]

    def frame(self, i: int) -> RebaScore:
        level = int(self.action_level[i])
        return RebaScore(side=self.side, risk=_reba.RISK_LEVELS[level],
                         confidence=float(self.confidence[i]),
                         wrist_measured=bool(self.wrist_measured[i]),
                         **{k: int(getattr(self, k)[i]) for k in _REBA_INT_FIELDS})


_REBA_INT_FIELDS = tuple(f.name for f in fields(RebaSideBatch)
                         if f.name not in ("side", "confidence", "wrist_measured"))


@dataclass(frozen=True, eq=False)
class RebaBatch:
    """REBA of N frames; ``score``, ``action_level`` are the worse side's, as in ``RebaAssessment``."""

    left: RebaSideBatch
    right: RebaSideBatch
    score: IntArray
    action_level: IntArray
    right_is_worse: BoolArray
    confidence: FloatArray

    def __len__(self) -> int:
        return int(self.score.shape[0])

    @property
    def risk(self) -> NDArray[np.object_]:
        return _REBA_RISK[self.action_level]

    def side(self, side: Side) -> RebaSideBatch:
        return self.left if side is Side.LEFT else self.right

    def frame(self, i: int) -> RebaAssessment:
        """The ``RebaAssessment`` of frame ``i``."""
        level = int(self.action_level[i])
        return RebaAssessment(left=self.left.frame(i), right=self.right.frame(i),
                              score=int(self.score[i]), action_level=level,
                              risk=_reba.RISK_LEVELS[level],
                              worse_side=Side.RIGHT if self.right_is_worse[i] else Side.LEFT,
                              confidence=float(self.confidence[i]))


def reba_batch(angles: AnglesBatch, *, load_kg: float | ArrayLike = 0.0,
               shock: bool | ArrayLike = False,
               coupling: Coupling | str | int | ArrayLike = Coupling.GOOD,
               static: bool | ArrayLike = False, repeated: bool | ArrayLike = False,
               rapid_change: bool | ArrayLike = False, arm_supported: bool | ArrayLike = False,
               sitting: bool | ArrayLike = False, wrist_twisted: bool | ArrayLike = False,
               upper_arm_rotated: bool | ArrayLike = False) -> RebaBatch:
    """REBA of N frames, the same as ``reba_from_angles`` on each frame.

    Every option is a scalar (all frames) or an (N,) array; ``coupling`` per
    frame may be scores 0..3, ``Coupling`` members or names. Raises ValueError
    on a negative load, an unknown coupling or an option of the wrong shape.
    """
    a = angles
    n = len(a)
    load_kg_ = _amount(load_kg, n, "load_kg")
    shocks = _flag(shock, n, "shock")
    grip = _coupling_scores(coupling, n)
    static_ = _flag(static, n, "static")
    repeated_ = _flag(repeated, n, "repeated")
    rapid = _flag(rapid_change, n, "rapid_change")
    supported = _flag(arm_supported, n, "arm_supported")
    sitting_ = _flag(sitting, n, "sitting")
    wrist_twisted_ = _flag(wrist_twisted, n, "wrist_twisted")
    rotated = _flag(upper_arm_rotated, n, "upper_arm_rotated")

    neck = reba_neck_scores(a.neck_flexion, twisted_or_side_flexed=(
        (np.abs(a.neck_twist) > TWIST_THRESHOLD_DEG)
        | (np.abs(a.neck_side_bend) > SIDE_BEND_THRESHOLD_DEG)))
    trunk = reba_trunk_scores(a.trunk_flexion, twisted_or_side_flexed=(
        (np.abs(a.trunk_twist) > TWIST_THRESHOLD_DEG)
        | (np.abs(a.trunk_side_bend) > SIDE_BEND_THRESHOLD_DEG)))
    # max(left, right) exactly as Python's max picks it (the first unless the second is larger)
    knee = np.where(a.knee_flexion_right > a.knee_flexion_left, a.knee_flexion_right,
                    a.knee_flexion_left)
    legs = reba_legs_scores(~a.one_leg_stance, knee, sitting=sitting_)
    load = reba_load_scores(load_kg_, shock=shocks)
    activity = _REBA_ACTIVITY[static_.astype(np.intp), repeated_.astype(np.intp),
                              rapid.astype(np.intp)]
    body_conf = np.minimum(np.minimum(a.neck_confidence, a.trunk_confidence), a.legs_confidence)

    _, nt, nl = _REBA_A.shape
    posture_a = _REBA_A_FLAT[((neck - 1) * nt + (trunk - 1)) * nl + (legs - 1)]
    score_a = posture_a + load
    c_cols = _REBA_C.shape[1]

    def one_side(side: Side, prefix: str) -> RebaSideBatch:
        flexion = getattr(a, prefix + "wrist_flexion")
        upper = reba_upper_arm_scores(
            getattr(a, prefix + "upper_arm_flexion"),
            abducted_or_rotated=rotated | (getattr(a, prefix + "upper_arm_abduction")
                                           > ABDUCTION_THRESHOLD_DEG),
            shoulder_raised=getattr(a, prefix + "shoulder_raised"), supported=supported)
        lower = reba_lower_arm_scores(getattr(a, prefix + "lower_arm_flexion"))
        wrist = reba_wrist_scores(flexion, getattr(a, prefix + "wrist_deviation"),
                                  twisted=wrist_twisted_)
        _, nu, nw = _REBA_B.shape
        posture_b = _REBA_B_FLAT[((lower - 1) * nu + (upper - 1)) * nw + (wrist - 1)]
        score_b = posture_b + grip
        score_c = _REBA_C_FLAT[(score_a - 1) * c_cols + (score_b - 1)]
        score = score_c + activity
        return RebaSideBatch(
            side=side, neck=neck, trunk=trunk, legs=legs, posture_a=posture_a, load=load,
            score_a=score_a, upper_arm=upper, lower_arm=lower, wrist=wrist,
            posture_b=posture_b, coupling=grip, score_b=score_b, score_c=score_c,
            activity=activity, score=score, action_level=_REBA_LEVEL[score],
            confidence=np.minimum(getattr(a, prefix + "confidence"), body_conf),
            wrist_measured=~np.isnan(flexion))

    left = one_side(Side.LEFT, "left_")
    right = one_side(Side.RIGHT, "right_")
    right_worse = (right.score > left.score) | ((right.score == left.score)
                                                & (right.score_b > left.score_b))
    return RebaBatch(left=left, right=right,
                     score=np.where(right_worse, right.score, left.score),
                     action_level=np.where(right_worse, right.action_level, left.action_level),
                     right_is_worse=right_worse,
                     confidence=np.minimum(left.confidence, right.confidence))
