"""A user's own data: a folder per label, or a CSV listing files or texts with their labels.

* `FolderSource` — ``root/<label>/<file>`` (or ``root/<split>/<label>/<file>`` when every top
  folder is a split name: train, val, test). The modality of each file is guessed from its
  content (`emoalign.media.decode.sniff_kind`: magic numbers, not the extension); UTF-8 ``.txt``
  files become text records. Pass ``modality=`` to fix it (``music``, ``speech``, ``face`` …):
  files whose content is of another kind are then reported, not silently mislabelled.
* `CSVSource` — a CSV with a ``path`` (relative to the CSV's folder, which it may not leave) or a
  ``text`` column, a ``label`` column and optional ``valence``, ``arousal``, ``split``, ``group``,
  ``taxonomy`` and ``modality`` columns. A ratings file (``path,valence,arousal``) needs no
  ``label`` column: `emoalign train --target va` fits a valence/arousal regressor on it.

Labels are stored under the taxonomy given (``taxonomy=`` option or column) after checking that
the taxonomy knows them (so ``HAPPY`` becomes ``happy`` and a typo is reported); with no taxonomy
they are kept as written under the key ``"user"``.

>>> from emoalign.data import open_source
>>> from emoalign.media.synth import synth_clip, write_clip
>>> for name, v in (("HAPPY/a.wav", 0.8), ("sad/b.wav", -0.8), ("sadd/c.wav", -0.8)):
...     _ = write_clip(f"my_clips/{name}", synth_clip(v, 0.3, seconds=0.5))
>>> src = open_source("folder", "my_clips/", modality="speech", taxonomy="ravdess8")
>>> [(r.id, r.labels) for r in src.records()]
[('HAPPY/a.wav', {'ravdess8': 'happy'}), ('sad/b.wav', {'ravdess8': 'sad'})]
>>> src.report.problems[0].message  # doctest: +ELLIPSIS
"unknown label: 'sadd' is not a label of taxonomy 'ravdess8'; labels: neutral, calm, happy, ..."
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator

from emoalign.affect import get_taxonomy
from emoalign.affect.taxonomy import UnknownLabelError
from emoalign.data.base import Source
from emoalign.errors import BadInputError
from emoalign.media.decode import sniff_kind
from emoalign.types import AUDIO_MODALITIES, IMAGE_MODALITIES, MODALITIES, Record

#: Key of free-form labels when no taxonomy is named.
USER_TAXONOMY = "user"
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "dev": "val", "test": "test"}
TEXT_SUFFIXES = {".txt", ".text"}
#: The file kinds `sniff_kind` returns, and the record modalities each can serve.
KIND_MODALITIES = {"audio": set(AUDIO_MODALITIES), "image": set(IMAGE_MODALITIES), "video": {"video"}, "text": {"text"}}
DEFAULT_MODALITY = {"audio": "audio", "image": "image", "video": "video", "text": "text"}
MAX_TEXT_BYTES = 1_000_000


def _kind_of(path: Path) -> str | None:
    """'audio' | 'image' | 'video' | 'text' from the file's content, or None if unknown."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    kind = sniff_kind(head)
    if kind is not None:
        return kind
    if path.suffix.lower() in TEXT_SUFFIXES and path.stat().st_size <= MAX_TEXT_BYTES:
        try:
            path.read_bytes().decode("utf-8")
            return "text"
        except UnicodeDecodeError:
            return None
    return None


class _LabelMixin:
    """Checks labels against a named taxonomy; free-form labels go under ``"user"``."""

    def _canonical(self: Any, label: str, taxonomy: str | None) -> str:
        label = label.strip()
        if not label:
            raise UnknownLabelError("empty label")
        if taxonomy in (None, "", USER_TAXONOMY):
            return label
        return get_taxonomy(taxonomy).label(label).name


def _check_modality(modality: str | None) -> None:
    if modality is not None and modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; expected one of {MODALITIES}")


def _check_taxonomy(taxonomy: str | None) -> None:
    if taxonomy not in (None, "", USER_TAXONOMY):
        get_taxonomy(taxonomy)  # raises with the list of known taxonomies


