"""Read a cell YAML (and the files it includes) into a validated CellConfig.

Every error names the file, the line, the field and what is allowed, so an
integrator can fix a cell on a Monday morning without reading Python:

    configs/lamp.yaml:42: tasks[0].steps[3].pick.zone: 'bin_z' is not a zone;
        allowed: bin_a, bin_b, ...

Includes: a top-level ``include: [other.yaml, ...]`` merges those files first
(lists such as ``zones`` and ``tasks`` are concatenated, sections must not be
given twice), and any value may be ``!include file.yaml``. Paths in a file
(``calibration``, ``path``) are relative to the file that names them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from cell.config import CellConfig, OperatorProfile

Loc = tuple[str | int, ...]
PATH_KEYS = {"calibration", "path"}
LIST_SECTIONS = {"zones", "tasks", "operators", "devices", "orders"}
PATTERN_WORDS = {  # the id patterns of cell.config, in words
    r"^[a-z0-9][a-z0-9_.-]*$": "lower-case letters, digits, '_', '-' and '.', starting with a letter or digit",
    r"^[a-z0-9][a-z0-9_-]*$": "a pseudonym of lower-case letters, digits, '_' and '-' (no names, no dots)",
    r"^[a-z]{2}$": "a two-letter language code such as nl, en, fr",
}


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class ConfigError(Exception):
    """One or more problems in a cell configuration; str() lists them all."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _Include:
    def __init__(self, path: str, line: int):
        self.path, self.line = path, line


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False

    def include(constructor: Any, node: Any) -> _Include:
        return _Include(constructor.construct_scalar(node), node.start_mark.line + 1)

    y.constructor.add_constructor("!include", include)
    return y


