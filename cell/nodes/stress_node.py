"""The stress node: a mental-strain estimate from heart beats and behaviour, every few seconds.

Heart beats (RR intervals) come from a wearable as device events; wrong
picks and help calls as task events; step times from the engine's step
states. The estimate (index, confidence, what drove it, a plain-language
explanation) goes out on ``stress.estimate``.
"""

from __future__ import annotations

from cell.adaptation import step_for
from cell.bus import BusEndpoints
from cell.config import CellConfig, Step
from cell.messages import DeviceEvent, Message, OperatorChanged, StepState, StressEstimate, TaskEvent
from cell.runtime import Node
from ergonomics.stress import StressEstimator


class StressNode(Node):
    EVERY_S = 5.0

    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options):
        super().__init__("stress", endpoints, topics=["step.state", "task.event", "device.event", "operator.profile"],
                         heartbeat_s=config.bus.heartbeat_s)
        self.config = config
        self.profile = config.operator(options.operator_id)
        self.operator_id = self.profile.id
        self.estimator = StressEstimator(window_s=config.stress.window_s, method=config.stress.method)
        self.state: StepState | None = None
        self.step: Step | None = None
        self._active_since = 0.0
        self._next = 0.0

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, StepState):
            if msg.assignee != "operator" or msg.phase == "pending":
                return  # the operator's pace is what counts here
            if msg.phase == "done" and self.step is not None and self.step.id == msg.step_id:
                self.estimator.add_step(now, self.step.id, now - self._active_since, self.step.target_time_s)
            if msg.phase == "active" and (self.state is None or (self.state.unit, self.state.step_id)
                                          != (msg.unit, msg.step_id)):
                self._active_since = now
            self.state = msg
            self.step = step_for(self.config, self.profile, msg.task_id, msg.step_id)
        elif isinstance(msg, OperatorChanged):
            self.reload_operator(msg)
        elif isinstance(msg, TaskEvent):
            if msg.kind == "wrong_pick":
                self.estimator.add_error(now)
            elif msg.kind == "help":
                self.estimator.add_help(now)
        elif isinstance(msg, DeviceEvent) and msg.kind == "rr" and "rr_ms" in msg.values:
            self.estimator.add_beats(now, [msg.values["rr_ms"]])

    def on_tick(self, now: float) -> None:
        if now < self._next:
            return
        self._next = now + self.EVERY_S
        est = self.estimator.estimate(now)
        self.publish(StressEstimate(src=self.name, t=now, operator_id=self.operator_id, index=est.index,
                                    confidence=est.confidence, contributions=est.contributions,
                                    explanation=est.explanation, method=est.method))
