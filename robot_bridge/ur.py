"""A Universal Robots cobot behind the RobotDriver interface, through ur-rtde.

Each step's program is a ``.urp`` file on the controller. The driver loads it
and plays it through the Dashboard server (``dashboard_client.DashboardClient``)
and follows it until the controller reports it ``STOPPED`` again. Like
Universal Robots' own client library it distrusts replies: every reply is
checked against the text the controller sends on success, and then the state
it asked for is polled (``get loaded program`` / ``programState``) before the
command counts as done.

Faults: a safety status other than NORMAL/REDUCED (protective stop, safeguard
stop, emergency stop, ...) is mode ``fault`` with the status in ``fault``; a
robot mode other than RUNNING is ``fault`` too (the arm cannot move). A lost
connection is mode ``disconnected``; ``poll(now)`` reconnects with exponential
back-off up to ``reconnect_max_s``. A program seen STOPPED after it played
counts as finished; the Dashboard server cannot tell that apart from someone
pressing stop on the pendant. If the connection was lost while a program ran
and it is STOPPED when the driver is back, the run is reported ``stopped``,
not finished, because nobody saw it end.

Live state (robot mode, safety mode, runtime state, speed scaling, joints)
comes over RTDE (``rtde_receive.RTDEReceiveInterface``) when ``use_rtde`` is
on and the controller answers; without RTDE the same facts are asked from the
Dashboard server. ur-rtde 1.6.5's RTDEReceiveInterface always connects to port
30004: any other ``rtde_port`` turns RTDE off, and the description says why.

Blocking: every call is bounded. Connecting waits at most ``timeout``; a
Dashboard reply at most ur-rtde's fixed 2.5 s read deadline; waiting for a
state the driver asked for at most ``timeout``. ``poll()`` asks the
controller at most every ``poll_s`` (default 0.2 s), so the robot node can
call it at 10 Hz. Two ur-rtde waits are not bounded by ur-rtde itself and are
guarded here: RTDE's TCP connect (a socket probe with ``timeout`` goes first)
and RTDE's handshake (it only starts once the controller accepted the probe).

This module talks to a real controller; :mod:`robot_bridge.ur_emulator` is a
simulated one for tests and demos. Pass ``simulated=True`` when the driver is
pointed at the emulator, so that the status says so.
"""

from __future__ import annotations

import posixpath
import re
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from robot_bridge.driver import Capabilities, DriverError, DriverStatus

RTDE_PORT = 30004  # the only port ur-rtde 1.6.5's RTDEReceiveInterface connects to
# Only names ur-rtde's RobotState knows: it skips unknown names without moving on in the package.
RTDE_VARIABLES = ("timestamp", "robot_mode", "safety_mode", "safety_status_bits", "runtime_state",
                  "speed_scaling", "actual_q")

ROBOT_MODES = {-1: "NO_CONTROLLER", 0: "DISCONNECTED", 1: "CONFIRM_SAFETY", 2: "BOOTING", 3: "POWER_OFF",
               4: "POWER_ON", 5: "IDLE", 6: "BACKDRIVE", 7: "RUNNING", 8: "UPDATING_FIRMWARE"}
SAFETY_MODES = {1: "NORMAL", 2: "REDUCED", 3: "PROTECTIVE_STOP", 4: "RECOVERY", 5: "SAFEGUARD_STOP",
                6: "SYSTEM_EMERGENCY_STOP", 7: "ROBOT_EMERGENCY_STOP", 8: "VIOLATION", 9: "FAULT",
                10: "VALIDATE_JOINT_ID", 11: "UNDEFINED_SAFETY_MODE", 12: "AUTOMATIC_MODE_SAFEGUARD_STOP",
                13: "SYSTEM_THREE_POSITION_ENABLING_STOP"}
RUNTIME_STATES = {0: "STOPPING", 1: "STOPPED", 2: "PLAYING", 3: "PAUSING", 4: "PAUSED", 5: "RESUMING"}
SAFE_TO_RUN = ("NORMAL", "REDUCED")

