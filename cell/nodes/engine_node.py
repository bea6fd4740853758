"""The engine node: the task engine on the bus, its state saved after every change.

Subscribes to what happens at the bench (task events, robot status,
ergonomic scores, stress, devices, faults, heartbeats), runs the engine core
and publishes its step states and allocations. Robot commands go to the
robot bridge over DEALER/ROUTER with a timeout. Watchdogs on the camera and
robot heartbeats turn silence into faults: a lost camera switches to
confirmation by hand (button, pedal or key), a lost cobot gets no new work. A snapshot request gets the current state.
"""

from __future__ import annotations

import os
import time
from collections import deque

import msgspec
from pathlib import Path

from cell.allocation import make_allocator
from cell.bus import BusEndpoints, CommandClient, CommandTimeout, Watchdog
from cell.config import CellConfig
from cell.config_loader import ConfigError, reload_operator
from cell.engine import EngineState, TaskEngine, dump_state, load_state
from cell.messages import (
    decode, encode, Backlog, EngineCommand, Fault, Heartbeat, Message, RobotCommand, RobotReply, RobotStatus,
    StepState,
)
from cell.runtime import Node

NO_HEARTBEAT = "no live engine heartbeat"  # the robot bridge's refusal before it has heard us
CAMERA_NODES = ("sim-operator", "vision")


class Journal:
    """The engine's recent output as it went out, for the event log to fill a gap (``backlog``).

    The last ``size`` messages in memory. What the event log has not confirmed yet (``logged``,
    from the store's heartbeat) is saved with the engine state too, at most ``keep`` messages, so
    a store and an engine down one after the other lose nothing either."""

    def __init__(self, size: int = 20_000, keep: int = 2_000):
        self.entries: deque[tuple[int | None, bytes]] = deque(maxlen=size)  # (StepState seq or None, payload)
        self.keep = keep
        self.logged: int | None = None  # the event log has every state up to this seq (None: no log heard)

    def load(self, saved: list[bytes]) -> None:
        """Take back what a previous run saved (``unlogged``)."""
        for payload in saved:
            self.add(decode(payload), payload)
        if saved and self.oldest():
            self.logged = self.oldest() - 1

    def unlogged(self) -> list[bytes]:
        """What to save with the state: after the last state the event log confirmed."""
        if self.logged is None:
            return []
        return self.after(self.logged)[-self.keep:]

    def add(self, msg: Message, payload: bytes) -> None:
        self.entries.append((msg.seq if isinstance(msg, StepState) else None, payload))

    def oldest(self) -> int:
        return next((seq for seq, _ in self.entries if seq is not None), 0)

    def after(self, after_seq: int) -> list[bytes]:
        """Everything after the StepState ``after_seq``; all that is kept when that one is not."""
        out: list[bytes] = []
        for seq, payload in reversed(self.entries):
            if seq == after_seq:
                break
            out.append(payload)
        out.reverse()
        return out


