"""The store node: writes everything that happens on the bus to the SQLite event log.

Pose frames are not stored (no pictures of people, not even as landmarks);
heartbeats are not stored either (they are liveness, not events). Writes
are batched. Every row is attributed to the operator the cell runs for
(``--operator``, else the first profile), so ``cell data export/delete``
finds step states and robot status too, not only the messages that name a
person. Rows older than the retention period are purged when the node
starts (a cell that was off for a month does not keep old data until the
first hour is up) and every hour after.

Nothing the engine decides is lost from the log while the store is down,
restarting or not yet subscribed: the engine numbers its step states
(``seq``) and says in each heartbeat the last one it sent. A gap makes
the store ask the engine for its backlog (``EngineCommand backlog``), what
it published after the last state the log has (step states, allocations,
robot commands, profile changes), and write it before what it heard
next. Duplicates (an engine re-sending after a restart, a state both
heard and in the backlog) are written once. What the engine no longer
keeps is counted (``lost``) and said.
"""

from __future__ import annotations

import sqlite3
import time
from collections import OrderedDict

from cell.bus import BusEndpoints, backlog_request
from cell.config import CellConfig
from cell.messages import (
    Allocation, Fault, Heartbeat, MalformedMessage, Message, OperatorChanged, PoseFrame, RobotCommand, StepState,
    decode, encode,
)
from cell.runtime import Node
from cell.store import EventStore, Gaps

ENGINE = "engine"
ENGINE_OUTPUT = (StepState, Allocation, RobotCommand, OperatorChanged)  # what the engine's backlog holds


