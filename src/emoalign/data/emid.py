"""EMID (Emotionally paired Music and Image Dataset): the released CSV + media, and the hub parquet.

Zou et al. (2023), "EMID: An Emotional Aligned Dataset in Audio-Visual Modality", arXiv 2308.07622;
licence CC BY-NC-SA 4.0. Two layouts are read:

* `EMIDSource` — the release: ``EMID_data.csv`` next to the music clips and the images
  (github.com/ecnu-aigc/EMID; the hub repo once held them as ``musicData.zip``, earlier named
  ``musicClips.zip``, and ``imageData.zip``; the README points to OneDrive copies of both).
* `EMIDHubSource` — Hugging Face ``ecnu-aigc/EMID``: one ``train`` split of 10,738 rows in
  ``data/train-0000k-of-00008-*.parquet`` whose ``Audio_Filename`` column is a ``datasets.Audio``,
  ``Image{1,2,3}_filename`` are ``datasets.Image`` and ``is_original_clip`` is a bool (dataset card).

Both yield the same items: one ``music`` `Record` per row (id = the clip's file name, e.g.
``106.m4a___172.mp3``; label ``emid13`` from the genre letter; valence/arousal from the ratings) and
one ``image`` `Record` per distinct image (id = its file name, e.g. ``excitement_0616.jpg``; label
``mikels8``; text = its GIT caption), plus one `Pair` per (clip, image slot).

What the sources say, and what is assumed here
-----------------------------------------------
* Columns and examples are from the dataset README (github.com/ecnu-aigc/EMID, "Data Fields"):
  ``Audio_Filename``, ``genre`` (A–M), ``feeling`` (``"33% Sad, depressing, 22% Awe-inspiring,
  amazing, ..."``), ``emotion`` (11 ratings on 1–9, ``"5,5.3,5,6,3.1,6.1,5.1,3.6,6.2,5.9,5.6"``),
  ``Image{k}_filename``/``_tag``/``_text`` (text is a Python-list literal such as
  ``"['the marching band in the parade']"``) and ``is_original_clip`` (``True``/``False``).
* The README names the 11 rating dimensions only as "11 emotional dimensions" and refers to Cowen
  et al. (2020, PNAS). **Assumed:** they are Cowen's broad affective scales in alphabetical order,
  `RATING_SCALES` (arousal first, valence last) — the order Cowen & Keltner use when listing such
  scales. It fits the two published rows (an "Energizing, pump-up" clip rates 7.6 on the first
  scale, a mostly sad one 5.0). Pass ``rating_scales=`` (and ``valence_scale``/``arousal_scale``)
  to override once the order is confirmed.
* ``feeling`` percentages are the share of listeners who reported each feeling; several feelings can
  be reported at once, so the shares do not sum to 1 (they are kept as given, in [0, 1]).
* The clip name ``<source file>___<slice>`` (an early card listed ``audio_file`` and ``slice``
  features) is read as the source recording plus a slice number; the source is the record's
  ``group`` so that splits can keep slices of one recording together.
* Folder names inside the media archives are not documented; `EMIDSource` finds files by name
  anywhere under the music and image folders (default: ``musicData``/``musicClips``/``music`` and
  ``imageData``/``images``), so flat and per-emotion layouts both work.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from emoalign.affect import get_taxonomy, linear_to_unit
from emoalign.affect.taxonomy import UnknownLabelError
from emoalign.data.base import LoadReport, Source
from emoalign.errors import BadInputError
from emoalign.media.decode import sniff_suffix
from emoalign.types import Pair, Record

CSV_NAME = "EMID_data.csv"
HUB_ID = "ecnu-aigc/EMID"
IMAGE_SLOTS = (1, 2, 3)
COLUMNS: tuple[str, ...] = (
    "Audio_Filename", "genre", "feeling", "emotion",
    "Image1_filename", "Image1_tag", "Image1_text",
    "Image2_filename", "Image2_tag", "Image2_text",
    "Image3_filename", "Image3_tag", "Image3_text",
    "is_original_clip",
)
#: Assumed order of the 11 ratings in ``emotion`` (see the module docstring).
RATING_SCALES: tuple[str, ...] = (
    "arousal", "attention", "certainty", "commitment", "dominance", "enjoyment",
    "familiarity", "obstruction", "safety", "upswing", "valence",
)
RATING_RANGE = (1.0, 9.0)
MUSIC_DIRS = ("musicData", "musicClips", "music", "audio")
IMAGE_DIRS = ("imageData", "images", "image")
AUDIO_SUFFIXES = {".mp3", ".wav", ".flac", ".ogg", ".m4a"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}

_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*")


# ---------------------------------------------------------------------------------------------
# Field parsers (pure functions, shared by both layouts)
# ---------------------------------------------------------------------------------------------
def parse_feeling(text: str) -> dict[str, float]:
    """``"33% Sad, depressing, 22% Dreamy"`` → ``{"Sad, depressing": 0.33, "Dreamy": 0.22}``.

    Category names contain commas, so the text is split at the percentages, not at commas.

    >>> parse_feeling("33% Sad, depressing, 22% Awe-inspiring, amazing, 4% Dreamy")
    {'Sad, depressing': 0.33, 'Awe-inspiring, amazing': 0.22, 'Dreamy': 0.04}
    """
    text = (text or "").strip()
    if not text:
        return {}
    parts = _PERCENT.split(text)
    if parts[0].strip(" ,"):
        raise ValueError(f"text before the first percentage: {parts[0].strip()!r}")
    out: dict[str, float] = {}
    for pct, name in zip(parts[1::2], parts[2::2]):
        name = name.strip().rstrip(",").strip()
        if not name:
            raise ValueError(f"{pct}% is not followed by a feeling")
        share = float(pct) / 100.0
        if share > 1.0:
            raise ValueError(f"share {pct}% of {name!r} is above 100%")
        out[name] = round(out.get(name, 0.0) + share, 6)
    return out


def parse_ratings(text: str, scales: Sequence[str] = RATING_SCALES) -> dict[str, float]:
    """``"5,5.3,..."`` (one value per scale, each in 1..9) → ``{scale: value}``.

    >>> parse_ratings("5,5.3,5,6,3.1,6.1,5.1,3.6,6.2,5.9,5.6")["valence"]
    5.6
    """
    values = [v.strip() for v in str(text or "").strip().strip("[]").split(",")]
    if values == [""]:
        raise ValueError("no ratings")
    if len(values) != len(scales):
        raise ValueError(f"{len(values)} ratings, expected {len(scales)}")
    out: dict[str, float] = {}
    lo, hi = RATING_RANGE
    for scale, v in zip(scales, values):
        try:
            x = float(v)
        except ValueError:
            raise ValueError(f"rating {v!r} for {scale} is not a number") from None
        if not lo <= x <= hi:  # also rejects NaN
            raise ValueError(f"rating {x:g} for {scale} is outside {lo:g}..{hi:g}")
        out[scale] = x
    return out


def parse_captions(text: Any) -> list[str]:
    """The ``Image{k}_text`` cell: a Python-list literal of captions, or plain text.

    >>> parse_captions("['the marching band in the parade']")
    ['the marching band in the parade']
    """
    if text is None:
        return []
    if isinstance(text, (list, tuple)):
        return [str(t) for t in text]
    s = str(text).strip()
    if not s:
        return []
    if s.startswith("["):
        try:
            value = ast.literal_eval(s)
        except (ValueError, SyntaxError):
            return [s]  # a caption that merely starts with "[" — keep it as written
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
    return [s]


def parse_bool(value: Any) -> bool:
    """``True``/``"True"``/``"1"``/``"false"`` … → bool; anything else raises ValueError."""
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in ("true", "1", "yes"):
        return True
    if s in ("false", "0", "no"):
        return False
    raise ValueError(f"is_original_clip {value!r} is not True/False")


def clip_group(music_id: str) -> tuple[str, int | None]:
    """``"106.m4a___172.mp3"`` → ``("106.m4a", 172)``: the source recording and the slice number.

    >>> clip_group("106.m4a___172.mp3")
    ('106.m4a', 172)
    >>> clip_group("song.mp3")
    ('song.mp3', None)
    """
    if "___" not in music_id:
        return music_id, None
    source, rest = music_id.rsplit("___", 1)
    stem = rest.split(".", 1)[0]
    return source, int(stem) if stem.isdigit() else None


# ---------------------------------------------------------------------------------------------
# One parsed row, independent of where the media live
# ---------------------------------------------------------------------------------------------
@dataclass
class ImageSlot:
    slot: int
    image_id: str
    tag: str  # canonical mikels8 name
    captions: list[str]


@dataclass
class EMIDRow:
    where: str
    music_id: str
    letter: str
    label: str
    valence: float
    arousal: float
    ratings: dict[str, float]
    feeling: dict[str, float]
    is_original: bool
    images: list[ImageSlot] = field(default_factory=list)

    def music_meta(self) -> dict[str, Any]:
        source, slice_no = clip_group(self.music_id)
        return {
            "genre": self.letter,
            "feeling": self.feeling,
            "ratings": self.ratings,
            "is_original_clip": self.is_original,
            "source_recording": source,
            "slice": slice_no,
            "row": self.where,
        }


class RowError(ValueError):
    """A problem with one row (or one image slot), with the message to report."""


class _EMIDParser:
    """Turns a row's cells into an `EMIDRow`; problems become `RowError`s with a reason prefix."""

    def __init__(self, scales: Sequence[str], valence_scale: str, arousal_scale: str) -> None:
        for s in (valence_scale, arousal_scale):
            if s not in scales:
                raise ValueError(f"rating scale {s!r} is not one of {list(scales)}")
        self.scales = tuple(scales)
        self.valence_scale = valence_scale
        self.arousal_scale = arousal_scale
        self.genres = get_taxonomy("emid13")
        self.mikels = get_taxonomy("mikels8")

    def row(self, cells: Mapping[str, Any], where: str, music_id: str) -> EMIDRow:
        if not music_id:
            raise RowError("missing value: Audio_Filename is empty")
        letter = str(cells.get("genre") or "").strip()
        try:
            label = self.genres.label(letter).name
        except UnknownLabelError:
            raise RowError(f"unknown label: genre {letter!r} (expected one letter A-M)") from None
        try:
            ratings = parse_ratings(cells.get("emotion"), self.scales)
        except ValueError as exc:
            raise RowError(f"malformed ratings: {exc} in emotion={cells.get('emotion')!r}") from None
        try:
            feeling = parse_feeling(cells.get("feeling") or "")
        except ValueError as exc:
            raise RowError(f"malformed feeling: {exc}") from None
        try:
            original = parse_bool(cells.get("is_original_clip"))
        except ValueError as exc:
            raise RowError(f"malformed value: {exc}") from None
        lo, hi = RATING_RANGE
        return EMIDRow(
            where=where, music_id=music_id, letter=letter.upper(), label=label,
            valence=linear_to_unit(ratings[self.valence_scale], lo, hi),
            arousal=linear_to_unit(ratings[self.arousal_scale], lo, hi),
            ratings=ratings, feeling=feeling, is_original=original,
        )

    def image(self, cells: Mapping[str, Any], k: int, image_id: str) -> ImageSlot | None:
        """Slot ``k``, or None when the slot is empty (rows hold *up to* three images)."""
        tag = str(cells.get(f"Image{k}_tag") or "").strip()
        if not image_id and not tag:
            return None
        if not image_id:
            raise RowError(f"missing value: Image{k}_filename is empty but Image{k}_tag is {tag!r}")
        try:
            name = self.mikels.label(tag).name
        except UnknownLabelError:
            raise RowError(
                f"unknown label: Image{k}_tag {tag!r} of {image_id} (expected one of {', '.join(self.mikels.names)})"
            ) from None
        return ImageSlot(k, image_id, name, parse_captions(cells.get(f"Image{k}_text")))


