"""The cell configuration: one pydantic model per YAML section, read like the YAML.

Geometry is in bench millimetres: origin at the bench's front-left corner as
the operator sees it, +x to the operator's right, +y away from the operator.
Every model forbids unknown keys, so a typo is an error and not a silent
default. Cross-references (a step naming a zone, a robot program naming a
step) are checked in ``cell.config_checks`` after the models validate; the
loader in ``cell.config_loader`` ties every error to its file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", min_length=1, max_length=64)]
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2}$")]
Text = dict[LanguageCode, str]  # one text per language: {nl: "...", en: "..."}


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CellInfo(Model):
    id: Id
    name: str
    language: LanguageCode = "nl"
    site: str = ""


class Bench(Model):
    width_mm: float = Field(gt=0, le=5000)
    depth_mm: float = Field(gt=0, le=3000)
    height_mm: float = Field(default=900, gt=300, le=1400, description="bench top above the floor")


class Rect(Model):
    x: float
    y: float
    w: float = Field(gt=0)
    h: float = Field(gt=0)


ZoneKind = Literal["bin", "fixture", "button", "cobot_area", "keep_out", "tray"]


class Zone(Model):
    id: Id
    kind: ZoneKind
    rect: Rect | None = None
    polygon: list[tuple[float, float]] | None = Field(default=None, min_length=3)
    left_rect: Rect | None = Field(default=None, description="where the zone is for a left-handed operator "
                                   "(a mirrored layout); the projector uses it for profiles with handedness: left")
    label: Union[str, Text] = Field(default="", description="drawn on the bench: one text, or one per language "
                                    "({nl: lampmal, fr: gabarit, en: lamp fixture})")
    part: str | None = None
    count: int | None = Field(default=None, ge=0)
    height_mm: float = Field(default=0, ge=0, le=1500, description="top of the zone above the bench")
    button: Literal["step", "help"] = Field(default="step", description="a button zone: 'step' acts on or confirms "
                                            "the current step; 'help' calls the job coach")

    @model_validator(mode="after")
    def _one_shape(self) -> "Zone":
        if (self.rect is None) == (self.polygon is None):
            raise ValueError("a zone has exactly one of 'rect' or 'polygon'")
        return self

    def label_in(self, language: str, fallback: str = "en") -> str:
        """The label in this language (else the fallback language, else any)."""
        if isinstance(self.label, str):
            return self.label
        return self.label.get(language) or self.label.get(fallback) or next(iter(self.label.values()), "")

    def points(self) -> list[tuple[float, float]]:
        if self.polygon is not None:
            return list(self.polygon)
        r = self.rect
        assert r is not None
        return [(r.x, r.y), (r.x + r.w, r.y), (r.x + r.w, r.y + r.h), (r.x, r.y + r.h)]

    def centre(self) -> tuple[float, float]:
        pts = self.points()
        return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))


class BenchMarker(Model):
    """An ArUco marker fixed on the bench at a known place: ties the camera image to bench millimetres."""

    id: int = Field(ge=0, le=999, description="ArUco id (DICT_4X4_1000 unless the calibration says otherwise)")
    x_mm: float = Field(description="centre of the marker, bench mm")
    y_mm: float
    size_mm: float = Field(default=50, gt=0, le=500, description="side of the black square")


class Camera(Model):
    source: Union[Literal["sim"], int, str] = "sim"
    fps: float = Field(default=30, gt=0, le=120)
    resolution: tuple[int, int] = (1280, 720)
    calibration: Path | None = None
    bench_markers: list[BenchMarker] = Field(default_factory=list, description="at least 4 markers at known "
                                             "bench positions, for the camera-to-bench calibration")


class OnnxPose(Model):
    """A pose model the integrator brings, run through onnxruntime (no download: the file is local)."""

    model: Path = Field(description="the .onnx file, relative to this YAML")
    input_size: tuple[int, int] = Field(default=(192, 256), description="width, height the model takes")
    layout: Literal["nchw", "nhwc"] = "nchw"
    color: Literal["rgb", "bgr"] = "rgb"
    mean: tuple[float, float, float] = Field(default=(0.0, 0.0, 0.0), description="subtracted per channel, "
                                             "in 0..255 pixel units")
    std: tuple[float, float, float] = Field(default=(255.0, 255.0, 255.0), description="divided per channel, "
                                            "after the mean")
    output: Literal["heatmap", "simcc", "keypoints"] = Field(
        description="heatmap: (1, K, H, W); simcc: two outputs (1, K, W*r) and (1, K, H*r); "
                    "keypoints: (1, K, 3) x, y, score (or (1, K, 4) x, y, z, score)")
    keypoints: Literal["coco17", "mediapipe33"] = Field(default="coco17", description="the order of the K points")
    keypoint_units: Literal["pixels", "normalised"] = Field(default="pixels", description="keypoints output: "
                                                            "x, y in model-input pixels or 0..1")
    simcc_split_ratio: float = Field(default=2.0, gt=0, le=10)
    min_score: float = Field(default=0.3, ge=0, le=1, description="a point below this score counts as not seen")


class PartCheck(Model):
    """Is the part in the fixture? The camera's view of the zone against reference photos (or a classifier)."""

    zone: Id = Field(description="the fixture zone to look at")
    empty_image: Path | None = Field(default=None, description="camera photo with the fixture empty")
    filled_image: Path | None = Field(default=None, description="camera photo with the part in the fixture")
    classifier: Path | None = Field(default=None, description="an .onnx image classifier instead of the photos")
    classifier_input: tuple[int, int] = Field(default=(64, 64), description="width, height the classifier takes")
    filled_class: int = Field(default=1, ge=0, description="classifier output index meaning 'part present'")
    min_margin: float = Field(default=0.15, ge=0, le=1, description="how much closer to one reference than "
                              "the other before the check decides; below it the answer is 'unsure'")
    settle_s: float = Field(default=0.5, ge=0, le=10, description="the answer must hold this long, hands "
                            "out of the zone")

    @model_validator(mode="after")
    def _needs(self) -> "PartCheck":
        if self.classifier is None and (self.empty_image is None or self.filled_image is None):
            raise ValueError("a part check needs both 'empty_image' and 'filled_image', or a 'classifier'")
        return self


