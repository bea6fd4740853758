"""Train the learnt stress model on labelled feature recordings, evaluate it per operator, export ONNX.

    python -m ergonomics.train_stress --csv FILE.csv --out ergonomics/data/stress_model.onnx
        [--model gbm|logreg] [--threshold 0.7] [--compare]

The CSV comes from ``python -m cell.simulator.stress_recordings``: one row per
window, an ``operator_id`` column, the features of
:data:`ergonomics.stress.FEATURES`, ``high_strain`` (0/1) and, when present,
``strain_mean`` and ``rules_index``. Evaluation is leave-one-operator-out:
each operator's windows are predicted by a model fitted on all the other
operators, so a number here says how the model does on a person it has
never seen (of the same simulator). Reported: ROC AUC, Brier score (and its
skill against always predicting the base rate), log loss, calibration
(10 bins, expected calibration error), Spearman correlation with the
continuous latent strain, per-operator AUC, each with and without heart
data; the rule method's index is scored on the same windows for comparison.
The final model is fitted on every row, exported with skl2onnx and checked
against scikit-learn; the metadata (feature order, data, evaluation) goes to
the ``.json`` next to the ``.onnx``.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
from pathlib import Path

import numpy as np

from ergonomics.stress import FEATURES

VERSION = "1"
MODEL_KINDS = ("logreg", "gbm")


# ---- data --------------------------------------------------------------------------------
def load_csv(path: Path, threshold: float | None = None) -> dict:
    with Path(path).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise SystemExit(f"{path}: no rows")
    missing = [c for c in ("operator_id", *FEATURES) if c not in rows[0]]
    if missing:
        raise SystemExit(f"{path}: missing columns {missing}")
    data = {
        "X": np.array([[float(r[k]) for k in FEATURES] for r in rows], dtype=np.float64),
        "groups": np.array([r["operator_id"] for r in rows]),
        "strain": np.array([float(r["strain_mean"]) for r in rows]) if "strain_mean" in rows[0] else None,
        "rules": np.array([float(r["rules_index"]) for r in rows]) if "rules_index" in rows[0] else None,
        "seeds": sorted({r["seed"] for r in rows}) if "seed" in rows[0] else [],
        "t_end": np.array([float(r["t_end_s"]) for r in rows]) if "t_end_s" in rows[0] else None,
    }
    if threshold is not None:
        if data["strain"] is None:
            raise SystemExit("--threshold needs a strain_mean column")
        data["y"] = (data["strain"] >= threshold).astype(int)
    elif "high_strain" in rows[0]:
        data["y"] = np.array([int(float(r["high_strain"])) for r in rows])
    else:
        raise SystemExit(f"{path}: no high_strain column (or give --threshold with strain_mean)")
    return data


# ---- models ------------------------------------------------------------------------------
def make_model(kind: str, seed: int = 0):
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=1.0, max_iter=2000))])
    if kind == "gbm":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200,
                                              l2_regularization=1.0, random_state=seed)
    raise ValueError(f"model must be one of {MODEL_KINDS}")


def leave_one_operator_out(X: np.ndarray, y: np.ndarray, groups: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """Out-of-fold P(high strain): each operator predicted by a model that never saw them."""
    p = np.zeros(len(y), dtype=np.float64)
    for g in np.unique(groups):
        test = groups == g
        train = ~test
        if len(np.unique(y[train])) < 2:  # a fold without both classes: predict the training base rate
            p[test] = y[train].mean() if train.any() else 0.5
            continue
        m = make_model(kind, seed).fit(X[train], y[train])
        p[test] = m.predict_proba(X[test])[:, 1]
    return p


# ---- evaluation --------------------------------------------------------------------------
def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[list[dict], float]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        m = idx == b
        if not m.any():
            continue
        mp, fy = float(p[m].mean()), float(y[m].mean())
        ece += m.mean() * abs(mp - fy)
        table.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": int(m.sum()),
                      "mean_predicted": round(mp, 3), "observed_high": round(fy, 3)})
    return table, float(ece)


def scores(y: np.ndarray, p: np.ndarray, strain: np.ndarray | None, groups: np.ndarray) -> dict:
    from scipy.stats import spearmanr
    from sklearn.metrics import brier_score_loss, log_loss

    out: dict = {"windows": int(len(y)), "operators": int(len(np.unique(groups))),
                 "high_share": round(float(y.mean()), 4) if len(y) else None}
    if len(y) == 0:
        return out
    auc = _auc(y, p)
    brier = float(brier_score_loss(y, p))
    base = float(y.mean())
    brier_ref = float(np.mean((y - base) ** 2))
    table, ece = calibration(y, p)
    out.update({
        "auc": None if auc is None else round(auc, 4),
        "brier": round(brier, 4),
        "brier_skill": round(1.0 - brier / brier_ref, 4) if brier_ref > 0 else None,
        "log_loss": round(float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])), 4),
        "ece": round(ece, 4),
        "calibration": table,
    })
    if strain is not None and len(np.unique(p)) > 1:
        out["spearman_with_strain"] = round(float(spearmanr(p, strain).statistic), 4)
    per_op = [a for g in np.unique(groups) if (a := _auc(y[groups == g], p[groups == g])) is not None]
    if per_op:
        q = np.percentile(per_op, [0, 25, 50, 75, 100])
        out["per_operator_auc"] = {"operators_with_both_classes": len(per_op), "min": round(float(q[0]), 3),
                                   "q25": round(float(q[1]), 3), "median": round(float(q[2]), 3),
                                   "q75": round(float(q[3]), 3), "max": round(float(q[4]), 3)}
    return out


def evaluate(data: dict, p: np.ndarray) -> dict:
    y, groups, strain = data["y"], data["groups"], data["strain"]
    heart = data["X"][:, FEATURES.index("hrv_present")] > 0.5
    res = {"all": scores(y, p, strain, groups)}
    for name, m in (("with_heart_data", heart), ("work_signals_only", ~heart)):
        res[name] = scores(y[m], p[m], None if strain is None else strain[m], groups[m])
    return res


# ---- export ------------------------------------------------------------------------------
def export_onnx(model, n_features: int, path: Path):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    onx = convert_sklearn(model, initial_types=[("features", FloatTensorType([None, n_features]))],
                          options={id(final): {"zipmap": False}}, target_opset=17)
    onx.doc_string = "P(high strain) from ergonomics.stress features; trained on simulated operators only"
    onx.graph.name = "workcell_stress_model"  # skl2onnx names the graph with a random uuid: same data, same bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(onx.SerializeToString())
    return onx


def permutation_importance_auc(model, X: np.ndarray, y: np.ndarray, seed: int = 0) -> dict[str, float]:
    """How much the (in-sample) AUC drops when one feature is shuffled: what the model leans on."""
    from sklearn.inspection import permutation_importance

    r = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=3, random_state=seed)
    return {k: round(float(m), 4) for k, m in zip(FEATURES, r.importances_mean)}


def _versions() -> dict:
    import onnx
    import onnxruntime
    import sklearn
    import skl2onnx

    return {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def describe_model(model, kind: str) -> dict:
    if kind == "logreg":
        scale, clf = model.named_steps["scale"], model.named_steps["clf"]
        coef = {k: round(float(c), 4) for k, c in zip(FEATURES, clf.coef_[0])}
        return {"kind": "logistic regression on standardised features", "C": clf.C,
                "coefficients_per_sd": coef, "intercept": round(float(clf.intercept_[0]), 4),
                "feature_mean": {k: round(float(m), 4) for k, m in zip(FEATURES, scale.mean_)},
                "feature_sd": {k: round(float(s), 4) for k, s in zip(FEATURES, scale.scale_)}}
    return {"kind": "histogram gradient boosting", "max_depth": model.max_depth,
            "learning_rate": model.learning_rate, "max_iter": model.max_iter, "trees": int(model.n_iter_)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True, help="the .onnx file; its metadata goes next to it (.json)")
    ap.add_argument("--model", choices=MODEL_KINDS, default="gbm")
    ap.add_argument("--threshold", type=float, default=None,
                    help="recompute high_strain as strain_mean >= this (default: the CSV's high_strain)")
    ap.add_argument("--compare", action="store_true", help="also evaluate the other model kind (slower)")
    ap.add_argument("--data-description", default=None, help="how the CSV was made, for the metadata")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    data = load_csv(args.csv, args.threshold)
    X, y, groups = data["X"], data["y"], data["groups"]
    if len(np.unique(y)) < 2:
        raise SystemExit("the labels hold one class only: nothing to learn (more data, or another --threshold)")
    print(f"{len(y)} windows, {len(np.unique(groups))} operators, {100 * y.mean():.1f} % high strain")

    oof = leave_one_operator_out(X, y, groups, args.model, args.seed)
    evaluation = {"method": "leave-one-operator-out (each operator predicted by a model fitted on the others)",
                  "model": evaluate(data, oof)}
    if data["rules"] is not None:
        evaluation["rules_index_same_windows"] = evaluate(data, data["rules"])
    if args.compare:
        other = [k for k in MODEL_KINDS if k != args.model][0]
        evaluation[f"alternative_{other}"] = evaluate(data, leave_one_operator_out(X, y, groups, other, args.seed))

    model = make_model(args.model, args.seed).fit(X, y)
    onx = export_onnx(model, X.shape[1], args.out)
    import onnxruntime as ort

    sess = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"])
    p_onnx = sess.run(["probabilities"], {"features": X.astype(np.float32)})[0][:, 1]
    max_diff = float(np.max(np.abs(p_onnx - model.predict_proba(X)[:, 1])))
    if max_diff > 1e-3:
        raise SystemExit(f"ONNX export disagrees with scikit-learn (max |diff| {max_diff:.2g})")

    threshold = args.threshold
    meta = {
        "name": "workcell stress model",
        "version": VERSION,
        "created_by": "python -m ergonomics.train_stress " + " ".join(
            f"{k} {v}" for k, v in (("--csv", args.csv.name), ("--model", args.model),
                                    ("--threshold", threshold), ("--seed", args.seed)) if v is not None)
            + (" --compare" if args.compare else ""),
        "features": list(FEATURES),
        "input": {"name": "features", "type": "float32", "shape": [None, len(FEATURES)]},
        "output": {"name": "probabilities", "column": 1, "meaning": "P(high strain) for the window"},
        "label": {"column": "high_strain", "definition": (
            f"window mean of the simulated operator's latent strain >= {threshold}" if threshold is not None
            else "the CSV's high_strain column (cell.simulator.stress_recordings: window mean latent strain >= "
                 "HIGH_STRAIN)")},
        "training_data": {
            "file": args.csv.name,
            "description": args.data_description or (
                "simulated operators from cell.simulator.stress_recordings (random skill, error rate, fatigue, "
                "help rate, pace, resting heart rate; some without a wearable; wearable artefacts); features "
                "per 60-s window from ergonomics.stress.StressEstimator.features"),
            "seeds": data["seeds"],
            "windows": int(len(y)),
            "operators": int(len(np.unique(groups))),
            "windows_with_heart_data": int((X[:, FEATURES.index("hrv_present")] > 0.5).sum()),
            "high_strain_share": round(float(y.mean()), 4),
            "real_people": 0,
        },
        "model": describe_model(model, args.model),
        "permutation_importance_auc_drop": permutation_importance_auc(model, X, y, args.seed),
        "evaluation": evaluation,
        "onnx": {"opsets": {(o.domain or "ai.onnx"): int(o.version) for o in onx.opset_import},
                 "max_abs_diff_vs_sklearn": max_diff},
        "versions": _versions(),
        "caveats": [
            "Trained and evaluated on simulated operators only; never validated on real people.",
            "The simulator's heart model is a simplification (rate and variability move with one latent strain).",
            "Not a medical device and not for any clinical or diagnostic purpose.",
        ],
    }
    meta_path = args.out.with_suffix(".json")
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    m = evaluation["model"]["all"]
    print(f"leave-one-operator-out ({args.model}): AUC {m['auc']}, Brier {m['brier']} "
          f"(skill {m['brier_skill']}), ECE {m['ece']}")
    if "rules_index_same_windows" in evaluation:
        r = evaluation["rules_index_same_windows"]["all"]
        print(f"rules index, same windows:        AUC {r['auc']}, Brier {r['brier']}")
    print(f"wrote {args.out} and {meta_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
