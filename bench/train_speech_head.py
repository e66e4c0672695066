"""Train the speech-emotion heads that ship with `EgemapsSpeechEncoder` (speaker-independent).

Protocol (RAVDESS, actors 01–20 here; other actors are held out by the issuer of the task):
1. choose the feature set (eGeMAPSv02, ComParE_2016, or both) and the regularisation ``C`` by
   actor-grouped 5-fold cross-validation on actors 01–20 (4 actors per fold; pooled 8-class
   UAR), separately for the per-clip head and the speaker-normalised head; also how many clips
   a speaker needs before the speaker head beats the per-clip head (``min_clips``);
2. fit the shipped heads with the chosen settings on all 20 actors;
3. fit "dev" heads with the same settings on actors 01–16 only, so that
   `bench/speech_ravdess.py` and the ``shared_data`` test can run the encoder end to end on
   actors 17–20, whose clips the dev heads never saw (they did take part in choosing the
   settings in step 1, so that figure is a check of the encoder path, not a clean held-out score).

The settings of the heads shipped before (features ``egemaps+compare``, C=0.001 per clip /
0.003 speaker-normalised, chosen by 4-fold CV on actors 01–16) are cells of the same grid, so
``speech_egemaps_selection.json`` and ``bench/results/speech_ravdess.md`` report them side by
side with the new choice.

Writes ``speech_egemaps.npz``, ``speech_egemaps_spknorm.npz`` (all actors), their ``*_dev.npz``
counterparts (actors 01–16) and ``speech_egemaps_selection.json`` (the CV grid) into ``--out``.
Features are cached (see ``bench/speech_features.py``).

    python bench/train_speech_head.py --data /work/shared/data/ravdess-speech-16k \\
        --cache /work/cache/speechtext --out src/emoalign/encode/models
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
#: Grid rows: the per-clip head on raw features, the per-clip head trained with speaker-restyled
#: copies (see `speaker_restyled`; one feature set only, the per-clip head's best, to save time),
#: and the speaker-normalised head.
GRID = (("clip", FEATURE_SPECS), ("clip_aug", ("egemaps+compare",)), ("speaker", FEATURE_SPECS))
LABELS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")


def speaker_restyled(X: np.ndarray, actors: np.ndarray) -> np.ndarray:
    """Copies of the training clips with each actor's own offset and spread swapped for the pool's.

    Each actor's features are z-normalised with that actor's statistics, then mapped back with the
    mean and spread of all training clips: the same emotions, as if spoken by an "average"
    speaker. Training the per-clip head on the clips and these copies asks it to rely less on
    what is constant within a speaker, which is what differs between training and unseen speakers.
    Used only at training time; the head still reads raw features of one clip.
    """
    return speaker_znorm(X, actors) * X.std(axis=0) + X.mean(axis=0)


def training_rows(X: np.ndarray, y: np.ndarray, actors: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows a head of ``mode`` is fitted on (``clip_aug``: the clips and their speaker-restyled copies)."""
    if mode == "clip_aug":
        return np.vstack([X, speaker_restyled(X, actors)]), np.concatenate([y, y])
    return X, y


def prepare(X: np.ndarray, actors: np.ndarray, mode: str, pooled: np.ndarray | None) -> np.ndarray:
    """Features as the head of ``mode`` sees them (speaker mode: z-normalised per actor)."""
    if mode in ("clip", "clip_aug"):
        return X
    return speaker_znorm(X, actors, pooled, DEFAULT_SHRINK)


def grouped_cv(X: np.ndarray, y: np.ndarray, actors: np.ndarray, mode: str, n_folds: int = 5) -> dict[float, float]:
    """Pooled UAR of every C in the grid over actor-grouped folds."""
    from sklearn.model_selection import GroupKFold

    preds = {C: np.empty(len(y), dtype=object) for C in C_GRID}
    for train, test in GroupKFold(n_splits=n_folds).split(X, y, actors):
        pooled = pooled_within_speaker_scale(X[train], actors[train]) if mode == "speaker" else None
        Xtr, ytr = training_rows(prepare(X[train], actors[train], mode, pooled), y[train], actors[train], mode)
        Xte = prepare(X[test], actors[test], mode, pooled)
        for C, head in zip(C_GRID, fit_speech_heads(Xtr, ytr, Cs=C_GRID)):
            preds[C][test] = head.predict(Xte)
    return {C: classification_report(y, p.astype(str), LABELS)["uar"] for C, p in preds.items()}


def speaker_group_cv(X: np.ndarray, y: np.ndarray, actors: np.ndarray, C: float, ks: tuple[int, ...],
                     repeats: int = 3, n_folds: int = 5) -> dict[int, float]:
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
    if mode == "clip_aug":
        extra["augmentation"] = "speaker-restyled copies of the training clips (bench/train_speech_head.py)"
    Xfit, yfit = training_rows(prepare(X, actors, mode, pooled), y, actors, mode)
    head = fit_speech_head(Xfit, yfit, C=C, features=spec, meta=extra)
    return head, pooled


