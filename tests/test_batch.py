"""The batch path (ergonomics.batch) against the per-frame reference.

Golden values come from ``joint_angles`` / ``rula_from_angles`` /
``reba_from_angles``, which tests/test_angles.py, test_rula.py and
test_reba.py check against the published tables. Frames are realistic
skeletons from the simulated operator's forward kinematics.
"""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest

from cell.simulator.body import BodyDimensions, Posture, forward_kinematics
from ergonomics import reba, rula
from ergonomics.angles import ArmAngles, JointAngles, joint_angles
from ergonomics.batch import (
    AnglesBatch,
    _near_band_edge,
    joint_angles_batch,
    reba_action_levels,
    reba_batch,
    reba_legs_scores,
    reba_load_scores,
    reba_lower_arm_scores,
    reba_neck_scores,
    reba_trunk_scores,
    reba_upper_arm_scores,
    reba_wrist_scores,
    rula_action_levels,
    rula_batch,
    rula_force_load_scores,
    rula_lower_arm_scores,
    rula_neck_scores,
    rula_trunk_scores,
    rula_upper_arm_scores,
    rula_wrist_scores,
)
from ergonomics.landmarks import PoseLandmark as P
from ergonomics.landmarks import Side
from ergonomics.reba import Coupling, reba_from_angles
from ergonomics.rula import rula_from_angles

ANGLE_TOL = 1e-6
N_FRAMES = 500


# ------------------------------------------------------------------ realistic frames

