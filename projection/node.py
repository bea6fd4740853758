"""The projection node: shows the operator's current step on the bench.

Listens to step states, allocations, robot status, wrong picks and faults,
builds the bench view and renders it: full screen on the projector display
the YAML names, or, where there is no display (CI, ``cell demo`` on a
headless PC), as PNG files written only when the view changes. A pulsing
highlight is redrawn at the projector frame rate; an unchanged, still view
is not redrawn at all.
"""

from __future__ import annotations

import os
from pathlib import Path

from cell.bus import BusEndpoints
from cell.config import CellConfig
from cell.messages import Allocation, Fault, Message, RobotStatus, StepState, TaskEvent
from cell.runtime import Node
from cell.step_tracker import StepTracker
from projection.bench_view import bench_view


def has_display() -> bool:
    if os.environ.get("SDL_VIDEODRIVER") == "dummy":
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or os.name == "nt"


class ProjectionNode(Node):
    WRONG_PICK_SHOWN_S = 4.0

    def __init__(self, config: CellConfig, endpoints: BusEndpoints, options):
        super().__init__("projection", endpoints,
                         topics=["step.state", "robot.status", "task.event", "fault."],
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
        self.fault: Fault | None = None
        self.allocation: Allocation | None = None  # the latest: a step handed back by the cobot is announced
        self.view = None
        self.frames = 0
        self.renderer = None
        self.window = None

    def on_start(self, now: float) -> None:
        import pygame

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
            self.status = f"projector on display {pj.display}"
        else:
            assert self.frames_dir is not None
            self.frames_dir.mkdir(parents=True, exist_ok=True)
            self.status = f"no display: frames as PNG in {self.frames_dir}"
        self.log("info", self.status)
        snap = self.request_snapshot(1.0)
        if snap is not None:
            for st in (snap.cobot_step, snap.step):
                if st is not None:
                    self.steps.update(st)
            self.step, self.robot = self.steps.front, snap.robot

    def on_message(self, msg: Message, now: float) -> None:
        if isinstance(msg, StepState):
            if self.steps.update(msg):
                self.step = self.steps.front
            if msg.phase == "done" and msg.assignee == "operator":
                self.wrong = None
        elif isinstance(msg, RobotStatus):
            self.robot = msg
        elif isinstance(msg, Allocation):
            self.allocation = msg
        elif isinstance(msg, TaskEvent) and msg.kind == "wrong_pick":
            self.wrong, self.wrong_until = msg, now + self.WRONG_PICK_SHOWN_S
        elif isinstance(msg, Fault):
            self.fault = None if msg.cleared else msg

    def on_tick(self, now: float) -> None:
        if self.renderer is None:
            return
        if self.wrong is not None and now > self.wrong_until:
            self.wrong = None
        view = bench_view(self.config, self.profile, self.step, robot=self.robot, wrong_pick=self.wrong,
                          fault=self.fault, allocation=self.allocation)
        changed = view != self.view
        self.view = view
        if self.window is not None:
            if changed or view.highlights:
                self.window.show(self.renderer.render(view, now))
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
