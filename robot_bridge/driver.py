"""What every cobot driver offers the robot node: run a step's program, pause, resume, stop, status.

Drivers are driven with the current time passed in (``poll(now)``), so the
simulated cobot runs on the simulator's virtual clock and real drivers on
the wall clock, behind the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class DriverStatus:
    mode: str                  # disconnected, idle, running, paused, fault, stopped
    run_id: str | None = None  # the run in progress, or the last one
    step_id: str | None = None
    program: str | None = None
    finished: bool = False
    progress: float = 0.0
    fault: str = ""


@dataclass(frozen=True)
class Capabilities:
    programs: dict[str, str] = field(default_factory=dict)  # step id -> program
    simulated: bool = False
    description: str = ""


class DriverError(RuntimeError):
    """A command the robot refused or could not carry out (the message says why)."""


class RobotDriver(Protocol):
    def capabilities(self) -> Capabilities: ...
    def run(self, run_id: str, step_id: str, program: str, now: float) -> None: ...
    def pause(self, now: float) -> None: ...
    def resume(self, now: float) -> None: ...
    def stop(self, now: float) -> None: ...
    def poll(self, now: float) -> DriverStatus: ...
