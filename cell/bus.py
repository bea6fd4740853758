"""The cell bus: the few ZeroMQ socket wrappers every node uses.

Telemetry and events go PUB -> XSUB/XPUB proxy -> SUB with dotted topics
(``pose.frame``, ``heartbeat.engine``, ``log.warning``); commands that need
an answer go DEALER -> ROUTER with a timeout. Payloads are the msgspec
structs of ``cell.messages``. Anything malformed is counted, logged and
dropped; nothing here raises on bad input from the wire.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import zmq

from cell import bus_security
from cell.messages import (
    Backlog,
    EngineCommand,
    LogRecord,
    MalformedMessage,
    Message,
    Snapshot,
    decode,
    decode_frames,
    encode,
    frames,
)

logger = logging.getLogger(__name__)

DEFAULT_HWM = 1000
"""Send/receive high-water mark: beyond this many queued messages a peer drops."""

_LOG_FIRST = 5
_LOG_EVERY = 1000


def should_log(count: int) -> bool:
    """Whether to log the count-th occurrence of a problem: the first few, then one in a thousand."""
    return count <= _LOG_FIRST or count % _LOG_EVERY == 0


def _short(data: object, limit: int = 120) -> str:
    text = str(data)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _set_common(sock: zmq.Socket, linger_ms: int) -> None:
    sock.setsockopt(zmq.LINGER, linger_ms)
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)


# --------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class BusEndpoints:
    """Where the bus lives.

    ``pub``: the proxy's XSUB side, where publishers connect.
    ``sub``: the proxy's XPUB side, where subscribers (and outside taps) connect.
    ``command``: the robot bridge's ROUTER.
    ``engine``: the engine's ROUTER (snapshots and engine commands).
    """

    pub: str
    sub: str
    command: str
    engine: str

    @classmethod
    def local(cls, base_port: int = 5550, host: str = "127.0.0.1") -> BusEndpoints:
        """Four consecutive TCP ports on one host: pub, sub, command, engine."""
        return cls(
            pub=f"tcp://{host}:{base_port}",
            sub=f"tcp://{host}:{base_port + 1}",
            command=f"tcp://{host}:{base_port + 2}",
            engine=f"tcp://{host}:{base_port + 3}",
        )

    @staticmethod
    def bind_form(endpoint: str) -> str:
        """What to bind for a connect endpoint: the same host and port.

        ``localhost`` becomes ``127.0.0.1`` (binding a name is not portable);
        ``ipc://`` and ``inproc://`` endpoints are returned unchanged.
        """
        if endpoint.startswith("tcp://"):
            rest = endpoint[len("tcp://"):]
            host, sep, port = rest.rpartition(":")
            if not sep or not port:
                raise ValueError(f"tcp endpoint without a port: {endpoint!r}")
            if host == "localhost":
                host = "127.0.0.1"
            return f"tcp://{host}:{port}"
        return endpoint


def busy(endpoints: dict[str, str]) -> list[str]:
    """Which of these (what it is -> connect endpoint) cannot be bound on this PC now: another
    program, or another cell with the same ports, listens there. Only tcp endpoints are checked."""
    import socket

    out = []
    for what, endpoint in endpoints.items():
        bound = BusEndpoints.bind_form(endpoint)
        if not bound.startswith("tcp://"):
            continue
        host, _, port = bound[len("tcp://"):].rpartition(":")
        probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ZeroMQ binds: TIME_WAIT is not busy
        try:
            probe.bind(("" if host in ("*", "0.0.0.0") else host.strip("[]"), int(port)))
        except OSError as exc:
            out.append(f"port {port} ({what}): {exc.strerror or exc}")
        finally:
            probe.close()
    return out


# --------------------------------------------------------------------------- proxy


class BusProxy:
    """The XSUB/XPUB proxy in the middle of the bus, as a Python poll loop.

    Messages from publishers (XSUB side) go to subscribers (XPUB side);
    subscriptions travel the other way. ``forwarded`` and ``subscriptions``
    count both directions. Sockets are bound by ``start()``/``run()`` in the
    caller's thread so a port in use fails there, loudly.
    """

    POLL_MS = 50
    BATCH = 500

    def __init__(self, ctx: zmq.Context, endpoints: BusEndpoints, *, hwm: int = DEFAULT_HWM) -> None:
        self.ctx = ctx
        self.endpoints = endpoints
        self.hwm = hwm
        self.forwarded = 0
        self.subscriptions = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._xsub: zmq.Socket | None = None
        self._xpub: zmq.Socket | None = None

    def _bind(self) -> None:
        if self._xsub is not None:
            return
        xsub = self.ctx.socket(zmq.XSUB)
        xpub = self.ctx.socket(zmq.XPUB)
        try:
            for sock in (xsub, xpub):
                bus_security.secure_server(sock)  # CURVE, when the cell turns it on
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.SNDHWM, self.hwm)
                sock.setsockopt(zmq.RCVHWM, self.hwm)
            xsub.bind(BusEndpoints.bind_form(self.endpoints.pub))
            xpub.bind(BusEndpoints.bind_form(self.endpoints.sub))
        except zmq.ZMQError:
            xsub.close(0)
            xpub.close(0)
            raise
        self._xsub, self._xpub = xsub, xpub
        logger.info("bus proxy: publishers -> %s, subscribers -> %s", self.endpoints.pub, self.endpoints.sub)

    def start(self) -> BusProxy:
        """Bind now and forward in a daemon thread until ``close()``."""
        self._bind()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="bus-proxy", daemon=True)
        self._thread.start()
        return self

    def run(self, stop: threading.Event | None = None) -> None:
        """Bind and forward in this thread until ``close()`` or ``stop`` is set."""
        self._bind()
        if stop is not None:
            self._stop = stop
        try:
            self._loop()
        finally:
            self._close_sockets()

    def _loop(self) -> None:
        xsub, xpub = self._xsub, self._xpub
        assert xsub is not None and xpub is not None
        poller = zmq.Poller()
        poller.register(xsub, zmq.POLLIN)
        poller.register(xpub, zmq.POLLIN)
        while not self._stop.is_set():
            try:
                ready = dict(poller.poll(self.POLL_MS))
            except zmq.ZMQError as exc:
                if exc.errno in (zmq.ETERM, zmq.ENOTSOCK):
                    return
                raise
            if xsub in ready:
                self.forwarded += self._pump(xsub, xpub)
            if xpub in ready:
                self.subscriptions += self._pump(xpub, xsub)

    def _pump(self, src: zmq.Socket, dst: zmq.Socket) -> int:
        moved = 0
        for _ in range(self.BATCH):
            try:
                parts = src.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            try:
                dst.send_multipart(parts, zmq.NOBLOCK, copy=False)
            except zmq.Again:
                pass  # a full pipe drops, as PUB does
            moved += 1
        return moved

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop forwarding and close the sockets."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.warning("bus proxy thread did not stop within %.1f s", timeout_s)
                return
            self._thread = None
        self._close_sockets()

    def _close_sockets(self) -> None:
        for sock in (self._xsub, self._xpub):
            if sock is not None:
                sock.close(0)
        self._xsub = self._xpub = None

    def __enter__(self) -> BusProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- pub/sub


class Publisher:
    """Publishes messages to the proxy; never blocks the caller.

    The socket is an XPUB, not a PUB: it sends exactly like a PUB but also
    hears which topic prefixes the proxy has subscribers for. That is how
    slow joiners are handled: ``wait_subscribed()`` returns as soon as a
    matching subscription has arrived (or after a bounded wait), instead of
    sleeping and hoping. ``send`` is safe to call from several threads.
    """

    def __init__(
        self,
        ctx: zmq.Context,
        endpoint: str,
        *,
        hwm: int = DEFAULT_HWM,
        linger_ms: int = 200,
    ) -> None:
        self.endpoint = endpoint
        self.sent = 0
        self.dropped = 0
        self._lock = threading.Lock()
        self._topics: dict[bytes, int] = {}
        self.socket = ctx.socket(zmq.XPUB)
        _set_common(self.socket, linger_ms)
        self.socket.setsockopt(zmq.SNDHWM, hwm)
        bus_security.secure_client(self.socket)
        self.socket.connect(endpoint)

    def send(self, msg: Message) -> bool:
        """Publish one message; False (and counted in ``dropped``) if it was dropped."""
        return self.send_raw(frames(msg))

    def send_raw(self, parts: list[bytes]) -> bool:
        """Publish raw frames as they are (tests use this to send garbage)."""
        with self._lock:
            try:
                self._drain()
                self.socket.send_multipart(parts, zmq.NOBLOCK)
            except zmq.Again:
                self.dropped += 1
                return False
            except zmq.ZMQError as exc:
                self.dropped += 1
                if should_log(self.dropped):
                    logger.warning("publish failed: %s", exc)
                return False
            self.sent += 1
            return True

    def _drain(self) -> None:
        """Read subscription notices the proxy sent us (caller holds the lock)."""
        sock = self.socket
        while sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            try:
                notice = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            if not notice:
                continue
            prefix = notice[1:]
            if notice[0] == 1:
                self._topics[prefix] = self._topics.get(prefix, 0) + 1
            elif notice[0] == 0 and prefix in self._topics:
                self._topics[prefix] -= 1
                if self._topics[prefix] <= 0:
                    del self._topics[prefix]

    def subscribed(self, topic: str | None = None) -> bool:
        """Whether anyone listens: to anything (None) or to this topic."""
        with self._lock:
            self._drain()
            if topic is None:
                return bool(self._topics)
            raw = topic.encode()
            return any(raw.startswith(prefix) for prefix in self._topics)

    def wait_subscribed(self, topic: str | None = None, timeout_s: float = 0.2) -> bool:
        """Wait until a subscriber for ``topic`` (or any) is known; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.subscribed(topic):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(0.005, remaining))

    def close(self, linger_ms: int | None = None) -> None:
        with self._lock:
            self.socket.close(linger_ms)


