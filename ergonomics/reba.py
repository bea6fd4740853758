"""REBA, Rapid Entire Body Assessment (Hignett & McAtamney 2000), from joint angles.

Same shape as ``ergonomics.rula``: band functions with their adjustments,
the published ``TABLE_A``, ``TABLE_B``, ``TABLE_C`` as constants (the tests
check every cell against ``ergonomics/data/rula-reba-tables.md``), and
``reba_from_angles`` scoring the left and right arm separately with the
shared neck, trunk and legs.

Boundaries and open points, decided as in ``ergonomics.rula``: a shared
range end belongs to the lower band, "> x" is strict; "upright" and the
start of neck extension allow +/- ``NEUTRAL_TOLERANCE_DEG``; "twisted",
"side-flexed", "abducted" and "deviated" use the RULA thresholds; an
unmeasured wrist scores ``UNKNOWN_WRIST_BAND`` = 2 (the lowest non-neutral
band); forearm/wrist twist and upper-arm rotation cannot be seen in pose
landmarks and are stated by the caller. Legs: "unilateral" is the one-leg
stance seen in the angles; the knee adjustment uses the more flexed knee;
knee flexion 30..60 degrees inclusive is +1, above 60 is +2, and neither
applies when sitting.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from .angles import ArmAngles, JointAngles
from .landmarks import Side
from .rula import (
    ABDUCTION_THRESHOLD_DEG,
    NEUTRAL_TOLERANCE_DEG,
    SIDE_BEND_THRESHOLD_DEG,
    TWIST_THRESHOLD_DEG,
    WRIST_DEVIATION_THRESHOLD_DEG,
)

UNKNOWN_WRIST_BAND = 2


class Coupling(IntEnum):
    """Quality of the grip on the load; the value is the coupling score."""

    GOOD = 0
    FAIR = 1
    POOR = 2
    UNACCEPTABLE = 3


RISK_LEVELS: tuple[str, ...] = ("negligible", "low", "medium", "high", "very high")
"""Risk name of each action level 0..4."""

# Table A: [neck 1..3][trunk 1..5] -> (legs 1, legs 2, legs 3, legs 4)
TABLE_A: tuple[tuple[tuple[int, ...], ...], ...] = (
    ((1, 2, 3, 4), (2, 3, 4, 5), (2, 4, 5, 6), (3, 5, 6, 7), (4, 6, 7, 8)),
    ((1, 2, 3, 4), (3, 4, 5, 6), (4, 5, 6, 7), (5, 6, 7, 8), (6, 7, 8, 9)),
    ((3, 3, 5, 6), (4, 5, 6, 7), (5, 6, 7, 8), (6, 7, 8, 9), (7, 8, 9, 9)),
)

# Table B: [lower arm 1..2][upper arm 1..6] -> (wrist 1, wrist 2, wrist 3)
TABLE_B: tuple[tuple[tuple[int, ...], ...], ...] = (
    ((1, 2, 2), (1, 2, 3), (3, 4, 5), (4, 5, 5), (6, 7, 8), (7, 8, 8)),
    ((1, 2, 3), (2, 3, 4), (4, 5, 5), (5, 6, 7), (7, 8, 8), (8, 9, 9)),
)

# Table C: [score A 1..12][score B 1..12]
TABLE_C: tuple[tuple[int, ...], ...] = (
    (1, 1, 1, 2, 3, 3, 4, 5, 6, 7, 7, 7),
    (1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 7, 8),
    (2, 3, 3, 3, 4, 5, 6, 7, 7, 8, 8, 8),
    (3, 4, 4, 4, 5, 6, 7, 8, 8, 9, 9, 9),
    (4, 4, 4, 5, 6, 7, 8, 8, 9, 9, 9, 9),
    (6, 6, 6, 7, 8, 8, 9, 9, 10, 10, 10, 10),
    (7, 7, 7, 8, 9, 9, 9, 10, 10, 11, 11, 11),
    (8, 8, 8, 9, 10, 10, 10, 10, 10, 11, 11, 11),
    (9, 9, 9, 10, 10, 10, 11, 11, 11, 12, 12, 12),
    (10, 10, 10, 11, 11, 11, 11, 12, 12, 12, 12, 12),
    (11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 12),
    (12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12),
)


# ---------------------------------------------------------------- body-part bands

def trunk_score(flexion: float, *, twisted_or_side_flexed: bool = False,
                neutral_tolerance: float = NEUTRAL_TOLERANCE_DEG) -> int:
    """Trunk 1..5: upright = 1; 0..20 flexion or extension = 2; 20..60 flexion or > 20 extension = 3;
    > 60 flexion = 4; +1 twisted or side-flexed."""
    if abs(flexion) <= neutral_tolerance:
        band = 1
    elif flexion < 0.0:
        band = 2 if flexion >= -20.0 else 3
    elif flexion <= 20.0:
        band = 2
    elif flexion <= 60.0:
        band = 3
    else:
        band = 4
    return band + int(twisted_or_side_flexed)


def neck_score(flexion: float, *, twisted_or_side_flexed: bool = False,
               neutral_tolerance: float = NEUTRAL_TOLERANCE_DEG) -> int:
    """Neck 1..3: 0..20 flexion = 1; > 20 flexion or in extension = 2; +1 twisted or side-flexed."""
    band = 2 if (flexion < -neutral_tolerance or flexion > 20.0) else 1
    return band + int(twisted_or_side_flexed)


def legs_score(bilateral: bool, knee_flexion: float = 0.0, *, sitting: bool = False) -> int:
    """Legs 1..4: bilateral weight bearing, walking or sitting = 1; unilateral or unstable = 2;
    +1 knees 30..60 degrees flexed, +2 knees > 60 (not when sitting)."""
    if sitting:
        return 1
    band = 1 if bilateral else 2
    if knee_flexion > 60.0:
        band += 2
    elif knee_flexion >= 30.0:
        band += 1
    return band


def upper_arm_score(flexion: float, *, abducted_or_rotated: bool = False,
                    shoulder_raised: bool = False, supported: bool = False) -> int:
    """Upper arm 1..6 with RULA's bands: 20 ext..20 flex = 1; > 20 ext or 20..45 flex = 2;
    45..90 = 3; > 90 = 4; +1 abducted or rotated, +1 shoulder raised, -1 supported or
    gravity-assisted; never below 1."""
    if flexion < -20.0:
        band = 2
    elif flexion <= 20.0:
        band = 1
    elif flexion <= 45.0:
        band = 2
    elif flexion <= 90.0:
        band = 3
    else:
        band = 4
    band += int(abducted_or_rotated) + int(shoulder_raised) - int(supported)
    return max(1, min(6, band))


def lower_arm_score(flexion: float) -> int:
    """Lower arm: 60..100 degrees = 1, < 60 or > 100 = 2."""
    return 1 if 60.0 <= flexion <= 100.0 else 2


def wrist_score(flexion: float | None, deviation: float | None = None, *,
                twisted: bool = False) -> int:
    """Wrist 1..3: 0..15 degrees flexion/extension = 1, > 15 = 2; +1 deviated or twisted.

    ``flexion`` None (not measured) scores ``UNKNOWN_WRIST_BAND``.
    """
    band = UNKNOWN_WRIST_BAND if flexion is None else (1 if abs(flexion) <= 15.0 else 2)
    deviated = deviation is not None and abs(deviation) > WRIST_DEVIATION_THRESHOLD_DEG
    return band + int(deviated or twisted)


def load_score(load_kg: float, *, shock: bool = False) -> int:
    """Load/force 0..3: < 5 kg = 0, 5..10 kg = 1, > 10 kg = 2; +1 shock or rapid build-up."""
    if load_kg < 0.0:
        raise ValueError(f"load must be >= 0 kg, got {load_kg}")
    band = 0 if load_kg < 5.0 else 1 if load_kg <= 10.0 else 2
    return band + int(shock)


def coupling_score(coupling: Coupling | str | int) -> int:
    """Coupling: good 0, fair 1, poor 2, unacceptable 3 (an enum, its name or its score)."""
    if isinstance(coupling, str):
        try:
            return int(Coupling[coupling.strip().upper()])
        except KeyError:
            raise ValueError(f"coupling must be good, fair, poor or unacceptable, "
                             f"got {coupling!r}") from None
    return int(Coupling(coupling))


def activity_score(static: bool = False, repeated: bool = False,
                   rapid_change: bool = False) -> int:
    """Activity 0..3: +1 a body part held static > 1 min; +1 small-range actions repeated
    > 4 times a minute; +1 rapid large changes in posture or an unstable base."""
    return int(static) + int(repeated) + int(rapid_change)


# ---------------------------------------------------------------- tables

def _check(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"REBA {name} score must be {low}..{high}, got {value}")


def table_a(neck: int, trunk: int, legs: int) -> int:
    """Posture score A of neck, trunk and legs."""
    _check("neck", neck, 1, 3)
    _check("trunk", trunk, 1, 5)
    _check("legs", legs, 1, 4)
    return TABLE_A[neck - 1][trunk - 1][legs - 1]


def table_b(upper_arm: int, lower_arm: int, wrist: int) -> int:
    """Posture score B of upper arm, lower arm and wrist."""
    _check("upper arm", upper_arm, 1, 6)
    _check("lower arm", lower_arm, 1, 2)
    _check("wrist", wrist, 1, 3)
    return TABLE_B[lower_arm - 1][upper_arm - 1][wrist - 1]


def table_c(score_a: int, score_b: int) -> int:
    """Score C from score A (posture A + load) and score B (posture B + coupling)."""
    _check("A", score_a, 1, 12)
    _check("B", score_b, 1, 12)
    return TABLE_C[score_a - 1][score_b - 1]


def action_level(score: int) -> int:
    """Action level 0..4: 1 -> 0, 2-3 -> 1, 4-7 -> 2, 8-10 -> 3, 11-15 -> 4."""
    if score < 1:
        raise ValueError(f"REBA score must be >= 1, got {score}")
    if score == 1:
        return 0
    if score <= 3:
        return 1
    if score <= 7:
        return 2
    if score <= 10:
        return 3
    return 4


def risk_level(score: int) -> str:
    """Risk name of a REBA score: negligible, low, medium, high or very high."""
    return RISK_LEVELS[action_level(score)]


# ---------------------------------------------------------------- whole assessment

@dataclass(frozen=True, slots=True)
class RebaScore:
    """REBA of one side of the body with every intermediate score; ``score`` is the REBA score."""

    side: Side
    neck: int
    trunk: int
    legs: int
    posture_a: int
    load: int
    score_a: int
    upper_arm: int
    lower_arm: int
    wrist: int
    posture_b: int
    coupling: int
    score_b: int
    score_c: int
    activity: int
    score: int
    action_level: int
    risk: str
    confidence: float
    wrist_measured: bool = True


@dataclass(frozen=True, slots=True)
class RebaAssessment:
    """REBA of both sides; ``score``, ``action_level`` and ``risk`` are those of the worse side.

    ``confidence`` is the lower of the two sides.
    """

    left: RebaScore
    right: RebaScore
    score: int
    action_level: int
    risk: str
    worse_side: Side
    confidence: float

    def side(self, side: Side) -> RebaScore:
        return self.left if side is Side.LEFT else self.right


def reba_score(side: Side, *, neck: int, trunk: int, legs: int, upper_arm: int, lower_arm: int,
               wrist: int, load: int = 0, coupling: int = 0, activity: int = 0,
               confidence: float = 1.0, wrist_measured: bool = True) -> RebaScore:
    """REBA of one side from its body-part scores: tables A, B, C, activity and action level."""
    posture_a = table_a(neck, trunk, legs)
    posture_b = table_b(upper_arm, lower_arm, wrist)
    score_a = posture_a + load
    score_b = posture_b + coupling
    score_c = table_c(score_a, score_b)
    score = score_c + activity
    level = action_level(score)
    return RebaScore(
        side=side, neck=neck, trunk=trunk, legs=legs, posture_a=posture_a, load=load,
        score_a=score_a, upper_arm=upper_arm, lower_arm=lower_arm, wrist=wrist,
        posture_b=posture_b, coupling=coupling, score_b=score_b, score_c=score_c,
        activity=activity, score=score, action_level=level, risk=RISK_LEVELS[level],
        confidence=confidence, wrist_measured=wrist_measured,
    )


def reba_from_angles(angles: JointAngles, *, load_kg: float = 0.0, shock: bool = False,
                     coupling: Coupling | str | int = Coupling.GOOD, static: bool = False,
                     repeated: bool = False, rapid_change: bool = False,
                     arm_supported: bool = False, sitting: bool = False,
                     wrist_twisted: bool = False, upper_arm_rotated: bool = False
                     ) -> RebaAssessment:
    """REBA of one frame, the left and right arm scored separately.

    ``static``/``repeated``/``rapid_change`` are the three activity points;
    ``arm_supported``: arm supported or gravity-assisted (-1 on the upper arm).
    """
    neck = neck_score(angles.neck_flexion, twisted_or_side_flexed=(
        abs(angles.neck_twist) > TWIST_THRESHOLD_DEG
        or abs(angles.neck_side_bend) > SIDE_BEND_THRESHOLD_DEG))
    trunk = trunk_score(angles.trunk_flexion, twisted_or_side_flexed=(
        abs(angles.trunk_twist) > TWIST_THRESHOLD_DEG
        or abs(angles.trunk_side_bend) > SIDE_BEND_THRESHOLD_DEG))
    legs = legs_score(not angles.one_leg_stance,
                      max(angles.knee_flexion_left, angles.knee_flexion_right), sitting=sitting)
    load = load_score(load_kg, shock=shock)
    grip = coupling_score(coupling)
    activity = activity_score(static, repeated, rapid_change)
    body_conf = min(angles.neck_confidence, angles.trunk_confidence, angles.legs_confidence)

    def one_side(side: Side, arm: ArmAngles) -> RebaScore:
        return reba_score(
            side, neck=neck, trunk=trunk, legs=legs,
            upper_arm=upper_arm_score(
                arm.upper_arm_flexion,
                abducted_or_rotated=upper_arm_rotated
                or arm.upper_arm_abduction > ABDUCTION_THRESHOLD_DEG,
                shoulder_raised=arm.shoulder_raised, supported=arm_supported),
            lower_arm=lower_arm_score(arm.lower_arm_flexion),
            wrist=wrist_score(arm.wrist_flexion, arm.wrist_deviation, twisted=wrist_twisted),
            load=load, coupling=grip, activity=activity,
            confidence=min(arm.confidence, body_conf),
            wrist_measured=arm.wrist_flexion is not None,
        )

    left = one_side(Side.LEFT, angles.left)
    right = one_side(Side.RIGHT, angles.right)
    worse = right if (right.score, right.score_b) > (left.score, left.score_b) else left
    return RebaAssessment(left=left, right=right, score=worse.score,
                          action_level=worse.action_level, risk=worse.risk,
                          worse_side=worse.side,
                          confidence=min(left.confidence, right.confidence))
