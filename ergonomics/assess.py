"""Scoring one camera frame of the operator at a step: joint angles, then RULA.

The step decides what the posture alone cannot show: the load in the hands
(``load_kg``), whether it is held still (``posture.hold_s`` over a minute
counts as static muscle use) and how often it repeats (``repetitions`` per
target time of 4 or more a minute counts as repetitive). Angles are cached
per landmark array, so the same frame is not measured twice.
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
    def __init__(self, config: CellConfig):
        self.config = config
        self._angles: dict[int, JointAngles] = {}

    def angles(self, world: np.ndarray, visibility: np.ndarray | None,
               left_hand: np.ndarray | None, right_hand: np.ndarray | None) -> JointAngles:
        key = id(world)
        hit = self._angles.get(key)
        if hit is not None and hit[0] is world:  # type: ignore[index]
            return hit[1]  # type: ignore[index]
        a = joint_angles(world, visibility, left_hand=left_hand, right_hand=right_hand)
        if len(self._angles) > 50000:
            self._angles.clear()
        self._angles[key] = (world, a)  # type: ignore[assignment]
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
