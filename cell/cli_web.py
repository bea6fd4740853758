"""`cell web CONFIG...`: the job coach's live web page for one or more cells; `cell coach`: their accounts.

The page follows each cell's bus (the endpoints of its YAML: the cells may run on other
PCs) and listens where the first cell's ``web:`` section says (127.0.0.1 by default: this
PC only). Accounts, the audit log, the names file and the reports folder are the first
cell's too; paths are relative to that YAML.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import List, Optional

import typer

from cell.config import CellConfig, WebSettings

coach_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Job coaches' accounts for the web page (hashed passwords, kept local).")

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def web_settings(config: CellConfig) -> WebSettings:
    """The ``web:`` section with its paths resolved against the YAML it is written in."""
    w = config.web
    return w.model_copy(update={
        "accounts": config.resolve(w.accounts), "audit_log": config.resolve(w.audit_log),
        "names": config.resolve(w.names) if w.names else None,
        "reports": config.resolve(w.reports) if w.reports else None,
    })


def build_floor(paths: list[Path], configs: list[CellConfig], names: dict[str, str], *, links: bool = True):
    from cell.web.app import Floor, Site
    from cell.web.floor import CellLive
    from cell.web.link import CellLink

    seen: dict[str, Path] = {}
    for path, cfg in zip(paths, configs):
        if cfg.cell.id in seen:
            raise typer.BadParameter(f"{path} and {seen[cfg.cell.id]} are both cell {cfg.cell.id!r}: "
                                     "every cell on the floor needs its own cell.id")
        seen[cfg.cell.id] = path
    floor = Floor(sites={})
    for path, cfg in zip(paths, configs):
        live = CellLive(cfg, names)
        site = Site(path=path, config=cfg, live=live)
        if links:
            site.link = CellLink(cfg, live, floor.lock, floor.bump)
        floor.sites[cfg.cell.id] = site
    return floor


def web(configs: List[Path] = typer.Argument(..., help="the cell YAMLs of the cells on the floor"),
        host: Optional[str] = typer.Option(None, help="listen on this address (default: web.host of the first "
                                           "YAML, 127.0.0.1 unless it says otherwise)"),
        port: Optional[int] = typer.Option(None, help="port (default: web.port of the first YAML)")) -> None:
    """The job coach's live web page: every cell on the floor, help calls, adaptations, reports."""
    import uvicorn

    from cell.cli import _load
    from cell.cli_data import read_names
    from cell.web.accounts import AccountError, Accounts
    from cell.web.app import create_app
    from cell.web.audit import AuditLog

    from cell import bus_security

    cfgs = [_load(c) for c in configs]
    secured = {str(c.resolve(c.bus.keys)) for c in cfgs if c.bus.curve}
    if len(secured) > 1 or (secured and not all(c.bus.curve for c in cfgs)):
        typer.echo("the cells on one page share one CURVE setting and keys folder (bus.curve, bus.keys); "
                   f"these differ: {', '.join(sorted(secured))}", err=True)
        raise typer.Exit(2)
    try:
        bus_security.configure_for(cfgs[0], "web")
    except bus_security.KeysMissing as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    settings = web_settings(cfgs[0])
    if host is not None or port is not None:
        settings = settings.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v is not None})
    names = read_names(settings.names) if settings.names else {}
    floor = build_floor(list(configs), cfgs, names)
    try:
        accounts = Accounts(settings.accounts)
    except AccountError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if len(accounts) == 0:
        typer.echo(f"no coach accounts in {settings.accounts} yet: add one with\n"
                   f"  cell coach add {configs[0]} USERNAME --name \"Your name\"", err=True)
    app = create_app(floor, accounts, AuditLog(settings.audit_log), settings)
    for site in floor.sites.values():
        site.link.start()
    where = "this PC only" if settings.host in LOOPBACK else "the network: anyone who can reach this PC sees the login page"
    typer.echo(f"job coach's page for {', '.join(floor.sites)} on http://{settings.host}:{settings.port}/ "
               f"({where}); audit log {settings.audit_log}", err=True)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        for site in floor.sites.values():
            site.link.stop()


def _accounts(config: Path):
    from cell.cli import _load
    from cell.web.accounts import AccountError, Accounts

    settings = web_settings(_load(config))
    try:
        return Accounts(settings.accounts)
    except AccountError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@coach_app.command("add")
def coach_add(config: Path = typer.Argument(..., help="the cell YAML (its web.accounts file is used)"),
              username: str = typer.Argument(..., help="login name: lower case letters, digits, '.', '_', '-'"),
              name: str = typer.Option("", help="the name the bench shows when this coach answers a help call"),
              password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin "
                                                  "(scripts); default: asked twice, not echoed")) -> None:
    """Add a job coach (or set a new password)."""
    from cell.web.accounts import AccountError

    accounts = _accounts(config)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            typer.echo("the two passwords differ; nothing changed", err=True)
            raise typer.Exit(2)
    try:
        coach = accounts.set(username, password, name)
    except AccountError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"coach {coach.username} ({coach.name}) saved in {accounts.path}")


@coach_app.command("list")
def coach_list(config: Path = typer.Argument(..., help="the cell YAML")) -> None:
    """The coaches who can log in."""
    accounts = _accounts(config)
    for u in accounts.usernames():
        typer.echo(u)


@coach_app.command("remove")
def coach_remove(config: Path = typer.Argument(..., help="the cell YAML"),
                 username: str = typer.Argument(...)) -> None:
    """Remove a coach's account (their open sessions end when the page next checks)."""
    accounts = _accounts(config)
    if not accounts.remove(username):
        typer.echo(f"no coach {username!r}; coaches: {', '.join(accounts.usernames()) or 'none'}", err=True)
        raise typer.Exit(2)
    typer.echo(f"coach {username} removed from {accounts.path}")