class Vision(Model):
    """From camera frames to landmarks and task events."""

    backend: Literal["mediapipe", "onnx"] = "mediapipe"
    model_complexity: Literal[0, 1, 2] = Field(default=1, description="MediaPipe pose: 0 fast .. 2 accurate")
    hands: bool = Field(default=True, description="run the hand model too (finer hand positions)")
    min_visibility: float = Field(default=0.5, ge=0, le=1)
    onnx: OnnxPose | None = None
    part_checks: list[PartCheck] = Field(default_factory=list)
    debug_frames: bool = Field(default=False, description="write annotated frames to debug_dir; the bench and "
                               "the log say so while it is on. Off by default: no video is stored")
    debug_dir: Path = Path("data/debug-frames")

    @model_validator(mode="after")
    def _needs(self) -> "Vision":
        if self.backend == "onnx" and self.onnx is None:
            raise ValueError("backend 'onnx' needs an 'onnx' section (model, output, ...)")
        return self


class Projector(Model):
    display: int = Field(default=0, ge=0)
    resolution: tuple[int, int] = (1280, 800)
    fullscreen: bool = True
    calibration: Path | None = None
    fps: float = Field(default=20, gt=0, le=60)
    max_residual_mm: float = Field(default=0.5, gt=0, le=50, description="a calibration with a larger mean "
                                   "error on the bench is refused")


class RobotProgram(Model):
    program: str = Field(min_length=1, description="program on the controller, e.g. screw_cover.urp")
    duration_s: float = Field(default=10, gt=0, description="expected run time (the simulated cobot uses it)")


class SerialProtocol(Model):
    """The line protocol of a simple serial arm or gripper: what to send, what comes back.

    ``{program}`` in ``run`` is replaced by the step's program. Replies are
    matched as regular expressions against one received line.
    """

    line_ending: Literal["\n", "\r\n", "\r"] = "\n"
    encoding: str = "ascii"
    run: str = Field(default="RUN {program}", min_length=1)
    pause: str = Field(default="PAUSE", min_length=1)
    resume: str = Field(default="RESUME", min_length=1)
    stop: str = Field(default="STOP", min_length=1)
    status: str = Field(default="STATUS?", min_length=1)
    hello: str | None = Field(default="ID?", description="sent on connect; the reply is the device's description")
    ok: str = Field(default=r"^OK\b", description="regex: the command was accepted")
    error: str = Field(default=r"^ERR\s*(?P<reason>.*)$", description="regex: refused; group 'reason' says why")
    # status replies (regex, matched in this order)
    idle: str = r"^IDLE\b"
    running: str = r"^RUNNING\b(?:\s+(?P<progress>[0-9.]+))?"
    paused: str = r"^PAUSED\b"
    done: str = r"^DONE\b"
    fault: str = r"^FAULT\s*(?P<reason>.*)$"
    poll_s: float = Field(default=0.2, gt=0, le=10, description="how often status is asked while a program runs")


