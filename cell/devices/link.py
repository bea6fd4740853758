"""One bench device on its serial line: open, read, reconnect, and tell how the line is doing.

A :class:`DeviceLink` owns a reader thread. Why a thread and not a
``poll(now)``: a read waits up to ``Device.timeout_s`` and opening a
``socket://`` URL can wait seconds, and one devices node serves several
devices; the node's loop must not wait on any of them. The thread does all
the port work; the node's thread only calls ``readings()``, ``write()`` and
reads ``state`` / ``status`` (see docs/devices.md, "Driving a link").

The line protocol itself is ``protocols.py`` (pure); this module is the shell
around it, in the manner of ``robot_bridge/serial_driver.py``: any pyserial
URL, reconnect with back-off, garbage counted and dropped, never an
exception out of the thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

import serial

from cell.config import Device
from cell.devices.protocols import DeviceProtocolParser, DeviceReading, LineAssembler

from cell.serial_pty import SERIAL_IO_ERRORS as _IO_ERRORS

logger = logging.getLogger(__name__)

NOISE_FOR_WRONG_BAUD = 16
"""Unreadable characters with no valid line in between: the device probably sends at another baud rate."""

GARBAGE_LINES_IN_ROW = 5
"""Lines in a row that fit no pattern: the device is not speaking the protocol its kind expects."""

WRITE_TIMEOUT_S = 1.0
MAX_QUEUED = 10_000
"""Readings kept for a node that does not collect them; the oldest go first."""


class DeviceLink:
    """A device's port, read by a thread of its own; readings queue up until the node collects them.

    ``state`` is ``connecting``, ``open``, ``unreadable`` (open, but nothing
    valid comes: wrong baud rate or protocol), ``lost`` (retrying) or
    ``closed``; ``status`` says the same in words for logs and heartbeats.
    """

    def __init__(self, device: Device, *, clock: Callable[[], float] = time.monotonic, reconnect_min_s: float = 0.5,
                 half_line_s: float = 1.0) -> None:
        """ValueError when ``device.protocol`` cannot work (see DeviceProtocolParser)."""
        self.device = device
        self.parser = DeviceProtocolParser(device)
        self.clock = clock
        self.reconnect_min_s = min(reconnect_min_s, device.reconnect_max_s)
        self.half_line_s = half_line_s
        self.lines = 0     # valid lines received
        self.garbage = 0   # lines dropped: unreadable, half, over-long, or fitting no pattern
        self.losses = 0    # times an open port was lost
        self._readings: deque[DeviceReading] = deque(maxlen=MAX_QUEUED)
        self._state = ("connecting", f"opening {device.url}")
        self._lock = threading.Lock()  # the port (swapped by the reader, written by the node) and the parser's commands
        self._port: serial.SerialBase | None = None
        self._noise_mark = 0                 # LineAssembler.noise at the last valid line
        self._in_row = 0                     # garbage lines since the last valid line
        self._last_garbage: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # what the node calls -----------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state[0]

    @property
    def status(self) -> str:
        return self._state[1]

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> DeviceLink:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"device {self.device.id}", daemon=True)
            self._thread.start()
        return self

    def readings(self) -> list[DeviceReading]:
        """Every reading since the last call, oldest first (never blocks)."""
        out = []
        while self._readings:
            out.append(self._readings.popleft())
        return out

    def write(self, command: str, **fields: object) -> bool:
        """Send a command (``set``, ``blink``, ``light`` …, see docs/devices.md); False when the port is not open.

        Either way the command is remembered as what the device should show and
        sent again after a reconnect. ValueError for a command the kind does not
        take or a missing field: that is the caller's mistake, not the line's."""
        with self._lock:
            data = self.parser.command(command, **fields)
            if self._port is None:
                return False
            try:
                self._port.write(data)
            except _IO_ERRORS as exc:
                logger.warning("device %s: cannot send %r: %s", self.device.id, data, exc)
                return False
        return True

    def close(self) -> None:
        """Stop the thread and release the port (within about ``timeout_s``)."""
        self._stop.set()
        with self._lock:
            if self._port is not None and hasattr(self._port, "cancel_read"):
                self._port.cancel_read()
        if self._thread is not None:
            self._thread.join(max(5.0, 3 * self.device.timeout_s))
        self._set("closed", "closed")

    def __enter__(self) -> DeviceLink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # the reader thread -------------------------------------------------------------------
    def _set(self, state: str, text: str) -> None:
        if (state, text) == self._state or (self._stop.is_set() and state != "closed"):
            return  # nothing new, or closing: a late open or loss is not news
        self._state = (state, text)
        log = logger.info if state in ("open", "closed") else logger.warning
        log("device %s on %s: %s", self.device.id, self.device.url, text)

    def _run(self) -> None:
        delay = self.reconnect_min_s
        while not self._stop.is_set():
            opened, reason = self._session()
            if self._stop.is_set():
                break
            if opened:
                self.losses += 1
                delay = self.reconnect_min_s
            self._set("lost", f"lost: {reason}; retrying in {delay:g} s")
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self.device.reconnect_max_s)

    def _session(self) -> tuple[bool, str]:
        """Open the port and read until it fails: (whether it opened, why it ended)."""
        d = self.device
        try:
            port = serial.serial_for_url(d.url, baudrate=d.baudrate, bytesize=d.bytesize, parity=d.parity,
                                         stopbits=d.stopbits, timeout=d.timeout_s, write_timeout=WRITE_TIMEOUT_S)
        except (*_IO_ERRORS, ValueError) as exc:  # ValueError: a URL or setting pyserial does not take
            return False, f"cannot open {d.url}: {exc}"
        lines = LineAssembler(d.protocol.encoding, half_line_s=self.half_line_s)
        reason = "closed"
        try:
            with self._lock:
                self._port = port
                for data in self.parser.replay():
                    port.write(data)
            self._set("open", "open")
            self._noise_mark, self._in_row, self._last_garbage = 0, 0, None
            while not self._stop.is_set():
                data = port.read(max(1, port.in_waiting))
                now = self.clock()
                for line in lines.feed(data, now):
                    self._take(line, lines.noise, now)
                self._readings.extend(self.parser.tick(now))
                self._judge(lines.noise)
        except _IO_ERRORS as exc:
            reason = str(exc) or type(exc).__name__
        finally:
            with self._lock:
                self._port = None
            try:
                port.close()
            except _IO_ERRORS:
                pass
            self.parser.reset()
            if lines.partial:  # a half line, cut off
                self.garbage += 1
        return True, reason

    def _take(self, line: str | None, noise: int, now: float) -> None:
        try:
            readings = self.parser.feed(line, now) if line is not None else None
        except Exception:  # a parser bug on one line must not end the reader thread: the line is garbage
            logger.exception("device %s: the parser failed on %r; the line is dropped", self.device.id, line)
            readings = None
        if readings is not None:
            self.lines += 1
            self._noise_mark, self._in_row = noise, 0
            self._readings.extend(readings)
            self._set("open", "open")
            return
        self.garbage += 1
        self._in_row += 1
        self._last_garbage = line
        logger.debug("device %s: dropped %r (garbage %d)", self.device.id, line, self.garbage)

    def _judge(self, noise: int) -> None:
        """Say so when nothing valid comes in, and why it probably does not (said once, until a valid line)."""
        if self.state != "open":
            return
        d = self.device
        if noise - self._noise_mark >= NOISE_FOR_WRONG_BAUD:
            framing = f"{d.bytesize}{d.parity}{d.stopbits}"
            self._set("unreadable", f"unreadable: {noise - self._noise_mark} characters that are not "
                      f"{d.protocol.encoding} text and no valid line at {d.baudrate} baud ({framing}): probably "
                      f"the wrong baud rate; check that device {d.id!r} really sends at baudrate: {d.baudrate} "
                      f"({framing})")
        elif self._in_row >= GARBAGE_LINES_IN_ROW:
            last = repr(self._last_garbage) if self._last_garbage is not None else "an unreadable line"
            self._set("unreadable", f"unreadable: {self._in_row} lines in a row fit no {d.kind} pattern "
                      f"(last: {last}); check the kind and protocol.patterns of device {d.id!r}")
