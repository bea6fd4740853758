"""Emulated bench devices on pseudo-terminals: a DeviceLink's counterpart in tests and at a desk.

None is a real device (``cell devices emulate KIND``, which runs
``run_emulator``, says so). KIND is one of ``buttons``, ``stacklight``, ``pick-to-light``,
``heart-rate``, ``torque-tool`` (EMULATOR_KINDS maps them to Device kinds).
They speak the default protocols of docs/devices.md.

:class:`EmulatedDevice` and its subclasses are the device logic (time passed
in, no I/O): what it answers, and, with ``traffic``, what it says on its own
(presses, heartbeats, tightening results, the operator acknowledging lit
bins). :class:`PtyDeviceEmulator` serves one on the master side of a
pseudo-terminal in a thread, and lets a test do what real lines do wrong:

* ``unplug()`` / ``replug()``: the pty goes away (its /dev/pts node with it)
  and a new one comes; the ``link`` symlink points at whichever is plugged,
  the way a /dev/serial/by-id name survives replugging a USB adapter. A pty
  cannot come back at its own /dev/pts path, hence the symlink (the same
  choice as robot_bridge/serial_emulator.py).
* ``send_raw()``: garbage and half lines.
* a wrong baud rate: the emulator reads the rate the client set on the pty
  (on Linux the master's termios shows the slave's settings) and, when it is
  not ``baudrate``, turns every byte either way into noise, as a UART would.
"""

from __future__ import annotations

import heapq
import math
import os
import random
import re
import select
import termios
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from cell.serial_pty import PtyPort

EMULATOR_KINDS = {"buttons": "button_box", "stacklight": "stack_light", "pick-to-light": "pick_to_light",
                  "heart-rate": "heart_rate", "torque-tool": "torque_tool"}
"""``cell devices emulate KIND`` -> the Device kind it stands in for (a pedal is a one-key button box)."""

_SPEEDS = {value: int(name[1:]) for name, value in vars(termios).items() if re.fullmatch(r"B\d+", name)}


class EmulatedDevice:
    """The logic of one emulated device; not thread-safe (the pty server locks around it)."""

    def __init__(self, rng: random.Random, traffic: bool) -> None:
        self.rng = rng
        self.traffic = traffic
        self.received: list[str] = []  # every command line, as the device understood it
        self._scheduled: list[tuple[float, int, str]] = []
        self._seq = 0

    def answer(self, line: str, now: float) -> list[str]:
        """The lines the device sends back to ``line`` (input-only devices ignore commands)."""
        self.received.append(line)
        return self._answer(line, now)

    def _answer(self, line: str, now: float) -> list[str]:
        return []

    @staticmethod
    def _unknown(line: str) -> list[str]:
        """The refusal of a command not understood; junk (a wrong baud rate) is not echoed."""
        return [f"ERR unknown command {line}" if line.isascii() and line.isprintable() else "ERR unreadable command"]

    def stream(self, start: float) -> Iterator[tuple[float, str]]:
        """What the device says on its own from ``start`` on: (time, line), in time order, without end."""
        return iter(())

    def schedule(self, t: float, line: str) -> None:
        self._seq += 1
        heapq.heappush(self._scheduled, (t, self._seq, line))

    def next_scheduled(self) -> float:
        return self._scheduled[0][0] if self._scheduled else math.inf

    def due(self, now: float) -> list[str]:
        out = []
        while self._scheduled and self._scheduled[0][0] <= now:
            out.extend(self._fire(heapq.heappop(self._scheduled)[2]))
        return out

    def _fire(self, line: str) -> list[str]:
        return [line]


class ButtonBox(EmulatedDevice):
    """Keys 1-3 (mostly 1), pressed every few seconds; about one press in seven is held long."""

    def stream(self, start: float) -> Iterator[tuple[float, str]]:
        t = start
        while True:
            t += self.rng.uniform(2.0, 6.0)
            key = self.rng.choice((1, 1, 1, 2, 3))
            hold = self.rng.uniform(1.5, 2.5) if self.rng.random() < 0.15 else self.rng.uniform(0.08, 0.3)
            yield t, f"DOWN {key}"
            t += hold
            yield t, f"UP {key}"


def heartbeats(rng: random.Random, stress_at_s: float | None = None) -> Iterator[tuple[float, float]]:
    """(time since start in s, RR in ms) of each beat: about 800 ms with an RMSSD near 40 ms; from
    ``stress_at_s`` on, about 650 ms and an RMSSD near 12 ms (what mental strain does to HRV).

    Successive RRs are an AR(1) process around the mean: RMSSD = sigma * sqrt(2 / (1 + phi))."""
    phi, t, deviation = 0.5, 0.0, 0.0
    while True:
        stressed = stress_at_s is not None and t >= stress_at_s
        mean, rmssd = (650.0, 12.0) if stressed else (800.0, 40.0)
        deviation = phi * deviation + rng.gauss(0.0, rmssd / math.sqrt(2 / (1 + phi)))
        rr = mean + deviation
        t += rr / 1000
        yield t, rr


