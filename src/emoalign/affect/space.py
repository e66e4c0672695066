"""Operations in the shared affect space: expected coordinates, closeness, taxonomy mapping.

Mapping a distribution from taxonomy A to taxonomy B goes label by label:
- where a label of A and a label of B name the same concept (the ``concept`` field of the
  taxonomy data, e.g. RAVDESS ``fearful`` and FER ``fear``), its mass moves there directly;
- otherwise its mass spreads over B's labels with Gaussian weights on valence–arousal distance,
  ``w_j ∝ exp(−d_j² / 2σ²)`` (σ = 0.25 on the [-1, 1] scale by default: neighbours a quarter of
  the axis away keep ~60 % of the weight of an exact match).

>>> from emoalign.affect import get_taxonomy
>>> p = map_distribution({"fearful": 1.0}, "ravdess8", "fer7")
>>> max(p, key=p.get)
'fear'
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from emoalign.affect.taxonomy import Taxonomy, get_taxonomy, list_taxonomies
from emoalign.types import Affect

DEFAULT_SIGMA = 0.25


def _tax(t: str | Taxonomy) -> Taxonomy:
    return get_taxonomy(t) if isinstance(t, str) else t


def probs_vector(probs: Mapping[str, float], taxonomy: str | Taxonomy) -> np.ndarray:
    """A distribution as a vector in the taxonomy's label order (labels looked up by name/synonym)."""
    tax = _tax(taxonomy)
    vec = np.zeros(len(tax))
    for name, p in probs.items():
        vec[tax.index(name)] += float(p)
    total = vec.sum()
    if total <= 0:
        raise ValueError(f"distribution over {tax.name!r} has no mass: {dict(probs)}")
    return vec / total


def expected_va(probs: Mapping[str, float], taxonomy: str | Taxonomy) -> tuple[float, float]:
    """Valence and arousal of a distribution: the probability-weighted mean of its labels' points."""
    tax = _tax(taxonomy)
    v, a = probs_vector(probs, tax) @ tax.va
    return float(v), float(a)


def affect_from_probs(probs: Mapping[str, float], taxonomy: str | Taxonomy) -> Affect:
    """An `Affect` whose valence/arousal are the expectation over the taxonomy's label points."""
    tax = _tax(taxonomy)
    vec = probs_vector(probs, tax)
    v, a = vec @ tax.va
    return Affect(tax.name, dict(zip(tax.names, vec.tolist())), float(v), float(a))


def mapping_matrix(source: str | Taxonomy, target: str | Taxonomy, sigma: float = DEFAULT_SIGMA) -> np.ndarray:
    """(n_source, n_target) row-stochastic matrix used by `map_distribution`."""
    src, tgt = _tax(source), _tax(target)
    d2 = ((src.va[:, None, :] - tgt.va[None, :, :]) ** 2).sum(-1)
    weights = np.exp(-d2 / (2 * sigma**2))
    for i, label in enumerate(src.labels):
        same = [j for j, t in enumerate(tgt.labels) if label.concept and t.concept == label.concept]
        if same:
            weights[i] = 0.0
            weights[i, same] = 1.0
    return weights / weights.sum(axis=1, keepdims=True)


def map_distribution(
    probs: Mapping[str, float], source: str | Taxonomy, target: str | Taxonomy, sigma: float = DEFAULT_SIGMA
) -> dict[str, float]:
    """Carry a distribution over ``source``'s labels to ``target``'s labels (see module doc)."""
    src, tgt = _tax(source), _tax(target)
    out = probs_vector(probs, src) @ mapping_matrix(src, tgt, sigma)
    return dict(zip(tgt.names, out.tolist()))


def va_weights(va: np.ndarray, label_va: np.ndarray, sigma: float = DEFAULT_SIGMA) -> np.ndarray:
    """Gaussian weights of label points around valence–arousal points, each row summing to 1.

    ``va`` is (n, 2), ``label_va`` is (k, 2); returns (n, k) with ``w ∝ exp(−d² / 2σ²)``. The
    exponent is shifted by each row's smallest distance, so a point far from every label still
    gets a finite distribution (its nearest label's) instead of all zeros.

    >>> va_weights(np.array([[0.0, 0.0], [9.0, 9.0]]), np.array([[0.0, 0.0], [1.0, 1.0]])).round(3)
    array([[1., 0.],
           [0., 1.]])
    """
    va = np.atleast_2d(np.asarray(va, dtype=np.float64))
    d2 = ((va[:, None, :] - np.asarray(label_va, dtype=np.float64)[None, :, :]) ** 2).sum(-1)
    w = np.exp(-(d2 - d2.min(axis=1, keepdims=True)) / (2 * sigma**2))
    return w / w.sum(axis=1, keepdims=True)


def va_to_distribution(valence: float, arousal: float, taxonomy: str | Taxonomy, sigma: float = DEFAULT_SIGMA) -> dict[str, float]:
    """A distribution over ``taxonomy``'s labels from one valence–arousal point (`va_weights`).

    What an encoder that predicts only valence and arousal reports as its label distribution.

    >>> p = va_to_distribution(-0.7, -0.45, "emid13")
    >>> max(p, key=p.get), round(sum(p.values()), 6)
    ('sad/depressing', 1.0)
    """
    tax = _tax(taxonomy)
    return dict(zip(tax.names, va_weights(np.array([[valence, arousal]]), tax.va, sigma)[0].tolist()))


def nearest_label(valence: float, arousal: float, taxonomy: str | Taxonomy) -> str:
    """The label of ``taxonomy`` closest to a valence–arousal point."""
    tax = _tax(taxonomy)
    d2 = ((tax.va - np.array([valence, arousal])) ** 2).sum(1)
    return tax.names[int(np.argmin(d2))]


def va_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of valence–arousal points about the neutral origin, pairwise.

    ``a`` is (n, 2), ``b`` is (m, 2); returns (n, m) in [-1, 1]. A point at the origin has no
    direction; its cosine with anything is 0.
    """
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    a_unit = np.divide(a, na, out=np.zeros_like(a), where=na > 1e-12)
    b_unit = np.divide(b, nb, out=np.zeros_like(b), where=nb > 1e-12)
    return a_unit @ b_unit.T


def va_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between valence–arousal points, pairwise: (n, 2) × (m, 2) → (n, m)."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def category_from(labels: Mapping[str, str], affect: Affect | None, va: tuple[float, float], taxonomy: str) -> str:
    """The item's category in ``taxonomy``: its own label there, a label carried over, or the nearest label."""
    tax = _tax(taxonomy)
    if labels.get(taxonomy):
        return tax.label(labels[taxonomy]).name
    for name, label in sorted(labels.items()):
        if name in list_taxonomies() and label:
            probs = map_distribution({label: 1.0}, name, taxonomy)
            return max(probs, key=probs.get)
    if affect is not None and affect.taxonomy in list_taxonomies():
        probs = map_distribution(dict(affect.probs), affect.taxonomy, taxonomy)
        return max(probs, key=probs.get)
    return nearest_label(va[0], va[1], taxonomy)
