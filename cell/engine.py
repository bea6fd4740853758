"""The task engine: work orders, the step state machine and who does each step.

Pure: every method takes the current time and returns the messages to send
(step states, allocations, robot commands, error events). The node shell
publishes them; the simulator routes them directly. ``EngineState`` is
everything needed to resume after a restart at the same step of the same
order, and is saved by the shell after every change.

Step phases: pending -> active -> verifying -> done. A wrong pick raises a
``wrong_pick`` event and the step stays active. Pause (by command, fault or
lost component) and help requests are flags on the state, published with it.
"""

from __future__ import annotations

from collections import deque

import msgspec

from cell.allocation import Allocator, LiveLoad, StepForecast, default_assignee, prior_cost
from cell.config import CellConfig, OperatorProfile, Step
from cell.messages import (
    Allocation, DeviceEvent, EngineCommand, ErgonomicScore, ExposureSummary, FatigueState, Fault, Message,
    RobotCommand, RobotStatus, Snapshot, StepState, StressEstimate, TaskEvent,
)

_LATEST = {ExposureSummary: "_exposure", FatigueState: "_fatigue", StressEstimate: "_stress"}
STEP_COST_ALPHA = 0.02      # learning rate of a step's usual RULA score (about the last 50 scored frames)
STEP_COST_MIN_FRAMES = 20   # measured frames before the learned cost replaces the posture-profile guess


class OrderState(msgspec.Struct):
    order_id: str
    task_id: str
    quantity: int
    unit: int = 1                 # 1-based unit being built
    step_index: int = 0
    phase: str = "pending"
    assignee: str = "operator"
    picked: int = 0
    placed: bool = False
    acted: bool = False           # the step's action is complete, verification may follow
    verifying_since: float | None = None
    step_started: float = 0.0
    errors: int = 0
    robot_run_id: str | None = None
    operator_steps: int = 0
    cobot_steps: int = 0


class EngineState(msgspec.Struct):
    seq: int = 0                  # StepState messages published, across restarts
    order_counter: int = 0
    current: OrderState | None = None
    queue: list[tuple[str, int]] = []
    orders_done: int = 0
    pause_reasons: list[str] = []
    help_requested: bool = False
    robot_mode: str = "disconnected"
    robot_fault: str = ""
    command_counter: int = 0
    reassignments: int = 0
    outbox: list[bytes] = []      # messages decided but maybe not yet sent (re-sent after a crash)


def dump_state(state: EngineState) -> bytes:
    return msgspec.json.encode(state)


def load_state(data: bytes) -> EngineState:
    return msgspec.json.decode(data, type=EngineState)


