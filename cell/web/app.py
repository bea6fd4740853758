"""The job coach's web page: the floor, each cell, help calls, adaptations, reports (FastAPI).

Every page, stream and action needs a logged-in coach: pages send anyone else to the login
page (with nothing of the cell in the answer), streams and actions answer 401. Actions are
POSTs with the session's CSRF token and the session cookie is SameSite=Strict. Every view
of a page with operators' data, every login and every change goes to the audit log.
Live updates are server-sent events; everything the page needs is served from here (the
shop floor is offline: no CDN).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from cell.config import CellConfig, WebSettings
from cell.web.accounts import Accounts, Session, Sessions
from cell.web.audit import AuditLog
from cell.web.floor import CellLive

COOKIE = "cell_session"
STREAM_EVERY_S = 0.25     # how often a stream looks for news
STREAM_REFRESH_S = 2.0    # ... and sends anyway (waiting times count up)
HERE = Path(__file__).parent
# the page's buttons on a cell: URL -> (engine command, what the audit log says)
CELL_ACTIONS = {
    "help/ack": ("help_ack", "answered the help call: on my way"),
    "help/resolve": ("clear_help", "resolved the help call"),
    "resume": ("resume", "resumed the cell"),
    "pause": ("pause", "paused the cell"),
}


class NotLoggedIn(Exception):
    def __init__(self, next_url: str):
        self.next_url = next_url


# ---- the floor: every cell the service follows -------------------------------------------------------

@dataclass
class Site:
    path: Path
    config: CellConfig
    live: CellLive
    link: Any = None           # cell.web.link.CellLink (None in tests that feed messages themselves)
    bench_png: tuple[int, bytes] | None = None


@dataclass
class Floor:
    sites: dict[str, Site]
    lock: threading.Lock = field(default_factory=threading.Lock)
    version: int = 0

    def bump(self) -> None:
        self.version += 1

    def site(self, cell_id: str) -> Site:
        try:
            return self.sites[cell_id]
        except KeyError:
            raise HTTPException(404, f"no cell {cell_id!r} on this floor") from None


class BenchImages:
    """The projector's picture of a cell, drawn the way `cell preview` and the projector draw it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._renderers: dict[str, Any] = {}

    def png(self, site: Site, now: float) -> bytes:
        import os

        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        from projection.bench_view import bench_view  # first: it quiets pygame's banner
        from projection.geometry import BenchToProjector
        from projection.renderer import BenchRenderer
        import pygame

        live, config = site.live, site.config
        with self._lock:
            if not pygame.display.get_init():
                pygame.display.init()
                pygame.font.init()
            r = self._renderers.get(config.cell.id)
            if r is None:
                pj = config.projector
                mapping = (BenchToProjector.load(config.resolve(pj.calibration)) if pj.calibration else
                           BenchToProjector.default(config.bench.width_mm, config.bench.depth_mm, *pj.resolution))
                r = self._renderers[config.cell.id] = BenchRenderer(pj.resolution, mapping)
            fault = next((f for _, f in live.faults.values()), None)
            cobot = live.steps.cobot if live.steps.cobot is not live.steps.front else None
            view = bench_view(config, live._profile(), live.steps.front, robot=live.robot, fault=fault,
                              allocation=live.allocation, cobot_step=cobot)
            surface = r.render(view, now)
            buf = io.BytesIO()
            pygame.image.save(surface, buf, "bench.png")
            return buf.getvalue()


# ---- the app ------------------------------------------------------------------------------------------

