"""Camera sources: a device, a video file, a stream URL or a folder of images, newest frame first.

``CameraSource`` reads in its own thread and keeps only the newest frame: a
consumer that is slower than the camera gets the latest picture, never a
queue of old ones, so latency stays low (``dropped`` counts what was skipped).
Every frame carries the time it was read. A device or stream that stops
delivering is reported (``status``) and reopened every ``reconnect_s``; a file
or folder that ends says so. Frames are never written to disk here.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class Frame:
    image: np.ndarray   # BGR, as OpenCV reads it
    t: float            # when it was read (the source's clock)
    index: int          # 0, 1, 2 ... frames read from this source
    source: str


def describe(source: int | str) -> str:
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return f"camera device {source}"
    if isinstance(source, str) and "://" in source:
        return f"stream {source}"
    path = Path(source)
    return f"folder {path}" if path.is_dir() else f"video file {path}"


class _Folder:
    """A folder of images, read in name order, as if it were a capture device."""

    def __init__(self, path: Path):
        self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        self.i = 0

    def isOpened(self) -> bool:  # noqa: N802 - the VideoCapture interface
        return bool(self.files)

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.i >= len(self.files):
            return False, None
        image = cv2.imread(str(self.files[self.i]))
        self.i += 1
        return image is not None, image

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        self.i = len(self.files)


def open_capture(source: int | str) -> Any:
    """An OpenCV VideoCapture (or a folder reader) for any supported source."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return cv2.VideoCapture(int(source))
    if isinstance(source, str) and "://" in source:
        return cv2.VideoCapture(source)
    path = Path(source)
    if path.is_dir():
        return _Folder(path)
    if not path.exists():
        raise FileNotFoundError(f"{source}: no such video file or folder")
    return cv2.VideoCapture(str(path))


class CameraSource:
    def __init__(self, source: int | str, *, fps: float | None = None, reconnect_s: float = 1.0,
                 realtime: bool = True, opener: Callable[[int | str], Any] = open_capture,
                 clock: Callable[[], float] = time.monotonic):
        self.source = source
        self.name = describe(source)
        self.live = isinstance(source, int) or (isinstance(source, str) and (source.isdigit() or "://" in source))
        self.fps = fps
        self.reconnect_s = reconnect_s
        self.realtime = realtime   # files and folders play at their frame rate (False: as fast as read)
        self.opener = opener
        self.clock = clock
        self.status = "not started"
        self.frames = 0            # frames read
        self.dropped = 0           # frames replaced before anyone took them
        self.reconnects = 0
        self.ended = False
        self._latest: Frame | None = None
        self._taken = True
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the consumer's side ---------------------------------------------------------------
    def start(self) -> "CameraSource":
        self._thread = threading.Thread(target=self._run, name=f"camera {self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5.0)

    def latest(self, timeout_s: float = 1.0) -> Frame | None:
        """The newest frame not yet taken, waiting up to ``timeout_s``; None if none came."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._taken and not self._stop.is_set() and not self.ended:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            if self._taken:
                return None
            self._taken = True
            return self._latest

    @property
    def streaming(self) -> bool:
        return self.status == "streaming"

    # ---- the reader thread -------------------------------------------------------------------
    def _set(self, status: str) -> None:
        self.status = status

    def _run(self) -> None:
        cap = None
        while not self._stop.is_set():
            if cap is None:
                try:
                    cap = self.opener(self.source)
                except Exception as exc:  # a missing file, a driver error
                    cap = None
                    self._set(f"lost: {self.name} does not open ({exc})")
                if cap is None or not cap.isOpened():
                    if cap is not None:
                        cap.release()
                    cap = None
                    if not self.live:
                        self._end(f"ended: {self.name} does not open")
                        return
                    if not self.status.startswith("lost"):
                        self._set(f"lost: {self.name} does not open")
                    self._stop.wait(self.reconnect_s)
                    self.reconnects += 1
                    continue
                self._set("streaming")
                period = self._period(cap)
            t_read = time.monotonic()
            ok, image = cap.read()
            if not ok or image is None:
                cap.release()
                cap = None
                if not self.live:
                    self._end(f"ended: the last frame of {self.name} was read")
                    return
                self._set(f"lost: {self.name} stopped delivering frames; reconnecting every {self.reconnect_s:g} s")
                self._stop.wait(self.reconnect_s)
                self.reconnects += 1
                continue
            with self._cond:
                if not self._taken:
                    self.dropped += 1   # the consumer did not take the previous one: it is gone
                self._latest = Frame(image, self.clock(), self.frames, self.name)
                self._taken = False
                self.frames += 1
                self._cond.notify_all()
            if period and not self.live and self.realtime:
                self._stop.wait(max(0.0, period - (time.monotonic() - t_read)))
        if cap is not None:
            cap.release()

    def _period(self, cap: Any) -> float:
        fps = self.fps or float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        return 1.0 / fps if fps > 0 else 0.0

    def _end(self, status: str) -> None:
        with self._cond:
            self.status, self.ended = status, True
            self._cond.notify_all()

