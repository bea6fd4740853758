"""The store node: writes everything that happens on the bus to the SQLite event log.

Pose frames are not stored (no pictures of people, not even as landmarks);
heartbeats are not stored either (they are liveness, not events). Writes
are batched. Every row is attributed to the operator the cell runs for
(``--operator``, else the first profile), so ``cell data export/delete``
finds step states and robot status too, not only the messages that name a
person. Rows older than the retention period are purged when the node
starts (a cell that was off for a month does not keep old data until the
first hour is up) and every hour after.
"""

from __future__ import annotations

import sqlite3
import time

from cell.bus import BusEndpoints
from cell.config import CellConfig
from cell.messages import Fault, Heartbeat, Message, PoseFrame
from cell.runtime import Node
from cell.store import EventStore


class StoreNode(Node):
    FLUSH_S = 0.2
    MAX_PENDING = 200_000  # rows held in memory while the log cannot be written (a full disk), at most
    PURGE_S = 3600.0

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

    def on_start(self, now: float) -> None:
        # not the operator's id: node logs (state-dir/logs) are not under retention or `cell data delete`
        self.log("info", f"event log {self.store.path}, rows attributed to the operator at the cell, "
                 f"kept {self.store.retention_days} days")
        self._purge(now, always_say=True)

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, (PoseFrame, Heartbeat)):
            return
        self._pending.append(msg)

    def on_tick(self, now: float) -> None:
        if now >= self._next_flush:
            self._flush()
            self._next_flush = now + self.FLUSH_S
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
