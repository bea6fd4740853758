"""CURVE on the bus: without an allowed key nobody subscribes, publishes or commands the cobot."""

from __future__ import annotations

import time

import pytest
import zmq
import zmq.auth

from cell import bus_security
from cell.bus import BusProxy, CommandServer, Publisher, Subscriber
from cell.messages import RobotCommand, RobotReply, TaskEvent, decode, encode
from tests.helpers_nodes import local_endpoints, wait_until


@pytest.fixture()
def keys(tmp_path):
    folder = tmp_path / "keys"
    bus_security.generate(folder)
    yield folder
    bus_security.stop()


def _raw(ctx, kind, endpoint, folder=None, name=None, server_key=None, identity=None):
    """A socket of someone else's: no CURVE, or CURVE with a given key pair (from our folder or made up)."""
    sock = ctx.socket(kind)
    sock.linger = 0
    if identity is not None:
        sock.setsockopt(zmq.IDENTITY, identity)
    if name is not None or server_key is not None:
        if name is not None:
            public, secret = zmq.auth.load_certificate(folder / "private" / f"{name}.key_secret")
        else:
            public, secret = zmq.curve_keypair()
        sock.curve_serverkey = server_key
        sock.curve_publickey = public
        sock.curve_secretkey = secret
    sock.connect(endpoint)
    return sock


def event(i=0):
    return TaskEvent(src="vision", t=float(i), kind="pick", zone="bin_base")


def test_keys_are_made_for_every_node_with_secrets_for_this_user_only(keys):
    names = {p.stem for p in (keys / "public").glob("*.key")}
    assert names == {"server", *bus_security.IDENTITIES}
    for secret in (keys / "private").glob("*.key_secret"):
        assert secret.stat().st_mode & 0o077 == 0
    with pytest.raises(FileExistsError):
        bus_security.generate(keys)  # not overwritten by accident


def test_without_an_allowed_key_nobody_subscribes_or_publishes(keys):
    bus_security.configure(keys, "tools")
    ctx = zmq.Context()
    ep = local_endpoints()
    server_key = bus_security.BusKeys(keys, "tools").public("server")
    with BusProxy(ctx, ep):
        ours_sub = Subscriber(ctx, ep.sub, ["task."])
        ours_pub = Publisher(ctx, ep.pub)
        plain_sub = _raw(ctx, zmq.SUB, ep.sub)
        stranger_sub = _raw(ctx, zmq.SUB, ep.sub, server_key=server_key)  # knows the bus's public key only
        for s in (plain_sub, stranger_sub):
            s.setsockopt(zmq.SUBSCRIBE, b"")
        plain_pub = _raw(ctx, zmq.PUB, ep.pub)
        stranger_pub = _raw(ctx, zmq.PUB, ep.pub, server_key=server_key)
        try:
            assert wait_until(lambda: ours_pub.subscribed("task.event"), 5.0)
            # ours get through (encrypted, authenticated) ...
            got = []
            for i in range(20):
                ours_pub.send(event(i))
                plain_pub.send_multipart([b"task.event", encode(event(1000 + i))])
                stranger_pub.send_multipart([b"task.event", encode(event(2000 + i))])
                msg = ours_sub.recv(50)
                if msg is not None:
                    got.append(msg.t)
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                msg = ours_sub.recv(50)
                if msg is not None:
                    got.append(msg.t)
            assert got and all(t < 1000 for t in got), "only our own publisher's messages arrive"
            # ... the strangers subscribed and heard nothing
            assert plain_sub.poll(300) == 0 and stranger_sub.poll(300) == 0
        finally:
            for s in (plain_sub, stranger_sub, plain_pub, stranger_pub):
                s.close(0)
            ours_sub.close()
            ours_pub.close(0)
    bus_security.stop()  # the authenticator's sockets live in ctx
    ctx.term()


