"""The job coach's and the integrator's reports (cell report, cell simulate-week).

A short simulated week (3 days x 30 min x the 3 example profiles) through the
CLI: every report is written, every chart is a real picture, the HTML is
self-contained and has every section, and its numbers are the log's numbers
counted independently with SQL. Then the suggestion rules on logs built by
hand, where we know what must and must not be suggested.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections import Counter
from datetime import date, datetime, time as dtime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cell.cli_report import report_cli
from cell.config_loader import load_config
from cell.messages import Allocation, ErgonomicScore, StepState, StressEstimate, TaskEvent
from cell.reports.build import operator_report
from cell.reports.load import read_rows
from cell.reports.plots import AL_COLOURS, SERIES
from cell.reports.suggestions import operator_suggestions
from cell.reports.summary import operator_summary, reason_driver, reason_lead
from cell.reports.texts import Texts
from cell.store import EventStore

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "lamp-cell.yaml"
OPERATORS = ("op-novice-01", "op-experienced-02", "op-limited-03")
OPERATOR_PNGS = ("posture_over_shift.png", "posture_levels_per_day.png", "body_regions.png", "stress.png",
                 "errors_help_per_step.png", "learning_curve.png", "work_share.png", "reassignment_reasons.png")
CELL_PNGS = ("cell_errors.png", "cell_step_times.png", "cell_waits.png", "cell_cobot.png")
OPERATOR_SECTIONS = ("in-short", "posture", "levels", "regions", "stress", "errors", "learning", "share", "reasons",
                     "days", "suggestions")
CELL_SECTIONS = ("in-short", "errors", "times", "waits", "cobot", "suggestions")
START = date(2026, 11, 16)  # a Monday

runner = CliRunner()


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    out = tmp_path_factory.mktemp("week")
    res = runner.invoke(report_cli, ["simulate-week", str(CONFIG), "--days", "3", "--duration", "30m",
                                     "--start", START.isoformat(), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


# ---- the simulated week ------------------------------------------------------------------------

def test_week_writes_a_log_per_profile_with_one_day_each(week):
    for op in OPERATORS:
        db = sqlite3.connect(week / "logs" / f"{op}.sqlite")
        days = [d for (d,) in db.execute("SELECT DISTINCT date(wall, 'unixepoch', 'localtime') FROM events ORDER BY 1")]
        assert days == ["2026-11-16", "2026-11-17", "2026-11-18"]
        first = db.execute("SELECT min(wall) FROM events").fetchone()[0]
        assert datetime.fromtimestamp(first).time() == dtime(8, 0)  # the shift starts at 08:00
        db.close()


def test_every_report_and_chart_is_written(week):
    for op in OPERATORS:
        for name in OPERATOR_PNGS + ("report.html", "summary.json"):
            assert (week / op / name).is_file(), f"{op}/{name}"
    for name in CELL_PNGS + ("report.html", "summary.json"):
        assert (week / "cell" / name).is_file(), name


def _colours(png: Path) -> Counter:
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(np.int32)
    flat = rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]
    return Counter(dict(zip(*np.unique(flat, return_counts=True))))


def _hex(c: str) -> int:
    return int(c.lstrip("#"), 16)


@pytest.mark.parametrize("where,names", [("op-novice-01", OPERATOR_PNGS), ("op-limited-03", OPERATOR_PNGS),
                                         ("cell", CELL_PNGS)])
def test_charts_are_real_pictures(week, where, names):
    palette = {_hex(c) for c in (*AL_COLOURS, *SERIES)}
    for name in names:
        png = week / where / name
        width, height = Image.open(png).size
        assert height >= 280 and width >= 700, name
        counts = _colours(png)
        total = sum(counts.values())
        big = [c for c, n in counts.items() if n >= 0.002 * total]
        assert len(big) >= 3, f"{name}: hardly any colours"
        assert 1 - counts.get(0xFFFFFF, 0) / total > 0.04, f"{name}: nearly blank"
        data = sum(n for c, n in counts.items() if c in palette)
        assert data >= 0.005 * total, f"{name}: no data drawn in the report's colours"


def _html(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("where,sections,pngs", [(op, OPERATOR_SECTIONS, OPERATOR_PNGS) for op in OPERATORS]
                         + [("cell", CELL_SECTIONS, CELL_PNGS)])
def test_html_has_every_section_and_is_self_contained(week, where, sections, pngs):
    html = _html(week / where / "report.html")
    for sid in sections:
        assert f'<section id="{sid}">' in html, sid
    assert not re.search(r"https?://|<script|<link|@import|url\(", html)
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == len(pngs)
    for src, fig in zip(srcs, re.findall(r'<figure data-file="([^"]+)"', html)):
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == (week / where / fig).read_bytes()  # the PNG beside it
    assert "SIMULATED" in html  # simulated data says so


def _sql_counts(log: Path, kind: str) -> Counter:
    db = sqlite3.connect(log)
    rows = db.execute("SELECT json_extract(payload, '$.step_id'), count(*) FROM events WHERE type='TaskEvent' "
                      "AND json_extract(payload, '$.kind') = ? GROUP BY 1", (kind,)).fetchall()
    db.close()
    return Counter(dict(rows))


def _table(html: str, table: str, col: str) -> dict[str, int]:
    body = re.search(rf'<table id="{table}">(.*?)</table>', html, re.S).group(1)
    out = {}
    for key, row in re.findall(r'<tr data-(?:step|day)="([^"]+)"[^>]*>(.*?)</tr>', body, re.S):
        m = re.search(rf'data-col="{re.escape(col)}">([^<]*)<', row)
        out[key] = int(m.group(1))
    return out


def _units_sql(log: Path, steps: int) -> int:
    db = sqlite3.connect(log)
    n = db.execute(
        "SELECT count(*) FROM (SELECT order_id, json_extract(payload, '$.unit') u FROM events WHERE type='StepState' "
        "AND json_extract(payload, '$.phase')='done' AND NOT json_extract(payload, '$.order_done') "
        "GROUP BY date(wall, 'unixepoch', 'localtime'), order_id, u "
        "HAVING count(DISTINCT step_id) = ?)", (steps,)).fetchone()[0]
    db.close()
    return n


@pytest.mark.parametrize("op", OPERATORS)
def test_numbers_in_the_report_are_the_logs_numbers(week, op):
    log = week / "logs" / f"{op}.sqlite"
    html = _html(week / op / "report.html")
    wrong, helps = _sql_counts(log, "wrong_pick"), _sql_counts(log, "help")
    assert sum(wrong.values()) > 0
    table_wrong = _table(html, "errors-table", "wrong_picks")
    table_help = _table(html, "errors-table", "help_calls")
    for step, n in wrong.items():
        assert table_wrong[step] == n, step
    for step, n in helps.items():
        assert table_help[step] == n, step
    assert sum(table_wrong.values()) == sum(wrong.values())
    key = re.search(r'<li data-key="wrong_picks"><b>(\d+)</b>', html).group(1)
    assert int(key) == sum(wrong.values())
    units = int(re.search(r'<li data-key="units"><b>(\d+)</b>', html).group(1))
    assert units == _units_sql(log, 11) > 0
    per_day = _table(html, "days-table", "wrong_picks")
    db = sqlite3.connect(log)
    sql_days = dict(db.execute("SELECT date(wall, 'unixepoch', 'localtime'), count(*) FROM events WHERE "
                               "type='TaskEvent' AND json_extract(payload, '$.kind')='wrong_pick' GROUP BY 1"))
    db.close()
    assert {d: n for d, n in per_day.items() if n} == sql_days
    summary = json.loads((week / op / "summary.json").read_text())
    assert summary["wrong_picks"] == sum(wrong.values())
    # every wrong-pick suggestion quotes the step's count from the log
    for m in re.finditer(r'<li data-rule="wrong_picks" data-subject="([^"]+)"[^>]*>[^:]*: (\d+) picks', html):
        assert int(m.group(2)) == wrong[m.group(1)]


def test_cell_report_adds_up_the_operators(week):
    html = _html(week / "cell" / "report.html")
    total = Counter()
    for op in OPERATORS:
        total.update(_sql_counts(week / "logs" / f"{op}.sqlite", "wrong_pick"))
    table = _table(html, "errors-table", "wrong_picks")
    for step, n in total.items():
        assert table[step] == n
    for op in OPERATORS:
        per_op = _table(html, "errors-table", f"wrong_picks:{op}")
        assert sum(per_op.values()) == sum(_sql_counts(week / "logs" / f"{op}.sqlite", "wrong_pick").values())
    summary = json.loads((week / "cell" / "summary.json").read_text())
    assert summary["operators"] == sorted(OPERATORS)
    assert 0.05 < summary["cobot_running_share"] < 0.95


def test_report_command_on_a_log_and_a_period(week, tmp_path):
    res = runner.invoke(report_cli, ["report", str(CONFIG), "--operator", "op-limited-03", "--log",
                                     str(week / "logs" / "op-limited-03.sqlite"), "--since", "2026-11-17",
                                     "--until", "2026-11-17", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["days"] == ["2026-11-17"]
    res = runner.invoke(report_cli, ["report", str(CONFIG), "--cell", "--days", "1", "--out", str(tmp_path / "c"),
                                     *sum((["--log", str(week / "logs" / f"{op}.sqlite")] for op in OPERATORS), [])])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "c" / "summary.json").read_text())["days"] == ["2026-11-18"]


def test_report_command_says_what_is_wrong(week, tmp_path):
    log = str(week / "logs" / "op-novice-01.sqlite")
    res = runner.invoke(report_cli, ["report", str(CONFIG), "--log", log])
    assert res.exit_code == 2 and "--operator" in res.output
    res = runner.invoke(report_cli, ["report", str(CONFIG), "--operator", "op-nobody", "--log", log])
    assert res.exit_code == 1 and "op-novice-01" in res.output  # names who is in the log
    res = runner.invoke(report_cli, ["report", str(CONFIG), "--cell", "--log", str(tmp_path / "missing.sqlite")])
    assert res.exit_code == 2 and "no such event log" in res.output
    res = runner.invoke(report_cli, ["report", str(CONFIG), "--cell", "--log", log, "--days", "2", "--since",
                                     "2026-11-16"])
    assert res.exit_code == 2


# ---- suggestions on logs built by hand -------------------------------------------------------

class Log:
    """Writes messages of one operator's shifts on given days (wall = that day 08:00 + t)."""

    def __init__(self, path: Path, operator: str):
        self.path, self.op = path, operator
        self.base = 0.0
        self.store = EventStore(path, clock=lambda: self.base)
        self.seq = 0

    def day(self, d: date, msgs) -> None:
        start = datetime.combine(d, dtime(8, 0)).timestamp()
        for m in msgs:
            self.base = start + m.t
            self.store.append(m)

    def step(self, t: float, step: str, unit: int, who: str = "operator", dur: float = 5.0, index: int = 0):
        out = []
        for phase, tt in (("active", t), ("done", t + dur)):
            self.seq += 1
            out.append(StepState(src="engine", t=tt, seq=self.seq, order_id="wo1", task_id="desk-lamp", step_id=step,
                                 step_index=index, step_count=11, phase=phase, assignee=who, unit=unit, units_total=999))
        return out

    def frame(self, t: float, step: str, al: int, parts: dict | None = None):
        grand = {1: 2, 2: 3, 3: 5, 4: 7}[al]
        return ErgonomicScore(src="ergonomics", t=t, operator_id=self.op, rula_grand=grand, rula_action_level=al,
                              rula_left=grand, rula_right=grand, confidence=0.9, step_id=step,
                              parts=parts or {"upper_arm": 1, "lower_arm": 1, "wrist": 1, "neck": 1, "trunk": 1,
                                              "legs": 1})

    def wrong(self, t: float, step: str, zone: str):
        return TaskEvent(src="engine", t=t, kind="wrong_pick", zone=zone, order_id="wo1", step_id=step)

    def stress(self, t: float, index: float = 0.2):
        return StressEstimate(src="stress", t=t, operator_id=self.op, index=index, confidence=1.0)