class StoreNode(Node):
    FLUSH_S = 0.2
    MAX_PENDING = 200_000  # rows held in memory while the log cannot be written (a full disk), at most
    PURGE_S = 3600.0
    ASK_EVERY_S = 1.0      # the engine's backlog, at most this often while a gap is open
    REMEMBER = 50_000      # engine messages remembered to write each once

    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options):
        super().__init__("store", endpoints, topics=[""], heartbeat_s=config.bus.heartbeat_s)
        try:
            operator = config.operator(options.operator_id).id
        except KeyError:  # said by `cell run` as a node that cannot start, not as a crash loop
            raise ValueError(f"no operator {options.operator_id!r} in the cell file; operators: "
                             + ", ".join(o.id for o in config.operators)) from None
        self.store = EventStore(config.resolve(config.store.path), retention_days=config.store.retention_days,
                                operator_id=operator)
        self._pending: list[Message] = []
        self._blocked = ""  # why the event log cannot be written now, or ""
        self._next_flush = 0.0
        self._next_purge = 0.0
        self.gaps = Gaps(self.store.last_step_seq())
        self._written_seq = self.gaps.last or 0  # the last engine state written to the file
        self._written: OrderedDict[bytes, None] = OrderedDict()  # engine messages already held or written
        self._next_ask = 0.0
        self.counters.update(lost=0, duplicates=0, recovered=0, logged_seq=self._written_seq)

    def on_start(self, now: float) -> None:
        # not the operator's id: node logs (state-dir/logs) are not under retention or `cell data delete`
        self.log("info", f"event log {self.store.path}, rows attributed to the operator at the cell, "
                 f"kept {self.store.retention_days} days")
        self._purge(now, always_say=True)

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, Heartbeat):
            if msg.src == ENGINE and "step_seq" in msg.counters:
                self.gaps.engine_at(msg.counters["step_seq"])
                self._catch_up(now)
            return
        if isinstance(msg, PoseFrame):
            return
        if msg.src == ENGINE and isinstance(msg, ENGINE_OUTPUT):
            if not self._first_time(msg):
                return
            if isinstance(msg, StepState):
                open_before = len(self.gaps.missing)
                self.gaps.heard(msg.seq)
                if len(self.gaps.missing) > open_before:  # a gap before it: what it missed is written first
                    self._catch_up(now, before=msg)
        self._pending.append(msg)

    def _first_time(self, msg: Message) -> bool:
        """False for an engine message already held or written (re-sent, or heard and in a backlog)."""
        key = encode(msg)
        if key in self._written:
            self.counters["duplicates"] += 1
            return False
        self._written[key] = None
        if len(self._written) > self.REMEMBER:
            self._written.popitem(last=False)
        return True

    def _catch_up(self, now: float, before: StepState | None = None) -> None:
        """Ask the engine for what the log misses and hold it to write; give up on what it no longer has.

        ``before``: a state just heard after a gap; what the backlog has from it on comes over the bus."""
        if not self.gaps.missing or (now < self._next_ask and before is None):
            return
        self._next_ask = now + self.ASK_EVERY_S
        after = self.gaps.after()
        backlog = backlog_request(self.ctx, self.endpoints, after, 1.0, src=self.name)
        if backlog is None:
            return  # the engine is busy or gone: asked again at its next heartbeat
        self.gaps.engine_at(backlog.latest_seq if before is None else min(backlog.latest_seq, before.seq))
        got = 0
        stop = encode(before) if before is not None else None
        for payload in backlog.messages:
            if payload == stop:
                break
            try:
                msg = decode(payload)
            except MalformedMessage as exc:
                self.log("warning", f"a message in the engine's backlog could not be read ({exc}); skipped")
                continue
            if not self._first_time(msg):
                continue
            if isinstance(msg, StepState):
                self.gaps.heard(msg.seq)
                got += 1
            self._pending.append(msg)
        self.counters["recovered"] += got
        lost, earlier = self.gaps.give_up(backlog.latest_seq if before is None else before.seq)
        if got:
            self.log("info", f"event log: {got} step states it missed (after #{after}) written from the "
                     "engine's backlog")
        if lost:
            self.counters["lost"] += _count(lost)
            self.log("warning", f"event log: step states {_ranges(lost)} are missing and the engine no longer "
                     f"keeps them (it keeps #{backlog.oldest_seq} on)")
        if earlier:
            self.log("info", f"event log: step states {_ranges(earlier)} were sent before this log began")

    def on_tick(self, now: float) -> None:
        if now >= self._next_flush:
            self._flush()
            self._next_flush = now + self.FLUSH_S
            # in the heartbeat: every engine state up to this one is in the file (the engine may forget them)
            self.counters["logged_seq"] = (min(self._written_seq, min(self.gaps.missing) - 1) if self.gaps.missing
                                           else self._written_seq)
        if now >= self._next_purge:
            self._purge(now)

    def _purge(self, now: float, always_say: bool = False) -> None:
        gone = self.store.purge()
        self.counters["purged"] = self.counters.get("purged", 0) + gone
        if gone or always_say:
            before = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.store.cutoff()))
            self.log("info", f"retention: deleted {gone} rows written before {before} "
                     f"({self.store.retention_days} days)")
        self._next_purge = now + self.PURGE_S

    def _flush(self) -> None:
        if not self._pending:
            return
        try:
            stored = self.store.append_many(self._pending)
        except (sqlite3.OperationalError, OSError) as exc:  # a full disk, a locked or read-only file
            self._cannot_write(exc)
            return
        self._written_seq = next((m.seq for m in reversed(self._pending) if isinstance(m, StepState)
                                  and m.src == ENGINE), self._written_seq)
        self.counters["stored"] = self.counters.get("stored", 0) + stored
        self._pending.clear()
        if self._blocked:
            self._blocked = ""
            self.status = "ok"
            self.publish(Fault(src=self.name, t=self.clock(), component="store", severity="warning",
                               text=f"back: the rows held meanwhile are written ({stored})", cleared=True))
            self.log("info", f"event log {self.store.path} written again ({stored} rows held meanwhile)")

    def _cannot_write(self, exc: Exception) -> None:
        """Hold the rows in memory (bounded) and say so once; they are written when the log can be."""
        if len(self._pending) > self.MAX_PENDING:
            lost = len(self._pending) - self.MAX_PENDING
            del self._pending[:lost]  # the oldest go first; counted and said
            self.counters["lost"] = self.counters.get("lost", 0) + lost
            self.log("error", f"event log still not writable: the oldest {lost} rows held in memory were dropped")
        if self._blocked:
            return
        self._blocked = str(exc)
        self.status = f"event log not writable: {exc}"
        text = (f"the event log {self.store.path} cannot be written ({exc}): rows are held in memory "
                f"(up to {self.MAX_PENDING}) until it can; free disk space on this PC")
        self.publish(Fault(src=self.name, t=self.clock(), component="store", severity="warning", text=text))
        self.log("error", text)

    def on_stop(self, now: float) -> None:
        self._flush()
        self.store.close()



def _ranges(ranges: list[tuple[int, int]]) -> str:
    """'#3-#7, #9' for [(3, 7), (9, 9)]."""
    return ", ".join(f"#{a}" if a == b else f"#{a}-#{b}" for a, b in ranges)


def _count(ranges: list[tuple[int, int]]) -> int:
    return sum(b - a + 1 for a, b in ranges)
