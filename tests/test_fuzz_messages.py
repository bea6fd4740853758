"""Property tests (fuzzing) of the bus message decoder: whatever arrives, only MalformedMessage comes out.

``cell.messages.decode`` and ``decode_frames`` are the boundary every node reads the
bus through; ``cell.bus.malformed_reason`` and ``Subscriber`` count what they drop.
Hypothesis feeds them arbitrary bytes, arbitrary msgpack structures (with and without
the type tag of a real message), valid messages (which must survive the round trip)
and valid payloads under the wrong topic (which must be refused).
"""

from __future__ import annotations

import time
import typing

import msgspec
import pytest
import zmq
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cell.bus import Subscriber, malformed_reason
from cell.messages import (
    SCHEMA_VERSION,
    AnyMessage,
    DeviceEvent,
    EngineCommand,
    Fault,
    Heartbeat,
    MalformedMessage,
    Message,
    PoseFrame,
    StepState,
    TaskEvent,
    decode,
    decode_frames,
    encode,
    frames,
)

# No example database: the tests must not leave a .hypothesis folder in the repository.
FUZZ = settings(max_examples=200, deadline=None, database=None)

MESSAGE_CLASSES: tuple[type[Message], ...] = typing.get_args(AnyMessage)
TAGS = {cls.__struct_config__.tag: cls for cls in MESSAGE_CLASSES}
REASONS = {"frames", "payload", "topic"}


def literal_values(cls: type, field: str) -> tuple:
    """The allowed values of a Literal field, read from the class (so new values are fuzzed too)."""
    return typing.get_args(typing.get_type_hints(cls)[field])


# ------------------------------------------------------------------ strategies

int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
finite = st.floats(allow_nan=False)          # +-inf round-trip through msgpack; NaN != NaN
text = st.text(max_size=30)
opt_text = st.none() | text

any_scalar = st.none() | st.booleans() | int64 | st.floats() | st.text(max_size=20) | st.binary(max_size=20)
any_structure = st.recursive(
    any_scalar,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)

task_events = st.builds(
    TaskEvent, src=text, t=finite, kind=st.sampled_from(literal_values(TaskEvent, "kind")),
    zone=opt_text, quantity=int64, order_id=opt_text, step_id=opt_text,
    by=st.sampled_from(literal_values(TaskEvent, "by")), detail=text,
)
step_states = st.builds(
    StepState, src=text, t=finite, seq=int64, order_id=text, task_id=text, step_id=text,
    step_index=int64, step_count=int64, phase=st.sampled_from(literal_values(StepState, "phase")),
    assignee=st.sampled_from(literal_values(StepState, "assignee")), unit=int64, units_total=int64,
    paused=st.booleans(), pause_reason=text, help_requested=st.booleans(), errors=int64,
    order_done=st.booleans(), manual=text, help_coming=text,
)
faults = st.builds(
    Fault, src=text, t=finite, component=text,
    severity=st.sampled_from(literal_values(Fault, "severity")), text=text, cleared=st.booleans(),
)
engine_commands = st.builds(
    EngineCommand, src=text, t=finite, action=st.sampled_from(literal_values(EngineCommand, "action")),
    task_id=opt_text, quantity=int64, reason=text, by=text, operator_id=opt_text,
)
heartbeats = st.builds(
    Heartbeat, src=text, t=finite, seq=int64, status=text, simulated=st.booleans(), pid=int64,
    counters=st.dictionaries(text, int64, max_size=5),
)
device_events = st.builds(
    DeviceEvent, src=text, t=finite, device=text, kind=text,
    values=st.dictionaries(text, finite, max_size=5), text=text,
)
coords = st.lists(finite, min_size=99, max_size=99)
pose_frames = st.builds(
    PoseFrame, src=text, t=finite, frame=int64, operator_id=text, world=coords, image=coords,
    visibility=st.lists(finite, min_size=33, max_size=33),
    left_hand=st.none() | st.lists(finite, min_size=63, max_size=63),
    hands_bench_mm=st.dictionaries(st.sampled_from(["left", "right"]), st.tuples(finite, finite, finite)),
)
valid_messages = task_events | step_states | faults | engine_commands | heartbeats | device_events | pose_frames


