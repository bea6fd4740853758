"""The revised NIOSH lifting equation: recommended weight limit (RWL) and lifting index (LI).

Sources
-------
* Waters TR, Putz-Anderson V, Garg A, Fine LJ (1993). Revised NIOSH equation for the
  design and evaluation of manual lifting tasks. Ergonomics 36(7):749-776.
* Waters TR, Putz-Anderson V, Garg A (1994). Applications Manual for the Revised NIOSH
  Lifting Equation. DHHS (NIOSH) Publication No. 94-110 (revised 9/2021; the revision
  only corrects typographical errors and leaves "the formulas, multipliers and
  limitations" unchanged). Page numbers below ("p. N") are the manual's printed pages.
  Tables 5 and 7 were typed from the double-transcribed, reconciled copies of the
  2021 manual in github.com/nbarr1/ErgonomicTool (methods/rnle/transcription/), and
  cross-checked against CCOHS's coupling and frequency examples.

The equation (p. 7)::

    RWL = LC x HM x VM x DM x AM x FM x CM          LI = load / RWL

    metric:  LC = 23 kg, HM = 25/H, VM = 1 - 0.003|V - 75|, DM = 0.82 + 4.5/D,
             AM = 1 - 0.0032 A, FM from Table 5, CM from Table 7 (H, V, D in cm)
    U.S.:    LC = 51 lb, HM = 10/H, VM = 1 - 0.0075|V - 30|, DM = 0.82 + 1.8/D

Rules for values outside the ranges (pp. 8-15), applied exactly as the manual states
them and reported in ``NioshResult.notes``:

* H < 25 cm (10 in) is set to 25 cm (HM = 1); H > 63 cm (25 in): HM = 0.
* V > 175 cm (70 in): VM = 0. V below the floor is invalid input.
* D < 25 cm (10 in) is set to 25 cm (DM = 1); D > 175 cm (70 in): DM = 0.
* A > 135 degrees: AM = 0. The sign of A is ignored (the manual defines A as an angle
  magnitude).
* F < 0.2 lifts/min is set to 0.2 (Table 5 footnote: "For lifting less frequently than
  once per 5 minutes, set F = .2 lifts/minute"). Between table rows FM is linearly
  interpolated (p. 7; Example 7 interpolates F = 2.4 between the rows for 2 and 3).
  "Lifting above the maximum frequency results in a RWL of 0.0" (p. 15): a column's
  maximum frequency is taken as its highest row with a non-zero FM, so a frequency
  between that row and the next (.00) row gives FM = 0, not an interpolated value
  (the manual does not say how to interpolate towards a .00 row; this is the reading
  that never makes a frequency the manual calls too high look acceptable).
* FM uses V at the origin (p. 15, "the vertical location (V) of the hands at the
  origin"); CM uses V at the point being evaluated, as the Example 4 worksheet does
  (CM .95 at the origin, V = 22 in, fair; 1.00 at the destination, V = 59 in, fair).
* With significant control at the destination the RWL is computed at both ends and
  the lower one governs (pp. 21, 26).
* Lifting duration categories (pp. 13-14) come from the work/recovery pattern:
  ``duration_category``. The equation gives no limits beyond 8 hours.

Computation is at full precision. The manual's worked examples multiply multipliers
rounded to two decimals and round the RWL and LI to one (p. 29); ``worksheet_values``
reproduces that rounding for comparison with the printed worksheets.

The field names of ``LiftGeometry`` are metric because the product is; pass
``system=US_CUSTOMARY`` to read the same fields as inches and the load as pounds
(the U.S. constants are not exact conversions of the metric ones, so the manual's
worksheets, printed in inches and pounds, can only be checked that way).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum


class Coupling(Enum):
    """Hand-to-container coupling (Table 6, p. 17)."""

    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


class Duration(Enum):
    """Lifting duration category (pp. 13-14)."""

    SHORT = "<=1 h"          # <= 1 h of work, then recovery >= 1.0 x work time
    MODERATE = "1-2 h"       # > 1 h and <= 2 h, then recovery >= 0.3 x work time
    LONG = "2-8 h"           # > 2 h and <= 8 h with standard industrial breaks


@dataclass(frozen=True, slots=True)
class UnitSystem:
    """The constants of one unit system (p. 7 and the variable limits, pp. 8-15)."""

    name: str
    load_constant: float      # LC
    h_min: float              # H below this is set to it
    h_max: float              # H above this: HM = 0
    v_optimum: float          # knuckle height, VM = 1
    v_max: float              # V above this: VM = 0
    vm_slope: float
    d_min: float              # D below this is set to it
    d_max: float              # D above this: DM = 0
    dm_numerator: float
    v_boundary: float         # Tables 5 and 7: V < 30 in (75 cm) vs V >= 30 in (75 cm)


METRIC = UnitSystem("metric (kg, cm)", 23.0, 25.0, 63.0, 75.0, 175.0, 0.003,
                    25.0, 175.0, 4.5, 75.0)
US_CUSTOMARY = UnitSystem("U.S. customary (lb, in)", 51.0, 10.0, 25.0, 30.0, 70.0, 0.0075,
                          10.0, 70.0, 1.8, 30.0)

A_MAX_DEG = 135.0
F_MIN_PER_MIN = 0.2

# Table 5, Frequency Multiplier (p. 15). Rows: lifts/min; per duration a pair
# (V < 30 in / 75 cm, V >= 30 in / 75 cm). The first row is "<= 0.2", the last row of the
# printed table is "> 15" with .00 everywhere.
FREQUENCY_ROWS: tuple[float, ...] = (0.2, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
FM_TABLE: dict[Duration, tuple[tuple[float, float], ...]] = {
    Duration.SHORT: (
        (1.00, 1.00), (0.97, 0.97), (0.94, 0.94), (0.91, 0.91), (0.88, 0.88), (0.84, 0.84),
        (0.80, 0.80), (0.75, 0.75), (0.70, 0.70), (0.60, 0.60), (0.52, 0.52), (0.45, 0.45),
        (0.41, 0.41), (0.37, 0.37), (0.00, 0.34), (0.00, 0.31), (0.00, 0.28)),
    Duration.MODERATE: (
        (0.95, 0.95), (0.92, 0.92), (0.88, 0.88), (0.84, 0.84), (0.79, 0.79), (0.72, 0.72),
        (0.60, 0.60), (0.50, 0.50), (0.42, 0.42), (0.35, 0.35), (0.30, 0.30), (0.26, 0.26),
        (0.00, 0.23), (0.00, 0.21), (0.00, 0.00), (0.00, 0.00), (0.00, 0.00)),
    Duration.LONG: (
        (0.85, 0.85), (0.81, 0.81), (0.75, 0.75), (0.65, 0.65), (0.55, 0.55), (0.45, 0.45),
        (0.35, 0.35), (0.27, 0.27), (0.22, 0.22), (0.18, 0.18), (0.00, 0.15), (0.00, 0.13),
        (0.00, 0.00), (0.00, 0.00), (0.00, 0.00), (0.00, 0.00), (0.00, 0.00)),
}

# Table 7, Coupling Multiplier (p. 18): (V < 30 in / 75 cm, V >= 30 in / 75 cm)
CM_TABLE: dict[Coupling, tuple[float, float]] = {
    Coupling.GOOD: (1.00, 1.00),
    Coupling.FAIR: (0.95, 1.00),
    Coupling.POOR: (0.90, 0.90),
}


def _nonnegative(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"{name} must be a finite value >= 0, got {value}")


# ---------------------------------------------------------------- the multipliers

def horizontal_multiplier(h: float, system: UnitSystem = METRIC) -> float:
    """HM = 25/H (10/H in inches); H below 25 cm counts as 25, above 63 cm HM = 0."""
    _nonnegative("H", h)
    if h > system.h_max:
        return 0.0
    return system.h_min / max(h, system.h_min)


def vertical_multiplier(v: float, system: UnitSystem = METRIC) -> float:
    """VM = 1 - 0.003|V - 75| (1 - 0.0075|V - 30| in inches); above 175 cm VM = 0."""
    _nonnegative("V", v)
    if v > system.v_max:
        return 0.0
    return 1.0 - system.vm_slope * abs(v - system.v_optimum)


def distance_multiplier(d: float, system: UnitSystem = METRIC) -> float:
    """DM = 0.82 + 4.5/D (0.82 + 1.8/D in inches); D below 25 cm counts as 25, above 175 DM = 0."""
    _nonnegative("D", d)
    if d > system.d_max:
        return 0.0
    return 0.82 + system.dm_numerator / max(d, system.d_min)


def asymmetric_multiplier(a_deg: float) -> float:
    """AM = 1 - 0.0032 A; above 135 degrees AM = 0. The sign of A is ignored."""
    a = abs(a_deg)
    if not math.isfinite(a):
        raise ValueError(f"A must be finite, got {a_deg}")
    if a > A_MAX_DEG:
        return 0.0
    return 1.0 - 0.0032 * a


def _column(duration: Duration, v_origin: float, system: UnitSystem) -> list[float]:
    col = 0 if v_origin < system.v_boundary else 1
    return [row[col] for row in FM_TABLE[duration]]


def max_frequency(duration: Duration, v_origin: float, system: UnitSystem = METRIC) -> float:
    """The highest tabulated frequency with a non-zero FM for this duration and height."""
    column = _column(duration, v_origin, system)
    return max(f for f, fm in zip(FREQUENCY_ROWS, column) if fm > 0.0)


def frequency_multiplier(f_per_min: float, duration: Duration, v_origin: float,
                         system: UnitSystem = METRIC) -> float:
    """FM from Table 5, linearly interpolated between rows; 0 above the column's maximum."""
    _nonnegative("F", f_per_min)
    _nonnegative("V", v_origin)
    f = max(f_per_min, F_MIN_PER_MIN)
    column = _column(duration, v_origin, system)
    if f > max_frequency(duration, v_origin, system):
        return 0.0
    i = bisect_right(FREQUENCY_ROWS, f) - 1
    if i >= len(FREQUENCY_ROWS) - 1 or FREQUENCY_ROWS[i] == f:
        return column[i]
    f0, f1 = FREQUENCY_ROWS[i], FREQUENCY_ROWS[i + 1]
    return column[i] + (column[i + 1] - column[i]) * (f - f0) / (f1 - f0)


