"""Per-operator task adaptation: the adapted task, the engine and the bench with it, config errors,
proposals from the event log and the YAML patch that applies them (cell adapt)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cell.adaptation import (
    Proposal, apply_change, combined_change, guidance_for, propose, split_parent, step_evidence, task_for,
)
from cell.allocation import ErgonomicAllocator, StaticAllocator
from cell.cli_adapt import adapt, edit_operators_text, render_patch
from cell.config import Device, OperatorProfile
from cell.config_loader import ConfigError, load_config
from cell.engine import TaskEngine
from cell.messages import Allocation, ErgonomicScore, RobotCommand, StepState, TaskEvent
from cell.store import EventStore
from projection.bench_view import bench_view

ROOT = Path(__file__).resolve().parent.parent

SPLIT = [
    {"title": {"nl": "Schroeven", "en": "Screws"}, "instruction": {"nl": "Pak 2 schroeven", "en": "Take 2 screws"},
     "pictogram": "pick", "pick": {"zone": "bin_screws", "quantity": 2}},
    {"title": {"nl": "Vastdraaien", "en": "Fasten"},
     "instruction": {"nl": "Draai de steel vast en druk op klaar", "en": "Fasten the stem and press done"},
     "place": {"zone": "fixture"}, "verify": {"by": "button", "zone": "button_done"}, "guidance": "minimal"},
]


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "configs" / "lamp-cell.yaml")


def adapted(cfg, operator="op-limited-03", **update):
    """The config with one profile changed (``update`` merged into its data) and that profile."""
    base = cfg.operator(operator)
    profile = OperatorProfile.model_validate({**base.model_dump(mode="json"), **update})
    new = cfg.model_copy(update={"operators": [profile if o.id == operator else o for o in cfg.operators]})
    return new, profile


# ---- task_for -----------------------------------------------------------------------------------

def test_no_adaptation_is_the_task_itself(cfg):
    task = cfg.task("desk-lamp")
    assert task_for(cfg, task, cfg.operator("op-novice-01")) is task


def test_task_for_applies_text_pictogram_and_guidance(cfg):
    c, p = adapted(cfg, steps={"insert_stem": {"title": {"en": "Stem in"}, "instruction": {"en": "Push the stem in"},
                                               "pictogram": "press", "guidance": "full"},
                               "mount_socket": {"guidance": "minimal"}},
                   limits={"practice_steps": ["fit_shade"]})
    task = task_for(c, c.task("desk-lamp"), p)
    s = task.step("insert_stem")
    assert (s.title, s.instruction, s.pictogram) == ({"en": "Stem in"}, {"en": "Push the stem in"}, "press")
    assert s.pick == cfg.task("desk-lamp").step("insert_stem").pick  # the rest as the task says
    assert [x.id for x in task.steps] == [x.id for x in cfg.task("desk-lamp").steps]
    assert guidance_for(p, "insert_stem") == "full"
    assert guidance_for(p, "mount_socket") == "minimal"
    assert guidance_for(p, "fit_shade") == "full"          # a practice step: full support
    assert guidance_for(p, "check_lamp") == "standard"     # the profile's


def test_task_for_splits_a_step_and_keeps_precedence(cfg):
    c, p = adapted(cfg, steps={"screw_stem": {"pictogram": "screw", "split": SPLIT}})
    task = task_for(c, c.task("desk-lamp"), p)
    ids = [s.id for s in task.steps]
    assert ids[:5] == ["base_to_fixture", "insert_stem", "screw_stem.1", "screw_stem.2", "prep_cable"]
    assert "screw_stem" not in ids
    one, two = task.step("screw_stem.1"), task.step("screw_stem.2")
    assert (one.action, one.pick.zone, one.pick.quantity, one.place) == ("pick", "bin_screws", 2, None)
    assert (two.action, two.place.zone, two.verify.by) == ("place", "fixture", "button")
    assert one.who == two.who == "operator"                 # the cobot's program is for the whole step
    assert one.pictogram == "pick" and two.pictogram == "screw"
    assert one.target_time_s == two.target_time_s == 6       # 12 s shared evenly
    preds = {task.steps[i].id: {task.steps[j].id for j in p_} for i, p_ in enumerate(task.predecessors())}
    assert preds["screw_stem.1"] == {"insert_stem"}          # what the step waited for
    assert preds["screw_stem.2"] == {"screw_stem.1"}
    assert preds["thread_cable"] == {"screw_stem.2", "prep_cable"}  # after: [screw_stem, ...] -> its last part
    assert preds["prep_cable"] == set()
    assert split_parent(p, "screw_stem.2") == ("screw_stem", 2)
    assert guidance_for(p, "screw_stem.2") == "minimal" and guidance_for(p, "screw_stem.1") == "standard"


def test_split_of_a_parallel_step_keeps_it_parallel(cfg):
    split = [{"title": {"en": "Cable"}, "instruction": {"en": "Cable in the side fixture"},
              "pick": {"zone": "bin_cable"}, "place": {"zone": "fixture_side"}},
             {"title": {"en": "Plug"}, "instruction": {"en": "Click the plug on"}, "highlight": ["fixture_side"]}]
    c, p = adapted(cfg, steps={"prep_cable": {"split": split}})
    task = task_for(c, c.task("desk-lamp"), p)
    preds = {task.steps[i].id: {task.steps[j].id for j in p_} for i, p_ in enumerate(task.predecessors())}
    assert preds["prep_cable.1"] == set() and preds["prep_cable.2"] == {"prep_cable.1"}
    assert preds["thread_cable"] == {"screw_stem", "prep_cable.2"}
    assert preds["mount_socket"] == {"thread_cable"}
    assert task.step("prep_cable.2").action == "confirm"


# ---- the engine, the bench, the simulated operator -----------------------------------------------

def _do(e: TaskEngine, t: float) -> list:
    """Do the operator's step as a careful person would."""
    step = e.operator_step()
    out = []
    if step.pick:
        for _ in range(step.pick.quantity):
            out += e.handle(TaskEvent(src="tracking", t=t, kind="pick", zone=step.pick.zone), t)
    if step.place:
        out += e.handle(TaskEvent(src="tracking", t=t, kind="place", zone=step.place.zone), t)
    if step.press:
        out += e.handle(TaskEvent(src="tracking", t=t, kind="press", zone=step.press), t)
    elif step.verify.by == "button":
        out += e.handle(TaskEvent(src="tracking", t=t, kind="press", zone=step.verify.zone), t)
    elif step.action == "confirm":
        out += e.handle(TaskEvent(src="tracking", t=t, kind="confirm"), t)
    return out


