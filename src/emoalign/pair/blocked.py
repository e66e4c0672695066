"""Top-K images per music clip by inner product, exactly and in bounded memory, or approximately.

`exact_topk` computes ``X·Yᵀ`` for N clips × M images block by block (block shape from a memory
budget, whatever N and M), and keeps each row's K best across blocks. After the first block of a
row block, most rows cannot gain anything from a new block: a row is touched only when the
block's row maximum beats its current K-th best, and then only the entries above it are gathered
(a fused filter instead of a full ``argpartition`` of every block, which made numpy 1.5–1.8×
slower than the matmul bound here). The per-row work is split across threads (numpy releases the
GIL in these kernels); the matmul itself is BLAS's, multi-threaded.

Ties are broken by the lower image index, so the result equals a brute-force
``sort by (−score, index)`` exactly — for any block shape.

Optionally (``temperature=τ``) it also accumulates each row's log Σ_j exp(s_ij/τ) over *all*
images, streaming (running max + rescaled sum), so the paper's full softmax S = exp(s/τ − lse) is
known for the kept candidates without ever holding an N × M matrix.

`ann_topk` is the approximate path for collections where exact is too slow: faiss IVF-Flat or
HNSW over inner product, with candidate scores recomputed exactly; `recall_at_k` measures it
against `exact_topk`.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.standard_normal((5, 8), dtype=np.float32), rng.standard_normal((100, 8), dtype=np.float32)
>>> res = exact_topk(X, Y, 3, col_block=7)
>>> ref = np.argsort(-(X @ Y.T), axis=1, kind="stable")[:, :3]
>>> bool((res.index == ref).all())
True
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from emoalign.progress import progress_bar

#: Working bytes per cell of a (rows × cols) product block: the float32 product (4), the exp
#: temporary of the log-sum-exp (4), and the per-slice temporaries of the filter (mask, partition
#: and heavy-row copies of one 2048-column slice per thread: at most 2 per cell of the block).
BYTES_PER_CELL = 10
DEFAULT_MEMORY_BUDGET = 512 * 2**20
#: The fused filter walks each product block in column slices of this width: the first slice of a
#: row block is partitioned to seed the K-th-best thresholds (one cheap, narrow partition), and
#: every slice raises them before the next is scanned, so few entries ever pass the filter
#: (≈ K·ln(M / slice) per row in all, instead of ≈ K·width/slice for a whole wide block).
SLICE_COLUMNS = 2048

Method = Literal["fused", "argpartition", "torch"]


@dataclass
class TopK:
    """Each row's K best columns, best first. Missing slots (M < K) have score −inf and index −1."""

    scores: np.ndarray  # (N, K) float32
    index: np.ndarray  # (N, K) int64
    log_norm: np.ndarray | None = None  # (N,) float64: log Σ_j exp(s_ij / τ) over all M columns
    temperature: float | None = None
    stats: dict = field(default_factory=dict)
    joint: "TopK | None" = None  # the second top-K of `exact_topk(joint=…)`, from the same products

    @property
    def k(self) -> int:
        return int(self.index.shape[1])


