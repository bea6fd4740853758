"""A simulated operator: does the steps it is given, with a body, a pace, mistakes and fatigue.

Pure and seeded: ``on_step(state, now)`` plans the motions of a step the
engine gave to the operator; ``events_until(now)`` returns the task events
(picks, places, button presses, wrong picks, help calls) whose time has
come, exactly as tracking would report them (the steps as this profile does
them: its split steps' sub-steps, ``cell.adaptation``); ``hand_targets(now)`` says where
each hand is on the bench, which the body model turns into 33-landmark pose
frames. Fatigue slows the operator and degrades posture over the shift;
a latent strain level drives simulated heart beats (RR intervals).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from cell.adaptation import step_for
from cell.config import CellConfig, OperatorProfile, Step
from cell.messages import StepState, TaskEvent

SRC = "sim-operator"

# bench-mm height above the zone top that a reach of each kind ends at
REACH_HEIGHT_MM = {"near": 80.0, "normal": 80.0, "far": 60.0, "high": 500.0, "overhead": 1000.0, "low": -250.0}


@dataclass(frozen=True)
class Motion:
    """One hand moving from one bench point to another (mm), between two times."""

    t0: float
    t1: float
    side: str
    start: tuple[float, float, float]
    end: tuple[float, float, float]


class SimulatedOperator:
    def __init__(self, config: CellConfig, profile: OperatorProfile, seed: int = 0, shift_start: float = 0.0):
        self.config = config
        self.profile = profile
        self.sim = profile.simulation
        self.rng = random.Random(seed)
        self.shift_start = shift_start
        self.side = profile.handedness
        other = "left" if self.side == "right" else "right"
        w = config.bench.width_mm
        self.rest = {self.side: (w / 2 + (150 if self.side == "right" else -150), 120.0, 60.0),
                     other: (w / 2 + (-150 if self.side == "right" else 150), 120.0, 60.0)}
        self._pos = dict(self.rest)
        self._motions: list[Motion] = []
        self._events: list[tuple[float, TaskEvent]] = []
        self._holding_until = 0.0
        self._step_key: tuple | None = None
        self.strain = 0.15 + 0.2 * (1 - self.sim.skill)  # latent mental strain 0..1
        self._strain_t = shift_start
        self._next_beat = shift_start

    # ---- pace, fatigue, strain ---------------------------------------------------------
    def hours_worked(self, now: float) -> float:
        return max(0.0, now - self.shift_start) / 3600.0

    def speed(self, now: float) -> float:
        """Work speed relative to the step target times (1 = on target)."""
        skill = 0.65 + 0.45 * self.sim.skill
        return self.profile.pace * skill / (1.0 + self.sim.fatigue_per_hour * self.hours_worked(now))

    def posture_degradation_deg(self, now: float) -> float:
        """Extra trunk and neck flexion as fatigue builds up over the shift."""
        return min(20.0, 25.0 * self.sim.fatigue_per_hour * self.hours_worked(now))

    def _strain_to(self, now: float) -> None:
        dt = now - self._strain_t
        if dt > 0:
            base = 0.15 + 0.2 * (1 - self.sim.skill) + 0.05 * self.hours_worked(now)
            self.strain = base + (self.strain - base) * math.exp(-dt / 180.0)
            self._strain_t = now

    def _bump_strain(self, now: float, amount: float) -> None:
        self._strain_to(now)
        self.strain = min(1.0, self.strain + amount)

    def heartbeats(self, t0: float, t1: float) -> list[float]:
        """RR intervals (ms) of the beats between t0 and t1: faster and less variable under strain."""
        self._strain_to(t1)
        out = []
        t = max(self._next_beat, t0)
        while t < t1:
            mean = 60000.0 / (68.0 + 30.0 * self.strain)
            rr = mean + self.rng.gauss(0.0, 42.0 * (1.0 - 0.75 * self.strain))
            rr = min(1500.0, max(350.0, rr))
            out.append(rr)
            t += rr / 1000.0
        self._next_beat = t
        return out

    # ---- planning --------------------------------------------------------------------
    def _point(self, zone_id: str, reach: str) -> tuple[float, float, float]:
        z = self.config.zone(zone_id)
        x, y = z.centre()
        return (x, y, z.height_mm + REACH_HEIGHT_MM.get(reach, 80.0))

    def _move(self, t: float, side: str, target: tuple[float, float, float], dur: float) -> float:
        self._motions.append(Motion(t, t + dur, side, self._pos[side], target))
        self._pos[side] = target
        return t + dur

    def _emit(self, t: float, kind: str, state: StepState, zone: str | None, quantity: int = 1) -> None:
        self._events.append((t, TaskEvent(src=SRC, t=t, kind=kind, zone=zone, quantity=quantity,  # type: ignore[arg-type]
                                          order_id=state.order_id, step_id=state.step_id)))

    def on_step(self, state: StepState, now: float) -> None:
        """Plan the motions and events of a step the engine gave to this operator."""
        key = (state.order_id, state.unit, state.step_id, state.assignee)
        if state.assignee != "operator" or state.phase != "active" or state.paused or key == self._step_key:
            return
        self._step_key = key
        step = step_for(self.config, self.profile, state.task_id, state.step_id)  # as this person does it
        self._motions.clear()
        self._events.clear()
        rng = self.rng
        speed = self.speed(now)
        budget = step.target_time_s / speed * math.exp(rng.gauss(0.0, 0.08 + 0.15 * (1 - self.sim.skill)))
        t = now + (1 - self.sim.skill) * rng.uniform(0.3, 2.0) / speed  # looking at the instruction
        if rng.random() < self.sim.help_rate:
            self._emit(t, "help", state, None)
            self._bump_strain(t, 0.1)
            t += rng.uniform(20.0, 60.0)  # the job coach comes over and helps
            self._emit(t, "help_cleared", state, None)
        side = self.side
        reach = step.posture.reach
        moves = self._count_moves(step)
        move_time = max(0.4, 0.35 * budget / max(1, moves))
        hold = step.posture.hold_s / speed
        if step.pick:
            for _ in range(step.pick.quantity):
                if rng.random() < self.sim.error_rate and self._wrong_bin(step.pick.zone):
                    wrong = self._wrong_bin(step.pick.zone)
                    t = self._move(t, side, self._point(wrong, reach), move_time)
                    self._emit(t, "pick", state, wrong)
                    self._bump_strain(t, 0.15)
                    t += rng.uniform(1.0, 3.0)  # reads the feedback, puts the part back
                t = self._move(t, side, self._point(step.pick.zone, reach), move_time)
                t += 0.3
                self._emit(t, "pick", state, step.pick.zone)
                if step.place:
                    t = self._move(t, side, self._point(step.place.zone, "normal"), move_time)
                    self._emit(t, "place", state, step.place.zone)
        elif step.place:
            t = self._move(t, side, self._point(step.place.zone, "normal"), move_time)
            self._emit(t, "place", state, step.place.zone)
        work_zone = step.place.zone if step.place else (step.highlight[0] if step.highlight else None)
        if hold > 0 and work_zone:
            # works at the part, at the height the step's posture profile says: a static hold
            p = self._point(work_zone, reach)
            t_work = self._move(t, side, p, 0.5 * move_time)
            if step.posture.two_handed:
                other = "left" if side == "right" else "right"
                t_work = max(t_work, self._move(t, other, (p[0] - 80, p[1], p[2]), 0.5 * move_time))
            t = t_work + hold
        if step.press:
            t = self._move(t, side, self._point(step.press, "normal"), move_time)
            self._emit(t, "press", state, step.press)
        elif step.verify.by == "button" and step.verify.zone:
            t = self._move(t, side, self._point(step.verify.zone, "normal"), move_time)
            self._emit(t, "press", state, step.verify.zone)
        elif step.action == "confirm":
            t += 0.5
            self._emit(t, "confirm", state, None)
        # hands back to rest
        for s in (side, "left" if side == "right" else "right"):
            if self._pos[s] != self.rest[s]:
                self._move(t, s, self.rest[s], move_time)
        if t - now > 1.6 * step.target_time_s:
            self._bump_strain(t, 0.05)  # running late weighs on a person

    @staticmethod
    def _count_moves(step: Step) -> int:
        n = 0
        if step.pick:
            n += step.pick.quantity * (2 if step.place else 1)
        elif step.place:
            n += 1
        if step.press or step.verify.by == "button":
            n += 1
        return max(1, n)

    def _wrong_bin(self, right: str) -> str | None:
        bins = [z for z in self.config.zones if z.kind == "bin"]
        ids = [z.id for z in bins]
        if right not in ids or len(ids) < 2:
            return None
        i = ids.index(right)
        return ids[i + 1] if i + 1 < len(ids) else ids[i - 1]

    # ---- running ----------------------------------------------------------------------
    def next_event_time(self) -> float | None:
        return self._events[0][0] if self._events else None

    def events_until(self, now: float) -> list[TaskEvent]:
        out = []
        while self._events and self._events[0][0] <= now:
            out.append(self._events.pop(0)[1])
        return out

    def pause(self, now: float) -> None:
        """The cell paused: forget the plan; the step is re-planned when it is active again."""
        self._events.clear()
        self._motions.clear()
        self._step_key = None
        for s in self._pos:
            self._pos[s] = self.rest[s]

    def hand_targets(self, now: float) -> dict[str, tuple[float, float, float]]:
        """Where each hand is on the bench (mm) at time `now`."""
        out = dict(self._pos)
        # motions are planned in time order per side; the latest one started wins
        latest: dict[str, Motion] = {}
        for m in self._motions:
            if m.t0 <= now:
                latest[m.side] = m
        for side in ("left", "right"):
            m = latest.get(side)
            if m is None:
                out[side] = self._first_start(side)
                continue
            if now >= m.t1:
                out[side] = m.end
            else:
                s = (now - m.t0) / (m.t1 - m.t0)
                s = s * s * (3 - 2 * s)  # smooth start and stop
                out[side] = tuple(a + (b - a) * s for a, b in zip(m.start, m.end))  # type: ignore[assignment]
        return out

    def _first_start(self, side: str) -> tuple[float, float, float]:
        for m in self._motions:
            if m.side == side:
                return m.start
        return self._pos[side]

    def prune(self, now: float) -> None:
        """Drop motions that ended before `now` (keeps the last one of each hand)."""
        keep: list[Motion] = []
        last: dict[str, Motion] = {}
        for m in self._motions:
            if m.t1 < now:
                last[m.side] = m
            else:
                keep.append(m)
        self._motions = list(last.values()) + keep
        self._motions.sort(key=lambda m: m.t0)
