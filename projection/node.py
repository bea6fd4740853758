"""The projection node: shows the operator's current step on the bench.

Listens to step states, allocations, robot status, wrong picks and faults,
builds the bench view (pure, ``projection.bench_view``) and renders it: full
screen on the projector display the YAML names (``projector.display``, never
the display under the mouse), or, where there is no display (CI, ``cell demo``
on a headless PC), as PNG files written only when the view changes.

The node ticks at the projector's frame rate (``projector.fps``; the runtime
waits on its sockets between ticks, no busy loop). A view that changed is
drawn once; while something pulses (a highlight) it is redrawn every tick,
which costs a copy of the renderer's cached layer and a few polygons; a still,
unchanged view is not redrawn at all.

Short sound cues (``projection.audio``) mark a step done, a wrong pick and help
called, if the operator's profile wants them and the PC has a sound device.
"""

from __future__ import annotations

import os
from pathlib import Path

from cell.bus import BusEndpoints
from cell.config import CellConfig
from cell.messages import Allocation, Fault, Message, OperatorChanged, RobotStatus, StepState, TaskEvent
from cell.runtime import Node
from cell.step_tracker import StepTracker
from projection.bench_view import bench_view


def has_display() -> bool:
    if os.environ.get("SDL_VIDEODRIVER") == "dummy":
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or os.name == "nt"