def coupling_multiplier(coupling: Coupling | str, v: float, system: UnitSystem = METRIC) -> float:
    """CM from Table 7 by coupling class and the hands' height at the point evaluated."""
    _nonnegative("V", v)
    return CM_TABLE[_coupling(coupling)][0 if v < system.v_boundary else 1]


def _coupling(coupling: Coupling | str) -> Coupling:
    if isinstance(coupling, Coupling):
        return coupling
    try:
        return Coupling(str(coupling).strip().lower())
    except ValueError:
        raise ValueError(f"coupling must be good, fair or poor, got {coupling!r}") from None


# ---------------------------------------------------------------- duration and frequency

def duration_from_hours(hours: float) -> Duration:
    """The category of one continuous lifting session of ``hours`` (no more than 8)."""
    _nonnegative("duration", hours)
    if hours <= 1.0:
        return Duration.SHORT
    if hours <= 2.0:
        return Duration.MODERATE
    if hours <= 8.0:
        return Duration.LONG
    raise ValueError(f"the lifting equation gives no limits beyond 8 hours, got {hours} h")


_SEVERITY = {Duration.SHORT: 0, Duration.MODERATE: 1, Duration.LONG: 2}


def duration_category(sessions: Sequence[tuple[float, float]]) -> Duration:
    """Duration category of a work pattern, per pp. 13-14.

    ``sessions``: (lifting minutes, light-work minutes after it) in time order. A
    session ends a short-duration period when the recovery after it is at least 1.0 x
    the accumulated work time (work <= 60 min), a moderate one when it is at least
    0.3 x (60 < work <= 120 min). Otherwise "the work times are added together" and
    that recovery is disregarded. More than 120 min accumulated is long duration. The
    pattern's category is the most severe one it contains.
    """
    if not sessions:
        raise ValueError("give at least one lifting session")
    worst = Duration.SHORT
    accumulated = 0.0
    for i, (work, recovery) in enumerate(sessions):
        _nonnegative("work minutes", work)
        _nonnegative("recovery minutes", recovery)
        accumulated += work
        last = i == len(sessions) - 1
        if accumulated > 480.0:
            raise ValueError("the lifting equation gives no limits beyond 8 hours")
        if accumulated <= 60.0 and (last or recovery >= 1.0 * accumulated):
            category = Duration.SHORT
        elif 60.0 < accumulated <= 120.0 and (last or recovery >= 0.3 * accumulated):
            category = Duration.MODERATE
        elif accumulated > 120.0 and last:
            category = Duration.LONG
        else:
            continue   # recovery too short: add the next session's work time
        if _SEVERITY[category] > _SEVERITY[worst]:
            worst = category
        accumulated = 0.0
    return worst


