"""The serial arm driver against an emulated arm on a pseudo-terminal (and pyserial's loop://).

The emulator and the driver share a manual clock, so program time is exact;
the only real waiting is for replies over the pty, with generous deadlines.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cell.config import Robot, SerialProtocol
from robot_bridge.driver import DriverError
from robot_bridge.serial_driver import BAD_REPLIES_BEFORE_DISCONNECT, SerialArmDriver
from robot_bridge.serial_emulator import IDENT, Dialect, PtyArmEmulator

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = {"pick_cap": ("pick_cap.prg", 10.0), "place_cap": ("place_cap.prg", 4.0),
            "screw_lid": ("screw_lid.prg", 60.0)}
DURATIONS = {program: seconds for program, seconds in PROGRAMS.values()}
POLL_S = 0.25  # a binary fraction, so the manual clock lands exactly on the poll times
PROTOCOL = SerialProtocol(poll_s=POLL_S)


class ManualClock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> float:
        self.t += dt
        return self.t


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")} if os.path.isdir("/proc/self/fd") else set()


@pytest.fixture
def emulator(clock, tmp_path):
    threads_before, fds_before = set(threading.enumerate()), open_fds()
    emu = PtyArmEmulator(DURATIONS, clock=clock, link=tmp_path / "arm")
    try:
        yield emu
    finally:
        emu.close()
    assert not emu.serving
    assert set(threading.enumerate()) <= threads_before, "the emulator left a thread behind"
    assert open_fds() <= fds_before, "the emulator or a driver left a file descriptor open"


@pytest.fixture
def driver(emulator):
    drv = SerialArmDriver(emulator.port, PROGRAMS, protocol=PROTOCOL, command_timeout_s=3.0)
    yield drv
    drv.close()


def connected(drv: SerialArmDriver, clock: ManualClock, deadline_s: float = 10.0, step: float = 0.1):
    """Poll (moving the clock on) until the driver is connected; the last status."""
    deadline = time.monotonic() + deadline_s
    while True:
        st = drv.poll(clock())
        if st.mode != "disconnected" or time.monotonic() > deadline:
            return st
        clock.advance(step)


def status_after(drv: SerialArmDriver, clock: ManualClock, dt: float):
    """Move the clock on by dt (at least one poll interval, so the arm is asked) and poll."""
    return drv.poll(clock.advance(max(dt, POLL_S)))


def status_lines(emu: PtyArmEmulator) -> int:
    return sum(1 for line in emu.arm.received if line == "STATUS?")


# connecting ------------------------------------------------------------------------------
def test_connect_greets_the_arm_and_takes_its_description(driver, emulator, clock) -> None:
    assert driver.capabilities().description.endswith("(not connected yet)")
    st = connected(driver, clock)
    assert st.mode == "idle" and st.fault == ""
    caps = driver.capabilities()
    assert caps.description == IDENT and "emulated" in caps.description
    assert caps.simulated is False
    assert caps.programs == {s: p for s, (p, _) in PROGRAMS.items()}
    assert emulator.arm.received[:2] == ["ID?", "STATUS?"]
    assert emulator.raw_received.startswith(b"ID?\nSTATUS?\n")


def test_from_config_uses_the_robot_section(emulator, clock) -> None:
    robot = Robot(driver="serial", name="gripper arm", serial_url=emulator.port, command_timeout_s=3,
                  reconnect_max_s=4, programs={"pick_cap": {"program": "pick_cap.prg", "duration_s": 10}})
    with SerialArmDriver.from_config(robot) as drv:
        assert drv.command_timeout_s == 3 and drv.reconnect_max_s == 4 and drv.name == "gripper arm"
        assert connected(drv, clock).mode == "idle"
        assert drv.capabilities().programs == {"pick_cap": "pick_cap.prg"}
    with pytest.raises(DriverError, match="serial_url is not set"):
        SerialArmDriver.from_config(Robot(driver="serial"))


def test_a_bad_pattern_in_the_config_is_named_at_construction() -> None:
    with pytest.raises(ValueError, match=r"robot\.serial\.running"):
        SerialArmDriver("loop://", {}, protocol=SerialProtocol(running="^RUNNING (?P<progress"))
    with pytest.raises(ValueError, match=r"robot\.serial\.run"):
        SerialArmDriver("loop://", {}, protocol=SerialProtocol(run="RUN {prog}"))


# running a program -----------------------------------------------------------------------
def test_run_reports_progress_then_finished(driver, emulator, clock) -> None:
    connected(driver, clock)
    driver.run("run-1", "pick_cap", "pick_cap.prg", clock())
    st = driver.poll(clock())
    assert (st.mode, st.run_id, st.step_id, st.program, st.finished) == (
        "running", "run-1", "pick_cap", "pick_cap.prg", False)
    assert emulator.state()[:2] == ("running", "pick_cap.prg")

    st = status_after(driver, clock, 4.2)
    assert st.mode == "running" and st.progress == pytest.approx(0.42)
    st = status_after(driver, clock, 3.0)
    assert st.mode == "running" and st.progress == pytest.approx(0.72)

    st = status_after(driver, clock, 3.0)
    assert (st.mode, st.run_id, st.finished, st.progress) == ("idle", "run-1", True, 1.0)
    # DONE is told once; the arm is IDLE after it, and the run stays finished
    st = status_after(driver, clock, 5.0)
    assert (st.mode, st.run_id, st.finished) == ("idle", "run-1", True)
    assert emulator.arm.received[-1] == "STATUS?"


def test_status_is_asked_at_most_every_poll_s_while_running(driver, emulator, clock) -> None:
    connected(driver, clock)
    driver.run("run-1", "pick_cap", "pick_cap.prg", clock())
    before = status_lines(emulator)
    for _ in range(20):
        driver.poll(clock())
    assert status_lines(emulator) == before + 1
    driver.poll(clock.advance(POLL_S / 2))
    assert status_lines(emulator) == before + 1
    driver.poll(clock.advance(POLL_S / 2))
    assert status_lines(emulator) == before + 2


def test_status_of_an_idle_arm_is_asked_now_and_then(emulator, clock) -> None:
    with SerialArmDriver(emulator.port, PROGRAMS, command_timeout_s=3.0, idle_poll_s=1.0) as drv:
        connected(drv, clock)
        before = status_lines(emulator)
        for _ in range(7):
            drv.poll(clock.advance(0.125))
        assert status_lines(emulator) == before
        drv.poll(clock.advance(0.125))
        assert status_lines(emulator) == before + 1
        # a fault while idle shows up, and goes when the arm is cleared
        emulator.fault("emergency stop pressed")
        st = drv.poll(clock.advance(1.0))
        assert (st.mode, st.fault) == ("fault", "emergency stop pressed")
        emulator.clear()
        st = drv.poll(clock.advance(1.0))
        assert (st.mode, st.fault) == ("idle", "")


def test_progress_is_estimated_when_the_arm_does_not_report_it(emulator, clock) -> None:
    emulator.arm.dialect = Dialect(running="RUNNING")
    with SerialArmDriver(emulator.port, PROGRAMS, command_timeout_s=3.0) as drv:
        connected(drv, clock)
        drv.run("run-1", "place_cap", "place_cap.prg", clock())
        st = status_after(drv, clock, 1.0)
        assert st.mode == "running" and st.progress == pytest.approx(0.25)
        st = status_after(drv, clock, 3.5)
        assert st.finished and st.progress == 1.0


def test_unknown_program_and_busy_arm_are_refused_with_the_arms_reason(driver, emulator, clock) -> None:
    connected(driver, clock)
    with pytest.raises(DriverError, match="unknown program weld_frame.prg"):
        driver.run("run-1", "weld", "weld_frame.prg", clock())
    st = driver.poll(clock())
    assert (st.mode, st.run_id) == ("idle", None)

    driver.run("run-2", "pick_cap", "pick_cap.prg", clock())
    with pytest.raises(DriverError, match="busy"):
        driver.run("run-3", "place_cap", "place_cap.prg", clock())
    st = status_after(driver, clock, 1.0)
    assert (st.mode, st.run_id, st.program) == ("running", "run-2", "pick_cap.prg")
    assert driver.bad_replies == 0


def test_pause_and_resume_keep_the_elapsed_time(driver, emulator, clock) -> None:
    connected(driver, clock)
    driver.run("run-1", "pick_cap", "pick_cap.prg", clock())
    status_after(driver, clock, 4.0)
    driver.pause(clock())
    st = driver.poll(clock())
    assert st.mode == "paused"
    assert emulator.state()[0] == "paused"

    st = status_after(driver, clock, 100.0)  # a long pause does not count as run time
    assert (st.mode, st.finished) == ("paused", False) and st.progress == pytest.approx(0.4)

    driver.resume(clock())
    st = status_after(driver, clock, 3.0)
    assert st.mode == "running" and st.progress == pytest.approx(0.7)
    st = status_after(driver, clock, 2.9)
    assert st.mode == "running" and st.progress == pytest.approx(0.99)
    st = status_after(driver, clock, 0.2)
    assert (st.mode, st.run_id, st.finished) == ("idle", "run-1", True)
    assert emulator.arm.received.count("PAUSE") == 1 and emulator.arm.received.count("RESUME") == 1


def test_stop_stops_the_program(driver, emulator, clock) -> None:
    connected(driver, clock)
    driver.run("run-1", "pick_cap", "pick_cap.prg", clock())
    status_after(driver, clock, 2.0)
    driver.stop(clock())
    assert emulator.state()[0] == "idle"
    st = status_after(driver, clock, 1.0)
    assert (st.mode, st.run_id, st.finished) == ("stopped", "run-1", False)
    driver.run("run-2", "place_cap", "place_cap.prg", clock())  # a stopped arm takes a new run
    assert driver.poll(clock()).mode == "running"


# faults and lost lines -------------------------------------------------------------------
def test_fault_mid_program_is_reported_with_its_reason(driver, emulator, clock) -> None:
    connected(driver, clock)
    driver.run("run-1", "pick_cap", "pick_cap.prg", clock())
    status_after(driver, clock, 3.0)
    emulator.fault("protective stop: collision at joint 3")
    st = status_after(driver, clock, 0.5)
    assert (st.mode, st.fault, st.run_id, st.finished) == (
        "fault", "protective stop: collision at joint 3", "run-1", False)
    with pytest.raises(DriverError, match="fault protective stop"):
        driver.run("run-2", "place_cap", "place_cap.prg", clock())
    # acknowledged on the arm: the program is abandoned, the arm idle and free again
    emulator.clear()
    st = status_after(driver, clock, 1.0)
    assert (st.mode, st.fault, st.finished) == ("idle", "", False)
    driver.run("run-3", "place_cap", "place_cap.prg", clock())
    assert driver.poll(clock()).mode == "running"


def test_silent_arm_goes_disconnected_then_reconnects_with_back_off(emulator, clock) -> None:
    with SerialArmDriver(emulator.port, PROGRAMS, command_timeout_s=0.3, reconnect_min_s=0.5,
                         reconnect_max_s=2.0) as drv:
        connected(drv, clock)
        drv.run("run-1", "screw_lid", "screw_lid.prg", clock())
        status_after(drv, clock, 1.0)
        emulator.go_silent()

        began = time.monotonic()
        st = status_after(drv, clock, 1.0)
        waited = time.monotonic() - began
        assert st.mode == "disconnected"
        assert "no reply to 'STATUS?' within 0.3 s" in st.fault
        assert st.run_id == "run-1" and not st.finished
        assert waited < 2.5  # the timeout (0.3 s), with room for a loaded machine, not the reconnect cap
        with pytest.raises(DriverError, match="no connection to the arm"):
            drv.pause(clock())

        # polling often does not hammer the port: attempts back off 0.5, 1, 2, 2 s (capped)
        lost_at = clock()
        for _ in range(60):
            drv.poll(clock.advance(0.1))
        attempts = [t - lost_at for t, line in emulator.arm.ignored if line == "ID?"]
        assert attempts == pytest.approx([0.5, 1.5, 3.5, 5.5], abs=0.15)

        emulator.answer_again()
        st = connected(drv, clock)
        assert (st.mode, st.run_id, st.fault) == ("running", "run-1", "")
        while not st.finished and clock() - lost_at < 120:
            st = status_after(drv, clock, 2.0)
        assert (st.mode, st.run_id, st.finished) == ("idle", "run-1", True)


def test_unplugged_arm_is_found_again_after_replug(emulator, clock) -> None:
    with SerialArmDriver(emulator.port, PROGRAMS, command_timeout_s=3.0, reconnect_max_s=1.0) as drv:
        connected(drv, clock)
        drv.run("run-1", "pick_cap", "pick_cap.prg", clock())
        status_after(drv, clock, 1.0)
        emulator.unplug()
        st = status_after(drv, clock, 1.0)
        assert st.mode == "disconnected" and "serial error during 'STATUS?'" in st.fault
        for _ in range(30):  # the port is gone: attempts fail at once, nothing blocks
            st = drv.poll(clock.advance(0.1))
        assert st.mode == "disconnected" and f"cannot open {emulator.port}" in st.fault
        assert drv.bad_replies == 0

        emulator.replug()
        st = connected(drv, clock)
        assert (st.mode, st.run_id) == ("running", "run-1")
        assert drv.capabilities().description == IDENT


def test_garbage_reply_is_counted_and_refused_clearly_without_a_crash(driver, emulator, clock) -> None:
    connected(driver, clock)
    emulator.garble_next_reply("\x7f#~?x")
    with pytest.raises(DriverError) as err:
        driver.run("run-1", "pick_cap", "pick_cap.prg", clock())
    text = str(err.value)
    assert "'\\x7f#~?x'" in text and "RUN pick_cap.prg" in text and r"ok /^OK\b/" in text
    assert driver.bad_replies == 1
    # the arm did take the garbled RUN: the driver stopped it so nothing moves that the cell thinks refused
    assert emulator.arm.received[-2:] == ["RUN pick_cap.prg", "STOP"]
    assert emulator.state()[0] == "idle"
    assert "does not move unasked" in text

    # a garbled status reply: counted, the status stays what it was, nothing raises
    driver.run("run-2", "place_cap", "place_cap.prg", clock())
    emulator.garble_next_reply("RUNNIN 0.5")
    st = status_after(driver, clock, 1.0)
    assert (st.mode, st.run_id) == ("running", "run-2")
    assert driver.bad_replies == 2
    assert "'RUNNIN 0.5'" in driver.last_error and "expected a status line" in driver.last_error
    st = status_after(driver, clock, 1.0)
    assert st.mode == "running" and st.progress == pytest.approx(0.5)


def test_a_stream_of_garbage_counts_as_a_lost_line_and_recovers(driver, emulator, clock) -> None:
    connected(driver, clock)
    for i in range(BAD_REPLIES_BEFORE_DISCONNECT):
        emulator.garble_next_reply(f"\xff\xfe noise {i}")
    for _ in range(BAD_REPLIES_BEFORE_DISCONNECT):
        st = driver.poll(clock.advance(1.0))
    assert driver.bad_replies == BAD_REPLIES_BEFORE_DISCONNECT
    assert st.mode == "disconnected" and "unreadable replies in a row" in st.fault
    st = connected(driver, clock)
    assert st.mode == "idle"


def test_custom_protocol_with_crlf(clock, tmp_path) -> None:
    dialect = Dialect(line_ending="\r\n", ident="ACME GRIPPER G2 (emulated)", hello="*IDN?",
                      run="START:{program}", pause="HOLD", resume="CONT", stop="ABORT", status="Q",
                      ok="ACK", error="NAK {reason}", idle="ST READY", running="ST BUSY {percent:.0f}%",
                      paused="ST HOLD", done="ST COMPLETE", fault="ST ALARM {reason}")
    protocol = SerialProtocol(line_ending="\r\n", hello="*IDN?", run="START:{program}", pause="HOLD",
                              resume="CONT", stop="ABORT", status="Q", ok=r"^ACK$", error=r"^NAK (?P<reason>.+)$",
                              idle=r"^ST READY$", running=r"^ST BUSY (?P<percent>\d+)%$", paused=r"^ST HOLD$",
                              done=r"^ST COMPLETE$", fault=r"^ST ALARM (?P<reason>.+)$", poll_s=0.5)
    with PtyArmEmulator({"grip": 8.0}, dialect, clock=clock) as emu, \
            SerialArmDriver(emu.port, {"grip_part": ("grip", 8.0)}, protocol=protocol, command_timeout_s=3.0) as drv:
        st = connected(drv, clock)
        assert st.mode == "idle" and drv.capabilities().description == "ACME GRIPPER G2 (emulated)"
        with pytest.raises(DriverError, match="unknown program squeeze"):
            drv.run("r0", "grip_part", "squeeze", clock())
        drv.run("r1", "grip_part", "grip", clock())
        st = drv.poll(clock.advance(4.0))
        assert st.mode == "running" and st.progress == pytest.approx(0.5)
        drv.pause(clock())
        assert drv.poll(clock.advance(30.0)).mode == "paused"
        drv.resume(clock())
        emu.fault("no part in jaws")
        st = drv.poll(clock.advance(1.0))
        assert (st.mode, st.fault) == ("fault", "no part in jaws")
        emu.clear()
        drv.run("r2", "grip_part", "grip", clock())
        st = drv.poll(clock.advance(8.5))
        assert (st.mode, st.run_id, st.finished) == ("idle", "r2", True)
        assert drv.bad_replies == 0
        assert emu.arm.received[:3] == ["*IDN?", "Q", "START:squeeze"]
        assert b"*IDN?\r\nQ\r\nSTART:squeeze\r\nSTART:grip\r\n" in bytes(emu.raw_received)
        assert b"HOLD\r\n" in bytes(emu.raw_received) and b"CONT\r\n" in bytes(emu.raw_received)


def test_loop_url_echo_is_recognised_as_no_arm(clock) -> None:
    """loop:// sends every command straight back: a loopback plug or the wrong port, never an arm."""
    with SerialArmDriver("loop://", PROGRAMS, command_timeout_s=1.0) as drv:
        st = drv.poll(clock())
        assert st.mode == "disconnected"
        assert "came back as sent: 'ID?'" in st.fault and "looped-back" in st.fault
        assert drv.bad_replies == 1
        with pytest.raises(DriverError, match="no connection to the arm"):
            drv.run("run-1", "pick_cap", "pick_cap.prg", clock())
        st = drv.poll(clock.advance(10.0))  # the next attempt fails the same way, counted, no crash
        assert st.mode == "disconnected" and drv.bad_replies == 2