def create_app(floor: Floor, accounts: Accounts, audit: AuditLog, settings: WebSettings,
               clock=time.time) -> FastAPI:
    app = FastAPI(title="Work cell - job coach", docs_url=None, redoc_url=None, openapi_url=None)
    sessions = Sessions(settings.session_hours * 3600.0)
    env = Environment(loader=PackageLoader("cell.web", "templates"), autoescape=select_autoescape(["html"]))
    benches = BenchImages()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.sessions = sessions

    def page(name: str, request: Request, s: Session | None, **kw: Any) -> HTMLResponse:
        html = env.get_template(name).render(coach=s.coach if s else None, csrf=s.csrf if s else "",
                                             cells=list(floor.sites.values()), path=request.url.path, **kw)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    def client(request: Request) -> str:
        return request.client.host if request.client else ""

    def session(request: Request) -> Session | None:
        s = sessions.get(request.cookies.get(COOKIE), clock())
        if s is not None:
            accounts.refresh()
            if not accounts.exists(s.coach.username):  # removed with `cell coach remove`: out at once
                sessions.close(s.token)
                return None
        return s

    def need_page(request: Request) -> Session:
        s = session(request)
        if s is None:
            raise NotLoggedIn(str(request.url.path))
        return s

    def need_api(request: Request) -> Session:
        s = session(request)
        if s is None:
            raise HTTPException(401, "log in first")
        return s

    def need_action(request: Request, token: str | None) -> Session:
        s = need_api(request)
        if not token or token != s.csrf:
            raise HTTPException(403, "the page is out of date (no valid form token); reload it")
        return s

    @app.exception_handler(NotLoggedIn)
    async def _to_login(request: Request, exc: NotLoggedIn):
        return RedirectResponse(f"/login?next={exc.next_url}", status_code=303)

    # ---- login ---------------------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/", failed: int = 0):
        return page("login.html", request, None, next=_safe_next(next), failed=bool(failed),
                    no_accounts=len(accounts) == 0)

    @app.post("/login")
    def login(request: Request, username: str = Form(...), password: str = Form(...), next: str = Form("/")):
        accounts.refresh()  # accounts added with `cell coach add` while the service runs
        coach = accounts.check(username.strip(), password)
        if coach is None:
            audit.write(username.strip()[:32], "login_failed", client=client(request))
            return RedirectResponse(f"/login?failed=1&next={_safe_next(next)}", status_code=303)
        s = sessions.open(coach, clock())
        audit.write(coach.username, "login", client=client(request))
        resp = RedirectResponse(_safe_next(next), status_code=303)
        resp.set_cookie(COOKIE, s.token, httponly=True, samesite="strict", max_age=int(sessions.lifetime_s),
                        secure=False)  # plain http on the workshop's own network; see docs/web.md
        return resp

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")):
        s = need_action(request, csrf)
        sessions.close(s.token)
        audit.write(s.coach.username, "logout", client=client(request))
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    # ---- pages ---------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def floor_page(request: Request):
        s = need_page(request)
        audit.write(s.coach.username, "view_floor", client=client(request))
        return page("floor.html", request, s, data=_script_json(_floor_data(floor, clock())))

    @app.get("/cell/{cell_id}", response_class=HTMLResponse)
    def cell_page(request: Request, cell_id: str):
        s = need_page(request)
        site = floor.site(cell_id)
        audit.write(s.coach.username, "view_cell", cell=cell_id, client=client(request))
        with floor.lock:
            data = site.live.detail(clock(), health=True)
        return page("cell.html", request, s, site=site, data=_script_json(data))

    @app.get("/cell/{cell_id}/bench.png")
    def bench_png(request: Request, cell_id: str):
        need_api(request)
        site = floor.site(cell_id)
        with floor.lock:
            version = site.live.version
            cached = site.bench_png
        if cached is None or cached[0] != version:
            with floor.lock:
                png = benches.png(site, time.monotonic())
            site.bench_png = cached = (version, png)
        return Response(cached[1], media_type="image/png", headers={"Cache-Control": "no-store"})

    # ---- live streams --------------------------------------------------------------------------------
    async def stream(request: Request, make):
        last_version, last_sent = -1, 0.0
        while True:
            if await request.is_disconnected():
                return
            if session(request) is None:
                yield "event: logout\ndata: {}\n\n"
                return
            now = clock()
            if floor.version != last_version or now - last_sent >= STREAM_REFRESH_S:
                last_version, last_sent = floor.version, now
                yield f"data: {json.dumps(make(now))}\n\n"
            await asyncio.sleep(STREAM_EVERY_S)

    def sse(gen) -> StreamingResponse:
        return StreamingResponse(gen, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/events/floor")
    def floor_events(request: Request):
        need_api(request)
        return sse(stream(request, lambda now: _floor_data(floor, now)))

    @app.get("/events/cell/{cell_id}")
    def cell_events(request: Request, cell_id: str):
        need_api(request)
        site = floor.site(cell_id)

        def make(now: float) -> dict:
            with floor.lock:
                return site.live.detail(now, health=True)
        return sse(stream(request, make))

    @app.get("/api/floor")
    def floor_json(request: Request):
        need_api(request)
        return JSONResponse(_floor_data(floor, clock()))

    # ---- actions on a cell ---------------------------------------------------------------------------
    def engine_command(request: Request, cell_id: str, action: str, csrf: str | None, what: str, **kw: Any):
        from cell.bus import CommandTimeout

        s = need_action(request, csrf)
        site = floor.site(cell_id)
        if site.link is None:
            raise HTTPException(503, f"cell {cell_id} has no bus link")
        try:
            site.link.command(action, by=s.coach.name, **kw)
        except CommandTimeout:
            audit.write(s.coach.username, f"{action}_failed", cell=cell_id, detail="the engine did not answer",
                        client=client(request))
            raise HTTPException(504, f"the engine of {cell_id} does not answer: is the cell running?") from None
        audit.write(s.coach.username, action, cell=cell_id, detail=what, client=client(request))
        floor.bump()
        return {"ok": True}

    @app.post("/api/cell/{cell_id}/{what:path}")
    def cell_action(request: Request, cell_id: str, what: str):
        need_api(request)
        if what not in CELL_ACTIONS:
            raise HTTPException(404, f"no action {what!r}; actions: {', '.join(CELL_ACTIONS)}")
        action, words = CELL_ACTIONS[what]
        return engine_command(request, cell_id, action, request.headers.get("x-csrf-token"), words)

    # ---- adaptations ---------------------------------------------------------------------------------
    @app.get("/cell/{cell_id}/adapt", response_class=HTMLResponse)
    def adapt_page(request: Request, cell_id: str, operator: str | None = None, done: str = "", error: str = ""):
        s = need_page(request)
        site = floor.site(cell_id)
        op = _operator_for(site, operator)
        found = _proposals(site, op)
        audit.write(s.coach.username, "view_adaptations", cell=cell_id, detail=op, client=client(request))
        return page("adapt.html", request, s, site=site, operator=op, found=found, done=done, error=error,
                    titles=_step_titles(site.config))

    @app.post("/cell/{cell_id}/adapt/apply")
    async def adapt_apply(request: Request, cell_id: str):
        form = await request.form()
        s = need_action(request, str(form.get("csrf") or ""))
        site = floor.site(cell_id)
        op = _operator_for(site, str(form.get("operator") or ""))
        found = _proposals(site, op)
        if found["error"]:
            return _back(cell_id, op, error=found["error"])
        if str(form.get("digest") or "") != found["digest"]:
            return _back(cell_id, op, error="The proposals changed since the page was loaded (new work was "
                         "logged). Look at them again before applying.")
        chosen = [found["proposals"][int(i)] for i in form.getlist("take") if str(i).isdigit()
                  and int(i) < len(found["proposals"]) and found["proposals"][int(i)].change]
        if not chosen:
            return _back(cell_id, op, error="Nothing was ticked: the profile stays as it is.")
        message = await asyncio.to_thread(_apply, site, op, chosen, s, audit, client(request))
        if message.startswith("not applied"):
            return _back(cell_id, op, error=message)
        floor.bump()
        return _back(cell_id, op, done=message)

    # ---- reports and the audit log ---------------------------------------------------------------------
    @app.get("/reports", response_class=HTMLResponse)
    def reports_page(request: Request):
        s = need_page(request)
        audit.write(s.coach.username, "view_reports", client=client(request))
        return page("reports.html", request, s, reports=_reports(settings), folder=settings.reports)

    @app.get("/reports/{rel:path}")
    def report_file(request: Request, rel: str):
        s = need_page(request)
        root = settings.reports
        if root is None:
            raise HTTPException(404, "no reports folder is set (web.reports in the cell YAML)")
        path = (root / rel).resolve()
        if not path.is_file() or not path.is_relative_to(root.resolve()):
            raise HTTPException(404, "no such report")
        if path.suffix == ".html":
            audit.write(s.coach.username, "view_report", detail=rel, client=client(request))
        return FileResponse(path, headers={"Cache-Control": "no-store"})

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request):
        s = need_page(request)
        entries, bad = audit.read(300)
        audit.write(s.coach.username, "view_audit", client=client(request))
        return page("audit.html", request, s, entries=entries, bad=bad)

    return app


