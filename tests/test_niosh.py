"""Revised NIOSH lifting equation against the Applications Manual (DHHS (NIOSH) Pub. 94-110).

Every expected value is typed here from the manual (2021 revision, printed page numbers),
as transcribed and reconciled in github.com/nbarr1/ErgonomicTool
(methods/rnle/transcription/*.csv and docs/methods/rnle.md), or worked out by hand in
the comments. None comes from running ergonomics.niosh.
"""

from __future__ import annotations

import math

import pytest

from ergonomics import niosh
from ergonomics.niosh import (
    METRIC,
    US_CUSTOMARY,
    Coupling,
    Duration,
    LiftGeometry,
    lifting_index,
)

# ------------------------------------------------------------------ Table 5 (p. 15), every cell
# F lifts/min | <=1 h V<30 | <=1 h V>=30 | 1-2 h V<30 | 1-2 h V>=30 | 2-8 h V<30 | 2-8 h V>=30
TABLE_5 = """
0.2  1.00 1.00  .95 .95  .85 .85
0.5  .97 .97    .92 .92  .81 .81
1    .94 .94    .88 .88  .75 .75
2    .91 .91    .84 .84  .65 .65
3    .88 .88    .79 .79  .55 .55
4    .84 .84    .72 .72  .45 .45
5    .80 .80    .60 .60  .35 .35
6    .75 .75    .50 .50  .27 .27
7    .70 .70    .42 .42  .22 .22
8    .60 .60    .35 .35  .18 .18
9    .52 .52    .30 .30  .00 .15
10   .45 .45    .26 .26  .00 .13
11   .41 .41    .00 .23  .00 .00
12   .37 .37    .00 .21  .00 .00
13   .00 .34    .00 .00  .00 .00
14   .00 .31    .00 .00  .00 .00
15   .00 .28    .00 .00  .00 .00
"""
DURATIONS = (Duration.SHORT, Duration.MODERATE, Duration.LONG)


def _table5_rows() -> list[tuple[float, list[float]]]:
    rows = []
    for line in TABLE_5.strip().splitlines():
        f, *cells = line.split()
        rows.append((float(f), [float(c) for c in cells]))
    return rows


@pytest.mark.parametrize("system, low_v, high_v", [(METRIC, 50.0, 100.0),
                                                    (US_CUSTOMARY, 20.0, 40.0)])
