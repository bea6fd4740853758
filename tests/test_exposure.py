"""Exposure: smoothing, muscle-use and activity flags, window summaries.

Expected values are behaviour the module doc promises, or worked out by hand in the
comments for streams built here; none comes from running the code.
"""

from __future__ import annotations

import math
import random

import pytest

from ergonomics import reba, rula
from ergonomics.angles import ArmAngles, JointAngles
from ergonomics.exposure import (
    PeakPreservingSmoother,
    PostureFrame,
    PostureStream,
    elevation_class,
    exposure_summary,
    upper_arm_elevation,
)
from ergonomics.landmarks import Side

HZ = 30.0


def _arm(elevation: float, confidence: float = 1.0) -> ArmAngles:
    return ArmAngles(upper_arm_flexion=elevation, upper_arm_abduction=0.0,
                     shoulder_raised=False, lower_arm_flexion=80.0, across_midline=False,
                     out_to_side=False, wrist_flexion=0.0, wrist_deviation=0.0,
                     confidence=confidence)


def _angles(left: float, right: float = 10.0, trunk: float = 0.0, neck: float = 5.0,
            one_leg: bool = False) -> JointAngles:
    return JointAngles(left=_arm(left), right=_arm(right), neck_flexion=neck, neck_twist=0.0,
                       neck_side_bend=0.0, trunk_flexion=trunk, trunk_twist=0.0,
                       trunk_side_bend=0.0, knee_flexion_left=0.0, knee_flexion_right=0.0,
                       one_leg_stance=one_leg)


def _rula(grand: int, confidence: float = 1.0) -> rula.RulaAssessment:
    """A RULA assessment carrying the grand score under test."""
    side = rula.rula_score(Side.LEFT, upper_arm=1, lower_arm=1, wrist=1, wrist_twist=1,
                           neck=1, trunk=1, legs=1)
    return rula.RulaAssessment(left=side, right=side, grand=grand,
                               action_level=rula.action_level(grand), worse_side=Side.LEFT,
                               confidence=confidence)


def _reba(score: int) -> reba.RebaAssessment:
    side = reba.reba_score(Side.LEFT, neck=1, trunk=1, legs=1, upper_arm=1, lower_arm=1, wrist=1)
    level = reba.action_level(score)
    return reba.RebaAssessment(left=side, right=side, score=score, action_level=level,
                               risk=reba.RISK_LEVELS[level], worse_side=Side.LEFT,
                               confidence=1.0)


def _feed(stream: PostureStream, until: float, left, *, start: float = 0.0,
          trunk=lambda t: 0.0, neck=lambda t: 5.0) -> float:
    """Feed frames at HZ from ``start`` up to ``until`` (inclusive); returns the last t."""
    n = int(round((until - start) * HZ))
    t = start
    for i in range(n + 1):
        t = start + i / HZ
        stream.update(t, _angles(left(t), trunk=trunk(t), neck=neck(t)), _rula(3))
    return t


# ------------------------------------------------------------------ smoothing

def test_smoother_drops_a_one_frame_spike_and_keeps_a_two_second_peak() -> None:
    s = PeakPreservingSmoother(window_s=1.0)
    out = {}
    for i in range(int(12 * HZ)):
        t = i / HZ
        value = 10.0
        if i == int(2 * HZ):
            value = 90.0                         # one frame
        if 5.0 <= t < 7.0:
            value = 60.0                         # a real 2-s peak
        out[t] = s.update(t, value)
    assert max(v for t, v in out.items() if t < 4.0) == 10.0
    assert max(out.values()) == 60.0
    held = [t for t, v in out.items() if v == 60.0]
    # held for the peak's length, delayed by about half the window
    assert min(held) == pytest.approx(5.5, abs=0.1)
    assert max(held) - min(held) == pytest.approx(2.0, abs=0.1)
    assert out[max(out)] == 10.0


def test_smoother_weighs_by_time_not_by_count() -> None:
    # 0.6 s of 20 (one sample standing for it), then five quick samples of 80 in 0.1 s:
    # by count 80 wins (5 of 6), by time 20 does (0.6 s of the last 0.7 s)
    s = PeakPreservingSmoother(window_s=1.0)
    s.update(0.0, 20.0)
    s.update(0.6, 20.0)
    for k in range(1, 6):
        result = s.update(0.6 + 0.02 * k, 80.0)
    assert result == 20.0
    with pytest.raises(ValueError):
        s.update(0.1, 1.0)
    with pytest.raises(ValueError):
        PeakPreservingSmoother(0.0)


