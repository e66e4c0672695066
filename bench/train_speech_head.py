"""Train the speech-emotion heads that ship with `EgemapsSpeechEncoder` (speaker-independent).

Protocol (RAVDESS, actors 01–20 here):
1. choose the feature set (eGeMAPSv02, ComParE_2016, or both) and the regularisation ``C`` by
   actor-grouped 4-fold cross-validation on the *tune* actors (default 01–16), separately for
   the per-clip head and the speaker-normalised head; the score is pooled 8-class UAR;
2. fit the chosen settings on all tune actors and test **once** on the held-out actors
   (default 17–20), which no choice above has seen; these "dev" heads are shipped too, so that
   `bench/speech_ravdess.py` and the tests can re-measure them end to end on held-out clips;
3. fit the shipped heads with the same settings on all actors.

Writes ``speech_egemaps.npz``, ``speech_egemaps_spknorm.npz`` (all actors), their ``*_dev.npz``
counterparts (tune actors only) and ``speech_egemaps_selection.json`` (the CV grid and
held-out figures) into ``--out``. Features are cached (see ``bench/speech_features.py``).

    python bench/train_speech_head.py --data /work/shared/data/ravdess-speech-16k \\
        --out src/emoalign/encode/models
"""

from __future__ import annotations

import os

# Single-threaded BLAS: on a shared 2-core machine, threaded BLAS oversubscribes and runs ~10× slower.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speech_features import DEFAULT_CACHE, load_features  # noqa: E402

from emoalign.data.ravdess import parse_actor_range  # noqa: E402
from emoalign.encode.speech import DEFAULT_SHRINK, HEAD_FILE, SPEAKER_HEAD_FILE, fit_speech_head, fit_speech_heads, pooled_within_speaker_scale, speaker_znorm  # noqa: E402
from emoalign.eval.metrics import classification_report  # noqa: E402

FEATURE_SPECS = ("egemaps", "compare", "egemaps+compare")
C_GRID = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
MODES = ("clip", "speaker")
LABELS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")


def prepare(X: np.ndarray, actors: np.ndarray, mode: str, pooled: np.ndarray | None) -> np.ndarray:
    """Features as the head of ``mode`` sees them (speaker mode: z-normalised per actor)."""
    if mode == "clip":
        return X
    return speaker_znorm(X, actors, pooled, DEFAULT_SHRINK)


def grouped_cv(X: np.ndarray, y: np.ndarray, actors: np.ndarray, mode: str, n_folds: int = 4) -> dict[float, float]:
    """Pooled UAR of every C in the grid over actor-grouped folds."""
    from sklearn.model_selection import GroupKFold

    preds = {C: np.empty(len(y), dtype=object) for C in C_GRID}
    for train, test in GroupKFold(n_splits=n_folds).split(X, y, actors):
        pooled = pooled_within_speaker_scale(X[train], actors[train]) if mode == "speaker" else None
        Xtr = prepare(X[train], actors[train], mode, pooled)
        Xte = prepare(X[test], actors[test], mode, pooled)
        for C, head in zip(C_GRID, fit_speech_heads(Xtr, y[train], Cs=C_GRID)):
            preds[C][test] = head.predict(Xte)
    return {C: classification_report(y, p.astype(str), LABELS)["uar"] for C, p in preds.items()}


def speaker_group_cv(X: np.ndarray, y: np.ndarray, actors: np.ndarray, C: float, ks: tuple[int, ...],
                     repeats: int = 3, n_folds: int = 4) -> dict[int, float]:
    """Pooled UAR of the speaker-normalised head when a speaker's statistics come from groups of k clips.

    The head is fitted as shipped (training actors normalised with all their clips); the held-out
    fold's actors are split at random into groups of k clips, each normalised with its own
    statistics: what a user with k clips per speaker gets.
    """
    from sklearn.model_selection import GroupKFold

    rng = np.random.default_rng(0)
    preds = {k: [np.empty(len(y), dtype=object) for _ in range(repeats)] for k in ks}
    for train, test in GroupKFold(n_splits=n_folds).split(X, y, actors):
        pooled = pooled_within_speaker_scale(X[train], actors[train])
        head = fit_speech_head(prepare(X[train], actors[train], "speaker", pooled), y[train], C=C)
        for k in ks:
            for r in range(repeats):
                groups = np.empty(len(test), dtype=object)
                for spk in np.unique(actors[test]):
                    idx = rng.permutation(np.flatnonzero(actors[test] == spk))
                    for j, start in enumerate(range(0, len(idx), k)):
                        groups[idx[start : start + k]] = f"{spk}/{j}"
                preds[k][r][test] = head.predict(speaker_znorm(X[test], groups, pooled, DEFAULT_SHRINK))
    return {k: float(np.mean([classification_report(y, p.astype(str), LABELS)["uar"] for p in preds[k]])) for k in ks}


