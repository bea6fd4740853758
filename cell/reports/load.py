"""Reading the event log for a report: which rows, whose, which days.

The only part of the reports that touches a file. It returns plain
:class:`Row` objects (the payload already parsed) that the pure summaries in
:mod:`cell.reports.summary` work on.

Who a row belongs to: the ``operator_id`` column (the store writes the
operator at the cell into every row). Logs written before that (schema 1)
left it empty for messages without an operator field (step states,
allocations, task events, robot status); such a row is given the operator
only when the other rows of its log and day name exactly one operator. On a
day with several, it stays unattributed and is left out of every operator's
report, as the store leaves it out of an export: no guessing about people.

Time: ``t`` is the source timestamp (monotonic or virtual seconds) and
``wall`` the unix time the row was written. The day of a row is the local
date of ``wall``; its time in the shift (``s``) is ``t`` minus the first
``t`` of that operator's day, so rows written in batches still fall in the
right place.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime, timedelta
from pathlib import Path
from typing import Iterable

REPORT_TYPES = ("StepState", "Allocation", "TaskEvent", "ErgonomicScore", "ExposureSummary", "FatigueState",
                "StressEstimate", "RobotStatus")


@dataclass(slots=True)
class Row:
    id: int
    t: float
    wall: float
    type: str
    order_id: str | None
    step_id: str | None
    operator_id: str | None
    p: dict                     # the message (payload JSON)
    log: int = 0                # which of the logs it came from
    day: date | None = None
    s: float = 0.0              # seconds since the start of this operator's shift that day


@dataclass
class LogSelection:
    """The rows of a report and what they cover."""

    rows: list[Row]
    days: list[date]
    logs: list[str]
    shift_start: dict[tuple[str | None, date], float] = field(default_factory=dict)  # (operator, day) -> first wall


class LogError(RuntimeError):
    """A log that is missing or not an event log."""


def _connect(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise LogError(f"{path}: no such event log")
    db = sqlite3.connect(str(path), timeout=10.0)
    db.execute("PRAGMA query_only = ON")  # a report never changes the log
    try:
        db.execute("SELECT t, wall, type, order_id, step_id, operator_id, payload FROM events LIMIT 1")
    except sqlite3.DatabaseError as exc:
        db.close()
        raise LogError(f"{path}: not a cell event log ({exc})") from None
    return db


def _day_bounds(since: date | None, until: date | None) -> tuple[float, float]:
    lo = datetime.combine(since, dtime()).timestamp() if since else float("-inf")
    hi = datetime.combine(until + timedelta(days=1), dtime()).timestamp() if until else float("inf")
    return lo, hi


def days_in_logs(paths: Iterable[Path], operator_id: str | None = None) -> list[date]:
    """The local dates that have rows (of this operator, when given), oldest first."""
    days: set[date] = set()
    for path in paths:
        db = _connect(Path(path))
        try:
            sql = "SELECT DISTINCT date(wall, 'unixepoch', 'localtime') FROM events"
            args: list = []
            if operator_id:
                sql += " WHERE operator_id = ?"
                args.append(operator_id)
            days.update(date.fromisoformat(d) for (d,) in db.execute(sql, args) if d)
        finally:
            db.close()
    return sorted(days)


def choose_days(available: list[date], *, days: int | None = None, since: date | None = None,
                until: date | None = None) -> tuple[date | None, date | None]:
    """The period: the last ``days`` days with data, or ``since``..``until`` (inclusive), or everything."""
    if since or until:
        return since, until
    if days and available:
        chosen = available[-days:]
        return chosen[0], chosen[-1]
    return (available[0], available[-1]) if available else (None, None)


def operators_in_logs(paths: Iterable[Path]) -> list[str]:
    ids: set[str] = set()
    for path in paths:
        db = _connect(Path(path))
        try:
            ids.update(o for (o,) in db.execute("SELECT DISTINCT operator_id FROM events WHERE operator_id IS NOT NULL"))
        finally:
            db.close()
    return sorted(ids)


def _local_day(wall: float, cache: dict[int, date]) -> date:
    key = int(wall // 60)
    d = cache.get(key)
    if d is None:
        d = cache[key] = datetime.fromtimestamp(key * 60).date()
    return d


def _attribute(rows: list[Row]) -> None:
    """Give rows without an operator the operator of their log and day, when that day names exactly one."""
    named: dict[tuple[int, date], set[str]] = {}
    for r in rows:
        if r.operator_id:
            named.setdefault((r.log, r.day), set()).add(r.operator_id)  # type: ignore[arg-type]
    for r in rows:
        if not r.operator_id:
            ops = named.get((r.log, r.day))  # type: ignore[arg-type]
            if ops and len(ops) == 1:
                r.operator_id = next(iter(ops))


def read_rows(paths: Iterable[Path], *, operator_id: str | None = None, since: date | None = None,
              until: date | None = None, types: tuple[str, ...] = REPORT_TYPES) -> LogSelection:
    """Every row of these types in the period (of this operator, when given), sorted by day and time."""
    lo, hi = _day_bounds(since, until)
    rows: list[Row] = []
    names: list[str] = []
    cache: dict[int, date] = {}
    for i, path in enumerate(paths):
        path = Path(path)
        names.append(str(path))
        db = _connect(path)
        try:
            marks = ",".join("?" * len(types))
            cur = db.execute(
                f"SELECT id, t, wall, type, order_id, step_id, operator_id, payload FROM events "
                f"WHERE type IN ({marks}) AND wall >= ? AND wall < ? ORDER BY id", (*types, lo, hi))
            part = [Row(rid, t, wall, ty, oid, sid, op, json.loads(payload), i, _local_day(wall, cache))
                    for rid, t, wall, ty, oid, sid, op, payload in cur]
        finally:
            db.close()
        _attribute(part)
        rows.extend(part)
    if operator_id:
        rows = [r for r in rows if r.operator_id == operator_id]
    rows.sort(key=lambda r: (r.day, r.operator_id or "", r.log, r.t, r.id))
    start_t: dict[tuple[str | None, date], float] = {}
    start_wall: dict[tuple[str | None, date], float] = {}
    for r in rows:
        key = (r.operator_id, r.day)  # type: ignore[assignment]
        if key not in start_t or r.t < start_t[key]:
            start_t[key] = r.t
        if key not in start_wall or r.wall < start_wall[key]:
            start_wall[key] = r.wall
    for r in rows:
        r.s = r.t - start_t[(r.operator_id, r.day)]  # type: ignore[index]
    days = sorted({r.day for r in rows})  # type: ignore[type-var]
    return LogSelection(rows=rows, days=days, logs=names, shift_start=start_wall)