class Robot(Model):
    driver: Literal["sim", "ur", "serial"] = "sim"
    name: str = "cobot"
    host: str = "127.0.0.1"
    dashboard_port: int = Field(default=29999, ge=1, le=65535)
    rtde_port: int = Field(default=30004, ge=1, le=65535, description="RTDE (live robot state); UR only")
    use_rtde: bool = Field(default=True, description="read live robot state over RTDE (UR only)")
    serial_url: str | None = Field(default=None, description="pyserial URL of a serial arm or gripper")
    baudrate: int = 115200
    serial: SerialProtocol = Field(default_factory=SerialProtocol)
    command_timeout_s: float = Field(default=2.0, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0, description="longest wait between reconnect attempts")
    emulated: bool = Field(default=False, description="the controller is the project's emulator (UR or serial): "
                           "status and logs say simulated (set by `cell demo --robot ur-emulated`)")
    programs: dict[Id, RobotProgram] = Field(default_factory=dict, description="step id -> program")


class DeviceProtocol(Model):
    """A bench device's line protocol where vendors differ (docs/devices.md has each kind's defaults).

    ``patterns``: what the device sends, event -> regular expression (named groups carry the
    values); ``commands``: what it is sent, command -> template with ``{fields}``. Only the
    entries given replace the kind's defaults."""

    line_ending: Literal["\n", "\r\n", "\r"] = "\n"
    encoding: str = "ascii"
    patterns: dict[str, str] = Field(default_factory=dict)
    commands: dict[str, str] = Field(default_factory=dict)


DeviceKind = Literal["button_box", "pedal", "stack_light", "pick_to_light", "heart_rate", "torque_tool"]


class Device(Model):
    id: Id
    kind: DeviceKind
    url: str = Field(min_length=1, description="pyserial URL: /dev/ttyUSB0, socket://host:port, loop://")
    baudrate: int = Field(default=9600, gt=0)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    timeout_s: float = Field(default=0.2, gt=0, description="read timeout")
    reconnect_max_s: float = Field(default=10.0, gt=0, description="longest wait between reopen attempts")
    protocol: DeviceProtocol = Field(default_factory=DeviceProtocol)
    keys: dict[str, Literal["confirm", "help", "pause", "resume"]] = Field(
        default_factory=dict, description="button box / pedal: key name -> what pressing it does "
                                          "(default: every key confirms)")
    long_press_s: float = Field(default=1.0, gt=0, le=10, description="held this long: a long press")
    bins: dict[Id, int] = Field(default_factory=dict, description="pick-to-light: zone id -> the light's number")


class Pick(Model):
    zone: Id
    quantity: int = Field(default=1, ge=1, le=50)


class Place(Model):
    zone: Id


VerifyBy = Literal["hand_in_zone", "button", "device", "part_present", "timer", "robot"]


class Verify(Model):
    by: VerifyBy = "hand_in_zone"
    zone: Id | None = None
    device: Id | None = None
    event: str | None = None
    seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _needs(self) -> "Verify":
        if self.by == "timer" and self.seconds is None:
            raise ValueError("verify by 'timer' needs 'seconds'")
        if self.by == "device" and self.device is None:
            raise ValueError("verify by 'device' needs 'device' (a device id)")
        if self.by == "button" and self.zone is None:
            raise ValueError("verify by 'button' needs 'zone' (a button zone id)")
        return self


class Lift(Model):
    """Where a load is lifted from and to, for the revised NIOSH lifting equation (cm, degrees)."""

    h_cm: float = Field(gt=0, le=100, description="hands to the midpoint between the ankles, horizontally")
    v_origin_cm: float = Field(ge=0, le=200, description="hand height above the floor at the start")
    v_destination_cm: float = Field(ge=0, le=200, description="hand height above the floor at the end")
    a_deg: float = Field(default=0, ge=0, le=180, description="asymmetry (trunk twist) angle")
    frequency_per_min: float | None = Field(default=None, gt=0, le=20,
                                            description="lifts per minute; default: from the measured cycle time")
    duration_h: float = Field(default=8, gt=0, le=8, description="how long this lifting goes on in a row")


