"""Where a clip's candidate images come from: the paper's semantic top-K, or emotion-aware candidates.

EMID (Zou et al. 2023, Fig. 2) takes each clip's K nearest images by semantic cosine and only then
scores T = α·S + (1 − α)·E on them. When the semantic space is weak, those K are close to random in
emotion and no α can repair them. Three modes (``candidates=`` of `emoalign.pair.pairing.pair_arrays`):

``semantic``
    The paper: the top-K by cosine.
``joint``
    The top-K by cosine ∪ the top-K by α·cos + (1 − α)·E. The second list is an inner-product
    search in a *joint space*, so the exact blocked search and faiss serve it unchanged: a clip is
    q = [√α·x ; √((1 − α)/2)·u] and an image k = [√α·y ; √((1 − α)/2)·v] (x, y the unit semantic
    vectors; u, v the unit valence–arousal directions about the neutral origin, 0 at the origin, as
    in E), so q·k = α·cos + (1 − α)/2·cos_VA = α·cos + (1 − α)·E − (1 − α)/2. T is then scored
    exactly on the union.
``global``
    ``joint``, then a proof or a scan per clip, so that the picks are the best by T over the
    *whole* collection (exact search only).

The certificate
---------------
T does not use the cosine itself but S = s·exp((cos − cos_max)/τ) (s: a per-clip constant of the
S normalisation, 1 for ``relative``), so the joint list is a surrogate. An image outside the union
has cos ≤ c_K (the K-th semantic cosine), α·cos + (1 − α)·E ≤ L_K (the K-th joint score) and
E ≤ 1, hence

    T ≤ F(cos),  F(c) = α·s·exp((c − cos_max)/τ) + min(1 − α, L_K − α·c),  c ≤ c_K.

F rises up to the kink c₀ = (L_K − 1 + α)/α and is convex after it, so its maximum is
max(F(min(c₀, c_K)), F(c_K)). A clip whose keep-th best T in the union reaches that bound has
provably the collection's best picks (``certified``). ``global`` scans every other clip over all
images in blocks, with two necessary conditions as a filter before any exp — cos > cos_max +
τ·ln((t − (1 − α))/(α·s)) and E > (t − α·s)/(1 − α), t the running keep-th best T — and adds what
it finds as candidates of origin ``scan``.

>>> import numpy as np
>>> resolve_mode("auto", alpha=0.6, method="exact"), resolve_mode("auto", alpha=1.0, method="exact")
('global', 'semantic')
>>> q = joint_vectors(np.array([[1.0, 0.0]]), np.array([[0.6, 0.8]]), alpha=0.5)
>>> k = joint_vectors(np.array([[0.0, 1.0]]), np.array([[0.6, 0.8]]), alpha=0.5)
>>> float((q @ k.T)[0, 0])  # α·cos + (1 − α)·E − (1 − α)/2 with cos = 0, E = 1
0.25
"""

from __future__ import annotations

import math
import time

import numpy as np

from emoalign.numeric import unit_rows
from emoalign.pair.blocked import DEFAULT_MEMORY_BUDGET, SLICE_COLUMNS, _true_positions, plan_blocks

MODES: tuple[str, ...] = ("semantic", "joint", "global")
CHOICES: tuple[str, ...] = ("auto", *MODES)
#: Candidate origins (codes of `PairingResult.origin`, names written to candidates.parquet).
ORIGINS = {1: "semantic", 2: "joint", 3: "semantic+joint", 4: "scan"}
#: Slack on the certificate and the scan filters: cosines come from float32 products.
SLACK = 1e-6


def resolve_mode(mode: str, *, alpha: float, method: str) -> str:
    """``auto`` → ``semantic`` at α = 1 (T orders like the cosine: nothing to gain), else ``global``
    with exact search and ``joint`` with an approximate one. Explicit modes are checked."""
    if mode not in CHOICES:
        raise ValueError(f"unknown candidate mode {mode!r}; choose one of {', '.join(CHOICES)}")
    if mode == "auto":
        if alpha >= 1.0:
            return "semantic"
        return "global" if method == "exact" else "joint"
    if mode == "global" and method != "exact":
        raise ValueError(f"candidates='global' scans the whole collection and needs method='exact' (got {method!r}); "
                         "use candidates='joint' with approximate search")
    return mode