# ------------------------------------------------------------------ EN 1005-4 classes

def test_elevation_classes_at_the_boundaries() -> None:
    assert elevation_class(19.0) == "0-20"
    assert elevation_class(20.0) == "0-20"
    assert elevation_class(21.0) == "20-60"
    assert elevation_class(59.0) == "20-60"
    assert elevation_class(60.0) == "20-60"
    assert elevation_class(61.0) == ">60"


def test_upper_arm_elevation_from_flexion_and_abduction() -> None:
    def arm(flex: float, abd: float) -> ArmAngles:
        return ArmAngles(flex, abd, False, 90.0, False, False, None, None, 1.0)

    assert upper_arm_elevation(arm(45.0, 0.0)) == pytest.approx(45.0)
    assert upper_arm_elevation(arm(0.0, 90.0)) == pytest.approx(90.0)
    assert upper_arm_elevation(arm(200.0, 0.0)) == pytest.approx(160.0)   # past overhead
    # cos(elevation) = cos 60 x cos 60 = 0.25 -> 75.52 degrees
    assert upper_arm_elevation(arm(60.0, 60.0)) == pytest.approx(75.5225, abs=1e-4)


# ------------------------------------------------------------------ static

def _jitter(seed: int, amplitude: float):
    rng = random.Random(seed)
    cache: dict[float, float] = {}

    def f(t: float) -> float:
        if t not in cache:
            cache[t] = rng.uniform(-amplitude, amplitude)
        return cache[t]
    return f


def test_static_fires_after_a_minute_of_a_held_posture_not_at_50_s() -> None:
    noise = _jitter(1, 3.0)
    stream = PostureStream()
    _feed(stream, 50.0, lambda t: 45.0 + noise(t))
    assert stream.muscle_use(50.0) == (False, False)
    assert stream.activity(50.0)[0] is False
    _feed(stream, 61.0, lambda t: 45.0 + noise(t), start=50.0 + 1 / HZ)
    assert stream.muscle_use(61.0)[0] is True
    assert stream.activity(61.0)[0] is True
    assert stream.static_hold_s(61.0) == pytest.approx(61.0, abs=0.1)


def test_neutral_hold_is_not_static_and_a_move_restarts_the_hold() -> None:
    relaxed = PostureStream()
    _feed(relaxed, 120.0, lambda t: 10.0)            # arms relaxed, trunk upright, neck 5
    assert relaxed.muscle_use(120.0)[0] is False

    moved = PostureStream()
    _feed(moved, 62.0, lambda t: 45.0 if t < 30.0 else 80.0)
    assert moved.muscle_use(62.0)[0] is False
    _feed(moved, 90.0, lambda t: 80.0, start=62.0 + 1 / HZ)
    assert moved.muscle_use(90.0)[0] is False          # held since ~30 s: not yet > 60 s
    _feed(moved, 95.0, lambda t: 80.0, start=90.0 + 1 / HZ)
    assert moved.muscle_use(95.0)[0] is True
    # the hold began when the smoothed angle left the old band, ~0.15 s after the move
    assert moved.static_hold_s(95.0) == pytest.approx(65.0, abs=0.3)


def test_a_gap_in_the_stream_restarts_the_hold() -> None:
    stream = PostureStream()
    _feed(stream, 40.0, lambda t: 45.0)
    _feed(stream, 70.0, lambda t: 45.0, start=45.0)           # 5 s without frames
    assert stream.muscle_use(70.0)[0] is False
    _feed(stream, 106.0, lambda t: 45.0, start=70.0 + 1 / HZ)
    assert stream.muscle_use(106.0)[0] is True


# ------------------------------------------------------------------ repetition

@pytest.mark.parametrize("per_min", [3, 6, 10])
def test_repetition_counts_cycles_per_minute_despite_jitter(per_min: int) -> None:
    noise = _jitter(per_min, 2.0)
    stream = PostureStream()
    _feed(stream, 120.0,
          lambda t: 40.0 + 20.0 * math.sin(2 * math.pi * per_min * t / 60.0) + noise(t))
    counted = stream.movements_last_minute(120.0)[Side.LEFT]
    assert abs(counted - per_min) <= 1
    static, repetitive = stream.muscle_use(120.0)
    assert repetitive is (per_min >= 6)
    assert stream.activity(120.0)[1] is (per_min >= 6)
    assert static is False


