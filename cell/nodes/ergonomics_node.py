"""The ergonomics node: scores every pose frame with RULA and estimates mental strain.

Pose frames come from the camera path (or the simulated operator); the
current step says which load is in the hands. Heart beats from a wearable,
wrong picks, help calls and step times feed the stress estimate, published
every few seconds.
"""

from __future__ import annotations

import numpy as np

from cell.bus import BusEndpoints
from cell.config import CellConfig, Step
from cell.messages import DeviceEvent, ErgonomicScore, Message, PoseFrame, StepState, StressEstimate, TaskEvent
from cell.runtime import Node
from ergonomics.assess import FrameAssessor
from ergonomics.stress import StressEstimator


class ErgonomicsNode(Node):
    STRESS_EVERY_S = 5.0
    MAX_SCORES_PER_S = 5.0

    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options):
        super().__init__("ergonomics", endpoints, topics=["pose.frame", "step.state", "task.event", "device.event"],
                         heartbeat_s=config.bus.heartbeat_s)
        self.config = config
        self.operator_id = config.operator(options.operator_id).id
        self.assessor = FrameAssessor(config)
        self.stress = StressEstimator()
        self.step: Step | None = None
        self.state: StepState | None = None
        self._active_since = 0.0
        self._next_stress = 0.0
        self._next_score = 0.0

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, PoseFrame):
            if now < self._next_score:
                return
            self._next_score = now + 1.0 / self.MAX_SCORES_PER_S
            working = self.state is not None and self.state.assignee == "operator" and not self.state.paused
            step = self.step if working else None
            r = self.assessor.assess(np.asarray(msg.world).reshape(33, 3), np.asarray(msg.visibility),
                                     _hand(msg.left_hand), _hand(msg.right_hand), step)
            self.publish(ErgonomicScore(src=self.name, t=msg.t, operator_id=msg.operator_id, rula_grand=r.grand,
                                        rula_action_level=r.action_level, rula_left=r.left.grand,
                                        rula_right=r.right.grand, confidence=round(r.confidence, 3),
                                        step_id=step.id if step else None))
        elif isinstance(msg, StepState):
            if msg.phase == "done" and msg.assignee == "operator" and self.step is not None:
                self.stress.add_step_time(now, (now - self._active_since) / self.step.target_time_s)
            if msg.phase == "active" and (self.state is None or self.state.step_id != msg.step_id):
                self._active_since = now
            self.state = msg
            self.step = self.config.task(msg.task_id).step(msg.step_id)
        elif isinstance(msg, TaskEvent):
            if msg.kind == "wrong_pick":
                self.stress.add_error(now)
            elif msg.kind == "help":
                self.stress.add_help(now)
        elif isinstance(msg, DeviceEvent) and msg.kind == "rr" and "rr_ms" in msg.values:
            self.stress.add_beats(now, [msg.values["rr_ms"]])

    def on_tick(self, now: float) -> None:
        if now >= self._next_stress:
            self._next_stress = now + self.STRESS_EVERY_S
            est = self.stress.estimate(now)
            self.publish(StressEstimate(src=self.name, t=now, operator_id=self.operator_id, index=est.index,
                                        confidence=est.confidence, contributions=est.contributions))


def _hand(flat: list[float] | None) -> np.ndarray | None:
    return None if flat is None else np.asarray(flat).reshape(21, 3)
