"""Joint angles of the operator from MediaPipe world landmarks, for RULA and REBA.

``joint_angles(world, visibility, left_hand, right_hand)`` turns one frame of
landmarks into a ``JointAngles``: trunk, neck, both arms, knees, with a
confidence per body region. It is pure (no state, no clock) and works on
plain floats: on 33 points, scalar math is several times faster than numpy
calls, each of which costs about a microsecond of overhead.

World frame (MediaPipe ``pose_world_landmarks``): metres, origin at the
mid-hip, +x = operator's left, +y = down, +z = operator's backward.
All angles are in degrees.

Reference frames
----------------
* Pelvis frame: up = world up (-y); left = the hip line (right hip -> left hip)
  made horizontal; forward = left x up.
* Trunk frame: up = trunk axis (mid-hip -> mid-shoulder); left = the shoulder
  line made perpendicular to it; forward = left x up.

One rule for every "lean" (trunk in the pelvis frame, neck in the trunk
frame, upper arm in the trunk frame): the *flexion* is the angle of the
segment axis inside the parent's sagittal plane (``atan2(axis.F, axis.U)``;
for the upper arm ``atan2(arm.F, -arm.U)``, 0 = hanging) and the *lateral*
angle (side-bend, abduction) is the angle of the axis out of that sagittal
plane (``asin(axis.L)``). Flexion is then exact over the whole range (an
overhead arm reads 180) and the lateral angle equals the frontal-plane angle
when flexion is zero. These are the definitions ``cell.simulator.body``
generates postures with.

* trunk_twist: about the trunk axis, from the hip line to the shoulder line
  (both made perpendicular to the axis). neck_twist: about the neck axis
  (mid-shoulder -> mid-ear), from the trunk's left axis to the ear line.
* upper_arm_flexion is reported in [-90, 270): extension cannot reach 90
  degrees, so an arm past overhead reads above 180, not as extension. When
  the upper arm points straight out to the side its sagittal projection
  vanishes and flexion is ill-defined (it swings with millimetres of noise;
  exactly sideways reads 0); abduction is then ~90 and reliable.
* Wrist (in the hand's own frame, which the camera sees): hand axis ``h`` =
  wrist -> middle MCP, radial axis ``r`` = pinky MCP -> index MCP made
  perpendicular to ``h``, palmar normal ``p`` = ``r x h`` (right hand) or
  ``h x r`` (left hand); with ``w`` the forearm direction,
  deviation = ``asin(-w.r)`` and flexion = ``atan2(-w.p, w.h)``.

Sign conventions
----------------
flexion +, extension -; twist + = turned to the operator's left (seen from
above, counter-clockwise); side-bend + = bent towards the operator's left;
upper-arm abduction + = away from the body, - = across the front of it;
wrist flexion + = towards the palm; wrist deviation + = radial (thumb side).

Thresholds (module constants, documented here)
-----------------------------------------------
* Shoulder raised: ``(|mid-ear - mid-shoulder| - h) / trunk length <
  SHOULDER_RAISED_RATIO`` where ``h`` is how far this shoulder sits above
  the mid-shoulder along the trunk axis. Measuring from the mid-shoulder
  makes the ratio blind to neck flexion and side-bend (the head pivots
  there); subtracting ``h`` catches a one-sided shrug. Neutral is about
  0.38 for adult anthropometry (glenohumeral centre to tragus ~0.20 m over a
  hip-to-shoulder length of ~0.52 m); 0.30 flags a shrug of about 4 cm.
  Pass a per-operator value (e.g. 0.85 x their neutral ``shoulder_ear_ratio``)
  when one is known.
* Across the midline: the wrist lies on the other side of the body's
  mid-sagittal plane by more than ``MIDLINE_MARGIN`` x shoulder width.
* Out to the side: the wrist lies further out than its own shoulder by more
  than ``OUT_TO_SIDE_MARGIN`` x shoulder width.
* One-leg stance: both ankles visible (>= ``MIN_VISIBILITY``) and one ankle
  higher than the other by more than ``ONE_LEG_LIFT_RATIO`` x mean leg length.
* Confidence of a region = the lowest visibility among the landmarks it uses
  (trunk: shoulders, hips; neck: those and the ears; arm: trunk, ears, its
  elbow and wrist; legs: hips, knees, ankles), 0 when the geometry is
  degenerate (zero trunk length or shoulder width, zero leg length). An arm
  without hand landmarks is further multiplied by ``NO_HAND_CONFIDENCE``;
  its wrist angles are None, never assumed neutral.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .landmarks import HandLandmark, PoseLandmark, Side

SHOULDER_RAISED_RATIO = 0.30
MIDLINE_MARGIN = 0.05
OUT_TO_SIDE_MARGIN = 0.25
ONE_LEG_LIFT_RATIO = 0.12
MIN_VISIBILITY = 0.5
NO_HAND_CONFIDENCE = 0.5

_EPS = 1e-9
_DEG = 180.0 / math.pi

Vec = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class ArmAngles:
    """Angles and flags of one arm, relative to the trunk. Degrees."""

    upper_arm_flexion: float
    upper_arm_abduction: float
    shoulder_raised: bool
    lower_arm_flexion: float
    across_midline: bool
    out_to_side: bool
    wrist_flexion: float | None
    wrist_deviation: float | None
    confidence: float
    shoulder_ear_ratio: float | None = None
    """The measure behind ``shoulder_raised`` (see module doc); None when not measured."""


@dataclass(frozen=True, slots=True)
class JointAngles:
    """Posture of the whole body in one frame. Degrees; confidences 0..1."""

    left: ArmAngles
    right: ArmAngles
    neck_flexion: float
    neck_twist: float
    neck_side_bend: float
    trunk_flexion: float
    trunk_twist: float
    trunk_side_bend: float
    knee_flexion_left: float
    knee_flexion_right: float
    one_leg_stance: bool
    neck_confidence: float = 1.0
    trunk_confidence: float = 1.0
    legs_confidence: float = 1.0

    def arm(self, side: Side) -> ArmAngles:
        """The arm on ``side``."""
        return self.left if side is Side.LEFT else self.right

    @property
    def confidence(self) -> float:
        """The lowest confidence of any region."""
        return min(self.left.confidence, self.right.confidence, self.neck_confidence,
                   self.trunk_confidence, self.legs_confidence)


# ---------------------------------------------------------------- vector math on tuples

def _sub(a: Vec, b: Vec) -> Vec:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _mid(a: Vec, b: Vec) -> Vec:
    return ((a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5, (a[2] + b[2]) * 0.5)


def _dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a: Vec, b: Vec) -> Vec:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _norm(a: Vec) -> float:
    return math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])


def _unit(a: Vec) -> Vec:
    n = math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])
    if n < _EPS:
        return (0.0, 0.0, 0.0)
    return (a[0] / n, a[1] / n, a[2] / n)


def _reject(a: Vec, axis: Vec) -> Vec:
    """``a`` without its component along the unit vector ``axis``."""
    k = a[0] * axis[0] + a[1] * axis[1] + a[2] * axis[2]
    return (a[0] - k * axis[0], a[1] - k * axis[1], a[2] - k * axis[2])


def _angle_between(a: Vec, b: Vec) -> float:
    """Unsigned angle between two vectors, degrees (0 if either is zero)."""
    na, nb = _norm(a), _norm(b)
    if na < _EPS or nb < _EPS:
        return 0.0
    c = _dot(a, b) / (na * nb)
    return math.acos(max(-1.0, min(1.0, c))) * _DEG


def _asin_deg(x: float) -> float:
    return math.asin(max(-1.0, min(1.0, x))) * _DEG


def _signed_angle(a: Vec, b: Vec, axis: Vec) -> float:
    """Angle from ``a`` to ``b`` about the unit ``axis`` (right-hand rule), degrees."""
    return math.atan2(_dot(_cross(a, b), axis), _dot(a, b)) * _DEG


_UP: Vec = (0.0, -1.0, 0.0)

# plain ints: IntEnum attribute lookups cost ~0.1 us each in the hot path
_L_EAR, _R_EAR = int(PoseLandmark.LEFT_EAR), int(PoseLandmark.RIGHT_EAR)
_L_SH, _R_SH = int(PoseLandmark.LEFT_SHOULDER), int(PoseLandmark.RIGHT_SHOULDER)
_L_EL, _R_EL = int(PoseLandmark.LEFT_ELBOW), int(PoseLandmark.RIGHT_ELBOW)
_L_WR, _R_WR = int(PoseLandmark.LEFT_WRIST), int(PoseLandmark.RIGHT_WRIST)
_L_HIP, _R_HIP = int(PoseLandmark.LEFT_HIP), int(PoseLandmark.RIGHT_HIP)
_L_KNEE, _R_KNEE = int(PoseLandmark.LEFT_KNEE), int(PoseLandmark.RIGHT_KNEE)
_L_ANK, _R_ANK = int(PoseLandmark.LEFT_ANKLE), int(PoseLandmark.RIGHT_ANKLE)
_H_WRIST = int(HandLandmark.WRIST)
_H_INDEX = int(HandLandmark.INDEX_FINGER_MCP)
_H_MIDDLE = int(HandLandmark.MIDDLE_FINGER_MCP)
_H_PINKY = int(HandLandmark.PINKY_MCP)


# ---------------------------------------------------------------- input checks

def _points(array: ArrayLike, count: int, name: str) -> list[list[float]]:
    a = np.asarray(array, dtype=np.float64)
    if a.shape != (count, 3):
        raise ValueError(f"{name} must have shape ({count}, 3), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains a non-finite coordinate")
    return a.tolist()


def _visibilities(visibility: ArrayLike | None) -> list[float] | None:
    if visibility is None:
        return None
    v = np.asarray(visibility, dtype=np.float64)
    if v.shape != (33,):
        raise ValueError(f"visibility must have shape (33,), got {v.shape}")
    # NaN (x != x) counts as not visible
    return [0.0 if x != x else 0.0 if x < 0.0 else 1.0 if x > 1.0 else x for x in v.tolist()]


# ---------------------------------------------------------------- parts

def _wrist_angles(forearm: Vec, hand: list[list[float]], side_sign: float
                  ) -> tuple[float, float] | None:
    """Wrist flexion and deviation (degrees) of one hand, or None if the hand is degenerate."""
    w = hand[_H_WRIST]
    h = _unit(_sub(hand[_H_MIDDLE], w))        # hand long axis
    radial = _unit(_reject(_sub(hand[_H_INDEX], hand[_H_PINKY]), h))
    if h == (0.0, 0.0, 0.0) or radial == (0.0, 0.0, 0.0):
        return None
    # palmar normal: radial x long axis for a right hand, the opposite for a left hand
    palmar = _cross(radial, h)
    if side_sign > 0:
        palmar = (-palmar[0], -palmar[1], -palmar[2])
    flexion = math.atan2(-_dot(forearm, palmar), _dot(forearm, h)) * _DEG
    deviation = _asin_deg(-_dot(forearm, radial))
    return flexion, deviation


def _arm(side_sign: float, shoulder: Vec, elbow: Vec, wrist: Vec, mid_shoulder: Vec,
         up: Vec, left: Vec, forward: Vec, trunk_length: float, shoulder_width: float,
         neck_length: float, hand: list[list[float]] | None, confidence: float,
         shoulder_raised_ratio: float) -> ArmAngles:
    outward = (side_sign * left[0], side_sign * left[1], side_sign * left[2])
    upper = _sub(elbow, shoulder)
    forearm = _sub(wrist, elbow)
    u = _unit(upper)

    # sagittal-plane angle from hanging, and angle out of the sagittal plane (module doc)
    x_fwd, x_down = _dot(u, forward), -_dot(u, up)
    if abs(x_fwd) + abs(x_down) < 1e-9:
        flexion = 0.0  # straight out to the side: no sagittal component (module doc)
    else:
        flexion = math.atan2(x_fwd, x_down) * _DEG
        if flexion < -90.0:
            flexion += 360.0
    abduction = _asin_deg(_dot(u, outward))

    lower = _angle_between(upper, forearm)

    # wrist position relative to the mid-sagittal plane and to the own shoulder
    lateral_wrist = side_sign * _dot(_sub(wrist, mid_shoulder), left)
    lateral_shoulder = side_sign * _dot(_sub(shoulder, mid_shoulder), left)
    across = lateral_wrist < -MIDLINE_MARGIN * shoulder_width
    out_to_side = lateral_wrist - lateral_shoulder > OUT_TO_SIDE_MARGIN * shoulder_width

    ratio: float | None = None
    raised = False
    if trunk_length > _EPS:
        above_mid = _dot(_sub(shoulder, mid_shoulder), up)
        ratio = (neck_length - above_mid) / trunk_length
        raised = ratio < shoulder_raised_ratio

    wrist_flexion: float | None = None
    wrist_deviation: float | None = None
    hand_angles = None
    if hand is not None:
        hand_angles = _wrist_angles(_unit(forearm), hand, side_sign)
    if hand_angles is None:
        confidence *= NO_HAND_CONFIDENCE
    else:
        wrist_flexion, wrist_deviation = hand_angles

    return ArmAngles(
        upper_arm_flexion=flexion,
        upper_arm_abduction=abduction,
        shoulder_raised=raised,
        lower_arm_flexion=lower,
        across_midline=across,
        out_to_side=out_to_side,
        wrist_flexion=wrist_flexion,
        wrist_deviation=wrist_deviation,
        confidence=confidence,
        shoulder_ear_ratio=ratio,
    )


# ---------------------------------------------------------------- main entry

def joint_angles(world: ArrayLike, visibility: ArrayLike | None = None,
                 left_hand: ArrayLike | None = None, right_hand: ArrayLike | None = None,
                 *, shoulder_raised_ratio: float = SHOULDER_RAISED_RATIO) -> JointAngles:
    """Joint angles of one frame.

    ``world``: (33, 3) pose world landmarks; ``visibility``: (33,) in 0..1 or
    None (all visible); ``left_hand``/``right_hand``: (21, 3) hand world
    landmarks of the operator's left/right hand or None when not seen.
    Raises ValueError on a wrong shape or a non-finite coordinate.
    """
    p = _points(world, 33, "world")
    vis = _visibilities(visibility)
    lh_pts = None if left_hand is None else _points(left_hand, 21, "left_hand")
    rh_pts = None if right_hand is None else _points(right_hand, 21, "right_hand")

    def seen(*idx: int) -> float:
        if vis is None:
            return 1.0
        return min([vis[i] for i in idx])

    l_sh, r_sh = p[_L_SH], p[_R_SH]
    l_hip, r_hip = p[_L_HIP], p[_R_HIP]
    mid_hip = _mid(l_hip, r_hip)
    mid_sh = _mid(l_sh, r_sh)
    trunk = _sub(mid_sh, mid_hip)
    trunk_length = _norm(trunk)
    shoulder_line = _sub(l_sh, r_sh)
    shoulder_width = _norm(shoulder_line)
    hip_line = _sub(l_hip, r_hip)

    # pelvis frame: world up, horizontal hip line, forward = left x up
    p_left = _unit((hip_line[0], 0.0, hip_line[2]))
    if p_left == (0.0, 0.0, 0.0):
        p_left = (1.0, 0.0, 0.0)
    p_fwd = _cross(p_left, _UP)
    up = _unit(trunk) if trunk_length > _EPS else _UP
    trunk_flexion = math.atan2(_dot(up, p_fwd), _dot(up, _UP)) * _DEG
    trunk_side_bend = _asin_deg(_dot(up, p_left))

    # trunk frame
    left = _unit(_reject(shoulder_line, up))
    if left == (0.0, 0.0, 0.0):
        left = p_left
    forward = _cross(left, up)
    trunk_twist = _signed_angle(_reject(hip_line, up), _reject(shoulder_line, up), up)
    trunk_conf = seen(_L_SH, _R_SH, _L_HIP, _R_HIP)

    # neck: mid-shoulder -> mid-ear against the trunk frame; twist of the ear line
    l_ear, r_ear = p[_L_EAR], p[_R_EAR]
    head = _sub(_mid(l_ear, r_ear), mid_sh)
    neck_length = _norm(head)
    n = _unit(head) if neck_length > _EPS else up
    neck_flexion = math.atan2(_dot(n, forward), _dot(n, up)) * _DEG
    neck_side_bend = _asin_deg(_dot(n, left))
    neck_twist = _signed_angle(_reject(left, n), _reject(_sub(l_ear, r_ear), n), n)
    neck_conf = min(trunk_conf, seen(_L_EAR, _R_EAR))

    if trunk_length < _EPS or shoulder_width < _EPS:
        trunk_conf = neck_conf = 0.0
    arm_base = min(trunk_conf, seen(_L_EAR, _R_EAR))
    left_arm = _arm(1.0, l_sh, p[_L_EL], p[_L_WR], mid_sh, up, left, forward,
                    trunk_length, shoulder_width, neck_length, lh_pts,
                    min(arm_base, seen(_L_EL, _L_WR)), shoulder_raised_ratio)
    right_arm = _arm(-1.0, r_sh, p[_R_EL], p[_R_WR], mid_sh, up, left,
                     forward, trunk_length, shoulder_width, neck_length, rh_pts,
                     min(arm_base, seen(_R_EL, _R_WR)),
                     shoulder_raised_ratio)

    # legs
    l_knee, r_knee = p[_L_KNEE], p[_R_KNEE]
    l_ank, r_ank = p[_L_ANK], p[_R_ANK]
    l_thigh, r_thigh = _sub(l_knee, l_hip), _sub(r_knee, r_hip)
    l_shank, r_shank = _sub(l_ank, l_knee), _sub(r_ank, r_knee)
    knee_left = _angle_between(l_thigh, l_shank)
    knee_right = _angle_between(r_thigh, r_shank)
    leg_length = 0.5 * (_norm(l_thigh) + _norm(l_shank) + _norm(r_thigh) + _norm(r_shank))
    ankles_seen = seen(_L_ANK, _R_ANK)
    lift = abs(_dot(_sub(l_ank, r_ank), _UP))
    one_leg = ankles_seen >= MIN_VISIBILITY and lift > ONE_LEG_LIFT_RATIO * leg_length
    legs_conf = seen(_L_HIP, _R_HIP, _L_KNEE, _R_KNEE, _L_ANK, _R_ANK)
    if leg_length < _EPS:
        legs_conf = 0.0

    return JointAngles(
        left=left_arm,
        right=right_arm,
        neck_flexion=neck_flexion,
        neck_twist=neck_twist,
        neck_side_bend=neck_side_bend,
        trunk_flexion=trunk_flexion,
        trunk_twist=trunk_twist,
        trunk_side_bend=trunk_side_bend,
        knee_flexion_left=knee_left,
        knee_flexion_right=knee_right,
        one_leg_stance=one_leg,
        neck_confidence=neck_conf,
        trunk_confidence=trunk_conf,
        legs_confidence=legs_conf,
    )
