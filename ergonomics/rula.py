"""RULA, Rapid Upper Limb Assessment (McAtamney & Corlett 1993), from joint angles.

Band functions score one body part with its adjustments; ``TABLE_A``,
``TABLE_B`` and ``TABLE_C`` are the published tables (transcribed into code
from ``ergonomics/data/rula-reba-tables.md``; the tests check every cell
against that file). ``rula_from_angles`` scores the operator's left and right
side separately and reports the worse one.

Boundaries: where the published text gives two ranges that share an end
("20-45 degrees = 2, 45-90 degrees = 3") the shared angle belongs to the
lower band; "> x" is strict. Measured angles are never exactly 0, so the
"neutral"/"upright" bands accept +/- ``NEUTRAL_TOLERANCE_DEG`` and the neck
counts as "in extension" only beyond that tolerance.

Conventions for what RULA leaves open (module constants):

* upper arm "abducted" when abduction > ``ABDUCTION_THRESHOLD_DEG``;
* neck or trunk "twisted" / "side-bent" when beyond ``TWIST_THRESHOLD_DEG``
  / ``SIDE_BEND_THRESHOLD_DEG``;
* wrist "bent from the midline" when |radial/ulnar deviation| >
  ``WRIST_DEVIATION_THRESHOLD_DEG``;
* trunk extension (RULA only draws flexion): up to 20 degrees scores 2,
  beyond 20 scores 3, as REBA, RULA's sister method, does;
* wrist angles unknown (no hand landmarks): the wrist takes band
  ``UNKNOWN_WRIST_BAND`` = 2, the lowest non-neutral band, with no deviation
  point, and the score says ``wrist_measured=False`` (the arm's confidence is
  already lowered by ``joint_angles``);
* wrist twist (pronation/supination) cannot be seen in pose landmarks; the
  caller states it (``wrist_twist_end_of_range``, default mid-range);
* muscle use and force/load are scored once and added to both score C
  (arms) and score D (neck, trunk, legs), as the worksheet does.
"""

from __future__ import annotations

from dataclasses import dataclass

from .angles import ArmAngles, JointAngles
from .landmarks import Side

NEUTRAL_TOLERANCE_DEG = 5.0
ABDUCTION_THRESHOLD_DEG = 20.0
TWIST_THRESHOLD_DEG = 10.0
SIDE_BEND_THRESHOLD_DEG = 10.0
WRIST_DEVIATION_THRESHOLD_DEG = 10.0
UNKNOWN_WRIST_BAND = 2

# Table A: [upper arm 1..6][lower arm 1..3] -> (W1 t1, W1 t2, W2 t1, W2 t2, W3 t1, W3 t2, W4 t1, W4 t2)
TABLE_A: tuple[tuple[tuple[int, ...], ...], ...] = (
    ((1, 2, 2, 2, 2, 3, 3, 3),
     (2, 2, 2, 2, 3, 3, 3, 3),
     (2, 3, 3, 3, 3, 3, 4, 4)),
    ((2, 3, 3, 3, 3, 4, 4, 4),
     (3, 3, 3, 3, 3, 4, 4, 4),
     (3, 4, 4, 4, 4, 4, 5, 5)),
    ((3, 3, 4, 4, 4, 4, 5, 5),
     (3, 4, 4, 4, 4, 4, 5, 5),
     (4, 4, 4, 4, 4, 5, 5, 5)),
    ((4, 4, 4, 4, 4, 5, 5, 5),
     (4, 4, 4, 4, 4, 5, 5, 5),
     (4, 4, 4, 5, 5, 5, 6, 6)),
    ((5, 5, 5, 5, 5, 6, 6, 7),
     (5, 6, 6, 6, 6, 7, 7, 7),
     (6, 6, 6, 7, 7, 7, 7, 8)),
    ((7, 7, 7, 7, 7, 8, 8, 9),
     (8, 8, 8, 8, 8, 9, 9, 9),
     (9, 9, 9, 9, 9, 9, 9, 9)),
)