class _EMIDBase(Source):
    """What both EMID layouts share: the parser, de-duplicated problems, records from parsed rows."""

    taxonomy = "emid13"
    #: Both layouts hold the same data set: records and pairs carry this source name, so the CSV
    #: release and the hub copy yield identical items (``report`` still names the layout).
    dataset = "emid"

    def _setup(self, rating_scales: Sequence[str], valence_scale: str, arousal_scale: str) -> None:
        self._parser = _EMIDParser(rating_scales, valence_scale, arousal_scale)
        self._seen_problems: set[tuple[str, str]] = set()

    def _problem_once(self, where: str, message: str) -> None:
        # records() and pairs() both walk the rows; report each problem once
        key = (where, message)
        if key in self._seen_problems:
            return
        self._seen_problems.add(key)
        self.problem(where, message)

    @staticmethod
    def _check_split(split: str | None) -> None:
        if split not in (None, "train", "all"):
            raise ValueError(f"EMID has one split, 'train' (or None for all rows); got {split!r}")

    def _music_record(self, row: EMIDRow, *, path: str | None = None, payload: bytes | None = None) -> Record:
        source, _ = clip_group(row.music_id)
        return Record(
            id=row.music_id, modality="music", source=self.dataset, path=path, payload=payload,
            labels={"emid13": row.label}, valence=row.valence, arousal=row.arousal,
            group=source, meta=row.music_meta(),
        )

    def _image_record(self, img: ImageSlot, where: str, *, path: str | None = None, payload: bytes | None = None) -> Record:
        return Record(
            id=img.image_id, modality="image", source=self.dataset, path=path, payload=payload,
            text=img.captions[0] if img.captions else None, labels={"mikels8": img.tag},
            meta={"captions": img.captions, "first_row": where},
        )

    def _check_image_tag(self, seen_tags: dict[str, str], img: ImageSlot, where: str) -> bool:
        """An image keeps the tag of its first row; a different tag later is reported."""
        first = seen_tags.setdefault(img.image_id, img.tag)
        if first != img.tag:
            self._problem_once(where, f"conflicting label: {img.image_id} is tagged {img.tag!r} here but {first!r} earlier")
            return False
        return True

    def _image_slots(self, cells: Mapping[str, Any], where: str, locate) -> Iterator[tuple[ImageSlot, Any]]:
        """The row's filled, valid image slots, each with its media.

        ``locate(k)`` → (image id, media, why the media is missing or None): the layout's way to
        find slot ``k``'s file (by name in a folder, or embedded bytes).
        """
        for k in IMAGE_SLOTS:
            image_id, media, missing = locate(k)
            try:
                img = self._parser.image(cells, k, image_id)
            except RowError as exc:
                self._problem_once(where, str(exc))
                continue
            if img is None:
                continue
            if missing:
                self._problem_once(where, missing)
                continue
            yield img, media

    def _rows_with_media(self) -> Iterator[tuple[EMIDRow, dict[str, Any], dict[str, dict[str, Any]]]]:
        """Each good row, its clip's ``path``/``payload`` and each image's (by image id)."""
        raise NotImplementedError

    def records(self, split: str | None = None) -> Iterator[Record]:
        """Music records (one per good row) and image records (one per distinct image)."""
        self._check_split(split)
        return self._count(self._records())

    def _records(self) -> Iterator[Record]:
        seen_tags: dict[str, str] = {}
        for row, music, images in self._rows_with_media():
            yield self._music_record(row, **music)
            for img in row.images:
                if img.image_id in seen_tags:
                    self._check_image_tag(seen_tags, img, row.where)
                    continue
                seen_tags[img.image_id] = img.tag
                yield self._image_record(img, row.where, **images[img.image_id])

    def pairs(self, split: str | None = None) -> Iterator[Pair]:
        """One `Pair` per (clip, image slot), ``rank`` = the slot (1 = best match)."""
        self._check_split(split)
        seen_tags: dict[str, str] = {}
        for row in self._pair_rows():
            for img in row.images:
                if img.image_id in seen_tags and not self._check_image_tag(seen_tags, img, row.where):
                    continue
                seen_tags.setdefault(img.image_id, img.tag)
                yield Pair(row.music_id, img.image_id, source=self.dataset, rank=img.slot, emotion=img.tag)

    def _pair_rows(self) -> Iterator[EMIDRow]:
        return (row for row, _, _ in self._rows_with_media())


