"""Per-clip features of the music-4q clips for bench/music_4q.py, cached and resumable.

One ``.npz`` per feature set under ``--cache`` (default /work/cache/music/feats): ``ids``, ``X``
(one row per clip that decoded), ``columns`` and ``errors`` (id → message for clips that did not).
A set is extracted once; re-running skips what is cached (saved every 25 clips, so a crash loses
little). Sets:

- ``acoustic``: the `music-acoustic` encoder — its 7 cue scores, its raw descriptors and its
  fixed-weight valence/arousal (columns say which is which);
- ``egemaps`` / ``compare``: openSMILE eGeMAPSv02 / ComParE_2016 functionals of the whole clip;
- ``musicnn``: the musicnn port (`emoalign.encode.music_musicnn.pooled_features`) — mean and std
  over 3-s patches of the 200-d penultimate layer, then the 50 MSD tag probabilities (mean).

    nice -n 5 python bench/music_4q_features.py --sets acoustic egemaps compare musicnn
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("EMOALIGN_SHARED_DATA", "/work/shared/data")) / "music-4q"
CACHE = Path("/work/cache/music/feats")
SR = 16000


def _records(root: Path):
    from emoalign.data import open_source

    return list(open_source("music-4q", root).records())


def _acoustic():
    from emoalign.encode.music import AcousticMusicEncoder
    from emoalign.media.decode import load_audio

    enc = AcousticMusicEncoder()
    cues = list(enc.cue_model.cues)

    def run(path: str):
        res = enc.encode_waveform(load_audio(path, sr=SR), SR, name=path)
        feats = res.details["features"]
        names = [k for k, v in feats.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        row = [*res.vector.tolist(), *[float(feats[k]) for k in names], res.affect.valence, res.affect.arousal]
        cols = [f"cue:{c}" for c in cues] + [f"desc:{k}" for k in names] + ["valence", "arousal"]
        return np.array(row, dtype=np.float64), cols

    return run


def _opensmile(feature_set: str):
    import opensmile

    from emoalign.media.decode import load_audio

    smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set), feature_level=opensmile.FeatureLevel.Functionals)

    def run(path: str):
        df = smile.process_signal(load_audio(path, sr=SR), SR)
        return df.to_numpy(dtype=np.float64).reshape(-1), list(df.columns)

    return run


def _musicnn():
    from emoalign.encode.music_musicnn import pooled_features
    from emoalign.encode.musicnn_net import MSD_TAGS
    from emoalign.media.decode import load_audio

    cols = [f"pen_mean{i}" for i in range(200)] + [f"pen_std{i}" for i in range(200)] + [f"tag:{t}" for t in MSD_TAGS]

    def run(path: str):
        f = pooled_features(load_audio(path, sr=SR))
        return np.concatenate([f["pen_mean"], f["pen_std"], f["tags"]]), cols

    return run


EXTRACTORS = {"acoustic": _acoustic, "egemaps": lambda: _opensmile("eGeMAPSv02"), "compare": lambda: _opensmile("ComParE_2016"),
              "musicnn": _musicnn}


def load_set(name: str, cache: Path = CACHE) -> dict:
    with np.load(cache / f"{name}.npz", allow_pickle=False) as z:
        return {"ids": [str(i) for i in z["ids"]], "X": z["X"], "columns": [str(c) for c in z["columns"]],
                "errors": dict(zip([str(i) for i in z["err_ids"]], [str(m) for m in z["err_msgs"]])),
                "seconds": float(z["seconds"])}


def _save(path: Path, ids, rows, cols, errors, seconds) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, ids=np.array(ids), X=np.array(rows) if rows else np.zeros((0, len(cols))), columns=np.array(cols),
             err_ids=np.array(list(errors), dtype=str), err_msgs=np.array(list(errors.values()), dtype=str), seconds=np.array(seconds))
    os.replace(tmp, path)


def extract_set(name: str, root: Path = DATA, cache: Path = CACHE, reverse: bool = False, start: int = 0) -> Path:
    """Extract one feature set for every clip (resuming a partial cache); returns the .npz path.

    ``reverse`` walks the clips from the end: a second process with another ``cache`` then meets
    the first in the middle, and `merge_sets` joins the two caches."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{name}.npz"
    ids, rows, cols, errors, seconds = [], [], [], {}, 0.0
    if path.exists():
        d = load_set(name, cache)
        ids, rows, cols, errors, seconds = d["ids"], list(d["X"]), d["columns"], d["errors"], d["seconds"]
    done = set(ids) | set(errors)
    todo = [r for r in _records(root) if r.id not in done]
    if reverse:
        todo = todo[::-1]
    todo = todo[start:] + todo[:start]
    if not todo:
        return path
    run = EXTRACTORS[name]()
    for k, rec in enumerate(todo, 1):
        t0 = time.process_time()
        try:
            row, cols = run(rec.path)
            ids.append(rec.id)
            rows.append(row)
        except Exception as exc:  # recorded per clip, the run goes on
            errors[rec.id] = f"{type(exc).__name__}: {exc}"
        seconds += time.process_time() - t0
        if k % 25 == 0 or k == len(todo):
            _save(path, ids, rows, cols, errors, seconds)
            print(f"{name}: {len(ids)} done, {len(errors)} errors, {seconds:.0f} CPU s", file=sys.stderr, flush=True)
    return path


def merge_sets(name: str, into: Path, other: Path) -> int:
    """Add to ``into/<name>.npz`` the clips that only ``other/<name>.npz`` has; returns how many."""
    a, b = load_set(name, into), load_set(name, other)
    have = set(a["ids"]) | set(a["errors"])
    add = [k for k, i in enumerate(b["ids"]) if i not in have]
    errors = {**a["errors"], **{i: m for i, m in b["errors"].items() if i not in have}}
    _save(into / f"{name}.npz", a["ids"] + [b["ids"][k] for k in add], list(a["X"]) + [b["X"][k] for k in add],
          a["columns"] or b["columns"], errors, a["seconds"] + b["seconds"])
    return len(add)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=list(EXTRACTORS), choices=list(EXTRACTORS))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--reverse", action="store_true", help="walk the clips from the end (a second process, another --cache)")
    ap.add_argument("--start", type=int, default=0, help="begin at this clip (then wrap around): another parallel process")
    ap.add_argument("--merge-from", type=Path, help="instead of extracting, merge this cache's sets into --cache")
    args = ap.parse_args()
    for name in args.sets:
        if args.merge_from:
            print(f"{name}: {merge_sets(name, args.cache, args.merge_from)} clips merged from {args.merge_from}", file=sys.stderr)
        else:
            extract_set(name, args.data, args.cache, reverse=args.reverse, start=args.start)


if __name__ == "__main__":
    main()
