"""The web page's audit log: who viewed and changed what, one JSON object per line.

Append-only; each line is flushed and synced before the action it records is answered, so
a change the coach saw confirmed is in the log. Reading tolerates a damaged last line (a
power cut mid-write): it is skipped and counted, never fatal.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def write(self, coach: str, action: str, *, cell: str = "", detail: str = "", client: str = "",
              now: float | None = None) -> dict[str, Any]:
        t = datetime.fromtimestamp(now, timezone.utc) if now is not None else datetime.now(timezone.utc)
        entry = {"t": t.isoformat(timespec="seconds"), "coach": coach, "action": action, "cell": cell,
                 "detail": detail, "client": client}
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                size = os.lseek(fd, 0, os.SEEK_END)
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = "\n" + line  # a torn last line (power cut) stays alone: this entry is not lost with it
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        return entry

    def read(self, last: int = 200) -> tuple[list[dict[str, Any]], int]:
        """The newest ``last`` entries, newest first, and how many lines could not be read."""
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return [], 0
        out, bad = [], 0
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(entry, dict):
                out.append(entry)
            else:
                bad += 1
        return out[::-1][:last], bad