# ---- helpers (no state of their own) -----------------------------------------------------------------

def _script_json(data: Any) -> str:
    """JSON to put inside a <script> element: nothing in it can close the element."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _safe_next(url: str) -> str:
    """Only a path on this site (no //host, no scheme): a login link cannot send a coach elsewhere."""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else "/"


def _floor_data(floor: Floor, now: float) -> dict:
    with floor.lock:
        tiles = [site.live.tile(now, health=True) for site in floor.sites.values()]
    # what needs a person first: help calls (longest waiting first), then faults, then the rest
    tiles.sort(key=lambda t: (t["help"] is None, not t["faults"] and not t["paused"],
                              -(t["help"] or {}).get("waiting_s", 0), t["id"]))
    return {"tiles": tiles, "version": floor.version}


def _operator_for(site: Site, operator: str | None) -> str:
    ids = [o.id for o in site.config.operators]
    if operator in ids:
        return operator  # type: ignore[return-value]
    if site.live.operator_id in ids:
        return site.live.operator_id  # type: ignore[return-value]
    return ids[0]


def _proposals(site: Site, operator_id: str) -> dict[str, Any]:
    """What `cell adapt` proposes for this operator from the cell's event log, and the patch text."""
    from cell.adaptation import combined_change, propose
    from cell.cli_adapt import AdaptError, log_path, read_rows, render_patch

    config = site.config
    try:
        path = log_path(config, operator_id, None)
        proposals = propose(config, config.operator(operator_id), read_rows(path, operator_id))
    except (AdaptError, OSError) as exc:
        return {"error": str(exc), "proposals": [], "patch": "", "digest": "", "log": ""}
    patch = render_patch(config, operator_id, proposals, source=str(path)) if combined_change(proposals) else ""
    # what would be applied, not the numbers behind it (those move as work is logged)
    digest = hashlib.sha256(json.dumps([[p.step_id, p.rule, p.change] for p in proposals], sort_keys=True,
                                       default=str).encode()).hexdigest()[:16]
    return {"error": "", "proposals": proposals, "patch": patch, "digest": digest, "log": str(path)}


def _apply(site: Site, operator_id: str, chosen: list, s: Session, audit: AuditLog, who: str) -> str:
    """Write the chosen changes into the cell's YAML (validated first) and tell the engine."""
    from cell.adaptation import combined_change
    from cell.bus import CommandTimeout
    from cell.cli_adapt import AdaptError, apply_change_to_files
    from cell.config_loader import ConfigError

    what = ", ".join(f"{p.step_id} ({p.rule})" for p in chosen)
    try:
        written, new_config = apply_change_to_files(site.path, site.config, operator_id, combined_change(chosen))
    except ConfigError as exc:
        audit.write(s.coach.username, "adaptation_refused", cell=site.config.cell.id,
                    detail=f"{operator_id}: {what}: {exc}", client=who)
        return f"not applied: the cell would not validate with it; nothing was written. {exc}"
    except AdaptError as exc:
        return f"not applied: {exc}"
    site.config = new_config
    site.live.config = new_config
    audit.write(s.coach.username, "adaptation_applied", cell=new_config.cell.id,
                detail=f"{operator_id}: {what} -> {written}", client=who)
    if site.link is None:
        return f"Applied to {written}. The cell takes it when it starts."
    try:
        site.link.command("reload_operator", by=s.coach.name, operator_id=operator_id)
    except CommandTimeout:
        return (f"Applied to {written}. The cell did not answer (not running?): it takes the change "
                "when it starts.")
    return f"Applied to {written}. The cell uses it from the next work order on."


def _back(cell_id: str, operator: str, *, done: str = "", error: str = "") -> RedirectResponse:
    from urllib.parse import urlencode

    q = urlencode({"operator": operator, **({"done": done} if done else {}), **({"error": error} if error else {})})
    return RedirectResponse(f"/cell/{cell_id}/adapt?{q}", status_code=303)


def _step_titles(config: CellConfig) -> dict[str, str]:
    """'3. Screw the stem' for each step id, as the bench numbers and names them."""
    from cell.web.floor import LANGUAGE

    out: dict[str, str] = {}
    for task in config.tasks:
        for i, step in enumerate(task.steps, 1):
            out.setdefault(step.id, f"{i}. {step.text(step.title, LANGUAGE, config.cell.language)}")
    return out


def _reports(settings: WebSettings) -> list[dict[str, str]]:
    root = settings.reports
    if root is None or not root.is_dir():
        return []
    out = []
    for p in sorted(root.rglob("*.html")):
        rel = p.relative_to(root).as_posix()
        out.append({"rel": rel, "title": rel.removesuffix("/index.html").removesuffix(".html"),
                    "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(p.stat().st_mtime))})
    return out
