"""Projection: bench <-> projector geometry, view model, pictograms, renderer."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import dataclasses  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pygame  # noqa: E402
import pytest  # noqa: E402

from projection.geometry import BenchToProjector  # noqa: E402
from projection.pictograms import draw_pictogram, pictogram_names  # noqa: E402
from projection.renderer import BenchRenderer, ProjectorWindow, save_png  # noqa: E402
from projection.view import (  # noqa: E402
    Banner,
    BenchView,
    CobotView,
    Highlight,
    ZoneView,
    view_changed,
)

RES = (1280, 800)
BENCH = (1200.0, 800.0)
# projector image of the bench corners (front-left, front-right, back-right, back-left):
# a keystoned quad, front edge at the bottom, back edge narrower
KEYSTONE_PX = [(60.0, 770.0), (1230.0, 785.0), (1080.0, 40.0), (190.0, 25.0)]
CORNERS_MM = [(0.0, 0.0), (1200.0, 0.0), (1200.0, 800.0), (0.0, 800.0)]


def example_view(**changes) -> BenchView:
    zones = [ZoneView.rect(f"bin_{c}", "bin", 20 + i * 150, 610, 140, 170, c, f"part {c}")
             for i, c in enumerate("ABCDEF")]
    zones += [
        ZoneView.rect("fixture", "fixture", 330, 300, 260, 190, "Fixture"),
        ZoneView.rect("btn_ok", "button", 745, 40, 90, 90, "OK"),
        ZoneView.rect("btn_help", "button", 855, 40, 90, 90, "Help"),
        ZoneView.rect("cobot", "cobot_area", 960, 230, 225, 555, "Robot"),
    ]
    fields = dict(
        bench_w_mm=BENCH[0], bench_d_mm=BENCH[1], zones=tuple(zones),
        highlights=(Highlight("bin_C", "pick", 2),),
        instruction="Take 2 screws", pictogram="pick", step_index=2, step_count=10,
        units_done=4, units_total=20, assignee="operator",
        cobot=CobotView("Fetching housing", busy=True, simulated=True, area_zone_id="cobot"),
    )
    fields.update(changes)
    return BenchView(**fields)


def px_at(surface: pygame.Surface, mapping: BenchToProjector, point_mm) -> tuple[int, int, int]:
    x, y = mapping.to_px(point_mm)
    return tuple(surface.get_at((int(round(x)), int(round(y)))))[:3]


def mean_colour(surface: pygame.Surface, mapping: BenchToProjector, point_mm, r: int = 12):
    x, y = (int(round(v)) for v in mapping.to_px(point_mm))
    arr = pygame.surfarray.array3d(surface)[x - r:x + r + 1, y - r:y + r + 1]
    return arr.reshape(-1, 3).mean(axis=0)


@pytest.fixture(scope="module")
def default_mapping():
    return BenchToProjector.default(BENCH[0], BENCH[1], *RES)


@pytest.fixture(scope="module")
def keystone_mapping():
    return BenchToProjector.from_correspondences(CORNERS_MM, KEYSTONE_PX, resolution=RES)


@pytest.fixture(scope="module")
def renderer(default_mapping):
    return BenchRenderer(RES, default_mapping)


def _bench_points(n=200, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform([0, 0], BENCH, size=(n, 2))


# -- geometry -------------------------------------------------------------------

def test_default_round_trip(default_mapping):
    pts = _bench_points()
    back = default_mapping.to_mm(default_mapping.to_px(pts))
    assert np.max(np.abs(back - pts)) < 0.5
    single = default_mapping.to_px((600.0, 400.0))
    assert single.shape == (2,)


def test_keystone_round_trip_and_corners(keystone_mapping):
    pts = _bench_points()
    back = keystone_mapping.to_mm(keystone_mapping.to_px(pts))
    assert np.max(np.abs(back - pts)) < 0.5
    assert np.allclose(keystone_mapping.to_px(CORNERS_MM), KEYSTONE_PX, atol=0.5)


def test_more_than_four_points_least_squares(keystone_mapping):
    grid = [(x, y) for x in (0, 300, 600, 900, 1200) for y in (0, 400, 800)]
    px = keystone_mapping.to_px(grid)
    fitted = BenchToProjector.from_correspondences(grid, px)
    pts = _bench_points()
    assert np.max(np.abs(fitted.to_px(pts) - keystone_mapping.to_px(pts))) < 0.5


def test_degenerate_or_too_few_points_raise():
    with pytest.raises(ValueError):
        BenchToProjector.from_correspondences(CORNERS_MM[:3], KEYSTONE_PX[:3])
    with pytest.raises(ValueError):
        BenchToProjector.from_correspondences(
            [(0, 0), (100, 0), (200, 0), (300, 0)], [(0, 0), (10, 0), (20, 0), (30, 0)])


def test_default_puts_front_edge_at_bottom_and_keeps_aspect(default_mapping):
    m = default_mapping
    fl, fr, br, bl = m.to_px(CORNERS_MM)
    assert fl[1] > bl[1] and fr[1] > br[1]  # front edge below the back edge
    assert fl[0] < fr[0]  # operator's right is screen right
    assert fl[1] == pytest.approx(RES[1], abs=0.5)  # 1200x800 on 1280x800: full height
    w_px, d_px = fr[0] - fl[0], fl[1] - bl[1]
    assert w_px / d_px == pytest.approx(BENCH[0] / BENCH[1], rel=1e-6)
    assert (fl[0] + fr[0]) / 2 == pytest.approx(RES[0] / 2)  # centred
    assert m.mm_per_px((600, 400)) == pytest.approx(1.0)
    assert m.text_orientation((600, 400)) == (pytest.approx(0.0), False)


def test_default_with_margin_fits_inside():
    m = BenchToProjector.default(2000, 500, 1280, 800, margin_px=20)
    px = m.to_px(CORNERS_MM[:1] + [(2000, 0), (2000, 500), (0, 500)])
    assert px[:, 0].min() >= 20 - 1e-6 and px[:, 0].max() <= 1260 + 1e-6
    assert px[:, 1].min() >= 0 and px[:, 1].max() <= 800


def test_upside_down_projector_turns_text():
    flipped = BenchToProjector.from_correspondences(
        CORNERS_MM, [(1240, 0), (40, 0), (40, 800), (1240, 800)])
    angle, mirrored = flipped.text_orientation((600, 400))
    assert abs(abs(angle) - 180.0) < 1e-6 and not mirrored
    mirror = BenchToProjector.from_correspondences(
        CORNERS_MM, [(1240, 800), (40, 800), (40, 0), (1240, 0)])
    assert mirror.is_mirrored()


def test_save_load_json_and_yaml_paths(tmp_path, keystone_mapping):
    for name in ("cal.json", "cal.yaml"):
        path = tmp_path / name
        keystone_mapping.save(path)
        loaded = BenchToProjector.load(path)
        assert np.allclose(loaded.homography, keystone_mapping.homography)
        assert loaded.bench_points_mm == tuple(map(tuple, CORNERS_MM))
        assert np.allclose(loaded.projector_points_px, KEYSTONE_PX)
        assert loaded.resolution == RES
    (tmp_path / "bad.json").write_text('{"version": 1}')
    with pytest.raises(ValueError, match="bad.json"):
        BenchToProjector.load(tmp_path / "bad.json")


def test_load_points_only_file_fits_the_homography(tmp_path, keystone_mapping):
    path = tmp_path / "points.json"
    path.write_text('{"bench_points_mm": %s, "projector_points_px": %s}'
                    % ([list(p) for p in CORNERS_MM], [list(p) for p in KEYSTONE_PX]))
    loaded = BenchToProjector.load(path)
    assert np.allclose(loaded.to_px(CORNERS_MM), KEYSTONE_PX, atol=0.5)


def test_load_hand_written_yaml(tmp_path):
    pytest.importorskip("ruamel.yaml")
    path = tmp_path / "cal.yaml"
    path.write_text("bench_points_mm: [[0, 0], [1200, 0], [1200, 800], [0, 800]]\n"
                    "projector_points_px: [[60, 770], [1230, 785], [1080, 40], [190, 25]]\n")
    assert np.allclose(BenchToProjector.load(path).to_px(CORNERS_MM), KEYSTONE_PX, atol=0.5)


# -- view model ------------------------------------------------------------------

def test_view_is_frozen_hashable_and_validated():
    a = example_view()
    b = example_view()
    assert not view_changed(a, b) and hash(a) == hash(b)
    assert view_changed(a, example_view(step_index=3))
    assert view_changed(None, a)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.step_index = 5  # type: ignore[misc]
    with pytest.raises(ValueError):
        ZoneView("z", "shelf", ((0, 0), (1, 0), (1, 1)))
    with pytest.raises(ValueError):
        Highlight("z", "grab")
    with pytest.raises(ValueError):
        Banner("oops", "x")
    with pytest.raises(ValueError):
        example_view(assignee="robot")
    z = ZoneView("z", "bin", [[0, 0], [10, 0], [10, 20], [0, 20]])  # lists become tuples
    assert z.polygon_mm == ((0.0, 0.0), (10.0, 0.0), (10.0, 20.0), (0.0, 20.0))
    assert z.centre_mm == pytest.approx((5.0, 10.0))


# -- pictograms --------------------------------------------------------------------

def test_every_pictogram_draws_something():
    for name in pictogram_names():
        s = pygame.Surface((80, 80))
        draw_pictogram(s, name, s.get_rect(), (255, 255, 255))
        lit = pygame.surfarray.array3d(s).any(axis=2).mean()
        assert 0.03 < lit < 0.9, name


def test_unknown_pictogram_falls_back_without_exception():
    s = pygame.Surface((80, 80))
    for name in ("no_such_thing", "", None, "/nonexistent/file.png"):
        s.fill((0, 0, 0))
        draw_pictogram(s, name, s.get_rect(), (255, 255, 255))
        assert pygame.surfarray.array3d(s).any()


def test_pictogram_from_image_file(tmp_path):
    img = pygame.Surface((10, 10))
    img.fill((0, 200, 0))
    path = tmp_path / "part.png"
    pygame.image.save(img, str(path))
    s = pygame.Surface((40, 40))
    draw_pictogram(s, str(path), s.get_rect(), (255, 255, 255))
    assert tuple(s.get_at((20, 20)))[:3] == (0, 200, 0)


# -- renderer ------------------------------------------------------------------------

def test_pick_highlight_lights_the_bin_and_nothing_else(renderer, default_mapping):
    view = example_view()
    frame = renderer.render(view, 0.0)
    assert frame.get_size() == RES
    assert sum(px_at(frame, default_mapping, view.zone("bin_C").centre_mm)) > 200
    for other in ("bin_A", "bin_E", "fixture"):
        assert px_at(frame, default_mapping, view.zone(other).centre_mm) == (0, 0, 0), other


def test_wrong_pick_lights_wrong_and_right_bins_differently(renderer, default_mapping):
    view = example_view(
        highlights=(Highlight("bin_E", "wrong"), Highlight("bin_C", "correct", 2)),
        banner=Banner("error", "Take from bin C", "pick"))
    frame = renderer.render(view, 0.0)
    wrong = mean_colour(frame, default_mapping, view.zone("bin_E").centre_mm)
    right = mean_colour(frame, default_mapping, view.zone("bin_C").centre_mm)
    assert wrong.sum() > 60 and right.sum() > 60
    assert right[1] > right[0]  # bluish green
    assert wrong[0] > wrong[2]  # orange / amber
    assert np.abs(wrong - right).sum() > 100
    assert px_at(frame, default_mapping, view.zone("bin_A").centre_mm) == (0, 0, 0)


def test_highlight_pulses_with_t(renderer, default_mapping):
    view = example_view()
    centre = view.zone("bin_C").centre_mm
    a = sum(px_at(renderer.render(view, 0.0), default_mapping, centre))
    b = sum(px_at(renderer.render(view, 0.5), default_mapping, centre))
    assert a != b and min(a, b) > 0


def test_render_returns_a_new_surface_each_time(renderer):
    view = example_view()
    f1 = renderer.render(view, 0.0)
    f2 = renderer.render(view, 0.5)
    assert f1 is not f2
    assert pygame.surfarray.array3d(f1).tobytes() != pygame.surfarray.array3d(f2).tobytes()


def test_keep_out_area_is_hatched(renderer, default_mapping):
    view = example_view(zones=(ZoneView.rect("ko", "keep_out", 400, 300, 400, 300, ""),),
                        highlights=(), cobot=CobotView())
    frame = renderer.render(view, 0.0)
    x0, y0 = (int(v) for v in default_mapping.to_px((420, 580)))
    x1, y1 = (int(v) for v in default_mapping.to_px((780, 320)))
    inside = pygame.surfarray.array3d(frame)[x0:x1, y0:y1].any(axis=2)
    assert 0.05 < inside.mean() < 0.8  # stripes, not a solid fill and not empty


def test_unknown_pictograms_in_view_render(renderer):
    view = example_view(pictogram="nonsense", banner=Banner("info", "Hello", "also-nonsense"))
    assert renderer.render(view, 0.0).get_size() == RES


@pytest.mark.parametrize("kind", ["confirm", "error", "help", "paused", "fault", "info"])
def test_every_banner_renders(renderer, kind):
    frame = renderer.render(example_view(banner=Banner(kind, "Text " + kind)), 0.2)
    assert frame.get_size() == RES


def test_long_text_many_steps_large_text_and_cobot_assignee_render(renderer):
    view = example_view(
        instruction="Put the grey housing in the fixture, then press the green button " * 3,
        step_index=40, step_count=60, large_text=True, assignee="cobot", language="nl",
        highlights=(Highlight("fixture", "place"), Highlight("btn_ok", "press")),
        cobot=CobotView(None, busy=False, simulated=False))
    assert renderer.render(view, 1.0).get_size() == RES


def test_highlight_of_unknown_zone_is_ignored(renderer):
    view = example_view(highlights=(Highlight("no_such_zone", "pick", 1),))
    assert renderer.render(view, 0.0).get_size() == RES


def test_save_png_round_trip(tmp_path, renderer):
    path = save_png(renderer.render(example_view(), 0.0), tmp_path / "out" / "frame.png")
    assert path.exists()
    assert pygame.image.load(str(path)).get_size() == RES


def test_keystoned_mapping_renders_bin_where_to_px_says(keystone_mapping, default_mapping):
    view = example_view(highlights=(Highlight("bin_B", "pick"),))
    frame = BenchRenderer(RES, keystone_mapping).render(view, 0.0)
    centre = view.zone("bin_B").centre_mm
    assert sum(px_at(frame, keystone_mapping, centre)) > 200
    arr = pygame.surfarray.array3d(frame).astype(int)
    yellow = (arr[..., 0] > 120) & (arr[..., 1] > 120) & (arr[..., 2] < 90)
    xs, ys = np.nonzero(yellow)
    back = keystone_mapping.to_mm(np.stack([xs, ys], axis=1))[:, 1] > 500  # not the panel icon
    xs, ys = xs[back], ys[back]
    target = keystone_mapping.to_px(centre)
    assert abs(xs.mean() - target[0]) < 6 and abs(ys.mean() - target[1]) < 6
    # and it really moved compared with the default mapping
    assert np.linalg.norm(default_mapping.to_px(centre) - target) > 20


def test_upside_down_projector_still_hits_the_bin():
    mapping = BenchToProjector.from_correspondences(
        CORNERS_MM, [(1240, 0), (40, 0), (40, 800), (1240, 800)])
    view = example_view()
    frame = BenchRenderer(RES, mapping).render(view, 0.0)
    assert sum(px_at(frame, mapping, view.zone("bin_C").centre_mm)) > 200
    assert px_at(frame, mapping, view.zone("bin_A").centre_mm) == (0, 0, 0)


def test_unchanged_view_renders_fast(renderer):
    view = example_view()
    renderer.render(view, 0.0)
    n = 30
    t0 = time.perf_counter()
    for i in range(n):
        renderer.render(view, i / 30)
    per_frame = (time.perf_counter() - t0) / n
    assert per_frame < 0.05  # ~1 ms measured; generous for busy CI machines


def test_projector_window_under_dummy_driver(renderer):
    with ProjectorWindow(0, (320, 200), fullscreen=False) as win:
        win.show(renderer.render(example_view(), 0.0))  # scaled to the window
    with pytest.raises(ValueError):
        ProjectorWindow(99, (320, 200), fullscreen=False)


def test_highlighted_bin_still_shows_its_letter(renderer, default_mapping):
    """The fill of a pick or wrong highlight must not hide the bin's letter: the bench text names it."""
    def label_band_dark_pixels(view) -> int:
        surface = renderer.render(view, 0.0)
        # the label sits just inside the bin's front edge (y0 = 610 mm), centred on x = 20 + 2*150 + 70
        x0, y0 = default_mapping.to_px((390 - 25, 610 + 30))
        x1, y1 = default_mapping.to_px((390 + 25, 610 + 2))
        arr = pygame.surfarray.array3d(surface)[int(min(x0, x1)):int(max(x0, x1)), int(min(y0, y1)):int(max(y0, y1))]
        return int((arr.sum(axis=2) < 60).sum())

    lit = label_band_dark_pixels(example_view())  # bin C picked: solid fill with the letter in black
    assert lit > 10
    filled_without_label = example_view(zones=tuple(dataclasses.replace(z, label="") if z.id == "bin_C" else z
                                                    for z in example_view().zones))
    assert label_band_dark_pixels(filled_without_label) < lit  # the dark pixels are the letter


