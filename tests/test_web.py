"""The job coach's page without a browser: who may see what, the floor's picture of a cell, accounts, audit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cell.config import WebSettings
from cell.config_loader import load_config
from cell.messages import ErgonomicScore, Fault, Heartbeat, StepState, StressEstimate, TaskEvent
from cell.web.accounts import AccountError, Accounts, Sessions, hash_password, verify_password
from cell.web.app import Floor, Site, _safe_next, _script_json, create_app
from cell.web.audit import AuditLog
from cell.web.floor import LOAD_WINDOW_S, CellLive

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

ROOT = Path(__file__).resolve().parent.parent
CELL = "lamp-cell-1"
OPERATOR = "op-novice-01"
PASSWORD = "correct horse 1"


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "configs" / "lamp-cell.yaml")


def state(seq=1, step="insert_stem", index=1, **kw) -> StepState:
    base = dict(src="engine", t=0.0, seq=seq, order_id="lamp-cell-1-wo0001", task_id="desk-lamp", step_id=step,
                step_index=index, step_count=11, phase="active", assignee="operator", unit=1, units_total=20)
    base.update(kw)
    return StepState(**base)


class Clock:
    def __init__(self, t=1_800_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture()
def site(cfg, tmp_path):
    live = CellLive(cfg, {OPERATOR: "Jan Peeters"})
    return Site(path=ROOT / "configs" / "lamp-cell.yaml", config=cfg, live=live)


@pytest.fixture()
def web(cfg, site, tmp_path):
    clock = Clock()
    accounts = Accounts(tmp_path / "coaches.json")
    accounts.set("els", PASSWORD, "Els")
    audit = AuditLog(tmp_path / "audit.jsonl")
    reports = tmp_path / "reports"
    (reports / "op-novice-01").mkdir(parents=True)
    (reports / "op-novice-01" / "index.html").write_text("<h1>report of op-novice-01</h1>")
    (tmp_path / "secret.txt").write_text("not for the web")
    settings = WebSettings(reports=reports)
    floor = Floor(sites={CELL: site})
    app = create_app(floor, accounts, audit, settings, clock=clock)
    site.live.take(state(), clock())
    site.live.take(StressEstimate(src="stress", t=0.0, operator_id=OPERATOR, index=0.4, confidence=0.8), clock())
    return TestClient(app), clock, audit, accounts, tmp_path


def login(client, password=PASSWORD):
    return client.post("/login", data={"username": "els", "password": password, "next": "/"},
                       follow_redirects=False)


PAGES = ["/", f"/cell/{CELL}", f"/cell/{CELL}/adapt", "/reports", "/reports/op-novice-01/index.html", "/audit"]
DATA = ["/api/floor", f"/cell/{CELL}/bench.png"]
STREAMS = ["/events/floor", f"/events/cell/{CELL}"]
ACTIONS = [f"/api/cell/{CELL}/help/ack", f"/api/cell/{CELL}/help/resolve", f"/api/cell/{CELL}/resume",
           f"/api/cell/{CELL}/pause", f"/cell/{CELL}/adapt/apply"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_stranger_to_the_login_page_with_nothing_of_the_cell(web, path):
    client = web[0]
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert OPERATOR not in r.text and "Jan" not in r.text and "report of" not in r.text


@pytest.mark.parametrize("path", DATA + STREAMS)
def test_every_stream_and_data_url_refuses_a_stranger(web, path):
    client = web[0]
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 401
    assert OPERATOR not in r.text and "stress" not in r.text


@pytest.mark.parametrize("path", ACTIONS)
def test_every_action_refuses_a_stranger_and_a_page_without_the_form_token(web, path):
    client = web[0]
    assert client.post(path, follow_redirects=False).status_code == 401
    assert login(client).status_code == 303
    r = client.post(path, headers={"X-CSRF-Token": "forged"}, data={"csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403


def test_a_forged_or_expired_session_is_refused(web):
    client, clock = web[0], web[1]
    client.cookies.set("cell_session", "made-up-token")
    assert client.get("/api/floor").status_code == 401
    client.cookies.clear()
    assert login(client).status_code == 303
    assert client.get("/api/floor").status_code == 200
    clock.t += 9 * 3600  # longer than a session lasts unused
    assert client.get("/api/floor").status_code == 401


def test_a_removed_coach_is_out_at_once(web):
    client, accounts = web[0], web[3]
    login(client)
    assert client.get("/api/floor").status_code == 200
    Accounts(accounts.path).remove("els")  # `cell coach remove`, from another process
    assert client.get("/api/floor").status_code == 401


def test_login_with_a_wrong_password_fails_and_is_audited(web):
    client, audit = web[0], web[2]
    r = login(client, "wrong password")
    assert r.status_code == 303 and "failed=1" in r.headers["location"]
    assert client.get("/api/floor").status_code == 401
    entries, bad = audit.read()
    assert bad == 0 and entries[0]["action"] == "login_failed" and entries[0]["coach"] == "els"


def test_a_logged_in_coach_sees_the_floor_with_names_and_load_and_views_are_audited(web):
    client, audit = web[0], web[2]
    login(client)
    r = client.get("/")
    assert r.status_code == 200 and "no-store" in r.headers["cache-control"]
    data = client.get("/api/floor").json()
    (tile,) = data["tiles"]
    assert tile["operator"] == "Jan Peeters"  # the workshop's own names file, not the pseudonym
    assert tile["step"] == "Stem" and tile["step_no"] == "step 2 of 11"
    r = client.get(f"/cell/{CELL}")
    assert r.status_code == 200 and '"stress_now"' in r.text
    actions = [e["action"] for e in audit.read()[0]]
    assert actions[:3] == ["view_cell", "view_floor", "login"]
    cookie = r.request.headers.get("cookie", "")
    assert "cell_session" in cookie


def test_the_session_cookie_is_http_only_and_same_site_strict(web):
    client = web[0]
    r = login(client)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_reports_are_served_only_from_the_reports_folder(web):
    client = web[0]
    login(client)
    assert "report of op-novice-01" in client.get("/reports/op-novice-01/index.html").text
    assert "op-novice-01" in client.get("/reports").text
    for bad in ("/reports/../secret.txt", "/reports/%2e%2e/secret.txt", "/reports/..%2fsecret.txt"):
        r = client.get(bad)
        assert r.status_code == 404 and "not for the web" not in r.text, bad


def test_the_bench_picture_is_the_projector_frame(web, cfg):
    client = web[0]
    login(client)
    r = client.get(f"/cell/{CELL}/bench.png")
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    import struct

    width, height = struct.unpack(">II", r.content[16:24])
    assert (width, height) == tuple(cfg.projector.resolution)


def test_an_action_on_a_cell_that_does_not_run_says_so(web, site):
    from cell.web.link import CellLink
    import threading

    client = web[0]
    login(client)
    page = client.get("/")
    csrf = page.text.split('name="csrf" content="')[1].split('"')[0]
    site.link = CellLink(site.config.model_copy(update={"bus": site.config.bus.model_copy(
        update={"base_port": 39990})}), site.live, threading.Lock(), lambda: None)
    r = client.post(f"/api/cell/{CELL}/help/ack", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 504 and "is the cell running" in r.json()["detail"]
    assert web[2].read()[0][0]["action"] == "help_ack_failed"


def test_login_only_sends_back_to_this_site():
    assert _safe_next("/cell/x") == "/cell/x"
    for bad in ("//evil.example/", "https://evil.example/", "\\\\evil", "javascript:alert(1)"):
        assert _safe_next(bad) == "/"


def test_json_in_the_page_cannot_close_its_script_element():
    text = _script_json({"reason": "</script><script>alert(1)</script>"})
    assert "</script>" not in text and json.loads(text)["reason"].startswith("</script>")


# ---- the floor's picture of one cell (pure) --------------------------------------------------------------

def test_a_help_call_counts_its_waiting_time_and_shows_who_is_coming(cfg):
    live = CellLive(cfg)
    live.take(state(1), 100.0)
    assert live.tile(100.0, health=True)["help"] is None
    live.take(state(2, help_requested=True), 110.0)
    live.take(state(3, help_requested=True, step="screw_stem", index=2), 120.0)  # the call stays the first one
    help_ = live.tile(145.0, health=True)["help"]
    assert help_["waiting_s"] == 35 and help_["step"] == "Stem" and help_["coming"] == ""
    live.take(state(4, help_requested=True, help_coming="Els", step="screw_stem", index=2), 150.0)
    assert live.tile(151.0, health=True)["help"]["coming"] == "Els"
    live.take(state(5), 160.0)
    assert live.tile(161.0, health=True)["help"] is None


def test_a_late_state_does_not_undo_a_newer_one(cfg):
    live = CellLive(cfg)
    live.take(state(5, help_requested=True), 1.0)
    assert not live.take(state(4), 2.0)  # older seq, same order
    assert live.tile(3.0, health=True)["help"] is not None


def test_faults_open_and_clear_per_component_and_device(cfg):
    live = CellLive(cfg)
    live.take(Fault(src="devices", t=0, component="device", severity="warning", text="pedal: lost (no reply)"), 10.0)
    live.take(Fault(src="devices", t=0, component="device", severity="warning", text="wearable: lost"), 11.0)
    live.take(Fault(src="engine", t=0, component="camera", severity="pause", text="no camera frames for 2 s"), 12.0)
    comps = [f["component"] for f in live.tile(20.0, health=True)["faults"]]
    assert comps == ["bus", "camera", "device pedal", "device wearable"]  # not heard on the bus either
    live.take(Fault(src="devices", t=0, component="device", severity="warning", text="pedal: back", cleared=True), 21.0)
    live.take(Heartbeat(src="engine", t=0, seq=1), 21.0)
    tile = live.tile(22.0, health=True)
    assert [f["component"] for f in tile["faults"]] == ["camera", "device wearable"]
    assert tile["faults"][0]["waiting_s"] == 10


def test_the_load_flag_needs_sustained_high_stress_and_is_only_for_coaches(cfg):
    live = CellLive(cfg)
    high = cfg.thresholds.high_stress
    t = 0.0
    for i in range(30):  # high for a minute and a half: not yet a pattern
        live.take(StressEstimate(src="stress", t=t, operator_id=OPERATOR, index=high + 0.1, confidence=0.9), t)
        t += 3.0
    assert "Stress high" in live.tile(t, health=True)["load"]
    assert live.tile(t, health=False)["load"] == ""
    assert "stress" not in live.detail(t, health=False) and "stress" in live.detail(t, health=True)
    calm = CellLive(cfg)
    for i in range(200):  # mostly calm with spikes: no flag
        idx = high + 0.1 if i % 3 == 0 else 0.2
        calm.take(StressEstimate(src="stress", t=i * 3.0, operator_id=OPERATOR, index=idx, confidence=0.9), i * 3.0)
    assert calm.tile(600.0, health=True)["load"] == ""
    # and an old stretch of high stress slides out of the window
    assert live.tile(t + LOAD_WINDOW_S + 1, health=True)["load"] == ""


def test_ergonomic_load_high_for_a_while_raises_the_flag(cfg):
    live = CellLive(cfg)
    level = cfg.thresholds.cobot_at_rula_action_level
    for i in range(60):
        live.take(ErgonomicScore(src="ergonomics", t=0, operator_id=OPERATOR, rula_grand=6, rula_action_level=level,
                                 rula_left=6, rula_right=5, confidence=1.0), i * 5.0)
    assert "Ergonomic load high" in live.tile(300.0, health=True)["load"]
    assert live.detail(300.0, health=True)["rula"][-1][1] == 6.0


def test_events_name_what_a_coach_cares_about(cfg):
    live = CellLive(cfg)
    live.take(TaskEvent(src="vision", t=0, kind="wrong_pick", zone="bin_socket"), 1.0)
    live.take(TaskEvent(src="vision", t=0, kind="pick", zone="bin_base"), 2.0)  # routine: the steps say it
    live.take(state(1, phase="done", step="base_to_fixture", index=0), 3.0)
    texts = [e["text"] for e in live.detail(4.0, health=True)["events"]]
    assert texts == ["Base: done by the operator", "took from the wrong bin (bin E)"]


# ---- accounts ------------------------------------------------------------------------------------------

def test_passwords_are_salted_hashes_never_the_password(tmp_path):
    a = Accounts(tmp_path / "c.json")
    a.set("els", PASSWORD, "Els")
    a.set("tom", PASSWORD, "Tom")
    text = (tmp_path / "c.json").read_text()
    assert PASSWORD not in text
    hashes = [v["hash"] for v in json.loads(text)["coaches"].values()]
    assert hashes[0] != hashes[1]  # same password, different salt
    assert (tmp_path / "c.json").stat().st_mode & 0o077 == 0  # only the service's user reads it
    assert a.check("els", PASSWORD).name == "Els"
    assert a.check("els", PASSWORD + "x") is None and a.check("nobody", PASSWORD) is None
    assert verify_password("x", hash_password("x")) and not verify_password("x", "garbage$")


def test_bad_usernames_short_passwords_and_broken_files_are_refused_clearly(tmp_path):
    a = Accounts(tmp_path / "c.json")
    with pytest.raises(AccountError, match="lower case"):
        a.set("Els Janssens", PASSWORD)
    with pytest.raises(AccountError, match="at least 8"):
        a.set("els", "short")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(AccountError, match="bad.json"):
        Accounts(tmp_path / "bad.json")


def test_sessions_expire_when_unused():
    s = Sessions(lifetime_s=60)
    from cell.web.accounts import Coach

    sess = s.open(Coach("els", "Els"), 0.0)
    assert s.get(sess.token, 50.0) is sess
    assert s.get(sess.token, 100.0) is sess  # used at 50: still fresh
    assert s.get(sess.token, 161.0) is None


def test_the_audit_log_survives_a_torn_last_line(tmp_path):
    log = AuditLog(tmp_path / "a.jsonl")
    log.write("els", "login")
    with open(tmp_path / "a.jsonl", "a") as f:
        f.write('{"t": "2026-11-2')  # power cut mid-write
    log.write("els", "view_floor")
    entries, bad = log.read()
    assert [e["action"] for e in entries] == ["view_floor", "login"] and bad == 1


def test_the_page_listens_on_this_pc_only_unless_the_yaml_says_otherwise(cfg, tmp_path):
    from cell.cli_web import web_settings

    assert WebSettings().host == "127.0.0.1"
    w = web_settings(cfg)
    assert w.host == "127.0.0.1" and w.accounts.is_absolute() and w.accounts.parent.name == "data"


def test_the_trends_start_with_todays_log_of_the_person_at_the_cell(cfg, tmp_path):
    from datetime import datetime

    from cell.config import StoreSettings
    from cell.store import EventStore
    from cell.web.link import backfill_today

    log = tmp_path / "cell.sqlite"
    c = cfg.model_copy(update={"store": StoreSettings(path=log)})
    now = datetime(2026, 11, 24, 15, 0).timestamp()
    clock = Clock(now - 3 * 3600)  # this morning
    store = EventStore(log, clock=clock, operator_id=OPERATOR)
    store.append_many([StressEstimate(src="stress", t=1.0, operator_id=OPERATOR, index=0.3, confidence=0.9),
                       ErgonomicScore(src="ergonomics", t=1.0, operator_id=OPERATOR, rula_grand=5,
                                      rula_action_level=3, rula_left=5, rula_right=4, confidence=1.0)])
    clock.t = now - 26 * 3600  # yesterday: not this shift
    store.append_many([StressEstimate(src="stress", t=0.0, operator_id=OPERATOR, index=0.9, confidence=0.9)])
    store.close()
    live = CellLive(c)
    assert backfill_today(live, c, now) == 2
    assert [v for _, v in live.stress.series()] == [0.3] and [v for _, v in live.rula.series()] == [5.0]
    assert live.stress.series()[0][0] <= now - 3 * 3600
    assert backfill_today(CellLive(c.model_copy(update={"store": StoreSettings(path=tmp_path / "none.sqlite")})),
                          c.model_copy(update={"store": StoreSettings(path=tmp_path / "none.sqlite")}), now) == 0