class Subscriber:
    """Receives messages for some topic prefixes and decodes them.

    ``recv`` never raises on bad input: a malformed message is counted in
    ``malformed`` (per reason in ``malformed_reasons``, last text per reason
    in ``last_errors``), logged at warning level, dropped, and receiving
    goes on within the same timeout. ``socket`` is exposed for polling.
    """

    def __init__(
        self,
        ctx: zmq.Context,
        endpoint: str,
        topics: Iterable[str] = ("",),
        *,
        hwm: int = DEFAULT_HWM,
    ) -> None:
        self.endpoint = endpoint
        self.received = 0
        self.malformed = 0
        self.malformed_reasons: dict[str, int] = {}
        self.last_errors: dict[str, str] = {}
        self.socket = ctx.socket(zmq.SUB)
        _set_common(self.socket, 0)
        self.socket.setsockopt(zmq.RCVHWM, hwm)
        bus_security.secure_client(self.socket)
        self.socket.connect(endpoint)
        self.topics: list[str] = []
        for topic in topics:
            self.subscribe(topic)

    def subscribe(self, topic: str) -> None:
        """Add a topic prefix ("" = everything)."""
        self.socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self.topics.append(topic)

    def recv(self, timeout_ms: float | None = 0) -> Message | None:
        """The next valid message, or None when none arrives within the timeout.

        ``timeout_ms=0`` only takes what is already queued; None waits forever.
        """
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000.0
        sock = self.socket
        while True:
            try:
                parts = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                if deadline is None:
                    sock.poll(None)
                    continue
                remaining_ms = (deadline - time.monotonic()) * 1000.0
                if remaining_ms <= 0 or not sock.poll(max(1, int(remaining_ms + 0.999))):
                    return None
                continue
            try:
                msg = decode_frames(parts)
            except MalformedMessage as exc:
                self._reject(parts, exc)
                continue
            self.received += 1
            return msg

    def _reject(self, parts: list[bytes], exc: MalformedMessage) -> None:
        reason = malformed_reason(parts)
        self.malformed += 1
        count = self.malformed_reasons.get(reason, 0) + 1
        self.malformed_reasons[reason] = count
        self.last_errors[reason] = str(exc)
        if should_log(count):
            topic = _short(parts[0]) if parts else "(no frames)"
            logger.warning(
                "dropped malformed message (%s, %d so far) on %s: %s",
                reason, count, topic, _short(exc),
            )

    def close(self) -> None:
        self.socket.close(0)


