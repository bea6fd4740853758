"""`cell adapt CONFIG --operator ID`: adaptations of the task for one person, proposed from the event log.

Reads the operator's rows of the event log (``--log``: a SQLite log, or the folder
``cell simulate-week`` writes with one ``<operator>.sqlite`` per profile; default the
cell's ``store.path``), asks ``cell.adaptation.propose`` what the data supports and
prints each proposal with its reason and numbers, then the YAML patch: the change to
the operator's profile, with the reasons as comments. ``--out`` writes the patch to a
file the job coach reviews (deletes what they do not want); ``--patch FILE --apply``
applies a reviewed patch, ``--apply`` alone the proposals as they are.

Applying edits the YAML file that holds the profile (round trip: comments, order and
the rest of the file stay as they are; only the operator's own entry is rewritten),
validates the whole cell with the edited file first, and writes nothing when it does
not validate (exit 1, with every problem). Exit 2: a bad config, operator, log or patch.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from cell.adaptation import ID_LISTS, Proposal, combined_change, propose
from cell.config import CellConfig
from cell.config_loader import ConfigError, load_config

ROW_TYPES = ("StepState", "TaskEvent", "ErgonomicScore")


class AdaptError(RuntimeError):
    """A log, patch or operators file that cannot be used; the message says why."""


# ---- the log ---------------------------------------------------------------------------------------

def log_path(config: CellConfig, operator_id: str, log: Path | None) -> Path:
    """The event log to read: ``log`` (a file, or a folder with ``<operator>.sqlite``), else the cell's store."""
    path = Path(log) if log is not None else config.resolve(config.store.path)
    if path.is_dir():
        path = path / f"{operator_id}.sqlite"
    if not path.is_file():
        raise AdaptError(f"{path}: no such event log")
    return path


def read_rows(path: Path, operator_id: str, warn=None) -> Iterator[dict]:
    """The operator's rows the proposals need, type by type (each in log order).

    Rows are chosen by their ``operator_id`` column. A type with no row naming this operator
    (a log written before every row carried it) is read in full when the log names nobody
    else; in a log that names other people too such rows cannot be told apart and are left
    out (``warn`` is told). A log that names only other people is refused."""
    from cell.store import EventStore

    try:
        store = EventStore(path)
    except sqlite3.DatabaseError as exc:
        raise AdaptError(f"{path}: not a cell event log ({exc})") from None
    try:
        try:
            named = {o for (o,) in store.db.execute(
                "SELECT DISTINCT operator_id FROM events WHERE operator_id IS NOT NULL AND operator_id != ''")}
        except sqlite3.DatabaseError as exc:
            raise AdaptError(f"{path}: not a cell event log ({exc})") from None
        others = sorted(named - {operator_id})
        if others and operator_id not in named:
            raise AdaptError(f"{path}: no rows of operator {operator_id!r}; the log has {', '.join(others)}")
        for kind in ROW_TYPES:
            found = False
            for row in store.events(kind, operator_id=operator_id):
                found = True
                yield row
            if found:
                continue
            if not others:
                yield from store.events(kind)
            elif warn is not None:
                warn(f"{path}: the {kind} rows do not say whose they are and the log has other operators "
                     f"({', '.join(others)}); they are left out")
    finally:
        store.close()


# ---- YAML --------------------------------------------------------------------------------------------

def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    y.preserve_quotes = True
    return y


def _node(value: Any) -> Any:
    """Plain data as ruamel nodes: short mappings and lists of plain values in flow style ({nl: .., en: ..})."""
    if isinstance(value, dict):
        m = CommentedMap((k, _node(v)) for k, v in value.items())
        if all(not isinstance(v, (dict, list)) for v in value.values()):
            m.fa.set_flow_style()
        return m
    if isinstance(value, list):
        s = CommentedSeq(_node(v) for v in value)
        if all(not isinstance(v, (dict, list)) for v in value):
            s.fa.set_flow_style()
        return s
    return value


