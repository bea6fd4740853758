"""Hands on the bench -> pick, place and press events (cell/vision/tracking.py), on synthetic hand paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cell.config_loader import load_config
from cell.vision.tracking import HandZoneTracker

EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "lamp-cell.yaml"
CFG = load_config(EXAMPLE)
REST = (300.0, 150.0)  # in front of the fixture: no zone


def tracker(**kw) -> HandZoneTracker:
    return HandZoneTracker(list(CFG.zones), dwell_s=CFG.thresholds.hand_dwell_s,
                           exit_margin_mm=CFG.thresholds.hand_exit_margin_mm, **kw)


def centre(zone_id: str) -> tuple[float, float]:
    return CFG.zone(zone_id).centre()


def run(tr: HandZoneTracker, path: list[tuple[float, tuple[float, float] | None]], hand: str = "right"):
    """Feed (t, point) samples; every event as (kind, zone)."""
    events = []
    for t, p in path:
        events += [(e.kind, e.zone) for e in tr.update(t, {hand: p})]
    return events


def visit(t0: float, zone: str, stay_s: float, fps: float = 30.0, jitter_mm: float = 0.0, seed: int = 0):
    """A hand going from rest to a zone, staying, and back to rest."""
    rng = np.random.default_rng(seed)
    out, t = [], t0
    for p in [REST] + [centre(zone)] * int(stay_s * fps) + [REST]:
        x, y = p
        out.append((t, (x + rng.normal(0, jitter_mm), y + rng.normal(0, jitter_mm))))
        t += 1 / fps
    return out


def test_a_pick_and_a_place_each_count_once_per_visit():
    tr = tracker()
    path = visit(0.0, "bin_stem", 0.6) + visit(2.0, "fixture", 0.6) + visit(4.0, "button_done", 0.5)
    assert run(tr, path) == [("pick", "bin_stem"), ("place", "fixture"), ("press", "button_done")]


def test_two_visits_are_two_picks_and_a_quick_pass_is_none():
    tr = tracker()
    path = visit(0.0, "bin_screws", 0.6) + visit(2.0, "bin_screws", 0.6) + visit(4.0, "bin_cable", 0.1)
    assert run(tr, path) == [("pick", "bin_screws"), ("pick", "bin_screws")]  # 0.1 s < the 0.3 s dwell


def test_a_hand_resting_on_the_edge_of_a_bin_does_not_pick_again():
    z = CFG.zone("bin_base").rect
    edge = (z.x + z.w / 2, z.y + 2.0)  # 2 mm inside the front edge
    rng = np.random.default_rng(3)
    path = [(i / 30, (edge[0], edge[1] + rng.normal(0, 6.0))) for i in range(300)]  # 10 s of +-6 mm jitter
    assert run(tracker(), path) == [("pick", "bin_base")]
    # without the exit margin the same jitter picks over and over
    assert len(run(HandZoneTracker(list(CFG.zones), dwell_s=0.0, exit_margin_mm=0.0), path)) > 10


def test_a_wrong_bin_is_still_reported_as_the_bin_it_was():
    # the tracker reports where the hand was; the engine compares with the step (test_engine: wrong_pick)
    assert run(tracker(), visit(0.0, "bin_shade", 0.5)) == [("pick", "bin_shade")]


def test_place_only_after_a_pick_and_a_lost_hand_starts_no_visit():
    tr = tracker()
    assert run(tr, visit(0.0, "fixture", 0.6)) == []  # nothing in hand: no place
    path = [(5.0, REST), (5.1, centre("bin_socket")), (5.2, None), (5.3, None), (5.45, centre("bin_socket"))]
    assert run(tr, path) == []  # the hand was lost in between: the dwell starts again
    assert run(tr, [(5.8, centre("bin_socket"))]) == [("pick", "bin_socket")]


def test_both_hands_are_tracked_apart():
    tr = tracker()
    ev = []
    for i in range(30):
        t = i / 30
        ev += [(e.kind, e.zone, e.detail) for e in tr.update(t, {"left": centre("bin_base"),
                                                                  "right": centre("button_help")})]
    assert ("pick", "bin_base", "left hand") in ev and ("press", "button_help", "right hand") in ev and len(ev) == 2


def test_a_left_handed_operator_is_tracked_at_the_mirrored_bins():
    right, left = tracker(), tracker(left_handed=True)
    where = CFG.zone("bin_base").left_rect
    point = (where.x + where.w / 2, where.y + where.h / 2)  # bin A's place on the left-handed rail
    path = [(i / 30, point) for i in range(20)]
    assert run(left, path) == [("pick", "bin_base")]
    assert run(right, path) == [("pick", "bin_shade")]  # the right-handed rail has bin F there


def test_hands_map_from_the_camera_image_to_bench_millimetres():
    """Palm centre (hand model) or wrist and knuckles (pose model) -> camera px -> bench mm."""
    from cell.vision.pose import PoseResult, hands_on_bench

    class Scale:  # a camera looking straight down: 2 px per mm, bench origin at pixel (100, 50)
        def to_mm(self, px):
            return (np.asarray(px, float) - [100.0, 50.0]) / 2.0

    w, h = 1280, 720
    image = np.zeros((33, 3))
    vis = np.zeros(33)
    image[[16, 18, 20], :2] = np.array([[900, 450], [910, 460], [920, 440]]) / [w, h]  # right wrist, knuckles
    vis[[16, 18, 20]] = 0.9
    left_palm = np.zeros((21, 2))
    left_palm[[0, 5, 9, 13, 17]] = np.array([[300, 300]] * 5) / [w, h]
    r = PoseResult(world=np.zeros((33, 3)), visibility=vis, image=image, left_hand_image=left_palm)
    where = hands_on_bench(r, (w, h), Scale())
    assert where["left"] == pytest.approx((100.0, 125.0))   # (300-100)/2, (300-50)/2
    assert where["right"] == pytest.approx((405.0, 200.0))  # mean (910, 450) -> (405, 200)
    vis[[18, 20]] = 0.0  # a pose model without knuckles (COCO): the wrist alone
    assert hands_on_bench(r, (w, h), Scale())["right"] == pytest.approx((400.0, 200.0))  # (900-100)/2, (450-50)/2
    vis[[16, 18, 20]] = 0.1  # the right hand out of sight
    assert hands_on_bench(r, (w, h), Scale())["right"] is None
