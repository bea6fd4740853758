"""Turn a :class:`~projection.view.BenchView` into a projector frame (pygame).

Black is "no light" on a projector, so everything is drawn on black.  Zones are
bench-mm polygons mapped vertex by vertex through the homography, so a
keystoned, calibrated projector puts every outline where it belongs on the
bench.  Text and pictograms are drawn upright and turned to read upright for
the operator standing at the front edge.  Every text uses the bundled DejaVu
Sans (``projection/fonts``), so a frame looks the same on every machine and
accented letters (é è ë ç à ï ô) always have their glyphs.

Colours are the Okabe–Ito colour-blind-safe palette and every role also has a
shape of its own (``ROLE_SHAPES``): a pick bin is filled and carries a big "2×",
a place zone has a thick outline and a down arrow, a wrong bin is striped, the
right bin is filled and carries a check mark (with an arrow from the wrong bin
to it), a press button is a filled disc in a ring, a finished step's zone an
outline with a check mark, the cobot area is hatched.  High contrast
(``view.high_contrast``) draws in white and yellow on black only, with
thicker outlines; the shapes stay.

The renderer keeps no clock: ``render(view, t)`` takes the time in seconds,
which only drives the gentle pulse of highlights; ``animated(view)`` says
whether anything pulses (if not, an unchanged view need not be redrawn).
Zone outlines, labels, hatching, the cobot and the instruction panel are
cached, so an unchanged view costs a copy of the cached layer, a few polygons
and a panel blit per frame.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pygame

from projection.geometry import BenchToProjector
from projection.pictograms import draw_pictogram
from projection.view import BenchView, Highlight, ZoneView

__all__ = ["BenchRenderer", "ProjectorWindow", "save_png", "PALETTE", "ROLE_COLOURS", "ROLE_SHAPES",
           "FONT_REGULAR", "FONT_BOLD", "Style", "style_for"]

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

# Okabe–Ito palette (colour-blind safe), plus neutrals for a projector.
PALETTE = {
    "orange": (230, 159, 0),
    "sky_blue": (86, 180, 233),
    "bluish_green": (0, 158, 115),
    "yellow": (240, 228, 66),
    "blue": (0, 114, 178),
    "vermillion": (213, 94, 0),
    "reddish_purple": (204, 121, 167),
    "white": (245, 245, 245),
    "grey": (150, 150, 150),
    "dim": (85, 85, 85),
    "faint": (45, 45, 45),
    "black": (0, 0, 0),
}
_HC_WHITE = (255, 255, 255)
_HC_YELLOW = (255, 230, 0)

ROLE_COLOURS = {
    "pick": PALETTE["yellow"],
    "place": PALETTE["sky_blue"],
    "press": PALETTE["sky_blue"],
    "wrong": PALETTE["orange"],
    "correct": PALETTE["bluish_green"],
    "done": PALETTE["bluish_green"],
}
# the shape cue of every role, besides its colour (so no role is told apart by colour alone)
ROLE_SHAPES = {
    "pick": "solid fill, quantity in front",
    "place": "thick outline, down arrow inside",
    "press": "filled disc in a ring, button icon",
    "wrong": "diagonal stripes",
    "correct": "solid fill with a check mark, ring around it, arrow from the wrong bin",
    "done": "dim fill, outline and a check mark",
}
COBOT_COLOUR = PALETTE["reddish_purple"]
HATCH_COLOUR = (150, 70, 0)  # dimmed vermillion: a keep-out marking, not a highlight

# banner kind -> (colour, default pictogram)
BANNER_STYLE = {
    "confirm": (PALETTE["bluish_green"], "confirm"),
    "error": (PALETTE["orange"], "pick"),
    "help": (PALETTE["sky_blue"], "help"),
    "paused": (PALETTE["white"], "paused"),
    "fault": (PALETTE["yellow"], "fault"),
    "info": (PALETTE["white"], "inspect"),
    "hint": (COBOT_COLOUR, "wait_cobot"),
    "calibrate": (PALETTE["white"], "calibrate"),
}


@dataclass(frozen=True)
class Style:
    """Colours and line weights for one way of drawing (normal, or high contrast)."""

    roles: dict = field(default_factory=lambda: dict(ROLE_COLOURS))
    banners: dict = field(default_factory=lambda: {k: v[0] for k, v in BANNER_STYLE.items()})
    cobot: tuple = COBOT_COLOUR
    hatch: tuple = HATCH_COLOUR
    outline: tuple = PALETTE["dim"]
    label: tuple = PALETTE["grey"]
    button: tuple = PALETTE["grey"]
    text: tuple = PALETTE["white"]
    bench: tuple = PALETTE["faint"]
    panel: tuple = PALETTE["faint"]
    step_done: tuple = PALETTE["grey"]
    step_now: tuple = PALETTE["white"]
    step_todo: tuple = PALETTE["dim"]
    operator: tuple = PALETTE["white"]
    line_k: float = 1.0
    pulse_lo: float = 0.45


NORMAL_STYLE = Style()
HIGH_CONTRAST_STYLE = Style(
    roles={"pick": _HC_YELLOW, "place": _HC_WHITE, "press": _HC_WHITE, "wrong": _HC_WHITE,
           "correct": _HC_YELLOW, "done": _HC_WHITE},
    banners={"confirm": _HC_WHITE, "error": _HC_YELLOW, "help": _HC_WHITE, "paused": _HC_WHITE,
             "fault": _HC_YELLOW, "info": _HC_WHITE, "hint": _HC_WHITE, "calibrate": _HC_WHITE},
    cobot=_HC_WHITE, hatch=(170, 170, 170), outline=_HC_WHITE, label=_HC_WHITE, button=_HC_WHITE,
    text=_HC_WHITE, bench=(120, 120, 120), panel=_HC_WHITE, step_done=_HC_WHITE, step_now=_HC_YELLOW,
    step_todo=_HC_WHITE, operator=_HC_WHITE, line_k=1.8, pulse_lo=0.7)


def style_for(view: BenchView) -> Style:
    return HIGH_CONTRAST_STYLE if view.high_contrast else NORMAL_STYLE


# the only words the renderer writes itself
_OF = {"en": "of", "nl": "van", "de": "von", "fr": "sur", "es": "de", "it": "di",
       "pl": "z", "tr": "/", "ar": "/"}

# button labels that get an icon as well as their text (bench_view writes them in the operator's language)
_BUTTON_ICONS = {
    "ok": "confirm", "done": "confirm", "ready": "confirm", "klaar": "confirm", "gedaan": "confirm",
    "fertig": "confirm", "confirm": "confirm", "terminé": "confirm", "fini": "confirm",
    "help": "help", "hulp": "help", "hilfe": "help", "aide": "help",
    "pause": "paused", "paused": "paused",
}

# physical sizes on the bench (mm); the view's text_scale multiplies the text ones
_INSTRUCTION_TEXT_MM = 42.0
_QUANTITY_TEXT_MM = 58.0
_LABEL_TEXT_MM = 20.0
_MIN_TEXT_PX = 14
_PULSE_LEVELS = 24  # pulse brightness is quantised, so pulsing icons come from a small cache
_PULSING = frozenset({"pick", "place", "press", "wrong", "correct"})
_RING_MM = 10.0  # the ring around the right bin after a wrong pick, outside its edge


def save_png(surface: pygame.Surface, path: str | os.PathLike) -> Path:
    """Save a frame as PNG (parent folders are created). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pygame.image.save(surface, str(path))
    return path


