"""Camera sources (cell/vision/camera.py): files, folders, newest frame first, reconnecting a lost camera."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from cell.vision.camera import CameraSource


def numbered(i: int) -> np.ndarray:
    img = np.zeros((120, 160, 3), np.uint8)
    img[:, :, 1] = i  # the frame number in the green channel
    return img


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for i in range(30):
        w.write(numbered(i * 8))
    w.release()
    return path


def take_all(cam: CameraSource, timeout_s: float = 5.0) -> list:
    got, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline and not (cam.ended and got and got[-1] is None):
        f = cam.latest(0.5)
        got.append(f)
        if f is None and cam.ended:
            break
    return [f for f in got if f is not None]


def test_a_video_file_plays_in_order_with_timestamps_and_then_says_it_ended(video):
    cam = CameraSource(str(video)).start()
    try:
        frames = take_all(cam)
    finally:
        cam.stop()
    assert cam.ended and "ended" in cam.status
    assert len(frames) + cam.dropped == 30
    idx = [f.index for f in frames]
    assert idx == sorted(idx) and all(b.t > a.t for a, b in zip(frames, frames[1:]))
    assert frames[0].image.shape == (120, 160, 3) and "video file" in frames[0].source
    # it played at the file's 30 frames per second, not as fast as it could read
    assert frames[-1].t - frames[0].t > 0.6


def test_a_folder_of_images_is_read_in_name_order(tmp_path):
    for i in (3, 1, 2):
        cv2.imwrite(str(tmp_path / f"frame-{i:03d}.png"), numbered(i * 50))
    cam = CameraSource(str(tmp_path), fps=20).start()
    try:
        frames = take_all(cam)
    finally:
        cam.stop()
    assert [int(f.image[0, 0, 1]) for f in frames] == [50, 100, 150]


def test_a_slow_consumer_gets_the_newest_frame_and_the_old_ones_are_dropped(video):
    cam = CameraSource(str(video), realtime=False).start()  # the file as fast as it reads: a fast camera
    try:
        time.sleep(0.5)  # a consumer busy with something else
        first = cam.latest(1.0)
        rest = take_all(cam)
    finally:
        cam.stop()
    assert first is not None and first.index >= 20 and cam.dropped >= 20  # not the oldest: the newest
    assert len(rest) <= 30 - first.index


class FlakyCamera:
    """A capture device that stops after some frames (unplugged) and opens again later (plugged back)."""

    def __init__(self, plan):
        self.plan = plan  # list of frame counts, one per opening; 0 = does not open

    def __call__(self, source):
        n = self.plan.pop(0) if self.plan else 1000
        return FakeCapture(n)


class FakeCapture:
    def __init__(self, n):
        self.n, self.i = n, 0

    def isOpened(self):  # noqa: N802
        return self.n > 0

    def read(self):
        if self.i >= self.n:
            return False, None
        self.i += 1
        time.sleep(0.005)
        return True, numbered(self.i)

    def get(self, prop):
        return 0.0

    def release(self):
        pass


def test_a_lost_camera_is_reported_and_reopened():
    cam = CameraSource(0, reconnect_s=0.1, opener=FlakyCamera([5, 0, 0, 1000])).start()
    try:
        statuses = set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and cam.reconnects < 3:
            statuses.add(cam.status.split(":")[0])
            cam.latest(0.05)
        assert wait(lambda: cam.streaming and cam.frames > 10, 10)
    finally:
        cam.stop()
    assert "lost" in statuses  # said so while it was gone
    assert cam.reconnects >= 3 and not cam.ended  # a device is retried, never "ended"


def test_a_missing_file_ends_with_a_clear_status(tmp_path):
    cam = CameraSource(str(tmp_path / "nope.mp4")).start()
    try:
        assert wait(lambda: cam.ended, 5)
    finally:
        cam.stop()
    assert "does not open" in cam.status and cam.latest(0.1) is None


def wait(predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
