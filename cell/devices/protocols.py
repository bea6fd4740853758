"""What bench devices say on their serial lines, and what they are told: pure parsing and formatting.

Every device kind has a default line protocol (docs/devices.md): regular
expressions for the lines it sends and templates for the commands it takes.
``Device.protocol`` replaces any of them where a vendor differs. A
:class:`DeviceProtocolParser` turns one device's received lines into
:class:`DeviceReading` s (the typed events a bus node publishes as
``DeviceEvent``) and command names into the bytes to send.
:class:`LineAssembler` cuts the raw byte stream into those lines and sets
aside what cannot be a line (noise, half lines, over-long lines).

No I/O and no clock here: the time of each line is passed in, so a button's
long press is decided from the times the link saw DOWN and UP (or from a
``tick`` while the key is held).
"""

from __future__ import annotations

import codecs
import math
import re
import string
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from cell.config import Device
from cell.messages import DeviceEvent

NUMBER = r"[-+]?\d+(?:\.\d+)?"

MAX_LINE_CHARS = 256
"""A line longer than this is not a device line (noise, or a device streaming without line ends)."""


@dataclass(frozen=True)
class KindProtocol:
    """A kind's default protocol and what every pattern and template must (and may) contain.

    ``groups``: named groups a pattern must have; ``fields``: the ``{fields}``
    a command template may use (it need not use them all)."""

    patterns: dict[str, str]
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)


_KEYS = KindProtocol(patterns={"down": r"^DOWN(?:\s+(?P<key>\w+))?$", "up": r"^UP(?:\s+(?P<key>\w+))?$"})
_REPLIES = {"ok": r"^OK\b", "error": r"^ERR\b\s*(?P<reason>.*)$"}

KINDS: dict[str, KindProtocol] = {
    "button_box": _KEYS,
    "pedal": _KEYS,
    "heart_rate": KindProtocol(
        patterns={"beats": rf"^(?:HR\s+(?P<hr>{NUMBER})\s+)?RR\s+(?P<rr>{NUMBER}(?:\s*,\s*{NUMBER})*)$",
                  "hr": rf"^HR\s+(?P<hr>{NUMBER})$"},
        groups={"beats": ("rr",), "hr": ("hr",)}),
    "torque_tool": KindProtocol(
        patterns={"ok": rf"^OK\s+(?P<torque>{NUMBER})(?:\s+(?P<angle>{NUMBER}))?$",
                  "nok": rf"^NOK\s+(?P<torque>{NUMBER})(?:\s+(?P<angle>{NUMBER}))?$"},
        groups={"ok": ("torque",), "nok": ("torque",)}),
    "pick_to_light": KindProtocol(
        patterns={"ack": r"^ACK\s+(?P<bin>\d+)$", **_REPLIES}, groups={"ack": ("bin",)},
        commands={"light": "LIGHT {bin} {count}", "off": "OFF {bin}", "off_all": "OFF"},
        fields={"light": ("bin", "count"), "off": ("bin",), "off_all": ()}),
    "stack_light": KindProtocol(
        patterns=dict(_REPLIES),
        commands={"set": "SET {colour}", "blink": "SET {colour} BLINK", "off": "SET OFF"},
        fields={"set": ("colour",), "blink": ("colour",), "off": ()}),
}


