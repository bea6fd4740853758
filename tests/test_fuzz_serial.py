"""Property tests (fuzzing) of the serial line parsers: bench devices and the serial arm.

* ``cell/devices/protocols.py``: ``LineAssembler`` (bytes -> lines, garbage -> None) and
  ``DeviceProtocolParser.feed`` (line -> readings, garbage -> None) of every device kind's
  default protocol (docs/devices.md). Garbage is dropped and counted, never raised.
* ``robot_bridge/serial_driver.py``: ``SerialArmDriver._parse_status`` classifies a status
  reply against the ``SerialProtocol`` regexes (a line that fits none raises the internal
  ``_BadReply``); ``_command`` classifies a command's reply as ok / error (anything else, or
  no readable line, is a ``DriverError``); ``_ask_status`` never raises (docs/serial-protocol.md).

Valid lines are generated from numbers and must parse back to those numbers. A key
that is a digit but not an ASCII one ('DOWN ²') once raised ValueError and killed a
device link's reader thread; it has its own test.
"""

from __future__ import annotations

import math
import re
import typing
from collections import deque
from decimal import Decimal

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from cell.config import Device, DeviceKind, SerialProtocol
from cell.devices.protocols import MAX_LINE_CHARS, DeviceProtocolParser, DeviceReading, LineAssembler
from cell.messages import RobotMode
from robot_bridge.driver import DriverError
from robot_bridge.serial_driver import BAD_REPLIES_BEFORE_DISCONNECT, STATUS_KINDS, SerialArmDriver, _BadReply

FUZZ = settings(max_examples=200, deadline=None, database=None)  # no .hypothesis folder in the repository

DEVICE_KINDS: tuple[str, ...] = typing.get_args(DeviceKind)
KEY_KINDS = ("button_box", "pedal")
READING_KINDS = {  # what each kind's readings may be (docs/devices.md, "Bus events")
    "button_box": {"press", "long_press", "release"}, "pedal": {"press", "long_press", "release"},
    "heart_rate": {"rr", "hr"}, "torque_tool": {"torque"}, "pick_to_light": {"ack", "error"},
    "stack_light": {"error"},
}
NOISE = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parser(kind: str, **kw) -> DeviceProtocolParser:
    return DeviceProtocolParser(Device(id="dev", kind=kind, url="loop://", **kw))


# lines as they could come off a wire: anything, or made of protocol words, numbers and separators
protocol_words = st.sampled_from([
    "DOWN", "UP", "HR", "RR", "OK", "NOK", "ACK", "ERR", " ", "  ", "\t", ",", ";", ".", "-", "+", "0", "1",
    "812", "0.0", "1e3", "nan", "inf", "\r", "\x00", "\u00b2", "\u0661", "\ufffd", "x" * 300,
])
garbage_lines = st.one_of(
    st.text(max_size=300),
    st.lists(protocol_words | st.text(max_size=5), max_size=20).map("".join),
)


def check_readings(readings: list[DeviceReading] | None, kind: str, now: float) -> None:
    if readings is None:
        return
    assert isinstance(readings, list)
    for r in readings:
        assert isinstance(r, DeviceReading) and r.device == "dev" and r.t == now
        assert r.kind in READING_KINDS[kind], r
        assert isinstance(r.text, str)
        assert all(isinstance(k, str) and isinstance(v, float) and math.isfinite(v) for k, v in r.values.items()), r
        r.to_message("devices")  # becomes a valid bus message


# ------------------------------------------------------------------ devices: garbage never raises


@FUZZ
@given(kind=st.sampled_from([k for k in DEVICE_KINDS if k not in KEY_KINDS]), lines=st.lists(garbage_lines, max_size=5))
@example(kind="heart_rate", lines=["RR 0", "RR -5", "HR -1", "RR 1" + "0" * 400, "HR 74 RR", "RR \u0661\u0662"])
@example(kind="torque_tool", lines=["OK 1" + "0" * 400, "NOK 3.1 1" + "0" * 400, "OK", "OK 1.2.3"])
@example(kind="pick_to_light", lines=["ACK \u00b2", "ACK", "ERR", "ERR   ", "OK\x00"])
def test_device_lines_parse_or_are_garbage(kind: str, lines: list[str]) -> None:
    p = parser(kind)
    for i, line in enumerate(lines):
        check_readings(p.feed(line, float(i)), kind, float(i))


