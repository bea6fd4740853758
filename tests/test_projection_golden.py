"""Golden images of the main bench views, for the example cell and its operator profiles.

Each case builds a view with ``bench_view`` from the example config (as the
projection node does) and renders it at the example projector's resolution
under the SDL dummy driver. The frame must match its golden PNG in
``tests/data/golden`` within a tolerance: the mean absolute difference per
channel, the share of clearly different pixels, and the worst 16 x 16 pixel
tile (so one changed letter or digit fails, while softer or harder
anti-aliasing from another FreeType build passes; measured: a one-letter change
scores 75-90 on the worst tile, a 2 x 2 blur of the whole frame 30). A few
region checks say in bench terms what each view must show (this bin lights up
in this colour, that one stays dark).

Profiles: op-novice-01 (pictograms first, full guidance, Dutch),
op-experienced-02 (minimal guidance, Dutch), op-limited-03 (left-handed,
English, with left-handed places for the bins and buttons), and a high-contrast,
large-font French variant of op-limited-03 (right-handed).

After a deliberate change of what the bench shows, regenerate and look at every
image before committing them:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_projection_golden.py
"""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from cell.config_loader import load_config  # noqa: E402
from cell.messages import Allocation, RobotStatus, StepState, TaskEvent  # noqa: E402
from projection.bench_view import bench_view, calibration_view  # noqa: E402
from projection.geometry import BenchToProjector  # noqa: E402
from projection.renderer import BenchRenderer, save_png  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")
MAX_MEAN_ABS = 3.0      # mean |difference| per channel, 0..255
MAX_CHANGED = 0.025     # share of pixels off by more than 64 in some channel
MAX_TILE = 40.0         # mean |difference| in the worst 16 x 16 pixel tile
TILE = 16

CFG = load_config(ROOT / "configs" / "lamp-cell.yaml")

# the example mirrors its bin rail and buttons for left-handed operators (left_rect in the YAML)
LEFT_CFG = CFG

NOVICE = CFG.operator("op-novice-01")
EXPERT = CFG.operator("op-experienced-02")
LEFT = CFG.operator("op-limited-03")
HC_FR = LEFT.model_copy(update={"language": "fr", "handedness": "right",
                                "display": LEFT.display.model_copy(update={"high_contrast": True, "font_scale": 1.5})})

ROBOT_RUNNING = RobotStatus(src="robot", t=0.0, mode="running", simulated=True)


def state(step_id: str, **kw) -> StepState:
    task = CFG.tasks[0]
    step = task.step(step_id)
    base = dict(src="engine", t=0.0, seq=1, order_id="o1", task_id=task.id, step_id=step_id,
                step_index=task.steps.index(step), step_count=len(task.steps), phase="active",
                assignee="operator", unit=3, units_total=20)
    return StepState(**{**base, **kw})


def wrong(step_id: str, zone: str) -> TaskEvent:
    return TaskEvent(src="engine", t=0.0, kind="wrong_pick", zone=zone, step_id=step_id)


def shoulder(step_id: str) -> Allocation:
    return Allocation(src="engine", t=0.0, order_id="o1", step_id=step_id, unit=3, assignee="cobot",
                      policy="ergonomic", reassigned=True,
                      reason="the cobot takes the strain: the right upper arm was above 60\u00b0 for 4 of the "
                             "last 10 min")


