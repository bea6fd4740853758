"""The cell as processes and threads on a real bus: garbage in, a killed engine, a clean stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest
import zmq

from cell.bus import CommandClient, CommandTimeout, Publisher, Subscriber
from cell.config import StoreSettings
from cell.config_loader import load_config
from cell.demo import demo_config
from cell.messages import Heartbeat, RobotCommand, StepState, TaskEvent, frames
from cell.nodes import RunOptions, endpoints
from cell.store import EventStore
from tests.helpers_nodes import running_bus, wait_until

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "configs" / "lamp-cell.yaml"
NODE_NAMES = ["store", "engine", "ergonomics", "stress", "projection", "robot", "sim-operator"]


def garbage_for(topic: str) -> list[list[bytes]]:
    """Five kinds of bad input on one topic: not msgpack, wrong frame count, wrong topic for
    the type, a field of the wrong type, and a message of a future schema version."""
    good = StepState(src="x", t=0.0, seq=1, order_id="o", task_id="desk-lamp", step_id="base_to_fixture",
                     step_index=0, step_count=10, phase="active", assignee="operator", unit=1, units_total=1)
    as_map = msgspec.to_builtins(good)
    wrong_type = dict(as_map, step_index="three")
    future = dict(as_map, v=99)
    t = topic.encode()
    return [
        [t, b"\x00\xffgarbage bytes"],
        [t, b"a", b"b"],
        [t, frames(Heartbeat(src="x", t=0.0, seq=1))[1]],
        [t, msgspec.msgpack.encode(wrong_type)],
        [t, msgspec.msgpack.encode(future)],
    ]


@contextlib.contextmanager
def cell_in_threads(tmp_path):
    """Every node of the example cell in threads on a private bus (event log and state in tmp_path)."""
    cfg = load_config(EXAMPLE)
    cfg = cfg.model_copy(update={"store": StoreSettings(path=tmp_path / "events.sqlite")})
    options = RunOptions(state_dir=str(tmp_path / "state"), frames_dir=str(tmp_path / "frames"), speed=4.0)
    with running_bus() as (ctx, ep, _proxy):
        nodes = {name: make_node_at(name, cfg, ep, options) for name in NODE_NAMES}
        threads = {name: node.start_thread() for name, node in nodes.items()}
        try:
            yield cfg, ctx, ep, options, nodes, threads
        finally:
            for _thread, stop in threads.values():
                stop.set()
            for thread, _ in threads.values():
                thread.join(10)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_garbage_to_every_node_is_counted_and_dropped(tmp_path):
    with cell_in_threads(tmp_path) as (cfg, ctx, ep, options, nodes, threads):
        sub = Subscriber(ctx, ep.sub, ["heartbeat."])
        pub = Publisher(ctx, ep.pub)
        try:
            # every node is up (it heartbeats) and, a moment later, all subscriptions reached the proxy
            alive: set[str] = set()

            def all_alive() -> bool:
                while (msg := sub.recv(50)) is not None:
                    alive.add(msg.src)
                return alive >= set(nodes)

            assert wait_until(all_alive, timeout_s=20.0), alive
            time.sleep(1.0)
            expected = {name: 0 for name in nodes}
            sent_topics = []
            for name, node in nodes.items():
                topic = node.topics[0] or "step.state"
                topic += "x" if topic.endswith(".") else ""
                assert pub.wait_subscribed(topic, 5.0), f"{name} never subscribed to {topic}"
                for parts in garbage_for(topic):
                    pub.send_raw(parts)
                sent_topics.append(topic)
            # every node counts what reached it: the garbage on each topic it subscribes to
            for name, node in nodes.items():
                for topic in sent_topics:
                    if any(topic.startswith(prefix) for prefix in node.topics):
                        expected[name] += 5
            # the two command sockets get garbage too
            for endpoint, n in ((ep.engine, "engine"), (ep.command, "robot")):
                raw = ctx.socket(zmq.DEALER)
                raw.setsockopt(zmq.IDENTITY, b"engine")
                raw.setsockopt(zmq.LINGER, 2000)  # closing must not drop what is still queued
                raw.connect(endpoint)
                raw.send_multipart([b"req1", b"", b"\xc1not msgpack"])
                raw.send_multipart([b"req2", b"", msgspec.msgpack.encode({"type": "RobotCommand", "cmd_id": 5})])
                raw.close()
                expected[n] += 2

            latest: dict[str, Heartbeat] = {}

            def counted() -> bool:
                while (msg := sub.recv(50)) is not None:
                    if isinstance(msg, Heartbeat):
                        latest[msg.src] = msg
                return all(latest.get(n) is not None and latest[n].counters.get("malformed", 0) >= expected[n]
                           for n in nodes)

            assert wait_until(counted, timeout_s=20.0), (expected, {n: latest[n].counters["malformed"]
                                                                    for n in latest})
            for name, (thread, _stop) in threads.items():
                assert thread.is_alive(), f"{name} died on bad input"
                assert latest[name].counters["malformed"] == expected[name], (name, latest[name].counters)
            # and the engine still answers: it kept working through all that
            client = CommandClient(ctx, ep.engine, "probe")
            from cell.messages import EngineCommand
            snap = client.request(EngineCommand(src="probe", t=0.0, action="snapshot"), 3.0)
            assert snap.step is not None and snap.step.order_id.startswith(cfg.cell.id)
            client.close()
        finally:
            sub.close()
            pub.close(0)


def make_node_at(name, cfg, ep, options):
    """A node of the cell on the test's own bus endpoints."""
    from importlib import import_module

    from cell.nodes import NODES

    module, cls = NODES[name].split(":")
    return getattr(import_module(module), cls)(cfg, ep, options)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_robot_bridge_takes_commands_only_from_the_engine(tmp_path):
    cfg = load_config(EXAMPLE)
    options = RunOptions(state_dir=str(tmp_path / "state"))
    with running_bus() as (ctx, ep, _proxy):
        robot = make_node_at("robot", cfg, ep, options)
        thread, stop = robot.start_thread()
        try:
            intruder = CommandClient(ctx, ep.command, "someone-else")
            with pytest.raises(CommandTimeout):
                intruder.request(RobotCommand(src="x", t=0.0, cmd_id="c1", action="run", step_id="fit_shade",
                                              program="fit_shade.urp"), 1.0)
            intruder.close()
            assert wait_until(lambda: robot.counters["rejected"] >= 1, 3.0)
            # without an engine heartbeat the bridge refuses to move
            engine = CommandClient(ctx, ep.command, "engine")
            reply = engine.request(RobotCommand(src="engine", t=0.0, cmd_id="c2", action="run", step_id="fit_shade",
                                                program="fit_shade.urp"), 2.0)
            assert not reply.ok and "heartbeat" in reply.error
            engine.close()
        finally:
            stop.set()
            thread.join(10)