def _field_name(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _syntax_problem(path: Path, exc: MarkedYAMLError) -> ConfigProblem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 0
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    field = "(syntax)"
    # name the key on the offending line (or the line above) so the reader knows where to look
    for ln in (line, line - 1):
        if 1 <= ln <= len(text):
            m = re.match(r"\s*-?\s*([A-Za-z_][\w.-]*)\s*:", text[ln - 1])
            if m:
                field = m.group(1)
                break
    what = exc.problem or str(exc)
    if isinstance(exc, DuplicateKeyError):
        what = "this key is given twice in the same section; each key may appear once"
    return ConfigProblem(str(path), line, field,
                         f"YAML syntax: {what} (check the indentation: nested keys use 2 more spaces "
                         "than their parent; list items start with '- ')")


def text_line(path: Path, offset: int) -> int:
    """The line of a byte offset in a file (1-based)."""
    try:
        return path.read_bytes()[:offset].count(b"\n") + 1
    except OSError:
        return 0


class _Reader:
    """Turns ruamel's round-trip tree into plain data plus a map loc -> (file, line)."""

    def __init__(self) -> None:
        self.problems: list[ConfigProblem] = []

    def read_file(self, path: Path, stack: tuple[Path, ...], where: ConfigProblem | None = None
                  ) -> tuple[Any, dict[Loc, tuple[str, int]]]:
        """Plain data of one file and the file/line of every location in it (relative to its root)."""
        try:
            path = path.resolve()
        except (ValueError, OSError) as exc:  # a NUL in the name, a name the OS refuses
            self.problems.append(self._unreadable(where, path, f"not a usable file name ({exc})"))
            return None, {}
        lines: dict[Loc, tuple[str, int]] = {(): (str(path), 1)}
        if path in stack:
            self.problems.append(ConfigProblem(where.file if where else str(path), where.line if where else 0,
                                               where.field if where else "include",
                                               f"include loop: {path.name} includes itself"))
            return None, lines
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError):
            self.problems.append(self._unreadable(where, path, f"file not found: {path}"))
            return None, lines
        except UnicodeDecodeError as exc:
            self.problems.append(ConfigProblem(str(path), text_line(path, exc.start), "(file)",
                                               f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                                               f"{exc.start}): save the file as UTF-8"))
            return None, lines
        except OSError as exc:  # no permission, a name too long, an I/O error
            self.problems.append(self._unreadable(where, path, f"cannot read {path}: {exc.strerror or exc}"))
            return None, lines
        try:
            raw = _yaml().load(text)
        except MarkedYAMLError as exc:
            self.problems.append(_syntax_problem(path, exc))
            return None, lines
        except YAMLError as exc:  # a character YAML does not allow (a NUL, a control character)
            mark = getattr(exc, "position", None)
            self.problems.append(ConfigProblem(str(path), text[:mark].count("\n") + 1 if mark is not None else 0,
                                               "(syntax)", f"YAML: {exc}"))
            return None, lines
        except RecursionError:
            self.problems.append(ConfigProblem(str(path), 1, "(syntax)", "YAML nested too deeply"))
            return None, lines
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
            # ruamel's constructor on a YAML tag it cannot fill (!!int x, !!bool x, ...)
            tagged = next((i for i, ln in enumerate(text.splitlines(), 1) if "!!" in ln), 1)
            self.problems.append(ConfigProblem(str(path), tagged, "(syntax)", f"YAML: a value its tag (!!...) "
                                               f"does not allow ({type(exc).__name__}: {exc}); remove the tag"))
            return None, lines
        data = self._plain(raw, path, (), stack + (path,), lines)
        if isinstance(data, dict) and "include" in data:
            data = self._merge_includes(data, path, stack + (path,), lines)
        return data, lines

    @staticmethod
    def _unreadable(where: ConfigProblem | None, path: Path, text: str) -> ConfigProblem:
        """A file that cannot be read, named where it was included (or as itself)."""
        return ConfigProblem(where.file if where else str(path), where.line if where else 0,
                             where.field if where else "(file)", text)

    def _plain(self, node: Any, path: Path, loc: Loc, stack: tuple[Path, ...],
               lines: dict[Loc, tuple[str, int]]) -> Any:
        if isinstance(node, _Include):
            lines[loc] = (str(path), node.line)
            here = ConfigProblem(str(path), node.line, _field_name(loc), "")
            data, sub = self.read_file(path.parent / node.path, stack, here)
            for k, v in sub.items():
                if k:
                    lines[loc + k] = v
            return data
        if isinstance(node, CommentedMap):
            out = {}
            for key, value in node.items():
                sub = loc + (str(key),)
                lines[sub] = (str(path), node.lc.key(key)[0] + 1)
                val = self._plain(value, path, sub, stack, lines)
                if key in PATH_KEYS and isinstance(val, str) and not Path(val).is_absolute():
                    try:
                        val = str((path.parent / val).resolve())
                    except (ValueError, OSError) as exc:  # a NUL in it: the field's check names it
                        self.problems.append(ConfigProblem(str(path), lines[sub][1], _field_name(sub),
                                                           f"not a usable path ({exc})"))
                out[str(key)] = val
            return out
        if isinstance(node, CommentedSeq):
            out_list = []
            for i, value in enumerate(node):
                sub = loc + (i,)
                lines[sub] = (str(path), node.lc.item(i)[0] + 1)
                out_list.append(self._plain(value, path, sub, stack, lines))
            return out_list
        return node

    def _merge_includes(self, data: dict, path: Path, stack: tuple[Path, ...],
                        lines: dict[Loc, tuple[str, int]]) -> dict:
        """Merge `include:` files under this file's own sections; list sections concatenate."""
        includes = data.pop("include")
        if isinstance(includes, str):
            includes = [includes]
        if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
            file, line = lines.get(("include",), (str(path), 0))
            self.problems.append(ConfigProblem(file, line, "include", "must be a file name or a list of file names"))
            return data
        own_lines = {k: v for k, v in lines.items() if k[:1] != ("include",)}
        parts: list[tuple[dict, dict[Loc, tuple[str, int]]]] = []
        for i, name in enumerate(includes):
            file, line = lines.get(("include", i), (str(path), 0))
            sub, sub_lines = self.read_file(path.parent / name, stack,
                                            ConfigProblem(file, line, f"include[{i}]", ""))
            if sub is None:
                continue
            if not isinstance(sub, dict):
                self.problems.append(ConfigProblem(file, line, f"include[{i}]",
                                                   "an included file must hold a mapping of sections"))
                continue
            parts.append((sub, sub_lines))
        parts.append((data, own_lines))
        merged: dict = {}
        lines.clear()
        lines[()] = (str(path), 1)
        for part, part_lines in parts:
            for key, value in part.items():
                offset = 0
                if key in merged:
                    if key in LIST_SECTIONS and isinstance(value, list) and isinstance(merged[key], list):
                        offset = len(merged[key])
                        merged[key] = merged[key] + value
                    else:
                        file, line = part_lines.get((key,), (str(path), 0))
                        self.problems.append(ConfigProblem(file, line, key,
                                                           f"section '{key}' is given in more than one file"))
                        continue
                else:
                    merged[key] = value
                for loc, where in part_lines.items():
                    if loc[:1] != (key,):
                        continue
                    if offset and len(loc) >= 2 and isinstance(loc[1], int):
                        loc = (key, loc[1] + offset) + loc[2:]
                    elif offset and len(loc) == 1:
                        continue
                    lines[loc] = where
        return merged