# ---------------------------------------------------------------------------------------------
# The release: EMID_data.csv + music and image folders
# ---------------------------------------------------------------------------------------------
class EMIDSource(_EMIDBase):
    """EMID as released: ``EMID_data.csv`` plus its music clips and images.

    ``root`` is the folder holding the CSV (or the CSV itself). Media are found by file name under
    ``music_dir``/``image_dir`` (relative to ``root``; detected when None). With
    ``require_media=False`` rows whose files are absent still yield records, with ``path=None``.

    >>> from emoalign.data.fixtures.emid import make
    >>> src = EMIDSource(make("fixtures", seed=0)["emid"])  # a small copy of the release's layout
    >>> music = [r for r in src.records() if r.modality == "music"]
    >>> len(music), music[0].labels["emid13"] in get_taxonomy("emid13").names
    (26, True)
    >>> next(src.pairs())
    Pair(music_id='1433.m4a___57.mp3', image_id='excitement_1609.jpg', source='emid', rank=1, ...)
    """

    name = "emid"

    def __init__(
        self,
        root: str | Path,
        *,
        strict: bool = False,
        music_dir: str | Path | None = None,
        image_dir: str | Path | None = None,
        require_media: bool = True,
        rating_scales: Sequence[str] = RATING_SCALES,
        valence_scale: str = "valence",
        arousal_scale: str = "arousal",
    ) -> None:
        root = Path(root)
        self.csv_path = root if root.is_file() else root / CSV_NAME
        super().__init__(root.parent if root.is_file() else root, strict=strict)
        if not self.csv_path.is_file():
            raise FileNotFoundError(f"{self.name}: {self.csv_path} not found (expected the released {CSV_NAME})")
        self._setup(rating_scales, valence_scale, arousal_scale)
        self.require_media = require_media
        self.music_dir = self._find_dir(music_dir, MUSIC_DIRS, "music")
        self.image_dir = self._find_dir(image_dir, IMAGE_DIRS, "image")
        self._rows: list[EMIDRow] | None = None
        self._music_files: dict[str, Path] = {}
        self._image_files: dict[str, Path] = {}

    # -- layout detection ---------------------------------------------------------------------
    def _find_dir(self, given: str | Path | None, candidates: Iterable[str], kind: str) -> Path | None:
        if given is not None:
            path = Path(given) if Path(given).is_absolute() else self.root / given
            if not path.is_dir():
                raise FileNotFoundError(f"{self.name}: {kind} folder {path} does not exist")
            return path
        for name in candidates:
            if (self.root / name).is_dir():
                return self.root / name
        for name in candidates:  # archives as downloaded, not yet extracted
            if (self.root / f"{name}.zip").is_file() and self.require_media:
                raise BadInputError(f"{self.root / (name + '.zip')}: extract the archive first (or pass {kind}_dir=)")
        return None

    def _index(self, folder: Path | None, suffixes: set[str], kind: str) -> dict[str, Path]:
        """File name → path for every media file under ``folder`` (first in sorted order wins)."""
        if folder is None:
            return {}
        index: dict[str, Path] = {}
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in suffixes or not path.is_file():
                continue
            if path.name in index:
                self._problem_once(str(path), f"duplicate file name: {path.name} also at {index[path.name]}; using the first")
                continue
            index[path.name] = path
        if not index and self.require_media:
            raise BadInputError(
                f"{folder}: no {kind} files found; pass {kind}_dir= or require_media=False"
            )
        return index

    # -- parsing ------------------------------------------------------------------------------
    def _load(self) -> list[EMIDRow]:
        if self._rows is not None:
            return self._rows
        if self.require_media:
            if self.music_dir is None:
                raise BadInputError(f"{self.root}: no music folder (looked for {', '.join(MUSIC_DIRS)}); pass music_dir= or require_media=False")
            if self.image_dir is None:
                raise BadInputError(f"{self.root}: no image folder (looked for {', '.join(IMAGE_DIRS)}); pass image_dir= or require_media=False")
        self._music_files = self._index(self.music_dir, AUDIO_SUFFIXES, "music")
        self._image_files = self._index(self.image_dir, IMAGE_SUFFIXES, "image")
        rows: list[EMIDRow] = []
        with self.csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise BadInputError(f"{self.csv_path}: missing columns {missing}; found {reader.fieldnames}")
            line = 1  # the header
            for cells in reader:
                where = f"{self.csv_path}:{line + 1}"  # first line of this record
                line = reader.line_num
                row = self._parse(cells, where)
                if row is not None:
                    rows.append(row)
        self._rows = rows
        return rows

    def _parse(self, cells: Mapping[str, Any], where: str) -> EMIDRow | None:
        music_id = str(cells.get("Audio_Filename") or "").strip()
        try:
            row = self._parser.row(cells, where, music_id)
        except RowError as exc:
            self._problem_once(where, str(exc))
            return None
        if self.require_media and music_id not in self._music_files:
            self._problem_once(where, f"missing file: music clip {music_id} not found under {self.music_dir}")
            return None

        def locate(k: int) -> tuple[str, None, str | None]:
            image_id = str(cells.get(f"Image{k}_filename") or "").strip()
            missing = self.require_media and image_id not in self._image_files
            return image_id, None, (f"missing file: image {image_id} (Image{k}_filename) not found under {self.image_dir}" if missing else None)

        row.images.extend(img for img, _ in self._image_slots(cells, where, locate))
        return row

    def _rows_with_media(self) -> Iterator[tuple[EMIDRow, dict[str, Any], dict[str, dict[str, Any]]]]:
        for row in self._load():
            path = self._music_files.get(row.music_id)
            images = {}
            for img in row.images:
                ipath = self._image_files.get(img.image_id)
                images[img.image_id] = {"path": str(ipath) if ipath else None}
            yield row, {"path": str(path) if path else None}, images

    def _pair_rows(self) -> Iterator[EMIDRow]:
        return iter(self._load())


