"""`cell data`: what the cell keeps about an operator, shown, handed over or deleted on request.

    cell data operators CONFIG                      who the cell file and the event log know, rows per id
    cell data export CONFIG --operator ID           every row about one operator, as JSON (a GDPR access request)
    cell data delete CONFIG --operator ID [--yes]   every row about one operator gone, file compacted
    cell data purge CONFIG                          apply the retention period now
    cell data names CONFIG --names FILE             check the workshop's names file against the cell

Operators are pseudonyms. The mapping to names lives in one file the
workshop keeps (CSV ``operator_id,name`` or YAML ``id: name``), outside the
cell file: the cell never reads it; only ``export --names`` may, to put the
person's name on their own export. See docs/privacy.md.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer

data_app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])

# What each kind of row is, in words a works council reads; True: health data (GDPR art. 9).
KINDS: dict[str, tuple[str, bool]] = {
    "ErgonomicScore": ("posture score (RULA/REBA) of one camera frame, computed from the body's joint angles", True),
    "ExposureSummary": ("posture load over a few minutes: time at each risk level, arm raised, repetitions", True),
    "FatigueState": ("estimated muscle fatigue per body region", True),
    "StressEstimate": ("estimated mental strain (0..1) with what drove it: errors, hesitation, heart rhythm", True),
    "DeviceEvent": ("signals of bench devices: pedal, buttons, torque tool, heart beat intervals of a wearable", True),
    "TaskEvent": ("what happened at the bench: picks, places, button presses, wrong picks, help asked", False),
    "StepState": ("where the work order stood: step, who did it, pauses, errors, help", False),
    "Allocation": ("who did a step (operator or cobot) and why", False),
    "RobotCommand": ("what the cobot was told to do", False),
    "RobotReply": ("the cobot's answers", False),
    "RobotStatus": ("the cobot's mode and progress", False),
    "Fault": ("faults of the cell (camera, cobot, devices) while the operator was at it", False),
    "LogRecord": ("log lines of the cell's programs", False),
    "EngineCommand": ("requests to the task engine (start order, pause, help)", False),
    "Snapshot": ("the task engine's state sent to a program that joined late", False),
}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def _config(path: Path):
    from cell.cli import _load

    return _load(path)


def _store(cfg):
    """The cell's event log, or None when it does not exist (reading must not create one)."""
    from cell.store import EventStore

    path = cfg.resolve(cfg.store.path)
    if not path.exists():
        return None
    return EventStore(path, retention_days=cfg.store.retention_days)


def _known(cfg, store, operator: str) -> None:
    """An id neither the cell file nor the event log knows is a typo: say which ones exist."""
    in_config = [o.id for o in cfg.operators]
    in_log = list(store.operators()) if store else []
    if operator in in_config or operator in in_log:
        return
    typer.echo(f"no operator {operator!r}.\n  in the cell file: {', '.join(in_config) or 'none'}\n"
               f"  in the event log: {', '.join(in_log) or 'none'}", err=True)
    if store:
        store.close()
    raise typer.Exit(2)


def read_names(path: Path) -> dict[str, str]:
    """The workshop's names file: CSV (``operator_id,name``, header optional) or YAML (``id: name``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise typer.BadParameter(f"{path}: cannot read the names file ({exc.strerror})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        from ruamel.yaml import YAML

        data = YAML(typ="safe").load(text) or {}
        if not isinstance(data, dict):
            raise typer.BadParameter(f"{path}: a YAML names file maps ids to names, e.g. 'op-novice-01: Jan'")
        return {str(k): str(v) for k, v in data.items()}
    names: dict[str, str] = {}
    for n, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or not row[0].strip() or row[0].startswith("#"):
            continue
        if len(row) < 2:
            raise typer.BadParameter(f"{path}, line {n}: write 'operator_id,name'")
        if n == 1 and row[0].strip().lower() in ("operator_id", "id", "operator"):
            continue  # header
        names[row[0].strip()] = row[1].strip()
    return names


def _state_file(cfg, state_dir: Path) -> Path:
    """Where the engine node keeps its state (cell.nodes.engine_node)."""
    return state_dir / f"engine-{cfg.cell.id}.json"


def _engine_state(path: Path) -> dict | str:
    """The engine state, readable (its outbox decoded), or why not."""
    import msgspec

    from cell.engine import load_state
    from cell.messages import decode

    try:
        state = load_state(path.read_bytes())
        out = msgspec.to_builtins(state)
        out["outbox"] = [msgspec.to_builtins(decode(b)) for b in state.outbox]
    except (OSError, ValueError, msgspec.MsgspecError) as exc:  # another version's, or damaged
        return f"{path}: could not be read ({exc})"
    return out


def _write_private(path: Path, text: str) -> None:
    """An export holds personal (and health) data: only the owner of the file may read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