def _where(lines: dict[Loc, tuple[str, int]], loc: Loc) -> tuple[str, int]:
    """File and line of a location, or of its nearest ancestor that was written."""
    while loc not in lines and loc:
        loc = loc[:-1]
    return lines.get(loc, ("?", 0))


def _clean_loc(data: Any, loc: tuple) -> Loc:
    """Drop pydantic's union-member names from an error location, keep keys and indices."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(part, int):
            out.append(part)
            node = node[part] if isinstance(node, list) and part < len(node) else None
        elif isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and re.fullmatch(r"[A-Za-z_][\w]*", part):
            out.append(part)  # a missing or unknown key
            node = None
        # else: a union member tag such as "literal['sim']" or "int": not a field
    return tuple(out)


def _allowed(err: dict) -> str:
    ctx = err.get("ctx") or {}
    t = err["type"]
    if t == "extra_forbidden":
        return "unknown key (check the spelling); see docs/configuration.md for the allowed keys"
    if t == "missing":
        return "this field is required"
    if t == "literal_error":
        return f"got {err.get('input')!r}; allowed: {ctx.get('expected')}"
    if t == "string_pattern_mismatch":
        what = PATTERN_WORDS.get(ctx.get("pattern", ""), f"text matching {ctx.get('pattern')}")
        return f"got {err.get('input')!r}; allowed: {what}"
    if t.startswith(("greater", "less")) or t in ("too_short", "too_long"):
        return f"got {err.get('input')!r}; allowed: {err['msg'].lower()}"
    if "input" in err and t not in ("value_error", "assertion_error"):
        return f"{err['msg']} (got {err['input']!r})"
    return err["msg"].removeprefix("Value error, ")


def _validation_problems(data: dict, lines: dict[Loc, tuple[str, int]],
                         exc: ValidationError) -> list[ConfigProblem]:
    by_loc: dict[Loc, list[str]] = {}
    for err in exc.errors():
        loc = _clean_loc(data, err["loc"])
        msgs = by_loc.setdefault(loc, [])
        text = _allowed(err)
        if text not in msgs:
            msgs.append(text)
    out = []
    for loc, msgs in by_loc.items():
        file, line = _where(lines, loc)
        out.append(ConfigProblem(file, line, _field_name(loc), "; or ".join(msgs)))
    return out


def load_config(path: str | Path) -> CellConfig:
    """Load, include, validate and cross-check a cell YAML; raise ConfigError listing every problem."""
    from cell.config_checks import cross_check

    path = Path(path)
    reader = _Reader()
    data, lines = reader.read_file(path, ())
    if reader.problems:
        raise ConfigError(reader.problems)
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(str(path), 1, "(top level)",
                                         "a cell file is a mapping of sections: cell, bench, zones, tasks, operators, ...")])
    try:
        config = CellConfig.model_validate(data)
        config._source = path.resolve()
    except ValidationError as exc:
        raise ConfigError(_validation_problems(data, lines, exc)) from None
    problems = []
    for loc, msg in cross_check(config):
        file, line = _where(lines, loc)
        problems.append(ConfigProblem(file, line, _field_name(loc), msg))
    if problems:
        raise ConfigError(problems)
    return config


def summary_ids(config: CellConfig) -> dict[str, Any]:
    """The ids a validated config defines (what `cell validate --json` prints)."""
    return {
        "cell": config.cell.id,
        "tasks": [t.id for t in config.tasks],
        "zones": [z.id for z in config.zones],
        "operators": [o.id for o in config.operators],
        "steps": {t.id: [s.id for s in t.steps] for t in config.tasks},
    }




def reload_operator(config: CellConfig, operator_id: str) -> tuple[CellConfig, OperatorProfile]:
    """The cell file read again (validated in full) and the operator's profile in it.

    For a node told that the operator's profile changed (``OperatorChanged``): the new
    profile comes from the one config, not from the message. Raises ``ConfigError`` when
    the file no longer validates and ``KeyError`` when the operator is gone from it."""
    if config.source is None:
        raise ConfigError([ConfigProblem("<memory>", 0, "cell", f"the config of cell {config.cell.id} was not "
                                         "read from a file; there is nothing to reload")])
    fresh = load_config(config.source)
    return fresh, fresh.operator(operator_id)
