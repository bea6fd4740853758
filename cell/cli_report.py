"""`cell report` and `cell simulate-week`: the job coach's and the integrator's reports from the event log.

    cell report CONFIG --operator ID [--log PATH]... [--days N | --since DATE --until DATE] [--out DIR]
    cell report CONFIG --cell        [--log PATH]... [--days N | --since DATE --until DATE] [--out DIR]
    cell simulate-week CONFIG [--days 5] [--start DATE] [--operator ID]... [--out DIR]

A report is a folder: ``report.html`` (self-contained: the charts are
embedded), the charts as PNG beside it and ``summary.json`` with the
numbers. The default log is the cell file's ``store.path``; ``--log`` may be
given more than once (e.g. one log per simulated operator). Without a
period the report covers the last 5 days that have data.

``simulate-week`` runs one simulated shift per working day for each operator
profile (in parallel, one process per core), writes one event log per
profile to ``OUT/logs/`` and the reports to ``OUT/<operator>/`` and
``OUT/cell/``. Also: ``python -m cell.reports.week CONFIG ...``.
"""

from __future__ import annotations

import time
from datetime import date, time as dtime
from pathlib import Path
from typing import List, Optional

import typer

DEFAULT_DAYS = 5


def _load(path: Path):
    from cell.cli import _load as load  # one place says how a broken cell file is reported

    return load(path)


def _date(text: Optional[str], what: str) -> Optional[date]:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{what} {text!r} is not a date; write YYYY-MM-DD, e.g. 2026-11-16") from None


def report(config: Path = typer.Argument(..., help="the cell YAML"),
           operator: Optional[str] = typer.Option(None, help="the operator's (pseudonymous) id: the job coach's report"),
           cell: bool = typer.Option(False, "--cell", help="the cell report for the integrator (every operator)"),
           log: Optional[List[Path]] = typer.Option(None, "--log", help="event log (SQLite); may be repeated; "
                                                   "default: the cell file's store.path"),
           days: Optional[int] = typer.Option(None, min=1, help=f"the last N days with data (default {DEFAULT_DAYS})"),
           since: Optional[str] = typer.Option(None, help="first day, YYYY-MM-DD"),
           until: Optional[str] = typer.Option(None, help="last day, YYYY-MM-DD (inclusive)"),
           out: Optional[Path] = typer.Option(None, help="folder for report.html, its PNGs and summary.json "
                                              "(default out/report-<operator> or out/report-cell)")) -> None:
    """Write a report: for a job coach about one operator (--operator), or for the integrator (--cell)."""
    from cell.reports.build import cell_report, operator_report
    from cell.reports.load import LogError, operators_in_logs

    if (operator is None) == (not cell):
        typer.echo("give either --operator ID (the job coach's report) or --cell (the integrator's report)", err=True)
        raise typer.Exit(2)
    if days is not None and (since or until):
        typer.echo("give either --days N or --since/--until, not both", err=True)
        raise typer.Exit(2)
    d0, d1 = _date(since, "--since"), _date(until, "--until")
    if d0 and d1 and d1 < d0:
        typer.echo(f"--until {until} is before --since {since}", err=True)
        raise typer.Exit(2)
    if days is None and not (d0 or d1):
        days = DEFAULT_DAYS
    cfg = _load(config)
    logs = list(log) if log else [cfg.resolve(cfg.store.path)]
    t0 = time.perf_counter()
    try:
        if cell:
            rep = cell_report(cfg, logs, out or Path("out/report-cell"), days=days, since=d0, until=d1)
        else:
            assert operator is not None
            present = operators_in_logs(logs)
            if operator not in present:
                typer.echo(f"no rows of operator {operator!r} in {', '.join(map(str, logs))}; operators there: "
                           f"{', '.join(present) or 'none'}", err=True)
                raise typer.Exit(1)
            rep = operator_report(cfg, logs, operator, out or Path(f"out/report-{operator}"), days=days, since=d0,
                                  until=d1)
    except LogError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if not rep.days:
        typer.echo(f"no data in the period; wrote an empty report {rep.html}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{rep.html}  ({len(rep.pngs)} charts, {len(rep.days)} days: {rep.days[0]} .. {rep.days[-1]}, "
               f"{len(rep.suggestions)} suggestions, {time.perf_counter() - t0:.1f} s)")
    for s in rep.suggestions:
        typer.echo(f"  - {s.text}")


