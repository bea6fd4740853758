"""The machine-readable result of a speed benchmark (``Row``) and the one table ``python -m bench`` prints.

Every speed benchmark module has ``table_rows(argv) -> list[Row]``: it measures, prints its own
detail lines (as its ``main`` always did) and returns its rows; ``main(argv)`` returns 0 only
if every row met its target. A row compares one figure of ours with a baseline measured in the
same run, and says which way is better:

* ``ratio`` is always **ours / baseline**; ``better`` says whether a higher or a lower ratio
  (and figure) is the good direction.
* ``checks`` are the row's targets (``value op limit``); the row is met when every check holds.
  A row without checks is reported only (``met`` is None) and never fails the run.

Pure: no timing, no I/O; the tests build rows by hand.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

OPS = {">=": "≥", "<=": "≤", "==": "=", ">": ">", "<": "<"}


def num(x: float) -> str:
    """A figure for the table: three or four significant digits, thousands separated; '—' if unknown."""
    if x is None or not math.isfinite(x):
        return "—"
    a = abs(x)
    if x == int(x) and a < 1e15:  # a count or a round target: no decimals
        return f"{int(x):,}"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def _with_unit(value: str, unit: str) -> str:
    if not unit:
        return value
    return f"{value}{unit}" if unit.startswith(("×", "%")) else f"{value} {unit}"


@dataclass(frozen=True)
class Check:
    """One target of a row: ``value op limit``, e.g. frames/s >= 25 or messages lost == 0."""

    label: str  # what is checked, e.g. "whole path", "ratio", "lost at 500 msg/s"
    value: float
    op: str  # one of OPS
    limit: float
    unit: str = ""

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"check {self.label!r}: op {self.op!r} is not one of {', '.join(OPS)}")

    def ok(self) -> bool:
        """Whether the target holds; an unknown value (NaN) never does."""
        v, lim = self.value, self.limit
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return False
        return {">=": v >= lim, "<=": v <= lim, "==": v == lim, ">": v > lim, "<": v < lim}[self.op]

    def target(self) -> str:
        """The target as the table shows it, e.g. '≥ 25 frames/s', 'ratio ≤ 1.5×'."""
        return f"{self.label} {OPS[self.op]} {_with_unit(num(self.limit), self.unit)}"

    def outcome(self) -> str:
        """What was measured against the target, e.g. 'ratio 1.62× (target ≤ 1.5×)'."""
        return f"{self.label} {_with_unit(num(self.value), self.unit)} (target {OPS[self.op]} " \
               f"{_with_unit(num(self.limit), self.unit)})"


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure of ours against a baseline measured side by side."""

    bench: str  # the module in bench/, e.g. "vision_fps"
    measures: str  # what is measured, in a few words
    ours: float
    unit: str  # unit of ``ours`` and ``baseline_value``
    baseline: str  # what the baseline is, in a few words
    baseline_value: float
    better: str  # "higher" or "lower": the good direction of ``ours`` and of ``ratio``
    checks: tuple[Check, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if self.better not in ("higher", "lower"):
            raise ValueError(f"{self.bench}: better must be 'higher' or 'lower', not {self.better!r}")
        object.__setattr__(self, "checks", tuple(self.checks))

    @property
    def ratio(self) -> float:
        """ours / baseline (``better`` says which way is good); NaN if either is unknown or the baseline is 0."""
        try:
            return self.ours / self.baseline_value
        except (TypeError, ZeroDivisionError):
            return math.nan

    @property
    def met(self) -> bool | None:
        """True if every check holds, False if one does not, None if the row has no target."""
        if not self.checks:
            return None
        return all(c.ok() for c in self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok()]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Row:
        d = dict(d)
        d["checks"] = tuple(Check(**c) for c in d.get("checks", ()))
        return cls(**d)


def did_not_finish(bench: str, why: str) -> Row:
    """The row for a benchmark that crashed or timed out: it fails the run."""
    return Row(bench=bench, measures=f"did not finish: {why}", ours=math.nan, unit="", baseline="—",
               baseline_value=math.nan, better="higher", checks=(Check("finished (1 = yes)", 0, "==", 1),))


def exit_code(rows: list[Row]) -> int:
    """0 if no row missed its target (rows without a target do not count), else 1."""
    return 1 if any(r.met is False for r in rows) else 0


def missed(rows: list[Row]) -> list[str]:
    """One line per row that missed its target, naming the checks that failed and their values."""
    return [f"{r.bench}: {r.measures}: " + "; ".join(c.outcome() for c in r.failed())
            for r in rows if r.met is False]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


HEADER = ("benchmark", "what is measured", "ours", "baseline", "ratio ours/baseline", "better",
          "target", "met", "notes")


def format_table(rows: list[Row]) -> str:
    """The rows as one markdown table (pipe table, columns padded so it also reads as plain text)."""
    lines = []
    for r in rows:
        met = {True: "yes", False: "**NO**", None: "— (no target)"}[r.met]
        ratio = "—" if not math.isfinite(r.ratio) else f"{num(r.ratio)}×"
        lines.append((r.bench, r.measures, _with_unit(num(r.ours), r.unit),
                      f"{r.baseline}: {_with_unit(num(r.baseline_value), r.unit)}"
                      if math.isfinite(r.baseline_value) else r.baseline,
                      ratio, f"{r.better} is better", "; ".join(c.target() for c in r.checks) or "—",
                      met, r.note))
    cells = [tuple(_cell(c) for c in HEADER)] + [tuple(_cell(c) for c in line) for line in lines]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    out = []
    for k, row in enumerate(cells):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if k == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def summary(rows: list[Row]) -> str:
    """The verdict under the table: all met, or which missed."""
    bad = missed(rows)
    n_target = sum(r.met is not None for r in rows)
    if not bad:
        return f"All {n_target} targets met."
    return f"MISSED {len(bad)} of {n_target} targets:\n" + "\n".join(f"- {line}" for line in bad)
