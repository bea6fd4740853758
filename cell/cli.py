"""`cell`: one command per thing an integrator says out loud.

    cell validate CONFIG           is this cell file right? (every error: file, line, field, what is allowed)
    cell simulate CONFIG           a whole shift on a virtual clock, as fast as it goes
    cell run CONFIG                every node of the cell, each in its own process, supervised
    cell node NAME CONFIG          one node alone (what `cell run` starts)
    cell preview CONFIG            the projector view of a step (or --all steps and profiles), as PNG
    cell demo                      the shipped example cell, fully simulated, with a live status
    cell robot check|run|emulate-ur  commissioning the cobot (and the UR controller emulator)
    cell calibrate projector CONFIG  projector, camera and bench mapped onto each other (ChArUco + markers)
    cell vision probe IMAGE|VIDEO    landmarks, hands and RULA/REBA per frame, as JSON lines
    cell ergonomics score FILE     RULA and REBA of one posture (landmarks or joint angles), as JSON
    cell ergonomics landmarks IMG  body and hand landmarks of a photograph (MediaPipe), as JSON
    cell devices monitor|emulate   the bench's serial devices (and emulated ones to try a config)
    cell report CONFIG --operator ID | --cell   the job coach's / integrator's report (HTML)
    cell simulate-week CONFIG      a simulated working week for every profile, with its reports
    cell adapt CONFIG --operator ID  step adaptations the recorded data supports, as a YAML patch
    cell data export|delete|purge CONFIG --operator ID   an operator's data: hand it over, delete it
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Optional

import typer

from cell.config_loader import ConfigError, load_config, summary_ids

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])

EXAMPLE_CELL = Path(__file__).resolve().parent.parent / "configs" / "lamp-cell.yaml"


def operator_or_exit(cfg, operator: str | None):
    """The operator's profile (None: the first), or exit 2 naming the ones the cell has."""
    try:
        return cfg.operator(operator)
    except KeyError:
        typer.echo(f"no operator {operator!r}; allowed: {', '.join(o.id for o in cfg.operators)}", err=True)
        raise typer.Exit(2) from None


