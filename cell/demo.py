"""`cell demo` and `cell preview`: the example cell, fully simulated, as a person would watch it.

The demo writes a copy of the cell file with its own bus ports and output
paths, starts every node as its own process under the supervisor (exactly
what `cell run` does), watches the bus like any outside client would and
shows a live status, then prints a summary read back from the event log.
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table
from ruamel.yaml import YAML

from cell.bus import Subscriber, snapshot_request
from cell.config import CellConfig
from cell.config_loader import load_config
from cell.messages import (
    Allocation, ErgonomicScore, Fault, Heartbeat, RobotStatus, StepState, StressEstimate, TaskEvent,
)
from cell.nodes import endpoints, nodes_for
from cell.step_tracker import StepTracker
from cell.store import EventStore


def free_base_port(count: int = 4, start: int = 15550) -> int:
    """The first of `count` consecutive free TCP ports on 127.0.0.1."""
    port = start
    while port < 60000:
        socks = []
        try:
            for i in range(count):
                s = socket.socket()
                s.bind(("127.0.0.1", port + i))
                socks.append(s)
            return port
        except OSError:
            port += count
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports for the demo bus")


def demo_config(source: Path, out: Path, *, window: bool, robot: dict | None = None) -> Path:
    """A copy of the cell file for this demo run: own ports, output under `out`, includes absolute.

    ``robot`` overrides keys of the robot section (the UR emulator's driver and ports).
    """
    yaml = YAML(typ="rt")
    data = yaml.load(source.read_text(encoding="utf-8"))
    inc = data.get("include")
    if inc is not None:
        names = [inc] if isinstance(inc, str) else list(inc)
        data["include"] = [str((source.parent / n).resolve()) for n in names]
    data.setdefault("bus", {})["base_port"] = free_base_port()
    data.setdefault("store", {})["path"] = str((out / "events.sqlite").resolve())
    pj = data.setdefault("projector", {})
    if pj.get("calibration"):
        pj["calibration"] = str((source.parent / pj["calibration"]).resolve())
    if window:  # a desktop, not the bench: a window on the first screen
        pj["display"], pj["fullscreen"] = 0, False
    if robot and data.get("robot") is not None:
        data["robot"].update(robot)
    path = out / "demo-cell.yaml"
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"# written by `cell demo` from {source}\n")
        yaml.dump(data, f)
    return path


class LiveStatus:
    """What the demo shows, folded from the messages on the bus."""

    def __init__(self, config: CellConfig):
        self.config = config
        self.step: StepState | None = None
        self.alloc: Allocation | None = None
        self.robot: RobotStatus | None = None
        self.rula: ErgonomicScore | None = None
        self.stress: StressEstimate | None = None
        self.nodes: dict[str, Heartbeat] = {}
        self.done = {"operator": 0, "cobot": 0}
        self.errors = 0
        self.units = 0
        self.faults: list[str] = []
        self.lines: list[str] = []
        self.steps = StepTracker()
        self._shown: set[tuple] = set()   # (order, unit, step, who) already announced

    def take(self, msg) -> None:
        if isinstance(msg, Heartbeat):
            self.nodes[msg.src] = msg
        elif isinstance(msg, StepState):
            key = (msg.order_id, msg.unit, msg.step_id, msg.assignee)
            if msg.phase == "active" and key not in self._shown:
                self._shown.add(key)
                why = f" ({self.alloc.reason})" if self.alloc and self.alloc.step_id == msg.step_id else ""
                self.lines.append(f"unit {msg.unit} step {msg.step_index + 1}/{msg.step_count} {msg.step_id}: "
                                  f"{msg.assignee}{why}")
            self.steps.update(msg)  # counts each step once, and a unit when all its steps are done
            if self.steps.newly_done:
                self.done[msg.assignee] += 1
            if self.steps.unit_finished:
                self.units += 1
                self.lines.append(f"unit {msg.unit} of {msg.units_total} finished")
            self.step = self.steps.front  # the operator's step, else the cobot's
        elif isinstance(msg, Allocation):
            self.alloc = msg
            if msg.reassigned and self.step is not None and self.step.step_id == msg.step_id:
                self.lines.append(f"{msg.step_id} moved to the {msg.assignee}: {msg.reason}")
        elif isinstance(msg, RobotStatus):
            self.robot = msg
        elif isinstance(msg, ErgonomicScore):
            self.rula = msg
        elif isinstance(msg, StressEstimate):
            self.stress = msg
        elif isinstance(msg, TaskEvent) and msg.kind == "wrong_pick":
            self.errors += 1
            self.lines.append(f"wrong bin at {msg.step_id}: {msg.detail}")
        elif isinstance(msg, Fault):
            self.lines.append(f"{'cleared' if msg.cleared else 'FAULT'} {msg.component}: {msg.text}")

    def table(self, elapsed: float, duration: float) -> Table:
        t = Table(title=f"cell {self.config.cell.id} (simulated) - {elapsed:4.0f} s of {duration:.0f} s",
                  show_header=False, expand=False)
        t.add_column(style="bold")
        t.add_column()
        st = self.step
        if st is not None:
            bar_n = 20
            filled = int(bar_n * (st.step_index + (1 if st.phase == "done" else 0)) / max(1, st.step_count))
            t.add_row("work order", f"{st.order_id}  unit {st.unit} of {st.units_total}")
            t.add_row("step", f"[{'#' * filled}{'.' * (bar_n - filled)}] {st.step_index + 1} of {st.step_count}: "
                      f"{st.step_id} ({st.phase})")
            who = st.assignee + (f"  - {self.alloc.reason}" if self.alloc and self.alloc.step_id == st.step_id else "")
            t.add_row("who", who)
            if st.paused:
                t.add_row("PAUSED", st.pause_reason)
            if st.help_requested:
                t.add_row("help", "the operator asked for the job coach")
        t.add_row("steps done", f"operator {self.done['operator']}, cobot {self.done['cobot']}, "
                  f"units {self.units}, wrong picks {self.errors}")
        if self.rula:
            t.add_row("posture", f"RULA {self.rula.rula_grand} (action level {self.rula.rula_action_level})")
        if self.stress:
            t.add_row("stress", f"{self.stress.index:.2f} (confidence {self.stress.confidence:.2f})"
                      + (f" - {self.stress.explanation}" if self.stress.explanation else ""))
        if self.robot:
            t.add_row("cobot", f"{self.robot.mode}" + (f" {self.robot.program} {self.robot.progress:.0%}"
                                                        if self.robot.mode == "running" else "")
                      + (" [simulated]" if self.robot.simulated else ""))
        t.add_row("nodes", ", ".join(f"{n}{' (sim)' if h.simulated else ''}" for n, h in sorted(self.nodes.items())))
        for line in self.lines[-4:]:
            t.add_row("", line)
        return t


def run_demo(config_path: Path, config: CellConfig, *, duration_s: float, operator_id: str | None,
             speed: float, out: Path, robot: str = "sim") -> int:
    from projection.node import has_display

    console = Console()
    out = out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    window = has_display()
    emulator = None
    settings = None
    if robot == "ur-emulated" and config.robot is not None:
        # the UR controller emulator in its own process (ur-rtde holds the GIL while it connects)
        from robot_bridge.ur_emulator import EmulatorProcess

        emulator = EmulatorProcess.start({p.program: p.duration_s / speed for p in config.robot.programs.values()})
        console.print(f"[dim]{emulator.line}[/dim]")
        # the emulator shares two cores with the whole cell: give its answers more time than a real controller
        settings = {"driver": "ur", "emulated": True, "host": emulator.host, "command_timeout_s": 4.0,
                    "dashboard_port": emulator.dashboard_port, "rtde_port": emulator.rtde_port}
    try:
        return _run_demo(config_path, duration_s=duration_s, operator_id=operator_id, speed=speed, out=out,
                         window=window, console=console, robot_settings=settings)
    finally:
        if emulator is not None:
            emulator.close()


def _run_demo(config_path: Path, *, duration_s: float, operator_id: str | None, speed: float, out: Path,
              window: bool, console: Console, robot_settings: dict | None) -> int:
    import zmq

    from cell.cli import node_specs
    from cell.supervisor import Supervisor

    path = demo_config(config_path.resolve(), out, window=window, robot=robot_settings)
    cfg = load_config(path)
    names = nodes_for(cfg)
    frames = None if window else out / "projector"
    state_dir = out / "state"
    sup = Supervisor(node_specs(path, names, operator_id, state_dir, frames, speed),
                     log=lambda s: console.print(f"[dim]{s}[/dim]"), log_dir=state_dir / "logs")
    profile = cfg.operator(operator_id)
    console.print(f"[bold]cell demo[/bold]: {cfg.cell.name}, operator {profile.id} "
                  f"(simulated, {speed:g}x speed), cobot {cfg.robot.name if cfg.robot else '-'} "
                  + ("on the UR controller emulator (simulated)" if robot_settings else "(simulated)"))
    console.print(f"starting nodes: {', '.join(names)}")
    from cell import bus_security

    bus_security.configure_for(cfg, "tools")  # the live table taps the bus like any tool
    ctx = zmq.Context.instance()
    sub = Subscriber(ctx, endpoints(cfg).sub, [""])
    status = LiveStatus(cfg)
    sup.start()
    t0 = time.monotonic()
    shown = 0
    try:
        with Live(status.table(0, duration_s), console=console, refresh_per_second=4,
                  transient=not console.is_terminal) as live:
            while (elapsed := time.monotonic() - t0) < duration_s:
                end = time.monotonic() + 0.25
                while (msg := sub.recv(timeout_ms=max(0.0, (end - time.monotonic()) * 1000))) is not None:
                    if status.step is None and isinstance(msg, Heartbeat) and msg.src == "engine":
                        snap = snapshot_request(ctx, endpoints(cfg), 1.0, src="demo")  # a late joiner
                        if snap is not None:
                            for st in (snap.cobot_step, snap.step):
                                if st is not None:
                                    status.take(st)
                    status.take(msg)
                sup.poll()
                for line in status.lines[shown:]:
                    if not console.is_terminal:
                        console.print(f"{elapsed:5.1f} s  {line}", soft_wrap=True)
                shown = len(status.lines)
                live.update(status.table(elapsed, duration_s))
    except KeyboardInterrupt:
        console.print("stopped by Ctrl-C")
    finally:
        sub.close()
        sup.stop()
    return summarise(console, cfg, out, frames, status, sup)


def summarise(console: Console, cfg: CellConfig, out: Path, frames: Path | None, status: LiveStatus, sup) -> int:
    store = EventStore(cfg.resolve(cfg.store.path), retention_days=cfg.store.retention_days)
    try:
        states = list(store.events("StepState"))
        scores = list(store.events("ErgonomicScore"))
        wrong = sum(1 for e in store.events("TaskEvent") if e["kind"] == "wrong_pick")
        counts = store.counts()
    finally:
        store.close()
    done = [s for s in states if s["phase"] == "done" and not s["order_done"]]
    by = {"operator": sum(1 for s in done if s["assignee"] == "operator"),
          "cobot": sum(1 for s in done if s["assignee"] == "cobot")}
    units = sum(1 for s in done if s["step_index"] == s["step_count"] - 1)
    orders = sum(1 for s in states if s["order_done"])
    al3 = 100.0 * sum(1 for s in scores if s["rula_action_level"] >= 3) / len(scores) if scores else 0.0
    al4 = 100.0 * sum(1 for s in scores if s["rula_action_level"] >= 4) / len(scores) if scores else 0.0
    t = Table(title="demo summary", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("work orders done", str(orders))
    t.add_row("units built", str(units))
    t.add_row("steps", f"operator {by['operator']}, cobot {by['cobot']}")
    t.add_row("errors", f"{wrong} wrong picks (each shown on the bench with the right bin)")
    t.add_row("posture (RULA)", f"{al3:.1f}% of scored frames at action level 3+, {al4:.1f}% at 4 "
              f"({len(scores)} frames)")
    if status.stress:
        t.add_row("stress index", f"{status.stress.index:.2f} (last estimate)")
    t.add_row("restarts", ", ".join(f"{k} {v}" for k, v in sup.restarts.items() if v) or "none")
    t.add_row("event log", f"{cfg.resolve(cfg.store.path)} ({sum(counts.values())} events)")
    if frames is not None:
        n = len(list(frames.glob("frame-*.png")))
        t.add_row("projector", f"{n} frames in {frames} (latest: {frames / 'latest.png'})")
    t.add_row("node logs", str(out / "state" / "logs"))
    console.print(t)
    if not done:
        console.print("[red]no step was completed: see the node logs above[/red]")
        return 1
    return 0


def render_preview(config: CellConfig, *, task_id: str | None, step_id: str | None, operator_id: str | None,
                   assignee: str, out: Path) -> Path:
    """The projector image of one step, written to `out`."""
    import os

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from projection.bench_view import bench_view  # first: it quiets pygame's banner
    from projection.geometry import BenchToProjector
    from projection.renderer import BenchRenderer, save_png

    import pygame

    task = config.task(task_id) if task_id else config.tasks[0]
    step = task.step(step_id) if step_id else task.steps[0]
    profile = config.operator(operator_id)
    idx = task.steps.index(step)
    state = StepState(src="preview", t=0.0, seq=0, order_id="preview", task_id=task.id, step_id=step.id,
                      step_index=idx, step_count=len(task.steps), phase="active", assignee=assignee,  # type: ignore[arg-type]
                      unit=1, units_total=1)
    pygame.display.init()
    pygame.font.init()
    pj = config.projector
    mapping = (BenchToProjector.load(config.resolve(pj.calibration)) if pj.calibration else
               BenchToProjector.default(config.bench.width_mm, config.bench.depth_mm, *pj.resolution))
    surface = BenchRenderer(pj.resolution, mapping).render(bench_view(config, profile, state), 0.0)
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_png(surface, out)
