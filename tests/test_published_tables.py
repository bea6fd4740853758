"""Every cell of the RULA and REBA tables, typed in here from the published worksheets.

Typed from McAtamney & Corlett (1993) and Hignett & McAtamney (2000) as reproduced
in ergonomics/data/rula-reba-tables.md, and held against both that file (parsed
by tests/reference_tables.py) and the scoring code's own lookups.
"""

from __future__ import annotations

from ergonomics import reba, rula
from tests.reference_tables import TABLES

# RULA Table A: one line per (upper arm, lower arm); columns W1t1 W1t2 W2t1 W2t2 W3t1 W3t2 W4t1 W4t2
RULA_A = """
1 1: 1 2 2 2 2 3 3 3
1 2: 2 2 2 2 3 3 3 3
1 3: 2 3 3 3 3 3 4 4
2 1: 2 3 3 3 3 4 4 4
2 2: 3 3 3 3 3 4 4 4
2 3: 3 4 4 4 4 4 5 5
3 1: 3 3 4 4 4 4 5 5
3 2: 3 4 4 4 4 4 5 5
3 3: 4 4 4 4 4 5 5 5
4 1: 4 4 4 4 4 5 5 5
4 2: 4 4 4 4 4 5 5 5
4 3: 4 4 4 5 5 5 6 6
5 1: 5 5 5 5 5 6 6 7
5 2: 5 6 6 6 6 7 7 7
5 3: 6 6 6 7 7 7 7 8
6 1: 7 7 7 7 7 8 8 9
6 2: 8 8 8 8 8 9 9 9
6 3: 9 9 9 9 9 9 9 9
"""

# RULA Table B: one line per neck score; columns T1L1 T1L2 T2L1 T2L2 ... T6L1 T6L2
RULA_B = """
1: 1 3 2 3 3 4 5 5 6 6 7 7
2: 2 3 2 3 4 5 5 5 6 7 7 7
3: 3 3 3 4 4 5 5 6 6 7 7 7
4: 5 5 5 6 6 7 7 7 7 7 8 8
5: 7 7 7 7 7 8 8 8 8 8 8 8
6: 8 8 8 8 8 8 8 9 9 9 9 9
"""

# RULA Table C: one line per score C (8 = 8+); columns score D 1..7+
RULA_C = """
1: 1 2 3 3 4 5 5
2: 2 2 3 4 4 5 5
3: 3 3 3 4 4 5 6
4: 3 3 3 4 5 6 6
5: 4 4 4 5 6 7 7
6: 4 4 5 6 6 7 7
7: 5 5 6 6 7 7 7
8: 5 5 6 7 7 7 7
"""

# REBA Table A: one line per (neck, trunk); columns legs 1..4
REBA_A = """
1 1: 1 2 3 4
1 2: 2 3 4 5
1 3: 2 4 5 6
1 4: 3 5 6 7
1 5: 4 6 7 8
2 1: 1 2 3 4
2 2: 3 4 5 6
2 3: 4 5 6 7
2 4: 5 6 7 8
2 5: 6 7 8 9
3 1: 3 3 5 6
3 2: 4 5 6 7
3 3: 5 6 7 8
3 4: 6 7 8 9
3 5: 7 8 9 9
"""

# REBA Table B: one line per (lower arm, upper arm); columns wrist 1..3
REBA_B = """
1 1: 1 2 2
1 2: 1 2 3
1 3: 3 4 5
1 4: 4 5 5
1 5: 6 7 8
1 6: 7 8 8
2 1: 1 2 3
2 2: 2 3 4
2 3: 4 5 5
2 4: 5 6 7
2 5: 7 8 8
2 6: 8 9 9
"""

# REBA Table C: one line per score A; columns score B 1..12
REBA_C = """
1: 1 1 1 2 3 3 4 5 6 7 7 7
2: 1 2 2 3 4 4 5 6 6 7 7 8
3: 2 3 3 3 4 5 6 7 7 8 8 8
4: 3 4 4 4 5 6 7 8 8 9 9 9
5: 4 4 4 5 6 7 8 8 9 9 9 9
6: 6 6 6 7 8 8 9 9 10 10 10 10
7: 7 7 7 8 9 9 9 10 10 11 11 11
8: 8 8 8 9 10 10 10 10 10 11 11 11
9: 9 9 9 10 10 10 11 11 11 12 12 12
10: 10 10 10 11 11 11 11 12 12 12 12 12
11: 11 11 11 11 12 12 12 12 12 12 12 12
12: 12 12 12 12 12 12 12 12 12 12 12 12
"""


def rows(text: str) -> dict[tuple[int, ...], list[int]]:
    out = {}
    for line in text.strip().splitlines():
        key, values = line.split(":")
        out[tuple(int(k) for k in key.split())] = [int(v) for v in values.split()]
    return out


def parsed(method: str, table: str) -> list[list[int]]:
    """The reference file's table as numbers (group cells like "1 2 3 4" split)."""
    return [[int(v.rstrip("+")) for cell in row for v in cell.split()] for row in TABLES[(method, table)]]


def test_rula_table_a_every_cell():
    typed = rows(RULA_A)
    assert len(typed) == 18
    assert [[*k, *v] for k, v in typed.items()] == parsed("RULA", "Table A")
    for (ua, la), cells in typed.items():
        for i, expected in enumerate(cells):
            assert rula.table_a(ua, la, i // 2 + 1, i % 2 + 1) == expected, (ua, la, i)


def test_rula_table_b_every_cell():
    typed = rows(RULA_B)
    assert [[*k, *v] for k, v in typed.items()] == parsed("RULA", "Table B")
    for (neck,), cells in typed.items():
        for i, expected in enumerate(cells):
            assert rula.table_b(neck, i // 2 + 1, i % 2 + 1) == expected, (neck, i)


def test_rula_table_c_every_cell_and_the_plus_columns():
    typed = rows(RULA_C)
    assert [[*k, *v] for k, v in typed.items()] == parsed("RULA", "Table C")
    for (c,), cells in typed.items():
        for d, expected in enumerate(cells, start=1):
            assert rula.table_c(c, d) == expected
    assert rula.table_c(11, 9) == 7 and rula.table_c(9, 1) == 5  # "8+" and "7+"


def test_reba_table_a_every_cell():
    typed = rows(REBA_A)
    assert len(typed) == 15
    ref = parsed("REBA", "Table A")  # rows: neck, then 5 trunk groups of 4 legs
    for (neck, trunk), cells in typed.items():
        assert ref[neck - 1][1 + (trunk - 1) * 4: 1 + trunk * 4] == cells
        for legs, expected in enumerate(cells, start=1):
            assert reba.table_a(neck, trunk, legs) == expected


def test_reba_table_b_every_cell():
    typed = rows(REBA_B)
    ref = parsed("REBA", "Table B")  # rows: lower arm, then 6 upper-arm groups of 3 wrists
    for (la, ua), cells in typed.items():
        assert ref[la - 1][1 + (ua - 1) * 3: 1 + ua * 3] == cells
        for wrist, expected in enumerate(cells, start=1):
            assert reba.table_b(ua, la, wrist) == expected


def test_reba_table_c_every_cell():
    typed = rows(REBA_C)
    assert [[*k, *v] for k, v in typed.items()] == parsed("REBA", "Table C")
    for (a,), cells in typed.items():
        for b, expected in enumerate(cells, start=1):
            assert reba.table_c(a, b) == expected
