"""4Q-style music emotion folders: ``Q1/ … Q4/<id>.mp3`` plus an optional ``metadata.csv``.

The 4Q audio emotion data set (Panda, Malheiro & Paiva 2018, IEEE TAFFC,
doi:10.1109/TAFFC.2018.2820691) labels each 30-s AllMusic preview with one quadrant of Russell's
circumplex: Q1 = +valence +arousal (happy), Q2 = −valence +arousal (tense, angry),
Q3 = −valence −arousal (sad), Q4 = +valence −arousal (calm). The quadrant is the folder name.

``metadata.csv`` (columns ``id, quadrant, valence, arousal, artist, title, moods, genres, fold,
duration_s``; the shared copy's layout) adds the artist — the record's ``group``, so grouped
splits keep an artist on one side — and an artist-grouped ``fold``. Without it, every audio file
under ``Q1..Q4`` is a record with no group. ``valence``/``arousal`` in the CSV are the quadrant's
signs, not ratings: they go to ``meta`` (``valence_sign``, ``arousal_sign``), never to
``Record.valence``.

``split`` selects folds: ``"folds:0-3"`` / ``"folds:4"`` (needs the CSV).

>>> from emoalign.data import open_source
>>> src = open_source("music-4q", "music-4q/")  # doctest: +SKIP
>>> [r.labels["quadrant"] for r in src.records("folds:0")][:2]  # doctest: +SKIP
['Q1', 'Q1']
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from emoalign.data.base import Source
from emoalign.data.ravdess import parse_actor_range
from emoalign.types import Record

#: Quadrant → (valence sign, arousal sign), Russell's circumplex as used by the 4Q data set.
QUADRANTS: dict[str, tuple[int, int]] = {"Q1": (1, 1), "Q2": (-1, 1), "Q3": (-1, -1), "Q4": (1, -1)}
AUDIO_SUFFIXES = (".mp3", ".wav", ".flac", ".ogg")
REQUIRED_COLUMNS = ("id", "quadrant", "artist", "fold")


def quadrant_of(valence: float, arousal: float) -> str:
    """The quadrant of a valence–arousal point (0 counts as positive, as in the sign convention).

    >>> quadrant_of(0.3, -0.2), quadrant_of(-0.1, 0.4)
    ('Q4', 'Q2')
    """
    return {(True, True): "Q1", (False, True): "Q2", (False, False): "Q3", (True, False): "Q4"}[(valence >= 0, arousal >= 0)]


class Music4QSource(Source):
    """Records of a 4Q-style folder (``modality="music"``, ``labels={"quadrant": "Q1".."Q4"}``)."""

    name = "music-4q"
    #: Label key of the records (the four quadrants; not one of the affect taxonomies).
    taxonomy = "quadrant"

    def records(self, split: str | None = None) -> Iterator[Record]:
        if split and not split.startswith("folds:"):
            raise ValueError(f"{self.name}: split {split!r} not understood; use 'folds:0-3' style")
        folds = parse_actor_range(split.split(":", 1)[1]) if split else None
        return self._count(self._records(folds))

    def _records(self, folds: set[int] | None) -> Iterator[Record]:
        meta_path = self.root / "metadata.csv"
        if meta_path.is_file():
            yield from self._from_csv(meta_path, folds)
            return
        if folds is not None:
            self.problem(self.root, "no metadata.csv: fold splits need it")
            return
        files = [p for q in QUADRANTS for p in sorted((self.root / q).glob("*")) if p.suffix.lower() in AUDIO_SUFFIXES]
        if not files:
            self.problem(self.root, "no audio files: expected Q1/ … Q4/ folders of clips")
        for path in files:
            yield self._record(path.stem, path.parent.name, path, group=None, fold=None, row={})

    def _from_csv(self, meta_path: Path, folds: set[int] | None) -> Iterator[Record]:
        with open(meta_path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                self.problem(meta_path, f"missing columns: {missing} (has {reader.fieldnames})")
                return
            for line, row in enumerate(reader, start=2):
                where = f"{meta_path}:{line}"
                quadrant = (row.get("quadrant") or "").strip()
                if quadrant not in QUADRANTS:
                    self.problem(where, f"unknown label: quadrant {quadrant!r} (expected Q1-Q4)")
                    continue
                try:
                    fold = int(row["fold"])
                except (TypeError, ValueError):
                    self.problem(where, f"bad fold: {row.get('fold')!r} (expected an integer)")
                    continue
                if folds is not None and fold not in folds:
                    continue
                clip_id = row["id"].strip()
                path = next((p for s in AUDIO_SUFFIXES if (p := self.root / quadrant / f"{clip_id}{s}").is_file()), None)
                if path is None:
                    self.problem(where, f"missing file: {quadrant}/{clip_id}.mp3")
                    continue
                yield self._record(clip_id, quadrant, path, group=artist_group(row["artist"]), fold=fold, row=row)

    def _record(self, clip_id: str, quadrant: str, path: Path, *, group: str | None, fold: int | None, row: dict) -> Record:
        v, a = QUADRANTS[quadrant]
        meta = {"valence_sign": v, "arousal_sign": a}
        for key in ("artist", "title"):
            if row.get(key):
                meta[key] = row[key]
        for key in ("moods", "genres"):
            if row.get(key):
                meta[key] = [m.strip() for m in row[key].split(";") if m.strip()]
        if row.get("duration_s"):
            meta["duration_s"] = float(row["duration_s"])
        return Record(id=clip_id, modality="music", source=self.name, path=str(path), labels={"quadrant": quadrant},
                      group=group, split=None if fold is None else f"fold{fold}", meta=meta)


def artist_group(artist: str) -> str:
    """A case- and space-insensitive group key for an artist name.

    >>> artist_group("  The Beach  Boys ")
    'the beach boys'
    """
    return " ".join(artist.lower().split())