def wait_for(sub: Subscriber, predicate, timeout_s: float, seen: list):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = sub.recv(100)
        if msg is None:
            continue
        seen.append(msg)
        if predicate(msg):
            return msg
    raise AssertionError(f"timed out; last messages: {seen[-5:]}")


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_engine_killed_mid_order_resumes_at_the_same_step_and_loses_no_event(tmp_path):
    path = demo_config(EXAMPLE, tmp_path, window=False)
    cfg = load_config(path)
    ctx = zmq.Context.instance()
    sub = Subscriber(ctx, endpoints(cfg).sub, ["step.state", "heartbeat.engine"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "cell", "run", str(path), "--state-dir", str(tmp_path / "state"),
         "--frames-dir", str(tmp_path / "frames"), "--speed", "5", "--operator", "op-experienced-02"],
        cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen: list = []
    try:
        beat = wait_for(sub, lambda m: isinstance(m, Heartbeat) and m.src == "engine", 30, seen)
        old_pid = beat.pid
        # let the order get going: the operator into the third step of the first unit
        before = wait_for(sub, lambda m: isinstance(m, StepState) and m.assignee == "operator" and m.step_index >= 2
                          and m.phase == "active", 60, seen)
        os.kill(old_pid, signal.SIGKILL)
        beat = wait_for(sub, lambda m: isinstance(m, Heartbeat) and m.src == "engine" and m.pid != old_pid, 30, seen)
        first = wait_for(sub, lambda m: isinstance(m, StepState) and m.seq > before.seq and m.assignee == "operator"
                         and m.phase == "active", 30, seen)
        # the restarted engine picks up where the operator was (or, if the kill came after the step was
        # saved as done, at a later step of the same unit: the next in task order the operator may start)
        assert first.order_id == before.order_id and first.unit == before.unit
        assert first.step_index >= before.step_index, (before, first)
        # and work goes on: two more steps get done after the restart
        done_after = []
        wait_for(sub, lambda m: isinstance(m, StepState) and m.phase == "done" and m.seq > first.seq
                 and (done_after.append(m) or len(done_after) >= 2), 60, seen)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        sub.close()
    log = out.decode(errors="replace")
    assert "engine" in log and "restart" in log.lower(), log[-2000:]
    store = EventStore(cfg.resolve(cfg.store.path))
    try:
        states = list(store.events("StepState"))
    finally:
        store.close()
    seqs = sorted({s["seq"] for s in states})
    assert seqs == list(range(1, seqs[-1] + 1)), "a step state is missing from the event log"
    # every step was done once, and only after the steps it comes after, across the restart
    done = [(s["unit"], s["step_index"]) for s in states if s["phase"] == "done" and not s["order_done"]]
    unique = list(dict.fromkeys(done))
    preds = cfg.task("desk-lamp").predecessors()
    for k, (unit, index) in enumerate(unique):
        assert all((unit, p) in unique[:k] for p in preds[index]), (unit, index, unique[:k])
    assert len(unique) >= before.step_index + 2


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_lost_camera_falls_back_to_confirmation_by_hand_and_the_bench_says_so(tmp_path):
    with cell_in_threads(tmp_path) as (cfg, ctx, ep, options, nodes, threads):
        sub = Subscriber(ctx, ep.sub, ["step.state"])
        seen: list = []
        try:
            wait_for(sub, lambda m: m.phase == "done", 30, seen)  # the cell works
            cam_thread, cam_stop = threads.pop("sim-operator")
            cam_stop.set()
            cam_thread.join(10)
            manual = wait_for(sub, lambda m: m.manual, 15, seen)
            assert "camera" in manual.manual and not manual.paused
            projection = nodes["projection"]
            assert wait_until(lambda: projection.view is not None and projection.view.banner is not None
                              and "camera" in projection.view.banner.text, 5.0)
            # the operator confirms by hand (the key at the bench): the step is done without the camera
            working = lambda m: m.manual and m.assignee == "operator" and m.phase == "active"  # noqa: E731
            step = manual if working(manual) else wait_for(sub, working, 15, seen)
            pub = Publisher(ctx, ep.pub)
            try:
                pub.wait_subscribed("task.event", 2.0)
                pub.send(TaskEvent(src="projection", t=time.time(), kind="confirm", detail="key at the bench"))
                wait_for(sub, lambda m: (m.step_id, m.unit, m.phase) == (step.step_id, step.unit, "done"), 10, seen)
            finally:
                pub.close()
            # the camera comes back: tracking takes over again
            camera = make_node_at("sim-operator", cfg, ep, options)
            threads["sim-operator"] = camera.start_thread()
            back = wait_for(sub, lambda m: not m.manual, 15, seen)
            assert (back.order_id, back.unit) == (manual.order_id, manual.unit) or back.unit > manual.unit
            wait_for(sub, lambda m: m.phase == "done" and m.seq > back.seq and not m.manual, 30, seen)
        finally:
            sub.close()


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("robot", ["sim", "ur-emulated"])
def test_cell_demo_runs_with_the_simulated_cobot_or_the_ur_emulator(tmp_path, robot):
    """`cell demo` as the README runs it; `--robot ur-emulated` puts the UR driver and emulator in the loop."""
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "cell", "demo", "--duration", "45s", "--speed", "4",
                           "--robot", robot, "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=170,
                          env=dict(os.environ, SDL_VIDEODRIVER="dummy", COLUMNS="200"))
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    steps = [line for line in text.splitlines() if "steps" in line and "operator" in line and "cobot" in line]
    assert steps, text[-3000:]
    cobot_steps = int(steps[-1].split("cobot")[-1].strip(" │|").split()[0])
    assert cobot_steps >= 1, steps[-1]  # the cobot did its planned steps (the cable, screwing the shade, ...)
    store = EventStore(out / "events.sqlite")
    try:
        statuses = list(store.events("RobotStatus"))
    finally:
        store.close()
    assert statuses and all(s["simulated"] for s in statuses)  # simulated, and says so
    if robot == "ur-emulated":
        assert "UR emulator (simulated controller) listening" in text
        assert "on the UR controller emulator (simulated)" in text


@pytest.mark.parametrize("which", [0, 3])
def test_cell_run_refuses_ports_another_cell_already_uses_and_says_which(tmp_path, which):
    """Two cells with the same bus.base_port on one PC: the second would join the first one's bus and its
    bus node restart in a loop. `cell run` refuses before starting anything and says what to change."""
    import socket

    from typer.testing import CliRunner

    from cell.cli import app

    path = demo_config(EXAMPLE, tmp_path, window=False)
    base = load_config(path).bus.base_port
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # the other cell's bus (or engine) listening
    other.bind(("127.0.0.1", base + which))
    other.listen(1)
    try:
        res = CliRunner().invoke(app, ["run", str(path), "--state-dir", str(tmp_path / "state")])
    finally:
        other.close()
    assert res.exit_code == 2, res.output
    said = " ".join(res.output.split())
    assert f"bus.base_port {base}" in said and f"port {base + which} (" in said
    assert "give each cell its own bus.base_port" in said
    assert not (tmp_path / "state" / "logs").exists()  # nothing was started