def malformed_reason(parts: list[bytes]) -> str:
    """Which way a rejected multipart message is wrong: frames, payload or topic."""
    if len(parts) != 2:
        return "frames"
    try:
        decode(parts[1])
    except MalformedMessage:
        return "payload"
    return "topic"


# --------------------------------------------------------------------------- commands


class CommandTimeout(TimeoutError):
    """No reply to a command within its timeout."""


class CommandServer:
    """A bound ROUTER that answers commands, one reply per request.

    Accepted requests: ``[identity, *envelope, b"", payload]`` (DEALER with an
    envelope, REQ, REQ_CORRELATE) or ``[identity, payload]`` (bare DEALER);
    the payload may also be two frames ``topic, payload``. The reply goes back
    in the same envelope. Malformed requests are counted and dropped; so are
    requests from identities not in ``allowed_identities`` (``rejected``).
    Identities are declared by the client: this guards against mistakes,
    not attackers.
    """

    def __init__(
        self,
        ctx: zmq.Context,
        endpoint: str,
        *,
        allowed_identities: set[str] | None = None,
        linger_ms: int = 100,
        curve_domain: str = bus_security.BUS_DOMAIN,
    ) -> None:
        self.endpoint = endpoint
        self.allowed_identities = None if allowed_identities is None else set(allowed_identities)
        self.handled = 0
        self.malformed = 0
        self.rejected = 0
        self.errors = 0
        self.last_error = ""
        self.socket = ctx.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, linger_ms)
        # A restarted client with the same identity takes over its old connection.
        self.socket.setsockopt(zmq.ROUTER_HANDOVER, 1)
        try:
            bus_security.secure_server(self.socket, curve_domain)
            self.socket.bind(BusEndpoints.bind_form(endpoint))
        except zmq.ZMQError:
            self.socket.close(0)
            raise

    def poll_once(self, handler: Callable[[Message], Message | None], timeout_ms: float = 0) -> bool:
        """Take one request (waiting up to ``timeout_ms``) and answer it.

        Returns True when a request was taken off the socket, whatever became
        of it, so callers can drain with ``while server.poll_once(h): ...``.
        The handler returns the reply, or None to send nothing. Handler
        exceptions are counted in ``errors`` and logged; no reply is sent.
        """
        try:
            raw = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            if timeout_ms <= 0 or not self.socket.poll(max(1, int(timeout_ms))):
                return False
            try:
                raw = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return False
        self._serve([f.bytes for f in raw], handler, bus_security.user_of(raw[-1]))
        return True

    def _serve(self, parts: list[bytes], handler: Callable[[Message], Message | None],
               user: str | None = None) -> None:
        identity = parts[0]
        who = identity.decode("utf-8", errors="replace")
        if user is not None and self.allowed_identities is not None and user not in self.allowed_identities:
            # with CURVE the peer's key says who it is; a declared identity alone proves nothing
            self.rejected += 1
            if should_log(self.rejected):
                logger.warning("command from key %r (identity %r) rejected: not an allowed key", user, who)
            return
        if self.allowed_identities is not None and who not in self.allowed_identities:
            self.rejected += 1
            if should_log(self.rejected):
                logger.warning("command from %r rejected: not an allowed identity", who)
            return
        try:
            delim = parts.index(b"", 1)
        except ValueError:
            envelope, body = [identity], parts[1:]
        else:
            envelope, body = parts[: delim + 1], parts[delim + 1:]
        try:
            if len(body) == 1:
                msg = decode(body[0])
            elif len(body) == 2:
                msg = decode_frames(body)
            else:
                raise MalformedMessage(f"expected 1 or 2 body frames, got {len(body)}")
        except MalformedMessage as exc:
            self.malformed += 1
            self.last_error = str(exc)
            if should_log(self.malformed):
                logger.warning("malformed command from %r dropped: %s", who, _short(exc))
            return
        try:
            reply = handler(msg)
        except Exception:
            self.errors += 1
            logger.exception("command handler failed on %s from %r", type(msg).__name__, who)
            return
        self.handled += 1
        if reply is None:
            return
        try:
            out = frames(reply) if len(body) == 2 else [encode(reply)]
            self.socket.send_multipart(envelope + out, zmq.NOBLOCK)
        except (zmq.ZMQError, TypeError) as exc:
            self.errors += 1
            logger.warning("could not send reply to %r: %s", who, exc)

    def close(self) -> None:
        self.socket.close()


