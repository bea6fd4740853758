"""The cell's event log: SQLite in WAL mode with a versioned schema.

Every task event, step state, allocation, ergonomic score, stress estimate,
robot status change and fault is kept with its source timestamp and the
wall-clock time it was written. Pose frames and images are never stored:
we keep derived metrics, not pictures of people. Rows older than the
retention period are deleted by ``purge``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Iterator

import msgspec

from cell.messages import Message, PoseFrame

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    t REAL NOT NULL,            -- source timestamp (monotonic or virtual seconds)
    wall REAL NOT NULL,         -- unix time the row was written (retention runs on this)
    type TEXT NOT NULL,         -- message type, e.g. StepState
    topic TEXT NOT NULL,
    src TEXT NOT NULL,
    order_id TEXT,
    step_id TEXT,
    operator_id TEXT,
    payload TEXT NOT NULL       -- the message as JSON
);
CREATE INDEX IF NOT EXISTS events_type ON events(type, t);
CREATE INDEX IF NOT EXISTS events_order ON events(order_id, t);
CREATE INDEX IF NOT EXISTS events_operator ON events(operator_id, t);
CREATE INDEX IF NOT EXISTS events_wall ON events(wall);
"""

NOT_STORED = (PoseFrame,)  # frames of a person's body are not kept


class EventStore:
    def __init__(self, path: str | Path, *, retention_days: int = 90, clock=time.time):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention_days = retention_days
        self.clock = clock
        self.db = sqlite3.connect(str(self.path), timeout=10.0, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        with self.db:
            self.db.executescript(_SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} has schema version {row[0]}; this version of the cell "
                                   f"software reads up to {SCHEMA_VERSION}. Update the software.")

    @staticmethod
    def _row(msg: Message, wall: float) -> tuple:
        return (msg.t, wall, type(msg).__name__, msg.topic(), msg.src, getattr(msg, "order_id", None),
                getattr(msg, "step_id", None), getattr(msg, "operator_id", None),
                msgspec.json.encode(msg).decode())

    def append(self, msg: Message) -> None:
        self.append_many([msg])

    def append_many(self, msgs: Iterable[Message]) -> int:
        wall = self.clock()
        rows = [self._row(m, wall) for m in msgs if not isinstance(m, NOT_STORED)]
        if rows:
            with self.db:
                self.db.executemany(
                    "INSERT INTO events (t, wall, type, topic, src, order_id, step_id, operator_id, payload) "
                    "VALUES (?,?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    def count(self, type_name: str | None = None) -> int:
        if type_name is None:
            return self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM events WHERE type=?", (type_name,)).fetchone()[0]

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT type, COUNT(*) FROM events GROUP BY type").fetchall())

    def events(self, type_name: str | None = None, *, order_id: str | None = None,
               operator_id: str | None = None) -> Iterator[dict]:
        sql, args = "SELECT payload FROM events WHERE 1=1", []
        if type_name:
            sql, args = sql + " AND type=?", args + [type_name]
        if order_id:
            sql, args = sql + " AND order_id=?", args + [order_id]
        if operator_id:
            sql, args = sql + " AND operator_id=?", args + [operator_id]
        for (payload,) in self.db.execute(sql + " ORDER BY id", args):
            yield json.loads(payload)

    def purge(self) -> int:
        """Delete rows older than the retention period; return how many went."""
        cutoff = self.clock() - self.retention_days * 86400.0
        with self.db:
            cur = self.db.execute("DELETE FROM events WHERE wall < ?", (cutoff,))
        return cur.rowcount

    def close(self) -> None:
        self.db.close()
