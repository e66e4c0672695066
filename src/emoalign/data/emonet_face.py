"""EmoNet-Face (Schuhmann et al. 2025, arXiv 2505.20033): synthetic faces over 40 emotions.

Three sets, three sources, all yielding one ``face`` record per image with
``scores["emonet40"]`` over the 40-label taxonomy (names normalised with
``get_taxonomy("emonet40").label``, which also takes synonyms, lower case and the
``"Family|Emotion"`` keys of the expert files):

* `EmoNetFaceBinarySource` — expert yes/no judgements. Reads ``binary.csv`` of
  github.com/LAION-AI/emonet-face (``data/``; columns path, annotator, value, emotion; one row per
  judgement, 65,686 judgements on 19,999 images, two emotions judged per image) with an optional
  images folder, or the Hugging Face copy (laion/emonet-face-binary: parquet with columns
  ``path`` (image), prompt, age, ethnicity, gender, emotion, subset, ``label`` — a Python-literal
  list like ``[{'human-4': {'Amusement': True}}, …]``). Score = share of annotators saying yes.
* `EmoNetFaceHQSource` — four experts rate all 40 emotions 0–7 per image (2,500 images).
  Reads the repository's ``hq.csv`` (columns image, annotator, human, annotations — a literal dict
  ``{'Family|Emotion': rating}``; rows with ``human`` false are model baselines and are ignored)
  or the hub copy (laion/emonet-face-hq: parquet whose ``label`` is
  ``[{rater: {'Family|Emotion': rating, …}}, …]`` and whose ``path`` column holds the image).
  Score = mean rating over the experts (0–7 scale); each expert's ratings are in ``meta``.
* `EmoNetFaceBigSource` — weak labels given by a vision-language model (laion/emonet-face-big).
  Its card lists the fields image, prompt, demographics and annotations; the annotation column
  (``annotations`` or ``label``) is read in any of the shapes above (a flat ``{emotion: score}``
  or per-rater dicts, as a dict or a JSON/Python-literal string). Score = mean over raters.

The records' main label ``labels["emonet40"]`` is the top-scoring emotion (binary: only when a
majority said yes), so ``datasets inspect`` can count it; the graded targets are the scores.

>>> from emoalign.data import open_source
>>> from emoalign.data.fixtures import emonet_face
>>> src = open_source("emonet-face-binary", emonet_face.make("fixtures")["emonet-face-binary"])
>>> r = next(src.records()); r.labels["emonet40"], round(r.scores["emonet40"]["Amusement"], 3)
('Amusement', 0.667)
"""

from __future__ import annotations

import ast
import csv
import json
from collections import defaultdict
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping

from emoalign.affect import get_taxonomy
from emoalign.affect.taxonomy import UnknownLabelError
from emoalign.data.base import Source
from emoalign.types import Record

TAXONOMY = "emonet40"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
HQ_SCALE = (0.0, 7.0)


@lru_cache(maxsize=4096)
def emotion_name(key: str) -> str:
    """Canonical ``emonet40`` name of an annotation key (``'Family|Emotion'``, lower case, synonym).

    >>> emotion_name("Negative High-Energy Emotions|Anger"), emotion_name("hopelessness")
    ('Anger', 'Helplessness')
    """
    return get_taxonomy(TAXONOMY).label(str(key).split("|")[-1].strip()).name


def parse_literal(value: Any) -> Any:
    """A value that may be a JSON or Python-literal string (the hub's ``label`` column) → Python object."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text)  # literals only: no code is run


def per_rater(value: Any) -> dict[str, dict[str, Any]]:
    """Annotations in any of the published shapes → ``{rater: {key: value}}``.

    >>> per_rater("[{'human-1': {'Anger': True}}, {'human-1': {'Awe': False}}]")
    {'human-1': {'Anger': True, 'Awe': False}}
    >>> per_rater({"Anger": 3, "Awe": 1})
    {'annotator': {'Anger': 3, 'Awe': 1}}
    """
    obj = parse_literal(value)
    out: dict[str, dict[str, Any]] = {}
    items = obj if isinstance(obj, list) else [obj]
    for item in items:
        if not isinstance(item, dict):
            raise ValueError(f"expected a dict of annotations, got {type(item).__name__}")
        if item and all(isinstance(v, dict) for v in item.values()):
            for rater, ratings in item.items():
                out.setdefault(str(rater), {}).update(ratings)
        else:
            out.setdefault("annotator", {}).update(item)
    return out


def _image_bytes(value: Any) -> tuple[bytes | None, str | None]:
    """(bytes, original name) from a hub image cell: a struct {bytes, path}, raw bytes or a path string."""
    if isinstance(value, dict):
        return value.get("bytes"), value.get("path")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), None
    if isinstance(value, str):
        return None, value
    return None, None


def _hub_rows(root: Path) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(file, row number, row) from a hub copy: ``*.parquet`` (pyarrow, in batches) or ``*.jsonl``."""
    files = sorted(root.rglob("*.parquet")) + sorted(root.rglob("*.jsonl")) if root.is_dir() else [root]
    for f in files:
        if f.suffix == ".parquet":
            import pyarrow.parquet as pq

            n = 0
            for batch in pq.ParquetFile(f).iter_batches(batch_size=256):
                for row in batch.to_pylist():
                    yield str(f), n, row
                    n += 1
        elif f.suffix == ".jsonl":
            with open(f, encoding="utf-8") as fh:
                for n, line in enumerate(fh):
                    if line.strip():
                        try:
                            yield str(f), n, json.loads(line)
                        except ValueError as exc:
                            yield str(f), n, {"__error__": f"malformed row: {exc}"}


