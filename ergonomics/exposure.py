"""Exposure over time: smoothing, RULA/REBA muscle-use and activity flags, window summaries.

Everything here is pure: frames come in with their own timestamps (seconds, any
monotonic clock), nothing reads a clock.

Smoothing rule (``PeakPreservingSmoother``)
-------------------------------------------
The output at time t is the time-weighted median of the samples in the last
``window_s`` seconds, where a sample stands for the interval since the previous
sample. Consequences, for a window W:

* a level held for longer than W/2 appears in the output, at its full height, after
  a delay of about W/2 (a real peak is never flattened, only delayed);
* an excursion shorter than W/2, such as a single-frame spike of a pose glitch, does
  not appear at all.

Muscle use (RULA, McAtamney & Corlett 1993) and activity (REBA, Hignett & McAtamney 2000)
-----------------------------------------------------------------------------------------
Derived from the posture stream itself, on angles smoothed with a ``ANGLE_SMOOTHING_S``
window. Tracked body parts: upper-arm elevation of each arm (angle between the upper arm
and the trunk's downward axis, from ``ArmAngles`` flexion and abduction), trunk flexion,
neck flexion.

* Static: a body part held within +/- ``STATIC_BAND_DEG`` (10 degrees; i.e. its range over
  the hold stays within 20 degrees) for longer than ``STATIC_MIN_S`` (60 s, RULA's "held
  for longer than 1 minute", REBA's "held longer than 1 min"). Only holds outside the
  part's neutral zone count (upper arm elevated more than 20 degrees, trunk flexed or
  extended beyond ``rula.NEUTRAL_TOLERANCE_DEG``, neck flexed beyond 10 degrees or in
  extension): a relaxed, neutral posture is not static muscle work. A gap in the stream
  longer than ``MAX_GAP_S`` or a low-confidence reading restarts the hold.
* Repetitive: movements of the upper arm are counted with hysteresis: a movement is a
  peak of elevation confirmed by a fall of at least ``REPETITION_HYSTERESIS_DEG``
  (10 degrees) after a rise of at least as much, so jitter smaller than that never
  counts and a sinusoid of N cycles a minute counts N a minute. RULA: repetitive when an
  arm made at least 4 movements in the last 60 s ("repeated 4 times a minute or more",
  as ``ergonomics.assess`` reads RULA). REBA "repeated small range actions": more than 4.
* Rapid change (REBA): a tracked angle changes by at least ``RAPID_CHANGE_DEG`` (45
  degrees) within ``RAPID_CHANGE_WINDOW_S`` (1 s), or a one-leg stance (unstable base),
  within the last ``ACTIVITY_WINDOW_S`` (60 s). REBA gives no numbers for "rapid large
  range changes"; these are this project's, stated here for the ergonomist to check.

Upper-arm elevation classes (EN 1005-4:2005+A1:2008)
---------------------------------------------------
0-20, 20-60 and above 60 degrees of upper-arm elevation. EN 1005-4 judges 0-20 degrees
acceptable, 20-60 degrees acceptable at fewer than 2 a minute and conditionally acceptable
at 2 a minute or more, and above 60 degrees not acceptable (the standard's evaluation as
summarised in Dassault's 3DEXPERIENCE ergonomics checker; the standard itself is not
public). A shared boundary belongs to the lower class (20 -> 0-20,
60 -> 20-60), as in ``ergonomics.rula``. The elevation is relative to the trunk, as
``JointAngles`` reports it; it equals the standard's elevation for an upright trunk.

Summaries (``exposure_summary``)
--------------------------------
Time-weighted: a frame stands for the time until the next frame, at most ``MAX_GAP_S``;
longer gaps are not covered and are left out of every percentage. Percentages are of
the covered time within [t0, t1]; arm classes are of the time that arm's elevation was
known. Entries per minute count changes into a class from another class between
consecutive covered frames.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from .angles import ArmAngles, JointAngles
from .landmarks import Side
from .reba import RebaAssessment
from .rula import NEUTRAL_TOLERANCE_DEG, RulaAssessment

ANGLE_SMOOTHING_S = 0.3
STATIC_BAND_DEG = 10.0
STATIC_MIN_S = 60.0
REPETITION_HYSTERESIS_DEG = 10.0
REPETITION_WINDOW_S = 60.0
RULA_REPETITIVE_PER_MIN = 4        # >= 4 a minute
REBA_REPEATED_PER_MIN = 4          # > 4 a minute
RAPID_CHANGE_DEG = 45.0
RAPID_CHANGE_WINDOW_S = 1.0
ACTIVITY_WINDOW_S = 60.0
MAX_GAP_S = 2.0
MIN_CONFIDENCE = 0.25
HISTORY_S = 3600.0

UPPER_ARM_NEUTRAL_DEG = 20.0       # RULA upper arm band 1: 20 ext .. 20 flex
NECK_NEUTRAL_DEG = 10.0            # RULA neck band 1: 0 .. 10 flexion

ELEVATION_CLASSES: tuple[str, ...] = ("0-20", "20-60", ">60")


def elevation_class(elevation_deg: float) -> str:
    """EN 1005-4 upper-arm class: "0-20", "20-60" or ">60" (shared ends go to the lower class)."""
    if elevation_deg <= 20.0:
        return "0-20"
    if elevation_deg <= 60.0:
        return "20-60"
    return ">60"


def upper_arm_elevation(arm: ArmAngles) -> float:
    """Angle between the upper arm and the trunk's downward axis, degrees (0 = hanging).

    From the sagittal flexion and the out-of-plane abduction of ``ArmAngles``:
    cos(elevation) = cos(abduction) x cos(flexion).
    """
    c = math.cos(math.radians(arm.upper_arm_abduction)) * math.cos(
        math.radians(arm.upper_arm_flexion))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


# ---------------------------------------------------------------- smoothing

class PeakPreservingSmoother:
    """Time-weighted running median over the last ``window_s`` seconds (module doc)."""

    def __init__(self, window_s: float):
        if not window_s > 0.0:
            raise ValueError(f"window must be > 0 s, got {window_s}")
        self.window_s = window_s
        self._samples: deque[tuple[float, float, float]] = deque()   # (start, end, value)
        self._last_t: float | None = None

    def reset(self) -> None:
        self._samples.clear()
        self._last_t = None

    def update(self, t: float, value: float) -> float:
        """Add the sample at ``t`` and return the smoothed value at ``t``."""
        if not (math.isfinite(t) and math.isfinite(value)):
            raise ValueError(f"time and value must be finite, got {t}, {value}")
        if self._last_t is not None and t < self._last_t:
            raise ValueError(f"time went backwards: {t} after {self._last_t}")
        start = t if self._last_t is None else max(self._last_t, t - self.window_s)
        self._last_t = t
        self._samples.append((start, t, value))
        lo = t - self.window_s
        while self._samples and self._samples[0][1] <= lo and len(self._samples) > 1:
            self._samples.popleft()
        weighted = []
        total = 0.0
        for s, e, v in self._samples:
            w = e - max(s, lo)
            if w > 0.0:
                weighted.append((v, w))
                total += w
        if total <= 0.0:
            return value            # first sample (or repeated timestamps): nothing to weigh
        weighted.sort()
        acc = 0.0
        for v, w in weighted:
            acc += w
            if acc >= 0.5 * total - 1e-12:
                return v
        return weighted[-1][0]


# ---------------------------------------------------------------- detectors

class _Hold:
    """Longest recent stretch of samples whose range stays within 2 x band."""

    def __init__(self, band: float):
        self.band = band
        self._samples: deque[tuple[int, float, float]] = deque()
        self._max: deque[tuple[int, float]] = deque()
        self._min: deque[tuple[int, float]] = deque()
        self._n = 0

    def reset(self) -> None:
        self._samples.clear()
        self._max.clear()
        self._min.clear()

    def add(self, t: float, v: float) -> None:
        i = self._n
        self._n += 1
        self._samples.append((i, t, v))
        while self._max and self._max[-1][1] <= v:
            self._max.pop()
        self._max.append((i, v))
        while self._min and self._min[-1][1] >= v:
            self._min.pop()
        self._min.append((i, v))
        while self._max[0][1] - self._min[0][1] > 2.0 * self.band:
            j, _, _ = self._samples.popleft()
            if self._max[0][0] == j:
                self._max.popleft()
            if self._min[0][0] == j:
                self._min.popleft()

    @property
    def start(self) -> float | None:
        return self._samples[0][1] if self._samples else None


class _Movements:
    """Peaks confirmed by a reversal of at least ``hysteresis`` (module doc)."""

    def __init__(self, hysteresis: float):
        self.hysteresis = hysteresis
        self.peaks: deque[float] = deque()
        self.reset()

    def reset(self) -> None:
        self._rising: bool | None = None
        self._extreme = 0.0
        self._extreme_t = 0.0
        self._lo = math.inf
        self._hi = -math.inf

    def add(self, t: float, v: float) -> None:
        h = self.hysteresis
        if self._rising is None:
            if v < self._lo:
                self._lo = v
            if v > self._hi:
                self._hi = v
                self._extreme_t = t
            if v - self._lo >= h:
                self._rising, self._extreme, self._extreme_t = True, v, t
            elif self._hi - v >= h:
                self._rising, self._extreme, self._extreme_t = False, v, t
            return
        if self._rising:
            if v > self._extreme:
                self._extreme, self._extreme_t = v, t
            elif self._extreme - v >= h:
                self.peaks.append(self._extreme_t)
                self._rising, self._extreme, self._extreme_t = False, v, t
        else:
            if v < self._extreme:
                self._extreme, self._extreme_t = v, t
            elif v - self._extreme >= h:
                self._rising, self._extreme, self._extreme_t = True, v, t

    def count(self, since: float, until: float) -> int:
        return sum(1 for p in self.peaks if since < p <= until)

    def trim(self, before: float) -> None:
        while self.peaks and self.peaks[0] < before:
            self.peaks.popleft()


class _RapidChange:
    """Times when an angle moved by at least ``deg`` within ``window_s``."""

    def __init__(self, deg: float, window_s: float):
        self.deg, self.window_s = deg, window_s
        self._recent: deque[tuple[float, float]] = deque()
        self.last_event: float | None = None

    def reset(self) -> None:
        self._recent.clear()

    def add(self, t: float, v: float) -> None:
        self._recent.append((t, v))
        while self._recent[0][0] < t - self.window_s:
            self._recent.popleft()
        values = [x for _, x in self._recent]
        if max(values) - min(values) >= self.deg:
            self.last_event = t
            self._recent.clear()
            self._recent.append((t, v))


# ---------------------------------------------------------------- the stream

class PostureFrame(NamedTuple):
    """One assessed frame: time (s), angles, RULA and optionally REBA."""

    t: float
    angles: JointAngles
    rula: RulaAssessment
    reba: RebaAssessment | None = None


@dataclass(frozen=True, slots=True)
class ExposureRecord:
    """What the stream keeps of one frame (smoothed elevations; None when not seen)."""

    t: float
    elevation_left: float | None
    elevation_right: float | None
    rula_grand: int
    rula_action_level: int
    reba_score: int | None
    reba_action_level: int | None
    confidence: float
    static: bool


_PARTS = ("upper_arm_left", "upper_arm_right", "trunk", "neck")


def _non_neutral(part: str, value: float) -> bool:
    if part.startswith("upper_arm"):
        return value > UPPER_ARM_NEUTRAL_DEG
    if part == "trunk":
        return abs(value) > NEUTRAL_TOLERANCE_DEG
    return value > NECK_NEUTRAL_DEG or value < -NEUTRAL_TOLERANCE_DEG


class PostureStream:
    """Frames in, per-part time series and RULA/REBA muscle-use and activity flags out.

    Keeps ``history_s`` seconds of ``ExposureRecord`` (bounded memory; summarise longer
    stretches from stored frames with ``exposure_summary``).
    """

    def __init__(self, *, history_s: float = HISTORY_S, smoothing_s: float = ANGLE_SMOOTHING_S,
                 static_band_deg: float = STATIC_BAND_DEG, static_min_s: float = STATIC_MIN_S,
                 hysteresis_deg: float = REPETITION_HYSTERESIS_DEG,
                 max_gap_s: float = MAX_GAP_S, min_confidence: float = MIN_CONFIDENCE):
        self.history_s = history_s
        self.static_min_s = static_min_s
        self.max_gap_s = max_gap_s
        self.min_confidence = min_confidence
        self.records: deque[ExposureRecord] = deque()
        self.static_episodes: deque[list[float]] = deque()    # [start, end]
        self._smooth = {p: PeakPreservingSmoother(smoothing_s) for p in _PARTS}
        self._hold = {p: _Hold(static_band_deg) for p in _PARTS}
        self._value: dict[str, float | None] = {p: None for p in _PARTS}
        self._seen_at: dict[str, float] = {}
        self.movements = {Side.LEFT: _Movements(hysteresis_deg),
                          Side.RIGHT: _Movements(hysteresis_deg)}
        self._rapid = {p: _RapidChange(RAPID_CHANGE_DEG, RAPID_CHANGE_WINDOW_S)
                       for p in ("upper_arm_left", "upper_arm_right", "trunk")}
        self._unstable_at: float | None = None
        self._last_t: float | None = None
        self._episode_open = False

    # ------------------------------------------------------------ input

    def update(self, t: float, angles: JointAngles, rula: RulaAssessment,
               reba: RebaAssessment | None = None) -> ExposureRecord:
        """Add one frame; returns the record kept for it."""
        if not math.isfinite(t):
            raise ValueError(f"time must be finite, got {t}")
        if self._last_t is not None and t < self._last_t:
            raise ValueError(f"time went backwards: {t} after {self._last_t}")
        self._last_t = t
        readings = {
            "upper_arm_left": (upper_arm_elevation(angles.left), angles.left.confidence),
            "upper_arm_right": (upper_arm_elevation(angles.right), angles.right.confidence),
            "trunk": (angles.trunk_flexion, angles.trunk_confidence),
            "neck": (angles.neck_flexion, angles.neck_confidence),
        }
        for part, (raw, conf) in readings.items():
            last_seen = self._seen_at.get(part)
            if last_seen is not None and t - last_seen > self.max_gap_s:
                self._restart(part)
            if conf < self.min_confidence or not math.isfinite(raw):
                continue
            self._seen_at[part] = t
            v = self._smooth[part].update(t, raw)
            self._value[part] = v
            self._hold[part].add(t, v)
            if part in self._rapid:
                self._rapid[part].add(t, v)
            if part.startswith("upper_arm"):
                self.movements[Side.LEFT if part.endswith("left") else Side.RIGHT].add(t, v)
        if angles.one_leg_stance and angles.legs_confidence >= self.min_confidence:
            self._unstable_at = t

        static = self._static_hold_start(t) is not None
        self._track_episode(t, static)
        record = ExposureRecord(
            t=t,
            elevation_left=self._current("upper_arm_left", t),
            elevation_right=self._current("upper_arm_right", t),
            rula_grand=rula.grand, rula_action_level=rula.action_level,
            reba_score=None if reba is None else reba.score,
            reba_action_level=None if reba is None else reba.action_level,
            confidence=rula.confidence, static=static)
        self.records.append(record)
        self._trim(t)
        return record

    def _restart(self, part: str) -> None:
        self._smooth[part].reset()
        self._hold[part].reset()
        self._value[part] = None
        if part in self._rapid:
            self._rapid[part].reset()
        if part.startswith("upper_arm"):
            self.movements[Side.LEFT if part.endswith("left") else Side.RIGHT].reset()

    def _current(self, part: str, t: float) -> float | None:
        seen = self._seen_at.get(part)
        return self._value[part] if seen is not None and seen == t else None

    def _trim(self, t: float) -> None:
        while self.records and self.records[0].t < t - self.history_s:
            self.records.popleft()
        while self.static_episodes and self.static_episodes[0][1] < t - self.history_s:
            self.static_episodes.popleft()
        for m in self.movements.values():
            m.trim(t - max(self.history_s, REPETITION_WINDOW_S))

    def _track_episode(self, t: float, static: bool) -> None:
        if static:
            start = self._static_hold_start(t)
            assert start is not None
            if self._episode_open:
                self.static_episodes[-1][1] = t
            else:
                self.static_episodes.append([start, t])
                self._episode_open = True
        else:
            self._episode_open = False

    # ------------------------------------------------------------ flags

    def _static_hold_start(self, now: float) -> float | None:
        """Start of the oldest non-neutral hold longer than the minimum, or None."""
        best: float | None = None
        for part in _PARTS:
            seen = self._seen_at.get(part)
            value = self._value[part]
            start = self._hold[part].start
            if seen is None or value is None or start is None or now - seen > self.max_gap_s:
                continue
            if _non_neutral(part, value) and now - start > self.static_min_s:
                best = start if best is None else min(best, start)
        return best

    def static_hold_s(self, now: float) -> float:
        """How long the longest current non-neutral hold has lasted (0 if none is static)."""
        start = self._static_hold_start(now)
        return 0.0 if start is None else now - start

    def movements_last_minute(self, now: float) -> dict[Side, int]:
        """Upper-arm movements of each arm in (now - 60 s, now]."""
        return {side: m.count(now - REPETITION_WINDOW_S, now) for side, m in self.movements.items()}

    def muscle_use(self, now: float) -> tuple[bool, bool]:
        """RULA muscle use at ``now``: (static, repetitive)."""
        static = self._static_hold_start(now) is not None
        repetitive = max(self.movements_last_minute(now).values()) >= RULA_REPETITIVE_PER_MIN
        return static, repetitive

    def activity(self, now: float) -> tuple[bool, bool, bool]:
        """REBA activity at ``now``: (static, repeated small-range, rapid large change)."""
        static = self._static_hold_start(now) is not None
        repeated = max(self.movements_last_minute(now).values()) > REBA_REPEATED_PER_MIN
        since = now - ACTIVITY_WINDOW_S
        rapid = any(r.last_event is not None and since < r.last_event <= now
                    for r in self._rapid.values())
        unstable = self._unstable_at is not None and since < self._unstable_at <= now
        return static, repeated, rapid or unstable


# ---------------------------------------------------------------- summaries

@dataclass(frozen=True, slots=True)
class ExposureSummary:
    """Exposure in a window [t0, t1]; percentages are of covered time (module doc)."""

    t0: float
    t1: float
    covered_s: float
    mean_confidence: float
    rula_action_level_pct: dict[int, float]
    reba_action_level_pct: dict[int, float] | None
    arm_elevation_pct: dict[Side, dict[str, float]]
    arm_entries_per_min: dict[Side, dict[str, float]]
    static_count: int
    static_time_s: float
    repetition_per_min: float
    repetition_per_min_by_side: dict[Side, float]
    rula_grand_mean: float
    rula_grand_peak: int
    reba_score_mean: float | None = None
    reba_score_peak: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _coverage(records: Sequence[ExposureRecord], t0: float, t1: float, max_gap_s: float
              ) -> list[tuple[ExposureRecord, float, bool]]:
    """(record, seconds it covers inside [t0, t1], follows its predecessor without a gap)."""
    out = []
    for i, r in enumerate(records):
        nxt = records[i + 1].t if i + 1 < len(records) else math.inf
        end = min(nxt, r.t + max_gap_s, t1)
        start = max(r.t, t0)
        contiguous = i > 0 and r.t - records[i - 1].t <= max_gap_s
        out.append((r, max(0.0, end - start), contiguous))
    return out


def exposure_summary(source: PostureStream | Iterable[PostureFrame | tuple],
                     t0: float, t1: float) -> ExposureSummary:
    """Summarise a ``PostureStream`` or a sequence of frames over [t0, t1] (seconds)."""
    if not (math.isfinite(t0) and math.isfinite(t1) and t1 > t0):
        raise ValueError(f"need a window with t1 > t0, got [{t0}, {t1}]")
    if isinstance(source, PostureStream):
        stream = source
    else:
        stream = PostureStream(history_s=math.inf)
        for frame in source:
            stream.update(*frame)
    records = [r for r in stream.records if r.t <= t1]
    cover = _coverage(records, t0, t1, stream.max_gap_s)
    covered = sum(w for _, w, _ in cover)
    notes: list[str] = []
    if covered <= 0.0:
        raise ValueError(f"no frames cover [{t0}, {t1}]")
    if covered < 0.99 * (t1 - t0):
        notes.append(f"frames cover {covered:.1f} s of the {t1 - t0:.1f} s window")

    rula_pct = {level: 0.0 for level in (1, 2, 3, 4)}
    reba_time = {level: 0.0 for level in (0, 1, 2, 3, 4)}
    reba_covered = 0.0
    grand_sum = conf_sum = reba_sum = 0.0
    grand_peak, reba_peak = 0, None
    arm_time = {s: {c: 0.0 for c in ELEVATION_CLASSES} for s in Side}
    arm_entries = {s: {c: 0 for c in ELEVATION_CLASSES} for s in Side}
    previous_class: dict[Side, str | None] = {Side.LEFT: None, Side.RIGHT: None}
    for r, w, contiguous in cover:
        in_window = w > 0.0
        for side, elevation in ((Side.LEFT, r.elevation_left), (Side.RIGHT, r.elevation_right)):
            cls = None if elevation is None else elevation_class(elevation)
            if cls is not None and in_window:
                arm_time[side][cls] += w
                before = previous_class[side]
                if contiguous and before is not None and before != cls and r.t >= t0:
                    arm_entries[side][cls] += 1
            previous_class[side] = cls
        if not in_window:
            continue
        rula_pct[r.rula_action_level] += w
        grand_sum += r.rula_grand * w
        conf_sum += r.confidence * w
        grand_peak = max(grand_peak, r.rula_grand)
        if r.reba_score is not None and r.reba_action_level is not None:
            reba_time[r.reba_action_level] += w
            reba_covered += w
            reba_sum += r.reba_score * w
            reba_peak = r.reba_score if reba_peak is None else max(reba_peak, r.reba_score)

    minutes = covered / 60.0
    arm_pct: dict[Side, dict[str, float]] = {}
    for side in Side:
        known = sum(arm_time[side].values())
        arm_pct[side] = {c: (100.0 * arm_time[side][c] / known if known > 0 else 0.0)
                         for c in ELEVATION_CLASSES}
    entries = {side: {c: arm_entries[side][c] / minutes for c in ("20-60", ">60")}
               for side in Side}
    static_count, static_time = 0, 0.0
    for start, end in stream.static_episodes:
        overlap = min(end, t1) - max(start, t0)
        if overlap > 0.0:
            static_count += 1
            static_time += overlap
    reps = {side: stream.movements[side].count(t0, t1) / minutes for side in Side}
    return ExposureSummary(
        t0=t0, t1=t1, covered_s=covered, mean_confidence=conf_sum / covered,
        rula_action_level_pct={k: 100.0 * v / covered for k, v in rula_pct.items()},
        reba_action_level_pct=(None if reba_covered <= 0.0 else
                               {k: 100.0 * v / reba_covered for k, v in reba_time.items()}),
        arm_elevation_pct=arm_pct, arm_entries_per_min=entries,
        static_count=static_count, static_time_s=static_time,
        repetition_per_min=max(reps.values()), repetition_per_min_by_side=reps,
        rula_grand_mean=grand_sum / covered, rula_grand_peak=grand_peak,
        reba_score_mean=None if reba_covered <= 0.0 else reba_sum / reba_covered,
        reba_score_peak=reba_peak, notes=tuple(notes))