# ---------------------------------------------------------------------------------------------
# The Hugging Face layout: parquet shards with embedded audio and images
# ---------------------------------------------------------------------------------------------
def media_cell(value: Any) -> tuple[bytes | None, str]:
    """A ``datasets.Audio``/``Image`` cell read with ``decode=False`` → (bytes, file name).

    A decoded-audio struct (``{"path", "array", "sampling_rate"}``, as emoalign's own matching
    export writes) becomes 16-bit WAV bytes again.
    """
    if isinstance(value, Mapping) and value.get("array") is not None and value.get("sampling_rate"):
        import numpy as np
        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, np.asarray(value["array"], dtype=np.float32), int(value["sampling_rate"]), format="WAV", subtype="PCM_16")
        path = value.get("path") or ""
        return buf.getvalue(), Path(str(path)).name if path else ""
    if isinstance(value, Mapping):
        data = value.get("bytes")
        path = value.get("path") or ""
        return (bytes(data) if data is not None else None), Path(str(path)).name if path else ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), ""
    if isinstance(value, str):  # a plain file-name column (older card versions)
        return None, Path(value).name
    return None, ""


def content_id(data: bytes) -> str:
    """A stable id for media without a file name: 20 hex digits of its SHA-1 plus a sniffed suffix.

    >>> content_id(b"RIFF....WAVEfmt ")[-4:]
    '.wav'
    """
    return hashlib.sha1(data).hexdigest()[:20] + sniff_suffix(data[:16])


