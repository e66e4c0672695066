"""Candidate modes side by side at scale: the paper's semantic top-K vs emotion-aware candidates.

    python bench/pairing_candidates.py [--n 50000] [--d 512] [--k 10] [--keep 3] [--alphas 0.6,0.3]
                                       [--out bench/results/pairing_candidates.md]

Data: N clips × N images, clustered unit vectors (1,000 centres + noise; `bench/pairing.py`'s
generator), valence–arousal uniform on [−1, 1]² for both sides and independent of the vectors —
the situation of item 4 of issue #16: a semantic space that says nothing about emotion.

For each α, `pair_arrays` runs with ``candidates`` = ``semantic`` (the paper), ``joint`` (∪ the
joint space's top-K, T exact on the union) and ``global`` (plus the exhaustive scan of the clips
the certificate does not settle: the collection's best by T), all exact search, and ``joint`` with
faiss IVF. Reported: wall time and its parts, candidates per clip, the share of clips whose picks
are provably the collection's best (``certified``), and what the kept pairs are like: mean T (what
is being maximised), mean E, valence-sign agreement (of the V–A used for pairing) and mean cosine.
Picks of ``global`` are checked against a brute-force T over all images on a sample of clips.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from pairing import data, load  # noqa: E402  (bench/pairing.py: the same clustered vectors)

from emoalign.pair.pairing import pair_arrays  # noqa: E402
from emoalign.pair.score import score_candidates  # noqa: E402


def picked(res, name: str, picks: np.ndarray) -> np.ndarray:
    return np.take_along_axis(res.components[name], np.where(picks >= 0, picks, 0), axis=1)[picks >= 0]


def brute_check(X, Y, mva, iva, alpha, keep, res, rows) -> float:
    """Largest gap between the brute-force best T and the picks' T over the sampled clips."""
    C = X[rows].astype(np.float64) @ Y.astype(np.float64).T
    comps = score_candidates(C, mva[rows], np.broadcast_to(iva, (len(rows), len(Y), 2)), alpha=alpha)
    best = -np.sort(-comps["T"], axis=1)[:, :keep]
    got = np.take_along_axis(res.components["T"][rows], res.chosen[rows], axis=1)
    return float(np.abs(best - got).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--keep", type=int, default=3)
    ap.add_argument("--alphas", default="0.6,0.3")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "pairing_candidates.md")
    args = ap.parse_args()
    start = load()
    X, Y = data(args.n, args.d)
    rng = np.random.default_rng(5)
    mva, iva = rng.uniform(-1, 1, (args.n, 2)), rng.uniform(-1, 1, (args.n, 2))
    sample = np.sort(rng.choice(args.n, size=min(200, args.n), replace=False))
    lines = [
        "# Candidate modes at scale: the paper's semantic top-K vs emotion-aware candidates",
        "",
        f"Command: `python bench/pairing_candidates.py --n {args.n} --d {args.d} --k {args.k} --keep {args.keep} --alphas {args.alphas}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared by several jobs), numpy {np.__version__}, "
        f"Python {platform.python_version()}. Load average at start {start}.",
        "",
        f"N = M = {args.n:,} clustered unit vectors, d = {args.d}; valence–arousal uniform and independent of the vectors "
        f"(a semantic space that knows nothing of emotion). Top-K = {args.k}, keep = {args.keep}, τ = 0.05, S relative. "
        "Runs one after another in one process (the machine's load drifts: compare within a table). With exact search "
        "the joint list is kept in the same blocked pass as the semantic one (`exact_topk(joint=…)`), so its time is "
        "inside 'semantic search s'; with IVF the joint vectors get their own index.",
        "",
    ]
    for alpha in [float(a) for a in args.alphas.split(",")]:
        lines += [f"## α = {alpha:g}", "",
                  "| candidates | search | wall s | semantic search s | joint search s | scan s (clips) | candidates / clip | certified | "
                  "mean T | mean E | valence-sign agreement | mean cos | max gap to brute-force best T (200 clips) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for mode, method in (("semantic", "exact"), ("joint", "exact"), ("global", "exact"), ("joint", "ivf")):
            t0 = time.perf_counter()
            res = pair_arrays(X, Y, mva, iva, alpha=alpha, top_k=args.k, keep=args.keep, candidates=mode, method=method,
                              full_softmax=False)
            wall = time.perf_counter() - t0
            st = res.stats
            sign = (np.sign(mva[:, 0])[:, None] == np.sign(iva[np.where(res.valid, res.index, 0), 0]))
            scan = st.get("scan")
            scan_txt = f"{scan['scan_s']:.1f} ({scan['rows']:,})" if scan else "–"
            gap = brute_check(X, Y, mva, iva, alpha, args.keep, res, sample)
            lines.append(
                f"| {mode} | {method} | {wall:.1f} | {st['search_s']:.1f} | {st.get('joint_search_s', 0):.1f} | {scan_txt} | "
                f"{res.valid.sum(axis=1).mean():.1f} | {'–' if res.certified is None else f'{res.certified.mean():.1%}'} | "
                f"{picked(res, 'T', res.chosen).mean():.3f} | {picked(res, 'E', res.chosen).mean():.3f} | "
                f"{np.take_along_axis(sign, res.chosen, axis=1).mean():.3f} | {picked(res, 'cos', res.chosen).mean():.3f} | {gap:.2g} |")
            print(lines[-1], flush=True)
        lines.append("")
    lines += [f"Load average at end {load()}.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
