"""CURVE encryption and authentication on the cell bus (pyzmq's ``zmq.auth``), when the YAML turns it on.

Keys live in one folder (``bus.keys``, made by ``cell keys generate``):

    keys/public/<name>.key           public keys: the bus's own ("server") and one per node and tool
    keys/private/<name>.key_secret   secret keys (mode 0600); a PC only needs the ones of what it runs

Every socket a process opens through ``cell.bus`` uses the process's identity: a node
process is its node's name (``engine``, ``robot``, ...), the coach's page ``web``, the
command-line tools ``tools``. Sockets that bind (the proxy's two sides, the engine's and
the robot bridge's ROUTERs) are CURVE servers with the bus's key; a ZAP authenticator in
that process admits only clients whose public key is in ``keys/public`` -- and for the
robot bridge only the engine's key, so nobody else can even connect to it, let alone
command the cobot. A peer without an allowed key gets no connection: it cannot publish,
subscribe or command.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.utils import z85
from zmq.auth.thread import ThreadAuthenticator

logger = logging.getLogger(__name__)

SERVER = "server"
ROBOT_DOMAIN = "robot"          # the robot bridge's ROUTER: the engine only
BUS_DOMAIN = "cell"             # everything else: any key in keys/public
IDENTITIES = ("bus", "store", "engine", "robot", "ergonomics", "stress", "projection", "sim-operator", "vision",
              "devices", "web", "tools")


class KeysMissing(RuntimeError):
    """The YAML turns CURVE on but a key this process needs is not there; the message says what to do."""


@dataclass(frozen=True)
class BusKeys:
    folder: Path
    identity: str

    @property
    def public_dir(self) -> Path:
        return self.folder / "public"

    def public(self, name: str) -> bytes:
        path = self.public_dir / f"{name}.key"
        try:
            public, _ = zmq.auth.load_certificate(path)
        except (OSError, ValueError) as exc:
            raise KeysMissing(f"no public key {path} ({exc}); make the keys with `cell keys generate CONFIG`") from None
        return public

    def pair(self, name: str) -> tuple[bytes, bytes]:
        path = self.folder / "private" / f"{name}.key_secret"
        try:
            public, secret = zmq.auth.load_certificate(path)
        except (OSError, ValueError) as exc:
            raise KeysMissing(f"no secret key {path} for '{name}' ({exc}); make the keys with "
                              "`cell keys generate CONFIG`, and copy private/{name}.key_secret to this PC") from None
        if secret is None:
            raise KeysMissing(f"{path} holds no secret key")
        return public, secret


class _Security:
    """What this process uses for every bus socket; None: plain TCP (the default)."""

    keys: BusKeys | None = None
    authenticator: ThreadAuthenticator | None = None
    _names: dict[bytes, str] = {}


def configure(folder: Path | None, identity: str, ctx: zmq.Context | None = None) -> None:
    """Turn CURVE on for this process (``folder``) or off (None). Loads the keys now, so a missing key
    fails at start with a clear message, not at the first send."""
    stop()
    if folder is None:
        return
    keys = BusKeys(Path(folder), identity)
    keys.pair(identity)          # this process's own pair
    keys.public(SERVER)          # the bus's public key
    _Security.keys = keys
    _Security._names = {}
    for path in sorted(keys.public_dir.glob("*.key")):
        public, _ = zmq.auth.load_certificate(path)
        _Security._names[public] = path.stem


def stop() -> None:
    """CURVE off for this process; stops its authenticator (before the context it runs in is terminated)."""
    if _Security.authenticator is not None:
        try:
            _Security.authenticator.stop()
        except zmq.ZMQError:
            pass  # its context is already gone
    _Security.keys = None
    _Security.authenticator = None


def active() -> bool:
    return _Security.keys is not None


def _authenticator(ctx: zmq.Context) -> ThreadAuthenticator:
    """One ZAP handler per process, started by the first socket that binds."""
    if _Security.authenticator is None:
        keys = _Security.keys
        assert keys is not None
        names = _Security._names

        class Auth(ThreadAuthenticator):
            def curve_user_id(self, client_public_key: bytes) -> str:
                return names.get(z85.encode(client_public_key), "unknown")  # the names are keyed in z85

        auth = Auth(ctx, log=logging.getLogger("cell.bus.auth"))
        auth.start()
        everyone = {k: True for k in names if names[k] != SERVER}
        auth.certs[BUS_DOMAIN] = everyone
        engine = keys.public("engine")
        auth.certs[ROBOT_DOMAIN] = {engine: True}
        _Security.authenticator = auth
    return _Security.authenticator


def secure_server(sock: zmq.Socket, domain: str = BUS_DOMAIN) -> None:
    """Make a binding socket a CURVE server (call before bind)."""
    keys = _Security.keys
    if keys is None:
        return
    _authenticator(sock.context)
    public, secret = keys.pair(SERVER)  # the PC that runs the bus, the engine or the robot bridge needs it
    sock.curve_server = True
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.zap_domain = domain.encode()
    sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)  # no ZAP handler answering: no connection (never "anyone")


def secure_client(sock: zmq.Socket) -> None:
    """Make a connecting socket a CURVE client with this process's identity (call before connect)."""
    keys = _Security.keys
    if keys is None:
        return
    public, secret = keys.pair(keys.identity)
    sock.curve_serverkey = keys.public(SERVER)
    sock.curve_publickey = public
    sock.curve_secretkey = secret


def user_of(frame: zmq.Frame) -> str | None:
    """The authenticated name of the peer a received frame came from (CURVE), or None without CURVE."""
    if _Security.keys is None:
        return None
    try:
        return frame.get("User-Id")
    except (zmq.ZMQError, AttributeError):
        return None


def generate(folder: Path, names: tuple[str, ...] = IDENTITIES, *, force: bool = False) -> list[Path]:
    """A key pair for the bus and for every identity; secret keys readable by this user only."""
    folder = Path(folder)
    public_dir, private_dir = folder / "public", folder / "private"
    if private_dir.exists() and any(private_dir.iterdir()) and not force:
        raise FileExistsError(f"{private_dir} already holds keys; --force makes new ones (every PC of the cell "
                              "then needs the new ones)")
    for d in (public_dir, private_dir):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    os.chmod(private_dir, 0o700)
    made = []
    for name in (SERVER, *names):
        public, secret = zmq.auth.create_certificates(private_dir, name)
        os.chmod(secret, 0o600)
        shutil.move(public, public_dir / Path(public).name)
        made.append(public_dir / Path(public).name)
    return made


def configure_for(config, identity: str) -> None:
    """CURVE for this process as the cell file says (``bus.curve``, ``bus.keys``); off when it says nothing."""
    configure(config.resolve(config.bus.keys) if config.bus.curve else None, identity)


def check_keys(config, names: list[str]) -> None:
    """With CURVE on, every key these nodes need is in the keys folder; KeysMissing says which is not."""
    if not config.bus.curve:
        return
    keys_dir = config.resolve(config.bus.keys)
    for name in names:
        keys = BusKeys(keys_dir, name)
        keys.pair(name)
        keys.public(SERVER)
    BusKeys(keys_dir, SERVER).pair(SERVER)  # this PC runs the bus: it needs the bus's secret key
