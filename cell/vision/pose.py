"""Body and hand landmarks from an RGB image with MediaPipe, using only the models in its wheel.

``MediaPipePose.process(rgb)`` returns one ``PoseResult``: the 33 pose world
landmarks (metres, origin between the hips, +y down, smaller z nearer the
camera), their visibilities and normalised image positions, and each hand's
21 landmarks when a hand is seen. MediaPipe gives hand world landmarks
around the hand's own centre; they are moved so the hand's wrist sits on the
pose's wrist, putting hands and body in one frame. Which pose wrist a hand
belongs to is decided by image distance, not by MediaPipe's handedness label
(that label assumes a mirrored selfie image).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ start-up chatter
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

POSE_WRIST = {"left": 15, "right": 16}


@dataclass(frozen=True, eq=False)
class PoseResult:
    world: np.ndarray            # (33, 3) metres
    visibility: np.ndarray       # (33,)
    image: np.ndarray            # (33, 3) normalised x, y and relative z
    left_hand: np.ndarray | None = None   # (21, 3) metres, same frame as world
    right_hand: np.ndarray | None = None
    left_hand_image: np.ndarray | None = None   # (21, 2) normalised image x, y of the same hand
    right_hand_image: np.ndarray | None = None
    planar: bool = False    # world landmarks estimated from 2-D image points (a pose model without depth)

    def as_document(self) -> dict:
        """The landmark frame as `cell ergonomics score` reads it."""
        doc: dict = {"world_landmarks": [[*map(float, p), float(v)] for p, v in zip(self.world, self.visibility)]}
        for side, hand in (("left", self.left_hand), ("right", self.right_hand)):
            if hand is not None:
                doc[f"{side}_hand_landmarks"] = [list(map(float, p)) for p in hand]
        return doc


class MediaPipePose:
    """MediaPipe Pose (+ Hands) from the `mediapipe` wheel; no model is downloaded."""

    def __init__(self, *, static_image: bool = True, model_complexity: int = 1, hands: bool = True):
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(static_image_mode=static_image, model_complexity=model_complexity)
        self._hands = mp.solutions.hands.Hands(static_image_mode=static_image, max_num_hands=2) if hands else None

    def process(self, rgb: np.ndarray) -> PoseResult | None:
        """Landmarks of the person in an RGB uint8 image, or None when nobody is seen."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {rgb.dtype} {rgb.shape}")
        r = self._pose.process(rgb)
        if r.pose_world_landmarks is None:
            return None
        world = np.array([[p.x, p.y, p.z] for p in r.pose_world_landmarks.landmark])
        vis = np.array([p.visibility for p in r.pose_world_landmarks.landmark])
        image = np.array([[p.x, p.y, p.z] for p in r.pose_landmarks.landmark])
        hands: dict[str, np.ndarray] = {}
        hands_image: dict[str, np.ndarray] = {}
        if self._hands is not None:
            h = self._hands.process(rgb)
            for img_lm, world_lm in zip(h.multi_hand_landmarks or [], h.multi_hand_world_landmarks or []):
                wrist_img = np.array([img_lm.landmark[0].x, img_lm.landmark[0].y])
                side = min(POSE_WRIST, key=lambda s: np.linalg.norm(image[POSE_WRIST[s], :2] - wrist_img))
                hand = np.array([[p.x, p.y, p.z] for p in world_lm.landmark])
                hands[side] = hand - hand[0] + world[POSE_WRIST[side]]
                hands_image[side] = np.array([[p.x, p.y] for p in img_lm.landmark])
        return PoseResult(world=world, visibility=vis, image=image, left_hand=hands.get("left"),
                          right_hand=hands.get("right"), left_hand_image=hands_image.get("left"),
                          right_hand_image=hands_image.get("right"))

    def close(self) -> None:
        self._pose.close()
        if self._hands is not None:
            self._hands.close()


PALM = (0, 5, 9, 13, 17)        # wrist and the finger bases: the middle of the palm
POSE_HAND = {"left": (15, 17, 19), "right": (16, 18, 20)}  # wrist, pinky and index knuckles in the pose model


def hands_on_bench(result: PoseResult, image_size: tuple[int, int], camera_to_bench,
                   min_visibility: float = 0.5) -> dict[str, tuple[float, float] | None]:
    """Where each hand is on the bench (mm): the middle of the palm seen by the hand model, else the
    pose model's wrist and the knuckles it sees (a COCO model has the wrist only); None for a hand whose
    wrist is not seen. ``camera_to_bench.to_mm`` maps camera
    pixels to bench millimetres (``projection.calibration.CameraToBench``)."""
    w, h = image_size
    out: dict[str, tuple[float, float] | None] = {}
    for side in ("left", "right"):
        hand = result.left_hand_image if side == "left" else result.right_hand_image
        if hand is not None:
            xy = hand[list(PALM)].mean(axis=0)
        else:  # the wrist and knuckles the pose model sees; the wrist alone when that is all it has
            idx = [i for i in POSE_HAND[side] if result.visibility[i] >= min_visibility]
            if POSE_HAND[side][0] not in idx:
                out[side] = None
                continue
            xy = result.image[idx, :2].mean(axis=0)
        mm = camera_to_bench.to_mm(np.array([xy[0] * w, xy[1] * h]))
        out[side] = (float(mm[0]), float(mm[1]))
    return out
