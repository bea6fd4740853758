"""The bus wrappers: pub/sub through the proxy, malformed input, commands, watchdog, logs."""

from __future__ import annotations

import logging
import time

import msgspec
import pytest
import zmq

from cell.bus import (
    BusEndpoints,
    CommandClient,
    CommandServer,
    CommandTimeout,
    Publisher,
    Subscriber,
    Watchdog,
    bus_log_handler,
    snapshot_request,
)
from cell.messages import (
    EngineCommand,
    Heartbeat,
    LogRecord,
    RobotCommand,
    RobotReply,
    Snapshot,
    StepState,
    frames,
)
from tests.helpers_nodes import free_ports, local_endpoints, pose, running_bus, serving, wait_until


def step_state() -> StepState:
    return StepState(
        src="engine", t=1.0, seq=1, order_id="o1", task_id="t1", step_id="s1", step_index=0,
        step_count=3, phase="active", assignee="operator", unit=1, units_total=5,
    )


# ------------------------------------------------------------------ endpoints


@pytest.mark.timeout(5)
def test_endpoints_local_and_bind_form() -> None:
    ep = BusEndpoints.local(6000)
    assert (ep.pub, ep.sub, ep.command, ep.engine) == (
        "tcp://127.0.0.1:6000", "tcp://127.0.0.1:6001", "tcp://127.0.0.1:6002", "tcp://127.0.0.1:6003",
    )
    assert BusEndpoints.bind_form("tcp://127.0.0.1:5550") == "tcp://127.0.0.1:5550"
    assert BusEndpoints.bind_form("tcp://localhost:5550") == "tcp://127.0.0.1:5550"
    assert BusEndpoints.bind_form("ipc:///tmp/x.sock") == "ipc:///tmp/x.sock"
    with pytest.raises(ValueError):
        BusEndpoints.bind_form("tcp://127.0.0.1")


# ------------------------------------------------------------------ pub/sub


@pytest.mark.timeout(5)
def test_pub_proxy_sub_delivers_messages_intact() -> None:
    with running_bus() as (ctx, ep, proxy):
        sub = Subscriber(ctx, ep.sub, ["heartbeat.", "pose."])
        pub = Publisher(ctx, ep.pub)
        assert pub.wait_subscribed("pose.frame", 2.0)
        assert pub.wait_subscribed("heartbeat.vision", 2.0)
        beat = Heartbeat(src="vision", t=3.5, seq=7, status="ok", pid=42, counters={"received": 3})
        frame = pose(12)
        assert pub.send(beat) and pub.send(frame)
        got = [sub.recv(2000), sub.recv(2000)]
        assert got == [beat, frame]
        assert isinstance(got[1], type(frame)) and got[1].hands_bench_mm["left"] == (100.0, 200.0, 0.0)
        assert sub.malformed == 0 and sub.received == 2
        assert wait_until(lambda: proxy.forwarded >= 2, 2.0)  # counted by the proxy thread just after sending
        pub.close(0)
        sub.close()


@pytest.mark.timeout(5)
def test_topic_prefix_filtering() -> None:
    with running_bus() as (ctx, ep, _proxy):
        pub = Publisher(ctx, ep.pub)
        steps = Subscriber(ctx, ep.sub, ["step."])
        assert pub.wait_subscribed("step.state", 2.0)
        everything = Subscriber(ctx, ep.sub, [""])
        assert pub.wait_subscribed("pose.frame", 2.0)
        pub.send(pose(1))
        pub.send(step_state())
        # The catch-all subscriber gets both, in order, so both were really sent.
        assert isinstance(everything.recv(2000), type(pose(1)))
        assert everything.recv(2000) == step_state()
        # The "step." subscriber gets only the step state.
        assert steps.recv(2000) == step_state()
        assert steps.recv(100) is None
        pub.close(0)
        steps.close()
        everything.close()


@pytest.mark.timeout(5)
def test_subscriber_counts_and_drops_malformed_then_delivers_valid(caplog: pytest.LogCaptureFixture) -> None:
    with running_bus() as (ctx, ep, _proxy):
        sub = Subscriber(ctx, ep.sub, ["pose."])
        pub = Publisher(ctx, ep.pub)
        assert pub.wait_subscribed("pose.frame", 2.0)
        beat_payload = frames(Heartbeat(src="x", t=0.0, seq=1))[1]
        wrong_type = msgspec.msgpack.encode(
            {"type": "PoseFrame", "src": 123, "t": 0.0, "frame": "one", "operator_id": "op",
             "world": [], "image": [], "visibility": []}
        )
        caplog.set_level(logging.WARNING, logger="cell.bus")
        pub.send_raw([b"pose.frame", b"\x00garbage"])
        pub.send_raw([b"pose.frame", frames(pose(1))[1], b"extra"])
        pub.send_raw([b"pose.frame", beat_payload])
        pub.send_raw([b"pose.frame", wrong_type])
        good = pose(2)
        pub.send(good)
        assert sub.recv(2000) == good
        assert sub.malformed == 4
        assert sub.malformed_reasons == {"payload": 2, "frames": 1, "topic": 1}
        assert "Heartbeat" in sub.last_errors["topic"]
        assert sum("malformed" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING) == 4
        assert sub.recv(50) is None
        pub.close(0)
        sub.close()