def special_frequency(lifts_per_min: float, lifting_min_in_15: float) -> float:
    """F for intermittent repetitive lifting within a 15-minute sample (p. 16).

    "(1) compute the total number of lifts performed for the 15-minute period (lift
    rate times work time), (2) divide the total number of lifts by 15". The manual's
    example: 10 lifts/min for 8 minutes gives (10 x 8)/15 = 5.33 lifts/min. Valid as
    long as the actual lifting frequency does not exceed 15 lifts/min.
    """
    _nonnegative("lifting rate", lifts_per_min)
    _nonnegative("lifting minutes", lifting_min_in_15)
    if lifts_per_min > 15.0:
        raise ValueError("the special procedure applies only up to 15 lifts/min")
    if lifting_min_in_15 > 15.0:
        raise ValueError("the sample is 15 minutes long")
    return lifts_per_min * lifting_min_in_15 / 15.0


# ---------------------------------------------------------------- one lift

@dataclass(frozen=True, slots=True)
class LiftGeometry:
    """One lifting task. Lengths in cm (inches with ``US_CUSTOMARY``), angles in degrees.

    ``d_cm`` defaults to |V destination - V origin|. ``duration_h`` is the length of
    continuous lifting (see ``duration_from_hours``), or give ``duration`` directly
    (e.g. from ``duration_category``). Destination H and A default to the origin's.
    """

    h_cm: float
    v_origin_cm: float
    v_destination_cm: float | None = None
    d_cm: float | None = None
    a_deg: float = 0.0
    frequency_per_min: float = F_MIN_PER_MIN
    duration_h: float = 1.0
    coupling: Coupling = Coupling.FAIR
    h_destination_cm: float | None = None
    a_destination_deg: float | None = None
    significant_control_at_destination: bool = False
    duration: Duration | None = None

    def __post_init__(self) -> None:
        _nonnegative("H", self.h_cm)
        _nonnegative("V origin", self.v_origin_cm)
        _nonnegative("F", self.frequency_per_min)
        if self.v_destination_cm is not None:
            _nonnegative("V destination", self.v_destination_cm)
        if self.d_cm is not None:
            _nonnegative("D", self.d_cm)
        if self.d_cm is None and self.v_destination_cm is None:
            raise ValueError("give d_cm or v_destination_cm (D = |V destination - V origin|)")
        if self.significant_control_at_destination and self.v_destination_cm is None:
            raise ValueError("significant control at the destination needs v_destination_cm")
        if self.h_destination_cm is not None:
            _nonnegative("H destination", self.h_destination_cm)
        object.__setattr__(self, "coupling", _coupling(self.coupling))
        if self.duration is None:
            object.__setattr__(self, "duration", duration_from_hours(self.duration_h))

    @property
    def travel_cm(self) -> float:
        """D: the given one, or |V destination - V origin|."""
        if self.d_cm is not None:
            return self.d_cm
        assert self.v_destination_cm is not None
        return abs(self.v_destination_cm - self.v_origin_cm)


