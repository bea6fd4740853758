"""REBA against the published tables and text (ergonomics/data/rula-reba-tables.md).

Golden values come from the reference file (parsed here by the test's own
parser) or are worked out by hand in the comments, never from running the code.
"""

from __future__ import annotations

import pytest

from ergonomics import reba
from ergonomics.angles import ArmAngles, JointAngles
from ergonomics.landmarks import Side
from ergonomics.reba import Coupling
from tests.reference_tables import TABLES

# ------------------------------------------------------------------ tables, every cell

def test_table_a_every_cell() -> None:
    checked = 0
    for row in TABLES[("REBA", "Table A")]:
        neck, groups = int(row[0]), row[1:]
        assert len(groups) == 5
        for trunk, group in enumerate(groups, start=1):
            values = [int(v) for v in group.split()]
            assert len(values) == 4
            for legs, expected in enumerate(values, start=1):
                assert reba.table_a(neck, trunk, legs) == expected, (neck, trunk, legs)
                checked += 1
    assert checked == 3 * 5 * 4


def test_table_b_every_cell() -> None:
    checked = 0
    for row in TABLES[("REBA", "Table B")]:
        lower, groups = int(row[0]), row[1:]
        assert len(groups) == 6
        for upper, group in enumerate(groups, start=1):
            values = [int(v) for v in group.split()]
            assert len(values) == 3
            for wrist, expected in enumerate(values, start=1):
                assert reba.table_b(upper, lower, wrist) == expected, (upper, lower, wrist)
                checked += 1
    assert checked == 2 * 6 * 3


def test_table_c_every_cell() -> None:
    checked = 0
    for row in TABLES[("REBA", "Table C")]:
        a, values = int(row[0]), [int(v) for v in row[1:]]
        assert len(values) == 12
        for b, expected in enumerate(values, start=1):
            assert reba.table_c(a, b) == expected, (a, b)
            checked += 1
    assert checked == 12 * 12


def test_tables_reject_out_of_range_scores() -> None:
    with pytest.raises(ValueError):
        reba.table_a(4, 1, 1)
    with pytest.raises(ValueError):
        reba.table_a(1, 1, 5)
    with pytest.raises(ValueError):
        reba.table_b(7, 1, 1)
    with pytest.raises(ValueError):
        reba.table_b(1, 3, 1)
    with pytest.raises(ValueError):
        reba.table_c(13, 1)


# ------------------------------------------------------------------ bands, from the text

# trunk upright = 1, 0-20 flexion or extension = 2, 20-60 flexion or > 20 extension = 3,
# > 60 flexion = 4; +1 twisted or side-flexed
@pytest.mark.parametrize(("deg", "band"), [
    (0, 1), (reba.NEUTRAL_TOLERANCE_DEG, 1), (reba.NEUTRAL_TOLERANCE_DEG + 1, 2), (20, 2),
    (21, 3), (60, 3), (61, 4), (95, 4), (-reba.NEUTRAL_TOLERANCE_DEG, 1), (-10, 2), (-20, 2),
    (-21, 3), (-40, 3),
])
def test_trunk_bands(deg: float, band: int) -> None:
    assert reba.trunk_score(deg) == band
    assert reba.trunk_score(deg, twisted_or_side_flexed=True) == band + 1


# neck 0-20 flexion = 1, > 20 flexion or in extension = 2; +1 twisted or side-flexed
@pytest.mark.parametrize(("deg", "band"), [
    (0, 1), (10, 1), (20, 1), (21, 2), (50, 2), (-reba.NEUTRAL_TOLERANCE_DEG, 1),
    (-reba.NEUTRAL_TOLERANCE_DEG - 1, 2), (-30, 2),
])
def test_neck_bands(deg: float, band: int) -> None:
    assert reba.neck_score(deg) == band
    assert reba.neck_score(deg, twisted_or_side_flexed=True) == band + 1


