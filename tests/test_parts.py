"""Smaller core pieces: the simulated cobot, the event log, the bench view, the stress estimate."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cell.config_loader import load_config
from cell.messages import ErgonomicScore, Fault, PoseFrame, StepState, TaskEvent
from cell.store import EventStore
from ergonomics.stress import StressEstimator
from projection.bench_view import bench_view
from robot_bridge.driver import DriverError
from robot_bridge.simulated import SimulatedCobot

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "configs" / "lamp-cell.yaml")


# ---- simulated cobot ---------------------------------------------------------------------

def cobot() -> SimulatedCobot:
    return SimulatedCobot({"fit_shade": ("fit_shade.urp", 8.0)})


def test_simulated_cobot_runs_for_its_duration_and_pauses_hold_the_clock():
    c = cobot()
    assert c.capabilities().simulated and "simulated" in c.capabilities().description
    c.run("r1", "fit_shade", "fit_shade.urp", 10.0)
    assert c.poll(13.0).mode == "running" and c.poll(13.0).progress == pytest.approx(3 / 8)
    c.pause(14.0)
    assert c.poll(100.0).mode == "paused"  # no progress while paused
    c.resume(100.0)
    assert c.next_finish(100.0) == pytest.approx(104.0)
    st = c.poll(c.next_finish(100.0))  # exactly at the predicted finish: finished (no float gap)
    assert st.mode == "idle" and st.finished and st.run_id == "r1"


def test_simulated_cobot_refuses_what_a_real_one_would():
    c = cobot()
    with pytest.raises(DriverError, match="program not found"):
        c.run("r1", "fit_shade", "other.urp", 0.0)
    c.run("r2", "fit_shade", "fit_shade.urp", 0.0)
    with pytest.raises(DriverError, match="busy"):
        c.run("r3", "fit_shade", "fit_shade.urp", 1.0)
    c.inject_protective_stop(2.0)
    assert c.poll(3.0).mode == "fault" and c.poll(3.0).fault == "protective stop"
    with pytest.raises(DriverError, match="fault"):
        c.run("r4", "fit_shade", "fit_shade.urp", 4.0)
    c.clear_fault(5.0)
    c.inject_connection_loss(6.0)
    with pytest.raises(DriverError, match="connection"):
        c.run("r5", "fit_shade", "fit_shade.urp", 7.0)


# ---- event log -----------------------------------------------------------------------------

def test_store_keeps_events_but_no_pose_frames_and_purges_old_rows(tmp_path):
    now = [1_000_000.0]
    store = EventStore(tmp_path / "e.sqlite", retention_days=1, clock=lambda: now[0])
    frame = PoseFrame(src="sim", t=0.0, frame=1, operator_id="op-1", world=[0.0] * 99, image=[0.0] * 99,
                      visibility=[1.0] * 33)
    score = ErgonomicScore(src="ergo", t=0.0, operator_id="op-1", rula_grand=3, rula_action_level=2, rula_left=3,
                           rula_right=2, confidence=0.9)
    assert store.append_many([frame, score]) == 1
    assert store.count("PoseFrame") == 0 and store.count("ErgonomicScore") == 1
    assert next(store.events(operator_id="op-1"))["rula_grand"] == 3
    now[0] += 2 * 86400
    store.append(TaskEvent(src="t", t=1.0, kind="pick", zone="bin_base"))
    assert store.purge() == 1  # the two-day-old score goes, the new pick stays
    assert store.counts() == {"TaskEvent": 1}
    store.close()


def test_store_refuses_a_newer_schema(tmp_path):
    store = EventStore(tmp_path / "e.sqlite")
    with store.db:
        store.db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    store.close()
    with pytest.raises(RuntimeError, match="schema version 99"):
        EventStore(tmp_path / "e.sqlite")


# ---- bench view ----------------------------------------------------------------------------

def state(cfg, step_id, **kw):
    task = cfg.tasks[0]
    step = task.step(step_id)
    base = dict(src="engine", t=0.0, seq=1, order_id="o", task_id=task.id, step_id=step_id,
                step_index=task.steps.index(step), step_count=len(task.steps), phase="active",
                assignee="operator", unit=2, units_total=20)
    return StepState(**{**base, **kw})


def test_view_of_a_pick_step_highlights_bin_and_fixture_in_the_operators_language(cfg):
    reader = cfg.operator("op-experienced-02").model_copy(update={"guidance": "standard"})
    v = bench_view(cfg, reader, state(cfg, "screw_stem"))
    roles = {(h.zone_id, h.role, h.quantity) for h in v.highlights}
    assert ("bin_screws", "pick", 2) in roles and ("fixture", "place", None) in roles
    assert v.instruction == "Neem 2 schroeven en draai de steel vast"  # full text, Dutch
    assert v.pictogram == "screw" and v.guidance == "standard"
    assert (v.step_index, v.step_count, v.units_done, v.units_total) == (2, 11, 1, 20)
    novice = bench_view(cfg, cfg.operator("op-novice-01"), state(cfg, "screw_stem"))
    assert novice.instruction == "Steel vastschroeven" and novice.large_text  # pictogram-first: short title
    assert novice.pictogram_first and novice.guidance == "full"
    english = bench_view(cfg, cfg.operator("op-limited-03"), state(cfg, "screw_stem"))
    assert english.instruction.startswith("Take 2 screws")


def test_guidance_fades_from_full_to_minimal_and_comes_back_after_a_wrong_pick(cfg):
    expert = cfg.operator("op-experienced-02")  # minimal guidance, reads well
    v = bench_view(cfg, expert, state(cfg, "screw_stem"))
    assert v.guidance == "minimal" and v.instruction == "Steel vastschroeven"  # a short title only
    assert v.pictogram == ""  # no pictogram
    assert {(h.zone_id, h.role, h.quantity) for h in v.highlights} == {("bin_screws", "pick", None),
                                                                       ("fixture", "place", None)}
    wrong = TaskEvent(src="engine", t=0.0, kind="wrong_pick", zone="bin_cable", step_id="screw_stem")
    after = bench_view(cfg, expert, state(cfg, "screw_stem"), wrong_pick=wrong)
    assert ("bin_screws", "correct", 2) in {(h.zone_id, h.role, h.quantity) for h in after.highlights}
    assert after.banner.kind == "error"  # the words and the quantity come back when they are needed
    full = bench_view(cfg, expert.model_copy(update={"guidance": "full"}), state(cfg, "screw_stem"))
    assert full.instruction.startswith("Neem 2 schroeven") and full.pictogram == "screw"
    assert ("bin_screws", "pick", 2) in {(h.zone_id, h.role, h.quantity) for h in full.highlights}


def test_display_preferences_reach_the_view(cfg):
    op = cfg.operator("op-limited-03")
    prefs = op.display.model_copy(update={"font_scale": 1.6, "high_contrast": True})
    v = bench_view(cfg, op.model_copy(update={"display": prefs}), state(cfg, "insert_stem"))
    assert v.font_scale == 1.6 and v.high_contrast and not v.large_text
    assert bench_view(cfg, op, None).font_scale == 1.0  # also on the waiting screen


def test_left_handed_operator_gets_the_left_layout_where_the_config_has_one(cfg):
    # the example mirrors its bin rail and buttons for left-handed operators; its fixtures and the cobot stay
    right = bench_view(cfg, cfg.operator("op-novice-01"), state(cfg, "base_to_fixture"))
    left = bench_view(cfg, cfg.operator("op-limited-03"), state(cfg, "base_to_fixture"))
    assert right.zone("bin_base").bounds_mm == (40, 560, 190, 720)
    assert left.zone("bin_base").bounds_mm == (915, 560, 1065, 720)
    assert left.zone("button_help").bounds_mm == (50, 60, 150, 160)
    assert left.zone("fixture").polygon_mm == right.zone("fixture").polygon_mm  # no left_rect: stays
    assert left.zone("cobot_area").polygon_mm == right.zone("cobot_area").polygon_mm
    assert any(h.zone_id == "bin_base" and h.role == "pick" for h in left.highlights)
    # zone labels in the operator's language where the YAML gives them per language
    assert right.zone("fixture").label == "lampmal" and left.zone("fixture").label == "lamp fixture"


def test_every_fixed_bench_text_is_in_dutch_french_and_english():
    from projection.bench_view import LANGUAGES, MESSAGES

    assert {"nl", "fr", "en"} <= set(LANGUAGES)
    for key, texts in MESSAGES.items():
        for lang in ("nl", "fr", "en"):
            assert texts.get(lang), (key, lang)
        fields = {tuple(sorted(f for f in ("{label}", "{text}", "{part}") if f in t)) for t in texts.values()}
        assert len(fields) == 1, f"{key}: the languages fill in different fields"


def test_french_operator_reads_french_and_a_missing_language_falls_back_to_the_cell_language(cfg):
    fr = cfg.operator("op-limited-03").model_copy(update={"language": "fr"})
    v = bench_view(cfg, fr, state(cfg, "prep_cable"))
    assert v.instruction == "Posez 1 câble dans le gabarit latéral et clipsez la fiche"
    assert v.zone("button_done").label == "terminé" and v.zone("button_help").label == "aide"
    paused = bench_view(cfg, fr, state(cfg, "prep_cable", paused=True, pause_reason="paused by the job coach"))
    assert paused.banner.text == "En pause"
    de = cfg.operator("op-limited-03").model_copy(update={"language": "de"})
    german = bench_view(cfg, de, state(cfg, "prep_cable"))
    assert german.instruction.startswith("Leg 1 kabel")  # no German text: the cell's language (nl)
    assert german.zone("button_done").label == "klaar"


def test_buttons_are_named_in_the_operators_language(cfg):
    nl = bench_view(cfg, cfg.operator("op-novice-01"), state(cfg, "connect_wires"))
    en = bench_view(cfg, cfg.operator("op-limited-03"), state(cfg, "connect_wires"))
    assert (nl.zone("button_done").label, nl.zone("button_help").label) == ("klaar", "hulp")
    assert (en.zone("button_done").label, en.zone("button_help").label) == ("done", "help")
    assert ("button_done", "press") in {(h.zone_id, h.role) for h in nl.highlights}


def test_a_finished_step_is_confirmed_for_a_moment(cfg):
    op = cfg.operator("op-limited-03")
    done = state(cfg, "screw_stem", phase="done")
    v = bench_view(cfg, op, state(cfg, "mount_socket"), done_step=done)
    assert v.banner.kind == "confirm" and v.banner.text == "Well done!"
    # the next step's highlights stay, so the operator can go on
    assert ("bin_socket", "pick") in {(h.zone_id, h.role) for h in v.highlights}
    # the fixture is where both end: no second highlight on it; a press step ends at its button
    assert [h.zone_id for h in v.highlights].count("fixture") == 1
    pressed = bench_view(cfg, op, state(cfg, "fit_shade"), done_step=state(cfg, "connect_wires", phase="done"))
    assert ("button_done", "done") in {(h.zone_id, h.role) for h in pressed.highlights}
    # a wrong pick, help or a pause wins over the confirmation
    wrong = TaskEvent(src="engine", t=0.0, kind="wrong_pick", zone="bin_cable", step_id="mount_socket")
    assert bench_view(cfg, op, state(cfg, "mount_socket"), done_step=done, wrong_pick=wrong).banner.kind == "error"
    assert bench_view(cfg, op, state(cfg, "mount_socket", help_requested=True), done_step=done).banner.kind == "help"


def test_wrong_pick_says_what_to_do_without_blame(cfg):
    wrong = TaskEvent(src="engine", t=0.0, kind="wrong_pick", zone="bin_cable", step_id="insert_stem")
    for op_id, lang in (("op-experienced-02", "nl"), ("op-limited-03", "en")):
        v = bench_view(cfg, cfg.operator(op_id), state(cfg, "insert_stem"), wrong_pick=wrong)
        text = (v.banner.text + " " + v.banner.detail).lower()
        assert " b" in text and " d" in text  # the right bin, and the one to put a part back in
        for blame in ("fout", "wrong", "error", "mistake", "niet goed", "incorrect"):
            assert blame not in text, (lang, blame)


def test_ergonomic_move_to_the_cobot_gets_a_kind_hint(cfg):
    from cell.messages import Allocation

    from projection.bench_view import ergonomic_body_part

    def alloc(reason, step_id="fit_shade", assignee="cobot", reassigned=True):
        return Allocation(src="engine", t=1.0, order_id="o", step_id=step_id, unit=2, assignee=assignee,
                          policy="ergonomic", reason=reason, reassigned=reassigned)

    arm = alloc("the cobot takes the strain: the right upper arm was above 60\u00b0 for 3 of the last 4 min")
    assert ergonomic_body_part(arm) == "shoulder"
    assert ergonomic_body_part(alloc("the cobot takes the strain: the trunk muscles are 41% fatigued")) == "back"
    assert ergonomic_body_part(alloc("the cobot takes the strain: this step usually scores RULA 5.0")) == "body"
    assert ergonomic_body_part(alloc("signs of strain (stress index 0.82); the cobot takes this step so the "
                                     "operator can settle")) is None  # not a body reason: no words about it
    assert ergonomic_body_part(alloc("as planned (cobot)", reassigned=False)) is None
    nl = bench_view(cfg, cfg.operator("op-novice-01"), state(cfg, "fit_shade", assignee="cobot"), allocation=arm)
    assert nl.banner.kind == "hint" and nl.banner.text == "De robot neemt deze stap over, zo spaar je je schouder"
    assert nl.banner.detail == "Kap" and nl.cobot.step_title == "Kap"
    fr = cfg.operator("op-limited-03").model_copy(update={"language": "fr"})
    assert "épaule" in bench_view(cfg, fr, state(cfg, "fit_shade", assignee="cobot"), allocation=arm).banner.text
    # the cobot does it beside the operator's own step: the hint goes in the cobot's area, not the panel
    beside = bench_view(cfg, cfg.operator("op-limited-03"), state(cfg, "base_to_fixture"),
                        cobot_step=state(cfg, "prep_cable", assignee="cobot"),
                        allocation=alloc("the cobot takes the strain: the left upper arm was above 60\u00b0",
                                         step_id="prep_cable"))
    assert beside.banner is None and beside.cobot.step_title == "Plug" and "shoulder" in beside.cobot.hint
    assert set(beside.cobot.work_zone_ids) == {"bin_cable", "fixture_side"}  # drawn as keep-out while it works
    # an allocation for another step says nothing
    other = bench_view(cfg, cfg.operator("op-novice-01"), state(cfg, "unload_lamp", assignee="cobot"), allocation=arm)
    assert other.banner.kind == "info" and other.cobot.hint == ""


def test_calibration_screen(cfg):
    from projection.bench_view import calibration_view

    v = calibration_view(cfg, "en")
    assert v.banner.kind == "calibrate" and v.banner.text == "Calibrating: keep the bench clear"
    assert not v.highlights and not v.zones
    assert calibration_view(cfg).banner.text.startswith("Kalibreren")  # the cell's language


def test_view_after_a_wrong_pick_shows_both_bins_and_what_to_do(cfg):
    wrong = TaskEvent(src="engine", t=0.0, kind="wrong_pick", zone="bin_cable", step_id="insert_stem")
    v = bench_view(cfg, cfg.operator("op-experienced-02"), state(cfg, "insert_stem"), wrong_pick=wrong)
    roles = {h.zone_id: h.role for h in v.highlights}
    assert roles["bin_cable"] == "wrong" and roles["bin_stem"] == "correct"
    assert v.banner.kind == "error" and v.banner.text == "Neem uit bak B"


def test_view_of_cobot_step_pause_and_fault(cfg):
    v = bench_view(cfg, cfg.operator("op-limited-03"), state(cfg, "unload_lamp", assignee="cobot"))
    assert v.assignee == "cobot" and v.cobot.busy and v.cobot.area_zone_id == "cobot_area"
    assert not v.highlights  # nothing for the operator to pick
    paused = bench_view(cfg, cfg.operator("op-limited-03"), state(cfg, "insert_stem", paused=True,
                                                                 pause_reason="paused by the job coach"))
    assert paused.banner.kind == "paused"
    lost = bench_view(cfg, cfg.operator("op-limited-03"),
                      state(cfg, "insert_stem", paused=True, pause_reason="camera: no camera frames for 2 s"),
                      fault=Fault(src="engine", t=0.0, component="camera", severity="pause", text="no frames"))
    assert lost.banner.kind == "fault" and "camera" in lost.banner.text


def test_view_without_camera_asks_for_confirmation_by_hand(cfg):
    from cell.config import Device

    st = state(cfg, "insert_stem", manual="camera: no camera frames for 2 s")
    key = bench_view(cfg, cfg.operator("op-experienced-02"), st)  # Dutch; no pedal or buttons: the space bar
    assert key.banner.kind == "info" and key.banner.text == ("De camera werkt even niet. Klaar met deze stap? "
                                                            "Druk op de spatiebalk.")
    assert key.banner.detail == "camera: no camera frames for 2 s"
    assert {h.zone_id for h in key.highlights} >= {"fixture"}  # still shows what to do
    with_pedal = cfg.model_copy(update={"devices": [Device(id="pedal", kind="pedal", url="loop://")]})
    assert bench_view(with_pedal, cfg.operator("op-novice-01"), st).banner.text.endswith("Trap op het pedaal.")
    # the cobot's step needs no confirmation
    cobot = bench_view(cfg, cfg.operator("op-novice-01"), state(cfg, "unload_lamp", assignee="cobot",
                                                                manual="camera: lost"))
    assert "camera" not in cobot.banner.text


def test_view_says_what_happened_to_the_cobot_and_what_to_do(cfg):
    from cell.messages import Allocation

    op = cfg.operator("op-experienced-02")  # Dutch
    # a cobot-only step cannot go back: the order pauses, and the bench says the job coach restarts the cobot
    stopped = bench_view(cfg, op, state(cfg, "unload_lamp", assignee="cobot", paused=True,
                                        pause_reason="robot: the cobot stopped: protective stop"))
    assert stopped.banner.kind == "fault"
    assert "protective stop" in stopped.banner.text and "begeleider" in stopped.banner.text
    # a step the operator may do comes back to them, and the bench asks them to do it
    back = Allocation(src="engine", t=1.0, order_id="o", step_id="fit_shade", unit=2, assignee="operator",
                      policy="ergonomic", reason="the cobot stopped: protective stop; the step goes back to the "
                      "operator", reassigned=True)
    v = bench_view(cfg, op, state(cfg, "fit_shade"), allocation=back)
    assert v.banner.kind == "info" and "robot is gestopt" in v.banner.text
    assert any(h.zone_id == "bin_shade" for h in v.highlights)  # with the usual pick highlight
    # an ordinary ergonomic move is not announced as a cobot stop
    moved = Allocation(src="engine", t=1.0, order_id="o", step_id="fit_shade", unit=2, assignee="operator",
                       policy="ergonomic", reason="load is fine; as planned (operator)", reassigned=False)
    assert bench_view(cfg, op, state(cfg, "fit_shade"), allocation=moved).banner is None


# ---- stress ------------------------------------------------------------------------------

def beats(est: StressEstimator, t0: float, t1: float, mean_ms: float, sd_ms: float, rng: random.Random) -> None:
    t = t0
    while t < t1:
        rr = rng.gauss(mean_ms, sd_ms)
        est.add_beats(t, [rr])
        t += rr / 1000.0


def test_stress_rises_with_faster_less_variable_heart_and_errors():
    rng = random.Random(1)
    est = StressEstimator(window_s=120, baseline_s=300)
    beats(est, 0, 400, 850, 45, rng)  # calm baseline
    calm = est.estimate(400)
    beats(est, 400, 700, 620, 12, rng)  # faster, stiffer heart
    for t in (650, 660, 680):
        est.add_error(t)
    strained = est.estimate(700)
    assert strained.index > calm.index + 0.3
    assert strained.contributions["hrv"] > 0.5 and strained.contributions["errors"] == 1.0
    assert strained.confidence > 0.5


def test_stress_without_heart_data_has_low_confidence():
    est = StressEstimator()
    est.add_error(10.0)
    s = est.estimate(20.0)
    assert "hrv" not in s.contributions and s.confidence < 0.5
    beats(est, 0, 100, 800, 40, random.Random(2))
    n = len(est._beats)
    est.add_beats(100.0, [5000.0, 120.0])  # artefacts (a 5 s and a 0.12 s beat) are dropped, not counted
    assert len(est._beats) == n