def is_hub_id(value: str | Path) -> bool:
    """``"owner/name"`` that is not an existing local path."""
    s = str(value)
    return not Path(s).exists() and bool(re.fullmatch(r"[\w.-]+/[\w.-]+", s))


def load_hub_dataset(path_or_id: str | Path, *, split: str | None = None, streaming: bool = True):
    """Open a hub dataset (id) or a local copy (parquet files, a folder of them, or ``save_to_disk``).

    Returns a ``datasets`` ``DatasetDict``/``IterableDatasetDict`` (``split=None``) or one split.
    Only called when a source is iterated, never at import time.
    """
    import datasets

    if is_hub_id(path_or_id):
        return datasets.load_dataset(str(path_or_id), split=split, streaming=streaming)
    path = Path(path_or_id)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist (and is not a hub id like 'owner/name')")
    if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
        loaded = datasets.load_from_disk(str(path))
        if split is None or not isinstance(loaded, datasets.DatasetDict):
            return loaded
        return loaded[split]
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{path}: no .parquet files and no save_to_disk folder")
    by_split: dict[str, list[str]] = {}
    for f in files:
        by_split.setdefault(_split_of(f, path), []).append(str(f))
    loaded = datasets.load_dataset("parquet", data_files=by_split, streaming=streaming)
    if split is None:
        return loaded
    if split not in loaded:
        raise ValueError(f"{path}: no split {split!r}; found {sorted(loaded)}")
    return loaded[split]