@FUZZ
@given(kind=st.sampled_from(KEY_KINDS),
       lines=st.lists(garbage_lines, max_size=8),
       long_press_s=st.floats(0.01, 10))
def test_key_lines_parse_or_are_garbage(kind: str, lines: list[str], long_press_s: float) -> None:
    p = parser(kind, long_press_s=long_press_s)
    for i, line in enumerate(lines):
        check_readings(p.feed(line, float(i)), kind, float(i))
        check_readings(p.tick(i + 0.5), kind, i + 0.5)


def test_superscript_digit_key_is_not_an_exception() -> None:
    text = LineAssembler("latin-1").feed(b"DOWN \xb2\n", 0.0)
    assert text == ["DOWN \u00b2"]
    check_readings(parser("pedal", protocol={"encoding": "latin-1"}).feed(text[0], 0.0), "pedal", 0.0)


# ------------------------------------------------------------------ devices: valid lines round trip


def number_text(d: Decimal) -> str:
    return format(d, "f")


positive = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100000"), places=3).map(number_text)
positive_int = st.integers(1, 10**6).map(str)
signed = st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=2).map(number_text)
separator = st.sampled_from([",", ", ", " ,", " , "])
space = st.sampled_from([" ", "  ", "\t"])


@FUZZ
@given(rrs=st.lists(positive | positive_int, min_size=1, max_size=6), seps=st.lists(separator, min_size=5, max_size=5),
       hr=st.none() | positive | st.just("0"), sp=space)
@example(rrs=["812"], seps=[","] * 5, hr=None, sp=" ")
def test_heart_rate_beats_round_trip(rrs: list[str], seps: list[str], hr: str | None, sp: str) -> None:
    line = ("" if hr is None else f"HR{sp}{hr}{sp}") + f"RR{sp}" + "".join(
        rr + (seps[i] if i < len(rrs) - 1 else "") for i, rr in enumerate(rrs))
    readings = parser("heart_rate").feed(line, 7.0)
    assert readings is not None, line
    assert [r.kind for r in readings] == ["rr"] * len(rrs)
    assert [r.values["rr_ms"] for r in readings] == [float(rr) for rr in rrs]
    expected_hr = [float(hr) if hr is not None else round(60000.0 / float(rr), 1) for rr in rrs]
    assert [r.values["hr_bpm"] for r in readings] == expected_hr


@FUZZ
@given(hr=positive | positive_int | st.just("0"), sp=space)
def test_heart_rate_only_round_trip(hr: str, sp: str) -> None:
    assert parser("heart_rate").feed(f"HR{sp}{hr}", 1.0) == [DeviceReading("dev", 1.0, "hr", {"hr_bpm": float(hr)})]


@FUZZ
@given(rr=st.sampled_from(["0", "0.0", "-1", "-812", "+0"]), sp=space)
def test_heart_rate_unusable_rr_is_garbage(rr: str, sp: str) -> None:
    assert parser("heart_rate").feed(f"RR{sp}{rr}", 1.0) is None
    assert parser("heart_rate").feed(f"HR{sp}-1{sp}RR{sp}812", 1.0) is None


@FUZZ
@given(ok=st.booleans(), torque=signed, angle=st.none() | signed, sp=space)
def test_torque_round_trip(ok: bool, torque: str, angle: str | None, sp: str) -> None:
    word = "OK" if ok else "NOK"
    line = f"{word}{sp}{torque}" + ("" if angle is None else f"{sp}{angle}")
    values = {"ok": 1.0 if ok else 0.0, "torque_nm": float(torque)}
    if angle is not None:
        values["angle_deg"] = float(angle)
    assert parser("torque_tool").feed(line, 2.0) == [DeviceReading("dev", 2.0, "torque", values, word)]


