"""What the serial clients and the emulated serial devices share.

``SERIAL_IO_ERRORS``: what a pyserial port raises when its device goes away
(unplugged, a closed pty, a dropped socket bridge).

``PtyPort``: the master side of a pseudo-terminal served by a background
thread, with "cables" that can be pulled and plugged back in. ``port`` is what
a client opens: the slave device (/dev/pts/N), or a symlink to it when ``link``
is given; the symlink survives ``unplug()`` / ``replug()`` the way a
/dev/serial/by-id name survives replugging a USB adapter. A subclass serves the
line protocol in ``_serve`` (reading ``_master``, returning when ``_wake_r``
becomes readable or ``_stop`` is set) and calls ``_plug()`` at the end of its
constructor. The robot bridge's emulated arm and the emulated bench devices are
both one.
"""

from __future__ import annotations

import os
import threading
import tty
from pathlib import Path

import serial

try:
    import termios
    SERIAL_IO_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, termios.error)
except ImportError:  # pragma: no cover - not POSIX
    SERIAL_IO_ERRORS = (serial.SerialException, OSError)


class PtyPort:
    thread_name = "emulated serial device"

    def __init__(self, link: str | Path | None = None) -> None:
        self.link = Path(link) if link is not None else None
        self._lock = threading.Lock()   # the subclass's state and the master fd (writes from other threads)
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_name = ""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = -1, -1

    @property
    def port(self) -> str:
        return str(self.link) if self.link is not None else self._slave_name

    @property
    def plugged(self) -> bool:
        return self._master is not None

    @property
    def serving(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _serve(self) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def _plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)               # no echo, no line editing: bytes pass as sent
        os.set_blocking(master, False)  # a full buffer drops a line instead of hanging the thread
        self._master, self._slave, self._slave_name = master, slave, os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self._slave_name)
            os.replace(tmp, self.link)
        self._wake_r, self._wake_w = os.pipe()
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"{self.thread_name} {self._slave_name}",
                                        daemon=True)
        self._thread.start()

    def unplug(self) -> None:
        """Pull the cable: the pty and the ``link`` go; a client's next read fails. The device keeps its state."""
        if self._thread is not None:
            self._stop.set()
            os.write(self._wake_w, b"x")
            self._thread.join(5)
            self._thread = None
        with self._lock:
            for fd in (self._master, self._slave, self._wake_r, self._wake_w):
                if fd is not None and fd >= 0:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._master = self._slave = None
            self._wake_r = self._wake_w = -1
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()

    def replug(self) -> None:
        """Plug back in: a new pty, which ``link`` points at; the device carries on where it was."""
        if not self.plugged:
            self._plug()

    def close(self) -> None:
        self.unplug()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
