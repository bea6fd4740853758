"""The benchmark table (bench/table.py): rows built by hand, no benchmark is run and nothing is timed.

``python -m bench --quick`` is deliberately not run here: it takes most of a minute and its
figures depend on what else the machine is doing, so no test may assert on them.
"""

from __future__ import annotations

import json
import math

import pytest

from bench.table import Check, Row, did_not_finish, exit_code, format_table, missed, num, summary


def vision(path_fps: float, raw_fps: float) -> Row:
    return Row(bench="vision_fps", measures="whole vision path", ours=path_fps, unit="frames/s",
               baseline="raw MediaPipe", baseline_value=raw_fps, better="higher",
               checks=(Check("whole path", path_fps, ">=", 25, "frames/s"),
                       Check("ratio", path_fps / raw_fps, ">=", 0.9, "×")))


def bus(ours_ms: float, raw_ms: float, lost: int) -> Row:
    return Row(bench="bus_latency", measures="one-way latency, median", ours=ours_ms, unit="ms",
               baseline="raw pyzmq", baseline_value=raw_ms, better="lower",
               checks=(Check("ratio", ours_ms / raw_ms, "<=", 1.5, "×"), Check("lost at 500 msg/s", lost, "==", 0)),
               note=f"lost {lost} of 1500")


THROUGHPUT = Row(bench="bus_latency", measures="throughput", ours=20_000.0, unit="msg/s", baseline="raw pyzmq",
                 baseline_value=40_000.0, better="higher", note="reported, no target")


def test_ratio_is_ours_over_baseline_whichever_way_is_better():
    assert vision(30.0, 32.0).ratio == pytest.approx(30 / 32)
    assert bus(0.3, 0.2, 0).ratio == pytest.approx(1.5)
    assert math.isnan(Row(bench="x", measures="x", ours=1.0, unit="", baseline="b", baseline_value=0.0,
                          better="higher").ratio)


def test_met_needs_every_check():
    assert vision(30.0, 31.0).met is True
    assert vision(24.9, 25.0).met is False  # fast enough relative to the baseline, not in absolute terms
    assert vision(27.0, 31.0).met is False  # 0.87x the baseline
    assert bus(0.30, 0.20, 0).met is True  # exactly 1.5x is allowed
    assert bus(0.31, 0.20, 0).met is False
    assert bus(0.20, 0.20, 1).met is False  # one message lost is a miss, however fast
    assert THROUGHPUT.met is None  # no target: reported only


def test_an_unknown_value_never_meets_its_target():
    assert not Check("x", math.nan, "<=", 1.0).ok()
    assert not Check("x", math.nan, ">=", 1.0).ok()
    assert did_not_finish("bus_latency", "still running after 120 s").met is False


def test_exit_code_and_missed_lines():
    good = [vision(30.0, 31.0), bus(0.2, 0.2, 0), THROUGHPUT]
    assert exit_code(good) == 0
    assert missed(good) == []
    assert summary(good) == "All 2 targets met."

    bad = [vision(30.0, 31.0), bus(0.4, 0.2, 3), THROUGHPUT]
    assert exit_code(bad) == 1
    (line,) = missed(bad)
    assert line.startswith("bus_latency: one-way latency, median: ")
    assert "ratio 2× (target ≤ 1.5×)" in line
    assert "lost at 500 msg/s 3 (target = 0)" in line
    assert summary(bad).startswith("MISSED 1 of 2 targets:\n- bus_latency")
    assert exit_code([THROUGHPUT]) == 0  # rows without a target never fail the run


def test_table_is_markdown_with_one_line_per_row():
    rows = [vision(29.9, 31.9), bus(0.4, 0.2, 3), THROUGHPUT]
    lines = format_table(rows).splitlines()
    assert len(lines) == 2 + len(rows)
    assert lines[0].startswith("| benchmark ") and "ratio ours/baseline" in lines[0]
    assert set(lines[1]) <= {"|", "-"}
    assert len({len(line) for line in lines}) == 1  # padded: reads as plain text too
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    v, b, t = cells
    assert v[:3] == ["vision_fps", "whole vision path", "29.9 frames/s"]
    assert v[3] == "raw MediaPipe: 31.9 frames/s"
    assert v[4] == "0.937×" and v[5] == "higher is better"
    assert v[6] == "whole path ≥ 25 frames/s; ratio ≥ 0.9×" and v[7] == "yes"
    assert b[4] == "2×" and b[5] == "lower is better" and b[7] == "**NO**" and b[8] == "lost 3 of 1500"
    assert t[6] == "—" and t[7] == "— (no target)" and t[2] == "20,000 msg/s"


def test_a_pipe_in_a_cell_does_not_break_the_table():
    row = Row(bench="x", measures="a | b", ours=1.5, unit="", baseline="b", baseline_value=1.0, better="higher")
    line = format_table([row]).splitlines()[2]
    assert "a \\| b" in line


def test_rows_survive_the_json_between_runner_and_benchmark_process():
    rows = [vision(29.9, 31.9), bus(0.4, 0.2, 3), THROUGHPUT, did_not_finish("shift_speed", "exit code 1")]
    again = [Row.from_dict(d) for d in json.loads(json.dumps([r.to_dict() for r in rows]))]
    assert again[:3] == rows[:3]
    assert [r.met for r in again] == [True, False, None, False]


def test_numbers():
    assert [num(x) for x in (527631.4, 239.4, 29.94, 7.3517, 0.1662, 1.0, 0.0, 100_000.0, math.nan)] == \
        ["527,631", "239", "29.9", "7.35", "0.166", "1", "0", "100,000", "—"]


def test_bad_rows_are_refused():
    with pytest.raises(ValueError):
        Check("x", 1.0, "=>", 2.0)
    with pytest.raises(ValueError):
        Row(bench="x", measures="x", ours=1.0, unit="", baseline="b", baseline_value=1.0, better="faster")