@dataclass(frozen=True)
class DeviceReading:
    """One typed event from a device, stamped with the (monotonic) time its line arrived."""

    device: str
    t: float
    kind: str
    values: dict[str, float] = field(default_factory=dict)
    text: str = ""

    def to_message(self, src: str) -> DeviceEvent:
        return DeviceEvent(src=src, t=self.t, device=self.device, kind=self.kind, values=self.values, text=self.text)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class DeviceProtocolParser:
    """One device's line protocol: received lines -> readings, command names -> bytes.

    Not thread-safe: ``feed``, ``tick`` and ``reset`` belong to the reader,
    ``command`` and ``replay`` to the writer; a caller that mixes threads
    locks around the pair it shares (``DeviceLink`` does).
    """

    def __init__(self, device: Device) -> None:
        """Raise ValueError naming the device and the entry when an override cannot work."""
        self.device = device
        where = f"device {device.id!r} ({device.kind}): protocol"
        spec = KINDS[device.kind]
        proto = device.protocol
        try:
            codecs.lookup(proto.encoding)
        except LookupError:
            raise ValueError(f"{where}.encoding: {proto.encoding!r} is not a known text encoding") from None
        self.ending = proto.line_ending.encode(proto.encoding)
        self.patterns: dict[str, re.Pattern[str]] = {}
        for name, pattern in {**spec.patterns, **proto.patterns}.items():
            if name not in spec.patterns:
                raise ValueError(f"{where}.patterns.{name}: {device.kind} sends no such line; "
                                 f"its patterns are {', '.join(spec.patterns)}")
            try:
                rx = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{where}.patterns.{name}: {pattern!r} is not a valid regular expression "
                                 f"({exc})") from None
            missing = [g for g in spec.groups.get(name, ()) if g not in rx.groupindex]
            if missing:
                raise ValueError(f"{where}.patterns.{name}: {pattern!r} needs the named group(s) "
                                 + ", ".join(f"(?P<{g}>...)" for g in missing))
            self.patterns[name] = rx
        self.commands = {**spec.commands, **proto.commands}
        for name, template in self.commands.items():
            if name not in spec.commands:
                raise ValueError(f"{where}.commands.{name}: {device.kind} takes no such command"
                                 + (f"; its commands are {', '.join(spec.commands)}" if spec.commands else ""))
            try:
                used = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
            except ValueError as exc:
                raise ValueError(f"{where}.commands.{name}: {template!r}: {exc}") from None
            unknown = used - set(spec.fields[name])
            if unknown:
                allowed = ", ".join(f"{{{f}}}" for f in spec.fields[name]) or "no fields"
                raise ValueError(f"{where}.commands.{name}: {template!r} uses {', '.join(sorted(unknown))}; "
                                 f"allowed: {allowed}")
        handlers: dict[str, Callable[[re.Match[str], str, float], list[DeviceReading] | None]] = {
            "down": self._down, "up": self._up, "beats": self._beats, "hr": self._hr, "ack": self._ack,
            "error": self._refused, "nok": partial(self._tightened, ok=False),
            "ok": partial(self._tightened, ok=True) if device.kind == "torque_tool" else self._accepted}
        self._handlers = [(rx, handlers[name]) for name, rx in self.patterns.items()]
        self._held: dict[str, list] = {}       # key -> [time it went down, long press reported]
        self._shown: dict[str, bytes] = {}  # what the device should show now, replayed after a reconnect

    def _reading(self, now: float, kind: str, values: dict[str, float] | None = None, text: str = "") -> DeviceReading:
        return DeviceReading(self.device.id, now, kind, values or {}, text)

    # received lines ----------------------------------------------------------------------
    def feed(self, line: str, now: float) -> list[DeviceReading] | None:
        """The readings one received line means (often none); None when it is garbage.

        Patterns are searched in order (the kind's, as listed in KINDS); the
        first that matches decides. A line that matches but carries an unusable
        number (an RR of 0 ms, say) is garbage too."""
        for rx, handle in self._handlers:
            m = rx.search(line)
            if m:
                return handle(m, line, now)
        return None

    def tick(self, now: float) -> list[DeviceReading]:
        """A long press for each key held ``long_press_s`` by now (once per press), so it shows while held."""
        out = []
        for key, held in self._held.items():
            if not held[1] and now - held[0] >= self.device.long_press_s:
                held[1] = True
                out.append(self._key_reading(now, "long_press", key, now - held[0]))
        return out

    def reset(self) -> None:
        """The line was lost: keys held then will not report their UP, so forget them."""
        self._held.clear()

    def _key_reading(self, now: float, kind: str, key: str, held_s: float | None = None) -> DeviceReading:
        values = {"key": float(key)} if key.isascii() and key.isdigit() else {}  # not "²": a name, like "A"
        if held_s is not None:
            values["held_s"] = round(held_s, 3)
        return self._reading(now, kind, values, key)

    def _down(self, m: re.Match[str], line: str, now: float) -> list[DeviceReading]:
        key = m.groupdict().get("key") or "1"
        if key in self._held:  # a repeated DOWN (contact bounce, auto-repeat): still the same press
            return []
        self._held[key] = [now, False]
        return [self._key_reading(now, "press", key)]

    def _up(self, m: re.Match[str], line: str, now: float) -> list[DeviceReading]:
        key = m.groupdict().get("key") or "1"
        held = self._held.pop(key, None)
        if held is None:  # its DOWN was before the line came up, or lost
            return [self._key_reading(now, "release", key)]
        out = []
        if not held[1] and now - held[0] >= self.device.long_press_s:
            out.append(self._key_reading(now, "long_press", key, now - held[0]))
        out.append(self._key_reading(now, "release", key, now - held[0]))
        return out

    def _beats(self, m: re.Match[str], line: str, now: float) -> list[DeviceReading] | None:
        """One ``rr`` reading per RR interval, in order; hr_bpm is the device's HR when it sends one."""
        hr = _number(m["hr"]) if m.groupdict().get("hr") else None
        intervals = [_number(x) for x in re.split(r"[\s,;]+", m["rr"].strip())]
        if not intervals or any(rr is None or rr <= 0 for rr in intervals) or (hr is not None and hr < 0):
            return None
        return [self._reading(now, "rr", {"rr_ms": rr, "hr_bpm": hr if hr is not None else round(60000.0 / rr, 1)})
                for rr in intervals]  # type: ignore[operator]

    def _hr(self, m: re.Match[str], line: str, now: float) -> list[DeviceReading] | None:
        hr = _number(m["hr"])
        return None if hr is None or hr < 0 else [self._reading(now, "hr", {"hr_bpm": hr})]

    def _tightened(self, m: re.Match[str], line: str, now: float, *, ok: bool) -> list[DeviceReading] | None:
        torque = _number(m["torque"])
        angle = _number(m["angle"]) if m.groupdict().get("angle") else None
        if torque is None or (m.groupdict().get("angle") and angle is None):
            return None
        values = {"ok": 1.0 if ok else 0.0, "torque_nm": torque}
        if angle is not None:
            values["angle_deg"] = angle
        return [self._reading(now, "torque", values, "OK" if ok else "NOK")]

    def _ack(self, m: re.Match[str], line: str, now: float) -> list[DeviceReading] | None:
        number = _number(m["bin"])
        return None if number is None else [self._reading(now, "ack", {"bin": number}, m["bin"])]

    def _accepted(self, m: re.Match[str], line: str, now: float) -> list[DeviceReading]:
        return []  # an OK to a command: a valid line, no event

    def _refused(self, m: re.Match[str], line: str, now: float) -> list[DeviceReading]:
        reason = (m.groupdict().get("reason") or "").strip() or line
        return [self._reading(now, "error", {}, reason)]

    # commands ----------------------------------------------------------------------------
    def command(self, name: str, **fields: object) -> bytes:
        """The bytes of one command, line ending included; ValueError when it cannot be formed.

        It is also remembered as what the device should show (the stack
        light's state, the lit bins), for ``replay``."""
        template = self.commands.get(name)
        if template is None:
            takes = ", ".join(self.commands) or "no commands"
            raise ValueError(f"device {self.device.id!r} ({self.device.kind}) has no command {name!r}; "
                             f"it takes {takes}")
        try:
            data = template.format(**fields).encode(self.device.protocol.encoding) + self.ending
        except KeyError as exc:
            raise ValueError(f"command {name!r} ({template!r}) needs the field {exc}") from None
        except UnicodeEncodeError:
            raise ValueError(f"command {name!r}: {fields} cannot be sent in {self.device.protocol.encoding}") from None
        if self.device.kind == "stack_light":
            self._shown = {"light": data}
        elif name == "off_all":
            self._shown.clear()
        elif name == "off":
            self._shown.pop(str(fields.get("bin")), None)
        else:
            self._shown[str(fields.get("bin"))] = data
        return data

    def replay(self) -> list[bytes]:
        """What to send after the port (re)opens, so a replugged light shows what it showed before.

        A pick-to-light controller is first switched all off, so lights left
        on by an earlier run go dark."""
        if self.device.kind == "pick_to_light":
            clear = self.commands["off_all"].encode(self.device.protocol.encoding) + self.ending
            return [clear, *self._shown.values()]
        return list(self._shown.values())