# -- the bundled font ------------------------------------------------------------------

def test_renderer_uses_the_bundled_font_with_accented_letters():
    from projection.renderer import FONT_BOLD, FONT_REGULAR

    r = BenchRenderer(RES, BenchToProjector.default(*BENCH, *RES))
    assert r.font_paths == {False: str(FONT_REGULAR), True: str(FONT_BOLD)}
    assert (FONT_REGULAR.parent / "LICENSE").is_file()
    for path in (FONT_REGULAR, FONT_BOLD):
        font = pygame.font.Font(str(path), 40)
        for ch in "éèëçàïôâÉ×":
            assert font.metrics(ch)[0] is not None, (path.name, ch)  # the glyph is in the font
        plain = pygame.surfarray.array3d(font.render("e", True, (255, 255, 255), (0, 0, 0)))
        accented = pygame.surfarray.array3d(font.render("é", True, (255, 255, 255), (0, 0, 0)))
        assert plain.shape != accented.shape or (plain != accented).any()


def test_missing_font_file_is_named():
    with pytest.raises(FileNotFoundError, match="nope.ttf"):
        BenchRenderer(RES, BenchToProjector.default(*BENCH, *RES), font_path="/nowhere/nope.ttf")


# -- accessibility -------------------------------------------------------------------