def test_split_runs_end_to_end_in_the_engine(cfg):
    c, p = adapted(cfg, "op-novice-01", steps={"screw_stem": {"split": SPLIT}})
    e = TaskEngine(c, p, StaticAllocator(c.allocation))
    out = e.start_order("desk-lamp", 1, 0.0)
    done: list[str] = []
    t = 0.0
    order_done = False
    for _ in range(40):
        t += 1.0
        # the cobot's steps finish when its program does
        for cmd in [m for m in out if isinstance(m, RobotCommand) and m.action == "run"]:
            from cell.messages import RobotStatus
            out += e.handle(RobotStatus(src="robot", t=t, mode="idle", run_id=cmd.cmd_id, finished=True,
                                        step_id=cmd.step_id), t)
        done += [m.step_id for m in out if isinstance(m, StepState) and m.phase == "done"
                 and m.assignee == "operator" and not m.order_done]
        order_done = order_done or any(isinstance(m, StepState) and m.order_done for m in out)
        if order_done:
            break
        if e.operator_step() is None:
            out = []
            continue
        if e.operator_step().id == "screw_stem.1":
            # the sub-step is done by its own event: the picks; a place does not finish it
            assert e.state.current.op.phase == "active"
            out = e.handle(TaskEvent(src="tracking", t=t, kind="place", zone="fixture"), t)
            assert e.operator_step().id == "screw_stem.1"
        if e.operator_step().id == "screw_stem.2":
            out = e.handle(TaskEvent(src="tracking", t=t, kind="place", zone="fixture"), t)
            assert [m.phase for m in out if isinstance(m, StepState)] == ["verifying"]  # waits for the button
        out = _do(e, t)
    assert order_done
    assert done.index("insert_stem") < done.index("screw_stem.1") < done.index("screw_stem.2") \
        < done.index("thread_cable")
    assert "screw_stem" not in done
    states = [m for m in out if isinstance(m, StepState)]
    assert states and states[-1].step_count == 12


