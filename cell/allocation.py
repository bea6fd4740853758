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
* ``optimal``: a look-ahead over the remaining steps of the unit that
  minimises time plus weighted predicted ergonomic load (see ``OptimalAllocator``).
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
POLICIES = ("static", "operator-only", "ergonomic", "optimal")

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
class StepForecast:
    """What a remaining step would cost: time for each agent, and its usual RULA score for this operator."""

    step: Step
    operator_time_s: float
    cobot_time_s: float | None
    cost: float
    after: tuple[str, ...] = ()  # ids of the steps that must be done first (still open)


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
    remaining: tuple[StepForecast, ...] = ()  # this step and the rest of the unit, in order
    steps_done: int = 0                   # steps finished in this order (for the operator's share)
    in_progress: dict[str, tuple[str, float]] = field(default_factory=dict)  # step id -> (agent, seconds left)
    planned: dict[str, str] = field(default_factory=dict)  # step id -> agent, decided but not started


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


ACCEPTABLE_RULA = 2.0  # RULA grand scores of 1-2 are acceptable (action level 1): no ergonomic cost


@dataclass
class OptimalAllocator:
    """Look-ahead over the rest of the unit: minimise time + weight x predicted ergonomic load.

    Each remaining step goes to the operator or the cobot. The cost of a plan is the
    time of its steps (the engine runs one step at a time) plus, for every operator step,
    ``ergonomic_weight`` x (usual RULA score above the acceptable 2) x its time x how
    loaded the operator is now (1 + recent share at the cobot threshold + fatigue/50 +
    confident stress). Hard limits fix a step's agent; the plan keeps the operator's share
    of the order at or above the minimum. Solved exactly by dynamic programming over
    (step, operator steps so far): an additive cost and one counting constraint make the
    problem a shortest path, so a general solver (OR-Tools CP-SAT) would add a dependency
    and start-up time without a better answer. It decides the current step only; the next
    decision plans again with what was measured meanwhile.
    """

    settings: AllocationSettings
    thresholds: Thresholds
    name: str = "optimal"
    ergonomic_weight: float = 1.0

    def _load_factor(self, live: LiveLoad) -> float:
        stress = live.stress if live.stress_confidence >= 0.5 else 0.0
        return 1.0 + live.rula_high_share + max(live.fatigue_pct.values(), default=0.0) / 50.0 + stress

    def decide(self, step: Step, operator: OperatorProfile, live: LiveLoad) -> Decision:
        hard = _hard_rules(step, operator, live, self.name)
        if hard:
            return hard
        plan = self.plan(operator, live)
        if plan is None:
            return Decision("operator", "no plan keeps the operator's minimum share; the operator does it", self.name)
        who, saved, extra = plan
        n = len(live.remaining)
        if who == "cobot":
            return Decision("cobot", f"look-ahead over the {n} remaining steps: the cobot doing this one saves "
                            f"{saved:.0f} load-weighted seconds for the operator at {extra:+.0f} s of work time",
                            self.name)
        return Decision("operator", f"look-ahead over the {n} remaining steps: the operator does this one "
                        f"(giving it to the cobot would save {saved:.0f} load-weighted seconds at {extra:+.0f} s)",
                        self.name)

    def plan(self, operator: OperatorProfile, live: LiveLoad) -> tuple[Assignee, float, float] | None:
        """(who does the first remaining step, its load saving, its time change) of the cheapest plan."""
        factor = self._load_factor(live)
        forecasts = live.remaining
        if not forecasts:
            return None
        n = len(forecasts)
        # options per step: (agent, cost); forced steps have one option
        options: list[list[tuple[Assignee, float]]] = []
        for f in forecasts:
            op_cost = f.operator_time_s * (1.0 + self.ergonomic_weight * factor * max(0.0, f.cost - ACCEPTABLE_RULA))
            hard = _hard_rules(f.step, operator, live, self.name)
            can_cobot = f.cobot_time_s is not None and live.cobot_available
            if hard is not None:
                if hard.assignee == "cobot" and not can_cobot:
                    options.append([("operator", op_cost)])  # the engine pauses or hands it back
                else:
                    options.append([(hard.assignee, op_cost if hard.assignee == "operator" else f.cobot_time_s or 0.0)])
            else:
                opts: list[tuple[Assignee, float]] = [("operator", op_cost)]
                if can_cobot:
                    opts.append(("cobot", f.cobot_time_s or 0.0))
                options.append(opts)
        # minimum operator steps over the order: share of (done + remaining) >= min share
        done_op = round(live.operator_share * live.steps_done)
        need = max(0, math.ceil(self.settings.min_operator_share * (live.steps_done + n) - 1e-9) - done_op)
        inf = math.inf
        # best[i][k]: cheapest cost of steps i.. given k operator steps still needed (capped at 0)
        best = [[inf] * (need + 1) for _ in range(n + 1)]
        best[n][0] = 0.0
        for i in range(n - 1, -1, -1):
            for k in range(need + 1):
                for agent, cost in options[i]:
                    k2 = max(0, k - 1) if agent == "operator" else k
                    if best[i + 1][k2] < inf:
                        best[i][k] = min(best[i][k], cost + best[i + 1][k2])
        if best[0][need] == inf:
            return None
        first = forecasts[0]
        choice: Assignee = "operator"
        cost_if: dict[str, float] = {}
        for agent, cost in options[0]:
            k2 = max(0, need - 1) if agent == "operator" else need
            cost_if[agent] = cost + best[1][k2]
        choice = min(cost_if, key=cost_if.get)  # type: ignore[arg-type]
        load_saving = first.operator_time_s * self.ergonomic_weight * factor * max(0.0, first.cost - ACCEPTABLE_RULA)
        extra = (first.cobot_time_s or 0.0) - first.operator_time_s
        return choice, load_saving, extra


def make_allocator(policy: str, settings: AllocationSettings, thresholds: Thresholds) -> Allocator:
    if policy == "static":
        return StaticAllocator(settings)
    if policy == "operator-only":
        return OperatorOnlyAllocator(settings)
    if policy == "ergonomic":
        return ErgonomicAllocator(settings, thresholds)
    if policy == "optimal":
        return OptimalAllocator(settings, thresholds, ergonomic_weight=settings.ergonomic_weight)
    raise ValueError(f"unknown allocation policy {policy!r}; allowed: {', '.join(POLICIES)}")
