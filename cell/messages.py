"""Every message that travels on the cell bus, declared once.

A message is a typed, versioned msgspec struct. On the wire it is two ZeroMQ
frames: the dotted topic (``pose.frame``, ``step.state``, ``heartbeat.engine``)
and the msgpack-encoded struct, tagged with its type name. ``decode`` checks
the tag, the schema version, every field type and that the topic belongs to
the type; anything else raises ``MalformedMessage`` so the receiver can count
and drop it.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Union

import msgspec

SCHEMA_VERSION = 1

Assignee = Literal["operator", "cobot"]
StepPhase = Literal["pending", "active", "verifying", "done"]
RobotMode = Literal["disconnected", "idle", "running", "paused", "fault", "stopped"]


class MalformedMessage(ValueError):
    """A frame that is not a valid message of the current schema."""


class Message(msgspec.Struct, tag_field="type", frozen=True, kw_only=True):
    """Base of all messages: source node, monotonic source timestamp, schema version."""

    TOPIC: ClassVar[str] = ""
    src: str
    t: float
    v: int = SCHEMA_VERSION

    def topic(self) -> str:
        return self.TOPIC


class Heartbeat(Message, frozen=True, kw_only=True):
    """A node says it is alive, what it is (simulated or real) and what it counted."""

    TOPIC: ClassVar[str] = "heartbeat"
    seq: int
    status: str = "ok"
    simulated: bool = False
    pid: int = 0
    counters: dict[str, int] = {}

    def topic(self) -> str:
        return f"heartbeat.{self.src}"


class LogRecord(Message, frozen=True, kw_only=True):
    """A log line travelling on the bus (Pupil style), so any client can tap it."""

    TOPIC: ClassVar[str] = "log"
    level: Literal["debug", "info", "warning", "error"]
    text: str

    def topic(self) -> str:
        return f"log.{self.level}"


class PoseFrame(Message, frozen=True, kw_only=True):
    """Body landmarks of one camera frame in MediaPipe format.

    ``world`` is 33×3 metres (hip-centred, +x operator's left, +y down,
    +z away from the camera) flattened; ``image`` is 33×3 normalised image
    coordinates; ``visibility`` 33 values in 0..1. Hands, when seen, are
    21×3 each in the world frame; ``hands_bench_mm`` gives each seen hand's
    position on the bench in millimetres.
    """

    TOPIC: ClassVar[str] = "pose.frame"
    frame: int
    operator_id: str
    world: list[float]
    image: list[float]
    visibility: list[float]
    left_hand: list[float] | None = None
    right_hand: list[float] | None = None
    hands_bench_mm: dict[str, tuple[float, float, float]] = {}
    simulated: bool = False

    def __post_init__(self) -> None:
        if len(self.world) != 99 or len(self.image) != 99 or len(self.visibility) != 33:
            raise ValueError("a pose frame has 33 landmarks (99 coordinates, 33 visibilities)")
        for hand in (self.left_hand, self.right_hand):
            if hand is not None and len(hand) != 63:
                raise ValueError("a hand has 21 landmarks (63 coordinates)")
        for side in self.hands_bench_mm:
            if side not in ("left", "right"):
                raise ValueError("hands_bench_mm keys are 'left' and 'right'")


class ErgonomicScore(Message, frozen=True, kw_only=True):
    """RULA and REBA of one frame (the worse side wins), with the body-part scores and confidence."""

    TOPIC: ClassVar[str] = "ergo.score"
    operator_id: str
    rula_grand: int
    rula_action_level: int
    rula_left: int
    rula_right: int
    confidence: float
    step_id: str | None = None
    reba_score: int = 0
    reba_action_level: int = 0
    parts: dict[str, int] = {}        # RULA body-part scores of the worse side: upper_arm, neck, trunk, ...


class ExposureSummary(Message, frozen=True, kw_only=True):
    """Exposure over a window: time per action level, EN 1005-4 arm elevation, static and repeated work."""

    TOPIC: ClassVar[str] = "ergo.exposure"
    operator_id: str
    window_s: float
    rula_al_pct: dict[str, float] = {}        # "1".."4" -> % of time
    reba_al_pct: dict[str, float] = {}        # "0".."4" -> % of time
    arm_elevation_pct: dict[str, float] = {}  # "left.0-20", "left.20-60", "left.>60", ... -> % of time
    arm_elevation_per_min: dict[str, float] = {}
    static_postures: int = 0
    static_s: float = 0.0
    repetitions_per_min: float = 0.0
    mean_grand: float = 0.0
    peak_grand: int = 0
    confidence: float = 0.0


class FatigueState(Message, frozen=True, kw_only=True):
    """Per body region: how much of the muscles' capacity is fatigued (%), from the posture and load stream."""

    TOPIC: ClassVar[str] = "ergo.fatigue"
    operator_id: str
    fatigued_pct: dict[str, float] = {}


