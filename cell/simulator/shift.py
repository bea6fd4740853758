"""A whole simulated shift on a virtual clock: engine, allocator, operator, cobot, scoring, log.

Everything runs in one process with no sockets: the same core objects the
bus nodes wrap, called in time order. The simulated camera samples the
operator's body at ``fps`` frames per virtual second (1 by default, enough
for exposure statistics and movements up to 30 a minute; the live camera
path runs at 30 and the ergonomics node scores 5 a second). Each frame is
scored with RULA and REBA and feeds the posture stream and the fatigue model
(the muscles recover while the cobot works); every message the engine, the
tracking and the scorers produce is written to the event log. An 8-hour
shift takes seconds.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cell.allocation import make_allocator
from cell.config import CellConfig
from cell.engine import TaskEngine
from cell.adaptation import step_for
from cell.messages import (
    Allocation, DeviceEvent, Fault, Message, RobotCommand, RobotStatus, StepState, StressEstimate, TaskEvent,
)
from cell.simulator.camera import SimulatedCamera
from cell.step_tracker import StepTracker
from cell.store import EventStore
from ergonomics.assess import OperatorErgonomics, exposure_message, fatigue_message, lifting_indices, score_message
from ergonomics.stress import StressEstimator
from robot_bridge.driver import DriverError
from robot_bridge.simulated import SimulatedCobot


@dataclass
class ShiftSummary:
    operator: str
    policy: str
    seed: int
    duration_s: float
    wall_s: float
    units: int
    orders_done: int
    steps_operator: int
    steps_cobot: int
    operator_share: float          # of the steps of the units built (a unit cut off by the shift's end is not)
    reassignments: int
    errors: int
    help_requests: int
    rula_frames: int
    rula_al3_pct: float
    rula_al4_pct: float
    rula_mean: float
    mean_stress: float
    reba_high_pct: float
    fatigue_peak_pct: dict[str, float]
    lifting_index: dict[str, float]
    events_logged: int
    event_log: str | None
    speedup: float = 0.0
    reassignment_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def cobot_programs(config: CellConfig) -> dict[str, tuple[str, float]]:
    if config.robot is None:
        return {}
    return {sid: (p.program, p.duration_s) for sid, p in config.robot.programs.items()}


class SimulatedShift:
    """Runs one operator's shift; ``run()`` returns the summary."""

    def __init__(self, config: CellConfig, *, operator_id: str | None = None, policy: str | None = None,
                 duration_s: float = 8 * 3600, seed: int = 0, fps: float = 1.0,
                 store: EventStore | None = None, stress_at_s: float | None = None):
        """``stress_at_s``: the heart beats come from an emulated heart-rate bridge, its lines read by
        the devices' real parser and logged as ``DeviceEvent``s, with the HRV dropping from that time
        on (mental strain), instead of from the simulated operator's heart."""
        self.config = config
        self.profile = config.operator(operator_id)
        self.policy = policy or self.profile.policy or config.allocation.policy
        self.duration_s = duration_s
        self.seed = seed
        self.fps = fps
        self.store = store
        allocator = make_allocator(self.policy, config.allocation, config.thresholds)
        self.engine = TaskEngine(config, self.profile, allocator)
        from cell.simulator.operator import SimulatedOperator
        self.operator = SimulatedOperator(config, self.profile, seed=seed)
        self.cobot = SimulatedCobot(cobot_programs(config), name=(config.robot.name if config.robot else "cobot"))
        self.camera = SimulatedCamera(config, self.profile)
        self.ergo = OperatorErgonomics(self.profile, cache_size=60000)  # the camera caches poses as many
        self.stress = StressEstimator(window_s=config.stress.window_s, method=config.stress.method)
        self._bridge = _HeartRateLines(seed, stress_at_s) if stress_at_s is not None else None
        self._log: list[Message] = []
        self.steps = StepTracker()  # the operator's step, and the units finished
        self._frames = 0
        self._al3 = self._al4 = 0
        self._rula_sum = 0
        self._stress_sum = 0.0
        self._stress_n = 0
        self._errors = 0
        self._helps = 0
        self._reasons: dict[str, int] = {}
        self._last_robot: tuple | None = None
        self._active_key: tuple | None = None
        self._active_since = 0.0
        self._done = {"operator": 0, "cobot": 0}
        self._unit_work: dict[tuple[str, int], dict[str, int]] = {}  # steps done per unit still being built
        self._built = {"operator": 0, "cobot": 0}                   # steps of the units built, by who did them
        self._operator_steps: dict[str, int] = {}
        self._reba_high = 0
        self._fatigue_peak: dict[str, float] = {}
        self._first_scored: float | None = None

    # ---- routing --------------------------------------------------------------------
    def _dispatch(self, msgs: list[Message], now: float) -> None:
        """Deliver engine output: log it, run robot commands, tell the simulated operator."""
        queue = list(msgs)
        while queue:
            msg = queue.pop(0)
            self._log.append(msg)
            if isinstance(msg, StepState):
                self.steps.update(msg)
                if self.steps.newly_done:  # the operator's share is counted over the units built
                    work = self._unit_work.setdefault((msg.order_id, msg.unit), {"operator": 0, "cobot": 0})
                    work[msg.assignee] += 1
                    if self.steps.unit_finished:
                        for agent, n in self._unit_work.pop((msg.order_id, msg.unit)).items():
                            self._built[agent] += n
                key = (msg.order_id, msg.unit, msg.step_id)
                if msg.assignee == "operator" and msg.phase == "active" and key != self._active_key:
                    self._active_key, self._active_since = key, now
                if msg.assignee == "operator" and msg.phase == "active":
                    self.operator.on_step(msg, now)
                if msg.phase == "done" and not msg.order_done:
                    self._done[msg.assignee] += 1
                    if msg.assignee == "operator":
                        self._operator_steps[msg.step_id] = self._operator_steps.get(msg.step_id, 0) + 1
                        target = step_for(self.config, self.profile, msg.task_id, msg.step_id).target_time_s
                        self.stress.add_step(now, msg.step_id, now - self._active_since, target)
                if msg.order_done:
                    queue.extend(self._next_order(now))
            elif isinstance(msg, Allocation):
                if msg.reassigned:
                    key = msg.reason.split(":")[0].split(" (")[0]
                    self._reasons[key] = self._reasons.get(key, 0) + 1
            elif isinstance(msg, TaskEvent) and msg.kind == "wrong_pick":
                self._errors += 1
                self.stress.add_error(now)
            elif isinstance(msg, RobotCommand):
                queue.extend(self._robot_command(msg, now))

    def _robot_command(self, cmd: RobotCommand, now: float) -> list[Message]:
        try:
            if cmd.action == "run":
                self.cobot.run(cmd.cmd_id, cmd.step_id, cmd.program, now)
            elif cmd.action == "pause":
                self.cobot.pause(now)
            elif cmd.action == "resume":
                self.cobot.resume(now)
            elif cmd.action == "stop":
                self.cobot.stop(now)
        except DriverError as exc:  # refused, as the robot node would answer: the engine treats it as a fault
            fault = Fault(src="sim-cobot", t=now, component="robot", severity="pause", text=str(exc))
            self._log.append(fault)
            self._last_robot = None  # the next status tells the engine the cobot's real mode again
            return self.engine.handle(fault, now) + self._robot_status(now)
        return self._robot_status(now)

    def _robot_status(self, now: float) -> list[Message]:
        st = self.cobot.poll(now)
        key = (st.mode, st.run_id, st.finished, st.fault)
        if key == self._last_robot:
            return []
        self._last_robot = key
        msg = RobotStatus(src="sim-cobot", t=now, mode=st.mode, step_id=st.step_id, program=st.program,  # type: ignore[arg-type]
                          run_id=st.run_id, finished=st.finished, progress=st.progress, fault=st.fault,
                          simulated=True)
        self._log.append(msg)
        return self.engine.handle(msg, now)

    def _next_order(self, now: float) -> list[Message]:
        orders = self.config.orders or []
        spec = orders[self.engine.state.orders_done % len(orders)] if orders else None
        task_id = spec.task if spec else self.config.tasks[0].id
        qty = spec.quantity if spec else 10
        return self.engine.start_order(task_id, qty, now)

    # ---- the loop -------------------------------------------------------------------
    def run(self) -> ShiftSummary:
        wall0 = time.perf_counter()
        now = 0.0
        self._dispatch(self._robot_status(now), now)
        self._dispatch(self._next_order(now), now)
        dt = 1.0 / self.fps
        next_frame = 0.0
        next_stress = 5.0
        next_fatigue, next_exposure = 5.0, 30.0
        end = self.duration_s
        while now < end:
            # the next thing that happens: an operator event, the cobot finishing, a frame, a stress tick
            candidates = [next_frame, next_stress, end]
            t_ev = self.operator.next_event_time()
            if t_ev is not None:
                candidates.append(t_ev)
            t_rb = self.cobot.next_finish(now)
            if t_rb is not None:
                candidates.append(t_rb)
            now = max(now, min(candidates))
            for ev in self.operator.events_until(now):
                self._log.append(ev)
                if ev.kind == "help":
                    self._helps += 1
                    self.stress.add_help(now)
                self._dispatch(self.engine.handle(ev, now), now)
            self._dispatch(self._robot_status(now), now)
            self._dispatch(self.engine.tick(now), now)
            if now >= next_frame:
                next_frame += dt
                self._score_frame(now)
            if now >= next_fatigue:
                next_fatigue += 5.0
                self.engine.handle(fatigue_message(self.ergo.fatigue_state, "ergonomics", self.profile.id, now), now)
            if now >= next_exposure:
                next_exposure += 30.0
                if self._first_scored is not None:
                    try:
                        e = self.ergo.exposure(max(self._first_scored, now - 600.0), now)
                    except ValueError:
                        e = None  # nothing scored in the window: the cobot did the work
                    if e is not None:
                        self.engine.handle(exposure_message(e, "ergonomics", self.profile.id, now), now)
            if now >= next_stress:
                next_stress += 5.0
                if self._bridge is None:
                    self.stress.add_beats(now, self.operator.heartbeats(now - 5.0, now))
                else:
                    for ev in self._bridge.until(now):
                        self._log.append(ev)
                        self.stress.add_beats(ev.t, [ev.values["rr_ms"]])
                est = self.stress.estimate(now)
                msg = StressEstimate(src="stress", t=now, operator_id=self.profile.id, index=est.index,
                                     confidence=est.confidence, contributions=est.contributions,
                                     explanation=est.explanation, method=est.method)
                self._log.append(msg)
                self.engine.handle(msg, now)
                if est.confidence > 0:
                    self._stress_sum += est.index
                    self._stress_n += 1
                self.operator.prune(now)
            if self.store is not None and len(self._log) > 5000:
                self.store.append_many(self._log)
                self._log.clear()
        logged = 0
        if self.store is not None:
            self.store.append_many(self._log)
            logged = self.store.count()
        wall = time.perf_counter() - wall0
        op_steps, cobot_steps = self._done["operator"], self._done["cobot"]
        built = self._built["operator"] + self._built["cobot"]
        return ShiftSummary(
            operator=self.profile.id, policy=self.policy, seed=self.seed, duration_s=self.duration_s,
            wall_s=round(wall, 3), units=self.steps.units_done, orders_done=self.engine.state.orders_done,
            steps_operator=op_steps, steps_cobot=cobot_steps,
            operator_share=round(self._built["operator"] / built, 4) if built else 0.0,
            reassignments=self.engine.state.reassignments, errors=self._errors, help_requests=self._helps,
            rula_frames=self._frames,
            rula_al3_pct=round(100.0 * self._al3 / self._frames, 2) if self._frames else 0.0,
            rula_al4_pct=round(100.0 * self._al4 / self._frames, 2) if self._frames else 0.0,
            rula_mean=round(self._rula_sum / self._frames, 3) if self._frames else 0.0,
            mean_stress=round(self._stress_sum / self._stress_n, 4) if self._stress_n else 0.0,
            reba_high_pct=round(100.0 * self._reba_high / self._frames, 2) if self._frames else 0.0,
            fatigue_peak_pct={k: round(v, 1) for k, v in sorted(self._fatigue_peak.items())},
            lifting_index=self._lifting(),
            events_logged=logged, event_log=str(self.store.path) if self.store else None,
            speedup=round(self.duration_s / wall, 1) if wall > 0 else 0.0,
            reassignment_reasons=dict(self._reasons),
        )

    def _score_frame(self, now: float) -> None:
        """One camera frame of the operator, scored, while the operator is working on a step."""
        st = self.steps.operator
        if st is None or not self.steps.operator_working:
            self.ergo.rest(now)  # the cobot works or the cell waits: the operator's muscles recover
            return
        step = step_for(self.config, self.profile, st.task_id, st.step_id)
        frame = self.camera.frame(now, self.operator.hand_targets(now),
                                  self.operator.posture_degradation_deg(now))
        body = frame.body
        r = self.ergo.frame(now, body.world, frame.visibility, body.left_hand, body.right_hand, step)
        if self._first_scored is None:
            self._first_scored = now
        rula, reba = r.rula, r.reba
        score = score_message(r, "ergonomics", self.profile.id, now, step.id)
        self._frames += 1
        self._rula_sum += rula.grand
        if rula.action_level >= 3:
            self._al3 += 1
        if rula.action_level >= 4:
            self._al4 += 1
        if reba.action_level >= 3:
            self._reba_high += 1
        for region, state in self.ergo.fatigue_state.regions.items():
            if state.fatigued > self._fatigue_peak.get(region, 0.0):
                self._fatigue_peak[region] = state.fatigued
        self._log.append(score)
        self.engine.handle(score, now)

    def _lifting(self) -> dict[str, float]:
        """NIOSH lifting index of the lifting steps, at the rate the operator did them this shift."""
        minutes = self.duration_s / 60.0
        rate = {k: n / minutes for k, n in self._operator_steps.items()}
        steps = [s for t in self.config.tasks for s in t.steps]
        return {k: round(v.li, 3) for k, v in lifting_indices(steps, rate).items()}


