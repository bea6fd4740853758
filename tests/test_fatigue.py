"""Three-compartment fatigue model (Xia & Frey Law 2008) with Frey-Law et al. (2012) parameters.

References are computed here independently of ergonomics.fatigue: a plain explicit Euler
loop of the published equations with a very small step, and the closed form of a
sustained contraction. Parameter values are typed from the sources named in the module.
"""

from __future__ import annotations

import math

import pytest

from ergonomics.angles import ArmAngles, JointAngles
from ergonomics.fatigue import (
    CONTROLLER_GAIN,
    JOINT_PARAMETERS,
    FatigueModel,
    FatigueParameters,
    StrengthProfile,
    endurance_time_s,
    region_parameters,
    target_load,
)
from ergonomics.landmarks import Side

SHOULDER_F, SHOULDER_R = 0.0182, 0.00168     # Frey-Law et al. 2012 (abstract)
ELBOW_F, ELBOW_R = 0.00912, 0.00094          # Frey-Law et al. 2012 (elbow)


def euler_reference(tl_profile, duration_s: float, f: float, r: float, dt: float = 1e-3,
                    gain: float = 10.0):
    """Explicit Euler of the 3CC equations; yields (t, MA, MR, MF) every step."""
    ma, mr, mf = 0.0, 100.0, 0.0
    t = 0.0
    n = int(round(duration_s / dt))
    for _ in range(n):
        tl = tl_profile(t)
        if ma < tl and mr > tl - ma:
            c = gain * (tl - ma)
        elif ma < tl:
            c = gain * mr
        else:
            c = gain * (tl - ma)
        dma, dmr, dmf = c - f * ma, -c + r * mf, f * ma - r * mf
        ma, mr, mf = ma + dt * dma, mr + dt * dmr, mf + dt * dmf
        t += dt
        yield t, ma, mr, mf


def first_time(samples, predicate) -> float:
    for t, ma, mr, mf in samples:
        if predicate(ma, mr, mf):
            return t
    return math.inf


def run_model(model: FatigueModel, region: str, tl: float, dt: float, until: float,
              predicate) -> float:
    """Time at which the predicate on the model's state first holds, to within dt."""
    t = 0.0
    while t < until:
        s = model.update(dt, {region: tl}).regions[region]
        t += dt
        if predicate(s):
            return t
    return math.inf


def test_published_parameters() -> None:
    assert JOINT_PARAMETERS["shoulder"].fatigue == SHOULDER_F
    assert JOINT_PARAMETERS["shoulder"].recovery == SHOULDER_R
    assert JOINT_PARAMETERS["elbow"].fatigue == ELBOW_F
    assert JOINT_PARAMETERS["elbow"].recovery == ELBOW_R
    assert CONTROLLER_GAIN == 10.0
    # no published neck values: the shoulder's, the nearest documented region
    assert region_parameters("neck") == JOINT_PARAMETERS["shoulder"]
    with pytest.raises(ValueError):
        region_parameters("knee_left")


def test_fatigue_rises_under_a_sustained_30_percent_load() -> None:
    model = FatigueModel(["shoulder_left"])
    previous = 0.0
    for _ in range(600):                      # 60 s at 0.1 s
        s = model.update(0.1, {"shoulder_left": 30.0}).regions["shoulder_left"]
        assert s.fatigued > previous
        assert s.active + s.resting + s.fatigued == pytest.approx(100.0)
        previous = s.fatigued
    assert s.active == pytest.approx(30.0, rel=0.01)     # MA tracks TL (L/(L+F) = 0.998)
    assert s.residual_capacity == pytest.approx(100.0 - s.fatigued)


def test_time_to_reach_20_percent_fatigue_matches_euler_and_closed_form() -> None:
    euler_t = first_time(euler_reference(lambda t: 30.0, 100.0, SHOULDER_F, SHOULDER_R),
                         lambda ma, mr, mf: mf >= 20.0)
    # closed form with MA held at TL: MF = (F TL / R)(1 - exp(-R t))
    #   t = -ln(1 - R x 20 / (F x 30)) / R = -ln(1 - 0.0336/0.546) / 0.00168 = 37.8 s
    closed = -math.log(1.0 - SHOULDER_R * 20.0 / (SHOULDER_F * 30.0)) / SHOULDER_R
    model_t = run_model(FatigueModel(["shoulder_left"]), "shoulder_left", 30.0, 0.01, 100.0,
                        lambda s: s.fatigued >= 20.0)
    assert closed == pytest.approx(37.8, abs=0.05)
    assert model_t == pytest.approx(euler_t, rel=0.01)
    assert model_t == pytest.approx(closed, rel=0.01)


