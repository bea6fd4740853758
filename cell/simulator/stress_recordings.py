"""Labelled stress-feature recordings from simulated operators, for training and testing the stress model.

    python -m cell.simulator.stress_recordings [--operators 80] [--hours 5] [--seed 1] --out FILE.csv

Each simulated operator gets a random profile (skill, error rate, fatigue,
help rate, pace), a random individual heart (its RR intervals scaled by a
factor 0.85-1.20, i.e. a resting heart rate of about 57-80 bpm), with a
chance of wearing no wearable at all, and wearable artefacts (missed and
extra beat detections). The operator works a simulated shift (the same
engine, allocator and SimulatedOperator as ``cell simulate``; camera frames
are skipped, they do not feed the stress estimate). The stress estimator
sees what it would see in the cell: RR intervals every 5 s, wrong picks,
help calls and step times. Every ``window_s`` (60 s) one row is written:

* ``operator_id``, ``seed``, ``t_end_s``, the operator's profile
  (``profile_*`` columns: for describing the data, never model inputs),
  ``wearable``;
* the features of :data:`ergonomics.stress.FEATURES` (and the context
  values of ``CONTEXT``), computed by the
  estimator itself (``StressEstimator.features``: the same code that runs
  in the cell), plus ``rules_index`` (the rule method's index at that time)
  and ``confidence``;
* ``strain_mean``: the simulated operator's latent strain (0..1) averaged
  over the window (sampled every 5 s), and ``high_strain`` = 1 when
  ``strain_mean >= HIGH_STRAIN`` (0.7; see docs/stress.md).

Same seed, same file. The labels are the simulator's own latent variable:
they say nothing about real people (docs/stress.md).
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from pathlib import Path
from typing import Iterable

from cell.config import CellConfig
from ergonomics.stress import CONTEXT, FEATURES, StressEstimator

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "lamp-cell.yaml"
HIGH_STRAIN = 0.7          # window mean latent strain at or above this is "high strain"
WINDOW_S = 60.0
STRESS_TICK_S = 5.0        # the shift asks for an estimate (and gives heart beats) every 5 s
NO_WEARABLE_SHARE = 0.25   # share of operators recorded without a wearable
MISSED_BEAT_RATE = 0.004   # per beat: the sensor misses a beat (two intervals reported as one)
EXTRA_BEAT_RATE = 0.002    # per beat: the sensor sees an extra beat (one interval reported as two)

PROFILE_COLUMNS = ("profile_skill", "profile_error_rate", "profile_fatigue_per_hour", "profile_help_rate",
                   "profile_pace", "profile_heart_scale")
COLUMNS = ("operator_id", "seed", "t_end_s", *PROFILE_COLUMNS, "wearable", *FEATURES, *CONTEXT, "rules_index",
           "confidence", "strain_mean", "high_strain")


def random_profile(config: CellConfig, rng: random.Random, operator_id: str):
    """A profile like the config's first operator, with random behaviour (log-uniform rates)."""
    base = config.operators[0]
    sim = base.simulation.model_copy(update={
        "skill": round(rng.uniform(0.1, 0.95), 3),
        "error_rate": round(math.exp(rng.uniform(math.log(0.005), math.log(0.15))), 4),
        "fatigue_per_hour": round(rng.uniform(0.01, 0.12), 3),
        "help_rate": round(math.exp(rng.uniform(math.log(0.001), math.log(0.05))), 4),
    })
    return base.model_copy(update={"id": operator_id, "pace": round(rng.uniform(0.6, 1.4), 3),
                                   "policy": "static", "simulation": sim})