@pytest.mark.timeout(5)
def test_recv_times_out_with_none() -> None:
    with running_bus() as (ctx, ep, _proxy):
        sub = Subscriber(ctx, ep.sub, [""])
        t0 = time.monotonic()
        assert sub.recv(80) is None
        assert 0.07 <= time.monotonic() - t0 < 0.5
        sub.close()


# ------------------------------------------------------------------ commands


def robot_reply(msg):
    return RobotReply(src="robot", t=0.0, cmd_id=msg.cmd_id, ok=True)


@pytest.mark.timeout(5)
def test_command_round_trip() -> None:
    ctx = zmq.Context()
    ep = local_endpoints()
    server = CommandServer(ctx, ep.command)
    client = CommandClient(ctx, ep.command, "engine")
    with serving(server, robot_reply):
        reply = client.request(RobotCommand(src="engine", t=1.0, cmd_id="c1", action="status"), 2.0)
        assert reply == RobotReply(src="robot", t=0.0, cmd_id="c1", ok=True)
        reply = client.request(RobotCommand(src="engine", t=2.0, cmd_id="c2", action="run", program="p"), 2.0)
        assert reply.cmd_id == "c2"
    assert server.handled == 2
    client.close()
    ctx.destroy(linger=0)


@pytest.mark.timeout(5)
def test_command_timeout_when_nobody_answers() -> None:
    ctx = zmq.Context()
    (port,) = free_ports(1)
    client = CommandClient(ctx, f"tcp://127.0.0.1:{port}", "engine")
    t0 = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        client.request(RobotCommand(src="engine", t=0.0, cmd_id="c1", action="status"), 0.2)
    elapsed = time.monotonic() - t0
    assert isinstance(info.value, TimeoutError)
    assert 0.19 <= elapsed < 0.7
    assert client.timeouts == 1
    client.close()
    ctx.destroy(linger=0)


@pytest.mark.timeout(5)
def test_late_reply_is_not_taken_for_the_next_one() -> None:
    ctx = zmq.Context()
    ep = local_endpoints()
    server = CommandServer(ctx, ep.engine)

    def slow_echo(msg):
        if msg.reason == "slow":
            time.sleep(0.5)  # long enough for the client's new socket to connect
        # The reply carries no cmd_id: only the request id can tell them apart.
        return LogRecord(src="engine", t=0.0, level="info", text=msg.reason)

    client = CommandClient(ctx, ep.engine, "panel")
    with serving(server, slow_echo):
        with pytest.raises(CommandTimeout):
            client.request(EngineCommand(src="panel", t=0.0, action="pause", reason="slow"), 0.1)
        reply = client.request(EngineCommand(src="panel", t=0.0, action="pause", reason="fast"), 2.0)
        assert isinstance(reply, LogRecord) and reply.text == "fast"
        assert client.stale == 1  # the late "slow" reply did arrive and was dropped
    client.close()
    ctx.destroy(linger=0)


@pytest.mark.timeout(5)
def test_late_reply_with_other_cmd_id_is_dropped() -> None:
    ctx = zmq.Context()
    ep = local_endpoints()
    server = CommandServer(ctx, ep.command)

    def slow(msg):
        if msg.cmd_id == "c1":
            time.sleep(0.3)
        return RobotReply(src="robot", t=0.0, cmd_id=msg.cmd_id, ok=True)

    client = CommandClient(ctx, ep.command, "engine")
    with serving(server, slow):
        with pytest.raises(CommandTimeout):
            client.request(RobotCommand(src="engine", t=0.0, cmd_id="c1", action="run"), 0.1)
        reply = client.request(RobotCommand(src="engine", t=0.0, cmd_id="c2", action="status"), 2.0)
        assert reply.cmd_id == "c2"
    client.close()
    ctx.destroy(linger=0)


