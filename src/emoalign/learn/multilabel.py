"""Heads for many emotions at once: one binary classifier or one intensity regressor per label.

EmoNet-Face's EmpathicInsight-Face is 40 independent heads on one image embedding; these are the
linear counterparts, saved as plain arrays like `emoalign.encode.heads`.

>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(60, 5)); Y = (X[:, :2] > 0).astype(float)
>>> head = MultiLabelHead(labels=("a", "b")).fit(X, Y)
>>> head.predict_proba(X).shape
(60, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emoalign.encode.heads import load_head_arrays, save_head_arrays


@dataclass
class MultiLabelHead:
    """One L2 logistic regression per label on standardised features (targets may be soft: ≥ 0.5 → 1).

    A label with only one class in the training data gets a constant prior instead of a model.
    """

    labels: tuple[str, ...]
    C: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)
    mean_: np.ndarray | None = None
    scale_: np.ndarray | None = None
    coef_: np.ndarray | None = None
    intercept_: np.ndarray | None = None

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "MultiLabelHead":
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(X, dtype=np.float64)
        Y = (np.asarray(Y, dtype=np.float64) >= 0.5).astype(int)
        if Y.shape != (len(X), len(self.labels)):
            raise ValueError(f"targets have shape {Y.shape}, expected ({len(X)}, {len(self.labels)})")
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0) + 1e-8
        Z = (X - self.mean_) / self.scale_
        self.coef_ = np.zeros((len(self.labels), X.shape[1]))
        self.intercept_ = np.zeros(len(self.labels))
        for j in range(len(self.labels)):
            positives = Y[:, j].mean()
            if 0 < positives < 1:
                m = LogisticRegression(C=self.C, max_iter=2000).fit(Z, Y[:, j])
                self.coef_[j], self.intercept_[j] = m.coef_[0], m.intercept_[0]
            else:  # constant label in training data: predict its (smoothed) prior
                p = (Y[:, j].sum() + 0.5) / (len(Y) + 1.0)
                self.intercept_[j] = np.log(p / (1 - p))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.coef_ is None:
            raise RuntimeError("head is not fitted: call fit() or load()")
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        return 1.0 / (1.0 + np.exp(-(Z @ self.coef_.T + self.intercept_)))

    def save(self, path: str | Path) -> Path:
        return save_head_arrays(path, "multilabel", self.meta, labels=np.array(self.labels), mean=self.mean_, scale=self.scale_,
                     coef=self.coef_, intercept=self.intercept_, hyper=np.array([self.C]))

    @classmethod
    def load(cls, path: str | Path) -> "MultiLabelHead":
        a, meta = load_head_arrays(path, "multilabel")
        return cls(labels=tuple(str(l) for l in a["labels"]), C=float(a["hyper"][0]), meta=meta,
                   mean_=a["mean"], scale_=a["scale"], coef_=a["coef"], intercept_=a["intercept"])


@dataclass
class IntensityHead:
    """Ridge regression of an ordinal intensity per label (EmoNet-Face hq: 0–7), clipped to the scale."""

    labels: tuple[str, ...]
    alpha: float = 10.0
    low: float = 0.0
    high: float = 7.0
    meta: dict[str, Any] = field(default_factory=dict)
    mean_: np.ndarray | None = None
    scale_: np.ndarray | None = None
    coef_: np.ndarray | None = None
    intercept_: np.ndarray | None = None

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "IntensityHead":
        from sklearn.linear_model import Ridge

        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        if Y.shape != (len(X), len(self.labels)):
            raise ValueError(f"targets have shape {Y.shape}, expected ({len(X)}, {len(self.labels)})")
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0) + 1e-8
        m = Ridge(alpha=self.alpha).fit((X - self.mean_) / self.scale_, Y)
        self.coef_, self.intercept_ = np.atleast_2d(m.coef_), np.atleast_1d(m.intercept_)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.coef_ is None:
            raise RuntimeError("head is not fitted: call fit() or load()")
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        return np.clip(Z @ self.coef_.T + self.intercept_, self.low, self.high)

    def save(self, path: str | Path) -> Path:
        return save_head_arrays(path, "intensity", self.meta, labels=np.array(self.labels), mean=self.mean_, scale=self.scale_,
                     coef=self.coef_, intercept=self.intercept_, hyper=np.array([self.alpha, self.low, self.high]))

    @classmethod
    def load(cls, path: str | Path) -> "IntensityHead":
        a, meta = load_head_arrays(path, "intensity")
        alpha, low, high = (float(x) for x in a["hyper"])
        return cls(labels=tuple(str(l) for l in a["labels"]), alpha=alpha, low=low, high=high, meta=meta,
                   mean_=a["mean"], scale_=a["scale"], coef_=a["coef"], intercept_=a["intercept"])
