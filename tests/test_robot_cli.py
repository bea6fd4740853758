"""`cell robot check/run` as an integrator runs them, against the UR controller emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("dashboard_client")

from robot_bridge.ur_emulator import EmulatorProcess  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "configs" / "lamp-cell.yaml"


@pytest.fixture(scope="module")
def emulator():
    # the example's programs, but not unload_lamp.urp: check must say it is missing
    emu = EmulatorProcess.start({"fit_shade.urp": 0.5, "screw_stem.urp": 0.5, "screw_shade.urp": 0.5,
                                 "base_to_fixture.urp": 0.5, "insert_stem.urp": 0.5, "prep_cable.urp": 0.5})
    try:
        yield emu
    finally:
        emu.close()


def cell(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cell", "robot", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, COLUMNS="200"))


def at(emu) -> list[str]:
    return ["--driver", "ur", "--host", emu.host, "--dashboard-port", str(emu.dashboard_port)]


@pytest.mark.timeout(90)
def test_check_reports_mode_safety_version_and_a_missing_program(emulator):
    r = cell("check", str(EXAMPLE), *at(emulator))
    out = r.stdout + r.stderr
    assert r.returncode == 1, out  # a program is missing
    assert "robot mode      RUNNING" in out and "safety status   NORMAL" in out and "PolyScope 5.11" in out
    assert "fit_shade.urp" in out and "unload_lamp.urp" in out
    missing = [line for line in out.splitlines() if "unload_lamp.urp" in line and "step" in line][0]
    assert "missing" in missing
    present = [line for line in out.splitlines() if "fit_shade.urp" in line and "step" in line][0]
    assert present.rstrip().endswith("ok")


@pytest.mark.timeout(90)
def test_run_exits_0_only_when_the_program_finished_normally(emulator):
    ok = cell("run", "--program", "fit_shade.urp", *at(emulator))
    assert ok.returncode == 0 and "finished normally" in ok.stdout, ok.stdout + ok.stderr
    missing = cell("run", "--program", "nope.urp", *at(emulator))
    assert missing.returncode == 1 and "File not found" in missing.stderr, missing.stdout + missing.stderr
    assert emulator.control("protective_stop").startswith("OK")
    try:
        stopped = cell("run", "--program", "fit_shade.urp", *at(emulator))
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        assert "protective" in (stopped.stdout + stopped.stderr).lower()
    finally:
        emulator.control("clear")
