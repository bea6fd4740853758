"""Bench devices: the line protocols (pure), and DeviceLink against emulated devices on pseudo-terminals.

Values checked are the ones the test tells the emulator to send. The link runs
on the wall clock with short timeouts; every wait has a generous deadline.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from pathlib import Path

import pytest

from cell.config import Device
from cell.devices import DeviceLink, DeviceProtocolParser, DeviceReading
from cell.devices.emulator import EMULATOR_KINDS, ButtonBox, HeartRateBridge, PtyDeviceEmulator, TorqueTool, \
    heartbeats, run_emulator
from cell.devices.protocols import MAX_LINE_CHARS, LineAssembler
from cell.messages import DeviceEvent, decode, encode
from ergonomics.hrv import rmssd

ROOT = Path(__file__).resolve().parents[1]
KINDS = list(EMULATOR_KINDS)


def make_device(kind: str, url: str = "loop://", **kw) -> Device:
    kw = {"id": "dev", "timeout_s": 0.05, "reconnect_max_s": 0.5, **kw}
    return Device(kind=kind, url=url, **kw)


def open_fds() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


@pytest.fixture(autouse=True)
def no_leaks():
    """No thread or descriptor outlives a test (an emulator or a link left open)."""
    threads, fds = set(threading.enumerate()), open_fds()
    yield
    assert set(threading.enumerate()) <= threads, "a thread was left behind"
    assert open_fds() <= fds, "a file descriptor was left open"


def wait_until(cond, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def collect(link: DeviceLink, n: int, timeout: float = 5.0) -> list[DeviceReading]:
    got: list[DeviceReading] = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"got {got}, wanted {n} readings; link: {link.status}"
        time.sleep(0.01)
        got += link.readings()
    time.sleep(0.05)
    return got + link.readings()


def opened(link: DeviceLink) -> None:
    """Wait until the link is open and a pick-to-light controller has answered the OFF sent on opening."""
    wait_until(lambda: link.state == "open", "the link to open")
    if link.device.kind == "pick_to_light":
        wait_until(lambda: link.lines >= 1, "the answer to OFF")


def exchange(kind: str, emu: PtyDeviceEmulator, link: DeviceLink) -> None:
    """One piece of normal traffic of this emulator KIND, checked end to end."""
    if kind == "buttons":
        emu.send("DOWN 2")
        emu.send("UP 2")
        got = collect(link, 2)
        assert [(r.kind, r.values.get("key"), r.text) for r in got] == [("press", 2, "2"), ("release", 2, "2")]
    elif kind == "heart-rate":
        emu.send("HR 74 RR 812,798")
        got = collect(link, 2)
        assert [(r.kind, r.values) for r in got] == [("rr", {"rr_ms": 812, "hr_bpm": 74}),
                                                     ("rr", {"rr_ms": 798, "hr_bpm": 74})]
    elif kind == "torque-tool":
        emu.send("NOK 3.10 45.2")
        emu.send("OK 4.52 87.0")
        got = collect(link, 2)
        assert [(r.kind, r.values, r.text) for r in got] == [
            ("torque", {"ok": 0, "torque_nm": 3.10, "angle_deg": 45.2}, "NOK"),
            ("torque", {"ok": 1, "torque_nm": 4.52, "angle_deg": 87.0}, "OK")]
    elif kind == "pick-to-light":
        assert link.write("light", bin=3, count=2)
        wait_until(lambda: emu.device.lit == {3: 2}, "bin 3 lit with 2")
        emu.send("ACK 3")
        got = collect(link, 1)
        assert [(r.kind, r.values, r.text) for r in got] == [("ack", {"bin": 3}, "3")]
    elif kind == "stacklight":
        before = link.lines
        assert link.write("blink", colour="RED")
        wait_until(lambda: emu.device.state == ("RED", True) and link.lines > before, "the light's OK")
        assert emu.device.received[-1] == "SET RED BLINK" and link.readings() == []
    assert all(r.device == "dev" for r in link.readings())


def provoke(kind: str, emu: PtyDeviceEmulator, link: DeviceLink) -> None:
    """Traffic of this KIND without looking at what comes of it."""
    if kind == "pick-to-light":
        link.write("light", bin=1, count=1)
    elif kind == "stacklight":
        link.write("set", colour="GREEN")
    emu.send({"buttons": "DOWN 1", "heart-rate": "RR 800", "torque-tool": "OK 4.5 90",
              "pick-to-light": "ACK 1", "stacklight": "OK"}[kind])


@pytest.fixture
def dev_path(tmp_path) -> Path:
    return tmp_path / "dev"


# the line protocols, pure -----------------------------------------------------------------
def test_press_release_and_long_press_come_from_the_times_passed_in() -> None:
    p = DeviceProtocolParser(make_device("button_box", long_press_s=1.0))
    seen = lambda out: [(r.kind, r.t, r.values, r.text) for r in out]  # noqa: E731
    assert seen(p.feed("DOWN 1", 10.0)) == [("press", 10.0, {"key": 1}, "1")]
    assert p.feed("DOWN 1", 10.1) == []  # bounce: still the same press
    assert seen(p.feed("UP 1", 10.25)) == [("release", 10.25, {"key": 1, "held_s": 0.25}, "1")]
    p.feed("DOWN 2", 11.0)
    assert p.tick(11.99) == []
    assert seen(p.tick(12.0)) == [("long_press", 12.0, {"key": 2, "held_s": 1.0}, "2")]
    assert p.tick(12.5) == []  # once per press
    assert seen(p.feed("UP 2", 12.6)) == [("release", 12.6, {"key": 2, "held_s": 1.6}, "2")]
    # held long with no tick in between: the long press comes with the UP
    p.feed("DOWN 3", 13.0)
    assert [r.kind for r in p.feed("UP 3", 14.5)] == ["long_press", "release"]
    # an UP whose DOWN was never seen; a key held when the line went
    assert seen(p.feed("UP 1", 15.0)) == [("release", 15.0, {"key": 1}, "1")]
    p.feed("DOWN 1", 16.0)
    p.reset()
    assert p.tick(20.0) == [] and seen(p.feed("UP 1", 20.0)) == [("release", 20.0, {"key": 1}, "1")]
    # a pedal: no key number, key "1"; a named key has no number, only its name
    pedal = DeviceProtocolParser(make_device("pedal"))
    assert seen(pedal.feed("DOWN", 1.0)) == [("press", 1.0, {"key": 1}, "1")]
    assert seen(pedal.feed("DOWN left", 1.0)) == [("press", 1.0, {}, "left")]


@pytest.mark.parametrize("kind, line, expected", [
    ("heart_rate", "RR 812", [("rr", {"rr_ms": 812, "hr_bpm": 73.9}, "")]),
    ("heart_rate", "HR 74 RR 812,798", [("rr", {"rr_ms": 812, "hr_bpm": 74}, ""),
                                        ("rr", {"rr_ms": 798, "hr_bpm": 74}, "")]),
    ("heart_rate", "HR 74", [("hr", {"hr_bpm": 74}, "")]),
    ("heart_rate", "RR 0", None),
    ("heart_rate", "HR 74 RR", None),
    ("torque_tool", "OK 4.52 87.0", [("torque", {"ok": 1, "torque_nm": 4.52, "angle_deg": 87.0}, "OK")]),
    ("torque_tool", "NOK 3.10", [("torque", {"ok": 0, "torque_nm": 3.10}, "NOK")]),
    ("torque_tool", "NOK", None),
    ("pick_to_light", "ACK 3", [("ack", {"bin": 3}, "3")]),
    ("pick_to_light", "OK", []),
    ("stack_light", "OK", []),
    ("stack_light", "ERR unknown colour PINK", [("error", {}, "unknown colour PINK")]),
    ("stack_light", "ACK 3", None),
    ("button_box", "DOWN 1 2", None),
])
def test_default_protocols(kind, line, expected) -> None:
    out = DeviceProtocolParser(make_device(kind)).feed(line, 5.0)
    assert (None if out is None else [(r.kind, r.values, r.text) for r in out]) == expected


def test_heart_beats_keep_the_shape_the_stress_node_reads() -> None:
    (reading,) = DeviceProtocolParser(make_device("heart_rate", id="strap")).feed("HR 70 RR 857", 3.0)
    msg = reading.to_message("devices")
    assert msg == DeviceEvent(src="devices", t=3.0, device="strap", kind="rr", values={"rr_ms": 857.0, "hr_bpm": 70.0})
    assert decode(encode(msg)) == msg


def test_commands_are_formatted_and_replayed_after_a_reconnect() -> None:
    light = DeviceProtocolParser(make_device("stack_light"))
    assert light.replay() == []
    assert light.command("set", colour="GREEN") == b"SET GREEN\n"
    assert light.command("blink", colour="RED") == b"SET RED BLINK\n"
    assert light.replay() == [b"SET RED BLINK\n"]
    assert light.command("off") == b"SET OFF\n" and light.replay() == [b"SET OFF\n"]
    with pytest.raises(ValueError, match="needs the field 'colour'"):
        light.command("set")
    with pytest.raises(ValueError, match="has no command 'light'; it takes set, blink, off"):
        light.command("light", bin=1, count=1)

    ptl = DeviceProtocolParser(make_device("pick_to_light", protocol={"line_ending": "\r\n"}))
    assert ptl.command("light", bin=3, count=2) == b"LIGHT 3 2\r\n"
    ptl.command("light", bin=5, count=1)
    ptl.command("light", bin=3, count=4)
    assert ptl.replay() == [b"OFF\r\n", b"LIGHT 3 4\r\n", b"LIGHT 5 1\r\n"]
    assert ptl.command("off", bin=5) == b"OFF 5\r\n" and ptl.replay() == [b"OFF\r\n", b"LIGHT 3 4\r\n"]
    assert ptl.command("off_all") == b"OFF\r\n" and ptl.replay() == [b"OFF\r\n"]

    with pytest.raises(ValueError, match="has no command 'set'; it takes no commands"):
        DeviceProtocolParser(make_device("pedal")).command("set")


@pytest.mark.parametrize("kind, protocol, message", [
    ("pedal", {"patterns": {"press": "^P$"}}, r"patterns\.press: pedal sends no such line; its patterns are down, up"),
    ("pedal", {"patterns": {"down": "^P(?P<key"}}, r"patterns\.down: .* is not a valid regular expression"),
    ("heart_rate", {"patterns": {"beats": r"^RR (\d+)$"}}, r"patterns\.beats: .* needs the named group\(s\) \(\?P<rr>"),
    ("stack_light", {"commands": {"set": "SET {color}"}}, r"commands\.set: .* uses color; allowed: \{colour\}"),
    ("pedal", {"commands": {"led": "LED"}}, r"commands\.led: pedal takes no such command"),
    ("torque_tool", {"encoding": "klingon"}, r"encoding: 'klingon' is not a known text encoding"),
])
def test_an_override_that_cannot_work_is_named(kind, protocol, message) -> None:
    with pytest.raises(ValueError, match=message) as err:
        DeviceProtocolParser(make_device(kind, protocol=protocol))
    assert "device 'dev'" in str(err.value)


def test_line_assembler_cuts_lines_and_sets_aside_what_is_not_one() -> None:
    a = LineAssembler("ascii", half_line_s=1.0)
    assert a.feed(b"RR 8", 0.0) == [] and a.feed(b"12\r\nRR 7", 0.1) == ["RR 812"]
    assert a.feed(b"90\rHR 70\n\n\r\n", 0.2) == ["RR 790", "HR 70"]
    assert a.feed(b"\x00\xff#~\nOK\n", 0.3) == [None, "OK"] and a.noise == 2
    assert a.feed(b"A" * (MAX_LINE_CHARS + 1), 0.4) == [None]
    assert a.feed(b"AAAA\nOK\n", 0.5) == ["OK"]  # the rest of the over-long line is skipped, not counted again
    assert a.feed(b"HALF", 1.0) == [] and a.feed(b"", 1.9) == [] and a.feed(b"", 2.0) == [None]
    assert a.partial == "" and a.feed(b"OK\n", 2.1) == ["OK"]


# the emulators' own traffic, pure ---------------------------------------------------------
def test_emulated_buttons_press_now_and_then_and_sometimes_long() -> None:
    stream = ButtonBox(random.Random(7), True).stream(100.0)
    items = [next(stream) for _ in range(400)]
    assert [t for t, _ in items] == sorted(t for t, _ in items)
    parser = DeviceProtocolParser(make_device("button_box", long_press_s=1.0))
    kinds = [r.kind for t, line in items for r in parser.feed(line, t)]
    holds = [t_up - t_down for (t_down, _), (t_up, _) in zip(items[::2], items[1::2])]
    assert kinds.count("press") == kinds.count("release") == 200
    assert kinds.count("long_press") == sum(h >= 1.0 for h in holds)
    assert 10 <= kinds.count("long_press") <= 60


def test_emulated_heart_shows_stress_as_a_drop_in_rmssd_and_sends_every_beat() -> None:
    beats = heartbeats(random.Random(3), stress_at_s=300.0)
    calm, stressed = [], []
    for t, rr in beats:
        (calm if t < 300 else stressed).append(rr)
        if t > 600:
            break
    assert 770 < sum(calm) / len(calm) < 830 and 30 < rmssd(calm) < 50
    assert 630 < sum(stressed) / len(stressed) < 670 and 8 < rmssd(stressed) < 16

    stream = HeartRateBridge(random.Random(5), True).stream(0.0)
    parser = DeviceProtocolParser(make_device("heart_rate"))
    lines = [next(stream) for _ in range(60)]
    sent = [r.values["rr_ms"] for t, line in lines for r in parser.feed(line, t)]
    expected = []
    for t, rr in heartbeats(random.Random(5)):
        if t > 60:
            break
        expected.append(round(rr))
    assert sent == expected and all(t == i + 1 for i, (t, _) in enumerate(lines))


def test_emulated_torque_tool_is_mostly_ok() -> None:
    stream = TorqueTool(random.Random(11), True).stream(0.0)
    parser = DeviceProtocolParser(make_device("torque_tool"))
    results = [r for t, line in (next(stream) for _ in range(500)) for r in parser.feed(line, t)]
    assert len(results) == 500 and all(r.kind == "torque" for r in results)
    ok = [r for r in results if r.values["ok"] == 1]
    assert 0.85 < len(ok) / 500 < 0.95
    assert all(4.0 < r.values["torque_nm"] < 5.0 for r in ok)
    assert all(r.values["torque_nm"] < 4.0 for r in results if r.values["ok"] == 0)


# through pseudo-terminals, every kind ------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_normal_traffic(kind, dev_path) -> None:
    with PtyDeviceEmulator(kind, link=dev_path) as emu, DeviceLink(make_device(EMULATOR_KINDS[kind], emu.port)) as link:
        opened(link)
        assert link.status == "open"
        exchange(kind, emu, link)
        assert link.garbage == 0 and link.losses == 0


def test_a_line_split_over_reads_and_a_held_key_through_the_pty(dev_path) -> None:
    with PtyDeviceEmulator("heart-rate", link=dev_path) as emu, \
            DeviceLink(make_device("heart_rate", emu.port)) as link:
        opened(link)
        emu.send_raw(b"HR 74 RR 8")
        time.sleep(0.15)  # several reads return in between
        emu.send_raw(b"12\r\n")
        assert [r.values for r in collect(link, 1)] == [{"rr_ms": 812, "hr_bpm": 74}]
        assert link.garbage == 0
    with PtyDeviceEmulator("buttons", link=dev_path) as emu, \
            DeviceLink(make_device("pedal", emu.port, long_press_s=0.3)) as link:
        opened(link)
        emu.send("DOWN")
        got = collect(link, 2)  # the long press shows while the pedal is still down
        assert [r.kind for r in got] == ["press", "long_press"] and got[1].values["held_s"] >= 0.3
        emu.send("UP")
        (release,) = collect(link, 1)
        assert release.kind == "release" and release.values["held_s"] >= got[1].values["held_s"]


@pytest.mark.parametrize("kind", KINDS)
def test_unplug_and_replug(kind, dev_path) -> None:
    with PtyDeviceEmulator(kind, link=dev_path) as emu, \
            DeviceLink(make_device(EMULATOR_KINDS[kind], emu.port), reconnect_min_s=0.2) as link:
        opened(link)
        exchange(kind, emu, link)
        emu.unplug()
        wait_until(lambda: link.state == "lost", "the link to see the unplug")
        assert link.status.startswith("lost: ") and link.status.endswith("; retrying in 0.2 s")
        wait_until(lambda: f"cannot open {emu.port}" in link.status, "a failed reopen")
        assert link.running
        emu.replug()
        wait_until(lambda: link.state == "open", "the link to reopen")
        if kind == "stacklight":  # what the light showed is sent again
            wait_until(lambda: emu.device.received.count("SET RED BLINK") == 2, "the replay")
        if kind == "pick-to-light":
            wait_until(lambda: emu.device.received[-2:] == ["OFF", "LIGHT 3 2"], "the replay")
        exchange(kind, emu, link)
        assert link.losses == 1 and link.garbage == 0


@pytest.mark.parametrize("kind", KINDS)
def test_garbage_and_half_lines_are_counted_and_dropped(kind, dev_path) -> None:
    with PtyDeviceEmulator(kind, link=dev_path) as emu, \
            DeviceLink(make_device(EMULATOR_KINDS[kind], emu.port), half_line_s=0.3) as link:
        opened(link)
        emu.send_raw(b"\x00\xff#~\x07\n")         # line noise
        emu.send_raw(b"NONSENSE 42\n")              # fits no pattern
        emu.send_raw(b"A" * 300 + b"\n")            # over-long
        emu.send_raw(b"DOWN 1 RR 8")                # a half line: the device reset mid-line
        wait_until(lambda: link.garbage == 4, "four lines dropped")
        assert link.readings() == [] and link.state == "open"
        exchange(kind, emu, link)
        assert link.garbage == 4 and link.lines >= 1


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_baud_rate_is_named_without_a_crash_and_recovers(kind, dev_path) -> None:
    with PtyDeviceEmulator(kind, link=dev_path, baudrate=9600) as emu, \
            DeviceLink(make_device(EMULATOR_KINDS[kind], emu.port, baudrate=115200)) as link:
        wait_until(lambda: link.state in ("open", "unreadable"), "the link to open")
        assert emu.client_baudrate == 115200  # what the link set on the pty, as the emulator sees it
        deadline = time.monotonic() + 10
        while link.state != "unreadable":
            assert time.monotonic() < deadline, f"no wrong-baud status; link: {link.status}"
            provoke(kind, emu, link)
            time.sleep(0.02)
        assert "at 115200 baud (8N1): probably the wrong baud rate" in link.status
        assert "baudrate: 115200" in link.status and link.running
        emu.baudrate = 115200  # the device set to the rate the YAML says
        emu.send_raw(b"\n")    # ends the junk still in the link's buffer
        if kind in ("stacklight", "pick-to-light"):  # and the device's: its answer to the first command is ERR
            before = link.lines
            link.write("off_all" if kind == "pick-to-light" else "off")
            wait_until(lambda: link.lines > before, "an answer to the first command")
        link.readings()
        exchange(kind, emu, link)
        assert link.state == "open" and link.status == "open"


def test_a_vendor_protocol_from_the_config(dev_path) -> None:
    """A pedal that says P1 / R1 with CR LF; a light whose blink command is another word."""
    pedal = make_device("pedal", str(dev_path), protocol={
        "line_ending": "\r\n", "patterns": {"down": r"^P(?P<key>\d+)$", "up": r"^R(?P<key>\d+)$"}})
    with PtyDeviceEmulator("buttons", link=dev_path, line_ending="\r\n") as emu, DeviceLink(pedal) as link:
        opened(link)
        emu.send("P1")
        emu.send("DOWN 2")  # the default line means nothing to this pedal
        emu.send("R1")
        got = collect(link, 2)
        assert [(r.kind, r.values.get("key")) for r in got] == [("press", 1), ("release", 1)]
        assert link.garbage == 1

    light = make_device("stack_light", str(dev_path), protocol={"commands": {"blink": "FLASH {colour}"}})
    with PtyDeviceEmulator("stacklight", link=dev_path) as emu, DeviceLink(light) as link:
        opened(link)
        assert link.write("blink", colour="AMBER")
        # the emulated light speaks the default protocol: it refuses, and says so
        (refused,) = collect(link, 1)
        assert (refused.kind, refused.text) == ("error", "unknown command FLASH AMBER")
        assert emu.device.received == ["FLASH AMBER"]


def test_emulated_pick_to_light_acknowledges_a_lit_bin(dev_path) -> None:
    with PtyDeviceEmulator("pick-to-light", link=dev_path, traffic=True) as emu, \
            DeviceLink(make_device("pick_to_light", emu.port)) as link:
        emu.device.ack_after_s = (0.05, 0.1)
        opened(link)
        assert link.write("light", bin=4, count=3)
        (ack,) = collect(link, 1)
        assert (ack.kind, ack.values) == ("ack", {"bin": 4}) and emu.device.lit == {}
        assert emu.device.received == ["OFF", "LIGHT 4 3"]


def test_reconnect_backs_off_to_the_configured_cap(tmp_path) -> None:
    link = DeviceLink(make_device("torque_tool", str(tmp_path / "nothing"), reconnect_max_s=2.0))
    assert (link.state, link.status) == ("connecting", f"opening {tmp_path / 'nothing'}")
    seen: list[str] = []
    with link:
        deadline = time.monotonic() + 5
        while "retrying in 2 s" not in link.status and time.monotonic() < deadline:
            if link.state == "lost" and link.status not in seen:
                seen.append(link.status)
            time.sleep(0.01)
        seen.append(link.status)
    assert [s.rsplit("; ", 1)[1] for s in seen] == ["retrying in 0.5 s", "retrying in 1 s", "retrying in 2 s"]
    assert seen[0].startswith(f"lost: cannot open {tmp_path / 'nothing'}: ") and "No such file" in seen[0]
    assert link.state == "closed" and link.losses == 0
    with DeviceLink(make_device("pedal", "nosuch://pedal")) as link:
        wait_until(lambda: link.state == "lost", "a failed open")
        assert "cannot open nosuch://pedal" in link.status


def test_any_pyserial_url_works_and_a_dropped_socket_is_a_lost_line() -> None:
    """socket:// (a serial-over-TCP bridge): the bridge drops the connection, and accepts again."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    turns = [threading.Event(), threading.Event()]

    def bridge() -> None:
        # each line waits until the link says open: pyserial discards what arrives while it opens a socket
        for line, turn in zip((b"OK 4.52 87.0\n", b"NOK 3.10 45.2\n"), turns):
            conn, _ = server.accept()
            turn.wait(10)
            conn.sendall(line)
            time.sleep(0.1)
            conn.close()

    thread = threading.Thread(target=bridge)
    thread.start()
    try:
        with DeviceLink(make_device("torque_tool", f"socket://127.0.0.1:{port}"), reconnect_min_s=0.1) as link:
            texts = []
            for turn in turns:
                wait_until(lambda: link.state == "open", "the link to open")
                turn.set()
                texts += [r.text for r in collect(link, 1)]
                wait_until(lambda: link.state == "lost", "the bridge to drop the connection")
                assert "socket disconnected" in link.status
            assert texts == ["OK", "NOK"] and link.losses == 2
    finally:
        for turn in turns:
            turn.set()
        thread.join(5)
        server.close()


def test_run_emulator_prints_its_port_first_and_keeps_talking(tmp_path) -> None:
    ports: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=run_emulator, args=("heart-rate",),
                              kwargs=dict(stop=stop, print_path=ports.append, link=tmp_path / "hr", seed=2))
    thread.start()
    try:
        wait_until(lambda: ports, "the port")
        assert ports == [str(tmp_path / "hr")] and os.path.realpath(ports[0]).startswith("/dev/pts/")
        with DeviceLink(make_device("heart_rate", ports[0])) as link:
            got = collect(link, 2, timeout=5)
        assert all(r.kind == "rr" and 500 < r.values["rr_ms"] < 1100 and 50 < r.values["hr_bpm"] < 120 for r in got)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and not (tmp_path / "hr").exists()


def test_the_yaml_examples_in_the_devices_doc_are_valid() -> None:
    from ruamel.yaml import YAML

    text = (ROOT / "docs" / "devices.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    kinds = set()
    for block in blocks:
        for item in YAML(typ="safe").load(block)["devices"]:
            device = Device.model_validate(item)
            DeviceProtocolParser(device)
            kinds.add(device.kind)
    assert kinds == {"button_box", "pedal", "stack_light", "pick_to_light", "heart_rate", "torque_tool"}
