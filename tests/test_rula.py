"""RULA against the published tables and text (ergonomics/data/rula-reba-tables.md).

Golden values come from the reference file (parsed here by the test's own
parser) or are worked out by hand in the comments, never from running the code.
"""

from __future__ import annotations

import pytest

from ergonomics import rula
from ergonomics.angles import ArmAngles, JointAngles
from ergonomics.landmarks import Side
from tests.reference_tables import TABLES



def _int(cell: str) -> int:
    return int(cell.rstrip("+"))


# ------------------------------------------------------------------ tables, every cell

def test_table_a_every_cell() -> None:
    rows = TABLES[("RULA", "Table A")]
    checked = 0
    for row in rows:
        ua, la, values = int(row[0]), int(row[1]), [int(c) for c in row[2:]]
        assert len(values) == 8
        for i, expected in enumerate(values):
            wrist, twist = i // 2 + 1, i % 2 + 1
            assert rula.table_a(ua, la, wrist, twist) == expected, (ua, la, wrist, twist)
            checked += 1
    assert checked == 6 * 3 * 4 * 2


def test_table_b_every_cell() -> None:
    rows = TABLES[("RULA", "Table B")]
    checked = 0
    for row in rows:
        neck, values = int(row[0]), [int(c) for c in row[1:]]
        assert len(values) == 12
        for i, expected in enumerate(values):
            trunk, legs = i // 2 + 1, i % 2 + 1
            assert rula.table_b(neck, trunk, legs) == expected, (neck, trunk, legs)
            checked += 1
    assert checked == 6 * 6 * 2


def test_table_c_every_cell_and_open_ends() -> None:
    rows = TABLES[("RULA", "Table C")]
    checked = 0
    for row in rows:
        c, values = _int(row[0]), [int(v) for v in row[1:]]
        assert len(values) == 7
        for i, expected in enumerate(values):
            d = i + 1
            assert rula.table_c(c, d) == expected, (c, d)
            checked += 1
    assert checked == 8 * 7
    # "8+" and "7+": anything higher reads the last row / column
    last_row = [int(v) for v in rows[-1][1:]]
    assert [rula.table_c(11, d) for d in range(1, 8)] == last_row
    assert rula.table_c(3, 9) == int(rows[2][7])
    assert rula.table_c(12, 12) == int(rows[-1][7])


def test_tables_reject_out_of_range_scores() -> None:
    with pytest.raises(ValueError):
        rula.table_a(7, 1, 1, 1)
    with pytest.raises(ValueError):
        rula.table_a(1, 1, 5, 1)
    with pytest.raises(ValueError):
        rula.table_b(1, 7, 1)
    with pytest.raises(ValueError):
        rula.table_b(1, 1, 3)
    with pytest.raises(ValueError):
        rula.table_c(0, 1)


# ------------------------------------------------------------------ bands, from the text

# upper arm 20 ext-20 flex = 1, > 20 ext or 20-45 flex = 2, 45-90 = 3, > 90 = 4
@pytest.mark.parametrize(("deg", "band"), [
    (-45, 2), (-21, 2), (-20, 1), (-19, 1), (0, 1), (19, 1), (20, 1), (21, 2), (45, 2),
    (46, 3), (90, 3), (91, 4), (180, 4),
])
def test_upper_arm_bands(deg: float, band: int) -> None:
    assert rula.upper_arm_score(deg) == band


def test_upper_arm_adjustments() -> None:
    assert rula.upper_arm_score(60, shoulder_raised=True) == 3 + 1
    assert rula.upper_arm_score(60, abducted=True) == 3 + 1
    assert rula.upper_arm_score(100, shoulder_raised=True, abducted=True) == 4 + 1 + 1
    assert rula.upper_arm_score(60, supported=True) == 3 - 1
    assert rula.upper_arm_score(0, supported=True) == 1  # never below the table's first row


# lower arm 60-100 = 1, < 60 or > 100 = 2
@pytest.mark.parametrize(("deg", "band"), [
    (0, 2), (59, 2), (60, 1), (80, 1), (100, 1), (101, 2), (150, 2),
])
def test_lower_arm_bands(deg: float, band: int) -> None:
    assert rula.lower_arm_score(deg) == band
    assert rula.lower_arm_score(deg, across_midline_or_out_to_side=True) == band + 1