def _lit(frame, threshold=40):
    return pygame.surfarray.array3d(frame).astype(int).sum(axis=2) > threshold


def test_high_contrast_draws_in_white_and_yellow_only(renderer):
    views = [
        example_view(high_contrast=True),
        example_view(high_contrast=True, highlights=(Highlight("bin_E", "wrong"), Highlight("bin_C", "correct", 2)),
                     banner=Banner("error", "Take from bin C", "pick", "Took something from bin E? Put it back.")),
        example_view(high_contrast=True, highlights=(Highlight("fixture", "place"), Highlight("btn_ok", "press"),
                                                     Highlight("bin_A", "done"))),
        example_view(high_contrast=True, banner=Banner("hint", "The cobot takes over", "wait_cobot", "Shade"),
                     cobot=CobotView("Shade", busy=True, simulated=True, area_zone_id="cobot", hint="to spare you",
                                     work_zone_ids=("bin_F",))),
    ]
    for view in views:
        arr = pygame.surfarray.array3d(renderer.render(view, 0.0)).astype(int)
        r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
        lit = (r + g + b) > 40
        grey = (np.abs(r - g) <= 12) & (np.abs(g - b) <= 12)
        yellowish = (b <= np.minimum(r, g) + 2) & (r >= g - 3) & ((r - g) <= 0.12 * r + 8)
        bad = lit & ~grey & ~yellowish
        assert bad.mean() < 1e-4, f"{int(bad.sum())} coloured pixels, e.g. {arr[bad][:3].tolist()}"