def test_endurance_time_matches_euler_and_closed_form() -> None:
    # failure: MA can no longer reach TL, i.e. MF reaches 100 - TL
    #   closed form t = -ln(1 - R (100 - TL)/(F TL)) / R = -ln(1 - 0.1176/0.546)/0.00168 = 144.4 s
    closed = -math.log(1.0 - SHOULDER_R * 70.0 / (SHOULDER_F * 30.0)) / SHOULDER_R
    assert closed == pytest.approx(144.4, abs=0.1)
    shoulder = FatigueParameters(SHOULDER_F, SHOULDER_R)
    assert endurance_time_s(30.0, shoulder) == pytest.approx(closed)
    euler_t = first_time(euler_reference(lambda t: 30.0, 200.0, SHOULDER_F, SHOULDER_R),
                         lambda ma, mr, mf: mr <= 30.0 - ma and ma < 30.0)
    model_t = run_model(FatigueModel(["shoulder_left"]), "shoulder_left", 30.0, 0.05, 200.0,
                        lambda s: s.task_failure)
    assert model_t == pytest.approx(euler_t, rel=0.01)
    assert model_t == pytest.approx(closed, rel=0.01)
    # a load below R/(F+R) = 8.45 % MVC can be held for ever
    assert math.isinf(endurance_time_s(8.0, FatigueParameters(SHOULDER_F, SHOULDER_R)))


def test_follows_euler_through_failure_and_recovery() -> None:
    # 30 % for 200 s (fails at ~144 s and goes on failing), then rest for 300 s
    def profile(t: float) -> float:
        return 30.0 if t < 200.0 else 0.0

    reference = {}
    for t, ma, mr, mf in euler_reference(profile, 500.0, ELBOW_F * 2, ELBOW_R * 2, dt=2e-3):
        for mark in (100.0, 200.0, 500.0):
            if abs(t - mark) < 1e-6:
                reference[mark] = mf
    params = {"x": FatigueParameters(ELBOW_F * 2, ELBOW_R * 2)}
    model = FatigueModel(params)
    t = 0.0
    for mark in (100.0, 200.0, 500.0):
        while t < mark - 1e-9:
            model.update(0.5, {"x": profile(t)})
            t += 0.5
        assert model.state().fatigued("x") == pytest.approx(reference[mark], rel=0.01), mark


def test_recovers_at_rest() -> None:
    model = FatigueModel(["shoulder_right"])
    for _ in range(120):
        model.update(1.0, {"shoulder_right": 30.0})
    mf0 = model.state().fatigued("shoulder_right")
    s = model.update(600.0, {}).regions["shoulder_right"]       # rest, or the cobot does it
    assert s.fatigued < mf0
    # at rest MA falls to 0 within a second; then MF decays as exp(-R t)
    assert s.fatigued == pytest.approx(mf0 * math.exp(-SHOULDER_R * 600.0), rel=0.01)
    assert s.active == pytest.approx(0.0, abs=1e-6)
    assert not s.task_failure


@pytest.mark.parametrize("region", ["shoulder_left", "trunk", "hand_right"])
def test_step_size_independence(region: str) -> None:
    # 30 % for 200 s (past failure for the shoulder), rest 300 s, 15 % for 100 s
    phases = [(200.0, 30.0), (300.0, 0.0), (100.0, 15.0)]
    results = {}
    for dt in (0.05, 5.0):
        model = FatigueModel([region])
        marks = []
        for length, tl in phases:
            for _ in range(int(round(length / dt))):
                model.update(dt, {region: tl})
            marks.append(model.state().fatigued(region))
        results[dt] = marks
    for fine, coarse in zip(results[0.05], results[5.0]):
        assert coarse == pytest.approx(fine, rel=0.01)


def test_one_big_step_equals_many_small_ones() -> None:
    a, b = FatigueModel(["elbow_left"]), FatigueModel(["elbow_left"])
    a.update(60.0, {"elbow_left": 40.0})
    for _ in range(2000):
        b.update(0.03, {"elbow_left": 40.0})
    assert a.state().fatigued("elbow_left") == pytest.approx(b.state().fatigued("elbow_left"),
                                                             rel=1e-3)


def test_input_checks() -> None:
    model = FatigueModel(["trunk"])
    with pytest.raises(ValueError):
        model.update(1.0, {"knee": 10.0})
    with pytest.raises(ValueError):
        model.update(1.0, {"trunk": -5.0})
    with pytest.raises(ValueError):
        model.update(-1.0, {})
    s = model.update(1.0, {"trunk": 150.0})      # held at 100 % MVC
    assert s.regions["trunk"].target_load == 100.0


# ------------------------------------------------------------------ target loads from posture

def _arm(flexion: float, abduction: float = 0.0, elbow: float = 0.0) -> ArmAngles:
    return ArmAngles(upper_arm_flexion=flexion, upper_arm_abduction=abduction,
                     shoulder_raised=False, lower_arm_flexion=elbow, across_midline=False,
                     out_to_side=False, wrist_flexion=None, wrist_deviation=None, confidence=1.0)


def _angles(left: ArmAngles, right: ArmAngles, trunk: float = 0.0) -> JointAngles:
    return JointAngles(left=left, right=right, neck_flexion=0.0, neck_twist=0.0,
                       neck_side_bend=0.0, trunk_flexion=trunk, trunk_twist=0.0,
                       trunk_side_bend=0.0, knee_flexion_left=0.0, knee_flexion_right=0.0,
                       one_leg_stance=False)