class EngineNode(Node):
    STORE_WAIT_S = 10.0  # a fresh engine waits this long for the event log before starting orders
    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options):
        super().__init__("engine", endpoints,
                         topics=["task.event", "robot.status", "ergo.", "stress.estimate",
                                 "device.event", "fault.", "heartbeat.", "engine.command"],
                         command_endpoint=BusEndpoints.bind_form(endpoints.engine),
                         heartbeat_s=config.bus.heartbeat_s)
        self.config = config
        self.options = options
        profile = config.operator(options.operator_id)
        policy = profile.policy or config.allocation.policy
        self.state_path = Path(options.state_dir) / f"engine-{config.cell.id}.json"
        self.state_note = ""
        state = self._load_state()
        self.resumed = state is not None
        self.core = TaskEngine(config, profile, make_allocator(policy, config.allocation, config.thresholds),
                               state=state)
        self.robot = CommandClient(self.ctx, endpoints.command, "engine") if config.robot else None
        self.camera_watch = Watchdog(config.thresholds.camera_lost_s)
        self.robot_watch = Watchdog(config.thresholds.robot_lost_s)
        self._saved = b""
        self._last_robot: RobotStatus | None = None
        self._orders_pending_since: float | None = None
        self._camera_silent = False
        self._unsaved = ""  # why the state cannot be saved now (a full disk), or ""
        self._robot_beat: tuple[int, int] | None = None  # the bridge's (pid, heartbeat seq): a new one knows no run
        self.journal = Journal()
        self.journal.load(self.core.state.unlogged)
        # in every heartbeat: the last step state that went out, so the event log sees what it missed
        unsent = [m.seq for m in map(decode, self.core.state.outbox) if isinstance(m, StepState)]
        self.counters["step_seq"] = min(unsent) - 1 if unsent else self.core.state.seq

    # ---- persistence -------------------------------------------------------------------
    def _load_state(self) -> EngineState | None:
        try:
            return load_state(self.state_path.read_bytes())
        except FileNotFoundError:
            return None
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            # written by another version, or damaged: keep it for a person to look at, start afresh
            aside = self.state_path.with_name(f"{self.state_path.name}.unreadable-{int(time.time())}")
            os.replace(self.state_path, aside)
            self.state_note = (f"engine state {self.state_path} could not be read ({exc}); kept as {aside}; "
                               "the work orders start again from the cell file")
            return None

    def _save(self) -> bool:
        """Write the state (atomically); False when it cannot be written (a full disk): said and paused."""
        self.core.state.unlogged = self.journal.unlogged()
        data = dump_state(self.core.state)
        if data == self._saved:
            return True
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.state_path)
        except OSError as exc:
            self._cannot_save(exc)
            return False
        self._saved = data
        if self._unsaved:
            self._saved_again()
        return True

    def _cannot_save(self, exc: OSError) -> None:
        """The state cannot be written: tell the bench and the coach, pause the order, go on in memory.

        Until it can be written again the engine's messages go out unsaved (a crash meanwhile loses
        them from its state): telling the operator why the cell stands still comes first."""
        if self._unsaved:
            return
        now = self.clock()
        self._unsaved = (f"cannot save the engine state to {self.state_path.parent} ({exc.strerror or exc}): "
                         "free disk space on this PC; the order goes on by itself once it can be saved")
        self.status = "state not saved: " + (exc.strerror or str(exc))
        self.publish(Fault(src=self.name, t=now, component="disk", severity="pause", text=self._unsaved))
        self.log("error", self._unsaved)
        self.core.state.outbox.extend(encode(m) for m in self.core.pause(f"disk: {self._unsaved}", now))

    def _saved_again(self) -> None:
        now = self.clock()
        reason, self._unsaved = f"disk: {self._unsaved}", ""
        self.status = "ok"
        self.publish(Fault(src=self.name, t=now, component="disk", severity="pause", text="back", cleared=True))
        self.log("info", "the engine state is saved again; the order goes on")
        self.core.state.outbox.extend(encode(m) for m in self.core.resume(reason, now))

    # ---- output --------------------------------------------------------------------------
    def _emit(self, msgs: list[Message], now: float) -> None:
        """Send the engine's output at least once: saved in the outbox with the state, then sent.

        A crash between the save and the end of sending re-sends the outbox on restart, so
        a consumer may see a message twice (same ``seq`` / ``cmd_id``) but never misses one.
        """
        if msgs:
            self.core.state.outbox.extend(encode(m) for m in msgs)
        self._save()
        self._send_outbox(now)

    def _send_outbox(self, now: float) -> None:
        while self.core.state.outbox:
            msg = decode(self.core.state.outbox[0])
            follow = self._send_robot(msg, now) if isinstance(msg, RobotCommand) else []
            if not isinstance(msg, RobotCommand):
                self.publish(msg)
            self.journal.add(msg, self.core.state.outbox[0])
            if isinstance(msg, StepState):
                self.counters["step_seq"] = msg.seq
            self.core.state.outbox.pop(0)
            if follow:
                self.core.state.outbox.extend(encode(m) for m in follow)
            self._save()

    def _send_robot(self, cmd: RobotCommand, now: float) -> list[Message]:
        self.publish(cmd)  # on the bus too, so the log has every command
        if self.robot is None:
            return []
        try:
            reply = self.robot.request(cmd, self.config.robot.command_timeout_s)  # type: ignore[union-attr]
            for _ in range(4):  # a bridge that has not heard our heartbeat yet (just started): let it arrive
                if not (isinstance(reply, RobotReply) and not reply.ok and reply.error.startswith(NO_HEARTBEAT)):
                    break
                self.heartbeat()  # what it waits for: this loop holds up the node's own heartbeat
                time.sleep(self.config.bus.heartbeat_s)
                reply = self.robot.request(cmd, self.config.robot.command_timeout_s)  # type: ignore[union-attr]
        except CommandTimeout:
            text = f"no answer from the cobot bridge to '{cmd.action}' within {self.config.robot.command_timeout_s:g} s"  # type: ignore[union-attr]
            return self._robot_fault(text, now)
        if isinstance(reply, RobotReply) and not reply.ok:
            return self._robot_fault(f"the cobot refused '{cmd.action}': {reply.error}", now)
        return []

    def _robot_fault(self, text: str, now: float) -> list[Message]:
        fault = Fault(src=self.name, t=now, component="robot", severity="pause", text=text)
        self.publish(fault)
        self.log("warning", text)
        return self.core.handle(fault, now)

    # ---- hooks ---------------------------------------------------------------------------
    def on_start(self, now: float) -> None:
        if self.state_note:
            self.log("error", self.state_note)
        self.camera_watch.expect("camera", now)
        if self.config.robot:
            self.robot_watch.expect("robot", now)
        if self.resumed:
            o = self.core.state.current
            self.log("info", f"engine resumed from {self.state_path}: "
                     + (f"order {o.order_id}, unit {o.unit}, step {o.step_index + 1}" if o else "no open order"))
            self._send_outbox(now)  # what the last run decided but may not have sent
            self._emit(self.core.resume_after_restart(now), now)
        elif self.options.start_orders and self.config.orders:
            self._orders_pending_since = now  # started once the event log listens (on_message/on_tick)

    def _start_orders(self, now: float, why: str) -> None:
        self._orders_pending_since = None
        self.log("info", f"starting the work orders of the cell ({why})")
        out: list[Message] = []
        for spec in self.config.orders:
            out.extend(self.core.start_order(spec.task, spec.quantity, now))
        self._emit(out, now)

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, Heartbeat):
            if msg.src == "store" and self._orders_pending_since is not None:
                self._start_orders(now, "the event log is listening")
            if msg.src == "store" and "logged_seq" in msg.counters:
                self.journal.logged = msg.counters["logged_seq"]  # saved with the next change: no need to now
            if msg.src in CAMERA_NODES:
                self.camera_watch.feed("camera", now)
                self._clear_if_lost("camera", now)
            elif msg.src == "robot":
                self.robot_watch.feed("robot", now)
                last = self._robot_beat
                restarted = last is not None and (msg.pid != last[0] or msg.seq < last[1])  # a new bridge
                self._robot_beat = (msg.pid, msg.seq)
                o = self.core.state.current
                if restarted and o is not None and o.cobot is not None and o.cobot.run_id:
                    # a new bridge knows nothing of the program the old one started: never wait for it
                    step = self.core.task(o.task_id).steps[o.cobot.index].id
                    self._emit(self._robot_fault(f"the cobot bridge restarted during {step}; it is not known "
                                                 "whether the program finished", now), now)
            return
        if isinstance(msg, RobotStatus):
            self._last_robot = msg
        if isinstance(msg, Fault) and (msg.src == self.name or msg.component == "engine"):
            return  # our own faults, and the robot bridge noticing we were gone
        if isinstance(msg, EngineCommand):
            self._command(msg, now)
            return
        self._emit(self.core.handle(msg, now), now)

    def _clear_if_lost(self, what: str, now: float) -> None:
        """A silent camera node is heard again: undo what its silence did (a camera the node itself
        reports lost stays lost until the node says it is back)."""
        if self._camera_silent or any(r.startswith(f"{what}:") for r in self.core.state.pause_reasons):
            self._camera_silent = False
            fault = Fault(src=self.name, t=now, component=what, severity="pause", text="back", cleared=True)
            self.publish(fault)
            self.log("info", f"{what} is back")
            self._emit(self.core.handle(fault, now), now)

    def on_tick(self, now: float) -> None:
        if self._unsaved:
            self._emit([], now)  # try again: the order goes on once the state can be saved
        if self._orders_pending_since is not None and now - self._orders_pending_since > self.STORE_WAIT_S:
            self.log("warning", f"no event log (store node) heard within {self.STORE_WAIT_S:g} s; "
                     "starting the work orders without it")
            self._start_orders(now, "no event log")
        for _ in self.camera_watch.expired(now):
            text = f"no camera frames for {self.config.thresholds.camera_lost_s:g} s"
            fault = Fault(src=self.name, t=now, component="camera", severity="pause", text=text)
            self._camera_silent = True
            self.publish(fault)
            self.log("warning", f"camera lost: {text}; steps are confirmed by hand until it is back")
            self._emit(self.core.handle(fault, now), now)
        for _ in self.robot_watch.expired(now):
            self._emit(self._robot_fault(f"no heartbeat from the cobot bridge for "
                                         f"{self.config.thresholds.robot_lost_s:g} s", now), now)
        self._emit(self.core.tick(now), now)

    def on_command(self, msg: Message, now: float) -> Message | None:
        if isinstance(msg, EngineCommand) and msg.action == "backlog":
            return Backlog(src=self.name, t=now, after_seq=msg.after_seq, oldest_seq=self.journal.oldest(),
                           latest_seq=self.counters["step_seq"], messages=self.journal.after(msg.after_seq))
        if isinstance(msg, EngineCommand) and msg.action != "snapshot":
            self._command(msg, now)
        return self.core.snapshot(now, self._last_robot)

    def _command(self, cmd: EngineCommand, now: float) -> None:
        if cmd.action == "reload_operator":
            self._reload_operator(cmd, now)
        else:
            self._emit(self.core.handle(cmd, now), now)

    def _reload_operator(self, cmd: EngineCommand, now: float) -> None:
        """The operator's profile changed in the cell file (an adaptation applied): use it from the
        next work order on. The file is validated in full first; a bad one changes nothing."""
        who = self.core.operator.id
        if cmd.operator_id not in (None, who):
            return  # another cell's operator
        try:
            config, profile = reload_operator(self.config, who)
        except (ConfigError, KeyError) as exc:
            self.log("error", f"the changed profile of {who} was not taken: {exc}")
            return
        out = self.core.set_operator(config, profile, now, by=cmd.by)
        self.config = config
        when = "now" if out else "from the next work order"
        self.log("info", f"profile of {who} changed{f' by {cmd.by}' if cmd.by else ''}: in use {when}")
        self._emit(out, now)

    def on_stop(self, now: float) -> None:
        self._save()
        if self.robot is not None:
            self.robot.close()