def _shift(log: Log, *, wrong_stem: int, wrong_socket: int, strained_shade: bool) -> list:
    """40 units of two operator steps, the cobot's screw_shade, scored frames and calm stress estimates."""
    msgs = []
    t = 0.0
    wrong_left = {"insert_stem": wrong_stem, "mount_socket": wrong_socket}
    for u in range(40):
        for step, zone in (("insert_stem", "bin_screws"), ("mount_socket", "bin_shade")):
            msgs += log.step(t, step, u)
            msgs += [log.frame(t + k, step, 2) for k in range(5)]
            if wrong_left[step]:
                msgs.append(log.wrong(t + 1, step, zone))
                wrong_left[step] -= 1
            t += 6.0
        # screw_shade: the operator does it on even units (posture as given), the cobot on odd ones
        who = "operator" if u % 2 == 0 else "cobot"
        msgs += log.step(t, "screw_shade", u, who=who, dur=10.0)
        if who == "operator":
            for k in range(10):
                al = 3 if (strained_shade and k < 4) else 2
                msgs.append(log.frame(t + k, "screw_shade", al, {"upper_arm": 4 if al == 3 else 1, "lower_arm": 1,
                                                                  "wrist": 1, "neck": 1, "trunk": 1, "legs": 1}))
        else:
            msgs.append(Allocation(src="engine", t=t, order_id="wo1", step_id="screw_shade", unit=u, assignee="cobot",
                                   policy="ergonomic", reassigned=True,
                                   reason="the cobot takes the strain: the shoulder right muscles are 55% fatigued; "
                                          "this step usually scores RULA 5 for this operator"))
        t += 11.0
    msgs += [log.stress(float(s)) for s in np.arange(5.0, t, 30.0)]
    msgs.sort(key=lambda m: m.t)
    return msgs


