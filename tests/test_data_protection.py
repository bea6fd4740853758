"""Data about people: retention deletes old rows, export is complete and about one person only, delete leaves nothing.

The event log is built by two simulated shifts of different operators into one
file, as a bench shared by two people over a week would have it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from cell.cli_data import data_app
from cell.config_loader import load_config
from cell.engine import EngineState, dump_state
from cell.messages import ErgonomicScore, StepState, TaskEvent
from cell.simulator.shift import run_shift
from cell.store import SCHEMA_VERSION, EventStore

ROOT = Path(__file__).resolve().parent.parent
A, B = "op-novice-01", "op-experienced-02"
NO_OPERATOR_FIELD = {"StepState", "Allocation", "TaskEvent", "RobotStatus", "RobotCommand", "DeviceEvent"}
runner = CliRunner()


def step_state(t: float = 0.0) -> StepState:
    return StepState(src="engine", t=t, seq=1, order_id="o1", task_id="desk-lamp", step_id="s", step_index=0,
                     step_count=3, phase="active", assignee="operator", unit=1, units_total=1)


def score(op: str, t: float = 0.0) -> ErgonomicScore:
    return ErgonomicScore(src="ergo", t=t, operator_id=op, rula_grand=3, rula_action_level=2, rula_left=3,
                          rula_right=2, confidence=0.9)


@pytest.fixture
def cell(tmp_path):
    """A copy of the example cell whose event log holds a shift of A (with a heart-rate wearable) then one of B."""
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    config = tmp_path / "configs" / "lamp-cell.yaml"
    text = config.read_text()
    assert "path: ../data/lamp-cell-1.sqlite" in text
    config.write_text(text.replace("path: ../data/lamp-cell-1.sqlite", f"path: {tmp_path / 'events.sqlite'}"))
    cfg = load_config(config)
    log = cfg.resolve(cfg.store.path)
    run_shift(cfg, operator_id=A, duration_s=300, seed=1, log_path=log, stress_at_s=100.0)
    a_rows = sqlite3.connect(log).execute("SELECT COUNT(*) FROM events").fetchone()[0]
    run_shift(cfg, operator_id=B, duration_s=300, seed=2, log_path=log)
    return config, log, a_rows


def cli(*args: str, input: str | None = None):
    return runner.invoke(data_app, [str(a) for a in args], input=input, catch_exceptions=False)


# ---- the store ------------------------------------------------------------------------------

def test_rows_without_an_operator_field_get_the_operator_at_the_cell(tmp_path):
    store = EventStore(tmp_path / "e.sqlite", operator_id=A)
    store.append_many([step_state(), TaskEvent(src="t", t=0.0, kind="pick"), score(B)])
    bare = EventStore(tmp_path / "bare.sqlite")  # a store told nobody attributes nothing
    bare.append(step_state())
    try:
        assert store.operators() == {A: 2, B: 1}  # a message naming its operator keeps it
        assert bare.operators() == {} and bare.unattributed() == 1
    finally:
        store.close()
        bare.close()


def test_retention_deletes_rows_older_than_the_period_and_keeps_newer(tmp_path):
    day = 86400.0
    now = [1_700_000_000.0]
    store = EventStore(tmp_path / "e.sqlite", retention_days=90, clock=lambda: now[0], operator_id=A)
    try:
        for age_days in (200, 91, 90.5, 89, 10, 0):
            now[0] = 1_700_000_000.0 - age_days * day
            store.append(step_state(t=age_days))
        now[0] = 1_700_000_000.0
        assert store.purge() == 3
        assert sorted(e["t"] for e in store.events()) == [0, 10, 89]
        assert store.purge() == 0  # idempotent
        now[0] += 81 * day
        assert store.purge() == 2  # time passes: the 10- and 89-day-old rows pass 90 days, the new one stays
    finally:
        store.close()


def test_a_version_1_log_still_opens_and_its_rows_are_attributed(tmp_path):
    def v1_log(path: Path, operators: list[str]) -> None:
        store = EventStore(path)
        store.append_many([step_state()] + [score(op) for op in operators])
        with store.db:
            store.db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
        store.close()

    v1_log(tmp_path / "one.sqlite", [A])
    v1_log(tmp_path / "two.sqlite", [A, B])
    one, two = EventStore(tmp_path / "one.sqlite"), EventStore(tmp_path / "two.sqlite")
    try:
        assert one.db.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)
        assert one.operators() == {A: 2} and one.unattributed() == 0  # one operator: certainly theirs
        assert two.operators() == {A: 1, B: 1} and two.unattributed() == 1  # several: not guessed
    finally:
        one.close()
        two.close()


def test_the_store_node_attributes_rows_and_purges_at_start(tmp_path):
    from cell.config import StoreSettings
    from cell.nodes import RunOptions
    from cell.nodes.store_node import StoreNode
    from tests.helpers_nodes import local_endpoints

    cfg = load_config(ROOT / "configs" / "lamp-cell.yaml")
    cfg = cfg.model_copy(update={"store": StoreSettings(path=tmp_path / "e.sqlite", retention_days=30)})
    old = EventStore(tmp_path / "e.sqlite", clock=lambda: 1_000_000.0)  # written long ago
    old.append(step_state())
    old.close()
    node = StoreNode(cfg, local_endpoints(), RunOptions(operator_id="op-limited-03"))
    try:
        node.on_start(0.0)
        assert node.store.count() == 0 and node.counters["purged"] == 1
        node.on_message(step_state(), 0.1)
        node.on_stop(0.2)
        check = EventStore(tmp_path / "e.sqlite")
        assert check.operators() == {"op-limited-03": 1}
        check.close()
    finally:
        node.close()
    with pytest.raises(ValueError, match="no operator 'op-nobody'.*op-novice-01"):
        StoreNode(cfg, local_endpoints(), RunOptions(operator_id="op-nobody"))


# ---- cell data export / delete / purge ------------------------------------------------------

def test_export_holds_every_row_about_the_operator_and_nothing_about_another(cell, tmp_path):
    config, log, a_rows = cell
    names = tmp_path / "names.csv"
    names.write_text(f"operator_id,name\n{A},Anna de Vries\n{B},Bram Jansen\n")
    out = tmp_path / "export" / "a.json"
    r = cli("export", config, "--operator", A, "--out", out, "--names", names)
    assert r.exit_code == 0, r.output
    assert out.stat().st_mode & 0o077 == 0  # personal data: readable by its owner only
    text = out.read_text()
    export = json.loads(text)
    ids = [row["id"] for row in export["rows"]]
    assert ids == list(range(1, a_rows + 1))  # every row A's shift wrote, in order
    types = {row["type"] for row in export["rows"]}
    assert NO_OPERATOR_FIELD <= types  # including messages that do not name a person
    assert {"ErgonomicScore", "StressEstimate"} <= types
    h = export["header"]
    assert h["operator_id"] == A and h["name"] == "Anna de Vries" and h["retention_days"] == 90
    assert h["rows"] == a_rows and sum(k["rows"] for k in h["kinds"].values()) == a_rows
    assert h["kinds"]["StressEstimate"]["health_data"] and "exported_at" in h
    assert B not in text and "Bram" not in text  # nothing about the other operator
    assert {row["attributed_by"] for row in export["rows"] if row["type"] == "StepState"} == {"cell"}
    # B's export is the rest of the log
    b = json.loads(cli("export", config, "--operator", B).stdout)
    total = sqlite3.connect(log).execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert b["header"]["rows"] == total - a_rows and "name" not in b["header"]
    assert A not in json.dumps(b)


def test_unknown_operator_lists_the_known_ones(cell):
    config, _, _ = cell
    r = runner.invoke(data_app, ["export", str(config), "--operator", "op-nobody"])
    assert r.exit_code == 2
    assert "op-nobody" in r.output and "op-limited-03" in r.output and A in r.output


def test_delete_leaves_no_row_and_no_trace_in_the_file(cell, tmp_path):
    config, log, a_rows = cell
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    state = state_dir / "engine-lamp-cell-1.json"
    state.write_bytes(dump_state(EngineState(seq=3, help_requested=True)))
    assert A.encode() in log.read_bytes()
    r = cli("delete", config, "--operator", A, "--state-dir", state_dir, input="n\n")
    assert r.exit_code == 1 and "Delete" in r.output  # asked, and said no: nothing happened
    assert sqlite3.connect(log).execute("SELECT COUNT(*) FROM events WHERE operator_id=?", (A,)).fetchone()[0]
    r = cli("delete", config, "--operator", A, "--yes", "--state-dir", state_dir)
    assert r.exit_code == 0, r.output
    assert f"deleted {a_rows} rows" in r.output and "warning" not in r.output
    assert state.exists()  # B worked last: the engine state is not about A
    db = sqlite3.connect(log)
    try:
        assert db.execute("SELECT COUNT(*) FROM events WHERE operator_id=? OR operator_id IS NULL "
                          "OR payload LIKE ?", (A, f"%{A}%")).fetchone()[0] == 0
        assert db.execute("SELECT MIN(id) FROM events").fetchone()[0] == a_rows + 1  # B's rows are all there
        assert db.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)
    finally:
        db.close()
    for f in log.parent.glob(log.name + "*"):  # the file, and any write-ahead log left beside it
        assert A.encode() not in f.read_bytes(), f
    assert B.encode() in log.read_bytes()  # (the byte check can see an id)
    # B worked last: deleting B takes the engine state too, and export of A is now empty
    r = cli("delete", config, "--operator", B, "--yes", "--state-dir", state_dir)
    assert r.exit_code == 0 and not state.exists() and "engine state" in r.output
    assert json.loads(cli("export", config, "--operator", A).stdout)["header"]["rows"] == 0


def test_export_includes_the_engine_state_of_the_last_operator(cell, tmp_path):
    config, _, _ = cell
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "engine-lamp-cell-1.json").write_bytes(msgspec.json.encode(EngineState(seq=7)))
    b = json.loads(cli("export", config, "--operator", B, "--state-dir", tmp_path / "state").stdout)
    a = json.loads(cli("export", config, "--operator", A, "--state-dir", tmp_path / "state").stdout)
    assert b["engine_state"]["state"]["seq"] == 7 and "engine_state" not in a


def test_purge_command_applies_retention_now(cell):
    config, log, _ = cell
    old = EventStore(log, clock=lambda: 1_000_000.0, operator_id=A)  # rows written in 1970
    old.append_many([step_state(), score(A)])
    old.close()
    r = cli("purge", config)
    assert r.exit_code == 0 and "deleted 2 rows" in r.output, r.output
    r = cli("operators", config)
    assert "op-limited-03" in r.output and A in r.output


def test_names_file_check_prints_ids_not_names(cell, tmp_path):
    config, _, _ = cell
    names = tmp_path / "names.yaml"
    names.write_text(f"{A}: Anna de Vries\nop-left-99: Piet\n")
    r = cli("names", config, "--names", names)
    assert r.exit_code == 0
    assert "Anna" not in r.output and "Piet" not in r.output
    assert "op-left-99" in r.output and "op-limited-03" in r.output
