"""Test-only nodes and bus helpers: free loopback ports, a running proxy, sample messages."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Callable, Iterator

import zmq

from cell.bus import BusEndpoints, BusProxy, CommandServer
from cell.messages import Message, PoseFrame, RobotCommand, RobotReply, TaskEvent
from cell.runtime import Node


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (held open together so they differ)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def local_endpoints() -> BusEndpoints:
    pub, sub, command, engine = free_ports(4)
    return BusEndpoints(
        pub=f"tcp://127.0.0.1:{pub}",
        sub=f"tcp://127.0.0.1:{sub}",
        command=f"tcp://127.0.0.1:{command}",
        engine=f"tcp://127.0.0.1:{engine}",
    )


@contextlib.contextmanager
def running_bus() -> Iterator[tuple[zmq.Context, BusEndpoints, BusProxy]]:
    """A fresh context, free endpoints and a proxy forwarding in a thread."""
    ctx = zmq.Context()
    endpoints = local_endpoints()
    proxy = BusProxy(ctx, endpoints).start()
    try:
        yield ctx, endpoints, proxy
    finally:
        proxy.close()
        ctx.destroy(linger=0)  # also closes sockets a failed test left open


@contextlib.contextmanager
def serving(server: CommandServer, handler: Callable[[Message], Message | None]) -> Iterator[None]:
    """Answer commands on ``server`` in a thread for the duration of the block."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            server.poll_once(handler, 20)
        server.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(2)


def pose(frame: int = 1, src: str = "vision") -> PoseFrame:
    return PoseFrame(
        src=src, t=float(frame), frame=frame, operator_id="op1",
        world=[0.1 * i for i in range(99)], image=[0.5] * 99, visibility=[1.0] * 33,
        hands_bench_mm={"left": (100.0, 200.0, 0.0)},
    )


def wait_until(predicate: Callable[[], bool], timeout_s: float = 2.0, step_s: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()


class RecordingNode(Node):
    """Keeps what it receives; a TaskEvent with detail "boom" makes its handler raise."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[Message] = []
        self.started = False
        self.stopped = False
        self.ticks = 0

    def on_start(self, now: float) -> None:
        self.started = True

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, TaskEvent) and msg.detail == "boom":
            raise RuntimeError("boom (on purpose)")
        self.seen.append(msg)

    def on_tick(self, now: float) -> None:
        self.ticks += 1

    def on_stop(self, now: float) -> None:
        self.stopped = True


class EchoRobotNode(Node):
    """Answers every RobotCommand with an ok RobotReply; program "crash" raises."""

    def on_command(self, msg: Message, now: float) -> Message | None:
        assert isinstance(msg, RobotCommand)
        if msg.program == "crash":
            raise RuntimeError("robot program crashed (on purpose)")
        return RobotReply(src=self.name, t=now, cmd_id=msg.cmd_id, ok=True)
