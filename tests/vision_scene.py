"""A synthetic bench video for the vision pipeline: a real photograph of a person whose hand visits zones.

The camera (640x480) looks down on the example cell's bench from across it, so
the operator's front edge is at the top of the image and the bench's x runs
right to left; the bench is drawn as the projector lights it
(``projection.renderer``, on a wooden top). The camera-to-bench homography is
known because the scene is rendered through it: ``camera_to_bench()``.

The person is scikit-image's ``camera`` photograph (a man at a tripod), cut out
of its background with MediaPipe's selfie segmentation, so the pose model sees
real pixels, never drawn landmarks. His left arm reaches round to the video
camera in front of his face; arm, camera and tripod are cut away, so the video
shows one hand (his right, on the tripod's pan handle) and only that hand can
visit a zone. Cut less, and MediaPipe guesses a left hand next to the right
one, which then picks from the same bins. ``HAND_IN_PHOTO`` is the middle of
the right glove, by eye.

The cut-out moves so that the hand follows a script (``hand_path``): a slow
drift first (a person standing still gives MediaPipe's detector the same
picture over and over; a moving one gives it new chances to find him), then
along a corridor between the fixture and the bins, into each zone's centre, a
dwell, back out. The camera is placed so that his head and shoulders stay in
the picture wherever the hand goes: where they leave it, MediaPipe puts the
hand up to 100 px wrong.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from projection.calibration import CameraToBench

FPS = 15.0
SIZE = (640, 480)
SCALE = 0.75                        # photo px -> camera px
HAND_IN_PHOTO = (205.0, 225.0)      # the middle of his right glove in skimage.data.camera(), photo px
CUT_AWAY = ((320, 245), (512, 270))  # (rows above, columns right of): the left arm and the video camera, the tripod
# where the bench's corners are in the camera image: front-left, front-right, far-right, far-left
BENCH_CORNERS_MM = ((0.0, 0.0), (1400.0, 0.0), (1400.0, 800.0), (0.0, 800.0))
BENCH_CORNERS_PX = ((615.0, 77.0), (-115.0, 77.0), (-128.0, 461.0), (628.0, 461.0))

SPEED_MM_S = 600.0
DWELL_S = 0.8                       # in each zone: well over the cell's hand_dwell_s (0.3 s)
CORRIDOR_Y = 505.0                  # bench y between the fixture (to 450) and the bins (from 560): no zone
LEAD_IN = ((420.0, CORRIDOR_Y), (330.0, CORRIDOR_Y), 1.5)   # from, to, seconds
# zones not reached straight from the corridor: the gaps the hand goes through first
APPROACH = {"button_done": ((745.0, CORRIDOR_Y), (745.0, 205.0), (870.0, 205.0))}

# the video of the test and the bench: the example task's first step, a pick from a bin the second
# step does not name, then "done" pressed
VISITS = ("bin_base", "fixture", "bin_cable", "button_done")


def camera_to_bench() -> CameraToBench:
    h = cv2.getPerspectiveTransform(np.float32(BENCH_CORNERS_PX), np.float32(BENCH_CORNERS_MM))
    return CameraToBench(h.astype(np.float64), image_size=SIZE)


def hand_path(config) -> np.ndarray:
    """(N, 2) bench mm of the hand in each frame (``FPS``); the video ends in the last zone."""
    start, end, seconds = np.array(LEAD_IN[0]), np.array(LEAD_IN[1]), LEAD_IN[2]
    n = int(round(seconds * FPS))
    points = [start + (end - start) * k / n for k in range(n)]
    legs: list[tuple[tuple[float, float], float]] = []
    for i, zone_id in enumerate(VISITS):
        centre = config.zone(zone_id).centre()
        way_in = APPROACH.get(zone_id, ((centre[0], CORRIDOR_Y),))
        legs += [(p, 0.0) for p in way_in] + [(centre, DWELL_S)]
        if i < len(VISITS) - 1:
            legs += [(p, 0.0) for p in reversed(way_in)]
    at = end
    for p, dwell in legs:
        p = np.array(p)
        steps = int(np.ceil(np.linalg.norm(p - at) / SPEED_MM_S * FPS))
        points += [at + (p - at) * (k + 1) / steps for k in range(steps)]
        points += [p] * int(round(dwell * FPS))
        at = p
    return np.array(points)


@lru_cache(maxsize=1)
def _person() -> tuple[np.ndarray, np.ndarray]:
    """The cut-out at camera scale: BGR pixels and their opacity (0..1)."""
    import mediapipe as mp
    import skimage.data

    rgb = np.ascontiguousarray(np.repeat(skimage.data.camera()[..., None], 3, axis=2))
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1) as seg:
        alpha = seg.process(rgb).segmentation_mask.copy()
    for below, right_of in CUT_AWAY:
        alpha[:below, right_of:] = 0.0
    size = (round(rgb.shape[1] * SCALE), round(rgb.shape[0] * SCALE))
    return (cv2.resize(rgb[..., ::-1], size, interpolation=cv2.INTER_AREA),
            cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)[..., None])


def _bench(config) -> np.ndarray:
    """The bench as the camera sees it without anyone at it: wood, and the projector's light on it."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from projection.bench_view import bench_view
    from projection.geometry import BenchToProjector
    from projection.renderer import BenchRenderer

    mapping = BenchToProjector.from_correspondences(BENCH_CORNERS_MM, BENCH_CORNERS_PX, resolution=SIZE)
    light = BenchRenderer(SIZE, mapping).render(bench_view(config, config.operators[0], None), 0.0)
    light_bgr = pygame.surfarray.array3d(light).transpose(1, 0, 2)[..., ::-1]
    img = np.full((SIZE[1], SIZE[0], 3), (40, 44, 46), np.uint8)           # the floor
    cv2.fillConvexPoly(img, np.int32(BENCH_CORNERS_PX), (150, 180, 205))  # the bench top
    return cv2.add(img, (light_bgr * 0.6).astype(np.uint8))


def frames(config, points_mm: np.ndarray) -> Iterator[np.ndarray]:
    """BGR camera frames with the hand at each point of ``points_mm``."""
    bench = _bench(config)
    person, alpha = _person()
    ph, pw = person.shape[:2]
    hand = np.array(HAND_IN_PHOTO) * SCALE
    to_px = camera_to_bench().to_px
    for p in points_mm:
        ox, oy = np.round(to_px(p) - hand).astype(int)
        x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + pw, SIZE[0]), min(oy + ph, SIZE[1])
        img = bench.copy()
        a = alpha[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
        under = img[y0:y1, x0:x1].astype(np.float32)
        img[y0:y1, x0:x1] = (person[y0 - oy:y1 - oy, x0 - ox:x1 - ox] * a + under * (1 - a)).astype(np.uint8)
        yield img


def write_video(path: Path, config) -> int:
    """Render the scene to ``path`` (.avi: Motion JPEG, .mp4: MPEG-4); the number of frames."""
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix == ".mp4" else "MJPG"))
    writer = cv2.VideoWriter(str(path), fourcc, FPS, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    n = 0
    for n, img in enumerate(frames(config, hand_path(config)), 1):
        writer.write(img)
    writer.release()
    return n