# name -> (config, profile, step state, bench_view keyword arguments, region checks)
# a region check is (zone id or bench point in mm, what it must look like)
CASES = {
    "pick_novice_nl": (CFG, NOVICE, state("screw_stem"), {},
                       [("bin_screws", "yellow"), ("bin_base", "dark"), ("bin_cable", "dark")]),
    "pick_minimal_expert_nl": (CFG, EXPERT, state("screw_stem"), {},
                               [("bin_screws", "yellow"), ((465, 520), "dark")]),  # no "2×" in front
    "pick_left_handed_en": (LEFT_CFG, LEFT, state("base_to_fixture"), {},
                            [((990, 640), "yellow"), ((115, 640), "dark"), ((110, 110), "has_light"),
                             ((870, 110), "no_light")]),  # A and the buttons at their left places
    "place_and_press_novice_nl": (CFG, NOVICE, state("screw_stem", phase="verifying"), {},
                                  [("bin_screws", "dark"), ("button_done", "blue")]),
    "press_minimal_expert_nl": (CFG, EXPERT, state("connect_wires", phase="verifying"), {},
                                [("button_done", "blue"), ("button_help", "grey"), ((465, 520), "no_light")]),
    "wrong_pick_novice_nl": (CFG, NOVICE, state("insert_stem"), {"wrong_pick": wrong("insert_stem", "bin_cable")},
                             [((235, 700), "green"), ((640, 700), "orange"), ("bin_base", "dark")]),
    "wrong_pick_minimal_expert_nl": (CFG, EXPERT, state("insert_stem"),
                                     {"wrong_pick": wrong("insert_stem", "bin_cable")},
                                     [((235, 700), "green"), ((640, 700), "orange")]),
    "wrong_pick_left_handed_en": (LEFT_CFG, LEFT, state("screw_stem"),
                                  {"wrong_pick": wrong("screw_stem", "bin_socket")},
                                  [((585, 700), "green"), ((290, 700), "orange")]),
    "cobot_step_left_handed_en": (LEFT_CFG, LEFT, state("unload_lamp", assignee="cobot"), {"robot": ROBOT_RUNNING},
                                  [("fixture", "purple_hatch"), ("bin_shade", "dark")]),
    "ergonomic_hint_novice_nl": (CFG, NOVICE, state("fit_shade", assignee="cobot"),
                                 {"robot": ROBOT_RUNNING, "allocation": shoulder("fit_shade")},
                                 [("bin_shade", "purple_hatch")]),
    "cobot_beside_operator_novice_nl": (CFG, NOVICE, state("base_to_fixture"),
                                        {"robot": ROBOT_RUNNING, "cobot_step": state("prep_cable", assignee="cobot"),
                                         "allocation": shoulder("prep_cable")},
                                        [("bin_base", "yellow"), ("bin_cable", "purple_hatch")]),
    "paused_novice_nl": (CFG, NOVICE, state("insert_stem", paused=True, pause_reason="paused by the job coach"), {},
                         [((290, 600), "dim")]),
    "fault_camera_minimal_expert_nl": (CFG, EXPERT, state("mount_socket", paused=True,
                                                          pause_reason="camera: no camera frames for 2 s"), {},
                                       [("bin_socket", "dim")]),
    "fault_robot_left_handed_en": (LEFT_CFG, LEFT, state("unload_lamp", assignee="cobot", paused=True,
                                                         pause_reason="robot: the cobot stopped: protective stop"),
                                   {}, []),
    "help_novice_nl": (CFG, NOVICE, state("thread_cable", help_requested=True), {},
                       [("fixture_side", "yellow")]),
    # the job coach pressed "on my way" on their page: the bench says who is coming
    "help_coming_novice_nl": (CFG, NOVICE, state("thread_cable", help_requested=True, help_coming="Els"), {},
                              [("fixture_side", "yellow")]),
    "step_done_left_handed_en": (LEFT_CFG, LEFT, state("fit_shade"),
                                 {"done_step": state("connect_wires", phase="done")},
                                 [("bin_shade", "yellow"), ((230, 64), "has_green")]),  # the done button's ring
    "order_done_novice_nl": (CFG, NOVICE, state("unload_lamp", phase="done", unit=20, order_done=True), {}, []),
    "waiting_minimal_expert_nl": (CFG, EXPERT, None, {}, [("bin_base", "dark")]),
    "high_contrast_pick_fr": (CFG, HC_FR, state("prep_cable"), {},
                              [("bin_cable", "hc_yellow"), ("fixture_side", "dark")]),
    "high_contrast_wrong_pick_fr": (CFG, HC_FR, state("mount_socket"), {"wrong_pick": wrong("mount_socket", "bin_shade")},
                                    [((760, 700), "hc_yellow"), ((990, 640), "lit")]),
    "high_contrast_ergonomic_hint_fr": (CFG, HC_FR, state("fit_shade", assignee="cobot"),
                                        {"robot": ROBOT_RUNNING, "allocation": shoulder("fit_shade")}, []),
}


def _looks(px: np.ndarray, what: str) -> bool:
    """Does a window of pixels (N x 3) look ``what``: a colour on average, or light somewhere."""
    r, g, b = (float(v) for v in px.mean(axis=0))
    total = px.sum(axis=1)
    share = {  # share of the window's pixels
        "purple_hatch": ((px[:, 0] > px[:, 1] + 30) & (px[:, 2] > px[:, 1] + 10)).mean() > 0.08,
        "has_light": (total > 300).mean() > 0.02,
        "has_green": ((px[:, 1] > px[:, 0] + 50) & (px[:, 1] > 90)).mean() > 0.05,
        "no_light": (total > 60).mean() < 0.002,
    }
    if what in share:
        return bool(share[what])
    return {
        "dark": r + g + b < 60,
        "dim": 60 <= r + g + b < 420,
        "lit": r + g + b > 150,
        "grey": abs(r - g) < 20 and abs(g - b) < 20 and r > 60,
        "yellow": r > 150 and g > 140 and b < 110,
        "hc_yellow": r > 200 and g > 180 and b < 60,
        "green": g > r + 50 and g > 90,
        "orange": r > b + 60 and r > g and r > 60,
        "blue": b > r + 60 and b > 120,
    }[what]


def _region(frame: pygame.Surface, mapping: BenchToProjector, where, what: str, config) -> np.ndarray:
    """The pixels around a bench point or a zone's centre: 12 mm across for a colour, 60 mm to
    find light or a hatching."""
    if isinstance(where, str):
        pts = next(z for z in config.zones if z.id == where).points()
        where = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
    half = 30 if what in ("purple_hatch", "has_light", "no_light", "has_green") else 6
    x, y = (int(round(v)) for v in mapping.to_px(where))
    k = max(1, int(round(half / mapping.mm_per_px(where))))
    return pygame.surfarray.array3d(frame)[x - k:x + k + 1, y - k:y + k + 1].reshape(-1, 3).astype(float)