def has_hub_files(root: Path) -> bool:
    return root.is_dir() and (any(root.rglob("*.parquet")) or any(root.rglob("*.jsonl")))


class _EmoNetBase(Source):
    """Shared plumbing: image folder lookup, score aggregation and the hub-row reader."""

    taxonomy = TAXONOMY

    def __init__(self, root: str | Path, *, images: str | Path | None = None, require_media: bool = False, strict: bool = False) -> None:
        super().__init__(root, strict=strict)
        folder = self.root if self.root.is_dir() else self.root.parent
        self.images = Path(images) if images is not None else (folder / "images" if (folder / "images").is_dir() else None)
        self.require_media = require_media
        self._image_index: dict[str, Path] | None = None

    def records(self, split: str | None = None) -> Iterator[Record]:
        """All images (these sets ship one split; ``split`` other than None/"train" yields nothing)."""
        if split not in (None, "train"):
            return iter(())
        return self._count(self._records())

    def _records(self) -> Iterator[Record]:
        raise NotImplementedError

    def _find_image(self, name: str) -> Path | None:
        if self.images is None:
            return None
        if self._image_index is None:
            self._image_index = {}
            for p in sorted(self.images.rglob("*")):
                if p.suffix.lower() in IMAGE_SUFFIXES:
                    self._image_index.setdefault(p.name, p)
                    self._image_index.setdefault(p.stem, p)
        return self._image_index.get(name) or self._image_index.get(Path(name).stem)

    def _media(self, where: str, name: str) -> tuple[str | None, bool]:
        """(path for the record, ok): a missing image matters only with ``require_media``."""
        found = self._find_image(name)
        if found is None and self.require_media:
            self.problem(where, f"missing media: no image {name!r} in {self.images}")
            return None, False
        return (str(found) if found is not None else name), True

    def _ratings(self, where: str, raters: Mapping[str, Mapping[str, Any]], *, lo: float | None, hi: float | None) -> dict[str, dict[str, float]] | None:
        """Canonical names and numeric values per rater; an unknown emotion or value is a problem."""
        out: dict[str, dict[str, float]] = {}
        for rater, ratings in raters.items():
            row: dict[str, float] = {}
            for key, value in ratings.items():
                try:
                    name = emotion_name(key)
                except UnknownLabelError:
                    self.problem(where, f"unknown label: {key!r} is not an emonet40 emotion (rater {rater})")
                    return None
                try:
                    v = _number(value)
                except ValueError:
                    self.problem(where, f"malformed value: {value!r} for {name} (rater {rater})")
                    return None
                if (lo is not None and v < lo) or (hi is not None and v > hi):
                    self.problem(where, f"malformed value: {v} for {name} outside {lo:g}..{hi:g} (rater {rater})")
                    return None
                row[name] = v
            out[rater] = row
        return out

    def _hub_record(self, where: str, idx: int, row: dict[str, Any], *, lo: float | None, hi: float | None, fill_zero: bool) -> Record | None:
        if "__error__" in row:
            self.problem(where, row["__error__"])
            return None
        cell = next((row[c] for c in ("label", "annotations", "labels") if row.get(c) not in (None, "")), None)
        if cell is None:
            self.problem(where, "malformed row: no label/annotations column")
            return None
        try:
            raters = per_rater(cell)
        except (ValueError, SyntaxError) as exc:
            self.problem(where, f"malformed row: annotations not readable ({exc})")
            return None
        ratings = self._ratings(where, raters, lo=lo, hi=hi)
        if ratings is None:
            return None
        if not ratings:
            self.problem(where, "malformed row: no annotations")
            return None
        payload, original = _image_bytes(row.get("image", row.get("path")))
        rid = Path(original).stem if original else f"{self.name}-{idx:06d}"
        meta: dict[str, Any] = {"raters": ratings, "n_raters": len(ratings)}
        for key in ("prompt", "age", "ethnicity", "gender", "subset", "demographics"):
            if row.get(key) is not None:
                meta[key] = parse_literal(row[key]) if key == "demographics" else row[key]
        if row.get("emotion") is not None:
            try:
                meta["prompted_emotion"] = emotion_name(str(row["emotion"]))
            except UnknownLabelError:
                meta["prompted_emotion"] = str(row["emotion"])
        path = None
        if payload is None:
            path, ok = self._media(where, original or rid)
            if not ok:
                return None
        scores = _mean_scores(ratings, fill_zero=fill_zero)
        return Record(
            id=rid, modality="face", source=self.name, path=path, payload=payload,
            labels=_top_label(scores, threshold=0.0), scores={TAXONOMY: scores}, split="train", meta=meta,
        )


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes"):
            return 1.0
        if low in ("false", "no"):
            return 0.0
    return float(value)


