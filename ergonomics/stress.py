"""A first mental-strain estimate from heart-rate variability, errors, help calls and hesitation.

Pure: feed it RR intervals (ms) and task signals with their times; ask for
the estimate at a time. The index (0 calm .. 1 strained) combines, each
against this person's own baseline from the start of the shift:

* HRV: RMSSD over the last ``window_s`` falling below the baseline, and the
  heart rate rising above it (only when enough beats arrived);
* errors (wrong picks) and help calls in the window;
* hesitation: steps taking much longer than their target time.

Confidence grows with the amount of heart data and of task evidence. The
full estimator (neurokit2 HRV, calibration per person) is a later issue.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Stress:
    index: float
    confidence: float
    contributions: dict[str, float]


class StressEstimator:
    def __init__(self, window_s: float = 120.0, baseline_s: float = 300.0):
        self.window_s = window_s
        self.baseline_s = baseline_s
        self._beats: deque[tuple[float, float]] = deque()     # (t, rr_ms)
        self._events: deque[tuple[float, str, float]] = deque()  # (t, kind, value)
        self._baseline_rr: list[float] = []
        self._baseline: tuple[float, float] | None = None      # (rmssd, mean_rr)
        self._t0: float | None = None

    def add_beats(self, t: float, rr_ms: list[float]) -> None:
        if self._t0 is None:
            self._t0 = t
        for rr in rr_ms:
            if 300.0 <= rr <= 2000.0:  # physiological range; artefacts dropped
                self._beats.append((t, rr))
                if self._baseline is None:
                    self._baseline_rr.append(rr)
        if self._baseline is None and t - self._t0 >= self.baseline_s and len(self._baseline_rr) > 60:
            self._baseline = (_rmssd(self._baseline_rr), sum(self._baseline_rr) / len(self._baseline_rr))
            self._baseline_rr = []

    def add_error(self, t: float) -> None:
        self._events.append((t, "error", 1.0))

    def add_help(self, t: float) -> None:
        self._events.append((t, "help", 1.0))

    def add_step_time(self, t: float, ratio_to_target: float) -> None:
        self._events.append((t, "hesitation", max(0.0, ratio_to_target - 1.3)))

    def estimate(self, now: float) -> Stress:
        cutoff = now - self.window_s
        while self._beats and self._beats[0][0] < cutoff:
            self._beats.popleft()
        while self._events and self._events[0][0] < cutoff:
            self._events.popleft()
        parts: dict[str, float] = {}
        conf = 0.0
        rrs = [rr for _, rr in self._beats]
        if self._baseline is not None and len(rrs) >= 30:
            base_rmssd, base_rr = self._baseline
            rmssd = _rmssd(rrs)
            mean_rr = sum(rrs) / len(rrs)
            parts["hrv"] = _clip(1.0 - rmssd / base_rmssd) * 1.2 if base_rmssd > 0 else 0.0
            parts["heart_rate"] = _clip((base_rr - mean_rr) / base_rr) * 2.0
            conf += 0.6 * min(1.0, len(rrs) / 100.0)
        errors = sum(v for _, k, v in self._events if k == "error")
        helps = sum(v for _, k, v in self._events if k == "help")
        hes = sum(v for _, k, v in self._events if k == "hesitation")
        steps = sum(1 for _, k, _ in self._events if k == "hesitation")
        parts["errors"] = _clip(errors / 3.0)
        parts["help"] = _clip(helps / 2.0)
        parts["hesitation"] = _clip(hes / 2.0)
        conf += 0.4 * min(1.0, steps / 5.0)
        weights = {"hrv": 0.3, "heart_rate": 0.2, "errors": 0.25, "help": 0.1, "hesitation": 0.15}
        used = {k: w for k, w in weights.items() if k in parts}
        total = sum(used.values())
        score = sum(parts[k] * w for k, w in used.items()) / total if total else 0.0
        index = 1.0 / (1.0 + math.exp(-6.0 * (score - 0.35)))
        return Stress(index=round(index, 4), confidence=round(min(1.0, conf), 3),
                      contributions={k: round(v, 3) for k, v in parts.items()})


def _rmssd(rr: list[float]) -> float:
    if len(rr) < 2:
        return 0.0
    return math.sqrt(sum((b - a) ** 2 for a, b in zip(rr, rr[1:])) / (len(rr) - 1))


def _clip(x: float) -> float:
    return max(0.0, min(1.0, x))
