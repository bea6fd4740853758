"""The node shell: loop, heartbeat counters, failing handlers, commands, clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cell.bus import CommandClient, CommandTimeout, Publisher, Subscriber
from cell.messages import Heartbeat, LogRecord, RobotCommand, TaskEvent
from cell.runtime import Node
from tests.helpers_nodes import EchoRobotNode, RecordingNode, pose, running_bus, wait_until

ROOT = Path(__file__).resolve().parents[1]


def latest_heartbeat(sub: Subscriber, timeout_s: float, until=lambda hb: True) -> Heartbeat | None:
    """Read heartbeats until one satisfies ``until``; None when time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = sub.recv(50)
        if isinstance(msg, Heartbeat) and until(msg):
            return msg
    return None


@pytest.mark.timeout(8)
def test_node_survives_garbage_and_failing_handler() -> None:
    with running_bus() as (ctx, ep, _proxy):
        beats = Subscriber(ctx, ep.sub, ["heartbeat.rec"])
        node = RecordingNode("rec", ep, topics=["pose.", "task."], heartbeat_s=0.05, ctx=ctx)
        thread, stop = node.start_thread()
        pub = Publisher(ctx, ep.pub)
        assert pub.wait_subscribed("pose.frame", 2.0) and pub.wait_subscribed("task.event", 2.0)
        pub.send_raw([b"pose.frame", b"\x00garbage"])
        pub.send_raw([b"pose.frame", b"a", b"b"])
        pub.send_raw([b"task.event", b"\x81\xa4type\xa9PoseFrame"])
        pub.send(pose(1))
        pub.send(TaskEvent(src="tracking", t=1.0, kind="pick", detail="boom"))
        pub.send(pose(2))
        hb = latest_heartbeat(beats, 3.0, lambda h: h.counters["received"] >= 3)
        assert hb is not None, "no heartbeat counted the messages"
        assert hb.counters["malformed"] == 3
        assert hb.counters["errors"] == 1
        assert hb.counters["received"] == 3
        assert hb.src == "rec" and hb.pid == os.getpid() and hb.status == "ok"
        assert thread.is_alive()
        assert [m.frame for m in node.seen] == [1, 2]
        assert node.started and node.ticks > 0
        # Still alive: one more valid message gets through after the failure.
        pub.send(pose(3))
        assert wait_until(lambda: len(node.seen) == 3, 2.0)
        stop.set()
        thread.join(2.0)
        assert not thread.is_alive() and node.stopped
        last = latest_heartbeat(beats, 2.0, lambda h: h.status == "stopped")
        assert last is not None and last.counters["received"] == 4
        pub.close(0)


@pytest.mark.timeout(8)
def test_heartbeats_have_increasing_seq_and_simulated_status() -> None:
    with running_bus() as (ctx, ep, _proxy):
        beats = Subscriber(ctx, ep.sub, ["heartbeat."])
        node = Node("cam", ep, heartbeat_s=0.03, simulated=True, ctx=ctx)
        thread, stop = node.start_thread()
        got = []
        deadline = time.monotonic() + 3.0
        while len(got) < 3 and time.monotonic() < deadline:
            msg = beats.recv(100)
            if isinstance(msg, Heartbeat):
                got.append(msg)
        stop.set()
        thread.join(2.0)
        assert len(got) == 3
        seqs = [h.seq for h in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
        assert all(h.simulated and h.status == "simulated" for h in got)


@pytest.mark.timeout(8)
def test_node_log_goes_on_the_bus() -> None:
    class Talker(Node):
        def on_start(self, now: float) -> None:
            self.log("warning", "camera lost")
            self.log("debug", "only local")

    with running_bus() as (ctx, ep, _proxy):
        logs = Subscriber(ctx, ep.sub, ["log."])
        probe = Publisher(ctx, ep.pub)
        assert probe.wait_subscribed("log.warning", 2.0)
        node = Talker("talker", ep, ctx=ctx)
        thread, stop = node.start_thread()
        texts = []
        deadline = time.monotonic() + 2.0
        while "camera lost" not in texts and time.monotonic() < deadline:
            msg = logs.recv(100)
            if isinstance(msg, LogRecord):
                texts.append(msg.text)
                if msg.text == "camera lost":
                    assert msg.level == "warning" and msg.src == "talker"
        stop.set()
        thread.join(2.0)
        assert "camera lost" in texts and "only local" not in texts
        probe.close(0)


@pytest.mark.timeout(8)
def test_node_commands_answered_rejected_and_failures_counted() -> None:
    with running_bus() as (ctx, ep, _proxy):
        beats = Subscriber(ctx, ep.sub, ["heartbeat.robot"])
        node = EchoRobotNode(
            "robot", ep, command_endpoint=ep.command, allowed_command_identities={"engine"},
            heartbeat_s=0.05, ctx=ctx,
        )
        thread, stop = node.start_thread()
        engine = CommandClient(ctx, ep.command, "engine")
        other = CommandClient(ctx, ep.command, "projection")
        reply = engine.request(RobotCommand(src="engine", t=0.0, cmd_id="r1", action="run", program="p"), 2.0)
        assert reply.ok and reply.cmd_id == "r1" and reply.src == "robot"
        with pytest.raises(CommandTimeout):
            other.request(RobotCommand(src="projection", t=0.0, cmd_id="r2", action="run"), 0.15)
        with pytest.raises(CommandTimeout):
            engine.request(RobotCommand(src="engine", t=0.0, cmd_id="r3", action="run", program="crash"), 0.15)
        # The node still answers after its handler failed.
        assert engine.request(RobotCommand(src="engine", t=0.0, cmd_id="r4", action="status"), 2.0).ok
        hb = latest_heartbeat(beats, 2.0, lambda h: h.counters["commands"] >= 3)
        assert hb is not None
        assert hb.counters["commands"] == 3
        assert hb.counters["rejected"] == 1
        assert hb.counters["errors"] == 1
        stop.set()
        thread.join(2.0)
        assert not thread.is_alive()
        engine.close()
        other.close()


@pytest.mark.timeout(8)
def test_node_port_in_use_fails_in_constructor() -> None:
    with running_bus() as (ctx, ep, _proxy):
        first = EchoRobotNode("robot", ep, command_endpoint=ep.command, ctx=ctx)
        with pytest.raises(Exception):
            EchoRobotNode("robot2", ep, command_endpoint=ep.command, ctx=ctx)
        first.close()


NODE_PROCESS = textwrap.dedent(
    """
    import sys
    from cell.bus import BusEndpoints
    from cell.runtime import Node

    class Quiet(Node):
        def on_start(self, now):
            print("ready", flush=True)

    ep = BusEndpoints(pub=sys.argv[1], sub=sys.argv[2], command=sys.argv[3], engine=sys.argv[4])
    Quiet("proc", ep, heartbeat_s=0.05, connect_wait_s=0.0).run()
    """
)


@pytest.mark.timeout(10)
def test_node_process_stops_cleanly_on_sigterm() -> None:
    with running_bus() as (ctx, ep, _proxy):
        beats = Subscriber(ctx, ep.sub, ["heartbeat.proc"])
        proc = subprocess.Popen(
            [sys.executable, "-c", NODE_PROCESS, ep.pub, ep.sub, ep.command, ep.engine],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout.readline().strip() == "ready"
            assert latest_heartbeat(beats, 3.0) is not None
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(3.0) == 0
            last = latest_heartbeat(beats, 2.0, lambda h: h.status == "stopped")
            assert last is not None and last.pid == proc.pid
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
