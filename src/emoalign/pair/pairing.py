"""EMID pairing on arrays: vectors and V–A points in, candidates with every score component out.

`pair_arrays` is the whole numeric pipeline of the paper's Figure 2 for N clips × M images:
top-K candidates by cosine (exact in blocks, or faiss ANN), S/E/T for each candidate
(`emoalign.pair.score`), the ``keep`` best per clip by T at the chosen α and — on the same
candidates — by T at α = 1 (the semantic-only baseline). No I/O: `emoalign.pair.build` feeds it
from the feature store, the benchmark feeds it generated arrays.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.standard_normal((4, 8)), rng.standard_normal((30, 8))
>>> res = pair_arrays(X, Y, rng.uniform(-1, 1, (4, 2)), rng.uniform(-1, 1, (30, 2)), top_k=5, keep=2)
>>> res.chosen.shape, res.baseline.shape, sorted(res.components)[:3]
((4, 2), (4, 2), ['E', 'E_cos', 'S'])
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from emoalign.numeric import unit_rows
from emoalign.pair.blocked import DEFAULT_MEMORY_BUDGET, TopK, ann_topk, exact_topk
from emoalign.pair.score import DEFAULT_TOP_K, PAPER_ALPHA, PAPER_KEEP, PAPER_TEMPERATURE, SNorm, score_candidates, select

SearchMethod = Literal["exact", "ivf", "hnsw"]


@dataclass
class PairingResult:
    """Candidates (N, K) and the picks. ``chosen``/``baseline`` hold candidate columns (−1: none)."""

    index: np.ndarray  # (N, K) image index per candidate, sorted by cosine (−1: no candidate)
    components: dict[str, np.ndarray]  # each (N, K): cos, S_rel, S_topk, S_softmax, S, E_cos, E, va_dist, T
    chosen: np.ndarray  # (N, keep) columns of the best by T at alpha
    baseline: np.ndarray  # (N, keep) columns of the best by T at alpha = 1 (cosine order)
    alpha: float
    stats: dict = field(default_factory=dict)

    @property
    def valid(self) -> np.ndarray:
        return self.index >= 0


def search(
    X: np.ndarray, Y: np.ndarray, k: int, *, method: SearchMethod = "exact", temperature: float | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET, seed: int = 0, threads: int | None = None, progress: bool = False,
    checkpoint=None,
) -> TopK:
    """Top-``k`` images per clip by inner product of (already unit) vectors."""
    if method == "exact":
        return exact_topk(X, Y, k, memory_budget=memory_budget, temperature=temperature, threads=threads, progress=progress,
                          checkpoint=checkpoint)
    if method in ("ivf", "hnsw"):
        return ann_topk(X, Y, k, method=method, seed=seed, threads=threads)
    raise ValueError(f"unknown search method {method!r}; use exact, ivf or hnsw")


def pair_arrays(
    X: np.ndarray,
    Y: np.ndarray,
    music_va: np.ndarray,
    image_va: np.ndarray,
    *,
    alpha: float = PAPER_ALPHA,
    top_k: int = DEFAULT_TOP_K,
    keep: int = PAPER_KEEP,
    temperature: float = PAPER_TEMPERATURE,
    s_norm: SNorm = "relative",
    method: SearchMethod = "exact",
    full_softmax: bool = True,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    seed: int = 0,
    threads: int | None = None,
    normalise: bool = True,
    progress: bool = False,
    checkpoint=None,
) -> PairingResult:
    """Candidates by cosine, scored by S, E and T; picks at ``alpha`` and at α = 1.

    ``X`` (N, d), ``Y`` (M, d): vectors of one space (unit-normalised here unless
    ``normalise=False``). ``music_va`` (N, 2), ``image_va`` (M, 2): valence, arousal in [-1, 1].
    ``full_softmax`` accumulates each row's log-sum-exp over all M images (exact search only) so
    that the paper's literal S is stored too. ``checkpoint``: a folder for finished row blocks of the
    exact search (an interrupted run resumes; see `exact_topk`).
    """
    if keep > top_k:
        raise ValueError(f"keep ({keep}) cannot exceed top_k ({top_k}): picks come from the candidates")
    music_va, image_va = np.asarray(music_va, dtype=np.float64), np.asarray(image_va, dtype=np.float64)
    if music_va.shape != (len(X), 2) or image_va.shape != (len(Y), 2):
        raise ValueError(f"V–A arrays must be (N, 2) and (M, 2); got {music_va.shape}, {image_va.shape} for N={len(X)}, M={len(Y)}")
    if normalise:
        X, Y = unit_rows(X, np.float32), unit_rows(Y, np.float32)
    t0 = time.perf_counter()
    top = search(X, Y, top_k, method=method, temperature=temperature if (full_softmax and method == "exact") else None,
                 memory_budget=memory_budget, seed=seed, threads=threads, progress=progress, checkpoint=checkpoint)
    t1 = time.perf_counter()
    valid = top.index >= 0
    cand_va = image_va[np.where(valid, top.index, 0)]
    comps = score_candidates(
        np.where(valid, top.scores, -np.inf), music_va, cand_va, alpha=alpha, temperature=temperature, s_norm=s_norm,
        log_norm=top.log_norm,
    )
    for name, arr in comps.items():  # candidates that do not exist carry no score
        if name not in ("cos",):
            comps[name] = np.where(valid, arr, np.nan)
    chosen = select(np.where(valid, comps["T"], -np.inf), keep, valid)
    T1 = np.where(valid, comps["S"], -np.inf)  # α = 1: T = S, which orders like the cosine
    baseline = select(T1, keep, valid)
    stats = {"search": top.stats, "search_s": t1 - t0, "score_s": time.perf_counter() - t1}
    return PairingResult(top.index, comps, chosen, baseline, alpha, stats)
