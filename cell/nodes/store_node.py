"""The store node: writes everything that happens on the bus to the SQLite event log.

Pose frames are not stored (no pictures of people, not even as landmarks);
heartbeats are not stored either (they are liveness, not events). Writes
are batched; rows older than the retention period are purged hourly.
"""

from __future__ import annotations

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
        self.store = EventStore(config.resolve(config.store.path), retention_days=config.store.retention_days)
        self._pending: list[Message] = []
        self._next_flush = 0.0
        self._next_purge = 0.0

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, (PoseFrame, Heartbeat)):
            return
        self._pending.append(msg)

    def on_tick(self, now: float) -> None:
        if now >= self._next_flush:
            self._flush()
            self._next_flush = now + self.FLUSH_S
        if now >= self._next_purge:
            gone = self.store.purge()
            if gone:
                self.log("info", f"deleted {gone} events older than {self.store.retention_days} days")
            self._next_purge = now + self.PURGE_S

    def _flush(self) -> None:
        if self._pending:
            self.counters["stored"] = self.counters.get("stored", 0) + self.store.append_many(self._pending)
            self._pending.clear()

    def on_stop(self, now: float) -> None:
        self._flush()
        self.store.close()