def test_a_split_step_never_goes_to_the_cobot(cfg):
    c, p = adapted(cfg, "op-novice-01", steps={"screw_stem": {"split": SPLIT}})
    e = TaskEngine(c, p, ErgonomicAllocator(c.allocation, c.thresholds))
    e.state.robot_mode = "idle"
    out = e.start_order("desk-lamp", 1, 0.0)
    t = 0.0
    allocs = []
    while e.operator_step() is not None and e.operator_step().id != "thread_cable" and t < 30:
        t += 1.0
        # the operator is loaded: every frame at action level 4
        for _ in range(30):
            e.handle(ErgonomicScore(src="ergo", t=t, operator_id=p.id, rula_grand=7, rula_action_level=4,
                                    rula_left=7, rula_right=7, confidence=1.0, step_id=e.operator_step().id), t)
        out = _do(e, t)
        allocs += [m for m in out if isinstance(m, Allocation)]
    subs = [a for a in allocs if a.step_id.startswith("screw_stem.")]
    assert {a.step_id for a in subs} == {"screw_stem.1", "screw_stem.2"}
    assert all(a.assignee == "operator" for a in subs)
    assert not any(m.step_id.startswith("screw_stem.") for m in out if isinstance(m, RobotCommand))


def _state(step_id, index, phase="active", assignee="operator", count=12):
    return StepState(src="engine", t=0.0, seq=1, order_id="wo1", task_id="desk-lamp", step_id=step_id,
                     step_index=index, step_count=count, phase=phase, assignee=assignee, unit=1, units_total=5)


def test_bench_shows_the_sub_step(cfg):
    c, p = adapted(cfg, steps={"screw_stem": {"split": SPLIT}})  # an English-speaking operator
    view = bench_view(c, p, _state("screw_stem.1", 2))
    assert view.instruction == "Take 2 screws"
    assert view.pictogram == "pick"
    assert [(h.zone_id, h.role, h.quantity) for h in view.highlights] == [("bin_screws", "pick", 2)]
    view = bench_view(c, p, _state("screw_stem.2", 3, phase="verifying"))
    assert view.guidance == "minimal" and view.instruction == "Fasten"  # minimal: the short title, no pictogram
    assert view.pictogram == ""
    assert ("button_done", "press") in [(h.zone_id, h.role) for h in view.highlights]
    # the step named whole (a preview of the task as written) is still shown
    assert bench_view(c, p, _state("screw_stem", 2, count=11)).instruction == "Take 2 screws and fasten the stem"


def test_bench_shows_overrides_and_per_step_guidance(cfg):
    c, p = adapted(cfg, guidance="minimal", steps={"insert_stem": {"instruction": {"en": "One stem, push hard"},
                                                                    "pictogram": "press", "guidance": "full"}},
                   limits={"practice_steps": ["check_lamp"], "max_load_kg": 2.0, "no_overhead": True})
    view = bench_view(c, p, _state("insert_stem", 1, count=11))
    assert (view.instruction, view.pictogram, view.guidance) == ("One stem, push hard", "press", "full")
    assert bench_view(c, p, _state("check_lamp", 9, count=11)).guidance == "full"   # practice
    other = bench_view(c, p, _state("mount_socket", 5, count=11))
    assert (other.guidance, other.pictogram) == ("minimal", "")


