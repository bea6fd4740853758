"""HRV features against hand-worked values and against neurokit2; the artefact filter.

Expected numbers are worked out by hand in the comments (or come from
neurokit2 itself), never from running ergonomics.hrv.
"""

from __future__ import annotations

import math
import random

import pytest

from ergonomics.hrv import (
    RRFilter, baevsky_stress_index, clean_rr, hrv_features, mean_hr_bpm, neurokit_time_domain, pnn50, rmssd, sdnn,
)


# ---- hand-worked values ---------------------------------------------------------------------

def test_rmssd_by_hand():
    # differences 10, -20, 10 -> squares 100, 400, 100
    assert rmssd([800, 810, 790, 800]) == pytest.approx(math.sqrt((100 + 400 + 100) / 3))


def test_sdnn_by_hand():
    # mean 800, deviations 0, 10, -10, 0 -> sum of squares 200, ddof 1 -> 200 / 3
    assert sdnn([800, 810, 790, 800]) == pytest.approx(math.sqrt(200 / 3))


def test_mean_heart_rate_by_hand():
    assert mean_hr_bpm([1000, 1000, 1000]) == pytest.approx(60.0)
    assert mean_hr_bpm([800, 810, 790, 800]) == pytest.approx(75.0)  # 60000 / 800


def test_pnn50_by_hand():
    # differences 60, -60, 30, 70: three above 50 ms; 5 intervals -> 3 / 5 (Task Force / neurokit2)
    assert pnn50([800, 860, 800, 830, 900]) == pytest.approx(60.0)
    # exactly 50 ms does not count (> 50)
    assert pnn50([800, 850, 800]) == pytest.approx(0.0)


def test_baevsky_stress_index_by_hand():
    # 50-ms bins: 790 -> [750, 800); 800, 810, 800 -> [800, 850); 870 -> [850, 900)
    # AMo = 3/5 = 60 %, Mo = centre of [800, 850) = 0.825 s, MxDMn = 870 - 790 = 80 ms = 0.08 s
    assert baevsky_stress_index([800, 810, 790, 800, 870]) == pytest.approx(60 / (2 * 0.825 * 0.08))
    # all in one bin: AMo 100 %, Mo 0.825 s, MxDMn 0.03 s
    assert baevsky_stress_index([810, 820, 830, 840]) == pytest.approx(100 / (2 * 0.825 * 0.03))
    # a tie between [750, 800) and [800, 850): the shorter bin is the mode (Mo 0.775 s), AMo 50 %, MxDMn 0.05 s
    assert baevsky_stress_index([760, 810]) == pytest.approx(50 / (2 * 0.775 * 0.05))
    # no spread at all: undefined
    assert math.isnan(baevsky_stress_index([800, 800, 800]))


def test_stress_index_rises_as_the_heart_gets_faster_and_steadier():
    rng = random.Random(4)
    calm = [rng.gauss(850, 45) for _ in range(80)]
    tense = [rng.gauss(650, 12) for _ in range(80)]
    assert baevsky_stress_index(tense) > 3 * baevsky_stress_index(calm)


def test_hrv_features_needs_two_intervals():
    with pytest.raises(ValueError):
        hrv_features([800])


# ---- artefacts -----------------------------------------------------------------------------

def test_out_of_range_beats_are_dropped_and_break_the_chain():
    c = clean_rr([800, 5000, 810, 250, 820])
    assert c.rr_ms == [800, 810, 820]
    assert c.dropped_range == 2 and c.dropped_jump == 0
    assert c.successive == [False, False, False]  # every kept beat follows a dropped one
    assert math.isnan(rmssd(c.rr_ms, c.successive))  # no successive difference left


def test_jumps_over_20_percent_are_dropped_and_no_difference_spans_the_gap():
    c = clean_rr([800, 810, 1100, 805, 800])  # 1100 is 36 % above 810
    assert c.rr_ms == [800, 810, 805, 800] and c.dropped_jump == 1
    assert c.successive == [False, True, False, True]
    # successive differences left: 810 - 800 = 10 and 800 - 805 = -5
    assert rmssd(c.rr_ms, c.successive) == pytest.approx(math.sqrt((100 + 25) / 2))


def test_the_20_percent_limit_itself_is_kept():
    assert clean_rr([1000, 1200]).rr_ms == [1000, 1200]
    assert clean_rr([1000, 1201]).rr_ms == [1000]


def test_a_real_change_of_rhythm_reanchors_after_three_beats():
    c = clean_rr([800] * 10 + [600] * 10)  # 600 is 25 % below 800
    assert c.dropped_jump == 3
    assert c.rr_ms == [800] * 10 + [600] * 7


def test_streaming_filter_matches_the_batch_function():
    rng = random.Random(9)
    rr = [rng.gauss(780, 60) for _ in range(400)]
    rr[40], rr[41], rr[200] = 1700, 380, 2600
    f = RRFilter()
    streamed = [x for x in rr if f.push(x)[0]]
    assert streamed == clean_rr(rr).rr_ms


# ---- agreement with neurokit2 -----------------------------------------------------------------

def _series(seed: int, n: int = 300) -> list[float]:
    rng = random.Random(seed)
    out, x = [], 0.0
    for _ in range(n):
        x = 0.7 * x + rng.gauss(0, 30)  # some beat-to-beat correlation, like a real heart
        out.append(820 + x)
    return out


@pytest.mark.parametrize("artefacts", [False, True])
def test_features_agree_with_neurokit2(artefacts):
    rr = _series(11)
    if artefacts:
        rr[30], rr[31], rr[150], rr[220] = 420.0, 1250.0, 3000.0, rr[219] * 1.6
    c = clean_rr(rr)
    ours = hrv_features(c.rr_ms, c.successive)
    nk = neurokit_time_domain(c.rr_ms, c.times_s)  # neurokit2 skips differences across the gaps itself
    assert ours.mean_rr_ms == pytest.approx(nk["mean_rr_ms"], rel=1e-9)
    assert ours.mean_hr_bpm == pytest.approx(nk["mean_hr_bpm"], rel=1e-9)
    assert ours.sdnn_ms == pytest.approx(nk["sdnn_ms"], rel=1e-9)
    assert ours.rmssd_ms == pytest.approx(nk["rmssd_ms"], rel=1e-9)
    assert ours.pnn50_pct == pytest.approx(nk["pnn50_pct"], rel=1e-9)
    if artefacts:  # the gaps matter: ignoring them would change RMSSD
        assert rmssd(c.rr_ms) != pytest.approx(ours.rmssd_ms, rel=1e-6)