def test_arm_straight_forward_by_hand() -> None:
    """Arm at 90 degrees flexion, elbow straight, 75 kg, 1.75 m, men's strength.

    Lengths (Winter Fig. 4.1): upper arm .186 x 1.75 = .3255, forearm .2555, hand .189 m.
    Masses (Winter Table 4.1): 2.1, 1.2, 0.45 kg. Lever arms: upper arm .436 x .3255 =
    .14192; forearm .3255 + .430 x .2555 = .43537; hand .3255 + .2555 + .506 x .189 = .67663.
    Moment = 9.81 x (2.1 x .14192 + 1.2 x .43537 + 0.45 x .67663) = 9.81 x 1.12495 = 11.036 N m.
    Maximum at 90 degrees: 89.9 + (68.6 - 89.9) x 90/45 = 47.3 N m -> 23.33 % MVC.
    Elbow: 9.81 x (1.2 x .10987 + 0.45 x (.2555 + .09563)) = 9.81 x .28985 = 2.8434 N m;
    maximum .78 x 75 = 58.5 N m -> 4.861 %.
    """
    loads = target_load(_angles(_arm(90.0), _arm(0.0)), 0.0, 75.0, 1.75,
                        strength=StrengthProfile.men())
    assert loads["shoulder_left"] == pytest.approx(23.33, abs=0.01)
    assert loads["elbow_left"] == pytest.approx(4.861, abs=0.005)
    assert loads["shoulder_right"] == pytest.approx(0.0, abs=1e-9)     # hanging, elbow straight
    assert "trunk" not in loads                                       # no sourced maximum


def test_unloaded_arm_at_90_degrees_against_dynamometer_data() -> None:
    # Holding the unloaded arm at 90 degrees flexion costs 22-25 % of maximal strength in men
    # and 34 % in women ("Isometric strength in flexors, abductors, and external rotators of
    # the shoulder", abstract). A plausibility check of masses, levers and maxima together.
    men = target_load(_angles(_arm(90.0), _arm(0.0)), 0.0, 75.0, 1.75,
                      strength=StrengthProfile.men())["shoulder_left"]
    women = target_load(_angles(_arm(90.0), _arm(0.0)), 0.0, 60.0, 1.62)["shoulder_left"]
    assert 20.0 <= men <= 27.0
    assert 31.0 <= women <= 37.0


def test_target_load_grows_with_load_elevation_and_is_capped() -> None:
    base = target_load(_angles(_arm(45.0, elbow=60.0), _arm(45.0, elbow=60.0)), 0.0, 70, 1.7)
    loaded = target_load(_angles(_arm(45.0, elbow=60.0), _arm(45.0, elbow=60.0)), 4.0, 70, 1.7)
    higher = target_load(_angles(_arm(100.0, elbow=60.0), _arm(45.0, elbow=60.0)), 4.0, 70, 1.7)
    assert loaded["shoulder_left"] > base["shoulder_left"] > 0.0
    assert loaded["elbow_left"] > base["elbow_left"] > 0.0
    assert higher["shoulder_left"] > loaded["shoulder_left"]
    one_hand = target_load(_angles(_arm(45.0, elbow=60.0), _arm(45.0, elbow=60.0)), 4.0, 70, 1.7,
                           load_side=Side.RIGHT)
    assert one_hand["shoulder_right"] > loaded["shoulder_right"] > one_hand["shoulder_left"]
    heavy = target_load(_angles(_arm(90.0), _arm(90.0)), 40.0, 60, 1.6)
    assert heavy["shoulder_left"] == 100.0


def test_trunk_load_when_a_maximum_is_given() -> None:
    profile = StrengthProfile(89.9, 68.6, 0.78, trunk_extension_nm=200.0)
    upright = target_load(_angles(_arm(0.0), _arm(0.0)), 0.0, 70, 1.7, strength=profile)
    # trunk bent 45 degrees, arms hanging straight down (45 degrees flexion relative to it)
    bent = target_load(_angles(_arm(45.0), _arm(45.0), trunk=45.0), 0.0, 70, 1.7,
                       strength=profile)
    assert upright["trunk"] == pytest.approx(0.0, abs=1e-9)
    # head-neck-trunk: 9.81 x .578 x 70 x .66 x (.288 x 1.7) x sin 45 = 90.69 N m, plus both
    # arms (2 x .05 x 70 kg) hanging below the shoulder: 9.81 x 7 x .4896 x sin 45 = 23.77 N m
    assert bent["trunk"] == pytest.approx(100.0 * (90.69 + 23.77) / 200.0, rel=0.002)
    with pytest.raises(ValueError):
        target_load(_angles(_arm(0.0), _arm(0.0)), 0.0, 0.0, 1.7)


def test_posture_loads_feed_the_model() -> None:
    model = FatigueModel()
    loads = target_load(_angles(_arm(90.0), _arm(90.0)), 2.0, 60.0, 1.62)
    for _ in range(60):
        state = model.update(1.0, loads)
    assert state.fatigued("shoulder_left") > state.fatigued("elbow_left") > 0.0
    assert state.fatigued("neck") == 0.0        # no load given: at rest