#: settings of the heads shipped before this protocol (4-fold CV on actors 01–16), for the side-by-side row
PREVIOUS = {"clip": {"features": "egemaps+compare", "C": 0.001}, "speaker": {"features": "egemaps+compare", "C": 0.003}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="RAVDESS folder (e.g. /work/shared/data/ravdess-speech-16k)")
    ap.add_argument("--out", default="src/emoalign/encode/models", help="folder for the head files")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE))
    ap.add_argument("--cv-actors", default="1-20", help="actors for the grouped CV and the shipped heads")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--dev-actors", default="1-16", help="actors the dev heads are fitted on")
    ap.add_argument("--jobs", type=int, default=2, help="processes for feature extraction")
    args = ap.parse_args(argv)

    t0 = time.time()
    F = load_features(args.data, args.cache, args.jobs)
    cv_set, dev_set = parse_actor_range(args.cv_actors), parse_actor_range(args.dev_actors)
    every, dev_rows = F.select(cv_set), F.select(dev_set & cv_set)
    if not every.any() or not dev_rows.any():
        raise SystemExit("no clips for the CV or the dev actors")
    y, actors = F.labels[every], F.actors[every]

    grid: dict[str, dict[str, dict[str, float]]] = {m: {} for m, _ in GRID}
    chosen: dict[str, dict] = {}
    for mode, specs in GRID:
        head_kind = "clip" if mode == "clip_aug" else mode
        for spec in specs:
            X = F.matrix(spec)[every]
            t = time.time()
            scores = grouped_cv(X, y, actors, mode, args.folds)
            grid[mode][spec] = {str(C): round(s, 4) for C, s in scores.items()}
            best_C = max(scores, key=scores.get)
            print(f"cv {mode:7s} {spec:16s} " + " ".join(f"{C:g}:{s:.3f}" for C, s in scores.items())
                  + f"  ({time.time() - t:.0f} s)", flush=True)
            if head_kind not in chosen or scores[best_C] > chosen[head_kind]["cv_uar"]:
                chosen[head_kind] = {"features": spec, "C": best_C, "cv_uar": round(scores[best_C], 4),
                                     "augmented": mode == "clip_aug"}
        print(f"chosen {head_kind} (so far): {chosen[head_kind]}", flush=True)
    previous = {mode: {**PREVIOUS[mode], "cv_uar": grid[mode][PREVIOUS[mode]["features"]][str(PREVIOUS[mode]["C"])]}
                for mode in MODES}

    # how many clips a speaker needs before the speaker head beats the per-clip head (CV)
    spec, C = chosen["speaker"]["features"], chosen["speaker"]["C"]
    ks = (2, 4, 8, 12, 16, 24, 32, 48)
    t = time.time()
    group_uar = speaker_group_cv(F.matrix(spec)[every], y, actors, C, ks, n_folds=args.folds)
    clip_uar = chosen["clip"]["cv_uar"]
    enough = [k for k in ks if group_uar[k] >= clip_uar]
    min_clips = enough[0] if enough else ks[-1]  # never better in CV: ask for as many clips as were tried
    print("cv speaker groups of k clips: " + " ".join(f"{k}:{u:.3f}" for k, u in group_uar.items())
          + f"  vs per-clip {clip_uar:.3f} → min_clips {min_clips}  ({time.time() - t:.0f} s)", flush=True)
    chosen["speaker"]["group_cv_uar"] = {str(k): round(u, 4) for k, u in group_uar.items()}
    chosen["speaker"]["min_clips"] = min_clips

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"clip": HEAD_FILE, "speaker": SPEAKER_HEAD_FILE}
    for mode in MODES:
        spec, C = chosen[mode]["features"], chosen[mode]["C"]
        X = F.matrix(spec)
        common = {"taxonomy": "ravdess8", "data": "RAVDESS speech (Livingstone & Russo 2018), CC BY-NC-SA 4.0",
                  "selection": f"actor-grouped {args.folds}-fold CV on actors {args.cv_actors}, pooled UAR {chosen[mode]['cv_uar']}"}
        mc = chosen["speaker"]["min_clips"] if mode == "speaker" else None
        fit_as = "clip_aug" if chosen[mode].get("augmented") else mode
        final, _ = fit_mode(X[every], y, actors, fit_as, spec, C,
                            {**common, "train_actors": args.cv_actors, "role": "shipped"}, mc)
        final.save(out / files[mode])
        dev, _ = fit_mode(X[dev_rows], F.labels[dev_rows], F.actors[dev_rows], fit_as, spec, C,
                          {**common, "train_actors": args.dev_actors,
                           "role": "dev (end-to-end checks on the other actors; they took part in the CV)"}, mc)
        dev.save(out / files[mode].replace(".npz", "_dev.npz"))
    summary = {
        "data": str(args.data), "clips": int(every.sum()), "cv_actors": args.cv_actors, "folds": args.folds,
        "dev_actors": args.dev_actors, "c_grid": list(C_GRID), "cv_uar": grid, "chosen": chosen,
        "previous_settings": previous, "labels": list(LABELS), "seconds": round(time.time() - t0),
    }
    (out / "speech_egemaps_selection.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote heads and selection to {out} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