@FUZZ
@given(number=st.integers(0, 10**9).map(str), sp=space,
       reason=st.text(st.characters(codec="ascii", categories=("L", "N", "P", "Zs")), max_size=40))
def test_pick_to_light_round_trip(number: str, sp: str, reason: str) -> None:
    p = parser("pick_to_light")
    assert p.feed(f"ACK{sp}{number}", 3.0) == [DeviceReading("dev", 3.0, "ack", {"bin": float(number)}, number)]
    assert p.feed("OK", 3.0) == []
    line = f"ERR {reason}"
    assert p.feed(line, 3.0) == [DeviceReading("dev", 3.0, "error", {}, reason.strip() or line)]
    assert parser("stack_light").feed(line, 3.0) == [DeviceReading("dev", 3.0, "error", {}, reason.strip() or line)]


@FUZZ
@given(kind=st.sampled_from(KEY_KINDS),
       key=st.none() | st.integers(0, 99).map(str) | st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
       held=st.floats(0, 20), long_press_s=st.floats(0.01, 10), sp=space)
def test_key_press_round_trip(kind: str, key: str | None, held: float, long_press_s: float, sp: str) -> None:
    p = parser(kind, long_press_s=long_press_s)
    name = key or "1"
    suffix = "" if key is None else f"{sp}{key}"
    values = {"key": float(name)} if name.isdigit() else {}
    assert p.feed("DOWN" + suffix, 100.0) == [DeviceReading("dev", 100.0, "press", values, name)]
    assert p.feed("DOWN" + suffix, 100.0) == []  # bounce: the same press
    up = p.feed("UP" + suffix, 100.0 + held)
    held_s = round((100.0 + held) - 100.0, 3)
    release = DeviceReading("dev", 100.0 + held, "release", {**values, "held_s": held_s}, name)
    if (100.0 + held) - 100.0 >= long_press_s:
        assert up == [DeviceReading("dev", 100.0 + held, "long_press", {**values, "held_s": held_s}, name), release]
    else:
        assert up == [release]
    # an UP without its DOWN is a release without held_s
    assert p.feed("UP" + suffix, 200.0) == [DeviceReading("dev", 200.0, "release", values, name)]


# ------------------------------------------------------------------ devices: bytes -> lines


@FUZZ
@given(chunks=st.lists(st.binary(max_size=400) | st.sampled_from([b"\r", b"\n", b"\r\n", b"\x00", b"\xff", b"x" * 300]),
                       max_size=12),
       encoding=st.sampled_from(["ascii", "utf-8", "latin-1"]))
def test_line_assembler_never_raises_and_emits_clean_lines(chunks: list[bytes], encoding: str) -> None:
    a = LineAssembler(encoding)
    noise = 0
    for i, chunk in enumerate(chunks):
        for line in a.feed(chunk, float(i)):
            if line is None:
                continue
            assert line and line == line.strip(), repr(line)
            assert "\r" not in line and "\n" not in line and len(line) <= MAX_LINE_CHARS
            assert not NOISE.search(line), repr(line)
        assert a.noise >= noise
        noise = a.noise
        assert len(a.partial) <= MAX_LINE_CHARS
    # a half line is dropped once no byte came for half_line_s
    had_partial = bool(a.partial)
    assert a.feed(b"", len(chunks) + a.half_line_s) == ([None] if had_partial else [])
    assert a.partial == ""


printable_line = st.text(st.characters(codec="ascii", min_codepoint=0x20, max_codepoint=0x7E), min_size=1,
                         max_size=MAX_LINE_CHARS).filter(lambda s: s.strip())


@FUZZ
@given(lines=st.lists(printable_line, max_size=8), ends=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=8,
       max_size=8), cuts=st.lists(st.integers(0, 3000), max_size=10))
