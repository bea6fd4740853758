"""A Universal Robots controller emulator: a SIMULATION for tests and demos, not a robot.

It stands in for a CB3/e-Series controller on the network so that the real
``ur-rtde`` client (and so the product's :class:`robot_bridge.ur.URDriver`)
can be exercised without an arm. Run it as its own process -- ur-rtde holds
the GIL while it connects, so it must never share a process with the client:

    python -m robot_bridge.ur_emulator --host 127.0.0.1 --dashboard-port 29999 \\
        --rtde-port 30004 --control-port 29998 --program screw_cover.urp=8

It prints one line when it listens (``UR emulator (simulated controller)
listening: dashboard H:P rtde H:Q control H:C``) and says it is simulated in
every log line. What it emulates:

* **Dashboard server** (TCP, default 29999): the text protocol with the reply
  strings of a real controller -- the banner, ``load``/``play``/``pause``/
  ``stop``, ``programState``, ``get loaded program``, ``running``,
  ``robotmode``, ``safetymode``, ``safetystatus``, ``is in remote control``,
  ``PolyscopeVersion``, ``version``, ``unlock protective stop``,
  ``close safety popup``, ``power on``/``power off``, ``brake release``,
  ``restart safety``, ``popup``/``close popup``, ``addToLog``,
  ``isProgramSaved``, ``get robot model``, ``get serial number``, ``quit``,
  ``shutdown``; anything else gets ``could not understand: '<command>'``.
  Commands that need Remote Control are refused with the controller's text
  while the emulated pendant is in Local control.
* **Programs**: a configured set of ``.urp`` files, each with a run time.
  ``play`` runs the loaded program for that time (``pause`` and a protective
  stop keep the time already run), then it is ``STOPPED`` again.
* **RTDE** (TCP, default 30004; protocol versions 1 and 2): protocol
  version request, URControl version, output and input recipe setup (each
  variable answered with its real RTDE type, unknown names with
  ``NOT_FOUND``), start, pause, text messages from the client, and output
  data packages at the requested frequency. ``robot_mode``, ``safety_mode``,
  ``safety_status_bits``, ``runtime_state``, ``robot_status_bits`` and
  ``speed_scaling`` follow the emulated program and faults; joint and TCP
  values move while a program plays but are illustrative, not kinematics;
  every other known output is zero.
* **Fault injection** on a separate line-based control port, so the
  dashboard stays faithful: ``protective_stop``, ``clear``,
  ``drop_connections``, ``refuse_connections SECONDS``, ``remote on|off``,
  ``robot_mode MODE``, ``unlock_delay SECONDS``, ``state`` (one JSON line),
  ``shutdown``, ``help``. Replies start with ``OK`` or ``ERR``.

Not emulated: the primary/secondary/real-time interfaces (30001-30003), URScript,
RTDE input registers taking effect, installations, user roles, operational
mode, motion, PolyScope X. Reply strings that could not be confirmed against
UR's own documentation are marked "assumed" beside them below.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import posixpath
import queue
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence

# ----------------------------------------------------------------------------------------
# Dashboard server reply strings (UR's "Dashboard Server" command reference for CB3 and
# e-Series, and the expected-reply table of Universal_Robots_Client_Library).

BANNER = "Connected: Universal Robots Dashboard Server"
NOT_IN_REMOTE = ("Command is not allowed due to safety reasons, please switch robot to Remote Control mode "
                 "and reconnect to port 29999")
UNLOCK_TOO_EARLY = ("Cannot unlock protective stop until {delay}s after occurrence. "
                    "Always inspect cause of protective stop before unlocking")
NO_PROGRAM_NAME = "<unnamed>"   # assumed: what programState names when nothing is loaded

# Commands a controller accepts only in Remote Control (e-Series).
REMOTE_ONLY = ("load", "play", "pause", "stop", "power on", "power off", "brake release",
               "unlock protective stop", "restart safety", "shutdown")

ROBOT_MODES = {"NO_CONTROLLER": -1, "DISCONNECTED": 0, "CONFIRM_SAFETY": 1, "BOOTING": 2, "POWER_OFF": 3,
               "POWER_ON": 4, "IDLE": 5, "BACKDRIVE": 6, "RUNNING": 7, "UPDATING_FIRMWARE": 8}
SAFETY_MODES = {"NORMAL": 1, "REDUCED": 2, "PROTECTIVE_STOP": 3, "RECOVERY": 4, "SAFEGUARD_STOP": 5,
                "SYSTEM_EMERGENCY_STOP": 6, "ROBOT_EMERGENCY_STOP": 7, "VIOLATION": 8, "FAULT": 9,
                "VALIDATE_JOINT_ID": 10, "UNDEFINED_SAFETY_MODE": 11, "AUTOMATIC_MODE_SAFEGUARD_STOP": 12,
                "SYSTEM_THREE_POSITION_ENABLING_STOP": 13}
# RTDE runtime_state: 0 stopping, 1 stopped, 2 playing, 3 pausing, 4 paused, 5 resuming.
RUNTIME_STATES = {"STOPPING": 0, "STOPPED": 1, "PLAYING": 2, "PAUSING": 3, "PAUSED": 4, "RESUMING": 5}
# safety_status_bits: bit 0 normal, 1 reduced, 2 protective stop, 3 recovery, 4 safeguard stop,
# 5 system e-stop, 6 robot e-stop, 7 e-stop, 8 violation, 9 fault, 10 stopped due to safety.
SAFETY_STATUS_BIT = {"NORMAL": 0, "REDUCED": 1, "PROTECTIVE_STOP": 2, "RECOVERY": 3, "SAFEGUARD_STOP": 4,
                     "SYSTEM_EMERGENCY_STOP": 5, "ROBOT_EMERGENCY_STOP": 6, "VIOLATION": 8, "FAULT": 9}
JOINT_RUNNING_MODE, JOINT_POWER_OFF_MODE = 253, 239

# ----------------------------------------------------------------------------------------
# RTDE

RTDE_REQUEST_PROTOCOL_VERSION = 86   # 'V'
RTDE_GET_URCONTROL_VERSION = 118     # 'v'
RTDE_TEXT_MESSAGE = 77               # 'M'
RTDE_DATA_PACKAGE = 85               # 'U'
RTDE_CONTROL_PACKAGE_SETUP_OUTPUTS = 79  # 'O'
RTDE_CONTROL_PACKAGE_SETUP_INPUTS = 73   # 'I'
RTDE_CONTROL_PACKAGE_START = 83      # 'S'
RTDE_CONTROL_PACKAGE_PAUSE = 80      # 'P'

RTDE_FORMATS = {"BOOL": "?", "UINT8": "B", "UINT32": "I", "UINT64": "Q", "INT32": "i", "DOUBLE": "d",
                "VECTOR3D": "3d", "VECTOR6D": "6d", "VECTOR6INT32": "6i", "VECTOR6UINT32": "6I"}
MAX_FREQUENCY_HZ = 500.0  # e-Series


def _rtde_outputs() -> dict[str, str]:
    """Controller outputs and their RTDE types (the RTDE guide's output table)."""
    t = {
        "timestamp": "DOUBLE", "target_q": "VECTOR6D", "target_qd": "VECTOR6D", "target_qdd": "VECTOR6D",
        "target_current": "VECTOR6D", "target_moment": "VECTOR6D", "actual_q": "VECTOR6D",
        "actual_qd": "VECTOR6D", "actual_current": "VECTOR6D", "actual_current_window": "VECTOR6D",
        "actual_current_as_torque": "VECTOR6D", "joint_control_output": "VECTOR6D",
        "actual_TCP_pose": "VECTOR6D", "actual_TCP_speed": "VECTOR6D", "actual_TCP_force": "VECTOR6D",
        "target_TCP_pose": "VECTOR6D", "target_TCP_speed": "VECTOR6D", "tcp_offset": "VECTOR6D",
        "actual_TCP_acceleration": "VECTOR6D", "target_TCP_acceleration": "VECTOR6D",
        "actual_digital_input_bits": "UINT64", "actual_configurable_digital_input_bits": "UINT64",
        "joint_temperatures": "VECTOR6D", "actual_execution_time": "DOUBLE",
        "target_execution_time": "DOUBLE", "robot_mode": "INT32", "joint_mode": "VECTOR6INT32",
        "safety_mode": "INT32", "safety_status": "INT32", "actual_tool_accelerometer": "VECTOR3D",
        "speed_scaling": "DOUBLE", "target_speed_fraction": "DOUBLE", "actual_momentum": "DOUBLE",
        "actual_main_voltage": "DOUBLE", "actual_robot_voltage": "DOUBLE", "actual_robot_current": "DOUBLE",
        "actual_joint_voltage": "VECTOR6D", "actual_digital_output_bits": "UINT64",
        "actual_configurable_digital_output_bits": "UINT64", "runtime_state": "UINT32",
        "elbow_position": "VECTOR3D", "elbow_velocity": "VECTOR3D", "robot_status_bits": "UINT32",
        "safety_status_bits": "UINT32", "analog_io_types": "UINT32", "standard_analog_input0": "DOUBLE",
        "standard_analog_input1": "DOUBLE", "standard_analog_output0": "DOUBLE",
        "standard_analog_output1": "DOUBLE", "io_current": "DOUBLE",
        "actual_robot_energy_consumed": "DOUBLE", "actual_robot_braking_energy_dissipated": "DOUBLE",
        "euromap67_input_bits": "UINT32", "euromap67_output_bits": "UINT32",
        "euromap67_24V_voltage": "DOUBLE", "euromap67_24V_current": "DOUBLE", "tool_mode": "UINT32",
        "tool_analog_input_types": "UINT32", "tool_analog_input0": "DOUBLE", "tool_analog_input1": "DOUBLE",
        "tool_output_voltage": "INT32", "tool_output_current": "DOUBLE", "tool_temperature": "DOUBLE",
        "tool_output_mode": "UINT8", "tool_digital_output0_mode": "UINT8",
        "tool_digital_output1_mode": "UINT8", "tcp_force_scalar": "DOUBLE",
        "joint_position_deviation_ratio": "DOUBLE", "collision_detection_ratio": "DOUBLE",
        "ft_raw_wrench": "VECTOR6D", "wrench_calc_from_currents": "VECTOR6D", "payload": "DOUBLE",
        "payload_cog": "VECTOR3D", "payload_inertia": "VECTOR6D", "script_control_line": "UINT32",
        "time_scale_source": "INT32", "target_gravity": "VECTOR3D", "target_base_acceleration": "VECTOR6D",
        "control_step": "UINT64", "target_base_wrench": "VECTOR6D", "encoder0_raw": "INT32",
        "encoder1_raw": "INT32",
    }
    t.update(_register_types("output"))
    return t


def _rtde_inputs() -> dict[str, str]:
    """Controller inputs and their RTDE types (the RTDE guide's input table)."""
    t = {
        "speed_slider_mask": "UINT32", "speed_slider_fraction": "DOUBLE",
        "standard_digital_output_mask": "UINT8", "standard_digital_output": "UINT8",
        "configurable_digital_output_mask": "UINT8", "configurable_digital_output": "UINT8",
        "tool_digital_output_mask": "UINT8", "tool_digital_output": "UINT8",
        "standard_analog_output_mask": "UINT8", "standard_analog_output_type": "UINT8",
        "standard_analog_output_0": "DOUBLE", "standard_analog_output_1": "DOUBLE",
        "external_force_torque": "VECTOR6D",
    }
    t.update(_register_types("input"))
    return t


def _register_types(direction: str) -> dict[str, str]:
    t = {f"{direction}_bit_registers0_to_31": "UINT32", f"{direction}_bit_registers32_to_63": "UINT32"}
    t.update({f"{direction}_bit_register_{i}": "BOOL" for i in range(64, 128)})
    t.update({f"{direction}_int_register_{i}": "INT32" for i in range(48)})
    t.update({f"{direction}_double_register_{i}": "DOUBLE" for i in range(48)})
    return t


RTDE_OUTPUTS = _rtde_outputs()
RTDE_INPUTS = _rtde_inputs()


def _zero(rtde_type: str) -> object:
    if rtde_type == "BOOL":
        return False
    if rtde_type == "DOUBLE":
        return 0.0
    if rtde_type.startswith("VECTOR"):
        n = 3 if rtde_type.startswith("VECTOR3") else 6
        return [0.0 if rtde_type.endswith("D") else 0] * n
    return 0


def rtde_packet(ptype: int, payload: bytes = b"") -> bytes:
    """One RTDE package: big-endian uint16 size (header included), uint8 type, payload."""
    return struct.pack(">HB", 3 + len(payload), ptype) + payload


# ----------------------------------------------------------------------------------------
# The simulated controller (no sockets: time is passed in)

HOME_Q = (0.0, -1.571, 1.571, -1.571, -1.571, 0.0)


class SimulatedController:
    """The state of an emulated UR controller: loaded program, program state, safety, robot mode.

    ``dashboard(line, now)`` answers one Dashboard server command; ``rtde_values(now)`` gives
    the RTDE outputs. Pure logic with the time passed in, so it is testable without sockets.
    """

    def __init__(self, programs: dict[str, float] | None = None, *, unlock_delay_s: float = 5.0,
                 remote_control: bool = True, robot_mode: str = "RUNNING",
                 polyscope_version: str = "5.11.6.1156", build_date: str = "Jun 27 2023",
                 robot_model: str = "UR5", serial_number: str = "20000000001", now: float = 0.0):
        if robot_mode not in ROBOT_MODES:
            raise ValueError(f"unknown robot mode {robot_mode!r}; one of {', '.join(ROBOT_MODES)}")
        self.durations = {self.resolve(name): float(s) for name, s in (programs or {}).items()}
        self.unlock_delay_s = float(unlock_delay_s)
        self.remote_control = remote_control
        self.robot_mode = robot_mode
        self.polyscope_version, self.build_date = polyscope_version, build_date
        self.robot_model, self.serial_number = robot_model, serial_number
        self.started = now
        self.loaded: str | None = None       # absolute path, e.g. /programs/screw_cover.urp
        self.program_state = "STOPPED"       # STOPPED, PLAYING, PAUSED
        self.ran_s = 0.0                     # run time before the current PLAYING stretch
        self.playing_since = 0.0
        self.safety = "NORMAL"
        self.safety_since = now
        self.runs_finished = 0
        self.shutdown_requested = False
        self._last_q = (now, HOME_Q)

    # programs --------------------------------------------------------------------------
    @staticmethod
    def resolve(name: str) -> str:
        """A program name as the controller sees it: absolute, under /programs."""
        path = name if name.startswith("/") else "/programs/" + name
        return posixpath.normpath(path)

    def elapsed(self, now: float) -> float:
        return self.ran_s + (now - self.playing_since if self.program_state == "PLAYING" else 0.0)

    def update(self, now: float) -> None:
        """Let time pass: a playing program that has run its time stops."""
        if self.program_state == "PLAYING" and self.loaded is not None:
            if self.elapsed(now) >= self.durations.get(self.loaded, 0.0):
                self.program_state, self.ran_s = "STOPPED", 0.0
                self.runs_finished += 1

    def _pause(self, now: float) -> None:
        if self.program_state == "PLAYING":
            self.ran_s = self.elapsed(now)
            self.program_state = "PAUSED"

    # faults (control port) ---------------------------------------------------------------
    def protective_stop(self, now: float) -> None:
        self.update(now)
        self._pause(now)
        self.safety, self.safety_since = "PROTECTIVE_STOP", now

    def clear_fault(self, now: float) -> None:
        """As if acknowledged on the pendant: safety normal again, the program stays paused."""
        self.safety, self.safety_since = "NORMAL", now

    # dashboard -----------------------------------------------------------------------------
    def dashboard(self, line: str, now: float) -> tuple[str, bool]:
        """Answer one dashboard command; returns (reply, close the connection afterwards)."""
        self.update(now)
        text = line.strip()
        cmd = " ".join(text.lower().split())
        word = cmd.split(" ", 1)[0]
        arg = text.split(None, 1)[1].strip() if " " in text.strip() else ""

        def needs_remote(name: str) -> bool:
            return name in REMOTE_ONLY and not self.remote_control

        if cmd == "quit":
            return "Disconnected", True
        if cmd.startswith("load installation "):
            if not self.remote_control:
                return NOT_IN_REMOTE, False
            return f"Loading installation: {text.split(None, 2)[2]}", False  # assumed: always succeeds
        if word == "load" and arg:
            if needs_remote("load"):
                return NOT_IN_REMOTE, False
            return self._load(arg), False
        if cmd in ("play", "pause", "stop", "power on", "power off", "brake release",
                   "unlock protective stop", "restart safety", "shutdown") and needs_remote(cmd):
            return NOT_IN_REMOTE, False
        if cmd == "play":
            return self._play(now), False
        if cmd == "pause":
            if self.program_state == "PLAYING":
                self._pause(now)
                return "Pausing program", False
            if self.program_state == "PAUSED":
                return "Pausing program", False
            return "Failed to execute: pause", False
        if cmd == "stop":
            if self.loaded is None:
                return "Failed to execute: stop", False
            self.program_state, self.ran_s = "STOPPED", 0.0
            return "Stopped", False
        if cmd == "programstate":
            name = posixpath.basename(self.loaded) if self.loaded else NO_PROGRAM_NAME
            return f"{self.program_state} {name}", False
        if cmd == "get loaded program":
            return (f"Loaded program: {self.loaded}" if self.loaded else "No program loaded"), False
        if cmd == "running":
            return f"Program running: {'true' if self.program_state == 'PLAYING' else 'false'}", False
        if cmd == "robotmode":
            return f"Robotmode: {self.robot_mode}", False
        if cmd == "safetymode":
            return f"Safetymode: {self.safety}", False
        if cmd == "safetystatus":
            return f"Safetystatus: {self.safety}", False
        if cmd == "is in remote control":
            return ("true" if self.remote_control else "false"), False
        if cmd == "polyscopeversion":
            return f"URSoftware {self.polyscope_version} ({self.build_date})", False
        if cmd == "version":
            return self.polyscope_version, False
        if cmd == "get robot model":
            return self.robot_model, False
        if cmd == "get serial number":
            return self.serial_number, False
        if cmd == "isprogramsaved":
            return f"true {posixpath.basename(self.loaded) if self.loaded else NO_PROGRAM_NAME}", False
        if cmd == "unlock protective stop":
            if self.safety == "PROTECTIVE_STOP":
                if now - self.safety_since < self.unlock_delay_s:
                    return UNLOCK_TOO_EARLY.format(delay=f"{self.unlock_delay_s:g}"), False
                self.clear_fault(now)
            return "Protective stop releasing", False
        if cmd == "close safety popup":
            return "closing safety popup", False
        if cmd == "close popup":
            return "closing popup", False
        if word == "popup":
            return "showing popup", False
        if word == "addtolog":
            return "Added log message", False
        if cmd == "power on":
            if self.robot_mode in ("POWER_OFF", "POWER_ON"):
                self.robot_mode = "IDLE"
            return "Powering on", False
        if cmd == "power off":
            self.program_state, self.ran_s = "STOPPED", 0.0
            self.robot_mode = "POWER_OFF"
            return "Powering off", False
        if cmd == "brake release":
            self.robot_mode = "RUNNING"  # powers on on the fly, as a real controller does
            return "Brake releasing", False
        if cmd == "restart safety":
            self.program_state, self.ran_s = "STOPPED", 0.0
            self.safety, self.safety_since, self.robot_mode = "NORMAL", now, "POWER_OFF"
            return "Restarting safety", False
        if cmd == "shutdown":
            self.shutdown_requested = True
            return "Shutting down", True
        return f"could not understand: '{text}'", False

    def _load(self, arg: str) -> str:
        path = self.resolve(arg)
        if path not in self.durations:
            return f"File not found: {arg}"
        if self.program_state != "STOPPED":
            return f"Error while loading program: {arg}"  # assumed: no load while a program runs
        self.loaded, self.ran_s = path, 0.0
        return f"Loading program: {path}"

    def _play(self, now: float) -> str:
        if self.loaded is None or self.safety not in ("NORMAL", "REDUCED") or self.robot_mode != "RUNNING":
            return "Failed to execute: play"
        if self.program_state != "PLAYING":
            if self.program_state == "STOPPED":
                self.ran_s = 0.0
            self.program_state, self.playing_since = "PLAYING", now
        return "Starting program"

    # RTDE ----------------------------------------------------------------------------------
    def joints(self, now: float) -> tuple[float, ...]:
        """Illustrative joint positions: one smooth excursion per program run (not kinematics)."""
        if self.loaded is None or self.program_state == "STOPPED":
            return HOME_Q
        phase = self.elapsed(now) / max(self.durations.get(self.loaded, 1.0), 1e-6)
        return tuple(h + 0.4 * math.sin(math.pi * phase) * math.cos(i) for i, h in enumerate(HOME_Q))

    def rtde_values(self, now: float) -> dict[str, object]:
        """Current values of the RTDE outputs this emulator animates (others read as zero)."""
        self.update(now)
        q = self.joints(now)
        t_prev, q_prev = self._last_q
        dt = now - t_prev
        qd = [(a - b) / dt for a, b in zip(q, q_prev)] if dt > 1e-4 else [0.0] * 6
        self._last_q = (now, q)
        powered = self.robot_mode in ("POWER_ON", "IDLE", "BACKDRIVE", "RUNNING")
        playing = self.program_state == "PLAYING"
        halted = self.safety not in ("NORMAL", "REDUCED") or self.program_state == "PAUSED"
        safety_bits = 1 << SAFETY_STATUS_BIT.get(self.safety, 9)
        tcp = [0.3 + 0.2 * math.cos(q[0]), 0.2 * math.sin(q[0]), 0.4 + 0.1 * math.sin(q[1] + 1.571),
               0.0, 3.1416, 0.0]
        return {
            "timestamp": now - self.started,
            "robot_mode": ROBOT_MODES[self.robot_mode],
            "safety_mode": SAFETY_MODES[self.safety],
            "safety_status": SAFETY_MODES[self.safety],
            "safety_status_bits": safety_bits,
            "runtime_state": RUNTIME_STATES[self.program_state],
            "robot_status_bits": (1 if powered else 0) | (2 if playing else 0),
            "speed_scaling": 0.0 if halted else 1.0,
            "target_speed_fraction": 1.0,
            "actual_q": list(q), "target_q": list(q), "actual_qd": qd, "target_qd": qd,
            "actual_TCP_pose": tcp, "target_TCP_pose": tcp,
            "joint_mode": [JOINT_RUNNING_MODE if powered else JOINT_POWER_OFF_MODE] * 6,
            "joint_temperatures": [30.0] * 6,
            "actual_main_voltage": 48.0,
            "actual_robot_voltage": 48.0 if powered else 0.0,
            "actual_robot_current": 0.6 if playing else (0.3 if powered else 0.0),
            "actual_joint_voltage": [48.0 if powered else 0.0] * 6,
            "actual_execution_time": 0.3,
            "actual_tool_accelerometer": [0.0, 0.0, 9.81],
        }

    def state(self, now: float) -> dict[str, object]:
        self.update(now)
        return {"simulated": True, "robot_mode": self.robot_mode, "safety_status": self.safety,
                "program_state": self.program_state, "loaded_program": self.loaded,
                "elapsed_s": round(self.elapsed(now), 3), "remote_control": self.remote_control,
                "runs_finished": self.runs_finished, "unlock_delay_s": self.unlock_delay_s,
                "programs": {p: d for p, d in sorted(self.durations.items())}}


# ----------------------------------------------------------------------------------------
# The network side

class _Recipe:
    def __init__(self, recipe_id: int, names: list[str], types: list[str], frequency: float):
        self.id, self.names, self.types, self.frequency = recipe_id, names, types, frequency
        self.fmt = ">B" + "".join(RTDE_FORMATS[t] for t in types)

    def pack(self, values: dict[str, object]) -> bytes:
        flat: list[object] = [self.id]
        for name, rtde_type in zip(self.names, self.types):
            v = values.get(name)
            if v is None:
                v = _zero(rtde_type)
            if isinstance(v, (list, tuple)):
                flat.extend(v)
            else:
                flat.append(v)
        return rtde_packet(RTDE_DATA_PACKAGE, struct.pack(self.fmt, *flat))


class UREmulator:
    """The emulated controller's three TCP services on one asyncio loop."""

    def __init__(self, controller: SimulatedController, host: str = "127.0.0.1", dashboard_port: int = 29999,
                 rtde_port: int = 30004, control_port: int | None = 0, clock: Callable[[], float] = time.monotonic,
                 log: Callable[[str], None] | None = None):
        self.controller, self.host, self.clock = controller, host, clock
        self.ports = {"dashboard": dashboard_port, "rtde": rtde_port, "control": control_port}
        self._servers: dict[str, asyncio.AbstractServer] = {}
        self._clients: dict[str, set[asyncio.StreamWriter]] = {"dashboard": set(), "rtde": set(), "control": set()}
        self._handlers: set[asyncio.Task] = set()
        self._refusing_until = 0.0
        self._stopped: asyncio.Event | None = None
        self._log = log or (lambda text: print(f"[UR emulator, simulated] {text}", file=sys.stderr, flush=True))

    # lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._stopped = asyncio.Event()
        for service in ("dashboard", "rtde", "control"):
            if self.ports[service] is not None:
                await self._listen(service)

    async def _listen(self, service: str) -> None:
        handler = {"dashboard": self._dashboard_client, "rtde": self._rtde_client,
                   "control": self._control_client}[service]
        server = await asyncio.start_server(handler, self.host, self.ports[service], reuse_address=True)
        self.ports[service] = server.sockets[0].getsockname()[1]
        self._servers[service] = server

    def listening_line(self) -> str:
        h, p = self.host, self.ports
        control = f"{h}:{p['control']}" if p["control"] is not None else "off"
        return (f"UR emulator (simulated controller) listening: dashboard {h}:{p['dashboard']} "
                f"rtde {h}:{p['rtde']} control {control}")

    def request_stop(self) -> None:
        if self._stopped is not None:
            self._stopped.set()

    async def wait_stopped(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()

    async def close(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        self.drop_connections(include_control=True)
        pending = {t for t in self._handlers if t is not asyncio.current_task()}
        if pending:  # let each connection handler see its socket closed and end quietly
            await asyncio.wait(pending, timeout=2.0)

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    def drop_connections(self, include_control: bool = False) -> int:
        """Close every client socket at once, as a lost network would (the control port stays up)."""
        n = 0
        for service, writers in self._clients.items():
            if service == "control" and not include_control:
                continue
            for w in list(writers):
                w.transport.abort()
                n += 1
        return n

    async def refuse_connections(self, seconds: float) -> None:
        """The controller is unreachable for ``seconds``: connections dropped, new ones refused."""
        self._refusing_until = self.clock() + seconds
        for service in ("dashboard", "rtde"):
            server = self._servers.pop(service, None)
            if server is not None:
                server.close()
        self.drop_connections()
        asyncio.get_running_loop().create_task(self._reopen_after(seconds))

    async def _reopen_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.clock() + 1e-3 < self._refusing_until:
            return  # a later refuse_connections extended the outage; its own task reopens
        for service in ("dashboard", "rtde"):
            if service not in self._servers:
                for attempt in range(50):
                    try:
                        await self._listen(service)
                        break
                    except OSError:
                        await asyncio.sleep(0.1)
                else:
                    self._log(f"could not listen on {service} port {self.ports[service]} again")
        self._log("accepting connections again")

    # dashboard ---------------------------------------------------------------------------
    async def _dashboard_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        self._clients["dashboard"].add(writer)
        try:
            writer.write((BANNER + "\n").encode())
            await writer.drain()
            while True:
                line = await reader.readline()
                if not line:
                    break
                reply, close = self.controller.dashboard(line.decode("utf-8", "replace"), self.clock())
                writer.write((reply + "\n").encode())
                await writer.drain()
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._clients["dashboard"].discard(writer)
            writer.close()
            if self.controller.shutdown_requested:
                self.request_stop()

    # RTDE --------------------------------------------------------------------------------
    async def _rtde_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        self._clients["rtde"].add(writer)
        protocol = 1
        outputs: _Recipe | None = None
        inputs: dict[int, list[str]] = {}
        stream: asyncio.Task | None = None
        try:
            while True:
                size, ptype = struct.unpack(">HB", await reader.readexactly(3))
                if size < 3:
                    self._log(f"RTDE: malformed package (size {size}); closing the connection")
                    break
                payload = await reader.readexactly(size - 3)
                if ptype == RTDE_REQUEST_PROTOCOL_VERSION:
                    version = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 0
                    accepted = version in (1, 2)
                    if accepted:
                        protocol = version
                    writer.write(rtde_packet(ptype, struct.pack(">B", accepted)))
                elif ptype == RTDE_GET_URCONTROL_VERSION:
                    parts = [int(x) for x in (self.controller.polyscope_version.split(".") + ["0"] * 4)[:4]]
                    writer.write(rtde_packet(ptype, struct.pack(">IIII", *parts)))
                elif ptype == RTDE_CONTROL_PACKAGE_SETUP_OUTPUTS:
                    if protocol >= 2:
                        frequency = struct.unpack(">d", payload[:8])[0]
                        names_raw = payload[8:]
                    else:
                        frequency, names_raw = 125.0, payload
                    names = [n for n in names_raw.decode("utf-8", "replace").split(",") if n]
                    types = [RTDE_OUTPUTS.get(n, "NOT_FOUND") for n in names]
                    ok = bool(names) and "NOT_FOUND" not in types and 0 < frequency <= MAX_FREQUENCY_HZ
                    if stream is None:
                        outputs = _Recipe(1, names, types, frequency) if ok else None
                    body = ",".join(types).encode()
                    writer.write(rtde_packet(ptype, (struct.pack(">B", 1 if ok else 0) if protocol >= 2 else b"")
                                             + body))
                elif ptype == RTDE_CONTROL_PACKAGE_SETUP_INPUTS:
                    names = [n for n in payload.decode("utf-8", "replace").split(",") if n]
                    types = [RTDE_INPUTS.get(n, "NOT_FOUND") for n in names]
                    recipe_id = 0
                    if names and "NOT_FOUND" not in types and len(inputs) < 255:
                        recipe_id = len(inputs) + 1
                        inputs[recipe_id] = names
                    writer.write(rtde_packet(ptype, struct.pack(">B", recipe_id) + ",".join(types).encode()))
                elif ptype == RTDE_CONTROL_PACKAGE_START:
                    ok = outputs is not None or bool(inputs)
                    writer.write(rtde_packet(ptype, struct.pack(">B", ok)))
                    if ok and outputs is not None and stream is None:
                        stream = asyncio.get_running_loop().create_task(self._stream(writer, outputs))
                elif ptype == RTDE_CONTROL_PACKAGE_PAUSE:
                    if stream is not None:
                        stream.cancel()
                        stream = None
                    writer.write(rtde_packet(ptype, struct.pack(">B", 1)))
                elif ptype == RTDE_TEXT_MESSAGE:
                    self._log(f"RTDE text message from the client: {payload!r}")
                elif ptype == RTDE_DATA_PACKAGE:
                    pass  # input registers from the client: accepted, not acted on
                else:
                    self._log(f"RTDE: unknown package type {ptype}; ignored")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, OSError, struct.error):
            pass
        finally:
            if stream is not None:
                stream.cancel()
            self._clients["rtde"].discard(writer)
            writer.close()

    async def _stream(self, writer: asyncio.StreamWriter, recipe: _Recipe) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / recipe.frequency
        due = loop.time()
        try:
            while True:
                writer.write(recipe.pack(self.controller.rtde_values(self.clock())))
                await writer.drain()
                due += period
                delay = due - loop.time()
                if delay < -period:  # fell behind (a loaded machine): do not burst to catch up
                    due, delay = loop.time(), 0.0
                await asyncio.sleep(max(0.0, delay))
        except (ConnectionError, OSError):
            writer.transport.abort()

    # control port ------------------------------------------------------------------------
    async def _control_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        self._clients["control"].add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                reply = await self.control(line.decode("utf-8", "replace"))
                writer.write((reply + "\n").encode())
                await writer.drain()
                if self._stopped is not None and self._stopped.is_set():
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            self._clients["control"].discard(writer)
            writer.close()

    async def control(self, line: str) -> str:
        """One fault-injection command; returns ``OK ...`` or ``ERR ...``."""
        words = line.split()
        if not words:
            return "ERR empty command; try 'help'"
        cmd, args, now, c = words[0].lower(), words[1:], self.clock(), self.controller
        try:
            if cmd == "protective_stop":
                c.protective_stop(now)
                self._log("protective stop injected")
                return "OK protective stop"
            if cmd == "clear":
                c.clear_fault(now)
                return "OK cleared"
            if cmd == "drop_connections":
                return f"OK dropped {self.drop_connections()} connections"
            if cmd == "refuse_connections":
                seconds = float(args[0])
                await self.refuse_connections(seconds)
                return f"OK refusing connections for {seconds:g} s"
            if cmd == "remote":
                if not args or args[0].lower() not in ("on", "off"):
                    return "ERR usage: remote on|off"
                c.remote_control = args[0].lower() == "on"
                return f"OK remote control {args[0].lower()}"
            if cmd == "robot_mode":
                mode = args[0].upper()
                if mode not in ROBOT_MODES:
                    return f"ERR unknown robot mode {args[0]!r}; one of {', '.join(ROBOT_MODES)}"
                c.robot_mode = mode
                if mode != "RUNNING":
                    c._pause(now)
                return f"OK robot mode {mode}"
            if cmd == "unlock_delay":
                c.unlock_delay_s = float(args[0])
                return f"OK unlock delay {c.unlock_delay_s:g} s"
            if cmd == "state":
                st = c.state(now)
                st["clients"] = {k: len(v) for k, v in self._clients.items()}
                st["refusing"] = now < self._refusing_until
                return "OK " + json.dumps(st, sort_keys=True)
            if cmd in ("shutdown", "quit", "exit"):
                self.request_stop()
                return "OK shutting down"
            if cmd == "help":
                return ("OK commands: protective_stop, clear, drop_connections, refuse_connections SECONDS, "
                        "remote on|off, robot_mode MODE, unlock_delay SECONDS, state, shutdown")
        except (IndexError, ValueError) as exc:
            return f"ERR bad argument for {cmd}: {exc}"
        return f"ERR unknown command {cmd!r}; try 'help'"


# ----------------------------------------------------------------------------------------
# entry points

def parse_program(spec: str) -> tuple[str, float]:
    """``NAME=SECONDS`` -> (name, seconds)."""
    name, sep, seconds = spec.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=SECONDS, e.g. screw_cover.urp=8, not {spec!r}")
    try:
        value = float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"run time of {name} is not a number: {seconds!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"run time of {name} must be > 0 s, not {value:g}")
    return name, value


def serve(host: str = "127.0.0.1", dashboard_port: int = 29999, rtde_port: int = 30004,
          control_port: int | None = 0, programs: dict[str, float] | Iterable[tuple[str, float]] | None = None,
          *, unlock_delay_s: float = 5.0, remote_control: bool = True, robot_mode: str = "RUNNING",
          polyscope_version: str = "5.11.6.1156", announce: Callable[[str], None] | None = None,
          stop: threading.Event | None = None) -> int:
    """Run the emulator until it is told to stop (signal, ``stop`` event, control ``shutdown``).

    ``announce`` gets the listening line once every port is open (default: print and flush
    to stdout). Returns a process exit code.
    """
    controller = SimulatedController(dict(programs or {}), unlock_delay_s=unlock_delay_s,
                                     remote_control=remote_control, robot_mode=robot_mode,
                                     polyscope_version=polyscope_version, now=time.monotonic())
    emulator = UREmulator(controller, host, dashboard_port, rtde_port, control_port)

    async def run() -> int:
        try:
            await emulator.start()
        except OSError as exc:
            print(f"UR emulator (simulated controller): cannot listen on {host}: {exc}", file=sys.stderr,
                  flush=True)
            return 2
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, emulator.request_stop)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread, or no signals here
        if stop is not None:
            loop.run_in_executor(None, lambda: (stop.wait(), loop.call_soon_threadsafe(emulator.request_stop)))
        line = emulator.listening_line()
        if announce is None:
            print(line, flush=True)
        else:
            announce(line)
        await emulator.wait_stopped()
        await emulator.close()
        return 0

    return asyncio.run(run())


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m robot_bridge.ur_emulator",
        description="Universal Robots controller emulator (a simulation for tests and demos, not a robot): "
                    "Dashboard server, RTDE outputs, and a control port for fault injection.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--dashboard-port", type=int, default=29999, help="Dashboard server port (default 29999; 0: any)")
    p.add_argument("--rtde-port", type=int, default=30004,
                   help="RTDE port (default 30004, the only port ur-rtde's RTDEReceiveInterface connects to)")
    p.add_argument("--control-port", type=int, default=0, help="fault-injection port (default 0: any free port)")
    p.add_argument("--program", action="append", type=parse_program, default=[], metavar="NAME=SECONDS",
                   help="a .urp program on the controller and its run time; repeat for more")
    p.add_argument("--unlock-delay", type=float, default=5.0,
                   help="seconds before a protective stop may be unlocked (a real controller: 5)")
    p.add_argument("--local-control", action="store_true", help="start with the pendant in Local control")
    p.add_argument("--robot-mode", default="RUNNING", choices=list(ROBOT_MODES), help="robot mode at start")
    p.add_argument("--polyscope-version", default="5.11.6.1156", help="version the controller reports")
    a = p.parse_args(argv)
    return serve(a.host, a.dashboard_port, a.rtde_port, a.control_port, a.program, unlock_delay_s=a.unlock_delay,
                 remote_control=not a.local_control, robot_mode=a.robot_mode,
                 polyscope_version=a.polyscope_version)