def test_high_contrast_outlines_are_thicker(renderer, default_mapping):
    def outline_px(view):
        frame = renderer.render(view, 0.0)
        x_out, y = default_mapping.to_px((300, 450))  # across the fixture's left edge (x = 330 mm)
        x_in, _ = default_mapping.to_px((360, 450))
        row = _lit(frame)[int(x_out):int(x_in), int(y)]
        return int(row.sum())

    normal = outline_px(example_view(highlights=()))
    strong = outline_px(example_view(highlights=(), high_contrast=True))
    assert normal >= 2 and strong >= 1.5 * normal


def test_every_role_has_a_shape_as_well_as_a_colour(renderer, default_mapping):
    """Seen without hue (as brightness only), no two highlight roles on the same bin look alike."""
    from projection.renderer import ROLE_SHAPES
    from projection.view import HIGHLIGHT_ROLES

    assert set(ROLE_SHAPES) == set(HIGHLIGHT_ROLES)
    x0, y0 = (int(v) for v in default_mapping.to_px((300, 800)))
    x1, y1 = (int(v) for v in default_mapping.to_px((640, 560)))
    grey = {}
    for role in ("pick", "place", "wrong", "correct", "done"):
        view = example_view(highlights=(Highlight("bin_C", role),), cobot=CobotView(), instruction="")
        rgb = pygame.surfarray.array3d(renderer.render(view, 0.0))[x0:x1, y0:y1].astype(float)
        grey[role] = rgb @ np.array([0.299, 0.587, 0.114])  # luminance: what is left without hue
    roles = sorted(grey)
    for i, a in enumerate(roles):
        for b in roles[i + 1:]:
            differ = np.abs(grey[a] - grey[b]).mean()
            assert differ > 12, (a, b, differ)
    press = _lit(renderer.render(example_view(highlights=(Highlight("btn_ok", "press"),)), 0.0))
    idle = _lit(renderer.render(example_view(highlights=()), 0.0))
    bx0, by0 = (int(v) for v in default_mapping.to_px((735, 140)))
    bx1, by1 = (int(v) for v in default_mapping.to_px((845, 30)))
    assert (press[bx0:bx1, by0:by1] != idle[bx0:bx1, by0:by1]).mean() > 0.2  # the pressed button: a filled disc