class _HeartRateLines:
    """An emulated heart-rate bridge's lines on the shift's clock, read by the devices' real parser."""

    def __init__(self, seed: int, stress_at_s: float):
        import random

        from cell.config import Device
        from cell.devices.emulator import HeartRateBridge
        from cell.devices.protocols import DeviceProtocolParser

        self.parser = DeviceProtocolParser(Device(id="heart-rate", kind="heart_rate", url="emulated"))
        self.lines = HeartRateBridge(random.Random(seed), True, stress_at_s).stream(0.0)
        self.pending = next(self.lines)

    def until(self, now: float) -> list[DeviceEvent]:
        out: list[DeviceEvent] = []
        while self.pending[0] <= now:
            t, line = self.pending
            out.extend(r.to_message("devices") for r in self.parser.feed(line, t) or [] if r.kind == "rr")
            self.pending = next(self.lines)
        return out


def run_shift(config: CellConfig, *, operator_id: str | None = None, policy: str | None = None,
              duration_s: float = 8 * 3600, seed: int = 0, fps: float = 1.0,
              log_path: Path | None = None, stress_at_s: float | None = None) -> ShiftSummary:
    store = (EventStore(log_path, retention_days=config.store.retention_days,
                        operator_id=config.operator(operator_id).id) if log_path else None)
    try:
        return SimulatedShift(config, operator_id=operator_id, policy=policy, duration_s=duration_s,
                              seed=seed, fps=fps, store=store, stress_at_s=stress_at_s).run()
    finally:
        if store is not None:
            store.close()
