"""The cell's event log: SQLite in WAL mode with a versioned schema.

Every task event, step state, allocation, ergonomic score, stress estimate,
robot status change and fault is kept with its source timestamp and the
wall-clock time it was written. Pose frames and images are never stored:
we keep derived metrics, not pictures of people. Rows older than the
retention period are deleted by ``purge``.

Every row names the operator who was at the cell when it was written
(``operator_id``): the message's own field where it has one, else the
store's ``operator_id`` (the cell has one operator at a time). Step states,
allocations, robot status and faults have no operator field, but together
they tell how a person worked, so they are the operator's data too; an
export or a delete by operator must not miss them (docs/privacy.md).
Deleted rows are overwritten (``secure_delete``), not just unlinked.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Iterator

import msgspec

from cell.messages import Message, PoseFrame, StepState

SCHEMA_VERSION = 2
# 1 -> 2: rows carry the operator at the cell even when the message has no operator field.

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


def _attribute_v1_rows(db: sqlite3.Connection) -> None:
    """1 -> 2: version 1 left ``operator_id`` empty for messages without that field.

    In a log that names one operator only (``cell simulate``, one person per
    bench), those rows are certainly theirs and get the id. In a log that
    names several, who was at the cell for each such row cannot be told for
    sure, so they stay empty rather than be guessed into the wrong person's
    export; ``cell data`` counts them and retention still deletes them.
    """
    ops = [o for (o,) in db.execute("SELECT DISTINCT operator_id FROM events WHERE operator_id IS NOT NULL")]
    if len(ops) == 1:
        db.execute("UPDATE events SET operator_id=? WHERE operator_id IS NULL", (ops[0],))


_MIGRATIONS = {1: _attribute_v1_rows}  # from version -> step to the next


class EventStore:
    """``operator_id``: the operator at the cell, given to rows whose message names nobody (None: left empty)."""

    def __init__(self, path: str | Path, *, retention_days: int = 90, clock=time.time,
                 operator_id: str | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention_days = retention_days
        self.clock = clock
        self.operator_id = operator_id
        self.db = sqlite3.connect(str(self.path), timeout=10.0, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA secure_delete=ON")  # deleted rows are zeroed in the file, not left in free pages
        self._migrate()

    def _migrate(self) -> None:
        with self.db:
            self.db.executescript(_SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:  # a new file
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                return
            version = int(row[0])
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} has schema version {row[0]}; this version of the cell "
                                   f"software reads up to {SCHEMA_VERSION}. Update the software.")
            for v in range(version, SCHEMA_VERSION):
                _MIGRATIONS[v](self.db)
            if version < SCHEMA_VERSION:
                self.db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))

    def _row(self, msg: Message, wall: float) -> tuple:
        return (msg.t, wall, type(msg).__name__, msg.topic(), msg.src, getattr(msg, "order_id", None),
                getattr(msg, "step_id", None), getattr(msg, "operator_id", None) or self.operator_id,
                msgspec.json.encode(msg).decode())

    def append(self, msg: Message) -> None:
        self.append_many([msg])

    def append_many(self, msgs: Iterable[Message]) -> int:
        wall = self.clock()
        kept = [m for m in msgs if not isinstance(m, NOT_STORED)]
        rows = [self._row(m, wall) for m in kept]
        seqs = [m.seq for m in kept if isinstance(m, StepState) and m.src == "engine"]
        if rows:
            with self.db:
                self.db.executemany(
                    "INSERT INTO events (t, wall, type, topic, src, order_id, step_id, operator_id, payload) "
                    "VALUES (?,?,?,?,?,?,?,?,?)", rows)
                if seqs:  # kept apart from the rows: a delete of the rows must not make them wanted again
                    self.db.execute("INSERT OR REPLACE INTO meta VALUES ('last_step_seq', ?)", (str(seqs[-1]),))
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

    # ---- data about people: retention, export, delete (cell data ...) ------------------
    def cutoff(self) -> float:
        """Unix time before which rows are past the retention period."""
        return self.clock() - self.retention_days * 86400.0

    def purge(self) -> int:
        """Delete rows older than the retention period; return how many went."""
        with self.db:
            cur = self.db.execute("DELETE FROM events WHERE wall < ?", (self.cutoff(),))
        return cur.rowcount

    def operators(self) -> dict[str, int]:
        """Operator id -> rows about them (rows that name nobody are counted by ``unattributed``)."""
        return dict(self.db.execute("SELECT operator_id, COUNT(*) FROM events WHERE operator_id IS NOT NULL "
                                    "GROUP BY operator_id ORDER BY operator_id").fetchall())

    def unattributed(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM events WHERE operator_id IS NULL").fetchone()[0]

    def last_step_seq(self) -> int | None:
        """The ``seq`` of the last engine StepState written to this log (None: never one).

        Kept in ``meta``, not read from the rows: after ``cell data delete`` the log must not
        ask the engine for the deleted states again (logs older than this find it in the rows)."""
        row = self.db.execute("SELECT value FROM meta WHERE key='last_step_seq'").fetchone()
        if row is not None:
            return int(row[0])
        row = self.db.execute("SELECT json_extract(payload, '$.seq') FROM events WHERE type='StepState' "
                              "AND src='engine' ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def last_operator(self) -> str | None:
        """Who was at the cell when the newest row naming someone was written."""
        row = self.db.execute("SELECT operator_id FROM events WHERE operator_id IS NOT NULL "
                              "ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def rows(self, operator_id: str) -> Iterator[dict]:
        """Every row about one operator, whole: the columns and the message (for an export)."""
        cur = self.db.execute("SELECT id, t, wall, type, topic, src, order_id, step_id, operator_id, payload "
                              "FROM events WHERE operator_id=? ORDER BY id", (operator_id,))
        cols = [c[0] for c in cur.description]
        for r in cur:
            row = dict(zip(cols, r))
            row["payload"] = json.loads(row["payload"])
            yield row

    def delete_operator(self, operator_id: str) -> int:
        """Delete every row about one operator; return how many went. ``vacuum`` then shrinks the file."""
        with self.db:
            cur = self.db.execute("DELETE FROM events WHERE operator_id=?", (operator_id,))
        return cur.rowcount

    def vacuum(self) -> None:
        """Rebuild the file and empty the write-ahead log, so no copy of deleted rows is left on disk."""
        self.db.execute("VACUUM")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.db.close()


class Gaps:
    """Which of the engine's step states the event log misses, from their ``seq`` (pure: no sockets).

    The engine numbers its step states across restarts and says in every heartbeat the last one
    it sent. A state the log did not get (the store was down, restarting, or not subscribed yet)
    shows as a gap; the store then asks the engine for its backlog (``EngineCommand backlog``).
    What the engine no longer keeps is given up: counted as lost, or, in a log that had no step
    state before, as published before this log began (not a loss of this log). At most ``limit``
    states are waited for at once (what the engine can keep); older ones in a wider gap are given
    up at once (a new log beside an engine that has run for a year does not hold millions).
    """

    def __init__(self, last_seq: int | None, limit: int = 20_000):
        self.last = last_seq              # the newest seq the log has (or holds to write)
        self.limit = limit
        self.missing: set[int] = set()
        self.beyond: list[tuple[int, int]] = []  # ranges given up without asking (wider than ``limit``)
        self.fresh = last_seq is None      # an empty log: what came before it is not missing from it
        self.restarts = 0                  # the engine's count started over (a fresh engine state)

    def _open(self, upto: int) -> None:
        """Everything after ``last`` up to ``upto`` not had is missing."""
        start = 1 if self.last is None else self.last + 1
        if upto - start + 1 > self.limit:
            self.beyond.append((start, upto - self.limit))
            start = upto - self.limit + 1
        self.missing.update(range(start, upto + 1))

    def engine_at(self, published: int) -> None:
        """The engine says (heartbeat) the last state it sent is ``published``."""
        if self.last is not None and published < self.last:
            self._started_over()
        if published > (self.last or 0):
            self._open(published)
            self.last = published

    def heard(self, seq: int) -> None:
        """A step state reached the log (from the bus or the engine's backlog)."""
        if seq in self.missing:
            self.missing.discard(seq)
            return
        if self.last is not None and seq <= self.last:
            self._started_over()
        self._open(seq - 1)
        self.last = seq

    def _started_over(self) -> None:
        self.restarts += 1
        self.missing.clear()
        self.last = 0

    def after(self) -> int:
        """Ask the engine for what it published after this seq."""
        return min(self.missing) - 1

    def give_up(self, latest: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """After a backlog (everything the engine keeps after ``after()``, already ``heard``): the
        states still missing up to ``latest``, the engine's last state sent, are not kept any more.
        Returns them as ranges (first, last): (lost, published before this log began). Later ones
        stay missing (not sent yet when the engine answered)."""
        gone = sorted(s for s in self.missing if s <= latest)
        self.missing.difference_update(gone)
        ranges = _merged(self.beyond + [(q, q) for q in gone])
        self.beyond = []
        fresh, self.fresh = self.fresh, False
        return ([], ranges) if fresh else (ranges, [])


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ranges (first, last) sorted, adjacent ones joined: [(3, 7), (9, 9)] for [(5, 7), (3, 4), (9, 9)]."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and out[-1][1] == a - 1:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