# wrist neutral = 1, 0-15 = 2, > 15 = 3 (flexion or extension); neutral allows the tolerance
@pytest.mark.parametrize(("deg", "band"), [
    (0, 1), (rula.NEUTRAL_TOLERANCE_DEG, 1), (-rula.NEUTRAL_TOLERANCE_DEG, 1),
    (rula.NEUTRAL_TOLERANCE_DEG + 1, 2), (10, 2), (-10, 2), (15, 2), (-15, 2), (16, 3),
    (-16, 3), (60, 3),
])
def test_wrist_bands(deg: float, band: int) -> None:
    assert rula.wrist_score(deg) == band
    assert rula.wrist_score(deg, 0.0) == band
    # +1 bent from the midline (radial or ulnar deviation beyond the threshold)
    assert rula.wrist_score(deg, rula.WRIST_DEVIATION_THRESHOLD_DEG + 1) == band + 1
    assert rula.wrist_score(deg, -rula.WRIST_DEVIATION_THRESHOLD_DEG - 1) == band + 1
    assert rula.wrist_score(deg, rula.WRIST_DEVIATION_THRESHOLD_DEG) == band


def test_unknown_wrist_is_not_neutral() -> None:
    assert rula.wrist_score(None) == rula.UNKNOWN_WRIST_BAND == 2
    assert rula.wrist_score(None, 25.0) == 3


def test_wrist_twist() -> None:
    assert rula.wrist_twist_score(False) == 1
    assert rula.wrist_twist_score(True) == 2


# neck 0-10 = 1, 10-20 = 2, > 20 = 3, in extension = 4
@pytest.mark.parametrize(("deg", "band"), [
    (0, 1), (9, 1), (10, 1), (11, 2), (20, 2), (21, 3), (45, 3),
    (-rula.NEUTRAL_TOLERANCE_DEG, 1), (-rula.NEUTRAL_TOLERANCE_DEG - 1, 4), (-30, 4),
])
def test_neck_bands(deg: float, band: int) -> None:
    assert rula.neck_score(deg) == band
    assert rula.neck_score(deg, twisted=True) == band + 1
    assert rula.neck_score(deg, side_bent=True) == band + 1
    assert rula.neck_score(deg, twisted=True, side_bent=True) == band + 2


# trunk upright = 1, 0-20 = 2, 20-60 = 3, > 60 = 4; extension as REBA: <= 20 -> 2, > 20 -> 3
@pytest.mark.parametrize(("deg", "band"), [
    (0, 1), (rula.NEUTRAL_TOLERANCE_DEG, 1), (rula.NEUTRAL_TOLERANCE_DEG + 1, 2), (19, 2),
    (20, 2), (21, 3), (59, 3), (60, 3), (61, 4), (90, 4),
    (-rula.NEUTRAL_TOLERANCE_DEG, 1), (-10, 2), (-20, 2), (-21, 3),
])
def test_trunk_bands(deg: float, band: int) -> None:
    assert rula.trunk_score(deg) == band
    assert rula.trunk_score(deg, twisted=True) == band + 1
    assert rula.trunk_score(deg, twisted=True, side_bent=True) == band + 2


def test_legs_and_muscle_use() -> None:
    assert rula.legs_score(True) == 1
    assert rula.legs_score(False) == 2
    assert rula.muscle_use_score() == 0
    assert rula.muscle_use_score(static=True) == 1
    assert rula.muscle_use_score(repetitive=True) == 1
    assert rula.muscle_use_score(True, True) == 1


# < 2 kg intermittent = 0; 2-10 kg intermittent = 1; 2-10 kg static/repeated or > 10 kg
# intermittent = 2; > 10 kg static/repeated or shock = 3
@pytest.mark.parametrize(("kg", "static", "shock", "score"), [
    (0.0, False, False, 0), (1.99, False, False, 0), (1.5, True, False, 0),
    (2.0, False, False, 1), (10.0, False, False, 1), (2.0, True, False, 2), (10.0, True, False, 2),
    (10.01, False, False, 2), (25.0, False, False, 2), (10.01, True, False, 3),
    (0.0, False, True, 3), (5.0, True, True, 3),
])
def test_force_load(kg: float, static: bool, shock: bool, score: int) -> None:
    assert rula.force_load_score(kg, static_or_repeated=static, shock=shock) == score


def test_negative_load_is_an_error() -> None:
    with pytest.raises(ValueError):
        rula.force_load_score(-1.0)


# grand 1-2 -> 1, 3-4 -> 2, 5-6 -> 3, 7 -> 4
@pytest.mark.parametrize(("grand", "level"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3),
                                              (7, 4)])
