"""Benchmark of `emoalign.store.index.VectorIndex` on synthetic clustered 512-d vectors.

For each size (default 100,000 and 1,000,000 items) a fresh subprocess (so peak memory is the
index's own) generates unit vectors around 1,000 random cluster centres (per-coordinate noise
σ = 0.5/√d·… see `make_vectors`), each item tagged with one of Mikels' 8 emotions, builds the
index (exact below 50k items, IVF-Flat above: 1,024 lists at 100k, 4,096 at 1M, nprobe 64) and
measures:

* build time (IVF training + adding), disk size, peak RSS;
* query latency p50/p99 of single-query `search()` calls (metadata included) for 1,000 fresh
  queries from the same distribution, and recall@10 against exact search (blocked numpy matmul);
* the same with an emotion filter (one label of 8: faiss ID selector + adaptive nprobe);
* exact brute force (faiss IndexFlatIP) latency on the same machine, for scale;
* reload time (normal read, and mmap) in a fresh process, with its RSS;
* add 1,000 items (a delta segment) and remove 1,000 (tombstones): time, then query latency.

Run: ``python bench/index.py [--sizes 100000 1000000] [--queries 1000]`` → bench/results/index.md
(+ index.json). Machine: 2-core CPU shared with other jobs; figures are noisy, ratios matter.
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
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(a, q):
    return float(np.percentile(np.asarray(a) * 1000, q))


def run_size(n: int, n_queries: int, folder: Path) -> dict:
    from emoalign.store.index import ItemMeta, VectorIndex

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((CENTRES, DIM)).astype(np.float32)
    t = time.perf_counter()
    X = make_vectors(n, 1, centres)
    labels = np.random.default_rng(2).integers(len(LABELS), size=n)
    Q = make_vectors(n_queries, 3, centres)
    gen_s = time.perf_counter() - t
    metas = [ItemMeta(f"item-{i}", "image", label=LABELS[labels[i]], taxonomy="mikels8") for i in range(n)]
    rss0 = rss_mb()
    t = time.perf_counter()
    idx = VectorIndex.create(folder, space="bench-512", dim=DIM)
    idx.add(X, metas, space="bench-512")
    build_s = time.perf_counter() - t
    del metas
    seg = idx.summary()["segments"][0]
    out = {"n": n, "dim": DIM, "queries": n_queries, "generate_s": gen_s, "build_s": build_s, "kind": seg["kind"],
           "nlist": seg.get("nlist"), "nprobe": idx.manifest["nprobe"], "disk_mb": idx.summary()["bytes"] / 2**20,
           "rss_before_build_mb": rss0, "rss_after_build_mb": rss_mb(), "peak_rss_build_mb": peak_mb()}

    t = time.perf_counter()
    truth = exact_topk(X, Q, 10)
    out["exact_numpy_batch_s"] = time.perf_counter() - t
    truth_ids = [{f"item-{j}" for j in row} for row in truth]

    def timed(fn, reps):
        lat = []
        res = []
        for i in range(reps):
            t0 = time.perf_counter()
            res.append(fn(i))
            lat.append(time.perf_counter() - t0)
        return lat, res

    lat, res = timed(lambda i: idx.search(Q[i : i + 1], 10)[0], n_queries)
    out["query_p50_ms"], out["query_p99_ms"] = pct(lat, 50), pct(lat, 99)
    out["recall10"] = float(np.mean([len({h.id for h in r} & t_) / 10 for r, t_ in zip(res, truth_ids)]))

    # emotion filter: only "awe" (1 of 8 labels)
    allowed = labels == LABELS.index("awe")
    truth_f = exact_topk(X, Q, 10, allowed)
    truth_f_ids = [{f"item-{j}" for j in row} for row in truth_f]
    lat, res = timed(lambda i: idx.search(Q[i : i + 1], 10, labels=["awe"])[0], n_queries)
    out["filtered_p50_ms"], out["filtered_p99_ms"] = pct(lat, 50), pct(lat, 99)
    out["filtered_recall10"] = float(np.mean([len({h.id for h in r} & t_) / 10 for r, t_ in zip(res, truth_f_ids)]))
    out["filtered_all_awe"] = bool(all(h.label == "awe" for r in res for h in r))

    # exact brute force for scale (faiss flat, single-query calls)
    import faiss

    flat = faiss.IndexFlatIP(DIM)
    flat.add(X)
    reps = min(200, n_queries)
    faiss.omp_set_num_threads(1)  # the same single-thread setting `search()` uses for one query
    lat, _ = timed(lambda i: flat.search(Q[i : i + 1], 10), reps)
    out["flat_p50_ms"], out["flat_p99_ms"] = pct(lat, 50), pct(lat, 99)
    del flat

    # add and remove without rebuild
    extra = make_vectors(1000, 4, centres)
    t = time.perf_counter()
    idx.add(extra, [ItemMeta(f"new-{i}", "image", label="awe", taxonomy="mikels8") for i in range(1000)], space="bench-512")
    out["add_1000_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out["removed"] = idx.remove([f"item-{i}" for i in range(0, 2000, 2)])
    out["remove_1000_s"] = time.perf_counter() - t
    out["segments_after_updates"] = [s["kind"] for s in idx.summary()["segments"]]
    lat, res = timed(lambda i: idx.search(Q[i : i + 1], 10)[0], min(300, n_queries))
    out["after_updates_p50_ms"], out["after_updates_p99_ms"] = pct(lat, 50), pct(lat, 99)
    out["removed_never_returned"] = bool(all(not (h.id.startswith("item-") and int(h.id[5:]) < 2000 and int(h.id[5:]) % 2 == 0)
                                             for r in res for h in r))
    out["peak_rss_mb"] = peak_mb()
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


def child(n: int, n_queries: int, folder: str) -> None:
    res = run_size(n, n_queries, Path(folder))
    print("RESULT " + json.dumps(res))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--tmp", default=None, help="Where to build the indexes (default: a temp folder).")
    ap.add_argument("--child", nargs=3, metavar=("N", "Q", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(int(args.child[0]), int(args.child[1]), args.child[2])
        return
    base = Path(args.tmp or tempfile.mkdtemp(prefix="emoalign-index-bench-"))
    results = []
    for n in args.sizes:
        folder = base / f"idx-{n}"
        shutil.rmtree(folder, ignore_errors=True)
        print(f"== {n:,} items", flush=True)
        r = subprocess.run([sys.executable, __file__, "--child", str(n), str(args.queries), str(folder)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr[-3000:])
            raise SystemExit(f"size {n} failed")
        res = json.loads([l for l in r.stdout.splitlines() if l.startswith("RESULT ")][-1][7:])
        res["reload"] = reload_probe(folder, mmap=False)
        res["reload_mmap"] = reload_probe(folder, mmap=True)
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


def write_markdown(results: list[dict]) -> None:
    m = machine()
    lines = [
        "# Vector index benchmark (`bench/index.py`)", "",
        f"Command: `python bench/index.py --sizes {' '.join(str(r['n']) for r in results)} --queries {results[0]['queries']}`. "
        f"Machine: {m['cpus']}-core CPU, shared with other jobs (load average at the end {m['loadavg_at_end']}); latencies are noisy.",
        "",
        "Data: synthetic clustered unit vectors, 512-d, 1,000 Gaussian clusters, each item tagged with one of 8 emotions "
        "(uniform); 1,000 fresh queries from the same distribution. Recall@10 is against exact search (blocked numpy matmul). "
        "Latency is one `VectorIndex.search()` call per query, top 10, metadata included.",
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
    lines += ["", "| items | reload s (read) | memory of the loaded index MB (read) | reload s (mmap) | memory MB (mmap) | first query after mmap s | add 1,000 s | remove 1,000 s | segments after | p50 / p99 ms after |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        a, b = r["reload"], r["reload_mmap"]
        lines.append(
            f"| {r['n']:,} | {a['open_s']:.2f} | {a['rss_mb'] - a.get('rss_base_mb', 0):.0f} | {b['open_s']:.2f} | "
            f"{b['rss_mb'] - b.get('rss_base_mb', 0):.0f} | {b['first_query_s']:.3f} | "
            f"{r['add_1000_s']:.2f} | {r['remove_1000_s']:.2f} | {', '.join(r['segments_after_updates'])} | "
            f"{r['after_updates_p50_ms']:.2f} / {r['after_updates_p99_ms']:.2f} |"
        )
    lines += [
        "", "Checks: every filtered hit carried the requested label: "
        + ", ".join(f"{r['n']:,}: {r['filtered_all_awe']}" for r in results)
        + "; removed items never returned: " + ", ".join(f"{r['n']:,}: {r['removed_never_returned']}" for r in results) + ".",
        "", "Memory of the loaded index = RSS of a fresh process after `VectorIndex.open` minus its RSS after the imports "
        "(the vectors themselves are 2 KB each at 512-d float32: 195 MB per 100k). Building also holds the input array; "
        "RSS after building: " + ", ".join(f"{r['n']:,}: {r['rss_after_build_mb']:.0f} MB (input vectors {r['n'] * DIM * 4 / 2**20:.0f} MB)" for r in results) + ".",
        "", "Reload is measured in a fresh process (`VectorIndex.open`; importing faiss, pyarrow and the module excluded). Single queries run on one faiss thread (the default of `search()` for ≤ 4 queries). "
        "`add` writes one exact delta segment; `remove` writes a tombstone list — neither retrains nor rewrites the base.",
        "", "Raw figures: `bench/results/index.json`.",
    ]
    (RESULTS / "index.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