def test_font_scale_makes_bench_text_bigger(default_mapping):
    def label_pixels(scale):
        r = BenchRenderer(RES, default_mapping)
        frame = r.render(example_view(highlights=(), font_scale=scale), 0.0)
        x0, y0 = (int(v) for v in default_mapping.to_px((20 + 150 * 2 + 10, 700)))
        x1, y1 = (int(v) for v in default_mapping.to_px((20 + 150 * 2 + 130, 614)))
        return int(_lit(frame)[x0:x1, y0:y1].sum())  # the letter C near its bin's front edge

    assert label_pixels(2.0) > 2.5 * label_pixels(1.0)


def test_animated_only_while_something_pulses(renderer):
    assert renderer.animated(example_view())
    assert not renderer.animated(example_view(highlights=()))
    assert not renderer.animated(example_view(banner=Banner("paused", "Paused")))  # dimmed, still
    assert not renderer.animated(example_view(highlights=(Highlight("bin_A", "done"),)))
    assert not renderer.animated(example_view(highlights=(Highlight("no_such_zone", "pick", 1),)))


def test_wrong_pick_draws_an_arrow_from_the_wrong_bin_to_the_right_one(renderer, default_mapping):
    both = example_view(highlights=(Highlight("bin_E", "wrong"), Highlight("bin_C", "correct", 2)))
    right_only = example_view(highlights=(Highlight("bin_C", "correct", 2),))
    # in front of bin D, between the two (the bench has no room behind these bins): the arrow's arc
    x0, y0 = (int(v) for v in default_mapping.to_px((490, 600)))
    x1, y1 = (int(v) for v in default_mapping.to_px((600, 540)))
    assert _lit(renderer.render(both, 0.0))[x0:x1, y0:y1].sum() > 50
    assert _lit(renderer.render(right_only, 0.0))[x0:x1, y0:y1].sum() < 5


