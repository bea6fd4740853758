"""Short sound cues on the bench: a step done, a wrong pick, help called.

The tones are generated here (numpy sine notes with soft edges), so no sound
files ship and nothing is loaded at run time. They are gentle on purpose: a
rising pair for "done", two soft falling notes for "look again" (never a harsh
buzzer: nothing on the bench shames a worker), three rising notes for "help is
coming".

Where there is no audio device (``pygame.mixer`` fails to start, or
``SDL_AUDIODRIVER`` is ``dummy``/``none``/``disk``, as in tests and on a
headless PC) the cues are skipped quietly and the log says so once. A profile
with ``display.audio_cues: false`` is never played a sound.

:func:`tone` is pure (samples in, nothing played); :class:`AudioCues` is the
only part that touches pygame.
"""

from __future__ import annotations

import logging
import os
from typing import Callable

import numpy as np

__all__ = ["CUES", "SAMPLE_RATE", "AudioCues", "tone"]

SAMPLE_RATE = 44100
#: cue -> notes (frequency in Hz, duration in s), played one after the other
CUES: dict[str, tuple[tuple[float, float], ...]] = {
    "done": ((659.3, 0.09), (880.0, 0.16)),
    "wrong": ((440.0, 0.12), (370.0, 0.2)),
    "help": ((587.3, 0.09), (740.0, 0.09), (880.0, 0.16)),
}
_GAP_S = 0.025
_EDGE_S = 0.008
_NO_DEVICE_DRIVERS = ("dummy", "none", "disk")

_log = logging.getLogger(__name__)


def tone(kind: str, rate: int = SAMPLE_RATE, volume: float = 0.3) -> np.ndarray:
    """The samples of one cue: mono int16, soft-edged sine notes with short gaps."""
    if kind not in CUES:
        raise ValueError(f"unknown audio cue {kind!r}; known: {sorted(CUES)}")
    parts = []
    edge = max(1, int(rate * _EDGE_S))
    for freq, dur in CUES[kind]:
        n = int(rate * dur)
        t = np.arange(n) / rate
        note = np.sin(2.0 * np.pi * freq * t) + 0.15 * np.sin(4.0 * np.pi * freq * t)  # a little warmth
        env = np.ones(n)
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, edge))
        env[:edge] = ramp
        env[-edge:] = ramp[::-1]
        env *= np.exp(-2.5 * t / dur)  # a gentle decay, like a soft bell
        parts.append(note * env)
        parts.append(np.zeros(int(rate * _GAP_S)))
    samples = np.concatenate(parts)
    samples *= volume / max(1e-9, float(np.abs(samples).max()))
    return np.round(samples * 32767).astype(np.int16)


class AudioCues:
    """Plays the bench's cues when the profile wants them and the PC has a sound device.

    ``log(level, text)`` receives the one line saying whether cues are on (a node's
    ``log``); by default Python logging. ``play`` never raises.
    """

    def __init__(self, enabled: bool = True, log: Callable[[str, str], None] | None = None) -> None:
        self.enabled = bool(enabled)
        self.available = False
        self._sounds: dict[str, object] = {}
        self._log = log or (lambda level, text: _log.log(logging.getLevelName(level.upper()), "%s", text))
        if not self.enabled:
            self.status = "audio cues off in this operator's profile"
        else:
            self.status = self._start()
        self._log("info", self.status)

    def _start(self) -> str:
        driver = os.environ.get("SDL_AUDIODRIVER", "").strip().lower()
        if driver in _NO_DEVICE_DRIVERS:
            return f"no audio device (SDL_AUDIODRIVER={driver}): audio cues skipped"
        try:
            import pygame

            if not pygame.mixer.get_init():
                pygame.mixer.init(frequency=SAMPLE_RATE, size=-16, channels=2, buffer=512, allowedchanges=0)
            freq, _fmt, channels = pygame.mixer.get_init()
            for kind in CUES:
                mono = tone(kind, freq)
                data = np.ascontiguousarray(np.repeat(mono[:, None], channels, axis=1)) if channels > 1 else mono
                self._sounds[kind] = pygame.sndarray.make_sound(data)
        except Exception as exc:  # pygame.error (no device), ImportError, a mixer in an odd format
            self._sounds.clear()
            return f"no audio device ({exc}): audio cues skipped"
        self.available = True
        return f"audio cues on ({freq} Hz, {channels} channel(s))"

    def play(self, kind: str) -> bool:
        """Play cue ``kind`` (done, wrong, help); False when silent (off, or no device)."""
        if not self.available:
            return False
        sound = self._sounds.get(kind)
        if sound is None:
            return False
        try:
            sound.play()  # type: ignore[attr-defined]
        except Exception:  # a device that went away mid-shift: stay quiet from now on
            self.available = False
            self._log("warning", "audio device lost: audio cues skipped from now on")
            return False
        return True

    def close(self) -> None:
        if self.available:
            import pygame

            pygame.mixer.quit()
            self.available = False