@data_app.command("operators")
def operators(config: Path = typer.Argument(..., help="the cell YAML")) -> None:
    """Which operator ids the cell file and the event log know, and how many rows each has."""
    cfg = _config(config)
    store = _store(cfg)
    counts = store.operators() if store else {}
    unattributed = store.unattributed() if store else 0
    if store:
        store.close()
    typer.echo(f"event log {cfg.resolve(cfg.store.path)} (rows kept {cfg.store.retention_days} days)")
    for op in sorted({o.id for o in cfg.operators} | set(counts)):
        where = "cell file" if any(o.id == op for o in cfg.operators) else "event log only"
        typer.echo(f"  {op:24s} {counts.get(op, 0):8d} rows   ({where})")
    if unattributed:
        typer.echo(f"  {'(no operator)':24s} {unattributed:8d} rows   (written before rows named the operator)")


@data_app.command("export")
def export(config: Path = typer.Argument(..., help="the cell YAML"),
           operator: str = typer.Option(..., "--operator", help="the operator's pseudonymous id"),
           out: Optional[Path] = typer.Option(None, "--out", help="write the JSON here (readable by you only); "
                                              "default: standard output"),
           names: Optional[Path] = typer.Option(None, "--names", envvar="CELL_NAMES_FILE",
                                                help="the workshop's names file, to put the name on the export"),
           state_dir: Path = typer.Option(Path("data/state"), help="where the engine keeps its state (as cell run)")
           ) -> None:
    """Every row about one operator as JSON, with a header saying what it is; nothing about anyone else."""
    cfg = _config(config)
    store = _store(cfg)
    _known(cfg, store, operator)
    rows = []
    if store:
        for r in store.rows(operator):
            rows.append({"id": r["id"], "written": _iso(r["wall"]), "t": r["t"], "type": r["type"],
                         "topic": r["topic"], "src": r["src"], "order_id": r["order_id"], "step_id": r["step_id"],
                         "operator_id": r["operator_id"],
                         # "message": the message names the operator; "cell": they were at the cell when it was written
                         "attributed_by": "message" if r["payload"].get("operator_id") == operator else "cell",
                         "data": r["payload"]})
        last, unattributed = store.last_operator(), store.unattributed()
        store.close()
    else:
        last, unattributed = None, 0
    kinds: dict[str, dict] = {}
    for r in sorted(rows, key=lambda r: r["type"]):
        k = kinds.setdefault(r["type"], {"rows": 0, "what": KINDS.get(r["type"], ("", False))[0],
                                         "health_data": KINDS.get(r["type"], ("", False))[1]})
        k["rows"] += 1
    header = {
        "what": (f"Everything the work cell {cfg.cell.id} ({cfg.cell.name}) has stored about operator {operator}: "
                 "derived measurements and events, never camera pictures or body landmarks. "
                 "Rows marked health_data are health data (GDPR art. 9)."),
        "operator_id": operator,
        "exported_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "event_log": str(cfg.resolve(cfg.store.path)),
        "retention_days": cfg.store.retention_days,
        "retention": f"each row is deleted {cfg.store.retention_days} days after it was written",
        "rows": len(rows),
        "first_written": rows[0]["written"] if rows else None,
        "last_written": rows[-1]["written"] if rows else None,
        "kinds": kinds,
    }
    if names is not None:
        name = read_names(names).get(operator)
        if name:
            header["name"] = name
    if unattributed:
        header["not_included"] = (f"{unattributed} rows of the event log name no operator (written before every "
                                  "row named one, in a log of several operators); they are deleted by retention")
    export = {"header": header, "rows": rows}
    state_path = _state_file(cfg, state_dir)
    if state_path.exists() and last == operator:
        export["engine_state"] = {"file": str(state_path), "why": "the open work order's progress (errors, help "
                                  "asked) while this operator was the last at the cell; it names nobody",
                                  "state": _engine_state(state_path)}
    text = json.dumps(export, indent=1, ensure_ascii=False)
    if out is None:
        typer.echo(text)
    else:
        _write_private(out, text + "\n")
        typer.echo(f"{len(rows)} rows about {operator} written to {out} (readable by you only)", err=True)


