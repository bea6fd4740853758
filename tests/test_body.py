"""Tests of the simulated operator's body (cell.simulator.body).

The ``measure`` helper below applies the angle definitions written in the
module docstring to landmarks; the round-trip test checks that forward
kinematics produces exactly the angles it was given.
"""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest

from cell.simulator.body import (
    BodyDimensions,
    BodyFrame,
    ImageProjection,
    OperatorStance,
    Posture,
    bench_to_world,
    forward_kinematics,
    reach,
    world_to_bench,
)

DIMS = BodyDimensions.from_stature(1.75)
STANCE = OperatorStance.standing(DIMS, x_mm=800.0, bench_height_mm=900.0, hip_to_edge_mm=250.0)

L_SH, R_SH, L_EL, R_EL, L_WR, R_WR = 11, 12, 13, 14, 15, 16
L_HIP, R_HIP, L_KN, R_KN, L_AN, R_AN = 23, 24, 25, 26, 27, 28


def op(v: np.ndarray) -> np.ndarray:
    """World (MediaPipe) vectors to operator (forward, left, up)."""
    v = np.asarray(v, dtype=float)
    return np.stack([-v[..., 2], v[..., 0], -v[..., 1]], axis=-1)


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def perp(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    return unit(v - (v @ axis) * axis)


def signed_angle(a: np.ndarray, b: np.ndarray, axis: np.ndarray) -> float:
    return math.degrees(math.atan2(np.cross(a, b) @ axis, a @ b))


def measure(frame: BodyFrame) -> dict[str, float]:
    """The documented angle definitions applied to landmarks (degrees / metres)."""
    w = op(frame.world)
    mid_hip = (w[L_HIP] + w[R_HIP]) / 2
    mid_sh = (w[L_SH] + w[R_SH]) / 2
    trunk = mid_sh - mid_hip
    u = unit(trunk)
    hip_line = w[L_HIP] - w[R_HIP]
    lt = perp(w[L_SH] - w[R_SH], u)
    ft = np.cross(lt, u)
    out = {
        "trunk_flexion": math.degrees(math.atan2(u[0], u[2])),
        "trunk_side_bend": math.degrees(math.asin(u[1])),
        "trunk_twist": signed_angle(perp(hip_line, u), lt, u),
    }
    n = unit((w[7] + w[8]) / 2 - mid_sh)
    out["neck_flexion"] = math.degrees(math.atan2(n @ ft, n @ u))
    out["neck_side_bend"] = math.degrees(math.asin(n @ lt))
    out["neck_twist"] = signed_angle(perp(lt, n), perp(w[7] - w[8], n), n)
    for side, o, sh, el, wr, hip, kn, an, hand in (
        ("left", 1.0, L_SH, L_EL, L_WR, L_HIP, L_KN, L_AN, frame.left_hand),
        ("right", -1.0, R_SH, R_EL, R_WR, R_HIP, R_KN, R_AN, frame.right_hand),
    ):
        v = unit(w[el] - w[sh])
        fa = unit(w[wr] - w[el])
        out[f"{side}_upper_arm_flexion"] = math.degrees(math.atan2(v @ ft, -(v @ u)))
        out[f"{side}_upper_arm_abduction"] = math.degrees(math.asin(o * (v @ lt)))
        out[f"{side}_elbow_flexion"] = math.degrees(math.acos(np.clip(v @ fa, -1, 1)))
        out[f"{side}_shoulder_elevation_m"] = (w[sh] - mid_hip) @ u - DIMS.trunk_length
        h3 = op(hand)
        h = unit(h3[9] - h3[0])
        r_h = perp(h3[5] - h3[17], h)
        p_h = np.cross(r_h, h) if side == "right" else np.cross(h, r_h)
        out[f"{side}_wrist_flexion"] = math.degrees(math.atan2(-(fa @ p_h), fa @ h))
        out[f"{side}_wrist_deviation"] = math.degrees(math.asin(-(fa @ r_h)))
        thigh = unit(w[kn] - w[hip])
        shank = unit(w[an] - w[kn])
        out[f"{side}_knee_flexion"] = math.degrees(math.acos(np.clip(thigh @ shank, -1, 1)))
    return out


def random_posture(rng: np.random.Generator, seated: bool = False) -> Posture:
    def u(lo: float, hi: float) -> float:
        return float(rng.uniform(lo, hi))

    side: dict[str, float] = {}
    for s in ("left", "right"):
        flexion, abduction = u(-40, 170), u(-30, 80)
        side.update(
            {
                f"{s}_upper_arm_flexion": flexion,
                f"{s}_upper_arm_abduction": abduction,
                f"{s}_upper_arm_rotation": u(-60, 60),
                f"{s}_shoulder_elevation_m": u(-0.02, 0.05),
                f"{s}_elbow_flexion": u(0, 150),
                f"{s}_wrist_flexion": u(-60, 60),
                f"{s}_wrist_deviation": u(-20, 30),
                f"{s}_knee_flexion": u(0, 120),
            }
        )
    return Posture(
        trunk_flexion=u(-20, 80),
        trunk_side_bend=u(-30, 30),
        trunk_twist=u(-40, 40),
        neck_flexion=u(-30, 50),
        neck_side_bend=u(-30, 30),
        neck_twist=u(-60, 60),
        seated=seated,
        **side,
    )


def dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)))