class HeartRateBridge(EmulatedDevice):
    """A chest strap bridged to serial: once a second ``HR <bpm> RR <ms>,<ms>`` with the beats since the last line."""

    def __init__(self, rng: random.Random, traffic: bool, stress_at_s: float | None = None) -> None:
        super().__init__(rng, traffic)
        self.stress_at_s = stress_at_s

    def stream(self, start: float) -> Iterator[tuple[float, str]]:
        beats = heartbeats(self.rng, self.stress_at_s)
        beat_t, rr = next(beats)
        recent: list[float] = []  # the last few RRs, for the HR the strap reports
        tick = 1.0
        while True:
            batch = []
            while beat_t <= tick:
                batch.append(rr)
                recent = (recent + [rr])[-5:]
                beat_t, rr = next(beats)
            hr = round(60000.0 * len(recent or [rr]) / sum(recent or [rr]))
            yield start + tick, f"HR {hr}" + (" RR " + ",".join(f"{x:.0f}" for x in batch) if batch else "")
            tick += 1.0


class TorqueTool(EmulatedDevice):
    """A nut runner: a rundown every few seconds, 4.5 N·m at about 90°; one in ten is NOK."""

    def stream(self, start: float) -> Iterator[tuple[float, str]]:
        t = start
        while True:
            t += self.rng.uniform(4.0, 10.0)
            if self.rng.random() < 0.9:
                yield t, f"OK {self.rng.gauss(4.5, 0.08):.2f} {self.rng.gauss(90.0, 6.0):.1f}"
            else:
                yield t, f"NOK {self.rng.uniform(2.5, 4.0):.2f} {self.rng.uniform(20.0, 70.0):.1f}"


class PickToLight(EmulatedDevice):
    """Lights bins on ``LIGHT <bin> <count>``; with traffic, the operator picks from a lit bin and presses
    its button after ``ack_after_s`` (``ACK <bin>``), and the light goes out."""

    def __init__(self, rng: random.Random, traffic: bool) -> None:
        super().__init__(rng, traffic)
        self.lit: dict[int, int] = {}  # bin -> count shown
        self.ack_after_s = (1.5, 4.0)

    def _answer(self, line: str, now: float) -> list[str]:
        words = line.split()
        if len(words) == 3 and words[0] == "LIGHT" and words[1].isdigit() and words[2].isdigit():
            self.lit[int(words[1])] = int(words[2])
            if self.traffic:
                self.schedule(now + self.rng.uniform(*self.ack_after_s), f"ACK {int(words[1])}")
            return ["OK"]
        if len(words) == 2 and words[0] == "OFF" and words[1].isdigit():
            self.lit.pop(int(words[1]), None)
            return ["OK"]
        if words == ["OFF"]:
            self.lit.clear()
            return ["OK"]
        return self._unknown(line)

    def _fire(self, line: str) -> list[str]:
        lit_bin = int(line.split()[1])
        if lit_bin not in self.lit:  # switched off before anyone picked
            return []
        del self.lit[lit_bin]
        return [line]


class StackLight(EmulatedDevice):
    """A one-colour andon light: ``SET <colour> [BLINK]`` / ``SET OFF``, answered ``OK`` or ``ERR <reason>``."""

    COLOURS = ("RED", "AMBER", "YELLOW", "GREEN", "BLUE", "WHITE")

    def __init__(self, rng: random.Random, traffic: bool) -> None:
        super().__init__(rng, traffic)
        self.state: tuple[str, bool] = ("OFF", False)  # colour, blinking

    def _answer(self, line: str, now: float) -> list[str]:
        words = line.split()
        if words == ["SET", "OFF"]:
            self.state = ("OFF", False)
            return ["OK"]
        if len(words) in (2, 3) and words[0] == "SET" and words[2:] in ([], ["BLINK"]):
            if words[1] not in self.COLOURS:
                return [f"ERR unknown colour {words[1]}"]
            self.state = (words[1], len(words) == 3)
            return ["OK"]
        return self._unknown(line)


def make_device(kind: str, rng: random.Random, traffic: bool, stress_at_s: float | None = None) -> EmulatedDevice:
    """The device logic for an emulator KIND (a key of EMULATOR_KINDS)."""
    if kind == "heart-rate":
        return HeartRateBridge(rng, traffic, stress_at_s)
    classes = {"buttons": ButtonBox, "stacklight": StackLight, "pick-to-light": PickToLight,
               "torque-tool": TorqueTool}
    if kind not in classes:
        raise ValueError(f"no emulated device {kind!r}; choose one of {', '.join(EMULATOR_KINDS)}")
    return classes[kind](rng, traffic)