def test_small_jitter_is_not_a_movement() -> None:
    noise = _jitter(7, 4.0)                      # 8 degrees peak to peak < 10 hysteresis
    stream = PostureStream()
    _feed(stream, 120.0, lambda t: 40.0 + noise(t))
    assert stream.movements_last_minute(120.0) == {Side.LEFT: 0, Side.RIGHT: 0}
    assert stream.muscle_use(120.0)[1] is False


# ------------------------------------------------------------------ rapid change (REBA)

def test_rapid_large_change_flags_for_a_minute() -> None:
    stream = PostureStream()
    # trunk from 0 to 60 degrees in 0.5 s
    _feed(stream, 10.0, lambda t: 10.0,
          trunk=lambda t: 0.0 if t < 5.0 else min(60.0, 120.0 * (t - 5.0)))
    assert stream.activity(10.0)[2] is True
    _feed(stream, 70.0, lambda t: 10.0, trunk=lambda t: 60.0, start=10.0 + 1 / HZ)
    assert stream.activity(70.0)[2] is False

    slow = PostureStream()
    _feed(slow, 30.0, lambda t: 10.0, trunk=lambda t: min(60.0, 3.0 * t))   # 60 deg in 20 s
    assert slow.activity(30.0)[2] is False


def test_one_leg_stance_is_an_unstable_base() -> None:
    stream = PostureStream()
    stream.update(0.0, _angles(10.0, one_leg=True), _rula(3))
    stream.update(1.0, _angles(10.0), _rula(3))
    assert stream.activity(1.0)[2] is True
    assert stream.activity(61.5)[2] is False


# ------------------------------------------------------------------ summaries

# frames with irregular timestamps; a frame covers until the next one, at most 2 s
#   t      grand (AL)  REBA (AL)  left elev  class   conf   covers
#   0.0    2  (1)      1  (0)     10         0-20    1.0    [0, 1)      1.0 s
#   1.0    3  (2)      2  (1)     30         20-60   0.8    [1, 1.5)    0.5 s
#   1.5    4  (2)      4  (2)     70         >60     0.6    [1.5, 3.5)  2.0 s (gap to 4.0)
#   4.0    5  (3)      8  (3)     65         >60     1.0    [4, 4.2)    0.2 s
#   4.2    7  (4)      11 (4)     15         0-20    0.5    [4.2, 6.2)  2.0 s (gap to 10)
#   10.0   1  (1)      3  (1)     50         20-60   1.0    [10, 11)    1.0 s (window end)
FRAMES = [(0.0, 2, 1, 10.0, 1.0), (1.0, 3, 2, 30.0, 0.8), (1.5, 4, 4, 70.0, 0.6),
          (4.0, 5, 8, 65.0, 1.0), (4.2, 7, 11, 15.0, 0.5), (10.0, 1, 3, 50.0, 1.0)]


def _frames() -> list[PostureFrame]:
    return [PostureFrame(t, _angles(left), _rula(grand, conf), _reba(score))
            for t, grand, score, left, conf in FRAMES]


