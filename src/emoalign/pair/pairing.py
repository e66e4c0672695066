"""EMID pairing on arrays: vectors and V–A points in, candidates with every score component out.

`pair_arrays` is the whole numeric pipeline of the paper's Figure 2 for N clips × M images:
candidates (the paper's top-K by cosine, exact in blocks or faiss ANN — or emotion-aware ones,
`emoalign.pair.candidates`), S/E/T for each candidate (`emoalign.pair.score`), the ``keep`` best
per clip by T at the chosen α and — on the same candidates — by T at α = 1 (the semantic-only
baseline); with emotion-aware candidates also the paper's picks at α (T on the semantic top-K
only), so the effect of the candidates is measured in the same run. No I/O:
`emoalign.pair.build` feeds it from the feature store, the benchmark feeds it generated arrays.

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
from emoalign.pair import candidates as cand
from emoalign.pair.blocked import DEFAULT_MEMORY_BUDGET, TopK, ann_topk, exact_topk
from emoalign.pair.score import DEFAULT_TOP_K, PAPER_ALPHA, PAPER_KEEP, PAPER_TEMPERATURE, SNorm, score_candidates, select

SearchMethod = Literal["exact", "ivf", "hnsw"]


@dataclass
class PairingResult:
    """Candidates (N, W) and the picks. ``chosen``/``baseline``/``paper`` hold candidate columns (−1: none).

    Columns 0..K−1 are the semantic top-K by cosine (the paper's candidates, in cosine order); with
    emotion-aware candidates, further columns hold the joint search's others and the scan's finds
    (``origin``: codes of `emoalign.pair.candidates.ORIGINS`).
    """

    index: np.ndarray  # (N, W) image index per candidate (−1: no candidate)
    components: dict[str, np.ndarray]  # each (N, W): cos, S_rel, S_topk, S_softmax, S, E_cos, E, va_dist, T
    chosen: np.ndarray  # (N, keep) columns of the best by T at alpha
    baseline: np.ndarray  # (N, keep) columns of the best by T at alpha = 1 (cosine order)
    alpha: float
    stats: dict = field(default_factory=dict)
    candidates: str = "semantic"
    top_k: int = 0  # K: the first K columns are the semantic top-K
    origin: np.ndarray | None = None  # (N, W) int8 origin codes (None: all semantic)
    paper: np.ndarray | None = None  # (N, keep) the paper's picks at alpha: T over the first K columns only
    certified: np.ndarray | None = None  # (N,) bool: the union provably holds the collection's best by T (before any scan)

    @property
    def valid(self) -> np.ndarray:
        return self.index >= 0


def search(
    X: np.ndarray, Y: np.ndarray, k: int, *, method: SearchMethod = "exact", temperature: float | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET, seed: int = 0, threads: int | None = None, progress: bool = False,
    checkpoint=None,
    joint=None,
) -> TopK:
    """Top-``k`` images per clip by inner product of (already unit) vectors (``joint``: see `exact_topk`)."""
    if method == "exact":
        return exact_topk(X, Y, k, memory_budget=memory_budget, temperature=temperature, threads=threads, progress=progress,
                          checkpoint=checkpoint, joint=joint)
    if joint is not None:
        raise ValueError("joint= is for exact search; search the joint vectors themselves with ANN")
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
    candidates: str = "semantic",
    full_softmax: bool = True,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    seed: int = 0,
    threads: int | None = None,
    normalise: bool = True,
    progress: bool = False,
    checkpoint=None,
) -> PairingResult:
    """Candidates, scored by S, E and T; picks at ``alpha`` and at α = 1.

    ``X`` (N, d), ``Y`` (M, d): vectors of one space (unit-normalised here unless
    ``normalise=False``). ``music_va`` (N, 2), ``image_va`` (M, 2): valence, arousal in [-1, 1].
    ``candidates``: ``semantic`` (the paper's top-K by cosine), ``joint``, ``global`` or ``auto``
    (see `emoalign.pair.candidates`). ``full_softmax`` accumulates each row's log-sum-exp over all
    M images (exact search only) so that the paper's literal S is stored too. ``checkpoint``: a
    folder for finished row blocks of the exact search (an interrupted run resumes; see
    `exact_topk`; with exact search the joint list is kept in the same pass and the same blocks).
    """
    if keep > top_k:
        raise ValueError(f"keep ({keep}) cannot exceed top_k ({top_k}): picks come from the candidates")
    mode = cand.resolve_mode(candidates, alpha=alpha, method=method)
    music_va, image_va = np.asarray(music_va, dtype=np.float64), np.asarray(image_va, dtype=np.float64)
    if music_va.shape != (len(X), 2) or image_va.shape != (len(Y), 2):
        raise ValueError(f"V–A arrays must be (N, 2) and (M, 2); got {music_va.shape}, {image_va.shape} for N={len(X)}, M={len(Y)}")
    if normalise:
        X, Y = unit_rows(X, np.float32), unit_rows(Y, np.float32)
    t0 = time.perf_counter()
    opts = dict(memory_budget=memory_budget, seed=seed, threads=threads, progress=progress)
    u, v = cand.unit_va(music_va), cand.unit_va(image_va)
    # exact search: the joint list comes from the same products (one pass); ANN searches the joint vectors
    fused = (u, v, alpha, (1.0 - alpha) / 2.0) if (mode != "semantic" and method == "exact") else None
    top = search(X, Y, top_k, method=method, temperature=temperature if (full_softmax and method == "exact") else None,
                 checkpoint=checkpoint, joint=fused, **opts)
    t1 = time.perf_counter()
    stats: dict = {"search": top.stats, "search_s": t1 - t0, "candidates": mode}
    certified = None
    if mode == "semantic":
        index, origin, cos = top.index, None, top.scores
    else:
        X32, Y32 = np.asarray(X, np.float32), np.asarray(Y, np.float32)
        if fused is not None:
            jt = top.joint
        else:
            jt = search(cand.joint_vectors(X32, music_va, alpha=alpha), cand.joint_vectors(Y32, image_va, alpha=alpha), top_k,
                        method=method, **opts)
            stats["joint_search"], stats["joint_search_s"] = jt.stats, time.perf_counter() - t1
        index, origin = cand.union(top.index, jt.index, lambda idx: _cosines(X32, Y32, idx))
        cos = _cosines(X32, Y32, index)
    t2 = time.perf_counter()
    comps = _score(index, cos, music_va, image_va, alpha, temperature, s_norm, top.log_norm, top_k)
    if mode != "semantic":
        valid = index >= 0
        T = np.where(valid, comps["T"], -np.inf)
        t_keep = -np.sort(-T, axis=1)[:, keep - 1] if T.shape[1] >= keep else np.full(len(T), -np.inf)
        cos_max = np.max(np.where(valid, comps["cos"], -np.inf), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            s_scale = np.nanmax(comps["S"], axis=1) / np.nanmax(comps["S_rel"], axis=1)
        s_scale = np.where(np.isfinite(s_scale), s_scale, 1.0)
        if len(Y) <= top_k:  # every image is a candidate already
            certified = np.ones(len(X), dtype=bool)
        else:
            bound = cand.bound_outside(top.scores[:, top_k - 1], jt.scores[:, top_k - 1] + (1.0 - alpha) / 2.0, cos_max, s_scale,
                                       alpha=alpha, temperature=temperature)
            certified = t_keep >= bound - cand.SLACK
        stats["certified"] = float(certified.mean()) if len(certified) else 1.0
        if mode == "global" and not certified.all():
            rows = np.flatnonzero(~certified)
            found, scan_stats = cand.scan(X32, Y32, u, v, rows, t_keep[rows], cos_max, s_scale, alpha=alpha,
                                          temperature=temperature, keep=keep, memory_budget=memory_budget)
            stats["scan"] = scan_stats
            new = np.full((len(X), keep), -1, dtype=np.int64)
            new[rows] = np.where((found[:, :, None] == index[rows][:, None, :]).any(axis=2), -1, found)
            if (new >= 0).any():
                new = -np.sort(-new, axis=1)  # valid first (order within is irrelevant: T decides)
                width = int((new >= 0).sum(axis=1).max())
                index = np.hstack([index, new[:, :width]])
                origin = np.hstack([origin, np.where(new[:, :width] >= 0, 4, 0).astype(np.int8)])
                comps = _score(index, _cosines(X32, Y32, index), music_va, image_va, alpha, temperature, s_norm,
                               top.log_norm, top_k)
        stats["mean_candidates"] = float((index >= 0).sum(axis=1).mean()) if len(index) else 0.0
    valid = index >= 0
    chosen = select(np.where(valid, comps["T"], -np.inf), keep, valid)
    baseline = select(np.where(valid, comps["S"], -np.inf), keep, valid)  # α = 1: T = S, which orders like the cosine
    paper = None
    if mode != "semantic":
        k = min(top_k, index.shape[1])
        paper = select(np.where(valid[:, :k], comps["T"][:, :k], -np.inf), keep, valid[:, :k])
    stats["score_s"] = time.perf_counter() - t2
    return PairingResult(index, comps, chosen, baseline, alpha, stats, mode, top_k, origin, paper, certified)


def _cosines(X: np.ndarray, Y: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Cosines of (n, w) candidate indices, float64 from the float32 unit vectors (−inf for −1 slots)."""
    n, w = index.shape
    cos = np.full((n, w), -np.inf)
    step = max(1, (64 * 2**20) // max(1, w * X.shape[1] * 8))  # rows per chunk: ~64 MiB of gathered float64 vectors
    for r0 in range(0, n, step):
        idx = index[r0:r0 + step]
        got = np.einsum("nd,nkd->nk", X[r0:r0 + step].astype(np.float64), Y[np.where(idx >= 0, idx, 0)].astype(np.float64))
        cos[r0:r0 + step] = np.where(idx >= 0, got, -np.inf)
    return cos


def _score(index, cos, music_va, image_va, alpha, temperature, s_norm, log_norm, top_k) -> dict[str, np.ndarray]:
    valid = index >= 0
    cand_va = image_va[np.where(valid, index, 0)]
    comps = score_candidates(
        np.where(valid, cos, -np.inf), music_va, cand_va, alpha=alpha, temperature=temperature, s_norm=s_norm,
        log_norm=log_norm, topk_columns=top_k,
    )
    for name, arr in comps.items():  # candidates that do not exist carry no score
        if name not in ("cos",):
            comps[name] = np.where(valid, arr, np.nan)
    return comps
