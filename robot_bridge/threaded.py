"""Run a driver that talks to real hardware on its own thread, so the robot node never blocks.

A UR Dashboard call or a serial exchange can take up to the command timeout,
and a reconnect attempt longer. The robot node's loop must keep its heartbeat
and the engine watchdog going meanwhile, so ``ThreadedDriver`` gives the
driver a worker thread: the worker polls it every ``poll_s`` and carries out
commands in order; ``poll`` returns the latest status at once, and a command
waits for the worker at most ``timeout_s`` (then it is reported as not done).
The simulated cobot needs none of this and is used directly.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable

from robot_bridge.driver import Capabilities, DriverError, DriverStatus, RobotDriver


class ThreadedDriver:
    def __init__(self, driver: RobotDriver, timeout_s: float, poll_s: float = 0.1,
                 clock: Callable[[], float] = time.monotonic):
        self.driver = driver
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.clock = clock
        self._status = DriverStatus(mode="disconnected", fault="not connected yet")
        self._caps = driver.capabilities()
        self._jobs: queue.Queue[tuple[str, tuple, Future] | None] = queue.Queue()
        self._abandoned: set[int] = set()  # commands whose caller timed out while they ran
        self._thread = threading.Thread(target=self._work, name="robot-driver", daemon=True)
        self._thread.start()

    # ---- the node's side -------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return self._caps

    def poll(self, now: float) -> DriverStatus:
        return self._status

    def run(self, run_id: str, step_id: str, program: str, now: float) -> None:
        self._call("run", run_id, step_id, program)

    def pause(self, now: float) -> None:
        self._call("pause")

    def resume(self, now: float) -> None:
        self._call("resume")

    def stop(self, now: float) -> None:
        self._call("stop")

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=self.timeout_s + 1.0)
        close = getattr(self.driver, "close", None)
        if close is not None:
            close()

    def _call(self, name: str, *args: Any) -> None:
        done: Future = Future()
        self._jobs.put((name, args, done))
        try:
            done.result(timeout=self.timeout_s)
        except TimeoutError:
            # the caller hears "not done" and acts on it, so the command must not happen later:
            # a queued one is dropped, a run already under way is stopped when it returns
            if not done.cancel():
                self._abandoned.add(id(done))
            raise DriverError(f"{name}: the robot did not answer within {self.timeout_s:g} s") from None

    # ---- the worker --------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self.poll_s)
            except queue.Empty:
                job = ()
            if job is None:
                return
            if job:
                name, args, done = job
                if not done.set_running_or_notify_cancel():
                    continue  # the caller gave up before it started: never carried out
                try:
                    getattr(self.driver, name)(*args, self.clock())
                    done.set_result(None)
                except Exception as exc:  # a DriverError, or a driver bug: the caller hears of it either way
                    done.set_exception(exc if isinstance(exc, DriverError) else DriverError(f"{name}: {exc}"))
                if id(done) in self._abandoned:
                    self._abandoned.discard(id(done))
                    if name == "run" and done.exception() is None:
                        try:  # it started after the caller was told it had not: take it back
                            self.driver.stop(self.clock())
                        except Exception:
                            pass
            try:
                self._status = self.driver.poll(self.clock())
                self._caps = self.driver.capabilities()
            except Exception as exc:  # never let the worker die: report the robot as lost
                self._status = DriverStatus(mode="disconnected", fault=f"driver error: {exc}")