def _build(tmp_path: Path, name: str, **kw) -> Path:
    log = Log(tmp_path / f"{name}.sqlite", "op-novice-01")
    for d in (date(2026, 11, 16), date(2026, 11, 17)):
        log.day(d, _shift(log, **kw))
    log.store.close()
    return log.path


def _suggest(path: Path):
    cfg = load_config(CONFIG)
    sel = read_rows([path], operator_id="op-novice-01")
    s = operator_summary(sel.rows, cfg, "op-novice-01", sel.shift_start)
    return s, operator_suggestions(s, cfg, Texts("en"))


def test_suggestions_follow_the_data(tmp_path):
    path = _build(tmp_path, "busy", wrong_stem=7, wrong_socket=1, strained_shade=True)
    s, sug = _suggest(path)
    # what went in is what the summary counts (rows without an operator id were attributed to the log's operator)
    assert s.steps["insert_stem"].wrong_picks == 14 and s.steps["insert_stem"].done_operator == 80
    assert s.steps["mount_socket"].wrong_picks == 2
    assert s.steps["screw_shade"].done_operator == 40 and s.steps["screw_shade"].done_cobot == 40
    rules = {(x.rule, x.subject) for x in sug}
    # 14 wrong picks in 80 picks (18%) at the stem: suggested, naming the right bin and the one taken instead
    assert ("wrong_picks", "insert_stem") in rules
    text = next(x.text for x in sug if x.rule == "wrong_picks")
    assert "14 picks from a wrong bin in 2 days" in text and "bin C (M4 screw) instead of bin B (stem)" in text
    # 2 at the socket: below the rule's minimum of 5, not suggested
    assert ("wrong_picks", "mount_socket") not in rules
    # screw_shade at level 3 for 40% of its time, and the cobot can do it: the cobot should take it
    assert ("posture_cobot", "screw_shade") in rules
    text = next(x.text for x in sug if x.rule == "posture_cobot")
    assert "40%" in text and "20 of the 80 times" not in text and "40 of the 80 times" in text
    assert "shoulder" in text
    # no posture suggestion for the steps that stayed at level 2, no stress, no help
    assert not {r for r, subj in rules if subj in ("insert_stem", "mount_socket") and r.startswith("posture")}
    assert not {r for r, _ in rules if r.startswith(("stress", "help"))}
    assert s.reasons["the cobot takes the strain"].count == 40
    assert reason_driver("the cobot takes the strain: the shoulder right muscles are 55% fatigued") == \
        ("tired", "shoulder", "right")


