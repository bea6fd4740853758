"""A simple serial arm or gripper behind the RobotDriver interface, through a configurable line protocol.

One command line goes out, one reply line comes back, and every reply is
checked against the pattern the config expects (``cell.config.SerialProtocol``,
documented in docs/serial-protocol.md). Like the Universal Robots client
library, the driver does not trust an ``OK``: it asks the arm for its state
and reports what the arm says.

Time is passed in (``poll(now)``) for scheduling status requests and
reconnects; the only real waiting is for a reply, never much longer than
``command_timeout_s``. A missing reply, a serial error or an unplugged device
makes the arm "disconnected"; ``poll`` then reconnects with exponential
back-off. A reply that fits no pattern is counted in ``bad_replies`` and the
command fails with a DriverError that names the line and what was expected.

Not thread-safe: one caller (the robot node's loop) drives it.
"""

from __future__ import annotations

import codecs
import logging
import re
import time
from typing import TYPE_CHECKING

import serial

from cell.config import SerialProtocol
from robot_bridge.driver import Capabilities, DriverError, DriverStatus

if TYPE_CHECKING:
    from cell.config import Robot

from cell.serial_pty import SERIAL_IO_ERRORS as _IO_ERRORS

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 1024
"""A reply longer than this without a line ending is taken as one (bad) line."""

BAD_REPLIES_BEFORE_DISCONNECT = 3
"""This many unreadable replies in a row (wrong baud rate, wrong port) count as a lost connection."""

STATUS_KINDS = ("idle", "running", "paused", "done", "fault")
"""Status reply patterns, matched in this order."""


class _LinkLost(Exception):
    """No reply in time, or the port failed: the arm is treated as disconnected."""


class _BadReply(Exception):
    """A reply line that fits none of the expected patterns."""


class _NoAnswer(DriverError):
    """A command whose outcome is unknown (no readable reply)."""


def _compile(protocol: SerialProtocol, field: str) -> re.Pattern[str]:
    pattern = getattr(protocol, field)
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"robot.serial.{field}: {pattern!r} is not a valid regular expression ({exc})") from None


