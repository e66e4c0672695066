"""Cached openSMILE features of a RAVDESS folder, shared by the speech bench scripts.

Features are extracted through the encoder's own path (`EgemapsSpeechEncoder`'s decoding and
`OpenSmileFeatures`), so a head fitted on them sees exactly what the encoder computes at use.
The cache (default ``~/.cache/emoalign/speech_features``) is keyed by the file list, sizes and
modification times, so it is rebuilt when the data change.

    python bench/speech_features.py --data /work/shared/data/ravdess-speech-16k
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_CACHE = Path(os.environ.get("EMOALIGN_CACHE", Path.home() / ".cache" / "emoalign")) / "speech_features"
SETS = ("egemaps", "compare")


@dataclass
class RavdessFeatures:
    ids: np.ndarray  # file stems
    paths: np.ndarray
    labels: np.ndarray  # ravdess8 names
    actors: np.ndarray  # int actor numbers
    X: dict[str, np.ndarray]  # feature set → (n, d)

    def select(self, actors: set[int]) -> np.ndarray:
        return np.isin(self.actors, sorted(actors))

    def matrix(self, spec: str) -> np.ndarray:
        return np.hstack([self.X[name] for name in spec.split("+")])


def _records(data: Path):
    from emoalign.data import open_source

    src = open_source("ravdess", data)
    recs = list(src.records())
    if src.report.skipped:
        print(src.report.summary())
    if not recs:
        raise SystemExit(f"{data}: no RAVDESS clips found")
    return recs


def _extract_chunk(paths: list[str]) -> list[np.ndarray]:
    from emoalign.encode.speech import SR, OpenSmileFeatures
    from emoalign.media.decode import load_audio

    fx = {name: OpenSmileFeatures(name) for name in SETS}
    out = []
    for p in paths:
        y = load_audio(p, SR)
        out.append(np.concatenate([fx[name](y, SR, p) for name in SETS]))
    return out


def load_features(data: str | Path, cache: str | Path = DEFAULT_CACHE, jobs: int = 2, verbose: bool = True) -> RavdessFeatures:
    """Features of every clip under ``data`` (eGeMAPS and ComParE), from the cache when it is current."""
    data = Path(data)
    recs = _records(data)
    key = hashlib.sha1()
    for r in recs:
        st = Path(r.path).stat()
        key.update(f"{r.id}:{st.st_size}:{int(st.st_mtime)}\n".encode())
    key.update(b"opensmile-" + __import__("opensmile").__version__.encode())
    cache_file = Path(cache) / f"ravdess-{key.hexdigest()[:16]}.npz"
    paths = np.array([r.path for r in recs])
    labels = np.array([r.labels["ravdess8"] for r in recs])
    actors = np.array([int(r.group.replace("actor", "")) for r in recs])
    ids = np.array([r.id for r in recs])
    if cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as z:
            X = {name: z[name] for name in SETS}
        if verbose:
            print(f"features: {len(recs)} clips from cache {cache_file}")
        return RavdessFeatures(ids, paths, labels, actors, X)
    t0 = time.time()
    chunks = [list(paths[i::jobs]) for i in range(jobs)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        parts = list(pool.map(_extract_chunk, chunks))
    rows: list[np.ndarray] = [None] * len(paths)  # type: ignore[list-item]
    for j, part in enumerate(parts):
        for k, vec in enumerate(part):
            rows[j + k * jobs] = vec
    M = np.stack(rows)
    from emoalign.encode.speech import OpenSmileFeatures

    d_e = len(OpenSmileFeatures("egemaps").names)
    X = {"egemaps": M[:, :d_e], "compare": M[:, d_e:]}
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache_file, ids=ids, **X)
    if verbose:
        print(f"features: {len(recs)} clips extracted in {time.time() - t0:.0f} s with {jobs} processes → {cache_file}")
    return RavdessFeatures(ids, paths, labels, actors, X)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache", default=str(DEFAULT_CACHE))
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    f = load_features(a.data, a.cache, a.jobs)
    print({k: v.shape for k, v in f.X.items()}, "actors", sorted(set(f.actors.tolist())))