# --------------------------------------------------------------------------
# Dimensions and posture values


def test_from_stature_uses_drillis_contini_fractions() -> None:
    d = BodyDimensions.from_stature(2.0)
    assert d.upper_arm_length == pytest.approx(0.372)
    assert d.forearm_length == pytest.approx(0.292)
    assert d.thigh_length == pytest.approx(0.490)
    assert d.standing_hip_height == pytest.approx(0.530 * 2.0)
    assert BodyDimensions.from_stature(1.6, sex="female").stature == 1.6
    with pytest.raises(ValueError):
        BodyDimensions.from_stature(1.7, sex="x")
    with pytest.raises(ValueError):
        BodyDimensions.from_stature(17.0)


def test_lerp_and_mirror() -> None:
    a = Posture.neutral()
    b = Posture(trunk_flexion=40, left_elbow_flexion=90, trunk_twist=20, seated=True)
    mid = Posture.lerp(a, b, 0.5)
    assert mid.trunk_flexion == 20 and mid.left_elbow_flexion == 45 and mid.seated
    assert Posture.lerp(a, b, 0.0) == a
    assert Posture.lerp(a, b, 1.0) == b
    m = b.mirrored()
    assert m.right_elbow_flexion == 90 and m.left_elbow_flexion == 0 and m.trunk_twist == -20
    assert m.mirrored() == b


# --------------------------------------------------------------------------
# Forward kinematics


def test_shapes_and_dtypes() -> None:
    f = forward_kinematics(Posture.neutral(), DIMS)
    assert f.world.shape == (33, 3) and f.world.dtype == np.float32
    assert f.left_hand.shape == (21, 3) and f.right_hand.shape == (21, 3)
    assert f.left_hand.dtype == np.float32
    np.testing.assert_allclose((f.world[L_HIP] + f.world[R_HIP]) / 2, 0, atol=1e-7)
    # The pose wrist is the hand wrist.
    np.testing.assert_array_equal(f.world[L_WR], f.left_hand[0])
    np.testing.assert_array_equal(f.world[R_WR], f.right_hand[0])


def test_segment_lengths_constant_across_random_postures() -> None:
    rng = np.random.default_rng(1)
    for i in range(200):
        f = forward_kinematics(random_posture(rng, seated=bool(i % 2)), DIMS)
        w = f.world
        for sh, el, wr, hip, kn, an in ((L_SH, L_EL, L_WR, L_HIP, L_KN, L_AN), (R_SH, R_EL, R_WR, R_HIP, R_KN, R_AN)):
            assert dist(w[sh], w[el]) == pytest.approx(DIMS.upper_arm_length, abs=1e-5)
            assert dist(w[el], w[wr]) == pytest.approx(DIMS.forearm_length, abs=1e-5)
            assert dist(w[hip], w[kn]) == pytest.approx(DIMS.thigh_length, abs=1e-5)
            assert dist(w[kn], w[an]) == pytest.approx(DIMS.shank_length, abs=1e-5)
        assert dist(w[L_HIP], w[R_HIP]) == pytest.approx(DIMS.hip_width, abs=1e-5)
        assert dist(w[7], w[8]) == pytest.approx(0.66 * DIMS.head_height, abs=1e-5)
        for hand in (f.left_hand, f.right_hand):
            assert dist(hand[0], hand[9]) == pytest.approx(0.5 * DIMS.hand_length, abs=1e-5)
            assert dist(hand[0], hand[12]) == pytest.approx(0.99 * DIMS.hand_length, rel=0.01)