def _scale(colour: Sequence[int], k: float) -> tuple[int, int, int]:
    k = max(0.0, min(1.0, k))
    return (int(colour[0] * k), int(colour[1] * k), int(colour[2] * k))


def _pulse(t: float, period: float, lo: float, hi: float) -> float:
    """Smooth brightness between lo and hi; hi at t = 0 (quantised to a few levels)."""
    x = 0.5 + 0.5 * math.cos(2.0 * math.pi * t / period)
    x = round(x * _PULSE_LEVELS) / _PULSE_LEVELS
    return lo + (hi - lo) * x


class BenchRenderer:
    """Draws bench views for one projector.

    ``panel_area_mm`` is the free bench area (x0, y0, x1, y1) for the
    instruction panel; by default the widest free stretch of the front strip
    (deeper when the operator's text is larger, if the bench has the room).
    ``font_path`` replaces the bundled font (for both weights).
    """

    def __init__(
        self,
        resolution: tuple[int, int],
        mapping: BenchToProjector,
        *,
        font_path: str | os.PathLike | None = None,
        panel_area_mm: tuple[float, float, float, float] | None = None,
        pulse_period_s: float = 1.6,
        show_bench_outline: bool = True,
    ) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self.resolution = (int(resolution[0]), int(resolution[1]))
        self.mapping = mapping
        if font_path and not os.path.isfile(font_path):
            raise FileNotFoundError(f"font file not found: {font_path}")
        self.font_paths = {False: str(font_path or FONT_REGULAR), True: str(font_path or FONT_BOLD)}
        for path in self.font_paths.values():
            if not os.path.isfile(path):
                raise FileNotFoundError(f"bundled font missing: {path} (reinstall the package)")
        self.panel_area_mm = tuple(panel_area_mm) if panel_area_mm else None
        self.pulse_period_s = float(pulse_period_s)
        self.show_bench_outline = show_bench_outline
        self._fonts: dict[tuple[int, bool], pygame.font.Font] = {}
        self._texts: dict[tuple, pygame.Surface] = {}
        self._oriented: dict[int, tuple[pygame.Surface, pygame.Surface]] = {}
        self._static_key: tuple | None = None
        self._static: pygame.Surface | None = None
        self._panel_key: tuple | None = None
        self._panel: tuple[pygame.Surface, tuple[int, int]] | None = None
        self._calib_key: tuple | None = None
        self._calib: pygame.Surface | None = None
        self._zone_px: dict[ZoneView, list[tuple[int, int]]] = {}
        self._stripes: dict[ZoneView, tuple[pygame.Surface, tuple[int, int]]] = {}
        self._arrows: dict[tuple, list[tuple[int, int]]] = {}
        self._quantities: dict[tuple, tuple[pygame.Surface, tuple[float, float]]] = {}
        self._scale_key: tuple | None = None
        self._px_per_mm = 1.0
        self._orientation = (0.0, False)

    # -- public ----------------------------------------------------------------

    def render(self, view: BenchView, t: float) -> pygame.Surface:
        """A new frame for ``view`` at time ``t`` (seconds; drives the pulse only)."""
        self._update_scale(view)
        if view.banner is not None and view.banner.kind == "calibrate":
            return self._calibration_layer(view).copy()
        style = style_for(view)
        frame = self._static_layer(view).copy()
        paused = self._paused(view)
        for hl in view.highlights:
            zone = view.zone(hl.zone_id)
            if zone is not None:
                self._draw_highlight(frame, zone, hl, t, paused, view, style)
        self._draw_wrong_to_right(frame, view, style)
        surf, pos = self._panel_layer(view)
        # black is "no light": only the panel's lit pixels cover what lies under it
        frame.blit(surf, pos, special_flags=pygame.BLEND_RGB_MAX)
        if view.recording:
            self._draw_recording(frame, view.recording)
        return frame

    def _draw_recording(self, frame: pygame.Surface, text: str) -> None:
        """A red dot and the text in the top left corner: camera pictures are being saved."""
        px = max(_MIN_TEXT_PX, frame.get_height() // 40)
        label = self._text(text, px, (255, 255, 255))
        r = px // 2
        pygame.draw.circle(frame, (230, 40, 40), (10 + r, 10 + label.get_height() // 2), r)
        frame.blit(label, (10 + 2 * r + 8, 10))

    def animated(self, view: BenchView) -> bool:
        """True if frames of ``view`` change with time (a highlight pulses): redraw at the
        projector's frame rate then; otherwise a frame only when the view changes."""
        if self._paused(view) or (view.banner is not None and view.banner.kind == "calibrate"):
            return False
        return any(h.role in _PULSING and view.zone(h.zone_id) is not None for h in view.highlights)

    def panel_area_for(self, view: BenchView) -> tuple[float, float, float, float]:
        """Bench area (x0, y0, x1, y1) in mm where the instruction panel goes."""
        if self.panel_area_mm:
            return self.panel_area_mm  # type: ignore[return-value]
        return _free_front_strip(view, min(1.45, max(1.0, view.text_scale)))

    @staticmethod
    def _paused(view: BenchView) -> bool:
        return view.banner is not None and view.banner.kind in ("paused", "fault")

    # -- scale, fonts, text ------------------------------------------------------

    def _update_scale(self, view: BenchView) -> None:
        key = (view.bench_w_mm, view.bench_d_mm)
        if key == self._scale_key:
            return
        centre = (view.bench_w_mm / 2.0, view.bench_d_mm / 2.0)
        self._px_per_mm = 1.0 / self.mapping.mm_per_px(centre)
        angle, mirrored = self.mapping.text_orientation(centre)
        angle = round(angle * 2.0) / 2.0
        if abs(angle) < 0.5 or abs(abs(angle) - 360.0) < 0.5:
            angle = 0.0
        self._orientation = (angle, mirrored)
        self._scale_key = key
        self._texts.clear()
        self._oriented.clear()
        self._quantities.clear()

    def _mm(self, mm: float) -> int:
        return max(1, int(round(mm * self._px_per_mm)))

    def _font(self, px: int, bold: bool = True) -> pygame.font.Font:
        """The bundled font at ``px`` pixels to the em (a capital letter is about 0.73 px)."""
        px = max(_MIN_TEXT_PX, int(px))
        font = self._fonts.get((px, bold))
        if font is None:
            font = pygame.font.Font(self.font_paths[bold], px)
            self._fonts[(px, bold)] = font
        return font

    def _text(self, text: str, px: int, colour: Sequence[int], bold: bool = True) -> pygame.Surface:
        key = (text, int(px), tuple(colour), bold)
        surf = self._texts.get(key)
        if surf is None:
            surf = self._font(px, bold).render(text, True, tuple(colour))
            self._remember(key, surf)
        return surf

    def _remember(self, key: tuple, surf: pygame.Surface) -> None:
        if len(self._texts) > 768:
            self._texts.clear()
            self._oriented.clear()
        self._texts[key] = surf

    def _orient(self, surf: pygame.Surface) -> pygame.Surface:
        angle, mirrored = self._orientation
        if mirrored:
            surf = pygame.transform.flip(surf, True, False)
        if angle:
            surf = pygame.transform.rotate(surf, angle)
        return surf

    def _blit_bench(self, frame: pygame.Surface, surf: pygame.Surface,
                    at_mm: Sequence[float]) -> None:
        """Blit an upright surface centred at a bench point, turned to face the operator."""
        if self._orientation != (0.0, False):
            hit = self._oriented.get(id(surf))
            if hit is None or hit[0] is not surf:
                hit = (surf, self._orient(surf))
                if len(self._oriented) > 768:
                    self._oriented.clear()
                self._oriented[id(surf)] = hit
            surf = hit[1]
        c = self.mapping.to_px(at_mm)
        frame.blit(surf, surf.get_rect(center=(int(round(c[0])), int(round(c[1])))))

    def _poly_px(self, zone: ZoneView) -> list[tuple[int, int]]:
        pts = self._zone_px.get(zone)
        if pts is None:
            if zone.kind == "button":
                pts = self._map_polygon(_circle_mm(zone))
            else:
                pts = self._map_polygon(zone.polygon_mm)
            if len(self._zone_px) > 256:
                self._zone_px.clear()
                self._stripes.clear()
            self._zone_px[zone] = pts
        return pts

    def _map_polygon(self, poly_mm: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
        return [(int(round(x)), int(round(y))) for x, y in self.mapping.to_px(list(poly_mm))]

    def _label_px(self, view: BenchView) -> int:
        return self._mm(_LABEL_TEXT_MM * view.text_scale)

    def _label_y(self, zone: ZoneView, label_px: int) -> float:
        """Bench y of a zone's label: just inside its front edge, so the middle stays dark."""
        return zone.bounds_mm[1] + 0.9 * label_px / self._px_per_mm

    # -- static layer: outlines, labels, hatching, cobot --------------------------

    def _static_layer(self, view: BenchView) -> pygame.Surface:
        key = (view.bench_w_mm, view.bench_d_mm, view.zones, view.cobot, view.text_scale,
               view.language, view.high_contrast)
        if key == self._static_key and self._static is not None:
            return self._static
        style = style_for(view)
        layer = pygame.Surface(self.resolution)
        layer.fill(PALETTE["black"])
        thin = max(2, int(self._mm(3) * style.line_k))
        if self.show_bench_outline:
            bench = ((0, 0), (view.bench_w_mm, 0), (view.bench_w_mm, view.bench_d_mm),
                     (0, view.bench_d_mm))
            pygame.draw.polygon(layer, style.bench, self._map_polygon(bench), 2)
        label_px = self._label_px(view)
        cobot_area = _cobot_area(view)
        for zone in view.zones:
            pts = self._poly_px(zone)
            cx = (zone.bounds_mm[0] + zone.bounds_mm[2]) / 2.0
            if zone.kind in ("cobot_area", "keep_out"):
                busy = zone is cobot_area and view.cobot.busy
                self._hatch(layer, pts, _scale(style.hatch, 1.0 if busy else 0.75))
                pygame.draw.polygon(layer, style.hatch, pts, thin)
                if zone is cobot_area:
                    self._draw_cobot(layer, zone, view, label_px, style)
                elif zone.label:
                    self._blit_label(layer, zone.label, label_px, style.label,
                                     (cx, self._label_y(zone, label_px)), boxed=True)
            elif zone.kind == "button":
                pygame.draw.polygon(layer, style.button, pts, thin)
                self._draw_button_face(layer, zone, style.button, label_px)
            elif zone.id in view.cobot.work_zone_ids:
                # the cobot reaches in here for its step: keep-out while it works
                self._hatch(layer, pts, _scale(style.cobot, 0.55), spacing_mm=22.0, width_mm=4.0)
                pygame.draw.polygon(layer, style.cobot, pts, thin)
                if zone.label:
                    self._blit_label(layer, zone.label, label_px, style.label,
                                     (cx, self._label_y(zone, label_px)), boxed=True)
            else:
                pygame.draw.polygon(layer, style.outline, pts, thin)
                if zone.label:
                    self._blit_label(layer, zone.label, label_px, style.label,
                                     (cx, self._label_y(zone, label_px)))
        self._static_key = key
        self._static = layer
        return layer

    def _blit_label(self, layer: pygame.Surface, text: str, px: int, colour: Sequence[int],
                    at_mm: Sequence[float], boxed: bool = False, bold: bool = True) -> None:
        surf = self._text(text, px, colour, bold)
        if boxed:  # on a black box, so stripes under it do not run through the letters
            key = ("box", text, px, tuple(colour), bold)
            box = self._texts.get(key)
            if box is None:
                box = pygame.Surface((surf.get_width() + 10, surf.get_height() + 4))
                box.fill((0, 0, 0))
                box.blit(surf, (5, 2))
                self._remember(key, box)
            surf = box
        self._blit_bench(layer, surf, at_mm)

    def _hatch(self, layer: pygame.Surface, pts: list[tuple[int, int]],
               colour: Sequence[int], spacing_mm: float = 28.0, width_mm: float = 5.0) -> None:
        """Diagonal stripes clipped to a polygon, added onto ``layer``."""
        patch, pos = self._stripe_patch(pts, spacing_mm, width_mm)
        patch = patch.copy()
        patch.fill(tuple(colour), special_flags=pygame.BLEND_RGB_MULT)
        layer.blit(patch, pos, special_flags=pygame.BLEND_RGB_MAX)

    def _stripe_patch(self, pts: list[tuple[int, int]], spacing_mm: float,
                      width_mm: float) -> tuple[pygame.Surface, tuple[int, int]]:
        """White diagonal stripes inside the polygon on black, and where to blit them."""
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        bx, by = min(xs), min(ys)
        bw, bh = max(xs) - bx + 1, max(ys) - by + 1
        stripes = pygame.Surface((bw, bh))
        stripes.fill((0, 0, 0))
        step = max(6, self._mm(spacing_mm))
        width = max(2, self._mm(width_mm))
        # lines at 45°, phase fixed to screen coordinates so neighbours line up
        start = -((bx + by) % step) - bh
        for k in range(start, bw + bh + step, step):
            pygame.draw.line(stripes, (255, 255, 255), (k, 0), (k + bh, bh), width)
        mask = pygame.Surface((bw, bh))
        mask.fill((0, 0, 0))
        pygame.draw.polygon(mask, (255, 255, 255), [(x - bx, y - by) for x, y in pts])
        stripes.blit(mask, (0, 0), special_flags=pygame.BLEND_RGB_MULT)
        return stripes, (bx, by)

    def _boxed_lines(self, layer: pygame.Surface, lines: list[str], px: int, colour: Sequence[int],
                     x_mm: float, y_mm: float, bold: bool = True) -> float:
        """Lines of text on black boxes, the first centred at (x_mm, y_mm), going towards the
        operator. Returns the bench y below the last line."""
        step_mm = px * 1.25 / self._px_per_mm
        for line in lines:
            self._blit_label(layer, line, px, colour, (x_mm, y_mm), boxed=True, bold=bold)
            y_mm -= step_mm
        return y_mm

    def _draw_cobot(self, layer: pygame.Surface, zone: ZoneView, view: BenchView,
                    label_px: int, style: Style) -> None:
        x0, y0, x1, y1 = zone.bounds_mm
        cx, cy = zone.centre_mm
        side_mm = min(x1 - x0, y1 - y0)
        width_px = self._mm((x1 - x0) * 0.9)
        if view.cobot.busy:
            icon_mm = min(side_mm * 0.5, 200.0)
            icon_px = self._mm(icon_mm)
            icon = pygame.Surface((icon_px, icon_px), pygame.SRCALPHA)
            draw_pictogram(icon, "wait_cobot", icon.get_rect(), style.cobot)
            # dark disc behind the robot so the hatching does not run through it
            at = (cx, min(y1 - icon_mm * 0.75, cy + icon_mm * 0.45))
            disc = [(at[0] + icon_mm * 0.68 * math.cos(2 * math.pi * i / 40),
                     at[1] + icon_mm * 0.68 * math.sin(2 * math.pi * i / 40)) for i in range(40)]
            pygame.draw.polygon(layer, PALETTE["black"], self._map_polygon(disc))
            self._blit_bench(layer, icon, at)
            y = at[1] - icon_mm * 0.68 - 0.8 * label_px / self._px_per_mm
            if view.cobot.step_title:
                lines = _wrap(self._font(label_px), view.cobot.step_title, width_px)[:2]
                y = self._boxed_lines(layer, lines, label_px, style.text, cx, y)
            if view.cobot.hint:
                px = max(_MIN_TEXT_PX, int(label_px * 0.8))
                lines = _wrap(self._font(px, False), view.cobot.hint, width_px)[:4]
                self._boxed_lines(layer, lines, px, style.cobot, cx, y - 0.3 * px / self._px_per_mm, bold=False)
        elif zone.label:
            self._blit_label(layer, zone.label, label_px, style.label,
                             (cx, self._label_y(zone, label_px)), boxed=True)
        if view.cobot.simulated:
            tag = self._text("SIM", label_px, PALETTE["black"])
            box = pygame.Surface((tag.get_width() + 12, tag.get_height() + 6))
            box.fill(style.cobot)
            box.blit(tag, (6, 3))
            w_mm = box.get_width() / self._px_per_mm
            h_mm = box.get_height() / self._px_per_mm
            self._blit_bench(layer, box, (x1 - w_mm / 2 - 10, y1 - h_mm / 2 - 10))

    def _draw_button_face(self, layer: pygame.Surface, zone: ZoneView,
                          colour: Sequence[int], label_px: int) -> None:
        x0, y0, x1, y1 = zone.bounds_mm
        cx, cy = zone.centre_mm
        r_mm = min(x1 - x0, y1 - y0) / 2.0
        icon_name = _BUTTON_ICONS.get(zone.label.strip().lower()) if zone.label else None
        if icon_name:
            size = self._mm(r_mm * 0.95)
            self._blit_bench(layer, self._icon(icon_name, size, colour), (cx, cy + r_mm * 0.2))
            px = min(label_px, self._mm(r_mm * 0.42))
            while px > _MIN_TEXT_PX and self._font(px).size(zone.label)[0] > self._mm(r_mm * 1.3):
                px = int(px * 0.9)
            self._blit_label(layer, zone.label, px, colour, (cx, cy - r_mm * 0.55))
        elif zone.label:
            px = label_px
            while px > _MIN_TEXT_PX and self._font(px).size(zone.label)[0] > self._mm(r_mm * 1.7):
                px = int(px * 0.85)
            self._blit_label(layer, zone.label, px, colour, (cx, cy))

    # -- highlights -------------------------------------------------------------

    def _draw_highlight(self, frame: pygame.Surface, zone: ZoneView, hl: Highlight,
                        t: float, paused: bool, view: BenchView, style: Style) -> None:
        colour = style.roles[hl.role]
        pts = self._poly_px(zone)
        thick = max(4, int(self._mm(10) * style.line_k))
        if paused or hl.role not in _PULSING:
            b = 0.5 if paused else 1.0
        elif hl.role == "wrong":
            b = _pulse(t, 0.9, 0.3 if not view.high_contrast else 0.5, 1.0)
        else:
            b = _pulse(t, self.pulse_period_s, style.pulse_lo, 1.0)
        x0, y0, x1, y1 = zone.bounds_mm
        label_px = self._label_px(view)
        band = 1.8 * label_px / self._px_per_mm if zone.label else 0.0
        if hl.role in ("pick", "correct"):
            pygame.draw.polygon(frame, _scale(colour, b), pts)
            _outline(frame, colour, pts, thick)
            if hl.role == "correct":
                # the right bin: a check mark cut out of the fill and a ring around it
                ring = self._map_polygon(_inflate(zone.polygon_mm, _RING_MM))
                _outline(frame, colour, ring, max(3, thick // 2))
                size = self._mm(max(10.0, min(x1 - x0, y1 - y0 - band) * 0.62))
                self._blit_bench(frame, self._icon("confirm", size, PALETTE["black"]),
                                 ((x0 + x1) / 2.0, (y0 + band + y1) / 2.0))
        elif hl.role == "wrong":
            # striped, flashing: clearly "not this one" without any words
            pygame.draw.polygon(frame, _scale(colour, 0.3 * b), pts)
            patch, pos = self._stripes.get(zone) or (None, None)
            if patch is None:
                patch, pos = self._stripe_patch(pts, 40.0, 14.0)
                self._stripes[zone] = (patch, pos)
            tinted = patch.copy()
            tinted.fill(_scale(colour, b), special_flags=pygame.BLEND_RGB_MULT)
            frame.blit(tinted, pos, special_flags=pygame.BLEND_RGB_MAX)
            _outline(frame, _scale(colour, max(b, 0.6)), pts, thick)
        elif hl.role in ("place", "done"):
            k = 0.35 + 0.65 * b
            if hl.role == "done":  # a soft glow under the check mark: "finished here"
                pygame.draw.polygon(frame, _scale(colour, 0.3), pts)
            _outline(frame, _scale(colour, k), pts, thick)
            if zone.kind == "button":  # the pressed button: its own face, lit
                self._draw_button_face(frame, zone, style.text, label_px)
                return
            # arrow (or check mark) above the zone's label band, which sits at its front edge
            size = self._mm(max(10.0, min(x1 - x0, y1 - y0 - band) * 0.7))
            icon = self._icon("place" if hl.role == "place" else "confirm", size, _scale(colour, k))
            self._blit_bench(frame, icon, ((x0 + x1) / 2.0, (y0 + band + y1) / 2.0))
        elif hl.role == "press":
            pygame.draw.polygon(frame, _scale(colour, b), pts)
            ring = self._map_polygon(_circle_mm(zone, 1.25))
            pygame.draw.polygon(frame, colour, ring, max(3, thick // 2))
            self._draw_button_face(frame, zone, PALETTE["black"], label_px)
        if hl.role in ("pick", "correct", "wrong", "done") and zone.label and zone.kind != "button":
            # the fill covers the zone's label; the bench text names bins ("take from bin A"): draw it again
            at = ((x0 + x1) / 2.0, self._label_y(zone, label_px))
            if hl.role in ("wrong", "done"):
                self._blit_label(frame, zone.label, label_px, style.text, at, boxed=True)
            else:
                self._blit_label(frame, zone.label, label_px, PALETTE["black"], at)
        if hl.quantity is not None and hl.role in ("pick", "correct", "place"):
            self._draw_quantity(frame, zone, hl.quantity, colour, view,
                                gap_mm=6.0 + (1.5 * _RING_MM if hl.role == "correct" else 0.0))

    def _icon(self, name: str, size: int, colour: Sequence[int]) -> pygame.Surface:
        key = ("icon", name, size, tuple(colour))
        surf = self._texts.get(key)
        if surf is None:
            surf = pygame.Surface((size, size), pygame.SRCALPHA)
            draw_pictogram(surf, name, surf.get_rect(), colour)
            self._remember(key, surf)
        return surf

    def _quantity_surface(self, qty: int, colour: Sequence[int], view: BenchView,
                          part_name: str | None, px: int) -> pygame.Surface:
        """"2×", with full guidance a dot per part (for those who count better than they
        read numbers) and, for readers, the part's name under it."""
        dots = view.guidance == "full" and 1 <= qty <= 10
        name = part_name if (view.guidance == "full" and not view.pictogram_first and part_name) else ""
        key = ("qty", qty, tuple(colour), px, dots, name)
        surf = self._texts.get(key)
        if surf is not None:
            return surf
        number = self._text(f"{qty}\u00d7", px, colour)
        w, h = number.get_size()
        r = max(3, int(px * 0.16))
        gap = max(2, r // 2)
        per_row = 5
        rows = (qty + per_row - 1) // per_row if dots else 0
        dots_w = (min(qty, per_row) * (2 * r + gap)) if dots else 0
        name_surf = self._text(name, max(_MIN_TEXT_PX, int(px * 0.4)), colour, bold=False) if name else None
        total_w = w + (dots_w + gap * 2 if dots else 0)
        total_w = max(total_w, name_surf.get_width() if name_surf else 0)
        total_h = h + (name_surf.get_height() if name_surf else 0)
        surf = pygame.Surface((total_w, total_h), pygame.SRCALPHA)
        x = (total_w - (w + (dots_w + gap * 2 if dots else 0))) // 2
        surf.blit(number, (x, 0))
        if dots:
            dots_h = rows * (2 * r + gap) - gap
            top = (h - dots_h) // 2
            for i in range(qty):
                row, col = divmod(i, per_row)
                c = (x + w + gap * 2 + col * (2 * r + gap) + r, top + row * (2 * r + gap) + r)
                pygame.draw.circle(surf, colour, c, r)
        if name_surf:
            surf.blit(name_surf, ((total_w - name_surf.get_width()) // 2, h - int(px * 0.1)))
        self._remember(key, surf)
        return surf

    def _draw_quantity(self, frame: pygame.Surface, zone: ZoneView, qty: int,
                       colour: Sequence[int], view: BenchView, gap_mm: float = 6.0) -> None:
        key = ("qty_at", zone, qty, tuple(colour), view.text_scale, view.guidance, view.pictogram_first, gap_mm)
        placed = self._quantities.get(key)
        if placed is None:
            placed = self._place_quantity(zone, qty, colour, view, gap_mm, view.zones)
            if len(self._quantities) > 128:
                self._quantities.clear()
            self._quantities[key] = placed
        surf, at = placed
        self._blit_bench(frame, surf, at)

    def _place_quantity(self, zone: ZoneView, qty: int, colour: Sequence[int], view: BenchView,
                        gap_mm: float, zones: Sequence[ZoneView]) -> tuple[pygame.Surface, tuple[float, float]]:
        """In front of the zone (towards the operator), as big as the free room there allows
        (down to 60 % of its size), else behind it."""
        x0, y0, x1, y1 = zone.bounds_mm
        cx = (x0 + x1) / 2.0
        full_px = self._mm(_QUANTITY_TEXT_MM * min(view.text_scale, 1.6))
        px = full_px
        while True:
            surf = self._quantity_surface(qty, colour, view, zone.part_name, px)
            w_mm = surf.get_width() / self._px_per_mm
            h_mm = surf.get_height() / self._px_per_mm
            room = y0 - gap_mm
            for other in zones:
                ox0, oy0, ox1, oy1 = other.bounds_mm
                if other is not zone and oy1 <= y0 and ox1 > cx - w_mm / 2 and ox0 < cx + w_mm / 2:
                    room = min(room, y0 - gap_mm - oy1 - 4.0)
            if h_mm <= room or px <= 0.6 * full_px:
                break
            px = max(_MIN_TEXT_PX, int(px * 0.9))
        y = y0 - 0.5 * h_mm - gap_mm  # just in front of the zone, towards the operator
        if y - 0.5 * h_mm < 0:
            y = y1 + 0.5 * h_mm + gap_mm
        return surf, (cx, y)

    def _draw_wrong_to_right(self, frame: pygame.Surface, view: BenchView, style: Style) -> None:
        """After a wrong pick: a bold arrow from the wrong bin to the right one (what to do, no words)."""
        wrong = next((h for h in view.highlights if h.role == "wrong"), None)
        right = next((h for h in view.highlights if h.role == "correct"), None)
        if wrong is None or right is None:
            return
        a, b = view.zone(wrong.zone_id), view.zone(right.zone_id)
        if a is None or b is None:
            return
        key = (a, b, style.line_k)
        pts = self._arrows.get(key)
        if pts is None:
            qty_mm = _QUANTITY_TEXT_MM * min(view.text_scale, 1.6) * 1.2 if right.quantity is not None else 0.0
            pts = self._map_polygon(_arc_between(a, b, view.zones, view.bench_d_mm, qty_mm))
            if len(self._arrows) > 64:
                self._arrows.clear()
            self._arrows[key] = pts
        colour = style.roles["correct"]
        width = max(4, int(self._mm(9) * style.line_k))
        body = pts[:-3]
        pygame.draw.lines(frame, PALETTE["black"], False, body, width + 6)
        pygame.draw.lines(frame, colour, False, body, width)
        for p in body[1:-1]:
            pygame.draw.circle(frame, colour, p, width // 2)
        pygame.draw.polygon(frame, PALETTE["black"], pts[-3:], 6)
        pygame.draw.polygon(frame, colour, pts[-3:])

    # -- instruction panel ------------------------------------------------------

    def _panel_layer(self, view: BenchView) -> tuple[pygame.Surface, tuple[int, int]]:
        area = self.panel_area_for(view)
        first_role = view.highlights[0].role if view.highlights else None
        key = (area, view.instruction, view.pictogram, view.step_index, view.step_count,
               view.units_done, view.units_total, view.assignee, view.banner, view.language,
               view.text_scale, view.guidance, view.pictogram_first, view.high_contrast, first_role,
               self._scale_key)
        if key == self._panel_key and self._panel is not None:
            return self._panel
        x0, y0, x1, y1 = area
        centre = ((x0 + x1) / 2.0, (y0 + y1) / 2.0)
        k = 1.0 / self.mapping.mm_per_px(centre)
        w = max(40, int(round((x1 - x0) * k)))
        h = max(30, int(round((y1 - y0) * k)))
        panel = pygame.Surface((w, h))
        panel.fill((0, 0, 0))
        self._draw_panel(panel, view, k)
        self._panel = self._warp_to_bench(panel, (x0, y0, x1, y1))
        self._panel_key = key
        return self._panel

    def _warp_to_bench(self, surf: pygame.Surface, area: tuple[float, float, float, float]
                       ) -> tuple[pygame.Surface, tuple[int, int]]:
        """Put an upright surface onto the bench rectangle ``area`` exactly (keystone,
        rotation and mirroring included). Returns the surface and where to blit it."""
        import numpy as np

        x0, y0, x1, y1 = area
        w, h = surf.get_size()
        # surface pixel (u, v) -> bench mm: u to the operator's right, v towards the operator
        to_bench = np.array([[(x1 - x0) / w, 0.0, x0], [0.0, -(y1 - y0) / h, y1],
                             [0.0, 0.0, 1.0]])
        h_total = self.mapping.homography @ to_bench
        h_total /= h_total[2, 2]
        corners = self.mapping.to_px([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        bx, by = np.floor(corners.min(axis=0)).astype(int)
        ex, ey = np.ceil(corners.max(axis=0)).astype(int)
        if np.allclose(h_total[:2, :2], np.eye(2), atol=2e-3) and \
                np.allclose(h_total[2, :2], 0.0, atol=1e-7):
            # the default mapping: a plain blit, pixel-crisp
            return surf, (int(round(h_total[0, 2])), int(round(h_total[1, 2])))
        import cv2

        shift = np.array([[1.0, 0.0, -bx], [0.0, 1.0, -by], [0.0, 0.0, 1.0]])
        src = pygame.surfarray.array3d(surf).transpose(1, 0, 2)
        out = cv2.warpPerspective(np.ascontiguousarray(src), shift @ h_total,
                                  (int(ex - bx), int(ey - by)), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        return pygame.surfarray.make_surface(out.transpose(1, 0, 2)), (int(bx), int(by))

    def _draw_panel(self, panel: pygame.Surface, view: BenchView, k: float) -> None:
        style = style_for(view)
        w, h = panel.get_size()
        pad = max(4, int(h * 0.05))
        band_h = max(18, int(h * 0.18 * min(1.3, view.font_scale)))
        top_h = h - band_h - 3 * pad
        content = pygame.Rect(pad, pad, w - 2 * pad, top_h)
        pygame.draw.rect(panel, style.panel, panel.get_rect(), max(2, int(2 * style.line_k)),
                         border_radius=pad)
        minimal = view.guidance == "minimal" and view.banner is None

        # who does this step: the operator or the cobot (not with minimal guidance)
        if not minimal:
            who_size = int(top_h * 0.62)
            who_rect = pygame.Rect(0, 0, who_size, who_size)
            who_rect.midright = (content.right, content.centery)
            if view.assignee == "cobot":
                draw_pictogram(panel, "wait_cobot", who_rect, style.cobot)
            else:
                draw_pictogram(panel, "operator", who_rect, style.operator)
            content.width -= who_size + pad

        text_px = max(_MIN_TEXT_PX, int(_INSTRUCTION_TEXT_MM * view.text_scale * k))
        banner = view.banner
        if banner is not None:
            colour = style.banners[banner.kind]
            default_picto = BANNER_STYLE[banner.kind][1]
            frame_rect = content.inflate(pad, pad)
            pygame.draw.rect(panel, colour, frame_rect, max(3, int(h * 0.03 * style.line_k)),
                             border_radius=pad)
            inner = content.inflate(-pad, -pad)
            # after a wrong pick the frame is amber, the "do this" icon green like the right bin
            icon_colour = style.roles["correct"] if banner.kind == "error" else colour
            self._draw_picto_and_text(panel, inner, banner.pictogram or default_picto, icon_colour,
                                      banner.text, text_px, style, banner.detail)
        else:
            picto = view.pictogram or ("wait_cobot" if view.assignee == "cobot" else "")
            if view.assignee == "cobot":
                colour = style.cobot
            elif view.highlights:  # same colour as what lights up on the bench
                colour = style.roles[view.highlights[0].role]
            else:
                colour = style.text
            self._draw_picto_and_text(panel, content, picto, colour, view.instruction, text_px, style)

        band = pygame.Rect(pad, h - pad - band_h, w - 2 * pad, band_h)
        self._draw_progress(panel, band, view, style)

    def _draw_picto_and_text(self, panel: pygame.Surface, rect: pygame.Rect, picto: str,
                             colour: Sequence[int], text: str, px: int, style: Style,
                             detail: str = "") -> None:
        gap = max(6, rect.height // 8)
        text_rect = rect.copy()
        if picto:
            icon_rect = pygame.Rect(rect.x, rect.y, rect.height, rect.height)
            draw_pictogram(panel, picto, icon_rect, colour)
            text_rect.x += rect.height + gap
            text_rect.width -= rect.height + gap
        else:  # text alone: a margin from the panel's edge
            text_rect.x += gap
            text_rect.width -= 2 * gap
        if not text or text_rect.width < 20:
            return
        detail_px = max(_MIN_TEXT_PX, int(px * 0.6))
        lines, px, detail_lines, detail_px = self._fit_text(text, detail, text_rect, px, detail_px)
        font = self._font(px)
        line_h = font.get_linesize()
        d_line_h = self._font(detail_px, False).get_linesize() if detail_lines else 0
        total = len(lines) * line_h + len(detail_lines) * d_line_h
        y = text_rect.centery - total // 2
        for line in lines:
            panel.blit(self._text(line, px, style.text), (text_rect.x, y))
            y += line_h
        for line in detail_lines:
            panel.blit(self._text(line, detail_px, style.text, bold=False), (text_rect.x, y))
            y += d_line_h

    def _fit_text(self, text: str, detail: str, rect: pygame.Rect, px: int, detail_px: int
                  ) -> tuple[list[str], int, list[str], int]:
        """Shrink the text (and the detail under it) until it fits the rectangle."""
        while True:
            font = self._font(px)
            lines = _wrap(font, text, rect.width)
            d_font = self._font(detail_px, False)
            d_lines = _wrap(d_font, detail, rect.width) if detail else []
            height = len(lines) * font.get_linesize() + len(d_lines) * d_font.get_linesize()
            fits = height <= rect.height and all(font.size(x)[0] <= rect.width for x in lines) and all(
                d_font.size(x)[0] <= rect.width for x in d_lines)
            if fits or px <= _MIN_TEXT_PX:
                break
            px = max(_MIN_TEXT_PX, int(px * 0.9))
            detail_px = max(_MIN_TEXT_PX, int(detail_px * 0.9))
        font = self._font(px)
        max_lines = max(1, rect.height // font.get_linesize())
        lines = lines[:max_lines]
        room = rect.height - len(lines) * font.get_linesize()
        d_lines = d_lines[:max(0, room // self._font(detail_px, False).get_linesize())] if d_lines else []
        return lines, px, d_lines, detail_px

    def _draw_progress(self, panel: pygame.Surface, band: pygame.Rect, view: BenchView,
                       style: Style) -> None:
        px = max(_MIN_TEXT_PX, int(band.height * 0.8))
        right = band.right
        if view.units_total > 0 or view.units_done > 0:
            units = (f"{view.units_done} / {view.units_total}" if view.units_total > 0
                     else f"{view.units_done}")
            surf = self._text(units, px, style.text)
            right -= surf.get_width()
            panel.blit(surf, surf.get_rect(midleft=(right, band.centery)))
            icon_h = int(band.height * 1.15)
            icon = pygame.Rect(0, 0, icon_h, icon_h)
            right -= icon_h + 6
            icon.midleft = (right, band.centery)
            draw_pictogram(panel, "box", icon, style.label)
            right -= band.height
        n = view.step_count
        if n <= 0:
            return
        k = min(max(view.step_index, 0), n - 1)
        word = _OF.get(view.language.split("-")[0].lower(), "/")
        label = self._text(f"{k + 1} {word} {n}", px, style.text)
        right -= label.get_width()
        panel.blit(label, label.get_rect(midleft=(right, band.centery)))
        right -= band.height // 2
        avail = right - band.x
        r = max(3, int(band.height * 0.3))
        spacing = max(2 * r + 4, int(r * 3.2))
        if n * spacing > avail:
            spacing = avail // n
            if spacing < 2 * r + 3:
                r = max(2, (spacing - 3) // 2)
            if r < 3:  # too many steps for dots: a filled bar instead
                bar = pygame.Rect(band.x, band.centery - 4, avail, 8)
                pygame.draw.rect(panel, style.step_todo, bar, 2, border_radius=4)
                done = bar.copy()
                done.width = int(avail * (k + 1) / n)
                pygame.draw.rect(panel, style.step_now, done, border_radius=4)
                return
        for i in range(n):
            c = (band.x + spacing // 2 + i * spacing, band.centery)
            if i < k:
                pygame.draw.circle(panel, style.step_done, c, r)
            elif i == k:
                pygame.draw.circle(panel, style.step_now, c, int(r * 1.35))
            else:
                pygame.draw.circle(panel, style.step_todo, c, r, max(2, r // 3))

    # -- calibration screen -------------------------------------------------------

    def _calibration_layer(self, view: BenchView) -> pygame.Surface:
        """"Calibrating: keep the bench clear", big and centred on the whole image: the
        bench geometry is what is being measured, so it is not trusted here."""
        assert view.banner is not None
        key = (view.banner, view.text_scale, view.high_contrast, self._orientation)
        if key == self._calib_key and self._calib is not None:
            return self._calib
        style = style_for(view)
        W, H = self.resolution
        upright = pygame.Surface((W, H) if self._orientation[0] % 180 == 0 else (H, W))
        upright.fill((0, 0, 0))
        uw, uh = upright.get_size()
        pad = int(min(uw, uh) * 0.06)
        pygame.draw.rect(upright, style.banners["calibrate"], upright.get_rect().inflate(-pad, -pad),
                         max(3, int(min(uw, uh) * 0.008 * style.line_k)), border_radius=pad // 2)
        icon = int(min(uw, uh) * 0.32)
        draw_pictogram(upright, view.banner.pictogram or "calibrate",
                       pygame.Rect((uw - icon) // 2, int(uh * 0.14), icon, icon), style.banners["calibrate"])
        rect = pygame.Rect(pad * 2, int(uh * 0.14) + icon + pad // 2, uw - 4 * pad, int(uh * 0.86) - icon - 2 * pad)
        px = max(_MIN_TEXT_PX, int(min(uw, uh) * 0.07 * view.font_scale))
        lines, px, detail_lines, detail_px = self._fit_text(view.banner.text, view.banner.detail, rect, px,
                                                            max(_MIN_TEXT_PX, int(px * 0.55)))
        y = rect.y
        for line, size, bold in [(x, px, True) for x in lines] + [(x, detail_px, False) for x in detail_lines]:
            surf = self._text(line, size, style.text, bold)
            upright.blit(surf, surf.get_rect(midtop=(uw // 2, y)))
            y += self._font(size, bold).get_linesize()
        layer = self._orient(upright) if self._orientation != (0.0, False) else upright
        if layer.get_size() != (W, H):
            layer = pygame.transform.smoothscale(layer, (W, H))
        self._calib_key, self._calib = key, layer
        return layer


# -- helpers --------------------------------------------------------------------

def _outline(surface: pygame.Surface, colour: Sequence[int], pts: list[tuple[int, int]],
             width: int) -> None:
    """Closed thick outline with round joints (pygame's own leaves notched corners)."""
    colour = tuple(colour)
    for a, b in zip(pts, pts[1:] + pts[:1]):
        pygame.draw.line(surface, colour, a, b, width)
    if width > 3:
        for p in pts:
            pygame.draw.circle(surface, colour, p, width // 2)


def _circle_mm(zone: ZoneView, scale: float = 1.0, n: int = 40) -> list[tuple[float, float]]:
    """A button drawn as the circle inscribed in its polygon's bounding box."""
    x0, y0, x1, y1 = zone.bounds_mm
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    r = min(x1 - x0, y1 - y0) / 2.0 * scale
    return [(cx + r * math.cos(2 * math.pi * i / n), cy + r * math.sin(2 * math.pi * i / n))
            for i in range(n)]


def _inflate(poly: Sequence[Sequence[float]], d: float) -> list[tuple[float, float]]:
    """A polygon grown by about ``d`` mm (each vertex pushed away from the centroid)."""
    n = len(poly)
    cx = sum(p[0] for p in poly) / n
    cy = sum(p[1] for p in poly) / n
    out = []
    for x, y in poly:
        dx, dy = x - cx, y - cy
        r = math.hypot(dx, dy) or 1.0
        out.append((x + dx / r * d * 1.41, y + dy / r * d * 1.41))
    return out


def _arc_between(a: ZoneView, b: ZoneView, zones: Sequence[ZoneView], bench_d_mm: float,
                 front_room_taken_mm: float) -> list[tuple[float, float]]:
    """A curved arrow from zone ``a`` to zone ``b`` in bench mm; the last three points are
    the arrow head. It bows behind both zones when the bench has room there (bins stand at
    the back edge), else in front of them, beside the right bin's quantity."""
    ax0, ay0, ax1, ay1 = a.bounds_mm
    bx0, by0, bx1, by1 = b.bounds_mm
    lo_x, hi_x = min(ax0, bx0), max(ax1, bx1)
    top = max(ay1, by1)
    back_room = bench_d_mm - top
    front = min(ay0, by0)
    front_room = front
    for z in zones:
        if z is a or z is b:
            continue
        zx0, zy0, zx1, zy1 = z.bounds_mm
        if zx1 <= lo_x or zx0 >= hi_x:
            continue
        if zy0 >= top:
            back_room = min(back_room, zy0 - top)
        elif zy1 <= front:
            front_room = min(front_room, front - zy1)
    span = abs((ax0 + ax1) - (bx0 + bx1)) / 2.0
    toward = 1.0 if (ax0 + ax1) > (bx0 + bx1) else -1.0  # the wrong bin lies this way (+x: right)
    inset = 0.15 * (bx1 - bx0)
    end_x = (bx1 - inset) if toward > 0 else (bx0 + inset)
    if back_room >= 45.0:
        sign, y_a, y_b = 1.0, ay1 + 6.0, by1 + 6.0
        depth = min(back_room - 12.0, 30.0 + 0.15 * span)
    else:
        sign, y_a, y_b = -1.0, ay0 - 6.0, by0 - 6.0
        depth = max(20.0, min(front_room - front_room_taken_mm - 10.0, 30.0 + 0.15 * span))
    start = ((ax0 + ax1) / 2.0, y_a)
    end = (end_x, y_b)
    # a quadratic Bezier reaches half its control point's offset: control at twice the depth
    ctrl = ((start[0] + end[0]) / 2.0, (max(y_a, y_b) if sign > 0 else min(y_a, y_b)) + sign * 2.0 * depth)
    pts = []
    n = 24
    for i in range(n + 1):
        t = i / n
        x = (1 - t) ** 2 * start[0] + 2 * (1 - t) * t * ctrl[0] + t * t * end[0]
        y = (1 - t) ** 2 * start[1] + 2 * (1 - t) * t * ctrl[1] + t * t * end[1]
        pts.append((x, y))
    # arrow head along the last segment
    (px, py), (qx, qy) = pts[-3], pts[-1]
    dx, dy = qx - px, qy - py
    length = math.hypot(dx, dy) or 1.0
    dx, dy = dx / length, dy / length
    size = 34.0
    base = (qx - dx * size, qy - dy * size)
    nx, ny = -dy, dx
    body = pts[:-1] + [base]
    head = [(qx, qy), (base[0] + nx * size * 0.6, base[1] + ny * size * 0.6),
            (base[0] - nx * size * 0.6, base[1] - ny * size * 0.6)]
    return body + head


def _cobot_area(view: BenchView) -> ZoneView | None:
    if view.cobot.area_zone_id:
        zone = view.zone(view.cobot.area_zone_id)
        if zone is not None:
            return zone
    for zone in view.zones:
        if zone.kind == "cobot_area":
            return zone
    return None


def _wrap(font: pygame.font.Font, text: str, width: int) -> list[str]:
    """Words to lines no wider than ``width``; breaks at plain spaces only (a no-break space,
    as French puts before ":", holds)."""
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        words = [w for w in para.split(" ") if w]
        if not words:
            lines.append("")
            continue
        line = words[0]
        for word in words[1:]:
            trial = f"{line} {word}"
            if font.size(trial)[0] <= width:
                line = trial
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def _free_front_strip(view: BenchView, depth_k: float = 1.0) -> tuple[float, float, float, float]:
    """The widest stretch of the bench's front strip that no zone covers.

    ``depth_k`` > 1 asks for a deeper strip (larger text); if that leaves too narrow a
    stretch, the normal depth is used.
    """
    w, d = view.bench_w_mm, view.bench_d_mm
    margin = min(15.0, 0.02 * min(w, d))
    depth = max(min(0.24 * d, 220.0), min(110.0, 0.5 * d))
    if depth_k > 1.0:
        deeper = _strip(view, margin, min(depth * depth_k, 0.45 * d))
        if deeper[2] - deeper[0] >= 0.45 * w:
            return deeper
    return _strip(view, margin, depth)


def _strip(view: BenchView, margin: float, depth: float) -> tuple[float, float, float, float]:
    w = view.bench_w_mm
    y0, y1 = margin, margin + depth
    blocked = []
    for zone in view.zones:
        zx0, zy0, zx1, zy1 = zone.bounds_mm
        if zy0 < y1 + margin and zy1 > y0:
            blocked.append((zx0 - margin, zx1 + margin))
    blocked.sort()
    best = (margin, margin)
    cursor = margin
    for bx0, bx1 in blocked + [(w - margin, w)]:
        if bx0 - cursor > best[1] - best[0]:
            best = (cursor, bx0)
        cursor = max(cursor, bx1)
    if best[1] - best[0] < 0.3 * w:
        best = (margin, w - margin)  # nothing free enough: use the whole strip
    return (best[0], y0, best[1], y1)


class ProjectorWindow:
    """A pygame window on the projector's display: full screen on display ``display_index``
    (the one the YAML names, never the one under the mouse).

    Works under ``SDL_VIDEODRIVER=dummy`` too (nothing is shown). ``desktop_size`` is that
    display's desktop size (None where SDL does not say), so a caller can log a mismatch
    with the configured resolution.
    """

    def __init__(self, display_index: int = 0, resolution: tuple[int, int] = (1280, 800),
                 fullscreen: bool = True, title: str = "bench projection") -> None:
        # a full-screen window on a second screen must not minimise when the PC's
        # other screen gets the focus
        os.environ.setdefault("SDL_VIDEO_MINIMIZE_ON_FOCUS_LOSS", "0")
        pygame.display.init()
        count = pygame.display.get_num_displays()
        if not 0 <= display_index < count:
            raise ValueError(
                f"projector display {display_index} does not exist; {count} display(s) found "
                f"(0..{count - 1})")
        flags = pygame.FULLSCREEN if fullscreen else 0
        self.resolution = (int(resolution[0]), int(resolution[1]))
        self.display_index = display_index
        try:
            sizes = pygame.display.get_desktop_sizes()
            self.desktop_size: tuple[int, int] | None = tuple(sizes[display_index])  # type: ignore[assignment]
        except (pygame.error, IndexError, AttributeError):
            self.desktop_size = None
        self.screen = pygame.display.set_mode(self.resolution, flags, display=display_index)
        pygame.display.set_caption(title)
        pygame.mouse.set_visible(False)
        self.confirms = 0  # confirmation key presses not yet taken (``take_confirms``)

    def take_confirms(self) -> int:
        self.poll()
        n, self.confirms = self.confirms, 0
        return n

    def show(self, surface: pygame.Surface) -> None:
        """Put a frame on the projector (scaled if its size differs)."""
        if surface.get_size() != self.screen.get_size():
            surface = pygame.transform.smoothscale(surface.convert(), self.screen.get_size())
        self.screen.blit(surface, (0, 0))
        pygame.display.flip()
        self.poll()

    def poll(self) -> None:
        """Read the window's events: keeps the OS from marking the window as hung, and counts the
        space bar or Enter on a keyboard at the bench (it confirms a step while the camera is lost)."""
        self.confirms += sum(1 for e in pygame.event.get(pygame.KEYDOWN) if e.key in (pygame.K_SPACE, pygame.K_RETURN))
        pygame.event.pump()

    def close(self) -> None:
        pygame.display.quit()

    def __enter__(self) -> "ProjectorWindow":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