def simulate_week(config: Path = typer.Argument(..., help="the cell YAML"),
                  days: int = typer.Option(5, min=1, max=60, help="working days (Monday to Friday) to simulate"),
                  start: Optional[str] = typer.Option(None, help="first day, YYYY-MM-DD (default: the Monday of last "
                                                      "week)"),
                  operator: Optional[List[str]] = typer.Option(None, help="profile id; may be repeated "
                                                               "(default: every profile of the cell)"),
                  duration: str = typer.Option("8h", help="length of each shift, e.g. 8h, 30m"),
                  shift_start: str = typer.Option("08:00", help="clock time the shifts start"),
                  policy: Optional[str] = typer.Option(None, help="allocation policy (default: the profile's or the "
                                                       "cell's)"),
                  seed: int = typer.Option(0, help="same seed, same week"),
                  learning: float = typer.Option(0.15, min=0.0, max=0.9, help="share of the gap to an expert a "
                                                 "simulated operator closes each day (0: no practice effect)"),
                  workers: Optional[int] = typer.Option(None, help="processes (default: one per core)"),
                  out: Path = typer.Option(Path("out/week"), help="logs/ and the reports go here"),
                  reports: bool = typer.Option(True, help="also write every operator's report and the cell report")
                  ) -> None:
    """Simulate a working week for the cell's operator profiles and write their reports."""
    from cell.cli import parse_duration
    from cell.reports.build import operator_report, write_cell_report
    from cell.reports.summary import combine
    from cell.reports.week import last_monday, simulate_week as run_week

    cfg = _load(config)
    known = [o.id for o in cfg.operators]
    for op in operator or []:
        if op not in known:
            typer.echo(f"no operator {op!r}; allowed: {', '.join(known)}", err=True)
            raise typer.Exit(2)
    if policy is not None:
        from cell.allocation import POLICIES

        if policy not in POLICIES:
            typer.echo(f"no policy {policy!r}; allowed: {', '.join(POLICIES)}", err=True)
            raise typer.Exit(2)
    try:
        clock = dtime.fromisoformat(shift_start)
    except ValueError:
        raise typer.BadParameter(f"--shift-start {shift_start!r}: write HH:MM, e.g. 08:00") from None
    first = _date(start, "--start") or last_monday()
    t0 = time.perf_counter()
    logs = run_week(cfg, out / "logs", days=days, start=first, operators=list(operator) if operator else None,
                    shift_s=parse_duration(duration), start_clock=clock, policy=policy, seed=seed, learning=learning,
                    workers=workers)
    sim_s = time.perf_counter() - t0
    typer.echo(f"simulated {days} day(s) x {len(logs)} operator(s) x {duration} in {sim_s:.1f} s; logs in {out / 'logs'}")
    if not reports:
        return
    t1 = time.perf_counter()
    per = {}
    for op, path in logs.items():
        rep = operator_report(cfg, [path], op, out / op)
        per[op] = rep.summary
        typer.echo(f"  {rep.html}  ({len(rep.pngs)} charts, {len(rep.suggestions)} suggestions)")
    rep = write_cell_report(combine(per, cfg), cfg, out / "cell", logs=[str(p) for p in logs.values()])
    typer.echo(f"  {rep.html}  ({len(rep.pngs)} charts)")
    typer.echo(f"reports written in {time.perf_counter() - t1:.1f} s")


# for `python -m cell.cli_report ...` and the tests, until cell/cli.py registers the commands
report_cli = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])
report_cli.command("report")(report)
report_cli.command("simulate-week")(simulate_week)

# `python -m cell.reports.week CONFIG ...`
week_app = typer.Typer(add_completion=False, help="Simulate a working week and write the reports.")
week_app.command()(simulate_week)

if __name__ == "__main__":  # pragma: no cover
    report_cli()