class CommandClient:
    """A DEALER that sends one command and waits for its reply, with a timeout.

    Each request carries a fresh request id in its envelope; a reply with a
    different id (a late answer to an earlier request) or a different
    ``cmd_id`` is dropped. After a timeout the socket is recreated with
    LINGER 0, so nothing queued for the old request survives.
    """

    def __init__(self, ctx: zmq.Context, endpoint: str, identity: str) -> None:
        self.ctx = ctx
        self.endpoint = endpoint
        self.identity = identity
        self.timeouts = 0
        self.stale = 0
        self.malformed = 0
        self._prefix = os.urandom(4)
        self._seq = itertools.count(1)
        self.socket = self._open()

    def _open(self) -> zmq.Socket:
        sock = self.ctx.socket(zmq.DEALER)
        _set_common(sock, 0)
        sock.setsockopt(zmq.IDENTITY, self.identity.encode())
        bus_security.secure_client(sock)
        sock.connect(self.endpoint)
        return sock

    def _reset(self) -> None:
        self.socket.close(0)
        self.socket = self._open()

    def request(self, msg: Message, timeout_s: float = 1.0) -> Message:
        """Send ``msg`` and return the reply; raise CommandTimeout if none comes."""
        req_id = self._prefix + next(self._seq).to_bytes(8, "big")
        want_cmd = getattr(msg, "cmd_id", None)
        deadline = time.monotonic() + timeout_s
        try:
            self.socket.send_multipart([req_id, b"", encode(msg)], zmq.NOBLOCK)
        except zmq.Again:
            pass  # nothing to send to: falls through to the timeout
        else:
            while True:
                remaining_ms = (deadline - time.monotonic()) * 1000.0
                if remaining_ms <= 0 or not self.socket.poll(max(1, int(remaining_ms + 0.999))):
                    break
                reply = self._take(req_id, want_cmd)
                if reply is not None:
                    return reply
        self.timeouts += 1
        self._reset()
        raise CommandTimeout(
            f"no reply from {self.endpoint} to {type(msg).__name__} within {timeout_s:.3g} s"
        )

    def _take(self, req_id: bytes, want_cmd: str | None) -> Message | None:
        try:
            parts = self.socket.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return None
        if len(parts) < 3 or parts[0] != req_id or parts[1] != b"":
            self.stale += 1
            return None
        try:
            body = parts[2:]
            reply = decode(body[0]) if len(body) == 1 else decode_frames(body)
        except MalformedMessage as exc:
            self.malformed += 1
            logger.warning("malformed reply from %s dropped: %s", self.endpoint, _short(exc))
            return None
        got_cmd = getattr(reply, "cmd_id", None)
        if want_cmd is not None and got_cmd is not None and got_cmd != want_cmd:
            self.stale += 1
            return None
        return reply

    def close(self) -> None:
        self.socket.close(0)