def random_frames(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(world (n,33,3), left hands (n,21,3), right hands (n,21,3)), float32 as FK makes them."""
    rng = np.random.default_rng(seed)
    bodies = [BodyDimensions.from_stature(s) for s in rng.uniform(1.5, 1.95, 24)]
    frames = [forward_kinematics(Posture.random(rng), bodies[rng.integers(len(bodies))])
              for _ in range(n)]
    return (np.stack([f.world for f in frames]), np.stack([f.left_hand for f in frames]),
            np.stack([f.right_hand for f in frames]))


@pytest.fixture(scope="module")
def frames() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return random_frames(N_FRAMES, seed=7)


def degraded(world: np.ndarray, lh: np.ndarray, rh: np.ndarray, seed: int):
    """Lowered, NaN and out-of-range visibilities, missing and degenerate hands, degenerate poses."""
    rng = np.random.default_rng(seed)
    world = world.astype(np.float64)
    n = len(world)
    vis = np.full((n, 33), 0.95)
    low = rng.random((n, 33)) < 0.08
    vis[low] = rng.uniform(0.0, 0.6, low.sum())
    vis[rng.random((n, 33)) < 0.01] = np.nan
    vis[rng.random((n, 33)) < 0.01] = 1.3
    vis[rng.random((n, 33)) < 0.01] = -0.2
    lh, rh = lh.copy(), rh.copy()
    l_present, r_present = rng.random(n) > 0.3, rng.random(n) > 0.3
    lh[~l_present] = np.nan  # ignored: the hand is absent there
    rh[~r_present] = np.nan
    lh[5] = world[5, P.LEFT_WRIST]  # degenerate hand (every point on one spot): no wrist angles
    rh[6] = 0.0
    l_present[5] = r_present[6] = True
    world[10] = 0.0  # nothing seen: zero trunk, zero legs
    world[11, P.RIGHT_SHOULDER] = world[11, P.LEFT_SHOULDER]  # zero shoulder width
    world[12, P.LEFT_HIP] = world[12, P.RIGHT_HIP]  # zero hip line: pelvis frame falls back
    # left upper arm exactly out to the side (no sagittal component)
    world[13, P.LEFT_ELBOW] = world[13, P.LEFT_SHOULDER] + 0.3 * _trunk_left(world[13])
    return world, vis, lh, rh, l_present, r_present


def _trunk_left(w: np.ndarray) -> np.ndarray:
    up = (w[P.LEFT_SHOULDER] + w[P.RIGHT_SHOULDER] - w[P.LEFT_HIP] - w[P.RIGHT_HIP]) / 2
    up /= np.linalg.norm(up)
    line = w[P.LEFT_SHOULDER] - w[P.RIGHT_SHOULDER]
    line = line - (line @ up) * up
    return line / np.linalg.norm(line)


def reference(world, vis=None, lh=None, rh=None, l_present=None, r_present=None, **kw):
    out = []
    for i in range(len(world)):
        left = None if lh is None or (l_present is not None and not l_present[i]) else lh[i]
        right = None if rh is None or (r_present is not None and not r_present[i]) else rh[i]
        out.append(joint_angles(world[i], None if vis is None else vis[i], left, right,
                                **{k: float(v[i] if np.ndim(v) else v) for k, v in kw.items()}))
    return out


def assert_angles_close(got: JointAngles, want: JointAngles, tol: float = ANGLE_TOL) -> None:
    def same(a, b, name):
        if isinstance(b, bool) or b is None:
            assert a == b and type(a) is type(b), (name, a, b)
        else:
            assert isinstance(a, float) and abs(a - b) <= tol, (name, a, b)

    for side in ("left", "right"):
        for f in fields(ArmAngles):
            same(getattr(getattr(got, side), f.name), getattr(getattr(want, side), f.name),
                 f"{side}.{f.name}")
    for f in fields(JointAngles):
        if f.name not in ("left", "right"):
            same(getattr(got, f.name), getattr(want, f.name), f.name)
    # flags and confidences are arithmetic only: identical, not just close
    for side in ("left", "right"):
        g, w = getattr(got, side), getattr(want, side)
        assert (g.confidence, g.shoulder_ear_ratio) == (w.confidence, w.shoulder_ear_ratio)
    assert (got.neck_confidence, got.trunk_confidence, got.legs_confidence) == (
        want.neck_confidence, want.trunk_confidence, want.legs_confidence)


# ------------------------------------------------------------------ angles

def test_angles_match_per_frame_on_realistic_frames(frames) -> None:
    world, lh, rh = frames
    batch = joint_angles_batch(world, None, lh, rh)
    want = reference(world, None, lh, rh)
    assert len(batch) == N_FRAMES
    for i in range(N_FRAMES):
        assert_angles_close(batch.frame(i), want[i])
    # the sample covers what the scores depend on
    assert batch.one_leg_stance.any() and not batch.one_leg_stance.all()
    assert batch.left_across_midline.any() and batch.right_out_to_side.any()
    assert batch.left_shoulder_raised.any()
    assert (batch.left_upper_arm_flexion > 90).any() and (batch.left_upper_arm_flexion < -20).any()


def test_angles_match_with_low_visibility_missing_hands_and_degenerate_poses(frames) -> None:
    world, vis, lh, rh, lp, rp = degraded(*frames, seed=3)
    batch = joint_angles_batch(world, vis, lh, rh, left_hand_present=lp, right_hand_present=rp)
    want = reference(world, vis, lh, rh, lp, rp)
    for i in range(N_FRAMES):
        assert_angles_close(batch.frame(i), want[i])
    assert np.isnan(batch.left_wrist_flexion[~lp]).all()
    assert math.isnan(batch.left_wrist_flexion[5]) and math.isnan(batch.right_wrist_deviation[6])
    assert batch.frame(10).confidence == 0.0 and batch.frame(11).trunk_confidence == 0.0
    assert batch.left_upper_arm_flexion[13] == 0.0 and batch.left_upper_arm_abduction[13] > 89.0
    assert (batch.left_confidence < 0.5).any()


def test_hands_none_for_every_frame(frames) -> None:
    world, lh, rh = frames
    batch = joint_angles_batch(world[:50], None, None, rh[:50])
    want = reference(world[:50], None, None, rh[:50])
    for i in range(50):
        assert_angles_close(batch.frame(i), want[i])
    assert np.isnan(batch.left_wrist_flexion).all() and not np.isnan(batch.right_wrist_flexion).any()


def test_shoulder_raised_ratio_per_frame(frames) -> None:
    world, lh, rh = frames
    ratio = np.random.default_rng(0).uniform(0.2, 0.45, 100)
    batch = joint_angles_batch(world[:100], None, lh[:100], rh[:100], shoulder_raised_ratio=ratio)
    want = reference(world[:100], None, lh[:100], rh[:100], shoulder_raised_ratio=ratio)
    for i in range(100):
        assert_angles_close(batch.frame(i), want[i])
    assert batch.left_shoulder_raised.any() and not batch.left_shoulder_raised.all()


def test_float32_float64_and_lists_give_the_same_angles(frames) -> None:
    world, lh, rh = (a[:20] for a in frames)
    a = joint_angles_batch(world, None, lh, rh)
    b = joint_angles_batch(world.astype(np.float64).tolist(), None, lh.astype(np.float64), rh.tolist())
    for f in fields(AnglesBatch):
        np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name))


def test_from_angles_round_trip(frames) -> None:
    world, lh, rh = frames
    want = reference(world[:40], None, lh[:40], None)
    packed = AnglesBatch.from_angles(want)
    assert [packed.frame(i) for i in range(40)] == want


# ------------------------------------------------------------------ angles exactly on band edges

def _edge_frames() -> list[np.ndarray]:
    """float64 skeletons whose angles sit exactly (up to rounding) on RULA/REBA band edges."""
    base = forward_kinematics(Posture.neutral(), BodyDimensions.from_stature(1.75)).world.astype(np.float64)
    out = []

    def arm_dir(deg: float) -> np.ndarray:  # flexion in the sagittal plane: hanging (+y) to forward (-z)
        t = math.radians(deg)
        return np.array([0.0, math.cos(t), -math.sin(t)])

    for deg in (-20.0, 20.0, 45.0, 90.0, -90.0):
        w = base.copy()
        w[P.LEFT_ELBOW] = w[P.LEFT_SHOULDER] + 0.3 * arm_dir(deg)
        w[P.LEFT_WRIST] = w[P.LEFT_ELBOW] + 0.25 * arm_dir(deg)
        out.append(w)
    for deg in (60.0, 100.0):  # elbow flexion: forearm turned forward from the hanging upper arm
        w = base.copy()
        w[P.RIGHT_WRIST] = w[P.RIGHT_ELBOW] + 0.25 * arm_dir(deg)
        out.append(w)
    for deg in (30.0, 60.0):  # knee: shank swung backward (+z)
        w = base.copy()
        t = math.radians(deg)
        w[P.LEFT_ANKLE] = w[P.LEFT_KNEE] + 0.4 * np.array([0.0, math.cos(t), math.sin(t)])
        out.append(w)
    for deg in (-20.0, 5.0, -5.0, 20.0, 60.0):  # trunk flexion: upper body rotated about the hips
        t = math.radians(deg)
        c, s = math.cos(t), math.sin(t)
        rot = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])  # +deg takes -y (up) to -z (forward)
        w = base.copy()
        upper = [P.LEFT_EAR, P.RIGHT_EAR, P.LEFT_SHOULDER, P.RIGHT_SHOULDER, P.LEFT_ELBOW,
                 P.RIGHT_ELBOW, P.LEFT_WRIST, P.RIGHT_WRIST]
        w[upper] = w[upper] @ rot.T
        out.append(w)
    return out


def test_frames_on_band_edges_match_per_frame_bit_for_bit() -> None:
    world = np.stack(_edge_frames())
    batch = joint_angles_batch(world)
    flagged = _near_band_edge({f.name: getattr(batch, f.name) for f in fields(AnglesBatch)}, len(world))
    assert flagged.all()  # every one of them went through the exactness guard
    want = [joint_angles(w) for w in world]
    assert [batch.frame(i) for i in range(len(world))] == want
    r = rula_batch(batch, arm_supported=True)
    e = reba_batch(batch)
    for i, a in enumerate(want):
        assert r.frame(i) == rula_from_angles(a, arm_supported=True)
        assert e.frame(i) == reba_from_angles(a)


def test_angles_within_rounding_of_an_edge_score_exactly() -> None:
    """numpy's atan2/asin/acos may differ from math's in the last bits (AVX-512 builds do for about
    a third of inputs); on an edge that would flip a band without the guard in joint_angles_batch."""
    base = forward_kinematics(Posture.neutral(), BodyDimensions.from_stature(1.75)).world.astype(np.float64)
    rng = np.random.default_rng(0)
    world = []
    for edge in (20.0, 45.0, 90.0, 60.0, 100.0):
        for _ in range(150):
            t = math.radians(edge) + rng.normal() * 1e-15
            d = np.array([0.0, math.cos(t), -math.sin(t)]) * rng.uniform(0.2, 0.4)
            w = base.copy()
            w[P.LEFT_ELBOW] = w[P.LEFT_SHOULDER] + d  # upper arm on 20/45/90 (60, 100: no edge)
            w[P.RIGHT_WRIST] = w[P.RIGHT_ELBOW] + d  # elbow on 60/100 (20, 45, 90: no edge)
            world.append(w)
    world = np.stack(world)
    batch = joint_angles_batch(world)
    r, e = rula_batch(batch), reba_batch(batch)
    for i, w in enumerate(world):
        a = joint_angles(w)
        assert batch.frame(i) == a
        assert r.frame(i) == rula_from_angles(a) and e.frame(i) == reba_from_angles(a)


# ------------------------------------------------------------------ RULA and REBA

def _per_frame_options(options: dict, i: int) -> dict:
    return {k: (v[i] if isinstance(v, (np.ndarray, list)) else v) for k, v in options.items()}


def _rula_options(n: int, rng: np.random.Generator) -> list[dict]:
    loads = np.array([0.0, 1.99, 2.0, 5.0, 10.0, 10.01, 25.0])
    flags = lambda p=0.5: rng.random(n) < p  # noqa: E731
    return [
        {},
        {"load_kg": 10.0, "load_static_or_repeated": True, "muscle_use_static": True,
         "arm_supported": True, "legs_supported": False, "wrist_twist_end_of_range": True},
        {"shock": True, "muscle_use_repetitive": True},
        {"load_kg": rng.choice(loads, n), "load_static_or_repeated": flags(), "shock": flags(0.1),
         "muscle_use_static": flags(0.3), "muscle_use_repetitive": flags(0.3),
         "arm_supported": flags(0.3), "legs_supported": flags(0.8),
         "wrist_twist_end_of_range": flags(0.3)},
    ]


def _reba_options(n: int, rng: np.random.Generator) -> list[dict]:
    loads = np.array([0.0, 4.99, 5.0, 7.0, 10.0, 10.01, 30.0])
    flags = lambda p=0.5: rng.random(n) < p  # noqa: E731
    names = ["good", "Fair", "POOR", "unacceptable"]
    return [
        {},
        {"load_kg": 12.0, "shock": True, "coupling": "poor", "static": True, "repeated": True,
         "rapid_change": True, "arm_supported": True, "wrist_twisted": True,
         "upper_arm_rotated": True},
        {"sitting": True, "coupling": Coupling.FAIR, "load_kg": 5.0},
        {"load_kg": rng.choice(loads, n), "shock": flags(0.2), "coupling": rng.integers(0, 4, n),
         "static": flags(0.3), "repeated": flags(0.3), "rapid_change": flags(0.2),
         "arm_supported": flags(0.3), "sitting": flags(0.3), "wrist_twisted": flags(0.2),
         "upper_arm_rotated": flags(0.2)},
        {"coupling": [names[k] for k in rng.integers(0, 4, n)]},
        {"coupling": [Coupling(k) for k in rng.integers(0, 4, n)]},
    ]


@pytest.fixture(scope="module")
def scored(frames):
    """Both batch and per-frame angles of the realistic and the degraded frames."""
    out = []
    world, lh, rh = frames
    out.append((joint_angles_batch(world, None, lh, rh), reference(world, None, lh, rh)))
    world, vis, lh, rh, lp, rp = degraded(*frames, seed=11)
    out.append((joint_angles_batch(world, vis, lh, rh, left_hand_present=lp, right_hand_present=rp),
                reference(world, vis, lh, rh, lp, rp)))
    return out


def test_rula_matches_per_frame_exactly(scored) -> None:
    rng = np.random.default_rng(5)
    grands = set()
    for batch, want in scored:
        for options in _rula_options(len(batch), rng):
            result = rula_batch(batch, **options)
            assert len(result) == len(batch)
            for i, a in enumerate(want):
                ref = rula_from_angles(a, **_per_frame_options(options, i))
                assert result.frame(i) == ref, (i, options.keys())
                grands.add(ref.grand)
    assert grands >= {3, 4, 5, 6, 7}


def test_reba_matches_per_frame_exactly(scored) -> None:
    rng = np.random.default_rng(6)
    levels = set()
    for batch, want in scored:
        for options in _reba_options(len(batch), rng):
            result = reba_batch(batch, **options)
            for i, a in enumerate(want):
                ref = reba_from_angles(a, **_per_frame_options(options, i))
                assert result.frame(i) == ref, (i, options.keys())
                levels.add(ref.action_level)
            assert list(result.risk) == [reba.RISK_LEVELS[k] for k in result.action_level]
    assert levels >= {1, 2, 3, 4}


def test_scores_of_packed_per_frame_angles_match_exactly(scored) -> None:
    _, want = scored[1]
    packed = AnglesBatch.from_angles(want)
    r, e = rula_batch(packed, load_kg=3.0), reba_batch(packed, load_kg=3.0)
    for i, a in enumerate(want):
        assert r.frame(i) == rula_from_angles(a, load_kg=3.0)
        assert e.frame(i) == reba_from_angles(a, load_kg=3.0)


def test_per_side_arrays_and_worse_side(scored) -> None:
    batch, want = scored[0]
    r = rula_batch(batch)
    for i in range(0, len(want), 25):
        ref = rula_from_angles(want[i])
        for side in (Side.LEFT, Side.RIGHT):
            s = r.side(side)
            assert (s.upper_arm[i], s.posture_a[i], s.score_c[i], s.posture_b[i], s.score_d[i],
                    s.grand[i]) == (ref.side(side).upper_arm, ref.side(side).posture_a,
                                    ref.side(side).score_c, ref.side(side).posture_b,
                                    ref.side(side).score_d, ref.side(side).grand)
        assert (r.grand[i], r.action_level[i], r.confidence[i]) == (ref.grand, ref.action_level,
                                                                   ref.confidence)
        assert (Side.RIGHT if r.right_is_worse[i] else Side.LEFT) is ref.worse_side
    assert r.right_is_worse.any() and not r.right_is_worse.all()


# ------------------------------------------------------------------ band functions, edge by edge

def _grid(*edges: float) -> np.ndarray:
    """A coarse grid plus every edge and its two floating-point neighbours."""
    pts = [np.arange(-200.0, 300.0, 0.25)]
    for e in edges:
        pts.append([np.nextafter(e, -np.inf), e, np.nextafter(e, np.inf)])
    return np.concatenate([np.ravel(p) for p in pts])


ANGLE_EDGES = (-90.0, -20.0, -15.0, -10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0,
               100.0)


def test_rula_band_functions_match_scalar_ones() -> None:
    x = _grid(*ANGLE_EDGES)
    for raised in (False, True):
        for abducted in (False, True):
            for supported in (False, True):
                got = rula_upper_arm_scores(x, shoulder_raised=raised, abducted=abducted,
                                            supported=supported)
                assert got.tolist() == [rula.upper_arm_score(v, shoulder_raised=raised,
                                                             abducted=abducted, supported=supported)
                                        for v in x.tolist()]
    for flag in (False, True):
        assert rula_lower_arm_scores(x, across_midline_or_out_to_side=flag).tolist() == [
            rula.lower_arm_score(v, across_midline_or_out_to_side=flag) for v in x.tolist()]
        for other in (False, True):
            assert rula_neck_scores(x, twisted=flag, side_bent=other).tolist() == [
                rula.neck_score(v, twisted=flag, side_bent=other) for v in x.tolist()]
            assert rula_trunk_scores(x, twisted=flag, side_bent=other).tolist() == [
                rula.trunk_score(v, twisted=flag, side_bent=other) for v in x.tolist()]
    dev = np.resize(x[::-1], x.shape)
    assert rula_wrist_scores(x, dev).tolist() == [rula.wrist_score(f, d)
                                                  for f, d in zip(x.tolist(), dev.tolist())]
    # NaN = not measured: UNKNOWN_WRIST_BAND, and no deviation point
    assert rula_wrist_scores([np.nan, np.nan, 3.0], [np.nan, 20.0, np.nan]).tolist() == [
        rula.wrist_score(None, None), rula.wrist_score(None, 20.0), rula.wrist_score(3.0, None)]
    loads = _grid(0.0, 2.0, 10.0)
    loads = loads[loads >= 0.0]
    for sr in (False, True):
        for shock in (False, True):
            assert rula_force_load_scores(loads, static_or_repeated=sr, shock=shock).tolist() == [
                rula.force_load_score(v, static_or_repeated=sr, shock=shock) for v in loads.tolist()]
    grand = np.arange(1, 8)
    assert rula_action_levels(grand).tolist() == [rula.action_level(g) for g in grand.tolist()]


def test_reba_band_functions_match_scalar_ones() -> None:
    x = _grid(*ANGLE_EDGES)
    for flag in (False, True):
        assert reba_trunk_scores(x, twisted_or_side_flexed=flag).tolist() == [
            reba.trunk_score(v, twisted_or_side_flexed=flag) for v in x.tolist()]
        assert reba_neck_scores(x, twisted_or_side_flexed=flag).tolist() == [
            reba.neck_score(v, twisted_or_side_flexed=flag) for v in x.tolist()]
        for sitting in (False, True):
            assert reba_legs_scores(flag, x, sitting=sitting).tolist() == [
                reba.legs_score(flag, v, sitting=sitting) for v in x.tolist()]
        for raised in (False, True):
            for supported in (False, True):
                assert reba_upper_arm_scores(x, abducted_or_rotated=flag, shoulder_raised=raised,
                                             supported=supported).tolist() == [
                    reba.upper_arm_score(v, abducted_or_rotated=flag, shoulder_raised=raised,
                                         supported=supported) for v in x.tolist()]
        dev = np.resize(x[::-1], x.shape)
        assert reba_wrist_scores(x, dev, twisted=flag).tolist() == [
            reba.wrist_score(f, d, twisted=flag) for f, d in zip(x.tolist(), dev.tolist())]
    assert reba_lower_arm_scores(x).tolist() == [reba.lower_arm_score(v) for v in x.tolist()]
    assert reba_wrist_scores([np.nan, np.nan], [np.nan, 12.0]).tolist() == [
        reba.wrist_score(None, None), reba.wrist_score(None, 12.0)]
    loads = _grid(0.0, 5.0, 10.0)
    loads = loads[loads >= 0.0]
    for shock in (False, True):
        assert reba_load_scores(loads, shock=shock).tolist() == [
            reba.load_score(v, shock=shock) for v in loads.tolist()]
    score = np.arange(1, 16)
    assert reba_action_levels(score).tolist() == [reba.action_level(s) for s in score.tolist()]


# ------------------------------------------------------------------ sizes

def test_no_frames() -> None:
    batch = joint_angles_batch(np.zeros((0, 33, 3)), np.zeros((0, 33)), np.zeros((0, 21, 3)), None,
                               left_hand_present=np.zeros(0, dtype=bool))
    assert len(batch) == 0 and batch.neck_flexion.shape == (0,)
    r = rula_batch(batch, load_kg=np.zeros(0), shock=np.zeros(0, dtype=bool))
    e = reba_batch(batch, coupling=np.zeros(0, dtype=int))
    assert len(r) == 0 and r.left.upper_arm.shape == (0,) and r.grand.dtype.kind == "i"
    assert len(e) == 0 and e.risk.shape == (0,)


def test_one_frame(frames) -> None:
    world, lh, rh = (a[:1] for a in frames)
    batch = joint_angles_batch(world, np.full((1, 33), 0.7), lh, rh)
    want = joint_angles(world[0], np.full(33, 0.7), lh[0], rh[0])
    assert_angles_close(batch.frame(0), want)
    assert rula_batch(batch, load_kg=[4.0]).frame(0) == rula_from_angles(want, load_kg=4.0)
    assert reba_batch(batch, sitting=[True]).frame(0) == reba_from_angles(want, sitting=True)


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("shape", [(33, 3), (2, 33), (2, 32, 3), (2, 33, 2), (2, 33, 3, 1)])
def test_wrong_world_shape(shape) -> None:
    with pytest.raises(ValueError, match=r"world must have shape \(N, 33, 3\)"):
        joint_angles_batch(np.zeros(shape))


def test_wrong_shapes_of_the_other_inputs() -> None:
    world = np.zeros((4, 33, 3))
    with pytest.raises(ValueError, match=r"visibility must have shape \(4, 33\), got \(4, 21\)"):
        joint_angles_batch(world, np.ones((4, 21)))
    with pytest.raises(ValueError, match=r"left_hand must have shape \(4, 21, 3\), got \(3, 21, 3\)"):
        joint_angles_batch(world, None, np.zeros((3, 21, 3)))
    with pytest.raises(ValueError, match=r"right_hand must have shape \(4, 21, 3\)"):
        joint_angles_batch(world, None, None, np.zeros((4, 33, 3)))
    with pytest.raises(ValueError, match=r"right_hand_present must have shape \(4,\)"):
        joint_angles_batch(world, None, None, np.zeros((4, 21, 3)), right_hand_present=[True])
    with pytest.raises(ValueError, match="left_hand_present marks frames with a hand but left_hand is None"):
        joint_angles_batch(world, left_hand_present=[True, False, False, False])
    with pytest.raises(ValueError, match=r"shoulder_raised_ratio must be a number or have shape \(4,\)"):
        joint_angles_batch(world, shoulder_raised_ratio=[0.3, 0.3])
    with pytest.raises(ValueError, match="world must be numbers"):
        joint_angles_batch(np.full((1, 33, 3), "x"))
    batch = joint_angles_batch(world)
    with pytest.raises(ValueError, match=r"load_kg must be a number or have shape \(4,\), got shape \(3,\)"):
        rula_batch(batch, load_kg=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"shock must be a bool or have shape \(4,\)"):
        reba_batch(batch, shock=np.zeros((4, 1), dtype=bool))
    with pytest.raises(ValueError, match=r"coupling must be one value or have shape \(4,\)"):
        reba_batch(batch, coupling=[0, 1])
    with pytest.raises(ValueError, match="AnglesBatch.right_upper_arm_flexion has shape"):
        AnglesBatch(**{f.name: np.zeros(2 if f.name == "right_upper_arm_flexion" else 3)
                       for f in fields(AnglesBatch)})


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_landmarks_raise_as_per_frame(frames, bad) -> None:
    world, lh, rh = (a[:6].astype(np.float64) for a in frames)
    w = world.copy()
    w[4, P.NOSE, 1] = bad  # even a landmark no angle uses
    with pytest.raises(ValueError, match="non-finite"):
        joint_angles(w[4])
    with pytest.raises(ValueError, match=r"world contains a non-finite coordinate \(frame 4\)"):
        joint_angles_batch(w)
    h = lh.copy()
    h[2, 20, 0] = bad
    with pytest.raises(ValueError, match="non-finite"):
        joint_angles(world[2], None, h[2])
    with pytest.raises(ValueError, match=r"left_hand contains a non-finite coordinate \(frame 2\)"):
        joint_angles_batch(world, None, h, rh)
    # an absent hand is not looked at
    present = np.ones(6, dtype=bool)
    present[2] = False
    batch = joint_angles_batch(world, None, h, rh, left_hand_present=present)
    assert_angles_close(batch.frame(2), joint_angles(world[2], None, None, rh[2]))


def test_bad_options_raise_as_per_frame(frames) -> None:
    world, lh, rh = (a[:3] for a in frames)
    batch = joint_angles_batch(world, None, lh, rh)
    with pytest.raises(ValueError, match="load must be >= 0 kg"):
        rula_from_angles(batch.frame(1), load_kg=-1.0)
    with pytest.raises(ValueError, match=r"load must be >= 0 kg, got -1.0 \(frame 1\)"):
        rula_batch(batch, load_kg=[0.0, -1.0, 0.0])
    with pytest.raises(ValueError, match="load must be >= 0 kg"):
        reba_batch(batch, load_kg=-0.5)
    with pytest.raises(ValueError, match="coupling must be good, fair, poor or unacceptable"):
        reba_batch(batch, coupling="sticky")
    with pytest.raises(ValueError, match="coupling must be good, fair, poor or unacceptable"):
        reba_batch(batch, coupling=[0, 4, 1])
    with pytest.raises(ValueError, match="coupling must be good, fair, poor or unacceptable"):
        reba_batch(batch, coupling=["good", "fair", "sticky"])
