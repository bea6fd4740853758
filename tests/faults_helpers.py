"""Test-only harness for the fault-injection suite (tests/test_fault_injection.py).

``write_cell`` writes a copy of the example cell for one test run (own bus ports, event log
and state under tmp_path, optional devices, robot and operator edits). ``CellProcess`` runs it
with ``cell run`` (every node its own process under the supervisor), taps the bus from
outside like any ZeroMQ client, knows every node's pid from the supervisor's own log lines,
kills nodes by pid, reads their memory from /proc, and, once stopped, reads the event log.
``FaultReport`` collects one line of counts per scenario and prints them at the end of the
pytest session (CI output hides a passing test's stdout).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable

import zmq
from ruamel.yaml import YAML

from cell.bus import CommandClient, Subscriber
from cell.demo import demo_config, free_base_port
from cell.messages import (
    EngineCommand, Fault, Heartbeat, Message, PoseFrame, Snapshot, StepState,
)
from cell.nodes import endpoints
from cell.store import EventStore

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "configs" / "lamp-cell.yaml"
OPERATOR = "op-experienced-02"   # fast and rarely wrong: the order moves on quickly at --speed 5
SPEED = 5.0


# --------------------------------------------------------------------------- the cell file


def write_cell(tmp_path: Path, *, devices: list[dict] | None = None, robot: dict | None = None,
               operator_limits: dict[str, dict] | None = None, policy: str | None = None,
               store_path: Path | None = None, thresholds: dict | None = None, curve: bool = False) -> Path:
    """A copy of the example cell for one run: free bus ports, event log in tmp_path (or ``store_path``).

    The operators file is copied too: the simulated ``OPERATOR`` never calls the job coach
    (``simulation.help_rate: 0``; a help call keeps the simulated person waiting 20-60 s, which
    only makes a fault test slower), and ``operator_limits`` (operator id -> keys) is merged into
    the profiles' ``limits``. ``policy``: the allocation policy. ``robot``: keys of the robot section.
    ``curve``: the bus encrypted and authenticated, with keys made as `cell keys generate` makes them.
    """
    out = tmp_path / "cell"
    out.mkdir(parents=True, exist_ok=True)
    path = demo_config(EXAMPLE, out, window=False, robot=robot)
    yaml = YAML(typ="rt")
    data = yaml.load(path.read_text(encoding="utf-8"))
    # ports from a random place, not the first free ones after 15550 as `cell demo` takes them: two suites
    # on one machine (or another test's cell still starting) must not pick the same bus
    data["bus"]["base_port"] = free_base_port(start=random.randrange(20000, 40000, 4))
    ops = yaml.load((EXAMPLE.parent / "operators.yaml").read_text(encoding="utf-8"))
    for op in ops["operators"]:
        if op["id"] == OPERATOR:
            op["simulation"]["help_rate"] = 0.0
        if operator_limits and op["id"] in operator_limits:
            op.setdefault("limits", {}).update(operator_limits[op["id"]])
    ops_path = out / "operators.yaml"
    with open(ops_path, "w", encoding="utf-8") as f:
        yaml.dump(ops, f)
    data["include"] = [str(ops_path) if Path(i).name == "operators.yaml" else i for i in data["include"]]
    if devices:
        data["devices"] = devices
    if policy:
        data["allocation"]["policy"] = policy
    if store_path is not None:
        data["store"]["path"] = str(store_path)
    if thresholds:
        data["thresholds"].update(thresholds)
    if curve:
        from cell import bus_security

        bus_security.generate(out / "keys")
        data["bus"]["curve"] = True
        data["bus"]["keys"] = "keys"
    with open(path, "w", encoding="utf-8") as f:
        yaml.dump(data, f)
    return path


# --------------------------------------------------------------------------- the tap


class CellTimeout(Exception):
    """What was waited for did not come: a scene that could not be set, told apart from an
    AssertionError (what the scene showed was wrong)."""


class Tap:
    """Everything on the bus, read by a thread of its own (a busy test never lets the socket fill up).

    Pose frames and messages from ``src`` starting with "flood" are only counted.
    ``msgs`` holds (arrival time, message) in arrival order.
    """

    def __init__(self, ctx: zmq.Context, endpoint: str) -> None:
        self.ctx, self.endpoint = ctx, endpoint
        self.lock = threading.Lock()
        self.msgs: list[tuple[float, Message]] = []
        self.counts: Counter[str] = Counter()
        self.beats: dict[str, Heartbeat] = {}
        self.beat_times: dict[str, float] = {}
        self.pids: dict[str, list[int]] = {}
        self.listening_since: dict[str, float] = {}  # node -> when its heartbeat first counted a message received
        self.malformed = 0   # garbage the tap itself saw (set when it stops)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bus tap", daemon=True)
        self._ready = threading.Event()
        self._thread.start()
        self._ready.wait(5)

    def _loop(self) -> None:
        sub = Subscriber(self.ctx, self.endpoint, [""], hwm=100_000)
        self._ready.set()
        try:
            while not self._stop.is_set():
                msg = sub.recv(50)
                if msg is not None:
                    self._take(msg)
            while (msg := sub.recv(200)) is not None:  # what is still queued when the test stops looking
                self._take(msg)
            self.malformed = sub.malformed
        finally:
            sub.close()

    def _take(self, msg: Message) -> None:
        now = time.monotonic()
        with self.lock:
            self.counts[type(msg).__name__] += 1
            if msg.src.startswith("flood"):
                return
            if isinstance(msg, Heartbeat):
                self.beats[msg.src] = msg
                self.beat_times[msg.src] = now
                pids = self.pids.setdefault(msg.src, [])
                if not pids or pids[-1] != msg.pid:
                    pids.append(msg.pid)
                if msg.counters.get("received", 0) > 0:
                    self.listening_since.setdefault(msg.src, now)
                return
            if isinstance(msg, PoseFrame):
                return
            self.msgs.append((now, msg))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    # ---- reading what came -----------------------------------------------------------------
    def mark(self) -> int:
        with self.lock:
            return len(self.msgs)

    def since(self, mark: int = 0, kind: type | tuple[type, ...] = Message) -> list[Message]:
        with self.lock:
            return [m for _, m in self.msgs[mark:] if isinstance(m, kind)]

    def timed(self, kind: type, mark: int = 0) -> list[tuple[float, Message]]:
        with self.lock:
            return [(t, m) for t, m in self.msgs[mark:] if isinstance(m, kind)]

    def wait(self, predicate: Callable[[], object], timeout_s: float, what: str = "") -> object:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = predicate()
            if got:
                return got
            time.sleep(0.05)
        got = predicate()
        if not got:
            with self.lock:
                nodes = {n: (b.status, b.counters.get("received", 0)) for n, b in sorted(self.beats.items())}
            raise CellTimeout(f"timed out after {timeout_s:g} s waiting for {what or predicate}; "
                              f"recent: {self.recent()}; nodes (status, received): {nodes}")
        return got

    def first(self, predicate: Callable[[Message], bool], timeout_s: float, mark: int = 0,
              what: str = "") -> Message:
        """The first message since ``mark`` (already here or arriving within the timeout) that fits."""
        def find():
            with self.lock:
                for _, m in self.msgs[mark:]:
                    if predicate(m):
                        return m
            return None
        return self.wait(find, timeout_s, what)  # type: ignore[return-value]

    def recent(self, n: int = 8) -> list[str]:
        with self.lock:
            tail = [m for _, m in self.msgs[-n:]]
        out = []
        for m in tail:
            extra = getattr(m, "step_id", None) or getattr(m, "component", None) or getattr(m, "text", "")
            out.append(f"{type(m).__name__}({str(extra)[:60]})")
        return out

    def alive(self, names: Iterable[str], within_s: float) -> set[str]:
        """Nodes heard within the last ``within_s`` seconds."""
        now = time.monotonic()
        with self.lock:
            return {n for n in names if now - self.beat_times.get(n, -1e9) <= within_s}

    def pid(self, name: str) -> int | None:
        with self.lock:
            b = self.beats.get(name)
            return b.pid if b else None

    def last_state(self) -> StepState | None:
        with self.lock:
            for _, m in reversed(self.msgs):
                if isinstance(m, StepState):
                    return m
        return None


# --------------------------------------------------------------------------- the cell under `cell run`


def rss_kb(pid: int) -> int | None:
    """Resident memory of a process (VmRSS), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