def _mean_scores(ratings: Mapping[str, Mapping[str, float]], *, fill_zero: bool) -> dict[str, float]:
    """Mean per emotion over raters; with ``fill_zero`` an emotion a rater left out counts as 0 (not present)."""
    names = get_taxonomy(TAXONOMY).names
    seen = {e for r in ratings.values() for e in r}
    out = {}
    for e in names:
        if e not in seen and not fill_zero:
            continue
        values = [r.get(e, 0.0) for r in ratings.values()] if fill_zero else [r[e] for r in ratings.values() if e in r]
        out[e] = float(sum(values) / len(values)) if values else 0.0
    return out


def _top_label(scores: Mapping[str, float], threshold: float) -> dict[str, str]:
    if not scores:
        return {}
    best = max(scores, key=scores.__getitem__)  # first in taxonomy order on ties
    return {TAXONOMY: best} if scores[best] > threshold else {}


class EmoNetFaceBinarySource(_EmoNetBase):
    """Expert binary judgements aggregated per image (see the module doc).

    Options: ``images`` — folder of the images (default ``<root>/images`` if present), file
    names = the ``path`` column with or without an image extension; ``require_media`` — skip
    and count images that are not there. Without images, records still carry the name in ``path``.
    ``meta["judgements"]`` = ``{emotion: {"yes": n, "no": m}}``; ``meta["annotators"]`` lists who judged.
    """

    name = "emonet-face-binary"

    def _records(self) -> Iterator[Record]:
        csv_path = self.root if self.root.is_file() and self.root.suffix == ".csv" else self.root / "binary.csv"
        if csv_path.exists():
            yield from self._csv_records(csv_path)
        elif has_hub_files(self.root):
            for where, n, row in _hub_rows(self.root):
                rec = self._hub_record(f"{where}:row {n}", n, row, lo=0.0, hi=1.0, fill_zero=False)
                if rec is not None:
                    yield _with_binary_meta(rec)
        else:
            raise FileNotFoundError(f"{self.name}: no binary.csv and no parquet/jsonl files under {self.root}")

    def _csv_records(self, csv_path: Path) -> Iterator[Record]:
        votes: dict[str, dict[str, list[int]]] = defaultdict(dict)
        annotators: dict[str, set[str]] = defaultdict(set)
        first_line: dict[str, int] = {}
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = {"path", "annotator", "value", "emotion"} - set(reader.fieldnames or ())
            if missing:
                self.problem(csv_path, f"malformed file: missing columns {sorted(missing)}")
                return
            for row in reader:
                where = f"{csv_path}:{reader.line_num}"
                path, value, emotion = (row.get("path") or "").strip(), (row.get("value") or "").strip(), row.get("emotion") or ""
                if not path or value.lower() not in ("true", "false", "1", "0"):
                    self.problem(where, f"malformed row: expected a path and a True/False value, got {path!r}, {value!r}")
                    continue
                try:
                    name = emotion_name(emotion)
                except UnknownLabelError:
                    self.problem(where, f"unknown label: {emotion!r} is not an emonet40 emotion")
                    continue
                yes = value.lower() in ("true", "1")
                tally = votes[path].setdefault(name, [0, 0])
                tally[0 if yes else 1] += 1
                annotators[path].add((row.get("annotator") or "").strip())
                first_line.setdefault(path, reader.line_num)
        for path, tallies in votes.items():
            where = f"{csv_path}:{first_line[path]}"
            media, ok = self._media(where, path)
            if not ok:
                continue
            scores = {e: yes / (yes + no) for e, (yes, no) in tallies.items()}
            labels = {TAXONOMY: max(scores, key=scores.__getitem__)} if max(scores.values()) > 0.5 else {}
            yield Record(
                id=path, modality="face", source=self.name, path=media, labels=labels, scores={TAXONOMY: scores},
                split="train",
                meta={
                    "judgements": {e: {"yes": y, "no": n} for e, (y, n) in tallies.items()},
                    "n_judgements": sum(y + n for y, n in tallies.values()),
                    "annotators": sorted(annotators[path]),
                },
            )