class PostureProfile(Model):
    reach: Literal["near", "normal", "far", "high", "overhead", "low"] = "normal"
    hold_s: float = Field(default=0, ge=0, description="how long the part is held still")
    two_handed: bool = False
    repetitions: int = Field(default=1, ge=1, description="movements per step (e.g. screws)")


StepAction = Literal["pick", "place", "pick_place", "press", "confirm", "cobot"]


class Step(Model):
    id: Id
    title: Text
    instruction: Text
    pictogram: str = "confirm"
    action: StepAction
    pick: Pick | None = None
    place: Place | None = None
    press: Id | None = None
    highlight: list[Id] = Field(default_factory=list)
    verify: Verify = Field(default_factory=Verify)
    who: Literal["operator", "cobot", "both"] = "operator"
    plan: Literal["operator", "cobot"] | None = Field(
        default=None, description="for who: both, who does it by plan (default: allocation.both_default)")
    target_time_s: float = Field(default=10, gt=0, le=3600)
    load_kg: float = Field(default=0, ge=0, le=50)
    coupling: Literal["good", "fair", "poor", "unacceptable"] = Field(
        default="good", description="grip on the load (REBA coupling, NIOSH coupling)")
    lift: Lift | None = None
    posture: PostureProfile = Field(default_factory=PostureProfile)
    after: list[Id] | None = Field(
        default=None, description="steps of the same unit that must be done first (default: the step before; "
                                  "[] for none, so it can run in parallel with earlier steps)")

    @model_validator(mode="after")
    def _action_fields(self) -> "Step":
        need = {
            "pick": ("pick",), "place": ("place",), "pick_place": ("pick", "place"),
            "press": ("press",), "confirm": (), "cobot": (),
        }[self.action]
        for name in need:
            if getattr(self, name) is None:
                raise ValueError(f"action '{self.action}' needs '{name}'")
        if self.action == "cobot" and self.who != "cobot":
            raise ValueError("action 'cobot' is cobot-only: set who: cobot")
        return self

    def zones(self) -> list[str]:
        """Every zone this step refers to."""
        ids = list(self.highlight)
        if self.pick:
            ids.append(self.pick.zone)
        if self.place:
            ids.append(self.place.zone)
        if self.press:
            ids.append(self.press)
        if self.verify.zone:
            ids.append(self.verify.zone)
        return ids

    def text(self, field: Text, language: str, fallback: str) -> str:
        return field.get(language) or field.get(fallback) or next(iter(field.values()), "")


class Task(Model):
    id: Id
    name: Text
    steps: list[Step] = Field(min_length=1)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def predecessors(self) -> list[tuple[int, ...]]:
        """For each step (by index), the indices of the steps of the unit that must be done first."""
        index = {s.id: i for i, s in enumerate(self.steps)}
        return [(tuple(index[a] for a in s.after if a in index) if s.after is not None else ((i - 1,) if i else ()))
                for i, s in enumerate(self.steps)]


class OperatorLimits(Model):
    max_load_kg: float | None = Field(default=None, ge=0)
    no_overhead: bool = False
    no_low_reach: bool = False
    forbidden_steps: list[Id] = Field(default_factory=list)
    practice_steps: list[Id] = Field(default_factory=list, description="reserved for practice: a 'both' step "
                                     "stays with the operator (unless a limit sends it to the cobot) and is shown "
                                     "with full guidance (cell.adaptation.guidance_for)")


class OperatorSimulation(Model):
    """How the simulated operator of this profile behaves (only used by the simulator)."""

    skill: float = Field(default=0.7, ge=0, le=1, description="0 novice .. 1 expert")
    error_rate: float = Field(default=0.03, ge=0, le=1, description="chance of a wrong pick per pick")
    fatigue_per_hour: float = Field(default=0.05, ge=0, le=1, description="slow-down per hour worked")
    help_rate: float = Field(default=0.005, ge=0, le=1, description="chance of asking for help per step")


class Body(Model):
    """Body size, for the biomechanics of fatigue and the simulated body (population means by default)."""

    stature_m: float = Field(default=1.72, ge=1.2, le=2.2)
    mass_kg: float = Field(default=75.0, ge=30, le=200)