def fit_mode(X: np.ndarray, y: np.ndarray, actors: np.ndarray, mode: str, spec: str, C: float, meta: dict,
             min_clips: int | None = None):
    pooled = pooled_within_speaker_scale(X, actors) if mode == "speaker" else None
    extra = dict(meta)
    if mode == "speaker":
        extra.update(speaker_normalised=True, shrink=DEFAULT_SHRINK, min_clips=min_clips,
                     pooled_scale=[float(f"{v:.6g}") for v in pooled])
    head = fit_speech_head(prepare(X, actors, mode, pooled), y, C=C, features=spec, meta=extra)
    return head, pooled


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="RAVDESS folder (e.g. /work/shared/data/ravdess-speech-16k)")
    ap.add_argument("--out", default="src/emoalign/encode/models", help="folder for the head files")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE))
    ap.add_argument("--tune-actors", default="1-16")
    ap.add_argument("--test-actors", default="17-20")
    ap.add_argument("--jobs", type=int, default=2, help="processes for feature extraction")
    args = ap.parse_args(argv)

    t0 = time.time()
    F = load_features(args.data, args.cache, args.jobs)
    tune_set, test_set = parse_actor_range(args.tune_actors), parse_actor_range(args.test_actors)
    if tune_set & test_set:
        raise SystemExit(f"tune actors {sorted(tune_set)} and test actors {sorted(test_set)} overlap")
    tune, test = F.select(tune_set), F.select(test_set)
    if not tune.any() or not test.any():
        raise SystemExit("no clips for the tune or the test actors")
    every = F.select(tune_set | test_set)

    grid: dict[str, dict[str, dict[str, float]]] = {m: {} for m in MODES}
    chosen: dict[str, dict] = {}
    for mode in MODES:
        for spec in FEATURE_SPECS:
            X = F.matrix(spec)
            t = time.time()
            scores = grouped_cv(X[tune], F.labels[tune], F.actors[tune], mode)
            grid[mode][spec] = {str(C): round(s, 4) for C, s in scores.items()}
            best_C = max(scores, key=scores.get)
            print(f"cv {mode:7s} {spec:16s} " + " ".join(f"{C:g}:{s:.3f}" for C, s in scores.items())
                  + f"  ({time.time() - t:.0f} s)", flush=True)
            if mode not in chosen or scores[best_C] > chosen[mode]["cv_uar"]:
                chosen[mode] = {"features": spec, "C": best_C, "cv_uar": round(scores[best_C], 4)}
        print(f"chosen {mode}: {chosen[mode]}", flush=True)

    # how many clips a speaker needs before the speaker head beats the per-clip head (CV, tune actors)
    spec, C = chosen["speaker"]["features"], chosen["speaker"]["C"]
    ks = (4, 8, 12, 16, 24, 32, 48)
    t = time.time()
    group_uar = speaker_group_cv(F.matrix(spec)[tune], F.labels[tune], F.actors[tune], C, ks)
    clip_uar = chosen["clip"]["cv_uar"]
    enough = [k for k in ks if group_uar[k] >= clip_uar]
    min_clips = enough[0] if enough else ks[-1]  # never better in CV: ask for as many clips as were tried
    print("cv speaker groups of k clips: " + " ".join(f"{k}:{u:.3f}" for k, u in group_uar.items())
          + f"  vs per-clip {clip_uar:.3f} → min_clips {min_clips}  ({time.time() - t:.0f} s)", flush=True)
    chosen["speaker"]["group_cv_uar"] = {str(k): round(u, 4) for k, u in group_uar.items()}
    chosen["speaker"]["min_clips"] = min_clips

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    held_out: dict[str, dict] = {}
    files = {"clip": HEAD_FILE, "speaker": SPEAKER_HEAD_FILE}
    for mode in MODES:
        spec, C = chosen[mode]["features"], chosen[mode]["C"]
        X = F.matrix(spec)
        common = {"taxonomy": "ravdess8", "data": "RAVDESS speech (Livingstone & Russo 2018), CC BY-NC-SA 4.0",
                  "selection": f"actor-grouped 4-fold CV on actors {args.tune_actors}, pooled UAR {chosen[mode]['cv_uar']}"}
        # dev head: tune actors only, tested once on the held-out actors
        mc = chosen["speaker"]["min_clips"] if mode == "speaker" else None
        dev, pooled = fit_mode(X[tune], F.labels[tune], F.actors[tune], mode, spec, C,
                               {**common, "train_actors": args.tune_actors, "role": "dev (held-out evaluation)"}, mc)
        pred = dev.predict(prepare(X[test], F.actors[test], mode, pooled))
        rep = classification_report(F.labels[test], pred, LABELS)
        held_out[mode] = {k: round(rep[k], 4) for k in ("uar", "accuracy", "weighted_f1", "macro_f1")}
        held_out[mode].update(n=rep["n"], confusion=rep["confusion"])
        dev.meta["held_out"] = {"actors": args.test_actors, **{k: held_out[mode][k] for k in ("uar", "accuracy", "weighted_f1")}}
        dev.save(out / files[mode].replace(".npz", "_dev.npz"))
        print(f"held-out actors {args.test_actors} ({mode}): UAR {rep['uar']:.3f}  acc {rep['accuracy']:.3f}  "
              f"wF1 {rep['weighted_f1']:.3f}", flush=True)
        # shipped head: every actor
        final, _ = fit_mode(X[every], F.labels[every], F.actors[every], mode, spec, C,
                            {**common, "train_actors": f"{args.tune_actors},{args.test_actors}", "role": "shipped",
                             "held_out_of_dev_head": dev.meta["held_out"]}, mc)
        final.save(out / files[mode])
    summary = {
        "data": str(args.data), "clips": int(every.sum()), "tune_actors": args.tune_actors,
        "test_actors": args.test_actors, "c_grid": list(C_GRID), "cv_uar": grid, "chosen": chosen,
        "held_out": held_out, "labels": list(LABELS), "seconds": round(time.time() - t0),
    }
    (out / "speech_egemaps_selection.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote heads and selection to {out} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
