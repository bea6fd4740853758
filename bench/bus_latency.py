"""Bus latency and throughput: our Publisher/Subscriber (typed messages, msgpack, validation) against raw
pyzmq on the same proxy, side by side in one process.

    python -m bench.bus_latency [--seconds 3] [--rate 500] [--quick]

Both paths go through one ``cell.bus.BusProxy`` (the XSUB/XPUB proxy every cell runs) on
loopback TCP. The raw path is a plain pyzmq PUB and SUB sending a pre-built payload of the
same size as our message; ours is ``Publisher.send(StepState)`` and ``Subscriber.recv``
(encode, decode, check schema and topic). One-way latency is measured in the receiving
thread against the sender's ``perf_counter`` stamp (one clock: same process). Each path
sends at ``--rate`` messages per second (ten times a busy cell's bus) and then as fast as
it can (throughput), counting every message that did not arrive.

Target: median one-way latency <= 1.5x raw pyzmq, and no message lost at the paced rate.
"""

from __future__ import annotations

import argparse
import statistics
import struct
import threading
import time

import zmq

from bench.table import Check, Row, exit_code

TARGET_RATIO = 1.5


def _state(i: int, t: float):
    from cell.messages import StepState

    return StepState(src="bench", t=t, seq=i, order_id="lamp-cell-1-wo0001", task_id="desk-lamp",
                     step_id="screw_stem", step_index=2, step_count=11, phase="active", assignee="operator",
                     unit=3, units_total=20)


class Path:
    """One way through the proxy: ``send(i)`` and ``recv(timeout_ms) -> (seq, sent_at) | None``."""

    def __init__(self, kind: str, ctx: zmq.Context, ep):
        from cell.bus import Publisher, Subscriber
        from cell.messages import encode

        self.kind = kind
        size = len(encode(_state(1, 0.0)))
        if kind == "ours":
            self.pub = Publisher(ctx, ep.pub)
            self.sub = Subscriber(ctx, ep.sub, ["step.state"])
        else:
            self.pub = ctx.socket(zmq.PUB)
            self.pub.setsockopt(zmq.SNDHWM, 1000)
            self.pub.connect(ep.pub)
            self.sub = ctx.socket(zmq.SUB)
            self.sub.setsockopt(zmq.RCVHWM, 1000)
            self.sub.setsockopt(zmq.SUBSCRIBE, b"raw.state")
            self.sub.connect(ep.sub)
            self.pad = b"x" * max(0, size - 12)

    def send(self, i: int) -> None:
        now = time.perf_counter()
        if self.kind == "ours":
            self.pub.send(_state(i, now))
        else:
            self.pub.send_multipart([b"raw.state", struct.pack("<id", i, now) + self.pad], zmq.NOBLOCK)

    def recv(self, timeout_ms: int):
        if self.kind == "ours":
            msg = self.sub.recv(timeout_ms)
            return None if msg is None else (msg.seq, msg.t)
        if not self.sub.poll(timeout_ms):
            return None
        topic, payload = self.sub.recv_multipart()
        return struct.unpack_from("<id", payload)

    def ready(self) -> bool:
        """Wait until the subscription has reached the proxy (slow joiner): a probe gets through."""
        end = time.monotonic() + 5
        while time.monotonic() < end:
            self.send(-1)
            got = self.recv(50)
            if got is not None and got[0] == -1:
                while self.recv(50) is not None:
                    pass
                return True
        return False

    def close(self) -> None:
        for s in (self.pub, self.sub):
            s.close(0) if isinstance(s, zmq.Socket) else s.close()


def run(path: Path, n: int, rate: float | None) -> dict:
    """Send n messages (paced at ``rate``/s, or as fast as possible) and receive them all; latency and loss."""
    got: dict[int, float] = {}
    done = threading.Event()

    def receive() -> None:
        quiet_since = None
        while True:
            r = path.recv(20)
            now = time.perf_counter()
            if r is None:
                if done.is_set():
                    quiet_since = quiet_since or now
                    if now - quiet_since > 0.3:
                        return
                continue
            quiet_since = None
            seq, sent = r
            if seq >= 0:
                got[seq] = now - sent

    rx = threading.Thread(target=receive)
    rx.start()
    t0 = time.perf_counter()
    for i in range(n):
        if rate:
            target = t0 + i / rate
            while (delay := target - time.perf_counter()) > 0:
                time.sleep(delay if delay > 0.002 else 0)
        path.send(i)
    sent_s = time.perf_counter() - t0
    done.set()
    rx.join()
    lat = sorted(got.values())
    return {"sent": n, "received": len(got), "lost": n - len(got), "send_rate": n / sent_s,
            "median_ms": statistics.median(lat) * 1000 if lat else float("nan"),
            "p99_ms": lat[int(0.99 * (len(lat) - 1))] * 1000 if lat else float("nan")}