def assert_decoded_or_malformed(payload: bytes, topic: str | None = None) -> Message | None:
    """decode() gives a current-schema message or raises MalformedMessage; nothing else."""
    try:
        msg = decode(payload, topic)
    except MalformedMessage as exc:
        assert str(exc)  # the receiver logs why it dropped the message
        return None
    assert isinstance(msg, MESSAGE_CLASSES)
    assert msg.v == SCHEMA_VERSION
    if topic is not None:
        assert msg.topic() == topic
    # what was accepted is a real message: it encodes again, to the same bytes after another trip
    again = encode(msg)
    assert encode(decode(again, msg.topic())) == again
    return msg


# ------------------------------------------------------------------ (a) arbitrary bytes and frames


@FUZZ
@given(payload=st.binary(max_size=300), topic=st.none() | st.text(max_size=30))
def test_arbitrary_bytes_decode_or_raise_malformed(payload: bytes, topic: str | None) -> None:
    assert_decoded_or_malformed(payload, topic)


@FUZZ
@given(parts=st.lists(st.binary(max_size=100), max_size=4))
def test_arbitrary_frame_lists_decode_or_raise_malformed(parts: list[bytes]) -> None:
    try:
        msg = decode_frames(parts)
    except MalformedMessage:
        reason = malformed_reason(parts)
        assert reason in REASONS
        assert (reason == "frames") == (len(parts) != 2)
        return
    assert len(parts) == 2 and isinstance(msg, MESSAGE_CLASSES) and msg.v == SCHEMA_VERSION
    assert parts[0] == msg.topic().encode()


@FUZZ
@given(parts=st.lists(st.binary(max_size=100), max_size=4) | st.lists(st.text(max_size=20).map(str.encode), max_size=4))
def test_malformed_reason_never_raises(parts: list[bytes]) -> None:
    assert malformed_reason(parts) in REASONS


# ------------------------------------------------------------------ (b) arbitrary msgpack structures


@FUZZ
@given(value=any_structure)
def test_arbitrary_msgpack_structure_decodes_or_raises_malformed(value) -> None:
    assert_decoded_or_malformed(msgspec.msgpack.encode(value))


@FUZZ
@given(
    tag=st.sampled_from(sorted(TAGS)),
    base=st.fixed_dictionaries({}, optional={"src": st.text(max_size=10) | any_structure,
                                             "t": st.floats() | any_structure}),
    fields=st.dictionaries(
        st.sampled_from(["src", "t", "v", "seq", "kind", "text", "component", "severity", "action", "device",
                         "values", "counters", "frame", "world", "step", "quantity"]) | st.text(max_size=8),
        any_structure, max_size=8,
    ),
)
def test_tagged_structure_decodes_to_its_class_or_raises_malformed(tag: str, base: dict, fields: dict) -> None:
    msg = assert_decoded_or_malformed(msgspec.msgpack.encode({**fields, **base, "type": tag}))
    if msg is not None:
        assert type(msg) is TAGS[tag]


@FUZZ
@given(msg=valid_messages, data=st.data())
def test_mutated_valid_message_decodes_to_its_class_or_raises_malformed(msg: Message, data) -> None:
    """A real message with some fields removed or replaced by anything (the tag kept)."""
    fields = msgspec.to_builtins(msg)
    names = sorted(k for k in fields if k != "type")
    for name in data.draw(st.lists(st.sampled_from(names), unique=True, max_size=4)):
        if data.draw(st.booleans()):
            del fields[name]
        else:
            fields[name] = data.draw(any_structure)
    topic = data.draw(st.none() | st.just(msg.topic()))
    decoded = assert_decoded_or_malformed(msgspec.msgpack.encode(fields), topic)
    if decoded is not None:
        assert type(decoded) is type(msg)


