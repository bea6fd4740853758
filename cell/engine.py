"""The task engine: work orders, the step state machine and who does each step.

Pure: every method takes the current time and returns the messages to send
(step states, allocations, robot commands, error events). The node shell
publishes them; the simulator routes them directly. ``EngineState`` is
everything needed to resume after a restart at the same step of the same
order, and is saved by the shell after every change.

Step phases: pending -> active -> verifying -> done. A wrong pick raises a
``wrong_pick`` event and the step stays active. Pause (by command, fault or
lost component) and help requests are flags on the state, published with it.
A lost camera does not pause: the engine falls back to manual confirmation
(a button box or pedal press, or a ``confirm`` event from the bench PC's key
finishes the operator's step) and says so in every step state (``manual``)
until the camera is back.

The engine runs each task as its operator does it (``cell.adaptation.task_for``):
a step the profile splits is its sub-steps (``screw_stem.1``, ``screw_stem.2``), in
order, each verified on its own and always the operator's; step indices and
``StepState.step_count`` count the adapted steps.
"""

from __future__ import annotations

from collections import deque

import msgspec

from cell.adaptation import task_for
from cell.allocation import operator_may_do
from cell.allocation import Allocator, LiveLoad, StepForecast, default_assignee, prior_cost
from cell.config import CellConfig, OperatorProfile, Step, Task
from cell.messages import (
    Allocation, DeviceEvent, EngineCommand, ErgonomicScore, ExposureSummary, FatigueState, Fault, Message,
    OperatorChanged, RobotCommand, RobotStatus, Snapshot, StepState, StressEstimate, TaskEvent,
)

_LATEST = {ExposureSummary: "_exposure", FatigueState: "_fatigue", StressEstimate: "_stress"}
STEP_COST_ALPHA = 0.02      # learning rate of a step's usual RULA score (about the last 50 scored frames)
STEP_COST_MIN_FRAMES = 20   # measured frames before the learned cost replaces the posture-profile guess
CONFIRM_DEVICES = ("button_box", "pedal")  # devices a step can be confirmed with by hand (or foot)


class Run(msgspec.Struct):
    """One step in progress: who does it and how far it is."""

    index: int                    # the step's index in the task
    assignee: str = "operator"
    phase: str = "active"
    picked: int = 0
    placed: bool = False
    acted: bool = False           # the step's action is complete, verification may follow
    verifying_since: float | None = None
    part_seen: bool = False       # the part check saw the part in place (it may come before the place event)
    started: float = 0.0
    run_id: str | None = None     # the cobot's run (cmd_id of its run command)


class OrderState(msgspec.Struct):
    """A work order: the unit being built, which of its steps are done and who works on what.

    The operator works on one step at a time (``op``) and the cobot on one
    (``cobot``); both run at once where the steps' precedence (``after:``)
    allows. A step decided for an agent that is still busy waits in ``planned``.
    """

    order_id: str
    task_id: str
    quantity: int
    unit: int = 1                 # 1-based unit being built
    done: list[int] = []          # indices of the steps of this unit that are done
    planned: dict[int, str] = {}  # step index -> agent, decided but not started
    op: Run | None = None
    cobot: Run | None = None
    last_index: int = 0           # the step shown last (when neither agent has one)
    errors: int = 0
    operator_steps: int = 0
    cobot_steps: int = 0

    @property
    def front(self) -> Run | None:
        """The step the operator sees: their own, or else the one the cobot is doing."""
        return self.op or self.cobot

    @property
    def step_index(self) -> int:
        run = self.front
        return run.index if run else self.last_index

    @property
    def phase(self) -> str:
        run = self.front
        return run.phase if run else "pending"

    @property
    def assignee(self) -> str:
        run = self.front
        return run.assignee if run else "operator"

    @property
    def robot_run_id(self) -> str | None:
        return self.cobot.run_id if self.cobot else None


