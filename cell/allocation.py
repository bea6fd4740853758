"""Who does the next step: the allocator interface and the simple policies.

An allocator is pure: it gets the step, the operator's profile and what we
know right now (recent ergonomic load, stress, whether the cobot can take
work, how much of the work the operator has done) and returns who does the
step and why, in words a job coach can read. Hard limits from the profile
hold in every policy. The adaptive, look-ahead allocator is a later issue;
it plugs in behind the same ``Allocator`` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from cell.config import AllocationSettings, OperatorProfile, Step, Thresholds

Assignee = Literal["operator", "cobot"]


@dataclass(frozen=True)
class LiveLoad:
    """What the engine knows about the operator right now."""

    rula_high_share: float = 0.0     # share of recent frames at or above the cobot threshold action level
    rula_mean: float = 0.0           # mean RULA grand score over the window
    rula_seen_s: float = 0.0         # how much of the window the scores cover (little evidence, no move)
    stress: float = 0.0              # 0..1
    stress_confidence: float = 0.0   # 0..1
    operator_share: float = 1.0      # share of steps done by the operator so far in this order
    cobot_available: bool = True


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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class ErgonomicAllocator:
    """Moves 'both' steps to the cobot while the operator's recent load or strain is high.

    Keeps at least ``min_operator_share`` of the steps with the operator: the
    cobot takes the strain, not the job.
    """

    settings: AllocationSettings
    thresholds: Thresholds
    name: str = "ergonomic"
    high_share: float = 0.25  # share of recent time at the threshold action level that counts as "high"

    def decide(self, step: Step, operator: OperatorProfile, live: LiveLoad) -> Decision:
        hard = _hard_rules(step, operator, live, self.name)
        if hard:
            return hard
        planned = default_assignee(step, self.settings)
        al = self.thresholds.cobot_at_rula_action_level
        if live.operator_share < self.settings.min_operator_share and planned == "operator":
            return Decision("operator", f"keeps meaningful work with the operator (at least "
                            f"{self.settings.min_operator_share:.0%} of the steps)", self.name)
        enough = live.rula_seen_s >= min(30.0, self.settings.window_s / 4)
        if enough and live.rula_high_share >= self.high_share:
            return Decision("cobot", f"posture load was high: {live.rula_high_share:.0%} of the last "
                            f"{self.settings.window_s:g} s at RULA action level {al} or more", self.name)
        if live.stress >= self.thresholds.high_stress and live.stress_confidence >= 0.5:
            return Decision("cobot", f"signs of strain (stress index {live.stress:.2f}); the cobot "
                            "takes this step so the operator can settle", self.name)
        return Decision(planned, f"load is fine; as planned ({planned})", self.name)


def make_allocator(policy: str, settings: AllocationSettings, thresholds: Thresholds) -> Allocator:
    if policy == "static":
        return StaticAllocator(settings)
    if policy == "ergonomic":
        return ErgonomicAllocator(settings, thresholds)
    raise ValueError(f"unknown allocation policy {policy!r}; allowed: static, ergonomic")