# Table B: [neck 1..6] -> (T1 L1, T1 L2, T2 L1, T2 L2, ..., T6 L1, T6 L2)
TABLE_B: tuple[tuple[int, ...], ...] = (
    (1, 3, 2, 3, 3, 4, 5, 5, 6, 6, 7, 7),
    (2, 3, 2, 3, 4, 5, 5, 5, 6, 7, 7, 7),
    (3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 7),
    (5, 5, 5, 6, 6, 7, 7, 7, 7, 7, 8, 8),
    (7, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8),
    (8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9),
)

# Table C: [score C 1..8+][score D 1..7+]
TABLE_C: tuple[tuple[int, ...], ...] = (
    (1, 2, 3, 3, 4, 5, 5),
    (2, 2, 3, 4, 4, 5, 5),
    (3, 3, 3, 4, 4, 5, 6),
    (3, 3, 3, 4, 5, 6, 6),
    (4, 4, 4, 5, 6, 7, 7),
    (4, 4, 5, 6, 6, 7, 7),
    (5, 5, 6, 6, 7, 7, 7),
    (5, 5, 6, 7, 7, 7, 7),
)

ACTION_LEVELS: dict[int, str] = {
    1: "acceptable",
    2: "investigate further",
    3: "investigate further and change soon",
    4: "investigate and change immediately",
}


# ---------------------------------------------------------------- body-part bands

def upper_arm_score(flexion: float, *, shoulder_raised: bool = False, abducted: bool = False,
                    supported: bool = False) -> int:
    """Upper arm 1..6: 20 ext..20 flex = 1; > 20 ext or 20..45 flex = 2; 45..90 = 3; > 90 = 4.

    +1 shoulder raised, +1 upper arm abducted, -1 arm supported or person leaning;
    never below 1.
    """
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
    band += int(shoulder_raised) + int(abducted) - int(supported)
    return max(1, min(6, band))


def lower_arm_score(flexion: float, *, across_midline_or_out_to_side: bool = False) -> int:
    """Lower arm 1..3: 60..100 degrees = 1, < 60 or > 100 = 2; +1 across the midline or out to the side."""
    band = 1 if 60.0 <= flexion <= 100.0 else 2
    return band + int(across_midline_or_out_to_side)


def wrist_score(flexion: float | None, deviation: float | None = None, *,
                neutral_tolerance: float = NEUTRAL_TOLERANCE_DEG) -> int:
    """Wrist 1..4: neutral = 1, 0..15 degrees flexion or extension = 2, > 15 = 3; +1 bent from the midline.

    ``flexion`` None (not measured) scores ``UNKNOWN_WRIST_BAND``; ``deviation``
    None adds nothing.
    """
    if flexion is None:
        band = UNKNOWN_WRIST_BAND
    else:
        bend = abs(flexion)
        band = 1 if bend <= neutral_tolerance else 2 if bend <= 15.0 else 3
    if deviation is not None and abs(deviation) > WRIST_DEVIATION_THRESHOLD_DEG:
        band += 1
    return band


def wrist_twist_score(end_of_range: bool) -> int:
    """Wrist twist: mainly in mid-range = 1, at or near the end of the range = 2."""
    return 2 if end_of_range else 1


def neck_score(flexion: float, *, twisted: bool = False, side_bent: bool = False,
               neutral_tolerance: float = NEUTRAL_TOLERANCE_DEG) -> int:
    """Neck 1..6: 0..10 degrees = 1, 10..20 = 2, > 20 = 3, in extension = 4; +1 twisted, +1 side-bent."""
    if flexion < -neutral_tolerance:
        band = 4
    elif flexion <= 10.0:
        band = 1
    elif flexion <= 20.0:
        band = 2
    else:
        band = 3
    return band + int(twisted) + int(side_bent)


def trunk_score(flexion: float, *, twisted: bool = False, side_bent: bool = False,
                neutral_tolerance: float = NEUTRAL_TOLERANCE_DEG) -> int:
    """Trunk 1..6: upright = 1, 0..20 degrees = 2, 20..60 = 3, > 60 = 4; +1 twisted, +1 side-bent.

    Extension (not in RULA's figure) scores as REBA does: up to 20 = 2, beyond = 3.
    """
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
    return band + int(twisted) + int(side_bent)