def test_simulated_operator_does_the_sub_steps(cfg):
    from cell.simulator.operator import SimulatedOperator

    c, p = adapted(cfg, "op-novice-01", steps={"screw_stem": {"split": SPLIT}})
    p = p.model_copy(update={"simulation": p.simulation.model_copy(update={"error_rate": 0.0, "help_rate": 0.0})})
    person = SimulatedOperator(c, p, seed=1)
    person.on_step(_state("screw_stem.1", 2), 0.0)
    evs = person.events_until(1e9)
    assert [(x.kind, x.zone) for x in evs] == [("pick", "bin_screws"), ("pick", "bin_screws")]
    person.on_step(_state("screw_stem.2", 3), 100.0)
    evs = person.events_until(1e9)
    assert [(x.kind, x.zone) for x in evs] == [("place", "fixture"), ("press", "button_done")]
    assert {x.step_id for x in evs} == {"screw_stem.2"}


# ---- config errors --------------------------------------------------------------------------------

@pytest.fixture()
def cell_copy(tmp_path):
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    return tmp_path / "configs"


def _add_to_first_operator(configs: Path, yaml_lines: str) -> Path:
    """Insert lines (indented as the profile's keys) after the first profile's 'guidance' line."""
    path = configs / "operators.yaml"
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("guidance:")) + 1
    path.write_text("".join(lines[:at]) + yaml_lines + "".join(lines[at:]))
    return path


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_config_errors_name_file_line_and_field(cell_copy):
    path = _add_to_first_operator(cell_copy, """\
    steps:
      no_such_step: {guidance: full}
      screw_stem:
        split:
          - {title: {nl: Pak}, instruction: {nl: Pak 2 schroeven}, pick: {zone: bin_nope, quantity: 2}}
          - {title: {nl: Vast}, instruction: {nl: Draai vast}, place: {zone: button_done}}
      insert_stem: {instruction: {de: Stiel}}
      fit_shade:
        split:
          - {title: {nl: A}, instruction: {nl: A}, verify: {by: robot}}
          - {title: {nl: B}, instruction: {nl: B}, press: button_done}
    limits:
      forbidden_steps: [fit_shade]
      practice_steps: [fit_shade]
""")
    with pytest.raises(ConfigError) as err:
        load_config(cell_copy / "lamp-cell.yaml")
    got = {p.field: p for p in err.value.problems}
    want = {
        "operators[0].steps.no_such_step": "no_such_step: {guidance",
        "operators[0].steps.screw_stem.split[0].pick.zone": "bin_nope",
        "operators[0].steps.screw_stem.split[1].place.zone": "place: {zone: button_done}",
        "operators[0].steps.insert_stem.instruction": "{de: Stiel}",
        "operators[0].steps.fit_shade.split": "      fit_shade:",
        "operators[0].steps.fit_shade.split[0].verify.by": "by: robot",
        "operators[0].limits.practice_steps[0]": "practice_steps",
    }
    for field, text in want.items():
        assert field in got, (field, sorted(got))
        assert got[field].file == str(path.resolve())
        line = _line_of(path, text) + (1 if field.endswith("fit_shade.split") else 0)
        assert got[field].line == line, (field, got[field])
    assert "'no_such_step' is not a step; allowed: base_to_fixture" in got["operators[0].steps.no_such_step"].message
    assert "'bin_nope' is not a zone" in got["operators[0].steps.screw_stem.split[0].pick.zone"].message
    assert "is a button, a sub-step cannot place into it" in \
        got["operators[0].steps.screw_stem.split[1].place.zone"].message
    assert "forbidden_steps" in got["operators[0].steps.fit_shade.split"].message
    assert "also in forbidden_steps" in got["operators[0].limits.practice_steps[0]"].message


