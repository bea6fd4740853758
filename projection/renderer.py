"""Turn a :class:`~projection.view.BenchView` into a projector frame (pygame).

Black is "no light" on a projector, so everything is drawn on black.  Zones are
bench-mm polygons mapped vertex by vertex through the homography, so a
keystoned, calibrated projector puts every outline where it belongs on the
bench.  Text and pictograms are drawn upright and turned to read upright for
the operator standing at the front edge.

Colours are the Okabe–Ito colour-blind-safe palette and every colour is paired
with a shape: a pick bin is filled and carries a big "2×", a place zone has a
thick outline and a down arrow, a wrong bin is striped, the right bin is
solid, the cobot area is hatched.

The renderer keeps no clock: ``render(view, t)`` takes the time in seconds,
which only drives the gentle pulse of highlights.  Zone outlines, hatching and
the instruction panel are cached, so an unchanged view costs a blit, a few
polygons and a panel blit per frame.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import pygame

from projection.geometry import BenchToProjector
from projection.pictograms import draw_pictogram
from projection.view import BenchView, Highlight, ZoneView

__all__ = ["BenchRenderer", "ProjectorWindow", "save_png", "PALETTE"]

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

ROLE_COLOURS = {
    "pick": PALETTE["yellow"],
    "place": PALETTE["sky_blue"],
    "press": PALETTE["sky_blue"],
    "wrong": PALETTE["orange"],
    "correct": PALETTE["bluish_green"],
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
}

# the only words the renderer writes itself
_OF = {"en": "of", "nl": "van", "de": "von", "fr": "sur", "es": "de", "it": "di",
       "pl": "z", "tr": "/", "ar": "/"}

# button labels that get an icon as well as their text
_BUTTON_ICONS = {
    "ok": "confirm", "done": "confirm", "ready": "confirm", "klaar": "confirm",
    "fertig": "confirm", "confirm": "confirm", "help": "help", "hulp": "help",
    "hilfe": "help", "aide": "help", "pause": "paused", "paused": "paused",
}

# physical sizes on the bench (mm); large_text multiplies the text ones
_INSTRUCTION_TEXT_MM = 42.0
_QUANTITY_TEXT_MM = 58.0
_LABEL_TEXT_MM = 20.0
_LARGE_TEXT_FACTOR = 1.45
_MIN_TEXT_PX = 14


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
    """Smooth brightness between lo and hi; hi at t = 0."""
    return lo + (hi - lo) * (0.5 + 0.5 * math.cos(2.0 * math.pi * t / period))


class BenchRenderer:
    """Draws bench views for one projector.

    ``panel_area_mm`` is the free bench area (x0, y0, x1, y1) for the
    instruction panel; by default the widest free stretch of the front strip.
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
        self.font_path = str(font_path) if font_path else None
        if self.font_path and not os.path.isfile(self.font_path):
            raise FileNotFoundError(f"font file not found: {self.font_path}")
        self.panel_area_mm = tuple(panel_area_mm) if panel_area_mm else None
        self.pulse_period_s = float(pulse_period_s)
        self.show_bench_outline = show_bench_outline
        self._fonts: dict[int, pygame.font.Font] = {}
        self._texts: dict[tuple, pygame.Surface] = {}
        self._static_key: tuple | None = None
        self._static: pygame.Surface | None = None
        self._panel_key: tuple | None = None
        self._panel: tuple[pygame.Surface, tuple[int, int]] | None = None
        self._zone_px: dict[ZoneView, list[tuple[int, int]]] = {}
        self._stripes: dict[ZoneView, tuple[pygame.Surface, tuple[int, int]]] = {}
        self._scale_key: tuple | None = None
        self._px_per_mm = 1.0
        self._orientation = (0.0, False)

    # -- public ----------------------------------------------------------------

    def render(self, view: BenchView, t: float) -> pygame.Surface:
        """A new frame for ``view`` at time ``t`` (seconds; drives the pulse only)."""
        self._update_scale(view)
        frame = self._static_layer(view).copy()
        paused = view.banner is not None and view.banner.kind in ("paused", "fault")
        for hl in view.highlights:
            zone = view.zone(hl.zone_id)
            if zone is not None:
                self._draw_highlight(frame, zone, hl, t, paused, view.large_text)
        surf, pos = self._panel_layer(view)
        # black is "no light": only the panel's lit pixels cover what lies under it
        frame.blit(surf, pos, special_flags=pygame.BLEND_RGB_MAX)
        return frame

    def panel_area_for(self, view: BenchView) -> tuple[float, float, float, float]:
        """Bench area (x0, y0, x1, y1) in mm where the instruction panel goes."""
        if self.panel_area_mm:
            return self.panel_area_mm  # type: ignore[return-value]
        return _free_front_strip(view)

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

    def _mm(self, mm: float) -> int:
        return max(1, int(round(mm * self._px_per_mm)))

    def _font(self, px: int) -> pygame.font.Font:
        px = max(_MIN_TEXT_PX, int(px))
        font = self._fonts.get(px)
        if font is None:
            # pygame's size is the em size; the bundled font's line is ~0.68 em
            size = int(round(px / 0.68)) if self.font_path is None else px
            font = pygame.font.Font(self.font_path, size)
            self._fonts[px] = font
        return font

    def _text(self, text: str, px: int, colour: Sequence[int]) -> pygame.Surface:
        key = (text, int(px), tuple(colour))
        surf = self._texts.get(key)
        if surf is None:
            surf = self._font(px).render(text, True, tuple(colour))
            if len(self._texts) > 512:
                self._texts.clear()
            self._texts[key] = surf
        return surf

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
            surf = self._orient(surf)
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

    # -- static layer: outlines, labels, hatching, cobot --------------------------

    def _static_layer(self, view: BenchView) -> pygame.Surface:
        key = (view.bench_w_mm, view.bench_d_mm, view.zones, view.cobot, view.large_text,
               view.language)
        if key == self._static_key and self._static is not None:
            return self._static
        layer = pygame.Surface(self.resolution)
        layer.fill(PALETTE["black"])
        text_k = _LARGE_TEXT_FACTOR if view.large_text else 1.0
        thin = max(2, self._mm(3))
        if self.show_bench_outline:
            bench = ((0, 0), (view.bench_w_mm, 0), (view.bench_w_mm, view.bench_d_mm),
                     (0, view.bench_d_mm))
            pygame.draw.polygon(layer, PALETTE["faint"], self._map_polygon(bench), 2)
        label_px = self._mm(_LABEL_TEXT_MM * text_k)
        cobot_area = _cobot_area(view)
        for zone in view.zones:
            pts = self._poly_px(zone)
            x0, y0, x1, y1 = zone.bounds_mm
            cx = (x0 + x1) / 2.0
            if zone.kind in ("cobot_area", "keep_out"):
                busy = zone is cobot_area and view.cobot.busy
                self._hatch(layer, pts, _scale(HATCH_COLOUR, 1.0 if busy else 0.75))
                pygame.draw.polygon(layer, HATCH_COLOUR, pts, thin)
                if zone is cobot_area:
                    self._draw_cobot(layer, zone, view, label_px)
                elif zone.label:
                    self._blit_label(layer, zone.label, label_px, PALETTE["grey"],
                                     (cx, y0 + 0.9 * label_px / self._px_per_mm))
            elif zone.kind == "button":
                pygame.draw.polygon(layer, PALETTE["grey"], pts, thin)
                self._draw_button_face(layer, zone, PALETTE["grey"], label_px)
            else:
                pygame.draw.polygon(layer, PALETTE["dim"], pts, thin)
                if zone.label:
                    # near the front edge inside the zone, so the middle stays dark
                    self._blit_label(layer, zone.label, label_px, PALETTE["grey"],
                                     (cx, y0 + 0.9 * label_px / self._px_per_mm))
        self._static_key = key
        self._static = layer
        return layer

    def _blit_label(self, layer: pygame.Surface, text: str, px: int,
                    colour: Sequence[int], at_mm: Sequence[float]) -> None:
        self._blit_bench(layer, self._text(text, px, colour), at_mm)

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

    def _draw_cobot(self, layer: pygame.Surface, zone: ZoneView, view: BenchView,
                    label_px: int) -> None:
        x0, y0, x1, y1 = zone.bounds_mm
        cx, cy = zone.centre_mm
        side_mm = min(x1 - x0, y1 - y0)
        if view.cobot.busy:
            icon_mm = min(side_mm * 0.55, 200.0)
            icon_px = self._mm(icon_mm)
            icon = pygame.Surface((icon_px, icon_px), pygame.SRCALPHA)
            draw_pictogram(icon, "wait_cobot", icon.get_rect(), COBOT_COLOUR)
            # dark disc behind the robot so the hatching does not run through it
            at = (cx, cy + icon_mm * 0.15)
            disc = [(at[0] + icon_mm * 0.68 * math.cos(2 * math.pi * i / 40),
                     at[1] + icon_mm * 0.68 * math.sin(2 * math.pi * i / 40)) for i in range(40)]
            pygame.draw.polygon(layer, PALETTE["black"], self._map_polygon(disc))
            self._blit_bench(layer, icon, at)
            if view.cobot.step_title:
                lines = _wrap(self._font(label_px), view.cobot.step_title,
                              self._mm((x1 - x0) * 0.9))
                for i, line in enumerate(lines[:2]):
                    y = cy - icon_mm * 0.55 - (i + 0.6) * label_px * 1.2 / self._px_per_mm
                    surf = self._text(line, label_px, PALETTE["white"])
                    box = pygame.Surface((surf.get_width() + 8, surf.get_height() + 4))
                    box.fill((0, 0, 0))
                    box.blit(surf, (4, 2))
                    self._blit_bench(layer, box, (cx, y))
        elif zone.label:
            self._blit_label(layer, zone.label, label_px, PALETTE["grey"],
                             (cx, y0 + 0.9 * label_px / self._px_per_mm))
        if view.cobot.simulated:
            tag = self._text("SIM", label_px, PALETTE["black"])
            box = pygame.Surface((tag.get_width() + 12, tag.get_height() + 6))
            box.fill(COBOT_COLOUR)
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
            icon = pygame.Surface((size, size), pygame.SRCALPHA)
            draw_pictogram(icon, icon_name, icon.get_rect(), colour)
            self._blit_bench(layer, icon, (cx, cy + r_mm * 0.2))
            if zone.label:
                px = min(label_px, self._mm(r_mm * 0.45))
                self._blit_label(layer, zone.label, px, colour, (cx, cy - r_mm * 0.55))
        elif zone.label:
            font = self._font(label_px)
            px = label_px
            while px > _MIN_TEXT_PX and font.size(zone.label)[0] > self._mm(r_mm * 1.7):
                px = int(px * 0.85)
                font = self._font(px)
            self._blit_label(layer, zone.label, px, colour, (cx, cy))

    # -- highlights -------------------------------------------------------------

    def _draw_highlight(self, frame: pygame.Surface, zone: ZoneView, hl: Highlight,
                        t: float, paused: bool, large_text: bool) -> None:
        colour = ROLE_COLOURS[hl.role]
        pts = self._poly_px(zone)
        thick = max(4, self._mm(10))
        if paused:
            b = 0.5
        elif hl.role == "wrong":
            b = _pulse(t, 0.9, 0.3, 1.0)
        else:
            b = _pulse(t, self.pulse_period_s, 0.45, 1.0)
        if hl.role in ("pick", "correct"):
            pygame.draw.polygon(frame, _scale(colour, b), pts)
            _outline(frame, colour, pts, thick)
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
        elif hl.role == "place":
            _outline(frame, _scale(colour, 0.35 + 0.65 * b), pts, thick)
            # arrow above the zone's label band, which sits at its front edge
            x0, y0, x1, y1 = zone.bounds_mm
            text_k = _LARGE_TEXT_FACTOR if large_text else 1.0
            band = 1.8 * _LABEL_TEXT_MM * text_k if zone.label else 0.0
            size = self._mm(max(10.0, min(x1 - x0, y1 - y0 - band) * 0.7))
            icon = self._icon("place", size, _scale(colour, 0.35 + 0.65 * b))
            self._blit_bench(frame, icon, ((x0 + x1) / 2.0, (y0 + band + y1) / 2.0))
        elif hl.role == "press":
            pygame.draw.polygon(frame, _scale(colour, b), pts)
            ring = [(int(x), int(y)) for x, y in self.mapping.to_px(_circle_mm(zone, 1.25))]
            pygame.draw.polygon(frame, colour, ring, max(3, thick // 2))
            label_px = self._mm(_LABEL_TEXT_MM)
            self._draw_button_face(frame, zone, PALETTE["black"], label_px)
        if hl.role in ("pick", "correct", "wrong") and zone.label and zone.kind != "button":
            # the fill covers the zone's label; the bench text names bins ("take from bin A"): draw it again
            text_k = _LARGE_TEXT_FACTOR if large_text else 1.0
            label_px = self._mm(_LABEL_TEXT_MM * text_k)
            x0, y0, x1, y1 = zone.bounds_mm
            ink = PALETTE["black"] if hl.role != "wrong" else PALETTE["white"]
            self._blit_label(frame, zone.label, label_px, ink, ((x0 + x1) / 2.0, y0 + 0.9 * label_px / self._px_per_mm))
        if hl.quantity is not None and hl.role in ("pick", "correct", "place"):
            self._draw_quantity(frame, zone, hl.quantity, colour)

    def _icon(self, name: str, size: int, colour: Sequence[int]) -> pygame.Surface:
        key = ("icon", name, size, tuple(colour))
        surf = self._texts.get(key)
        if surf is None:
            surf = pygame.Surface((size, size), pygame.SRCALPHA)
            draw_pictogram(surf, name, surf.get_rect(), colour)
            self._texts[key] = surf
        return surf

    def _draw_quantity(self, frame: pygame.Surface, zone: ZoneView, qty: int,
                       colour: Sequence[int]) -> None:
        px = self._mm(_QUANTITY_TEXT_MM)
        surf = self._text(f"{qty}\u00d7", px, colour)
        h_mm = surf.get_height() / self._px_per_mm
        x0, y0, x1, y1 = zone.bounds_mm
        cx = (x0 + x1) / 2.0
        y = y0 - 0.55 * h_mm - 6.0  # just in front of the zone, towards the operator
        if y - 0.5 * h_mm < 0:
            y = y1 + 0.55 * h_mm + 6.0
        self._blit_bench(frame, surf, (cx, y))

    # -- instruction panel ------------------------------------------------------

    def _panel_layer(self, view: BenchView) -> tuple[pygame.Surface, tuple[int, int]]:
        area = self.panel_area_for(view)
        first_role = view.highlights[0].role if view.highlights else None
        key = (area, view.instruction, view.pictogram, view.step_index, view.step_count,
               view.units_done, view.units_total, view.assignee, view.banner, view.language,
               view.large_text, first_role, self._scale_key)
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
        w, h = panel.get_size()
        pad = max(4, int(h * 0.05))
        band_h = max(18, int(h * 0.2))
        top_h = h - band_h - 3 * pad
        text_k = _LARGE_TEXT_FACTOR if view.large_text else 1.0
        content = pygame.Rect(pad, pad, w - 2 * pad, top_h)
        pygame.draw.rect(panel, PALETTE["faint"], panel.get_rect(), 2, border_radius=pad)

        # who does this step: the operator or the cobot
        who_size = int(top_h * 0.62)
        who_rect = pygame.Rect(0, 0, who_size, who_size)
        who_rect.midright = (content.right, content.centery)
        if view.assignee == "cobot":
            draw_pictogram(panel, "wait_cobot", who_rect, COBOT_COLOUR)
        else:
            draw_pictogram(panel, "operator", who_rect, PALETTE["white"])
        content.width -= who_size + pad

        banner = view.banner
        if banner is not None:
            colour, default_picto = BANNER_STYLE[banner.kind]
            frame_rect = content.inflate(pad, pad)
            pygame.draw.rect(panel, colour, frame_rect, max(3, int(h * 0.03)),
                             border_radius=pad)
            inner = content.inflate(-pad, -pad)
            # after a wrong pick the frame is amber, the "do this" icon green like the right bin
            icon_colour = ROLE_COLOURS["correct"] if banner.kind == "error" else colour
            self._draw_picto_and_text(panel, inner, banner.pictogram or default_picto,
                                      icon_colour, banner.text, text_k * k)
        else:
            picto = view.pictogram or ("wait_cobot" if view.assignee == "cobot" else "")
            if view.assignee == "cobot":
                colour = COBOT_COLOUR
            elif view.highlights:  # same colour as what lights up on the bench
                colour = ROLE_COLOURS[view.highlights[0].role]
            else:
                colour = PALETTE["white"]
            self._draw_picto_and_text(panel, content, picto, colour, view.instruction,
                                      text_k * k)

        band = pygame.Rect(pad, h - pad - band_h, w - 2 * pad, band_h)
        self._draw_progress(panel, band, view)

    def _draw_picto_and_text(self, panel: pygame.Surface, rect: pygame.Rect, picto: str,
                             colour: Sequence[int], text: str, px_per_mm: float) -> None:
        gap = max(6, rect.height // 8)
        text_rect = rect.copy()
        if picto:
            icon_rect = pygame.Rect(rect.x, rect.y, rect.height, rect.height)
            draw_pictogram(panel, picto, icon_rect, colour)
            text_rect.x += rect.height + gap
            text_rect.width -= rect.height + gap
        if not text or text_rect.width < 20:
            return
        px = max(_MIN_TEXT_PX, int(_INSTRUCTION_TEXT_MM * px_per_mm))
        lines: list[str] = []
        while True:
            font = self._font(px)
            lines = _wrap(font, text, text_rect.width)
            fits = len(lines) * font.get_linesize() <= text_rect.height and all(
                font.size(line)[0] <= text_rect.width for line in lines)
            if fits or px <= _MIN_TEXT_PX:
                break
            px = max(_MIN_TEXT_PX, int(px * 0.9))
        font = self._font(px)
        line_h = font.get_linesize()
        max_lines = max(1, text_rect.height // line_h)
        lines = lines[:max_lines]
        y = text_rect.centery - len(lines) * line_h // 2
        for line in lines:
            surf = self._text(line, px, PALETTE["white"])
            panel.blit(surf, (text_rect.x, y))
            y += line_h

    def _draw_progress(self, panel: pygame.Surface, band: pygame.Rect, view: BenchView) -> None:
        px = max(_MIN_TEXT_PX, int(band.height * 0.8))
        right = band.right
        if view.units_total > 0 or view.units_done > 0:
            units = (f"{view.units_done} / {view.units_total}" if view.units_total > 0
                     else f"{view.units_done}")
            surf = self._text(units, px, PALETTE["white"])
            right -= surf.get_width()
            panel.blit(surf, surf.get_rect(midleft=(right, band.centery)))
            icon_h = int(band.height * 1.15)
            icon = pygame.Rect(0, 0, icon_h, icon_h)
            right -= icon_h + 6
            icon.midleft = (right, band.centery)
            draw_pictogram(panel, "box", icon, PALETTE["grey"])
            right -= band.height
        n = view.step_count
        if n <= 0:
            return
        k = min(max(view.step_index, 0), n - 1)
        word = _OF.get(view.language.split("-")[0].lower(), "/")
        label = self._text(f"{k + 1} {word} {n}", px, PALETTE["white"])
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
                pygame.draw.rect(panel, PALETTE["dim"], bar, 2, border_radius=4)
                done = bar.copy()
                done.width = int(avail * (k + 1) / n)
                pygame.draw.rect(panel, PALETTE["white"], done, border_radius=4)
                return
        for i in range(n):
            c = (band.x + spacing // 2 + i * spacing, band.centery)
            if i < k:
                pygame.draw.circle(panel, PALETTE["grey"], c, r)
            elif i == k:
                pygame.draw.circle(panel, PALETTE["white"], c, int(r * 1.35))
            else:
                pygame.draw.circle(panel, PALETTE["dim"], c, r, max(2, r // 3))


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
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        words = para.split()
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


def _free_front_strip(view: BenchView) -> tuple[float, float, float, float]:
    """The widest stretch of the bench's front strip that no zone covers."""
    w, d = view.bench_w_mm, view.bench_d_mm
    margin = min(15.0, 0.02 * min(w, d))
    depth = max(min(0.24 * d, 220.0), min(110.0, 0.5 * d))
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
    """A pygame window on the projector's display (full screen by default).

    Works under ``SDL_VIDEODRIVER=dummy`` too (nothing is shown).
    """

    def __init__(self, display_index: int = 0, resolution: tuple[int, int] = (1280, 800),
                 fullscreen: bool = True, title: str = "bench projection") -> None:
        pygame.display.init()
        count = pygame.display.get_num_displays()
        if not 0 <= display_index < count:
            raise ValueError(
                f"projector display {display_index} does not exist; {count} display(s) found "
                f"(0..{count - 1})")
        flags = pygame.FULLSCREEN if fullscreen else 0
        self.resolution = (int(resolution[0]), int(resolution[1]))
        self.display_index = display_index
        self.screen = pygame.display.set_mode(self.resolution, flags, display=display_index)
        pygame.display.set_caption(title)
        pygame.mouse.set_visible(False)

    def show(self, surface: pygame.Surface) -> None:
        """Put a frame on the projector (scaled if its size differs)."""
        if surface.get_size() != self.screen.get_size():
            surface = pygame.transform.smoothscale(surface.convert(), self.screen.get_size())
        self.screen.blit(surface, (0, 0))
        pygame.display.flip()
        pygame.event.pump()  # keep the OS from marking the window as hung

    def close(self) -> None:
        pygame.display.quit()

    def __enter__(self) -> "ProjectorWindow":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
