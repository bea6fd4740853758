"""A simulated cobot: programs take their configured time; faults can be injected.

It says it is simulated in its name, its capabilities and every status it
reports. Time is passed in, so it runs on a virtual clock in the simulator.
"""

from __future__ import annotations

from robot_bridge.driver import Capabilities, DriverError, DriverStatus


class SimulatedCobot:
    """A cobot whose programs run for ``durations[program]`` seconds."""

    def __init__(self, programs: dict[str, tuple[str, float]], name: str = "simulated cobot"):
        # step id -> (program, duration_s)
        self.programs = dict(programs)
        self.name = name
        self._mode = "idle"
        self._run: tuple[str, str, str] | None = None  # run_id, step_id, program
        self._started = 0.0
        self._elapsed = 0.0         # run time accumulated before the last pause
        self._finished = False
        self._fault = ""

    def capabilities(self) -> Capabilities:
        return Capabilities(programs={s: p for s, (p, _) in self.programs.items()}, simulated=True,
                            description=f"{self.name} (simulated)")

    def _duration(self) -> float:
        assert self._run is not None
        return self.programs[self._run[1]][1]

    def run(self, run_id: str, step_id: str, program: str, now: float) -> None:
        if self._mode == "fault":
            raise DriverError(f"cannot run {program}: the cobot is in fault ({self._fault})")
        if self._mode == "disconnected":
            raise DriverError("cannot run: no connection to the cobot")
        if self._mode in ("running", "paused"):
            raise DriverError(f"cannot run {program}: the cobot is busy with {self._run[2] if self._run else '?'}")
        known = self.programs.get(step_id)
        if known is None or known[0] != program:
            raise DriverError(f"program not found: {program}")
        self._run, self._started, self._elapsed = (run_id, step_id, program), now, 0.0
        self._finished, self._mode = False, "running"

    def pause(self, now: float) -> None:
        if self._mode == "running":
            self._elapsed += now - self._started
            self._mode = "paused"

    def resume(self, now: float) -> None:
        if self._mode == "paused":
            self._started, self._mode = now, "running"

    def stop(self, now: float) -> None:
        if self._mode in ("running", "paused"):
            self._mode = "stopped"

    # fault injection -------------------------------------------------------------------
    def inject_protective_stop(self, now: float) -> None:
        self.pause(now)
        self._mode, self._fault = "fault", "protective stop"

    def inject_connection_loss(self, now: float) -> None:
        self.pause(now)
        self._mode, self._fault = "disconnected", "connection lost"

    def clear_fault(self, now: float) -> None:
        """Operator acknowledged on the pendant: the program is stopped, the arm idle."""
        self._mode, self._fault = "idle", ""
        self._run = None

    def next_finish(self, now: float) -> float | None:
        """When the current run will finish, if it is running (for the simulator's event loop)."""
        if self._mode != "running" or self._run is None:
            return None
        return self._started + self._duration() - self._elapsed

    def poll(self, now: float) -> DriverStatus:
        finish = self.next_finish(now)
        if finish is not None and now >= finish - 1e-9:  # same arithmetic as next_finish: no float gap
            self._mode, self._finished = "idle", True
        run_id, step_id, program = self._run if self._run else (None, None, None)
        progress = 0.0
        if self._run is not None:
            ran = self._elapsed + (now - self._started if self._mode == "running" else 0.0)
            progress = 1.0 if self._finished else min(1.0, ran / self._duration())
        return DriverStatus(mode=self._mode, run_id=run_id, step_id=step_id, program=program,
                            finished=self._finished, progress=progress, fault=self._fault)