@pytest.mark.parametrize("lines, field, words, at", [
    ("      screw_stem:\n        split:\n          - {title: {nl: A}, instruction: {nl: A}, action: pick}\n"
     "          - {title: {nl: B}, instruction: {nl: B}}\n",
     "operators[0].steps.screw_stem.split[0]", "action 'pick' needs 'pick'", "action: pick"),
    ("      screw_stem:\n        split:\n          - {title: {nl: A}, instruction: {nl: A}}\n",
     "operators[0].steps.screw_stem.split", "at least 2", "split:"),
    ("      screw_stem:\n        title: {nl: Schroeven}\n        split:\n          - {title: {nl: A}, instruction: {nl: A}}\n"
     "          - {title: {nl: B}, instruction: {nl: B}}\n",
     "operators[0].steps.screw_stem", "give 'title' and 'instruction' in each sub-step", "screw_stem:"),
    ("      screw_stem: {guidance: some}\n", "operators[0].steps.screw_stem.guidance",
     "'full', 'standard' or 'minimal'", "screw_stem: {guidance: some}"),
])
def test_model_errors_of_an_adaptation(cell_copy, lines, field, words, at):
    path = _add_to_first_operator(cell_copy, "    steps:\n" + lines)
    with pytest.raises(ConfigError) as err:
        load_config(cell_copy / "lamp-cell.yaml")
    problems = {p.field: p for p in err.value.problems}
    assert list(problems) == [field]
    assert words in problems[field].message
    assert problems[field].file == str(path.resolve())
    assert problems[field].line == _line_of(path, at)


def test_split_of_a_cobot_only_step_is_refused(cfg):
    from cell.config_checks import cross_check

    task = cfg.task("desk-lamp")
    steps = [s.model_copy(update={"who": "cobot", "plan": None}) if s.id == "unload_lamp" else s for s in task.steps]
    c = cfg.model_copy(update={"tasks": [task.model_copy(update={"steps": steps})]})
    c, _ = adapted(c, "op-novice-01", steps={"unload_lamp": {"split": SPLIT}})
    problems = dict(cross_check(c))
    assert "who: cobot" in problems[("operators", 0, "steps", "unload_lamp", "split")]


# ---- proposals ------------------------------------------------------------------------------------

def _rows(cfg, operator="op-novice-01", *, wrong=None, high=None, slow=None, helps=None, units=40):
    """A log of ``units`` units where the operator does every step at its target time at their pace.

    wrong: step -> wrong picks (spread over the units); high: step -> share of its frames at action
    level 4 (upper arm raised); slow: step -> factor on its time; helps: step -> help calls."""
    wrong, high, slow, helps = wrong or {}, high or {}, slow or {}, helps or {}
    pace = cfg.operator(operator).pace
    rows: list = []
    t, seq = 0.0, 0
    for unit in range(1, units + 1):
        for step in cfg.task("desk-lamp").steps:
            def state(phase, help_on=False):
                nonlocal seq
                seq += 1
                return StepState(src="engine", t=t, seq=seq, order_id="wo1", task_id="desk-lamp", step_id=step.id,
                                 step_index=0, step_count=11, phase=phase, assignee="operator", unit=unit,
                                 units_total=units, help_requested=help_on)
            rows.append(state("active"))
            if unit <= helps.get(step.id, 0):
                rows.append(state("active", help_on=True))
                rows.append(state("active"))
            if unit <= wrong.get(step.id, 0):
                rows.append(TaskEvent(src="engine", t=t + 1, kind="wrong_pick", zone="bin_socket", order_id="wo1",
                                      step_id=step.id))
            took = step.target_time_s / pace * slow.get(step.id, 1.0)
            n = int(took)
            for k in range(n):
                level = 4 if k < high.get(step.id, 0.0) * n else 2
                rows.append(ErgonomicScore(src="ergo", t=t + k, operator_id=operator, rula_grand=7 if level == 4 else 3,
                                           rula_action_level=level, rula_left=3, rula_right=3, confidence=1.0,
                                           step_id=step.id, parts={"upper_arm": 4 if level == 4 else 1, "trunk": 1}))
            t += took
            rows.append(state("done"))
    return rows