class StressEstimate(Message, frozen=True, kw_only=True):
    """Mental strain index 0..1 with how sure we are and what drove it."""

    TOPIC: ClassVar[str] = "stress.estimate"
    operator_id: str
    index: float
    confidence: float
    contributions: dict[str, float] = {}
    explanation: str = ""              # plain language for the job coach
    method: str = "rules"


class TaskEvent(Message, frozen=True, kw_only=True):
    """Something happened at the bench: a pick, a place, a button, a wrong pick, help."""

    TOPIC: ClassVar[str] = "task.event"
    kind: Literal[
        "pick", "place", "press", "confirm", "wrong_pick", "part_present",
        "help", "help_cleared", "pause", "resume", "device",
    ]
    zone: str | None = None
    quantity: int = 1
    order_id: str | None = None
    step_id: str | None = None
    by: Assignee = "operator"
    detail: str = ""


class StepState(Message, frozen=True, kw_only=True):
    """Where the work order stands: the current step, its phase, who does it.

    ``seq`` counts every state the engine has published, across restarts, so
    a gap in the log shows a lost event.
    """

    TOPIC: ClassVar[str] = "step.state"
    seq: int
    order_id: str
    task_id: str
    step_id: str
    step_index: int
    step_count: int
    phase: StepPhase
    assignee: Assignee
    unit: int
    units_total: int
    paused: bool = False
    pause_reason: str = ""
    help_requested: bool = False
    errors: int = 0
    order_done: bool = False
    manual: str = ""     # why steps are confirmed by hand (a button, the pedal, a key) instead of seen: the camera is lost
    help_coming: str = ""  # who answered the help call ("on my way", from the job coach's page); empty: nobody yet


class Allocation(Message, frozen=True, kw_only=True):
    """Who does a step, by which policy, and why (in words a job coach reads)."""

    TOPIC: ClassVar[str] = "alloc.decision"
    order_id: str
    step_id: str
    unit: int
    assignee: Assignee
    policy: str
    reason: str
    reassigned: bool = False


class RobotCommand(Message, frozen=True, kw_only=True):
    """A command to the robot bridge (sent on ROUTER/DEALER, answered by RobotReply)."""

    TOPIC: ClassVar[str] = "robot.command"
    cmd_id: str
    action: Literal["run", "pause", "resume", "stop", "status"]
    step_id: str | None = None
    program: str | None = None


class RobotReply(Message, frozen=True, kw_only=True):
    """The robot bridge's answer to one RobotCommand."""

    TOPIC: ClassVar[str] = "robot.reply"
    cmd_id: str
    ok: bool
    error: str = ""


class RobotStatus(Message, frozen=True, kw_only=True):
    """The cobot's mode, the step it works on and any fault."""

    TOPIC: ClassVar[str] = "robot.status"
    mode: RobotMode
    step_id: str | None = None
    program: str | None = None
    run_id: str | None = None      # cmd_id of the run in progress, or of the last one
    finished: bool = False         # the run named by run_id has finished
    progress: float = 0.0
    fault: str = ""
    simulated: bool = False


class DeviceEvent(Message, frozen=True, kw_only=True):
    """An event from a bench device (pedal, button box, wearable, torque tool)."""

    TOPIC: ClassVar[str] = "device.event"
    device: str
    kind: str
    values: dict[str, float] = {}
    text: str = ""


