"""`cell preview`: what the projector would show, as PNG, from the command line."""

from __future__ import annotations

import os
from pathlib import Path

import pygame
from typer.testing import CliRunner

from cell.cli import app

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "lamp-cell.yaml"


def test_preview_writes_the_step_for_the_profile(tmp_path):
    out = tmp_path / "step.png"
    r = CliRunner().invoke(app, ["preview", str(EXAMPLE), "--task", "desk-lamp", "--step", "prep_cable",
                                 "--profile", "op-limited-03", "-o", str(out)])
    assert r.exit_code == 0, r.output
    img = pygame.image.load(str(out))
    assert img.get_size() == (1280, 800)  # the projector's resolution in the example
    assert max(img.get_at((x, y))[0] for x in range(0, 1280, 16) for y in range(0, 800, 16)) > 100  # not blank


def test_preview_names_what_is_allowed_for_a_wrong_id(tmp_path):
    r = CliRunner().invoke(app, ["preview", str(EXAMPLE), "--step", "glue_base", "-o", str(tmp_path / "x.png")])
    assert r.exit_code == 2 and "glue_base" in r.output and "allowed: base_to_fixture" in r.output
    r = CliRunner().invoke(app, ["preview", str(EXAMPLE), "--profile", "Jan", "-o", str(tmp_path / "x.png")])
    assert r.exit_code == 2 and "op-novice-01" in r.output


def test_preview_all_renders_every_step_for_every_profile(tmp_path):
    r = CliRunner().invoke(app, ["preview", str(EXAMPLE), "--all", "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png"))
    assert len(files) == 3 * 11
    assert "op-limited-03/04-prep_cable.png" in files and "op-novice-01/01-base_to_fixture.png" in files


def test_demo_status_follows_both_agents_and_counts_a_unit_when_all_its_steps_are_done():
    from cell.config_loader import load_config
    from cell.demo import LiveStatus
    from cell.messages import StepState

    cfg = load_config(EXAMPLE)
    task = cfg.tasks[0]
    status = LiveStatus(cfg)
    seq = iter(range(1, 1000))

    def st(step_id, phase, who="operator"):
        return StepState(src="engine", t=0.0, seq=next(seq), order_id="o", task_id=task.id, step_id=step_id,
                         step_index=[s.id for s in task.steps].index(step_id), step_count=len(task.steps),
                         phase=phase, assignee=who, unit=1, units_total=2)

    status.take(st("base_to_fixture", "active"))
    status.take(st("prep_cable", "active", "cobot"))
    assert status.step.step_id == "base_to_fixture"  # the operator's step is the one shown
    assert sum("prep_cable: cobot" in line for line in status.lines) == 1
    done = [st(s.id, "done", "cobot" if s.id == "prep_cable" else "operator") for s in task.steps]
    for msg in done[:-1] + [done[3]]:  # all but the last, and a re-sent state
        status.take(msg)
    assert status.units == 0 and status.done == {"operator": 9, "cobot": 1}
    status.take(done[-1])
    assert status.units == 1 and any("unit 1 of 2 finished" in line for line in status.lines)