def parse_duration(text: str) -> float:
    """'8h', '90m', '45s', '1h30m' or plain seconds -> seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms])", text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise typer.BadParameter(f"{text!r} is not a duration; use e.g. 8h, 90m, 45s or 1h30m")
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def _load(path: Path):
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(f"{path}: not valid ({len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''}):",
                   err=True)
        for p in exc.problems:
            typer.echo(f"  {p}", err=True)
        raise typer.Exit(2) from None


@app.command()
def validate(config: Path = typer.Argument(..., help="the cell YAML"),
             as_json: bool = typer.Option(False, "--json", help="print the ids as one JSON object")) -> None:
    """Check a cell file in full; print a short summary, or every problem with file and line."""
    cfg = _load(config)
    ids = summary_ids(cfg)
    if as_json:
        typer.echo(json.dumps(ids))
        return
    steps = sum(len(v) for v in ids["steps"].values())
    robot = f"{cfg.robot.name} ({cfg.robot.driver}, {len(cfg.robot.programs)} programs)" if cfg.robot else "none"
    typer.echo(f"{config}: valid\n"
               f"  cell       {cfg.cell.id}: {cfg.cell.name}\n"
               f"  bench      {cfg.bench.width_mm:g} x {cfg.bench.depth_mm:g} mm\n"
               f"  zones      {len(ids['zones'])}: {', '.join(ids['zones'])}\n"
               f"  tasks      {len(ids['tasks'])} with {steps} steps: {', '.join(ids['tasks'])}\n"
               f"  operators  {len(ids['operators'])}: {', '.join(ids['operators'])}\n"
               f"  robot      {robot}\n"
               f"  camera     {cfg.camera.source}   projector display {cfg.projector.display} "
               f"{cfg.projector.resolution[0]}x{cfg.projector.resolution[1]}\n"
               f"  devices    " + (", ".join(f"{d.id} ({d.kind}, {d.url})" for d in cfg.devices) or "none"))


@app.command()
def simulate(config: Path = typer.Argument(..., help="the cell YAML"),
             operator: Optional[str] = typer.Option(None, help="operator profile id (default: the first)"),
             duration: str = typer.Option("8h", help="simulated time, e.g. 8h, 90m"),
             policy: Optional[str] = typer.Option(None, help="allocation policy: static, operator-only, ergonomic "
                                                  "or optimal"),
             seed: int = typer.Option(0, help="same seed, same result"),
             fps: float = typer.Option(1.0, help="simulated camera frames per second that are scored (the live camera path scores 5)"),
             log: Optional[Path] = typer.Option(None, help="event log (SQLite); default out/sim-<operator>-<seed>.sqlite"),
             as_json: bool = typer.Option(False, "--json", help="print the summary as one JSON object"),
             stress_at: Optional[str] = typer.Option(None, help="heart beats from an emulated heart-rate bridge "
                                                     "(its serial lines, the devices' parser) whose HRV drops at "
                                                     "this time, e.g. 30m")) -> None:
    """Simulate a shift on a virtual clock and print a summary."""
    from cell.simulator.shift import run_shift

    cfg = _load(config)
    profile = operator_or_exit(cfg, operator)
    from cell.allocation import POLICIES

    if policy is not None and policy not in POLICIES:
        typer.echo(f"no policy {policy!r}; allowed: {', '.join(POLICIES)}", err=True)
        raise typer.Exit(2)
    log_path = log or Path("out") / f"sim-{profile.id}-{seed}.sqlite"
    if log_path.exists():
        log_path.unlink()
    summary = run_shift(cfg, operator_id=profile.id, policy=policy, duration_s=parse_duration(duration),
                        seed=seed, fps=fps, log_path=log_path,
                        stress_at_s=parse_duration(stress_at) if stress_at else None)
    if as_json:
        typer.echo(json.dumps(summary.as_dict()))
        return
    s = summary
    typer.echo(
        f"Simulated {s.duration_s / 3600:.2f} h for {s.operator} (policy {s.policy}, seed {s.seed}) "
        f"in {s.wall_s:.1f} s wall time ({s.speedup:.0f}x real time)\n"
        f"  units built        {s.units}  (orders done {s.orders_done})\n"
        f"  steps              operator {s.steps_operator}, cobot {s.steps_cobot} "
        f"(operator share {s.operator_share:.0%})\n"
        f"  reassignments      {s.reassignments}  {s.reassignment_reasons or ''}\n"
        f"  errors             {s.errors} wrong picks, {s.help_requests} help calls\n"
        f"  posture (RULA)     {s.rula_al3_pct:.1f}% of working time at action level 3+, "
        f"{s.rula_al4_pct:.1f}% at 4 (mean grand score {s.rula_mean:.2f}, {s.rula_frames} frames)\n"
        f"  REBA               {s.reba_high_pct:.1f}% at action level 3+ (high)\n"
        f"  fatigue (peak)     {', '.join(f'{k} {v:.0f}%' for k, v in s.fatigue_peak_pct.items()) or '-'}\n"
        f"  NIOSH lifting      {', '.join(f'{k} LI {v:.2f}' for k, v in s.lifting_index.items()) or '-'}\n"
        f"  mean stress index  {s.mean_stress:.2f}\n"
        f"  event log          {s.event_log} ({s.events_logged} events)")


@app.command()
def compare(config: Path = typer.Argument(..., help="the cell YAML"),
            duration: str = typer.Option("8h", help="simulated time per shift"),
            seed: int = typer.Option(0, help="the same seed for every run"),
            out: Optional[Path] = typer.Option(None, help="also write the table (markdown) to this file")) -> None:
    """Run every allocation policy on the same seeded shift for each operator profile; print one table."""
    from cell.simulator.compare import compare_policies, markdown_table

    cfg = _load(config)
    rows = compare_policies(cfg, duration_s=parse_duration(duration), seed=seed)
    table = markdown_table(rows, cfg.allocation.min_operator_share)
    header = (f"Allocation policies on {cfg.cell.id}, {duration} simulated shift, seed {seed} "
              f"(`cell compare {config} --duration {duration} --seed {seed}`)\n\n")
    typer.echo(header + table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(header + table, encoding="utf-8")


def _options(operator, state_dir, frames_dir, speed, start_orders=True):
    from cell.nodes import RunOptions

    return RunOptions(operator_id=operator, state_dir=str(state_dir), frames_dir=str(frames_dir) if frames_dir else None,
                      speed=speed, start_orders=start_orders)


@app.command()
def node(name: str = typer.Argument(..., help="bus, engine, store, robot, ergonomics, stress, projection, sim-operator"),
         config: Path = typer.Argument(..., help="the cell YAML"),
         operator: Optional[str] = typer.Option(None),
         state_dir: Path = typer.Option(Path("data/state"), help="where the engine keeps its state"),
         frames_dir: Optional[Path] = typer.Option(None, help="write projector frames as PNG here instead of a window"),
         speed: float = typer.Option(1.0, help="simulated parts work this much faster (demo)"),
         start_orders: bool = typer.Option(True, help="start the config's work orders on a fresh engine")) -> None:
    """Run one node of the cell in this process."""
    import logging

    from cell.nodes import NodeUnavailable, make_node

    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name}: %(levelname)s %(message)s")
    cfg = _load(config)
    from cell import bus_security

    try:
        bus_security.configure_for(cfg, name)
        n = make_node(name, cfg, _options(operator, state_dir, frames_dir, speed, start_orders))
    except bus_security.KeysMissing as exc:
        typer.echo(f"{name}: {exc}", err=True)
        raise typer.Exit(2) from None
    except NodeUnavailable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    n.run()


def node_specs(config: Path, names: list[str], operator, state_dir: Path, frames_dir, speed: float):
    from cell.supervisor import ProcessSpec

    specs = []
    for name in names:
        argv = [sys.executable, "-m", "cell", "node", name, str(config), "--state-dir", str(state_dir),
                "--speed", str(speed)]
        if operator:
            argv += ["--operator", operator]
        if frames_dir:
            argv += ["--frames-dir", str(frames_dir)]
        # the event log stops after every node that writes to it, the bus after everyone
        specs.append(ProcessSpec(name=name, argv=argv, stop_wave=STOP_WAVES.get(name, 0)))
    return specs


STOP_WAVES = {"store": 1, "bus": 2}


def _ports_free_or_exit(cfg, names: list[str]) -> None:
    """The ports this cell binds are free: a second cell with the same bus.base_port would otherwise
    join the first one's bus (and its own bus node restart in a loop)."""
    from cell.bus import busy
    from cell.nodes import endpoints

    ep = endpoints(cfg)
    wanted = {"bus, publishers' side": ep.pub, "bus, subscribers' side": ep.sub, "engine commands": ep.engine}
    if "robot" in names:
        wanted["cobot commands"] = ep.command
    taken = busy(wanted)
    if taken:
        typer.echo(f"{cfg.source or 'the cell file'}: bus.base_port {cfg.bus.base_port}: in use on {cfg.bus.host}: "
                   + "; ".join(taken) + ". Another cell (or a `cell run` still stopping) uses these ports on "
                   "this PC: stop it, or give each cell its own bus.base_port (4 apart, e.g. "
                   f"{cfg.bus.base_port + 10})", err=True)
        raise typer.Exit(2)


