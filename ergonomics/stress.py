"""Signs of mental strain from the heart (when a wearable is worn) and from the work itself.

Pure: feed it RR intervals (ms) and task signals with their times; ask for
the estimate at a time. No clock, no threads. Everything is compared with
this person's own usual, learnt at the start of the shift:

* heart (only with a wearable): heart rate, RMSSD, SDNN, pNN50 and Baevsky's
  stress index over the last ``hrv_window_s`` (60 s) against their median
  over the 60-s windows of the person's first ``baseline_s`` (5 min) of
  beats (:mod:`ergonomics.hrv`; artefacts are dropped first). A baseline can
  also be given (e.g. kept from an earlier shift);
* work, over the last ``window_s`` (2 min): wrong picks, calls for help,
  idle time reported by the caller, and step times against the person's own
  usual step time, learnt from their first ``norm_steps`` steps (per step id
  from its first ``norm_per_step`` completions when :meth:`add_step` names
  the step).

``estimate(now)`` returns :class:`Stress`: an index 0 (calm) .. 1 (clear
signs of strain), a confidence 0..1 (how much evidence there is, not how
high the strain is), the components behind it and an explanation in plain
words for a job coach. Two methods give the index from the same features:

* ``"rules"`` (default): a weighted mean of transparent components, each
  0..1 (table ``RULE_WEIGHTS``, scales in :func:`components`), through a
  fixed S-curve (:func:`rules_index`);
* ``"model"``: the probability of high strain from the small learnt model in
  ``ergonomics/data/stress_model.onnx`` (:mod:`ergonomics.stress_model`,
  trained on simulated operators only: see docs/stress.md).

In both methods ``contributions`` are the components (what each signal
says), and the explanation names the strongest ones. This is a work aid
for deciding whether the cobot takes a step; it is not a diagnosis.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from statistics import median
from typing import Literal

from ergonomics.hrv import RRFilter, hrv_features

Method = Literal["rules", "model"]

# The model's inputs, in this order (the ONNX model and its JSON metadata carry the same list).
FEATURES: tuple[str, ...] = (
    "hrv_present",       # 1 when the heart features below are real (baseline known, enough clean beats), else 0
    "hr_log_ratio",      # ln(mean HR / baseline mean HR) over the HRV window; 0 without heart data
    "rmssd_log_ratio",   # ln(RMSSD / baseline RMSSD)
    "sdnn_log_ratio",    # ln(SDNN / baseline SDNN)
    "pnn50_diff",        # pNN50 - baseline pNN50, in percentage points
    "si_log_ratio",      # ln(Baevsky SI / baseline SI)
    "errors_per_step",   # wrong picks in the behaviour window / max(1, steps finished in it)
    "help",              # calls for help in the behaviour window
    "pace_log_ratio",    # ln(median of step time / own usual) over the window's steps; 0 if none or usual unknown
    "slow_steps",        # steps in the window that took over 1.5x the person's usual
)
# Also in StressFeatures.values, for the rules and the explanation, not model inputs: a count of steps
# would teach a model that a slow worker is a strained worker; idle time never occurs in the simulated data.
CONTEXT: tuple[str, ...] = (
    "errors",            # wrong picks in the behaviour window
    "steps",             # steps finished in the behaviour window
    "idle_s",            # idle / hesitation seconds reported with add_idle in the window
    "pace_known",        # 1 once the person's own usual step time is known
)

# weights of the rule components (the index is the weighted mean over the components that are available)
RULE_WEIGHTS: dict[str, float] = {
    "heart_rate": 0.20,
    "hrv": 0.15,
    "stress_index": 0.10,
    "errors": 0.25,
    "help": 0.10,
    "pace": 0.10,
    "hesitation": 0.10,
}
RULE_CENTRE, RULE_SLOPE = 0.35, 6.0  # the S-curve from weighted score to index (kept from the first estimator)
HEART_COMPONENTS = ("heart_rate", "hrv", "stress_index")
SLOW_STEP = 1.5  # a step taking this many times the person's usual counts as a slow step


@dataclass(frozen=True)
class Stress:
    index: float                        # 0 calm .. 1 clear signs of strain
    confidence: float                   # 0..1: how much evidence the index rests on
    contributions: dict[str, float]     # component -> 0..1 (only the components with data)
    explanation: str = ""               # plain words for a job coach
    method: str = "rules"


@dataclass(frozen=True)
class Baseline:
    """This person's usual heart, from the start of the shift (or given, e.g. from an earlier shift)."""

    mean_hr_bpm: float
    rmssd_ms: float
    sdnn_ms: float
    pnn50_pct: float
    stress_index: float
    n_beats: int