def test_action_levels(grand: int, level: int) -> None:
    assert rula.action_level(grand) == level


# ------------------------------------------------------------------ worked examples

def arm(flexion: float = 0.0, *, abduction: float = 0.0, raised: bool = False,
        elbow: float = 80.0, across: bool = False, out: bool = False,
        wrist: float | None = 0.0, deviation: float | None = 0.0,
        confidence: float = 1.0) -> ArmAngles:
    return ArmAngles(upper_arm_flexion=flexion, upper_arm_abduction=abduction,
                     shoulder_raised=raised, lower_arm_flexion=elbow, across_midline=across,
                     out_to_side=out, wrist_flexion=wrist, wrist_deviation=deviation,
                     confidence=confidence)


def posture(left: ArmAngles, right: ArmAngles, *, neck: float = 0.0, neck_twist: float = 0.0,
            neck_side: float = 0.0, trunk: float = 0.0, trunk_twist: float = 0.0,
            trunk_side: float = 0.0, knees: tuple[float, float] = (0.0, 0.0),
            one_leg: bool = False, confidences: tuple[float, float, float] = (1.0, 1.0, 1.0)
            ) -> JointAngles:
    return JointAngles(left=left, right=right, neck_flexion=neck, neck_twist=neck_twist,
                       neck_side_bend=neck_side, trunk_flexion=trunk, trunk_twist=trunk_twist,
                       trunk_side_bend=trunk_side, knee_flexion_left=knees[0],
                       knee_flexion_right=knees[1], one_leg_stance=one_leg,
                       neck_confidence=confidences[0], trunk_confidence=confidences[1],
                       legs_confidence=confidences[2])


def test_worked_example_bent_over_reach_with_a_load() -> None:
    # Left arm: upper arm 50 deg flexion -> 3 (45-90), abducted 30 deg (> 20) -> +1 = 4.
    #   Lower arm 110 deg -> 2 (> 100), working across the midline -> +1 = 3.
    #   Wrist 20 deg flexion -> 3 (> 15), no deviation -> 3. Twist mid-range -> 1.
    #   Table A, row UA 4 / LA 3: "4 4 4 5 5 5 6 6", column W3 t1 (5th) -> 5.
    #   Muscle use static -> +1; 3 kg intermittent -> force 1 (2-10 kg intermittent).
    #   Score C = 5 + 1 + 1 = 7.
    # Neck 25 deg flexion -> 3 (> 20), twisted 15 deg (> 10) -> +1 = 4.
    # Trunk 30 deg flexion -> 3 (20-60). Legs supported and balanced -> 1.
    #   Table B, row neck 4: "5 5 5 6 6 7 7 7 7 7 8 8", column T3 L1 (5th) -> 6.
    #   Score D = 6 + 1 + 1 = 8 -> column "7+".
    # Table C, row 7: "5 5 6 6 7 7 7", column 7+ -> 7. Action level 4.
    # Right arm: upper arm 10 deg -> 1, lower arm 80 deg -> 1, wrist 0 -> 1, twist 1:
    #   Table A UA1/LA1 W1 t1 -> 1; score C = 1 + 1 + 1 = 3; Table C row 3 col 7+ -> 6 (level 3).
    # Grand = worse side = left: 7, action level 4.
    angles = posture(arm(50, abduction=30, elbow=110, across=True, wrist=20),
                     arm(10, elbow=80, wrist=0), neck=25, neck_twist=15, trunk=30)
    result = rula.rula_from_angles(angles, load_kg=3.0, muscle_use_static=True)
    left = result.left
    assert (left.upper_arm, left.lower_arm, left.wrist, left.wrist_twist) == (4, 3, 3, 1)
    assert (left.posture_a, left.muscle_use, left.force_load, left.score_c) == (5, 1, 1, 7)
    assert (left.neck, left.trunk, left.legs, left.posture_b, left.score_d) == (4, 3, 1, 6, 8)
    assert (left.grand, left.action_level) == (7, 4)
    right = result.right
    assert (right.upper_arm, right.lower_arm, right.wrist, right.posture_a) == (1, 1, 1, 1)
    assert (right.score_c, right.score_d, right.grand, right.action_level) == (3, 8, 6, 3)
    assert (result.grand, result.action_level, result.worse_side) == (7, 4, Side.LEFT)
    assert result.side(Side.RIGHT) is right


