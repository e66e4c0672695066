"""EMID's pairing score, T = α·S + (1 − α)·E, on numpy arrays of candidates.

The paper (Zou et al. 2023, arXiv 2308.07622, Fig. 2) embeds music X and images Y in ImageBind's
joint space, takes S = softmax(X·Yᵀ) row-wise, keeps the K images with the highest S per clip,
scores emotional closeness E from the cosine between clip and candidate in valence–arousal space,
and keeps the m best by T = α·S + (1 − α)·E (released set: m = 3, α = 0.6).

Temperature (the paper's choice)
--------------------------------
ImageBind's outputs are not plain unit vectors: its vision head ends in ``Normalize`` and its audio
head in ``Normalize`` followed by a *fixed* ``LearnableLogitScaling(logit_scale_init=20.0,
learnable=False)`` (imagebind/models/imagebind_model.py). So ``X·Yᵀ`` on raw ImageBind outputs is
``20 · cos``: the paper's softmax has temperature τ = 1/20 = 0.05 on cosine similarity.
`PAPER_TEMPERATURE` is that value; every backend here returns unit vectors, so ``softmax(cos/τ)``
with τ = 0.05 is the paper's S for ImageBind and the same recipe for the others.

Making S and E commensurable (a documented departure)
-----------------------------------------------------
Taken literally, S is a softmax over *every* image of the collection: with thousands of images it
is ~1/M for most candidates (and still far below 1 for the best), while E lies in [0, 1]. Then
T ≈ (1 − α)·E + tiny, so α barely matters and the semantic term only pre-selects the K candidates.
Its size also shifts with the collection size M. We therefore rescale S *within each clip's row*:

* ``"relative"`` (default): S_rel = S / max_j S = exp((cos − cos_max)/τ) ∈ (0, 1]. This is the
  paper's softmax divided by one constant per row, so inside a row the ordering *and the ratios*
  between candidates are exactly the paper's; the best candidate scores 1 whatever M is, so S and
  E share the [0, 1] range and α weighs comparable quantities.
* ``"topk"``: the softmax renormalised over the K candidates (sums to 1 over them; mean 1/K, so it
  still shrinks with K — offered for comparison).
* ``"softmax"``: the literal full softmax (needs the row's log-sum-exp over all M images, which
  `emoalign.pair.blocked.exact_topk` accumulates). Reproduces the paper's arithmetic verbatim.

All three are saved per pair (columns ``S_softmax``, ``S_topk``, ``S_rel``), plus the raw cosine.
Whichever is used, α = 1 ranks by cosine alone: the semantic-only baseline.

Emotional score
---------------
E_cos = cosine between the clip's and the image's (valence, arousal) about the neutral origin
(the definition of `emoalign.affect.va_cosine`, in [-1, 1]; a point at the origin has no direction → 0). The paper
turns the cosine *distance* into a closeness; we use E = (1 + E_cos)/2 = 1 − d_cos/2 ∈ [0, 1]
(1: same direction, 0.5: orthogonal or neutral, 0: opposite).

>>> import numpy as np
>>> cos = np.array([[0.9, 0.8, 0.7]])
>>> s = semantic_scores(cos, temperature=0.05)
>>> np.round(s["S_rel"], 3).tolist()
[[1.0, 0.135, 0.018]]
>>> e = emotional_scores(np.array([[0.5, 0.5]]), np.array([[[0.5, 0.5], [-0.5, -0.5], [0.5, -0.5]]]))
>>> e["E"].round(6).tolist()
[[1.0, 0.0, 0.5]]
>>> combine(s["S_rel"], e["E"], alpha=0.6).round(3).tolist()
[[1.0, 0.081, 0.211]]
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from emoalign.numeric import softmax, unit_rows

#: τ of the paper: ImageBind's audio head multiplies unit vectors by a fixed logit scale of 20.
PAPER_TEMPERATURE = 0.05
#: The released EMID: α = 0.6, m = 3 images per clip.
PAPER_ALPHA = 0.6
PAPER_KEEP = 3
DEFAULT_TOP_K = 10

SNorm = Literal["relative", "topk", "softmax"]
S_NORMS: tuple[str, ...] = ("relative", "topk", "softmax")


def space_temperature(X: np.ndarray, Y: np.ndarray, *, sample: int = 20_000, seed: int = 0) -> float:
    """τ in the space's own units: the standard deviation of clip–image cosines (unit rows assumed).

    τ = 0.05 is ImageBind's logit scale; other spaces spread their cosines differently (the
    hand-built ``xmodal`` axes over ±1, sentence spaces over a few tenths), so the same τ makes S
    a near step function in one and flat in another, and α would not mean the same. With τ = σ,
    S_rel = exp(−Δ/σ): a candidate one standard deviation of the collection's cosines below the best
    scores e⁻¹ in any space. σ is taken over all pairs when N·M ≤ ``sample``, else over ``sample``
    seeded random pairs (deterministic).

    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.standard_normal((200, 16)), rng.standard_normal((300, 16))
    >>> X /= np.linalg.norm(X, axis=1, keepdims=True); Y /= np.linalg.norm(Y, axis=1, keepdims=True)
    >>> round(space_temperature(X, Y), 2)  # random 16-d directions: σ ≈ 1/√16
    0.25
    """
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    n, m = len(X), len(Y)
    if n == 0 or m == 0:
        return PAPER_TEMPERATURE
    if n * m <= sample:
        cos = (X @ Y.T).ravel()
    else:
        rng = np.random.default_rng(seed)
        i, j = rng.integers(0, n, sample), rng.integers(0, m, sample)
        cos = np.einsum("nd,nd->n", X[i], Y[j])
    return float(max(cos.std(), 1e-3))


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable (max subtracted), float64.

    >>> softmax_rows(np.array([[0.0, 0.0]])).tolist()
    [[0.5, 0.5]]
    """
    return softmax(logits, axis=1, dtype=np.float64)


