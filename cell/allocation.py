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
  with the operator. Strain (stress) works the same way. A step that usually
  puts this person at the threshold action level goes to the cobot whatever
  the recent load, with the same hysteresis and dwell per step.
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
    high_share: float = 0.0      # measured share of its time at the threshold action level (0 until measured)


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
    step_high_share: float | None = None  # share of this step's time at the threshold action level (measured)
    typical_cost: float | None = None  # the median of that over the 'both' steps
    operator_time_s: float | None = None  # how long this operator usually takes for this step
    cobot_time_s: float | None = None     # how long the cobot's program for it runs
    remaining: tuple[StepForecast, ...] = ()  # this step and the rest of the unit, in order
    steps_done: int = 0                   # steps finished in this order (for the operator's share)
    in_progress: dict[str, tuple[str, float]] = field(default_factory=dict)  # step id -> (agent, seconds left)
    planned: dict[str, str] = field(default_factory=dict)  # step id -> agent, decided but not started
    unit_key: str = ""                    # which unit of which order (the optimal policy's time budget is per unit)

    def operator_steps_so_far(self) -> tuple[int, int]:
        """(the operator's, everyone's) steps of this order done or under way, this one not counted."""
        busy_op = sum(1 for agent, _ in self.in_progress.values() if agent == "operator")
        return round(self.operator_share * self.steps_done) + busy_op, self.steps_done + len(self.in_progress)


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


def operator_may_do(step: Step, op: OperatorProfile) -> bool:
    """Whether this person's profile lets them do the step at all (the hard rules, whoever decides)."""
    d = _hard_rules(step, op, LiveLoad(cobot_available=True), "limits")
    return d is None or d.assignee == "operator"