def test_worked_example_unknown_wrist_raised_shoulder() -> None:
    # Right arm: upper arm 30 deg -> 2 (20-45), shoulder raised -> +1 = 3.
    #   Lower arm 90 deg -> 1. Wrist not measured -> band 2 (documented choice).
    #   Wrist twist near the end of its range -> 2.
    #   Table A, row UA 3 / LA 1: "3 3 4 4 4 4 5 5", column W2 t2 (4th) -> 4.
    #   No muscle use, no load: score C = 4.
    # Neck 5 deg -> 1; trunk upright -> 1; legs 1: Table B row 1, T1 L1 -> 1; score D = 1.
    # Table C row 4, column 1 -> 3: action level 2.
    # Left arm hangs relaxed (UA 1, elbow 70 -> LA 1) with a measured neutral wrist (W1); the
    # twist flag holds for both hands (t2): Table A UA1/LA1 W1 t2 -> 2; Table C (2, 1) -> 2.
    angles = posture(arm(0, elbow=70), arm(30, raised=True, elbow=90, wrist=None,
                                           deviation=None, confidence=0.5), neck=5)
    result = rula.rula_from_angles(angles, wrist_twist_end_of_range=True)
    r = result.right
    assert (r.upper_arm, r.lower_arm, r.wrist, r.wrist_twist, r.posture_a) == (3, 1, 2, 2, 4)
    assert (r.score_c, r.posture_b, r.score_d, r.grand, r.action_level) == (4, 1, 1, 3, 2)
    assert not r.wrist_measured and result.left.wrist_measured
    assert (result.left.posture_a, result.left.grand) == (2, 2)
    assert (result.grand, result.worse_side) == (3, Side.RIGHT)
    assert r.confidence == 0.5 and result.confidence == 0.5


def test_rula_score_from_bands_matches_tables() -> None:
    # UA 6 / LA 3 / W4 t2 = 9 (last cell of Table A); neck 6 / T6 L2 = 9 (Table B);
    # C = 9 + 1 + 3 = 13 -> row 8+, D = 9 + 1 + 3 = 13 -> column 7+: Table C -> 7.
    s = rula.rula_score(Side.LEFT, upper_arm=6, lower_arm=3, wrist=4, wrist_twist=2, neck=6,
                        trunk=6, legs=2, muscle_use=1, force_load=3)
    assert (s.posture_a, s.posture_b, s.score_c, s.score_d, s.grand, s.action_level) == (
        9, 9, 13, 13, 7, 4)


# ------------------------------------------------------------------ rula_from_angles details

def test_legs_unsupported_or_one_leg_stance_score_two() -> None:
    neutral = posture(arm(), arm())
    assert rula.rula_from_angles(neutral).left.legs == 1
    assert rula.rula_from_angles(neutral, legs_supported=False).left.legs == 2
    assert rula.rula_from_angles(posture(arm(), arm(), one_leg=True)).right.legs == 2


def test_abduction_threshold_and_arm_support() -> None:
    t = rula.ABDUCTION_THRESHOLD_DEG
    a = rula.rula_from_angles(posture(arm(60, abduction=t + 1), arm(60, abduction=t - 1)))
    assert a.left.upper_arm == 4 and a.right.upper_arm == 3
    b = rula.rula_from_angles(posture(arm(60), arm(60)), arm_supported=True)
    assert b.left.upper_arm == 2 and b.right.upper_arm == 2


def test_out_to_side_adds_to_lower_arm() -> None:
    a = rula.rula_from_angles(posture(arm(elbow=80, out=True), arm(elbow=80)))
    assert a.left.lower_arm == 2 and a.right.lower_arm == 1


def test_trunk_and_neck_side_bend_twist_thresholds() -> None:
    t, s = rula.TWIST_THRESHOLD_DEG, rula.SIDE_BEND_THRESHOLD_DEG
    a = rula.rula_from_angles(posture(arm(), arm(), trunk=30, trunk_twist=-(t + 1),
                                      trunk_side=s + 1, neck_side=-(s + 1)))
    assert a.left.trunk == 3 + 1 + 1 and a.left.neck == 1 + 1
    b = rula.rula_from_angles(posture(arm(), arm(), trunk=30, trunk_twist=t, trunk_side=-s))
    assert b.left.trunk == 3


def test_tie_between_sides_and_confidence() -> None:
    a = rula.rula_from_angles(posture(arm(confidence=0.9), arm(confidence=0.4),
                                      confidences=(0.8, 1.0, 0.1)))
    assert a.left.grand == a.right.grand == a.grand
    assert a.left.confidence == 0.8 and a.right.confidence == 0.4
    assert a.confidence == 0.4