def measure(seconds: float, rate: float) -> dict[str, dict]:
    from cell.bus import BusProxy
    from cell.demo import free_base_port
    from cell.bus import BusEndpoints

    ctx = zmq.Context()
    ep = BusEndpoints.local(free_base_port(start=27550))
    proxy = BusProxy(ctx, ep).start()
    out: dict[str, dict] = {}
    paths: dict[str, Path] = {}
    try:
        for k in ("raw", "ours"):
            paths[k] = Path(k, ctx, ep)
        for p in paths.values():
            if not p.ready():
                raise RuntimeError(f"{p.kind}: the subscription never reached the proxy")
        n_paced = max(100, int(rate * seconds))
        for k in ("raw", "ours", "raw", "ours"):  # twice each, interleaved: the second run counts (warm)
            out[f"{k}.paced"] = run(paths[k], n_paced, rate)
        for k in ("raw", "ours"):
            out[f"{k}.burst"] = run(paths[k], 5000 if seconds < 2 else 20000, None)
    finally:  # close every socket even after an error, or ctx.term() waits forever and hides it
        for p in paths.values():
            p.close()
        proxy.close()
        ctx.destroy(linger=0)
    return out


def table_rows(argv: list[str] | None = None) -> list[Row]:
    """Measure and print the detail lines; the result as table rows (bench/table.py): latency, throughput."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="how long each paced run sends")
    ap.add_argument("--rate", type=float, default=500.0, help="paced send rate, messages per second")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    seconds = 1.0 if args.quick else args.seconds
    r = measure(seconds, args.rate)
    raw, ours = r["raw.paced"], r["ours.paced"]
    ratio = ours["median_ms"] / raw["median_ms"]
    print(f"bus one-way latency through the proxy, {args.rate:g} msg/s for {seconds:g} s (StepState, "
          f"{'same size' } raw payload), loopback TCP, same process")
    for name, x in (("raw pyzmq (baseline)", raw), ("cell.bus (ours)", ours)):
        print(f"  {name:22s} median {x['median_ms']:6.3f} ms  p99 {x['p99_ms']:6.3f} ms  "
              f"lost {x['lost']} of {x['sent']}")
    print(f"  ratio (median, ours / raw)  {ratio:.2f}x  (target <= {TARGET_RATIO:g}x)")
    rb, ob = r["raw.burst"], r["ours.burst"]
    print(f"throughput, as fast as one sender goes: raw {rb['received'] / max(rb['sent'], 1) * rb['send_rate']:8.0f} "
          f"msg/s delivered (lost {rb['lost']} of {rb['sent']}), ours "
          f"{ob['received'] / max(ob['sent'], 1) * ob['send_rate']:8.0f} msg/s (lost {ob['lost']} of {ob['sent']})")
    ok = ratio <= TARGET_RATIO and ours["lost"] == 0
    print(f"RESULT: {'ok' if ok else 'MISSED'} (latency ratio {ratio:.2f}x, {ours['lost']} lost at "
          f"{args.rate:g} msg/s)")
    rb_rate = rb["received"] / max(rb["sent"], 1) * rb["send_rate"]
    ob_rate = ob["received"] / max(ob["sent"], 1) * ob["send_rate"]
    return [Row(bench="bus_latency", measures=f"one-way latency through the proxy, median, {args.rate:g} msg/s "
                f"for {seconds:g} s", ours=ours["median_ms"], unit="ms", baseline="raw pyzmq",
                baseline_value=raw["median_ms"], better="lower",
                checks=(Check("ratio", ratio, "<=", TARGET_RATIO, "×"),
                        Check(f"lost at {args.rate:g} msg/s", ours["lost"], "==", 0)),
                note=f"lost {ours['lost']} of {ours['sent']} (raw {raw['lost']}); p99 {ours['p99_ms']:.3g} ms "
                     f"(raw {raw['p99_ms']:.3g} ms)"),
            Row(bench="bus_latency", measures="throughput, one sender as fast as it goes, delivered",
                ours=ob_rate, unit="msg/s", baseline="raw pyzmq", baseline_value=rb_rate, better="higher",
                note=f"lost {ob['lost']} of {ob['sent']} (raw {rb['lost']} of {rb['sent']}); reported, no target")]


def main(argv: list[str] | None = None) -> int:
    """The detail lines; 0 if the latency target is met and nothing was lost at the paced rate.

    Also sets ``main.result`` (a dict: ratio, lost, ours_ms, raw_ms, ok) for callers of the old interface.
    """
    rows = table_rows(argv)
    latency = rows[0]
    main.result = {"ratio": latency.ratio, "lost": latency.checks[1].value,  # type: ignore[attr-defined]
                   "ours_ms": latency.ours, "raw_ms": latency.baseline_value, "ok": bool(latency.met)}
    return exit_code(rows)


if __name__ == "__main__":
    raise SystemExit(main())