_STARTED = re.compile(r"^(?P<name>[\w-]+): started, pid (?P<pid>\d+)$")
_EXITED = re.compile(r"^(?P<name>[\w-]+): exited with (?P<code>-?\d+), restarting")


class CellProcess:
    """`cell run CONFIG` as a child process group, with a tap on its bus."""

    def __init__(self, config_path: Path, tmp_path: Path, *, operator: str = OPERATOR, speed: float = SPEED,
                 state_dir: Path | None = None) -> None:
        from cell.config_loader import load_config

        self.config_path = config_path
        self.cfg = load_config(config_path)
        self.ep = endpoints(self.cfg)
        self.tmp_path = tmp_path
        self.state_dir = state_dir or tmp_path / "state"
        self.log_path = tmp_path / "cell-run.log"
        self.operator, self.speed = operator, speed
        self.ctx = zmq.Context()
        self.proc: subprocess.Popen | None = None
        self.tap: Tap | None = None
        self.output = ""
        self.published: list[tuple[float, StepState]] = []
        self.t0 = 0.0

    # ---- start and stop --------------------------------------------------------------------
    def start(self) -> CellProcess:
        from cell import bus_security

        bus_security.configure_for(self.cfg, "tools")  # with CURVE on, the tap and the coach hold keys
        self.tap = Tap(self.ctx, self.ep.sub)
        env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cell", "run", str(self.config_path), "--state-dir", str(self.state_dir),
             "--frames-dir", str(self.tmp_path / "frames"), "--speed", str(self.speed), "--operator", self.operator],
            cwd=ROOT, start_new_session=True, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.t0 = time.monotonic()
        return self

    def stop(self) -> str:
        """Stop the cell as Ctrl-C does; return what `cell run` printed.

        ``published`` keeps the step states the tap saw while the cell ran: what the event log must
        have (the store stops after the nodes that write to it)."""
        if self.tap is not None:
            self.published = self.tap.timed(StepState)
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.tap is not None:
            self.tap.close()
        self._log.close()
        self.output = self.log_path.read_text(errors="replace")
        # a node the supervisor could not stop (it was killed itself): ours, ended by pid
        for pid in self.started_pids():
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        from cell import bus_security

        bus_security.stop()
        self.ctx.destroy(linger=0)
        return self.output

    def __enter__(self) -> CellProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the supervisor's own words -------------------------------------------------------
    def supervisor_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def started_pids(self) -> list[int]:
        out = []
        for line in self.supervisor_lines():
            m = _STARTED.match(line.strip())
            if m:
                out.append(int(m["pid"]))
        return out

    def node_pids(self) -> dict[str, int]:
        """Node name -> the pid it was last started with (the bus included: it has no heartbeat)."""
        out: dict[str, int] = {}
        for line in self.supervisor_lines():
            m = _STARTED.match(line.strip())
            if m:
                out[m["name"]] = int(m["pid"])
        return out

    def exits(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for line in self.supervisor_lines():
            m = _EXITED.match(line.strip())
            if m:
                out[m["name"]] += 1
        return out

    def restarts_said(self) -> dict[str, int]:
        """The restarts `cell run` printed when it stopped."""
        m = re.search(r"all nodes stopped \(restarts: (?P<r>[^)]*)\)", self.output)
        assert m, self.output[-2000:]
        if m["r"] == "none":
            return {}
        return {k: int(v.rstrip("x")) for k, v in (part.split() for part in m["r"].split(", "))}

    # ---- waiting ----------------------------------------------------------------------------
    def wait_up(self, names: Iterable[str], timeout_s: float = 60.0) -> None:
        names = set(names) - {"bus"}
        assert self.tap is not None
        self.tap.wait(lambda: self.tap.alive(names, 2.0) == names, timeout_s, f"heartbeats of {sorted(names)}")

    def wait_progress(self, timeout_s: float, after_seq: int | None = None) -> StepState:
        """A step done (or the order paused, with its reason) after ``after_seq``."""
        assert self.tap is not None
        seq = after_seq if after_seq is not None else (self.tap.last_state().seq if self.tap.last_state() else 0)
        return self.tap.first(lambda m: isinstance(m, StepState) and m.seq > seq
                              and (m.phase == "done" or (m.paused and m.pause_reason)), timeout_s,
                              what=f"a step done after seq {seq}")  # type: ignore[return-value]

    def kill(self, name: str, pid: int | None = None) -> int:
        pid = pid or self.node_pids()[name]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        return pid

    def wait_restarted(self, name: str, old_pid: int, timeout_s: float = 60.0) -> int:
        """The supervisor started ``name`` again (and, for a node with a heartbeat, it beats)."""
        assert self.tap is not None
        new = self.tap.wait(lambda: self.node_pids().get(name) if self.node_pids().get(name) != old_pid else None,
                            timeout_s, f"{name} restarted")
        if name != "bus":
            self.tap.wait(lambda: self.tap.pid(name) == new, timeout_s, f"a heartbeat of the new {name}")
        return int(new)  # type: ignore[arg-type]

    # ---- memory -----------------------------------------------------------------------------
    def rss(self) -> dict[str, int]:
        """Node -> resident memory in kB, for the nodes running now."""
        out = {}
        for name, pid in self.node_pids().items():
            kb = rss_kb(pid)
            if kb is not None:
                out[name] = kb
        return out

    # ---- engine commands ----------------------------------------------------------------------
    def command(self, action: str, timeout_s: float = 5.0, **kw) -> Snapshot:
        client = CommandClient(self.ctx, self.ep.engine, f"faults-{os.urandom(3).hex()}")
        try:
            reply = client.request(EngineCommand(src="fault-test", t=time.monotonic(), action=action, **kw), timeout_s)
        finally:
            client.close()
        assert isinstance(reply, Snapshot), reply
        return reply

    # ---- the event log, after the run --------------------------------------------------------
    def store_path(self) -> Path:
        return self.cfg.resolve(self.cfg.store.path)

    def logged(self, type_name: str) -> list[dict]:
        store = EventStore(self.store_path())
        try:
            return list(store.events(type_name))
        finally:
            store.close()

    def logged_counts(self) -> dict[str, int]:
        store = EventStore(self.store_path())
        try:
            return store.counts()
        finally:
            store.close()


def account_log(cell: CellProcess, log_seqs: Iterable[int],
                windows: dict[str, tuple[float, float]] | None = None) -> dict[str, list[int]]:
    """Every StepState seq from 1 to the last one the tap saw while the cell ran that is not in the event
    log, by when: "startup" (published before the store's heartbeat said it had received anything),
    a named window (published within it; for a seq nobody saw, its neighbours bracket the window), or
    "unexplained". The scenarios expect every list empty; the split says where to look when not."""
    have = set(log_seqs)
    first_seen: dict[int, float] = {}
    for t, st in cell.published:
        first_seen.setdefault(st.seq, t)
    top = max(first_seen, default=0)
    listening = cell.tap.listening_since.get("store", float("inf")) if cell.tap else float("inf")
    out: dict[str, list[int]] = {"startup": [], "unexplained": [], **{k: [] for k in (windows or {})}}
    for seq in range(1, top + 1):
        if seq in have:
            continue
        if seq in first_seen:
            lo = hi = first_seen[seq]
        else:  # seen by nobody: between its neighbours
            lo = max((t for q, t in first_seen.items() if q < seq), default=0.0)
            hi = min((t for q, t in first_seen.items() if q > seq), default=float("inf"))
        if lo <= listening:
            out["startup"].append(seq)
            continue
        for name, (a, b) in (windows or {}).items():
            if lo <= b and hi >= a:
                out[name].append(seq)
                break
        else:
            out["unexplained"].append(seq)
    return out


def seq_gaps(seqs: Iterable[int]) -> list[int]:
    """Seqs missing between 1 and the highest one seen."""
    have = set(seqs)
    return [s for s in range(1, max(have, default=0) + 1) if s not in have]


def faults_of(msgs: Iterable[Message], component: str | None = None) -> list[Fault]:
    return [m for m in msgs if isinstance(m, Fault) and (component is None or m.component == component)]


# --------------------------------------------------------------------------- the counts, printed at the end


class FaultReport:
    """Collects one line per scenario; prints them in pytest's terminal summary (shown in CI with -q)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(line)
        print(line)  # with -s, as it happens

    def pytest_terminal_summary(self, terminalreporter) -> None:  # a pytest hook (registered as a plugin)
        if self.lines:
            terminalreporter.section("fault injection: counts checked")
            for line in self.lines:
                terminalreporter.write_line(line)


# --------------------------------------------------------------------------- a disk that fills up


class FullDisk:
    """A small disk for the event log and the engine's state, to fill and empty again.

    ``tmpfs``: a 16 MB tmpfs mounted at ``path`` (needs root / CAP_SYS_ADMIN), filled with a file
    until ENOSPC, emptied by deleting it: exactly a full disk. Where mounting is not allowed (an
    unprivileged CI runner), ``rlimit``: the file-size limit (RLIMIT_FSIZE, soft) of the processes
    that write there is set to 0 with prlimit, so every write of theirs fails (EFBIG) until it is
    raised again. ``CELL_FAULT_DISK=tmpfs|rlimit`` forces one.
    """

    SIZE_MB = 16

    def __init__(self, root: Path) -> None:
        self.path = root / "disk"
        self.path.mkdir(parents=True, exist_ok=True)
        self.filler = self.path / "filler"
        wanted = os.environ.get("CELL_FAULT_DISK", "")
        self.method = "rlimit" if wanted == "rlimit" else ("tmpfs" if self._mount() else "rlimit")
        if wanted == "tmpfs" and self.method != "tmpfs":
            raise RuntimeError("CELL_FAULT_DISK=tmpfs but a tmpfs cannot be mounted here")
        self._limited: list[int] = []

    def _mount(self) -> bool:
        try:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.SIZE_MB}m", "tmpfs", str(self.path)],
                                  capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def describe(self) -> str:
        return (f"a {self.SIZE_MB} MB tmpfs filled to the last byte" if self.method == "tmpfs"
                else "file-size limit 0 (RLIMIT_FSIZE) on the store and the engine: tmpfs not mountable here")

    def fill(self, pids: Iterable[int]) -> None:
        if self.method == "tmpfs":
            fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for size in (1 << 20, 4096, 1):  # to the last byte
                    with contextlib.suppress(OSError):
                        while os.write(fd, b"\0" * size):
                            pass
            finally:
                os.close(fd)
        else:
            import resource

            for pid in pids:
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
                self._limited.append(pid)

    def free(self) -> None:
        if self.method == "tmpfs":
            self.filler.unlink(missing_ok=True)
        else:
            import resource

            for pid in self._limited:
                with contextlib.suppress(ProcessLookupError):
                    resource.prlimit(pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            self._limited.clear()

    def close(self) -> None:
        self.free()
        if self.method == "tmpfs":
            if subprocess.run(["umount", str(self.path)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


# --------------------------------------------------------------------------- a slow connection


class DelayedRelay:
    """A TCP relay to ``target`` that holds every new connection for ``delay_s`` before it passes a byte:
    a client whose connection to the bus is slow to come up (a busy PC). ``endpoint`` is what to connect to."""

    def __init__(self, target_endpoint: str, delay_s: float) -> None:
        import socket

        host, port = target_endpoint.rsplit("//", 1)[1].rsplit(":", 1)
        self.target = (host, int(port))
        self.delay_s = delay_s
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.1)
        self.endpoint = f"tcp://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads = [threading.Thread(target=self._accept, daemon=True, name="delayed relay")]
        self._threads[0].start()

    def _accept(self) -> None:
        import socket

        while not self._stop.is_set():
            try:
                down, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._pump, args=(down,), daemon=True, name="delayed relay pump")
            self._threads.append(t)
            t.start()

    def _pump(self, down) -> None:
        import select
        import socket

        if self._stop.wait(self.delay_s):
            down.close()
            return
        try:
            up = socket.create_connection(self.target, timeout=5)
        except OSError:
            down.close()
            return
        socks = [down, up]
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select(socks, [], [], 0.1)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is down else down).sendall(data)
        except OSError:
            return
        finally:
            down.close()
            up.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for t in self._threads:
            t.join(2)
