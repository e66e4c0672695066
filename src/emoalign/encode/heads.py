"""Heads: small learners on top of embeddings, scikit-learn style, saved as plain arrays.

A head is fitted with scikit-learn and then kept as its parameters only (mean, scale, weights,
biases, class names) in one ``.npz`` file, so loading needs numpy alone, works across
scikit-learn versions and never unpickles code.

>>> import numpy as np
>>> X = np.r_[np.random.default_rng(0).normal(0, 1, (20, 4)), np.random.default_rng(1).normal(3, 1, (20, 4))]
>>> y = ["sad"] * 20 + ["happy"] * 20
>>> head = LinearClassifierHead().fit(X, y)
>>> head.predict(X[:1])[0], head.classes_
('sad', ('happy', 'sad'))
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emoalign.numeric import softmax


@dataclass
class LinearClassifierHead:
    """Standardise, then multinomial logistic regression (L2, ``C``; balanced class weights by default)."""

    C: float = 1.0
    class_weight: str | None = "balanced"
    max_iter: int = 2000
    meta: dict[str, Any] = field(default_factory=dict)
    mean_: np.ndarray | None = None
    scale_: np.ndarray | None = None
    coef_: np.ndarray | None = None
    intercept_: np.ndarray | None = None
    classes_: tuple[str, ...] = ()

    def fit(self, X: np.ndarray, y: Sequence[str], sample_weight: np.ndarray | None = None) -> "LinearClassifierHead":
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0) + 1e-8
        model = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter)
        model.fit((X - self.mean_) / self.scale_, np.asarray(y), sample_weight=sample_weight)
        self.classes_ = tuple(str(c) for c in model.classes_)
        coef, intercept = model.coef_, model.intercept_
        if len(self.classes_) == 2:  # sklearn keeps one row for binary problems
            coef = np.vstack([-coef[0], coef[0]]) / 2
            intercept = np.array([-intercept[0], intercept[0]]) / 2
        self.coef_, self.intercept_ = coef, intercept
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        return Z @ self.coef_.T + self.intercept_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(self.decision_function(X), axis=1)

    def predict(self, X: np.ndarray) -> list[str]:
        return [self.classes_[i] for i in self.predict_proba(X).argmax(axis=1)]

    def _check_fitted(self) -> None:
        if self.coef_ is None:
            raise RuntimeError("head is not fitted: call fit() or load()")

    def save(self, path: str | Path) -> Path:
        self._check_fitted()
        return save_head_arrays(path, "linear-classifier", self.meta, classes=np.array(self.classes_),
                     mean=self.mean_, scale=self.scale_, coef=self.coef_, intercept=self.intercept_,
                     hyper=np.array([self.C]))

    @classmethod
    def load(cls, path: str | Path) -> "LinearClassifierHead":
        arrays, meta = load_head_arrays(path, "linear-classifier")
        return cls(C=float(arrays["hyper"][0]), meta=meta, mean_=arrays["mean"], scale_=arrays["scale"],
                   coef_=arrays["coef"], intercept_=arrays["intercept"], classes_=tuple(str(c) for c in arrays["classes"]))


@dataclass
class LinearRegressorHead:
    """Standardise, then ridge regression to one or more targets (e.g. valence and arousal)."""

    alpha: float = 1.0
    targets: tuple[str, ...] = ("valence", "arousal")
    meta: dict[str, Any] = field(default_factory=dict)
    mean_: np.ndarray | None = None
    scale_: np.ndarray | None = None
    coef_: np.ndarray | None = None
    intercept_: np.ndarray | None = None

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "LinearRegressorHead":
        from sklearn.linear_model import Ridge

        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64).reshape(len(X), -1)
        if Y.shape[1] != len(self.targets):
            raise ValueError(f"{Y.shape[1]} target columns for targets {self.targets}")
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0) + 1e-8
        model = Ridge(alpha=self.alpha).fit((X - self.mean_) / self.scale_, Y)
        self.coef_ = np.atleast_2d(model.coef_)
        self.intercept_ = np.atleast_1d(model.intercept_)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.coef_ is None:
            raise RuntimeError("head is not fitted: call fit() or load()")
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        return Z @ self.coef_.T + self.intercept_

    def save(self, path: str | Path) -> Path:
        if self.coef_ is None:
            raise RuntimeError("head is not fitted")
        return save_head_arrays(path, "linear-regressor", self.meta, targets=np.array(self.targets), mean=self.mean_,
                     scale=self.scale_, coef=self.coef_, intercept=self.intercept_, hyper=np.array([self.alpha]))

    @classmethod
    def load(cls, path: str | Path) -> "LinearRegressorHead":
        arrays, meta = load_head_arrays(path, "linear-regressor")
        return cls(alpha=float(arrays["hyper"][0]), targets=tuple(str(t) for t in arrays["targets"]), meta=meta,
                   mean_=arrays["mean"], scale_=arrays["scale"], coef_=arrays["coef"], intercept_=arrays["intercept"])


def save_head_arrays(path: str | Path, kind: str, meta: dict, **arrays: np.ndarray) -> Path:
    """Write a head's arrays and a JSON header (``kind``, ``meta``) to one ``.npz`` file (no pickles)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = json.dumps({"kind": kind, "format": 1, "meta": meta}, ensure_ascii=False)
    from emoalign.outputs import write_atomic

    # Atomic (temp file + rename): a stopped run never leaves half a head. np.savez on a handle
    # keeps the exact file name (no .npz appended).
    write_atomic(path, lambda fh: np.savez(fh, header=np.array(header), **arrays))
    return path


def load_head_arrays(path: str | Path, kind: str) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by `save_head_arrays`, checking it holds a head of ``kind``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"head file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:
        raise ValueError(f"{path}: not a head file ({exc})") from None
    header = json.loads(str(arrays.pop("header")))
    if header.get("kind") != kind:
        raise ValueError(f"{path}: holds a {header.get('kind')!r} head, expected {kind!r}")
    return arrays, header.get("meta", {})
