"""The simulated operator node: a person at the bench, as the camera path would report them.

Stands in for camera + vision + tracking in a simulated cell: it follows
the engine's step states, does the operator's steps with the simulated
body, publishes the task events tracking would detect (picks, places,
button presses, help calls), 33-landmark pose frames at the camera rate,
and the heart beats of a simulated wearable. It says it is simulated in
its name, its heartbeat and every frame. Without a live engine it stops
working (the bench would show that the cell is paused).
"""

from __future__ import annotations

import numpy as np

from cell.bus import BusEndpoints, Watchdog
from cell.config import CellConfig
from cell.messages import DeviceEvent, Heartbeat, Message, OperatorChanged, PoseFrame, StepState
from cell.runtime import Node
from cell.simulator.camera import SimulatedCamera
from cell.simulator.operator import SimulatedOperator

MAX_FPS = 15.0  # the simulated camera publishes at most this rate (2 cores, many processes)


class SimOperatorNode(Node):
    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options):
        super().__init__("sim-operator", endpoints, topics=["step.state", "heartbeat.engine", "operator.profile"],
                         heartbeat_s=config.bus.heartbeat_s, tick_s=0.02, simulated=True)
        profile = config.operator(options.operator_id)
        if options.speed != 1.0:
            profile = profile.model_copy(update={"pace": profile.pace * options.speed})
        self.config = config
        self.profile = profile
        self.speed = options.speed
        self.person: SimulatedOperator | None = None  # made in on_start: its shift starts then
        self.camera = SimulatedCamera(config, profile, cache_size=5000)  # a long-running node stays small
        self.engine_watch = Watchdog(config.thresholds.engine_lost_s)
        self.frame_dt = 1.0 / min(config.camera.fps, MAX_FPS)
        self._next_frame = 0.0
        self._next_beats = 0.0
        self._frame_no = 0
        self.step: StepState | None = None
        self._engine_pid: int | None = None
        self._engine_silent = False  # the engine's watchdog expired: the person stopped until it is heard

    def on_start(self, now: float) -> None:
        self.person = SimulatedOperator(self.config, self.profile, seed=0, shift_start=now)
        self.engine_watch.expect("engine", now)
        self.status = f"simulated operator {self.profile.id}"
        self._sync(now)

    def _sync(self, now: float) -> None:
        snap = self.snapshot_until_answered(now)
        if snap is not None and snap.step is not None:
            self._take_step(snap.step, now)

    def _take_step(self, st: StepState, now: float) -> None:
        if self.step is not None and st.order_id == self.step.order_id and st.seq < self.step.seq:
            return  # an old state arriving late
        self.step = st
        if st.paused:
            self.person.pause(now)
        else:
            self.person.on_step(st, now)

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, Heartbeat):
            self.engine_watch.feed("engine", now)
            silent, self._engine_silent = self._engine_silent, False
            if silent or (self._engine_pid is not None and msg.pid != self._engine_pid):
                # a restarted engine, or one heard again after a silence (the person stopped meanwhile):
                # what we did while it was gone may be lost; start the step over
                self.person.pause(now)
                snap = self.request_snapshot(1.0)
                if snap is not None and snap.step is not None:
                    self.step = None
                    self._take_step(snap.step, now)
            self._engine_pid = msg.pid
        elif isinstance(msg, StepState):
            self._take_step(msg, now)
        elif isinstance(msg, OperatorChanged) and self.reload_operator(msg):
            # the simulated person does the steps as the new profile says (split steps, new texts)
            if self.speed != 1.0:
                self.profile = self.profile.model_copy(update={"pace": self.profile.pace * self.speed})
            if self.person is not None:
                self.person.config, self.person.profile = self.config, self.profile

    def on_tick(self, now: float) -> None:
        self._sync(now)
        if self.engine_watch.expired(now):
            self._engine_silent = True
            self.person.pause(now)
            self.status = "simulated operator waiting: no engine"
        if self.engine_watch.alive("engine", now):
            self.status = f"simulated operator {self.profile.id}"
            for ev in self.person.events_until(now):
                self.publish(ev)
        if now >= self._next_frame:
            self._next_frame = now + self.frame_dt
            self._publish_frame(now)
        if now >= self._next_beats:
            for rr in self.person.heartbeats(now - 1.0, now):
                self.publish(DeviceEvent(src=self.name, t=now, device="sim-wearable", kind="rr",
                                         values={"rr_ms": round(rr, 1), "hr_bpm": round(60000.0 / rr, 1)}))
            self._next_beats = now + 1.0
            self.person.prune(now)

    def _publish_frame(self, now: float) -> None:
        f = self.camera.frame(now, self.person.hand_targets(now), self.person.posture_degradation_deg(now))
        self._frame_no += 1
        b = f.body
        self.publish(PoseFrame(
            src=self.name, t=now, frame=self._frame_no, operator_id=self.profile.id,
            world=_flat(b.world), image=_flat(f.image), visibility=[round(float(v), 3) for v in f.visibility],
            left_hand=_flat(b.left_hand), right_hand=_flat(b.right_hand),
            hands_bench_mm=f.hands_bench_mm, simulated=True))


def _flat(a: np.ndarray) -> list[float]:
    return np.round(np.asarray(a, dtype=float).reshape(-1), 5).tolist()
