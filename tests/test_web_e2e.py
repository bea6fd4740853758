"""The job coach's page end to end: a simulated cell (`cell run`) and `cell web`, each in its own
processes, driven through headless Chromium (Debian's package, installed by .ci/run) with Playwright.

It shows: the floor view shows the cell; a help request made at the bench appears within 2 s;
"On my way" reaches the engine (the step state names the coach) and the projector (its view
says who is coming); "Resolved" clears the call; applying an adaptation writes the YAML and
changes the next work order, not the one in progress.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from cell.bus import Publisher, Subscriber
from cell.config_loader import load_config
from cell.demo import free_base_port
from cell.messages import Heartbeat, OperatorChanged, StepState, TaskEvent
from cell.store import EventStore

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "bench-coach-2026"

if not Path(CHROMIUM).exists():
    if os.environ.get("CELL_REQUIRE_BROWSER"):
        raise RuntimeError(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's chromium package")
    pytest.skip("no Chromium on this PC (sudo apt-get install chromium; .ci/run does)", allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _cell_copy(tmp: Path) -> Path:
    """The example cell with its own ports, four short work orders, and a log that supports a split."""
    shutil.copytree(ROOT / "configs", tmp / "configs")
    path = tmp / "configs" / "lamp-cell.yaml"
    yaml = YAML()
    data = yaml.load(path.read_text())
    data["bus"]["base_port"] = free_base_port(start=26550)
    data["web"]["port"] = free_base_port(count=1, start=28080)
    data["web"]["reports"] = "../reports"
    data["orders"] = [{"task": "desk-lamp", "quantity": 1} for _ in range(6)]
    with open(path, "w") as f:
        yaml.dump(data, f)
    cfg = load_config(path)
    from tests.test_adaptation import _rows  # a log where insert_stem takes three times its target time

    store = EventStore(cfg.resolve(cfg.store.path), operator_id="op-novice-01")  # the person at the cell
    store.append_many(_rows(cfg, "op-novice-01", slow={"insert_stem": 3.0}))
    store.close()
    return path


def _start(argv: list[str], log: Path) -> subprocess.Popen:
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYTHONUNBUFFERED="1")
    return subprocess.Popen(argv, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGINT)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


def _wait_http(url: str, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s:g} s")


class BusTap:
    """Everything the test needs to see on the cell's bus, collected while it runs."""

    def __init__(self, ctx, ep):
        self.sub = Subscriber(ctx, ep.sub, ["step.state", "heartbeat.projection", "operator.profile"])
        self.seen: list = []

    def pump(self, seconds: float = 0.0) -> None:
        end = time.monotonic() + seconds
        while True:
            msg = self.sub.recv(50)
            if msg is not None:
                self.seen.append(msg)
            elif time.monotonic() >= end:
                return

    def wait(self, predicate, timeout_s: float, what: str):
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.pump(0.1)
            for m in self.seen:
                if predicate(m):
                    return m
        raise AssertionError(f"not seen on the bus within {timeout_s:g} s: {what}")


