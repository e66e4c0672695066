"""Music emotion on the 4Q clips: every candidate model compared in one run, then the shipped head.

Data: the 700 shared clips of the 4Q audio emotion data set (Panda, Malheiro & Paiva 2018),
175 per Russell quadrant, with ``metadata.csv``'s artist-grouped ``fold`` 0–4.

Candidates (features from ``bench/music_4q_features.py``, cached under /work/cache/music/feats):

- majority class; the ``music-acoustic`` cue model as shipped (quadrant = signs of its fixed
  valence/arousal, nothing fitted);
- standardise → multinomial logistic regression (balanced, L2) on: the music-acoustic cues and
  descriptors, openSMILE eGeMAPSv02 and ComParE_2016 functionals, the musicnn embedding (mean+std
  over 3-s patches of the 200-d penultimate layer), with and without the 50 MSD tag probabilities,
  and combinations.

Protocols, each reporting quadrant macro-F1 and accuracy:

1. **artist-grouped 5-fold CV** over the given folds (no artist in two folds). ``C`` is chosen
   inside each training part by leave-one-fold-out over its 4 folds (nested; the outer fold is
   never seen). The row "auto" also chooses the *feature set* that way, so its score is that of
   the whole selection procedure.
2. **random 10-fold CV** (stratified, the paper's protocol, ``--repeats`` times), ``C`` by inner
   random stratified 3-fold CV. Artists then appear on both sides, which flatters every model;
   Panda et al. report 76.4 % F1 this way (20 × 10-fold).

Then, unless ``--no-ship``: the feature set and ``C`` are chosen by the same leave-one-fold-out
CV on all 700 (among the sets the encoder can compute), the head is fitted on all 700 and written
to ``src/emoalign/encode/models/music_musicnn_quadrant.npz`` with its selection in the metadata.
Speed of the encoders (one thread) is measured in the same run (``--speed-clips``).

    OMP_NUM_THREADS=1 nice -n 5 python bench/music_4q.py --out bench/results/music_4q.md
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from music_4q_features import CACHE, DATA, extract_set, load_set  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HEAD_OUT = REPO / "src" / "emoalign" / "encode" / "models" / "music_musicnn_quadrant.npz"
QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
C_GRID = (0.001, 0.01, 0.1, 1.0)
PANDA_F1 = 0.764
#: name → feature blocks (columns of the cached sets). Blocks the shipped encoder can compute are
#: marked by SHIPPABLE; ComParE is compared but too slow to run per clip in the encoder.
BLOCKS = {
    "acoustic": ("acoustic", None),
    "egemaps": ("egemaps", None),
    "compare": ("compare", None),
    "pen": ("musicnn", "pen_"),
    "tags": ("musicnn", "tag:"),
}
SETS = {
    "music-acoustic cues + LR": ["acoustic"],
    "eGeMAPS + LR": ["egemaps"],
    "ComParE + LR": ["compare"],
    "musicnn tags + LR": ["tags"],
    "musicnn embedding + LR": ["pen"],
    "musicnn embedding + tags + LR": ["pen", "tags"],
    "musicnn emb + tags + eGeMAPS + LR": ["pen", "tags", "egemaps"],
    "musicnn emb + tags + acoustic + LR": ["pen", "tags", "acoustic"],
    "musicnn emb + tags + ComParE + LR": ["pen", "tags", "compare"],
    "eGeMAPS + ComParE + acoustic + LR": ["egemaps", "compare", "acoustic"],
}
SHIPPABLE = {"acoustic", "egemaps", "pen", "tags"}
#: encoder feature-block names in the order music_musicnn.py concatenates them
ENCODER_BLOCKS = {"pen": ["pen_mean", "pen_std"], "tags": ["tags"], "acoustic": ["acoustic"], "egemaps": ["egemaps"]}


def load_table(ids: list[str], cache: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    loaded: dict[str, dict] = {}
    for block, (set_name, prefix) in BLOCKS.items():
        if set_name not in loaded:
            if not (cache / f"{set_name}.npz").exists():
                continue
            loaded[set_name] = load_set(set_name, cache)
        d = loaded[set_name]
        pos = {i: k for k, i in enumerate(d["ids"])}
        if any(i not in pos for i in ids):
            missing = [i for i in ids if i not in pos]
            print(f"{block}: {len(missing)} clips missing (e.g. {missing[:2]}; errors {list(d['errors'].items())[:2]}) — block skipped", file=sys.stderr)
            continue
        cols = np.array([prefix is None or c.startswith(prefix) for c in d["columns"]])
        X = d["X"][[pos[i] for i in ids]][:, cols]
        out[block] = np.nan_to_num(X, nan=0.0, posinf=0.0, neginf=0.0)
    return out


def fit_predict(Xtr, ytr, Xte, C):
    from emoalign.encode.heads import LinearClassifierHead

    head = LinearClassifierHead(C=C).fit(Xtr, ytr)
    P = head.predict_proba(Xte)
    out = np.zeros((len(Xte), len(QUADRANTS)))  # a class absent from training gets probability 0
    for j, q in enumerate(QUADRANTS):
        if q in head.classes_:
            out[:, j] = P[:, head.classes_.index(q)]
    return out


def scores(y, pred) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {"f1": float(f1_score(y, pred, average="macro", labels=list(QUADRANTS), zero_division=0)), "acc": float(accuracy_score(y, pred))}


def predict_labels(P):
    return np.array(QUADRANTS)[P.argmax(axis=1)]


def inner_choose(X, y, splits, grid=C_GRID) -> tuple[float, float]:
    """(best C, its mean macro-F1) over the given (train, val) index splits."""
    from sklearn.metrics import f1_score

    best = (None, -1.0)
    for C in grid:
        f = np.mean([f1_score(y[va], predict_labels(fit_predict(X[tr], y[tr], X[va], C)), average="macro", zero_division=0) for tr, va in splits])
        if f > best[1] + 1e-9:
            best = (C, float(f))
    return best


def lofo_splits(idx: np.ndarray, folds: np.ndarray):
    """Leave-one-fold-out (train, val) splits over the folds present in ``idx`` (positions into idx)."""
    f = folds[idx]
    return [(np.where(f != k)[0], np.where(f == k)[0]) for k in np.unique(f)]


def grouped_cv_one(X, y, folds) -> dict:
    """Nested artist-grouped CV of one feature set: out-of-fold probabilities, and per outer fold
    the C chosen by leave-one-fold-out inside its training part and that inner score."""
    P = np.zeros((len(y), 4))
    chosen, inner_f1 = [], []
    for k in range(5):
        tr, te = np.where(folds != k)[0], np.where(folds == k)[0]
        C, f = inner_choose(X[tr], y[tr], lofo_splits(tr, folds))
        chosen.append(C)
        inner_f1.append(f)
        P[te] = fit_predict(X[tr], y[tr], X[te], C)
    return {"P": P, "C": chosen, "inner_f1": inner_f1}


def auto_procedure(per_set: dict, folds, candidates: list[str]):
    """The 'auto' model: in each outer fold, the candidate set with the best *inner* score."""
    P = np.zeros_like(next(iter(per_set.values()))["P"])
    picked = []
    for k in range(5):
        best = max(candidates, key=lambda s: per_set[s]["inner_f1"][k])
        picked.append(best)
        P[folds == k] = per_set[best]["P"][folds == k]
    return P, picked


def evaluate_set(X, y, folds, repeats: int) -> dict:
    out = grouped_cv_one(X, y, folds)
    out["random"] = random_cv(X, y, repeats)
    return out


def random_cv(X, y, repeats: int, seed: int = 0):
    from sklearn.model_selection import StratifiedKFold

    res = []
    for r in range(repeats):
        pred = np.empty(len(y), dtype=object)
        for tr, te in StratifiedKFold(10, shuffle=True, random_state=seed + r).split(X, y):
            inner = list(StratifiedKFold(3, shuffle=True, random_state=seed + 100 + r).split(X[tr], y[tr]))
            C, _ = inner_choose(X[tr], y[tr], inner)
            pred[te] = predict_labels(fit_predict(X[tr], y[tr], X[te], C))
        res.append(scores(y, pred.astype(str)))
    return {"f1": float(np.mean([r["f1"] for r in res])), "acc": float(np.mean([r["acc"] for r in res])),
            "f1_sd": float(np.std([r["f1"] for r in res]))}


def speed(n_clips: int, records) -> list[dict]:
    """Clips/s and × real time of the encoders on one thread, same clips, same process."""
    import torch

    from emoalign.encode.music_musicnn import pooled_features
    from emoalign.encode.musicnn_net import MusicnnNet, load_musicnn, log_mel, patches
    from emoalign.encode.registry import get_encoder
    from emoalign.media.decode import load_audio

    torch.set_num_threads(1)
    clips = [load_audio(r.path) for r in records[:n_clips]]
    seconds = sum(len(c) for c in clips) / 16000
    rows = []
    acoustic = get_encoder("music-acoustic")
    load_musicnn()
    pooled_features(clips[0])  # warm-up
    for name, fn in [("music-acoustic (features + cue model)", lambda y: acoustic.encode_waveform(y)),
                     ("musicnn: log-mel front end only", lambda y: patches(log_mel(y))),
                     ("musicnn: front end + network (pooled features)", pooled_features)]:
        t0, c0 = time.perf_counter(), time.process_time()
        for y in clips:
            fn(y)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append({"what": name, "clips": len(clips), "audio_s": seconds, "wall_s": wall, "cpu_s": cpu,
                     "clips_per_s": len(clips) / wall, "x_realtime_wall": seconds / wall, "x_realtime_cpu": seconds / cpu})
    n_patches = sum(len(patches(log_mel(y))[0]) for y in clips)
    gflop = MusicnnNet.conv_flops_per_patch() * n_patches / 1e9
    rows.append({"what": "network FLOPs", "gflop_per_patch": MusicnnNet.conv_flops_per_patch() / 1e9, "patches": n_patches,
                 "gflop_total": gflop, "gflops_achieved_cpu": gflop / rows[-1]["cpu_s"]})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "music_4q.md")
    ap.add_argument("--repeats", type=int, default=1, help="repeats of the random 10-fold CV (the paper used 20)")
    ap.add_argument("--sets", nargs="*", default=None, help="only these candidate names (default: all whose features are cached)")
    ap.add_argument("--speed-clips", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2, help="feature sets evaluated in parallel processes")
    ap.add_argument("--no-ship", action="store_true")
    ap.add_argument("--extract", action="store_true", help="extract missing feature sets first")
    ap.add_argument("--cached-only", action="store_true", help="development: use only the clips every cached set has (never for reported figures)")
    args = ap.parse_args()
    from emoalign.data import open_source

    load_at_start = os.getloadavg()
    t_start = time.time()
    records = list(open_source("music-4q", args.data).records())
    if args.extract:
        for s in ("acoustic", "egemaps", "compare", "musicnn"):
            extract_set(s, args.data, args.cache)
    if args.cached_only:
        have = None
        for f in args.cache.glob("*.npz"):
            ids_f = set(load_set(f.stem, args.cache)["ids"])
            have = ids_f if have is None else have & ids_f
        records = [r for r in records if r.id in have]
        args.no_ship = True
    ids = [r.id for r in records]
    y = np.array([r.labels["quadrant"] for r in records])
    folds = np.array([int(r.split[4:]) for r in records])
    table = load_table(ids, args.cache)
    set_names = [s for s in (args.sets or SETS) if all(b in table for b in SETS[s])]
    Xs = {s: np.hstack([table[b] for b in SETS[s]]) for s in set_names}

    lines = ["# Music emotion on the 4Q clips: quadrant macro-F1 and accuracy", ""]
    argv = " ".join(a if " " not in a else f'"{a}"' for a in sys.argv[1:])
    lines += [f"Command: `OMP_NUM_THREADS=1 nice -n 5 python bench/music_4q.py {argv}` · machine: "
              f"{os.cpu_count()}-core x86_64 shared by several jobs, load average at start {load_at_start[0]:.1f} · Python "
              f"{platform.python_version()}, numpy {np.__version__} · {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", ""]
    lines += [f"Data: {len(ids)} clips of the 4Q data set (Panda, Malheiro & Paiva 2018), {dict(zip(*np.unique(y, return_counts=True)))} "
              "per quadrant; the 200 held-out clips (other artists) are not used here. Folds: `metadata.csv`'s artist-grouped `fold` 0–4.", ""]

    # zero-training rows
    rows = []
    majority = np.full(len(y), "Q1")
    rows.append(("majority class (Q1)", scores(y, majority), None, "—"))
    if "acoustic" in table:
        d = load_set("acoustic", args.cache)
        vi, ai = d["columns"].index("valence"), d["columns"].index("arousal")
        A = table["acoustic"]
        cue_pred = np.where(A[:, vi] >= 0, np.where(A[:, ai] >= 0, "Q1", "Q4"), np.where(A[:, ai] >= 0, "Q2", "Q3"))
        s = scores(y, cue_pred)
        rows.append(("music-acoustic as shipped (signs of its fixed V/A; nothing fitted)", s, s, "—"))

    from joblib import Parallel, delayed

    evaluated = Parallel(n_jobs=args.jobs)(delayed(evaluate_set)(Xs[s], y, folds, args.repeats) for s in set_names)
    per_set = dict(zip(set_names, evaluated))
    shippable = [s for s in set_names if all(b in SHIPPABLE for b in SETS[s])]
    P_auto, auto_choice = auto_procedure(per_set, folds, shippable)
    results = {}
    for s in set_names:
        g, r, chosen = scores(y, predict_labels(per_set[s]["P"])), per_set[s]["random"], per_set[s]["C"]
        results[s] = {"grouped": g, "random": r, "C": chosen, "dims": Xs[s].shape[1]}
        rows.append((f"{s} ({Xs[s].shape[1]} features)", g, r, ", ".join(f"{c:g}" for c in chosen)))
        print(f"{s}: grouped F1 {g['f1']:.3f} acc {g['acc']:.3f}; random F1 {r['f1']:.3f}", file=sys.stderr, flush=True)
    g_auto = scores(y, predict_labels(P_auto))
    rows.append((f"**auto** (feature set and C chosen inside each training part among the sets the encoder computes; "
                 f"picked per fold: {'; '.join(auto_choice)})", g_auto, None, "nested"))

    lines += ["## Quadrant classification", "",
              "| model | grouped 5-fold macro-F1 | grouped acc | random 10-fold macro-F1 | random acc | C per outer fold (grouped) |",
              "|---|---|---|---|---|---|"]
    for name, g, r, c in rows:
        rtxt = (f"{r['f1']:.3f}" + (f" ± {r['f1_sd']:.3f}" if "f1_sd" in r else ""), f"{r['acc']:.3f}") if r else ("—", "—")
        lines.append(f"| {name} | {g['f1']:.3f} | {g['acc']:.3f} | {rtxt[0]} | {rtxt[1]} | {c} |")
    lines += ["", f"Published: Panda, Malheiro & Paiva (2018), 900 clips, their novel + standard audio features, SVM, 20 × random 10-fold CV: "
              f"**{PANDA_F1:.1%} F1**. Random-fold rows here are means over {args.repeats} repeat(s) of stratified 10-fold CV (± SD over repeats); "
              "their folds do not keep artists apart, so they are comparable to the paper but not to the held-out test, whose artists are new.", ""]

    # valence / arousal views of the auto model, and decision rules
    from emoalign.encode.music_musicnn import va_from_quadrants

    va = np.array([va_from_quadrants(p)[:3] for p in P_auto], dtype=float)
    q_sign = np.where(va[:, 0] >= 0, np.where(va[:, 1] >= 0, "Q1", "Q4"), np.where(va[:, 1] >= 0, "Q2", "Q3"))
    raw_v = P_auto[:, 0] + P_auto[:, 3] - P_auto[:, 1] - P_auto[:, 2]
    raw_a = P_auto[:, 0] + P_auto[:, 1] - P_auto[:, 2] - P_auto[:, 3]
    q_marg = np.where(raw_v >= 0, np.where(raw_a >= 0, "Q1", "Q4"), np.where(raw_a >= 0, "Q2", "Q3"))
    yv = np.isin(y, ["Q1", "Q4"])
    ya = np.isin(y, ["Q1", "Q2"])
    lines += ["## Valence and arousal of the auto model (grouped CV, out-of-fold)", "",
              f"- quadrant from the signs of the reported `valence`/`arousal`: macro-F1 {scores(y, q_sign)['f1']:.3f} "
              f"(identical to the most probable quadrant by construction: {int((q_sign == predict_labels(P_auto)).sum())}/{len(y)} agree); "
              f"signs of the raw marginals instead: {scores(y, q_marg)['f1']:.3f}; the sign of a marginal was overruled for "
              f"{int(va[:, 2].sum())} clips.",
              f"- valence side correct: {np.mean((va[:, 0] >= 0) == yv):.3f}; arousal side correct: {np.mean((va[:, 1] >= 0) == ya):.3f}.",
              ""]
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y, predict_labels(P_auto), labels=list(QUADRANTS))
    lines += ["Confusion (rows true, columns predicted): ", "", "| | " + " | ".join(QUADRANTS) + " |", "|---|---|---|---|---|"]
    lines += [f"| {q} | " + " | ".join(str(v) for v in row) + " |" for q, row in zip(QUADRANTS, cm)]
    lines.append("")

    # ship
    ship = None
    if not args.no_ship:
        from emoalign.encode.heads import LinearClassifierHead

        allsplits = lofo_splits(np.arange(len(y)), folds)
        cands = []
        for s in set_names:
            if all(b in SHIPPABLE for b in SETS[s]):
                C, f = inner_choose(Xs[s], y, allsplits)
                cands.append((f, s, C))
        f, s, C = max(cands)
        head = LinearClassifierHead(C=C).fit(Xs[s], y)
        head.meta = {"name": "music_musicnn_quadrant", "features": [b for blk in SETS[s] for b in ENCODER_BLOCKS[blk]],
                     "feature_set": s, "C": C, "trained_on": "music-4q shared 700 clips (all folds)",
                     "selection": "feature set and C by leave-one-fold-out over the artist-grouped folds 0-4",
                     "selection_cv_macro_f1": round(f, 4), "candidates": {name: round(ff, 4) for ff, name, _ in cands},
                     "classes": list(QUADRANTS), "data": "Panda, Malheiro & Paiva (2018) 4Q audio emotion dataset; research use"}
        head.save(HEAD_OUT)
        ship = (s, C, f)
        lines += ["## Shipped head", "",
                  f"Chosen by leave-one-fold-out over the 5 artist-grouped folds on all 700 (among sets the encoder computes per clip): "
                  f"**{s}**, C = {C:g} (CV macro-F1 {f:.3f}); fitted on all 700 → `src/emoalign/encode/models/{HEAD_OUT.name}` "
                  f"({HEAD_OUT.stat().st_size / 1024:.0f} KiB).", "",
                  "| candidate | LOFO macro-F1 on all 700 (selection score) | C |", "|---|---|---|"]
        lines += [f"| {name} | {ff:.3f} | {cc:g} |" for ff, name, cc in sorted(cands, reverse=True)]
        lines.append("")

    if args.speed_clips:
        sp = speed(args.speed_clips, records)
        lines += ["## Speed (one thread, same clips, same process)", "",
                  f"{args.speed_clips} decoded 4Q clips (16 kHz mono; decoding excluded), load average at start {load_at_start[0]:.1f} on 2 cores: "
                  "wall-clock figures are slowed by the other jobs; CPU-time figures are what the process itself used.", "",
                  "| stage | clips | audio s | wall s | CPU s | clips/s (wall) | × real time (wall) | × real time (CPU) |", "|---|---|---|---|---|---|---|---|"]
        for r in sp[:-1]:
            lines.append(f"| {r['what']} | {r['clips']} | {r['audio_s']:.0f} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['clips_per_s']:.2f} | "
                         f"{r['x_realtime_wall']:.0f}× | {r['x_realtime_cpu']:.0f}× |")
        fl = sp[-1]
        lines += ["", f"Network cost: {fl['gflop_per_patch']:.2f} GFLOP per 3-s patch (convolutions and dense layers, 2 × multiply-adds), "
                  f"{fl['patches']} patches → {fl['gflop_total']:.0f} GFLOP, i.e. **{fl['gflops_achieved_cpu']:.1f} GFLOP/s** per CPU second on one thread. "
                  f"50× real time would need {fl['gflop_per_patch'] * 50 / 3:.0f} GFLOP/s sustained on one core.", ""]
    lines += [f"Total run time {time.time() - t_start:.0f} s.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    (args.out.with_suffix(".json")).write_text(json.dumps({"results": results, "auto": g_auto, "auto_choice": auto_choice,
                                                           "ship": ship}, indent=1), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