@pytest.mark.timeout(5)
def test_allowed_identities_rejects_others() -> None:
    ctx = zmq.Context()
    ep = local_endpoints()
    server = CommandServer(ctx, ep.command, allowed_identities={"engine"})
    intruder = CommandClient(ctx, ep.command, "projection")
    engine = CommandClient(ctx, ep.command, "engine")
    with serving(server, robot_reply):
        with pytest.raises(CommandTimeout):
            intruder.request(RobotCommand(src="projection", t=0.0, cmd_id="x", action="run"), 0.2)
        assert engine.request(RobotCommand(src="engine", t=0.0, cmd_id="y", action="run"), 2.0).ok
    assert server.rejected == 1 and server.handled == 1
    intruder.close()
    engine.close()
    ctx.destroy(linger=0)


@pytest.mark.timeout(5)
def test_server_counts_malformed_commands_and_handler_errors() -> None:
    ctx = zmq.Context()
    ep = local_endpoints()
    server = CommandServer(ctx, ep.command)

    def handler(msg):
        if msg.action == "stop":
            raise RuntimeError("on purpose")
        return robot_reply(msg)

    raw = ctx.socket(zmq.DEALER)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(ep.command)
    client = CommandClient(ctx, ep.command, "engine")
    with serving(server, handler):
        raw.send_multipart([b"", b"\x00garbage"])
        raw.send_multipart([b"\xc1"])
        with pytest.raises(CommandTimeout):
            client.request(RobotCommand(src="engine", t=0.0, cmd_id="s", action="stop"), 0.2)
        # A bare DEALER without envelope is answered too, without envelope.
        raw.send_multipart([frames(RobotCommand(src="x", t=0.0, cmd_id="bare", action="status"))[1]])
        assert raw.poll(2000)
        (payload,) = raw.recv_multipart()
        assert msgspec.msgpack.decode(payload)["cmd_id"] == "bare"
    assert server.malformed == 2
    assert server.errors == 1
    raw.close()
    client.close()
    ctx.destroy(linger=0)


@pytest.mark.timeout(5)
def test_snapshot_request() -> None:
    ctx = zmq.Context()
    ep = local_endpoints()
    assert snapshot_request(ctx, ep, 0.1) is None
    server = CommandServer(ctx, ep.engine)
    snap = Snapshot(src="engine", t=1.0, step=step_state(), orders_done=2)

    def engine(msg):
        assert isinstance(msg, EngineCommand) and msg.action == "snapshot"
        return snap

    with serving(server, engine):
        assert snapshot_request(ctx, ep, 2.0) == snap
    ctx.destroy(linger=0)


# ------------------------------------------------------------------ watchdog


@pytest.mark.timeout(5)
def test_watchdog_reports_silent_sources_once() -> None:
    dog = Watchdog(1.0)
    dog.feed("engine", 0.0)
    dog.feed("camera", 0.5)
    assert dog.expired(1.0) == []
    assert dog.alive("engine", 1.0)
    assert not dog.alive("engine", 1.01)
    assert dog.expired(1.2) == ["engine"]
    assert dog.expired(1.3) == []  # reported once
    assert dog.expired(2.0) == ["camera"]
    dog.feed("engine", 2.0)
    assert dog.alive("engine", 2.5)
    assert dog.expired(3.5) == ["engine"]
    assert not dog.alive("never", 0.0)


@pytest.mark.timeout(5)
def test_watchdog_expect_watches_a_source_not_yet_heard() -> None:
    dog = Watchdog(0.5)
    dog.expect("robot", 10.0)
    assert dog.expired(10.4) == []
    assert dog.expired(10.6) == ["robot"]
    dog.expect("robot", 11.0)  # does not reset a known source
    assert dog.expired(11.0) == []
    dog.forget("robot")
    assert dog.sources == []
    with pytest.raises(ValueError):
        Watchdog(0)


# ------------------------------------------------------------------ logs on the bus


@pytest.mark.timeout(5)
def test_bus_log_handler_publishes_info_and_above() -> None:
    with running_bus() as (ctx, ep, _proxy):
        sub = Subscriber(ctx, ep.sub, ["log."])
        pub = Publisher(ctx, ep.pub)
        assert pub.wait_subscribed("log.info", 2.0)
        log = logging.getLogger("test.bus.logs")
        log.setLevel(logging.DEBUG)
        log.propagate = False
        handler = bus_log_handler(pub, "tester")
        log.addHandler(handler)
        try:
            log.debug("not on the bus")
            log.info("camera %s opened", "cam0")
            log.critical("fire")
        finally:
            log.removeHandler(handler)
        first, second = sub.recv(2000), sub.recv(2000)
        assert (first.src, first.level, first.text) == ("tester", "info", "camera cam0 opened")
        assert (second.level, second.text) == ("error", "fire")
        assert sub.recv(50) is None
        pub.close(0)
        sub.close()