@dataclass(frozen=True)
class StressFeatures:
    values: dict[str, float]            # every name in FEATURES and CONTEXT
    n_beats: int                        # clean beats in the HRV window
    heart_quality: float                # 0..1: enough clean beats in the window (0 without baseline)
    behaviour_evidence: float           # 0..1: how many task signals the window holds
    heart_seen: bool                    # any beat ever arrived
    baseline_ready: bool
    window_s: float = 120.0

    def vector(self) -> list[float]:
        return [self.values[k] for k in FEATURES]


def components(f: StressFeatures) -> dict[str, float]:
    """The rule components, each 0..1, from the features; absent when their data is missing."""
    v = f.values
    out: dict[str, float] = {}
    if v["hrv_present"]:
        out["heart_rate"] = _clip((math.exp(v["hr_log_ratio"]) - 1.0) / 0.25)   # 25 % above usual -> 1
        out["hrv"] = _clip(-v["rmssd_log_ratio"] / math.log(3.0))               # RMSSD a third of usual -> 1
        out["stress_index"] = _clip(v["si_log_ratio"] / math.log(4.0))          # SI 4x usual -> 1
    out["errors"] = _clip(v["errors"] / 3.0)                                     # 3 wrong picks in the window -> 1
    out["help"] = _clip(v["help"] / 2.0)                                         # 2 help calls -> 1
    if v["pace_known"]:
        out["pace"] = _clip((math.exp(v["pace_log_ratio"]) - 1.0) / 0.5)        # steps 50 % slower than usual -> 1
    if v["pace_known"] or v["idle_s"] > 0:
        out["hesitation"] = _clip(v["slow_steps"] / 3.0 + v["idle_s"] / 60.0)   # 3 slow steps or 1 min idle -> 1
    return out


def rules_index(parts: dict[str, float]) -> float:
    """The weighted mean of the available components, through the first estimator's S-curve.

    score = sum(w * c) / sum(w) over the components with data (0 when none); index =
    1 / (1 + exp(-6 * (score - 0.35))): half the index at about a third of the weighted
    signals, 0.7 (the allocator's default ``high_stress``) from a score of about 0.49.
    """
    used = {k: w for k, w in RULE_WEIGHTS.items() if k in parts}
    total = sum(used.values())
    score = sum(parts[k] * w for k, w in used.items()) / total if total else 0.0
    return 1.0 / (1.0 + math.exp(-RULE_SLOPE * (score - RULE_CENTRE)))


