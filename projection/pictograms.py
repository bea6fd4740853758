"""Vector pictograms drawn with pygame primitives (no image files needed).

``draw_pictogram(surface, name, rect, colour)`` draws one pictogram fitted in
``rect`` (kept square, centred).  An unknown name draws a question mark in a
circle; it never raises.  If ``name`` is the path of an existing raster image
(PNG, JPG, BMP, ...), that image is blitted, scaled to fit.

Shapes are bold and simple so they read from a metre away when projected on a
bench.  Where a pictogram cuts a detail out of a filled shape it draws in
black, which is "no light" on a projector.
"""

from __future__ import annotations

import math
import os
from typing import Callable

import pygame

__all__ = ["PICTOGRAMS", "draw_pictogram", "pictogram_names"]

Colour = tuple[int, int, int]
_BLACK = (0, 0, 0)
_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".webp")
_image_cache: dict[str, pygame.Surface] = {}


class _Pen:
    """Draws in unit coordinates (0..1) of a square box."""

    def __init__(self, surface: pygame.Surface, rect: pygame.Rect, colour: Colour) -> None:
        s = min(rect.width, rect.height)
        self.surface = surface
        self.x0 = rect.centerx - s / 2.0
        self.y0 = rect.centery - s / 2.0
        self.s = float(s)
        self.c = colour
        self.lw = max(2, int(round(s * 0.075)))

    def p(self, u: float, v: float) -> tuple[int, int]:
        return (int(round(self.x0 + u * self.s)), int(round(self.y0 + v * self.s)))

    def n(self, d: float) -> int:
        return max(1, int(round(d * self.s)))

    def line(self, pts: list[tuple[float, float]], width: float | None = None,
             colour: Colour | None = None, round_caps: bool = True) -> None:
        c = colour or self.c
        w = self.lw if width is None else max(1, int(round(width * self.s)))
        ps = [self.p(u, v) for u, v in pts]
        for a, b in zip(ps, ps[1:]):
            pygame.draw.line(self.surface, c, a, b, w)
        if round_caps and w > 2:
            for q in ps:
                pygame.draw.circle(self.surface, c, q, w // 2)

    def poly(self, pts: list[tuple[float, float]], width: float | None = 0,
             colour: Colour | None = None) -> None:
        c = colour or self.c
        w = 0 if not width else max(1, int(round(width * self.s)))
        pygame.draw.polygon(self.surface, c, [self.p(u, v) for u, v in pts], w)

    def circle(self, u: float, v: float, r: float, width: float | None = 0,
               colour: Colour | None = None) -> None:
        c = colour or self.c
        w = 0 if not width else max(1, int(round(width * self.s)))
        pygame.draw.circle(self.surface, c, self.p(u, v), self.n(r), w)

    def rrect(self, u0: float, v0: float, u1: float, v1: float, radius: float,
              width: float | None = 0, colour: Colour | None = None) -> None:
        c = colour or self.c
        a = self.p(u0, v0)
        b = self.p(u1, v1)
        r = pygame.Rect(a[0], a[1], max(1, b[0] - a[0]), max(1, b[1] - a[1]))
        w = 0 if not width else max(1, int(round(width * self.s)))
        pygame.draw.rect(self.surface, c, r, w, border_radius=self.n(radius))

    def ellipse(self, u0: float, v0: float, u1: float, v1: float,
                width: float | None = 0, colour: Colour | None = None) -> None:
        c = colour or self.c
        a = self.p(u0, v0)
        b = self.p(u1, v1)
        r = pygame.Rect(a[0], a[1], max(1, b[0] - a[0]), max(1, b[1] - a[1]))
        w = 0 if not width else max(1, int(round(width * self.s)))
        pygame.draw.ellipse(self.surface, c, r, w)

    def arc(self, cu: float, cv: float, r: float, start_deg: float, end_deg: float,
            width: float | None = None, colour: Colour | None = None, steps: int = 24) -> None:
        """Polyline arc, angles counter-clockwise from +u as seen on screen."""
        pts = []
        for i in range(steps + 1):
            a = math.radians(start_deg + (end_deg - start_deg) * i / steps)
            pts.append((cu + r * math.cos(a), cv - r * math.sin(a)))
        self.line(pts, width, colour)

    def arrow_head(self, tip: tuple[float, float], direction_deg: float, size: float,
                   colour: Colour | None = None) -> None:
        """Filled triangle with its tip at ``tip`` pointing along ``direction_deg`` (ccw, screen)."""
        a = math.radians(direction_deg)
        dx, dy = math.cos(a), -math.sin(a)
        px, py = -dy, dx
        bu, bv = tip[0] - dx * size, tip[1] - dy * size
        half = size * 0.62
        self.poly([tip, (bu + px * half, bv + py * half), (bu - px * half, bv - py * half)],
                  colour=colour)


# -- the pictograms ------------------------------------------------------------

def _hand(p: _Pen, cx: float, top: float, scale: float, down: bool) -> None:
    """A simple open hand; fingers point up (or down when ``down``)."""
    def v(y: float) -> float:
        return top + (y if not down else (1.0 - y)) * scale

    def u(x: float) -> float:
        return cx + (x - 0.5) * scale

    # palm
    p.rrect(u(0.28), min(v(0.45), v(0.92)), u(0.74), max(v(0.45), v(0.92)), 0.08 * scale)
    # four fingers
    for i, (x, y0) in enumerate(((0.32, 0.12), (0.44, 0.04), (0.56, 0.06), (0.68, 0.16))):
        p.rrect(u(x - 0.045), min(v(y0), v(0.55)), u(x + 0.045), max(v(y0), v(0.55)),
                0.045 * scale)
    # thumb, angled out
    p.line([(u(0.3), v(0.72)), (u(0.14), v(0.5))], width=0.1 * scale)


def _pick(p: _Pen) -> None:
    # bin: open box at the bottom, parts inside
    p.line([(0.1, 0.55), (0.18, 0.93), (0.82, 0.93), (0.9, 0.55)])
    for u in (0.36, 0.5, 0.64):
        p.circle(u, 0.82, 0.055)
    # hand reaching down into it
    _hand(p, 0.5, 0.0, 0.62, down=True)


def _place(p: _Pen) -> None:
    # outline the part goes into
    p.poly([(0.14, 0.62), (0.86, 0.62), (0.86, 0.93), (0.14, 0.93)], width=0.07)
    # arrow down into it
    p.line([(0.5, 0.04), (0.5, 0.42)], width=0.13)
    p.arrow_head((0.5, 0.72), -90, 0.32)


def _screw(p: _Pen) -> None:
    # screwdriver: handle, ferrule, shaft, tip
    p.rrect(0.26, 0.02, 0.52, 0.36, 0.08)
    p.rrect(0.31, 0.34, 0.47, 0.42, 0.02)
    p.rrect(0.36, 0.41, 0.42, 0.66, 0.0)
    p.poly([(0.34, 0.66), (0.44, 0.66), (0.39, 0.71)])
    # screw: flat head and threaded shank
    p.rrect(0.23, 0.72, 0.55, 0.78, 0.02)
    p.rrect(0.34, 0.78, 0.44, 0.99, 0.0)
    for v in (0.84, 0.9, 0.96):
        p.line([(0.31, v), (0.47, v - 0.03)], width=0.025, colour=_BLACK, round_caps=False)
    # turning arrow beside it (clockwise)
    p.arc(0.76, 0.3, 0.15, 150, -150, width=0.055, steps=24)
    end = math.radians(-150)
    p.arrow_head((0.76 + 0.15 * math.cos(end), 0.3 - 0.15 * math.sin(end)), 120, 0.13)


def _press(p: _Pen) -> None:
    # round button on a base
    p.ellipse(0.14, 0.8, 0.86, 0.97)
    p.ellipse(0.26, 0.7, 0.74, 0.86, colour=_BLACK)
    p.ellipse(0.26, 0.7, 0.74, 0.86, width=0.05)
    # hand pointing down: palm, folded fingers, index finger on the button
    p.rrect(0.34, 0.0, 0.76, 0.3, 0.09)
    for u in (0.55, 0.66):
        p.circle(u, 0.32, 0.07)
    p.rrect(0.36, 0.14, 0.5, 0.72, 0.07)
    p.line([(0.76, 0.1), (0.86, 0.3)], width=0.09)
    # "push" marks
    p.line([(0.12, 0.56), (0.26, 0.64)], width=0.05)
    p.line([(0.88, 0.56), (0.74, 0.64)], width=0.05)


def _confirm(p: _Pen) -> None:
    p.circle(0.5, 0.5, 0.46, width=0.07)
    p.line([(0.26, 0.52), (0.43, 0.69), (0.75, 0.33)], width=0.12)


def _robot(p: _Pen) -> None:
    # base
    p.poly([(0.18, 0.95), (0.82, 0.95), (0.7, 0.84), (0.3, 0.84)])
    # lower arm up-left, upper arm to the right, gripper pointing down
    p.line([(0.44, 0.82), (0.3, 0.4)], width=0.12)
    p.line([(0.3, 0.4), (0.72, 0.22)], width=0.11)
    p.line([(0.72, 0.22), (0.74, 0.42)], width=0.08)
    p.circle(0.44, 0.8, 0.08)
    p.circle(0.3, 0.4, 0.085)
    p.circle(0.3, 0.4, 0.035, colour=_BLACK)
    p.circle(0.72, 0.22, 0.07)
    # gripper fingers
    p.line([(0.66, 0.46), (0.82, 0.46)], width=0.06, round_caps=False)
    p.line([(0.67, 0.46), (0.67, 0.58)], width=0.05)
    p.line([(0.81, 0.46), (0.81, 0.58)], width=0.05)


def _help(p: _Pen) -> None:
    _hand(p, 0.5, 0.0, 0.88, down=False)
    # little wave marks
    p.arc(0.5, 0.5, 0.47, 30, 60, width=0.045, steps=8)
    p.arc(0.5, 0.5, 0.47, 120, 150, width=0.045, steps=8)


def _paused(p: _Pen) -> None:
    p.rrect(0.2, 0.12, 0.4, 0.88, 0.04)
    p.rrect(0.6, 0.12, 0.8, 0.88, 0.04)


def _fault(p: _Pen) -> None:
    p.poly([(0.5, 0.04), (0.97, 0.9), (0.03, 0.9)])
    p.rrect(0.445, 0.3, 0.555, 0.64, 0.04, colour=_BLACK)
    p.circle(0.5, 0.76, 0.06, colour=_BLACK)


def _inspect(p: _Pen) -> None:
    top = [(0.04 + 0.92 * i / 20, 0.5 - 0.3 * math.sin(math.pi * i / 20)) for i in range(21)]
    bottom = [(u, 1.0 - v) for u, v in reversed(top)]
    p.poly(top + bottom)
    p.circle(0.5, 0.5, 0.2, colour=_BLACK)
    p.circle(0.5, 0.5, 0.15)
    p.circle(0.5, 0.5, 0.07, colour=_BLACK)


def _insert(p: _Pen) -> None:
    # plate with a slot
    p.rrect(0.06, 0.66, 0.4, 0.94, 0.02)
    p.rrect(0.6, 0.66, 0.94, 0.94, 0.02)
    p.rrect(0.4, 0.86, 0.6, 0.94, 0.0)
    # part going into the slot
    p.rrect(0.43, 0.3, 0.57, 0.78, 0.02)
    # arrows beside it
    for u in (0.22, 0.78):
        p.line([(u, 0.06), (u, 0.32)], width=0.06)
        p.arrow_head((u, 0.5), -90, 0.16)


def _cable(p: _Pen) -> None:
    pts = []
    for i in range(25):
        u = 0.22 + 0.56 * i / 24
        pts.append((u, 0.5 + 0.17 * math.sin(2 * math.pi * (u - 0.22) / 0.56)))
    p.line(pts, width=0.07)
    # plug on the left, socket on the right
    p.rrect(0.02, 0.36, 0.22, 0.64, 0.03)
    p.line([(0.02, 0.43), (-0.02, 0.43)], width=0.04, round_caps=False)
    p.line([(0.02, 0.57), (-0.02, 0.57)], width=0.04, round_caps=False)
    p.rrect(0.78, 0.34, 0.98, 0.66, 0.03, width=0.05)
    p.rrect(0.84, 0.42, 0.92, 0.58, 0.0)


def _box(p: _Pen, top: float = 0.45) -> None:
    p.rrect(0.14, top, 0.86, 0.96, 0.03)
    p.rrect(0.45, top, 0.55, top + 0.2, 0.0, colour=_BLACK)


def _lift(p: _Pen) -> None:
    _box(p, 0.52)
    p.line([(0.5, 0.42), (0.5, 0.2)], width=0.12)
    p.arrow_head((0.5, 0.0), 90, 0.26)


def _operator(p: _Pen) -> None:
    p.circle(0.5, 0.24, 0.17)
    p.poly([(0.16, 0.98), (0.2, 0.6), (0.3, 0.47), (0.7, 0.47), (0.8, 0.6), (0.84, 0.98)])


def _calibrate(p: _Pen) -> None:
    # corner brackets (the bench's corners) around a cross-hair target
    for u, v, du, dv in ((0.04, 0.04, 1, 1), (0.96, 0.04, -1, 1), (0.96, 0.96, -1, -1), (0.04, 0.96, 1, -1)):
        p.line([(u + du * 0.24, v), (u, v), (u, v + dv * 0.24)], width=0.06)
    p.circle(0.5, 0.5, 0.22, width=0.06)
    p.line([(0.5, 0.16), (0.5, 0.38)], width=0.05)
    p.line([(0.5, 0.62), (0.5, 0.84)], width=0.05)
    p.line([(0.16, 0.5), (0.38, 0.5)], width=0.05)
    p.line([(0.62, 0.5), (0.84, 0.5)], width=0.05)
    p.circle(0.5, 0.5, 0.045)


def _unknown(p: _Pen) -> None:
    p.circle(0.5, 0.5, 0.46, width=0.07)
    p.arc(0.5, 0.38, 0.15, 160, -60, width=0.09, steps=20)
    end = (0.5 + 0.15 * math.cos(math.radians(-60)), 0.38 - 0.15 * math.sin(math.radians(-60)))
    p.line([end, (0.5, 0.6)], width=0.09)
    p.circle(0.5, 0.75, 0.055)


PICTOGRAMS: dict[str, Callable[[_Pen], None]] = {
    "pick": _pick,
    "place": _place,
    "screw": _screw,
    "press": _press,
    "confirm": _confirm,
    "wait_cobot": _robot,
    "robot": _robot,
    "help": _help,
    "paused": _paused,
    "fault": _fault,
    "inspect": _inspect,
    "insert": _insert,
    "cable": _cable,
    "lift": _lift,
    "box": _box,
    "operator": _operator,
    "calibrate": _calibrate,
    "unknown": _unknown,
}


def pictogram_names() -> list[str]:
    """Names :func:`draw_pictogram` knows (besides image paths)."""
    return sorted(PICTOGRAMS)


def _load_image(path: str) -> pygame.Surface | None:
    img = _image_cache.get(path)
    if img is None:
        try:
            img = pygame.image.load(path)
        except (pygame.error, OSError, ValueError):
            return None
        if len(_image_cache) > 64:
            _image_cache.clear()
        _image_cache[path] = img
    return img


def _blit_image(surface: pygame.Surface, img: pygame.Surface, rect: pygame.Rect) -> None:
    iw, ih = img.get_size()
    if iw == 0 or ih == 0:
        return
    k = min(rect.width / iw, rect.height / ih)
    size = (max(1, int(iw * k)), max(1, int(ih * k)))
    scaled = pygame.transform.smoothscale(img, size) if img.get_bitsize() >= 24 else \
        pygame.transform.scale(img, size)
    surface.blit(scaled, scaled.get_rect(center=rect.center))


def draw_pictogram(surface: pygame.Surface, name: str | None, rect, colour) -> None:
    """Draw pictogram ``name`` fitted into ``rect`` in ``colour``. Never raises for a bad name."""
    rect = pygame.Rect(rect)
    if rect.width < 4 or rect.height < 4:
        return
    colour = tuple(int(c) for c in colour)[:3]
    key = (name or "").strip()
    fn = PICTOGRAMS.get(key.lower())
    if fn is None and key and os.path.splitext(key)[1].lower() in _IMAGE_EXTS \
            and os.path.isfile(key):
        img = _load_image(key)
        if img is not None:
            _blit_image(surface, img, rect)
            return
    pen = _Pen(surface, rect, colour)  # type: ignore[arg-type]
    (fn or _unknown)(pen)
