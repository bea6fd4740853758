"""What the job coach's page knows about one cell, built from the cell's bus (pure: no sockets, no clock).

``CellLive.take(msg, now)`` folds one bus message into the picture; ``now`` is the wall
clock of the web service (messages carry their source's monotonic time, which says
nothing across PCs). ``tile`` is the floor view's summary of the cell, ``detail`` the
cell view. Health-related data (stress, ergonomic load) is only put in when the caller
says the reader may see it (a logged-in job coach).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from cell.adaptation import step_for
from cell.config import CellConfig
from cell.messages import (
    Allocation, ErgonomicScore, Fault, Heartbeat, LogRecord, Message, OperatorChanged, PoseFrame, RobotStatus,
    Snapshot, StepState, StressEstimate, TaskEvent,
)
from cell.step_tracker import StepTracker

LANGUAGE = "en"             # the page's language; step titles fall back to the cell's own
SILENT_S = 3.0              # no heartbeat from the cell for this long: the page says it is not heard
LOAD_WINDOW_S = 600.0       # "for a while": the gentle flag looks back this far ...
LOAD_SHARE = 0.6            # ... and is raised when this share of that time was high
LOAD_MIN_SAMPLES = 20       # ... with at least this many readings (no flag from a handful)
TREND_BUCKET_S = 60.0       # the shift's trends: one point per minute
EVENTS_KEPT = 40

_EVENT_WORDS = {
    "pick": "picked from {zone}", "place": "placed in {zone}", "press": "pressed {zone}",
    "confirm": "confirmed the step", "wrong_pick": "took from the wrong bin ({zone})",
    "part_present": "part seen in {zone}", "help": "asked for help", "help_cleared": "help call cleared",
    "pause": "paused", "resume": "resumed", "device": "device: {detail}",
}


@dataclass
class Trend:
    """Per-minute means of one signal over the shift (kept for 12 hours)."""

    points: deque = field(default_factory=lambda: deque(maxlen=12 * 60))  # (minute start, mean, n)

    def add(self, now: float, value: float) -> None:
        minute = now - now % TREND_BUCKET_S
        if self.points and self.points[-1][0] == minute:
            m, mean, n = self.points[-1]
            self.points[-1] = (m, mean + (value - mean) / (n + 1), n + 1)
        else:
            self.points.append((minute, value, 1))

    def series(self) -> list[list[float]]:
        return [[m, round(mean, 3)] for m, mean, _ in self.points]


class CellLive:
    """One cell as its bus tells it."""

    def __init__(self, config: CellConfig, names: dict[str, str] | None = None):
        self.config = config
        self.id = config.cell.id
        self.names = names or {}
        self.steps = StepTracker()
        self.allocation: Allocation | None = None
        self.allocations: deque[tuple[float, Allocation]] = deque(maxlen=EVENTS_KEPT)
        self.events: deque[tuple[float, str]] = deque(maxlen=EVENTS_KEPT)
        self.robot: RobotStatus | None = None
        self.faults: dict[str, tuple[float, Fault]] = {}   # component -> (since, fault), open ones
        self.nodes: dict[str, tuple[float, Heartbeat]] = {}  # node -> (last heard, heartbeat)
        self.operator_id: str | None = None
        self.help_since: float | None = None
        self.help_step: str = ""
        self.stress = Trend()
        self.rula = Trend()
        self._stress_recent: deque[tuple[float, bool]] = deque()
        self._rula_recent: deque[tuple[float, bool]] = deque()
        self.stress_now: StressEstimate | None = None
        self.orders_done = 0
        self.version = 0          # bumped on every change the page shows

    # ---- input ---------------------------------------------------------------------------------
    def take(self, msg: Message, now: float) -> bool:
        """Fold in one message; True when what the page shows changed."""
        changed = self._take(msg, now)
        if changed:
            self.version += 1
        return changed

    def take_snapshot(self, snap: Snapshot, now: float) -> None:
        for st in (snap.cobot_step, snap.step):
            if st is not None:
                self._take(st, now)
        if snap.allocation is not None:
            self.allocation = snap.allocation
        if snap.robot is not None:
            self.robot = snap.robot
        self.orders_done = snap.orders_done
        self.version += 1

    def _take(self, msg: Message, now: float) -> bool:
        if isinstance(msg, Heartbeat):
            before = self.nodes.get(msg.src)
            self.nodes[msg.src] = (now, msg)
            return before is None or before[1].status != msg.status or now - before[0] > SILENT_S
        if isinstance(msg, StepState):
            if not self.steps.update(msg):
                return False
            if msg.order_done:
                self.orders_done += 1
                self.events.append((now, f"work order {msg.order_id} done"))
            elif msg.phase == "done":
                who = "the cobot" if msg.assignee == "cobot" else "the operator"
                self.events.append((now, f"{self._step_title(msg.step_id, msg.task_id)}: done by {who}"))
            if msg.help_requested and self.help_since is None:
                self.help_since, self.help_step = now, msg.step_id
            elif not msg.help_requested:
                self.help_since, self.help_step = None, ""
            return True
        if isinstance(msg, Allocation):
            self.allocation = msg
            self.allocations.append((now, msg))
            return True
        if isinstance(msg, RobotStatus):
            changed = self.robot is None or (self.robot.mode, self.robot.step_id, self.robot.fault) != (
                msg.mode, msg.step_id, msg.fault)
            self.robot = msg
            return changed
        if isinstance(msg, Fault):
            return self._fault(msg, now)
        if isinstance(msg, TaskEvent):
            words = _EVENT_WORDS.get(msg.kind)
            if words and msg.kind not in ("pick", "place", "press", "part_present"):  # the steps say those
                self.events.append((now, words.format(zone=self._zone(msg.zone), detail=msg.detail)))
                return True
            return False
        if isinstance(msg, StressEstimate):
            self._operator(msg.operator_id)
            self.stress_now = msg
            self.stress.add(now, msg.index)
            self._recent(self._stress_recent, now, msg.index >= self.config.thresholds.high_stress)
            return True
        if isinstance(msg, ErgonomicScore):
            self._operator(msg.operator_id)
            self.rula.add(now, msg.rula_grand)
            self._recent(self._rula_recent, now,
                         msg.rula_action_level >= self.config.thresholds.cobot_at_rula_action_level)
            return False  # many a second: the trend is read when the page asks
        if isinstance(msg, PoseFrame):
            return self._operator(msg.operator_id)
        if isinstance(msg, OperatorChanged):
            self.events.append((now, f"profile of {msg.operator_id} changed"
                                + (f" by {msg.by}" if msg.by else "") + " - in use from this work order on"))
            return True
        if isinstance(msg, LogRecord) and msg.level in ("warning", "error"):
            self.events.append((now, f"{msg.src}: {msg.text}"))
            return True
        return False

    def _fault(self, msg: Fault, now: float) -> bool:
        """Open faults by what they are about (a device by its id). The cobot's are not kept here:
        its status and the order's pause reason say them, and clear with them."""
        if msg.component in ("privacy", "robot"):
            if msg.component == "robot" and not msg.cleared:
                self.events.append((now, f"cobot: {msg.text}"))
                return True
            return False
        key = msg.component
        if msg.component == "device" and ":" in msg.text:
            key = f"device {msg.text.split(':', 1)[0]}"
        if msg.cleared:
            gone = self.faults.pop(key, None)
            if gone is not None:
                self.events.append((now, f"{key} is back"))
            return gone is not None
        if msg.severity == "info":
            return False
        new = key not in self.faults
        since = now if new else self.faults[key][0]
        self.faults[key] = (since, msg)
        if new:
            self.events.append((now, f"{key}: {msg.text}"))
        return new

    def _operator(self, operator_id: str) -> bool:
        changed = operator_id != self.operator_id
        self.operator_id = operator_id
        return changed

    @staticmethod
    def _recent(window: deque, now: float, high: bool) -> None:
        window.append((now, high))
        while window and window[0][0] < now - LOAD_WINDOW_S:
            window.popleft()

    # ---- what the page shows -------------------------------------------------------------------
    def _zone(self, zone_id: str | None) -> str:
        if not zone_id:
            return "?"
        try:
            z = self.config.zone(zone_id)
        except KeyError:
            return zone_id
        label = z.label_in(LANGUAGE, self.config.cell.language)
        return f"bin {label}" if z.kind == "bin" and label else (label or zone_id)

    def _profile(self):
        try:
            return self.config.operator(self.operator_id)
        except KeyError:
            return self.config.operators[0]

    def _step_title(self, step_id: str, task_id: str) -> str:
        try:
            s = step_for(self.config, self._profile(), task_id, step_id)
        except KeyError:
            return step_id
        return s.text(s.title, LANGUAGE, self.config.cell.language)

    def heard(self, now: float) -> bool:
        return any(now - seen <= SILENT_S for seen, _ in self.nodes.values())

    def operator_name(self) -> str:
        if self.operator_id is None:
            return "no operator seen yet"
        return self.names.get(self.operator_id, self.operator_id)

    def load_flag(self, now: float) -> str:
        """A gentle word when stress or the body's load has been high for a while, else ''."""
        words = []
        for what, window in (("stress", self._stress_recent), ("ergonomic load", self._rula_recent)):
            recent = [h for t, h in window if t >= now - LOAD_WINDOW_S]
            if len(recent) >= LOAD_MIN_SAMPLES and sum(recent) / len(recent) >= LOAD_SHARE:
                words.append(what)
        if not words:
            return ""
        return f"{' and '.join(words).capitalize()} high for most of the last {LOAD_WINDOW_S / 60:.0f} min - maybe drop by"

    def tile(self, now: float, health: bool) -> dict[str, Any]:
        """The floor view's tile: who, what, progress, who does what, help and faults first."""
        st = self.steps.front
        last = self.steps.last
        tile: dict[str, Any] = {
            "id": self.id, "name": self.config.cell.name, "site": self.config.cell.site,
            "heard": self.heard(now), "operator": self.operator_name(), "operator_id": self.operator_id or "",
            "task": "", "step": "", "step_no": "", "progress": 0.0, "units": "", "who": "",
            "cobot": "", "paused": "", "help": None, "faults": [], "load": "", "orders_done": self.orders_done,
            "version": self.version,
        }
        if st is not None:
            task = next((t for t in self.config.tasks if t.id == st.task_id), None)
            tile["task"] = (task.name.get(LANGUAGE) or task.name.get(self.config.cell.language)
                            or st.task_id) if task else st.task_id
            tile["step"] = self._step_title(st.step_id, st.task_id)
            tile["step_no"] = f"step {st.step_index + 1} of {st.step_count}"
            units_done = st.unit - 1 + (1 if st.order_done else 0)
            tile["units"] = f"unit {min(st.unit, st.units_total)} of {st.units_total}"
            tile["progress"] = round(min(1.0, (units_done + st.step_index / max(1, st.step_count))
                                         / max(1, st.units_total)), 3) if not st.order_done else 1.0
            tile["who"] = "cobot" if st.assignee == "cobot" else "operator"
            if st.order_done:
                tile["step"] = "work order done"
        cobot = self.steps.cobot
        if cobot is not None and cobot is not st:
            tile["cobot"] = self._step_title(cobot.step_id, cobot.task_id)
        if last is not None and last.paused:
            tile["paused"] = last.pause_reason or "paused"
        if self.help_since is not None:
            tile["help"] = {"since": self.help_since, "waiting_s": round(now - self.help_since),
                            "step": self._step_title(self.help_step, last.task_id) if last else "",
                            "coming": last.help_coming if last else ""}
        tile["faults"] = [{"component": c, "text": f.text, "since": since, "waiting_s": round(now - since)}
                          for c, (since, f) in sorted(self.faults.items())]
        r = self.robot
        if r is not None and (r.mode == "fault" or r.fault):
            tile["faults"].append({"component": "cobot", "text": r.fault or "fault", "since": now, "waiting_s": 0})
        if not self.heard(now):
            tile["faults"].insert(0, {"component": "bus", "text": "the cell is not heard on the bus",
                                      "since": now, "waiting_s": 0})
        if health:
            tile["load"] = self.load_flag(now)
        return tile

    def detail(self, now: float, health: bool) -> dict[str, Any]:
        """The cell view: the tile, recent events, allocation reasons, the nodes, and (coaches) trends."""
        d = self.tile(now, health)
        d["events"] = [{"t": t, "text": text} for t, text in reversed(self.events)]
        d["allocations"] = [{"t": t, "step": self._step_title(a.step_id, self.steps.last.task_id
                                                              if self.steps.last else ""),
                             "who": a.assignee, "policy": a.policy, "reason": a.reason, "unit": a.unit}
                            for t, a in reversed(self.allocations)]
        d["nodes"] = [{"name": n, "status": hb.status, "simulated": hb.simulated, "age_s": round(now - seen, 1)}
                      for n, (seen, hb) in sorted(self.nodes.items())]
        d["robot"] = ({"mode": self.robot.mode, "step": self.robot.step_id or "", "fault": self.robot.fault,
                       "simulated": self.robot.simulated} if self.robot else None)
        if health:
            d["stress"] = self.stress.series()
            d["rula"] = self.rula.series()
            s = self.stress_now
            d["stress_now"] = ({"index": round(s.index, 2), "confidence": round(s.confidence, 2),
                                "explanation": s.explanation} if s else None)
        return d