# legs bilateral = 1, unilateral = 2; +1 knees 30-60, +2 knees > 60 (not when sitting)
@pytest.mark.parametrize(("knee", "extra"), [
    (0, 0), (29, 0), (30, 1), (45, 1), (60, 1), (61, 2), (100, 2),
])
def test_leg_bands(knee: float, extra: int) -> None:
    assert reba.legs_score(True, knee) == 1 + extra
    assert reba.legs_score(False, knee) == 2 + extra
    assert reba.legs_score(True, knee, sitting=True) == 1


# upper arm as RULA: 20 ext-20 flex = 1, > 20 ext or 20-45 = 2, 45-90 = 3, > 90 = 4
@pytest.mark.parametrize(("deg", "band"), [
    (-21, 2), (-20, 1), (0, 1), (19, 1), (20, 1), (21, 2), (45, 2), (46, 3), (90, 3), (91, 4),
])
def test_upper_arm_bands(deg: float, band: int) -> None:
    assert reba.upper_arm_score(deg) == band
    assert reba.upper_arm_score(deg, abducted_or_rotated=True) == band + 1
    assert reba.upper_arm_score(deg, shoulder_raised=True) == band + 1
    assert reba.upper_arm_score(deg, abducted_or_rotated=True, shoulder_raised=True) == band + 2
    assert reba.upper_arm_score(deg, supported=True) == max(1, band - 1)


# lower arm 60-100 = 1, otherwise 2
@pytest.mark.parametrize(("deg", "band"), [(0, 2), (59, 2), (60, 1), (100, 1), (101, 2)])
def test_lower_arm_bands(deg: float, band: int) -> None:
    assert reba.lower_arm_score(deg) == band


# wrist 0-15 flexion/extension = 1, > 15 = 2; +1 deviated or twisted
@pytest.mark.parametrize(("deg", "band"), [(0, 1), (15, 1), (-15, 1), (16, 2), (-16, 2), (50, 2)])
def test_wrist_bands(deg: float, band: int) -> None:
    assert reba.wrist_score(deg) == band
    assert reba.wrist_score(deg, reba.WRIST_DEVIATION_THRESHOLD_DEG + 1) == band + 1
    assert reba.wrist_score(deg, -reba.WRIST_DEVIATION_THRESHOLD_DEG) == band
    assert reba.wrist_score(deg, 0.0, twisted=True) == band + 1
    assert reba.wrist_score(deg, 25.0, twisted=True) == band + 1  # one point, not two


def test_unknown_wrist_is_not_neutral() -> None:
    assert reba.wrist_score(None) == reba.UNKNOWN_WRIST_BAND == 2


# load < 5 kg = 0, 5-10 kg = 1, > 10 kg = 2; +1 shock or rapid build-up
@pytest.mark.parametrize(("kg", "score"), [(0, 0), (4.99, 0), (5, 1), (10, 1), (10.01, 2),
                                           (30, 2)])
def test_load(kg: float, score: int) -> None:
    assert reba.load_score(kg) == score
    assert reba.load_score(kg, shock=True) == score + 1


def test_coupling_and_activity() -> None:
    names = {"good": 0, "fair": 1, "poor": 2, "unacceptable": 3}
    for name, score in names.items():
        assert reba.coupling_score(name) == score
        assert reba.coupling_score(Coupling[name.upper()]) == score
        assert reba.coupling_score(score) == score
    with pytest.raises(ValueError):
        reba.coupling_score("slippery")
    assert reba.activity_score() == 0
    assert reba.activity_score(static=True) == 1
    assert reba.activity_score(True, True) == 2
    assert reba.activity_score(True, True, True) == 3


# 1 negligible (0), 2-3 low (1), 4-7 medium (2), 8-10 high (3), 11-15 very high (4)
@pytest.mark.parametrize(("score", "level", "name"), [
    (1, 0, "negligible"), (2, 1, "low"), (3, 1, "low"), (4, 2, "medium"), (7, 2, "medium"),
    (8, 3, "high"), (10, 3, "high"), (11, 4, "very high"), (15, 4, "very high"),
])
def test_action_levels(score: int, level: int, name: str) -> None:
    assert reba.action_level(score) == level
    assert reba.risk_level(score) == name