class DisplayPrefs(Model):
    """How the projector shows things to this operator."""

    font_scale: float = Field(default=1.0, ge=0.75, le=3.0, description="text size relative to the default")
    high_contrast: bool = Field(default=False, description="white and yellow on black only, thicker outlines")
    audio_cues: bool = Field(default=True, description="a short sound on done, on a wrong pick and on help "
                             "(skipped quietly where there is no audio device)")


Guidance = Literal["full", "standard", "minimal"]
SubStepAction = Literal["pick", "place", "pick_place", "press", "confirm"]


class SubStep(Model):
    """One part of a step split for one operator: its own text, picture and action, verified on its own.

    Its id is derived: the step's id, a dot and its number from 1 (``screw_stem.1``). What it
    does not give comes from the step: pictogram, verification ``hand_in_zone``, posture and
    load; its target time is the step's divided evenly over the sub-steps."""

    title: Text
    instruction: Text
    pictogram: str | None = Field(default=None, description="default: the adaptation's, else the step's")
    action: SubStepAction | None = Field(default=None, description="default: from what is given: pick and "
                                         "place -> pick_place, pick -> pick, place -> place, press -> press, "
                                         "none -> confirm")
    pick: Pick | None = None
    place: Place | None = None
    press: Id | None = None
    highlight: list[Id] = Field(default_factory=list)
    verify: Verify = Field(default_factory=Verify)
    guidance: Guidance | None = Field(default=None, description="default: the adaptation's, else the profile's")
    target_time_s: float | None = Field(default=None, gt=0, le=3600)

    @model_validator(mode="after")
    def _action_fields(self) -> "SubStep":
        action = self.effective_action()
        need = {"pick": ("pick",), "place": ("place",), "pick_place": ("pick", "place"), "press": ("press",),
                "confirm": ()}[action]
        for name in need:
            if getattr(self, name) is None:
                raise ValueError(f"action '{action}' needs '{name}'")
        return self

    def effective_action(self) -> str:
        if self.action is not None:
            return self.action
        if self.pick and self.place:
            return "pick_place"
        if self.pick:
            return "pick"
        if self.place:
            return "place"
        if self.press:
            return "press"
        return "confirm"


class StepAdaptation(Model):
    """How one step is shown and split for one operator (the job coach's per-person adaptation).

    Who may do the step is not set here: ``limits`` does that (forbidden_steps, practice_steps)."""

    title: Text | None = Field(default=None, description="replaces the step's title for this person")
    instruction: Text | None = Field(default=None, description="replaces the step's instruction for this person")
    pictogram: str | None = None
    guidance: Guidance | None = Field(default=None, description="the guidance level of this step "
                                      "(default: the profile's; full for a practice step)")
    split: list[SubStep] | None = Field(default=None, min_length=2, max_length=9, description="the step done "
                                        "in parts by this person (then only by this person: never by the cobot)")

    @model_validator(mode="after")
    def _split_texts(self) -> "StepAdaptation":
        if self.split is not None and (self.title is not None or self.instruction is not None):
            raise ValueError("a split step shows its sub-steps' texts: give 'title' and 'instruction' in each "
                             "sub-step, not on the step")
        return self


class OperatorProfile(Model):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=32,
                             description="a pseudonym, never a name")]
    language: LanguageCode = "nl"
    guidance: Guidance = "standard"
    reading_support: Literal["pictograms", "short_text", "full_text"] = "short_text"
    handedness: Literal["right", "left"] = "right"
    seated: bool = False
    pace: float = Field(default=1.0, gt=0.2, le=3.0, description="relative speed, 1 = target times")
    limits: OperatorLimits = Field(default_factory=OperatorLimits)
    body: Body = Field(default_factory=Body)
    policy: Literal["static", "operator-only", "ergonomic", "optimal"] | None = None
    display: DisplayPrefs = Field(default_factory=DisplayPrefs)
    steps: dict[Id, StepAdaptation] = Field(default_factory=dict, description="step id -> how this person "
                                            "sees and does that step (cell.adaptation applies it)")
    simulation: OperatorSimulation = Field(default_factory=OperatorSimulation)


class Thresholds(Model):
    cobot_at_rula_action_level: int = Field(default=3, ge=2, le=4)
    high_stress: float = Field(default=0.7, gt=0, le=1)
    hand_dwell_s: float = Field(default=0.3, ge=0)
    hand_exit_margin_mm: float = Field(default=20, ge=0)
    camera_lost_s: float = Field(default=2.0, gt=0, description="camera silent this long: the order pauses")
    engine_lost_s: float = Field(default=2.0, gt=0, description="engine silent this long: the cobot pauses")
    robot_lost_s: float = Field(default=2.0, gt=0, description="robot bridge silent this long: no new cobot work")