def test_frequency_multiplier_every_cell(system: niosh.UnitSystem, low_v: float,
                                         high_v: float) -> None:
    checked = 0
    for f, cells in _table5_rows():
        for i, expected in enumerate(cells):
            duration = DURATIONS[i // 2]
            v = low_v if i % 2 == 0 else high_v
            assert niosh.frequency_multiplier(f, duration, v, system) == pytest.approx(
                expected, abs=1e-12), (f, duration, v)
            checked += 1
    assert checked == 17 * 6


def test_frequency_multiplier_edges() -> None:
    # "> 15" row: .00 everywhere
    for duration in DURATIONS:
        assert niosh.frequency_multiplier(15.5, duration, 100.0) == 0.0
    # "For lifting less frequently than once per 5 minutes, set F = .2 lifts/minute"
    assert niosh.frequency_multiplier(0.05, Duration.LONG, 50.0) == 0.85
    # the V boundary is 75 cm: 75 belongs to the V >= 75 column
    assert niosh.frequency_multiplier(13, Duration.SHORT, 74.9) == 0.0
    assert niosh.frequency_multiplier(13, Duration.SHORT, 75.0) == 0.34
    # linear interpolation between rows (p. 7; Example 7 interpolates 2.4 between 2 and 3):
    # .91 + 0.4 x (.88 - .91) = .898
    assert niosh.frequency_multiplier(2.4, Duration.SHORT, 50.0) == pytest.approx(0.898)
    # between the last non-zero row and a .00 row the frequency is above the maximum: 0
    assert niosh.frequency_multiplier(12.5, Duration.SHORT, 50.0) == 0.0
    assert niosh.max_frequency(Duration.LONG, 50.0) == 8
    assert niosh.max_frequency(Duration.LONG, 100.0) == 10


# ------------------------------------------------------------------ Table 7 (p. 18), every cell
TABLE_7 = {Coupling.GOOD: (1.00, 1.00), Coupling.FAIR: (0.95, 1.00), Coupling.POOR: (0.90, 0.90)}


@pytest.mark.parametrize("system, low_v, high_v", [(METRIC, 74.0, 75.0),
                                                    (US_CUSTOMARY, 29.0, 30.0)])
def test_coupling_multiplier_every_cell(system: niosh.UnitSystem, low_v: float,
                                        high_v: float) -> None:
    for coupling, (below, at_or_above) in TABLE_7.items():
        assert niosh.coupling_multiplier(coupling, low_v, system) == below
        assert niosh.coupling_multiplier(coupling, high_v, system) == at_or_above
        assert niosh.coupling_multiplier(coupling.value.upper(), high_v, system) == at_or_above
    with pytest.raises(ValueError):
        niosh.coupling_multiplier("excellent", 50.0)


# ------------------------------------------------------------------ Tables 1-4, metric (pp. 8-13)
TABLE_1_HM = [(25, 1.00), (28, .89), (30, .83), (32, .78), (34, .74), (36, .69), (38, .66),
              (40, .63), (42, .60), (44, .57), (46, .54), (48, .52), (50, .50), (52, .48),
              (54, .46), (56, .45), (58, .43), (60, .42), (63, .40)]
TABLE_2_VM = [(0, .78), (10, .81), (20, .84), (30, .87), (40, .90), (50, .93), (60, .96),
              (70, .99), (80, .99), (90, .96), (100, .93), (110, .90), (120, .87), (130, .84),
              (140, .81), (150, .78), (160, .75), (170, .72), (175, .70)]
# D = 130 cm prints .86 where .82 + 4.5/130 = 0.8546; a known rounding slip of the table
# (the formula governs, p. 7), so that row is checked against the formula by hand instead.
TABLE_3_DM = [(25, 1.00), (40, .93), (55, .90), (70, .88), (85, .87), (100, .87), (115, .86),
              (145, .85), (160, .85), (175, .85)]
TABLE_4_AM = [(0, 1.00), (15, .95), (30, .90), (45, .86), (60, .81), (75, .76), (90, .71),
              (105, .66), (120, .62), (135, .57)]


def _half_up(x: float) -> float:
    return math.floor(x * 100.0 + 0.5 + 1e-9) / 100.0


@pytest.mark.parametrize("fn, rows", [
    (niosh.horizontal_multiplier, TABLE_1_HM),
    (niosh.vertical_multiplier, TABLE_2_VM),
    (niosh.distance_multiplier, TABLE_3_DM),
    (niosh.asymmetric_multiplier, TABLE_4_AM),
])
def test_multiplier_formulas_match_the_printed_tables(fn, rows) -> None:  # type: ignore
    for x, expected in rows:
        assert _half_up(fn(x)) == expected, (fn.__name__, x)


def test_multiplier_formulas_at_known_points() -> None:
    assert niosh.horizontal_multiplier(50) == 0.5                 # 25/50
    assert niosh.vertical_multiplier(75) == 1.0                   # optimum
    assert niosh.vertical_multiplier(0) == pytest.approx(0.775)   # 1 - .003 x 75
    assert niosh.distance_multiplier(130) == pytest.approx(0.82 + 4.5 / 130)   # 0.85461...
    assert niosh.asymmetric_multiplier(90) == pytest.approx(0.712)            # 1 - .288
    assert niosh.asymmetric_multiplier(-90) == pytest.approx(0.712)           # magnitude
    # U.S. customary forms (p. 7): 10/H, 1 - .0075|V - 30|, .82 + 1.8/D
    assert niosh.horizontal_multiplier(20, US_CUSTOMARY) == 0.5
    assert niosh.vertical_multiplier(20, US_CUSTOMARY) == pytest.approx(0.925)
    assert niosh.distance_multiplier(40, US_CUSTOMARY) == pytest.approx(0.865)


def test_out_of_range_rules() -> None:
    # H < 25 cm is set to 25 (HM = 1); H > 63 cm: HM = 0
    assert niosh.horizontal_multiplier(10) == 1.0
    assert niosh.horizontal_multiplier(63.1) == 0.0
    # V > 175 cm: VM = 0
    assert niosh.vertical_multiplier(175.1) == 0.0
    # D < 25 cm is set to 25 (DM = .82 + 4.5/25 = 1.0); D > 175 cm: DM = 0
    assert niosh.distance_multiplier(5) == pytest.approx(1.0)
    assert niosh.distance_multiplier(175.1) == 0.0
    # A > 135 degrees: AM = 0
    assert niosh.asymmetric_multiplier(135.1) == 0.0
    for fn in (niosh.horizontal_multiplier, niosh.vertical_multiplier, niosh.distance_multiplier):
        with pytest.raises(ValueError):
            fn(-1.0)


# ------------------------------------------------------------------ durations and frequency

def test_duration_from_hours() -> None:
    assert niosh.duration_from_hours(1.0) is Duration.SHORT
    assert niosh.duration_from_hours(1.01) is Duration.MODERATE
    assert niosh.duration_from_hours(2.0) is Duration.MODERATE
    assert niosh.duration_from_hours(8.0) is Duration.LONG
    with pytest.raises(ValueError):
        niosh.duration_from_hours(8.5)        # "no weight limits ... for more than eight hours"


def test_duration_category_worked_illustrations() -> None:
    # p. 14: 30 min lifting, 10 min light work, 45 min lifting: moderate (75 min total)
    assert niosh.duration_category([(30, 10), (45, 0)]) is Duration.MODERATE
    # with a 30-minute recovery instead, the short-duration category applies
    assert niosh.duration_category([(30, 30), (45, 0)]) is Duration.SHORT
    # two hours of continuous lifting need at least 0.3 x 120 = 36 min recovery to stay
    # moderate; with less, the next session's work is added and it becomes long duration
    assert niosh.duration_category([(120, 36), (60, 0)]) is Duration.MODERATE
    assert niosh.duration_category([(120, 35), (60, 0)]) is Duration.LONG


def test_special_frequency_procedure() -> None:
    # p. 16: 10 lifts/min for 8 minutes of the 15-minute sample: (10 x 8)/15 = 5.33
    assert round(niosh.special_frequency(10, 8), 2) == 5.33
    with pytest.raises(ValueError):
        niosh.special_frequency(16, 8)


# ------------------------------------------------------------------ worked example

def test_example_4_package_inspection_origin_worksheet() -> None:
    """Example 4, Figure 14 (p. 46), origin: H 10 in, V 22 in, D 37 in, A 0, fair coupling.

    Worksheet: RWL = 51 x 1.0 x .94 x .87 x 1.0 x .88 x .95 = 34.9 lb. By hand:
    VM = 1 - .0075 x 8 = .94; DM = .82 + 1.8/37 = .8686 -> .87; CM (fair, V < 30) = .95;
    51 x .94 x .87 x .88 x .95 = 34.87 -> 34.9. At full precision
    51 x .94 x .868649 x .88 x .95 = 34.81.
    The worksheet's FM is .88; the copy of the example consulted gives the multiplier, not
    F and the duration, so F = 3 lifts/min for <= 1 h (a Table 5 cell with .88) is used.
    """
    g = LiftGeometry(h_cm=10, v_origin_cm=22, v_destination_cm=59, a_deg=0,
                     frequency_per_min=3, duration=Duration.SHORT, coupling=Coupling.FAIR)
    result = lifting_index(15.0, g, system=US_CUSTOMARY)
    assert g.travel_cm == 37
    rounded, rwl, _ = niosh.worksheet_values(result.origin, 15.0)
    assert rounded == {"LC": 51.0, "HM": 1.0, "VM": 0.94, "DM": 0.87, "AM": 1.0, "FM": 0.88,
                       "CM": 0.95}
    assert rwl == 34.9
    assert result.origin.rwl_kg == pytest.approx(34.81, abs=0.005)
    # destination, V = 59 in, fair: CM = 1.00 (the worksheet's value)
    assert niosh.coupling_multiplier(Coupling.FAIR, 59, US_CUSTOMARY) == 1.0


# ------------------------------------------------------------------ the whole result

def test_lifting_index_metric_by_hand() -> None:
    # H 40, V 30 -> 80 cm, A 30 deg, F 1/min for 1-2 h, good coupling, 10 kg:
    # HM = 25/40 = .625; VM = 1 - .003 x 45 = .865; D = 50: DM = .82 + .09 = .91;
    # AM = 1 - .096 = .904; FM (1/min, 1-2 h, V < 75) = .88; CM = 1.
    # RWL = 23 x .625 x .865 x .91 x .904 x .88 = 8.9555...; LI = 10 / RWL = 1.1166...
    g = LiftGeometry(h_cm=40, v_origin_cm=30, v_destination_cm=80, a_deg=30,
                     frequency_per_min=1, duration_h=1.5, coupling="good")
    r = lifting_index(10.0, g)
    expected = 23 * 0.625 * 0.865 * 0.91 * 0.904 * 0.88
    assert r.rwl_kg == pytest.approx(expected)
    assert r.li == pytest.approx(10.0 / expected)
    assert r.governing == "origin" and r.destination is None
    assert r.multipliers["FM"] == 0.88


def test_significant_control_uses_the_lower_end() -> None:
    # destination higher and further: V 160 (VM = 1 - .003 x 85 = .745), H 50 (HM = .5)
    g = LiftGeometry(h_cm=30, v_origin_cm=75, v_destination_cm=160, h_destination_cm=50,
                     frequency_per_min=0.1, duration_h=0.5, coupling=Coupling.FAIR,
                     significant_control_at_destination=True)
    r = lifting_index(5.0, g)
    assert r.destination is not None and r.governing == "destination"
    assert r.rwl_kg == r.destination.rwl_kg < r.origin.rwl_kg
    # FM uses V at the origin (75 -> the V >= 75 column), CM the destination's V
    assert r.destination.multipliers["FM"] == 1.0
    assert r.destination.multipliers["CM"] == 1.0
    assert r.destination.multipliers["HM"] == 0.5
    assert any("F = 0.1" in n for n in r.notes)


def test_zero_rwl_gives_infinite_lifting_index_and_a_note() -> None:
    g = LiftGeometry(h_cm=30, v_origin_cm=75, d_cm=30, a_deg=150)
    r = lifting_index(5.0, g)
    assert r.rwl_kg == 0.0 and math.isinf(r.li)
    assert any("AM = 0" in n for n in r.notes) and any("RWL is zero" in n for n in r.notes)


def test_geometry_validation() -> None:
    with pytest.raises(ValueError):
        LiftGeometry(h_cm=30, v_origin_cm=75)                 # neither D nor destination
    with pytest.raises(ValueError):
        LiftGeometry(h_cm=-1, v_origin_cm=75, d_cm=30)
    with pytest.raises(ValueError):
        LiftGeometry(h_cm=30, v_origin_cm=75, d_cm=30, significant_control_at_destination=True)
    with pytest.raises(ValueError):
        lifting_index(-1.0, LiftGeometry(h_cm=30, v_origin_cm=75, d_cm=30))
