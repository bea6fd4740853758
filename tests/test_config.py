"""The cell YAML: the shipped example validates; every broken file names file, line and field."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cell.config_loader import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "configs" / "lamp-cell.yaml"


@pytest.fixture
def cell_dir(tmp_path: Path) -> Path:
    """A private copy of the example cell (with its included files) to break."""
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    return tmp_path / "configs"


def edit(path: Path, old: str, new: str, count: int = 1) -> int:
    """Replace `old` by `new` in a file; return the 1-based line where the change is."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, count))
    return line


def problems(path: Path) -> list:
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    return exc.value.problems


def test_example_cell_is_valid():
    cfg = load_config(EXAMPLE)
    assert cfg.cell.id == "lamp-cell-1"
    assert len(cfg.tasks[0].steps) == 11
    assert len([z for z in cfg.zones if z.kind == "bin"]) == 6
    assert len([z for z in cfg.zones if z.kind == "button"]) == 2
    assert [o.id for o in cfg.operators] == ["op-novice-01", "op-experienced-02", "op-limited-03"]
    # store path is relative to the file that names it
    assert cfg.store.path == (ROOT / "data" / "lamp-cell-1.sqlite").resolve()


# Each case: (file to edit, old text, new text, expected field in the error, words of the message).
BROKEN = [
    ("lamp-cell.yaml", "width_mm: 1400", "width_mm: wide", "bench.width_mm", "number"),
    # a missing field is reported at the section that lacks it
    ("lamp-cell.yaml", "  depth_mm: 800\n", "", "bench.depth_mm", "required", "bench:"),
    ("lamp-cell.yaml", "  fps: 30", "  fsp: 30", "camera.fsp", "unknown key"),
    ("tasks/desk-lamp.yaml", "pick: {zone: bin_stem, quantity: 1}", "pick: {zone: bin_stm, quantity: 1}",
     "tasks[0].steps[1].pick.zone", "not a zone"),
    ("lamp-cell.yaml", "{id: bin_stem,   kind: bin", "{id: bin_base,   kind: bin", "zones[1].id", "duplicate zone"),
    ("lamp-cell.yaml", "{id: bin_shade,  kind: bin, rect: {x: 915, y: 560, w: 150, h: 160}",
     "{id: bin_shade,  kind: bin, rect: {x: 1300, y: 560, w: 150, h: 160}",
     "zones[5].rect", "outside the bench"),
    ("tasks/desk-lamp.yaml", "        who: operator\n        target_time_s: 15", "        who: robot\n        target_time_s: 15",
     "tasks[0].steps[4].who", "allowed"),
    ("lamp-cell.yaml", "  driver: sim ", "  driver: kuka ", "robot.driver", "'sim', 'ur' or 'serial'"),
    ("operators.yaml", "      max_load_kg: 2.0", "      max_load_kg: -2", "operators[2].limits.max_load_kg", "greater than"),
    ("operators.yaml", "  - id: op-novice-01", "  - id: Jan Peeters", "operators[0].id", "pseudonym"),
    ("lamp-cell.yaml", "cell:\n", "source: other.yaml\ncell:\n", "source", "unknown key"),
    ("operators.yaml", "      no_overhead: true", "      no_overhead: true\n      forbidden_steps: [connect_wires]",
     "operators[2].limits.forbidden_steps", "only a person may do it"),
    ("lamp-cell.yaml", "    unload_lamp:  {program: unload_lamp.urp,  duration_s: 7}",
     "    unload_lamp:  {program: unload_lamp.urp,  duration_s: 7}\n    glue_shade: {program: glue.urp}",
     "robot.programs.glue_shade", "not a step"),
    ("tasks/desk-lamp.yaml", "        press: button_done\n        highlight: [fixture]\n        verify: {by: button, zone: button_done}\n        who: operator\n        target_time_s: 20",
     "        press: bin_cable\n        highlight: [fixture]\n        verify: {by: button, zone: button_done}\n        who: operator\n        target_time_s: 20",
     "tasks[0].steps[6].press", "is a bin"),
    ("lamp-cell.yaml", "  - {task: desk-lamp, quantity: 20}", "  - {task: desk-lamp, quantity: many}", "orders[0].quantity", "integer"),
    ("tasks/desk-lamp.yaml", "        verify: {by: button, zone: button_done}\n        who: both\n        plan: operator\n        target_time_s: 12",
     "        verify: {by: timer}\n        who: both\n        plan: operator\n        target_time_s: 12", "tasks[0].steps[2].verify", "seconds"),
    ("tasks/desk-lamp.yaml", "        who: operator\n        target_time_s: 15", "        who: operator\n        plan: cobot\n        target_time_s: 15",
     "tasks[0].steps[4].plan", "only for steps with who: both"),
    ("lamp-cell.yaml", "orders:\n", "devices:\n  - {id: lights, kind: pick_to_light, url: 'loop://', bins: {bin_stems: 1}}\n"
     "orders:\n", "devices[0].bins.bin_stems", "not a bin zone"),
    ("lamp-cell.yaml", "orders:\n", "vision:\n  part_checks:\n    - {zone: bin_base, empty_image: e.png, filled_image: f.png}\n"
     "orders:\n", "vision.part_checks[0].zone", "looks into a fixture", "    - {zone: bin_base"),
    ("lamp-cell.yaml", "orders:\n", "devices:\n  - {id: pedal, kind: pedal, url: 'loop://', protocol: {patterns: "
     "{push: '^P1'}}}\norders:\n", "devices[0].protocol", "its patterns are down, up"),
]


