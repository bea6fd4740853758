"""An emulated serial arm on a pseudo-terminal: the serial driver's counterpart in tests and demos.

It is not a robot and says so: its ID is "SIMULATED-ARM v1 (emulated serial
device)". It speaks the default line protocol of ``cell.config.SerialProtocol``
(docs/serial-protocol.md), or another :class:`Dialect`, runs each program for
its configured duration, and lets a test inject what real devices do wrong:
a fault, silence, a garbled reply, being unplugged.

:class:`EmulatedArm` is the device logic (time passed in, no I/O);
:class:`PtyArmEmulator` serves it on the master side of a pseudo-terminal in
a background thread, so a driver opens ``.port`` (e.g. /dev/pts/5) like any
serial port. To try the driver by hand::

    python -m robot_bridge.serial_emulator --program pick_cap.prg=5 --program place_cap.prg=3
    python -m robot_bridge.serial_emulator --config configs/lamp-cell.yaml --link /tmp/arm
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cell.serial_pty import PtyPort

IDENT = "SIMULATED-ARM v1 (emulated serial device)"


@dataclass(frozen=True)
class Dialect:
    """What the emulated arm understands and answers. The defaults are SerialProtocol's defaults.

    ``run`` holds ``{program}``; ``running`` may use ``{progress}`` (0..1) and
    ``{percent}`` (0..100); ``error`` and ``fault`` use ``{reason}``.
    """

    line_ending: str = "\n"
    ident: str = IDENT
    hello: str = "ID?"
    run: str = "RUN {program}"
    pause: str = "PAUSE"
    resume: str = "RESUME"
    stop: str = "STOP"
    status: str = "STATUS?"
    ok: str = "OK"
    error: str = "ERR {reason}"
    idle: str = "IDLE"
    running: str = "RUNNING {progress:.2f}"
    paused: str = "PAUSED"
    done: str = "DONE"
    fault: str = "FAULT {reason}"


class EmulatedArm:
    """The device logic: programs run for their durations; DONE is told once, then IDLE.

    States: idle, running, paused, fault. Not thread-safe on its own; the
    pty server holds a lock around it.
    """

    def __init__(self, programs: dict[str, float], dialect: Dialect | None = None):
        self.programs = dict(programs)   # program -> duration in s
        self.dialect = dialect or Dialect()
        self.state = "idle"
        self.program: str | None = None
        self.fault_reason = ""
        self.silent = False
        self.received: list[str] = []                 # every line answered, in order
        self.ignored: list[tuple[float, str]] = []    # (time, line) received while silent
        self._garbled: list[str] = []
        self._started = 0.0
        self._elapsed = 0.0
        self._done_pending = False
        prefix, _, suffix = self.dialect.run.partition("{program}")
        self._run_prefix, self._run_suffix = prefix, suffix

    # what a test can look at -----------------------------------------------------------
    def progress(self, now: float) -> float:
        if self.program is None:
            return 0.0
        ran = self._elapsed + (now - self._started if self.state == "running" else 0.0)
        return min(1.0, ran / self.programs[self.program])

    def _advance(self, now: float) -> None:
        if self.state == "running" and self.progress(now) >= 1.0:
            self.state, self.program, self._done_pending = "idle", None, True

    # fault injection -------------------------------------------------------------------
    def fault(self, reason: str, now: float) -> None:
        """The arm stops with a fault (e.g. a protective stop), until clear()."""
        self._advance(now)
        if self.state == "running":
            self._elapsed += now - self._started
        self.state, self.fault_reason = "fault", reason

    def clear(self, now: float) -> None:
        """The fault is acknowledged on the arm: the program is abandoned, the arm idle."""
        self.state, self.fault_reason, self.program = "idle", "", None

    def garble_next_reply(self, line: str) -> None:
        """The next reply is replaced by ``line`` (the command itself is still carried out)."""
        self._garbled.append(line)

    # the protocol ----------------------------------------------------------------------
    def handle(self, line: str, now: float) -> str | None:
        """The reply to one received command line, or None when the arm is silent."""
        if self.silent:
            self.ignored.append((now, line))
            return None
        self.received.append(line)
        reply = self._reply(line, now)
        if self._garbled:
            return self._garbled.pop(0)
        return reply

    def _reply(self, line: str, now: float) -> str:
        d = self.dialect
        self._advance(now)
        if line == d.hello:
            return d.ident
        if line == d.status:
            return self._status(now)
        if line == d.pause:
            if self.state == "running":
                self._elapsed += now - self._started
                self.state = "paused"
            return d.ok
        if line == d.resume:
            if self.state == "fault":
                return d.error.format(reason=f"fault {self.fault_reason}")
            if self.state == "paused":
                self.state, self._started = "running", now
            return d.ok
        if line == d.stop:
            if self.state in ("running", "paused"):
                self.state, self.program = "idle", None
            return d.ok
        if (line.startswith(self._run_prefix) and line.endswith(self._run_suffix)
                and len(line) > len(self._run_prefix) + len(self._run_suffix)):
            program = line[len(self._run_prefix):len(line) - len(self._run_suffix)]
            if self.state == "fault":
                return d.error.format(reason=f"fault {self.fault_reason}")
            if self.state in ("running", "paused"):
                return d.error.format(reason="busy")
            if program not in self.programs:
                return d.error.format(reason=f"unknown program {program}")
            self.state, self.program, self._started, self._elapsed = "running", program, now, 0.0
            self._done_pending = False
            return d.ok
        return d.error.format(reason=f"unknown command {line}")

    def _status(self, now: float) -> str:
        d = self.dialect
        if self.state == "fault":
            return d.fault.format(reason=self.fault_reason)
        if self.state == "running":
            p = self.progress(now)
            return d.running.format(progress=p, percent=100 * p)
        if self.state == "paused":
            return d.paused
        if self._done_pending:
            self._done_pending = False
            return d.done
        return d.idle


class PtyArmEmulator(PtyPort):
    """An EmulatedArm on the master side of a pseudo-terminal, served by a background thread
    (``cell.serial_pty.PtyPort``: ``port``, ``link``, ``unplug()``/``replug()``). Use as a
    context manager, or call ``close()``.
    """

    thread_name = "emulated-arm"

    def __init__(self, programs: dict[str, float], dialect: Dialect | None = None, *,
                 clock: Callable[[], float] = time.monotonic, link: str | Path | None = None,
                 on_line: Callable[[str, str | None], None] | None = None):
        super().__init__(link)
        self.arm = EmulatedArm(programs, dialect)
        self.clock = clock
        self.on_line = on_line       # called with (command, reply or None) from the server thread
        self.raw_received = bytearray()  # every byte the driver sent, line endings included
        self._plug()

    def _serve(self) -> None:
        master, wake = self._master, self._wake_r
        assert master is not None
        buf = bytearray()
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([master, wake], [], [], 0.5)
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
            self.raw_received += data
            buf += data
            while True:
                ends = [i for i in (buf.find(b"\n"), buf.find(b"\r")) if i >= 0]
                if not ends:
                    break
                end = min(ends)
                raw = bytes(buf[:end]).strip()
                del buf[:end + 1]
                if raw:
                    self._answer(master, raw.decode("ascii", errors="replace"))

    def _answer(self, master: int, line: str) -> None:
        with self._lock:
            reply = self.arm.handle(line, self.clock())
        if self.on_line is not None:
            self.on_line(line, reply)
        if reply is None:
            return
        try:
            os.write(master, (reply + self.arm.dialect.line_ending).encode("ascii", errors="replace"))
        except OSError:
            pass  # the other side's buffer is full or gone: the reply is lost, as on a real line

    # injection, thread-safe ------------------------------------------------------------
    def fault(self, reason: str = "protective stop") -> None:
        with self._lock:
            self.arm.fault(reason, self.clock())

    def clear(self) -> None:
        with self._lock:
            self.arm.clear(self.clock())

    def go_silent(self) -> None:
        """Stop answering (a hung controller): commands are ignored, not carried out."""
        with self._lock:
            self.arm.silent = True

    def answer_again(self) -> None:
        with self._lock:
            self.arm.silent = False

    def garble_next_reply(self, line: str) -> None:
        with self._lock:
            self.arm.garble_next_reply(line)

    def state(self) -> tuple[str, str | None, float]:
        """(state, program, progress) as the arm sees it now."""
        with self._lock:
            self.arm._advance(self.clock())
            return self.arm.state, self.arm.program, self.arm.progress(self.clock())


# python -m robot_bridge.serial_emulator ------------------------------------------------
def _programs_from_args(args: argparse.Namespace) -> dict[str, float]:
    programs: dict[str, float] = {}
    if args.config:
        from cell.config_loader import load_config  # only here: the emulator itself needs no config

        robot = load_config(args.config).robot
        if robot is None:
            raise SystemExit(f"{args.config}: the cell has no robot section")
        programs.update({p.program: p.duration_s for p in robot.programs.values()})
        if robot.serial.model_dump() != type(robot.serial)().model_dump():
            print("note: the config sets its own robot.serial protocol; this emulator speaks the default one",
                  file=sys.stderr)
    for item in args.program:
        name, sep, seconds = item.rpartition("=")
        try:
            duration = float(seconds)
        except ValueError:
            duration = -1.0
        if not sep or not name or duration <= 0:
            raise SystemExit(f"--program {item!r}: expected NAME=SECONDS with SECONDS > 0, e.g. pick_cap.prg=5")
        programs[name] = duration
    if not programs:
        raise SystemExit("no programs: give --program NAME=SECONDS (repeatable) or --config CELL.yaml")
    return programs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m robot_bridge.serial_emulator",
        description="An EMULATED serial arm on a pseudo-terminal, speaking the default serial line protocol "
                    "(docs/serial-protocol.md). Point robot.serial_url at the path it prints.")
    parser.add_argument("--program", action="append", default=[], metavar="NAME=SECONDS",
                        help="a program the arm knows and how long it runs (repeatable)")
    parser.add_argument("--config", help="take the programs and durations from this cell YAML (robot.programs)")
    parser.add_argument("--link", help="also make this symlink to the pty (a stable name for robot.serial_url)")
    parser.add_argument("--line-ending", choices=["lf", "crlf", "cr"], default="lf",
                        help="line ending of the replies (default lf)")
    parser.add_argument("--quiet", action="store_true", help="do not print every command and reply")
    args = parser.parse_args(argv)
    programs = _programs_from_args(args)
    ending = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}[args.line_ending]

    def show(line: str, reply: str | None) -> None:
        if not args.quiet:
            print(f"<- {line}\n-> {reply if reply is not None else '(silent)'}", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so `kill` also removes the --link symlink
    emulator = PtyArmEmulator(programs, Dialect(line_ending=ending), link=args.link, on_line=show)
    try:
        print(f"{IDENT} on {emulator.port}" + (f" (pty {emulator._slave_name})" if args.link else ""),
              file=sys.stderr, flush=True)
        print("programs: " + ", ".join(f"{p} ({d:g} s)" for p, d in programs.items()), file=sys.stderr, flush=True)
        print("Ctrl-C to stop", file=sys.stderr, flush=True)
        print(emulator.port, flush=True)  # the only line on stdout: the port, for scripts
        while emulator.serving:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
