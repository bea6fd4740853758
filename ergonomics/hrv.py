"""Heart-rate variability features from a window of RR intervals (ms), and the artefact filter before them.

Pure functions on lists of numbers. The time-domain definitions follow
neurokit2's ``hrv_time`` (0.2.x) exactly, so a window gives the same RMSSD,
SDNN, MeanNN and pNN50 as ``nk.hrv_time({"RRI": rr, "RRI_Time": t})``;
``tests/test_hrv.py`` checks that on long series, with and without dropped
beats. They are re-implemented here, not called, because the simulator
estimates stress every 5 virtual seconds of an 8-hour shift: ``nk.hrv_time``
costs ~4 ms a call (it builds a DataFrame and the geometric indices) and
~2 s to import, ours ~0.1 ms. :func:`neurokit_time_domain` calls neurokit2
itself, for checks and offline analysis.

Definitions (RR = the clean NN intervals of the window, in ms):

* ``mean_rr_ms`` = mean RR (neurokit2 ``HRV_MeanNN``);
  ``mean_hr_bpm`` = 60000 / mean RR.
* ``sdnn_ms`` = standard deviation of RR with ddof = 1 (``HRV_SDNN``).
* ``rmssd_ms`` = sqrt(mean(d²)) over the successive differences d
  (``HRV_RMSSD``). A difference is only taken between two beats that were
  adjacent in the recording: where the artefact filter dropped a beat, the
  difference across the gap is left out (neurokit2 does the same when given
  ``RRI_Time``).
* ``pnn50_pct`` = 100 · #(|d| > 50 ms) / (#d + 1), i.e. NN50 over the number
  of NN intervals as in the Task Force (1996) definition and neurokit2's
  ``HRV_pNN50`` (note the + 1: not the number of differences).
* ``stress_index`` = Baevsky's stress index, SI = AMo / (2 · Mo · MxDMn), from
  the histogram of RR in 50-ms bins (Baevsky R.M., Chernikova A.G. (2017),
  *Heart rate variability analysis: physiological foundations and main
  methods*, Cardiometry 10:66-76, doi:10.12710/cardiometry.2017.10.6676):
  AMo = share of RR in the modal bin, in %; Mo = the mode, here the centre
  of the modal bin, in s; MxDMn = max RR - min RR, in s. Bins are aligned at
  multiples of 50 ms ([800, 850) ms, ...); on a tie the shortest-RR bin is
  the mode. neurokit2 0.2.12 has no Baevsky index. Kubios HRV reports the
  square root of this value; we report the index itself. Typical resting
  values are 50-150; it rises steeply as the heart gets faster and steadier.
  If all RR are equal (MxDMn = 0) the index is undefined: NaN.

Artefacts (:class:`RRFilter`, :func:`clean_rr`), in this order:

1. an RR outside 300-2000 ms (200-30 bpm) is not a heartbeat interval a
   wrist or chest sensor should report: dropped;
2. an RR that differs by more than 20 % from the last accepted RR is taken
   as an ectopic beat or a missed/extra detection: dropped (the classic 20 %
   rule of Malik et al. (1989), Eur Heart J 10:1060-1074). So that a real,
   sudden change of rate does not lock the filter out, after 3 dropped beats
   in a row the filter re-anchors on the current beat when it agrees within
   20 % with the beat before it (the new rhythm is stable).

Every dropped beat breaks the chain of successive differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

RR_MIN_MS = 300.0
RR_MAX_MS = 2000.0
MAX_JUMP = 0.20
REANCHOR_AFTER = 3
SI_BIN_MS = 50.0


class RRFilter:
    """Streaming artefact filter: feed RR intervals one by one, in order."""

    def __init__(self, lo_ms: float = RR_MIN_MS, hi_ms: float = RR_MAX_MS, max_jump: float = MAX_JUMP,
                 reanchor_after: int = REANCHOR_AFTER):
        self.lo_ms, self.hi_ms, self.max_jump, self.reanchor_after = lo_ms, hi_ms, max_jump, reanchor_after
        self._ref: float | None = None        # last accepted RR
        self._last_in_range: float | None = None
        self._prev_accepted = False
        self._run = 0                         # jump rejections in a row
        self.dropped_range = 0
        self.dropped_jump = 0

    def push(self, rr: float) -> tuple[bool, bool]:
        """(accepted, successive): successive = the beat before this one was accepted too."""
        if not (self.lo_ms <= rr <= self.hi_ms):  # also NaN
            self.dropped_range += 1
            self._prev_accepted = False
            return False, False
        ok = self._ref is None or abs(rr - self._ref) <= self.max_jump * self._ref
        if not ok and self._run >= self.reanchor_after and self._last_in_range is not None \
                and abs(rr - self._last_in_range) <= self.max_jump * self._last_in_range:
            ok = True  # a new, stable rhythm: re-anchor on it
        self._last_in_range = rr
        if not ok:
            self.dropped_jump += 1
            self._run += 1
            self._prev_accepted = False
            return False, False
        successive = self._prev_accepted
        self._ref = rr
        self._run = 0
        self._prev_accepted = True
        return True, successive


@dataclass(frozen=True)
class CleanRR:
    rr_ms: list[float]          # accepted intervals
    successive: list[bool]      # successive[i]: rr_ms[i-1] and rr_ms[i] were adjacent beats (successive[0] False)
    times_s: list[float]        # time of each accepted beat from the start of the series (sum of all raw RR)
    dropped_range: int
    dropped_jump: int


def clean_rr(rr_ms: Sequence[float], **filter_args) -> CleanRR:
    """Drop artefacts from a series of RR intervals (see the module text for the rules)."""
    f = RRFilter(**filter_args)
    out: list[float] = []
    succ: list[bool] = []
    times: list[float] = []
    t = 0.0
    for rr in rr_ms:
        rr = float(rr)
        if rr == rr and rr > 0:
            t += rr / 1000.0
        ok, s = f.push(rr)
        if ok:
            out.append(rr)
            succ.append(s)
            times.append(t)
    return CleanRR(out, succ, times, f.dropped_range, f.dropped_jump)


@dataclass(frozen=True)
class HrvFeatures:
    n: int                 # NN intervals in the window
    mean_rr_ms: float
    mean_hr_bpm: float
    sdnn_ms: float
    rmssd_ms: float
    pnn50_pct: float
    stress_index: float    # Baevsky SI (NaN if undefined)

    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.mean_rr_ms, self.sdnn_ms, self.rmssd_ms, self.pnn50_pct,
                                              self.stress_index))


def successive_differences(rr_ms: Sequence[float], successive: Sequence[bool] | None = None) -> list[float]:
    if successive is None:
        return [b - a for a, b in zip(rr_ms, rr_ms[1:])]
    return [rr_ms[i] - rr_ms[i - 1] for i in range(1, len(rr_ms)) if successive[i]]


def rmssd(rr_ms: Sequence[float], successive: Sequence[bool] | None = None) -> float:
    d = successive_differences(rr_ms, successive)
    if not d:
        return math.nan
    return math.sqrt(sum(x * x for x in d) / len(d))


def sdnn(rr_ms: Sequence[float]) -> float:
    n = len(rr_ms)
    if n < 2:
        return math.nan
    m = sum(rr_ms) / n
    return math.sqrt(sum((x - m) ** 2 for x in rr_ms) / (n - 1))


def pnn50(rr_ms: Sequence[float], successive: Sequence[bool] | None = None) -> float:
    d = successive_differences(rr_ms, successive)
    return 100.0 * sum(1 for x in d if abs(x) > 50.0) / (len(d) + 1)


def mean_hr_bpm(rr_ms: Sequence[float]) -> float:
    return 60000.0 / (sum(rr_ms) / len(rr_ms)) if rr_ms else math.nan


def baevsky_stress_index(rr_ms: Sequence[float], bin_ms: float = SI_BIN_MS) -> float:
    """SI = AMo / (2 · Mo · MxDMn): AMo in %, Mo and MxDMn in seconds (Baevsky & Chernikova 2017)."""
    if not rr_ms:
        return math.nan
    counts: dict[int, int] = {}
    for x in rr_ms:
        k = int(x // bin_ms)
        counts[k] = counts.get(k, 0) + 1
    top = max(counts.values())
    k_mode = min(k for k, c in counts.items() if c == top)
    amo_pct = 100.0 * top / len(rr_ms)
    mo_s = (k_mode + 0.5) * bin_ms / 1000.0
    mxdmn_s = (max(rr_ms) - min(rr_ms)) / 1000.0
    if mxdmn_s <= 0.0:
        return math.nan
    return amo_pct / (2.0 * mo_s * mxdmn_s)


def hrv_features(rr_ms: Sequence[float], successive: Sequence[bool] | None = None) -> HrvFeatures:
    """Time-domain HRV of clean NN intervals; ``successive`` as returned by :func:`clean_rr` (default: all adjacent)."""
    rr = [float(x) for x in rr_ms]
    if len(rr) < 2:
        raise ValueError(f"HRV needs at least 2 RR intervals, got {len(rr)}")
    mean_rr = sum(rr) / len(rr)
    return HrvFeatures(n=len(rr), mean_rr_ms=mean_rr, mean_hr_bpm=60000.0 / mean_rr, sdnn_ms=sdnn(rr),
                       rmssd_ms=rmssd(rr, successive), pnn50_pct=pnn50(rr, successive),
                       stress_index=baevsky_stress_index(rr))


def neurokit_time_domain(rr_ms: Sequence[float], times_s: Sequence[float] | None = None) -> dict[str, float]:
    """The same features computed by neurokit2's ``hrv_time`` (Baevsky SI from this module: neurokit2 has none).

    ``times_s``: the time of each beat (as :func:`clean_rr` gives), so neurokit2 skips differences across gaps.
    """
    import neurokit2 as nk  # slow to import: only here
    import numpy as np

    rri = np.asarray(rr_ms, dtype=float)
    t = np.cumsum(rri) / 1000.0 if times_s is None else np.asarray(times_s, dtype=float)
    out = nk.hrv_time({"RRI": rri, "RRI_Time": t})
    mean_rr = float(out["HRV_MeanNN"].iloc[0])
    return {"mean_rr_ms": mean_rr, "mean_hr_bpm": 60000.0 / mean_rr, "sdnn_ms": float(out["HRV_SDNN"].iloc[0]),
            "rmssd_ms": float(out["HRV_RMSSD"].iloc[0]), "pnn50_pct": float(out["HRV_pNN50"].iloc[0]),
            "stress_index": baevsky_stress_index(list(rri))}
