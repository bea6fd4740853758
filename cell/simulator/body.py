"""The simulated operator's body: dimensions, posture, landmarks, reach.

This module turns a *posture* (joint angles in degrees) into the landmark
frames the real camera path produces (MediaPipe pose world landmarks plus
two 21-point hands), finds a posture that brings a hand to a point on the
bench (inverse kinematics), and projects landmarks into a pinhole camera
image the way MediaPipe reports normalised landmarks. It is pure: data in,
data out, no clocks, no globals (module constants only), no threads.

Frames
------
*Operator frame* (internal): origin at mid-hip, axes forward ``F``, left
``L``, up ``U`` (right-handed: F x L = U).

*World frame* = MediaPipe ``pose_world_landmarks``: metres, origin at
mid-hip, +x = image right = the operator's LEFT (camera in front, facing the
operator), +y = DOWN, +z = away from the camera = the operator's BACKWARD.
So ``world = (L, -U, -F)``. Hand landmarks use the same frame.

*Bench frame* (millimetres): origin at the front-left corner of the bench
top as the operator sees it, +x to the operator's right along the front
edge, +y away from the operator into the bench, +z up. The operator faces
+y; :class:`OperatorStance` says where the mid-hip is.

Angle conventions (degrees)
---------------------------
These are the definitions ``ergonomics.angles.joint_angles`` measures;
forward kinematics produces them exactly (tests/test_body.py checks the
round trip against that module and against its own copy of the formulas).

One rule for every "lean" (trunk, neck, upper arm): the *flexion* is the
angle of the segment axis inside the parent's sagittal plane
(``atan2(axis.F, axis.U)`` for trunk/neck, ``atan2(arm.F, -arm.U)`` for the
upper arm, in the parent frame) and the *lateral* angle is the angle of the
axis out of that sagittal plane (``asin(axis.L)``). Flexion is therefore
exact over the whole range (an overhead arm is 180) and the lateral angle
equals the frontal-plane angle when flexion is zero.

* Pelvis frame: up = world up, left = hip line (R hip -> L hip), forward =
  left x up. The pelvis never rotates: the trunk leans about mid-hip
  (MediaPipe's world origin).
* ``trunk_flexion``: trunk axis ``u`` = mid-hip -> mid-shoulder, + forward.
  ``trunk_side_bend = asin(u.L)``, + toward the operator's LEFT.
* ``trunk_twist``: signed angle about ``u`` from the hip line to the
  shoulder line (R -> L), both made perpendicular to ``u``. + = shoulders
  turned to the operator's LEFT (right shoulder forward; counter-clockwise
  seen from above).
* Trunk frame: ``U_t = u``, ``L_t`` = shoulder line made perpendicular to
  ``u``, ``F_t = L_t x U_t``.
* ``neck_flexion`` / ``neck_side_bend``: the same rule for the neck axis
  ``n`` = mid-shoulder -> mid-ear in the trunk frame (+ forward, + toward
  the operator's left). ``neck_twist``: signed angle about ``n`` from
  ``L_t`` to the ear line (R -> L ear), both made perpendicular to ``n``;
  + = head turned to the operator's left.
* ``*_upper_arm_flexion``: shoulder -> elbow ``v`` in the trunk frame,
  ``atan2(v.F_t, -v.U_t)``: 0 hanging, 90 forward horizontal, 180 overhead,
  < 0 extension; reported in [-90, 270) (past overhead reads above 180).
  ``*_upper_arm_abduction = asin(v . outward)`` with outward ``+L_t`` for
  the left arm and ``-L_t`` for the right: + = away from the body (90 = out
  to the side at shoulder height), < 0 = across the body.
* ``*_upper_arm_rotation`` (humeral rotation; not scored by RULA/REBA, it
  only decides where the forearm points): 0 = the elbow flexes toward the
  arm's anterior direction (the trunk's forward axis carried along by the
  abduction-then-flexion rotation), + = internal rotation (forearm swings
  toward the body's midline).
* ``*_elbow_flexion``: angle between shoulder -> elbow and elbow -> wrist,
  0 straight, 90 right angle (valid 0..180).
* Wrist, in the *hand's* frame (which a camera sees): ``h`` = wrist ->
  middle-finger MCP (hand landmark 9), radial axis ``r_h`` = pinky MCP (17)
  -> index MCP (5) made perpendicular to ``h``, palmar normal ``p_h`` =
  ``r_h x h`` (right hand) or ``h x r_h`` (left hand). With ``f`` = unit
  elbow -> wrist: ``wrist_deviation = asin(-f.r_h)`` (+ radial, toward the
  thumb) and ``wrist_flexion = atan2(-f.p_h, f.h)`` (+ toward the palm,
  < 0 extension). With the arm hanging and the elbow at 90 the palm faces
  down and the thumb points medially.
* ``*_knee_flexion``: angle between hip -> knee and knee -> ankle, 0 straight.
* ``*_shoulder_elevation_m`` (shrug): metres the shoulder landmark moves
  along the trunk axis: ``(shoulder - mid_hip) . u`` minus
  ``BodyDimensions.trunk_length``. The ears do not rise with a shrug (with
  the neck along the trunk axis they stay put): mid-shoulder -> mid-ear
  shortens by the mean elevation and keeps its direction, so the neck
  angles stay exact and the extractor's shoulder-to-ear ratio sees it.
* ``seated``: thighs forward horizontal (hip flexion 90) instead of hanging.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "BodyDimensions",
    "BodyFrame",
    "Effector",
    "ImageLandmarks",
    "ImageProjection",
    "OperatorStance",
    "Posture",
    "ReachResult",
    "Side",
    "bench_to_world",
    "forward_kinematics",
    "reach",
    "world_to_bench",
]

Side = Literal["left", "right"]
Effector = Literal["index_tip", "wrist"]

FloatArray = npt.NDArray[np.floating]

_DEG = math.pi / 180.0

# Largest elbow flexion the IK will use (anatomical limit is ~145-150).
ELBOW_FLEXION_LIMIT_DEG = 150.0

# Pose landmark indices (MediaPipe).
NOSE, LEFT_EAR, RIGHT_EAR = 0, 7, 8
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
LEFT_ELBOW, RIGHT_ELBOW = 13, 14
LEFT_WRIST, RIGHT_WRIST = 15, 16
LEFT_HIP, RIGHT_HIP = 23, 24
LEFT_KNEE, RIGHT_KNEE = 25, 26
LEFT_ANKLE, RIGHT_ANKLE = 27, 28
# Hand landmark indices (MediaPipe hands).
HAND_WRIST, HAND_INDEX_MCP, HAND_INDEX_TIP, HAND_MIDDLE_MCP, HAND_PINKY_MCP = 0, 5, 8, 9, 17

# Operator frame (F, L, U) -> world frame (x, y, z) = (L, -U, -F).
_OPERATOR_TO_WORLD = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])

# Face points in the head frame (forward, left, up) from mid-ear, as
# fractions of head height (chin to vertex). Pose indices 0..10.
_FACE = (
    (0.44, 0.00, -0.10),  # 0 nose tip
    (0.38, 0.07, 0.10),  # 1 left eye inner
    (0.36, 0.14, 0.10),  # 2 left eye
    (0.33, 0.20, 0.10),  # 3 left eye outer
    (0.38, -0.07, 0.10),  # 4 right eye inner
    (0.36, -0.14, 0.10),  # 5 right eye
    (0.33, -0.20, 0.10),  # 6 right eye outer
    (0.00, 0.33, 0.00),  # 7 left ear
    (0.00, -0.33, 0.00),  # 8 right ear
    (0.38, 0.11, -0.26),  # 9 mouth left
    (0.38, -0.11, -0.26),  # 10 mouth right
)

# Hand points in the hand frame (along h, palmar p_h, radial r_h) from the
# wrist, as fractions of hand length (wrist to middle fingertip); the same
# table serves both hands because r_h is the radial (thumb) side of each.
# Middle MCP lies on the hand axis, the MCP row has no palmar offset (so the
# palm plane is wrist/index MCP/pinky MCP), fingers curl slightly.
_HAND = (
    (0.00, 0.00, 0.00),  # 0 wrist
    (0.10, 0.03, 0.10),  # 1 thumb CMC
    (0.22, 0.06, 0.19),  # 2 thumb MCP
    (0.32, 0.08, 0.25),  # 3 thumb IP
    (0.41, 0.09, 0.30),  # 4 thumb tip
    (0.47, 0.00, 0.11),  # 5 index MCP
    (0.68, 0.02, 0.12),  # 6 index PIP
    (0.80, 0.04, 0.12),  # 7 index DIP
    (0.90, 0.06, 0.12),  # 8 index tip
    (0.50, 0.00, 0.00),  # 9 middle MCP
    (0.74, 0.02, 0.00),  # 10 middle PIP
    (0.88, 0.04, 0.00),  # 11 middle DIP
    (0.99, 0.06, 0.00),  # 12 middle tip
    (0.47, 0.00, -0.10),  # 13 ring MCP
    (0.69, 0.02, -0.11),  # 14 ring PIP
    (0.82, 0.04, -0.11),  # 15 ring DIP
    (0.92, 0.06, -0.11),  # 16 ring tip
    (0.43, 0.00, -0.19),  # 17 pinky MCP
    (0.58, 0.02, -0.21),  # 18 pinky PIP
    (0.68, 0.04, -0.22),  # 19 pinky DIP
    (0.77, 0.06, -0.22),  # 20 pinky tip
)
# Pose hand points (BlazePose "pinky/index knuckle #1", "thumb knuckle #2")
# taken from the hand: pose 17/18 <- hand 17, 19/20 <- hand 5, 21/22 <- hand 2.
_POSE_FROM_HAND = ((17, 17), (19, 5), (21, 2))

# Foot points in the foot frame (anterior, left, up) from the ankle:
# (fraction of foot length, 0, fraction of ankle height).
_HEEL = (-0.20, 0.0, -0.80)
_FOOT_INDEX = (0.75, 0.0, -1.00)

# Rows of the (conceptual) point table behind _GATHER: 12 joints, then five
# rigid segments of _PAD points each (head, left hand, right hand, left foot,
# right foot).
_PAD = 21
_J_HIP, _J_SHOULDER, _J_ELBOW, _J_WRIST, _J_KNEE, _J_ANKLE = 0, 2, 4, 6, 8, 10
_SEG_BASE = 12
_AXES_BASE = 36  # work vector: 12 joints x 3, then 5 segments x 3 axes x 3, then 5 origins x 3
_ORIGIN_BASE = 81
_WORK_SIZE = 96


def _gather_index() -> npt.NDArray[np.intp]:
    """Point-table rows (12 joints, then 5 x _PAD rigid points) of the 75
    output rows (33 pose, 21 left hand, 21 right hand)."""
    head, lhand, rhand, lfoot, rfoot = (_SEG_BASE + k * _PAD for k in range(5))
    pose = [0] * 33
    for i in range(11):
        pose[i] = head + i
    for side in (0, 1):  # 0 left (odd pose indices), 1 right
        hand = (lhand, rhand)[side]
        foot = (lfoot, rfoot)[side]
        pose[LEFT_SHOULDER + side] = _J_SHOULDER + side
        pose[LEFT_ELBOW + side] = _J_ELBOW + side
        pose[LEFT_WRIST + side] = _J_WRIST + side
        for pose_left, hand_idx in _POSE_FROM_HAND:
            pose[pose_left + side] = hand + hand_idx
        pose[LEFT_HIP + side] = _J_HIP + side
        pose[LEFT_KNEE + side] = _J_KNEE + side
        pose[LEFT_ANKLE + side] = _J_ANKLE + side
        pose[29 + side] = foot + 0  # heel
        pose[31 + side] = foot + 1  # foot index
    return np.array(pose + [lhand + i for i in range(21)] + [rhand + i for i in range(21)], dtype=np.intp)


_GATHER = _gather_index()


@dataclass(frozen=True)
class BodyDimensions:
    """Segment lengths of one operator, in metres.

    ``from_stature`` uses the Drillis & Contini (1966) segment fractions of
    stature H as tabulated in Winter, *Biomechanics and Motor Control of
    Human Movement*, Fig. 4.1: shoulder height 0.818H, hip (greater
    trochanter) 0.530H, eye 0.936H, head 0.130H (chin-vertex), upper arm
    0.186H, forearm 0.146H, hand 0.108H, thigh 0.245H, leg 0.246H, ankle
    height 0.039H, foot length 0.152H, shoulder width 0.259H, hip width
    0.191H. Derived: trunk (hip joint to shoulder) 0.818-0.530 = 0.288H;
    neck (shoulder to ear, ears taken at eye height) 0.936-0.818 = 0.118H.
    """

    stature: float
    trunk_length: float
    shoulder_width: float
    hip_width: float
    neck_length: float
    head_height: float
    upper_arm_length: float
    forearm_length: float
    hand_length: float
    thigh_length: float
    shank_length: float
    foot_height: float
    foot_length: float

    @classmethod
    def from_stature(cls, stature_m: float, sex: str | None = None) -> BodyDimensions:
        """Dimensions for a stature in metres.

        ``sex`` may be ``None``, ``"female"`` or ``"male"``; the Drillis &
        Contini set is the same for both, so it is validated but changes
        nothing yet (a sex-specific set can be added behind this argument).
        """
        if sex not in (None, "female", "male"):
            raise ValueError(f"sex must be None, 'female' or 'male', not {sex!r}")
        if not 0.5 <= stature_m <= 2.5:
            raise ValueError(f"stature_m must be between 0.5 and 2.5 m, not {stature_m!r}")
        h = float(stature_m)
        return cls(
            stature=h,
            trunk_length=0.288 * h,
            shoulder_width=0.259 * h,
            hip_width=0.191 * h,
            neck_length=0.118 * h,
            head_height=0.130 * h,
            upper_arm_length=0.186 * h,
            forearm_length=0.146 * h,
            hand_length=0.108 * h,
            thigh_length=0.245 * h,
            shank_length=0.246 * h,
            foot_height=0.039 * h,
            foot_length=0.152 * h,
        )

    @property
    def standing_hip_height(self) -> float:
        """Hip joint height above the floor when standing straight (metres)."""
        return self.thigh_length + self.shank_length + self.foot_height

    @cached_property
    def _landmark_map(self) -> FloatArray:
        """Constant (225, 96) matrix: FK work vector -> 75 world landmarks, flattened.

        The work vector holds 12 joints (operator frame), the axes of five
        rigid segments (head, left hand, right hand, left foot, right foot;
        3 x 3 each, one axis per row) and their origins. Every landmark is a
        linear function of it, so one matrix product places all 75 points
        (pose, left hand, right hand) and turns them into world axes.
        """
        local = np.zeros((5, _PAD, 3))
        local[0, : len(_FACE)] = np.array(_FACE) * self.head_height
        local[1] = local[2] = np.array(_HAND) * self.hand_length
        foot = np.array([_HEEL, _FOOT_INDEX]) * np.array([self.foot_length, 0.0, self.foot_height])
        local[3, :2] = local[4, :2] = foot
        to_world = _OPERATOR_TO_WORLD
        out = np.zeros((75 * 3, _WORK_SIZE))
        for row, src in enumerate(_GATHER):
            rows = slice(3 * row, 3 * row + 3)
            if src < _SEG_BASE:
                out[rows, 3 * src : 3 * src + 3] = to_world
                continue
            k, point = divmod(int(src) - _SEG_BASE, _PAD)
            out[rows, _ORIGIN_BASE + 3 * k : _ORIGIN_BASE + 3 * k + 3] = to_world
            for axis in range(3):
                start = _AXES_BASE + 9 * k + 3 * axis
                out[rows, start : start + 3] += to_world * local[k, point, axis]
        out.setflags(write=False)
        return out


_ANGLE_FIELDS = (
    "trunk_flexion",
    "trunk_side_bend",
    "trunk_twist",
    "neck_flexion",
    "neck_side_bend",
    "neck_twist",
)
_SIDE_FIELDS = (
    "upper_arm_flexion",
    "upper_arm_abduction",
    "upper_arm_rotation",
    "shoulder_elevation_m",
    "elbow_flexion",
    "wrist_flexion",
    "wrist_deviation",
    "knee_flexion",
)


@dataclass(frozen=True)
class Posture:
    """Joint angles of the operator in degrees (conventions: module docstring).

    ``shoulder_elevation_m`` is in metres. ``seated`` puts the thighs
    forward horizontal; knees then usually sit at 90.
    """

    trunk_flexion: float = 0.0
    trunk_side_bend: float = 0.0
    trunk_twist: float = 0.0
    neck_flexion: float = 0.0
    neck_side_bend: float = 0.0
    neck_twist: float = 0.0
    left_upper_arm_flexion: float = 0.0
    left_upper_arm_abduction: float = 0.0
    left_upper_arm_rotation: float = 0.0
    left_shoulder_elevation_m: float = 0.0
    left_elbow_flexion: float = 0.0
    left_wrist_flexion: float = 0.0
    left_wrist_deviation: float = 0.0
    left_knee_flexion: float = 0.0
    right_upper_arm_flexion: float = 0.0
    right_upper_arm_abduction: float = 0.0
    right_upper_arm_rotation: float = 0.0
    right_shoulder_elevation_m: float = 0.0
    right_elbow_flexion: float = 0.0
    right_wrist_flexion: float = 0.0
    right_wrist_deviation: float = 0.0
    right_knee_flexion: float = 0.0
    seated: bool = False

    @classmethod
    def random(cls, rng: "np.random.Generator") -> "Posture":
        """Joint angles drawn uniformly within human ranges, standing (70 %) or seated (tests, benchmarks)."""
        seated = bool(rng.random() < 0.3)
        u = rng.uniform
        side: dict[str, float] = {}
        for s in ("left", "right"):
            side.update({
                f"{s}_upper_arm_flexion": u(-40, 180), f"{s}_upper_arm_abduction": u(-20, 90),
                f"{s}_upper_arm_rotation": u(-40, 60), f"{s}_shoulder_elevation_m": u(0.0, 0.05),
                f"{s}_elbow_flexion": u(0, 150), f"{s}_wrist_flexion": u(-60, 60),
                f"{s}_wrist_deviation": u(-25, 25),
                f"{s}_knee_flexion": u(60, 110) if seated else u(0, 70),
            })
        return cls(trunk_flexion=u(-20, 70), trunk_side_bend=u(-25, 25), trunk_twist=u(-35, 35),
                   neck_flexion=u(-30, 50), neck_side_bend=u(-25, 25), neck_twist=u(-50, 50),
                   seated=seated, **side)

    @classmethod
    def neutral(cls, seated: bool = False) -> Posture:
        """Upright, arms hanging, straight elbows; seated: knees at 90."""
        knee = 90.0 if seated else 0.0
        return cls(left_knee_flexion=knee, right_knee_flexion=knee, seated=seated)

    @staticmethod
    def lerp(a: Posture, b: Posture, s: float) -> Posture:
        """Linear blend of every angle, ``s`` = 0 gives ``a``, 1 gives ``b``.

        ``seated`` switches from ``a``'s to ``b``'s value at ``s`` = 0.5.
        """
        values = [x + (y - x) * s for x, y in zip(_float_values(a), _float_values(b))]
        return Posture(*values, seated=b.seated if s >= 0.5 else a.seated)

    def side(self, side: Side) -> dict[str, float]:
        """The per-side angles of one side, keyed without the ``left_``/``right_`` prefix."""
        return {name: getattr(self, f"{side}_{name}") for name in _SIDE_FIELDS}

    def with_side(self, side: Side, **angles: float) -> Posture:
        """A copy with per-side angles (names without prefix) replaced on one side."""
        return replace(self, **{f"{side}_{name}": value for name, value in angles.items()})

    def mirrored(self) -> Posture:
        """The left-right mirror image: sides swapped, side-bends and twists negated."""
        changes: dict[str, float] = {}
        for name in _SIDE_FIELDS:
            changes[f"left_{name}"] = getattr(self, f"right_{name}")
            changes[f"right_{name}"] = getattr(self, f"left_{name}")
        for name in ("trunk_side_bend", "trunk_twist", "neck_side_bend", "neck_twist"):
            changes[name] = -getattr(self, name)
        return replace(self, **changes)


_FLOAT_FIELDS = tuple(f.name for f in fields(Posture) if f.name != "seated")


def _float_values(p: Posture) -> tuple[float, ...]:
    d = p.__dict__
    return tuple(d[name] for name in _FLOAT_FIELDS)


@dataclass(frozen=True, eq=False)
class BodyFrame:
    """Landmarks of one posture, MediaPipe world convention (metres, float32).

    ``world`` is (33, 3) pose landmarks, ``left_hand``/``right_hand`` are
    (21, 3) hand landmarks (the operator's left/right hand) in the same
    hip-centred frame. ``pelvis_rotation`` (3, 3) has as columns the
    operator's forward, left and up axes in world coordinates and the
    pelvis (mid-hip) sits at the world origin; together with an
    :class:`OperatorStance` that is all :meth:`to_bench` needs.
    ``pelvis_height_m`` is mid-hip height above the lowest foot point (the
    floor when standing). The three landmark arrays are views of one
    (75, 3) array; treat them as read-only.
    """

    world: npt.NDArray[np.float32]
    left_hand: npt.NDArray[np.float32]
    right_hand: npt.NDArray[np.float32]
    pelvis_rotation: FloatArray
    pelvis_height_m: float

    def to_bench(self, stance: OperatorStance) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Pose, left hand and right hand landmarks in bench millimetres."""
        return (
            world_to_bench(self.world, stance),
            world_to_bench(self.left_hand, stance),
            world_to_bench(self.right_hand, stance),
        )


_PELVIS_ROTATION = _OPERATOR_TO_WORLD.copy()
_PELVIS_ROTATION.setflags(write=False)


def _lean(flex: float, side: float, twist: float) -> tuple[tuple[float, float, float], ...]:
    """Axes (forward, left, up) of a segment leaning by the module's lean rule.

    Angles in radians, result in the parent frame. Up has sagittal-plane
    angle ``flex`` and leaves the sagittal plane by ``side``; twist turns
    the lateral axis about up, starting from the parent's left axis made
    perpendicular to up.
    """
    sf, cf = math.sin(flex), math.cos(flex)
    ss, cs = math.sin(side), math.cos(side)
    st, ct = math.sin(twist), math.cos(twist)
    # up = (cs sf, ss, cs cf); zero-twist left = parent left made
    # perpendicular to up = (-ss sf, cs, -ss cf); zero-twist forward =
    # left x up = (cf, 0, -sf).
    lx, ly, lz = -ss * sf, cs, -ss * cf
    return (
        (ct * cf + st * lx, st * ly, -ct * sf + st * lz),
        (ct * lx - st * cf, ct * ly, ct * lz + st * sf),
        (cs * sf, ss, cs * cf),
    )


def _arm_axes(flex: float, abd: float, o: float) -> tuple[tuple[float, float, float], ...]:
    """Anterior, outward and along-arm (shoulder -> elbow) axes of the upper arm.

    Degrees in, trunk frame out; ``o`` is +1 for the left arm, -1 for the
    right. The hanging arm is abducted about the forward axis, then flexed
    about the left axis, so ``atan2(v.F, -v.U) = flex`` and
    ``asin(o v.L) = abd``.
    """
    sp, cp = math.sin(flex * _DEG), math.cos(flex * _DEG)
    sa, ca = math.sin(abd * _DEG), math.cos(abd * _DEG)
    return (cp, 0.0, sp), (-sa * sp, o * ca, sa * cp), (ca * sp, o * sa, -ca * cp)


def _hand_axes(psi: float, dlt: float) -> tuple[tuple[float, float, float], ...]:
    """Hand axes (along, palmar, radial) in the forearm frame (along, palmar, radial).

    Radians in: deviation ``dlt`` about the palmar axis, then flexion ``psi``
    about the deviated radial axis, so that ``asin(-f.r_h) = dlt`` and
    ``atan2(-f.p_h, f.h) = psi`` for the forearm direction ``f``.
    """
    sps, cps = math.sin(psi), math.cos(psi)
    sd, cd = math.sin(dlt), math.cos(dlt)
    return (cps * cd, sps, cps * sd), (-sps * cd, cps, -sps * sd), (-sd, 0.0, cd)


def forward_kinematics(posture: Posture, dims: BodyDimensions) -> BodyFrame:
    """Landmarks (MediaPipe world convention) for a posture and body."""
    p = posture.__dict__
    sin, cos = math.sin, math.cos
    # Trunk frame in the operator frame.
    (tfx, tfy, tfz), (tlx, tly, tlz), (tux, tuy, tuz) = _lean(
        p["trunk_flexion"] * _DEG, p["trunk_side_bend"] * _DEG, p["trunk_twist"] * _DEG
    )
    trunk_len = dims.trunk_length
    half_sw = 0.5 * dims.shoulder_width
    elev_l = p["left_shoulder_elevation_m"]
    elev_r = p["right_shoulder_elevation_m"]

    hips = (0.0, 0.5 * dims.hip_width, 0.0, 0.0, -0.5 * dims.hip_width, 0.0)
    shoulders: list[float] = []
    elbows: list[float] = []
    wrists: list[float] = []
    hand_frames: list[float] = []
    l1, l2 = dims.upper_arm_length, dims.forearm_length
    for o, prefix, elev in ((1.0, "left_", elev_l), (-1.0, "right_", elev_r)):
        r = trunk_len + elev
        sx = r * tux + o * half_sw * tlx
        sy = r * tuy + o * half_sw * tly
        sz = r * tuz + o * half_sw * tlz
        (ax, ay, az), (ox, oy, oz), (vx, vy, vz) = _arm_axes(
            p[prefix + "upper_arm_flexion"], p[prefix + "upper_arm_abduction"], o
        )
        rho = p[prefix + "upper_arm_rotation"] * _DEG
        sr, cr = sin(rho), cos(rho)
        # Humeral rotation about the arm: a' = cr a - sr out, out' = cr out + sr a.
        a2x, a2y, a2z = cr * ax - sr * ox, cr * ay - sr * oy, cr * az - sr * oz
        o2x, o2y, o2z = cr * ox + sr * ax, cr * oy + sr * ay, cr * oz + sr * az
        # To the operator frame.
        Vx = vx * tfx + vy * tlx + vz * tux
        Vy = vx * tfy + vy * tly + vz * tuy
        Vz = vx * tfz + vy * tlz + vz * tuz
        Ax = a2x * tfx + a2y * tlx + a2z * tux
        Ay = a2x * tfy + a2y * tly + a2z * tuy
        Az = a2x * tfz + a2y * tlz + a2z * tuz
        # Forearm w, palmar p, radial r (= medial: -out').
        e = p[prefix + "elbow_flexion"] * _DEG
        se, ce = sin(e), cos(e)
        wx, wy, wz = ce * Vx + se * Ax, ce * Vy + se * Ay, ce * Vz + se * Az
        px, py, pz = se * Vx - ce * Ax, se * Vy - ce * Ay, se * Vz - ce * Az
        rx = -(o2x * tfx + o2y * tlx + o2z * tux)
        ry = -(o2x * tfy + o2y * tly + o2z * tuy)
        rz = -(o2x * tfz + o2y * tlz + o2z * tuz)
        ex, ey, ez = sx + l1 * Vx, sy + l1 * Vy, sz + l1 * Vz
        shoulders += (sx, sy, sz)
        elbows += (ex, ey, ez)
        wrists += (ex + l2 * wx, ey + l2 * wy, ez + l2 * wz)
        for cw, cp_, cr_ in _hand_axes(p[prefix + "wrist_flexion"] * _DEG, p[prefix + "wrist_deviation"] * _DEG):
            hand_frames += (cw * wx + cp_ * px + cr_ * rx, cw * wy + cp_ * py + cr_ * ry, cw * wz + cp_ * pz + cr_ * rz)

    # Head: neck lean in the trunk frame, origin at mid-ear. The neck rises
    # from the mid-shoulder point; a shrug shortens it so the ears stay put.
    head_axes = _lean(p["neck_flexion"] * _DEG, p["neck_side_bend"] * _DEG, p["neck_twist"] * _DEG)
    head_frame: list[float] = []
    for nx, ny, nz in head_axes:
        head_frame += (nx * tfx + ny * tlx + nz * tux, nx * tfy + ny * tly + nz * tuy, nx * tfz + ny * tlz + nz * tuz)
    mean_elev = 0.5 * (elev_l + elev_r)
    base = trunk_len + mean_elev
    nl = dims.neck_length - mean_elev
    ear = (base * tux + nl * head_frame[6], base * tuy + nl * head_frame[7], base * tuz + nl * head_frame[8])

    # Legs: hip flexion 0 standing, 90 seated; knee flexion swings the shank back.
    if posture.seated:
        thigh, post = (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)
    else:
        thigh, post = (0.0, 0.0, -1.0), (-1.0, 0.0, 0.0)
    knees: list[float] = []
    ankles: list[float] = []
    foot_frames: list[float] = []
    lt, ls = dims.thigh_length, dims.shank_length
    for o, k in ((1.0, p["left_knee_flexion"] * _DEG), (-1.0, p["right_knee_flexion"] * _DEG)):
        sk, ck = sin(k), cos(k)
        hy = o * 0.5 * dims.hip_width
        kx, ky, kz = lt * thigh[0], hy, lt * thigh[2]
        shx, shz = ck * thigh[0] + sk * post[0], ck * thigh[2] + sk * post[2]
        knees += (kx, ky, kz)
        ankles += (kx + ls * shx, ky, kz + ls * shz)
        # Foot axes: anterior (ankle at 90 degrees to the shank), left, up (= -shank).
        foot_frames += (sk * thigh[0] - ck * post[0], 0.0, sk * thigh[2] - ck * post[2], 0.0, 1.0, 0.0, -shx, 0.0, -shz)

    vals = [*hips, *shoulders, *elbows, *wrists, *knees, *ankles]
    vals += (*head_frame, *hand_frames, *foot_frames)
    vals += (*ear, *wrists, *ankles)
    out = (dims._landmark_map @ np.array(vals)).reshape(75, 3).astype(np.float32)
    lowest = min(ankles[2], ankles[5]) - dims.foot_height
    return BodyFrame(
        world=out[:33],
        left_hand=out[33:54],
        right_hand=out[54:75],
        pelvis_rotation=_PELVIS_ROTATION,
        pelvis_height_m=-lowest,
    )


# --------------------------------------------------------------------------
# Bench frame


@dataclass(frozen=True)
class OperatorStance:
    """Where the operator stands (or sits) at the bench.

    ``x_mm``, ``y_mm``: the mid-hip projected onto the bench plane, in bench
    millimetres (``y_mm`` is negative: the operator is in front of the front
    edge). ``hip_height_mm``: mid-hip height relative to the bench top
    (positive above it, negative below). The operator faces bench +y.
    """

    x_mm: float
    y_mm: float
    hip_height_mm: float

    @classmethod
    def standing(
        cls,
        dims: BodyDimensions,
        *,
        x_mm: float,
        bench_height_mm: float = 900.0,
        hip_to_edge_mm: float = 250.0,
    ) -> OperatorStance:
        """Standing upright at a bench whose top is ``bench_height_mm`` above the floor.

        ``hip_to_edge_mm`` is the horizontal distance from mid-hip to the
        bench's front edge (body half-depth plus clearance).
        """
        return cls(
            x_mm=x_mm,
            y_mm=-hip_to_edge_mm,
            hip_height_mm=dims.standing_hip_height * 1000.0 - bench_height_mm,
        )


def bench_to_world(point_mm: npt.ArrayLike, stance: OperatorStance) -> FloatArray:
    """Bench millimetres (..., 3) to world metres (MediaPipe convention) (..., 3)."""
    p = np.asarray(point_mm, dtype=float)
    out = np.empty(p.shape)
    out[..., 0] = (stance.x_mm - p[..., 0]) * 1e-3
    out[..., 1] = (stance.hip_height_mm - p[..., 2]) * 1e-3
    out[..., 2] = (stance.y_mm - p[..., 1]) * 1e-3
    return out


def world_to_bench(point_m: npt.ArrayLike, stance: OperatorStance) -> FloatArray:
    """World metres (MediaPipe convention) (..., 3) to bench millimetres (..., 3)."""
    p = np.asarray(point_m, dtype=float)
    out = np.empty(p.shape)
    out[..., 0] = stance.x_mm - 1000.0 * p[..., 0]
    out[..., 1] = stance.y_mm - 1000.0 * p[..., 2]
    out[..., 2] = stance.hip_height_mm - 1000.0 * p[..., 1]
    return out


# --------------------------------------------------------------------------
# Inverse kinematics


@dataclass(frozen=True)
class ReachResult:
    """Outcome of :func:`reach`: the posture, whether the point is reached
    (within the tolerance) and the remaining distance in millimetres."""

    posture: Posture
    reached: bool
    error_mm: float


def _shoulder(
    f: FloatArray, s: float, t: float, r: float, o_half_sw: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Shoulder positions (F, L, U) for an array of trunk flexions ``f`` (radians).

    The array form of ``_lean``: ``r`` along the trunk axis plus
    ``o_half_sw`` along the trunk's left axis.
    """
    sf, cf = np.sin(f), np.cos(f)
    ss, cs = math.sin(s), math.cos(s)
    st, ct = math.sin(t), math.cos(t)
    lx, ly, lz = -ss * sf, cs, -ss * cf
    Lx, Ly, Lz = ct * lx - st * cf, ct * ly, ct * lz + st * sf
    return (r * cs * sf + o_half_sw * Lx, r * ss + o_half_sw * Ly, r * cs * cf + o_half_sw * Lz)


def _dot(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float]:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _unit(a: tuple[float, ...]) -> tuple[float, float, float]:
    n = math.sqrt(_dot(a, a))
    return (a[0] / n, a[1] / n, a[2] / n)


def _perp_unit(a: tuple[float, ...], axis: tuple[float, ...]) -> tuple[float, float, float] | None:
    """``a`` made perpendicular to the unit vector ``axis`` and normalised; None if parallel."""
    k = _dot(a, axis)
    p = (a[0] - k * axis[0], a[1] - k * axis[1], a[2] - k * axis[2])
    n = math.sqrt(_dot(p, p))
    return None if n < 1e-9 else (p[0] / n, p[1] / n, p[2] / n)


def reach(
    hand_target_bench_mm: npt.ArrayLike,
    side: Side,
    *,
    stance: OperatorStance,
    dims: BodyDimensions,
    base: Posture | None = None,
    effector: Effector = "index_tip",
    max_trunk_flexion_deg: float = 60.0,
    tolerance_mm: float = 5.0,
) -> ReachResult:
    """A posture that puts one hand's effector on a bench point.

    The effector is the index fingertip (hand landmark 8) by default, or the
    wrist. Everything except the trunk flexion and the reaching arm
    (upper-arm flexion, abduction, rotation and elbow flexion) is kept from
    ``base`` (default: neutral standing), including that side's wrist angles
    and shoulder elevation.

    Method: the effector's distance from the shoulder fixes the elbow
    flexion in closed form. Trunk flexion stays at ``base``'s value when the
    point is within reach, otherwise it grows only until the point is just
    within reach (grid plus bisection), up to ``max_trunk_flexion_deg``. The
    arm is then oriented analytically with the elbow as low as it can be
    (elbow down, a little outward). Unreachable points give the closest
    posture found, ``reached=False`` and the remaining distance.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    if effector not in ("index_tip", "wrist"):
        raise ValueError(f"effector must be 'index_tip' or 'wrist', not {effector!r}")
    base = Posture.neutral() if base is None else base
    o = 1.0 if side == "left" else -1.0
    tx, ty, tz = (float(c) for c in np.asarray(hand_target_bench_mm, dtype=float).reshape(3))
    Xf = (ty - stance.y_mm) * 1e-3
    Xl = (stance.x_mm - tx) * 1e-3
    Xu = (tz - stance.hip_height_mm) * 1e-3

    # Effector offset from the wrist in the forearm frame (w, p, r).
    psi = getattr(base, f"{side}_wrist_flexion") * _DEG
    dlt = getattr(base, f"{side}_wrist_deviation") * _DEG
    if effector == "index_tip":
        th, tp, tr = (c * dims.hand_length for c in _HAND[HAND_INDEX_TIP])
    else:
        th = tp = tr = 0.0
    hand_h, hand_p, hand_r = _hand_axes(psi, dlt)
    c_w, c_p, c_r = (th * hand_h[i] + tp * hand_p[i] + tr * hand_r[i] for i in range(3))
    l1 = dims.upper_arm_length
    lw = dims.forearm_length + c_w
    m = math.hypot(lw, c_p)
    gamma = math.atan2(c_p, lw)
    k0 = l1 * l1 + m * m + c_r * c_r
    e_max = ELBOW_FLEXION_LIMIT_DEG * _DEG
    cos_hi = 1.0 if 0.0 <= gamma <= e_max else max(math.cos(gamma), math.cos(e_max - gamma))
    cos_lo = min(math.cos(gamma), math.cos(e_max - gamma))
    r_max = math.sqrt(k0 + 2 * l1 * m * cos_hi)
    r_min = math.sqrt(max(k0 + 2 * l1 * m * cos_lo, 0.0))

    # Trunk flexion: as little as needed.
    s = base.trunk_side_bend * _DEG
    t = base.trunk_twist * _DEG
    r_sh = dims.trunk_length + getattr(base, f"{side}_shoulder_elevation_m")
    o_half_sw = o * 0.5 * dims.shoulder_width

    def violation(f: FloatArray) -> FloatArray:
        sx, sy, sz = _shoulder(f, s, t, r_sh, o_half_sw)
        d = np.sqrt((Xf - sx) ** 2 + (Xl - sy) ** 2 + (Xu - sz) ** 2)
        return np.maximum(d - r_max, 0.0) + np.maximum(r_min - d, 0.0)

    def distance(f: float) -> float:
        F_, L_, U_ = _lean(f, s, t)
        return math.sqrt(
            (Xf - r_sh * U_[0] - o_half_sw * L_[0]) ** 2
            + (Xl - r_sh * U_[1] - o_half_sw * L_[1]) ** 2
            + (Xu - r_sh * U_[2] - o_half_sw * L_[2]) ** 2
        )

    f0 = base.trunk_flexion * _DEG
    f_hi = max(max_trunk_flexion_deg * _DEG, f0)
    f = f0
    d0 = distance(f0)
    if not r_min <= d0 <= r_max and f_hi > f0:
        grid = np.linspace(f0, f_hi, max(2, int(math.ceil((f_hi - f0) / (2 * _DEG))) + 1))
        viol = violation(grid)
        ok = np.flatnonzero(viol <= 0.0)
        if ok.size:
            # Bisect for the smallest feasible flexion (to ~0.001 degree).
            lo_f, hi_f = float(grid[ok[0] - 1]), float(grid[ok[0]])
            while hi_f - lo_f > 2e-5:
                mid = 0.5 * (lo_f + hi_f)
                if r_min <= distance(mid) <= r_max:
                    hi_f = mid
                else:
                    lo_f = mid
            f = hi_f
        elif float(viol.min()) < max(d0 - r_max, r_min - d0):
            f = float(grid[int(np.argmin(viol))])

    # Target in the trunk frame, relative to the shoulder.
    F_t, L_t, U_t = _lean(f, s, t)
    gx = Xf - r_sh * U_t[0] - o_half_sw * L_t[0]
    gy = Xl - r_sh * U_t[1] - o_half_sw * L_t[1]
    gz = Xu - r_sh * U_t[2] - o_half_sw * L_t[2]
    D = (_dot(F_t, (gx, gy, gz)), _dot(L_t, (gx, gy, gz)), _dot(U_t, (gx, gy, gz)))
    dist = math.sqrt(_dot(D, D))
    k = (dist * dist - k0) / (2 * l1 * m)
    e = min(max(gamma + math.acos(min(max(k, -1.0), 1.0)), 0.0), e_max)
    se, ce = math.sin(e), math.cos(e)
    # Effector (P0) and elbow (E0 = (0, 0, -l1)) in arm-local coordinates,
    # i.e. at zero flexion/abduction/rotation. Find the rotation R with
    # R P0 along D that puts the elbow on the preferred side.
    b1 = _unit((lw * se - c_p * ce, -o * c_r, -l1 - lw * ce - c_p * se))
    q = (l1 * b1[2] * b1[0], l1 * b1[2] * b1[1], -l1 + l1 * b1[2] * b1[2])  # E0 minus its part along b1
    c1 = _unit(D) if dist > 1e-9 else b1
    # Preferred elbow side: gravity down (in the trunk frame) plus a little outward.
    c2 = _perp_unit((-F_t[2], -L_t[2] + 0.25 * o, -U_t[2]), c1)
    if c2 is None:
        c2 = _perp_unit((1.0, 0.0, 0.0), c1) or (0.0, 1.0, 0.0)
    b2 = _perp_unit(q, b1)
    if b2 is None:
        # Straight arm with the effector on its axis: roll is free, keep base's.
        v = c1
        a2 = None
    else:
        c3, b3 = _cross(c1, c2), _cross(b1, b2)
        # R = c1 b1^T + c2 b2^T + c3 b3^T; v = R (0, 0, -1), a' = R (1, 0, 0).
        v = tuple(-(c1[i] * b1[2] + c2[i] * b2[2] + c3[i] * b3[2]) for i in range(3))
        a2 = tuple(c1[i] * b1[0] + c2[i] * b2[0] + c3[i] * b3[0] for i in range(3))
    flexion_deg = math.atan2(v[0], -v[2]) / _DEG
    if flexion_deg < -90.0:
        flexion_deg += 360.0  # past overhead reads above 180, not as extension
    abduction_deg = math.asin(min(max(o * v[1], -1.0), 1.0)) / _DEG
    if a2 is None:
        rho = getattr(base, f"{side}_upper_arm_rotation") * _DEG
    else:
        ant, out, _ = _arm_axes(flexion_deg, abduction_deg, o)
        rho = math.atan2(-_dot(a2, out), _dot(a2, ant))

    posture = replace(
        base,
        trunk_flexion=f / _DEG,
        **{
            f"{side}_upper_arm_flexion": flexion_deg,
            f"{side}_upper_arm_abduction": abduction_deg,
            f"{side}_upper_arm_rotation": rho / _DEG,
            f"{side}_elbow_flexion": e / _DEG,
        },
    )
    frame = forward_kinematics(posture, dims)
    if effector == "index_tip":
        hand = frame.left_hand if side == "left" else frame.right_hand
        point = hand[HAND_INDEX_TIP]
    else:
        point = frame.world[LEFT_WRIST if side == "left" else RIGHT_WRIST]
    bx, by, bz = (float(c) for c in world_to_bench(point, stance))
    error = math.sqrt((bx - tx) ** 2 + (by - ty) ** 2 + (bz - tz) ** 2)
    return ReachResult(posture=posture, reached=error <= tolerance_mm, error_mm=error)


# --------------------------------------------------------------------------
# Camera image


@dataclass(frozen=True, eq=False)
class ImageLandmarks:
    """MediaPipe-style normalised image landmarks of one frame.

    ``pose`` (33, 3): x, y in 0..1 of the image width/height (outside when
    out of frame), z = depth relative to mid-hip, scaled like x (smaller =
    closer to the camera). ``visibility`` (33,) in 0..1. ``left_hand`` /
    ``right_hand`` (21, 3): the operator's left/right hand, z relative to
    that hand's wrist depth, scaled like x. ``*_hand_presence``: fraction of
    that hand's landmarks in front of the camera and inside the image.
    """

    pose: npt.NDArray[np.float32]
    visibility: npt.NDArray[np.float32]
    left_hand: npt.NDArray[np.float32]
    right_hand: npt.NDArray[np.float32]
    left_hand_presence: float
    right_hand_presence: float


_TORSO_INDEX = np.array([LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP])


@dataclass(frozen=True, eq=False)
class ImageProjection:
    """A pinhole camera looking at the operator.

    ``camera_position_m`` is the optical centre in the world frame (hip
    centred, MediaPipe axes); ``rotation`` (3x3, world -> camera) maps world
    vectors into camera axes x right, y down, z along the optical axis
    (OpenCV). The identity means the camera's axes are the world axes,
    i.e. the camera faces the operator square on. Intrinsics are in pixels.

    Visibility rule (simple, deterministic): 0 for a point behind or on the
    camera plane; 0.1 outside the image; 0.3 when the point is more than
    ``occlusion_depth_m`` farther from the camera than the torso (mean depth
    of shoulders and hips) and falls inside the torso's image bounding box
    (hidden behind the body); otherwise 0.95.
    """

    width_px: int
    height_px: int
    fx_px: float
    fy_px: float
    cx_px: float
    cy_px: float
    camera_position_m: tuple[float, float, float]
    rotation: FloatArray
    occlusion_depth_m: float = 0.08

    @classmethod
    def facing_operator(
        cls,
        *,
        distance_m: float = 2.5,
        camera_height_m: float = 0.4,
        look_at_height_m: float = 0.1,
        width_px: int = 1280,
        height_px: int = 720,
        horizontal_fov_deg: float = 70.0,
    ) -> ImageProjection:
        """A camera ``distance_m`` in front of mid-hip, ``camera_height_m``
        above it, pitched to look at the point ``look_at_height_m`` above
        mid-hip, with square pixels and the principal point at the centre."""
        fx = 0.5 * width_px / math.tan(0.5 * horizontal_fov_deg * _DEG)
        position = np.array([0.0, -camera_height_m, -distance_m])
        forward = np.array([0.0, -look_at_height_m, 0.0]) - position
        forward /= np.linalg.norm(forward)
        right = np.cross(np.array([0.0, 1.0, 0.0]), forward)  # world down x forward
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        rotation = np.array([right, down, forward])
        rotation.setflags(write=False)
        return cls(
            width_px=width_px,
            height_px=height_px,
            fx_px=fx,
            fy_px=fx,
            cx_px=0.5 * width_px,
            cy_px=0.5 * height_px,
            camera_position_m=(0.0, -camera_height_m, -distance_m),
            rotation=rotation,
        )

    @cached_property
    def _extrinsics(self) -> tuple[FloatArray, FloatArray, float]:
        """(camera position, world->camera rotation transposed, mid-hip depth)."""
        position = np.asarray(self.camera_position_m, dtype=float)
        rotation_t = np.asarray(self.rotation, dtype=float).T.copy()
        hip_depth = float((-position @ rotation_t)[2])
        return position, rotation_t, hip_depth

    def project(self, frame: BodyFrame) -> ImageLandmarks:
        """Normalised image landmarks and visibilities of one body frame."""
        position, rotation_t, hip_depth = self._extrinsics
        points = np.concatenate((frame.world, frame.left_hand, frame.right_hand))
        cam = (points - position) @ rotation_t  # (75, 3): pose, left hand, right hand
        z = cam[:, 2]
        in_front = z > 1e-6
        inv_z = 1.0 / np.where(in_front, z, 1e-6)
        sx = self.fx_px / self.width_px
        norm = np.empty((75, 3))
        norm[:, 0] = cam[:, 0] * inv_z * sx + self.cx_px / self.width_px
        norm[:, 1] = cam[:, 1] * inv_z * (self.fy_px / self.height_px) + self.cy_px / self.height_px
        # Depth origin: mid-hip for the pose, each hand's wrist for that hand.
        origin = np.empty(75)
        origin[:33] = hip_depth
        origin[33:54] = z[33]
        origin[54:] = z[54]
        origin = np.maximum(origin, 1e-6)
        norm[:, 2] = (z - origin) * sx / origin
        xy = norm[:, :2]
        inside = in_front & ((xy >= 0.0) & (xy <= 1.0)).all(axis=1)

        torso = xy[_TORSO_INDEX]
        in_box = ((xy[:33] >= torso.min(axis=0)) & (xy[:33] <= torso.max(axis=0))).all(axis=1)
        hidden = in_box & (z[:33] > z[_TORSO_INDEX].mean() + self.occlusion_depth_m)
        visibility = np.full(33, 0.95, dtype=np.float32)
        visibility[hidden] = 0.3
        visibility[~inside[:33]] = 0.1
        visibility[~in_front[:33]] = 0.0
        out = norm.astype(np.float32)
        return ImageLandmarks(
            pose=out[:33],
            visibility=visibility,
            left_hand=out[33:54],
            right_hand=out[54:],
            left_hand_presence=float(inside[33:54].mean()),
            right_hand_presence=float(inside[54:].mean()),
        )
