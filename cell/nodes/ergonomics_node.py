"""The ergonomics node: each pose frame scored with RULA and REBA, exposure and fatigue over time.

Pose frames come from the camera path (or the simulated operator); the
current step says what load is in the hands and how it is gripped; the
posture stream says whether work is static or repetitive. Out go a score per
scored frame (``ergo.score``), the fatigue of each body region every few
seconds (``ergo.fatigue``) and an exposure summary of the last minutes
(``ergo.exposure``). While the cobot does a step or the cell is paused, the
operator's muscles recover in the fatigue model. (Stress has its own node.)
"""

from __future__ import annotations

import numpy as np

from cell.adaptation import step_for
from cell.bus import BusEndpoints
from cell.config import CellConfig, Step
from cell.messages import Message, OperatorChanged, PoseFrame, StepState
from cell.runtime import Node
from cell.step_tracker import StepTracker
from ergonomics.assess import OperatorErgonomics, exposure_message, fatigue_message, score_message


class ErgonomicsNode(Node):
    MAX_SCORES_PER_S = 5.0
    FATIGUE_EVERY_S = 5.0
    EXPOSURE_EVERY_S = 30.0
    EXPOSURE_WINDOW_S = 600.0

    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options):
        super().__init__("ergonomics", endpoints, topics=["pose.frame", "step.state", "operator.profile"],
                         heartbeat_s=config.bus.heartbeat_s)
        self.config = config
        self.profile = config.operator(options.operator_id)
        self.ergo = OperatorErgonomics(self.profile)
        self.step: Step | None = None
        self.steps = StepTracker()  # the operator's step: scores are tagged with it
        self._next_score = self._next_fatigue = 0.0
        self._next_exposure = self.EXPOSURE_EVERY_S
        self._first_frame: float | None = None

    def _working(self) -> bool:
        return self.steps.operator_working

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, PoseFrame):
            if now < self._next_score:
                return
            self._next_score = now + 1.0 / self.MAX_SCORES_PER_S
            if not self._working():
                self.ergo.rest(now)
                return
            r = self.ergo.frame(now, np.asarray(msg.world).reshape(33, 3), np.asarray(msg.visibility),
                                _hand(msg.left_hand), _hand(msg.right_hand), self.step)
            if self._first_frame is None:
                self._first_frame = now
            self.publish(score_message(r, self.name, msg.operator_id, msg.t, self.step.id if self.step else None))
        elif isinstance(msg, OperatorChanged):
            self.reload_operator(msg)  # the steps as this person now does them (the body stays the same)
        elif isinstance(msg, StepState):
            self.steps.update(msg)
            st = self.steps.operator
            self.step = step_for(self.config, self.profile, st.task_id, st.step_id) if st is not None else None

    def on_tick(self, now: float) -> None:
        if not self._working():
            self.ergo.rest(now)
        if now >= self._next_fatigue:
            self._next_fatigue = now + self.FATIGUE_EVERY_S
            self.publish(fatigue_message(self.ergo.fatigue_state, self.name, self.profile.id, now))
        if now >= self._next_exposure and self._first_frame is not None:
            self._next_exposure = now + self.EXPOSURE_EVERY_S
            t0 = max(self._first_frame, now - self.EXPOSURE_WINDOW_S)
            try:
                e = self.ergo.exposure(t0, now)
            except ValueError:
                return  # no scored frames in the window (the cobot did the work)
            self.publish(exposure_message(e, self.name, self.profile.id, now))


def _hand(flat: list[float] | None) -> np.ndarray | None:
    return None if flat is None else np.asarray(flat).reshape(21, 3)
