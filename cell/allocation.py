"""Who does the next step: the allocator interface and its policies, each with reasons in plain words.

An allocator gets the step, the operator's profile and what is known right now
(``LiveLoad``: recent posture load, arm elevation, fatigue per body region,
stress, what this step usually costs this person, whether the cobot can take
work, how much of the work the operator has done) and returns who does the
step and why, with the numbers behind it. Time comes in ``LiveLoad.now``;
nothing reads a clock. Hard limits from the profile hold in every policy
(``_hard_rules``), and so does the minimum share of work for the operator.

Policies:

* ``static``: the plan in the config (``who``, and ``plan`` for 'both' steps).
* ``operator-only``: the operator does every step the profile allows; the
  cobot only what the operator may not do. The baseline for comparisons.
* ``ergonomic``: rules with hysteresis and a minimum dwell. The operator
  enters a "loaded" state when posture load, arm elevation or fatigue pass
  an upper threshold and leaves it only below a lower one, and never sooner
  than ``dwell_s`` after the last change, so assignments do not flap on a
  noisy signal. While loaded, the cobot takes the 'both' steps that usually
  load this person most (learned from earlier cycles); the lighter ones stay
  with the operator. Strain (stress) works the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Protocol

from cell.config import AllocationSettings, OperatorProfile, Step, Thresholds

Assignee = Literal["operator", "cobot"]
POLICIES = ("static", "operator-only", "ergonomic")

# a first guess of a step's RULA grand score from its posture profile, before anything was measured
PRIOR_COST = {"near": 3.0, "normal": 3.0, "far": 3.5, "low": 4.5, "high": 4.5, "overhead": 5.5}


def prior_cost(step: Step) -> float:
    cost = PRIOR_COST[step.posture.reach]
    repeated = step.posture.repetitions > 1 and step.posture.repetitions * 60 / step.target_time_s >= 4
    if step.posture.hold_s > 60 or repeated:
        cost += 1.0  # RULA muscle use: held over a minute, or repeated 4 or more times a minute
    if step.load_kg > 2:
        cost += 1.0
    return cost


@dataclass(frozen=True)
class LiveLoad:
    """What the engine knows about the operator right now."""

    now: float = 0.0
    rula_high_share: float = 0.0     # share of recent frames at or above the cobot threshold action level
    rula_mean: float = 0.0           # mean RULA grand score over the window
    rula_seen_s: float = 0.0         # how much of the window the scores cover (little evidence, no move)
    arm_above_60_pct: dict[str, float] = field(default_factory=dict)  # "left"/"right" -> % of the exposure window
    exposure_window_s: float = 0.0
    fatigue_pct: dict[str, float] = field(default_factory=dict)       # region -> % of capacity fatigued
    stress: float = 0.0              # 0..1
    stress_confidence: float = 0.0   # 0..1
    operator_share: float = 1.0      # share of steps done by the operator so far in this order
    cobot_available: bool = True
    step_cost: float | None = None   # what this step usually scores (RULA grand) for this operator
    typical_cost: float | None = None  # the median of that over the 'both' steps
    operator_time_s: float | None = None  # how long this operator usually takes for this step
    cobot_time_s: float | None = None     # how long the cobot's program for it runs


@dataclass(frozen=True)
class Decision:
    assignee: Assignee
    reason: str
    policy: str
    hard: bool = False  # a profile limit or capability decided, not a preference


class Allocator(Protocol):
    name: str

    def decide(self, step: Step, operator: OperatorProfile, live: LiveLoad) -> Decision: ...


def default_assignee(step: Step, settings: AllocationSettings) -> Assignee:
    """The plan written in the config: 'who'; a 'both' step goes to its 'plan' or both_default."""
    if step.who == "both":
        return step.plan or settings.both_default
    return step.who  # type: ignore[return-value]


def _hard_rules(step: Step, op: OperatorProfile, live: LiveLoad, policy: str) -> Decision | None:
    """Profile limits and capabilities, the same in every policy."""
    if step.who == "operator":
        return Decision("operator", "only a person can do this step", policy, hard=True)
    if step.who == "cobot":
        return Decision("cobot", "a cobot-only step", policy, hard=True)
    lim = op.limits
    if step.id in lim.forbidden_steps:
        return Decision("cobot", "the job coach has set this step aside for this operator", policy, hard=True)
    if lim.max_load_kg is not None and step.load_kg > lim.max_load_kg:
        return Decision("cobot", f"the part weighs {step.load_kg:g} kg, above this operator's "
                        f"limit of {lim.max_load_kg:g} kg", policy, hard=True)
    if lim.no_overhead and step.posture.reach in ("high", "overhead"):
        return Decision("cobot", "this step needs a high reach, which this operator's profile rules out",
                        policy, hard=True)
    if lim.no_low_reach and step.posture.reach == "low":
        return Decision("cobot", "this step needs a low reach, which this operator's profile rules out",
                        policy, hard=True)
    if not live.cobot_available:
        return Decision("operator", "the cobot is not available", policy, hard=True)
    if step.id in lim.practice_steps:
        return Decision("operator", "reserved for practice in this operator's profile", policy, hard=True)
    return None


def _keep_share(settings: AllocationSettings, live: LiveLoad, policy: str) -> Decision | None:
    if live.operator_share < settings.min_operator_share:
        return Decision("operator", f"keeps meaningful work with the operator: {live.operator_share:.0%} of the "
                        f"steps so far, at least {settings.min_operator_share:.0%} is the rule", policy)
    return None


@dataclass
class StaticAllocator:
    """Follows the config: 'who', with 'both' steps going to their 'plan' (or both_default)."""

    settings: AllocationSettings
    name: str = "static"

    def decide(self, step: Step, operator: OperatorProfile, live: LiveLoad) -> Decision:
        hard = _hard_rules(step, operator, live, self.name)
        if hard:
            return hard
        who = default_assignee(step, self.settings)
        return Decision(who, f"as planned in the cell configuration ({who})", self.name)


@dataclass
class OperatorOnlyAllocator:
    """The operator does every step the profile allows; the cobot only what the operator may not."""

    settings: AllocationSettings
    name: str = "operator-only"

    def decide(self, step: Step, operator: OperatorProfile, live: LiveLoad) -> Decision:
        hard = _hard_rules(step, operator, live, self.name)
        if hard:
            return hard
        return Decision("operator", "the operator does every step the profile allows (baseline)", self.name)


@dataclass
class _Latch:
    """A yes/no state with hysteresis and a minimum dwell time (time passed in)."""

    dwell_s: float
    on: bool = False
    since: float = -math.inf
    why: str = ""

    def update(self, now: float, enter: bool, leave: bool, why: str) -> bool:
        if now - self.since >= self.dwell_s:
            if not self.on and enter:
                self.on, self.since, self.why = True, now, why
            elif self.on and leave:
                self.on, self.since = False, now
        return self.on


@dataclass
class ErgonomicAllocator:
    """Moves the most loading 'both' steps to the cobot while the operator is loaded or strained."""

    settings: AllocationSettings
    thresholds: Thresholds
    name: str = "ergonomic"
    enter_share: float = 0.25     # share of recent time at the threshold action level that counts as "loaded"
    leave_share: float = 0.12
    enter_arm_pct: float = 30.0   # % of the exposure window with an upper arm above 60 deg (EN 1005-4)
    leave_arm_pct: float = 15.0
    enter_fatigue_pct: float = 50.0
    leave_fatigue_pct: float = 35.0
    stress_margin: float = 0.15   # strain is "over" only this far below the high-stress threshold
    max_slowdown: float = 1.3     # load moves a step only if the cobot is at most this much slower ...
    exhausted_pct: float = 70.0   # ... unless a body region is this fatigued: then the cobot takes it anyway
    dwell_s: float = 300.0        # no change of state sooner than this after the last one
    loaded: _Latch = field(init=False)
    strained: _Latch = field(init=False)

    def __post_init__(self) -> None:
        self.loaded = _Latch(self.dwell_s)
        self.strained = _Latch(self.dwell_s)

    def _load_reason(self, live: LiveLoad) -> tuple[bool, bool, str]:
        al = self.thresholds.cobot_at_rula_action_level
        enough = live.rula_seen_s >= min(30.0, self.settings.window_s / 4)
        arm_side, arm = max(live.arm_above_60_pct.items(), key=lambda kv: kv[1], default=("right", 0.0))
        region, fatigue = max(live.fatigue_pct.items(), key=lambda kv: kv[1], default=("shoulder", 0.0))
        parts = []
        if enough and live.rula_high_share >= self.enter_share:
            parts.append(f"RULA action level {al}+ for {live.rula_high_share:.0%} of the last "
                         f"{self.settings.window_s / 60:g} min")
        if arm >= self.enter_arm_pct and live.exposure_window_s > 0:
            minutes = live.exposure_window_s / 60
            parts.append(f"the {arm_side} upper arm was above 60\u00b0 for {arm / 100 * minutes:.0f} of the last "
                         f"{minutes:.0f} min")
        if fatigue >= self.enter_fatigue_pct:
            parts.append(f"the {region.replace('_', ' ')} muscles are {fatigue:.0f}% fatigued")
        enter = bool(parts)
        leave = (live.rula_high_share < self.leave_share and arm < self.leave_arm_pct
                 and fatigue < self.leave_fatigue_pct)
        return enter, leave, "; ".join(parts)

    def decide(self, step: Step, operator: OperatorProfile, live: LiveLoad) -> Decision:
        enter, leave, why = self._load_reason(live)
        loaded = self.loaded.update(live.now, enter, leave, why)
        confident = live.stress_confidence >= 0.5
        strained = self.strained.update(
            live.now, confident and live.stress >= self.thresholds.high_stress,
            live.stress < self.thresholds.high_stress - self.stress_margin,
            f"signs of strain (stress index {live.stress:.2f})")
        hard = _hard_rules(step, operator, live, self.name)
        if hard:
            return hard
        planned = default_assignee(step, self.settings)
        if planned == "operator":
            keep = _keep_share(self.settings, live, self.name)
            if keep:
                return keep
        heavy = live.step_cost is None or live.typical_cost is None or live.step_cost >= live.typical_cost
        cost = f"; this step usually scores RULA {live.step_cost:.1f} for this operator" if live.step_cost else ""
        slower = (live.cobot_time_s is not None and live.operator_time_s is not None
                  and live.cobot_time_s > self.max_slowdown * live.operator_time_s)
        exhausted = max(live.fatigue_pct.values(), default=0.0) >= self.exhausted_pct
        if loaded and heavy and (not slower or exhausted):
            return Decision("cobot", f"the cobot takes the strain: {self.loaded.why}{cost}", self.name)
        if loaded and heavy:
            return Decision(planned, f"load is raised ({self.loaded.why}) but the cobot would need "
                            f"{live.cobot_time_s:.0f} s where this operator needs {live.operator_time_s:.0f} s: "
                            f"as planned ({planned})", self.name)
        if strained:
            return Decision("cobot", f"{self.strained.why}; the cobot takes this step so the operator can settle",
                            self.name)
        if loaded:
            return Decision(planned, f"load is raised ({self.loaded.why}) but this step is one of the lighter "
                            f"ones{cost}: as planned ({planned})", self.name)
        return Decision(planned, f"load is fine; as planned ({planned})", self.name)


def make_allocator(policy: str, settings: AllocationSettings, thresholds: Thresholds) -> Allocator:
    if policy == "static":
        return StaticAllocator(settings)
    if policy == "operator-only":
        return OperatorOnlyAllocator(settings)
    if policy == "ergonomic":
        return ErgonomicAllocator(settings, thresholds)
    raise ValueError(f"unknown allocation policy {policy!r}; allowed: {', '.join(POLICIES)}")
