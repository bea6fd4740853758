"""The robot node's safety behaviour, on the simulated cobot and on the UR controller emulator.

The node runs in a thread on a test bus; a stand-in engine (a node called "engine", so
its heartbeats are the engine's) sends the commands. The UR emulator runs as its own
process and the node talks to it through the product's URDriver (real ur-rtde clients).
"""

from __future__ import annotations

import contextlib
import time

import pytest

from cell.bus import CommandClient
from cell.config_loader import load_config
from cell.messages import Fault, RobotCommand, RobotStatus
from cell.nodes import RunOptions
from robot_bridge.node import RobotNode
from tests.helpers_nodes import RecordingNode, running_bus, wait_until

from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "lamp-cell.yaml"
WAIT_S = 20.0
PROGRAM_S = 4.0  # fit_shade's run time in these tests


def cell_with(robot: dict):
    cfg = load_config(EXAMPLE)
    programs = {s: p.model_copy(update={"duration_s": PROGRAM_S}) for s, p in cfg.robot.programs.items()}
    merged = cfg.robot.model_copy(update={**robot, "programs": programs})
    return cfg.model_copy(update={"robot": merged,
                                  "thresholds": cfg.thresholds.model_copy(update={"engine_lost_s": 1.0})})


@contextlib.contextmanager
def cobot(kind: str):
    """(config, emulator or None) for the simulated cobot or the UR emulator."""
    if kind == "sim":
        yield cell_with({"driver": "sim"}), None
        return
    pytest.importorskip("dashboard_client")
    from robot_bridge.ur_emulator import EmulatorProcess

    cfg = load_config(EXAMPLE)
    emu = EmulatorProcess.start({p.program: PROGRAM_S for p in cfg.robot.programs.values()})
    try:
        yield cell_with({"driver": "ur", "emulated": True, "host": emu.host, "dashboard_port": emu.dashboard_port,
                         "rtde_port": emu.rtde_port, "command_timeout_s": 3.0, "reconnect_max_s": 1.0}), emu
    finally:
        emu.close()


@contextlib.contextmanager
def cell_bus(cfg):
    """The robot node, a watcher that records robot status and faults, and a stand-in engine."""
    with running_bus() as (ctx, ep, _proxy):
        robot = RobotNode(cfg, ep, RunOptions())
        watcher = RecordingNode("watcher", ep, topics=["robot.status", "fault"], ctx=ctx)
        threads = [n.start_thread() for n in (robot, watcher)]
        engine = Engine(ctx, ep)
        try:
            yield robot, watcher, engine
        finally:
            engine.stop()
            for thread, stop in threads:
                stop.set()
                thread.join(15)


class Engine:
    """Heartbeats as the engine (a node named 'engine') and the engine's command identity."""

    def __init__(self, ctx, ep):
        self.ctx, self.ep = ctx, ep
        self.client = CommandClient(ctx, ep.command, "engine")
        self.node = None
        self.start()

    def start(self) -> None:
        self.node = RecordingNode("engine", self.ep, topics=[], heartbeat_s=0.2, ctx=self.ctx)
        self.thread, self.stop_event = self.node.start_thread()

    def stop(self) -> None:
        if self.node is not None:
            self.stop_event.set()
            self.thread.join(10)
            self.node = None

    def command(self, action: str, cmd_id: str, step_id: str | None = None, program: str | None = None):
        return self.client.request(RobotCommand(src="engine", t=time.monotonic(), cmd_id=cmd_id, action=action,
                                                step_id=step_id, program=program), 8.0)


def statuses(watcher) -> list[RobotStatus]:
    return [m for m in list(watcher.seen) if isinstance(m, RobotStatus)]


def faults(watcher) -> list[Fault]:
    return [m for m in list(watcher.seen) if isinstance(m, Fault)]


def latest(watcher) -> RobotStatus | None:
    st = statuses(watcher)
    return st[-1] if st else None


def run_fit_shade(engine, watcher, cmd_id: str) -> None:
    # the node accepts motion only after it has heard the engine's heartbeat
    reply = None
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        reply = engine.command("run", cmd_id, "fit_shade", "fit_shade.urp")
        if reply.ok:
            break
        time.sleep(0.3)
    assert reply is not None and reply.ok, reply
    assert wait_until(lambda: latest(watcher) is not None and latest(watcher).mode == "running", WAIT_S)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["sim", "ur"])