SAFETY_TEXT = {
    "PROTECTIVE_STOP": "protective stop: the arm stopped itself (contact, force or joint limit); "
                       "inspect the cause, then unlock it on the teach pendant",
    "SAFEGUARD_STOP": "safeguard stop: a safeguard input (door, light curtain, scanner) stopped the arm",
    "AUTOMATIC_MODE_SAFEGUARD_STOP": "automatic-mode safeguard stop: a safeguard input stopped the arm",
    "SYSTEM_EMERGENCY_STOP": "emergency stop: an emergency stop button in the cell is pressed",
    "ROBOT_EMERGENCY_STOP": "emergency stop: the teach pendant's emergency stop is pressed",
    "SYSTEM_THREE_POSITION_ENABLING_STOP": "stopped: the three-position enabling device was released",
    "RECOVERY": "recovery mode: the arm is outside its safety limits; move it back on the teach pendant",
    "VIOLATION": "safety violation: the safety system stopped the arm; restart safety on the teach pendant",
    "FAULT": "safety fault: the safety system stopped the arm; restart safety on the teach pendant",
}

# The reply each command gets on success (regular expressions; the Dashboard server's own texts).
EXPECTED_REPLY = {"load": r"Loading program: .*", "play": r"Starting program", "pause": r"Pausing program",
                  "stop": r"Stopped", "unlock protective stop": r"Protective stop releasing",
                  "close safety popup": r"closing safety popup"}
PROGRAM_STATE = re.compile(r"(STOPPED|PLAYING|PAUSED) (.*)")


class _Lost(Exception):
    """The connection to the controller broke (the message says during what, and how)."""


@dataclass(frozen=True)
class ProgramCheck:
    step_id: str
    program: str
    status: str        # ok, missing, refused, not checked
    detail: str = ""


