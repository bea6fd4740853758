"""The stress estimate: behaviour against each person's own usual, both methods, the recordings, the training.

Every assertion is about behaviour (more strain signs -> higher index, less
data -> lower confidence, ...); no expected number comes from running our code.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import pytest

from cell.config_loader import load_config
from ergonomics.stress import FEATURES, HEART_COMPONENTS, StressEstimator
from ergonomics.stress_model import StressModel, StressModelError, StressModelMissing, default_model_path

ROOT = Path(__file__).resolve().parent.parent


# ---- helpers -----------------------------------------------------------------------------------

def beats(est: StressEstimator, t0: float, t1: float, mean_ms: float, sd_ms: float, rng: random.Random) -> None:
    """One beat at a time, at its own time, as a wearable delivers them (beat-to-beat correlated noise)."""
    t, x = t0, 0.0
    while t < t1:
        x = 0.5 * x + rng.gauss(0.0, sd_ms * 0.87)  # stationary sd ~ sd_ms
        rr = mean_ms + x
        t += rr / 1000.0
        est.add_beats(t, [rr])


def steps(est: StressEstimator, t0: float, t1: float, ratio: float, every_s: float = 10.0) -> None:
    t = t0 + every_s
    while t <= t1:
        est.add_step_time(t, ratio)
        t += every_s


def shift_start(est: StressEstimator, rng: random.Random, *, heart: bool = True, rr_ms: float = 850.0,
                step_ratio: float = 1.0) -> None:
    """Six calm minutes: the person's own usual heart and pace are learnt."""
    if heart:
        beats(est, 0, 360, rr_ms, 45, rng)
    steps(est, 0, 360, step_ratio)


def then(*, rr_ms: float | None = None, sd_ms: float = 45.0, errors: int = 0, step_ratio: float = 1.0,
         heart: bool = True, seed: int = 1, method: str = "rules", model=None):
    """The same person's calm start, then two minutes of the given signals; the estimate at the end."""
    rng = random.Random(seed)
    est = StressEstimator(method=method, model=model)
    shift_start(est, rng, heart=heart)
    if heart:
        beats(est, 360, 480, rr_ms if rr_ms is not None else 850.0, sd_ms, rng)
    steps(est, 360, 480, step_ratio)
    for i in range(errors):
        est.add_error(400 + 20 * i)
    return est.estimate(480)


# ---- the rules method ----------------------------------------------------------------------------

def test_index_rises_with_a_faster_and_less_variable_heart_than_the_persons_usual():
    calm = then(rr_ms=850, sd_ms=45)
    faster = then(rr_ms=720, sd_ms=45)
    faster_stiffer = then(rr_ms=720, sd_ms=12)
    assert calm.index < faster.index < faster_stiffer.index
    assert faster.contributions["heart_rate"] > calm.contributions["heart_rate"]
    assert faster_stiffer.contributions["hrv"] > faster.contributions["hrv"]
    assert faster_stiffer.contributions["stress_index"] > calm.contributions["stress_index"]
    assert "heart rate" in faster.explanation and "usual" in faster.explanation
    assert "variability" in faster_stiffer.explanation


def test_index_rises_with_wrong_picks():
    none, one, three = then(errors=0), then(errors=1), then(errors=3)
    assert none.index < one.index < three.index
    assert none.contributions["errors"] < three.contributions["errors"]
    assert "3 wrong picks in the last 2 minutes" in three.explanation
    assert "wrong pick" not in none.explanation


def test_index_rises_with_help_calls_and_with_slowing_down():
    rng = random.Random(3)
    base = StressEstimator()
    helped = StressEstimator()
    for est in (base, helped):
        shift_start(est, random.Random(3))
    helped.add_help(450)
    helped.add_help(470)
    assert helped.estimate(480).index > base.estimate(480).index
    assert "2 calls for help" in helped.estimate(480).explanation
    assert then(step_ratio=1.8).index > then(step_ratio=1.0).index
    del rng


def test_the_baseline_is_the_persons_own():
    """70 bpm is calm for someone whose heart rests at 70 and a sign of strain for someone resting at 55."""
    resting_70, resting_55 = StressEstimator(), StressEstimator()
    rng = random.Random(5)
    shift_start(resting_70, rng, rr_ms=857)   # 70 bpm
    shift_start(resting_55, rng, rr_ms=1090)  # 55 bpm
    for est in (resting_70, resting_55):
        beats(est, 360, 480, 857, 45, rng)
        steps(est, 360, 480, 1.0)
    calm, strained = resting_70.estimate(480), resting_55.estimate(480)
    assert strained.contributions["heart_rate"] > calm.contributions["heart_rate"] + 0.5
    assert strained.index > calm.index