def test_the_coach_sees_the_cell_answers_help_and_applies_an_adaptation(tmp_path):
    import zmq
    from playwright.sync_api import expect, sync_playwright

    from cell.nodes import endpoints

    config_path = _cell_copy(tmp_path)
    cfg = load_config(config_path)
    base = f"http://127.0.0.1:{cfg.web.port}"
    cell = cfg.cell.id
    add = subprocess.run([sys.executable, "-m", "cell", "coach", "add", str(config_path), "els", "--name", "Els",
                          "--password-stdin"], input=PASSWORD + "\n", text=True, capture_output=True)
    assert add.returncode == 0, add.stderr
    run = _start([sys.executable, "-m", "cell", "run", str(config_path), "--speed", "6",
                  "--state-dir", str(tmp_path / "state"), "--frames-dir", str(tmp_path / "frames")],
                 tmp_path / "run.log")
    web = _start([sys.executable, "-m", "cell", "web", str(config_path)], tmp_path / "web.log")
    ctx = zmq.Context()
    tap = BusTap(ctx, endpoints(cfg))
    pub = Publisher(ctx, endpoints(cfg).pub)
    try:
        _wait_http(f"{base}/login")
        tap.wait(lambda m: isinstance(m, StepState), 30, "the engine's first step state")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{base}/")
            assert "/login" in page.url  # not logged in: the login page, nothing of the cell
            page.fill("input[name=username]", "els")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            tile = page.locator(f".tile[data-cell='{cell}']")
            expect(tile).to_contain_text(cfg.cell.name, timeout=10_000)
            expect(tile).to_contain_text("step ", timeout=10_000)  # the live step is on it

            # a help request at the bench (the help button's event, as tracking sends it)
            time.sleep(0.3)
            asked = time.monotonic()
            pub.send(TaskEvent(src="vision", t=time.monotonic(), kind="help", detail="help button"))
            expect(page.locator(f".tile.help[data-cell='{cell}']")).to_be_visible(timeout=2_000)
            shown_after = time.monotonic() - asked
            assert shown_after < 2.0
            expect(tile).to_contain_text("Help wanted")

            # "on my way": the engine's state names the coach, the projector's view says it
            tap.seen.clear()
            tile.get_by_role("button", name="On my way").click()
            expect(tile.locator(".coming")).to_have_text("Els is on the way", timeout=3_000)
            tap.wait(lambda m: isinstance(m, StepState) and m.help_coming == "Els", 3, "step state with the coach")
            tap.wait(lambda m: isinstance(m, Heartbeat) and m.src == "projection"
                     and "Els komt eraan" in m.status, 5, "the projector showing 'Els komt eraan'")
            tile.get_by_role("button", name="Resolved").click()
            expect(page.locator(f".tile.help[data-cell='{cell}']")).to_have_count(0, timeout=3_000)

            # the cell view: the bench as projected, and the load of the shift (a coach is logged in)
            page.goto(f"{base}/cell/{cell}")
            expect(page.locator("#bench")).to_be_visible()
            assert page.locator("#bench").evaluate("img => img.naturalWidth") == cfg.projector.resolution[0]

            # an adaptation: the log says insert_stem is slow for this person -> split it
            page.goto(f"{base}/cell/{cell}/adapt?operator=op-novice-01")
            box = page.locator(".proposal", has_text="insert_stem").locator("input[type=checkbox]")
            expect(box).to_be_checked()
            tap.pump(0.2)
            open_order = [m for m in tap.seen if isinstance(m, StepState)][-1].order_id
            page.get_by_role("button", name="Apply the ticked changes").click()
            expect(page.locator(".ok")).to_contain_text("from the next work order", timeout=10_000)
            browser.close()

        profile = load_config(config_path).operator("op-novice-01")
        assert profile.steps["insert_stem"].split is not None  # written into the YAML, and it validates
        notice = tap.wait(lambda m: isinstance(m, OperatorChanged), 90, "the engine taking the new profile")
        assert notice.by == "Els" and notice.order_id > open_order
        states = [m for m in tap.seen if isinstance(m, StepState)]
        before = {m.step_id for m in states if m.order_id == open_order}
        assert "insert_stem.1" not in before  # the order in progress kept its steps
        tap.wait(lambda m: isinstance(m, StepState) and m.order_id == notice.order_id
                 and m.step_id == "insert_stem.1" and m.phase == "done", 90,
                 "the next order's first half of the split step done by the simulated operator")
        audit = (Path(cfg.resolve(cfg.web.audit_log))).read_text()
        for action in ("login", "view_floor", "help_ack", "clear_help", "view_cell", "adaptation_applied"):
            assert f'"action": "{action}"' in audit, action
        print(f"help call on the coach's page {shown_after * 1000:.0f} ms after the bench asked")
    finally:
        pub.close()
        tap.sub.close()
        ctx.term()
        _stop(web)
        _stop(run)
