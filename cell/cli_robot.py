"""`cell robot ...`: commissioning the cobot.

    cell robot check CONFIG                 connect; mode, safety status, version, which step programs exist
    cell robot run CONFIG --program NAME    run one program; exit 0 only if it finished normally
    cell robot emulate-ur                   the UR controller emulator in the foreground (simulated)

``check`` and ``run`` also work without a config for a quick test on a robot:
``--driver ur --host HOST [--dashboard-port P]`` or ``--driver serial --serial-url URL``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from cell.config import Robot

robot_app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])


def _robot(config: Optional[Path], driver: Optional[str], host: Optional[str], dashboard_port: Optional[int],
           rtde_port: Optional[int], serial_url: Optional[str], program: Optional[str] = None) -> Robot:
    """The robot section of CONFIG (if given), with the command-line settings over it."""
    if config is not None:
        from cell.cli import _load
        cfg = _load(config)
        if cfg.robot is None:
            typer.echo(f"{config}: the cell has no 'robot' section", err=True)
            raise typer.Exit(2)
        base = cfg.robot.model_dump()
    else:
        base = {"driver": driver or "ur"}
    for key, value in (("driver", driver), ("host", host), ("dashboard_port", dashboard_port),
                       ("rtde_port", rtde_port), ("serial_url", serial_url)):
        if value is not None:
            base[key] = value
    if program and not any(p["program"] == program for p in base.get("programs", {}).values()):
        base.setdefault("programs", {})["manual"] = {"program": program}
    try:
        return Robot.model_validate(base)
    except Exception as exc:
        typer.echo(f"robot settings: {exc}", err=True)
        raise typer.Exit(2) from None


def _driver(robot: Robot):
    from robot_bridge.driver import DriverError
    from robot_bridge.node import direct_driver

    try:
        return direct_driver(robot)
    except DriverError as exc:  # e.g. a serial driver without --serial-url
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


_CONFIG = typer.Argument(None, help="the cell YAML (optional: without it, give --driver and --host/--serial-url)")
_DRIVER = typer.Option(None, help="ur, serial or sim (default: the config's, else ur)")
_HOST = typer.Option(None, help="the robot's address (UR)")
_DASH = typer.Option(None, "--dashboard-port", help="Dashboard server port (UR, default 29999)")
_RTDE = typer.Option(None, "--rtde-port", help="RTDE port (UR, default 30004)")
_SERIAL = typer.Option(None, "--serial-url", help="pyserial URL (serial arms): /dev/ttyUSB0, socket://host:port")


@robot_app.command("check")
def check(config: Optional[Path] = _CONFIG, driver: Optional[str] = _DRIVER, host: Optional[str] = _HOST,
          dashboard_port: Optional[int] = _DASH, rtde_port: Optional[int] = _RTDE,
          serial_url: Optional[str] = _SERIAL) -> None:
    """Connect to the cobot and print its mode, safety status, version and which step programs exist."""
    robot = _robot(config, driver, host, dashboard_port, rtde_port, serial_url)
    drv = _driver(robot)
    try:
        if robot.driver == "ur":
            result = drv.check()
            for line in result.lines():
                typer.echo(line)
            raise typer.Exit(0 if result.ok else 1)
        now = time.monotonic()
        st = drv.poll(now)
        deadline = now + robot.command_timeout_s * 2
        while st.mode == "disconnected" and time.monotonic() < deadline:
            time.sleep(0.1)
            st = drv.poll(time.monotonic())
        caps = drv.capabilities()
        typer.echo(f"{caps.description}: {st.mode}" + (f" ({st.fault})" if st.fault else ""))
        for step, program in caps.programs.items():
            typer.echo(f"  step {step:<14} {program}")
        raise typer.Exit(0 if st.mode not in ("disconnected", "fault") else 1)
    finally:
        close = getattr(drv, "close", None)
        if close is not None:
            close()


@robot_app.command("run")
def run(config: Optional[Path] = _CONFIG, program: str = typer.Option(..., help="the program, e.g. screw_stem.urp"),
        driver: Optional[str] = _DRIVER, host: Optional[str] = _HOST, dashboard_port: Optional[int] = _DASH,
        rtde_port: Optional[int] = _RTDE, serial_url: Optional[str] = _SERIAL,
        timeout: float = typer.Option(300.0, help="give up (and stop the program) after this many seconds")) -> None:
    """Run one program and report how it ended; exit 0 only if it finished normally."""
    robot = _robot(config, driver, host, dashboard_port, rtde_port, serial_url, program)
    step = next(s for s, p in robot.programs.items() if p.program == program)
    drv = _driver(robot)
    from robot_bridge.driver import DriverError
    try:
        start = time.monotonic()
        deadline = start + robot.command_timeout_s * 2
        while drv.poll(time.monotonic()).mode == "disconnected" and time.monotonic() < deadline:
            time.sleep(0.1)
        try:
            drv.run("cli-run", step, program, time.monotonic())
        except DriverError as exc:
            typer.echo(f"{program}: not started: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"{program}: running on {drv.capabilities().description}")
        end = start + timeout
        while True:
            now = time.monotonic()
            st = drv.poll(now)
            if st.finished:
                typer.echo(f"{program}: finished normally in {now - start:.1f} s")
                raise typer.Exit(0)
            if st.mode in ("fault", "disconnected", "stopped"):
                typer.echo(f"{program}: ended {st.mode}" + (f": {st.fault}" if st.fault else ""), err=True)
                raise typer.Exit(1)
            if now > end:
                drv.stop(now)
                typer.echo(f"{program}: still {st.mode} after {timeout:g} s; stopped", err=True)
                raise typer.Exit(1)
            time.sleep(0.1)
    finally:
        close = getattr(drv, "close", None)
        if close is not None:
            close()


@robot_app.command("emulate-ur", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def emulate_ur(ctx: typer.Context,
               config: Optional[Path] = typer.Option(None, help="take the programs and run times from this cell"),
               host: str = typer.Option("127.0.0.1", help="address to listen on"),
               dashboard_port: int = typer.Option(29999, "--dashboard-port"),
               rtde_port: int = typer.Option(30004, "--rtde-port")) -> None:
    """Start the UR controller emulator (a simulated controller) in the foreground.

    Further options (--program NAME=SECONDS, --control-port, --unlock-delay, ...) go to
    the emulator: `python -m robot_bridge.ur_emulator --help` lists them.
    """
    from robot_bridge import ur_emulator

    argv = ["--host", host, "--dashboard-port", str(dashboard_port), "--rtde-port", str(rtde_port)]
    if config is not None:
        from cell.cli import _load
        cfg = _load(config)
        for p in (cfg.robot.programs.values() if cfg.robot else []):
            argv += ["--program", f"{p.program}={p.duration_s:g}"]
    raise typer.Exit(ur_emulator.main(argv + list(ctx.args)))
