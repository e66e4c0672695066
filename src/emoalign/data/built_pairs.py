"""A built pairs folder on disk, and `BuiltPairsSource`, which reads it back as a data source.

Layout written by ``emoalign pairs build``::

    DIR/
      pairs.parquet           the kept pairs at the chosen α, every score component per pair
      pairs_semantic.parquet  the kept pairs at α = 1 (semantic-only baseline), same columns
      candidates.parquet      every top-K candidate with every component (re-rank without re-pairing)
      records.parquet         the clips and images paired: id, side, path, labels, V–A, category
      summary.json            settings, backend, counts, α = 1 vs α comparison, timings, problems
      pairs_distributions.png the comparison plot
      media/                  files of records that came as embedded bytes (hub layouts)
      features/               the feature store (unless --features points elsewhere)

Registered as source ``pairs`` (`emoalign.data.SOURCES`), so ``open_source("pairs", DIR)`` yields
the clips and images as `Record`s (images labelled with their category, e.g. ``mikels8``) and the
kept pairs as `Pair`s whose ``components`` hold S, E, T and the rest.

>>> from emoalign.data import open_source
>>> src = open_source("pairs", "out/pairs")  # doctest: +SKIP
>>> p = next(src.pairs()); p.rank, sorted(p.components)[:3]  # doctest: +SKIP
(1, ['E', 'E_cos', 'S'])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from emoalign.data.base import Source
from emoalign.errors import BadInputError
from emoalign.types import Pair, Record

PAIRS_FILE = "pairs.parquet"
BASELINE_FILE = "pairs_semantic.parquet"
CANDIDATES_FILE = "candidates.parquet"
RECORDS_FILE = "records.parquet"
SUMMARY_FILE = "summary.json"
PLOT_FILE = "pairs_distributions.png"
#: Score components stored per pair (see `emoalign.pair.score`).
COMPONENTS = ("cos", "S_rel", "S_topk", "S_softmax", "S", "E_cos", "E", "T", "va_dist")


class BuiltPairsSource(Source):
    """A folder written by ``emoalign pairs build`` (or `emoalign.pair.build.build_pairs`).

    ``which="chosen"`` (default) reads the pairs at the chosen α; ``"semantic"`` the α = 1 ones.
    """

    name = "pairs"
    taxonomy = "mikels8"

    def __init__(self, root: str | Path, *, strict: bool = False, which: str = "chosen") -> None:
        super().__init__(root, strict=strict)
        if which not in ("chosen", "semantic"):
            raise ValueError(f"which must be 'chosen' or 'semantic', got {which!r}")
        self.which = which
        for f in (RECORDS_FILE, PAIRS_FILE):
            if not (self.root / f).is_file():
                raise BadInputError(f"{self.root}: no {f} — not a folder written by `emoalign pairs build`")
        from emoalign.outputs import IncompleteOutputError, check_complete

        try:  # refuse a folder whose run did not finish, or whose files come from different runs
            self.summary = check_complete(self.root, kind="pairs build")
        except IncompleteOutputError as exc:
            raise BadInputError(str(exc)) from None
        self.taxonomy = self.summary.get("config", {}).get("category_taxonomy", "mikels8")

    def _path(self, value: str | None) -> str | None:
        if not value:
            return None
        p = Path(value)
        return str(p if p.is_absolute() else (self.root / p))

    def records(self, split: str | None = None) -> Iterator[Record]:
        if split not in (None, "all"):
            raise ValueError(f"a pairs folder has no splits; got {split!r}")
        import pyarrow.parquet as pq

        rows = pq.read_table(self.root / RECORDS_FILE).to_pylist()

        def gen() -> Iterator[Record]:
            for i, row in enumerate(rows):
                where = f"{self.root / RECORDS_FILE}:{i}"
                path = self._path(row.get("path"))
                if path is not None and not Path(path).is_file():
                    self.problem(where, f"missing file: {path} ({row['id']})")
                    continue
                labels = json.loads(row.get("labels") or "{}")
                if row.get("category"):
                    labels.setdefault(self.taxonomy, row["category"])
                yield Record(
                    id=row["id"], modality=row["modality"], source=self.name, path=path, text=row.get("text"),
                    labels=labels, valence=row.get("valence"), arousal=row.get("arousal"),
                    meta={"side": row["side"], "category": row.get("category"), "affect_origin": row.get("affect_origin"),
                          "original_source": row.get("source")},
                )

        return self._count(gen())

    def pairs(self, split: str | None = None) -> Iterator[Pair]:
        if split not in (None, "all"):
            raise ValueError(f"a pairs folder has no splits; got {split!r}")
        import pyarrow.parquet as pq

        table = pq.read_table(self.root / (PAIRS_FILE if self.which == "chosen" else BASELINE_FILE))
        for row in table.to_pylist():
            yield Pair(
                music_id=row["music_id"], image_id=row["image_id"], source=self.name, rank=int(row["rank"]),
                emotion=row.get("image_category") or "",
                components={k: float(row[k]) for k in COMPONENTS if row.get(k) is not None},
            )
