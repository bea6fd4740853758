"""The robot node: the cobot driver on the bus.

Commands arrive on a ROUTER socket and are accepted only from the engine's
identity; each gets a RobotReply. Status goes out on PUB when it changes and
once a second. Safety: without a live engine heartbeat the node pauses a
running program and says so; it resumes only when the engine is back.
"""

from __future__ import annotations

from cell.bus import BusEndpoints, Watchdog
from cell.config import CellConfig, Robot
from cell.messages import Fault, Heartbeat, Message, RobotCommand, RobotReply, RobotStatus
from cell.runtime import Node
from robot_bridge.driver import DriverError, RobotDriver
from robot_bridge.simulated import SimulatedCobot
from robot_bridge.threaded import ThreadedDriver


def direct_driver(robot: Robot, speed: float = 1.0) -> RobotDriver:
    """The driver ``robot.driver`` names, called directly (the commissioning CLI uses it so)."""
    if robot.driver == "sim":
        return SimulatedCobot({s: (p.program, p.duration_s / speed) for s, p in robot.programs.items()},
                              name=robot.name)  # its description says "(simulated)"
    if robot.driver == "ur":
        from robot_bridge.ur import URDriver
        return URDriver.from_config(robot, simulated=robot.emulated)
    if robot.driver == "serial":
        from robot_bridge.serial_driver import SerialArmDriver
        return SerialArmDriver.from_config(robot)
    raise DriverError(f"robot driver '{robot.driver}' is not known; allowed: sim, ur, serial")


def make_driver(config: CellConfig, speed: float = 1.0) -> RobotDriver:
    """The node's driver: a real-hardware driver runs on its own thread (ThreadedDriver)."""
    robot = config.robot
    assert robot is not None
    driver = direct_driver(robot, speed)
    if robot.driver == "sim":
        return driver
    # the engine waits command_timeout_s for the reply: the bridge must answer within it, or a run the
    # engine has given up on could still start; so the worker gets 80 % of it (a late run is stopped)
    return ThreadedDriver(driver, timeout_s=0.8 * robot.command_timeout_s)


class RobotNode(Node):
    STATUS_EVERY_S = 1.0

    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options):
        self.driver = make_driver(config, getattr(options, "speed", 1.0))
        caps = self.driver.capabilities()
        super().__init__("robot", endpoints, topics=["heartbeat.engine"],
                         command_endpoint=BusEndpoints.bind_form(endpoints.command),
                         allowed_command_identities={"engine"}, command_domain="robot", heartbeat_s=config.bus.heartbeat_s,
                         simulated=caps.simulated)
        self.config = config
        self.engine_watch = Watchdog(config.thresholds.engine_lost_s)
        self._last: tuple | None = None
        self._next_status = 0.0
        self._paused_for_engine = False
        self._engine_lost = False  # the engine's heartbeat was lost and the fault not yet cleared
        self._engine_seen = False  # no motion before the first engine heartbeat
        self._runs: dict[str, RobotReply] = {}  # run cmd_id -> reply: a re-sent run is not run twice

    def _status(self, now: float) -> RobotStatus:
        st = self.driver.poll(now)
        return RobotStatus(src=self.name, t=now, mode=st.mode, step_id=st.step_id, program=st.program,  # type: ignore[arg-type]
                           run_id=st.run_id, finished=st.finished, progress=round(st.progress, 3),
                           fault=st.fault, simulated=self.simulated)

    def on_start(self, now: float) -> None:
        self.engine_watch.expect("engine", now)
        self.status = f"{self.driver.capabilities().description}"

    def on_stop(self, now: float) -> None:
        close = getattr(self.driver, "close", None)
        if close is not None:
            close()

    def _safe(self, what: str, fn, now: float) -> bool:
        """Pause or resume without letting a driver error stop the safety path; False if it failed."""
        try:
            fn(now)
            return True
        except DriverError as exc:
            self.log("error", f"{what} failed: {exc}")
            self.publish(Fault(src=self.name, t=now, component="robot", severity="critical",
                               text=f"{what} failed: {exc}"))
            return False

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, Heartbeat) and msg.src == "engine":
            self._engine_seen = True
            self.engine_watch.feed("engine", now)
            if self._paused_for_engine:
                self._paused_for_engine = self._engine_lost = False
                self._safe("resume", self.driver.resume, now)
                self.publish(Fault(src=self.name, t=now, component="engine", severity="pause",
                                   text="engine back: cobot program resumed", cleared=True))
                self.log("info", "engine heartbeat back; the cobot program resumes")
            elif self._engine_lost:  # nothing was running: only the fault to clear
                self._engine_lost = False
                self.publish(Fault(src=self.name, t=now, component="engine", severity="pause",
                                   text="engine back", cleared=True))
                self.log("info", "engine heartbeat back")

    def on_command(self, msg: Message, now: float) -> Message | None:
        if not isinstance(msg, RobotCommand):
            return None
        engine_alive = self._engine_seen and self.engine_watch.alive("engine", now)
        if not engine_alive and msg.action in ("run", "resume"):
            return RobotReply(src=self.name, t=now, cmd_id=msg.cmd_id, ok=False,
                              error="no live engine heartbeat: no motion")
        if msg.action == "run" and msg.cmd_id in self._runs:
            return self._runs[msg.cmd_id]
        try:
            if msg.action == "run":
                self.driver.run(msg.cmd_id, msg.step_id or "", msg.program or "", now)
            elif msg.action == "pause":
                self.driver.pause(now)
            elif msg.action == "resume":
                self.driver.resume(now)
            elif msg.action == "stop":
                self.driver.stop(now)
        except DriverError as exc:
            self.log("warning", f"{msg.action} refused: {exc}")
            return RobotReply(src=self.name, t=now, cmd_id=msg.cmd_id, ok=False, error=str(exc))
        self._publish_status(now, force=True)
        reply = RobotReply(src=self.name, t=now, cmd_id=msg.cmd_id, ok=True)
        if msg.action == "run":
            self._runs[msg.cmd_id] = reply
            if len(self._runs) > 1000:
                self._runs.pop(next(iter(self._runs)))
        return reply

    def _publish_status(self, now: float, force: bool = False) -> None:
        st = self._status(now)
        self.status = self.driver.capabilities().description + (f": {st.mode}" if st.mode != "idle" else "") \
            + (f" ({st.fault})" if st.fault else "")
        key = (st.mode, st.run_id, st.finished, st.fault)
        if force or key != self._last or now >= self._next_status:
            self.publish(st)
            self._last = key
            self._next_status = now + self.STATUS_EVERY_S

    def on_tick(self, now: float) -> None:
        for _ in self.engine_watch.expired(now):
            st = self.driver.poll(now)
            if st.mode == "running":
                self._paused_for_engine = self._safe("pause", self.driver.pause, now)
            self._engine_lost = True
            self.publish(Fault(src=self.name, t=now, component="engine", severity="pause",
                               text="no engine heartbeat: cobot paused, no new motion"))
            self.log("warning", "engine heartbeat lost; cobot paused")
        self._publish_status(now)