def unit_va(va: np.ndarray) -> np.ndarray:
    """Unit valence–arousal directions (0 for a point at the neutral origin), float64: E's definition."""
    return unit_rows(va, np.float64)


def joint_vectors(vectors: np.ndarray, va: np.ndarray, *, alpha: float) -> np.ndarray:
    """[√α·vectors ; √((1 − α)/2)·unit V–A] as float32: inner products = α·cos + (1 − α)·E − (1 − α)/2."""
    vectors = np.asarray(vectors, dtype=np.float32)
    u = unit_va(va).astype(np.float32)
    return np.ascontiguousarray(np.hstack([np.float32(math.sqrt(alpha)) * vectors, np.float32(math.sqrt((1.0 - alpha) / 2.0)) * u]))


def union(semantic: np.ndarray, joint: np.ndarray, cos_of) -> tuple[np.ndarray, np.ndarray]:
    """Candidate columns: the semantic top-K as they are, then the joint list's others by (−cos, index).

    ``cos_of(index)`` gives the cosines of (n, w) image indices (−1 slots are ignored). Returns
    ``(index, origin)`` of shape (n, K + K'), padded with −1 / 0.
    """
    n, k = semantic.shape
    dup = (joint[:, :, None] == semantic[:, None, :]).any(axis=2) & (joint >= 0)
    extra = np.where(dup | (joint < 0), -1, joint)
    cos = np.where(extra >= 0, cos_of(extra), -np.inf)
    key_idx = np.where(extra >= 0, extra, np.iinfo(np.int64).max)
    order = np.lexsort((key_idx, -cos), axis=1)
    extra = np.take_along_axis(extra, order, axis=1)
    origin_sem = np.where(semantic >= 0, 1, 0)
    in_joint = (semantic[:, :, None] == joint[:, None, :]).any(axis=2) & (semantic >= 0)
    origin_sem = np.where(in_joint, 3, origin_sem)
    index = np.hstack([semantic, extra])
    origin = np.hstack([origin_sem, np.where(extra >= 0, 2, 0)]).astype(np.int8)
    return index, origin


def bound_outside(c_k: np.ndarray, l_k: np.ndarray, cos_max: np.ndarray, s_scale: np.ndarray, *, alpha: float,
                  temperature: float) -> np.ndarray:
    """Upper bound on T of any image outside the union (module doc), per clip; +inf where unknown."""
    c_k, l_k = np.asarray(c_k, np.float64), np.asarray(l_k, np.float64)
    if alpha <= 0.0:
        return np.minimum(1.0, l_k)
    c0 = np.minimum((l_k - 1.0 + alpha) / alpha, c_k)

    def F(c):
        return alpha * s_scale * np.exp((c - cos_max) / temperature) + np.minimum(1.0 - alpha, l_k - alpha * c)

    with np.errstate(invalid="ignore", over="ignore"):
        out = np.maximum(F(c0), F(c_k))
    return np.where(np.isfinite(c_k) & np.isfinite(l_k), out, np.inf)