@app.command()
def run(config: Path = typer.Argument(..., help="the cell YAML"),
        operator: Optional[str] = typer.Option(None, help="who works at the cell today (profile id)"),
        state_dir: Path = typer.Option(Path("data/state"), help="engine state and node logs"),
        frames_dir: Optional[Path] = typer.Option(None, help="projector frames as PNG instead of a window"),
        speed: float = typer.Option(1.0, help="simulated operator and cobot work this much faster (tests, demos)")) -> None:
    """Start every node of the cell in its own process; restart crashed ones; Ctrl-C stops all."""
    from cell.nodes import NodeUnavailable, nodes_for
    from cell.supervisor import Supervisor

    cfg = _load(config)
    from cell import bus_security

    try:
        names = nodes_for(cfg)
        bus_security.check_keys(cfg, names)  # CURVE on: every node's key is here, said now, not in a restart loop
    except (NodeUnavailable, bus_security.KeysMissing) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    _ports_free_or_exit(cfg, names)
    sup = Supervisor(node_specs(config, names, operator, state_dir, frames_dir, speed),
                     log=lambda s: typer.echo(s, err=True), log_dir=state_dir / "logs")
    typer.echo(f"cell {cfg.cell.id}: starting {', '.join(names)} (logs in {state_dir / 'logs'})", err=True)
    sup.start()
    sup.run_until()
    restarts = ", ".join(f"{n} {k}x" for n, k in sup.restarts.items() if k) or "none"
    typer.echo(f"cell {cfg.cell.id}: all nodes stopped (restarts: {restarts}); engine state kept in "
               f"{state_dir} - the next `cell run` resumes the open work order", err=True)