class ProjectionNode(Node):
    WRONG_PICK_SHOWN_S = 4.0
    STEP_DONE_SHOWN_S = 1.2
    SNAPSHOT_TIMEOUT_S = 1.0
    RECORDING_HEARD_S = 15.0  # the recording notice stays this long after the vision node last said so

    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options):
        super().__init__("projection", endpoints,
                         topics=["step.state", "alloc.decision", "robot.status", "task.event", "fault.",
                                 "operator.profile"],
                         heartbeat_s=config.bus.heartbeat_s, tick_s=1.0 / config.projector.fps)
        self.config = config
        self.profile = config.operator(options.operator_id)
        self.frames_dir = Path(options.frames_dir) if options.frames_dir else None
        self.window_ok = self.frames_dir is None and has_display()
        if not self.window_ok and self.frames_dir is None:
            self.frames_dir = Path(options.state_dir) / "projector-frames"
        if self.frames_dir is not None:
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        self.step: StepState | None = None  # what the bench shows (the operator's step, else the cobot's)
        self.steps = StepTracker()
        self.robot: RobotStatus | None = None
        self.wrong: TaskEvent | None = None
        self.wrong_until = 0.0
        self.done: StepState | None = None  # the operator's step that just finished, shown for a moment
        self.done_until = 0.0
        self.fault: Fault | None = None
        self.recording_until = 0.0  # camera pictures are being saved (the vision node repeats it every 5 s)
        self.allocation: Allocation | None = None  # the latest: hand-overs and ergonomic moves are announced
        self.view = None
        self.frames = 0
        self.renderer = None
        self.window = None
        self.audio = None
        self._cued: dict[str, tuple] = {}  # cue -> what it was played for (no cue twice for one thing)

    def on_start(self, now: float) -> None:
        import pygame

        from projection.audio import AudioCues
        from projection.geometry import BenchToProjector
        from projection.renderer import BenchRenderer, ProjectorWindow

        pygame.display.init()
        pygame.font.init()
        pj = self.config.projector
        if pj.calibration is not None:
            mapping = BenchToProjector.load(self.config.resolve(pj.calibration))
        else:
            mapping = BenchToProjector.default(self.config.bench.width_mm, self.config.bench.depth_mm,
                                               pj.resolution[0], pj.resolution[1])
        self.renderer = BenchRenderer(pj.resolution, mapping)
        if self.window_ok:
            self.window = ProjectorWindow(pj.display, pj.resolution, pj.fullscreen)
            self.status = (f"projector on display {pj.display} ({pj.resolution[0]}x{pj.resolution[1]}"
                           f"{', full screen' if pj.fullscreen else ''}, {pj.fps:g} fps)")
            desk = self.window.desktop_size
            if pj.fullscreen and desk is not None and tuple(desk) != tuple(pj.resolution):
                self.log("warning", f"projector.resolution {pj.resolution[0]}x{pj.resolution[1]} differs from "
                                    f"display {pj.display}'s desktop {desk[0]}x{desk[1]}: the display changes mode")
        else:
            assert self.frames_dir is not None
            self.frames_dir.mkdir(parents=True, exist_ok=True)
            self.status = f"no display: frames as PNG in {self.frames_dir}"
        self.log("info", self.status)
        self.audio = AudioCues(self.profile.display.audio_cues, log=self.log)
        self._sync(now)

    def _sync(self, now: float) -> None:
        snap = self.snapshot_until_answered(now, self.SNAPSHOT_TIMEOUT_S)
        if snap is not None:
            for st in (snap.cobot_step, snap.step):
                if st is not None:
                    self.steps.update(st)
            self.step = self.steps.front
            self.robot = snap.robot or self.robot
            self.allocation = snap.allocation or self.allocation

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, StepState):
            if self.steps.update(msg):
                self.step = self.steps.front
                if msg.assignee == "operator" and msg.phase == "done":
                    self.wrong = None
                    self.done, self.done_until = msg, now + self.STEP_DONE_SHOWN_S
                    self._cue("done", (msg.order_id, msg.unit, msg.step_id))
                front = self.step
                if front is not None and front.help_requested:
                    self._cue("help", (front.order_id, front.unit, front.step_id))
        elif isinstance(msg, RobotStatus):
            self.robot = msg
        elif isinstance(msg, Allocation):
            self.allocation = msg
        elif isinstance(msg, TaskEvent) and msg.kind == "wrong_pick":
            self.wrong, self.wrong_until = msg, now + self.WRONG_PICK_SHOWN_S
            self._cue("wrong", (msg.step_id, msg.zone, msg.t))
        elif isinstance(msg, OperatorChanged):
            self.reload_operator(msg)  # the steps as this person now sees them
        elif isinstance(msg, Fault) and msg.component == "privacy":
            self.recording_until = 0.0 if msg.cleared else now + self.RECORDING_HEARD_S
        elif isinstance(msg, Fault):
            self.fault = None if msg.cleared else msg

    def _cue(self, kind: str, what: tuple) -> None:
        if self._cued.get(kind) == what:
            return
        self._cued[kind] = what
        if self.audio is not None:
            self.audio.play(kind)

    def current_view(self, now: float):
        """The bench view now (pure: built from what the node has heard)."""
        if self.wrong is not None and now > self.wrong_until:
            self.wrong = None
        if self.done is not None and now > self.done_until:
            self.done = None
        cobot_step = self.steps.cobot if self.steps.cobot is not self.step else None
        return bench_view(self.config, self.profile, self.step, robot=self.robot, wrong_pick=self.wrong,
                          fault=self.fault, allocation=self.allocation, cobot_step=cobot_step,
                          done_step=self.done, recording=now < self.recording_until)

    def on_tick(self, now: float) -> None:
        if self.renderer is None:
            return
        self._sync(now)
        view = self.current_view(now)
        changed = view != self.view
        if changed and (view.banner != getattr(self.view, "banner", None)):
            # what the bench says travels in the heartbeat too (the coach's page, tests)
            self.status = self.status.split(" | showing: ")[0] + (
                f" | showing: {view.banner.text}" if view.banner is not None else "")
        self.view = view
        if self.window is not None and self.window.take_confirms() and self.step is not None and self.step.manual:
            self.publish(TaskEvent(src=self.name, t=now, kind="confirm", order_id=self.step.order_id,
                                   step_id=self.step.step_id, detail="key at the bench"))
        if self.window is not None:
            # a pulsing highlight is redrawn every tick (the projector's fps); a still view only on change
            if changed or self.renderer.animated(view):
                self.window.show(self.renderer.render(view, now))
                self.frames += 1
        elif changed:
            from projection.renderer import save_png

            surface = self.renderer.render(view, now)
            self.frames += 1
            assert self.frames_dir is not None
            save_png(surface, self.frames_dir / f"frame-{self.frames:05d}.png")
            save_png(surface, self.frames_dir / "latest.png")
        self.counters["frames"] = self.frames

    def on_stop(self, now: float) -> None:
        if self.window is not None:
            self.window.close()
        if self.audio is not None:
            self.audio.close()