def test_propose_finds_exactly_what_the_data_supports(cfg):
    c, p = adapted(cfg, "op-limited-03")
    rows = _rows(c, "op-limited-03", wrong={"base_to_fixture": 12}, high={"screw_stem": 0.8})
    got = propose(c, p, rows)
    assert [(x.step_id, x.rule) for x in got] == [("base_to_fixture", "wrong_picks"), ("screw_stem", "posture")]
    wrong, posture = got
    assert wrong.change == {"steps": {"base_to_fixture": {"guidance": "full"}}}
    assert wrong.numbers["wrong_picks"] == 12 and wrong.numbers["done"] == 40 and wrong.numbers["rate"] == 0.3
    assert "12 picks from the wrong bin in 40 times done (30%)" in wrong.reason
    assert "bin E (bin_socket)" in wrong.reason                      # where the hand went instead
    assert "pick-to-light on bin A (bin_base)" in wrong.note          # the cell has none: suggest one
    assert posture.change == {"limits": {"forbidden_steps": ["screw_stem"]}}
    assert posture.numbers["share"] >= 0.75 and posture.numbers["region"] == "upper_arm"
    assert "mostly the shoulder" in posture.reason
    # the same from the log's rows as dicts (what EventStore.events gives)
    import msgspec
    assert propose(c, p, [msgspec.to_builtins(r) for r in rows]) == got


def test_propose_nothing_on_clean_data(cfg):
    for op in ("op-novice-01", "op-experienced-02", "op-limited-03"):
        assert propose(cfg, cfg.operator(op), _rows(cfg, op)) == []


def test_propose_names_the_pick_to_light(cfg):
    light = Device(id="ptl", kind="pick_to_light", url="loop://", bins={"bin_base": 1, "bin_stem": 2})
    c, p = adapted(cfg.model_copy(update={"devices": [light]}), "op-limited-03")
    (wrong,) = propose(c, p, _rows(c, "op-limited-03", wrong={"base_to_fixture": 12}))
    assert "the pick-to-light ptl already lights bin A (bin_base) (light 1)" in wrong.note


def test_propose_slow_and_help(cfg):
    c, p = adapted(cfg, "op-limited-03")
    got = propose(c, p, _rows(c, "op-limited-03", slow={"insert_stem": 3.0}, helps={"check_lamp": 8}))
    assert [(x.step_id, x.rule) for x in got] == [("insert_stem", "slow"), ("check_lamp", "help")]
    assert got[0].numbers["median_s"] == pytest.approx(3 * 6 / 0.9, abs=0.1)
    assert got[0].change == {"steps": {"insert_stem": {"guidance": "full"}}}
    assert got[1].change == {"steps": {"check_lamp": {"guidance": "full"}}}
    assert got[1].numbers["help_calls"] == 8
    # with full guidance already, a slow pick-and-place step is split: take the part, then fit it
    c, p = adapted(cfg, "op-novice-01")
    (slow,) = propose(c, p, _rows(c, "op-novice-01", slow={"insert_stem": 3.0}))
    split = slow.change["steps"]["insert_stem"]["split"]
    assert [list(s) for s in split] == [["title", "instruction", "pictogram", "pick"], ["title", "instruction", "place"]]
    assert split[0]["instruction"]["nl"] == "Pak 1 uit bak B"
    assert [s.id for s in task_for(c, c.task("desk-lamp"), apply_change(p, slow.change)).steps][1:3] == \
        ["insert_stem.1", "insert_stem.2"]


def test_proposals_for_a_step_the_cobot_takes_become_notes(cfg):
    c, p = adapted(cfg, "op-limited-03")
    got = propose(c, p, _rows(c, "op-limited-03", wrong={"screw_stem": 12}, high={"screw_stem": 0.8}))
    assert combined_change(got) == {"limits": {"forbidden_steps": ["screw_stem"]}}
    assert any(x.rule == "wrong_picks" and "the cobot takes this step" in x.note for x in got)


def test_posture_on_an_operator_only_step_is_a_note(cfg):
    c, p = adapted(cfg, "op-limited-03")
    (got,) = propose(c, p, _rows(c, "op-limited-03", high={"connect_wires": 0.9}))
    assert got.change == {} and "for the integrator" in got.note


def test_other_operators_rows_do_not_count(cfg):
    c, p = adapted(cfg, "op-limited-03")
    rows = _rows(c, "op-experienced-02", high={"screw_stem": 0.8})  # scores of someone else
    assert step_evidence(c, p, rows)["screw_stem"].frames == 0


# ---- the patch and cell adapt --------------------------------------------------------------------------

