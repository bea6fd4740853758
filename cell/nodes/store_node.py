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

import time

from cell.bus import BusEndpoints
from cell.config import CellConfig
from cell.messages import Heartbeat, Message, PoseFrame
from cell.runtime import Node
from cell.store import EventStore


class StoreNode(Node):
    FLUSH_S = 0.2
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
        if self._pending:
            self.counters["stored"] = self.counters.get("stored", 0) + self.store.append_many(self._pending)
            self._pending.clear()

    def on_stop(self, now: float) -> None:
        self._flush()
        self.store.close()