def merge_into(target: CommentedMap, change: dict[str, Any]) -> None:
    """Merge a change into a round-trip mapping in place (as ``cell.adaptation.merge_change`` does with
    plain data): new keys go before ``simulation`` (kept last in a profile), id lists are added to."""
    for key, value in change.items():
        old = target.get(key)
        if isinstance(value, (dict, list)) and target.fa.flow_style() and not isinstance(old, list):
            target.fa.set_block_style()  # {guidance: full} grows a split: written as a block from now on
        if isinstance(value, dict) and isinstance(old, dict):
            merge_into(old, value)
        elif key in ID_LISTS and isinstance(value, list) and isinstance(old, list):
            old.extend(v for v in value if v not in old)
        elif key in target:
            target[key] = _node(value)
        else:
            keys = list(target)
            target.insert(keys.index("simulation") if "simulation" in keys else len(keys), key, _node(value))


def _wrap(lines: list[str], width: int = 96) -> str:
    import textwrap

    return "\n".join(w for line in lines for w in textwrap.wrap(line, width, subsequent_indent="  "))


def _reasons_by_key(proposals: list[Proposal]) -> tuple[dict[str, list[str]], list[str]]:
    """Comment lines per step id under ``steps``, and the lines for ``limits.forbidden_steps``."""
    steps: dict[str, list[str]] = {}
    forbidden: list[str] = []
    for p in proposals:
        if not p.change:
            continue
        if "limits" in p.change:
            forbidden.append(f"{p.step_id}: {p.reason}")
        for sid in p.change.get("steps", {}):
            steps.setdefault(sid, []).append(f"{p.rule}: {p.step_id}: {p.reason}" if sid != p.step_id
                                             else f"{p.rule}: {p.reason}")
    return steps, forbidden


def render_patch(config: CellConfig, operator_id: str, proposals: list[Proposal], *, source: str = "",
                 file: str = "", config_arg: str = "") -> str:
    """The proposals as a YAML patch for the job coach: the change to the profile with the reasons as
    comments, and the notes that are not a change of the profile."""
    change = combined_change(proposals)
    doc = CommentedMap()
    doc["operator"] = operator_id
    if file:
        doc["file"] = file
    profile = _node(change) if change else CommentedMap()
    doc["profile"] = profile
    steps_why, forbidden_why = _reasons_by_key(proposals)
    if isinstance(profile.get("steps"), CommentedMap):
        for sid, lines in steps_why.items():
            if sid in profile["steps"]:
                profile["steps"].yaml_set_comment_before_after_key(sid, before=_wrap(lines), indent=4)
    if isinstance(profile.get("limits"), CommentedMap) and forbidden_why:
        profile["limits"].yaml_set_comment_before_after_key("forbidden_steps", before=_wrap(forbidden_why),
                                                            indent=4)
    notes = [{"step": p.step_id, "rule": p.rule, "reason": p.reason, "note": p.note}
             for p in proposals if not p.change or p.note]
    doc["notes"] = CommentedSeq(CommentedMap((k, v) for k, v in n.items() if v) for n in notes)
    head = [f"cell adapt: task adaptations proposed for operator {operator_id}"]
    if source:
        head.append(f"from the event log {source}")
    if change:
        head += ["'profile' is merged into the operator's profile: mappings merge, forbidden_steps and",
                 "practice_steps are added to, other values replaced. Review it: delete what you do not",
                 "want, change what you like, then apply it with",
                 f"  cell adapt {config_arg or config.source or 'CONFIG'} --operator {operator_id} "
                 "--patch THIS_FILE --apply"]
    else:
        head.append("the log supports no change of the profile" + (" (see the notes)" if notes else ""))
    doc.yaml_set_start_comment("\n".join(head))
    doc.yaml_set_comment_before_after_key("notes", before="\nfor the job coach and the integrator: not applied")
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    return buf.getvalue()