def test_forward_kinematics_produces_exactly_the_posture_angles() -> None:
    rng = np.random.default_rng(2)
    for _ in range(200):
        p = random_posture(rng)
        got = measure(forward_kinematics(p, DIMS))
        for name, value in got.items():
            tol = 1e-5 if name.endswith("_m") else 0.02
            assert value == pytest.approx(getattr(p, name), abs=tol), name


def test_angle_extractor_reads_back_the_posture() -> None:
    angles = pytest.importorskip("ergonomics.angles")
    rng = np.random.default_rng(5)
    for _ in range(100):
        p = random_posture(rng)
        f = forward_kinematics(p, DIMS)
        got = angles.joint_angles(f.world, None, f.left_hand, f.right_hand)
        for name in ("trunk_flexion", "trunk_side_bend", "trunk_twist", "neck_flexion", "neck_side_bend", "neck_twist"):
            assert getattr(got, name) == pytest.approx(getattr(p, name), abs=0.02), name
        assert got.knee_flexion_left == pytest.approx(p.left_knee_flexion, abs=0.02)
        assert got.knee_flexion_right == pytest.approx(p.right_knee_flexion, abs=0.02)
        for side in ("left", "right"):
            arm = got.left if side == "left" else got.right
            want = p.side(side)  # type: ignore[arg-type]
            assert arm.upper_arm_flexion == pytest.approx(want["upper_arm_flexion"], abs=0.02)
            assert arm.upper_arm_abduction == pytest.approx(want["upper_arm_abduction"], abs=0.02)
            assert arm.lower_arm_flexion == pytest.approx(want["elbow_flexion"], abs=0.02)
            assert arm.wrist_flexion == pytest.approx(want["wrist_flexion"], abs=0.02)
            assert arm.wrist_deviation == pytest.approx(want["wrist_deviation"], abs=0.02)


def test_shrug_raises_shoulders_but_not_the_ears() -> None:
    still = forward_kinematics(Posture(), DIMS).world
    shrug = forward_kinematics(Posture(left_shoulder_elevation_m=0.04, right_shoulder_elevation_m=0.04), DIMS).world
    np.testing.assert_allclose(shrug[[L_SH, R_SH]] - still[[L_SH, R_SH]], [[0, -0.04, 0]] * 2, atol=1e-6)
    np.testing.assert_allclose(shrug[:11], still[:11], atol=1e-6)


def test_neutral_posture() -> None:
    w = forward_kinematics(Posture.neutral(), DIMS).world
    up = -w[:, 1]  # world +y is down
    assert up[L_WR] < up[L_SH] and up[R_WR] < up[R_SH]
    assert up[0] > up[L_SH] and up[0] > up[R_SH]
    assert w[L_SH, 0] > w[R_SH, 0]  # operator's left = +x
    assert w[L_HIP, 0] > 0 > w[R_HIP, 0]
    assert w[0, 2] < w[7, 2]  # nose in front of the ears (forward = -z)
    assert w[31, 2] < w[29, 2]  # toes in front of heels
    assert up[L_SH] - up[L_HIP] == pytest.approx(DIMS.trunk_length, abs=1e-6)
    f = forward_kinematics(Posture.neutral(), DIMS)
    assert f.pelvis_height_m == pytest.approx(DIMS.standing_hip_height)


def test_upper_arm_flexion_90_puts_elbow_in_front_at_shoulder_height() -> None:
    for side, sh, el in (("left", L_SH, L_EL), ("right", R_SH, R_EL)):
        w = forward_kinematics(Posture.neutral().with_side(side, upper_arm_flexion=90), DIMS).world
        np.testing.assert_allclose(w[el] - w[sh], [0, 0, -DIMS.upper_arm_length], atol=1e-6)