@dataclass(frozen=True, slots=True)
class LiftPoint:
    """RWL and LI at one end of the lift, with its multipliers."""

    where: str                       # "origin" or "destination"
    rwl_kg: float
    li: float
    multipliers: dict[str, float]


@dataclass(frozen=True, slots=True)
class NioshResult:
    """The governing (lower) RWL and its LI, both ends, and what the rules changed."""

    rwl_kg: float
    li: float
    multipliers: dict[str, float]
    notes: tuple[str, ...]
    origin: LiftPoint
    destination: LiftPoint | None
    governing: str


def _point(where: str, load: float, h: float, v: float, a: float, g: LiftGeometry,
           system: UnitSystem, notes: list[str]) -> LiftPoint:
    assert g.duration is not None
    unit = "in" if system is US_CUSTOMARY else "cm"
    if h < system.h_min:
        notes.append(f"{where}: H = {h:g} {unit} < {system.h_min:g}: set to {system.h_min:g}"
                     f" (HM = 1)")
    if h > system.h_max:
        notes.append(f"{where}: H = {h:g} {unit} > {system.h_max:g}: HM = 0")
    if v > system.v_max:
        notes.append(f"{where}: V = {v:g} {unit} > {system.v_max:g}: VM = 0")
    if abs(a) > A_MAX_DEG:
        notes.append(f"{where}: A = {abs(a):g} deg > {A_MAX_DEG:g}: AM = 0")
    m = {
        "LC": system.load_constant,
        "HM": horizontal_multiplier(h, system),
        "VM": vertical_multiplier(v, system),
        "DM": distance_multiplier(g.travel_cm, system),
        "AM": asymmetric_multiplier(a),
        # FM uses V at the origin, also at the destination (p. 15)
        "FM": frequency_multiplier(g.frequency_per_min, g.duration, g.v_origin_cm, system),
        "CM": coupling_multiplier(g.coupling, v, system),
    }
    rwl = math.prod(m.values())
    li = load / rwl if rwl > 0.0 else (0.0 if load == 0.0 else math.inf)
    return LiftPoint(where=where, rwl_kg=rwl, li=li, multipliers=m)


