"""The process supervisor with real tiny child processes and a fake clock."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from cell.supervisor import LAUNCH_FAILED, ProcessSpec, Supervisor
from tests.helpers_nodes import wait_until

SLEEPER = [sys.executable, "-c", "import time; time.sleep(30)"]
CRASHER = [sys.executable, "-c", "raise SystemExit(3)"]
CLEAN = [sys.executable, "-c", "pass"]
STUBBORN = [
    sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(30)",
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def poll_until_exit(sup: Supervisor, clock: FakeClock, timeout_s: float = 3.0):
    """Poll (at the fake time) until the supervisor notices an exit."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen = sup.poll()
        if seen:
            return seen
        time.sleep(0.01)
    raise AssertionError("no exit noticed")


@pytest.mark.timeout(8)
def test_killed_child_is_restarted_after_backoff() -> None:
    clock = FakeClock()
    restarted = []
    sup = Supervisor(
        [ProcessSpec("sleeper", SLEEPER)], backoff_initial_s=0.5, clock=clock,
        on_restart=lambda name, code: restarted.append((name, code)),
    )
    sup.start()
    try:
        first = sup.pids()["sleeper"]
        os.kill(first, signal.SIGKILL)
        (exit_event,) = poll_until_exit(sup, clock)
        assert exit_event == ("sleeper", -signal.SIGKILL, 100.0)
        assert sup.pids() == {}
        clock.now += 0.4
        sup.poll()
        assert sup.pids() == {} and sup.restarts["sleeper"] == 0  # still backing off
        clock.now += 0.1
        sup.poll()
        second = sup.pids()["sleeper"]
        assert second != first
        assert sup.restarts["sleeper"] == 1
        assert restarted == [("sleeper", -signal.SIGKILL)]
        assert sup.running("sleeper")
    finally:
        sup.stop(2.0)
    assert gone(second)


@pytest.mark.timeout(8)
def test_backoff_grows_caps_and_resets_after_stable_run() -> None:
    clock = FakeClock()
    sup = Supervisor(
        [ProcessSpec("crasher", CRASHER)], backoff_initial_s=0.1, backoff_max_s=0.3,
        stable_after_s=10.0, clock=clock,
    )
    sup.start()
    try:
        for _ in range(4):
            (event,) = poll_until_exit(sup, clock)
            assert event.exit_code == 3
            clock.now += sup.restart_delays["crasher"][-1]
            sup.poll()
        assert sup.restart_delays["crasher"] == [0.1, 0.2, 0.3, 0.3]
        assert sup.restarts["crasher"] == 4
        # This run "stays up" past stable_after_s before crashing: back to the start.
        clock.now += 11.0
        poll_until_exit(sup, clock)
        assert sup.restart_delays["crasher"][-1] == 0.1
    finally:
        sup.stop(2.0)


@pytest.mark.timeout(8)
def test_clean_exit_is_not_restarted_unless_asked() -> None:
    clock = FakeClock()
    sup = Supervisor([ProcessSpec("job", CLEAN)], backoff_initial_s=0.1, clock=clock)
    sup.start()
    (event,) = poll_until_exit(sup, clock)
    assert event.exit_code == 0
    clock.now += 5.0
    sup.poll()
    assert sup.pids() == {} and sup.restarts["job"] == 0 and sup.finished() == ["job"]

    again = Supervisor([ProcessSpec("job", CLEAN)], backoff_initial_s=0.1, clock=clock,
                       restart_on_clean_exit=True)
    again.start()
    poll_until_exit(again, clock)
    clock.now += 0.1
    again.poll()
    assert again.restarts["job"] == 1
    again.stop(2.0)