def legs_score(supported_and_balanced: bool) -> int:
    """Legs: supported and balanced (weight evenly on both feet) = 1, otherwise 2."""
    return 1 if supported_and_balanced else 2


def muscle_use_score(static: bool = False, repetitive: bool = False) -> int:
    """+1 if the posture is mainly static (held > 1 min) or repeated >= 4 times a minute."""
    return 1 if (static or repetitive) else 0


def force_load_score(load_kg: float, *, static_or_repeated: bool = False,
                     shock: bool = False) -> int:
    """Force/load 0..3.

    < 2 kg intermittent = 0; 2..10 kg intermittent = 1; 2..10 kg static or
    repeated, or > 10 kg intermittent = 2; > 10 kg static or repeated, or
    shocks / forces with a rapid build-up = 3. (< 2 kg static or repeated is
    not listed in the source: 0.)
    """
    if load_kg < 0.0:
        raise ValueError(f"load must be >= 0 kg, got {load_kg}")
    if shock:
        return 3
    if load_kg < 2.0:
        return 0
    if load_kg <= 10.0:
        return 2 if static_or_repeated else 1
    return 3 if static_or_repeated else 2


# ---------------------------------------------------------------- tables

def _check(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"RULA {name} score must be {low}..{high}, got {value}")


def table_a(upper_arm: int, lower_arm: int, wrist: int, wrist_twist: int) -> int:
    """Posture score A of the arm and wrist."""
    _check("upper arm", upper_arm, 1, 6)
    _check("lower arm", lower_arm, 1, 3)
    _check("wrist", wrist, 1, 4)
    _check("wrist twist", wrist_twist, 1, 2)
    return TABLE_A[upper_arm - 1][lower_arm - 1][(wrist - 1) * 2 + wrist_twist - 1]


def table_b(neck: int, trunk: int, legs: int) -> int:
    """Posture score B of neck, trunk and legs."""
    _check("neck", neck, 1, 6)
    _check("trunk", trunk, 1, 6)
    _check("legs", legs, 1, 2)
    return TABLE_B[neck - 1][(trunk - 1) * 2 + legs - 1]


def table_c(score_c: int, score_d: int) -> int:
    """Grand score from score C (rows 1..8+) and score D (columns 1..7+)."""
    if score_c < 1 or score_d < 1:
        raise ValueError(f"RULA scores C and D must be >= 1, got {score_c}, {score_d}")
    return TABLE_C[min(score_c, 8) - 1][min(score_d, 7) - 1]


def action_level(grand: int) -> int:
    """Action level 1..4: grand 1-2 -> 1, 3-4 -> 2, 5-6 -> 3, 7 -> 4."""
    if grand < 1:
        raise ValueError(f"RULA grand score must be >= 1, got {grand}")
    if grand <= 2:
        return 1
    if grand <= 4:
        return 2
    if grand <= 6:
        return 3
    return 4


# ---------------------------------------------------------------- whole assessment

@dataclass(frozen=True, slots=True)
class RulaScore:
    """RULA of one side of the body with every intermediate score."""

    side: Side
    upper_arm: int
    lower_arm: int
    wrist: int
    wrist_twist: int
    posture_a: int
    muscle_use: int
    force_load: int
    score_c: int
    neck: int
    trunk: int
    legs: int
    posture_b: int
    score_d: int
    grand: int
    action_level: int
    confidence: float
    wrist_measured: bool = True


@dataclass(frozen=True, slots=True)
class RulaAssessment:
    """RULA of both sides; ``grand`` and ``action_level`` are those of the worse side.

    ``confidence`` is the lower of the two sides: the worse side can only be
    known as well as the less visible one.
    """

    left: RulaScore
    right: RulaScore
    grand: int
    action_level: int
    worse_side: Side
    confidence: float

    def side(self, side: Side) -> RulaScore:
        return self.left if side is Side.LEFT else self.right