def semantic_scores(
    cos: np.ndarray, temperature: float = PAPER_TEMPERATURE, log_norm: np.ndarray | None = None,
    topk_columns: int | None = None,
) -> dict[str, np.ndarray]:
    """Every normalisation of the semantic score for (n, K) candidate cosines.

    ``log_norm`` is each row's log Σ_j exp(cos_j/τ) over *all* images (from `exact_topk` with
    ``temperature=``); without it ``S_softmax`` is NaN (unknown), the others are exact.
    Candidates that do not exist (cos = −inf, fewer than K images) score 0. ``topk_columns``:
    ``S_topk`` renormalises over the first that many columns only (the semantic top-K, when
    emotion-aware candidates follow them), so it means the same whatever else is a candidate.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    cos = np.asarray(cos, dtype=np.float64)
    if cos.ndim != 2:
        raise ValueError(f"cosines must be (n, K), got shape {cos.shape}")
    z = cos / temperature
    row_max = np.max(z, axis=1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    rel = np.exp(z - row_max)  # −inf → 0
    topk = rel / np.maximum(rel[:, :topk_columns].sum(axis=1, keepdims=True), 1e-300)
    if log_norm is None:
        full = np.full_like(cos, np.nan)
    else:
        full = np.exp(z - np.asarray(log_norm, dtype=np.float64)[:, None])
    return {"cos": cos, "S_rel": rel, "S_topk": topk, "S_softmax": full}


def emotional_scores(music_va: np.ndarray, image_va: np.ndarray) -> dict[str, np.ndarray]:
    """E for each clip's candidates: ``music_va`` (n, 2), ``image_va`` (n, K, 2) → (n, K) arrays.

    Returns ``E_cos`` (cosine in V–A space, [-1, 1]), ``E`` = (1 + E_cos)/2 and ``va_dist``
    (Euclidean distance in V–A space, for reports).
    """
    music_va = np.asarray(music_va, dtype=np.float64)
    image_va = np.asarray(image_va, dtype=np.float64)
    n, k = image_va.shape[:2]
    if music_va.shape != (n, 2) or image_va.shape != (n, k, 2):
        raise ValueError(f"expected music (n, 2) and images (n, K, 2); got {music_va.shape} and {image_va.shape}")
    # `va_cosine` is pairwise (n × m); here each row has its own K candidates, so the same
    # definition (unit vectors about the origin, zero vector → 0) is applied row-wise in bulk.
    cos = np.einsum("nd,nkd->nk", unit_rows(music_va), unit_rows(image_va))
    dist = np.sqrt(((music_va[:, None, :] - image_va) ** 2).sum(-1))
    return {"E_cos": cos, "E": (1.0 + cos) / 2.0, "va_dist": dist}


def combine(S: np.ndarray, E: np.ndarray, alpha: float) -> np.ndarray:
    """T = α·S + (1 − α)·E."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return alpha * np.asarray(S, dtype=np.float64) + (1.0 - alpha) * np.asarray(E, dtype=np.float64)


def select(T: np.ndarray, keep: int, valid: np.ndarray | None = None) -> np.ndarray:
    """Column order of the ``keep`` best candidates per row, best first: (n, keep) int array.

    Ties in T go to the better semantic rank (lower column: candidates arrive sorted by cosine),
    so the result is deterministic. Invalid candidates (``valid`` False) come last, as −1.
    """
    T = np.asarray(T, dtype=np.float64)
    n, k = T.shape
    keep = min(keep, k)
    key = np.where(valid, T, -np.inf) if valid is not None else T
    cols = np.broadcast_to(np.arange(k), (n, k))
    # lexsort: last key is primary → sort by −T, then column
    order = np.lexsort((cols, -key), axis=1)[:, :keep]
    if valid is not None:
        order = np.where(np.take_along_axis(valid, order, axis=1), order, -1)
    return order


def score_candidates(
    cos: np.ndarray,
    music_va: np.ndarray,
    image_va: np.ndarray,
    *,
    alpha: float = PAPER_ALPHA,
    temperature: float = PAPER_TEMPERATURE,
    s_norm: SNorm = "relative",
    log_norm: np.ndarray | None = None,
    topk_columns: int | None = None,
) -> dict[str, np.ndarray]:
    """All components for (n, K) candidates: cos, S_rel, S_topk, S_softmax, S (the one used), E_cos, E, va_dist, T.

    ``topk_columns``: see `semantic_scores`.
    """
    if s_norm not in S_NORMS:
        raise ValueError(f"s_norm must be one of {S_NORMS}, got {s_norm!r}")
    if s_norm == "softmax" and log_norm is None:
        raise ValueError("s_norm='softmax' needs log_norm (each row's log-sum-exp over all images)")
    out = semantic_scores(cos, temperature, log_norm, topk_columns)
    out["S"] = out[{"relative": "S_rel", "topk": "S_topk", "softmax": "S_softmax"}[s_norm]]
    out.update(emotional_scores(music_va, image_va))
    out["T"] = combine(out["S"], out["E"], alpha)
    return out