class SerialArmDriver:
    """A serial arm or gripper that speaks a line protocol; see docs/serial-protocol.md."""

    def __init__(
        self,
        url: str,
        programs: dict[str, tuple[str, float]],
        *,
        protocol: SerialProtocol | None = None,
        baudrate: int = 115200,
        command_timeout_s: float = 2.0,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 10.0,
        idle_poll_s: float | None = 1.0,
        name: str = "serial arm",
    ) -> None:
        """``programs``: step id -> (program, expected duration in s), as for SimulatedCobot.

        ``idle_poll_s``: how often the arm's status is asked while no program
        runs (so a fault or a lost line shows up while idle too); None: never.
        """
        if command_timeout_s <= 0 or reconnect_min_s <= 0 or reconnect_max_s <= 0:
            raise ValueError("command_timeout_s, reconnect_min_s and reconnect_max_s must be positive")
        self.url = url
        self.programs = dict(programs)
        self.protocol = protocol or SerialProtocol()
        self.baudrate = baudrate
        self.command_timeout_s = command_timeout_s
        self.reconnect_min_s = min(reconnect_min_s, reconnect_max_s)
        self.reconnect_max_s = reconnect_max_s
        self.idle_poll_s = idle_poll_s
        self.name = name
        self._rx_ok = _compile(self.protocol, "ok")
        self._rx_error = _compile(self.protocol, "error")
        self._rx_status = [(kind, _compile(self.protocol, kind)) for kind in STATUS_KINDS]
        try:
            self.protocol.run.format(program="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"robot.serial.run: {self.protocol.run!r} may contain only {{program}} "
                             f"in braces ({exc!r})") from None
        try:
            codecs.lookup(self.protocol.encoding)
        except LookupError:
            raise ValueError(f"robot.serial.encoding: {self.protocol.encoding!r} is not a known text "
                             "encoding") from None
        self._ending = self.protocol.line_ending.encode("ascii")
        # A read waits at most this long at a time, so a whole reply never waits much past its deadline.
        self._read_slice_s = min(0.05, command_timeout_s / 10)

        self.description: str | None = None  # the arm's answer to `hello`
        self.bad_replies = 0                   # reply lines that fit no expected pattern, ever
        self.last_error = ""                   # the latest problem, for logs and status screens
        self._bad_in_row = 0
        self._port: serial.SerialBase | None = None
        self._rx = bytearray()
        self._mode = "disconnected"
        self._fault = "not connected yet"
        self._next_attempt: float | None = None  # None: connect at the next poll
        self._backoff = self.reconnect_min_s
        self._next_status = float("-inf")
        # the run this driver started
        self._run: tuple[str, str, str] | None = None  # run_id, step_id, program
        self._active = False       # our run is on the arm (running, paused, or faulted and not yet cleared)
        self._finished = False
        self._stopped = False      # our last run was stopped, or ended without a done report
        self._device_progress: float | None = None
        self._started = 0.0
        self._elapsed = 0.0        # run time before the last pause, for the estimated progress
        self._unconfirmed_run = False  # a RUN went out but its reply was lost: stop it if it runs
        self.emulated = False          # talking to robot_bridge.serial_emulator (robot.emulated)

    @classmethod
    def from_config(cls, robot: Robot, **overrides) -> SerialArmDriver:
        """The driver for a cell's ``robot:`` section (driver: serial)."""
        if not robot.serial_url:
            raise DriverError("robot.serial_url is not set: the serial driver needs the arm's port, "
                              "e.g. /dev/ttyUSB0, /dev/serial/by-id/..., or socket://host:port")
        kwargs = dict(protocol=robot.serial, baudrate=robot.baudrate, command_timeout_s=robot.command_timeout_s,
                      reconnect_max_s=robot.reconnect_max_s, name=robot.name)
        kwargs.update(overrides)
        driver = cls(robot.serial_url, {s: (p.program, p.duration_s) for s, p in robot.programs.items()}, **kwargs)
        driver.emulated = robot.emulated  # the project's emulated arm: status says simulated
        return driver

    # RobotDriver -----------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        description = self.description or f"{self.name} on {self.url} (not connected yet)"
        return Capabilities(programs={s: p for s, (p, _) in self.programs.items()}, simulated=self.emulated,
                            description=description + (" (emulated device)" if self.emulated else ""))

    @property
    def connected(self) -> bool:
        return self._port is not None

    def run(self, run_id: str, step_id: str, program: str, now: float) -> None:
        what = f"run {program}"
        self._ensure_link(what, now)
        try:
            line = self.protocol.run.format(program=program)
            line.encode(self.protocol.encoding)
        except UnicodeEncodeError:
            raise DriverError(f"cannot {what}: the program name cannot be sent in {self.protocol.encoding}") from None
        try:
            self._command(what, line, now)
        except _NoAnswer as exc:
            # The arm may have started the program although the cell now believes the run failed.
            self._unconfirmed_run = True
            if self.connected and self._stop_unconfirmed(now):
                raise DriverError(f"{exc}; sent {self.protocol.stop!r} so the arm does not move unasked") from None
            raise
        self._run = (run_id, step_id, program)
        self._active, self._finished, self._stopped = True, False, False
        self._device_progress, self._started, self._elapsed = None, now, 0.0
        self._unconfirmed_run = False
        self._mode, self._fault = "running", ""
        self._next_status = now  # check at the next poll that it really runs

    def pause(self, now: float) -> None:
        self._ensure_link("pause", now)
        if self._mode != "running":
            return
        try:
            self._command("pause", self.protocol.pause, now)
        except _NoAnswer:
            self._next_status = now  # find out whether it paused
            raise
        self._elapsed += now - self._started
        self._mode = "paused"
        self._next_status = now

    def resume(self, now: float) -> None:
        self._ensure_link("resume", now)
        if self._mode != "paused":
            return
        try:
            self._command("resume", self.protocol.resume, now)
        except _NoAnswer:
            self._next_status = now
            raise
        self._started = now
        self._mode = "running"
        self._next_status = now

    def stop(self, now: float) -> None:
        self._ensure_link("stop", now)
        if self._mode not in ("running", "paused", "fault"):
            return
        try:
            self._command("stop", self.protocol.stop, now)
        except _NoAnswer:
            self._next_status = now
            raise
        if self._mode in ("running", "paused"):
            if self._mode == "running":
                self._elapsed += now - self._started
            self._mode = "stopped"
            self._active, self._stopped = False, True
        self._next_status = now

    def poll(self, now: float) -> DriverStatus:
        if self._port is None:
            if self._next_attempt is None or now >= self._next_attempt:
                self.connect(now)
        elif now >= self._next_status:
            busy = self._mode in ("running", "paused")
            interval = self.protocol.poll_s if busy else self.idle_poll_s
            self._next_status = now + interval if interval is not None else float("inf")
            self._ask_status(now)
        return self._status(now)

    # connection ------------------------------------------------------------------------
    def connect(self, now: float) -> bool:
        """Open the port, greet the arm and read its state; False (and back-off) when that fails.

        The greeting and the first status reply must both arrive within
        ``command_timeout_s`` in all.
        """
        self._close_port()
        deadline = time.monotonic() + self.command_timeout_s
        try:
            try:
                self._port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=self._read_slice_s,
                                                   write_timeout=self.command_timeout_s)
            except (*_IO_ERRORS, ValueError) as exc:  # ValueError: a URL pyserial does not know
                raise _LinkLost(f"cannot open {self.url}: {exc}") from None
            description = None
            if self.protocol.hello:
                description = self._exchange(self.protocol.hello, deadline)
                if self._rx_error.search(description):  # the arm has no ID command: fine, but no description
                    logger.warning("%s: %r refused (%r); set robot.serial.hello to null if the arm has no ID "
                                   "command", self.name, self.protocol.hello, description)
                    description = None
            reply = self._exchange(self.protocol.status, deadline)
            state = self._parse_status(reply)
        except _LinkLost as exc:
            self._lost(str(exc), now)
            return False
        except _BadReply as exc:
            self._count_bad(exc, now, disconnect=False)
            self._lost(f"the arm's answer was not understood: {exc}", now)
            return False
        self.description = description or f"{self.name} on {self.url}"
        self._backoff = self.reconnect_min_s
        self._next_attempt = None
        self._bad_in_row = 0
        self._mode, self._fault = ("running" if self._active else "idle"), ""
        if self._active:
            self._started = now
        logger.info("connected to %s on %s: %s", self.name, self.url, self.description)
        self._apply_status(state, now)
        self._next_status = now + (self.protocol.poll_s if self._mode in ("running", "paused")
                                   else (self.idle_poll_s or float("inf")))
        return True

    def close(self) -> None:
        """Release the port; the driver reports "disconnected" until the next poll reconnects."""
        self._close_port()
        self._mode, self._fault = "disconnected", "closed by the cell"

    def __enter__(self) -> SerialArmDriver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _ensure_link(self, what: str, now: float) -> None:
        if self._port is None and (self._next_attempt is None or now >= self._next_attempt):
            self.connect(now)
        if self._port is None:
            wait = max(0.0, (self._next_attempt or now) - now)
            raise DriverError(f"cannot {what}: no connection to the arm ({self._fault}); "
                              f"next attempt in {wait:.1f} s")

    def _close_port(self) -> None:
        port, self._port = self._port, None
        self._rx.clear()
        if port is not None:
            try:
                port.close()
            except _IO_ERRORS:
                pass

    def _lost(self, text: str, now: float) -> None:
        if self._mode == "running":
            self._elapsed += now - self._started
        if self._port is not None or self._mode != "disconnected" or self._fault != text:
            logger.warning("%s on %s: %s; next attempt in %.1f s", self.name, self.url, text, self._backoff)
        self._close_port()
        self._mode, self._fault, self.last_error = "disconnected", text, text
        self._next_attempt = now + self._backoff
        self._backoff = min(self._backoff * 2, self.reconnect_max_s)

    # one line out, one line back -------------------------------------------------------
    def _exchange(self, command: str, deadline: float | None = None) -> str:
        """Send ``command`` and return the reply line; _LinkLost on timeout or port error, _BadReply on junk."""
        port = self._port
        if port is None:
            raise _LinkLost("no connection")
        if deadline is None:
            deadline = time.monotonic() + self.command_timeout_s
        try:
            waiting = port.in_waiting
            stale = bytes(self._rx) + (port.read(waiting) if waiting else b"")
            self._rx.clear()
            if stale.strip():
                logger.info("%s: discarded unasked input before %r: %r", self.name, command, stale)
            port.write(command.encode(self.protocol.encoding) + self._ending)
            raw = self._read_line(port, deadline)
        except _IO_ERRORS as exc:
            raise _LinkLost(f"serial error during {command!r}: {exc}") from None
        if raw is None:
            raise _LinkLost(f"no reply to {command!r} within {self.command_timeout_s:g} s")
        try:
            line = raw.decode(self.protocol.encoding)
        except UnicodeDecodeError:
            raise _BadReply(f"unreadable reply to {command!r}: {raw!r} is not {self.protocol.encoding} text "
                            f"(wrong baud rate or encoding?)") from None
        if line == command.strip():
            raise _BadReply(f"reply to {command!r} came back as sent: {line!r} (an echo, or a looped-back "
                            f"or wrong port?); expected the arm's answer")
        logger.debug("%s: %r -> %r", self.name, command, line)
        return line

    def _read_line(self, port: serial.SerialBase, deadline: float) -> bytes | None:
        while True:
            line = self._take_line()
            if line is not None:
                return line
            if len(self._rx) > MAX_LINE_BYTES:
                line = bytes(self._rx[:MAX_LINE_BYTES])
                self._rx.clear()
                return line
            if time.monotonic() >= deadline:
                return None
            self._rx += port.read(max(1, port.in_waiting))

    def _take_line(self) -> bytes | None:
        """The next non-empty line in the receive buffer; any of \\n, \\r\\n, \\r ends a reply."""
        while True:
            ends = [i for i in (self._rx.find(b"\n"), self._rx.find(b"\r")) if i >= 0]
            if not ends:
                return None
            end = min(ends)
            line = bytes(self._rx[:end]).strip()
            del self._rx[:end + 1]
            if line:
                return line

    def _command(self, what: str, line: str, now: float) -> None:
        """Send a command and return when the arm accepted it; DriverError when not."""
        logger.info("%s: %s (%r)", self.name, what, line)
        try:
            reply = self._exchange(line)
        except _LinkLost as exc:
            self._lost(str(exc), now)
            raise _NoAnswer(f"cannot {what}: {exc}; the arm is now treated as disconnected") from None
        except _BadReply as exc:
            self._count_bad(exc, now)
            raise _NoAnswer(f"cannot {what}: {exc}") from None
        if self._rx_ok.search(reply):
            self._bad_in_row = 0
            logger.info("%s: %s accepted (%r)", self.name, what, reply)
            return
        m = self._rx_error.search(reply)
        if m:
            self._bad_in_row = 0
            reason = (m.groupdict().get("reason") or "").strip() or reply
            self.last_error = f"the arm refused {what}: {reason}"
            logger.warning("%s: %s", self.name, self.last_error)
            raise DriverError(self.last_error)
        exc = _BadReply(f"unexpected reply to {line!r}: {reply!r}; expected a line matching ok "
                        f"/{self.protocol.ok}/ or error /{self.protocol.error}/")
        self._count_bad(exc, now)
        raise _NoAnswer(f"cannot {what}: {exc}")

    def _count_bad(self, exc: _BadReply, now: float, disconnect: bool = True) -> None:
        self.bad_replies += 1
        self._bad_in_row += 1
        self.last_error = str(exc)
        logger.warning("%s: %s (bad reply %d)", self.name, exc, self.bad_replies)
        if disconnect and self._bad_in_row >= BAD_REPLIES_BEFORE_DISCONNECT:
            self._lost(f"{self._bad_in_row} unreadable replies in a row (last: {exc}); "
                       f"check the baud rate, the port and robot.serial", now)

    def _stop_unconfirmed(self, now: float) -> bool:
        """Best effort: stop a program whose start was never confirmed. True when the arm said OK."""
        try:
            reply = self._exchange(self.protocol.stop)
        except _LinkLost as exc:
            self._lost(str(exc), now)
            return False
        except _BadReply as exc:
            self._count_bad(exc, now)
            return False
        if self._rx_ok.search(reply):
            logger.warning("%s: sent %r after an unconfirmed run; the arm accepted", self.name, self.protocol.stop)
            self._unconfirmed_run = False
            return True
        return False

    # status ----------------------------------------------------------------------------
    def _ask_status(self, now: float) -> None:
        try:
            state = self._parse_status(self._exchange(self.protocol.status))
        except _LinkLost as exc:
            self._lost(str(exc), now)
            return
        except _BadReply as exc:
            self._count_bad(exc, now)
            return
        self._bad_in_row = 0
        self._apply_status(state, now)

    def _parse_status(self, reply: str) -> tuple[str, float | None, str]:
        """(kind, progress 0..1 or None, fault reason) from a status reply line."""
        for kind, rx in self._rx_status:
            m = rx.search(reply)
            if not m:
                continue
            groups = m.groupdict()
            progress = None
            if kind == "running":
                for group, scale in (("progress", 1.0), ("percent", 100.0)):
                    if groups.get(group):
                        try:
                            progress = min(1.0, max(0.0, float(groups[group]) / scale))
                        except ValueError:
                            progress = None
                        break
            reason = ((groups.get("reason") or "").strip() or reply) if kind == "fault" else ""
            return kind, progress, reason
        patterns = ", ".join(f"{kind} /{getattr(self.protocol, kind)}/" for kind in STATUS_KINDS)
        raise _BadReply(f"unexpected reply to {self.protocol.status!r}: {reply!r}; expected a status line "
                        f"matching {patterns}")

    def _apply_status(self, state: tuple[str, float | None, str], now: float) -> None:
        kind, progress, reason = state
        was = self._mode
        if kind in ("running", "paused") and not self._active and self._unconfirmed_run:
            # a RUN whose reply was lost did start after all: the cell believes it failed, so stop it
            self._stop_unconfirmed(now)
            if not self.connected:
                return
            self._next_status = now  # see whether it stopped
        elif kind not in ("running", "paused"):
            self._unconfirmed_run = False
        if kind == "fault":
            if was == "running":
                self._elapsed += now - self._started
            if was != "fault" or self._fault != reason:
                logger.warning("%s reports a fault: %s", self.name, reason)
            self._mode, self._fault = "fault", reason
            return
        self._fault = ""
        if kind == "done":
            if self._active:
                self._active, self._finished, self._device_progress = False, True, 1.0
                run_id, _, program = self._run or ("?", "?", "?")
                logger.info("%s: run %s (%s) done", self.name, run_id, program)
            self._mode = "idle"
        elif kind == "idle":
            if was == "fault":
                self._active = False
                self._mode = "idle"
            elif self._active:
                logger.warning("%s is idle but run %s was not reported done: treated as stopped",
                               self.name, self._run[0] if self._run else "?")
                self._active, self._stopped = False, True
                self._mode = "stopped"
            else:
                self._mode = "stopped" if self._stopped else "idle"
        else:  # running or paused
            if not self._active:
                if was not in ("running", "paused") or self._run is not None:
                    logger.warning("%s is %s a program this cell did not start", self.name, kind)
                self._run, self._finished, self._stopped = None, False, False
                self._device_progress = progress
                self._mode = kind
                return
            if kind == "running" and was != "running":
                self._started = now
            elif kind == "paused" and was == "running":
                self._elapsed += now - self._started
            if progress is not None:
                self._device_progress = progress
            self._mode = kind

    def _status(self, now: float) -> DriverStatus:
        run_id, step_id, program = self._run if self._run else (None, None, None)
        if self._finished:
            progress = 1.0
        elif self._device_progress is not None:
            progress = self._device_progress
        else:
            progress = self._estimated_progress(now)
        fault = self._fault if self._mode in ("fault", "disconnected") else ""
        return DriverStatus(mode=self._mode, run_id=run_id, step_id=step_id, program=program,
                            finished=self._finished, progress=progress, fault=fault)

    def _estimated_progress(self, now: float) -> float:
        """From the configured duration, when the arm does not report progress (never 1.0 before done)."""
        if self._run is None:
            return 0.0
        known = self.programs.get(self._run[1])
        if known is None or known[0] != self._run[2] or known[1] <= 0:
            return 0.0
        ran = self._elapsed + (now - self._started if self._mode == "running" else 0.0)
        return max(0.0, min(0.99, ran / known[1]))