def _keep_share(settings: AllocationSettings, live: LiveLoad, policy: str) -> Decision | None:
    """The operator keeps this step while their share of the order's steps done is below the minimum.

    (Counting the steps under way as well was tried: the cobot's parallel step at the start of a
    unit then holds every next step with the operator, and the units built fell 5-7 % for little
    change in the share: docs/allocation.md.)"""
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
    enter_fatigue_pct: float = 30.0
    leave_fatigue_pct: float = 20.0
    stress_margin: float = 0.15   # strain is "over" only this far below the high-stress threshold
    max_slowdown: float = 1.2     # load moves a step only if the cobot is at most this much slower ...
    slowdown_margin: float = 0.2  # ... and once it has the step, until it is this much slower again
    exhausted_pct: float = 70.0   # ... unless a body region is this fatigued: then the cobot takes it anyway
    dwell_s: float = 300.0        # no change of state sooner than this after the last one
    step_margin: float = 0.5      # a costly step stays with the cobot until it scores this far below the line
    loaded: _Latch = field(init=False)
    strained: _Latch = field(init=False)
    costly: dict[str, _Latch] = field(init=False)
    slow: dict[str, _Latch] = field(init=False)

    def __post_init__(self) -> None:
        self.loaded = _Latch(self.dwell_s)
        self.strained = _Latch(self.dwell_s)
        self.costly = {}
        self.slow = {}

    def _costly(self, step: Step, live: LiveLoad) -> bool:
        """Does this step often put this operator at the threshold action level (a latch per step)?

        Yes when its usual RULA score is at the level, or when a measured share of
        its time at the level reaches ``enter_share``; back to no only below the
        level by ``step_margin`` and below ``leave_share``, after the dwell time.
        """
        if live.step_cost is None:
            return False
        al = self.thresholds.cobot_at_rula_action_level
        line = RULA_LEVEL_STARTS[al]
        share = live.step_high_share
        latch = self.costly.setdefault(step.id, _Latch(self.dwell_s))
        if live.step_cost >= line:
            why = f"this step usually scores RULA {live.step_cost:.1f} for this operator, action level {al} or more"
        else:
            why = (f"this step kept this operator at RULA action level {al} or more for {share or 0:.0%} of its "
                   "time on recent units")
        enter = live.step_cost >= line or (share is not None and share >= self.enter_share)
        leave = live.step_cost < line - self.step_margin and (share is None or share < self.leave_share)
        return latch.update(live.now, enter, leave, why)

    def _slower(self, step: Step, live: LiveLoad, cobot_s: float | None) -> bool:
        """Is the cobot too slow at this step to give it the strain (a latch per step)?

        Too slow above ``max_slowdown`` + ``slowdown_margin`` times the operator's time,
        quick enough again only at or below ``max_slowdown``: the times are measured and
        the cobot's wait for its current step varies, so a step near the line would
        otherwise change hands unit after unit.
        """
        if cobot_s is None or live.operator_time_s is None:
            return False
        ratio = cobot_s / max(live.operator_time_s, 1e-6)
        latch = self.slow.setdefault(step.id, _Latch(self.dwell_s))
        return latch.update(live.now, ratio > self.max_slowdown + self.slowdown_margin, ratio <= self.max_slowdown,
                            f"the cobot needs {ratio:.1f}x this operator's time")

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
            window = live.exposure_window_s
            above = arm / 100 * window
            # a short window (a shift just begun) in seconds: "0 of the last 0 min" says nothing
            amount = (f"{above:.0f} of the last {window:.0f} s" if window < 120
                      else f"{above / 60:.0f} of the last {window / 60:.0f} min")
            parts.append(f"the {arm_side} upper arm was above 60\u00b0 for {amount}")
        if fatigue >= self.enter_fatigue_pct:
            parts.append(f"the {region.replace('_', ' ')} muscles are {fatigue:.0f}% fatigued")
        enter = bool(parts)
        leave = (live.rula_high_share < self.leave_share and arm < self.leave_arm_pct
                 and fatigue < self.leave_fatigue_pct)
        return enter, leave, "; ".join(parts)

    def decide(self, step: Step, operator: OperatorProfile, live: LiveLoad) -> Decision:
        costly = self._costly(step, live)
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
        busy = max((left for agent, left in live.in_progress.values() if agent == "cobot"), default=0.0)
        cobot_s = (live.cobot_time_s + busy) if live.cobot_time_s is not None else None  # it may finish a step first
        slower = self._slower(step, live, cobot_s)
        exhausted = max(live.fatigue_pct.values(), default=0.0) >= self.exhausted_pct
        if (costly or (loaded and heavy)) and (not slower or exhausted):
            why = "; ".join(([self.loaded.why] if loaded else []) + [self.costly[step.id].why if costly else cost[2:]])
            return Decision("cobot", f"the cobot takes the strain: {why}".rstrip(": "), self.name)
        if costly or (loaded and heavy):
            why = self.loaded.why if loaded else self.costly[step.id].why
            wait = f" (it is busy for {busy:.0f} s first)" if busy >= 0.5 else ""
            return Decision(planned, f"load is raised ({why}) but the cobot would need "
                            f"{cobot_s:.0f} s{wait} where this operator needs {live.operator_time_s:.0f} s: "
                            f"as planned ({planned})", self.name)
        if strained:
            return Decision("cobot", f"{self.strained.why}; the cobot takes this step so the operator can settle",
                            self.name)
        quicker = cobot_s is not None and live.operator_time_s is not None and cobot_s <= live.operator_time_s
        if loaded and quicker:
            return Decision("cobot", f"load is raised ({self.loaded.why}) and the cobot is as quick at this step "
                            f"({cobot_s:.0f} s, this operator {live.operator_time_s:.0f} s): the cobot takes it",
                            self.name)
        if loaded:
            return Decision(planned, f"load is raised ({self.loaded.why}) but this step is one of the lighter "
                            f"ones{cost}: as planned ({planned})", self.name)
        return Decision(planned, f"load is fine; as planned ({planned})", self.name)


