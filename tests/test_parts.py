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
    v = bench_view(cfg, cfg.operator("op-experienced-02"), state(cfg, "screw_stem"))
    roles = {(h.zone_id, h.role, h.quantity) for h in v.highlights}
    assert ("bin_screws", "pick", 2) in roles and ("fixture", "place", None) in roles
    assert v.instruction == "Neem 2 schroeven en draai de steel vast"  # full text, Dutch
    assert (v.step_index, v.step_count, v.units_done, v.units_total) == (2, 11, 1, 20)
    novice = bench_view(cfg, cfg.operator("op-novice-01"), state(cfg, "screw_stem"))
    assert novice.instruction == "Steel vastschroeven" and novice.large_text  # pictogram-first: short title
    english = bench_view(cfg, cfg.operator("op-limited-03"), state(cfg, "screw_stem"))
    assert english.instruction.startswith("Take 2 screws")


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
