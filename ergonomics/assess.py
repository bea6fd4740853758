"""Scoring one camera frame of the operator at a step: joint angles, then RULA.

The step decides what the posture alone cannot show: the load in the hands
(``load_kg``), whether it is held still (``posture.hold_s`` over a minute
counts as static muscle use) and how often it repeats (``repetitions`` per
target time of 4 or more a minute counts as repetitive).
"""

from __future__ import annotations

import numpy as np

from cell.config import CellConfig, Step
from ergonomics.angles import JointAngles, joint_angles
from ergonomics.rula import RulaAssessment, rula_from_angles


def muscle_use(step: Step | None) -> tuple[bool, bool]:
    """(static, repetitive) muscle use as RULA defines them, from the step's posture profile."""
    if step is None:
        return False, False
    static = step.posture.hold_s > 60.0
    repetitive = step.posture.repetitions * 60.0 / step.target_time_s >= 4.0 and step.posture.repetitions > 1
    return static, repetitive


class FrameAssessor:
    """Angles and RULA of frames at a step.

    ``cache_size`` > 0 remembers the angles of landmark arrays it has seen (by identity): the
    simulator reuses the same arrays for the same pose; a live node gets new arrays every
    frame and keeps the default, no cache.
    """

    def __init__(self, config: CellConfig, cache_size: int = 0):
        self.config = config
        self.cache_size = cache_size
        self._angles: dict[int, tuple[np.ndarray, JointAngles]] = {}

    def angles(self, world: np.ndarray, visibility: np.ndarray | None,
               left_hand: np.ndarray | None, right_hand: np.ndarray | None) -> JointAngles:
        hit = self._angles.get(id(world))
        if hit is not None and hit[0] is world:
            return hit[1]
        a = joint_angles(world, visibility, left_hand=left_hand, right_hand=right_hand)
        if self.cache_size:
            if len(self._angles) >= self.cache_size:
                self._angles.clear()
            self._angles[id(world)] = (world, a)  # the array is kept, so its id stays unique
        return a

    def rula(self, angles: JointAngles, step: Step | None) -> RulaAssessment:
        static, repetitive = muscle_use(step)
        load = step.load_kg if step else 0.0
        return rula_from_angles(angles, load_kg=load, load_static_or_repeated=static or repetitive,
                                muscle_use_static=static, muscle_use_repetitive=repetitive,
                                legs_supported=True)

    def assess(self, world: np.ndarray, visibility: np.ndarray | None, left_hand: np.ndarray | None,
               right_hand: np.ndarray | None, step: Step | None) -> RulaAssessment:
        return self.rula(self.angles(world, visibility, left_hand, right_hand), step)
