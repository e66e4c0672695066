"""Pairing at scale: exact top-K against the machine's matmul peak, ANN recall, and `pairs build` end to end.

    python bench/pairing.py [--n 50000] [--d 512] [--k 10] [--curve 5000,10000,20000,50000]
                            [--e2e 10000] [--workdir /tmp/emoalign-bench-pairing] [--out bench/results/pairing.md]

1. **Peak**: a 4096³ float32 GEMM (numpy/OpenBLAS, best of 3) in the same process, and a GEMM of
   pairing's own block shape (2048 × d by d × 26,214), as GFLOP/s; the larger is the run's peak.
2. **Exact top-K**, N = M = ``--n``: clustered unit vectors (1,000 centres + noise, like real
   embeddings; noise 1.5× the centre norm, so clusters overlap). Methods side by side: ``fused`` (ours: threshold filter + word-scan, threads),
   ``fused+lse`` (also the paper's full softmax: log-sum-exp over all M), ``argpartition`` (numpy,
   one argpartition per block, single thread: the baseline ARCHITECTURE.md measured) and
   ``torch`` (``torch.mm`` + ``torch.topk``). Each runs twice in opposite orders (the best is
   kept: the shared machine's load drifts) and reports seconds, effective GFLOP/s for 2·N·M·d
   FLOPs, and the ratio to the peak and to a GEMM timed just before it. Top-K scores checked equal.
3. **Scaling curve** of ``fused`` and ``argpartition`` over ``--curve`` (best of two).
4. **ANN** (faiss IVF-Flat, HNSW) at N = M = ``--n``: build and search time, recall@K vs exact.
5. **End to end**: ``emoalign pairs build`` (the CLI, in a subprocess) on a generated collection of
   ``--e2e`` clips × ``--e2e`` images — real media files (synthetic WAV clips and PNG images from
   `emoalign.media.synth`), listed in two CSV sources with EMID-like affect (clips: V–A
   ratings; images: a Mikels tag), semantic backend ``xmodal`` (features extracted from the media
   through the feature store), then a re-run on the same feature folder (everything reused).

Writes ``--out`` (markdown). The machine is shared: the load average is logged at start and end.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from emoalign.pair.blocked import ann_topk, exact_topk, plan_blocks, recall_at_k  # noqa: E402


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def gemm_peak(n: int = 4096, repeats: int = 3) -> float:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n), dtype=np.float32)
    B = rng.standard_normal((n, n), dtype=np.float32)
    A @ B  # warm-up
    best = min(_timed(lambda: A @ B) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def gemm_block(d: int, rows: int, cols: int, repeats: int = 3) -> float:
    rng = np.random.default_rng(1)
    A = rng.standard_normal((rows, d), dtype=np.float32)
    B = rng.standard_normal((cols, d), dtype=np.float32)
    out = np.empty((rows, cols), np.float32)
    np.matmul(A, B.T, out=out)
    best = min(_timed(lambda: np.matmul(A, B.T, out=out)) for _ in range(repeats))
    return 2 * rows * cols * d / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def clustered(n: int, d: int, seed: int, centres: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # noise of 1.5× the centre's norm: clusters overlap, so neighbours are not trivially in one IVF list
    x = centres[rng.integers(0, len(centres), n)] + 1.5 * rng.standard_normal((n, d), dtype=np.float32) / np.sqrt(d)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def data(n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    centres = rng.standard_normal((1000, d), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return clustered(n, d, 1, centres), clustered(n, d, 2, centres)


METHODS = [("fused (ours)", {"method": "fused"}), ("fused + full-softmax lse", {"method": "fused", "temperature": 0.05}),
           ("numpy argpartition (baseline)", {"method": "argpartition"}), ("torch mm + topk", {"method": "torch"})]


def exact_section(n: int, d: int, k: int, peak: float, lines: list[str]) -> tuple[np.ndarray, dict[str, float]]:
    import torch  # noqa: F401  (imported before timing: its import is not pairing time)

    X, Y = data(n, d)
    flops = 2.0 * n * n * d
    rb, cb = plan_blocks(n, n)
    lines += [f"### Exact top-{k}, N = M = {n:,}, d = {d} (blocks {rb} × {cb}, 512 MiB working memory)", "",
              "The machine is shared and its load drifts, so the methods run twice, in opposite orders (A B C D, then D C B A), "
              "and the faster run of each is reported; a block-shaped GEMM is timed just before each run ('GEMM now') and the "
              "last column compares the method with the matmul throughput available at that moment.", "",
              "| method | seconds | matmul s | select s | GFLOP/s (2·N·M·d / time) | share of run peak | GEMM now GFLOP/s | share of GEMM now |",
              "|---|---|---|---|---|---|---|---|"]
    best: dict[str, tuple[float, float, object]] = {}
    for order in (METHODS, METHODS[::-1]):
        for label, kwargs in order:
            now = gemm_block(d, rb, cb, repeats=1)
            t = time.perf_counter()
            res = exact_topk(X, Y, k, **kwargs)
            sec = time.perf_counter() - t
            print(f"  exact {label}: {sec:.1f} s, GEMM now {now:.0f} GFLOP/s (load {load()})", flush=True)
            if label not in best or sec < best[label][0]:
                best[label] = (sec, now, res)
    for label, _ in METHODS:
        sec, now, res = best[label]
        gf = flops / sec / 1e9
        lines.append(f"| {label} | {sec:.1f} | {res.stats['matmul_s']:.1f} | {res.stats['select_s']:.1f} | {gf:.0f} | {gf / peak:.2f} "
                     f"| {now:.0f} | {gf / now:.2f} |")
    ref = best["fused (ours)"][2]
    for label, (_, _, res) in best.items():
        np.testing.assert_allclose(res.scores, ref.scores, rtol=1e-4, atol=1e-5, err_msg=label)
    agree = float((best["numpy argpartition (baseline)"][2].index == ref.index).mean())
    lines += ["", f"All methods return the same top-{k} scores (checked); indices agree with the baseline on "
              f"{agree:.4%} of slots (the rest are exact ties, which only `fused` orders by index).", ""]
    return ref.index, {"fused": best["fused (ours)"][0], "argpartition": best["numpy argpartition (baseline)"][0]}


def curve_section(sizes: list[int], d: int, k: int, peak: float, lines: list[str], known: dict[int, dict[str, float]]) -> None:
    lines += ["### Scaling (N = M)", "", "| N = M | fused s | fused GFLOP/s | share of run peak | argpartition s | argpartition / fused |",
              "|---|---|---|---|---|---|"]
    for n in sizes:
        flops = 2.0 * n * n * d
        if n in known:  # measured above (best of two runs)
            tf, ta = known[n]["fused"], known[n]["argpartition"]
        else:
            X, Y = data(n, d)
            tf = min(_timed(lambda: exact_topk(X, Y, k)) for _ in range(2))
            ta = min(_timed(lambda: exact_topk(X, Y, k, method="argpartition")) for _ in range(2))
        lines.append(f"| {n:,} | {tf:.2f} | {flops / tf / 1e9:.0f} | {flops / tf / 1e9 / peak:.2f} | {ta:.2f} | {ta / tf:.2f} |")
        print(f"  curve {n}: fused {tf:.1f} s, argpartition {ta:.1f} s (load {load()})", flush=True)
    lines.append("")


def ann_section(n: int, d: int, k: int, exact_index: np.ndarray, exact_s: float | None, lines: list[str]) -> None:
    X, Y = data(n, d)
    lines += [f"### ANN (faiss), N = M = {n:,}, d = {d}", "", "| index | build s | search s (all N queries) | recall@10 vs exact |", "|---|---|---|---|"]
    for label, kwargs in [("IVF-Flat nlist≈4√M, nprobe 64", {"method": "ivf", "nprobe": 64}),
                          ("IVF-Flat nlist≈4√M, nprobe 16", {"method": "ivf", "nprobe": 16}),
                          ("HNSW M=32, ef 256", {"method": "hnsw", "ef_search": 256})]:
        res = ann_topk(X, Y, k, **kwargs)
        r = recall_at_k(res.index, exact_index)
        lines.append(f"| {label} (nlist {res.stats.get('nlist', '-')}) | {res.stats['build_s']:.1f} | {res.stats['search_s']:.1f} | {r:.4f} |")
        print(f"  ann {label}: recall {r:.4f} (load {load()})", flush=True)
    lines.append("")


# ---------------------------------------------------------------------------------------------
# End to end
# ---------------------------------------------------------------------------------------------
def make_collection(root: Path, n: int, seed: int = 0) -> tuple[Path, Path, float]:
    """n WAV clips and n PNG images with EMID-like affect, listed in two CSV sources."""
    from emoalign.affect import get_taxonomy, nearest_label
    from emoalign.media.synth import synth_clip, synth_image, write_clip, write_image

    t = time.perf_counter()
    rng = np.random.default_rng(seed)
    mikels = get_taxonomy("mikels8").names
    music_csv, image_csv = root / "music.csv", root / "images.csv"
    if music_csv.is_file() and image_csv.is_file():
        with music_csv.open() as fh:
            if sum(1 for _ in fh) - 1 == n:
                return music_csv, image_csv, 0.0
    (root / "music").mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(parents=True, exist_ok=True)
    with music_csv.open("w", newline="") as fm, image_csv.open("w", newline="") as fi:
        wm, wi = csv.writer(fm), csv.writer(fi)
        wm.writerow(["path", "label", "valence", "arousal", "taxonomy", "modality"])
        wi.writerow(["path", "label", "taxonomy", "modality"])
        for i in range(n):
            v, a = rng.uniform(-0.9, 0.9, 2)
            write_clip(root / "music" / f"clip{i:05d}.wav", synth_clip(v, a, seconds=1.5, seed=i))
            # like EMID: a category (here the emid13 label nearest the ratings) plus the ratings
            wm.writerow([f"music/clip{i:05d}.wav", nearest_label(v, a, "emid13"), f"{v:.3f}", f"{a:.3f}", "emid13", "music"])
            tag = mikels[int(rng.integers(len(mikels)))]
            lab = get_taxonomy("mikels8").label(tag)
            write_image(root / "images" / f"image{i:05d}.png", synth_image(lab.valence + rng.normal(0, 0.3), lab.arousal + rng.normal(0, 0.3), size=64, seed=i))
            wi.writerow([f"images/image{i:05d}.png", tag, "mikels8", "image"])
    return music_csv, image_csv, time.perf_counter() - t


def e2e_section(n: int, workdir: Path, lines: list[str]) -> None:
    music_csv, image_csv, gen_s = make_collection(workdir / f"collection{n}", n)
    out = workdir / f"pairs{n}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(Path(sys.executable).parent / "emoalign"), "pairs", "build", "--music", f"csv:{music_csv}", "--images", f"csv:{image_csv}",
           "--out", str(out), "--semantic", "xmodal", "--workers", "2", "--no-progress", "--json"]
    runs = []
    for label in ("first run (extract + pair)", "re-run (features reused)"):
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(HERE.parent / "src")})
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise RuntimeError(f"pairs build failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        runs.append((label, wall, json.loads(proc.stdout.strip().splitlines()[-1])))
        print(f"  e2e {label}: {wall:.1f} s (load {load()})", flush=True)
    s = runs[0][2]
    lines += [f"### End to end: `emoalign pairs build` on {n:,} clips × {n:,} images (real files)", "",
              f"Media generated first ({'reused from an earlier run' if gen_s == 0 else f'{gen_s:.0f} s'}): 1.5 s WAV clips and 64×64 PNG "
              "images (synthetic, seeded), listed in `csv` sources — clips with an emid13 category and valence/arousal ratings, images with a Mikels tag. "
              "Semantic backend `xmodal` (features from the media through the store, 2 worker processes).", "",
              f"Command: `emoalign pairs build --music csv:{music_csv.name} --images csv:{image_csv.name} --out OUT --semantic xmodal --workers 2`", "",
              "| run | wall s | semantic features s | affect s | pairing s | pairs |", "|---|---|---|---|---|---|"]
    for label, wall, summ in runs:
        tm = summ["timing"]
        lines.append(f"| {label} | {wall:.1f} | {tm['semantic_s']:.1f} | {tm['affect_s']:.1f} | {tm['pairing_s']:.2f} | {summ['counts']['pairs']:,} |")
    cmp = s["comparison"]
    lines += ["", "Effect of the emotional term on these pairs (α = 1 vs α = 0.6; synthetic media, so only the mechanics are meaningful):", "",
              "| | category agreement | valence-sign agreement | mean V–A distance | mean E | mean cosine |", "|---|---|---|---|---|---|"]
    for key in ("semantic_only", "emotion_aware"):
        c = cmp[key]
        lines.append(f"| α = {c['alpha']:g} | {c['category_agreement']:.3f} | {c['valence_sign_agreement']:.3f} | {c['mean_va_distance']:.3f} "
                     f"| {c['mean_E']:.3f} | {c['mean_cos']:.3f} |")
    import pyarrow.parquet as pq

    cands = pq.read_table(out / "candidates.parquet", columns=["cos", "S_softmax", "S_topk", "S_rel", "E"]).to_pandas()
    lines += ["", f"Scale of the score terms over all {len(cands):,} candidates (top-10 per clip of {n:,} images) — why S is rescaled "
              "before T = αS + (1−α)E (`emoalign.pair.score`):", "",
              "| term | median | mean | 90th percentile |", "|---|---|---|---|"]
    for col, name in [("S_softmax", "S, the paper's softmax over all images (τ = 0.05)"), ("S_topk", "S renormalised over the K candidates"),
                      ("S_rel", "S relative to the row's best (default)"), ("E", "E = (1 + V–A cosine) / 2")]:
        c = cands[col]
        lines.append(f"| {name} | {c.median():.4f} | {c.mean():.4f} | {c.quantile(0.9):.4f} |")
    r2 = runs[1][2]["extraction"]
    lines += ["", f"Re-run: semantic music {r2['semantic_music']['computed']} computed / {r2['semantic_music']['reused']} reused, "
              f"images {r2['semantic_images']['computed']} computed / {r2['semantic_images']['reused']} reused.", ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--curve", default="5000,10000,20000,50000")
    ap.add_argument("--e2e", type=int, default=10_000, help="clips (= images) for the end-to-end run; 0 skips it")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/emoalign-bench-pairing"))
    ap.add_argument("--out", type=Path, default=HERE / "results" / "pairing.md")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    start_load = load()
    t0 = time.perf_counter()
    square = gemm_peak()
    rb, cb = plan_blocks(args.n, args.n)
    block = gemm_block(args.d, rb, cb)
    peak = max(square, block)
    print(f"peak {peak:.0f} GFLOP/s, block-shaped {block:.0f} GFLOP/s (load {load()})", flush=True)
    lines = ["# Pairing at scale", "",
             f"Command: `python bench/pairing.py --n {args.n} --d {args.d} --k {args.k} --curve {args.curve} --e2e {args.e2e}`", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__} "
             f"(OpenBLAS), Python {platform.python_version()}. Shared machine: load average at start {start_load}.", "",
             "## Matmul peak (same run)", "",
             f"- 4096³ float32 GEMM: {square:.0f} GFLOP/s (best of 3).",
             f"- pairing's block shape ({rb} × {args.d} by {args.d} × {cb}): {block:.0f} GFLOP/s (best of 3).",
             f"- run peak (the larger): **{peak:.0f} GFLOP/s** — the reference for 'share of run peak' below. "
             "(ARCHITECTURE.md measured 164–175 GFLOP/s for OpenBLAS on this machine kind when it was quiet.)", "", "## Exact pairing", ""]
    exact_index, times = exact_section(args.n, args.d, args.k, peak, lines)
    sizes = [int(s) for s in args.curve.split(",") if s]
    curve_section(sizes, args.d, args.k, peak, lines, {args.n: times})
    lines += ["## Approximate pairing", ""]
    ann_section(args.n, args.d, args.k, exact_index, None, lines)
    if args.e2e:
        lines += ["## End to end", ""]
        e2e_section(args.e2e, args.workdir, lines)
    lines += [f"Total bench time {time.perf_counter() - t0:.0f} s; load average at end {load()}.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