def _write_log(path: Path, rows) -> None:
    store = EventStore(path)
    store.append_many(rows)
    store.close()


def _cli():
    app = typer.Typer(add_completion=False)
    app.command("adapt")(adapt)
    app.command("noop")(lambda: None)
    return app


def test_patch_applied_to_a_copy_validates(cfg, cell_copy, tmp_path):
    log = tmp_path / "logs" / "op-novice-01.sqlite"
    log.parent.mkdir()
    _write_log(log, _rows(cfg, "op-novice-01", wrong={"base_to_fixture": 12}, high={"screw_stem": 0.8},
                          slow={"insert_stem": 3.0}))
    ops = cell_copy / "operators.yaml"
    before = ops.read_text()
    patch = tmp_path / "patch.yaml"
    config = cell_copy / "lamp-cell.yaml"
    runner = CliRunner()
    res = runner.invoke(_cli(), ["adapt", str(config), "--operator", "op-novice-01", "--log", str(log.parent),
                                 "--out", str(patch)])
    assert res.exit_code == 0, res.output
    assert "[note] base_to_fixture (wrong_picks)" in res.output           # full guidance already: a note
    assert "[change] insert_stem (slow)" in res.output
    assert "[change] screw_stem (posture)" in res.output
    text = patch.read_text()
    assert "operator: op-novice-01" in text and "forbidden_steps: [screw_stem]" in text
    assert "# slow: takes" in text                                           # the reasons as comments
    assert ops.read_text() == before                                         # proposing writes nothing
    res = runner.invoke(_cli(), ["adapt", str(config), "--operator", "op-novice-01", "--patch", str(patch),
                                 "--apply"])
    assert res.exit_code == 0, res.output
    assert "valid" in res.output
    # cell validate says the same
    from cell.cli import app as cell_app
    res = runner.invoke(cell_app, ["validate", str(config)])
    assert res.exit_code == 0, res.output
    new = load_config(config)
    p = new.operator("op-novice-01")
    assert p.limits.forbidden_steps == ["screw_stem"]
    assert [s.id for s in task_for(new, new.task("desk-lamp"), p).steps][:4] == \
        ["base_to_fixture", "insert_stem.1", "insert_stem.2", "screw_stem"]
    # comments, order and the other profiles are as they were
    after = ops.read_text()
    assert after.startswith("# Operator profiles. Ids are pseudonyms")
    assert "max_load_kg: 2.0             # no lifting above 2 kg (the finished lamp weighs 2.1 kg)" in after
    start = before.index("  - id: op-experienced-02")
    assert after.endswith(before[start:])
    assert after.index("    steps:") < after.index("    simulation: {skill: 0.3")  # before the simulator's part


def test_apply_refuses_what_does_not_validate(cfg, cell_copy, tmp_path):
    ops = cell_copy / "operators.yaml"
    before = ops.read_bytes()
    patch = tmp_path / "bad.yaml"
    patch.write_text("""\
operator: op-limited-03
profile:
  steps:
    insert_stem:
      split:
        - {title: {en: Take}, instruction: {en: Take a stem}, pick: {zone: bin_nope}}
        - {title: {en: Push}, instruction: {en: Push it in}, place: {zone: fixture}}
""")
    res = CliRunner().invoke(_cli(), ["adapt", str(cell_copy / "lamp-cell.yaml"), "--operator", "op-limited-03",
                                      "--patch", str(patch), "--apply"])
    assert res.exit_code == 1
    assert "nothing was written" in res.output
    assert "operators[2].steps.insert_stem.split[0].pick.zone: 'bin_nope' is not a zone" in res.output
    assert str(ops.resolve()) in res.output                                  # the real file, not a temporary copy
    assert ops.read_bytes() == before
    assert sorted(x.name for x in cell_copy.iterdir()) == ["lamp-cell.yaml", "operators.yaml", "tasks"]
    # a change that contradicts the profile is refused the same way: a split of a step the cobot must take
    patch.write_text("operator: op-limited-03\nprofile:\n  steps:\n    unload_lamp:\n      split:\n"
                     "        - {title: {en: A}, instruction: {en: A}, pick: {zone: fixture}}\n"
                     "        - {title: {en: B}, instruction: {en: B}, place: {zone: tray_out}}\n")
    res = CliRunner().invoke(_cli(), ["adapt", str(cell_copy / "lamp-cell.yaml"), "--operator", "op-limited-03",
                                      "--patch", str(patch), "--apply"])
    assert res.exit_code == 1 and "max_load_kg" in res.output
    assert ops.read_bytes() == before