@app.command()
def preview(config: Path = typer.Argument(..., help="the cell YAML"),
            task: Optional[str] = typer.Option(None, help="task id (default: the first task)"),
            step: Optional[str] = typer.Option(None, help="step id (default: the first step of the task)"),
            profile: Optional[str] = typer.Option(None, "--profile", "--operator",
                                                  help="operator profile: language, guidance, reading support, "
                                                  "display (default: the first)"),
            assignee: str = typer.Option("operator", help="operator or cobot"),
            every: bool = typer.Option(False, "--all", help="every step of the task for every profile, "
                                       "as OUT/<profile>/<nn>-<step>.png, done by whom the plan says"),
            out: Path = typer.Option(Path("out/preview.png"), "--out", "-o",
                                     help="PNG to write (with --all: a folder)")) -> None:
    """Render exactly what the projector shows for one step and profile to a PNG (no projector needed)."""
    from cell.demo import render_preview

    cfg = _load(config)
    if assignee not in ("operator", "cobot"):
        typer.echo(f"--assignee {assignee!r}: allowed: operator, cobot", err=True)
        raise typer.Exit(2)
    tasks = [t.id for t in cfg.tasks]
    the_task = cfg.task(task) if task in tasks else cfg.tasks[0]
    for what, given, allowed in (("--task", task, tasks), ("--step", step, [s.id for s in the_task.steps]),
                                 ("--profile", profile, [o.id for o in cfg.operators])):
        if given is not None and given not in allowed:
            typer.echo(f"{what} {given!r} is not in {config}; allowed: {', '.join(allowed)}", err=True)
            raise typer.Exit(2)
    try:
        if every:  # who does each step as planned for the profile (its limits included)
            from cell.allocation import LiveLoad, StaticAllocator

            plan = StaticAllocator(cfg.allocation)
            t = cfg.task(task) if task else cfg.tasks[0]
            profiles = [cfg.operator(profile)] if profile else cfg.operators
            for p in profiles:
                for i, s in enumerate(t.steps, 1):
                    who = plan.decide(s, p, LiveLoad(cobot_available=cfg.robot is not None)).assignee
                    path = render_preview(cfg, task_id=t.id, step_id=s.id, operator_id=p.id, assignee=who,
                                          out=out / p.id / f"{i:02d}-{s.id}.png")
                    typer.echo(str(path))
            return
        path = render_preview(cfg, task_id=task, step_id=step, operator_id=profile, assignee=assignee, out=out)
    except KeyError as exc:
        typer.echo(f"unknown id {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(str(path))


@app.command()
def demo(config: Path = typer.Option(EXAMPLE_CELL, help="the cell to demonstrate"),
         duration: str = typer.Option("90s", help="how long the demo runs (real time)"),
         operator: Optional[str] = typer.Option(None, help="operator profile (default: the first)"),
         speed: float = typer.Option(3.0, help="the simulated operator and cobot work this much faster than real"),
         out: Path = typer.Option(Path("out/demo"), help="where the event log, state and projector frames go"),
         robot: str = typer.Option("sim", help="sim: the simulated cobot; ur-emulated: the UR driver against "
                                   "the UR controller emulator in its own process")) -> None:
    """Run the example cell fully simulated: every node, live status, then a summary."""
    from cell.demo import run_demo

    if robot not in ("sim", "ur-emulated"):
        typer.echo(f"--robot {robot!r}: allowed: sim, ur-emulated", err=True)
        raise typer.Exit(2)
    cfg = _load(config)
    code = run_demo(config, cfg, duration_s=parse_duration(duration), operator_id=operator, speed=speed, out=out,
                    robot=robot)
    raise typer.Exit(code)


from cell.cli_calibrate import calibrate_app  # noqa: E402  (calibration commands live in their own module)
from cell.cli_robot import robot_app  # noqa: E402  (the commissioning commands live in their own module)
from cell.cli_vision import vision_app  # noqa: E402
from cell.cli_devices import devices_app  # noqa: E402
from cell.cli_data import data_app  # noqa: E402  (export, delete and retention of operators' data)
from cell.cli_report import report as report_command, simulate_week as simulate_week_command  # noqa: E402
from cell.cli_adapt import adapt  # noqa: E402
from cell.cli_web import coach_app, web as web_command  # noqa: E402  (the job coach's page)

app.add_typer(robot_app, name="robot")
app.add_typer(calibrate_app, name="calibrate")
app.add_typer(vision_app, name="vision")
app.add_typer(devices_app, name="devices")
app.add_typer(data_app, name="data")
app.command("report")(report_command)
app.command("simulate-week")(simulate_week_command)
app.command("adapt")(adapt)
app.command("web")(web_command)
app.add_typer(coach_app, name="coach")

keys_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="CURVE keys of the cell bus (bus.curve: true in the YAML).")
app.add_typer(keys_app, name="keys")


