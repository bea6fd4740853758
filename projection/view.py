"""What the bench should show, as plain immutable data (no pygame here).

The engine (or the projection node) builds a :class:`BenchView` from the cell
state; :class:`projection.renderer.BenchRenderer` turns it into pixels.  All
classes are frozen and hold only tuples, so views are hashable and comparable:
``view_changed(a, b)`` is ``a != b``.

Coordinates are bench millimetres: origin at the front-left corner of the
bench top as the operator sees it, +x to the operator's right, +y away from
the operator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ZONE_KINDS",
    "HIGHLIGHT_ROLES",
    "BANNER_KINDS",
    "ASSIGNEES",
    "GUIDANCE_LEVELS",
    "ZoneView",
    "Highlight",
    "CobotView",
    "Banner",
    "BenchView",
    "view_changed",
]

ZONE_KINDS = frozenset({"bin", "fixture", "button", "cobot_area", "keep_out"})
# pick: take parts here; place: put them here; press: a virtual button to press; wrong: the bin a
# part was wrongly taken from; correct: the bin it should come from; done: where a step just finished
HIGHLIGHT_ROLES = frozenset({"pick", "place", "press", "wrong", "correct", "done"})
# hint: a gentle word (the cobot takes a step to spare the body); calibrate: the calibration screen
BANNER_KINDS = frozenset({"confirm", "error", "help", "paused", "fault", "info", "hint", "calibrate"})
ASSIGNEES = frozenset({"operator", "cobot"})
# how much support the bench gives (a job coach fades it as a person masters a task):
# full: pictogram, highlights, quantities with a count of dots, text (and part names for readers);
# standard: pictogram, highlights, quantities, text; minimal: highlights and a short title only
GUIDANCE_LEVELS = frozenset({"full", "standard", "minimal"})


def _check_choice(what: str, value: str, allowed: frozenset[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {sorted(allowed)}, got {value!r}")


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class ZoneView:
    """One zone on the bench. ``polygon_mm`` is at least 3 (x, y) vertices in bench mm."""

    id: str
    kind: str
    polygon_mm: tuple[tuple[float, float], ...]
    label: str = ""
    part_name: str | None = None

    def __post_init__(self) -> None:
        _check_choice("ZoneView.kind", self.kind, ZONE_KINDS)
        poly = tuple((float(p[0]), float(p[1])) for p in self.polygon_mm)
        if len(poly) < 3:
            raise ValueError(f"zone {self.id!r}: polygon needs at least 3 points, got {len(poly)}")
        _set(self, "polygon_mm", poly)

    @classmethod
    def rect(cls, id: str, kind: str, x: float, y: float, w: float, d: float,
             label: str = "", part_name: str | None = None) -> "ZoneView":
        """Axis-aligned rectangle with front-left corner (x, y), width w and depth d (mm)."""
        return cls(id, kind, ((x, y), (x + w, y), (x + w, y + d), (x, y + d)), label, part_name)

    @property
    def centre_mm(self) -> tuple[float, float]:
        """Area centroid (falls back to vertex mean for degenerate polygons)."""
        pts = self.polygon_mm
        a = cx = cy = 0.0
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
            cross = x0 * y1 - x1 * y0
            a += cross
            cx += (x0 + x1) * cross
            cy += (y0 + y1) * cross
        if abs(a) < 1e-9:
            n = len(pts)
            return (sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n)
        return (cx / (3 * a), cy / (3 * a))

    @property
    def bounds_mm(self) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max)."""
        xs = [p[0] for p in self.polygon_mm]
        ys = [p[1] for p in self.polygon_mm]
        return (min(xs), min(ys), max(xs), max(ys))


@dataclass(frozen=True)
class Highlight:
    """Draw attention to a zone. ``quantity`` (pick/correct/place) is shown as e.g. "2×"."""

    zone_id: str
    role: str
    quantity: int | None = None

    def __post_init__(self) -> None:
        _check_choice("Highlight.role", self.role, HIGHLIGHT_ROLES)
        if self.quantity is not None:
            q = int(self.quantity)
            if q < 0:
                raise ValueError(f"Highlight.quantity must be >= 0, got {q}")
            _set(self, "quantity", q)


@dataclass(frozen=True)
class CobotView:
    """What the cobot is doing. ``simulated`` is shown on the bench (nothing pretends).

    ``hint`` is a kind word shown in the cobot's area when it took a step over to
    spare the operator's body (e.g. "zo spaar je je schouder"). ``work_zone_ids`` are
    the zones outside its area that the cobot works in for its current step (drawn as
    keep-out while it works).
    """

    step_title: str | None = None
    busy: bool = False
    simulated: bool = False
    area_zone_id: str | None = None
    hint: str = ""
    work_zone_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "work_zone_ids", tuple(self.work_zone_ids))


@dataclass(frozen=True)
class Banner:
    """A message that takes over the instruction panel. ``pictogram`` may be "" for the
    kind's default (confirm → check mark, error → pick, help → raised hand, ...).
    ``detail`` is a second, smaller line (what to do next, or the cause for the job coach)."""

    kind: str
    text: str = ""
    pictogram: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        _check_choice("Banner.kind", self.kind, BANNER_KINDS)


@dataclass(frozen=True)
class BenchView:
    """Everything the projector shows for one moment of the work cell.

    ``step_index`` is 0-based (shown as ``step_index + 1`` "of" ``step_count``).

    How it is shown follows the operator's profile: ``guidance`` (full, standard,
    minimal), ``pictogram_first`` (a big pictogram and one or two words, for people
    who do not read well), ``large_text`` (bigger text, set with pictogram_first),
    ``font_scale`` (the profile's text size) and ``high_contrast`` (white and
    yellow on black only, thicker outlines).
    """

    bench_w_mm: float
    bench_d_mm: float
    zones: tuple[ZoneView, ...] = ()
    highlights: tuple[Highlight, ...] = ()
    instruction: str = ""
    pictogram: str = ""
    step_index: int = 0
    step_count: int = 0
    units_done: int = 0
    units_total: int = 0
    assignee: str = "operator"
    cobot: CobotView = field(default_factory=CobotView)
    banner: Banner | None = None
    language: str = "en"
    large_text: bool = False
    guidance: str = "standard"
    pictogram_first: bool = False
    font_scale: float = 1.0
    high_contrast: bool = False
    recording: str = ""   # shown in a corner while camera pictures are being saved (debug frames)

    def __post_init__(self) -> None:
        if self.bench_w_mm <= 0 or self.bench_d_mm <= 0:
            raise ValueError("bench width and depth must be positive")
        _check_choice("BenchView.assignee", self.assignee, ASSIGNEES)
        _check_choice("BenchView.guidance", self.guidance, GUIDANCE_LEVELS)
        scale = float(self.font_scale)
        if not 0.5 <= scale <= 4.0:
            raise ValueError(f"BenchView.font_scale must be within 0.5..4, got {scale}")
        _set(self, "font_scale", scale)
        _set(self, "zones", tuple(self.zones))
        _set(self, "highlights", tuple(self.highlights))
        ids = [z.id for z in self.zones]
        if len(ids) != len(set(ids)):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"duplicate zone ids: {dup}")

    def zone(self, zone_id: str) -> ZoneView | None:
        for z in self.zones:
            if z.id == zone_id:
                return z
        return None

    @property
    def text_scale(self) -> float:
        """How much bigger than the default every text is drawn."""
        return self.font_scale * (1.45 if self.large_text else 1.0)


def view_changed(a: BenchView | None, b: BenchView | None) -> bool:
    """True if the two views would render differently (apart from the pulse over time)."""
    return a != b