# ------------------------------------------------------------------ worked examples

def arm(flexion: float = 0.0, *, abduction: float = 0.0, raised: bool = False,
        elbow: float = 80.0, wrist: float | None = 0.0, deviation: float | None = 0.0,
        confidence: float = 1.0) -> ArmAngles:
    return ArmAngles(upper_arm_flexion=flexion, upper_arm_abduction=abduction,
                     shoulder_raised=raised, lower_arm_flexion=elbow, across_midline=False,
                     out_to_side=False, wrist_flexion=wrist, wrist_deviation=deviation,
                     confidence=confidence)


def posture(left: ArmAngles, right: ArmAngles, *, neck: float = 0.0, neck_twist: float = 0.0,
            trunk: float = 0.0, trunk_twist: float = 0.0, trunk_side: float = 0.0,
            knees: tuple[float, float] = (0.0, 0.0), one_leg: bool = False,
            confidences: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> JointAngles:
    return JointAngles(left=left, right=right, neck_flexion=neck, neck_twist=neck_twist,
                       neck_side_bend=0.0, trunk_flexion=trunk, trunk_twist=trunk_twist,
                       trunk_side_bend=trunk_side, knee_flexion_left=knees[0],
                       knee_flexion_right=knees[1], one_leg_stance=one_leg,
                       neck_confidence=confidences[0], trunk_confidence=confidences[1],
                       legs_confidence=confidences[2])


def test_worked_example_lifting_from_a_low_bin() -> None:
    # Trunk 30 deg flexion -> 3 (20-60), twisted 15 deg (> 10) -> +1 = 4.
    # Neck 25 deg flexion -> 2 (> 20). Legs bilateral -> 1, knees 40 deg (30-60) -> +1 = 2.
    #   Table A, row neck 2, trunk 4 group "5 6 7 8", legs 2 -> 6. Load 7 kg (5-10) -> +1:
    #   score A = 7.
    # Left arm: upper arm 50 deg -> 3 (45-90), abducted 30 deg (> 20) -> +1 = 4.
    #   Lower arm 110 deg -> 2. Wrist 20 deg -> 2 (> 15), deviated 15 deg -> +1 = 3.
    #   Table B, row lower arm 2, UA 4 group "5 6 7", wrist 3 -> 7. Fair coupling +1: B = 8.
    #   Table C row 7: "7 7 7 8 9 9 9 10 10 11 11 11", column 8 -> 10.
    #   Activity: static +1, repeated +1 -> REBA 12 -> action level 4, very high.
    # Right arm: UA 10 deg -> 1, LA 80 deg -> 1, wrist 0 -> 1: Table B -> 1, +1 coupling = 2.
    #   Table C row 7, column 2 -> 7; + 2 activity = 9 -> action level 3, high.
    angles = posture(arm(50, abduction=30, elbow=110, wrist=20, deviation=15),
                     arm(10, elbow=80, wrist=0), neck=25, trunk=30, trunk_twist=15,
                     knees=(40.0, 35.0))
    result = reba.reba_from_angles(angles, load_kg=7.0, coupling=Coupling.FAIR, static=True,
                                   repeated=True)
    left = result.left
    assert (left.trunk, left.neck, left.legs, left.posture_a, left.load, left.score_a) == (
        4, 2, 2, 6, 1, 7)
    assert (left.upper_arm, left.lower_arm, left.wrist, left.posture_b) == (4, 2, 3, 7)
    assert (left.coupling, left.score_b, left.score_c, left.activity) == (1, 8, 10, 2)
    assert (left.score, left.action_level, left.risk) == (12, 4, "very high")
    right = result.right
    assert (right.posture_b, right.score_b, right.score_c, right.score) == (1, 2, 7, 9)
    assert (right.action_level, right.risk) == (3, "high")
    assert (result.score, result.action_level, result.risk, result.worse_side) == (
        12, 4, "very high", Side.LEFT)


def test_worked_example_seated_overhead_reach_unknown_wrist() -> None:
    # Sitting: legs 1 (the knees' 90 deg do not count). Trunk upright -> 1.
    # Neck 15 deg extension (beyond the 5 deg tolerance) -> 2.
    #   Table A, row neck 2, trunk 1 group "1 2 3 4", legs 1 -> 1. No load: score A = 1.
    # Right arm: upper arm 95 deg -> 4, shoulder raised +1, supported -1 -> 4.
    #   Lower arm 45 deg -> 2. Wrist not measured -> 2, twisted -> +1 = 3.
    #   Table B, row lower arm 2, UA 4 group "5 6 7", wrist 3 -> 7. Poor coupling +2: B = 9.
    #   Table C row 1: "1 1 1 2 3 3 4 5 6 7 7 7", column 9 -> 6. No activity: 6, medium.
    # Left arm: upper arm 0 -> 1, supported -1 -> stays 1. Lower arm 45 -> 2.
    #   Wrist 0 -> 1, twisted -> +1 = 2. Table B row 2, UA 1 group "1 2 3", wrist 2 -> 2.
    #   B = 2 + 2 = 4. Table C row 1, column 4 -> 2: low.
    angles = posture(arm(0, elbow=45), arm(95, raised=True, elbow=45, wrist=None, deviation=None,
                                           confidence=0.5),
                     neck=-15, knees=(90.0, 90.0))
    result = reba.reba_from_angles(angles, coupling="poor", arm_supported=True, sitting=True,
                                   wrist_twisted=True)
    r = result.right
    assert (r.legs, r.trunk, r.neck, r.posture_a, r.score_a) == (1, 1, 2, 1, 1)
    assert (r.upper_arm, r.lower_arm, r.wrist, r.posture_b, r.score_b) == (4, 2, 3, 7, 9)
    assert (r.score_c, r.score, r.action_level, r.risk) == (6, 6, 2, "medium")
    assert not r.wrist_measured
    left = result.left
    assert (left.upper_arm, left.lower_arm, left.wrist, left.score_b, left.score) == (
        1, 2, 2, 4, 2)
    assert left.risk == "low"
    assert (result.score, result.worse_side, result.confidence) == (6, Side.RIGHT, 0.5)


def test_highest_possible_score() -> None:
    # neck 3, trunk 5, legs 4 -> Table A 9; + load 3 = 12. UA 6, LA 2, wrist 3 -> Table B 9;
    # + coupling 3 = 12. Table C (12, 12) -> 12; + activity 3 = 15: very high.
    s = reba.reba_score(Side.LEFT, neck=3, trunk=5, legs=4, upper_arm=6, lower_arm=2, wrist=3,
                        load=3, coupling=3, activity=3)
    assert (s.posture_a, s.score_a, s.posture_b, s.score_b, s.score_c, s.score) == (
        9, 12, 9, 12, 12, 15)
    assert (s.action_level, s.risk) == (4, "very high")


# ------------------------------------------------------------------ reba_from_angles details

def test_one_leg_stance_and_the_more_bent_knee() -> None:
    a = reba.reba_from_angles(posture(arm(), arm(), one_leg=True, knees=(10.0, 70.0)))
    assert a.left.legs == a.right.legs == 2 + 2


def test_rapid_change_and_shock() -> None:
    a = reba.reba_from_angles(posture(arm(), arm()), rapid_change=True, load_kg=12.0, shock=True)
    assert a.left.activity == 1 and a.left.load == 3


def test_rotation_flag_counts_as_abduction() -> None:
    a = reba.reba_from_angles(posture(arm(60), arm(60)), upper_arm_rotated=True)
    assert a.left.upper_arm == a.right.upper_arm == 3 + 1


def test_confidence_includes_the_legs() -> None:
    a = reba.reba_from_angles(posture(arm(confidence=0.9), arm(), confidences=(1.0, 1.0, 0.3)))
    assert a.left.confidence == 0.3 and a.confidence == 0.3