def _split_of(file: Path, root: Path) -> str:
    """``data/train-00000-of-00008-xx.parquet`` → ``train``; ``test/0.parquet`` → ``test``."""
    m = re.match(r"([A-Za-z]+)[-_.]", file.name)
    if m and m.group(1).lower() in ("train", "test", "validation", "valid", "dev"):
        return m.group(1).lower()
    for part in file.relative_to(root).parts[:-1] if file != root else ():
        if part.lower() in ("train", "test", "validation", "valid", "dev"):
            return part.lower()
    return "train"


def undecoded(ds):
    """Cast every ``Audio``/``Image`` column to ``decode=False`` (bytes + path, no decoder needed)."""
    import datasets

    features = getattr(ds, "features", None) or {}
    for name, feature in features.items():
        if isinstance(feature, datasets.Audio) and feature.decode:
            ds = ds.cast_column(name, datasets.Audio(sampling_rate=feature.sampling_rate, decode=False))
        elif isinstance(feature, datasets.Image) and feature.decode:
            ds = ds.cast_column(name, datasets.Image(decode=False))
    return ds


class EMIDHubSource(_EMIDBase):
    """EMID in the Hugging Face layout (``ecnu-aigc/EMID``): parquet with embedded media.

    ``path_or_id`` is a local copy (a folder holding ``data/train-*.parquet``, a parquet file, or a
    ``save_to_disk`` folder) or the hub id itself (``"ecnu-aigc/EMID"``, downloaded by ``datasets``
    when iterated). Records carry the media bytes in ``payload``; ids are the embedded file names.

    >>> from emoalign.data.fixtures.emid import make
    >>> src = EMIDHubSource(make("fixtures", seed=0)["emid-hub"])  # parquet with embedded media
    >>> r = next(src.records()); r.modality, r.path, len(r.payload) > 0
    ('music', None, True)
    """

    name = "emid-hub"

    def __init__(
        self,
        path_or_id: str | Path = HUB_ID,
        *,
        strict: bool = False,
        streaming: bool = True,
        rating_scales: Sequence[str] = RATING_SCALES,
        valence_scale: str = "valence",
        arousal_scale: str = "arousal",
    ) -> None:
        self.hub_id = str(path_or_id) if is_hub_id(path_or_id) else None
        if self.hub_id is None:
            super().__init__(path_or_id, strict=strict)
        else:  # nothing local to check; the base class would refuse a non-existent path
            self.root = Path(self.hub_id)
            self.strict = strict
            self.report = LoadReport(self.name)
        self.streaming = streaming
        self._setup(rating_scales, valence_scale, arousal_scale)

    def _dataset(self):
        return undecoded(load_hub_dataset(self.hub_id or self.root, split="train", streaming=self.streaming))

    def _rows_with_media(self) -> Iterator[tuple[EMIDRow, dict[str, Any], dict[str, dict[str, Any]]]]:
        """Each good row with its audio bytes and its images' bytes (by image id)."""
        where_base = self.hub_id or str(self.root)
        for i, cells in enumerate(self._dataset()):
            where = f"{where_base}:train:{i}"
            audio, name = media_cell(cells.get("Audio_Filename"))
            if not name and audio:
                name = content_id(audio)
            try:
                row = self._parser.row(cells, where, name)
            except RowError as exc:
                self._problem_once(where, str(exc))
                continue
            if not audio:
                self._problem_once(where, f"missing file: no audio bytes embedded for {name}")
                continue

            def locate(k: int) -> tuple[str, bytes | None, str | None]:
                data, image_id = media_cell(cells.get(f"Image{k}_filename"))
                if not image_id and data:
                    image_id = content_id(data)
                return image_id, data, (None if data else f"missing file: no image bytes embedded for {image_id} (Image{k}_filename)")

            images: dict[str, dict[str, Any]] = {}
            for img, data in self._image_slots(cells, where, locate):
                row.images.append(img)
                images[img.image_id] = {"payload": data}
            yield row, {"payload": audio}, images