class FolderSource(_LabelMixin, Source):
    """Folder-per-label data (see the module doc).

    Options: ``modality`` (default: guessed per file), ``taxonomy`` (default: free labels under
    ``"user"``), ``verify`` — fully decode audio/images (`load_audio`/`load_image`) and report the
    ones that fail, instead of trusting their magic numbers (slower).
    """

    name = "folder"
    taxonomy = USER_TAXONOMY

    def __init__(self, root: str | Path, *, modality: str | None = None, taxonomy: str | None = None, verify: bool = False, strict: bool = False) -> None:
        super().__init__(root, strict=strict)
        if not self.root.is_dir():
            raise NotADirectoryError(f"{self.name}: {self.root} is not a folder (expected <root>/<label>/<file>)")
        _check_modality(modality)
        _check_taxonomy(taxonomy)
        self.modality = modality
        self.taxonomy = taxonomy or USER_TAXONOMY
        self.verify = verify

    def records(self, split: str | None = None) -> Iterator[Record]:
        return self._count(self._records(split))

    def _layout(self) -> list[tuple[str | None, Path]]:
        """(split, label folder) pairs: split folders are used when every top folder is a split name."""
        tops = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if tops and all(p.name.lower() in SPLIT_NAMES for p in tops):
            return [(SPLIT_NAMES[t.name.lower()], d) for t in tops for d in sorted(t.iterdir()) if d.is_dir() and not d.name.startswith(".")]
        return [(None, d) for d in tops]

    def _records(self, split: str | None) -> Iterator[Record]:
        layout = self._layout()
        top_files = sorted(p for p in self.root.iterdir() if p.is_file() and not p.name.startswith("."))
        for f in top_files:
            self.problem(f, "not in a label folder: expected <root>/<label>/<file>")
        if not layout:
            self.problem(self.root, "no label folders: expected <root>/<label>/<file>")
            return
        for folder_split, label_dir in layout:
            if split is not None and folder_split != split:
                continue
            try:
                label = self._canonical(label_dir.name, self.taxonomy)
            except UnknownLabelError as exc:
                self.problem(label_dir, f"unknown label: {exc}")
                continue
            files = sorted(p for p in label_dir.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(label_dir).parts))
            for path in files:
                rec = self._record(path, label, folder_split)
                if rec is not None:
                    yield rec

    def _record(self, path: Path, label: str, split: str | None) -> Record | None:
        try:
            kind = _kind_of(path)
        except OSError as exc:
            self.problem(path, f"unreadable file: {exc}")
            return None
        if kind is None:
            self.problem(path, "unknown file type: content is not a known audio, image, video or UTF-8 text format")
            return None
        modality = self.modality or DEFAULT_MODALITY[kind]
        if modality not in KIND_MODALITIES[kind]:
            self.problem(path, f"wrong file type: {kind} content in a {modality} source")
            return None
        if self.verify and not _decodes(self, path, kind):
            return None
        text = path.read_text("utf-8") if kind == "text" else None
        rel = path.relative_to(self.root)
        return Record(
            id=rel.as_posix(), modality=modality, source=self.name,
            path=None if kind == "text" else str(path), text=text.strip() if text is not None else None,
            labels={self.taxonomy: label}, split=split, meta={"file": rel.as_posix()},
        )


def _decodes(src: Source, path: Path, kind: str) -> bool:
    from emoalign.errors import DecodeError
    from emoalign.media.decode import load_audio, load_image

    try:
        if kind == "audio":
            load_audio(path, allow_silent=True)
        elif kind == "image":
            load_image(path)
    except DecodeError as exc:
        src.problem(path, f"undecodable media: {exc}")
        return False
    return True


