"""The ergonomics node: scores pose frames with RULA and REBA.

Pose frames come from the camera path (or the simulated operator); the
current step says which load is in the hands. (The stress estimate has its
own node, cell/nodes/stress_node.py.)
"""

from __future__ import annotations

import numpy as np

from cell.bus import BusEndpoints
from cell.config import CellConfig, Step
from cell.messages import ErgonomicScore, Message, PoseFrame, StepState
from cell.runtime import Node
from ergonomics.assess import FrameAssessor


class ErgonomicsNode(Node):
    MAX_SCORES_PER_S = 5.0

    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options):
        super().__init__("ergonomics", endpoints, topics=["pose.frame", "step.state"],
                         heartbeat_s=config.bus.heartbeat_s)
        self.config = config
        self.operator_id = config.operator(options.operator_id).id
        self.assessor = FrameAssessor(config)
        self.step: Step | None = None
        self.state: StepState | None = None
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
            self.state = msg
            self.step = self.config.task(msg.task_id).step(msg.step_id)


def _hand(flat: list[float] | None) -> np.ndarray | None:
    return None if flat is None else np.asarray(flat).reshape(21, 3)