def read_patch(text: str, operator_id: str) -> dict[str, Any]:
    """The profile change of a (reviewed) patch; AdaptError if it is not one, or for another operator."""
    try:
        data = YAML(typ="safe").load(text)
    except Exception as exc:  # ruamel raises many kinds
        raise AdaptError(f"not a YAML patch: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("profile", {}), (dict, type(None))):
        raise AdaptError("a patch is a mapping with 'operator' and 'profile' (what cell adapt --out writes)")
    if data.get("operator") not in (None, operator_id):
        raise AdaptError(f"this patch is for operator {data.get('operator')!r}, not {operator_id!r}")
    return data.get("profile") or {}


# ---- applying to the operators file ----------------------------------------------------------------

def config_files(config_path: Path) -> list[Path]:
    """Every YAML file a cell is read from (the file and its includes)."""
    from cell.config_loader import _Reader

    reader = _Reader()
    _, lines = reader.read_file(Path(config_path), ())
    return sorted({Path(f) for f, _ in lines.values()})


def operator_file(config_path: Path, config: CellConfig, operator_id: str) -> Path:
    """The YAML file that holds this operator's profile."""
    from cell.config_loader import _Reader

    index = [o.id for o in config.operators].index(operator_id)
    _, lines = _Reader().read_file(Path(config_path), ())
    where = lines.get(("operators", index))
    if where is None:
        raise AdaptError(f"cannot tell which file holds operator {operator_id!r}")
    return Path(where[0])


def _item_lines(text: str, operator_id: str) -> tuple[int, int, CommentedMap, Any]:
    """(first line, end line) of the operator's entry in a YAML text (0-based, end exclusive, without the
    comments and blank lines that follow it), the entry, and the document."""
    doc = _yaml().load(text)
    seq = doc.get("operators") if isinstance(doc, dict) else None
    if not isinstance(seq, list):
        raise AdaptError("no 'operators' list in this file")
    ids = [item.get("id") if isinstance(item, dict) else None for item in seq]
    if operator_id not in ids:
        raise AdaptError(f"no operator {operator_id!r} in this file")
    i = ids.index(operator_id)
    lines = text.splitlines(keepends=True)
    start = seq.lc.item(i)[0]
    if i + 1 < len(seq):
        end = seq.lc.item(i + 1)[0]
    else:
        keys = list(doc)
        after = keys[keys.index("operators") + 1:]
        end = doc.lc.key(after[0])[0] if after else len(lines)
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return start, end, seq[i], doc


def edit_operators_text(text: str, operator_id: str, change: dict[str, Any]) -> str:
    """The operators YAML text with the change merged into this operator's entry; every other line as it was."""
    start, end, _, doc = _item_lines(text, operator_id)
    entry = doc["operators"][[o.get("id") for o in doc["operators"]].index(operator_id)]
    merge_into(entry, change)
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    new_text = buf.getvalue()
    n_start, n_end, _, _ = _item_lines(new_text, operator_id)
    old_lines = text.splitlines(keepends=True)
    new_lines = new_text.splitlines(keepends=True)
    return "".join(old_lines[:start] + new_lines[n_start:n_end] + old_lines[end:])


def validate_with(config_path: Path, replaced: Path, text: str) -> CellConfig:
    """Load the whole cell as it would be with ``replaced`` holding ``text`` (the file itself is not touched):
    the cell's files are copied to a temporary folder. ConfigError names the real files."""
    files = config_files(config_path)
    root = Path(os.path.commonpath([str(f.parent) for f in files] + [str(Path(config_path).resolve().parent)]))
    with tempfile.TemporaryDirectory(prefix="cell-adapt-") as tmp:
        for f in files:
            dest = Path(tmp) / f.relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if f.resolve() == replaced.resolve():
                dest.write_text(text, encoding="utf-8")
            elif f.exists():
                shutil.copyfile(f, dest)
        try:
            return load_config(Path(tmp) / Path(config_path).resolve().relative_to(root))
        except ConfigError as exc:
            from dataclasses import replace

            tmp_real = str(Path(tmp).resolve())
            raise ConfigError([replace(p, file=p.file.replace(tmp_real, str(root)).replace(tmp, str(root)))
                               for p in exc.problems]) from None


def apply_change_to_files(config_path: Path, config: CellConfig, operator_id: str,
                          change: dict[str, Any]) -> tuple[Path, CellConfig]:
    """Write the change into the file holding the profile, if the whole cell validates with it.

    Returns the file and the new config; raises ConfigError (nothing written) when it does not validate."""
    path = operator_file(config_path, config, operator_id)
    text = path.read_text(encoding="utf-8")
    new_text = edit_operators_text(text, operator_id, change)
    validate_with(config_path, path, new_text)
    tmp = path.with_name(f".{path.name}.cell-adapt")
    tmp.write_text(new_text, encoding="utf-8")
    shutil.copymode(path, tmp)
    os.replace(tmp, path)
    return path, load_config(config_path)


# ---- the command -----------------------------------------------------------------------------------

def _describe(p: Proposal) -> str:
    what = "change" if p.change else "note"
    line = f"  [{what}] {p.step_id} ({p.rule}): {p.reason}"
    if p.note:
        line += f"\n         -> {p.note}"
    return line


def adapt(config: Path = typer.Argument(..., help="the cell YAML"),
          operator: str = typer.Option(..., "--operator", help="the operator profile id"),
          log: Optional[Path] = typer.Option(None, help="event log (SQLite), or a folder of <operator>.sqlite "
                                             "logs (cell simulate-week); default: the cell's store.path"),
          out: Optional[Path] = typer.Option(None, help="write the YAML patch here (default: print it)"),
          patch: Optional[Path] = typer.Option(None, help="apply this reviewed patch instead of proposing "
                                               "from the log (with --apply)"),
          apply: bool = typer.Option(False, "--apply", help="write the change into the operators YAML, if the "
                                     "whole cell still validates"),
          as_json: bool = typer.Option(False, "--json", help="print the proposals as JSON lines")) -> None:
    """Propose task adaptations for one operator from the event log, as a YAML patch; --apply writes them."""
    from cell.cli import _load, operator_or_exit

    cfg = _load(config)
    profile = operator_or_exit(cfg, operator)
    try:
        if patch is not None:
            if not apply:
                typer.echo("--patch is applied with --apply", err=True)
                raise typer.Exit(2)
            change = read_patch(patch.read_text(encoding="utf-8"), operator)
            proposals: list[Proposal] = []
        else:
            path = log_path(cfg, operator, log)
            proposals = propose(cfg, profile, read_rows(path, operator,
                                                        warn=lambda text: typer.echo(text, err=True)))
            change = combined_change(proposals)
            if as_json:
                for p in proposals:
                    typer.echo(json.dumps(p.as_dict()))
            else:
                typer.echo(f"{operator}: {len(proposals)} proposal{'s' if len(proposals) != 1 else ''} "
                           f"from {path}" + (":" if proposals else " (the log supports no change)"))
                for p in proposals:
                    typer.echo(_describe(p))
            file = operator_file(config, cfg, operator)
            try:
                shown = os.path.relpath(file)
            except ValueError:
                shown = str(file)
            text = render_patch(cfg, operator, proposals, source=str(path), file=shown, config_arg=str(config))
            if out is not None:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(text, encoding="utf-8")
                typer.echo(f"patch written to {out}")
            elif not as_json:
                typer.echo("\n" + text)
    except (AdaptError, OSError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if not apply:
        return
    if not change:
        typer.echo("nothing to apply: the profile stays as it is")
        return
    try:
        written, _ = apply_change_to_files(config, cfg, operator, change)
    except ConfigError as exc:
        n = len(exc.problems)
        typer.echo(f"not applied: the cell would not validate with the change ({n} problem{'s' if n != 1 else ''}, "
                   "at the lines of the file as it would be); nothing was written:", err=True)
        for p in exc.problems:
            typer.echo(f"  {p}", err=True)
        raise typer.Exit(1) from None
    except AdaptError as exc:
        typer.echo(f"not applied: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"applied to {written}; {config}: valid")
