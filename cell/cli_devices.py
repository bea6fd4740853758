"""`cell devices monitor` and `cell devices emulate`: the bench's serial devices without the rest of the cell.

``monitor CONFIG`` opens every device of a cell and prints what they send, one
JSON object a line (link status changes go to stderr); ``monitor --device
KIND=URL`` does the same for one device without a config. ``emulate KIND``
starts an EMULATED device on a pseudo-terminal, prints its path on the first
line and keeps sending realistic traffic, so a config can be tried without
hardware (docs/devices.md).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import typer

devices_app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])

KIND_NAMES = {"buttons": "button_box", "pedal": "pedal", "stacklight": "stack_light", "pick-to-light": "pick_to_light",
              "heart-rate": "heart_rate", "torque-tool": "torque_tool"}


def _device_from_option(spec: str, baudrate: int):
    from cell.config import Device

    kind, sep, url = spec.partition("=")
    kind = KIND_NAMES.get(kind, kind)
    if not sep or not url:
        raise typer.BadParameter(f"{spec!r}: write KIND=URL, e.g. heart-rate=/dev/ttyUSB0")
    allowed = sorted(set(KIND_NAMES) | set(KIND_NAMES.values()))
    if kind not in KIND_NAMES.values():
        raise typer.BadParameter(f"{spec!r}: unknown kind; allowed: {', '.join(allowed)}")
    return Device(id=kind.replace("_", "-"), kind=kind, url=url, baudrate=baudrate)


@devices_app.command("monitor")
def monitor(config: Optional[Path] = typer.Argument(None, help="the cell YAML: every device in it"),
            device: Optional[str] = typer.Option(None, "--device", metavar="KIND=URL",
                                                 help="one device without a config, e.g. heart-rate=/dev/pts/3"),
            baudrate: int = typer.Option(9600, help="with --device: its baud rate"),
            seconds: Optional[float] = typer.Option(None, help="stop after this long (default: Ctrl-C)")) -> None:
    """Print what the devices send, one JSON object a line."""
    from cell.devices import DeviceLink

    if (config is None) == (device is None):
        typer.echo("give a config, or --device KIND=URL", err=True)
        raise typer.Exit(2)
    if device is not None:
        devices = [_device_from_option(device, baudrate)]
    else:
        from cell.cli import _load

        devices = list(_load(config).devices)
        if not devices:
            typer.echo(f"{config}: no devices in this cell", err=True)
            raise typer.Exit(1)
    links = [DeviceLink(d).start() for d in devices]
    said: dict[str, str] = {}
    end = time.monotonic() + seconds if seconds is not None else float("inf")
    try:
        while time.monotonic() < end:
            for link in links:
                if said.get(link.device.id) != link.status:
                    said[link.device.id] = link.status
                    typer.echo(json.dumps({"device": link.device.id, "status": link.status}), err=True)
                for r in link.readings():
                    typer.echo(json.dumps({"device": r.device, "t": round(r.t, 3), "kind": r.kind,
                                           "values": r.values, "text": r.text}))
            sys.stdout.flush()
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        for link in links:
            link.close()


@devices_app.command("emulate")
def emulate(kind: str = typer.Argument(..., help="buttons, stacklight, pick-to-light, heart-rate or torque-tool"),
            baudrate: int = typer.Option(9600, help="the emulated device's own baud rate"),
            link: Optional[Path] = typer.Option(None, help="also make this symlink to the pty (a stable url)"),
            seed: Optional[int] = typer.Option(None, help="repeatable traffic"),
            stress_at: Optional[float] = typer.Option(None, metavar="S", help="heart-rate: HRV drops after S seconds"),
            quiet: bool = typer.Option(False, help="do not show the traffic on stderr")) -> None:
    """An EMULATED device on a pseudo-terminal: its path on the first line, then realistic traffic."""
    from cell.devices.emulator import EMULATOR_KINDS, run_emulator

    if kind not in EMULATOR_KINDS:
        typer.echo(f"unknown kind {kind!r}; allowed: {', '.join(EMULATOR_KINDS)}", err=True)
        raise typer.Exit(2)
    typer.echo(f"emulated {kind} ({EMULATOR_KINDS[kind]}, {baudrate} baud); Ctrl-C to stop", err=True)

    def show(direction: str, line: str) -> None:
        print(f"{direction} {line}", file=sys.stderr, flush=True)

    run_emulator(kind, stop=threading.Event(), print_path=lambda port: print(port, flush=True), baudrate=baudrate,
                 link=link, seed=seed, stress_at_s=stress_at, on_line=None if quiet else show)
