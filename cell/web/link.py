"""The web service's line to one cell: a subscriber thread that folds the bus into ``CellLive``,
and engine commands (help answered, resolved, resume, reload a profile) over the engine's ROUTER.

A thin shell: ``cell.web.floor`` does the thinking. The thread asks the engine for a snapshot
when it starts and whenever the engine restarts (a new pid in its heartbeat), so the page is
right without waiting for the next change.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

import zmq

from cell.bus import CommandClient, CommandTimeout, Subscriber, snapshot_request
from cell.config import CellConfig
from cell.messages import EngineCommand, Heartbeat, Snapshot
from cell.nodes import endpoints
from cell.web.floor import CellLive

logger = logging.getLogger(__name__)

TOPICS = ("step.state", "alloc.decision", "robot.status", "fault.", "task.event", "stress.estimate",
          "ergo.score", "heartbeat.", "log.warning", "log.error", "operator.profile")
COMMAND_TIMEOUT_S = 2.0


def backfill_today(live: CellLive, config: CellConfig, now: float) -> int:
    """Today's stress and RULA from the cell's event log, when this PC can read it, so the trends
    cover the shift so far and not only the time since the page started. Returns the rows taken."""
    from datetime import date

    import msgspec

    from cell.messages import ErgonomicScore, StressEstimate
    from cell.reports.load import LogError, read_rows

    path = config.resolve(config.store.path)
    if not path.is_file():
        return 0
    try:
        rows = read_rows([path], since=date.fromtimestamp(now), until=date.fromtimestamp(now),
                         types=("StressEstimate", "ErgonomicScore")).rows
    except (LogError, OSError, ValueError) as exc:
        logger.warning("cell %s: today's trends not read from %s: %s", config.cell.id, path, exc)
        return 0
    if not rows:
        return 0
    last = max(rows, key=lambda r: r.wall).operator_id  # the person at the cell now: their shift only
    kinds = {"StressEstimate": StressEstimate, "ErgonomicScore": ErgonomicScore}
    taken = 0
    for r in sorted(rows, key=lambda r: r.wall):
        if r.operator_id != last:
            continue
        try:
            msg = msgspec.convert({k: v for k, v in r.p.items() if k != "type"}, kinds[r.type])
        except (msgspec.ValidationError, TypeError):
            continue
        live.take(msg, r.wall)
        taken += 1
    return taken


class CellLink:
    def __init__(self, config: CellConfig, live: CellLive, lock: threading.Lock, on_change: Callable[[], None],
                 ctx: zmq.Context | None = None, clock: Callable[[], float] = time.time):
        self.config = config
        self.live = live
        self.lock = lock
        self.on_change = on_change
        self.ctx = ctx or zmq.Context.instance()
        self.clock = clock
        self.endpoints = endpoints(config)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._engine_pid: int | None = None
        self.malformed = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"web-link-{self.config.cell.id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def _snapshot(self) -> None:
        snap = snapshot_request(self.ctx, self.endpoints, 1.0, src="web")
        if isinstance(snap, Snapshot):
            with self.lock:
                self.live.take_snapshot(snap, self.clock())
            self.on_change()

    def _run(self) -> None:
        sub = Subscriber(self.ctx, self.endpoints.sub, TOPICS)
        try:
            with self.lock:
                backfill_today(self.live, self.config, self.clock())
            self._snapshot()
            while not self._stop.is_set():
                msg = sub.recv(200)
                self.malformed = sub.malformed
                if msg is None:
                    with self.lock:  # silence is news too (the tile says the cell is not heard)
                        was = self.live.heard(self.clock() - 0.2)
                        now_heard = self.live.heard(self.clock())
                    if was != now_heard:
                        self.on_change()
                    continue
                restarted = (isinstance(msg, Heartbeat) and msg.src == "engine"
                             and self._engine_pid is not None and msg.pid != self._engine_pid)
                if isinstance(msg, Heartbeat) and msg.src == "engine":
                    self._engine_pid = msg.pid
                with self.lock:
                    changed = self.live.take(msg, self.clock())
                if changed:
                    self.on_change()
                if restarted:
                    self._snapshot()
        except zmq.ContextTerminated:
            return
        finally:
            sub.close()

    def command(self, action: str, *, by: str = "", reason: str = "", operator_id: str | None = None) -> Snapshot:
        """Send one command to the cell's engine; its answer is the engine's snapshot after it.

        Raises ``CommandTimeout`` when the engine does not answer (the cell is not running)."""
        client = CommandClient(self.ctx, self.endpoints.engine, f"web-{os.getpid()}-{os.urandom(3).hex()}")
        try:
            reply = client.request(EngineCommand(src="web", t=time.monotonic(), action=action, by=by,  # type: ignore[arg-type]
                                                 reason=reason, operator_id=operator_id), COMMAND_TIMEOUT_S)
        finally:
            client.close()
        if not isinstance(reply, Snapshot):
            raise CommandTimeout(f"the engine of {self.config.cell.id} answered with {type(reply).__name__}")
        with self.lock:
            self.live.take_snapshot(reply, self.clock())
        self.on_change()
        return reply
