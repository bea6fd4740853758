"""Names of MediaPipe pose and hand landmarks, and left/right helpers.

Indices are MediaPipe's: 33 pose landmarks (``PoseLandmark``) and 21 hand
landmarks (``HandLandmark``). "Left" and "right" are the operator's own
sides, as MediaPipe names them. In world coordinates +x is the operator's
left, so mirroring a pose means negating x and swapping every left
landmark with its right twin (``mirror_pose``).
"""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray


class PoseLandmark(IntEnum):
    """The 33 MediaPipe pose landmarks."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


class HandLandmark(IntEnum):
    """The 21 MediaPipe hand landmarks."""

    WRIST = 0
    THUMB_CMC = 1
    THUMB_MCP = 2
    THUMB_IP = 3
    THUMB_TIP = 4
    INDEX_FINGER_MCP = 5
    INDEX_FINGER_PIP = 6
    INDEX_FINGER_DIP = 7
    INDEX_FINGER_TIP = 8
    MIDDLE_FINGER_MCP = 9
    MIDDLE_FINGER_PIP = 10
    MIDDLE_FINGER_DIP = 11
    MIDDLE_FINGER_TIP = 12
    RING_FINGER_MCP = 13
    RING_FINGER_PIP = 14
    RING_FINGER_DIP = 15
    RING_FINGER_TIP = 16
    PINKY_MCP = 17
    PINKY_PIP = 18
    PINKY_DIP = 19
    PINKY_TIP = 20


POSE_LANDMARK_COUNT = 33
HAND_LANDMARK_COUNT = 21


class Side(Enum):
    """One side of the operator's body."""

    LEFT = "left"
    RIGHT = "right"

    @property
    def other(self) -> Side:
        return Side.RIGHT if self is Side.LEFT else Side.LEFT

    @property
    def sign(self) -> float:
        """+1 for the left side, -1 for the right: the sign of world x on that side."""
        return 1.0 if self is Side.LEFT else -1.0


class SideLandmarks(NamedTuple):
    """The pose landmarks of one side of the body."""

    eye_inner: PoseLandmark
    eye: PoseLandmark
    eye_outer: PoseLandmark
    ear: PoseLandmark
    mouth: PoseLandmark
    shoulder: PoseLandmark
    elbow: PoseLandmark
    wrist: PoseLandmark
    pinky: PoseLandmark
    index: PoseLandmark
    thumb: PoseLandmark
    hip: PoseLandmark
    knee: PoseLandmark
    ankle: PoseLandmark
    heel: PoseLandmark
    foot_index: PoseLandmark


_P = PoseLandmark
LEFT_LANDMARKS = SideLandmarks(
    _P.LEFT_EYE_INNER, _P.LEFT_EYE, _P.LEFT_EYE_OUTER, _P.LEFT_EAR, _P.MOUTH_LEFT,
    _P.LEFT_SHOULDER, _P.LEFT_ELBOW, _P.LEFT_WRIST, _P.LEFT_PINKY, _P.LEFT_INDEX,
    _P.LEFT_THUMB, _P.LEFT_HIP, _P.LEFT_KNEE, _P.LEFT_ANKLE, _P.LEFT_HEEL,
    _P.LEFT_FOOT_INDEX,
)
RIGHT_LANDMARKS = SideLandmarks(
    _P.RIGHT_EYE_INNER, _P.RIGHT_EYE, _P.RIGHT_EYE_OUTER, _P.RIGHT_EAR, _P.MOUTH_RIGHT,
    _P.RIGHT_SHOULDER, _P.RIGHT_ELBOW, _P.RIGHT_WRIST, _P.RIGHT_PINKY, _P.RIGHT_INDEX,
    _P.RIGHT_THUMB, _P.RIGHT_HIP, _P.RIGHT_KNEE, _P.RIGHT_ANKLE, _P.RIGHT_HEEL,
    _P.RIGHT_FOOT_INDEX,
)


def side_landmarks(side: Side) -> SideLandmarks:
    """The landmarks of ``side`` (shoulder, elbow, wrist, hip, knee, ankle, ear, ...)."""
    return LEFT_LANDMARKS if side is Side.LEFT else RIGHT_LANDMARKS


def side_of(landmark: PoseLandmark) -> Side | None:
    """Which side a landmark belongs to; None for the nose."""
    if landmark in LEFT_LANDMARKS:
        return Side.LEFT
    if landmark in RIGHT_LANDMARKS:
        return Side.RIGHT
    return None


def _mirror_order() -> tuple[int, ...]:
    order = list(range(POSE_LANDMARK_COUNT))
    for left, right in zip(LEFT_LANDMARKS, RIGHT_LANDMARKS):
        order[left], order[right] = int(right), int(left)
    return tuple(order)


MIRROR_ORDER: tuple[int, ...] = _mirror_order()
"""``mirrored[i] = original[MIRROR_ORDER[i]]``: swaps every left landmark with its right twin."""


def mirrored(landmark: PoseLandmark) -> PoseLandmark:
    """The landmark on the other side of the body (the nose stays the nose)."""
    return PoseLandmark(MIRROR_ORDER[landmark])


def mirror_pose(world: ArrayLike) -> NDArray[np.float64]:
    """The pose seen in a mirror: x negated and left/right landmarks swapped. Shape (33, 3)."""
    points = np.asarray(world, dtype=np.float64)
    out = points[list(MIRROR_ORDER)].copy()
    out[:, 0] *= -1.0
    return out


def mirror_hand(hand: ArrayLike) -> NDArray[np.float64]:
    """A hand seen in a mirror (x negated): a left hand becomes a right hand. Shape (21, 3)."""
    out = np.array(hand, dtype=np.float64)
    out[:, 0] *= -1.0
    return out