def test_a_patch_for_another_operator_is_refused(cell_copy, tmp_path):
    patch = tmp_path / "p.yaml"
    patch.write_text("operator: op-novice-01\nprofile: {steps: {insert_stem: {guidance: full}}}\n")
    res = CliRunner().invoke(_cli(), ["adapt", str(cell_copy / "lamp-cell.yaml"), "--operator", "op-limited-03",
                                      "--patch", str(patch), "--apply"])
    assert res.exit_code == 2 and "not 'op-limited-03'" in res.output


def test_edit_keeps_every_other_line(cfg):
    text = (ROOT / "configs" / "operators.yaml").read_text()
    new = edit_operators_text(text, "op-limited-03", {"limits": {"forbidden_steps": ["fit_shade"]},
                                                      "steps": {"insert_stem": {"guidance": "full"}}})
    old_lines, new_lines = text.splitlines(), new.splitlines()
    assert [x for x in new_lines if x not in old_lines] == [
        "      forbidden_steps: [fit_shade]", "    steps:", "      insert_stem: {guidance: full}"]
    assert all(x in new_lines for x in old_lines)


def test_render_patch_without_changes(cfg):
    note = Proposal("connect_wires", "posture", "90% of the time ...", {"share": 0.9}, {}, "for the integrator: ...")
    text = render_patch(cfg, "op-limited-03", [note])
    assert "supports no change of the profile" in text
    from ruamel.yaml import YAML
    data = YAML(typ="safe").load(text)
    assert data["profile"] == {} and data["notes"][0]["step"] == "connect_wires"


def test_a_log_of_someone_else_is_refused(cfg, cell_copy, tmp_path):
    log = tmp_path / "other.sqlite"
    store = EventStore(log)
    store.append_many(_rows(cfg, "op-experienced-02", high={"screw_stem": 0.8}))
    store.close()
    res = CliRunner().invoke(_cli(), ["adapt", str(cell_copy / "lamp-cell.yaml"), "--operator", "op-limited-03",
                                      "--log", str(log)])
    assert res.exit_code == 2 and "no rows of operator 'op-limited-03'" in res.output
    res = CliRunner().invoke(_cli(), ["adapt", str(cell_copy / "lamp-cell.yaml"), "--operator", "op-limited-03",
                                      "--log", str(tmp_path / "nothing.sqlite")])
    assert res.exit_code == 2 and "no such event log" in res.output


def test_a_simulated_shift_runs_with_a_split_step_and_every_node_finds_the_sub_steps(cfg, tmp_path):
    """The shift, the ergonomics and stress nodes and the pick-to-light all look sub-steps up by their own id."""
    from cell.config import Device
    from cell.nodes.devices_node import pick_lights
    from cell.simulator.shift import run_shift
    from cell.store import EventStore

    c, profile = adapted(cfg, "op-novice-01", steps={"screw_stem": {"split": SPLIT}})
    s = run_shift(c, operator_id=profile.id, duration_s=1800, seed=1, log_path=tmp_path / "log.sqlite")
    store = EventStore(tmp_path / "log.sqlite")
    try:
        done = {e["step_id"] for e in store.events("StepState") if e["phase"] == "done"}
    finally:
        store.close()
    assert s.units > 3 and {"screw_stem.1", "screw_stem.2"} <= done and "screw_stem" not in done
    ptl = Device(id="ptl", kind="pick_to_light", url="loop://", bins={"bin_screws": 3})
    state = _state("screw_stem.1", 2, count=12)
    assert pick_lights(c, ptl, state, profile) == {3: 2}