def test_no_engine_heartbeat_pauses_the_program_and_its_return_resumes_it(kind):
    with cobot(kind) as (cfg, emu), cell_bus(cfg) as (robot, watcher, engine):
        assert wait_until(lambda: latest(watcher) is not None and latest(watcher).mode == "idle", WAIT_S)
        assert latest(watcher).simulated  # the simulated cobot and the emulator both say so
        run_fit_shade(engine, watcher, "run-1")
        engine.stop()  # the engine dies: no heartbeat
        assert wait_until(lambda: any("no engine heartbeat" in f.text for f in faults(watcher)), WAIT_S)
        assert wait_until(lambda: latest(watcher).mode == "paused", WAIT_S)
        if emu is not None:  # the controller really holds the program
            assert wait_until(lambda: emu.state()["program_state"] == "PAUSED", WAIT_S)
        paused_at = latest(watcher).progress
        time.sleep(1.0)
        assert latest(watcher).progress <= paused_at + 0.05  # it does not go on while paused
        engine.start()  # the engine is back
        assert wait_until(lambda: any(f.cleared and f.component == "engine" for f in faults(watcher)), WAIT_S)
        assert wait_until(lambda: latest(watcher).finished and latest(watcher).run_id == "run-1", WAIT_S)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["sim", "ur"])
def test_a_protective_stop_mid_program_is_reported_as_a_fault(kind):
    with cobot(kind) as (cfg, emu), cell_bus(cfg) as (robot, watcher, engine):
        assert wait_until(lambda: latest(watcher) is not None and latest(watcher).mode == "idle", WAIT_S)
        run_fit_shade(engine, watcher, "run-2")
        if emu is not None:
            assert emu.control("protective_stop").startswith("OK")
        else:
            robot.driver.inject_protective_stop(time.monotonic())
        assert wait_until(lambda: latest(watcher).mode == "fault", WAIT_S)
        st = latest(watcher)
        assert "protective" in st.fault.lower() and not st.finished
        # a faulted cobot takes no new program
        reply = engine.command("run", "run-3", "screw_shade", "screw_shade.urp")
        assert not reply.ok and reply.error


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_lost_connection_is_reported_and_the_bridge_reconnects():
    with cobot("ur") as (cfg, emu), cell_bus(cfg) as (robot, watcher, engine):
        assert wait_until(lambda: latest(watcher) is not None and latest(watcher).mode == "idle", WAIT_S)
        n = len(statuses(watcher))
        assert emu.control("drop_connections").startswith("OK")
        assert wait_until(lambda: any(s.mode == "disconnected" for s in statuses(watcher)[n:]), WAIT_S)
        lost = next(s for s in statuses(watcher)[n:] if s.mode == "disconnected")
        assert lost.fault  # says why
        # it reconnects by itself (back-off capped at reconnect_max_s = 1 s) and says so
        assert wait_until(lambda: latest(watcher).mode == "idle", WAIT_S)
        run_fit_shade(engine, watcher, "run-4")
        assert wait_until(lambda: latest(watcher).finished and latest(watcher).run_id == "run-4", WAIT_S)


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize("kind", ["sim", "ur"])
def test_a_fault_mid_step_sends_the_step_back_to_the_operator(kind, tmp_path):
    """Engine + robot node: the cobot's step (prep_cable, by plan) faults; the operator gets it, told why."""
    from cell.messages import Allocation, StepState
    from cell.nodes.engine_node import EngineNode

    with cobot(kind) as (cfg, emu):
        cfg = cfg.model_copy(update={"allocation": cfg.allocation.model_copy(update={"policy": "static"})})
        with running_bus() as (ctx, ep, _proxy):
            options = RunOptions(state_dir=str(tmp_path / "state"))
            robot = RobotNode(cfg, ep, options)
            watcher = RecordingNode("watcher", ep, topics=["robot.status", "alloc.", "step.state"], ctx=ctx)
            camera = RecordingNode("sim-operator", ep, topics=[], heartbeat_s=0.2, ctx=ctx)  # the camera is fine
            nodes = [robot, watcher, camera]
            threads = [n.start_thread() for n in nodes]
            try:
                # the robot must be up before the engine plans, or the cable step goes to the operator
                assert wait_until(lambda: latest(watcher) is not None and latest(watcher).mode == "idle", WAIT_S)
                engine = EngineNode(cfg, ep, options)
                threads.append(engine.start_thread())
                seen = lambda: list(watcher.seen)  # noqa: E731
                assert wait_until(lambda: any(isinstance(m, StepState) and m.step_id == "prep_cable"
                                              and m.assignee == "cobot" and m.phase == "active" for m in seen()),
                                  WAIT_S)
                assert wait_until(lambda: latest(watcher).mode == "running", WAIT_S)
                if emu is not None:
                    assert emu.control("protective_stop").startswith("OK")
                else:
                    robot.driver.inject_protective_stop(time.monotonic())
                assert wait_until(lambda: any(isinstance(m, Allocation) and m.step_id == "prep_cable"
                                              and m.assignee == "operator" and m.reassigned for m in seen()),
                                  WAIT_S)
                back = next(m for m in seen() if isinstance(m, Allocation) and m.step_id == "prep_cable"
                            and m.reassigned)
                assert "protective" in back.reason.lower() and "back to the operator" in back.reason
            finally:
                for thread, stop in reversed(threads):
                    stop.set()
                    thread.join(15)


