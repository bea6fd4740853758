"""A simulated working week: one shift a day for each operator profile, with real dates.

``simulate_week`` runs :class:`cell.simulator.shift.SimulatedShift` once per
working day (Monday to Friday; weekends are skipped) for each profile and
writes one event log per profile, ``LOGS/<operator>.sqlite``. Each shift runs
on its own virtual clock from 0, as ``cell simulate`` does; the log's
``wall`` column is that day's date at the shift's start time plus the
virtual time of the messages written (rows are written in batches, so it is
coarse: the reports use ``t`` within a shift and ``wall`` for the day).

Practice: people get better at a task they do every day. With
``learning`` > 0 each profile's simulated skill closes that fraction of its
gap to an expert every working day (``skill_d = 1 - (1 - skill) * (1 -
learning) ** d``) and its chance of a wrong pick and of asking for help
shrink by the same factor, so a week shows a learning curve. This is a model
of the simulated data only; 0 switches it off.

Run it:  ``python -m cell.reports.week configs/lamp-cell.yaml --days 5 --out out/week``
(or ``cell simulate-week``); it also writes the reports unless ``--no-reports``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta
from pathlib import Path
from typing import Iterable

from cell.config import CellConfig
from cell.store import EventStore


def working_days(start: date, n: int) -> list[date]:
    """``n`` working days (Monday..Friday) from ``start`` on (a weekend start moves to Monday)."""
    out, d = [], start
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def last_monday(today: date | None = None) -> date:
    """The Monday of last week: a whole working week that is over."""
    today = today or date.today()
    return today - timedelta(days=today.weekday() + 7)


class DayStore(EventStore):
    """An event log whose write time is a given day's shift start plus the virtual time of the rows written."""

    def __init__(self, path, *, shift_start: float, **kwargs):
        self._virtual = 0.0
        self.shift_start = shift_start
        super().__init__(path, clock=lambda: self.shift_start + self._virtual, **kwargs)

    def append_many(self, msgs: Iterable) -> int:
        msgs = list(msgs)
        if msgs:
            self._virtual = min(m.t for m in msgs)  # the batch's first message: wall is never later than the event
        return super().append_many(msgs)


def practised(config: CellConfig, operator_id: str, day_index: int, learning: float) -> CellConfig:
    """The config with this profile's simulated skill after ``day_index`` days of practice."""
    if learning <= 0 or day_index == 0:
        return config
    gap = (1.0 - learning) ** day_index
    ops = []
    for p in config.operators:
        if p.id == operator_id:
            sim = p.simulation
            sim = sim.model_copy(update={"skill": round(1.0 - (1.0 - sim.skill) * gap, 4),
                                         "error_rate": sim.error_rate * gap, "help_rate": sim.help_rate * gap})
            p = p.model_copy(update={"simulation": sim})
        ops.append(p)
    new = config.model_copy(update={"operators": ops})
    new._source = config.source
    return new


@dataclass
class DayRun:
    operator: str
    day: str
    units: int
    errors: int
    help_requests: int
    wall_s: float


def _run_day(config: CellConfig, operator_id: str, day_index: int, day: date, log: Path, shift_s: float,
             start_clock: dtime, policy: str | None, seed: int, learning: float) -> DayRun:
    """One operator's shift on one day, into its own log file."""
    from cell.simulator.shift import SimulatedShift

    cfg = practised(config, operator_id, day_index, learning)
    t0 = time.perf_counter()
    store = DayStore(log, shift_start=datetime.combine(day, start_clock).timestamp(),
                     retention_days=config.store.retention_days, operator_id=operator_id)
    try:
        s = SimulatedShift(cfg, operator_id=operator_id, policy=policy, duration_s=shift_s,
                           seed=seed * 1000 + day_index, store=store).run()
    finally:
        store.close()
    return DayRun(operator_id, day.isoformat(), s.units, s.errors, s.help_requests, round(time.perf_counter() - t0, 2))


def _unlink_log(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _merge(parts: list[Path], target: Path, retention_days: int) -> None:
    """The day logs one after the other into one log (the target gets the store's schema first)."""
    EventStore(target, retention_days=retention_days).close()
    db = sqlite3.connect(str(target))
    try:
        cols = "t, wall, type, topic, src, order_id, step_id, operator_id, payload"
        for part in parts:
            db.execute("ATTACH DATABASE ? AS part", (str(part),))
            with db:
                db.execute(f"INSERT INTO events ({cols}) SELECT {cols} FROM part.events ORDER BY id")
            db.execute("DETACH DATABASE part")
    finally:
        db.close()
    for part in parts:
        _unlink_log(part)


def simulate_week(config: CellConfig, logs_dir: Path, *, days: int = 5, start: date | None = None,
                  operators: list[str] | None = None, shift_s: float = 8 * 3600, start_clock: dtime = dtime(8, 0),
                  policy: str | None = None, seed: int = 0, learning: float = 0.15,
                  workers: int | None = None) -> dict[str, Path]:
    """Simulate ``days`` working days for each profile; return operator id -> its event log.

    Every (operator, day) shift is its own job (run in ``workers`` processes, default one per core)
    writing its own file; then each operator's days are joined into ``LOGS/<operator>.sqlite``.
    """
    ops = operators or [o.id for o in config.operators]
    for op in ops:
        config.operator(op)  # KeyError for an unknown id, before anything runs
    dates = working_days(start or last_monday(), days)
    logs_dir = Path(logs_dir)
    parts_dir = logs_dir / ".days"
    parts_dir.mkdir(parents=True, exist_ok=True)
    paths = {op: logs_dir / f"{op}.sqlite" for op in ops}
    for p in paths.values():
        _unlink_log(p)
    jobs = [(config, op, i, d, parts_dir / f"{op}-{d.isoformat()}.sqlite", shift_s, start_clock, policy, seed,
             learning) for op in ops for i, d in enumerate(dates)]
    for job in jobs:
        _unlink_log(job[4])
    workers = workers if workers is not None else min(len(jobs), os.cpu_count() or 1)
    if workers <= 1:
        for job in jobs:
            _run_day(*job)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for f in [pool.submit(_run_day, *job) for job in jobs]:
                f.result()
    for op in ops:
        _merge([job[4] for job in jobs if job[1] == op], paths[op], config.store.retention_days)
    try:
        parts_dir.rmdir()
    except OSError:
        pass
    return paths


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - the CLI wraps the same
    from cell.cli_report import week_app

    week_app(argv)


if __name__ == "__main__":  # pragma: no cover
    main()
