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