class PtyDeviceEmulator(PtyPort):
    """An emulated device on the master side of a pseudo-terminal; open ``.port`` like any serial port.

    ``baudrate`` is the device's own rate (settable: "fix the device");
    ``traffic`` makes it talk on its own; ``on_line(direction, line)`` sees
    every line, ``"->"`` sent and ``"<-"`` received, from the server thread.
    Use as a context manager, or call ``close()``.
    """

    def __init__(self, kind: str, *, baudrate: int = 9600, link: str | Path | None = None, traffic: bool = False,
                 seed: int | None = None, stress_at_s: float | None = None, line_ending: str = "\n",
                 clock: Callable[[], float] = time.monotonic,
                 on_line: Callable[[str, str], None] | None = None) -> None:
        super().__init__(link)
        self.kind = kind
        self.thread_name = f"emulated {kind}"
        self.device = make_device(kind, random.Random(seed), traffic, stress_at_s)
        self.baudrate = baudrate
        self.line_ending = line_ending
        self.clock = clock
        self.on_line = on_line
        self._noise = random.Random(seed)
        self._stream = self.device.stream(clock()) if traffic else iter(())
        self._next = next(self._stream, None)
        self._plug()

    @property
    def client_baudrate(self) -> int | None:
        """The rate the client set on the pty (None: unplugged, or a rate termios has no name for)."""
        with self._lock:
            return self._client_rate()

    def _client_rate(self) -> int | None:
        if self._master is None:
            return None
        return _SPEEDS.get(termios.tcgetattr(self._master)[4])

    # sending, thread-safe ------------------------------------------------------------------
    def send(self, line: str) -> None:
        """Send one line (the line ending is added), as the device would."""
        with self._lock:
            self._send_line(line)

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are: garbage, a half line, a line split over two writes."""
        with self._lock:
            self._write(data)

    def _send_line(self, line: str) -> None:
        self._write((line + self.line_ending).encode("ascii", errors="replace"))
        if self.on_line is not None:
            self.on_line("->", line)

    def _write(self, data: bytes) -> None:
        if self._master is None:
            return  # unplugged: said into the void
        try:
            os.write(self._master, self._through_line(data))
        except OSError:
            pass  # the client's buffer is full: lost, as on a real line

    def _through_line(self, data: bytes) -> bytes:
        """What arrives at the other end: the bytes, or, at a mismatched baud rate, noise.

        A receiver at the wrong rate samples the wrong bits and sees frames that
        are not there: more bytes when it is faster, fewer when slower (scaled
        by the rate ratio, within 1/4..4), all of them junk."""
        client = self._client_rate()
        if client == self.baudrate:
            return data
        ratio = min(4.0, max(0.25, (client or self.baudrate * 4) / self.baudrate))
        return bytes(self._noise.randrange(256) for _ in range(max(1, round(len(data) * ratio))))

    # the server thread ---------------------------------------------------------------------
    def _serve(self) -> None:
        master, wake = self._master, self._wake_r
        assert master is not None
        buf = bytearray()
        while not self._stop.is_set():
            with self._lock:
                now = self.clock()
                while self._next is not None and self._next[0] <= now:
                    self._send_line(self._next[1])
                    self._next = next(self._stream, None)
                for line in self.device.due(now):
                    self._send_line(line)
                wait = min(self._next[0] if self._next else math.inf, self.device.next_scheduled()) - now
            try:
                ready, _, _ = select.select([master, wake], [], [], min(0.5, max(0.0, wait)))
            except (OSError, ValueError):
                return
            if wake in ready:
                return
            if master not in ready:
                continue
            try:
                data = os.read(master, 4096)
            except BlockingIOError:
                continue
            except OSError:  # EIO: nobody has the slave open; cannot happen while we hold it, but be calm
                time.sleep(0.05)
                continue
            with self._lock:
                buf += self._through_line(data)
                *lines, rest = re.split(rb"\r\n|\r|\n", bytes(buf))
                buf = bytearray(rest[-1024:])  # endless junk without a line end is not kept for ever
                for raw in lines:
                    line = raw.decode("ascii", errors="replace").strip()
                    if not line:
                        continue
                    if self.on_line is not None:
                        self.on_line("<-", line)
                    for reply in self.device.answer(line, self.clock()):
                        self._send_line(reply)


def run_emulator(kind: str, *, stop: threading.Event | None = None, print_path: Callable[[str], None] = print,
                 baudrate: int = 9600, link: str | Path | None = None, seed: int | None = None,
                 stress_at_s: float | None = None, on_line: Callable[[str, str], None] | None = None) -> None:
    """Serve an emulated KIND with realistic traffic until ``stop`` is set or Ctrl-C.

    ``print_path`` gets the port to open (the ``link`` when given) before any
    traffic, so ``cell devices emulate KIND`` prints it as its first line."""
    stop = stop or threading.Event()
    with PtyDeviceEmulator(kind, baudrate=baudrate, link=link, traffic=True, seed=seed, stress_at_s=stress_at_s,
                           on_line=on_line) as emulator:
        print_path(emulator.port)
        try:
            while not stop.wait(0.2) and emulator.serving:
                pass
        except KeyboardInterrupt:
            pass