class LineAssembler:
    """Bytes as they arrive -> complete text lines; what cannot be a device line comes out as None.

    Any of ``\\n``, ``\\r\\n`` and ``\\r`` ends a line; blank lines are
    skipped. Undecodable bytes and control characters are *noise*: they are
    counted in ``noise`` (the link's sign of a wrong baud rate), and a line
    holding any is dropped. So is a line longer than ``max_chars`` (the rest
    of it, up to its end, is skipped), and a *half line*: an unfinished line
    that got no byte for ``half_line_s`` (a device reset or unplugged mid-line).
    """

    _LINE_END = re.compile(r"\r\n|\r|\n")
    _NOISE = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

    def __init__(self, encoding: str, *, half_line_s: float = 1.0, max_chars: int = MAX_LINE_CHARS) -> None:
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self.half_line_s = half_line_s
        self.max_chars = max_chars
        self.noise = 0
        self.partial = ""
        self._last_byte = 0.0
        self._skipping = False

    def feed(self, data: bytes, now: float) -> list[str | None]:
        """The lines ``data`` completes, in order (None for each dropped one); ``b""`` just checks half lines."""
        out: list[str | None] = []
        text = self._decoder.decode(data)
        if not text:
            if (self.partial or self._skipping) and now - self._last_byte >= self.half_line_s:
                if self.partial:
                    out.append(None)
                self.partial, self._skipping = "", False
            return out
        self._last_byte = now
        self.noise += len(self._NOISE.findall(text))
        *complete, self.partial = self._LINE_END.split(self.partial + text)
        for line in complete:
            if self._skipping:
                self._skipping = False
                continue
            line = line.strip()
            if len(line) > self.max_chars or self._NOISE.search(line):
                out.append(None)
            elif line:
                out.append(line)
        if len(self.partial) > self.max_chars:
            if not self._skipping:
                out.append(None)
            self.partial, self._skipping = "", True
        return out