class CSVSource(_LabelMixin, Source):
    """Rows of a CSV (see the module doc); ``root`` is the CSV file.

    Options: ``modality`` (default: the ``modality`` column, else text for ``text`` rows and the
    sniffed kind for files), ``taxonomy`` (default: the ``taxonomy`` column, else ``"user"``),
    ``require_media`` (default True: a listed file that is missing is bad input), ``verify``
    (decode media), ``va_range`` — the scale of the valence/arousal columns, mapped linearly to
    [-1, 1] (e.g. ``(1, 9)`` for SAM ratings).
    """

    name = "csv"
    taxonomy = USER_TAXONOMY

    def __init__(
        self,
        path: str | Path,
        *,
        modality: str | None = None,
        taxonomy: str | None = None,
        require_media: bool = True,
        verify: bool = False,
        va_range: tuple[float, float] | str = (-1.0, 1.0),
        strict: bool = False,
    ) -> None:
        super().__init__(path, strict=strict)
        if not self.root.is_file():
            raise FileNotFoundError(f"{self.name}: {self.root} is not a CSV file")
        _check_modality(modality)
        _check_taxonomy(taxonomy)
        if isinstance(va_range, str):  # "1,9" from a source string or -o va_range=1,9
            va_range = tuple(va_range.replace(":", ",").split(","))
        try:
            lo, hi = (float(x) for x in va_range)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: va_range {va_range!r} must be two numbers, low and high (e.g. 1,9)") from None
        if not hi > lo:
            raise ValueError(f"{self.name}: va_range {va_range} must be (low, high) with high > low")
        self.modality = modality
        self.fixed_taxonomy = taxonomy
        self.taxonomy = taxonomy or self._column_taxonomy() or USER_TAXONOMY
        self.require_media = require_media
        self.verify = verify
        self.va_range = (lo, hi)
        self.base = self.root.parent

    def _column_taxonomy(self) -> str | None:
        """The taxonomy named in the file, when every row names the same one (for ``datasets inspect``)."""
        names = {(row.get("taxonomy") or "").strip() for _, row in self._rows()}
        names.discard("")
        return names.pop() if len(names) == 1 else None

    def _rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        try:
            with open(self.root, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                for row in reader:
                    yield reader.line_num, {k.strip().lower(): (v or "") for k, v in row.items() if k is not None}
        except UnicodeDecodeError:
            raise _not_utf8(self.root) from None

    def records(self, split: str | None = None) -> Iterator[Record]:
        return self._count(self._records(split))

    def _records(self, split: str | None) -> Iterator[Record]:
        try:
            with open(self.root, newline="", encoding="utf-8-sig") as fh:
                header = {h.strip().lower() for h in (csv.DictReader(fh).fieldnames or [])}
        except UnicodeDecodeError:
            raise _not_utf8(self.root) from None
        rated = {"valence", "arousal"} <= header
        if ("label" not in header and not rated) or not ({"path", "text"} & header):
            self.problem(self.root, "malformed file: needs a 'path' or 'text' column and a 'label' column or 'valence' "
                                    f"and 'arousal' columns (has {sorted(header)})")
            return
        for line, row in self._rows():
            where = f"{self.root}:{line}"
            try:
                rec = self._record(where, line, row)
            except BadInputError:
                raise
            except (ValueError, UnknownLabelError) as exc:
                self.problem(where, str(exc))
                continue
            if rec is None or (split is not None and rec.split != split):
                continue
            yield rec

    def _va(self, value: str, what: str) -> float | None:
        if not value.strip():
            return None
        try:
            x = float(value)
        except ValueError:
            raise ValueError(f"malformed row: {what} {value!r} is not a number") from None
        lo, hi = self.va_range
        if not lo <= x <= hi:
            raise ValueError(f"malformed row: {what} {x} outside {lo:g}..{hi:g} (set va_range for another scale)")
        return 2.0 * (x - lo) / (hi - lo) - 1.0

    def _record(self, where: str, line: int, row: dict[str, str]) -> Record | None:
        taxonomy = self.fixed_taxonomy or row.get("taxonomy", "").strip() or USER_TAXONOMY
        raw_label = row.get("label", "")
        label = None
        if raw_label.strip() or not (row.get("valence", "").strip() or row.get("arousal", "").strip()):
            try:  # a ratings-only row (valence/arousal, no label) carries no label
                label = self._canonical(raw_label, taxonomy)
            except UnknownLabelError as exc:
                raise ValueError(f"unknown label: {exc}") from None
        split = row.get("split", "").strip() or None
        if split is not None:
            split = SPLIT_NAMES.get(split.lower(), split)
        modality = self.modality or row.get("modality", "").strip() or None
        _check_modality(modality)
        text = row.get("text", "").strip() or None
        rel = row.get("path", "").strip()
        path: str | None = None
        meta: dict[str, Any] = {"row": line}
        if rel:
            try:
                full = self.check_inside(Path(rel), self.base)
            except BadInputError as exc:
                raise ValueError(f"path escapes the CSV folder: {exc}") from None
            meta["file"] = rel
            if not full.is_file():
                if self.require_media:
                    raise ValueError(f"missing media: {rel} (resolved to {full})")
                if modality is None:
                    raise ValueError(f"missing media: {rel} is not there and no modality says what it is")
            else:
                kind = _kind_of(full)
                if kind is None:
                    raise ValueError(f"unknown file type: {rel} is not a known audio, image, video or text format")
                modality = modality or DEFAULT_MODALITY[kind]
                if modality not in KIND_MODALITIES[kind]:
                    raise ValueError(f"wrong file type: {rel} holds {kind} content, row says {modality}")
                if self.verify and not _decodes(self, full, kind):
                    return None
                if kind == "text" and text is None:
                    text = full.read_text("utf-8").strip()
            path = str(full)
        elif text is None:
            raise ValueError("malformed row: neither path nor text")
        else:
            modality = modality or "text"
        rid = row.get("id", "").strip() or (Path(rel).as_posix() if rel else f"row{line}")
        return Record(
            id=rid, modality=modality, source=self.name, path=None if modality == "text" and not rel else path, text=text,
            labels={taxonomy: label} if label is not None else {}, valence=self._va(row.get("valence", ""), "valence"),
            arousal=self._va(row.get("arousal", ""), "arousal"), split=split,
            group=row.get("group", "").strip() or None, meta=meta,
        )


def _not_utf8(path: Path) -> BadInputError:
    """The error for a CSV that is not UTF-8, naming the first offending line (no adapter can skip it)."""
    data = Path(path).read_bytes()
    try:
        data.decode("utf-8-sig")
        where = ""
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        where = f":{line}"
    return BadInputError(f"{path}{where}: not UTF-8 text (another encoding, e.g. Latin-1?); save the file as UTF-8 and retry")


__all__ = ["CSVSource", "FolderSource", "USER_TAXONOMY"]