def rula_score(side: Side, *, upper_arm: int, lower_arm: int, wrist: int, wrist_twist: int,
               neck: int, trunk: int, legs: int, muscle_use: int = 0, force_load: int = 0,
               confidence: float = 1.0, wrist_measured: bool = True) -> RulaScore:
    """RULA of one side from its body-part scores: tables A, B, C and the action level."""
    posture_a = table_a(upper_arm, lower_arm, wrist, wrist_twist)
    posture_b = table_b(neck, trunk, legs)
    score_c = posture_a + muscle_use + force_load
    score_d = posture_b + muscle_use + force_load
    grand = table_c(score_c, score_d)
    return RulaScore(
        side=side, upper_arm=upper_arm, lower_arm=lower_arm, wrist=wrist,
        wrist_twist=wrist_twist, posture_a=posture_a, muscle_use=muscle_use,
        force_load=force_load, score_c=score_c, neck=neck, trunk=trunk, legs=legs,
        posture_b=posture_b, score_d=score_d, grand=grand, action_level=action_level(grand),
        confidence=confidence, wrist_measured=wrist_measured,
    )


def rula_from_angles(angles: JointAngles, *, load_kg: float = 0.0,
                     load_static_or_repeated: bool = False, shock: bool = False,
                     muscle_use_static: bool = False, muscle_use_repetitive: bool = False,
                     arm_supported: bool = False, legs_supported: bool = True,
                     wrist_twist_end_of_range: bool = False) -> RulaAssessment:
    """RULA of one frame, left and right side scored separately.

    ``legs_supported``: feet supported and weight evenly balanced (a one-leg
    stance seen in ``angles`` overrides it). ``arm_supported``: arm supported
    or the person leaning (-1 on the upper arm, both sides).
    """
    neck = neck_score(angles.neck_flexion,
                      twisted=abs(angles.neck_twist) > TWIST_THRESHOLD_DEG,
                      side_bent=abs(angles.neck_side_bend) > SIDE_BEND_THRESHOLD_DEG)
    trunk = trunk_score(angles.trunk_flexion,
                        twisted=abs(angles.trunk_twist) > TWIST_THRESHOLD_DEG,
                        side_bent=abs(angles.trunk_side_bend) > SIDE_BEND_THRESHOLD_DEG)
    legs = legs_score(legs_supported and not angles.one_leg_stance)
    muscle = muscle_use_score(muscle_use_static, muscle_use_repetitive)
    force = force_load_score(load_kg, static_or_repeated=load_static_or_repeated, shock=shock)
    twist = wrist_twist_score(wrist_twist_end_of_range)
    body_conf = min(angles.neck_confidence, angles.trunk_confidence)

    def one_side(side: Side, arm: ArmAngles) -> RulaScore:
        return rula_score(
            side,
            upper_arm=upper_arm_score(arm.upper_arm_flexion, shoulder_raised=arm.shoulder_raised,
                                      abducted=arm.upper_arm_abduction > ABDUCTION_THRESHOLD_DEG,
                                      supported=arm_supported),
            lower_arm=lower_arm_score(arm.lower_arm_flexion,
                                      across_midline_or_out_to_side=arm.across_midline
                                      or arm.out_to_side),
            wrist=wrist_score(arm.wrist_flexion, arm.wrist_deviation),
            wrist_twist=twist, neck=neck, trunk=trunk, legs=legs,
            muscle_use=muscle, force_load=force,
            confidence=min(arm.confidence, body_conf),
            wrist_measured=arm.wrist_flexion is not None,
        )

    left = one_side(Side.LEFT, angles.left)
    right = one_side(Side.RIGHT, angles.right)
    worse = right if (right.grand, right.score_c) > (left.grand, left.score_c) else left
    return RulaAssessment(left=left, right=right, grand=worse.grand,
                          action_level=worse.action_level, worse_side=worse.side,
                          confidence=min(left.confidence, right.confidence))
