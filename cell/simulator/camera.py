"""The simulated camera: turns where the operator's hands are into MediaPipe-format frames.

Both hands' bench positions go through the body model's inverse
kinematics (dominant hand first, the other hand keeping that trunk
posture), forward kinematics gives the 33 world landmarks and the two
21-point hands, and a pinhole camera in front of the operator gives the
normalised image landmarks and visibilities — the same data the real
MediaPipe path publishes. The operator steps sideways (up to ``SIDESTEP_MM``)
towards what the working hand reaches for, as people do at a long bench.
Poses are cached on hand positions rounded to
10 mm (and fatigue to 1 degree), so a long shift reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from cell.config import CellConfig, OperatorProfile
from cell.simulator.body import (
    BodyDimensions, BodyFrame, ImageProjection, OperatorStance, Posture, forward_kinematics, reach,
)

GRID_MM = 10.0
SIDESTEP_MM = 300.0
SEATED_HIP_BELOW_BENCH_MM = -250.0


@dataclass(frozen=True, eq=False)
class CameraFrame:
    body: BodyFrame
    image: np.ndarray          # (33, 3) normalised image landmarks
    visibility: np.ndarray     # (33,)
    hands_bench_mm: dict[str, tuple[float, float, float]]


class SimulatedCamera:
    def __init__(self, config: CellConfig, profile: OperatorProfile, cache_size: int = 60000):
        self.profile = profile
        self.dims = BodyDimensions.from_stature(profile.body.stature_m)
        self.home_x = config.bench.width_mm / 2
        if profile.seated:  # the chair is set so the elbows are just below the bench top
            self.stance = OperatorStance(x_mm=self.home_x, y_mm=-250.0, hip_height_mm=SEATED_HIP_BELOW_BENCH_MM)
        else:
            self.stance = OperatorStance.standing(self.dims, x_mm=self.home_x, bench_height_mm=config.bench.height_mm)
        self.camera = ImageProjection.facing_operator()
        self.dominant = profile.handedness
        self._pose = lru_cache(maxsize=cache_size)(self._pose_uncached)  # about 2 kB a pose

    def _pose_uncached(self, left: tuple[int, int, int], right: tuple[int, int, int], fatigue_deg: int) -> CameraFrame:
        targets = {"left": np.array(left, float) * GRID_MM, "right": np.array(right, float) * GRID_MM}
        first = self.dominant
        # people look at their hands: down at the bench (fatigue adds to it), up at work above the head
        shoulder_mm = self.stance.hip_height_mm + 1000.0 * self.dims.trunk_length
        looking_up = float(targets[first][2]) > shoulder_mm + 150.0
        base = replace(Posture.neutral(seated=self.profile.seated),
                       neck_flexion=-20.0 if looking_up else 15.0 + fatigue_deg, trunk_flexion=0.5 * fatigue_deg)
        second = "left" if first == "right" else "right"
        shift = max(-SIDESTEP_MM, min(SIDESTEP_MM, float(targets[first][0]) - self.home_x))
        stance = replace(self.stance, x_mm=self.home_x + (0.0 if self.profile.seated else shift))
        r1 = reach(targets[first], first, stance=stance, dims=self.dims, base=base)
        r2 = reach(targets[second], second, stance=stance, dims=self.dims, base=r1.posture,
                   max_trunk_flexion_deg=r1.posture.trunk_flexion)
        body = forward_kinematics(r2.posture, self.dims)
        img = self.camera.project(body)
        hands = {s: tuple(float(v) for v in targets[s]) for s in ("left", "right")}
        return CameraFrame(body=body, image=img.pose, visibility=img.visibility, hands_bench_mm=hands)  # type: ignore[arg-type]

    def frame(self, now: float, hands_mm: dict[str, tuple[float, float, float]], fatigue_deg: float) -> CameraFrame:
        q = {s: tuple(int(round(c / GRID_MM)) for c in hands_mm[s]) for s in ("left", "right")}
        return self._pose(q["left"], q["right"], int(round(fatigue_deg)))