@pytest.fixture(scope="module")
def renderer():
    pygame.display.init()
    pygame.font.init()
    pj = CFG.projector
    mapping = BenchToProjector.default(CFG.bench.width_mm, CFG.bench.depth_mm, *pj.resolution)
    return BenchRenderer(pj.resolution, mapping)


def _render(renderer: BenchRenderer, name: str) -> pygame.Surface:
    if name == "calibration_nl":
        return renderer.render(calibration_view(CFG), 0.0)
    config, profile, st, kwargs, _checks = CASES[name]
    return renderer.render(bench_view(config, profile, st, **kwargs), 0.0)


@pytest.mark.parametrize("name", [*CASES, "calibration_nl"])
def test_golden(renderer, name, tmp_path):
    frame = _render(renderer, name)
    golden = GOLDEN / f"{name}.png"
    if UPDATE:
        save_png(frame, golden)
    if name in CASES:
        config, profile, _st, _kw, checks = CASES[name]
        cfg_for_zones = config
        if profile.handedness == "left":  # a left-handed operator's zones are at their left places
            cfg_for_zones = config.model_copy(update={"zones": [
                z.model_copy(update={"rect": z.left_rect}) if z.left_rect is not None else z for z in config.zones]})
        for where, what in checks:
            px = _region(frame, renderer.mapping, where, what, cfg_for_zones)
            assert _looks(px, what), f"{name}: {where} should look {what}, is {px.mean(axis=0).round().tolist()}"
    assert golden.exists(), (f"no golden image {golden}; make it with UPDATE_GOLDEN=1 and look at it before "
                             "committing")
    want = pygame.surfarray.array3d(pygame.image.load(str(golden)))
    problems = compare(want, pygame.surfarray.array3d(frame))
    if problems:
        out = save_png(frame, tmp_path / f"{name}.png")
        pytest.fail(f"{name}: differs from its golden image: {'; '.join(problems)}; this frame: {out}")


def compare(want: np.ndarray, got: np.ndarray) -> list[str]:
    """What is wrong with ``got`` against ``want`` (W x H x 3 arrays), in words; [] if it passes."""
    if want.shape != got.shape:
        return [f"size {got.shape[:2]}, golden {want.shape[:2]}"]
    diff = np.abs(want.astype(np.int16) - got.astype(np.int16))
    problems = []
    mean_abs = float(diff.mean())
    if mean_abs > MAX_MEAN_ABS:
        problems.append(f"mean |diff| {mean_abs:.2f} (at most {MAX_MEAN_ABS})")
    changed = float((diff.max(axis=2) > 64).mean())
    if changed > MAX_CHANGED:
        problems.append(f"{changed:.2%} of pixels changed (at most {MAX_CHANGED:.2%})")
    w, h = diff.shape[0] // TILE * TILE, diff.shape[1] // TILE * TILE
    tiles = diff[:w, :h].mean(axis=2).reshape(w // TILE, TILE, h // TILE, TILE).mean(axis=(1, 3))
    worst = float(tiles.max())
    if worst > MAX_TILE:
        tx, ty = np.unravel_index(int(tiles.argmax()), tiles.shape)
        problems.append(f"worst tile {worst:.0f} at pixel ({tx * TILE}, {ty * TILE}) (at most {MAX_TILE:g})")
    return problems


def test_comparison_catches_one_changed_letter_and_tolerates_softer_edges(renderer):
    import dataclasses

    config, profile, st, kwargs, _ = CASES["wrong_pick_novice_nl"]
    view = bench_view(config, profile, st, **kwargs)
    base = pygame.surfarray.array3d(renderer.render(view, 0.0))
    other_bin = dataclasses.replace(view, banner=dataclasses.replace(view.banner, text="Neem uit bak C"))
    assert compare(base, pygame.surfarray.array3d(renderer.render(other_bin, 0.0)))
    assert compare(base, pygame.surfarray.array3d(renderer.render(dataclasses.replace(view, units_done=3), 0.0)))
    assert compare(base, pygame.surfarray.array3d(renderer.render(view, 0.4)))  # another moment of the pulse
    soft = base.astype(float)
    soft[1:, :] = (soft[1:, :] + soft[:-1, :]) / 2.0  # every edge softened by a pixel
    soft[:, 1:] = (soft[:, 1:] + soft[:, :-1]) / 2.0
    assert compare(base, soft.round().astype(np.uint8)) == []
    noisy = np.clip(base.astype(int) + np.random.default_rng(1).integers(-5, 6, base.shape), 0, 255)
    assert compare(base, noisy.astype(np.uint8)) == []


def test_golden_images_are_all_used():
    names = {p.stem for p in GOLDEN.glob("*.png")}
    assert names <= {*CASES, "calibration_nl"}, f"stale golden images: {sorted(names - {*CASES, 'calibration_nl'})}"