@pytest.mark.parametrize("case", BROKEN, ids=[b[3] for b in BROKEN])
def test_broken_yaml_names_file_line_and_field(cell_dir: Path, case):
    file, old, new, field, words = case[:5]
    target = cell_dir / file
    line = edit(target, old, new)
    if len(case) > 5:
        text = target.read_text()
        line = text[: text.index(case[5])].count("\n") + 1
    found = problems(cell_dir / "lamp-cell.yaml")
    match = [p for p in found if p.field == field]
    assert match, f"no problem for {field}; got {[str(p) for p in found]}"
    p = match[0]
    assert Path(p.file) == target.resolve()
    # the line of the field itself, or of the item holding it (a flow mapping on one line)
    assert p.line in (line, line + 1), str(p)
    assert words.lower() in p.message.lower(), str(p)


def test_bad_indentation_is_a_syntax_error_with_line_and_key(cell_dir: Path):
    line = edit(cell_dir / "lamp-cell.yaml", "  fps: 30", " fps: 30")
    (p,) = problems(cell_dir / "lamp-cell.yaml")
    assert p.line == line and p.field == "fps" and "indentation" in p.message


def test_duplicate_key_is_an_error(cell_dir: Path):
    line = edit(cell_dir / "lamp-cell.yaml", "  height_mm: 900\n", "  height_mm: 900\n  width_mm: 1200\n")
    (p,) = problems(cell_dir / "lamp-cell.yaml")
    assert p.line in (line, line + 1) and "twice" in p.message


def test_missing_include_names_the_including_line(cell_dir: Path):
    line = edit(cell_dir / "lamp-cell.yaml", "tasks/desk-lamp.yaml", "tasks/desk-lamps.yaml")
    (p,) = problems(cell_dir / "lamp-cell.yaml")
    assert p.file.endswith("lamp-cell.yaml") and p.line == line and "not found" in p.message


def test_include_loop_is_reported(cell_dir: Path):
    (cell_dir / "loop.yaml").write_text("include: [lamp-cell.yaml]\n")
    edit(cell_dir / "lamp-cell.yaml", "  - operators.yaml", "  - operators.yaml\n  - loop.yaml")
    found = problems(cell_dir / "lamp-cell.yaml")
    assert any("include loop" in p.message for p in found)


def test_section_in_two_files_is_reported(cell_dir: Path):
    with open(cell_dir / "operators.yaml", "a") as f:
        f.write("bench: {width_mm: 1, depth_mm: 1}\n")
    found = problems(cell_dir / "lamp-cell.yaml")
    assert any(p.field == "bench" and "more than one file" in p.message for p in found)


def test_step_ids_are_unique_across_tasks(cell_dir: Path):
    (cell_dir / "tasks" / "second.yaml").write_text(
        "tasks:\n"
        "  - id: wall-lamp\n"
        "    name: {nl: Wandlamp}\n"
        "    steps:\n"
        "      - id: check_lamp\n"
        "        title: {nl: Controle}\n"
        "        instruction: {nl: Druk op klaar}\n"
        "        action: confirm\n")
    edit(cell_dir / "lamp-cell.yaml", "  - operators.yaml", "  - operators.yaml\n  - tasks/second.yaml")
    (p,) = problems(cell_dir / "lamp-cell.yaml")
    assert p.file.endswith("second.yaml") and p.line == 5 and p.field == "tasks[1].steps[0].id"
    assert "also used in task 'desk-lamp'" in p.message


def test_every_error_is_reported_not_just_the_first(cell_dir: Path):
    edit(cell_dir / "lamp-cell.yaml", "width_mm: 1400", "width_mm: wide")
    edit(cell_dir / "lamp-cell.yaml", "  fps: 30", "  fsp: 30")
    fields = {p.field for p in problems(cell_dir / "lamp-cell.yaml")}
    assert {"bench.width_mm", "camera.fsp"} <= fields


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cell", *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)


def test_cli_validate_json_lists_ids():
    r = run_cli("validate", str(EXAMPLE), "--json")
    assert r.returncode == 0, r.stderr
    ids = json.loads(r.stdout)
    assert "bin_screws" in ids["zones"] and ids["tasks"] == ["desk-lamp"]
    assert ids["steps"]["desk-lamp"][0] == "base_to_fixture" and len(ids["steps"]["desk-lamp"]) == 11
    assert "op-limited-03" in ids["operators"]


def test_cli_validate_broken_exits_non_zero_with_location(cell_dir: Path):
    line = edit(cell_dir / "tasks" / "desk-lamp.yaml", "zone: bin_stem", "zone: bin_stm")
    r = run_cli("validate", str(cell_dir / "lamp-cell.yaml"))
    assert r.returncode != 0
    assert f"desk-lamp.yaml:{line}: tasks[0].steps[1].pick.zone: 'bin_stm' is not a zone" in r.stderr
    assert "bin_stem" in r.stderr  # says what is allowed