def test_no_suggestion_when_the_data_shows_nothing(tmp_path):
    path = _build(tmp_path, "calm", wrong_stem=1, wrong_socket=0, strained_shade=False)
    s, sug = _suggest(path)
    assert [x.rule for x in sug] == ["none"]
    assert "No changes suggested" in sug[0].text
    rep = operator_report(load_config(CONFIG), [path], "op-novice-01", tmp_path / "calm-report")
    html = _html(rep.html)
    assert 'data-rule="none"' in html and 'data-rule="wrong_picks"' not in html
    assert "SIMULATED" not in html  # hand-made rows from no simulated source


def test_html_suggestions_of_a_hand_made_log(tmp_path):
    path = _build(tmp_path, "busy", wrong_stem=7, wrong_socket=1, strained_shade=True)
    rep = operator_report(load_config(CONFIG), [path], "op-novice-01", tmp_path / "busy-report")
    html = _html(rep.html)
    assert re.search(r'data-rule="wrong_picks" data-subject="insert_stem"[^>]*>2\. Stem: 14 picks', html)
    assert 'data-rule="posture_cobot" data-subject="screw_shade"' in html
    assert _table(html, "errors-table", "wrong_picks") == {"insert_stem": 14, "mount_socket": 2, "screw_shade": 0}