class EmulatorProcess:
    """The emulator started as a child process (for tests and ``cell demo``), and its control port.

    ur-rtde must never share a process with the emulator, so tests and demos start it with
    :meth:`start`, talk to it with :meth:`control`, and always :meth:`close` it.
    """

    def __init__(self, proc: subprocess.Popen, host: str, dashboard_port: int, rtde_port: int,
                 control_port: int, line: str):
        self.proc, self.host, self.line = proc, host, line
        self.dashboard_port, self.rtde_port, self.control_port = dashboard_port, rtde_port, control_port
        self._control: socket.socket | None = None
        self._control_file = None

    @classmethod
    def start(cls, programs: dict[str, float], *, host: str | None = None, dashboard_port: int = 0,
              rtde_port: int = 30004, unlock_delay_s: float = 0.0, extra_args: Sequence[str] = (),
              timeout_s: float = 20.0) -> EmulatorProcess:
        """Start ``python -m robot_bridge.ur_emulator`` and wait for its listening line.

        Without ``host`` a random loopback address whose RTDE port is free is used, so several
        emulators (and a real ur-rtde client, which only knows port 30004) can coexist.
        """
        host = host or free_loopback_host(rtde_port)
        args = [sys.executable, "-m", "robot_bridge.ur_emulator", "--host", host,
                "--dashboard-port", str(dashboard_port), "--rtde-port", str(rtde_port), "--control-port", "0",
                "--unlock-delay", str(unlock_delay_s), *extra_args]
        for name, seconds in programs.items():
            args += ["--program", f"{name}={seconds}"]
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(proc.stdout.readline() if proc.stdout else ""),
                         daemon=True).start()
        try:
            line = lines.get(timeout=timeout_s)
        except queue.Empty:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"the UR emulator did not report listening within {timeout_s:g} s") from None
        if "listening:" not in line:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"the UR emulator did not start (exit code {proc.returncode}): {line.strip()!r}")
        words = line.split()

        def port(service: str) -> int:
            return int(words[words.index(service) + 1].rsplit(":", 1)[1])

        return cls(proc, host, port("dashboard"), port("rtde"), port("control"), line.strip())

    def control(self, command: str, timeout_s: float = 10.0) -> str:
        """Send one control command and return its reply line (``OK ...`` or ``ERR ...``)."""
        if self._control is None:
            self._control = socket.create_connection((self.host, self.control_port), timeout=timeout_s)
            self._control_file = self._control.makefile("rw", encoding="utf-8", newline="\n")
        assert self._control_file is not None
        self._control.settimeout(timeout_s)
        self._control_file.write(command.strip() + "\n")
        self._control_file.flush()
        reply = self._control_file.readline().strip()
        if not reply:
            raise ConnectionError(f"the UR emulator closed its control port after {command!r}")
        return reply

    def state(self) -> dict:
        reply = self.control("state")
        if not reply.startswith("OK "):
            raise RuntimeError(f"state: {reply}")
        return json.loads(reply[3:])

    def close(self, timeout_s: float = 5.0) -> None:
        if self._control is not None:
            try:
                self._control.close()
            except OSError:
                pass
            self._control = self._control_file = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def free_loopback_host(port: int = 30004, attempts: int = 200) -> str:
    """A random 127.x.y.z address on which ``port`` is free (Linux routes all of 127/8 to loopback)."""
    for _ in range(attempts):
        host = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return host
    raise RuntimeError(f"no loopback address with port {port} free")


if __name__ == "__main__":
    sys.exit(main())
