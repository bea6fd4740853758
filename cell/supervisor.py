"""A generic process supervisor: start child processes, restart crashed ones.

Each child runs in its own session (process group), so a Ctrl-C at the
terminal reaches only the supervisor, which then stops the children in
order: SIGTERM, a bounded wait, SIGKILL for stragglers. A crashed child is
restarted after an exponential back-off that resets once it has stayed up
``stable_after_s``. The supervisor knows nothing of the cell config.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterable, NamedTuple

logger = logging.getLogger(__name__)

LAUNCH_FAILED = 127
"""Exit code recorded when a child could not even be started (as a shell does)."""


@dataclass
class ProcessSpec:
    """One child: a name, its command line and extra environment variables.

    ``env`` is added to the supervisor's own environment, not a replacement.
    ``stop_wave``: children are stopped in waves, lowest first, each wave once the one before
    has exited (the event log after everything that writes to it, the bus last of all).
    """

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    stop_wave: int = 0


class ProcessExit(NamedTuple):
    """A child ended: which one, with what code (negative: killed by signal), when."""

    name: str
    exit_code: int
    t: float


@dataclass
class _Child:
    spec: ProcessSpec
    backoff_s: float
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    last_exit: int | None = None
    finished: bool = False
    log_file: IO[bytes] | None = field(default=None, repr=False)


class Supervisor:
    """Starts the children, restarts the crashed ones, stops them all."""

    def __init__(
        self,
        specs: Iterable[ProcessSpec],
        *,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
        stable_after_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] | None = None,
        log_dir: Path | None = None,
        restart_on_clean_exit: bool = False,
        on_restart: Callable[[str, int], None] | None = None,
    ) -> None:
        self.specs = list(specs)
        names = [s.name for s in self.specs]
        if len(set(names)) != len(names):
            raise ValueError(f"process names must be unique: {names}")
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stable_after_s = stable_after_s
        self.clock = clock
        self._log = log if log is not None else logger.info
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.restart_on_clean_exit = restart_on_clean_exit
        self.on_restart = on_restart
        self.restarts: dict[str, int] = {n: 0 for n in names}
        self.restart_delays: dict[str, list[float]] = {n: [] for n in names}
        self.events: list[ProcessExit] = []
        self.stopping = False
        self._children = {s.name: _Child(s, backoff_initial_s) for s in self.specs}

    # ------------------------------------------------------------------ start and watch

    def start(self, now: float | None = None) -> None:
        """Launch every child that is not running."""
        now = self.clock() if now is None else now
        self.stopping = False
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        for child in self._children.values():
            if child.proc is None:
                self._launch(child, now)

    def _launch(self, child: _Child, now: float) -> bool:
        spec = child.spec
        child.restart_at = None
        child.finished = False
        child.started_at = now  # a failed launch counts as zero uptime
        env = None if spec.env is None else {**os.environ, **spec.env}
        out: IO[bytes] | int | None = None
        if self.log_dir is not None:
            if child.log_file is None:
                child.log_file = open(self.log_dir / f"{spec.name}.log", "ab")
            child.log_file.write(f"=== {spec.name} starting at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
            child.log_file.flush()
            out = child.log_file
        try:
            child.proc = subprocess.Popen(
                spec.argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                start_new_session=True,
            )
        except OSError as exc:
            self._log(f"{spec.name}: could not start {spec.argv[0]!r}: {exc}")
            child.proc = None
            self._exited(child, LAUNCH_FAILED, now)
            return False
        self._log(f"{spec.name}: started, pid {child.proc.pid}")
        return True

    def poll(self, now: float | None = None) -> list[ProcessExit]:
        """Notice exited children, restart those whose back-off has passed.

        Returns the exits noticed in this call.
        """
        now = self.clock() if now is None else now
        seen: list[ProcessExit] = []
        for child in self._children.values():
            if child.proc is not None:
                code = child.proc.poll()
                if code is not None:
                    child.proc = None
                    seen.append(self._exited(child, code, now))
            if (
                child.proc is None
                and child.restart_at is not None
                and now >= child.restart_at
                and not self.stopping
            ):
                name = child.spec.name
                if self._launch(child, now):
                    self.restarts[name] += 1
                    if self.on_restart is not None:
                        try:
                            self.on_restart(name, child.last_exit if child.last_exit is not None else 0)
                        except Exception:
                            logger.exception("on_restart hook failed for %s", name)
        return seen

    def _exited(self, child: _Child, code: int, now: float) -> ProcessExit:
        name = child.spec.name
        event = ProcessExit(name, code, now)
        self.events.append(event)
        child.last_exit = code
        if self.stopping:
            return event
        if code == 0 and not self.restart_on_clean_exit:
            child.finished = True
            self._log(f"{name}: finished (exit 0), not restarted")
            return event
        if now - child.started_at >= self.stable_after_s:
            child.backoff_s = self.backoff_initial_s
        delay = child.backoff_s
        child.backoff_s = min(child.backoff_s * 2.0, self.backoff_max_s)
        child.restart_at = now + delay
        self.restart_delays[name].append(delay)
        self._log(f"{name}: exited with {code}, restarting in {delay:.2f} s")
        return event

    # ------------------------------------------------------------------ queries

    def pids(self) -> dict[str, int]:
        """Process ids of the children running now."""
        return {n: c.proc.pid for n, c in self._children.items() if c.proc is not None}

    def running(self, name: str) -> bool:
        child = self._children[name]
        return child.proc is not None and child.proc.poll() is None

    def finished(self) -> list[str]:
        """Children that exited 0 on purpose and were not restarted."""
        return [n for n, c in self._children.items() if c.finished]

    # ------------------------------------------------------------------ stop

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM every child's process group, wave by wave (``ProcessSpec.stop_wave``), wait, then
        SIGKILL the stragglers of each wave."""
        self.stopping = True
        live = {n: c for n, c in self._children.items() if c.proc is not None}
        for child in live.values():
            child.restart_at = None
        for wave in sorted({c.spec.stop_wave for c in live.values()}):
            self._stop_wave({n: c for n, c in live.items() if c.spec.stop_wave == wave}, timeout_s)
        for name, child in live.items():
            try:
                code = child.proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self._log(f"{name}: still not gone after SIGKILL (pid {child.proc.pid})")
                continue
            child.proc = None
            self._exited(child, code, self.clock())
        for child in self._children.values():
            if child.log_file is not None:
                child.log_file.close()
                child.log_file = None

    def _stop_wave(self, wave: dict[str, _Child], timeout_s: float) -> None:
        for child in wave.values():
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        pending = dict(wave)
        while pending:
            for name, child in list(pending.items()):
                if child.proc.poll() is not None:
                    del pending[name]
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        for name, child in pending.items():
            self._log(f"{name}: did not stop within {timeout_s:.1f} s, killing")
            _signal_group(child.proc, signal.SIGKILL)

    def run_until(self, stop: threading.Event | None = None, *, poll_s: float = 0.1, stop_timeout_s: float = 5.0) -> None:
        """Start, watch until ``stop`` is set or SIGTERM/SIGINT arrives, then stop.

        Signal handlers are installed only in the main thread.
        """
        stop = stop if stop is not None else threading.Event()
        previous: dict[int, object] = {}
        if threading.current_thread() is threading.main_thread():
            def handler(signum: int, frame: object) -> None:
                stop.set()

            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.getsignal(sig)
                signal.signal(sig, handler)
        try:
            if not any(c.proc is not None for c in self._children.values()):
                self.start()
            while not stop.is_set():
                self.poll()
                stop.wait(poll_s)
        finally:
            self.stop(stop_timeout_s)
            for sig, old in previous.items():
                signal.signal(sig, old if old is not None else signal.SIG_DFL)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the child's process group (it leads its own session)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        proc.send_signal(sig)
