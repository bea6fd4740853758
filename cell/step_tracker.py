"""Following the engine's step states when the operator and the cobot work at once.

The engine publishes one ``StepState`` per step change, for either agent. A
consumer that needs "what is the operator doing" (ergonomics, stress, the
simulated operator) or "what does the bench show" (projection) keeps a
``StepTracker`` instead of the last message.
"""

from __future__ import annotations

from cell.messages import StepState

_WORKING = ("active", "verifying")


class StepTracker:
    def __init__(self) -> None:
        self.operator: StepState | None = None  # the operator's step (their latest state)
        self.cobot: StepState | None = None     # the cobot's step, while it has one
        self.last: StepState | None = None

    def update(self, msg: StepState) -> bool:
        """Take a state; False for an old one arriving late (same order, lower ``seq``)."""
        if self.last is not None and msg.order_id == self.last.order_id and msg.seq < self.last.seq:
            return False
        self.last = msg
        if msg.assignee == "cobot":
            self.cobot = msg if msg.phase in _WORKING else None
        elif msg.phase == "pending":
            if self.cobot is not None and self.cobot.step_id == msg.step_id:
                self.cobot = None  # the cobot's step came back to the operator, who takes it after this one
        else:
            self.operator = msg
            if self.cobot is not None and self.cobot.step_id == msg.step_id:
                self.cobot = None
        if msg.order_done:
            self.cobot = None
        return True

    @property
    def operator_working(self) -> bool:
        s = self.operator
        return s is not None and s.phase in _WORKING and not s.paused and not (self.last and self.last.paused)

    @property
    def paused(self) -> bool:
        return bool(self.last and self.last.paused)

    @property
    def front(self) -> StepState | None:
        """What the operator should see: their own step, else the cobot's, else the latest state."""
        if self.operator is not None and self.operator.phase in _WORKING:
            return self.operator
        if self.cobot is not None:
            return self.cobot
        return self.last
