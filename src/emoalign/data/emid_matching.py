"""EMID-Emotion-Matching: yes/no music ↔ image emotion-matching pairs derived from EMID.

Hugging Face ``lossminimilization/EMID-Emotion-Matching`` (a duplicate of
``orrzohar/EMID-Emotion-Matching``; CC BY-NC-SA 4.0), built offline from ``ecnu-aigc/EMID`` for
Qwen-Omni-style fine-tuning. Columns, from its dataset card:

=============== ============================ ==================================================
``audio``       ``datasets.Audio`` (16 kHz)  the EMID clip, mono, decoded at 16 kHz
``sampling_rate`` int32                       the audio's rate, mirrored beside it
``image``       ``datasets.Image``           one EMID image
``same``        bool                         the clip and the image carry the same emotion
``emotion``     string                       normalised image tag for positives, ``""`` otherwise
``question``    string                       a prompt drawn from a few templates
``answer``      string                       ``"yes - {emotion}"`` for positives, ``"no"`` otherwise
=============== ============================ ==================================================

Splits ``train`` and ``test``. `EMIDMatchingSource` reads a local copy (parquet shards, e.g.
``data/train-00000-of-0000N.parquet``, or a ``save_to_disk`` folder) or the hub id, checks every
row's ``same``/``emotion``/``answer`` against the recipe and the ``sampling_rate`` against the
audio's header, and yields the distinct clips and images as `Record`s (bytes in ``payload``) and one
`Pair` per consistent row. The media carry no file names, so their ids are content hashes; the same
clip in several rows (a positive and its negative) is one record.

>>> from emoalign.data.fixtures.emid import make
>>> src = EMIDMatchingSource(make("fixtures")["emid-matching"])  # a small copy of the parquet layout
>>> test = list(src.pairs("test"))
>>> len(test), sum(p.same for p in test), src.split_names()
(31, 17, ['train', 'test'])
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from emoalign.affect import get_taxonomy
from emoalign.affect.taxonomy import UnknownLabelError
from emoalign.data.base import LoadReport, Source
from emoalign.data.emid import content_id, is_hub_id, load_hub_dataset, media_cell, undecoded
from emoalign.types import Pair, Record

HUB_ID = "lossminimilization/EMID-Emotion-Matching"
SPLITS = ("train", "test")
COLUMNS = ("audio", "sampling_rate", "image", "same", "emotion", "question", "answer")


def normalise_tag(tag: str) -> str:
    """The recipe's tag normalisation: lower case, spaces and punctuation → ``_``.

    >>> normalise_tag("Excitement"), normalise_tag(" awe / wonder ")
    ('excitement', 'awe_wonder')
    """
    return re.sub(r"[^0-9a-z]+", "_", str(tag).strip().lower()).strip("_")


def expected_answer(same: bool, emotion: str) -> str:
    """``yes - {emotion}`` for a positive, ``no`` for a negative.

    >>> expected_answer(True, "awe"), expected_answer(False, "")
    ('yes - awe', 'no')
    """
    return f"yes - {emotion}" if same else "no"


@dataclass
class _Row:
    split: str
    index: int
    audio_id: str
    image_id: str
    same: bool
    emotion: str
    question: str
    answer: str


@dataclass
class _Item:
    modality: str
    emotions: set[str] = field(default_factory=set)
    splits: set[str] = field(default_factory=set)
    sampling_rate: int | None = None


class EMIDMatchingSource(Source):
    """The EMID-Emotion-Matching set (local copy or hub id); see the module docstring.

    ``records(split)`` yields each distinct clip (modality ``music``) and image once, with the
    Mikels label its positive rows give it (``labels`` only when unambiguous; every emotion is in
    ``meta["emotions"]``) and ``split`` set when the item occurs in one split only (``meta["splits"]``
    lists them all, so train/test overlap is visible). ``pairs(split)`` yields the consistent rows.
    """

    name = "emid-matching"
    taxonomy = "mikels8"

    def __init__(self, path_or_id: str | Path = HUB_ID, *, strict: bool = False, streaming: bool = True) -> None:
        self.hub_id = str(path_or_id) if is_hub_id(path_or_id) else None
        if self.hub_id is None:
            super().__init__(path_or_id, strict=strict)
        else:
            self.root = Path(self.hub_id)
            self.strict = strict
            self.report = LoadReport(self.name)
        self.streaming = streaming
        self._mikels = get_taxonomy("mikels8")
        self._rows: list[_Row] | None = None
        self._items: dict[str, _Item] = {}
        self._splits: dict[str, Any] | None = None
        self._seen_problems: set[tuple[str, str]] = set()

    # -- loading ------------------------------------------------------------------------------
    def _datasets(self) -> dict[str, Any]:
        if self._splits is None:
            loaded = load_hub_dataset(self.hub_id or self.root, streaming=self.streaming)
            if not hasattr(loaded, "keys"):  # a single split saved on its own
                loaded = {"train": loaded}
            self._splits = {s: undecoded(loaded[s]) for s in loaded.keys()}
        return self._splits

    def split_names(self) -> list[str]:
        return sorted(self._datasets(), key=lambda s: (SPLITS.index(s) if s in SPLITS else len(SPLITS), s))

    def _where(self, split: str, i: int) -> str:
        return f"{self.hub_id or self.root}:{split}:{i}"

    def _problem_once(self, where: str, message: str) -> None:
        if (where, message) not in self._seen_problems:
            self._seen_problems.add((where, message))
            self.problem(where, message)

    def _selected(self, split: str | None) -> list[str]:
        names = self.split_names()
        if split is None:
            return names
        if split not in names:
            raise ValueError(f"{self.name}: no split {split!r}; available: {', '.join(names)}")
        return [split]

    def _media_ids(self, cells: dict, where: str) -> tuple[str, bytes, str, bytes] | None:
        audio, audio_name = media_cell(cells.get("audio"))
        image, image_name = media_cell(cells.get("image"))
        if not audio:
            self._problem_once(where, "missing file: no audio bytes in the audio column")
            return None
        if not image:
            self._problem_once(where, "missing file: no image bytes in the image column")
            return None
        return audio_name or content_id(audio), audio, image_name or content_id(image), image

    def _index(self) -> list[_Row]:
        """One pass over every split: check each row, remember pairs and what each item is labelled."""
        if self._rows is not None:
            return self._rows
        rows: list[_Row] = []
        for split in self.split_names():
            for i, cells in enumerate(self._datasets()[split]):
                where = self._where(split, i)
                media = self._media_ids(cells, where)
                if media is None:
                    continue
                audio_id, audio, image_id, _ = media
                audio_item = self._items.setdefault(audio_id, _Item("music"))
                image_item = self._items.setdefault(image_id, _Item("image"))
                audio_item.splits.add(split)
                image_item.splits.add(split)
                rate_ok = self._check_rate(cells.get("sampling_rate"), audio, audio_item, where)
                row = self._check_row(cells, split, i, audio_id, image_id, where)
                if row is None or not rate_ok:  # a reader trusting sampling_rate would mis-decode
                    continue
                if row.same:
                    label = self._mikels.label(row.emotion.replace("_", " ")).name
                    audio_item.emotions.add(label)
                    image_item.emotions.add(label)
                rows.append(row)
        for item_id, item in self._items.items():
            if item.modality == "image" and len(item.emotions) > 1:
                self._problem_once(item_id, f"conflicting label: image is a positive for {sorted(item.emotions)}")
        self._rows = rows
        return rows

    def _check_rate(self, rate: Any, audio: bytes, item: _Item, where: str) -> bool:
        """Does the ``sampling_rate`` column agree with the audio's own header?"""
        import soundfile as sf

        try:
            actual = sf.info(io.BytesIO(audio)).samplerate
        except Exception as exc:  # libsndfile names the format problem
            self._problem_once(where, f"undecodable audio: {exc}")
            return False
        item.sampling_rate = actual
        if rate is not None and int(rate) != actual:
            self._problem_once(where, f"inconsistent row: sampling_rate={rate} but the audio is {actual} Hz")
            return False
        return True

    def _check_row(self, cells: dict, split: str, i: int, audio_id: str, image_id: str, where: str) -> _Row | None:
        same = cells.get("same")
        emotion = str(cells.get("emotion") or "")
        answer = str(cells.get("answer") or "")
        if not isinstance(same, bool):
            self._problem_once(where, f"malformed value: same={same!r} is not a bool")
            return None
        if same:
            if not emotion:
                self._problem_once(where, "inconsistent row: same=True but emotion is empty")
                return None
            if emotion != normalise_tag(emotion):
                self._problem_once(where, f"inconsistent row: emotion {emotion!r} is not normalised (expected {normalise_tag(emotion)!r})")
                return None
            try:
                self._mikels.label(emotion.replace("_", " "))
            except UnknownLabelError:
                self._problem_once(where, f"unknown label: emotion {emotion!r} (expected one of {', '.join(self._mikels.names)})")
                return None
        elif emotion:
            self._problem_once(where, f"inconsistent row: same=False but emotion is {emotion!r} (expected '')")
            return None
        if answer.strip() != expected_answer(same, emotion):
            self._problem_once(where, f"inconsistent row: same={same} but answer is {answer!r} (expected {expected_answer(same, emotion)!r})")
            return None
        return _Row(split, i, audio_id, image_id, same, emotion, str(cells.get("question") or ""), answer.strip())

    # -- public API ---------------------------------------------------------------------------
    def records(self, split: str | None = None) -> Iterator[Record]:
        """Each distinct clip and image once (over ``split``, or all splits when None)."""
        self._index()
        return self._count(self._records(self._selected(split)))

    def _records(self, splits: list[str]) -> Iterator[Record]:
        seen: set[str] = set()
        for split in splits:
            for i, cells in enumerate(self._datasets()[split]):
                media = self._media_ids(cells, self._where(split, i))
                if media is None:
                    continue
                audio_id, audio, image_id, image = media
                for item_id, data in ((audio_id, audio), (image_id, image)):
                    if item_id in seen:
                        continue
                    seen.add(item_id)
                    yield self._record(item_id, data)

    def _record(self, item_id: str, data: bytes) -> Record:
        item = self._items[item_id]
        emotions = sorted(item.emotions)
        splits = self.split_names()
        meta: dict[str, Any] = {"emotions": emotions, "splits": [s for s in splits if s in item.splits]}
        if item.sampling_rate is not None:
            meta["sampling_rate"] = item.sampling_rate
        return Record(
            id=item_id, modality=item.modality, source=self.name, payload=data,
            labels={"mikels8": emotions[0]} if len(emotions) == 1 else {},
            split=next(iter(item.splits)) if len(item.splits) == 1 else None,
            meta=meta,
        )

    def pairs(self, split: str | None = None) -> Iterator[Pair]:
        """One `Pair` per consistent row: ``same``, ``emotion``, ``question``, ``answer``, ``split``."""
        wanted = set(self._selected(split))
        for row in self._index():
            if row.split in wanted:
                yield Pair(
                    row.audio_id, row.image_id, source=self.name, same=row.same, emotion=row.emotion,
                    question=row.question, answer=row.answer, split=row.split,
                )