def test_only_the_engine_commands_the_cobot(keys):
    bus_security.configure(keys, "robot")  # this process is the robot bridge
    ctx = zmq.Context()
    ep = local_endpoints()
    server_key = bus_security.BusKeys(keys, "robot").public("server")
    received: list[RobotCommand] = []

    def handle(msg):
        received.append(msg)
        return RobotReply(src="robot", t=0.0, cmd_id=msg.cmd_id, ok=True)

    server = CommandServer(ctx, ep.command, allowed_identities={"engine"}, curve_domain=bus_security.ROBOT_DOMAIN)

    def ask(sock, cmd_id, identity=b"engine") -> bool:
        sock.send_multipart([b"", encode(RobotCommand(src="x", t=0.0, cmd_id=cmd_id, action="run",
                                                       step_id="screw_stem", program="screw_stem.urp"))])
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            server.poll_once(handle, 20)
            if sock.poll(0):
                reply = decode(sock.recv_multipart()[-1])
                return isinstance(reply, RobotReply) and reply.ok
        return False

    callers = {}
    try:
        for who, kw in (("no CURVE", {}), ("made-up key", {"server_key": server_key}),
                        ("the store's key", {"name": "store"}), ("the web page's key", {"name": "web"}),
                        ("the engine's key", {"name": "engine"})):
            if "name" in kw:
                kw = dict(kw, folder=keys, server_key=server_key)
            sock = _raw(ctx, zmq.DEALER, ep.command, identity=b"engine", **kw)  # everyone claims to be the engine
            callers[who] = (sock, ask(sock, f"cmd-{len(callers)}"))
        answered = {who: ok for who, (_, ok) in callers.items()}
        assert answered == {"no CURVE": False, "made-up key": False, "the store's key": False,
                            "the web page's key": False, "the engine's key": True}
        assert [c.cmd_id for c in received] == ["cmd-4"]  # nothing but the engine's command reached the bridge
    finally:
        for sock, _ in callers.values():
            sock.close(0)
        server.close()
    bus_security.stop()  # the authenticator's sockets live in ctx
    ctx.term()


def test_a_command_from_an_allowed_key_with_the_wrong_identity_is_refused_by_key(keys):
    """Defence in depth: on a ROUTER that admits several keys, the key decides, not the identity claimed."""
    bus_security.configure(keys, "engine")
    ctx = zmq.Context()
    ep = local_endpoints()
    server_key = bus_security.BusKeys(keys, "engine").public("server")
    server = CommandServer(ctx, ep.engine, allowed_identities={"engine"})  # the bus domain: every key connects
    got = []
    sock = _raw(ctx, zmq.DEALER, ep.engine, folder=keys, name="web", server_key=server_key, identity=b"engine")
    try:
        sock.send_multipart([b"", encode(RobotCommand(src="x", t=0.0, cmd_id="c", action="stop"))])
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            server.poll_once(lambda m: got.append(m), 20)
        assert got == [] and server.rejected == 1
    finally:
        sock.close(0)
        server.close()
    bus_security.stop()  # the authenticator's sockets live in ctx
    ctx.term()


def test_a_process_without_its_key_says_how_to_make_it(tmp_path):
    with pytest.raises(bus_security.KeysMissing, match="cell keys generate"):
        bus_security.configure(tmp_path / "nothing", "engine")
    assert not bus_security.active()


def _curve_cell(tmp_path):
    import shutil

    from ruamel.yaml import YAML

    from cell.demo import free_base_port

    shutil.copytree(__import__("pathlib").Path(__file__).resolve().parent.parent / "configs", tmp_path / "configs")
    path = tmp_path / "configs" / "lamp-cell.yaml"
    yaml = YAML()
    data = yaml.load(path.read_text())
    data["bus"]["base_port"] = free_base_port(start=29550)
    data["bus"]["curve"] = True
    data["bus"]["keys"] = "../keys"
    with open(path, "w") as f:
        yaml.dump(data, f)
    return path


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_whole_cell_runs_under_curve_and_a_tap_without_keys_hears_nothing(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from cell.config_loader import load_config
    from cell.messages import RobotStatus, StepState
    from cell.nodes import endpoints

    path = _curve_cell(tmp_path)
    # without keys the cell refuses to start, and says how to make them
    r = subprocess.run([sys.executable, "-m", "cell", "run", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "cell keys generate" in r.stderr
    r = subprocess.run([sys.executable, "-m", "cell", "keys", "generate", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cfg = load_config(path)
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    run = subprocess.Popen([sys.executable, "-m", "cell", "run", str(path), "--speed", "6", "--state-dir",
                            str(tmp_path / "state"), "--frames-dir", str(tmp_path / "frames")], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    bus_security.configure_for(cfg, "tools")
    ctx = zmq.Context()
    ep = endpoints(cfg)
    sub = Subscriber(ctx, ep.sub, ["step.state", "robot.status"])
    plain = _raw(ctx, zmq.SUB, ep.sub)
    plain.setsockopt(zmq.SUBSCRIBE, b"")
    try:
        done_by = set()
        end = time.monotonic() + 60
        while time.monotonic() < end and done_by != {"operator", "cobot"}:
            msg = sub.recv(200)
            if isinstance(msg, StepState) and msg.phase == "done":
                done_by.add(msg.assignee)
        # the operator's steps and the cobot's (the engine commanded the bridge through CURVE) get done
        assert done_by == {"operator", "cobot"}
        assert plain.poll(500) == 0  # a tap without keys heard nothing of it
    finally:
        plain.close(0)
        sub.close()
        os.killpg(run.pid, signal.SIGINT)
        run.wait(30)
        bus_security.stop()
        ctx.term()