def lifting_index(load_kg: float, geometry: LiftGeometry,
                  system: UnitSystem = METRIC) -> NioshResult:
    """RWL and LI of one lifting task (load in kg, or lb with ``US_CUSTOMARY``)."""
    _nonnegative("load", load_kg)
    g = geometry
    assert g.duration is not None
    notes: list[str] = []
    d = g.travel_cm
    if d < system.d_min:
        notes.append(f"D = {d:g} < {system.d_min:g}: set to {system.d_min:g} (DM = 1)")
    if d > system.d_max:
        notes.append(f"D = {d:g} > {system.d_max:g}: DM = 0")
    if g.frequency_per_min < F_MIN_PER_MIN:
        notes.append(f"F = {g.frequency_per_min:g} < 0.2 lifts/min: set to 0.2")
    f = max(g.frequency_per_min, F_MIN_PER_MIN)
    f_max = max_frequency(g.duration, g.v_origin_cm, system)
    if f > f_max:
        notes.append(f"F = {f:g} lifts/min is above the maximum ({f_max:g}) for {g.duration.value}"
                     f" at this height: FM = 0")
    elif f not in FREQUENCY_ROWS:
        notes.append(f"FM interpolated between the Table 5 rows around F = {f:g}")

    origin = _point("origin", load_kg, g.h_cm, g.v_origin_cm, g.a_deg, g, system, notes)
    destination = None
    if g.significant_control_at_destination:
        assert g.v_destination_cm is not None
        h_dest = g.h_cm if g.h_destination_cm is None else g.h_destination_cm
        a_dest = g.a_deg if g.a_destination_deg is None else g.a_destination_deg
        destination = _point("destination", load_kg, h_dest, g.v_destination_cm, a_dest, g,
                             system, notes)
    governing = origin
    if destination is not None and destination.rwl_kg < origin.rwl_kg:
        governing = destination
    if governing.rwl_kg == 0.0:
        notes.append("RWL is zero: the task is outside the equation's limits (no load is"
                     " recommended)")
    return NioshResult(rwl_kg=governing.rwl_kg, li=governing.li,
                       multipliers=dict(governing.multipliers), notes=tuple(notes),
                       origin=origin, destination=destination, governing=governing.where)


def _round(value: float, places: int) -> float:
    q = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(q, rounding=ROUND_HALF_UP))


def worksheet_values(point: LiftPoint, load: float) -> tuple[dict[str, float], float, float]:
    """The point as the manual's worksheets print it (p. 29).

    Multipliers rounded to two decimals (half up, as Tables 1-4 round), the RWL as the
    product of the rounded multipliers rounded to one decimal, and the LI as the load
    over that RWL rounded to one decimal.
    """
    rounded = {k: (v if k == "LC" else _round(v, 2)) for k, v in point.multipliers.items()}
    rwl = _round(math.prod(rounded.values()), 1)
    li = _round(load / rwl, 1) if rwl > 0.0 else math.inf
    return rounded, rwl, li