def scan(X: np.ndarray, Y: np.ndarray, u: np.ndarray, v: np.ndarray, rows: np.ndarray, t0: np.ndarray, cos_max: np.ndarray,
         s_scale: np.ndarray, *, alpha: float, temperature: float, keep: int, memory_budget: int = DEFAULT_MEMORY_BUDGET,
         ) -> tuple[np.ndarray, dict]:
    """The ``keep`` best images by T (> ``t0``) of each clip in ``rows``, over all of ``Y``: (len(rows), keep), −1 padded.

    Exhaustive in blocks (`plan_blocks`), each block in column slices: a slice's cosines and V–A
    cosines are filtered by the two necessary conditions of the module doc, T is computed for the
    survivors only, and each clip's running keep-th best raises its threshold. Ties: lower index.
    """
    X, Y = np.asarray(X, np.float32), np.asarray(Y, np.float32)
    u32, v32 = np.asarray(u, np.float32), np.asarray(v, np.float32)
    r_total, m = len(rows), Y.shape[0]
    best_t = np.full((r_total, keep), -np.inf)
    best_j = np.full((r_total, keep), -1, dtype=np.int64)
    thresh = np.asarray(t0, np.float64).copy()
    stats = {"rows": int(r_total), "survivors": 0, "slices": 0}
    if r_total == 0 or m == 0:
        return best_j, stats
    rb, cb = plan_blocks(r_total, m, memory_budget)
    log_as = np.log(alpha * s_scale) if alpha > 0 else None
    t_start = time.perf_counter()
    for r0 in range(0, r_total, rb):
        r1 = min(r_total, r0 + rb)
        sel = rows[r0:r1]
        Xb, ub = np.ascontiguousarray(X[sel]), np.ascontiguousarray(u32[sel])
        cmax_b, s_b = cos_max[sel], s_scale[sel]
        for c0 in range(0, m, cb):
            c1 = min(m, c0 + cb)
            B = Xb @ Y[c0:c1].T
            for a in range(0, c1 - c0, SLICE_COLUMNS):
                Bs = B[:, a:a + SLICE_COLUMNS]
                t = thresh[r0:r1]
                mask = np.ones(Bs.shape, dtype=bool)
                if alpha > 0:  # cos > cos_max + τ·ln((t − (1 − α))/(α·s))
                    room = t - (1.0 - alpha)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        c_thr = np.where(room > 0, cmax_b + temperature * (np.log(np.maximum(room, 1e-300)) - log_as[r0:r1]), -np.inf)
                    mask &= Bs > (c_thr - SLACK).astype(np.float32)[:, None]
                if alpha < 1:  # E > (t − α·s)/(1 − α), i.e. cos_VA > 2·E − 1
                    e_thr = (t - alpha * s_b) / (1.0 - alpha)
                    if (e_thr > 0).any():
                        UV = ub @ v32[c0 + a:c0 + a + Bs.shape[1]].T
                        mask &= UV > (2.0 * e_thr - 1.0 - SLACK).astype(np.float32)[:, None]
                stats["slices"] += 1
                if not mask.any():
                    continue
                pos = _true_positions(np.ascontiguousarray(mask))
                ri, ci = np.divmod(pos, Bs.shape[1])
                j = ci + c0 + a
                cos = Bs[ri, ci].astype(np.float64)
                e = (1.0 + np.einsum("nd,nd->n", u[sel[ri]], v[j])) / 2.0
                T = alpha * s_b[ri] * np.exp((cos - cmax_b[ri]) / temperature) + (1.0 - alpha) * e
                ok = T > t[ri]
                stats["survivors"] += int(ok.sum())
                if ok.any():
                    _merge_best(best_t, best_j, thresh, r0 + ri[ok], j[ok], T[ok])
    stats["scan_s"] = time.perf_counter() - t_start
    return best_j, stats


def _merge_best(best_t: np.ndarray, best_j: np.ndarray, thresh: np.ndarray, r: np.ndarray, j: np.ndarray, T: np.ndarray) -> None:
    """Fold (row, image, T) finds into each row's running best (by −T, then index) and raise its threshold."""
    keep = best_t.shape[1]
    order = np.lexsort((j, r))
    r, j, T = r[order], j[order], T[order]
    rows, start, count = np.unique(r, return_index=True, return_counts=True)
    width = keep + int(count.max())
    keys = np.full((rows.size, width), np.inf)
    ids = np.full((rows.size, width), np.iinfo(np.int64).max, dtype=np.int64)
    keys[:, :keep] = -best_t[rows]
    ids[:, :keep] = np.where(best_j[rows] >= 0, best_j[rows], np.iinfo(np.int64).max)
    slot = np.arange(r.size) - np.repeat(start, count) + keep
    where = np.repeat(np.arange(rows.size), count)
    keys[where, slot] = -T
    ids[where, slot] = j
    sort = np.lexsort((ids, keys), axis=1)[:, :keep]
    best_t[rows] = -np.take_along_axis(keys, sort, axis=1)
    got = np.take_along_axis(ids, sort, axis=1)
    best_j[rows] = np.where(got == np.iinfo(np.int64).max, -1, got)
    full = best_j[rows, -1] >= 0
    thresh[rows[full]] = np.maximum(thresh[rows[full]], best_t[rows[full], -1])
