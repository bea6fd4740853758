"""The UR controller emulator, driven by the real ur-rtde clients (DashboardClient, RTDEReceiveInterface).

The emulator always runs as its own process: ur-rtde must not share a process with it. Each
test gets a fresh emulator on a random loopback address, so the RTDE port (ur-rtde only knows
30004) never clashes. Waits poll with generous deadlines; nothing depends on a fixed sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

dashboard_client = pytest.importorskip("dashboard_client")
rtde_receive = pytest.importorskip("rtde_receive")

from robot_bridge.ur_emulator import BANNER, HOME_Q, NOT_IN_REMOTE, EmulatorProcess, SimulatedController  # noqa: E402

WAIT_S = 15.0  # generous: a loaded 2-core machine must not make these flaky


def wait_until(check: Callable[[], object], what: str, timeout_s: float = WAIT_S, every_s: float = 0.02):
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    pytest.fail(f"timed out after {timeout_s:g} s waiting for {what} (last: {last!r})")


@pytest.fixture
def emulator():
    emu = EmulatorProcess.start({"pick_part.urp": 0.6, "screw_cover.urp": 2.0, "long_task.urp": 30.0})
    try:
        yield emu
    finally:
        emu.close()


@pytest.fixture
def dash(emulator):
    d = dashboard_client.DashboardClient(emulator.host, emulator.dashboard_port, False)
    d.connect(5000)
    yield d
    try:
        d.disconnect()
    except Exception:
        pass


def fails(call: Callable[[], object]) -> Exception | None:
    """The exception ``call`` raises, or None if it succeeds."""
    try:
        call()
    except Exception as exc:
        return exc
    return None


def raw(d, command: str) -> str:
    d.send(command + "\n")
    return d.receive().strip()


def test_announces_itself_as_a_simulation(emulator):
    assert emulator.line.startswith("UR emulator (simulated controller) listening: dashboard ")
    assert f"rtde {emulator.host}:30004" in emulator.line
    assert emulator.state()["simulated"] is True


def test_banner_is_the_controllers(emulator):
    import socket
    with socket.create_connection((emulator.host, emulator.dashboard_port), timeout=5) as s:
        f = s.makefile("rw", newline="\n")
        assert f.readline() == BANNER + "\n"
        f.write("quit\n")
        f.flush()
        assert f.readline() == "Disconnected\n"
        assert f.readline() == ""  # and the server closes the connection


def test_queries_answer_like_an_e_series_controller(dash):
    assert dash.isConnected()
    assert dash.polyscopeVersion() == "5.11.6.1156"
    assert raw(dash, "PolyscopeVersion") == "URSoftware 5.11.6.1156 (Jun 27 2023)"
    assert dash.isInRemoteControl() is True
    assert dash.robotmode() == "Robotmode: RUNNING"
    assert dash.safetystatus() == "Safetystatus: NORMAL"
    assert dash.safetymode() == "Safetymode: NORMAL"
    assert dash.getLoadedProgram() == "No program loaded"
    assert dash.running() is False
    assert dash.getRobotModel() == "UR5"
    assert raw(dash, "ROBOTMODE") == "Robotmode: RUNNING"  # commands are case-insensitive
    assert raw(dash, "make coffee") == "could not understand: 'make coffee'"


def test_load_play_and_finish(emulator, dash):
    dash.loadURP("pick_part.urp")
    assert dash.getLoadedProgram() == "Loaded program: /programs/pick_part.urp"
    assert dash.programState() == "STOPPED pick_part.urp"
    dash.play()
    assert dash.programState() == "PLAYING pick_part.urp"
    assert dash.running() is True
    wait_until(lambda: dash.programState() == "STOPPED pick_part.urp", "the program to finish")
    assert dash.running() is False
    assert dash.getLoadedProgram() == "Loaded program: /programs/pick_part.urp"  # still loaded, ready again
    assert emulator.state()["runs_finished"] == 1
    dash.play()  # and it plays again from the start
    assert dash.programState() == "PLAYING pick_part.urp"


def test_load_by_absolute_path(dash):
    dash.loadURP("/programs/screw_cover.urp")
    assert dash.programState() == "STOPPED screw_cover.urp"


def test_refusals_have_the_controllers_words(dash):
    with pytest.raises(RuntimeError, match=r"^File not found: no_such_program\.urp$"):
        dash.loadURP("no_such_program.urp")
    assert dash.getLoadedProgram() == "No program loaded"
    with pytest.raises(RuntimeError, match=r"^Failed to execute: play$"):
        dash.play()  # nothing loaded
    assert raw(dash, "pause") == "Failed to execute: pause"
    dash.loadURP("long_task.urp")
    dash.play()
    assert raw(dash, "load pick_part.urp") == "Error while loading program: pick_part.urp"
    dash.stop()
    assert dash.programState() == "STOPPED long_task.urp"


def test_pause_and_resume_keep_the_time_already_run(emulator, dash):
    dash.loadURP("long_task.urp")
    dash.play()
    wait_until(lambda: emulator.state()["elapsed_s"] >= 0.2, "some run time")
    dash.pause()
    assert dash.programState() == "PAUSED long_task.urp"
    paused_at = emulator.state()["elapsed_s"]
    wait_until(lambda: emulator.state()["elapsed_s"] == paused_at, "the clock to stand still while paused")
    time.sleep(0.2)  # time passes; a paused program does not count it
    assert emulator.state()["elapsed_s"] == paused_at
    dash.play()
    assert dash.programState() == "PLAYING long_task.urp"
    resumed = wait_until(lambda: (s := emulator.state()["elapsed_s"]) > paused_at and s, "the clock to run on")
    assert resumed < paused_at + 5.0  # continued from where it paused, not restarted, not jumped


def test_protective_stop_mid_program_then_unlock(emulator, dash):
    dash.loadURP("long_task.urp")
    dash.play()
    emulator.control("unlock_delay 5")
    assert emulator.control("protective_stop") == "OK protective stop"
    assert dash.safetystatus() == "Safetystatus: PROTECTIVE_STOP"
    assert dash.programState() == "PAUSED long_task.urp"
    assert dash.robotmode() == "Robotmode: RUNNING"  # the arm stays powered
    with pytest.raises(RuntimeError, match=r"^Failed to execute: play$"):
        dash.play()
    with pytest.raises(RuntimeError, match="Cannot unlock protective stop until 5s after occurrence"):
        dash.unlockProtectiveStop()
    emulator.control("unlock_delay 0")
    dash.unlockProtectiveStop()
    dash.closeSafetyPopup()
    assert dash.safetystatus() == "Safetystatus: NORMAL"
    assert dash.programState() == "PAUSED long_task.urp"  # unlocking does not restart the program
    dash.play()
    assert dash.programState() == "PLAYING long_task.urp"


def test_local_control_refuses_program_commands(emulator, dash):
    assert emulator.control("remote off") == "OK remote control off"
    assert dash.isInRemoteControl() is False
    assert raw(dash, "load pick_part.urp") == NOT_IN_REMOTE
    assert raw(dash, "play") == NOT_IN_REMOTE
    assert dash.programState() == "STOPPED <unnamed>"  # queries still work
    emulator.control("remote on")
    dash.loadURP("pick_part.urp")


def test_power_and_brakes(emulator, dash):
    emulator.control("robot_mode POWER_OFF")
    dash.loadURP("pick_part.urp")
    with pytest.raises(RuntimeError, match="Failed to execute: play"):
        dash.play()
    dash.powerOn()
    assert dash.robotmode() == "Robotmode: IDLE"
    dash.brakeRelease()
    assert dash.robotmode() == "Robotmode: RUNNING"
    dash.play()


def test_connection_dropped_and_restored(emulator, dash):
    dash.loadURP("pick_part.urp")
    assert emulator.control("drop_connections").startswith("OK dropped")
    wait_until(lambda: fails(dash.programState), "the dropped connection to fail")
    again = dashboard_client.DashboardClient(emulator.host, emulator.dashboard_port, False)
    again.connect(5000)
    assert again.programState() == "STOPPED pick_part.urp"  # the controller kept its state
    again.disconnect()

    assert emulator.control("refuse_connections 1").startswith("OK refusing")
    refused = dashboard_client.DashboardClient(emulator.host, emulator.dashboard_port, False)
    with pytest.raises(RuntimeError, match="Timeout connecting to UR dashboard server"):
        refused.connect(1000)

    def reconnects():
        d = dashboard_client.DashboardClient(emulator.host, emulator.dashboard_port, False)
        try:
            d.connect(1000)
        except RuntimeError:
            return None
        return d
    back = wait_until(reconnects, "the controller to accept connections again")
    assert back.programState() == "STOPPED pick_part.urp"
    back.disconnect()


def test_rtde_follows_program_and_faults(emulator, dash):
    r = rtde_receive.RTDEReceiveInterface(emulator.host, 25.0, [
        "timestamp", "robot_mode", "safety_mode", "safety_status_bits", "runtime_state", "robot_status_bits",
        "speed_scaling", "target_speed_fraction", "actual_q", "actual_TCP_pose", "joint_mode",
        "actual_digital_output_bits", "output_int_register_12", "output_double_register_12"])
    try:
        assert r.isConnected()
        t0 = r.getTimestamp()
        wait_until(lambda: r.getTimestamp() > t0, "data packages to keep coming")
        assert r.getRobotMode() == 7 and r.getSafetyMode() == 1 and r.getRuntimeState() == 1
        assert r.getSafetyStatusBits() == 1 and not r.isProtectiveStopped()
        assert r.getRobotStatus() == 1  # powered on, no program running
        assert r.getTargetSpeedFraction() == 1.0 and r.getJointMode() == [253] * 6
        assert r.getActualQ() == pytest.approx(list(HOME_Q))
        assert r.getOutputIntRegister(12) == 0 and r.getOutputDoubleRegister(12) == 0.0

        dash.loadURP("long_task.urp")
        dash.play()
        wait_until(lambda: r.getRuntimeState() == 2, "runtime_state PLAYING")
        wait_until(lambda: r.getActualQ() != pytest.approx(list(HOME_Q)), "the joints to move")
        assert r.getRobotStatus() == 3 and r.getSpeedScaling() == 1.0

        emulator.control("protective_stop")
        wait_until(lambda: r.getSafetyMode() == 3, "safety_mode PROTECTIVE_STOP")
        assert r.isProtectiveStopped()
        wait_until(lambda: r.getRuntimeState() == 4, "runtime_state PAUSED")
        assert r.getSpeedScaling() == 0.0 and r.getRobotMode() == 7
        q_paused = r.getActualQ()
        t_paused = r.getTimestamp()
        wait_until(lambda: r.getTimestamp() > t_paused + 0.1, "more packages while paused")
        assert r.getActualQ() == pytest.approx(q_paused)  # a stopped arm does not move

        emulator.control("clear")
        wait_until(lambda: r.getSafetyMode() == 1, "safety_mode NORMAL again")
        dash.stop()
        wait_until(lambda: r.getRuntimeState() == 1, "runtime_state STOPPED")

        emulator.control("drop_connections")
        wait_until(lambda: not r.isConnected(), "the RTDE client to notice the dropped connection")
    finally:
        del r


def test_rtde_names_an_unknown_variable(emulator):
    with pytest.raises(RuntimeError, match=r"not found by the controller: \[no_such_output\]"):
        rtde_receive.RTDEReceiveInterface(emulator.host, 10.0, ["timestamp", "no_such_output"])


def test_control_port_reports_bad_commands(emulator):
    assert emulator.control("fly").startswith("ERR unknown command 'fly'")
    assert emulator.control("refuse_connections soon").startswith("ERR bad argument")
    assert emulator.control("robot_mode DANCING").startswith("ERR unknown robot mode")


def test_controller_logic_without_sockets():
    """The simulated controller on its own, on a clock the test moves."""
    c = SimulatedController({"a.urp": 2.0}, unlock_delay_s=5.0, now=0.0)
    assert c.dashboard("load a.urp", 0.0) == ("Loading program: /programs/a.urp", False)
    assert c.dashboard("play", 1.0)[0] == "Starting program"
    c.protective_stop(1.5)
    assert c.dashboard("programState", 9.0)[0] == "PAUSED a.urp"
    assert c.dashboard("unlock protective stop", 6.0)[0].startswith("Cannot unlock protective stop until 5s")
    assert c.dashboard("unlock protective stop", 6.5)[0] == "Protective stop releasing"
    assert c.dashboard("play", 10.0)[0] == "Starting program"
    assert c.dashboard("programState", 11.4)[0] == "PLAYING a.urp"   # 0.5 s before + 1.4 s after
    assert c.dashboard("programState", 11.5)[0] == "STOPPED a.urp"   # 2.0 s in all
    assert c.rtde_values(11.5)["runtime_state"] == 1
