"""Task tracking: hands in bench millimetres -> pick, place and press events per zone.

Pure: ``HandZoneTracker.update(t, hands)`` takes the time and where each hand
is on the bench (already mapped through the camera-to-bench calibration) and
returns the events a person did. A hand counts as *in* a zone once it has
stayed inside it for ``thresholds.hand_dwell_s``; it counts as *out* again only
when it is more than ``thresholds.hand_exit_margin_mm`` outside the zone's
edge (hysteresis), so a hand resting on the border of a bin does not pick
twice. One visit is one event:

* a bin or tray visited: ``pick`` (quantity 1 per visit; "picked 2 from bin B"
  is two visits);
* a fixture or tray visited with something in hand, i.e. after a pick:
  ``place``;
* a button: ``press``.

Whether a pick was from the right bin is the engine's business (it knows the
step): it answers a pick from another bin with a ``wrong_pick`` event.
Zones a left-handed operator uses at their ``left_rect`` are tracked there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from cell.config import Zone
from cell.messages import TaskEvent

PICK_FROM = {"bin", "tray"}
PLACE_INTO = {"fixture", "tray"}
PRESS = {"button"}


@dataclass
class _Hand:
    candidate: str | None = None   # zone the hand is in, not yet for long enough
    since: float = 0.0
    inside: str | None = None      # zone the hand counts as in
    holding: bool = False          # picked something and not yet placed it


@dataclass
class HandZoneTracker:
    zones: list[Zone]
    dwell_s: float = 0.3
    exit_margin_mm: float = 20.0
    left_handed: bool = False
    src: str = "tracking"
    hands: dict[str, _Hand] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._shapes = []
        for z in self.zones:
            r = z.left_rect if self.left_handed else None
            pts = [(r.x, r.y), (r.x + r.w, r.y), (r.x + r.w, r.y + r.h), (r.x, r.y + r.h)] if r else z.points()
            self._shapes.append((z, np.asarray(pts, dtype=np.float32).reshape(-1, 1, 2)))

    def _distance(self, shape: np.ndarray, point: tuple[float, float]) -> float:
        """Signed distance to the zone's edge in mm: positive inside, negative outside."""
        return float(cv2.pointPolygonTest(shape, (float(point[0]), float(point[1])), True))

    def _zone_at(self, point: tuple[float, float]) -> str | None:
        best, depth = None, 0.0
        for zone, shape in self._shapes:
            d = self._distance(shape, point)
            if d >= 0 and (best is None or d > depth):  # overlapping zones: the one the hand is deepest in
                best, depth = zone.id, d
        return best

    def update(self, t: float, hands: dict[str, tuple[float, float] | None]) -> list[TaskEvent]:
        """Where each hand is now ("left"/"right" -> bench mm, or None when not seen); the events it did."""
        out: list[TaskEvent] = []
        kinds = {z.id: z.kind for z in self.zones}
        shapes = {z.id: s for z, s in self._shapes}
        for name, point in hands.items():
            h = self.hands.setdefault(name, _Hand())
            if point is None:  # not seen: keep what we knew, start no new visit
                h.candidate = None
                continue
            if h.inside is not None and self._distance(shapes[h.inside], point) >= -self.exit_margin_mm:
                continue  # still in the zone it entered (within the exit margin)
            h.inside = None
            here = self._zone_at(point)
            if here != h.candidate:
                h.candidate, h.since = here, t
            if here is None or t - h.since < self.dwell_s:
                continue
            h.inside, h.candidate = here, None
            kind = kinds[here]
            if kind in PRESS:
                out.append(TaskEvent(src=self.src, t=t, kind="press", zone=here, detail=f"{name} hand"))
            elif kind in PLACE_INTO and h.holding:
                h.holding = False
                out.append(TaskEvent(src=self.src, t=t, kind="place", zone=here, detail=f"{name} hand"))
            elif kind in PICK_FROM:
                h.holding = True
                out.append(TaskEvent(src=self.src, t=t, kind="pick", zone=here, quantity=1, detail=f"{name} hand"))
        return out