RULA_LEVEL_STARTS = {1: 1, 2: 3, 3: 5, 4: 7}  # the RULA grand score at which each action level starts
ACCEPTABLE_RULA = 2.0  # RULA grand scores of 1-2 are acceptable (action level 1): no ergonomic cost
HIGH_LEVEL_WEIGHT = 3.0  # time at the threshold action level weighs as much as 3 RULA points more


@dataclass
class OptimalAllocator:
    """Look-ahead over the rest of the unit: minimise makespan + weight x predicted ergonomic load.

    Each remaining step goes to the operator or the cobot. A plan is scheduled the
    way the engine runs it: each agent takes its steps in task order, one at a time,
    a step starting when its agent is free and the steps it comes ``after`` are done,
    so the cobot works in parallel where precedence allows. The cost of a plan is its
    makespan plus, for every operator step, ``ergonomic_weight`` x (usual RULA score
    above the acceptable 2, plus 3 x the share of its time measured at the threshold
    action level) x its time x how loaded the operator is now (1 + recent
    share at the cobot threshold + fatigue/50 + confident stress). Hard limits fix a
    step's agent, a step already planned keeps its agent, the plan keeps the
    operator's share of the order at or above the minimum, and a unit may take at
    most ``allocation.max_slowdown`` longer than the fastest plan at its first
    decision (a budget for the whole unit, so re-planning at every step cannot add
    the slack up).

    Search: with up to ``exhaustive_up_to`` (8) free choices, every plan is tried (the
    example unit has 7, so its plans are exact). Beyond that, an exact dynamic
    programme over (step, operator steps still needed) for the same cost with the
    steps' times summed (the plan without parallel work) gives a start, and a local
    search flips one step, or swaps two when the share binds, while the scheduled
    cost improves (within 2 % of trying every plan on 14-step units, tested). It
    decides 50 remaining steps in a few milliseconds. OR-Tools CP-SAT, measured on the
    same kind of problem (docs/allocation.md), found no plan at all within 10 ms at 50
    steps and needed about 6 ms at 10 steps. It decides the current step only; the
    next decision plans again with what was measured meanwhile.
    """

    settings: AllocationSettings
    thresholds: Thresholds
    name: str = "optimal"
    ergonomic_weight: float = 3.0
    max_evaluations: int = 200
    exhaustive_up_to: int = 8     # free choices up to which every plan is tried
    _deadline: dict[str, float] = field(default_factory=dict, init=False, repr=False)  # unit -> when it may end
    swap_candidates: int = 4

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
                            f"{saved:.0f} load-weighted seconds for the operator at {extra:+.0f} s to the unit",
                            self.name)
        return Decision("operator", f"look-ahead over the {n} remaining steps: the operator does this one "
                        f"(giving it to the cobot would save {saved:.0f} load-weighted seconds at {-extra:+.0f} s "
                        "to the unit)", self.name)

    # ---- the plan --------------------------------------------------------------------------
    def _problem(self, operator: OperatorProfile, live: LiveLoad):
        """Per remaining step: allowed agents (0 operator, 1 cobot), times, operator load, predecessors."""
        factor = self._load_factor(live)
        forecasts = live.remaining
        index = {f.step.id: k for k, f in enumerate(forecasts)}
        allowed, times, loads, preds = [], [], [], []
        for f in forecasts:
            load = f.operator_time_s * self.ergonomic_weight * factor * (
                max(0.0, f.cost - ACCEPTABLE_RULA) + HIGH_LEVEL_WEIGHT * f.high_share)
            can_cobot = f.cobot_time_s is not None and live.cobot_available
            fixed = live.planned.get(f.step.id)
            hard = _hard_rules(f.step, operator, live, self.name)
            if fixed is not None:
                opts = (1,) if fixed == "cobot" and can_cobot else (0,)
            elif hard is not None:
                opts = (1,) if hard.assignee == "cobot" and can_cobot else (0,)  # else the engine hands it back
            else:
                opts = (0, 1) if can_cobot else (0,)
            allowed.append(opts)
            times.append((f.operator_time_s, f.cobot_time_s if f.cobot_time_s is not None else math.inf))
            loads.append(load)
            preds.append(tuple(index[a] for a in f.after if a in index))
        # work in hand: when each agent is free, and when each step in progress is done
        free = [0.0, 0.0]
        done_at: dict[str, float] = {}
        for sid, (agent, left) in live.in_progress.items():
            a = 0 if agent == "operator" else 1
            free[a] = max(free[a], left)
            done_at[sid] = left
        ready = [max((done_at[a] for a in f.after if a in done_at), default=0.0) for f in forecasts]
        return allowed, times, loads, preds, free, ready

    @classmethod
    def _cost(cls, assign, times, loads, preds, free, ready, limit: float = math.inf) -> float:
        """Makespan + operator load; a plan slower than ``limit`` pays a steep price per second over."""
        span, load = cls._schedule(assign, times, loads, preds, free, ready)
        return span + load + (1000.0 * (span - limit) if span > limit else 0.0)

    @staticmethod
    def _schedule(assign, times, loads, preds, free, ready) -> tuple[float, float]:
        """(makespan, operator load) of a plan, each agent taking its steps in task order."""
        t_op, t_cobot = free
        fin = list(ready)  # becomes each step's finish time
        load = 0.0
        for k, a in enumerate(assign):
            r = fin[k]
            for p in preds[k]:
                if fin[p] > r:
                    r = fin[p]
            if a == 0:
                end = (t_op if t_op > r else r) + times[k][0]
                fin[k] = t_op = end
                load += loads[k]
            else:
                end = (t_cobot if t_cobot > r else r) + times[k][1]
                fin[k] = t_cobot = end
        return (t_op if t_op > t_cobot else t_cobot), load

    def _initial(self, allowed, times, loads, need: int) -> list[int] | None:
        """Cheapest plan for the summed-time cost with at least ``need`` operator steps (exact DP)."""
        n = len(allowed)
        inf = math.inf
        best = [[inf] * (need + 1) for _ in range(n + 1)]
        best[n][0] = 0.0
        for i in range(n - 1, -1, -1):
            for k in range(need + 1):
                for a in allowed[i]:
                    cost = times[i][0] + loads[i] if a == 0 else times[i][1]
                    k2 = max(0, k - 1) if a == 0 else k
                    if best[i + 1][k2] + cost < best[i][k]:
                        best[i][k] = best[i + 1][k2] + cost
        if best[0][need] == inf:
            return None
        assign, k = [], need
        for i in range(n):
            choice = min(allowed[i], key=lambda a: ((times[i][0] + loads[i] if a == 0 else times[i][1])
                                                    + best[i + 1][max(0, k - 1) if a == 0 else k]))
            assign.append(choice)
            k = max(0, k - 1) if choice == 0 else k
        return assign

    def _improve(self, assign, allowed, times, loads, preds, free, ready, need: int, first_fixed: bool,
                 limit: float = math.inf):
        cost = self._cost(assign, times, loads, preds, free, ready, limit)
        budget = self.max_evaluations
        free_steps = [k for k in range(len(assign)) if len(allowed[k]) == 2 and not (first_fixed and k == 0)]
        improved = True
        while improved and budget > 0:
            improved = False
            for k in free_steps:
                if budget <= 0:
                    break
                flipped = 1 - assign[k]
                if flipped == 1 and sum(1 for a in assign if a == 0) - 1 < need:
                    # the share binds: swap with one of the cheapest cobot steps the operator could take back
                    back = sorted((j for j in free_steps if j != k and assign[j] == 1), key=lambda j: loads[j])
                    for j in back[:self.swap_candidates]:
                        trial = list(assign)
                        trial[k], trial[j] = 1, 0
                        c = self._cost(trial, times, loads, preds, free, ready, limit)
                        budget -= 1
                        if c < cost - 1e-9:
                            assign, cost, improved = trial, c, True
                            break
                    continue
                trial = list(assign)
                trial[k] = flipped
                c = self._cost(trial, times, loads, preds, free, ready, limit)
                budget -= 1
                if c < cost - 1e-9:
                    assign, cost, improved = trial, c, True
        return assign, cost

    def _plan_exhaustive(self, allowed, times, loads, preds, free, ready, need, choices, limit_for):
        """Every plan: the fastest, then the least costly within max_slowdown of it."""
        base = [opts[0] for opts in allowed]
        results = []
        for bits in range(1 << len(choices)):
            assign = list(base)
            for j, k in enumerate(choices):
                assign[k] = (bits >> j) & 1
            if sum(1 for a in assign if a == 0) < need:
                continue
            span, load = self._schedule(assign, times, loads, preds, free, ready)
            results.append((assign[0], span, load))
        if not results:
            return None
        limit = limit_for(min(span for _, span, _ in results))
        best: dict[int, tuple[float, float]] = {}
        for first, span, load in results:
            cost = span + load + (1000.0 * (span - limit) if span > limit else 0.0)
            if first not in best or cost < best[first][0]:
                best[first] = (cost, span)
        choice = min(best, key=lambda a: best[a][0])
        extra = best[1][1] - best[0][1] if 0 in best and 1 in best else 0.0
        return ("cobot" if choice == 1 else "operator"), loads[0], extra

    def plan(self, operator: OperatorProfile, live: LiveLoad) -> tuple[Assignee, float, float] | None:
        """(who does the first remaining step, its load saving, the unit's time change if the cobot does it)."""
        if not live.remaining:
            return None
        allowed, times, loads, preds, free, ready = self._problem(operator, live)
        n = len(allowed)
        done_op, done = live.operator_steps_so_far()
        need = max(0, math.ceil(self.settings.min_operator_share * (done + n) - 1e-9) - done_op)
        choices = [k for k in range(n) if len(allowed[k]) == 2]

        def limit_for(fastest: float) -> float:
            """How long the rest of the unit may take: the unit's budget, set at its first decision."""
            if not live.unit_key:
                return fastest * (1.0 + self.settings.max_slowdown) + 1e-6
            if live.unit_key not in self._deadline:
                self._deadline = {live.unit_key: live.now + fastest * (1.0 + self.settings.max_slowdown)}
            return max(fastest, self._deadline[live.unit_key] - live.now) + 1e-6

        if len(choices) <= self.exhaustive_up_to:
            return self._plan_exhaustive(allowed, times, loads, preds, free, ready, need, choices, limit_for)
        # the fastest plan first (time only), then the least loading one within max_slowdown of it
        no_load = [0.0] * n
        start = self._initial(allowed, times, no_load, need)
        if start is None:
            return None
        fastest = self._improve(start, allowed, times, no_load, preds, free, ready, need, False)[1]
        limit = limit_for(fastest)
        best: dict[int, tuple[float, list[int]]] = {}
        for first in allowed[0]:
            trial_allowed = [(first,)] + allowed[1:]
            start = self._initial(trial_allowed, times, loads, need)
            if start is None:
                continue
            assign, cost = self._improve(start, trial_allowed, times, loads, preds, free, ready, need, True, limit)
            best[first] = (cost, assign)
        if not best:
            return None
        choice = min(best, key=lambda a: best[a][0])
        saving = loads[0]
        extra = 0.0
        if 0 in best and 1 in best:  # the unit's time with the cobot minus with the operator
            spans = {a: self._cost(best[a][1], times, no_load, preds, free, ready) for a in best}
            extra = spans[1] - spans[0]
        return ("cobot" if choice == 1 else "operator"), saving, extra


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