def test_calibration_screen_is_centred_and_still(renderer):
    view = BenchView(BENCH[0], BENCH[1], banner=Banner("calibrate", "Calibrating: keep the bench clear",
                                                       "calibrate"))
    frame = renderer.render(view, 0.0)
    lit = _lit(frame)
    w, h = RES
    assert lit[w // 3:2 * w // 3, h // 6:5 * h // 6].mean() > 0.02
    assert not renderer.animated(view)
    assert (pygame.surfarray.array3d(renderer.render(view, 0.7)) == pygame.surfarray.array3d(frame)).all()


def test_fullscreen_on_the_named_display_under_dummy_driver():
    with ProjectorWindow(0, (320, 200), fullscreen=True) as win:
        assert win.screen.get_flags() & pygame.FULLSCREEN
        assert win.display_index == 0
    with pytest.raises(ValueError, match="display 3 does not exist"):
        ProjectorWindow(3, (320, 200))


# -- audio cues ------------------------------------------------------------------------

def test_tones_are_short_gentle_and_distinct():
    from projection.audio import CUES, SAMPLE_RATE, tone

    seen = set()
    for kind in CUES:
        samples = tone(kind)
        assert samples.dtype == np.int16 and samples.ndim == 1
        assert 0.15 < len(samples) / SAMPLE_RATE < 0.6  # short
        peak = int(np.abs(samples).max())
        assert 0.2 * 32767 < peak <= 0.31 * 32767  # never loud
        assert abs(int(samples[0])) < 200 and abs(int(samples[-1])) < 200  # soft edges, no click
        seen.add(samples.tobytes())
    assert len(seen) == len(CUES)
    with pytest.raises(ValueError, match="unknown audio cue"):
        tone("siren")


def test_audio_cues_skip_quietly_without_a_device_and_say_so_once(monkeypatch):
    from projection.audio import AudioCues

    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    lines = []
    cues = AudioCues(True, log=lambda level, text: lines.append((level, text)))
    assert not cues.available
    assert [cues.play(k) for k in ("done", "wrong", "help", "done")] == [False] * 4
    assert len(lines) == 1 and "no audio device" in lines[0][1]
    cues.close()


def test_audio_cues_off_in_the_profile_are_silent(monkeypatch):
    from projection.audio import AudioCues

    monkeypatch.setenv("SDL_AUDIODRIVER", "pulseaudio")  # even where a device might exist
    lines = []
    cues = AudioCues(False, log=lambda level, text: lines.append(text))
    assert not cues.available and not cues.play("done")
    assert lines == ["audio cues off in this operator's profile"]
    assert not pygame.mixer.get_init()  # the mixer was never started


# -- the node ----------------------------------------------------------------------------

class _FakeWindow:
    """The projector window without a display; ``confirms`` stands for space bar presses at the bench."""

    def __init__(self):
        self.shown = 0
        self.confirms = 0

    def show(self, surface):
        self.shown += 1

    def take_confirms(self):
        n, self.confirms = self.confirms, 0
        return n

    def close(self):
        pass


def test_node_redraws_on_change_and_while_pulsing_only(tmp_path):
    from pathlib import Path

    from cell.config_loader import load_config
    from cell.messages import Allocation, StepState, TaskEvent
    from cell.nodes import RunOptions, endpoints
    from projection.node import ProjectionNode

    cfg = load_config(Path(__file__).resolve().parent.parent / "configs" / "lamp-cell.yaml")
    node = ProjectionNode(cfg, endpoints(cfg), RunOptions(operator_id="op-limited-03", frames_dir=str(tmp_path)))
    node.SNAPSHOT_TIMEOUT_S = 0.05
    try:
        assert "alloc.decision" in node.topics and node.tick_s == pytest.approx(1.0 / cfg.projector.fps)
        node.on_start(0.0)
        assert node.audio is not None and not node.audio.available  # SDL_AUDIODRIVER=dummy: skipped

        def st(step_id, seq, **kw):
            task = cfg.tasks[0]
            base = dict(src="engine", t=0.0, seq=seq, order_id="o", task_id=task.id, step_id=step_id,
                        step_index=[s.id for s in task.steps].index(step_id), step_count=len(task.steps),
                        phase="active", assignee="operator", unit=1, units_total=20)
            return StepState(**{**base, **kw})

        # PNG frames (no display): one per change, none while nothing changes
        node.on_tick(0.0)
        node.on_message(st("insert_stem", 1), 0.1)
        node.on_tick(0.1)
        node.on_tick(0.15)
        node.on_tick(0.2)
        assert node.frames == 2 and (tmp_path / "latest.png").exists()
        assert len(list(tmp_path.glob("frame-*.png"))) == 2

        # a window: redrawn every tick while the pick highlight pulses, not when paused
        node.window = _FakeWindow()
        for i in range(5):
            node.on_tick(0.3 + i * node.tick_s)
        assert node.window.shown == 5
        node.on_message(st("insert_stem", 2, paused=True, pause_reason="paused by the job coach"), 0.6)
        for i in range(5):
            node.on_tick(0.6 + i * node.tick_s)
        assert node.window.shown == 6 and node.view.banner.kind == "paused"

        # a wrong pick shows for a while, then the normal step comes back
        node.on_message(st("insert_stem", 3), 1.0)
        node.on_message(TaskEvent(src="engine", t=1.0, kind="wrong_pick", zone="bin_cable", step_id="insert_stem"),
                        1.0)
        node.on_tick(1.0)
        assert node.view.banner.kind == "error"
        node.on_tick(1.0 + node.WRONG_PICK_SHOWN_S + 0.1)
        assert node.view.banner is None

        # a finished step is confirmed for a moment
        node.on_message(st("insert_stem", 4, phase="done"), 6.0)
        node.on_message(st("screw_stem", 5), 6.0)
        node.on_tick(6.05)
        assert node.view.banner.kind == "confirm" and node.view.instruction.startswith("Take 2 screws")
        node.on_tick(6.0 + node.STEP_DONE_SHOWN_S + 0.1)
        assert node.view.banner is None

        # the cobot takes a step beside the operator's, to spare the shoulder: its area says so
        node.on_message(Allocation(src="engine", t=7.0, order_id="o", step_id="prep_cable", unit=1,
                                   assignee="cobot", policy="ergonomic", reassigned=True,
                                   reason="the cobot takes the strain: the right upper arm was above 60\u00b0"), 7.0)
        node.on_message(st("prep_cable", 6, assignee="cobot"), 7.0)
        node.on_tick(7.0)
        assert node.view.cobot.step_title == "Plug" and "shoulder" in node.view.cobot.hint
        assert node.view.instruction.startswith("Take 2 screws")  # the operator's own step stays in front
    finally:
        node.on_stop(10.0)
        node.close()