def plan_blocks(n: int, m: int, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> tuple[int, int]:
    """(row_block, col_block) whose working set fits ``memory_budget`` bytes.

    >>> plan_blocks(50_000, 50_000, 512 * 2**20)
    (2048, 26214)
    >>> plan_blocks(10, 10, 10**9)
    (10, 10)
    """
    cells = max(1, int(memory_budget) // BYTES_PER_CELL)
    rows = max(1, min(n, 2048, cells))
    cols = max(1, min(m, cells // rows))
    if cols < 256 and rows > 1:  # tiny budgets: prefer squarer blocks over one-column strips
        side = max(1, math.isqrt(cells))
        rows, cols = max(1, min(n, side)), max(1, min(m, cells // max(1, min(n, side))))
    return rows, cols


def _as_f32(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {a.shape}")
    if a.dtype != np.float32:
        a = a.astype(np.float32)
    return a


def _merge(vals: np.ndarray, idx: np.ndarray, rows: np.ndarray, c_rows: np.ndarray, c_vals: np.ndarray, c_idx: np.ndarray) -> None:
    """Merge candidates into the running top-K of ``rows`` (unique, ascending), in place.

    Order: score descending, ties by index ascending. ``c_rows`` must be sorted, and candidates
    of a row must come in increasing index, all above the indices already kept (true when blocks
    are visited left to right). Then, per row, the list [kept..., candidates...] already has
    equal scores in index order, and one *stable* sort by score gives the exact order.
    """
    k = vals.shape[1]
    start = np.searchsorted(c_rows, rows, side="left")
    count = np.searchsorted(c_rows, rows, side="right") - start
    width = k + int(count.max())
    keys = np.full((rows.size, width), np.inf, dtype=np.float32)
    ids = np.full((rows.size, width), -1, dtype=np.int64)
    keys[:, :k] = -vals[rows]
    ids[:, :k] = idx[rows]
    slot = np.arange(c_rows.size) - np.repeat(start, count) + k
    where = np.repeat(np.arange(rows.size), count)
    keys[where, slot] = -c_vals
    ids[where, slot] = c_idx
    order = np.argsort(keys, axis=1, kind="stable")[:, :k]
    vals[rows] = -np.take_along_axis(keys, order, axis=1)
    idx[rows] = np.take_along_axis(ids, order, axis=1)


def _update_fused(B: np.ndarray, vals: np.ndarray, idx: np.ndarray, col0: int) -> int:
    """Fold one block's scores (rows × cols) into the running top-K; returns #candidates gathered.

    Candidates are the entries above the row's current K-th best. They are found without a
    full ``nonzero`` over the block: the boolean mask is read 8 cells at a time as uint64 words,
    and only the rare non-zero words are expanded (≈ 4× faster than ``np.nonzero`` here).
    """
    k = vals.shape[1]
    rows, width = B.shape
    kth = vals[:, -1]
    # A row with c candidates costs ~c sort steps to merge, a partition ~width/16 of them: rows
    # above this limit take the block's own top K first (the first block always does).
    limit = max(4 * k, width // 16)
    if width <= limit:
        mask = B > kth[:, None]
    elif np.isneginf(kth).all():
        mask = B >= _kth_largest(B, k)[:, None]
    else:
        mask = B > kth[:, None]
        pos = _true_positions(mask)
        if pos.size > limit:
            heavy = np.flatnonzero(np.bincount(pos // width, minlength=rows) > limit)
            if heavy.size:  # adversarial order (e.g. similarity growing with the image index)
                sub = B[heavy]
                mask[heavy] = sub >= np.maximum(_kth_largest(sub, k), kth[heavy])[:, None]
                pos = _true_positions(mask)
        return _fold(B, vals, idx, pos, width, col0)
    return _fold(B, vals, idx, _true_positions(mask), width, col0)


def _fold(B: np.ndarray, vals: np.ndarray, idx: np.ndarray, pos: np.ndarray, width: int, col0: int) -> int:
    if pos.size == 0:
        return 0
    r, c = np.divmod(pos, width)
    active = np.unique(r)
    _merge(vals, idx, active, r, B[r, c], c + col0)
    return int(pos.size)


def _kth_largest(B: np.ndarray, k: int) -> np.ndarray:
    """Each row's k-th largest value (ties counted), for k < width."""
    width = B.shape[1]
    return np.partition(B, width - k, axis=1)[:, width - k]


def _true_positions(mask: np.ndarray) -> np.ndarray:
    """Flat indices of the True cells of a C-contiguous boolean array (sparse-friendly)."""
    flat = mask.reshape(-1)
    n8 = flat.size // 8 * 8
    words = np.flatnonzero(flat[:n8].view(np.uint64))
    pos = (words[:, None] * 8 + np.arange(8)).ravel()
    pos = pos[flat[pos]]
    if n8 < flat.size:
        pos = np.concatenate([pos, n8 + np.flatnonzero(flat[n8:])])
    return pos


def _update_argpartition(B: np.ndarray, vals: np.ndarray, idx: np.ndarray, col0: int) -> int:
    """Baseline: a full argpartition of every block, then merge (ties at the K-th place arbitrary)."""
    k = vals.shape[1]
    width = B.shape[1]
    if width > k:
        cols = np.argpartition(B, width - k, axis=1)[:, width - k:]
    else:
        cols = np.broadcast_to(np.arange(width), B.shape)
    rows = np.arange(B.shape[0])
    r = np.repeat(rows, cols.shape[1])
    c = cols.ravel()
    _merge(vals, idx, rows, r, B[r, c], c.astype(np.int64) + col0)
    return int(r.size)


def _update_lse(B: np.ndarray, run_max: np.ndarray, run_sum: np.ndarray, inv_tau: float) -> None:
    """Streaming log-sum-exp of B/τ per row: keeps (max, Σ exp((s − max)/τ))."""
    block_max = B.max(axis=1).astype(np.float64)
    new_max = np.maximum(run_max, block_max)
    tmp = B - new_max.astype(np.float32)[:, None]
    tmp *= np.float32(inv_tau)
    np.exp(tmp, out=tmp)
    scale = np.exp((run_max - new_max) * inv_tau)  # run_max = −inf at start → 0
    run_sum *= scale
    run_sum += tmp.sum(axis=1, dtype=np.float64)
    run_max[:] = new_max


def exact_topk(
    X: np.ndarray,
    Y: np.ndarray,
    k: int,
    *,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    row_block: int | None = None,
    col_block: int | None = None,
    temperature: float | None = None,
    threads: int | None = None,
    method: Method = "fused",
    progress: bool = False,
    checkpoint: str | Path | None = None,
    joint: tuple[np.ndarray, np.ndarray, float, float] | None = None,
) -> TopK:
    """Exact top-``k`` columns of ``X·Yᵀ`` per row, in blocks.

    ``joint=(U, V, a, b)`` (U (N, r), V (M, r), small r) also keeps each row's top-``k`` of
    ``a·X·Yᵀ + b·U·Vᵀ`` (`TopK.joint`) from the *same* products: the emotion-aware candidates of
    `emoalign.pair.candidates` at the cost of a rank-r update per block instead of a second
    pass over X·Yᵀ (``fused`` method only).

    ``X`` (N, d) and ``Y`` (M, d) may be memory-mapped; only one (row_block × col_block) product
    and its working set (`BYTES_PER_CELL` per cell) are in memory at a time, besides the (N, k)
    results. ``temperature`` also returns each row's log-sum-exp of ``X·Yᵀ/τ`` over all M
    (``TopK.log_norm``). ``method``: ``"fused"`` (default; exact ties), ``"argpartition"``
    (the single-threaded numpy baseline) or ``"torch"`` (``torch.mm`` + ``torch.topk``; ties
    in arbitrary order) — the last two exist for benchmarks.

    ``checkpoint``: a folder where each finished row block is saved (atomically); a run
    interrupted at any point and started again with the same inputs and settings loads those
    blocks instead of recomputing them (``stats["resumed_blocks"]``). The folder is keyed by a
    hash of X, Y and the settings, so stale blocks are never reused.
    """
    X, Y = _as_f32(X, "X"), _as_f32(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X has dimension {X.shape[1]} but Y has {Y.shape[1]}")
    if k < 1:
        raise ValueError(f"k must be ≥ 1, got {k}")
    if method not in ("fused", "argpartition", "torch"):
        raise ValueError(f"unknown method {method!r}")
    n, m = X.shape[0], Y.shape[0]
    if joint is not None:
        if method != "fused":
            raise ValueError("joint= needs method='fused'")
        U, V = _as_f32(joint[0], "U"), _as_f32(joint[1], "V")
        if U.shape[0] != n or V.shape[0] != m or U.shape[1] != V.shape[1]:
            raise ValueError(f"joint U, V must be (N, r) and (M, r); got {U.shape}, {V.shape} for N={n}, M={m}")
        ja, jb = float(joint[2]), float(joint[3])
        # scores are kept as cos + (b/a)·U·Vᵀ (same order as a·cos + b·U·Vᵀ for a > 0) and scaled by a at
        # the end: one rank-r product and one in-place add per block, no temporary
        U = U * np.float32(jb / ja) if ja > 0 else U * np.float32(jb)
        # a second product block of 4 bytes per cell lives next to the first
        memory_budget = memory_budget * BYTES_PER_CELL // (BYTES_PER_CELL + 4)
    rb, cb = plan_blocks(n, m, memory_budget)
    rb, cb = row_block or rb, col_block or cb
    threads = max(1, threads or os.cpu_count() or 1)
    vals = np.full((n, k), -np.inf, dtype=np.float32)
    idx = np.full((n, k), -1, dtype=np.int64)
    lse_max = np.full(n, -np.inf) if temperature else None
    lse_sum = np.zeros(n) if temperature else None
    inv_tau = 1.0 / temperature if temperature else 0.0
    stats = {"method": method, "row_block": rb, "col_block": cb, "threads": threads, "blocks": 0,
             "candidates": 0, "matmul_s": 0.0, "select_s": 0.0}
    vals2 = np.full((n, k), -np.inf, dtype=np.float32) if joint is not None else None
    idx2 = np.full((n, k), -1, dtype=np.int64) if joint is not None else None
    if n == 0 or m == 0:
        return TopK(vals, idx, _finish_lse(lse_max, lse_sum, temperature), temperature, stats, _joint(vals2, idx2, joint))
    if method == "torch":
        return _torch_topk(X, Y, k, rb, cb, vals, idx, lse_max, lse_sum, temperature, stats)
    update = _update_fused if method == "fused" else _update_argpartition
    ckpt = _Checkpoint(checkpoint, X, Y, k, rb, cb, temperature, method, joint) if checkpoint else None
    stats["resumed_blocks"] = 0
    buf = np.empty(rb * cb, dtype=np.float32)
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    bar = _progress(progress, n)
    try:
        for r0 in range(0, n, rb):
            r1 = min(n, r0 + rb)
            if ckpt is not None and ckpt.load(r0, r1, vals, idx, lse_max, lse_sum, vals2, idx2):
                stats["resumed_blocks"] += 1
                if bar is not None:
                    bar.update(r1 - r0)
                continue
            Xb = np.ascontiguousarray(X[r0:r1])
            rows = r1 - r0
            # the baseline stays single-threaded on purpose (it is what we compare against)
            chunks = _chunks(rows, threads if method == "fused" else 1)
            for c0 in range(0, m, cb):
                c1 = min(m, c0 + cb)
                t0 = time.perf_counter()
                B = buf[: rows * (c1 - c0)].reshape(rows, c1 - c0)
                np.matmul(Xb, Y[c0:c1].T, out=B)
                t1 = time.perf_counter()

                def work(ch: slice, B=B, c0=c0) -> int:
                    s = slice(r0 + ch.start, r0 + ch.stop)
                    if lse_max is not None:
                        _update_lse(B[ch], lse_max[s], lse_sum[s], inv_tau)
                    if method != "fused":
                        return update(B[ch], vals[s], idx[s], c0)
                    found = sum(update(B[ch, a:a + SLICE_COLUMNS], vals[s], idx[s], c0 + a) for a in range(0, B.shape[1], SLICE_COLUMNS))
                    if vals2 is not None:
                        J = np.matmul(U[s], V[c0:c0 + B.shape[1]].T)
                        if ja > 0:
                            J += B[ch]
                        found += sum(update(J[:, a:a + SLICE_COLUMNS], vals2[s], idx2[s], c0 + a) for a in range(0, J.shape[1], SLICE_COLUMNS))
                    return found

                found = sum(work(ch) for ch in chunks) if pool is None or len(chunks) == 1 else sum(pool.map(work, chunks))
                stats["candidates"] += found
                stats["blocks"] += 1
                stats["matmul_s"] += t1 - t0
                stats["select_s"] += time.perf_counter() - t1
            if ckpt is not None:
                ckpt.save(r0, r1, vals, idx, lse_max, lse_sum, vals2, idx2)
            if bar is not None:
                bar.update(rows)
    finally:
        if pool is not None:
            pool.shutdown()
        if bar is not None:
            bar.close()
    return TopK(vals, idx, _finish_lse(lse_max, lse_sum, temperature), temperature, stats, _joint(vals2, idx2, joint))


def _joint(vals2, idx2, joint) -> TopK | None:
    if vals2 is None:
        return None
    a = float(joint[2])
    return TopK(vals2 * np.float32(a) if a > 0 else vals2, idx2)


class _Checkpoint:
    """Finished row blocks of one `exact_topk` job on disk (``rows-<start>-<stop>.npz``)."""

    def __init__(self, folder, X, Y, k, rb, cb, temperature, method, joint=None) -> None:
        import hashlib
        import shutil

        h = hashlib.sha256()
        arrays = (X, Y) if joint is None else (X, Y, np.asarray(joint[0], np.float32), np.asarray(joint[1], np.float32))
        if joint is not None:
            h.update(repr(("joint", float(joint[2]), float(joint[3]))).encode())
        for a in arrays:
            h.update(str(a.shape).encode())
            for start in range(0, a.shape[0], 65536):  # in chunks: X and Y may be memory-mapped
                h.update(np.ascontiguousarray(a[start:start + 65536]).tobytes())
        h.update(repr((k, rb, cb, temperature, method)).encode())
        self.key = h.hexdigest()
        self.folder = Path(folder)
        key_file = self.folder / "key.txt"
        if self.folder.is_dir() and (not key_file.is_file() or key_file.read_text().strip() != self.key):
            shutil.rmtree(self.folder)  # another job's blocks: never reuse them
        self.folder.mkdir(parents=True, exist_ok=True)
        key_file.write_text(self.key + "\n")

    def _path(self, r0: int, r1: int) -> Path:
        return self.folder / f"rows-{r0:010d}-{r1:010d}.npz"

    def load(self, r0, r1, vals, idx, lse_max, lse_sum, vals2=None, idx2=None) -> bool:
        path = self._path(r0, r1)
        if not path.is_file():
            return False
        try:
            with np.load(path) as z:
                vals[r0:r1], idx[r0:r1] = z["vals"], z["idx"]
                if lse_max is not None:
                    lse_max[r0:r1], lse_sum[r0:r1] = z["lse_max"], z["lse_sum"]
                if vals2 is not None:
                    vals2[r0:r1], idx2[r0:r1] = z["vals2"], z["idx2"]
        except Exception:  # a damaged file (killed mid-write on a filesystem without atomic rename): recompute
            path.unlink(missing_ok=True)
            return False
        return True

    def save(self, r0, r1, vals, idx, lse_max, lse_sum, vals2=None, idx2=None) -> None:
        arrays = {"vals": vals[r0:r1], "idx": idx[r0:r1]}
        if lse_max is not None:
            arrays.update(lse_max=lse_max[r0:r1], lse_sum=lse_sum[r0:r1])
        if vals2 is not None:
            arrays.update(vals2=vals2[r0:r1], idx2=idx2[r0:r1])
        path = self._path(r0, r1)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)


def _chunks(rows: int, threads: int) -> list[slice]:
    step = max(1, math.ceil(rows / threads))
    return [slice(s, min(rows, s + step)) for s in range(0, rows, step)]


def _finish_lse(run_max, run_sum, temperature):
    if run_max is None:
        return None
    with np.errstate(divide="ignore"):
        return run_max / temperature + np.log(run_sum)


def _progress(enabled: bool, total: int):
    if not enabled:
        return None
    return progress_bar(total=total, unit="clip", desc="pairing", enabled=True)


def _torch_topk(X, Y, k, rb, cb, vals, idx, lse_max, lse_sum, temperature, stats) -> TopK:
    import torch

    n, m = X.shape[0], Y.shape[0]
    Yt = torch.from_numpy(Y)
    for r0 in range(0, n, rb):
        r1 = min(n, r0 + rb)
        Xb = torch.from_numpy(np.ascontiguousarray(X[r0:r1]))
        tv = torch.full((r1 - r0, k), float("-inf"))
        ti = torch.full((r1 - r0, k), -1, dtype=torch.int64)
        for c0 in range(0, m, cb):
            c1 = min(m, c0 + cb)
            t0 = time.perf_counter()
            B = Xb @ Yt[c0:c1].T
            t1 = time.perf_counter()
            if lse_max is not None:
                _update_lse(B.numpy(), lse_max[r0:r1], lse_sum[r0:r1], 1.0 / temperature)
            kk = min(k, c1 - c0)
            bv, bi = torch.topk(B, kk, dim=1)
            cv = torch.cat([tv, bv], dim=1)
            ci = torch.cat([ti, bi + c0], dim=1)
            tv, pos = torch.topk(cv, k, dim=1)
            ti = torch.gather(ci, 1, pos)
            stats["blocks"] += 1
            stats["matmul_s"] += t1 - t0
            stats["select_s"] += time.perf_counter() - t1
        vals[r0:r1] = tv.numpy()
        idx[r0:r1] = ti.numpy()
    stats["threads"] = torch.get_num_threads()
    return TopK(vals, idx, _finish_lse(lse_max, lse_sum, temperature), temperature, stats)


def brute_force_topk(X: np.ndarray, Y: np.ndarray, k: int) -> TopK:
    """Reference: the whole N × M product in float64, sorted by (−score, index). Small inputs only."""
    S = np.asarray(X, dtype=np.float64) @ np.asarray(Y, dtype=np.float64).T
    order = np.argsort(-S, axis=1, kind="stable")[:, :k]
    n, kk = order.shape
    vals = np.full((n, k), -np.inf, dtype=np.float32)
    idx = np.full((n, k), -1, dtype=np.int64)
    vals[:, :kk] = np.take_along_axis(S, order, axis=1)
    idx[:, :kk] = order
    return TopK(vals, idx)


# ---------------------------------------------------------------------------------------------
# Approximate: faiss
# ---------------------------------------------------------------------------------------------
AnnMethod = Literal["ivf", "hnsw"]


def ann_topk(
    X: np.ndarray,
    Y: np.ndarray,
    k: int,
    *,
    method: AnnMethod = "ivf",
    nlist: int | None = None,
    nprobe: int = 64,
    hnsw_m: int = 32,
    ef_construction: int = 200,
    ef_search: int = 256,
    seed: int = 0,
    threads: int | None = None,
) -> TopK:
    """Approximate top-``k`` by inner product with faiss (IVF-Flat or HNSW), scores recomputed exactly.

    IVF-Flat: ``nlist`` lists (default ≈ 4·√M), k-means trained on Y with ``seed``, ``nprobe``
    lists searched. HNSW: ``hnsw_m`` links, ``ef_search`` beam. Use `recall_at_k` against
    `exact_topk` to see what is lost (ARCHITECTURE.md: IVF nprobe 64 ≈ 0.9998 at 100k).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.standard_normal((2000, 16), dtype=np.float32); X = Y[:50] + 0.01
    >>> approx = ann_topk(X, Y, 5, nlist=16, nprobe=16)
    >>> recall_at_k(approx.index, exact_topk(X, Y, 5).index)
    1.0
    """
    import faiss

    X, Y = _as_f32(X, "X"), _as_f32(Y, "Y")
    n, d = X.shape
    m = Y.shape[0]
    if threads:
        faiss.omp_set_num_threads(int(threads))
    t0 = time.perf_counter()
    if method == "ivf":
        nlist = int(nlist or max(1, min(m // 39, round(4 * math.sqrt(m)))))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = int(seed)
        index.train(np.ascontiguousarray(Y))
        index.add(np.ascontiguousarray(Y))
        index.nprobe = min(nprobe, nlist)
        params = {"nlist": nlist, "nprobe": index.nprobe}
    elif method == "hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.add(np.ascontiguousarray(Y))
        index.hnsw.efSearch = ef_search
        params = {"M": hnsw_m, "ef_search": ef_search}
    else:
        raise ValueError(f"unknown ANN method {method!r}; use 'ivf' or 'hnsw'")
    t1 = time.perf_counter()
    kk = min(k, m)
    _, I = index.search(np.ascontiguousarray(X), kk)
    t2 = time.perf_counter()
    I = I.astype(np.int64)
    # exact scores for the found candidates; order by (−score, index) like exact_topk
    safe = np.where(I < 0, 0, I)
    S = np.einsum("nd,nkd->nk", X, Y[safe]).astype(np.float32)
    S[I < 0] = -np.inf
    key_idx = np.where(I < 0, np.iinfo(np.int64).max, I)
    order = np.lexsort((key_idx, -S), axis=1)
    vals = np.full((n, k), -np.inf, dtype=np.float32)
    idx = np.full((n, k), -1, dtype=np.int64)
    vals[:, :kk] = np.take_along_axis(S, order, axis=1)
    idx[:, :kk] = np.take_along_axis(I, order, axis=1)
    stats = {"method": method, **params, "build_s": t1 - t0, "search_s": t2 - t1}
    return TopK(vals, idx, None, None, stats)


def recall_at_k(approx_index: np.ndarray, exact_index: np.ndarray) -> float:
    """Mean share of each row's exact top-K found by the approximate search (−1 slots ignored).

    >>> recall_at_k(np.array([[1, 2, 3]]), np.array([[3, 2, 9]]))
    0.6666666666666666
    """
    a, e = np.asarray(approx_index), np.asarray(exact_index)
    found = ((e[:, :, None] == a[:, None, :]) & (a[:, None, :] >= 0)).any(axis=2)
    valid = e >= 0
    total = int(valid.sum())
    return float((found & valid).sum() / total) if total else 1.0
