"""Benchmark of `emoalign.store.index.VectorIndex` on synthetic clustered 512-d vectors.

For each size (default 100,000 and 1,000,000 items), in three kinds of fresh process:

* build: generate unit vectors around 1,000 random cluster centres (see `make_vectors`), each
  item tagged with one of Mikels' 8 emotions; build the index (exact below 50k items, IVF-Flat
  above: 1,024 lists at 100k, 4,096 at 1M, nprobe 64); record build time, disk size and the
  build's peak memory *before* anything else runs; then compute the exact ground truth (blocked
  numpy matmul, saved to disk), time exact brute force (faiss IndexFlatIP) for scale, and
  measure single-thread read bandwidth for the scan bound;
* reload (normal read, and mmap): open time, first query, RSS;
* query: open the index from disk and run 1,000 single-query `search()` calls (metadata
  included), unfiltered and with an emotion filter (one label of 8), scored against the saved
  ground truth; its memory is the index's own; then add 1,000 items (a delta segment) and
  remove 1,000 (tombstones), and query again.

Run: ``python bench/index.py [--sizes 100000 1000000] [--queries 1000]`` → bench/results/index.md
(+ index.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LABELS = ("amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear", "sadness")
DIM = 512
CENTRES = 1000


def make_vectors(n: int, seed: int, centres: np.ndarray, spread: float = 0.6) -> np.ndarray:
    """Unit vectors: a random centre plus Gaussian noise of norm ≈ ``spread`` (built in chunks)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, centres.shape[1]), np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        c = centres[rng.integers(len(centres), size=m)]
        x = c + rng.standard_normal((m, centres.shape[1]), dtype=np.float32) * (spread / np.sqrt(centres.shape[1]))
        out[s : s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def exact_topk(X: np.ndarray, Q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Exact top-k row indices of Q·Xᵀ by blocked matmul (optionally among ``allowed`` rows only)."""
    best_s = np.full((len(Q), k), -np.inf, np.float32)
    best_i = np.full((len(Q), k), -1, np.int64)
    step = 20_000  # small blocks: the ground truth must not dominate the process's memory
    for s in range(0, len(X), step):
        block = Q @ X[s : s + step].T
        if allowed is not None:
            block[:, ~allowed[s : s + step]] = -np.inf
        cand_s = np.concatenate([best_s, block], axis=1)
        cand_i = np.concatenate([best_i, np.broadcast_to(np.arange(s, s + block.shape[1]), block.shape)], axis=1)
        top = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
        best_s = np.take_along_axis(cand_s, top, 1)
        best_i = np.take_along_axis(cand_i, top, 1)
    return best_i


def rss_mb() -> float:
    return _status_mb("VmRSS")


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Reset the kernel's high-water mark of this process's RSS (Linux ≥ 4.0), so the next
    `peak_mb()` covers only what runs from here on (not, e.g., freed generation temporaries)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def peak_mb() -> float:
    """Peak RSS since the last `reset_peak()` (VmHWM), or of the whole process."""
    hwm = _status_mb("VmHWM")
    return hwm if hwm == hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(a, q):
    return float(np.percentile(np.asarray(a) * 1000, q))


def read_bandwidth_gbs(X: np.ndarray) -> float:
    """Single-thread streaming read bandwidth (GB/s): best of 3 matrix-vector products (BLAS
    sgemv, the same access pattern as a flat scan) over up to 1 GB of ``X``."""
    import threadpoolctl

    part = X[: max(1, (1 << 30) // X[0].nbytes)]
    q = X[0].copy()
    best = np.inf
    with threadpoolctl.threadpool_limits(1):
        for _ in range(3):
            t0 = time.perf_counter()
            part @ q
            best = min(best, time.perf_counter() - t0)
    return part.nbytes / best / 1e9


def build_size(n: int, n_queries: int, folder: Path) -> dict:
    """Build process: generate, build (peak RSS recorded here), then ground truth to disk."""
    import faiss  # noqa: F401  (imported before the baseline: libraries are not the index's memory)
    import pyarrow.parquet  # noqa: F401

    from emoalign.store.index import ItemMeta, VectorIndex

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((CENTRES, DIM)).astype(np.float32)
    t = time.perf_counter()
    X = make_vectors(n, 1, centres)
    labels = np.random.default_rng(2).integers(len(LABELS), size=n)
    Q = make_vectors(n_queries, 3, centres)
    gen_s = time.perf_counter() - t
    metas = [ItemMeta(f"item-{i}", "image", label=LABELS[labels[i]], taxonomy="mikels8") for i in range(n)]
    reset_peak()
    rss0 = rss_mb()
    t = time.perf_counter()
    idx = VectorIndex.create(folder, space="bench-512", dim=DIM)
    idx.add(X, metas, space="bench-512")
    build_s = time.perf_counter() - t
    # Recorded before anything else runs: the build's own peak (input arrays and metadata included).
    peak_build = peak_mb()
    del metas
    seg = idx.summary()["segments"][0]
    out = {"n": n, "dim": DIM, "queries": n_queries, "generate_s": gen_s, "build_s": build_s, "kind": seg["kind"],
           "nlist": seg.get("nlist"), "nprobe": idx.manifest["nprobe"], "disk_mb": idx.summary()["bytes"] / 2**20,
           "input_mb": X.nbytes / 2**20, "rss_before_build_mb": rss0, "peak_rss_build_mb": peak_build}
    del idx

    t = time.perf_counter()
    truth = exact_topk(X, Q, 10)
    out["exact_numpy_batch_s"] = time.perf_counter() - t
    truth_f = exact_topk(X, Q, 10, labels == LABELS.index("awe"))
    np.savez(folder.parent / f"truth-{n}.npz", Q=Q, truth=truth, truth_f=truth_f)

    # exact brute force for scale (faiss flat, single-query calls on one thread, as `search()` runs)

    flat = faiss.IndexFlatIP(DIM)
    flat.add(X)
    faiss.omp_set_num_threads(1)
    lat = []
    for i in range(min(200, n_queries)):
        t0 = time.perf_counter()
        flat.search(Q[i : i + 1], 10)
        lat.append(time.perf_counter() - t0)
    out["flat_p50_ms"], out["flat_p99_ms"] = pct(lat, 50), pct(lat, 99)
    out["read_gbs_1thread"] = read_bandwidth_gbs(X)
    return out


def query_size(n: int, folder: Path) -> dict:
    """Serving process: open the index from disk, query it, update it. Holds no input vectors."""
    import faiss  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from emoalign.store.index import ItemMeta, VectorIndex

    data = np.load(folder.parent / f"truth-{n}.npz")
    Q, truth, truth_f = data["Q"], data["truth"], data["truth_f"]
    reset_peak()
    rss0 = rss_mb()
    idx = VectorIndex.open(folder)
    out = {"serve_rss_open_mb": rss_mb() - rss0}

    def timed(fn, reps):
        lat, res = [], []
        for i in range(reps):
            t0 = time.perf_counter()
            res.append(fn(i))
            lat.append(time.perf_counter() - t0)
        return lat, res

    def recall(res, truth):
        return float(np.mean([len({h.id for h in r} & {f"item-{j}" for j in row}) / 10 for r, row in zip(res, truth)]))

    lat, res = timed(lambda i: idx.search(Q[i : i + 1], 10)[0], len(Q))
    out["query_p50_ms"], out["query_p99_ms"], out["recall10"] = pct(lat, 50), pct(lat, 99), recall(res, truth)
    # emotion filter: only "awe" (1 of 8 labels)
    lat, res = timed(lambda i: idx.search(Q[i : i + 1], 10, labels=["awe"])[0], len(Q))
    out["filtered_p50_ms"], out["filtered_p99_ms"] = pct(lat, 50), pct(lat, 99)
    out["filtered_recall10"] = recall(res, truth_f)
    out["filtered_all_awe"] = bool(all(h.label == "awe" for r in res for h in r))
    out["serve_peak_rss_mb"] = peak_mb() - rss0

    # add and remove without rebuild
    rng = np.random.default_rng(0)
    extra = make_vectors(1000, 4, rng.standard_normal((CENTRES, DIM)).astype(np.float32))
    t = time.perf_counter()
    idx.add(extra, [ItemMeta(f"new-{i}", "image", label="awe", taxonomy="mikels8") for i in range(1000)], space="bench-512")
    out["add_1000_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out["removed"] = idx.remove([f"item-{i}" for i in range(0, 2000, 2)])
    out["remove_1000_s"] = time.perf_counter() - t
    out["segments_after_updates"] = [s["kind"] for s in idx.summary()["segments"]]
    lat, res = timed(lambda i: idx.search(Q[i : i + 1], 10)[0], min(300, len(Q)))
    out["after_updates_p50_ms"], out["after_updates_p99_ms"] = pct(lat, 50), pct(lat, 99)
    out["removed_never_returned"] = bool(all(not (h.id.startswith("item-") and int(h.id[5:]) < 2000 and int(h.id[5:]) % 2 == 0)
                                             for r in res for h in r))
    return out


def reload_probe(folder: Path, mmap: bool) -> dict:
    """Run in a fresh process: open the index, one query; report times and RSS."""
    code = (
        "import time, json, numpy as np, sys\n"
        "t=time.perf_counter()\n"
        "import faiss, pyarrow.parquet\n"
        "from emoalign.store.index import VectorIndex\n"
        "imp=time.perf_counter()-t\n"
        "rss0=[int(l.split()[1])/1024 for l in open('/proc/self/status') if l.startswith('VmRSS:')][0]\n"
        f"t=time.perf_counter(); idx=VectorIndex.open({str(folder)!r}, mmap={mmap}); op=time.perf_counter()-t\n"
        f"q=np.random.default_rng(9).standard_normal((1,{DIM})).astype('float32'); q/=np.linalg.norm(q)\n"
        "t=time.perf_counter(); idx.search(q,10); first=time.perf_counter()-t\n"
        "rss=[int(l.split()[1])/1024 for l in open('/proc/self/status') if l.startswith('VmRSS:')][0]\n"
        "print(json.dumps({'import_s':imp,'open_s':op,'first_query_s':first,'rss_mb':rss,'rss_base_mb':rss0,'items':len(idx)}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def child(stage: str, n: int, n_queries: int, folder: str) -> None:
    res = build_size(n, n_queries, Path(folder)) if stage == "build" else query_size(n, Path(folder))
    print("RESULT " + json.dumps(res))


def run_child(stage: str, n: int, n_queries: int, folder: Path) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", stage, str(n), str(n_queries), str(folder)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stderr[-3000:])
        raise SystemExit(f"size {n}, {stage} failed")
    return json.loads([l for l in r.stdout.splitlines() if l.startswith("RESULT ")][-1][7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--tmp", default=None, help="Where to build the indexes (default: a temp folder).")
    ap.add_argument("--child", nargs=4, metavar=("STAGE", "N", "Q", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]), args.child[3])
        return
    base = Path(args.tmp or tempfile.mkdtemp(prefix="emoalign-index-bench-"))
    results = []
    for n in args.sizes:
        folder = base / f"idx-{n}"
        shutil.rmtree(folder, ignore_errors=True)
        print(f"== {n:,} items", flush=True)
        res = run_child("build", n, args.queries, folder)
        # Reload before the query stage's add/remove changes the folder.
        res["reload"] = reload_probe(folder, mmap=False)
        res["reload_mmap"] = reload_probe(folder, mmap=True)
        res.update(run_child("query", n, args.queries, folder))
        (base / f"truth-{n}.npz").unlink(missing_ok=True)
        print(json.dumps(res, indent=1), flush=True)
        results.append(res)
        shutil.rmtree(folder, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "index.json").write_text(json.dumps({"machine": machine(), "results": results}, indent=1))
    write_markdown(results)


def machine() -> dict:
    import platform

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(), "loadavg_at_end": load}


def scan_bound_ms(r: dict, fraction: float) -> float:
    """Time to stream ``fraction`` of the stored vectors once at the measured read bandwidth."""
    return fraction * r["n"] * DIM * 4 / (r["read_gbs_1thread"] * 1e9) * 1000


def write_markdown(results: list[dict]) -> None:
    m = machine()
    load = m["loadavg_at_end"]
    shared = load is not None and load[0] > 1.5
    lines = [
        "# Vector index benchmark (`bench/index.py`)", "",
        f"Command: `python bench/index.py --sizes {' '.join(str(r['n']) for r in results)} --queries {results[0]['queries']}`. "
        f"Machine: {m['cpus']}-core CPU, load average at the end {tuple(round(x, 1) for x in load) if load else '?'}"
        + (" (shared with other jobs: latencies are noisy)." if shared else "."),
        "",
        "Data: synthetic clustered unit vectors, 512-d, 1,000 Gaussian clusters, each item tagged with one of 8 emotions "
        f"(uniform); {results[0]['queries']:,} fresh queries from the same distribution. Recall@10 is against exact search (blocked numpy matmul). "
        "Latency is one `VectorIndex.search()` call per query, top 10, metadata included, in a fresh process that "
        "opened the index from disk (it holds nothing else).",
        "",
        "| items | base | build s | disk MB | p50 ms | p99 ms | recall@10 | filtered p50 / p99 ms | filtered recall@10 | exact (faiss flat) p50 / p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = r["kind"] + (f" ({r['nlist']} lists, nprobe {r['nprobe']})" if r.get("nlist") else "")
        lines.append(
            f"| {r['n']:,} | {base} | {r['build_s']:.1f} | {r['disk_mb']:.0f} | {r['query_p50_ms']:.2f} | "
            f"{r['query_p99_ms']:.2f} | {r['recall10']:.4f} | {r['filtered_p50_ms']:.2f} / {r['filtered_p99_ms']:.2f} | "
            f"{r['filtered_recall10']:.4f} | {r['flat_p50_ms']:.2f} / {r['flat_p99_ms']:.2f} |"
        )
    lines += ["", "## Memory", "",
              "| items | vectors (n × 512 × 4 B) MB | build process: peak growth during build MB | serving: index after open MB "
              "| serving: peak while querying MB | mmap: after open MB |",
              "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['n']:,} | {r['input_mb']:.0f} | {r['peak_rss_build_mb'] - r['rss_before_build_mb']:.0f} | "
            f"{r['serve_rss_open_mb']:.0f} | {r['serve_peak_rss_mb']:.0f} | "
            f"{r['reload_mmap']['rss_mb'] - r['reload_mmap'].get('rss_base_mb', 0):.0f} |"
        )
    lines += ["",
              "Each figure is RSS growth over the process's own baseline (imports, query vectors): *build* is the peak "
              "recorded right after `add` returns — the input array and its metadata already existed before, so this is "
              "what building adds (faiss's copy of the vectors, IVF training, Parquet metadata); the exact ground truth and "
              "the faiss-flat baseline run only after that figure is taken. *Serving* is a separate fresh process "
              "that opens the index from disk (normal read) and runs every query in the table above.",
              "", "## Reload and updates", "",
              "| items | reload s (read) | reload s (mmap) | first query after mmap s | add 1,000 s | remove 1,000 s | segments after | p50 / p99 ms after |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        a, b = r["reload"], r["reload_mmap"]
        lines.append(
            f"| {r['n']:,} | {a['open_s']:.2f} | {b['open_s']:.2f} | {b['first_query_s']:.3f} | "
            f"{r['add_1000_s']:.2f} | {r['remove_1000_s']:.2f} | {', '.join(r['segments_after_updates'])} | "
            f"{r['after_updates_p50_ms']:.2f} / {r['after_updates_p99_ms']:.2f} |"
        )
    lines += ["", "## How close to the memory-bandwidth limit", "",
              "A query is a scan: IVF reads about nprobe/nlist of the vectors, flat reads all of them. At the single-thread "
              "read bandwidth measured in the same run (numpy matrix-vector product over ≤ 1 GB of the vectors), that scan alone takes:", "",
              "| items | read GB/s (1 thread) | index scan bound ms | index p50 ms | flat scan bound ms | flat p50 ms |",
              "|---|---|---|---|---|---|"]
    for r in results:
        frac = r["nprobe"] / r["nlist"] if r.get("nlist") else 1.0
        lines.append(f"| {r['n']:,} | {r['read_gbs_1thread']:.1f} | {scan_bound_ms(r, frac):.2f} | {r['query_p50_ms']:.2f} | "
                     f"{scan_bound_ms(r, 1.0):.1f} | {r['flat_p50_ms']:.1f} |")
    lines += [
        "", "IVF time above the scan bound is the coarse quantiser (nlist dot products), list bookkeeping and the "
        "metadata lookup of the 10 hits; lists are uneven on clustered data, so the real scanned share differs from nprobe/nlist.",
        "", "Checks: every filtered hit carried the requested label: "
        + ", ".join(f"{r['n']:,}: {r['filtered_all_awe']}" for r in results)
        + "; removed items never returned: " + ", ".join(f"{r['n']:,}: {r['removed_never_returned']}" for r in results) + ".",
        "", "Reload is measured in a fresh process (`VectorIndex.open`; importing faiss, pyarrow and the module excluded). "
        "Single queries run on one faiss thread (the default of `search()` for ≤ 4 queries). "
        "`add` writes one exact delta segment; `remove` writes a tombstone list — neither retrains nor rewrites the base.",
        "", "Raw figures: `bench/results/index.json`.",
    ]
    (RESULTS / "index.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
