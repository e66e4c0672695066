"""Metrics used across the project, numpy in, float (or dict) out.

Classification: accuracy, weighted F1, macro F1, UAR (unweighted average recall).
Ordinal / continuous: quadratic-weighted kappa (EmoNet-Face hq), CCC, Pearson.
Multi-label: per-label ROC AUC (EmoNet-Face binary). Retrieval: Recall@K, mean rank.

>>> classification_report(["a", "b", "b"], ["a", "b", "a"])["accuracy"]
0.6666666666666666
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def classification_report(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None) -> dict:
    """accuracy, weighted_f1, macro_f1, uar, per-class recall/F1/support and the confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support, recall_score

    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels vs {len(y_pred)} predictions")
    if not y_true:
        raise ValueError("no examples to evaluate")
    labels = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    present = [l for l in labels if l in set(y_true)]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "uar": float(recall_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "labels": labels,
        "per_class": {l: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])} for i, l in enumerate(labels)},
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def quadratic_weighted_kappa(a: Sequence[int], b: Sequence[int], min_rating: int = 0, max_rating: int = 7) -> float:
    """Cohen's kappa with quadratic weights on an ordinal scale (EmoNet-Face hq uses 0–7).

    >>> quadratic_weighted_kappa([0, 3, 7], [0, 3, 7])
    1.0
    """
    from sklearn.metrics import cohen_kappa_score

    a = np.clip(np.rint(np.asarray(a)), min_rating, max_rating).astype(int)
    b = np.clip(np.rint(np.asarray(b)), min_rating, max_rating).astype(int)
    if len(a) != len(b) or len(a) == 0:
        raise ValueError("kappa needs two non-empty rating lists of equal length")
    if len(set(a.tolist()) | set(b.tolist())) == 1:
        return 1.0  # both raters constant and equal: perfect agreement (sklearn returns nan)
    return float(cohen_kappa_score(a, b, weights="quadratic", labels=list(range(min_rating, max_rating + 1))))


def ccc(x: Sequence[float], y: Sequence[float]) -> float:
    """Lin's concordance correlation coefficient (agreement of continuous ratings, e.g. valence)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    mx, my = x.mean(), y.mean()
    cov = ((x - mx) * (y - my)).mean()
    return float(2 * cov / (x.var() + y.var() + (mx - my) ** 2 + 1e-12))


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    return float(np.corrcoef(np.asarray(x, float), np.asarray(y, float))[0, 1])


def per_label_auc(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str]) -> dict[str, float | None]:
    """ROC AUC per label for multi-label targets (None where a label has only one class in y_true)."""
    from sklearn.metrics import roc_auc_score

    y_true, scores = np.asarray(y_true), np.asarray(scores)
    out: dict[str, float | None] = {}
    for j, label in enumerate(labels):
        col = y_true[:, j]
        out[label] = float(roc_auc_score(col, scores[:, j])) if 0 < col.sum() < len(col) else None
    return out


def ranks_of_targets(similarity: np.ndarray, targets: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """1-based rank of the best-ranked relevant item for each query row.

    ``similarity`` is (n_queries, n_items); ``targets[i]`` lists the relevant item indices of query i.
    """
    similarity = np.asarray(similarity)
    ranks = np.empty(len(similarity), dtype=np.int64)
    for i, rel in enumerate(targets):
        rel = np.atleast_1d(np.asarray(rel, dtype=np.int64))
        best = similarity[i, rel].max()
        ranks[i] = 1 + int((similarity[i] > best).sum())
    return ranks


def recall_at_k(ranks: np.ndarray, k: int) -> float:
    """Share of queries whose first relevant item is within the top k.

    >>> recall_at_k(np.array([1, 3, 11]), 10)
    0.6666666666666666
    """
    return float((np.asarray(ranks) <= k).mean())