def test_upper_arm_flexion_180_is_overhead() -> None:
    w = forward_kinematics(Posture(left_upper_arm_flexion=180), DIMS).world
    np.testing.assert_allclose(w[L_EL] - w[L_SH], [0, -DIMS.upper_arm_length, 0], atol=1e-6)


def test_abduction_90_puts_elbow_out_to_the_side_at_shoulder_height() -> None:
    l1 = DIMS.upper_arm_length
    w = forward_kinematics(Posture(left_upper_arm_abduction=90, right_upper_arm_abduction=90), DIMS).world
    np.testing.assert_allclose(w[L_EL] - w[L_SH], [l1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(w[R_EL] - w[R_SH], [-l1, 0, 0], atol=1e-6)


def test_trunk_flexion_45_moves_mid_shoulder_forward_and_down() -> None:
    t = DIMS.trunk_length
    w = forward_kinematics(Posture(trunk_flexion=45), DIMS).world
    mid = (w[L_SH] + w[R_SH]) / 2
    c = t * math.cos(math.radians(45))
    np.testing.assert_allclose(mid, [0, -c, -c], atol=1e-6)


def test_side_bend_and_twist_signs() -> None:
    w = forward_kinematics(Posture(trunk_side_bend=20), DIMS).world
    assert (w[L_SH, 0] + w[R_SH, 0]) / 2 > 0.05  # toward the operator's left
    w = forward_kinematics(Posture(trunk_twist=30), DIMS).world
    assert w[R_SH, 2] < 0 < w[L_SH, 2]  # right shoulder forward: turned to the left
    w = forward_kinematics(Posture(neck_twist=30), DIMS).world
    assert w[0, 0] > 0.02  # nose turned to the operator's left
    w = forward_kinematics(Posture(neck_flexion=30), DIMS).world
    assert w[0, 2] < forward_kinematics(Posture(), DIMS).world[0, 2]


def test_elbow_90_with_hanging_arm_points_forearm_forward() -> None:
    l2 = DIMS.forearm_length
    w = forward_kinematics(Posture(left_elbow_flexion=90, right_elbow_flexion=90), DIMS).world
    np.testing.assert_allclose(w[L_WR] - w[L_EL], [0, 0, -l2], atol=1e-6)
    np.testing.assert_allclose(w[R_WR] - w[R_EL], [0, 0, -l2], atol=1e-6)


def test_palm_down_thumb_medial_with_elbow_at_90() -> None:
    f = forward_kinematics(Posture(left_elbow_flexion=90, right_elbow_flexion=90), DIMS)
    assert f.left_hand[4, 0] < f.left_hand[20, 0]  # left thumb toward the midline (-x)
    assert f.right_hand[4, 0] > f.right_hand[20, 0]
    assert f.left_hand[12, 1] > f.left_hand[9, 1]  # fingers curl downward (palm down)


def test_seated_thighs_forward_and_knees_down() -> None:
    f = forward_kinematics(Posture.neutral(seated=True), DIMS)
    w = f.world
    np.testing.assert_allclose(w[L_KN] - w[L_HIP], [0, 0, -DIMS.thigh_length], atol=1e-6)
    np.testing.assert_allclose(w[L_AN] - w[L_KN], [0, DIMS.shank_length, 0], atol=1e-6)
    assert f.pelvis_height_m == pytest.approx(DIMS.shank_length + DIMS.foot_height)


def test_forward_kinematics_is_deterministic() -> None:
    p = random_posture(np.random.default_rng(3))
    a, b = forward_kinematics(p, DIMS), forward_kinematics(p, DIMS)
    np.testing.assert_array_equal(a.world, b.world)
    np.testing.assert_array_equal(a.left_hand, b.left_hand)
    np.testing.assert_array_equal(a.right_hand, b.right_hand)


# --------------------------------------------------------------------------
# Bench frame


def test_bench_world_round_trip_and_axes() -> None:
    pts = np.array([[0.0, 0.0, 0.0], [1200.0, 600.0, 300.0], [800.0, -250.0, 27.5]])
    np.testing.assert_allclose(world_to_bench(bench_to_world(pts, STANCE), STANCE), pts, atol=1e-9)
    hip = bench_to_world([STANCE.x_mm, STANCE.y_mm, STANCE.hip_height_mm], STANCE)
    np.testing.assert_allclose(hip, 0, atol=1e-12)
    # Into the bench (+y) is the operator's forward (world -z); bench +x is
    # the operator's right (world -x); bench +z is up (world -y).
    d = bench_to_world([STANCE.x_mm + 100, STANCE.y_mm + 200, STANCE.hip_height_mm + 300], STANCE)
    np.testing.assert_allclose(d, [-0.1, -0.3, -0.2], atol=1e-12)


def test_standing_feet_are_on_the_floor_in_bench_frame() -> None:
    pose, left, right = forward_kinematics(Posture.neutral(), DIMS).to_bench(STANCE)
    assert pose[31, 2] == pytest.approx(-900.0, abs=0.1)  # toe on the floor, 900 below the top
    assert pose[L_SH, 0] < pose[R_SH, 0]  # operator's right is bench +x
    assert left.shape == right.shape == (21, 3)


# --------------------------------------------------------------------------
# Inverse kinematics


def reach_point(result_posture: Posture, side: str, effector: str = "index_tip") -> np.ndarray:
    f = forward_kinematics(result_posture, DIMS)
    if effector == "wrist":
        p = f.world[L_WR if side == "left" else R_WR]
    else:
        p = (f.left_hand if side == "left" else f.right_hand)[8]
    return world_to_bench(p.astype(float), STANCE)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("effector", ["index_tip", "wrist"])
def test_reach_hits_reachable_bench_targets(side: str, effector: str) -> None:
    # Only the arm and trunk flexion move (no twist), so the wrist cannot
    # reach far across the body; the fingertip reaches ~170 mm further.
    xs = (450.0, 650.0, 800.0, 950.0, 1150.0) if effector == "index_tip" else (650.0, 800.0, 950.0)
    for x in xs:
        for y in (20.0, 200.0, 400.0):
            for z in (0.0, 150.0, 350.0):
                target = np.array([x, y, z])
                r = reach(target, side, stance=STANCE, dims=DIMS, effector=effector)
                assert r.reached, (target, r.error_mm)
                assert r.error_mm < 10.0
                assert dist(reach_point(r.posture, side, effector), target) < 10.0


def test_reach_keeps_base_and_touches_only_the_reaching_arm() -> None:
    base = Posture(neck_flexion=25, trunk_twist=10, left_elbow_flexion=30, right_wrist_flexion=15)
    r = reach([900.0, 150.0, 50.0], "right", stance=STANCE, dims=DIMS, base=base)
    assert r.reached
    p = r.posture
    assert p.neck_flexion == 25 and p.trunk_twist == 10 and p.left_elbow_flexion == 30
    assert p.right_wrist_flexion == 15
    assert p.trunk_flexion == 0  # reachable without bending: no trunk flexion added


def test_unreachable_target_is_reported() -> None:
    r = reach([800.0, 1500.0, 0.0], "right", stance=STANCE, dims=DIMS)
    assert not r.reached and r.error_mm > 100.0
    r = reach([800.0, 200.0, 2000.0], "left", stance=STANCE, dims=DIMS)
    assert not r.reached and r.error_mm > 0.0


def test_far_target_uses_more_trunk_flexion_than_near() -> None:
    near = reach([850.0, 100.0, 0.0], "right", stance=STANCE, dims=DIMS)
    far = reach([850.0, 550.0, 0.0], "right", stance=STANCE, dims=DIMS)
    farther = reach([850.0, 700.0, 0.0], "right", stance=STANCE, dims=DIMS)
    assert near.reached and far.reached and farther.reached
    assert near.posture.trunk_flexion < far.posture.trunk_flexion < farther.posture.trunk_flexion
    # Only as much as needed: at the flexion found the point is at full reach.
    assert far.posture.right_elbow_flexion < 10.0


def test_high_target_uses_more_shoulder_flexion() -> None:
    low = reach([900.0, 250.0, 50.0], "right", stance=STANCE, dims=DIMS)
    high = reach([900.0, 250.0, 700.0], "right", stance=STANCE, dims=DIMS)
    overhead = reach([950.0, -120.0, 1200.0], "right", stance=STANCE, dims=DIMS)
    assert low.reached and high.reached and overhead.reached
    assert low.posture.right_upper_arm_flexion < high.posture.right_upper_arm_flexion
    assert overhead.posture.right_upper_arm_flexion > max(120.0, high.posture.right_upper_arm_flexion)


def test_close_target_bends_the_elbow_past_100() -> None:
    r = reach([850.0, 30.0, 250.0], "right", stance=STANCE, dims=DIMS)
    assert r.reached and r.posture.right_elbow_flexion > 100.0


@pytest.mark.parametrize("target", [(950.0, 150.0, 0.0), (1100.0, 450.0, 100.0), (700.0, 300.0, 400.0)])
def test_mirrored_targets_give_mirrored_postures(target: tuple[float, float, float]) -> None:
    right = reach(target, "right", stance=STANCE, dims=DIMS)
    mirrored_target = (2 * STANCE.x_mm - target[0], target[1], target[2])
    left = reach(mirrored_target, "left", stance=STANCE, dims=DIMS)
    assert right.reached and left.reached
    want = right.posture.mirrored()
    for f in fields(Posture):
        assert getattr(left.posture, f.name) == pytest.approx(getattr(want, f.name), abs=1e-6), f.name


def test_reach_with_bent_trunk_base_and_seated_operator() -> None:
    seated = OperatorStance(x_mm=600.0, y_mm=-200.0, hip_height_mm=-180.0)
    base = Posture.neutral(seated=True)
    r = reach([600.0, 250.0, 0.0], "left", stance=seated, dims=DIMS, base=base)
    assert r.reached and r.error_mm < 10.0 and r.posture.seated


def test_reach_is_deterministic() -> None:
    a = reach([1000.0, 400.0, 80.0], "right", stance=STANCE, dims=DIMS)
    b = reach([1000.0, 400.0, 80.0], "right", stance=STANCE, dims=DIMS)
    assert a == b


def test_reach_rejects_bad_side() -> None:
    with pytest.raises(ValueError):
        reach([800.0, 100.0, 0.0], "middle", stance=STANCE, dims=DIMS)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Camera image


def test_projection_of_visible_body_lands_inside_the_image() -> None:
    cam = ImageProjection.facing_operator(distance_m=4.0)
    img = cam.project(forward_kinematics(Posture.neutral(), DIMS))
    assert img.pose.shape == (33, 3) and img.visibility.shape == (33,)
    assert np.all((img.pose[:, :2] >= 0) & (img.pose[:, :2] <= 1))
    assert np.all(img.visibility > 0.9)
    assert img.left_hand_presence == img.right_hand_presence == 1.0
    # Operator's left appears on image right; the head is at the top.
    assert img.pose[L_SH, 0] > img.pose[R_SH, 0]
    assert img.pose[0, 1] < img.pose[L_HIP, 1]
    # Depth relative to mid-hip: the nose is closer than the hips.
    assert img.pose[0, 2] < 0
    assert img.left_hand[0, 2] == 0.0


def test_projection_visibility_rules() -> None:
    near_cam = ImageProjection.facing_operator(distance_m=0.8)
    img = near_cam.project(forward_kinematics(Posture.neutral(), DIMS))
    feet = img.pose[[L_AN, R_AN, 31, 32]]
    assert np.all(feet[:, 1] > 1.0)  # below the image
    assert np.all(img.visibility[[L_AN, R_AN, 31, 32]] < 0.2)
    # A hand behind the back is hidden by the torso.
    behind = Posture(left_upper_arm_flexion=-30, left_elbow_flexion=90, left_upper_arm_rotation=90)
    img = ImageProjection.facing_operator(distance_m=3.0).project(forward_kinematics(behind, DIMS))
    assert img.visibility[L_WR] < 0.5 < img.visibility[R_WR]


def test_projection_is_deterministic() -> None:
    cam = ImageProjection.facing_operator()
    f = forward_kinematics(random_posture(np.random.default_rng(4)), DIMS)
    a, b = cam.project(f), cam.project(f)
    np.testing.assert_array_equal(a.pose, b.pose)
    np.testing.assert_array_equal(a.visibility, b.visibility)