class TaskEngine:
    """Runs work orders step by step for one operator at one cell."""

    def __init__(self, config: CellConfig, operator: OperatorProfile, allocator: Allocator,
                 state: EngineState | None = None, src: str = "engine"):
        self.config = config
        self.operator = operator
        self.allocator = allocator
        self.state = state or EngineState(robot_mode="disconnected" if config.robot else "none")
        self.src = src
        self._ergo: deque[tuple[float, int, int]] = deque()  # (t, action level, grand)
        self._stress = StressEstimate(src="", t=0.0, operator_id=operator.id, index=0.0, confidence=0.0)
        self._last_alloc: Allocation | None = None
        self._bins = {z.id for z in config.zones if z.kind == "bin"}
        self._exposure: ExposureSummary | None = None
        self._fatigue: FatigueState | None = None
        self._cost: dict[str, tuple[float, int]] = {}  # step id -> (learned mean RULA grand, frames)
        self._duration: dict[str, tuple[float, int]] = {}  # step id -> (operator's usual time, steps measured)

    # ---- queries -------------------------------------------------------------------------
    @property
    def order(self) -> OrderState | None:
        return self.state.current

    def step(self) -> Step | None:
        o = self.state.current
        if o is None:
            return None
        return self.config.task(o.task_id).steps[o.step_index]

    @property
    def paused(self) -> bool:
        return bool(self.state.pause_reasons)

    def cobot_available(self) -> bool:
        return self.config.robot is not None and self.state.robot_mode in ("idle", "running", "stopped")

    def live_load(self, now: float) -> LiveLoad:
        window = self.config.allocation.window_s
        while self._ergo and self._ergo[0][0] < now - window:
            self._ergo.popleft()
        al = self.config.thresholds.cobot_at_rula_action_level
        n = len(self._ergo)
        high = sum(1 for _, lvl, _ in self._ergo if lvl >= al) / n if n else 0.0
        mean = sum(g for _, _, g in self._ergo) / n if n else 0.0
        seen = self._ergo[-1][0] - self._ergo[0][0] if n > 1 else 0.0
        o = self.state.current
        done = (o.operator_steps + o.cobot_steps) if o else 0
        share = o.operator_steps / done if o and done else 1.0
        e = self._exposure
        arm = {side: e.arm_elevation_pct.get(f"{side}.>60", 0.0) for side in ("left", "right")} if e else {}
        step = self.step()
        both = [s for s in self.config.task(o.task_id).steps if s.who == "both"] if o else []
        costs = sorted(self.step_cost(s) for s in both)
        return LiveLoad(now=now, rula_high_share=high, rula_mean=mean, rula_seen_s=seen,
                        arm_above_60_pct=arm, exposure_window_s=e.window_s if e else 0.0,
                        fatigue_pct=dict(self._fatigue.fatigued_pct) if self._fatigue else {},
                        stress=self._stress.index, stress_confidence=self._stress.confidence, operator_share=share,
                        cobot_available=self.cobot_available(),
                        step_cost=self.step_cost(step) if step else None,
                        typical_cost=costs[(len(costs) - 1) // 2] if costs else None,  # lower median
                        operator_time_s=self.operator_time(step) if step else None,
                        cobot_time_s=self._cobot_time(step),
                        remaining=tuple(StepForecast(s, self.operator_time(s), self._cobot_time(s), self.step_cost(s))
                                        for s in (self.config.task(o.task_id).steps[o.step_index:] if o else [])),
                        steps_done=done)

    def operator_time(self, step: Step) -> float:
        """How long this operator usually takes for a step: measured, or the target time at their pace."""
        mean, n = self._duration.get(step.id, (0.0, 0))
        return mean if n >= 3 else step.target_time_s / self.operator.pace

    def _cobot_time(self, step: Step | None) -> float | None:
        robot = self.config.robot
        if step is None or robot is None or step.id not in robot.programs:
            return None
        return robot.programs[step.id].duration_s

    def step_cost(self, step: Step) -> float:
        """What a step usually scores (RULA grand) for this operator: learned, or guessed from its profile."""
        learned, n = self._cost.get(step.id, (0.0, 0))
        return learned if n >= STEP_COST_MIN_FRAMES else prior_cost(step)

    def step_state(self, now: float, order_done: bool = False, *, new: bool = True) -> StepState:
        """The current state as a message; ``new=False`` repeats the last one (same ``seq``)."""
        o = self.state.current
        assert o is not None
        task = self.config.task(o.task_id)
        if new:
            self.state.seq += 1
        return StepState(
            src=self.src, t=now, seq=self.state.seq, order_id=o.order_id, task_id=o.task_id,
            step_id=task.steps[o.step_index].id, step_index=o.step_index, step_count=len(task.steps),
            phase=o.phase, assignee=o.assignee, unit=o.unit, units_total=o.quantity,  # type: ignore[arg-type]
            paused=self.paused, pause_reason="; ".join(self.state.pause_reasons),
            help_requested=self.state.help_requested, errors=o.errors, order_done=order_done)

    def snapshot(self, now: float, robot: RobotStatus | None = None) -> Snapshot:
        step = self.step_state(now, new=False) if self.state.current is not None else None
        return Snapshot(src=self.src, t=now, step=step, allocation=self._last_alloc, robot=robot,
                        orders_done=self.state.orders_done)

    # ---- orders --------------------------------------------------------------------------
    def start_order(self, task_id: str, quantity: int, now: float) -> list[Message]:
        self.config.task(task_id)  # KeyError for an unknown task
        if self.state.current is not None:
            self.state.queue.append((task_id, quantity))
            return []
        self.state.order_counter += 1
        self.state.current = OrderState(order_id=f"{self.config.cell.id}-wo{self.state.order_counter:04d}",
                                        task_id=task_id, quantity=quantity)
        return self._activate(now)

    def resume_after_restart(self, now: float) -> list[Message]:
        """Re-announce where we are (a restarted engine); a cobot step waits for the robot's status."""
        if self.state.current is None:
            return []
        return [self.step_state(now)]

    def _activate(self, now: float) -> list[Message]:
        o = self.state.current
        assert o is not None
        step = self.step()
        assert step is not None
        o.phase, o.picked, o.placed, o.acted = "active", 0, False, False
        o.verifying_since, o.step_started, o.robot_run_id = None, now, None
        decision = self.allocator.decide(step, self.operator, self.live_load(now))
        o.assignee = decision.assignee
        planned = default_assignee(step, self.config.allocation)
        reassigned = decision.assignee != planned
        if reassigned:
            self.state.reassignments += 1
        alloc = Allocation(src=self.src, t=now, order_id=o.order_id, step_id=step.id, unit=o.unit,
                           assignee=decision.assignee, policy=decision.policy, reason=decision.reason,
                           reassigned=reassigned)
        self._last_alloc = alloc
        out: list[Message] = [alloc]
        out.append(self.step_state(now))
        out.extend(self._start_cobot_if_needed(now))
        return out

    def _start_cobot_if_needed(self, now: float) -> list[Message]:
        o = self.state.current
        step = self.step()
        if o is None or step is None or o.assignee != "cobot" or o.robot_run_id or self.paused:
            return []
        if not self.cobot_available():
            return []  # waits; the node shell reports the robot as lost
        assert self.config.robot is not None
        self.state.command_counter += 1
        o.robot_run_id = f"{o.order_id}-u{o.unit}-{step.id}-{self.state.command_counter}"
        return [RobotCommand(src=self.src, t=now, cmd_id=o.robot_run_id, action="run", step_id=step.id,
                             program=self.config.robot.programs[step.id].program)]

    def _finish_step(self, now: float, out: list[Message]) -> None:
        o = self.state.current
        assert o is not None
        o.phase = "done"
        if o.assignee == "operator":
            o.operator_steps += 1
            step_id = self.config.task(o.task_id).steps[o.step_index].id
            mean, n = self._duration.get(step_id, (now - o.step_started, 0))
            self._duration[step_id] = (mean + 0.2 * ((now - o.step_started) - mean), n + 1)
        else:
            o.cobot_steps += 1
        out.append(self.step_state(now))
        task = self.config.task(o.task_id)
        o.step_index += 1
        if o.step_index >= len(task.steps):
            o.step_index = 0
            o.unit += 1
            if o.unit > o.quantity:
                o.unit, o.step_index = o.quantity, len(task.steps) - 1
                out.append(self.step_state(now, order_done=True))
                self.state.orders_done += 1
                self.state.current = None
                if self.state.queue:
                    task_id, qty = self.state.queue.pop(0)
                    out.extend(self.start_order(task_id, qty, now))
                return
        out.extend(self._activate(now))

    # ---- inputs --------------------------------------------------------------------------
    def handle(self, msg: Message, now: float) -> list[Message]:
        if isinstance(msg, TaskEvent):
            return self._on_task_event(msg, now)
        if isinstance(msg, RobotStatus):
            return self._on_robot_status(msg, now)
        if isinstance(msg, ErgonomicScore):
            if msg.operator_id == self.operator.id:
                self._ergo.append((msg.t, msg.rula_action_level, msg.rula_grand))
                if msg.step_id:
                    mean, n = self._cost.get(msg.step_id, (float(msg.rula_grand), 0))
                    self._cost[msg.step_id] = (mean + STEP_COST_ALPHA * (msg.rula_grand - mean), n + 1)
            return []
        latest = _LATEST.get(type(msg))
        if latest is not None:  # the newest exposure, fatigue or stress of this operator is what counts
            if msg.operator_id == self.operator.id:  # type: ignore[attr-defined]
                setattr(self, latest, msg)
            return []
        if isinstance(msg, DeviceEvent):
            return self._on_device(msg, now)
        if isinstance(msg, Fault):
            return self._on_fault(msg, now)
        if isinstance(msg, EngineCommand):
            return self._on_command(msg, now)
        return []

    def _on_command(self, cmd: EngineCommand, now: float) -> list[Message]:
        if cmd.action == "start_order" and cmd.task_id:
            return self.start_order(cmd.task_id, cmd.quantity, now)
        if cmd.action == "pause":
            return self.pause(cmd.reason or "paused by the job coach", now)
        if cmd.action == "resume":
            return self.resume(cmd.reason or "paused by the job coach", now)
        if cmd.action == "help":
            return self._set_help(True, now)
        if cmd.action == "clear_help":
            return self._set_help(False, now)
        return []

    def pause(self, reason: str, now: float) -> list[Message]:
        if reason in self.state.pause_reasons:
            return []
        was_paused = self.paused
        self.state.pause_reasons.append(reason)
        out: list[Message] = []
        o = self.state.current
        if o is None:
            return out
        if not was_paused and o.assignee == "cobot" and o.robot_run_id:
            self.state.command_counter += 1
            out.append(RobotCommand(src=self.src, t=now, cmd_id=f"pause-{self.state.command_counter}",
                                    action="pause", step_id=self.step().id))  # type: ignore[union-attr]
        out.append(self.step_state(now))
        return out

    def resume(self, reason: str, now: float) -> list[Message]:
        if reason not in self.state.pause_reasons:
            return []
        self.state.pause_reasons.remove(reason)
        o = self.state.current
        if o is None or self.paused:
            return [self.step_state(now)] if o else []
        out: list[Message] = []
        if o.assignee == "cobot" and o.robot_run_id:
            self.state.command_counter += 1
            out.append(RobotCommand(src=self.src, t=now, cmd_id=f"resume-{self.state.command_counter}",
                                    action="resume", step_id=self.step().id))  # type: ignore[union-attr]
        out.append(self.step_state(now))
        out.extend(self._start_cobot_if_needed(now))
        return out

    def _set_help(self, on: bool, now: float) -> list[Message]:
        if self.state.help_requested == on:
            return []
        self.state.help_requested = on
        return [self.step_state(now)] if self.state.current else []

    def _on_fault(self, fault: Fault, now: float) -> list[Message]:
        reason = f"{fault.component}: {fault.text}"
        if fault.component == "robot":
            # a lost or failing cobot: it gets no new work; its open step goes back or the order pauses
            if fault.cleared:
                return []  # availability comes back with the robot's own status
            self.state.robot_mode, self.state.robot_fault = "disconnected", fault.text
            o = self.state.current
            if o is not None and o.assignee == "cobot" and o.phase == "active":
                return self._cobot_lost(fault.text, now)
            return []
        if fault.cleared:
            for r in list(self.state.pause_reasons):
                if r.startswith(f"{fault.component}:"):
                    return self.resume(r, now)
            return []
        if fault.severity in ("pause", "critical"):
            for r in self.state.pause_reasons:
                if r.startswith(f"{fault.component}:"):
                    return []
            return self.pause(reason, now)
        return []

    def _on_task_event(self, ev: TaskEvent, now: float) -> list[Message]:
        if ev.src == self.src:
            return []
        if ev.kind == "help":
            return self._set_help(True, now)
        if ev.kind == "help_cleared":
            return self._set_help(False, now)
        if ev.kind == "pause":
            return self.pause("paused at the bench", now)
        if ev.kind == "resume":
            return self.resume("paused at the bench", now)
        o = self.state.current
        step = self.step()
        if o is None or step is None or self.paused or o.assignee != "operator" or o.phase not in ("active", "verifying"):
            return []
        out: list[Message] = []
        if ev.kind == "pick":
            if step.pick and ev.zone == step.pick.zone:
                if not o.acted:
                    o.picked = min(o.picked + ev.quantity, step.pick.quantity)
            elif ev.zone in self._bins:
                o.errors += 1
                right = step.pick.zone if step.pick else None
                label = self.config.zone(right).label if right else ""
                detail = f"take from bin {label}" if right else "this step needs no part"
                out.append(TaskEvent(src=self.src, t=now, kind="wrong_pick", zone=ev.zone, order_id=o.order_id,
                                     step_id=step.id, detail=detail))
                out.append(self.step_state(now))
                return out
        elif ev.kind == "place":
            if step.place and ev.zone == step.place.zone and (not step.pick or o.picked >= step.pick.quantity):
                o.placed = True
        # action complete?
        if not o.acted and self._action_done(step, o, ev):
            o.acted = True
            if self._verified(step, o, ev, now):
                self._finish_step(now, out)
                return out
            o.phase, o.verifying_since = "verifying", now
            out.append(self.step_state(now))
            return out
        if o.acted and o.phase == "verifying" and self._verified(step, o, ev, now):
            self._finish_step(now, out)
        return out

    @staticmethod
    def _action_done(step: Step, o: OrderState, ev: TaskEvent) -> bool:
        if step.action == "pick":
            return step.pick is not None and o.picked >= step.pick.quantity
        if step.action in ("place", "pick_place"):
            return o.placed
        if step.action == "press":
            return ev.kind == "press" and ev.zone == step.press
        if step.action == "confirm":
            return ev.kind in ("confirm", "press")
        return False

    def _verified(self, step: Step, o: OrderState, ev: TaskEvent | None, now: float) -> bool:
        v = step.verify
        if v.by == "hand_in_zone":
            return True
        if v.by == "button":
            if step.action == "press" and o.phase != "verifying":
                return True  # the press that did the action is the confirmation
            return ev is not None and ev.kind == "press" and ev.zone == v.zone
        if v.by == "part_present":
            zone = v.zone or (step.place.zone if step.place else None)
            return ev is not None and ev.kind == "part_present" and ev.zone == zone
        if v.by == "timer":
            return o.verifying_since is not None and now - o.verifying_since >= (v.seconds or 0)
        return False  # device and robot verification arrive by their own messages

    def _on_device(self, ev: DeviceEvent, now: float) -> list[Message]:
        o = self.state.current
        step = self.step()
        if o is None or step is None or self.paused:
            return []
        v = step.verify
        if v.by == "device" and ev.device == v.device and (v.event is None or ev.kind == v.event) \
                and o.phase in ("active", "verifying") and (o.acted or step.action == "confirm"):
            out: list[Message] = []
            self._finish_step(now, out)
            return out
        return []

    def _on_robot_status(self, st: RobotStatus, now: float) -> list[Message]:
        was_available = self.cobot_available()
        self.state.robot_mode, self.state.robot_fault = st.mode, st.fault
        o = self.state.current
        step = self.step()
        out: list[Message] = []
        if o is None or step is None:
            return out
        if o.assignee == "cobot" and o.robot_run_id and st.run_id == o.robot_run_id:
            if st.finished and o.phase in ("active", "verifying"):
                self._finish_step(now, out)
                return out
            if st.mode == "fault":
                return self._cobot_lost(f"the cobot stopped: {st.fault or 'fault'}", now)
        if o.assignee == "cobot" and st.mode in ("fault", "disconnected") and o.phase == "active":
            return self._cobot_lost(f"the cobot is {st.mode}" + (f": {st.fault}" if st.fault else ""), now)
        if not was_available and self.cobot_available():
            out.extend(self._start_cobot_if_needed(now))
        return out

    def _cobot_lost(self, why: str, now: float) -> list[Message]:
        """The cobot cannot finish its step: give it back to the operator if allowed, else pause."""
        o = self.state.current
        step = self.step()
        assert o is not None and step is not None
        if step.who == "both" and step.id not in self.operator.limits.forbidden_steps:
            o.robot_run_id = None
            o.assignee = "operator"
            o.phase, o.picked, o.placed, o.acted = "active", 0, False, False
            o.step_started = now  # the operator's time on it starts now
            self.state.reassignments += 1
            alloc = Allocation(src=self.src, t=now, order_id=o.order_id, step_id=step.id, unit=o.unit,
                               assignee="operator", policy=self.allocator.name,
                               reason=f"{why}; the step goes back to the operator", reassigned=True)
            self._last_alloc = alloc
            return [alloc, self.step_state(now)]
        return self.pause(f"robot: {why}", now)

    def tick(self, now: float) -> list[Message]:
        """Timers: timer verification."""
        o = self.state.current
        step = self.step()
        out: list[Message] = []
        if o and step and not self.paused and o.phase == "verifying" and step.verify.by == "timer" \
                and self._verified(step, o, None, now):
            self._finish_step(now, out)
        return out

