"""The test's own reader of the published RULA/REBA tables (ergonomics/data/rula-reba-tables.md).

The scoring code keeps its tables as constants; the tests parse the reference
text independently, so a mistyped cell on either side is caught.
"""

from __future__ import annotations

from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[1] / "ergonomics" / "data" / "rula-reba-tables.md"


def reference_tables() -> dict[tuple[str, str], list[list[str]]]:
    """{("RULA"|"REBA", "Table A"|...): body rows as lists of cell texts} from the markdown."""
    tables: dict[tuple[str, str], list[list[str]]] = {}
    method = table = None
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            method, table = line[3:].strip(), None
        elif line.startswith("### "):
            table = line[4:].split("—")[0].strip()
        elif line.startswith("|") and method and table:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(set(c) <= set("-: ") for c in cells):
                continue  # the |---| separator
            tables.setdefault((method, table), []).append(cells)
    return {key: rows[1:] for key, rows in tables.items()}  # drop the header rows


TABLES = reference_tables()