def test_known_bad_payloads_are_malformed() -> None:
    """The property can fail: these must all be refused (not decoded, not crash)."""
    beat = Heartbeat(src="x", t=0.0, seq=1)
    for payload in (b"", b"\xc1", b"\x00garbage", msgspec.msgpack.encode({"type": "NoSuchMessage", "src": "x", "t": 0}),
                    msgspec.msgpack.encode({**msgspec.to_builtins(beat), "seq": "one"}),
                    msgspec.msgpack.encode({**msgspec.to_builtins(beat), "v": SCHEMA_VERSION + 1})):
        with pytest.raises(MalformedMessage):
            decode(payload)


# ------------------------------------------------------------------ (c) round trip


@FUZZ
@given(msg=valid_messages)
def test_valid_message_round_trips(msg: Message) -> None:
    assert msg.v == SCHEMA_VERSION
    back = decode(encode(msg), msg.topic())
    assert type(back) is type(msg) and back == msg
    parts = frames(msg)
    assert parts[0] == msg.topic().encode()
    back = decode_frames(parts)
    assert type(back) is type(msg) and back == msg


@FUZZ
@given(msg=valid_messages, version=int64.filter(lambda v: v != SCHEMA_VERSION))
def test_other_schema_version_is_malformed(msg: Message, version: int) -> None:
    payload = encode(msgspec.structs.replace(msg, v=version))
    with pytest.raises(MalformedMessage, match="schema version"):
        decode(payload, msg.topic())


# ------------------------------------------------------------------ (d) wrong topic


@FUZZ
@given(msg=valid_messages,
       topic=st.text(max_size=30) | st.sampled_from([cls.TOPIC for cls in MESSAGE_CLASSES]))
def test_valid_payload_on_wrong_topic_is_refused(msg: Message, topic: str) -> None:
    assume(topic != msg.topic())
    payload = encode(msg)
    with pytest.raises(MalformedMessage, match="does not carry"):
        decode(payload, topic)
    parts = [topic.encode(), payload]
    with pytest.raises(MalformedMessage):
        decode_frames(parts)
    assert malformed_reason(parts) == "topic"


@FUZZ
@given(msg=valid_messages, topic=st.binary(min_size=1, max_size=30))
def test_valid_payload_on_undecodable_topic_is_refused(msg: Message, topic: bytes) -> None:
    assume(topic != msg.topic().encode())
    parts = [topic, encode(msg)]
    with pytest.raises(MalformedMessage):
        decode_frames(parts)
    assert malformed_reason(parts) == "topic"


# ------------------------------------------------------------------ Subscriber counting


@pytest.fixture(scope="module")
def pub_sub():
    """A raw PUB socket and a Subscriber on it (inproc, no proxy), subscription settled."""
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind("inproc://fuzz-messages")
    sub = Subscriber(ctx, "inproc://fuzz-messages", [""])
    probe = Heartbeat(src="probe", t=0.0, seq=0)
    deadline = time.monotonic() + 5
    while sub.recv(20) != probe:
        assert time.monotonic() < deadline, "the subscriber never got the probe"
        pub.send_multipart(frames(probe))
    while sub.recv(50) is not None:  # drain extra probes
        pass
    yield pub, sub
    sub.close()
    pub.close(0)
    ctx.term()


@settings(FUZZ, max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.binary(max_size=60), min_size=1, max_size=4)
       | valid_messages.map(frames)
       | st.tuples(st.binary(max_size=20), valid_messages.map(encode)).map(list))
def test_subscriber_counts_every_malformed_message_and_never_raises(pub_sub, parts: list[bytes]) -> None:
    pub, sub = pub_sub
    before, reasons_before = sub.malformed, dict(sub.malformed_reasons)
    received_before = sub.received
    sentinel = Heartbeat(src="sentinel", t=float(received_before), seq=received_before)
    pub.send_multipart(parts)
    pub.send_multipart(frames(sentinel))
    try:
        expected = decode_frames(parts)
    except MalformedMessage:
        expected = None
    got = sub.recv(2000)
    if expected is not None:
        assert got == expected
        got = sub.recv(2000)
        assert sub.malformed == before
    else:
        reason = malformed_reason(parts)
        assert sub.malformed == before + 1
        assert sub.malformed_reasons.get(reason, 0) == reasons_before.get(reason, 0) + 1
        assert reason in sub.last_errors
    assert got == sentinel
    assert sum(sub.malformed_reasons.values()) == sub.malformed
