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
        self.units_done = 0          # units whose every step is done
        self.newly_done = False      # the last state taken finished a step for the first time
        self.unit_finished = False   # ... and with it the whole unit
        self._unit_steps: dict[tuple[str, int], set[str]] = {}  # (order, unit) -> steps done so far

    def update(self, msg: StepState) -> bool:
        """Take a state; False for an old one arriving late (same order, lower ``seq``)."""
        self.newly_done = self.unit_finished = False
        if self.last is not None and msg.order_id == self.last.order_id and msg.seq < self.last.seq:
            return False
        self.last = msg
        if msg.phase == "done" and not msg.order_done:  # a re-sent state counts once
            unit = self._unit_steps.setdefault((msg.order_id, msg.unit), set())
            if msg.step_id not in unit:
                unit.add(msg.step_id)
                self.newly_done = True
                if len(unit) == msg.step_count:  # all of them: not just the last one listed
                    del self._unit_steps[(msg.order_id, msg.unit)]
                    self.units_done += 1
                    self.unit_finished = True
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
    def front(self) -> StepState | None:
        """What the operator should see: their own step, else the cobot's, else the latest state."""
        if self.operator is not None and self.operator.phase in _WORKING:
            return self.operator
        if self.cobot is not None:
            return self.cobot
        return self.last