def test_summary_of_irregular_frames_by_hand() -> None:
    s = exposure_summary(_frames(), 0.0, 11.0)
    covered = 1.0 + 0.5 + 2.0 + 0.2 + 2.0 + 1.0                       # 6.7 s
    assert s.covered_s == pytest.approx(covered)
    # RULA AL1: 1.0 + 1.0; AL2: 0.5 + 2.0; AL3: 0.2; AL4: 2.0
    assert s.rula_action_level_pct == pytest.approx(
        {1: 100 * 2.0 / covered, 2: 100 * 2.5 / covered, 3: 100 * 0.2 / covered,
         4: 100 * 2.0 / covered})
    assert sum(s.rula_action_level_pct.values()) == pytest.approx(100.0)
    # REBA AL0: 1.0; AL1: 0.5 + 1.0; AL2: 2.0; AL3: 0.2; AL4: 2.0
    assert s.reba_action_level_pct == pytest.approx(
        {0: 100 * 1.0 / covered, 1: 100 * 1.5 / covered, 2: 100 * 2.0 / covered,
         3: 100 * 0.2 / covered, 4: 100 * 2.0 / covered})
    assert sum(s.reba_action_level_pct.values()) == pytest.approx(100.0)
    # left arm: 0-20 for 1.0 + 2.0, 20-60 for 0.5 + 1.0, >60 for 2.0 + 0.2
    assert s.arm_elevation_pct[Side.LEFT] == pytest.approx(
        {"0-20": 100 * 3.0 / covered, "20-60": 100 * 1.5 / covered, ">60": 100 * 2.2 / covered})
    assert s.arm_elevation_pct[Side.RIGHT] == pytest.approx({"0-20": 100.0, "20-60": 0.0,
                                                             ">60": 0.0})
    # entries between frames without a gap: 0->1 into 20-60, 1->2 into >60 (2->3 and 4->5
    # follow gaps, 3->4 goes into 0-20): one of each per 6.7 s = 8.955 a minute
    assert s.arm_entries_per_min[Side.LEFT] == pytest.approx(
        {"20-60": 60.0 / covered, ">60": 60.0 / covered})
    # grand: (2 x 1 + 3 x .5 + 4 x 2 + 5 x .2 + 7 x 2 + 1 x 1) / 6.7 = 27.5 / 6.7
    assert s.rula_grand_mean == pytest.approx(27.5 / covered)
    assert s.rula_grand_peak == 7
    # REBA: (1 + 2 x .5 + 4 x 2 + 8 x .2 + 11 x 2 + 3) / 6.7 = 36.6 / 6.7
    assert s.reba_score_mean == pytest.approx(36.6 / covered)
    assert s.reba_score_peak == 11
    # confidence: (1 + .8 x .5 + .6 x 2 + 1 x .2 + .5 x 2 + 1) / 6.7 = 4.8 / 6.7
    assert s.mean_confidence == pytest.approx(4.8 / covered)
    assert s.notes            # the window is not fully covered
    assert s.static_count == 0 and s.repetition_per_min == 0.0


def test_summary_of_a_stream_equals_that_of_its_frames_and_clips_the_window() -> None:
    stream = PostureStream()
    for frame in _frames():
        stream.update(*frame)
    a, b = exposure_summary(stream, 0.0, 11.0), exposure_summary(_frames(), 0.0, 11.0)
    assert a == b
    # window [1.2, 4.1]: frame 1 covers [1.2, 1.5) 0.3 s (AL2), frame 2 [1.5, 3.5) 2.0 s (AL2),
    # frame 3 [4.0, 4.1) 0.1 s (AL3)
    c = exposure_summary(stream, 1.2, 4.1)
    assert c.covered_s == pytest.approx(2.4)
    assert c.rula_action_level_pct == pytest.approx({1: 0.0, 2: 100 * 2.3 / 2.4, 3: 100 * 0.1 / 2.4,
                                                     4: 0.0})
    with pytest.raises(ValueError):
        exposure_summary(stream, 20.0, 30.0)


def test_summary_counts_static_episodes_and_repetition() -> None:
    stream = PostureStream()
    # 90 s held at 45 degrees (static from 60 s on; the episode counts from its start),
    # then 120 s moving 6 times a minute around 80 degrees (the jump ends the hold)
    _feed(stream, 90.0, lambda t: 45.0)
    _feed(stream, 210.0, lambda t: 80.0 + 20.0 * math.sin(2 * math.pi * 6 * (t - 90) / 60.0),
          start=90.0 + 1 / HZ)
    s = exposure_summary(stream, 0.0, 210.0)
    assert s.static_count == 1
    assert s.static_time_s == pytest.approx(90.0, abs=0.5)
    later = exposure_summary(stream, 91.0, 210.0)      # the episode ends at ~90.1 s
    assert later.static_count == 0
    assert later.repetition_per_min == pytest.approx(6.0, abs=0.5)
    assert later.repetition_per_min_by_side[Side.RIGHT] == 0.0
    assert sum(later.arm_elevation_pct[Side.LEFT].values()) == pytest.approx(100.0)


def test_stream_rejects_time_going_backwards() -> None:
    stream = PostureStream()
    stream.update(1.0, _angles(10.0), _rula(2))
    with pytest.raises(ValueError):
        stream.update(0.5, _angles(10.0), _rula(2))