def test_a_slow_worker_is_not_a_strained_worker():
    """Pace is judged against the person's own usual step time, not the target time."""
    rng = random.Random(6)
    usual_slow = StressEstimator()
    shift_start(usual_slow, rng, step_ratio=1.6)  # always takes 1.6x the target
    steps(usual_slow, 360, 480, 1.6)
    beats(usual_slow, 360, 480, 850, 45, rng)
    s = usual_slow.estimate(480)
    assert s.contributions["pace"] < 0.2 and s.contributions["hesitation"] < 0.2
    slowing = StressEstimator()
    shift_start(slowing, random.Random(6), step_ratio=1.0)
    steps(slowing, 360, 480, 1.6)                 # the same 1.6x, but this person usually takes 1.0x
    beats(slowing, 360, 480, 850, 45, random.Random(7))
    s2 = slowing.estimate(480)
    assert s2.contributions["pace"] > 0.8 and s2.index > s.index
    assert "longer than this person's usual" in s2.explanation


def test_usual_step_time_is_learnt_per_step_when_the_step_is_named():
    est = StressEstimator(norm_steps=100)  # the global norm stays unknown: only per-step norms
    t = 0.0
    for _ in range(5):  # this person usually needs 10 s for step a and 30 s for step b (both targets 10 s)
        t += 10
        est.add_step(t, "a", 10.0, 10.0)
        t += 30
        est.add_step(t, "b", 30.0, 10.0)
    t_b = t + 200
    est.add_step(t_b, "b", 30.0, 10.0)
    assert est.features(t_b).values["slow_steps"] == 0  # usual for b
    t_a = t_b + 200
    est.add_step(t_a, "a", 30.0, 10.0)
    assert est.features(t_a).values["slow_steps"] == 1  # three times this person's usual for a


def test_without_a_wearable_it_works_on_behaviour_with_lower_confidence():
    with_heart = then(errors=3)
    without = then(errors=3, heart=False)
    calm_without = then(errors=0, heart=False)
    assert without.confidence < with_heart.confidence
    assert not any(k in without.contributions for k in HEART_COMPONENTS)
    assert all(k in with_heart.contributions for k in HEART_COMPONENTS)
    assert without.index > calm_without.index  # still responds to the work signals
    assert "no heart data" in without.explanation.lower()


def test_confidence_grows_with_data_and_is_bounded():
    est = StressEstimator()
    first = est.estimate(0.0)
    assert first.confidence == 0.0
    shift_start(est, random.Random(8))
    later = est.estimate(360)
    assert later.confidence > first.confidence
    for s in (first, later, then(rr_ms=650, sd_ms=10, errors=5, step_ratio=3.0)):
        assert 0.0 <= s.index <= 1.0 and 0.0 <= s.confidence <= 1.0
        assert all(0.0 <= v <= 1.0 for v in s.contributions.values())


def test_before_the_baseline_is_known_the_heart_is_not_used():
    est = StressEstimator()
    rng = random.Random(9)
    beats(est, 0, 120, 850, 45, rng)
    s = est.estimate(120)
    assert not any(k in s.contributions for k in HEART_COMPONENTS)
    assert "learning" in s.explanation.lower()


def test_explanation_names_the_main_contributors_in_plain_words():
    s = then(rr_ms=700, sd_ms=15, errors=3)
    text = s.explanation.lower()
    assert text.startswith("clear signs of strain") or text.startswith("some signs of strain")
    assert "heart rate" in text and "wrong picks" in text
    calm = then()
    assert calm.explanation.lower().startswith("few signs of strain")
    for e in (s, calm, then(errors=3, heart=False), then(step_ratio=2.5)):
        low = e.explanation.lower()
        for word in ("stressed", "anxious", "anxiety", "panic", "disorder", "diagnos", "lazy", "bad", "fail",
                     "too slow"):
            assert word not in low, (word, e.explanation)


def test_same_inputs_same_estimate():
    assert then(rr_ms=700, errors=2) == then(rr_ms=700, errors=2)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        StressEstimator(method="magic")  # type: ignore[arg-type]


# ---- the model method ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped_model():
    return StressModel.load()