class StressEstimator:
    """Keeps the recent beats and task signals of one operator; ``estimate(now)`` gives the current estimate."""

    def __init__(self, window_s: float = 120.0, baseline_s: float = 300.0, *, hrv_window_s: float = 60.0,
                 method: Method = "rules", model=None, baseline: Baseline | None = None,
                 norm_steps: int = 20, norm_per_step: int = 3, min_baseline_beats: int = 60,
                 min_window_beats: int = 30, heart_share: float = 0.6):
        if method not in ("rules", "model"):
            raise ValueError(f"method must be 'rules' or 'model', not {method!r}")
        self.window_s = window_s
        self.baseline_s = baseline_s
        self.hrv_window_s = hrv_window_s
        self.method = method
        self.norm_steps = norm_steps
        self.norm_per_step = norm_per_step
        self.min_baseline_beats = min_baseline_beats
        self.min_window_beats = min_window_beats
        self.heart_share = heart_share  # most confidence a heart signal alone can give; work signals give the rest
        if method == "model" and model is None:
            from ergonomics.stress_model import StressModel
            model = StressModel.load()
        self.model = model
        self._filter = RRFilter()
        self._beats: deque[tuple[float, float, bool]] = deque()    # (t, rr_ms, successive) accepted beats
        self._events: deque[tuple[float, str, float, str | None]] = deque()  # (t, kind, value, step_id)
        self._baseline_beats: list[tuple[float, float, bool]] = []
        self.baseline: Baseline | None = baseline
        self._t0: float | None = None
        self._heart_seen = baseline is not None
        self._norm_ratios: list[float] = []
        self._norm: float | None = None
        self._step_ratios: dict[str, list[float]] = {}
        self._step_norm: dict[str, float] = {}
        self.last_features: StressFeatures | None = None

    # ---- inputs ------------------------------------------------------------------------
    def add_beats(self, t: float, rr_ms: list[float]) -> None:
        """RR intervals (ms) that arrived at time t, oldest first. Artefacts are dropped (ergonomics.hrv)."""
        if self._t0 is None:
            self._t0 = t
        for rr in rr_ms:
            ok, successive = self._filter.push(float(rr))
            if not ok:
                continue
            self._heart_seen = True
            self._beats.append((t, float(rr), successive))
            if self.baseline is None:
                self._baseline_beats.append((t, float(rr), successive))
        if self.baseline is None and t - self._t0 >= self.baseline_s \
                and len(self._baseline_beats) >= self.min_baseline_beats:
            self.baseline = self._make_baseline(self._baseline_beats)
            self._baseline_beats = []

    def _make_baseline(self, beats: list[tuple[float, float, bool]]) -> Baseline | None:
        """The median of each feature over the baseline's consecutive HRV windows.

        Per window, not over the whole period at once: SDNN and Baevsky's SI depend on how
        long the stretch is, so the baseline must be measured on windows as long as the ones
        it is compared with.
        """
        t0 = beats[0][0]
        segments: dict[int, tuple[list[float], list[bool]]] = {}
        for t, rr, s in beats:
            k = int((t - t0) // self.hrv_window_s)
            seg_rr, seg_succ = segments.setdefault(k, ([], []))
            seg_succ.append(s and bool(seg_rr))
            seg_rr.append(rr)
        feats = []
        for seg_rr, seg_succ in segments.values():
            if len(seg_rr) >= self.min_window_beats:
                f = hrv_features(seg_rr, seg_succ)
                if f.finite() and f.rmssd_ms > 0 and f.sdnn_ms > 0:
                    feats.append(f)
        if not feats:
            return None
        return Baseline(mean_hr_bpm=median(f.mean_hr_bpm for f in feats),
                        rmssd_ms=median(f.rmssd_ms for f in feats), sdnn_ms=median(f.sdnn_ms for f in feats),
                        pnn50_pct=median(f.pnn50_pct for f in feats),
                        stress_index=median(f.stress_index for f in feats), n_beats=sum(f.n for f in feats))

    def add_error(self, t: float) -> None:
        """A wrong pick (or another error tracking saw)."""
        self._events.append((t, "error", 1.0, None))

    def add_help(self, t: float) -> None:
        self._events.append((t, "help", 1.0, None))

    def add_idle(self, t: float, seconds: float) -> None:
        """Idle or hesitation time (s) ending at t: e.g. a step shown but no hand movement."""
        self._events.append((t, "idle", max(0.0, float(seconds)), None))

    def add_step_time(self, t: float, ratio_to_target: float) -> None:
        """A step the operator finished at t, as its duration / its target time."""
        self._add_step(t, None, float(ratio_to_target))

    def add_step(self, t: float, step_id: str, duration_s: float, target_s: float) -> None:
        """A step the operator finished at t; the usual time is then also learnt per step id."""
        if target_s > 0:
            self._add_step(t, step_id, float(duration_s) / float(target_s))

    def _add_step(self, t: float, step_id: str | None, ratio: float) -> None:
        if not (ratio > 0 and math.isfinite(ratio)):
            return
        if self._norm is None:
            self._norm_ratios.append(ratio)
            if len(self._norm_ratios) >= self.norm_steps:
                self._norm = median(self._norm_ratios)
                self._norm_ratios = []
        if step_id is not None and step_id not in self._step_norm:
            seen = self._step_ratios.setdefault(step_id, [])
            seen.append(ratio)
            if len(seen) >= self.norm_per_step:
                self._step_norm[step_id] = median(seen)
                del self._step_ratios[step_id]
        self._events.append((t, "step", ratio, step_id))

    # ---- features ----------------------------------------------------------------------
    def features(self, now: float) -> StressFeatures:
        """The feature vector at `now` (the same one the model is trained on)."""
        lo = now - self.hrv_window_s
        beats = self._beats
        while beats and beats[0][0] < lo:
            beats.popleft()
        while self._events and self._events[0][0] < now - self.window_s:
            self._events.popleft()
        v = dict.fromkeys(FEATURES + CONTEXT, 0.0)
        # heart
        window = [b for b in beats if b[0] <= now] if beats and beats[-1][0] > now else beats
        rr = [x for _, x, _ in window]
        succ = [s for _, _, s in window]
        if succ:
            succ[0] = False  # its predecessor is outside the window
        quality = 0.0
        b = self.baseline
        if b is not None and len(rr) >= self.min_window_beats:
            f = hrv_features(rr, succ)
            if f.finite() and f.rmssd_ms > 0 and f.sdnn_ms > 0:
                v["hrv_present"] = 1.0
                v["hr_log_ratio"] = math.log(f.mean_hr_bpm / b.mean_hr_bpm)
                v["rmssd_log_ratio"] = math.log(f.rmssd_ms / b.rmssd_ms)
                v["sdnn_log_ratio"] = math.log(f.sdnn_ms / b.sdnn_ms)
                v["pnn50_diff"] = f.pnn50_pct - b.pnn50_pct
                v["si_log_ratio"] = math.log(f.stress_index / b.stress_index)
                expected = 0.8 * self.hrv_window_s * b.mean_hr_bpm / 60.0  # 80 % of the beats a window should hold
                quality = min(1.0, len(rr) / expected)
        # work
        ratios: list[float] = []
        for t, kind, val, step_id in self._events:
            if t > now:
                continue
            if kind == "error":
                v["errors"] += 1.0
            elif kind == "help":
                v["help"] += 1.0
            elif kind == "idle":
                v["idle_s"] += val
            elif kind == "step":
                v["steps"] += 1.0
                norm = self._step_norm.get(step_id, self._norm) if step_id is not None else self._norm
                if norm:
                    ratios.append(val / norm)
        v["errors_per_step"] = v["errors"] / max(1.0, v["steps"])
        if self._norm is not None or self._step_norm:
            v["pace_known"] = 1.0
            if ratios:
                v["pace_log_ratio"] = math.log(median(ratios))
                v["slow_steps"] = float(sum(1 for r in ratios if r > SLOW_STEP))
        n_signals = v["steps"] + v["errors"] + v["help"] + (1.0 if v["idle_s"] > 0 else 0.0)
        feats = StressFeatures(values=v, n_beats=len(rr), heart_quality=quality,
                               behaviour_evidence=min(1.0, n_signals / 5.0), heart_seen=self._heart_seen,
                               baseline_ready=b is not None, window_s=self.window_s)
        self.last_features = feats
        return feats

    # ---- the estimate ------------------------------------------------------------------
    def estimate(self, now: float) -> Stress:
        f = self.features(now)
        parts = components(f)
        if self.method == "model":
            index = float(self.model.predict_one(f.values))
        else:
            index = rules_index(parts)
        confidence = self.heart_share * f.heart_quality + (1.0 - self.heart_share) * f.behaviour_evidence
        return Stress(index=round(_clip(index), 4), confidence=round(_clip(confidence), 3),
                      contributions={k: round(x, 3) for k, x in parts.items()},
                      explanation=explain(f, parts, index), method=self.method)


# ---- plain words ---------------------------------------------------------------------------
def explain(f: StressFeatures, parts: dict[str, float], index: float) -> str:
    """One or two sentences for a job coach: what the signals show, against this person's own usual.

    Describes signals, never the person: no diagnosis, no blame.
    """
    v = f.values
    minutes = f.window_s / 60.0
    span = f"in the last {minutes:g} minutes" if minutes != 1 else "in the last minute"
    phrases: list[tuple[float, str]] = []  # (weight of the signal in the index, phrase)

    def add(key: str, text: str) -> None:
        phrases.append((RULE_WEIGHTS.get(key, 0.1) * parts.get(key, 0.0), text))

    if v["hrv_present"]:
        hr_pct = round(100.0 * (math.exp(v["hr_log_ratio"]) - 1.0))
        if hr_pct >= 5:
            add("heart_rate", f"heart rate {hr_pct}% above this person's usual")
        var = max(parts.get("hrv", 0.0), parts.get("stress_index", 0.0))
        if var >= 0.25:
            key = "hrv" if parts.get("hrv", 0.0) >= parts.get("stress_index", 0.0) else "stress_index"
            add(key, "heart-rate variability " + ("much lower" if var >= 0.75 else "lower") + " than usual")
    n = int(v["errors"])
    if n:
        add("errors", f"{n} wrong pick{'s' if n != 1 else ''} {span}")
    n = int(v["help"])
    if n:
        add("help", f"{n} call{'s' if n != 1 else ''} for help {span}")
    if v["pace_known"] and v["steps"]:
        pct = round(100.0 * (math.exp(v["pace_log_ratio"]) - 1.0))
        if pct >= 15:
            add("pace", f"steps taking about {pct}% longer than this person's usual")
    n = int(v["slow_steps"])
    if n:
        add("hesitation", f"{n} step{'s' if n != 1 else ''} took much longer than usual")
    if v["idle_s"] >= 10:
        add("hesitation", f"about {round(v['idle_s'])} s of pauses {span}")
    phrases.sort(key=lambda p: -p[0])
    shown = [p for _, p in phrases[:3]]
    if index >= 0.7:
        head = "Clear signs of strain"
    elif index >= 0.4:
        head = "Some signs of strain"
    else:
        head = "Few signs of strain"
    if shown:
        text = f"{head}: " + "; ".join(shown) + "."
    elif v["hrv_present"]:
        text = f"{head}: heart and work close to this person's usual."
    else:
        text = f"{head}: work close to this person's usual."
    if not f.heart_seen:
        text += " No heart data (no wearable): based on work signals only, so less certain."
    elif not f.baseline_ready:
        text += " Still learning this person's usual heart rate (first minutes of wearing)."
    elif not v["hrv_present"]:
        text += " Too few heart beats received recently: based on work signals only, so less certain."
    return text[0].upper() + text[1:]


def _clip(x: float) -> float:
    return max(0.0, min(1.0, x))