def test_line_assembler_round_trip(lines: list[str], ends: list[str], cuts: list[int]) -> None:
    """Valid lines, any line ending, cut into arbitrary pieces: the same lines come out, stripped, in order."""
    data = "".join(line + end for line, end in zip(lines, ends)).encode("ascii")
    a = LineAssembler("ascii")
    out: list[str | None] = []
    start = 0
    for cut in sorted(c for c in cuts if c <= len(data)) + [len(data)]:
        out += a.feed(data[start:cut], 0.0)
        start = cut
    assert out == [line.strip() for line in lines]
    assert a.noise == 0


# ------------------------------------------------------------------ serial arm: reply classification


PROGRAMS = {"pick": ("pick.prg", 10.0)}


class FakePort:
    """A port that answers each write with the next canned reply (bytes), as a pyserial port would."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = deque(replies)
        self.buf = bytearray()
        self.written: list[bytes] = []

    @property
    def in_waiting(self) -> int:
        return len(self.buf)

    def read(self, n: int) -> bytes:
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def write(self, data: bytes) -> int:
        self.written.append(data)
        if self.replies:
            self.buf += self.replies.popleft()
        return len(data)

    def close(self) -> None:
        pass


def arm(replies: list[bytes], protocol: SerialProtocol | None = None) -> SerialArmDriver:
    drv = SerialArmDriver("loop://", PROGRAMS, protocol=protocol, command_timeout_s=0.02, idle_poll_s=None)
    drv._port = FakePort(replies)  # as if connect() had opened it
    drv._mode, drv._fault = "idle", ""
    return drv


def first_line(raw: bytes) -> bytes | None:
    """The reply line the driver takes from raw bytes (oracle: the first non-empty line, ended by \\n, \\r\\n
    or \\r; else the first 1024 bytes of an over-long unfinished line; else None: no reply in time)."""
    *complete, rest = re.split(rb"\r\n|\r|\n", raw)
    for piece in complete:
        if piece.strip():
            return piece.strip()
    return rest[:1024] if len(rest) > 1024 else None


status_replies = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(["IDLE", "RUNNING", "PAUSED", "DONE", "FAULT", "OK", "ERR", " ", "0.5", "1.2.3", ".",
                              "9" * 400, "\t", "\r", "\x00", "\u00e9", "b"]), max_size=8).map("".join),
)


@FUZZ
@given(reply=status_replies)
@example(reply="RUNNING .")
@example(reply="RUNNING " + "9" * 400)
@example(reply="FAULT   ")
def test_status_reply_is_classified_or_bad(reply: str) -> None:
    drv = arm([])
    try:
        kind, progress, reason = drv._parse_status(reply)
    except _BadReply as exc:
        assert repr(reply) in str(exc)  # names the line received
        assert not any(re.search(getattr(drv.protocol, k), reply) for k in STATUS_KINDS)
        return
    # the first pattern (in STATUS_KINDS order) that matches decides
    assert kind == next(k for k in STATUS_KINDS if re.search(getattr(drv.protocol, k), reply))
    assert progress is None or (kind == "running" and 0.0 <= progress <= 1.0)
    assert isinstance(reason, str) and (reason == "") == (kind != "fault")


@FUZZ
@given(progress=st.none() | st.decimals(min_value=0, max_value=1, places=4).map(number_text),
       word=st.sampled_from(STATUS_KINDS), reason=st.text(st.characters(codec="ascii", categories=("L", "N", "Zs")),
                                                          max_size=30))
def test_valid_status_reply_round_trip(progress: str | None, word: str, reason: str) -> None:
    drv = arm([])
    if word == "running":
        line = "RUNNING" if progress is None else f"RUNNING {progress}"
        assert drv._parse_status(line) == ("running", None if progress is None else float(progress), "")
    elif word == "fault":
        line = f"FAULT {reason}"
        assert drv._parse_status(line) == ("fault", None, reason.strip() or line)
    else:
        assert drv._parse_status(word.upper()) == (word, None, "")


reply_bytes = st.one_of(
    st.binary(max_size=300),
    status_replies.map(lambda s: s.encode("utf-8")),
    st.sampled_from([b"OK", b"OK\n", b"ERR busy\n", b"ERR\r\n", b"\n\n\rOK\r", b"PAUSE\n", b"\xffOK\n",
                     b"x" * 2000, b"OKAY\n", b"ERRx\n", b"RUNNING 0.42\n", b"RUNNING 1\r\n", b"IDLE\n", b"DONE\n",
                     b"FAULT gripper lost part\n", b"PAUSED\n", b"OK\nERR late\n"]),
).map(lambda b: b if b.endswith((b"\n", b"\r")) or len(b) > 1024 else b + b"\n")


@FUZZ
@given(replies=st.lists(reply_bytes, min_size=1, max_size=4))
def test_command_reply_is_accepted_refused_or_driver_error(replies: list[bytes]) -> None:
    """Any reply to PAUSE: it returns (an ok line), or raises DriverError; nothing else, and bad ones are counted."""
    drv = arm(list(replies))
    for raw in replies:
        if not drv.connected:
            break
        before = drv.bad_replies
        line = first_line(raw)
        try:
            drv._command("pause", "PAUSE", 1.0)
        except DriverError as exc:
            assert str(exc)
            text = None if line is None else line.decode("ascii", errors="replace")
            if text is not None and line.isascii() and text != "PAUSE" and re.search(r"^ERR\s*", text):
                event("refused")
                assert drv.bad_replies == before and "refused" in str(exc)  # a refusal is not a bad reply
                assert (text[3:].strip() or text) in str(exc)
            elif line is not None:
                event("bad reply")
                assert drv.bad_replies == before + 1
            else:
                event("no reply in time")
        else:
            event("accepted")
            assert line is not None and line.isascii() and re.search(r"^OK\b", line.decode("ascii"))
            assert drv.bad_replies == before
        assert drv.connected or drv.bad_replies >= BAD_REPLIES_BEFORE_DISCONNECT or line is None


valid_status_bytes = st.one_of(
    st.decimals(min_value=0, max_value=1, places=3).map(lambda d: f"RUNNING {number_text(d)}"),
    st.text(st.characters(codec="ascii", categories=("L", "N", "Zs")), max_size=20).map(lambda r: f"FAULT {r}"),
    st.sampled_from(["IDLE", "PAUSED", "DONE", "RUNNING"]),
).map(lambda line: line.encode("ascii") + b"\n")


@FUZZ
@given(replies=st.lists(reply_bytes | valid_status_bytes, min_size=1, max_size=4))
def test_status_poll_never_raises(replies: list[bytes]) -> None:
    drv = arm(list(replies))
    for i, raw in enumerate(replies):
        if not drv.connected:
            break
        drv._ask_status(float(i))
        st_ = drv._status(float(i))
        assert st_.mode in typing.get_args(RobotMode)
        assert 0.0 <= st_.progress <= 1.0
        line = first_line(raw)
        text = line.decode("ascii") if line is not None and line.isascii() else ""
        if re.fullmatch(r"RUNNING (0(\.\d+)?|1(\.0+)?)", text):
            event("running with progress")
            assert st_.mode == "running" and st_.progress == float(text.split()[1])
        elif re.fullmatch(r"FAULT (.*\S.*)", text):
            event("fault")
            assert st_.mode == "fault" and st_.fault == text[6:].strip()


def test_command_reply_classification_examples() -> None:
    """The properties above can fail: known replies, asserted in the same terms."""
    drv = arm([b"OK\n", b"ERR busy\n", b"PAUSE\n", b"\xff\n"])
    drv._command("pause", "PAUSE", 0.0)
    with pytest.raises(DriverError, match="refused pause: busy"):
        drv._command("pause", "PAUSE", 0.0)
    with pytest.raises(DriverError, match="came back as sent"):
        drv._command("pause", "PAUSE", 0.0)
    with pytest.raises(DriverError, match="not ascii text"):
        drv._command("pause", "PAUSE", 0.0)
    assert drv.bad_replies == 2