def test_shipped_model_and_metadata(shipped_model):
    assert default_model_path().is_file()
    assert shipped_model.features == FEATURES
    meta = shipped_model.metadata
    assert meta["training_data"]["real_people"] == 0
    assert "leave-one-operator-out" in meta["evaluation"]["method"]
    assert meta["evaluation"]["model"]["all"]["auc"] is not None


def test_model_scores_a_strained_window_above_a_calm_one(shipped_model):
    calm = then(method="model", model=shipped_model)
    strained = then(rr_ms=680, sd_ms=12, errors=3, step_ratio=1.8, method="model", model=shipped_model)
    assert strained.method == "model"
    assert strained.index > calm.index + 0.3
    assert "heart rate" in strained.explanation and strained.contributions["errors"] > 0
    # the model also works without heart data
    assert then(errors=3, step_ratio=1.8, heart=False, method="model", model=shipped_model).index > \
        then(heart=False, method="model", model=shipped_model).index


def test_model_method_loads_the_shipped_file_by_itself():
    est = StressEstimator(method="model")
    assert est.model is not None and est.model.path == default_model_path()


def test_missing_model_file_says_how_to_build_it(tmp_path):
    with pytest.raises(StressModelMissing, match="train_stress"):
        StressModel.load(tmp_path / "nope.onnx")


def test_model_trained_on_other_features_is_refused(tmp_path):
    shutil.copy(default_model_path(), tmp_path / "m.onnx")
    meta = json.loads(default_model_path().with_suffix(".json").read_text())
    meta["features"] = list(reversed(meta["features"]))
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(StressModelError, match="retrain"):
        StressModel.load(tmp_path / "m.onnx")


# ---- recordings and training ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "configs" / "lamp-cell.yaml")


def _read(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_recordings_are_deterministic_per_seed_with_an_operator_column(cfg, tmp_path):
    from cell.simulator.stress_recordings import generate, write_csv

    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    write_csv(generate(cfg, operators=2, duration_s=900, seed=3), a)
    write_csv(generate(cfg, operators=2, duration_s=900, seed=3), b)
    write_csv(generate(cfg, operators=2, duration_s=900, seed=4), c)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    rows = _read(a)
    assert len({r["operator_id"] for r in rows}) == 2
    assert all(k in rows[0] for k in FEATURES + ("strain_mean", "high_strain"))
    assert len(rows) == 2 * 900 // 60  # one row per 60-s window
    assert all(r["high_strain"] in ("0", "1") and 0.0 <= float(r["strain_mean"]) <= 1.0 for r in rows)


def test_recorded_features_track_the_latent_strain(cfg):
    """Within the simulator, the heart features move with the operator's strain (the point of recording them)."""
    from cell.simulator.stress_recordings import record_operator

    rows = [r for r in record_operator(cfg, 0, seed=1, duration_s=3600) if r["hrv_present"]]
    assert len(rows) > 30
    rows.sort(key=lambda r: r["strain_mean"])
    k = len(rows) // 4
    low, high = rows[:k], rows[-k:]

    def mean(rs, key):
        return sum(r[key] for r in rs) / len(rs)

    assert mean(high, "hr_log_ratio") > mean(low, "hr_log_ratio")
    assert mean(high, "rmssd_log_ratio") < mean(low, "rmssd_log_ratio")


def test_training_runs_end_to_end_and_writes_a_loadable_model(cfg, tmp_path):
    import onnx

    from cell.simulator.stress_recordings import generate, write_csv
    from ergonomics import train_stress

    data = tmp_path / "rec.csv"
    write_csv(generate(cfg, operators=3, duration_s=1800, seed=5), data)
    strains = sorted(float(r["strain_mean"]) for r in _read(data))
    median = strains[len(strains) // 2]  # a threshold that gives both classes on this tiny set
    out = tmp_path / "model" / "m.onnx"
    assert train_stress.main(["--csv", str(data), "--out", str(out), "--threshold", str(median)]) == 0
    onnx.checker.check_model(onnx.load(str(out)))
    model = StressModel.load(out)
    p = model.predict_proba([[0.0] * len(FEATURES), [1.0] * len(FEATURES)])
    assert p.shape == (2,) and all(0.0 <= x <= 1.0 for x in p)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["features"] == list(FEATURES)
    ev = meta["evaluation"]["model"]["all"]
    assert ev["operators"] == 3 and {"auc", "brier", "calibration"} <= set(ev)