def engine_request(ctx: zmq.Context, endpoints: BusEndpoints, cmd: EngineCommand, want: type,
                   timeout_s: float = 1.0) -> Message | None:
    """Ask the engine once and return its answer of type ``want``; None (and a warning) if none comes."""
    # A throwaway identity: sharing one with a long-lived client would take
    # over that client's connection (the server hands identities over).
    identity = f"{cmd.src}-{cmd.action}-{os.getpid()}-{os.urandom(3).hex()}"
    client = CommandClient(ctx, endpoints.engine, identity)
    try:
        reply = client.request(cmd, timeout_s)
    except CommandTimeout:
        logger.warning("no answer to %s from the engine at %s within %.3g s", cmd.action, endpoints.engine,
                       timeout_s)
        return None
    finally:
        client.close()
    if not isinstance(reply, want):
        logger.warning("engine answered %s with %s", cmd.action, type(reply).__name__)
        return None
    return reply


def snapshot_request(
    ctx: zmq.Context,
    endpoints: BusEndpoints,
    timeout_s: float = 1.0,
    *,
    src: str | None = None,
) -> Snapshot | None:
    """Ask the engine for its current state (for late joiners); None if no answer."""
    cmd = EngineCommand(src=src or "client", t=time.monotonic(), action="snapshot")
    return engine_request(ctx, endpoints, cmd, Snapshot, timeout_s)  # type: ignore[return-value]