@keys_app.command("generate")
def keys_generate(config: Path = typer.Argument(..., help="the cell YAML (its bus.keys folder is written)"),
                  force: bool = typer.Option(False, "--force", help="replace existing keys (every PC of the cell "
                                             "then needs the new ones)")) -> None:
    """Make the bus's key pair and one per node and tool (public/ and private/ in bus.keys)."""
    from cell import bus_security

    cfg = _load(config)
    folder = cfg.resolve(cfg.bus.keys)
    try:
        made = bus_security.generate(folder, force=force)
    except FileExistsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{len(made)} key pairs in {folder}: public keys in public/, secret keys in private/ (mode 0600). "
               "A PC that runs some of the nodes needs public/ and the private keys of what it runs "
               "(and server.key_secret if it runs the bus, the engine or the robot bridge).")
    if not cfg.bus.curve:
        typer.echo("bus.curve is off in the YAML: set `bus: {curve: true}` to use them", err=True)


ergonomics_app = typer.Typer(add_completion=False, no_args_is_help=True,
                             help="Ergonomic scoring of single postures: landmarks or joint angles in, RULA and REBA out.")
app.add_typer(ergonomics_app, name="ergonomics")


@ergonomics_app.command("score")
def ergonomics_score(file: Path = typer.Argument(..., help="a posture as JSON or YAML (landmark frame or joint angles)"),
                     load_kg: Optional[float] = typer.Option(None, help="load in the hands (overrides the file)"),
                     coupling: Optional[str] = typer.Option(None, help="good, fair, poor or unacceptable")) -> None:
    """Print RULA and REBA of one posture as JSON: every body-part score, the adjustments, tables and action levels."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from ergonomics.scoring import PostureDocumentError, score_document

    try:
        doc = YAML(typ="safe").load(file.read_text(encoding="utf-8"))  # JSON is YAML too
    except FileNotFoundError:
        typer.echo(f"{file}: no such file", err=True)
        raise typer.Exit(2) from None
    except YAMLError as exc:
        typer.echo(f"{file}: not JSON or YAML: {exc}", err=True)
        raise typer.Exit(2) from None
    if isinstance(doc, dict):
        if load_kg is not None:
            doc["load_kg"] = load_kg
        if coupling is not None:
            doc["coupling"] = coupling
    try:
        result = score_document(doc)
    except (PostureDocumentError, ValueError) as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result, indent=2))


@ergonomics_app.command("landmarks")
def ergonomics_landmarks(image: Path = typer.Argument(..., help="a photograph (PNG, JPEG)"),
                         out: Optional[Path] = typer.Option(None, help="write the JSON here instead of stdout")) -> None:
    """Run MediaPipe (models from its wheel, offline) on a photograph; print the landmark frame as JSON."""
    import cv2

    from cell.vision.pose import MediaPipePose

    bgr = cv2.imread(str(image))
    if bgr is None:
        typer.echo(f"{image}: not an image OpenCV can read", err=True)
        raise typer.Exit(2)
    pose = MediaPipePose(static_image=True)
    try:
        result = pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        pose.close()
    if result is None:
        typer.echo(f"{image}: no person found", err=True)
        raise typer.Exit(1)
    text = json.dumps(result.as_document())
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(str(out))


def main() -> None:  # pragma: no cover
    app()
