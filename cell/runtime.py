"""The thin-node shell: a loop that connects one piece of core logic to the bus.

A node subclass overrides ``on_start``, ``on_message``, ``on_tick``,
``on_command`` and ``on_stop``; the shell does the sockets, the heartbeat,
the counters, the logging and the clean stop. A failing handler is counted
and logged; it never stops the loop. The shell knows nothing of the config.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Callable, Iterable

import zmq

from cell.bus import (
    BUS_PUBLISHED,
    BusEndpoints,
    CommandServer,
    Publisher,
    Subscriber,
    level_name,
    should_log,
    snapshot_request,
)
from cell.messages import Heartbeat, LogRecord, Message, OperatorChanged, Snapshot

logger = logging.getLogger(__name__)

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

COUNTER_NAMES = ("received", "malformed", "published", "dropped", "commands", "rejected", "errors")


class Node:
    """One node on the bus; run it in its own process or in a thread.

    Sockets are created (and the command endpoint bound) in the constructor,
    so a port in use fails early; ``run`` owns them from then on and closes
    them when it ends. ``publish`` may also be called from other threads.

    Slow joiners: a ZeroMQ publisher that sends before the proxy has told it
    about subscribers loses those messages. ``run`` therefore starts with
    ``wait_connected()``, which returns as soon as the proxy has passed on
    any subscription (usually a few milliseconds) and gives up after
    ``connect_wait_s`` (0.2 s) when nobody listens yet. State that a late
    joiner still misses comes from the engine's snapshot, not from luck.
    """

    MAX_BATCH = 200
    """At most this many messages (and commands) per poll before ticking."""

    def __init__(
        self,
        name: str,
        endpoints: BusEndpoints,
        *,
        topics: Iterable[str] = (),
        command_endpoint: str | None = None,
        allowed_command_identities: set[str] | None = None,
        command_domain: str = "cell",
        heartbeat_s: float = 0.5,
        tick_s: float = 0.05,
        simulated: bool = False,
        clock: Callable[[], float] = time.monotonic,
        ctx: zmq.Context | None = None,
        connect_wait_s: float = 0.2,
    ) -> None:
        if heartbeat_s <= 0 or tick_s <= 0:
            raise ValueError("heartbeat_s and tick_s must be positive")
        self.name = name
        self.endpoints = endpoints
        self.topics = list(topics)
        self.heartbeat_s = heartbeat_s
        self.tick_s = tick_s
        self.simulated = simulated
        self.clock = clock
        self.connect_wait_s = connect_wait_s
        self.status = "simulated" if simulated else "ok"
        self.counters: dict[str, int] = {key: 0 for key in COUNTER_NAMES}
        self.heartbeat_seq = 0
        self.logger = logging.getLogger(f"cell.node.{name}")
        self.ctx = ctx if ctx is not None else zmq.Context.instance()
        self._closed = False
        self._handler_errors = 0
        self._snapshot_answered = False  # snapshot_until_answered: the engine has answered once
        self._next_snapshot = 0.0

        self.publisher = Publisher(self.ctx, endpoints.pub)
        self.subscriber: Subscriber | None = None
        self.server: CommandServer | None = None
        try:
            if self.topics:
                self.subscriber = Subscriber(self.ctx, endpoints.sub, self.topics)
            if command_endpoint is not None:
                self.server = CommandServer(
                    self.ctx, command_endpoint, allowed_identities=allowed_command_identities,
                    curve_domain=command_domain,
                )
        except Exception:
            self.close()
            raise

    # ------------------------------------------------------------------ hooks

    def on_start(self, now: float) -> None:
        """Called once, after connecting and before the first tick."""

    def on_message(self, msg: Message, now: float) -> None:
        """Called for every valid message on the subscribed topics."""

    def on_tick(self, now: float) -> None:
        """Called about every ``tick_s``."""

    def on_command(self, msg: Message, now: float) -> Message | None:
        """Answer a command (only with a ``command_endpoint``); None sends no reply."""
        raise NotImplementedError(f"{type(self).__name__} does not take commands")

    def on_stop(self, now: float) -> None:
        """Called once when the loop ends, before the sockets close."""

    # ------------------------------------------------------------------ offered to subclasses

    def publish(self, msg: Message) -> bool:
        """Put a message on the bus; False when it had to be dropped."""
        if self.publisher.send(msg):
            self.counters["published"] += 1
            return True
        self.counters["dropped"] += 1
        return False

    def log(self, level: str | int, text: str) -> None:
        """Log to python logging and, for info and above, on the bus as a LogRecord."""
        levelno = _LEVELS.get(level, logging.INFO) if isinstance(level, str) else int(level)
        self.logger.log(levelno, "%s", text, extra={BUS_PUBLISHED: True})
        if levelno >= logging.INFO and not self._closed:
            self.publish(LogRecord(src=self.name, t=self.clock(), level=level_name(levelno), text=text))

    def reload_operator(self, msg: OperatorChanged) -> bool:
        """The operator's profile changed (an adaptation applied): read the cell file again.

        For nodes that keep ``config`` and ``profile``; True when this node's operator is the one
        that changed and the file was read. A file that no longer validates is logged and the
        node carries on with what it has (the engine validated it before it sent the notice)."""
        from cell.config_loader import ConfigError, reload_operator

        profile = getattr(self, "profile", None)
        if profile is None or msg.operator_id != profile.id:
            return False
        try:
            self.config, self.profile = reload_operator(self.config, msg.operator_id)  # type: ignore[attr-defined]
        except (ConfigError, KeyError) as exc:
            self.log("error", f"could not reload the profile of {msg.operator_id}: {exc}")
            return False
        self.log("info", f"profile of {msg.operator_id} reloaded from the cell file"
                 + (f" (changed by {msg.by})" if msg.by else ""))
        return True

    def snapshot_until_answered(self, now: float, timeout_s: float = 1.0, every_s: float = 2.0) -> Snapshot | None:
        """The engine's snapshot, asked at start and then every ``every_s`` until the engine has answered once.

        A node that starts while the engine is still starting (a busy PC) gets no answer to its
        first request; the engine's next state may only come when someone acts on the one it
        missed, so it asks again instead of waiting for that."""
        if self._snapshot_answered or now < self._next_snapshot:
            return None
        self._next_snapshot = now + every_s
        snap = self.request_snapshot(timeout_s)
        self._snapshot_answered = snap is not None
        return snap

    def request_snapshot(self, timeout_s: float = 1.0) -> Snapshot | None:
        """The engine's current state, for a node that joins late."""
        return snapshot_request(self.ctx, self.endpoints, timeout_s, src=self.name)

    def wait_connected(self, timeout_s: float | None = None) -> bool:
        """Wait until the proxy has passed on a subscription (slow joiner guard)."""
        wait = self.connect_wait_s if timeout_s is None else timeout_s
        return self.publisher.wait_subscribed(None, wait) if wait > 0 else self.publisher.subscribed()

    def heartbeat(self, now: float | None = None) -> None:
        """Publish a Heartbeat with the status and the counters now."""
        self._sync_counters()
        self.heartbeat_seq += 1
        self.publish(
            Heartbeat(
                src=self.name,
                t=self.clock() if now is None else now,
                seq=self.heartbeat_seq,
                status=self.status,
                simulated=self.simulated,
                pid=os.getpid(),
                counters=dict(self.counters),
            )
        )

    # ------------------------------------------------------------------ the loop

    def run(self, stop: threading.Event | None = None) -> None:
        """Run until ``stop`` is set (or SIGTERM/SIGINT in a process's main thread).

        Exceptions from ``on_start`` propagate (after the sockets close), so
        a node that cannot start exits and its supervisor restarts it.
        """
        stop = stop if stop is not None else threading.Event()
        restore = install_stop_signals(stop)
        try:
            self.wait_connected()
            self.on_start(self.clock())
            self.log("info", f"{self.name} started" + (" (simulated)" if self.simulated else ""))
            self._loop(stop)
        finally:
            try:
                self._guard("on_stop", self.on_stop, self.clock())
                self.status = "stopped"
                self.heartbeat()
            finally:
                self.close()
                restore()

    def _loop(self, stop: threading.Event) -> None:
        poller = zmq.Poller()
        if self.subscriber is not None:
            poller.register(self.subscriber.socket, zmq.POLLIN)
        if self.server is not None:
            poller.register(self.server.socket, zmq.POLLIN)
        now = self.clock()
        next_beat = now
        next_tick = now + self.tick_s
        while not stop.is_set():
            now = self.clock()
            if now >= next_beat:
                self.heartbeat(now)
                next_beat = now + self.heartbeat_s
            wait_s = min(max(0.0, min(next_tick, next_beat) - now), self.tick_s)
            try:
                ready = dict(poller.poll(wait_s * 1000.0)) if poller.sockets else {}
            except zmq.ZMQError as exc:
                if exc.errno == zmq.ETERM:
                    return
                raise
            if not poller.sockets:
                stop.wait(wait_s)
            if self.subscriber is not None and self.subscriber.socket in ready:
                self._take_messages()
            if self.server is not None and self.server.socket in ready:
                self._take_commands()
            if ready:
                self._sync_counters()
            now = self.clock()
            if now >= next_tick:
                self._guard("on_tick", self.on_tick, now)
                next_tick += self.tick_s
                if next_tick <= now:
                    next_tick = now + self.tick_s

    def _take_messages(self) -> None:
        assert self.subscriber is not None
        for _ in range(self.MAX_BATCH):
            msg = self.subscriber.recv(0)
            if msg is None:
                return
            self.counters["received"] += 1
            self._guard("on_message", self.on_message, msg, self.clock())

    def _take_commands(self) -> None:
        assert self.server is not None
        for _ in range(self.MAX_BATCH):
            if not self.server.poll_once(self._answer, 0):
                return

    def _answer(self, msg: Message) -> Message | None:
        self.counters["commands"] += 1
        return self._guard("on_command", self.on_command, msg, self.clock())

    def _guard(self, what: str, fn: Callable[..., object], *args: object):
        try:
            return fn(*args)
        except Exception as exc:
            self._handler_errors += 1
            self._sync_counters()
            if should_log(self._handler_errors):
                self.logger.exception("%s failed in %s", self.name, what, extra={BUS_PUBLISHED: True})
                if not self._closed:
                    self.publish(
                        LogRecord(
                            src=self.name, t=self.clock(), level="error",
                            text=f"{what} failed: {type(exc).__name__}: {exc}",
                        )
                    )
            return None

    def _sync_counters(self) -> None:
        """Fold the socket wrappers' counts into ``counters``."""
        malformed = rejected = server_errors = 0
        if self.subscriber is not None:
            malformed += self.subscriber.malformed
        if self.server is not None:
            malformed += self.server.malformed
            rejected += self.server.rejected
            server_errors = self.server.errors
        self.counters["malformed"] = malformed
        self.counters["rejected"] = rejected
        self.counters["errors"] = self._handler_errors + server_errors

    # ------------------------------------------------------------------ threads and cleanup

    def start_thread(self) -> tuple[threading.Thread, threading.Event]:
        """Run in a daemon thread (tests); set the event and join to stop."""
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name=f"node-{self.name}", daemon=True)
        thread.start()
        return thread, stop

    def close(self) -> None:
        """Close the sockets (idempotent); the publisher lingers briefly for last words."""
        if self._closed:
            return
        self._closed = True
        self.publisher.close(200)
        if self.subscriber is not None:
            self.subscriber.close()
        if self.server is not None:
            self.server.close()


def install_stop_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGTERM/SIGINT set ``stop`` (main thread only, else a no-op); returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {}

    def handler(signum: int, frame: object) -> None:
        logger.info("signal %d: stopping", signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)

    return restore


_install_signal_handlers = install_stop_signals  # old private name, still used by cell.nodes.bus_node
