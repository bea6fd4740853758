"""URDriver against the UR controller emulator, which runs as its own process.

The driver speaks to the emulator through the real ur-rtde clients, so these tests cover the
product's UR path end to end: Dashboard commands and replies, RTDE live state, faults, a lost
connection and the reconnect. Waits poll with generous deadlines; none relies on a fixed sleep.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

pytest.importorskip("dashboard_client")
pytest.importorskip("rtde_receive")

from robot_bridge.driver import DriverError, DriverStatus  # noqa: E402
from robot_bridge.ur import URDriver  # noqa: E402
from robot_bridge.ur_emulator import EmulatorProcess  # noqa: E402

WAIT_S = 15.0

PROGRAMS = {"fit_lid": "pick_part.urp", "screw": "screw_cover.urp", "ghost": "not_on_robot.urp"}
DURATIONS = {"pick_part.urp": 0.8, "screw_cover.urp": 1.5}


@pytest.fixture
def emulator():
    emu = EmulatorProcess.start(DURATIONS)
    try:
        yield emu
    finally:
        emu.close()


def make_driver(emu: EmulatorProcess, **kw) -> URDriver:
    programs = {s: (p, DURATIONS.get(p, 1.0)) for s, p in PROGRAMS.items()}
    kw.setdefault("timeout", 3.0)
    kw.setdefault("reconnect_max_s", 2.0)
    return URDriver(emu.host, emu.dashboard_port, programs=programs, simulated=True, **kw)


@pytest.fixture
def driver(emulator):
    d = make_driver(emulator)
    try:
        yield d
    finally:
        d.close()


def poll_until(driver: URDriver, check: Callable[[DriverStatus], bool], what: str,
               timeout_s: float = WAIT_S) -> DriverStatus:
    """Call poll(now) at about 20 Hz, as the robot node would, until ``check`` holds."""
    deadline = time.monotonic() + timeout_s
    st = driver.poll(time.monotonic())
    while not check(st):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}; last status {st}")
        time.sleep(0.05)
        st = driver.poll(time.monotonic())
    return st


def test_capabilities_say_what_is_connected(driver, emulator):
    caps = driver.capabilities()
    assert caps.programs == PROGRAMS
    assert caps.simulated is True
    assert f"Universal Robots UR5 at {emulator.host}:{emulator.dashboard_port}" in caps.description
    assert "PolyScope 5.11.6.1156" in caps.description
    assert "live state over RTDE" in caps.description
    assert "simulated controller" in caps.description
    assert driver.poll(time.monotonic()).mode == "idle"


def test_run_to_finished(driver, emulator):
    driver.run("run-1", "fit_lid", "pick_part.urp", time.monotonic())
    st = driver.poll(time.monotonic())
    assert (st.mode, st.run_id, st.step_id, st.program, st.finished) == \
        ("running", "run-1", "fit_lid", "pick_part.urp", False)
    assert emulator.state()["program_state"] == "PLAYING"
    mid = poll_until(driver, lambda s: s.progress > 0.1 or s.finished, "progress")
    st = poll_until(driver, lambda s: s.finished, "the run to finish")
    assert (st.mode, st.run_id, st.progress, st.fault) == ("idle", "run-1", 1.0, "")
    assert mid.progress <= 1.0
    assert emulator.state()["runs_finished"] == 1
    poll_until(driver, lambda s: (driver.live_state() or {}).get("runtime_state") == "STOPPED",
               "RTDE to show the program stopped")  # RTDE runs at 10 Hz: it may lag one package
    assert driver.live_state()["robot_mode"] == "RUNNING"

    driver.run("run-2", "screw", "screw_cover.urp", time.monotonic())  # the next run loads its own program
    assert emulator.state()["loaded_program"] == "/programs/screw_cover.urp"
    with pytest.raises(DriverError, match="busy with screw_cover.urp"):
        driver.run("run-3", "fit_lid", "pick_part.urp", time.monotonic())
    driver.stop(time.monotonic())
    st = driver.poll(time.monotonic())
    assert (st.mode, st.finished) == ("stopped", False)


def test_program_not_found(driver, emulator):
    with pytest.raises(DriverError, match=r"program not found on the controller: not_on_robot\.urp "
                                          r"\(it said 'File not found: not_on_robot\.urp'\)"):
        driver.run("run-1", "ghost", "not_on_robot.urp", time.monotonic())
    with pytest.raises(DriverError, match="program not found: step 'fit_lid' runs pick_part.urp"):
        driver.run("run-2", "fit_lid", "other.urp", time.monotonic())
    with pytest.raises(DriverError, match="no UR program is configured for step 'paint'"):
        driver.run("run-3", "paint", "paint.urp", time.monotonic())
    assert emulator.state()["program_state"] == "STOPPED"
    assert driver.poll(time.monotonic()).mode == "idle"


def test_pause_and_resume(driver, emulator):
    driver.run("run-1", "screw", "screw_cover.urp", time.monotonic())
    driver.pause(time.monotonic())
    st = driver.poll(time.monotonic())
    assert st.mode == "paused" and emulator.state()["program_state"] == "PAUSED"
    driver.resume(time.monotonic())
    assert driver.poll(time.monotonic()).mode == "running"
    assert poll_until(driver, lambda s: s.finished, "the resumed run to finish").mode == "idle"


def test_protective_stop_mid_program_is_a_fault(driver, emulator):
    driver.run("run-1", "screw", "screw_cover.urp", time.monotonic())
    emulator.control("protective_stop")
    st = poll_until(driver, lambda s: s.mode == "fault", "the fault")
    assert "protective stop" in st.fault and "PROTECTIVE_STOP" in st.fault
    assert (st.run_id, st.finished) == ("run-1", False)
    with pytest.raises(DriverError, match="busy with screw_cover.urp"):
        driver.run("run-2", "fit_lid", "pick_part.urp", time.monotonic())

    driver.unlock_protective_stop(time.monotonic())  # as the operator's acknowledgement would
    st = poll_until(driver, lambda s: s.mode == "paused", "paused after the unlock")
    assert st.fault == ""
    driver.resume(time.monotonic())
    st = poll_until(driver, lambda s: s.finished, "the run to finish after the unlock")
    assert (st.mode, st.run_id) == ("idle", "run-1")


def test_connection_dropped_then_back(driver, emulator):
    driver.run("run-1", "screw", "screw_cover.urp", time.monotonic())
    emulator.control("drop_connections")
    st = poll_until(driver, lambda s: s.mode == "disconnected", "the driver to notice")
    assert "lost the connection to the UR controller" in st.fault and "next try in" in st.fault
    assert st.run_id == "run-1"
    st = poll_until(driver, lambda s: s.mode != "disconnected", "the reconnect")
    assert st.mode in ("running", "idle", "stopped")
    if st.mode == "running":  # back while it still plays: watching it again, so its end counts
        st = poll_until(driver, lambda s: s.mode != "running", "the run to end")
        assert (st.mode, st.finished) == ("idle", True)
    poll_until(driver, lambda s: driver.live_state() is not None, "RTDE to come back")


def test_controller_unreachable_for_a_while(driver, emulator):
    assert driver.poll(time.monotonic()).mode == "idle"
    emulator.control("refuse_connections 1.5")
    with pytest.raises(DriverError, match="cannot run pick_part.urp: lost the connection to the UR controller"):
        driver.run("run-1", "fit_lid", "pick_part.urp", time.monotonic())
    st = driver.poll(time.monotonic())
    assert st.mode == "disconnected" and "next try in" in st.fault
    st = poll_until(driver, lambda s: s.mode == "idle", "the controller to be back")
    assert st.fault == ""
    driver.run("run-2", "fit_lid", "pick_part.urp", time.monotonic())
    assert poll_until(driver, lambda s: s.finished, "a run after the outage").run_id == "run-2"


def test_not_in_remote_control_is_refused(driver, emulator):
    emulator.control("remote off")
    with pytest.raises(DriverError, match="Local control; switch it to Remote Control"):
        driver.run("run-1", "fit_lid", "pick_part.urp", time.monotonic())
    assert emulator.state()["loaded_program"] is None  # refused before anything was loaded
    emulator.control("remote on")
    driver.run("run-2", "fit_lid", "pick_part.urp", time.monotonic())


def test_arm_not_ready_is_a_fault(driver, emulator):
    emulator.control("robot_mode POWER_OFF")
    st = poll_until(driver, lambda s: s.mode == "fault", "the fault")
    assert "Robotmode: POWER_OFF" in st.fault
    with pytest.raises(DriverError, match="power it on and release the brakes"):
        driver.run("run-1", "fit_lid", "pick_part.urp", time.monotonic())


def test_dashboard_only_when_rtde_cannot_be_used(emulator):
    driver = make_driver(emulator, rtde_port=30005)  # ur-rtde's receiver only knows port 30004
    try:
        assert "only connects to port 30004" in driver.capabilities().description
        driver.run("run-1", "fit_lid", "pick_part.urp", time.monotonic())
        assert poll_until(driver, lambda s: s.finished, "the run to finish").mode == "idle"
        assert driver.live_state() is None
        emulator.control("protective_stop")
        assert "PROTECTIVE_STOP" in poll_until(driver, lambda s: s.mode == "fault", "the fault").fault
    finally:
        driver.close()


def test_commissioning_check(driver, emulator):
    emulator.control("remote on")
    result = driver.check()
    assert result.reachable and result.simulated
    assert (result.robot_mode, result.safety_status, result.remote_control) == ("RUNNING", "NORMAL", True)
    assert result.rtde.startswith("ok")
    by_step = {p.step_id: p for p in result.programs}
    assert by_step["fit_lid"].status == "ok" and by_step["screw"].status == "ok"
    assert by_step["ghost"].status == "missing" and "File not found" in by_step["ghost"].detail
    assert not result.ok and len(result.problems) == 1 and "not_on_robot.urp" in result.problems[0]
    assert any("not_on_robot.urp" in line for line in result.lines())

    emulator.control("remote off")
    result = driver.check()
    assert result.remote_control is False
    assert {p.status for p in result.programs} == {"not checked"}
    assert any("Local control" in p for p in result.problems)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_controller_backs_off_exponentially():
    """Nothing listens: each failed connect doubles the wait, up to reconnect_max_s (time passed in)."""
    driver = URDriver("127.0.0.1", free_port(), use_rtde=False, programs={"s": "a.urp"}, timeout=0.5,
                      reconnect_max_s=3.0)
    waits = []
    now = 1000.0
    for _ in range(5):
        st = driver.poll(now)
        assert st.mode == "disconnected" and "no connection to the UR controller" in st.fault
        waits.append(driver._next_connect - now)
        now = driver._next_connect
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert driver.poll(now - 0.1).fault.endswith("next try in 0.1 s")  # not due: no new attempt
    with pytest.raises(DriverError, match="cannot run a.urp: no connection"):
        driver.run("r", "s", "a.urp", now)
    assert "not connected" in driver.capabilities().description


def test_from_config(emulator):
    from cell.config import Robot

    cfg = Robot(driver="ur", name="arm", host=emulator.host, dashboard_port=emulator.dashboard_port,
                use_rtde=False, command_timeout_s=1.5, reconnect_max_s=4.0,
                programs={"fit_lid": {"program": "pick_part.urp", "duration_s": 0.8}})
    driver = URDriver.from_config(cfg, simulated=True)
    try:
        assert (driver.timeout, driver.reconnect_max_s, driver.use_rtde) == (1.5, 4.0, False)
        assert driver.programs == {"fit_lid": "pick_part.urp"} and driver.durations == {"fit_lid": 0.8}
        assert driver.capabilities().description.startswith("arm: Universal Robots")
        driver.run("r", "fit_lid", "pick_part.urp", time.monotonic())
        assert poll_until(driver, lambda s: s.finished, "the run").mode == "idle"
    finally:
        driver.close()