@dataclass(frozen=True)
class URCheck:
    """What a commissioning check found on the controller."""

    host: str
    dashboard_port: int
    reachable: bool
    simulated: bool = False
    polyscope_version: str | None = None
    robot_model: str | None = None
    robot_mode: str | None = None
    safety_status: str | None = None
    remote_control: bool | None = None     # None: the PolyScope version cannot tell
    program_state: str | None = None
    rtde: str = ""
    programs: tuple[ProgramCheck, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reachable and not self.problems

    def lines(self) -> list[str]:
        """The check as lines of text for a terminal."""
        where = f"{self.host}:{self.dashboard_port}" + (" (simulated controller)" if self.simulated else "")
        if not self.reachable:
            return [f"UR controller {where}: not reachable", *(f"  problem: {p}" for p in self.problems)]
        remote = {True: "yes", False: "no (Local control)", None: "cannot tell (PolyScope < 5.6)"}
        out = [f"UR controller {where}: {self.robot_model or 'model ?'}, PolyScope {self.polyscope_version or '?'}",
               f"  robot mode      {self.robot_mode}", f"  safety status   {self.safety_status}",
               f"  remote control  {remote[self.remote_control]}", f"  program state   {self.program_state}",
               f"  RTDE            {self.rtde}"]
        for p in self.programs:
            out.append(f"  step {p.step_id:<14} {p.program:<28} {p.status}" + (f": {p.detail}" if p.detail else ""))
        out.extend(f"  problem: {p}" for p in self.problems)
        out.append("  OK" if self.ok else f"  {len(self.problems)} problem(s)")
        return out


class URDriver:
    """A Universal Robots controller running one ``.urp`` program per cobot step."""

    def __init__(self, host: str, dashboard_port: int = 29999, rtde_port: int = RTDE_PORT, use_rtde: bool = True,
                 programs: Mapping[str, str | tuple[str, float]] | None = None, timeout: float = 2.0,
                 reconnect_max_s: float = 10.0, *, name: str = "cobot", poll_s: float = 0.2,
                 rtde_frequency: float = 10.0, simulated: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        if timeout <= 0 or reconnect_max_s <= 0 or poll_s <= 0 or rtde_frequency <= 0:
            raise ValueError("timeout, reconnect_max_s, poll_s and rtde_frequency must be > 0")
        self.host, self.dashboard_port, self.rtde_port, self.use_rtde = host, dashboard_port, rtde_port, use_rtde
        self.programs: dict[str, str] = {}
        self.durations: dict[str, float] = {}   # step id -> expected run time (for progress only)
        for step, spec in (programs or {}).items():
            if isinstance(spec, str):
                self.programs[step] = spec
            else:
                self.programs[step], self.durations[step] = spec[0], float(spec[1])
        self.timeout, self.reconnect_max_s, self.poll_s = timeout, reconnect_max_s, poll_s
        self.rtde_frequency, self.name, self.simulated, self.clock = rtde_frequency, name, simulated, clock
        self.where = f"{host}:{dashboard_port}"
        # connection
        self._dash: Any = None
        self._tried = False
        self._next_connect = 0.0
        self._backoff = 0.0
        self._conn_fault = f"not connected yet to the UR controller at {self.where}"
        self._version: str | None = None
        self._version_tuple: tuple[int, ...] = ()
        self._model: str | None = None
        self._rtde: Any = None
        self._dead_rtde: list[Any] = []
        self._rtde_note = self._rtde_off_reason() or "not connected yet"
        self._next_rtde = 0.0
        self._rtde_backoff = 0.0
        # the controller as last seen
        self._next_poll = 0.0
        self.program_state: str | None = None     # STOPPED, PLAYING, PAUSED
        self.program_name: str | None = None      # as programState names it
        self.safety_status: str | None = None
        self.robot_mode: str | None = None
        # the run
        self._run: tuple[str, str, str] | None = None   # run_id, step_id, program
        self._active = False        # our program was started and not yet seen to end
        self._finished = False
        self._lost_sight = False    # the connection broke while our program was active
        self._interrupted = False   # the safety system or the arm stopped our program, and it has not played since
        self._ran_s = 0.0
        self._since: float | None = None
        self._mode = "disconnected"
        self._fault = self._conn_fault
        self._rest = ("idle", "")   # mode and fault to show when nothing of ours is active

    @classmethod
    def from_config(cls, robot: Any, *, simulated: bool = False) -> URDriver:
        """A driver for a ``cell.config.Robot`` with ``driver: ur``."""
        return cls(robot.host, robot.dashboard_port, robot.rtde_port, robot.use_rtde,
                   {s: (p.program, p.duration_s) for s, p in robot.programs.items()},
                   timeout=robot.command_timeout_s, reconnect_max_s=robot.reconnect_max_s, name=robot.name,
                   simulated=simulated)

    # RobotDriver ---------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        if self._dash is None and not self._tried:
            self._connect(self.clock())
        model = f" {self._model}" if self._model else ""
        text = f"{self.name}: Universal Robots{model} at {self.where}"
        text += f", PolyScope {self._version}" if self._version else f" (not connected: {self._conn_fault})"
        if self.use_rtde:
            text += ", live state over RTDE" if self._rtde is not None else f", no RTDE ({self._rtde_note})"
        if self.simulated:
            text += " (simulated controller: UR emulator)"
        return Capabilities(programs=dict(self.programs), simulated=self.simulated, description=text)

    def run(self, run_id: str, step_id: str, program: str, now: float) -> None:
        if self._active:
            raise DriverError(f"cannot run {program}: the cobot is busy with {self._run[2] if self._run else '?'} "
                              f"({self._mode}); stop it first")
        configured = self.programs.get(step_id)
        if configured is None:
            raise DriverError(f"program not found: no UR program is configured for step '{step_id}'")
        if configured != program:
            raise DriverError(f"program not found: step '{step_id}' runs {configured} on this cobot, not {program}")
        self._require_connection(now, f"run {program}")
        base = posixpath.basename(program)
        try:
            safety, robot_mode = self._ask_safety(), self._ask_robot_mode()
            if safety not in SAFE_TO_RUN:
                self.safety_status = safety
                self._mode, self._fault = "fault", self._safety_text(safety)
                raise DriverError(f"cannot run {program}: {self._safety_text(safety)}")
            if robot_mode != "RUNNING":
                raise DriverError(f"cannot run {program}: the arm is not ready (Robotmode: {robot_mode}); "
                                  "power it on and release the brakes on the teach pendant")
            if self._ask_remote() is False:
                raise DriverError(f"cannot run {program}: the teach pendant is in Local control; "
                                  "switch it to Remote Control so the cell may start programs")
            state, name = self._ask_program_state()
            if state in ("PLAYING", "PAUSED"):
                raise DriverError(f"cannot run {program}: the controller is busy ({state} {name})")
            ok, reply = self._command(f"load {program}")
            if not ok:
                if reply.startswith("File not found"):
                    raise DriverError(f"program not found on the controller: {program} (it said '{reply}')")
                raise DriverError(f"the controller refused to load {program}: '{reply}'")
            loaded, seen = self._await(lambda: self._is_loaded(base))
            if not loaded:
                raise DriverError(f"the controller answered '{reply}' but {program} is not loaded ({seen})")
            ok, reply = self._command("play")
            if not ok:
                raise DriverError(f"the controller refused to start {program}: '{reply}'")
        except _Lost as exc:
            self._lose(now, str(exc))
            raise DriverError(f"cannot run {program}: {self._conn_fault}") from None
        # play was accepted: from here on the run exists, whatever we see next
        self._run, self._active, self._finished, self._lost_sight = (run_id, step_id, program), True, False, False
        self._interrupted = False
        self._ran_s, self._since = 0.0, now
        self._mode, self._fault, self._rest = "running", "", ("idle", "")
        try:
            started, seen = self._await(lambda: self._in_state(base, "PLAYING", "PAUSED"))
        except _Lost as exc:
            self._lose(now, str(exc))
            return
        if not started:
            self._active, self._since, self._mode = False, None, "stopped"
            self._fault = f"the controller answered 'Starting program' but {program} did not start ({seen})"
            raise DriverError(self._fault)
        self._next_poll = now + self.poll_s

    def pause(self, now: float) -> None:
        if not (self._active and self._mode == "running"):
            return
        program = self._run[2] if self._run else "?"
        self._require_connection(now, f"pause {program}")
        try:
            ok, reply = self._command("pause")
            if not ok:
                state, name = self._ask_program_state()
                if state == "STOPPED":  # it ended just before the pause arrived
                    self._refresh(now, state, name)
                    return
                raise DriverError(f"the controller refused to pause {program}: '{reply}'")
            paused, seen = self._await(lambda: self._in_state(posixpath.basename(program), "PAUSED"))
        except _Lost as exc:
            self._lose(now, str(exc))
            raise DriverError(f"cannot pause {program}: {self._conn_fault}; the robot's own safety system "
                              "remains in charge") from None
        if not paused:
            raise DriverError(f"the controller answered 'Pausing program' but {program} is not paused ({seen})")
        self._stop_clock(now)
        self._mode, self._fault = "paused", ""

    def resume(self, now: float) -> None:
        if not (self._active and self._mode == "paused"):
            return
        program = self._run[2] if self._run else "?"
        self._require_connection(now, f"resume {program}")
        try:
            safety = self._ask_safety()
            if safety not in SAFE_TO_RUN:
                raise DriverError(f"cannot resume {program}: {self._safety_text(safety)}")
            ok, reply = self._command("play")
            if not ok:
                raise DriverError(f"the controller refused to resume {program}: '{reply}'")
            playing, seen = self._await(lambda: self._in_state(posixpath.basename(program), "PLAYING"))
        except _Lost as exc:
            self._lose(now, str(exc))
            raise DriverError(f"cannot resume {program}: {self._conn_fault}") from None
        if not playing:
            raise DriverError(f"the controller answered 'Starting program' but {program} is not playing ({seen})")
        self._since = now
        self._mode, self._fault = "running", ""

    def stop(self, now: float) -> None:
        if not self._active:
            return
        program = self._run[2] if self._run else "?"
        self._require_connection(now, f"stop {program}")
        try:
            ok, reply = self._command("stop")
            if not ok:
                raise DriverError(f"the controller refused to stop {program}: '{reply}'")
            stopped, seen = self._await(lambda: self._in_state(posixpath.basename(program), "STOPPED"))
        except _Lost as exc:
            self._lose(now, str(exc))
            raise DriverError(f"cannot stop {program}: {self._conn_fault}") from None
        if not stopped:
            raise DriverError(f"the controller answered 'Stopped' but {program} is still running ({seen})")
        self._stop_clock(now)
        self._active = False
        self._rest = ("stopped", "")
        if self._mode != "fault":
            self._mode, self._fault = self._rest

    def poll(self, now: float) -> DriverStatus:
        if self._dash is None:
            if now >= self._next_connect:
                self._connect(now)
        elif now >= self._next_poll:
            self._next_poll = now + self.poll_s
            try:
                self._refresh(now)
            except _Lost as exc:
                self._lose(now, str(exc))
        self._tend_rtde(now)
        return self._status(now)

    # extras for the node and the commissioning command -------------------------------------
    def unlock_protective_stop(self, now: float) -> None:
        """Release a protective stop (as the pendant's button does) and close its popup.

        The controller refuses within 5 s of the stop; inspect the cause before calling this.
        The program stays paused: ``resume`` continues it, ``stop`` ends it.
        """
        self._require_connection(now, "unlock the protective stop")
        try:
            ok, reply = self._command("unlock protective stop")
            if not ok:
                raise DriverError(f"the controller did not release the protective stop: '{reply}'")
            self._command("close safety popup")
            released, seen = self._await(lambda: (self._ask_safety() in SAFE_TO_RUN, "safety status"))
            self._refresh(now)
        except _Lost as exc:
            self._lose(now, str(exc))
            raise DriverError(f"cannot unlock the protective stop: {self._conn_fault}") from None
        if not released:
            raise DriverError(f"the controller answered '{reply}' but the arm is still stopped "
                              f"(Safetystatus: {self.safety_status})")

    def live_state(self) -> dict[str, Any] | None:
        """The latest RTDE values (robot mode, safety mode, runtime state, ...), or None without RTDE."""
        r = self._rtde
        if r is None:
            return None
        try:
            if not r.isConnected():
                return None
            return {"timestamp": r.getTimestamp(), "robot_mode": ROBOT_MODES.get(r.getRobotMode(), "?"),
                    "safety_mode": SAFETY_MODES.get(r.getSafetyMode(), "?"),
                    "runtime_state": RUNTIME_STATES.get(r.getRuntimeState(), "?"),
                    "safety_status_bits": r.getSafetyStatusBits(), "speed_scaling": r.getSpeedScaling(),
                    "actual_q": list(r.getActualQ())}
        except Exception:  # the receive thread went away between the check and the read
            return None

    def check(self) -> URCheck:
        """Commissioning: is the controller reachable and ready, and does every step's program load?

        Loading a program changes what the pendant shows, so programs are only tried while no
        program runs and the pendant is in Remote Control; the program that was loaded before
        is loaded again afterwards.
        """
        now = self.clock()
        if self._dash is None and not self._connect(now):
            return URCheck(self.host, self.dashboard_port, False, self.simulated, problems=(self._conn_fault,))
        problems: list[str] = []
        checks: list[ProgramCheck] = []
        safety = robot_mode = state = None
        remote: bool | None = None
        try:
            safety, robot_mode, remote = self._ask_safety(), self._ask_robot_mode(), self._ask_remote()
            state, name = self._ask_program_state()
            if safety not in SAFE_TO_RUN:
                problems.append(self._safety_text(safety))
            if robot_mode != "RUNNING":
                problems.append(f"the arm is not ready (Robotmode: {robot_mode}): power it on and release the "
                                "brakes on the teach pendant")
            if remote is False:
                problems.append("the teach pendant is in Local control: switch it to Remote Control")
            why_not = ("a program is running" if state != "STOPPED" else
                       "not in Remote Control" if remote is False else "")
            before = self._loaded_path()
            for step, program in self.programs.items():
                if why_not:
                    checks.append(ProgramCheck(step, program, "not checked", why_not))
                    continue
                ok, reply = self._command(f"load {program}")
                if ok:
                    loaded, seen = self._await(lambda: self._is_loaded(posixpath.basename(program)))
                    checks.append(ProgramCheck(step, program, "ok" if loaded else "refused",
                                               "" if loaded else f"answered '{reply}' but {seen}"))
                else:
                    status = "missing" if reply.startswith("File not found") else "refused"
                    checks.append(ProgramCheck(step, program, status, reply))
                if checks[-1].status != "ok":
                    problems.append(f"step {step}: {program} {checks[-1].status} ({checks[-1].detail})")
            if not why_not and self.programs and before:
                self._command(f"load {before}")  # leave the pendant as it was
            state_text = f"{state} {name}"
        except _Lost as exc:
            self._lose(now, str(exc))
            problems.append(self._conn_fault)
            state_text = state or "?"
        rtde = self._check_rtde(now)
        if self.use_rtde and not rtde.startswith("ok"):
            problems.append(f"RTDE: {rtde}")
        return URCheck(self.host, self.dashboard_port, True, self.simulated, self._version, self._model, robot_mode,
                       safety, remote, state_text, rtde, tuple(checks), tuple(problems))

    def close(self) -> None:
        """Let go of the controller (the node calls this when it stops)."""
        self._drop_rtde()
        self._drop_dashboard()

    # connection --------------------------------------------------------------------------
    def _connect(self, now: float) -> bool:
        self._tried = True
        try:
            import dashboard_client
        except ImportError as exc:
            self._conn_fault = f"ur-rtde is not installed ({exc}); install ur-rtde==1.6.5"
            self._schedule_reconnect(now)
            return False
        dash = dashboard_client.DashboardClient(self.host, self.dashboard_port, False)
        try:
            dash.connect(max(1, int(self.timeout * 1000)))  # reads the server's banner too
            if not dash.isConnected():
                raise RuntimeError("the connection did not come up")
            self._dash = dash
            self._version = self._call("PolyscopeVersion", dash.polyscopeVersion).strip()
            self._version_tuple = tuple(int(x) for x in re.findall(r"\d+", self._version)[:4])
            if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", self._version):
                raise _Lost(f"unexpected answer to PolyscopeVersion: '{self._version}'")
            self._model = None
            if self._at_least((5, 6), (3, 12)):
                model = self._call("get robot model", dash.getRobotModel).strip()
                self._model = model if model.startswith("UR") else None
        except (_Lost, RuntimeError, OSError) as exc:
            self._drop_dashboard()
            self._conn_fault = f"no connection to the UR controller at {self.where}: {exc}"
            self._schedule_reconnect(now)
            self._mode, self._fault = "disconnected", self._retry_text(now)
            return False
        self._backoff = 0.0
        self._conn_fault = ""
        self._next_poll = now + self.poll_s
        self._tend_rtde(now)
        try:
            self._refresh(now)
        except _Lost as exc:
            self._lose(now, str(exc))
            return False
        return True

    def _require_connection(self, now: float, what: str) -> None:
        if self._dash is None and not self._connect(now):
            raise DriverError(f"cannot {what}: {self._conn_fault}")

    def _schedule_reconnect(self, now: float) -> None:
        self._backoff = min(self.reconnect_max_s, max(0.5, self._backoff * 2))
        self._next_connect = now + self._backoff

    def _retry_text(self, now: float) -> str:
        return f"{self._conn_fault}; next try in {max(0.0, self._next_connect - now):.1f} s"

    def _lose(self, now: float, reason: str) -> None:
        """The connection broke: say so, remember a run we can no longer see, plan a reconnect."""
        self._drop_dashboard()
        if self._active:
            self._lost_sight = True
            self._stop_clock(now)
        self._conn_fault = f"lost the connection to the UR controller at {self.where} ({reason})"
        self._schedule_reconnect(now)
        self._mode, self._fault = "disconnected", self._retry_text(now)

    def _drop_dashboard(self) -> None:
        dash, self._dash = self._dash, None
        if dash is not None:
            try:
                dash.disconnect()
            except Exception:
                pass

    def _at_least(self, e_series: tuple[int, int], cb3: tuple[int, int]) -> bool:
        v = self._version_tuple
        if len(v) < 2:
            return False
        return v[:2] >= e_series if v[0] >= 5 else (v[0] == 3 and v[:2] >= cb3)

    # talking to the Dashboard server ---------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # ur-rtde raises RuntimeError for EOF, broken pipe, read deadline
            raise _Lost(f"'{what}' failed: {exc}") from None

    def _command(self, command: str) -> tuple[bool, str]:
        """Send one command; (reply is the success reply, reply). Only connection trouble raises."""
        if self._dash is None:
            raise _Lost(f"'{command}' not sent: not connected")
        dash = self._dash
        self._call(command, dash.send, command + "\n")
        reply = str(self._call(command, dash.receive)).strip()
        key = "load" if command.startswith("load ") else command
        return re.fullmatch(EXPECTED_REPLY[key], reply) is not None, reply

    def _ask_program_state(self) -> tuple[str | None, str]:
        reply = str(self._call("programState", self._dash.programState)).strip()
        m = PROGRAM_STATE.fullmatch(reply)
        return (m.group(1), m.group(2).strip()) if m else (None, reply)

    def _ask_safety(self) -> str:
        if self._at_least((5, 4), (3, 11)):
            reply, prefix = str(self._call("safetystatus", self._dash.safetystatus)), "Safetystatus:"
        else:
            reply, prefix = str(self._call("safetymode", self._dash.safetymode)), "Safetymode:"
        reply = reply.strip()
        return reply[len(prefix):].strip() if reply.startswith(prefix) else f"unexpected answer '{reply}'"

    def _ask_robot_mode(self) -> str:
        reply = str(self._call("robotmode", self._dash.robotmode)).strip()
        return reply[len("Robotmode:"):].strip() if reply.startswith("Robotmode:") else f"unexpected answer '{reply}'"

    def _ask_remote(self) -> bool | None:
        """Remote Control on? None where PolyScope cannot tell (before 5.6, and CB3)."""
        v = self._version_tuple
        if len(v) < 2 or v[0] != 5 or v[1] < 6:
            return None
        return bool(self._call("is in remote control", self._dash.isInRemoteControl))

    def _loaded_path(self) -> str | None:
        reply = str(self._call("get loaded program", self._dash.getLoadedProgram)).strip()
        m = re.fullmatch(r"Loaded program: (.+)", reply)
        return m.group(1).strip() if m else None

    def _is_loaded(self, base: str) -> tuple[bool, str]:
        path = self._loaded_path()
        state, name = self._ask_program_state()
        ok = path is not None and posixpath.basename(path) == base and state == "STOPPED" and name == base
        return ok, f"loaded program {path or 'none'}, programState {state} {name}"

    def _in_state(self, base: str, *states: str) -> tuple[bool, str]:
        state, name = self._ask_program_state()
        return state in states and name == base, f"programState {state} {name}"

    def _await(self, probe: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
        """Ask until the probe holds or ``timeout`` passes; (held, what was seen last)."""
        deadline = self.clock() + self.timeout
        while True:
            ok, seen = probe()
            if ok or self.clock() >= deadline:
                return ok, seen
            time.sleep(0.02)

    # following the controller ------------------------------------------------------------
    def _refresh(self, now: float, state: str | None = None, name: str = "") -> None:
        if state is None:
            state, name = self._ask_program_state()
        live = self._rtde_modes()
        if live is not None:
            safety, robot_mode = live
        else:
            safety, robot_mode = self._ask_safety(), self._ask_robot_mode()
        self.safety_status, self.robot_mode = safety, robot_mode
        if state is not None:
            self.program_state, self.program_name = state, name
        self._apply(now, state, name, safety, robot_mode)

    def _apply(self, now: float, state: str | None, name: str, safety: str, robot_mode: str) -> None:
        ours = posixpath.basename(self._run[2]) if self._run else None
        if self._active:
            if state == "PLAYING" and name == ours:
                if self._since is None:
                    self._since = now
            else:
                self._stop_clock(now)
            if state in ("PLAYING", "PAUSED") and name == ours:
                self._lost_sight = False  # watching it again
            if state == "PLAYING" and name == ours and safety in SAFE_TO_RUN and robot_mode == "RUNNING":
                self._interrupted = False  # it goes on from where it stopped: its end is a normal end
            elif safety not in SAFE_TO_RUN or robot_mode != "RUNNING":
                self._interrupted = True
        if safety not in SAFE_TO_RUN:
            self._mode, self._fault = "fault", self._safety_text(safety)
            return
        if robot_mode != "RUNNING":
            self._mode = "fault"
            self._fault = (f"the arm is not ready (Robotmode: {robot_mode}): power it on and release the brakes "
                           "on the teach pendant")
            return
        if state is None:
            self._mode, self._fault = "fault", f"unexpected answer to programState: '{name}'"
            return
        if self._active:
            if name != ours:
                if state == "STOPPED":
                    self._active = False
                    self._rest = ("stopped", f"{ours} did not finish: the controller has {name} loaded now")
                    self._mode, self._fault = self._rest
                else:
                    self._mode, self._fault = "fault", f"the controller is running {name}, not {ours}"
            elif state == "PLAYING":
                self._mode, self._fault = "running", ""
            elif state == "PAUSED":
                self._mode, self._fault = "paused", ""
            else:  # STOPPED after it played
                self._active = False
                if self._lost_sight:
                    self._rest = ("stopped", f"{ours} stopped while the connection was lost; "
                                             "it is not known whether it finished")
                elif self._interrupted:  # stopped on the pendant after a protective stop: not done
                    self._rest = ("stopped", f"{ours} was stopped after the arm was stopped by its safety "
                                             "system; it did not finish")
                else:
                    self._finished, self._rest = True, ("idle", "")
                self._mode, self._fault = self._rest
            return
        if state == "STOPPED":
            self._mode, self._fault = self._rest
        else:
            self._mode = "running" if state == "PLAYING" else "paused"
            self._fault = f"the controller is {state.lower()} {name}, which this cell did not start"

    def _stop_clock(self, now: float) -> None:
        if self._since is not None:
            self._ran_s += max(0.0, now - self._since)
            self._since = None

    def _safety_text(self, safety: str) -> str:
        return f"{SAFETY_TEXT.get(safety, 'the safety system stopped the arm')} (Safetystatus: {safety})"

    def _status(self, now: float) -> DriverStatus:
        run_id, step_id, program = self._run if self._run else (None, None, None)
        progress = 0.0
        if self._finished:
            progress = 1.0
        elif step_id is not None and self.durations.get(step_id):
            ran = self._ran_s + (now - self._since if self._since is not None else 0.0)
            progress = min(0.99, max(0.0, ran / self.durations[step_id]))
        fault = self._fault
        if self._mode == "disconnected" and self._dash is None:
            fault = self._retry_text(now)
        return DriverStatus(mode=self._mode, run_id=run_id, step_id=step_id, program=program,
                            finished=self._finished, progress=progress, fault=fault)

    # RTDE ----------------------------------------------------------------------------------
    def _rtde_off_reason(self) -> str:
        if not self.use_rtde:
            return "off in the configuration"
        if self.rtde_port != RTDE_PORT:
            return (f"ur-rtde's RTDEReceiveInterface only connects to port {RTDE_PORT}; "
                    f"rtde_port {self.rtde_port} cannot be used")
        return ""

    def _rtde_modes(self) -> tuple[str, str] | None:
        r = self._rtde
        if r is None:
            return None
        try:
            if not r.isConnected():
                return None
            return (SAFETY_MODES.get(r.getSafetyMode(), "UNDEFINED_SAFETY_MODE"),
                    ROBOT_MODES.get(r.getRobotMode(), "NO_CONTROLLER"))
        except Exception:
            return None

    def _tend_rtde(self, now: float, force: bool = False) -> None:
        """Keep the RTDE receiver up while the dashboard is; retry with back-off when it drops."""
        off = self._rtde_off_reason()
        if off:
            self._rtde_note = off
            return
        if self._rtde is not None:
            try:
                alive = self._rtde.isConnected()
            except Exception:
                alive = False
            if alive:
                return
            # Releasing a ur-rtde receiver blocks 0.5 s with the GIL held (its disconnect sleeps):
            # dead ones wait for close(), so a lost link never stalls poll(). At most a few are kept.
            self._dead_rtde.append(self._rtde)
            self._rtde = None
            if len(self._dead_rtde) > 8:
                self._dead_rtde.pop(0)
            self._rtde_note = "the RTDE connection was lost"
            self._rtde_backoff = min(self.reconnect_max_s, max(0.5, self._rtde_backoff * 2))
            self._next_rtde = now + self._rtde_backoff
        if self._dash is None or (now < self._next_rtde and not force):
            return
        try:
            # ur-rtde's own connect has no timeout: make sure something answers on the port first
            with socket.create_connection((self.host, RTDE_PORT), timeout=self.timeout):
                pass
            import rtde_receive
            self._rtde = rtde_receive.RTDEReceiveInterface(self.host, self.rtde_frequency, list(RTDE_VARIABLES))
            self._rtde_backoff, self._rtde_note = 0.0, ""
        except Exception as exc:
            self._rtde = None
            self._rtde_note = f"RTDE at {self.host}:{RTDE_PORT} failed: {exc}"
            self._rtde_backoff = min(self.reconnect_max_s, max(0.5, self._rtde_backoff * 2))
            self._next_rtde = now + self._rtde_backoff

    def _drop_rtde(self) -> None:
        # ur-rtde's destructor disconnects (pausing the stream if still up) and joins its
        # receive thread; an explicit disconnect() first would do that, and its 0.5 s sleep, twice.
        self._rtde = None
        self._dead_rtde.clear()

    def _check_rtde(self, now: float) -> str:
        if not self.use_rtde:
            return "off in the configuration"
        self._tend_rtde(now, force=self._rtde is None)
        state = self.live_state()
        if state is None:
            return self._rtde_note or "no data"
        return (f"ok: {self.rtde_frequency:g} Hz, robot mode {state['robot_mode']}, "
                f"safety mode {state['safety_mode']}, runtime state {state['runtime_state']}")
