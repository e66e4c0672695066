"""What every data adapter shares: the `Source` base class, bad-input handling and its report.

An adapter reads one source's layout and yields `Record`s. Bad input (a malformed row, an
unknown label, a missing or undecodable file) is *named* — file, row, problem — and then either
raised (``strict=True``) or skipped and counted in ``source.report`` (the default).

>>> from pathlib import Path
>>> from emoalign.data import open_source
>>> from emoalign.media.synth import synth_clip, write_clip
>>> _ = write_clip("song.wav", synth_clip(0.5, 0.5, seconds=0.5))
>>> _ = Path("labels.csv").write_text("path,label\\nsong.wav,happy\\nmissing.wav,sad\\n,calm\\n")
>>> src = open_source("csv", "labels.csv")
>>> [(r.id, r.labels) for r in src.records()]
[('song.wav', {'user': 'happy'})]
>>> print(src.report.summary())  # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
csv: 1 records, 2 skipped
  1 × missing media
  1 × malformed row
  e.g. labels.csv:3: missing media: missing.wav (resolved to .../missing.wav)
  e.g. labels.csv:4: malformed row: neither path nor text
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Iterable, Iterator

from emoalign.errors import BadInputError
from emoalign.types import IMAGE_MODALITIES, MUSIC_MODALITIES, Pair, Record


@dataclass(frozen=True)
class Problem:
    where: str  # "path/to/file.csv:17" or "archive.tar!member.wav"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class LoadReport:
    """Counts of what an adapter yielded and what it skipped, with the reason for each skip."""

    source: str
    yielded: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.problems)

    def reasons(self) -> Counter:
        return Counter(p.message.split(":")[0] for p in self.problems)

    def summary(self, max_examples: int = 5) -> str:
        lines = [f"{self.source}: {self.yielded} records, {self.skipped} skipped"]
        for reason, n in self.reasons().most_common():
            lines.append(f"  {n:>6} × {reason}")
        for p in self.problems[:max_examples]:
            lines.append(f"  e.g. {p}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "records": self.yielded,
            "skipped": self.skipped,
            "reasons": dict(self.reasons()),
            "examples": [str(p) for p in self.problems[:20]],
        }


class Source:
    """Base class of the adapters. Subclasses set ``name`` and implement `records`.

    Sources whose items are music–image pairs (EMID, matching sets, built pairs) also implement
    `pairs`, whose ``music_id``/``image_id`` refer to the ids of their `records`.
    """

    name: ClassVar[str] = "source"
    #: Taxonomy of the source's main label, used by ``datasets inspect`` for its per-label counts.
    taxonomy: ClassVar[str | None] = None

    def __init__(self, root: str | Path, *, strict: bool = False) -> None:
        self.root = Path(root)
        self.strict = strict
        self.report = LoadReport(self.name)
        if not self.root.exists():
            raise FileNotFoundError(f"{self.name}: {self.root} does not exist")

    # -- to implement -------------------------------------------------------------------------
    def records(self, split: str | None = None) -> Iterator[Record]:
        raise NotImplementedError

    def pairs(self, split: str | None = None) -> Iterator[Pair]:
        raise NotImplementedError(f"{self.name} has no music–image pairs")

    def to_dataset(self, split: str | None = None):
        """The records as a Hugging Face `datasets.Dataset` with an explicit schema.

        Columns: ``id``, ``modality``, ``source``, ``path``, ``text``, ``split``, ``group``,
        ``valence``, ``arousal`` (float32, None where unknown), one ``ClassLabel`` column
        ``label_<taxonomy>`` per taxonomy the records are labelled in (names in the taxonomy's
        order; -1 where a record has no label there) and ``scores`` (graded targets as JSON).
        Media stay as paths: decode them with `emoalign.media` or cast to ``Audio``/``Image``.
        """
        import json

        import datasets

        from emoalign.affect import get_taxonomy, list_taxonomies

        records = list(self.records(split))
        taxonomies = sorted({t for r in records for t in r.labels if t in list_taxonomies()})
        names = {t: list(get_taxonomy(t).names) for t in taxonomies}
        features = datasets.Features({
            "id": datasets.Value("string"), "modality": datasets.Value("string"), "source": datasets.Value("string"),
            "path": datasets.Value("string"), "text": datasets.Value("string"), "split": datasets.Value("string"),
            "group": datasets.Value("string"), "valence": datasets.Value("float32"), "arousal": datasets.Value("float32"),
            **{f"label_{t}": datasets.ClassLabel(names=names[t]) for t in taxonomies},
            "scores": datasets.Value("string"),
        })

        def label_index(r: Record, t: str) -> int:
            label = r.labels.get(t)
            return -1 if not label else names[t].index(get_taxonomy(t).label(label).name)

        columns = {
            "id": [r.id for r in records], "modality": [r.modality for r in records], "source": [r.source for r in records],
            "path": [r.path for r in records], "text": [r.text for r in records], "split": [r.split for r in records],
            "group": [r.group for r in records], "valence": [r.valence for r in records], "arousal": [r.arousal for r in records],
            **{f"label_{t}": [label_index(r, t) for r in records] for t in taxonomies},
            "scores": [json.dumps({k: dict(v) for k, v in r.scores.items()}, ensure_ascii=False, sort_keys=True) if r.scores else None
                       for r in records],
        }
        return datasets.Dataset.from_dict(columns, features=features)

    # -- helpers for subclasses ---------------------------------------------------------------
    def problem(self, where: str | Path, message: str) -> None:
        """Record bad input; raise `BadInputError` instead in strict mode."""
        p = Problem(str(where), message)
        if self.strict:
            raise BadInputError(str(p))
        self.report.problems.append(p)

    def _count(self, records: Iterator[Record]) -> Iterator[Record]:
        for r in records:
            self.report.yielded += 1
            yield r

    def check_inside(self, path: Path, root: Path | None = None) -> Path:
        """Resolve ``path`` and refuse it if it escapes ``root`` (default: the source root)."""
        root = (root or self.root).resolve()
        resolved = (root / path).resolve()
        if resolved != root and root not in resolved.parents:
            raise BadInputError(f"{path}: path escapes {root}")
        return resolved


def split_music_images(records: Iterable[Record]) -> tuple[list[Record], list[Record]]:
    """(music records, image records) of a source, each id once per side; other modalities are left out."""
    music: list[Record] = []
    images: list[Record] = []
    seen: set[tuple[bool, str]] = set()
    for r in records:
        if r.modality not in MUSIC_MODALITIES and r.modality not in IMAGE_MODALITIES:
            continue
        key = (r.modality in MUSIC_MODALITIES, r.id)
        if key in seen:
            continue
        seen.add(key)
        (music if key[0] else images).append(r)
    return music, images


def drop_duplicate_ids(records: Iterable[Record], seen: set[str] | None = None) -> tuple[list[Record], list[Record]]:
    """(records with ids not seen before, the later duplicates): the first item with an id is kept.
    ``seen`` (updated in place) carries ids over from an earlier batch."""
    seen = set() if seen is None else seen
    kept: list[Record] = []
    dropped: list[Record] = []
    for r in records:
        (dropped if r.id in seen else kept).append(r)
        seen.add(r.id)
    return kept, dropped