def backlog_request(ctx: zmq.Context, endpoints: BusEndpoints, after_seq: int, timeout_s: float = 1.0, *,
                    src: str = "store") -> Backlog | None:
    """What the engine published after its StepState ``after_seq`` (as far as it still keeps it)."""
    cmd = EngineCommand(src=src, t=time.monotonic(), action="backlog", after_seq=after_seq)
    return engine_request(ctx, endpoints, cmd, Backlog, timeout_s)  # type: ignore[return-value]


# --------------------------------------------------------------------------- watchdog


class Watchdog:
    """Which sources went silent: pure, the caller passes the time in.

    A source is alive while ``now - last_fed <= timeout_s``. ``expired``
    reports each silent source once until it is fed again. ``expect``
    starts watching a source that has not spoken yet.
    """

    def __init__(self, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError("watchdog timeout must be positive")
        self.timeout_s = timeout_s
        self._last: dict[str, float] = {}
        self._reported: set[str] = set()

    def feed(self, source: str, now: float) -> None:
        self._last[source] = now
        self._reported.discard(source)

    def expect(self, source: str, now: float) -> None:
        """Watch ``source`` from ``now`` on, as if it had just been heard."""
        if source not in self._last:
            self.feed(source, now)

    def forget(self, source: str) -> None:
        self._last.pop(source, None)
        self._reported.discard(source)

    def alive(self, source: str, now: float) -> bool:
        last = self._last.get(source)
        return last is not None and now - last <= self.timeout_s

    def expired(self, now: float) -> list[str]:
        """Sources newly silent for longer than the timeout, sorted."""
        out = sorted(
            s for s, last in self._last.items()
            if now - last > self.timeout_s and s not in self._reported
        )
        self._reported.update(out)
        return out

    @property
    def sources(self) -> list[str]:
        return sorted(self._last)


# --------------------------------------------------------------------------- logs on the bus

BUS_PUBLISHED = "cell_bus_published"
"""LogRecord attribute: already on the bus, the bus handler skips it."""


def level_name(levelno: int) -> str:
    """The LogRecord level word for a logging level number."""
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


class BusLogHandler(logging.Handler):
    """Publishes python log records (info and above) as LogRecord messages."""

    def __init__(self, publisher: Publisher, src: str, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.publisher = publisher
        self.src = src
        self._busy = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, BUS_PUBLISHED, False) or getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            text = self.format(record) if self.formatter else record.getMessage()
            self.publisher.send(
                LogRecord(src=self.src, t=time.monotonic(), level=level_name(record.levelno), text=text)
            )
        except Exception:
            self.handleError(record)
        finally:
            self._busy.on = False


def bus_log_handler(publisher: Publisher, src: str, level: int = logging.INFO) -> BusLogHandler:
    """A logging handler that puts log lines on the bus under ``log.<level>``."""
    return BusLogHandler(publisher, src, level)