def test_a_slow_robot_never_blocks_the_node_loop():
    """ThreadedDriver: poll answers at once from the last status; a command that hangs times out."""
    from robot_bridge.driver import Capabilities, DriverError, DriverStatus
    from robot_bridge.threaded import ThreadedDriver

    class Slow:
        def __init__(self):
            self.mode = "idle"

        def capabilities(self):
            return Capabilities(description="slow test robot")

        def poll(self, now):
            time.sleep(0.5)  # a Dashboard call on a bad link
            return DriverStatus(mode=self.mode)

        def run(self, run_id, step_id, program, now):
            time.sleep(3.0)  # never answers in time
            self.mode = "running"


        def pause(self, now):
            raise DriverError("refused: not running")

        def resume(self, now):
            self.mode = "running"

        def stop(self, now):
            self.mode = "stopped"

    driver = ThreadedDriver(Slow(), timeout_s=1.0)
    try:
        t0 = time.monotonic()
        for _ in range(20):
            driver.poll(t0)
        assert time.monotonic() - t0 < 0.2  # twenty polls, no waiting on the robot
        assert wait_until(lambda: driver.poll(0).mode == "idle", 5.0)
        with pytest.raises(DriverError, match="did not answer within 1 s"):
            driver.run("r", "s", "p.urp", 0.0)
        # the run went ahead after the node was told it had not: the bridge stops it again
        assert wait_until(lambda: driver.poll(0).mode == "stopped", 8.0)
        # commands queue behind the hung one; once it is over, the robot's own refusal comes through
        def pause_error() -> str:
            try:
                driver.pause(0.0)
            except DriverError as exc:
                return str(exc)
            return ""

        assert wait_until(lambda: "not running" in pause_error(), 8.0)
        driver.resume(0.0)
        assert wait_until(lambda: driver.poll(0).mode == "running", 5.0)
    finally:
        driver.close()


def test_an_unreadable_engine_state_is_kept_aside_and_the_engine_starts_afresh(tmp_path):
    """A state file from another version (or damaged) must not crash the engine on every restart."""
    from cell.nodes.engine_node import EngineNode

    cfg = load_config(EXAMPLE)
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    path = state_dir / f"engine-{cfg.cell.id}.json"
    path.write_text('{"seq": 3, "current": {"order_id": "x", "task_id": "desk-lamp", "quantity": "many", '
                    '"step_index": "two"}}')
    with running_bus() as (ctx, ep, _proxy):
        engine = EngineNode(cfg, ep, RunOptions(state_dir=str(state_dir)))
        try:
            assert not engine.resumed and engine.core.state.current is None
            assert "could not be read" in engine.state_note and "start again" in engine.state_note
            kept = list(state_dir.glob(f"engine-{cfg.cell.id}.json.unreadable-*"))
            assert len(kept) == 1 and "many" in kept[0].read_text()  # nothing lost
            assert not path.exists()
        finally:
            engine.close()