class _RecordingEstimator(StressEstimator):
    """The estimator the shift feeds, which also writes a labelled row every window.

    It sits where the shift's own estimator sits (``shift.stress``), so it gets exactly the
    calls the shift makes; it reads the latent strain from the simulated operator.
    """

    def __init__(self, shift, *, wearable: bool, heart_scale: float, rng: random.Random, window_s: float,
                 meta: dict, rows: list[dict]):
        super().__init__()
        self.shift = shift
        self.wearable = wearable
        self.heart_scale = heart_scale
        self.rng = rng
        self.row_window_s = window_s
        self.meta = meta
        self.rows = rows
        self._strain: list[float] = []
        self._next_row = window_s

    def add_beats(self, t: float, rr_ms: list[float]) -> None:
        if not self.wearable:
            return
        out: list[float] = []
        for rr in rr_ms:
            rr *= self.heart_scale
            u = self.rng.random()
            if u < MISSED_BEAT_RATE and out:
                out[-1] += rr                      # a missed detection: two intervals read as one
            elif u < MISSED_BEAT_RATE + EXTRA_BEAT_RATE:
                k = self.rng.uniform(0.3, 0.6)     # an extra detection (movement artefact, ectopic beat)
                out.extend((rr * k, rr * (1 - k)))
            else:
                out.append(rr)
        super().add_beats(t, out)

    def estimate(self, now: float):
        est = super().estimate(now)
        # heartbeats(now - 5, now) brought the operator's strain up to `now` just before this call
        self._strain.append(self.shift.operator.strain)
        if now >= self._next_row:
            self._next_row += self.row_window_s
            strain = sum(self._strain) / len(self._strain)
            f = self.last_features
            row = dict(self.meta)
            row["t_end_s"] = round(now, 1)
            row.update({k: round(f.values[k], 6) for k in FEATURES + CONTEXT})
            row["rules_index"] = est.index
            row["confidence"] = est.confidence
            row["strain_mean"] = round(strain, 6)
            row["high_strain"] = int(strain >= HIGH_STRAIN)
            self.rows.append(row)
            self._strain = []
        return est


def record_operator(config: CellConfig, operator_index: int, *, seed: int, duration_s: float,
                    window_s: float = WINDOW_S) -> list[dict]:
    """Rows for one simulated operator (deterministic for (seed, operator_index))."""
    from cell.simulator.shift import SimulatedShift

    rng = random.Random(f"stress-recordings/{seed}/{operator_index}")
    op_id = f"sim-{seed}-{operator_index:03d}"
    profile = random_profile(config, rng, op_id)
    wearable = rng.random() >= NO_WEARABLE_SHARE
    heart_scale = round(rng.uniform(0.85, 1.20), 3)
    cfg = config.model_copy(update={"operators": [profile]})
    shift = SimulatedShift(cfg, operator_id=op_id, policy="static", duration_s=duration_s,
                           seed=rng.randrange(2**31), fps=1.0 / 3600.0)
    s = profile.simulation
    meta = {"operator_id": op_id, "seed": seed, "profile_skill": s.skill, "profile_error_rate": s.error_rate,
            "profile_fatigue_per_hour": s.fatigue_per_hour, "profile_help_rate": s.help_rate,
            "profile_pace": profile.pace, "profile_heart_scale": heart_scale, "wearable": int(wearable)}
    rows: list[dict] = []
    shift.stress = _RecordingEstimator(shift, wearable=wearable, heart_scale=heart_scale,
                                       rng=random.Random(rng.randrange(2**31)), window_s=window_s, meta=meta,
                                       rows=rows)
    shift.run()
    return rows


def generate(config: CellConfig, *, operators: int, duration_s: float, seed: int,
             window_s: float = WINDOW_S) -> list[dict]:
    rows: list[dict] = []
    for i in range(operators):
        rows.extend(record_operator(config, i, seed=seed, duration_s=duration_s, window_s=window_s))
    return rows


def write_csv(rows: Iterable[dict], path: Path) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow(row)
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=EXAMPLE)
    ap.add_argument("--operators", type=int, default=80)
    ap.add_argument("--hours", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--window-s", type=float, default=WINDOW_S)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    from cell.config_loader import load_config

    cfg = load_config(args.config)
    rows = generate(cfg, operators=args.operators, duration_s=args.hours * 3600.0, seed=args.seed,
                    window_s=args.window_s)
    n = write_csv(rows, args.out)
    high = sum(r["high_strain"] for r in rows)
    print(f"{n} windows from {args.operators} simulated operators ({args.hours:g} h each, seed {args.seed}): "
          f"{high} high-strain ({100.0 * high / max(1, n):.1f} %) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
