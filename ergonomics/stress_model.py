"""The learnt stress model: an ONNX file shipped in the package, run with onnxruntime.

``StressModel.load()`` reads ``ergonomics/data/stress_model.onnx`` and its
metadata ``stress_model.json`` (feature order, training data, evaluation)
from the installed package: nothing is downloaded. The model gives the
probability that a window shows high strain, from the features
:mod:`ergonomics.stress` computes. It was trained on *simulated* operators
only (docs/stress.md): a placeholder to be replaced by a model fitted on
consented real recordings, never a clinical instrument.

The model is built by::

    python -m cell.simulator.stress_recordings --out /tmp/stress_recordings.csv
    python -m ergonomics.train_stress --csv /tmp/stress_recordings.csv --out ergonomics/data/stress_model.onnx
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ergonomics.stress import FEATURES

MODEL_FILE = "stress_model.onnx"
BUILD_HINT = ("build it with `python -m cell.simulator.stress_recordings --out /tmp/stress_recordings.csv` and "
              "`python -m ergonomics.train_stress --csv /tmp/stress_recordings.csv --out "
              "ergonomics/data/stress_model.onnx`, or use StressEstimator(method='rules')")


class StressModelError(RuntimeError):
    """The stress model cannot be used (missing, unreadable, or built for other features)."""


class StressModelMissing(StressModelError, FileNotFoundError):
    pass


def default_model_path() -> Path:
    return Path(str(resources.files("ergonomics") / "data" / MODEL_FILE))


class StressModel:
    def __init__(self, session, metadata: dict, path: Path):
        self._session = session
        self.metadata = metadata
        self.path = path
        self.features: tuple[str, ...] = tuple(metadata["features"])
        self._input = session.get_inputs()[0].name
        outputs = [o.name for o in session.get_outputs()]
        self._output = "probabilities" if "probabilities" in outputs else outputs[-1]

    @classmethod
    def load(cls, path: str | Path | None = None) -> "StressModel":
        """Load the ONNX model (default: the one shipped in ergonomics/data) and its JSON next to it."""
        path = Path(path) if path is not None else default_model_path()
        meta_path = path.with_suffix(".json")
        if not path.is_file():
            raise StressModelMissing(f"stress model file {path} is missing; {BUILD_HINT}")
        if not meta_path.is_file():
            raise StressModelMissing(f"stress model metadata {meta_path} is missing (it is written next to the "
                                     f"model by ergonomics.train_stress); {BUILD_HINT}")
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise StressModelError("the stress model needs onnxruntime (pip install onnxruntime)") from exc
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        if tuple(metadata.get("features", ())) != FEATURES:
            raise StressModelError(
                f"{path} was trained on features {metadata.get('features')}, but ergonomics.stress computes "
                f"{list(FEATURES)}: retrain it; {BUILD_HINT}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # the core runs in one thread, like everything else in it
        opts.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise StressModelError(f"cannot load the stress model {path}: {exc}") from exc
        return cls(session, metadata, path)

    def predict_proba(self, rows: Sequence[Sequence[float]]) -> np.ndarray:
        """P(high strain) for each row of features (in FEATURES order)."""
        x = np.asarray(rows, dtype=np.float32).reshape(-1, len(self.features))
        out = self._session.run([self._output], {self._input: x})[0]
        out = np.asarray(out)
        return out[:, 1] if out.ndim == 2 else out

    def predict_one(self, values: Mapping[str, float]) -> float:
        return float(self.predict_proba([[values[k] for k in self.features]])[0])