def test_unknown_url_scheme_is_a_clear_disconnect(clock) -> None:
    with SerialArmDriver("nosuch://arm", PROGRAMS) as drv:
        st = drv.poll(clock())
        assert st.mode == "disconnected" and "cannot open nosuch://arm" in st.fault


def test_real_clock_run_finishes(tmp_path) -> None:
    """Same thing on the wall clock, as the robot node runs it."""
    with PtyArmEmulator({"quick.prg": 0.3}) as emu, \
            SerialArmDriver(emu.port, {"quick": ("quick.prg", 0.3)}, command_timeout_s=3.0) as drv:
        assert drv.poll(time.monotonic()).mode == "idle"
        drv.run("run-1", "quick", "quick.prg", time.monotonic())
        deadline = time.monotonic() + 15
        seen = set()
        while time.monotonic() < deadline:
            st = drv.poll(time.monotonic())
            seen.add(st.mode)
            if st.finished:
                break
            time.sleep(0.02)
        assert st.finished and st.mode == "idle" and "running" in seen


def test_emulator_command_line_prints_its_port(tmp_path) -> None:
    link = tmp_path / "arm"
    proc = subprocess.Popen([sys.executable, "-m", "robot_bridge.serial_emulator", "--program", "pick_cap.prg=5",
                             "--link", str(link), "--quiet"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "the emulator printed no port"
        port = proc.stdout.readline().strip()
        assert port == str(link) and os.path.realpath(port).startswith("/dev/pts/")
        with SerialArmDriver(port, PROGRAMS, command_timeout_s=5.0) as drv:
            assert drv.poll(time.monotonic()).mode == "idle"
            assert drv.capabilities().description == IDENT
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
        assert "SIMULATED-ARM" in proc.stderr.read()
        proc.stderr.close()
    assert not link.exists() and not link.is_symlink()


def test_emulator_closes_its_descriptors(clock) -> None:
    emu = PtyArmEmulator({"x": 1.0}, clock=clock)
    fds = [emu._master, emu._slave]
    emu.close()
    assert not emu.serving
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)


def test_an_arm_without_an_id_command_still_connects(clock) -> None:
    with PtyArmEmulator(DURATIONS, Dialect(hello="*IDN?"), clock=clock) as emu, \
            SerialArmDriver(emu.port, PROGRAMS, name="gripper", command_timeout_s=3.0) as drv:
        assert connected(drv, clock).mode == "idle"
        assert drv.capabilities().description == f"gripper on {emu.port}"
        assert drv.bad_replies == 0


def test_the_yaml_examples_in_the_protocol_doc_are_valid() -> None:
    from ruamel.yaml import YAML

    text = (ROOT / "docs" / "serial-protocol.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    assert len(blocks) == 2
    for block in blocks:
        robot = Robot.model_validate(YAML(typ="safe").load(block)["robot"])
        drv = SerialArmDriver.from_config(robot)  # compiles every pattern
        assert robot.driver == "serial" and drv.capabilities().programs
    assert robot.serial.line_ending == "\r\n" and robot.serial.running == r"^ST BUSY (?P<percent>\d+)%$"