class Fault(Message, frozen=True, kw_only=True):
    """A component lost or failed; the engine pauses on safety-relevant ones."""

    TOPIC: ClassVar[str] = "fault"
    component: str
    severity: Literal["info", "warning", "pause", "critical"]
    text: str
    cleared: bool = False

    def topic(self) -> str:
        return f"fault.{self.component}"


class EngineCommand(Message, frozen=True, kw_only=True):
    """A request to the engine: start an order, pause, resume, snapshot; ``backlog``: what it published
    after ``after_seq`` (answered with a Backlog, for the event log to fill a gap)."""

    TOPIC: ClassVar[str] = "engine.command"
    action: Literal["start_order", "pause", "resume", "help", "help_ack", "clear_help", "reload_operator",
                    "snapshot", "backlog"]
    task_id: str | None = None
    quantity: int = 1
    reason: str = ""
    by: str = ""                    # who asked (a job coach's display name, from the coach's page)
    operator_id: str | None = None  # reload_operator: whose profile changed in the cell file
    after_seq: int = 0              # backlog: everything published after the StepState with this seq


class OperatorChanged(Message, frozen=True, kw_only=True):
    """The engine works with a new version of the operator's profile from this order on.

    Sent when a changed profile (a job coach applied an adaptation) takes effect: at the start
    of the next work order, never in the middle of one. Nodes that show or track the operator's
    steps reload the profile from the cell file when they hear it.
    """

    TOPIC: ClassVar[str] = "operator.profile"
    operator_id: str
    order_id: str = ""   # the first work order done with it ("" when no order was open)
    by: str = ""


class Snapshot(Message, frozen=True, kw_only=True):
    """Current state for a late joiner: step, allocation, robot mode."""

    TOPIC: ClassVar[str] = "engine.snapshot"
    step: StepState | None = None
    cobot_step: StepState | None = None  # what the cobot does meanwhile, when it works in parallel
    allocation: Allocation | None = None
    robot: RobotStatus | None = None
    orders_done: int = 0


class Backlog(Message, frozen=True, kw_only=True):
    """The engine's answer to ``backlog``: what it published after the StepState ``after_seq``.

    ``messages`` are the encoded messages (step states, allocations, robot commands, profile
    changes) in the order they went out. The engine keeps its recent output (in memory, and what
    the event log has not confirmed also in its saved state) from the StepState ``oldest_seq`` on
    (0: nothing kept); what is older than that cannot be had again.
    """

    TOPIC: ClassVar[str] = "engine.backlog"
    after_seq: int
    oldest_seq: int = 0
    latest_seq: int = 0
    messages: list[bytes] = []


AnyMessage = Union[
    Heartbeat, LogRecord, PoseFrame, ErgonomicScore, ExposureSummary, FatigueState, StressEstimate, TaskEvent,
    StepState, Allocation, RobotCommand, RobotReply, RobotStatus, DeviceEvent,
    Fault, EngineCommand, Snapshot, OperatorChanged, Backlog,
]

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(AnyMessage)


def encode(msg: Message) -> bytes:
    """The msgpack payload of a message (the topic travels in its own frame)."""
    return _encoder.encode(msg)


def frames(msg: Message) -> list[bytes]:
    """The two ZeroMQ frames of a published message: topic, payload."""
    return [msg.topic().encode(), _encoder.encode(msg)]


def decode(payload: bytes, topic: str | None = None) -> AnyMessage:
    """Decode and validate one payload; raise MalformedMessage on anything wrong."""
    try:
        msg = _decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError) as exc:
        raise MalformedMessage(str(exc)) from None
    if msg.v != SCHEMA_VERSION:
        raise MalformedMessage(f"schema version {msg.v}, this node speaks {SCHEMA_VERSION}")
    if topic is not None and topic != msg.topic():
        raise MalformedMessage(f"topic {topic!r} does not carry {type(msg).__name__}")
    return msg


def decode_frames(parts: list[bytes]) -> AnyMessage:
    """Decode a received [topic, payload] multipart message."""
    if len(parts) != 2:
        raise MalformedMessage(f"expected 2 frames (topic, payload), got {len(parts)}")
    try:
        topic = parts[0].decode()
    except UnicodeDecodeError:
        raise MalformedMessage("topic is not UTF-8") from None
    return decode(parts[1], topic)