class EngineState(msgspec.Struct):
    seq: int = 0                  # StepState messages published, across restarts
    order_counter: int = 0
    current: OrderState | None = None
    queue: list[tuple[str, int]] = []
    orders_done: int = 0
    pause_reasons: list[str] = []
    help_requested: bool = False
    help_coming: str = ""         # who answered the help call (the job coach's page); cleared with the call
    profile: str = ""             # the operator's profile (JSON) the open order runs with: a restart keeps it
    robot_mode: str = "disconnected"
    robot_fault: str = ""
    command_counter: int = 0
    reassignments: int = 0
    manual: str = ""              # non-empty: the camera is lost, a confirmation by hand finishes a step (why)
    outbox: list[bytes] = []      # messages decided but maybe not yet sent (re-sent after a crash)
    unlogged: list[bytes] = []    # sent, but not yet in the event log by its last word (the node's journal)


def dump_state(state: EngineState) -> bytes:
    return msgspec.json.encode(state)


def load_state(data: bytes) -> EngineState:
    return msgspec.json.decode(data, type=EngineState)


class TaskEngine:
    """Runs work orders step by step for one operator at one cell (and its cobot, in parallel)."""

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
        self._devices = {d.id: d for d in config.devices}
        self._help_buttons = {z.id for z in config.zones if z.kind == "button" and z.button == "help"}
        self._exposure: ExposureSummary | None = None
        self._fatigue: FatigueState | None = None
        self._cost: dict[str, tuple[float, int]] = {}  # step id -> (learned mean RULA grand, frames)
        self._high: dict[str, float] = {}  # step id -> learned share of its frames at the threshold action level
        self._duration: dict[str, tuple[float, int]] = {}  # step id -> (operator's usual time, steps measured)
        # the tasks as this operator does them (their step adaptations and splits: cell.adaptation)
        self._tasks = {t.id: task_for(config, t, operator) for t in config.tasks}
        self._preds = {tid: t.predecessors() for tid, t in self._tasks.items()}
        self._pending_operator: tuple[CellConfig, OperatorProfile, str] | None = None
        self._keep_order_profile()

    def _keep_order_profile(self) -> None:
        """A restart in the middle of an order finishes it with the profile it started with; a profile
        changed in the file meanwhile (an adaptation applied) waits for the next order, as it would have."""
        if self.state.current is None or not self.state.profile:
            return
        try:
            started_with = OperatorProfile.model_validate_json(self.state.profile)
        except ValueError:
            return  # written by another version: the file's profile it is
        if started_with.id != self.operator.id or started_with == self.operator:
            return
        self._pending_operator = (self.config, self.operator, "")
        self.operator = started_with
        self._tasks = {t.id: task_for(self.config, t, started_with) for t in self.config.tasks}
        self._preds = {tid: t.predecessors() for tid, t in self._tasks.items()}

    # ---- queries -------------------------------------------------------------------------
    @property
    def order(self) -> OrderState | None:
        return self.state.current

    def task(self, task_id: str) -> Task:
        """A task as this operator does it (KeyError for an unknown task)."""
        return self._tasks[task_id]

    def _task_steps(self) -> list[Step]:
        o = self.state.current
        return self.task(o.task_id).steps if o else []

    def step(self) -> Step | None:
        """The step the operator sees: the one they work on, else the one the cobot is doing."""
        o = self.state.current
        if o is None:
            return None
        return self.task(o.task_id).steps[o.step_index]

    def operator_step(self) -> Step | None:
        o = self.state.current
        return self.task(o.task_id).steps[o.op.index] if o and o.op else None

    @property
    def paused(self) -> bool:
        return bool(self.state.pause_reasons)

    def cobot_available(self) -> bool:
        return self.config.robot is not None and self.state.robot_mode in ("idle", "running", "stopped")

    def live_load(self, now: float, index: int | None = None) -> LiveLoad:
        """What the allocator needs to decide the step at ``index`` (default: the front step)."""
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
        steps = self._task_steps()
        if index is None and o is not None:
            index = o.step_index
        step = steps[index] if steps and index is not None else None
        both = [s for s in steps if s.who == "both"]
        costs = sorted(self.step_cost(s) for s in both)
        remaining: list[StepForecast] = []
        in_progress: dict[str, tuple[str, float]] = {}
        planned: dict[str, str] = {}
        if o is not None and step is not None:
            preds = self._preds[o.task_id]
            busy = {r.index: r for r in (o.op, o.cobot) if r is not None}
            for r in busy.values():
                s = steps[r.index]
                total = self.operator_time(s) if r.assignee == "operator" else (self._cobot_time(s) or 0.0)
                in_progress[s.id] = (r.assignee, max(0.0, total - (now - r.started)))
            order = [index] + [i for i in range(len(steps)) if i != index and i not in o.done and i not in busy]
            for i in order:
                s = steps[i]
                after = tuple(steps[p].id for p in preds[i] if p not in o.done)
                remaining.append(StepForecast(s, self.operator_time(s), self._cobot_time(s), self.step_cost(s),
                                              after=after, high_share=self.step_high_share(s) or 0.0))
            planned = {steps[i].id: who for i, who in o.planned.items() if i != index}
        return LiveLoad(now=now, rula_high_share=high, rula_mean=mean, rula_seen_s=seen,
                        arm_above_60_pct=arm, exposure_window_s=e.window_s if e else 0.0,
                        fatigue_pct=dict(self._fatigue.fatigued_pct) if self._fatigue else {},
                        stress=self._stress.index, stress_confidence=self._stress.confidence, operator_share=share,
                        cobot_available=self.cobot_available(),
                        step_cost=self.step_cost(step) if step else None,
                        step_high_share=self.step_high_share(step) if step else None,
                        typical_cost=costs[(len(costs) - 1) // 2] if costs else None,  # lower median
                        operator_time_s=self.operator_time(step) if step else None,
                        cobot_time_s=self._cobot_time(step),
                        remaining=tuple(remaining), in_progress=in_progress, planned=planned,  # type: ignore[arg-type]
                        unit_key=f"{o.order_id}/{o.unit}" if o else "",
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

    def step_high_share(self, step: Step) -> float | None:
        """How much of this step's time usually reaches the threshold action level (None: not measured yet)."""
        _, n = self._cost.get(step.id, (0.0, 0))
        return self._high.get(step.id) if n >= STEP_COST_MIN_FRAMES else None

    def step_state(self, now: float, order_done: bool = False, *, new: bool = True,
                   run: Run | None = None) -> StepState:
        """A step's state as a message (default: the front step); ``new=False`` repeats the last ``seq``."""
        o = self.state.current
        assert o is not None
        task = self.task(o.task_id)
        run = run or o.front
        index = run.index if run else o.last_index
        if new:
            self.state.seq += 1
        return StepState(
            src=self.src, t=now, seq=self.state.seq, order_id=o.order_id, task_id=o.task_id,
            step_id=task.steps[index].id, step_index=index, step_count=len(task.steps),
            phase=(run.phase if run else "done"), assignee=(run.assignee if run else "operator"),  # type: ignore[arg-type]
            unit=o.unit, units_total=o.quantity,
            paused=self.paused, pause_reason="; ".join(self.state.pause_reasons),
            help_requested=self.state.help_requested, errors=o.errors, order_done=order_done,
            manual=self.state.manual, help_coming=self.state.help_coming)

    def _states(self, now: float) -> list[Message]:
        """The state of every step in progress (the cobot's first, the operator's last: the front)."""
        o = self.state.current
        if o is None:
            return []
        runs = [r for r in (o.cobot, o.op) if r is not None]
        return [self.step_state(now, run=r) for r in runs] or [self.step_state(now)]

    def snapshot(self, now: float, robot: RobotStatus | None = None) -> Snapshot:
        o = self.state.current
        step = self.step_state(now, new=False) if o is not None else None
        cobot = self.step_state(now, new=False, run=o.cobot) if o is not None and o.cobot and o.op else None
        return Snapshot(src=self.src, t=now, step=step, cobot_step=cobot, allocation=self._last_alloc, robot=robot,
                        orders_done=self.state.orders_done)

    # ---- orders --------------------------------------------------------------------------
    def start_order(self, task_id: str, quantity: int, now: float) -> list[Message]:
        self.task(task_id)  # KeyError for an unknown task
        if self.state.current is not None:
            self.state.queue.append((task_id, quantity))
            return []
        self.state.order_counter += 1
        order_id = f"{self.config.cell.id}-wo{self.state.order_counter:04d}"
        out: list[Message] = self._take_new_operator(order_id, now)
        self.state.profile = self.operator.model_dump_json()
        self.state.current = OrderState(order_id=order_id, task_id=task_id, quantity=quantity)
        self._dispatch(now, out)
        return out

    def set_operator(self, config: CellConfig, profile: OperatorProfile, now: float, by: str = "") -> list[Message]:
        """A new version of the operator's profile (an adaptation applied): from the next work order on.

        With no order open it takes effect at once; otherwise it waits until the open order is
        done, so nobody's steps change under their hands. Returns the ``OperatorChanged`` notice
        when it took effect now."""
        if profile.id != self.operator.id:
            raise ValueError(f"this engine runs operator {self.operator.id!r}, not {profile.id!r}")
        self._pending_operator = (config, profile, by)
        return self._take_new_operator("", now) if self.state.current is None else []

    @property
    def operator_change_pending(self) -> bool:
        return self._pending_operator is not None

    def _take_new_operator(self, order_id: str, now: float) -> list[Message]:
        if self._pending_operator is None:
            return []
        config, profile, by = self._pending_operator
        self._pending_operator = None
        self.config, self.operator = config, profile
        self._tasks = {t.id: task_for(config, t, profile) for t in config.tasks}
        self._preds = {tid: t.predecessors() for tid, t in self._tasks.items()}
        return [OperatorChanged(src=self.src, t=now, operator_id=profile.id, order_id=order_id, by=by)]

    def resume_after_restart(self, now: float) -> list[Message]:
        """Re-announce where we are (a restarted engine); a cobot step waits for the robot's status."""
        return self._states(now)

    def _ready(self, o: OrderState) -> list[int]:
        """Steps of this unit whose predecessors are done and that nobody has started."""
        busy = {r.index for r in (o.op, o.cobot) if r is not None}
        done = set(o.done)
        return [i for i, preds in enumerate(self._preds[o.task_id])
                if i not in done and i not in busy and all(p in done for p in preds)]

    def _dispatch(self, now: float, out: list[Message]) -> None:
        """Give ready steps to free agents, in task order, deciding who does each as it comes up."""
        o = self.state.current
        if o is None or self.paused:
            return
        steps = self.task(o.task_id).steps
        for i in self._ready(o):
            if o.op is not None and o.cobot is not None:
                break
            who = o.planned.get(i)
            if who == "cobot" and not self.cobot_available():
                who = None  # the cobot went away since: decide again
            if who is None:
                who = self._decide(i, now, out)
                o.planned[i] = who
            if who == "operator" and o.op is None:
                del o.planned[i]
                o.op = Run(index=i, assignee="operator", started=now)
                o.last_index = i
                out.append(self.step_state(now, run=o.op))
            elif who == "cobot" and o.cobot is None and self.cobot_available():
                del o.planned[i]
                o.cobot = Run(index=i, assignee="cobot", started=now)
                out.extend(self._start_cobot(now))
                out.append(self.step_state(now, run=o.cobot))
        if o.op is None and o.cobot is None:
            blocked = [i for i in o.planned if o.planned[i] == "cobot"]
            if blocked and not self.cobot_available():
                out.extend(self.pause(f"robot: {steps[blocked[0]].id} needs the cobot, which is "
                                      f"{self.state.robot_mode}", now))

    def _decide(self, index: int, now: float, out: list[Message]) -> str:
        o = self.state.current
        assert o is not None
        step = self.task(o.task_id).steps[index]
        decision = self.allocator.decide(step, self.operator, self.live_load(now, index))
        planned = default_assignee(step, self.config.allocation)
        reassigned = decision.assignee != planned
        if reassigned:
            self.state.reassignments += 1
        alloc = Allocation(src=self.src, t=now, order_id=o.order_id, step_id=step.id, unit=o.unit,
                           assignee=decision.assignee, policy=decision.policy, reason=decision.reason,
                           reassigned=reassigned)
        self._last_alloc = alloc
        out.append(alloc)
        return decision.assignee

    def _start_cobot(self, now: float) -> list[Message]:
        o = self.state.current
        if o is None or o.cobot is None or o.cobot.run_id or self.paused or not self.cobot_available():
            return []
        assert self.config.robot is not None
        step = self.task(o.task_id).steps[o.cobot.index]
        self.state.command_counter += 1
        o.cobot.run_id = f"{o.order_id}-u{o.unit}-{step.id}-{self.state.command_counter}"
        o.cobot.started = now
        return [RobotCommand(src=self.src, t=now, cmd_id=o.cobot.run_id, action="run", step_id=step.id,
                             program=self.config.robot.programs[step.id].program)]

    def _finish(self, run: Run, now: float, out: list[Message]) -> None:
        o = self.state.current
        assert o is not None
        task = self.task(o.task_id)
        run.phase = "done"
        if run.assignee == "operator":
            o.operator_steps += 1
            step_id = task.steps[run.index].id
            took = now - run.started
            mean, n = self._duration.get(step_id, (took, 0))
            self._duration[step_id] = (mean + 0.2 * (took - mean), n + 1)
            o.op = None
        else:
            o.cobot_steps += 1
            o.cobot = None
        o.done.append(run.index)
        o.last_index = run.index
        out.append(self.step_state(now, run=run))
        if len(o.done) < len(task.steps):
            self._dispatch(now, out)
            return
        o.done, o.planned = [], {}
        o.unit += 1
        if o.unit > o.quantity:
            o.unit = o.quantity
            out.append(self.step_state(now, order_done=True, run=run))
            self.state.orders_done += 1
            self.state.current = None
            if self.state.queue:
                task_id, qty = self.state.queue.pop(0)
                out.extend(self.start_order(task_id, qty, now))
            return
        self._dispatch(now, out)

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
                    high = float(msg.rula_action_level >= self.config.thresholds.cobot_at_rula_action_level)
                    share = self._high.get(msg.step_id, high)
                    self._high[msg.step_id] = share + STEP_COST_ALPHA * (high - share)
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
            if cmd.reason:
                return self.resume(cmd.reason, now)
            return self._resume_by_coach(now)
        if cmd.action == "help":
            return self._set_help(True, now)
        if cmd.action == "help_ack":
            return self._help_answered(cmd.by or "job coach", now)
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
        if not was_paused and o.cobot is not None and o.cobot.run_id:
            self.state.command_counter += 1
            out.append(RobotCommand(src=self.src, t=now, cmd_id=f"pause-{self.state.command_counter}",
                                    action="pause", step_id=self._task_steps()[o.cobot.index].id))
        out.extend(self._states(now))
        return out

    def _resume_by_coach(self, now: float) -> list[Message]:
        """The job coach resumes: their own pause, and a cobot stop once the cobot is available again.

        A program the cobot stopped in (protective stop, lost connection) is stopped for good
        and its step's program runs again from its start: the coach has made the cell safe.
        Lost-component pauses (camera) clear by themselves when the component is back.
        """
        # a UR keeps its program PAUSED once a protective stop is unlocked: that counts as reachable here
        # (the program is stopped below and runs again from its start)
        reachable = self.cobot_available() or self.state.robot_mode == "paused"
        clear = [r for r in self.state.pause_reasons if r == "paused by the job coach"
                 or (r.startswith("robot:") and reachable)]
        if not clear:
            return self._states(now) if self.state.current else []
        out: list[Message] = []
        o = self.state.current
        if any(r.startswith("robot:") for r in clear) and o is not None and o.cobot is not None and o.cobot.run_id:
            self.state.command_counter += 1
            out.append(RobotCommand(src=self.src, t=now, cmd_id=f"stop-{self.state.command_counter}", action="stop",
                                    step_id=self._task_steps()[o.cobot.index].id))
            o.cobot.run_id = None  # runs again from the start
        for r in clear[:-1]:
            self.state.pause_reasons.remove(r)
        return out + self.resume(clear[-1], now)

    def resume(self, reason: str, now: float) -> list[Message]:
        if reason not in self.state.pause_reasons:
            return []
        self.state.pause_reasons.remove(reason)
        o = self.state.current
        if o is None or self.paused:
            return self._states(now) if o else []
        out: list[Message] = []
        if o.cobot is not None and o.cobot.run_id:
            self.state.command_counter += 1
            out.append(RobotCommand(src=self.src, t=now, cmd_id=f"resume-{self.state.command_counter}",
                                    action="resume", step_id=self._task_steps()[o.cobot.index].id))
        out.extend(self._states(now))
        out.extend(self._start_cobot(now))
        self._dispatch(now, out)
        return out

    def _help_answered(self, who: str, now: float) -> list[Message]:
        """A job coach said they are on their way: the bench shows it (no call open: nothing)."""
        if not self.state.help_requested or self.state.help_coming == who:
            return []
        self.state.help_coming = who
        return self._states(now)

    def _set_help(self, on: bool, now: float) -> list[Message]:
        if self.state.help_requested == on:
            return []
        self.state.help_requested = on
        self.state.help_coming = ""
        return self._states(now)

    def _on_fault(self, fault: Fault, now: float) -> list[Message]:
        reason = f"{fault.component}: {fault.text}"
        if fault.component == "robot":
            # a lost or failing cobot: it gets no new work; its open step goes back or the order pauses
            if fault.cleared:
                return []  # availability comes back with the robot's own status
            self.state.robot_mode, self.state.robot_fault = "disconnected", fault.text
            o = self.state.current
            if o is not None and o.cobot is not None:
                return self._cobot_lost(fault.text, now)
            return []
        if fault.component == "camera":
            return self._manual(fault, now)
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

    def _manual(self, fault: Fault, now: float) -> list[Message]:
        """The camera is lost: the work goes on, each operator step confirmed by hand (button box,
        pedal, or the key at the bench) instead of seen. The camera back, tracking takes over again."""
        if fault.cleared:
            was, self.state.manual = self.state.manual, ""
            out: list[Message] = []
            for r in [r for r in self.state.pause_reasons if r.startswith("camera:")]:  # a pause from an older engine
                out.extend(self.resume(r, now))
            return out or (self._states(now) if was and self.state.current else [])
        if self.state.manual:
            return []
        self.state.manual = f"camera: {fault.text}"
        return self._states(now) if self.state.current else []

    def _confirm_by_hand(self, now: float) -> list[Message]:
        """Camera lost: a confirmation finishes the operator's step (whatever it was waiting to see)."""
        o = self.state.current
        run = o.op if o else None
        if not self.state.manual or run is None or self.paused or run.phase not in ("active", "verifying"):
            return []
        out: list[Message] = []
        self._finish(run, now, out)
        return out

    def _on_task_event(self, ev: TaskEvent, now: float) -> list[Message]:
        if ev.src == self.src:
            return []
        if ev.kind == "help" or (ev.kind == "press" and ev.zone in self._help_buttons):
            return self._set_help(True, now)
        if ev.kind == "help_cleared":
            return self._set_help(False, now)
        if ev.kind == "pause":
            return self.pause("paused at the bench", now)
        if ev.kind == "resume":
            return self.resume("paused at the bench", now)
        if ev.kind == "confirm" and self.state.manual:
            return self._confirm_by_hand(now)
        o = self.state.current
        run = o.op if o else None
        if o is None or run is None or self.paused or run.phase not in ("active", "verifying"):
            return []
        step = self._task_steps()[run.index]
        out: list[Message] = []
        if ev.kind == "pick":
            if step.pick and ev.zone == step.pick.zone:
                if not run.acted:
                    run.picked = min(run.picked + ev.quantity, step.pick.quantity)
            elif ev.zone in self._bins:
                o.errors += 1
                right = step.pick.zone if step.pick else None
                lang = self.operator.language
                label = self.config.zone(right).label_in(lang, self.config.cell.language) if right else ""
                detail = f"take from bin {label}" if right else "this step needs no part"
                out.append(TaskEvent(src=self.src, t=now, kind="wrong_pick", zone=ev.zone, order_id=o.order_id,
                                     step_id=step.id, detail=detail))
                out.append(self.step_state(now, run=run))
                return out
        elif ev.kind == "place":
            if step.place and ev.zone == step.place.zone and (not step.pick or run.picked >= step.pick.quantity):
                run.placed = True
        elif ev.kind == "part_present" and step.verify.by == "part_present" and not run.acted:
            run.part_seen = ev.zone == (step.verify.zone or (step.place.zone if step.place else None))
        # action complete?
        if not run.acted and self._action_done(step, run, ev):
            run.acted = True
            if self._verified(step, run, ev, now):
                self._finish(run, now, out)
                return out
            run.phase, run.verifying_since = "verifying", now
            out.append(self.step_state(now, run=run))
            return out
        if run.acted and run.phase == "verifying" and self._verified(step, run, ev, now):
            self._finish(run, now, out)
        return out

    @staticmethod
    def _action_done(step: Step, run: Run, ev: TaskEvent) -> bool:
        if step.action == "pick":
            return step.pick is not None and run.picked >= step.pick.quantity
        if step.action in ("place", "pick_place"):
            return run.placed
        if step.action == "press":
            return ev.kind == "press" and ev.zone == step.press
        if step.action == "confirm":
            return ev.kind in ("confirm", "press")
        return False

    def _verified(self, step: Step, run: Run, ev: TaskEvent | None, now: float) -> bool:
        v = step.verify
        if v.by == "hand_in_zone":
            return True
        if v.by == "button":
            if step.action == "press" and run.phase != "verifying":
                return True  # the press that did the action is the confirmation
            # the projected button, or a button box / pedal key that confirms
            return ev is not None and ((ev.kind == "press" and ev.zone == v.zone) or ev.kind == "confirm")
        if v.by == "part_present":
            zone = v.zone or (step.place.zone if step.place else None)
            return run.part_seen or (ev is not None and ev.kind == "part_present" and ev.zone == zone)
        if v.by == "timer":
            return run.verifying_since is not None and now - run.verifying_since >= (v.seconds or 0)
        return False  # device and robot verification arrive by their own messages

    def _on_device(self, ev: DeviceEvent, now: float) -> list[Message]:
        """What a bench device's event means for the work (docs/devices.md).

        A button box or pedal key does what ``Device.keys`` says (confirm by default): a
        confirmation is the done button, or, with the camera lost, finishes the step. A
        pick-to-light acknowledgement is a pick from its bin. A step verified by a device
        is done on that device's event, except a torque tool's NOK: the step stays open."""
        device = self._devices.get(ev.device)
        if device is not None and device.kind in CONFIRM_DEVICES and ev.kind == "press":
            action = device.keys.get(ev.text, "confirm")
            if action == "help":
                return self._set_help(True, now)
            if action in ("pause", "resume"):
                return getattr(self, action)("paused at the bench", now)
            if self.state.manual:
                return self._confirm_by_hand(now)
            return self._on_task_event(TaskEvent(src=ev.src, t=now, kind="confirm", detail=ev.device), now)
        if device is not None and device.kind == "pick_to_light" and ev.kind == "ack":
            zone = next((z for z, n in device.bins.items() if n == int(ev.values.get("bin", -1))), None)
            if zone is None:
                return []
            step = self.operator_step()
            quantity = step.pick.quantity if step is not None and step.pick and step.pick.zone == zone else 1
            return self._on_task_event(TaskEvent(src=ev.src, t=now, kind="pick", zone=zone, quantity=quantity,
                                                 detail=f"{ev.device} acknowledged"), now)
        o = self.state.current
        run = o.op if o else None
        if o is None or run is None or self.paused:
            return []
        step = self._task_steps()[run.index]
        v = step.verify
        if v.by == "device" and ev.device == v.device and (v.event is None or ev.kind == v.event) \
                and run.phase in ("active", "verifying") and (run.acted or step.action == "confirm"):
            if ev.values.get("ok", 1.0) < 0.5:  # e.g. a screw below torque: not done, and counted
                o.errors += 1
                return [self.step_state(now, run=run)]
            out: list[Message] = []
            self._finish(run, now, out)
            return out
        return []

    def _on_robot_status(self, st: RobotStatus, now: float) -> list[Message]:
        was_available = self.cobot_available()
        self.state.robot_mode, self.state.robot_fault = st.mode, st.fault
        o = self.state.current
        out: list[Message] = []
        if o is None:
            return out
        run = o.cobot
        if run is not None and run.run_id and st.run_id == run.run_id:
            if st.finished and run.phase in ("active", "verifying"):
                self._finish(run, now, out)
                return out
            if st.mode == "fault":
                return self._cobot_lost(f"the cobot stopped: {st.fault or 'fault'}", now)
        if run is not None and st.mode in ("fault", "disconnected"):
            return self._cobot_lost(f"the cobot is {st.mode}" + (f": {st.fault}" if st.fault else ""), now)
        if not was_available and self.cobot_available():
            out.extend(self._start_cobot(now))
            self._dispatch(now, out)
        return out

    def _cobot_lost(self, why: str, now: float) -> list[Message]:
        """The cobot cannot finish its step: give it back to the operator if allowed, else pause."""
        o = self.state.current
        assert o is not None and o.cobot is not None
        run = o.cobot
        step = self._task_steps()[run.index]
        # steps planned for the cobot but not started are decided again when their turn comes
        o.planned = {i: who for i, who in o.planned.items() if who != "cobot"}
        if step.who == "both" and operator_may_do(step, self.operator):  # every limit, not only forbidden_steps
            o.cobot = None
            self.state.reassignments += 1
            alloc = Allocation(src=self.src, t=now, order_id=o.order_id, step_id=step.id, unit=o.unit,
                               assignee="operator", policy=self.allocator.name,
                               reason=f"{why}; the step goes back to the operator", reassigned=True)
            self._last_alloc = alloc
            out: list[Message] = [alloc]
            o.planned[run.index] = "operator"
            if o.op is None:  # the operator takes it now, and their time on it starts now
                del o.planned[run.index]
                o.op = Run(index=run.index, assignee="operator", started=now)
                o.last_index = run.index
                out.append(self.step_state(now, run=o.op))
            else:  # after the step in hand
                out.append(self.step_state(now, run=Run(index=run.index, assignee="operator", phase="pending")))
            return out
        return self.pause(f"robot: {why}", now)

    def tick(self, now: float) -> list[Message]:
        """Timers: timer verification."""
        o = self.state.current
        run = o.op if o else None
        out: list[Message] = []
        if o and run and not self.paused and run.phase == "verifying":
            step = self._task_steps()[run.index]
            if step.verify.by == "timer" and self._verified(step, run, None, now):
                self._finish(run, now, out)
        return out