def _with_binary_meta(rec: Record) -> Record:
    """Hub binary rows: turn per-rater booleans into the same judgement counts as the CSV."""
    raters = rec.meta["raters"]
    tallies: dict[str, list[int]] = {}
    for ratings in raters.values():
        for e, v in ratings.items():
            t = tallies.setdefault(e, [0, 0])
            t[0 if v >= 0.5 else 1] += 1
    scores = rec.scores[TAXONOMY]
    meta = dict(rec.meta)
    meta.update(
        judgements={e: {"yes": y, "no": n} for e, (y, n) in tallies.items()},
        n_judgements=sum(y + n for y, n in tallies.values()), annotators=sorted(raters),
    )
    labels = {TAXONOMY: max(scores, key=scores.__getitem__)} if scores and max(scores.values()) > 0.5 else {}
    return replace(rec, labels=labels, meta=meta)


class EmoNetFaceHQSource(_EmoNetBase):
    """Four experts' 0–7 intensities for all 40 emotions per image (see the module doc).

    ``scores["emonet40"]`` = mean over the experts (an emotion an expert left out counts 0);
    ``meta["raters"]`` = each expert's ratings; ``meta["scale"] = (0, 7)``.
    """

    name = "emonet-face-hq"

    def _records(self) -> Iterator[Record]:
        csv_path = self.root if self.root.is_file() and self.root.suffix == ".csv" else self.root / "hq.csv"
        if csv_path.exists():
            yield from self._csv_records(csv_path)
        elif has_hub_files(self.root):
            for where, n, row in _hub_rows(self.root):
                rec = self._hub_record(f"{where}:row {n}", n, row, lo=HQ_SCALE[0], hi=HQ_SCALE[1], fill_zero=True)
                if rec is not None:
                    yield replace(rec, meta={**rec.meta, "scale": HQ_SCALE})
        else:
            raise FileNotFoundError(f"{self.name}: no hq.csv and no parquet/jsonl files under {self.root}")

    def _csv_records(self, csv_path: Path) -> Iterator[Record]:
        experts: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        first_line: dict[str, int] = {}
        csv.field_size_limit(10**7)
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = {"image", "annotator", "annotations"} - set(reader.fieldnames or ())
            if missing:
                self.problem(csv_path, f"malformed file: missing columns {sorted(missing)}")
                return
            for row in reader:
                where = f"{csv_path}:{reader.line_num}"
                if str(row.get("human", "true")).strip().lower() not in ("true", "1", "yes"):
                    continue  # a model baseline's prediction, not an expert rating
                image, rater = (row.get("image") or "").strip(), (row.get("annotator") or "").strip()
                try:
                    ann = parse_literal(row.get("annotations") or "")
                    if not isinstance(ann, dict) or not image or not rater:
                        raise ValueError("expected image, annotator and a dict of ratings")
                except (ValueError, SyntaxError) as exc:
                    self.problem(where, f"malformed row: {exc}")
                    continue
                experts[image][rater] = ann
                first_line.setdefault(image, reader.line_num)
        for image, raters in experts.items():
            where = f"{csv_path}:{first_line[image]}"
            ratings = self._ratings(where, raters, lo=HQ_SCALE[0], hi=HQ_SCALE[1])
            if ratings is None:
                continue
            media, ok = self._media(where, image)
            if not ok:
                continue
            scores = _mean_scores(ratings, fill_zero=True)
            yield Record(
                id=Path(image).stem, modality="face", source=self.name, path=media,
                labels=_top_label(scores, threshold=0.0), scores={TAXONOMY: scores}, split="train",
                meta={"raters": ratings, "n_raters": len(ratings), "scale": HQ_SCALE, "image": image},
            )


class EmoNetFaceBigSource(_EmoNetBase):
    """Weak VLM labels of EmoNet-Face Big (see the module doc); score = mean over the raters given.

    Emotions a rater did not mention are not filled in (the VLM lists only what it sees), so a
    record's scores hold only the emotions some rater named.
    """

    name = "emonet-face-big"

    def _records(self) -> Iterator[Record]:
        if not has_hub_files(self.root) and not (self.root.is_file() and self.root.suffix in (".parquet", ".jsonl")):
            raise FileNotFoundError(f"{self.name}: no parquet/jsonl files under {self.root}")
        for where, n, row in _hub_rows(self.root):
            rec = self._hub_record(f"{where}:row {n}", n, row, lo=None, hi=None, fill_zero=False)
            if rec is not None:
                yield rec


__all__ = ["EmoNetFaceBigSource", "EmoNetFaceBinarySource", "EmoNetFaceHQSource", "emotion_name", "parse_literal", "per_rater"]