class AllocationSettings(Model):
    policy: Literal["static", "operator-only", "ergonomic", "optimal"] = "ergonomic"
    both_default: Literal["operator", "cobot"] = "operator"
    min_operator_share: float = Field(default=0.5, ge=0, le=1)
    window_s: float = Field(default=120, gt=0, description="ergonomic look-back window")
    ergonomic_weight: float = Field(default=3.0, ge=0, le=10, description="optimal policy: weight of predicted "
                                    "ergonomic load against work time (0 = time only)")
    max_slowdown: float = Field(default=0.10, ge=0, le=1, description="optimal policy: how much slower than "
                                "the fastest plan a unit may get to spare the operator (0.1 = 10%)")


class StressSettings(Model):
    method: Literal["rules", "model"] = Field(
        default="rules", description="rules: transparent weighted components; model: the shipped ONNX model "
        "(trained on simulated operators only, see docs/stress.md)")
    window_s: float = Field(default=120, ge=30, le=900, description="how far back the estimate looks")


class BusSettings(Model):
    host: str = "127.0.0.1"
    base_port: int = Field(default=5550, ge=1024, le=65000)
    heartbeat_s: float = Field(default=0.5, gt=0, le=10)
    curve: bool = Field(default=False, description="CURVE encryption and authentication on every bus socket "
                        "(keys from `cell keys generate`): only holders of the cell's keys may publish, subscribe "
                        "or command, and only the engine may command the cobot. Turn it on whenever the bus "
                        "leaves 127.0.0.1")
    keys: Path = Field(default=Path("keys"), description="the keys folder (public/, private/), relative to "
                       "this YAML")


class StoreSettings(Model):
    path: Path = Path("data/cell.sqlite")
    retention_days: int = Field(default=90, ge=1, le=3650)


class WebSettings(Model):
    """The job coach's web page (`cell web`): where it listens and the files it keeps."""

    host: str = Field(default="127.0.0.1", description="address to listen on: 127.0.0.1 = this PC only; the "
                      "PC's address on the workshop network (or 0.0.0.0) to reach it from a tablet")
    port: int = Field(default=8080, ge=1, le=65535)
    accounts: Path = Field(default=Path("data/coaches.json"), description="the coaches' accounts "
                           "(hashed passwords; `cell coach add`)")
    audit_log: Path = Field(default=Path("data/web-audit.jsonl"), description="who viewed and changed what")
    names: Path | None = Field(default=None, description="the workshop's names file (operator id -> name, "
                               "as for `cell data export --names`); without it the page shows the pseudonyms")
    reports: Path | None = Field(default=None, description="folder of `cell report` output linked from the page")
    session_hours: float = Field(default=8.0, gt=0, le=24, description="a login lasts this long without use")


class WorkOrderSpec(Model):
    task: Id
    quantity: int = Field(default=1, ge=1, le=100000)


class CellConfig(Model):
    cell: CellInfo
    bench: Bench
    zones: list[Zone] = Field(min_length=1)
    camera: Camera = Field(default_factory=Camera)
    vision: Vision = Field(default_factory=Vision)
    projector: Projector = Field(default_factory=Projector)
    robot: Robot | None = None
    devices: list[Device] = Field(default_factory=list)
    tasks: list[Task] = Field(min_length=1)
    operators: list[OperatorProfile] = Field(min_length=1)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    allocation: AllocationSettings = Field(default_factory=AllocationSettings)
    stress: StressSettings = Field(default_factory=StressSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    orders: list[WorkOrderSpec] = Field(default_factory=list)

    # the file the config came from (set by the loader, not a YAML key)
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        return self._source

    def zone(self, zone_id: str) -> Zone:
        for z in self.zones:
            if z.id == zone_id:
                return z
        raise KeyError(zone_id)

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    def operator(self, operator_id: str | None = None) -> OperatorProfile:
        if operator_id is None:
            return self.operators[0]
        for o in self.operators:
            if o.id == operator_id:
                return o
        raise KeyError(operator_id)

    def resolve(self, p: Path) -> Path:
        """A path from the YAML, relative to the file it was written in."""
        if p.is_absolute() or self.source is None:
            return p
        return (self.source.parent / p).resolve()