@pytest.mark.timeout(8)
def test_stop_terminates_all_children() -> None:
    sup = Supervisor([ProcessSpec("a", SLEEPER), ProcessSpec("b", SLEEPER, env={"CELL_X": "1"})])
    sup.start()
    pids = sup.pids()
    assert set(pids) == {"a", "b"}
    t0 = time.monotonic()
    sup.stop(3.0)
    assert time.monotonic() - t0 < 2.0
    assert all(gone(pid) for pid in pids.values())
    assert sorted((e.name, e.exit_code) for e in sup.events) == [("a", -signal.SIGTERM), ("b", -signal.SIGTERM)]
    assert sup.pids() == {}
    sup.poll()
    assert sup.restarts == {"a": 0, "b": 0}


@pytest.mark.timeout(8)
def test_child_ignoring_sigterm_is_killed_after_timeout(tmp_path: Path) -> None:
    sup = Supervisor([ProcessSpec("stubborn", STUBBORN)], log_dir=tmp_path)
    sup.start()
    log = tmp_path / "stubborn.log"
    assert wait_until(lambda: log.exists() and "ready" in log.read_text(), 3.0)
    pid = sup.pids()["stubborn"]
    t0 = time.monotonic()
    sup.stop(timeout_s=0.3)
    elapsed = time.monotonic() - t0
    assert 0.3 <= elapsed < 2.0
    assert gone(pid)
    assert sup.events[-1].exit_code == -signal.SIGKILL


@pytest.mark.timeout(8)
def test_launch_failure_is_an_exit_with_backoff() -> None:
    clock = FakeClock()
    sup = Supervisor([ProcessSpec("missing", ["/nonexistent/cell-node"])], backoff_initial_s=0.2, clock=clock)
    sup.start()
    assert sup.pids() == {}
    assert sup.events[-1].exit_code == LAUNCH_FAILED
    clock.now += 0.2
    sup.poll()
    assert sup.restart_delays["missing"] == [0.2, 0.4]
    sup.stop(1.0)


@pytest.mark.timeout(8)
def test_run_until_stop_event() -> None:
    sup = Supervisor([ProcessSpec("sleeper", SLEEPER)])
    stop = threading.Event()
    runner = threading.Thread(target=sup.run_until, args=(stop,), kwargs={"poll_s": 0.02})
    runner.start()
    assert wait_until(lambda: "sleeper" in sup.pids(), 3.0)
    pid = sup.pids()["sleeper"]
    stop.set()
    runner.join(3.0)
    assert not runner.is_alive()
    assert gone(pid)


def _records_stop(path: Path, linger_s: float) -> list[str]:
    """A child that, on SIGTERM, writes when it was asked and when it finished (after ``linger_s``)."""
    code = (f"import signal, sys, time\n"
            f"def bye(*_):\n"
            f"    t = time.monotonic(); time.sleep({linger_s})\n"
            f"    open({str(path)!r}, 'w').write(f'{{t}} {{time.monotonic()}}'); sys.exit(0)\n"
            f"signal.signal(signal.SIGTERM, bye)\n"
            f"open({str(path)!r} + '.ready', 'w').close()\n"
            f"time.sleep(30)\n")
    return [sys.executable, "-c", code]


@pytest.mark.timeout(15)
def test_children_stop_in_waves_the_event_log_after_the_nodes_that_write_to_it(tmp_path: Path) -> None:
    """The engine's last state must reach the event log: the store is asked to stop only once the
    nodes before it have exited, the bus only after the store."""
    from cell.cli import node_specs

    files = {n: tmp_path / n for n in ("engine", "store", "bus")}
    waves = {s.name: s.stop_wave for s in node_specs(Path("cell.yaml"), list(files), None, tmp_path, None, 1.0)}
    assert waves["engine"] < waves["store"] < waves["bus"]
    sup = Supervisor([ProcessSpec(n, _records_stop(f, 0.3), stop_wave=waves[n]) for n, f in files.items()])
    sup.start()
    assert wait_until(lambda: all(Path(f"{f}.ready").exists() for f in files.values()), 5.0)
    sup.stop(3.0)
    asked, done = {}, {}
    for n, f in files.items():
        asked[n], done[n] = map(float, f.read_text().split())
    assert done["engine"] <= asked["store"], (asked, done)
    assert done["store"] <= asked["bus"], (asked, done)