def test_rows_without_an_operator_go_to_the_operator_of_that_day(tmp_path):
    """Logs from before every row named the operator: only a day with one operator is attributed."""
    log = Log(tmp_path / "shared.sqlite", "op-novice-01")
    log.day(date(2026, 11, 16), log.step(0.0, "insert_stem", 0) + [log.stress(1.0)])
    log.op = "op-limited-03"
    log.day(date(2026, 11, 17), log.step(0.0, "insert_stem", 0) + log.step(10.0, "insert_stem", 1) + [log.stress(1.0)])
    # a day with both: the step states there could be either person's, so they are nobody's
    log.day(date(2026, 11, 18), log.step(0.0, "insert_stem", 0) + [log.stress(1.0)])
    log.op = "op-novice-01"
    log.day(date(2026, 11, 18), [log.stress(100.0)])
    log.store.close()
    cfg = load_config(CONFIG)
    for op, n in (("op-novice-01", 1), ("op-limited-03", 2)):
        sel = read_rows([log.path], operator_id=op)
        s = operator_summary(sel.rows, cfg, op, sel.shift_start)
        assert s.steps["insert_stem"].done_operator == n, op


def test_reason_lead_phrases():
    assert reason_lead("load is raised (the shoulder right muscles are 54% fatigued) and the cobot is as quick at "
                       "this step (9 s, this operator 12 s): the cobot takes it") == "load is raised"
    assert reason_lead("signs of strain (stress index 0.75); the cobot takes this step so the operator can settle") \
        == "signs of strain"
    assert reason_lead("keeps meaningful work with the operator: 49% of the steps so far") == \
        "keeps meaningful work with the operator"