@data_app.command("delete")
def delete(config: Path = typer.Argument(..., help="the cell YAML"),
           operator: str = typer.Option(..., "--operator", help="the operator's pseudonymous id"),
           yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation"),
           state_dir: Path = typer.Option(Path("data/state"), help="where the engine keeps its state (as cell run)")
           ) -> None:
    """Delete every row about one operator, then compact the file so the data is really gone.

    Stop the cell first: a running cell keeps writing rows for the operator it runs for.
    """
    cfg = _config(config)
    store = _store(cfg)
    _known(cfg, store, operator)
    n = store.operators().get(operator, 0) if store else 0
    last = store.last_operator() if store else None
    state_path = _state_file(cfg, state_dir)
    state_theirs = state_path.exists() and last == operator
    what = f"{n} rows about {operator} from {cfg.resolve(cfg.store.path)}"
    if state_theirs:
        what += f" and the engine state {state_path} (the open work order starts again from the cell file)"
    if not yes and not typer.confirm(f"Delete {what}? This cannot be undone."):
        if store:
            store.close()
        raise typer.Exit(1)
    gone = 0
    if store:
        try:
            gone = store.delete_operator(operator)
            store.vacuum()
        finally:
            store.close()
    typer.echo(f"deleted {gone} rows about {operator}; event log compacted (VACUUM)")
    if state_theirs:
        state_path.unlink()
        typer.echo(f"deleted the engine state {state_path}")
    elif state_path.exists():
        typer.echo(f"engine state {state_path} kept: it names nobody and {operator} was not the last at the cell")
    log = cfg.resolve(cfg.store.path)
    if log.exists() and operator.encode() in log.read_bytes():
        typer.echo(f"warning: {operator!r} still appears in {log} (in the text of rows about someone else)", err=True)
    for f in sorted((state_dir / "logs").glob("*.log")):  # the nodes' logs (cell run) do not name operators
        if operator.encode() in f.read_bytes():
            typer.echo(f"warning: {operator!r} appears in the node log {f}; delete or edit it by hand", err=True)


@data_app.command("purge")
def purge(config: Path = typer.Argument(..., help="the cell YAML")) -> None:
    """Apply the retention period now (the running store node does it at start and every hour)."""
    cfg = _config(config)
    store = _store(cfg)
    if store is None:
        typer.echo(f"no event log at {cfg.resolve(cfg.store.path)}: nothing to delete")
        return
    try:
        before = _iso(store.cutoff())
        gone = store.purge()
        store.vacuum()
    finally:
        store.close()
    typer.echo(f"deleted {gone} rows written before {before} (retention {cfg.store.retention_days} days)")


@data_app.command("names")
def names_check(config: Path = typer.Argument(..., help="the cell YAML"),
                names: Path = typer.Option(..., "--names", envvar="CELL_NAMES_FILE", help="the workshop's names file")
                ) -> None:
    """Check the names file against the cell: which ids have a name, which have none, which are unknown.

    Prints ids only, never names.
    """
    cfg = _config(config)
    mapping = read_names(names)
    store = _store(cfg)
    known = {o.id for o in cfg.operators} | (set(store.operators()) if store else set())
    if store:
        store.close()
    typer.echo(f"{names}: {len(mapping)} names")
    typer.echo(f"  with a name:    {', '.join(sorted(known & set(mapping))) or 'none'}")
    typer.echo(f"  without a name: {', '.join(sorted(known - set(mapping))) or 'none'}")
    unknown = sorted(set(mapping) - known)
    if unknown:
        typer.echo(f"  not known to this cell (remove when the person has left?): {', '.join(unknown)}")


def _main() -> None:  # pragma: no cover - for `python -m cell.cli_data` before cell/cli.py registers it
    data_app()


if __name__ == "__main__":  # pragma: no cover
    _main()
