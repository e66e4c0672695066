"""The Python API: the main jobs in a few calls, the way `librosa.load`, `datasets.load_dataset`
and scikit-learn estimators read.

>>> import emoalign
>>> result = emoalign.analyze(emoalign.Text("What a wonderful day!"))
>>> result.modality, result.ok, -1.0 <= result.valence <= 1.0
('text', True, True)

Inputs are explicit, never guessed from a string: a path (``str`` or `pathlib.Path`) is always a
file; `bytes` are a file's contents; `Audio` is a waveform with its sampling rate; `Image` is a
pixel array; `Text` is text. Every error emoalign raises on purpose derives from
`emoalign.EmoalignError`.

- `analyze` — the emotion of files, waveforms, pictures and texts (`Analysis` per input);
- `load_source` — a data set's adapter (``.records(split)``, ``.to_dataset()``);
- `get_encoder` — a model in a configuration (its identity in the feature store);
- `build_pairs`, `build_matching` — EMID-style pairs and the yes/no matching set, on disk;
- `Index` — the retrieval index: build, open, ``match``.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, Union

import numpy as np

from emoalign.data.base import Source
from emoalign.data.spec import SourceSpec, parse_source_spec
from emoalign.encode.registry import get_encoder
from emoalign.errors import EmoalignError
from emoalign.progress import progress_enabled
from emoalign.types import Affect, Record, describe_input


# -- explicit inputs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Audio:
    """A waveform in memory: ``samples`` (n,) mono or (n, channels), float in [-1, 1] or int16,
    at ``sr`` samples per second.

    >>> Audio(np.zeros(16000, np.float32), sr=16000).duration
    1.0
    """

    samples: np.ndarray
    sr: int
    name: str = "<audio>"

    def __post_init__(self) -> None:
        a = np.asarray(self.samples)
        if a.ndim not in (1, 2) or a.size == 0:
            raise EmoalignError(f"{self.name}: Audio samples must be a non-empty 1-D or 2-D array, got shape {a.shape}")
        if int(self.sr) <= 0:
            raise EmoalignError(f"{self.name}: sampling rate must be positive, got {self.sr}")

    @property
    def duration(self) -> float:
        return float(np.asarray(self.samples).shape[0] / self.sr)

    def to_bytes(self) -> bytes:
        """The waveform as a lossless WAV file (32-bit float), which every audio encoder reads."""
        import soundfile as sf

        buf = io.BytesIO()
        a = np.asarray(self.samples)
        sf.write(buf, a.astype(np.float32) if a.dtype.kind == "f" else a, int(self.sr), format="WAV",
                 subtype="FLOAT" if a.dtype.kind == "f" else "PCM_16")
        return buf.getvalue()


@dataclass(frozen=True)
class Image:
    """A picture in memory: ``pixels`` (h, w) grey or (h, w, 3|4) RGB(A), uint8 (or float in [0, 1])."""

    pixels: np.ndarray
    name: str = "<image>"

    def __post_init__(self) -> None:
        a = np.asarray(self.pixels)
        if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or 0 in a.shape:
            raise EmoalignError(f"{self.name}: Image pixels must be (h, w), (h, w, 3) or (h, w, 4), got shape {a.shape}")

    def to_bytes(self) -> bytes:
        """The picture as a lossless PNG file."""
        from PIL import Image as PILImage

        a = np.asarray(self.pixels)
        if a.dtype.kind == "f":
            a = np.clip(np.round(a * 255.0), 0, 255)
        buf = io.BytesIO()
        PILImage.fromarray(a.astype(np.uint8)).save(buf, format="PNG")
        return buf.getvalue()


@dataclass(frozen=True)
class Text:
    """A text to analyse (any language the text model reads)."""

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise EmoalignError(f"Text takes a str, got {type(self.text).__name__}")


AnyInput = Union[str, os.PathLike, bytes, Audio, Image, Text]


# -- analysis ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Analysis:
    """Where one input lands in the affect space, with what it is based on.

    ``affect`` is None when the input failed; ``error`` then says why (naming the input).
    ``details`` holds modality-specific extras (face boxes, segments, top classes, tags, …).
    """

    input: str
    modality: str | None
    encoder: str | None
    affect: Affect | None
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.affect is not None

    @property
    def label(self) -> str | None:
        return self.affect.top()[0] if self.affect else None

    @property
    def valence(self) -> float | None:
        return float(self.affect.valence) if self.affect else None

    @property
    def arousal(self) -> float | None:
        return float(self.affect.arousal) if self.affect else None

    def __repr__(self) -> str:
        if not self.ok:
            return f"Analysis(input={self.input!r}, error={self.error!r})"
        return (f"Analysis(input={self.input!r}, modality={self.modality!r}, encoder={self.encoder!r}, "
                f"label={self.label!r}, valence={self.valence:.3f}, arousal={self.arousal:.3f})")

    def to_dict(self) -> dict[str, Any]:
        """The same fields as ``emoalign analyze --json`` prints."""
        row: dict[str, Any] = {"input": self.input, "modality": self.modality, "encoder": self.encoder}
        if self.affect is not None:
            row.update(self.affect.to_dict())
        else:
            row.update(dict.fromkeys(("taxonomy", "label", "confidence", "probs", "valence", "arousal"), None))
        row["error"] = self.error
        row["details"] = dict(self.details)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Analysis":
        affect = None
        if row.get("probs") is not None and row.get("error") is None:
            affect = Affect(row["taxonomy"], dict(row["probs"]), float(row["valence"]), float(row["arousal"]), row.get("dominance"))
        return cls(str(row["input"]), row.get("modality"), row.get("encoder"), affect, row.get("error"), row.get("details") or {})


def analyze(
    inputs: AnyInput | Sequence[AnyInput],
    *,
    modality: str = "auto",
    encoder: str | None = None,
    **options: Any,
) -> Analysis | list[Analysis]:
    """The emotion of one input or a batch (then a list, in input order).

    ``modality`` forces one (``speech``, ``music``, ``image``, ``face``, ``video``); ``auto``
    reads each file's content. ``encoder`` forces a registered encoder. Further ``options`` go to
    the analysis step (see `emoalign.encode.analyze.analyze`). A failing input gets ``error`` set;
    the others go on.

    Speech adapted to the speaker: ``speaker_norm="folder"`` (files in one folder are one
    speaker), ``speakers="speakers.csv"`` (columns path, speaker) or ``speaker_ids=[...]`` (one
    per input, None for unknown; works for bytes and `Audio` too). Each speaker's clips are
    normalised with that speaker's statistics in this call; ``details["speaker_norm"]`` says
    whether it was applied. Texts in a dialogue: `analyze_dialogue`.

    >>> import emoalign, numpy as np
    >>> t = np.arange(32000) / 16000
    >>> clip = emoalign.Audio(0.3 * np.sin(2 * np.pi * 440 * t) * (t % 0.5 < 0.25), sr=16000)
    >>> [r.modality is not None for r in emoalign.analyze([clip, emoalign.Text("so sad")])]
    [True, True]
    """
    from emoalign.encode.analyze import analyze as analyze_rows

    single = not isinstance(inputs, (list, tuple)) and not hasattr(inputs, "__next__")
    items = [inputs] if single else list(inputs)
    files: list[str | Path | bytes] = []
    file_names: list[str] = []
    texts: list[str] = []
    order: list[tuple[str, int]] = []  # ("file" | "text", position in its list)
    for item in items:
        if isinstance(item, Text):
            order.append(("text", len(texts)))
            texts.append(item.text)
            continue
        if isinstance(item, (Audio, Image)):
            data, name = item.to_bytes(), item.name
        elif isinstance(item, bytes):
            data, name = item, describe_input(item)
        elif isinstance(item, (str, os.PathLike)):
            data, name = Path(item), str(item)
        else:
            raise EmoalignError(
                f"cannot analyse a {type(item).__name__}: pass a path, bytes, emoalign.Audio(samples, sr), "
                "emoalign.Image(pixels) or emoalign.Text(text)"
            )
        order.append(("file", len(files)))
        files.append(data)
        file_names.append(name)
    rows = analyze_rows(files, texts, modality=modality, backend=encoder, names=file_names, **options)
    file_rows, text_rows = rows[: len(files)], rows[len(files):]
    out = [Analysis.from_row(file_rows[i] if kind == "file" else text_rows[i]) for kind, i in order]
    return out[0] if single else out


def analyze_dialogue(
    turns: str | os.PathLike | Sequence[Any],
    *,
    context: str = "preceding",
    encoder: str | None = None,
) -> list[Analysis]:
    """The emotion of every turn of one or more dialogues, each read with its context, in turn order.

    ``turns``: a dialogue CSV (columns ``dialogue``, ``speaker``, ``text``, optional ``id``; rows
    in the order spoken) or a sequence of `emoalign.data.dialogue_csv.DialogueTurn` / dicts with
    those keys. ``context``: ``"preceding"`` (the speaker's earlier turns; never looks ahead),
    ``"dialogue"`` (all of the speaker's other turns) or ``"none"``. Each result's ``details``
    carry the turn's ``id``, ``dialogue`` and ``speaker``. Same engine as
    ``emoalign analyze --dialogue FILE.csv``.

    >>> import emoalign
    >>> rows = emoalign.analyze_dialogue([{"dialogue": "d1", "speaker": "A", "text": "你怎么又迟到了？"},
    ...                                   {"dialogue": "d1", "speaker": "B", "text": "路上堵车嘛。"}])
    >>> [(r.details["id"], r.modality) for r in rows]
    [('d1:1', 'text'), ('d1:2', 'text')]
    """
    from emoalign.data.dialogue_csv import DialogueTurn, parse_dialogue_rows, read_dialogue_csv
    from emoalign.encode.dialogue import analyze_dialogue as analyze_turns

    if isinstance(turns, (str, os.PathLike)):
        parsed = read_dialogue_csv(turns)
    else:
        items = list(turns)
        if all(isinstance(t, DialogueTurn) for t in items) and items:
            parsed = items
        else:
            if not all(isinstance(t, Mapping) for t in items):
                raise EmoalignError("analyze_dialogue takes a CSV path, DialogueTurn objects or dicts with "
                                    "dialogue, speaker, text (and optional id)")
            parsed = parse_dialogue_rows(items, sorted({k for t in items for k in t}), where="turns")
    rows = analyze_turns(parsed, context, backend=encoder)
    out = []
    for row in rows:
        a = Analysis.from_row(row)
        out.append(Analysis(a.input, a.modality, a.encoder, a.affect, a.error,
                            {**a.details, "id": row["id"], "dialogue": row["dialogue"], "speaker": row["speaker"]}))
    return out


# -- data ----------------------------------------------------------------------------------------
def load_source(name: str, path: str | os.PathLike | None = None, **options: Any) -> Source:
    """Open a data set: ``load_source("emotiontalk", "/data/ET", modality="speech")`` or the one
    source string every command takes, ``load_source("emotiontalk:/data/ET?modality=speech")``.

    The adapter yields `Record`s with ``.records(split)`` and converts to a Hugging Face
    `datasets.Dataset` with ``.to_dataset(split)``.

    >>> import emoalign, tempfile
    >>> from emoalign.data.fixtures import ravdess
    >>> folder = ravdess.make(tempfile.mkdtemp())["ravdess"]
    >>> src = emoalign.load_source("ravdess", folder)
    >>> sorted({r.modality for r in src.records()})
    ['speech']
    """
    spec = parse_source_spec(name, **options) if path is None else SourceSpec(name, Path(path), dict(options))
    if spec.split is not None:
        raise EmoalignError(f"{name}: a split is chosen when reading: load_source(...).records({spec.split!r})")
    return spec.open()


# -- pairs and matching sets ---------------------------------------------------------------------
def _records_of(source: str | Source | Iterable[Record], sides: str) -> tuple[list[Record], dict]:
    from emoalign.data.base import split_music_images

    if isinstance(source, str):
        spec = parse_source_spec(source)
        src = spec.open()
        records = list(src.records(spec.split))
        report = src.report.to_dict()
    elif isinstance(source, Source):
        records, report = list(source.records()), source.report.to_dict()
    else:
        records, report = list(source), {}
    music, images = split_music_images(records)
    return (music if sides == "music" else images), report


def build_pairs(
    music: str | Source | Iterable[Record],
    images: str | Source | Iterable[Record],
    out: str | os.PathLike,
    *,
    progress: bool | None = None,
    overwrite: bool = False,
    **config: Any,
) -> dict:
    """Pair every clip with its best images by T = αS + (1−α)E and write the pairs folder ``out``.

    ``music`` and ``images`` are source strings (``"folder:/music"``), open sources or records;
    ``config`` sets `emoalign.pair.build.PairsConfig` fields (``alpha=0.6``, ``keep=3``, …).
    Returns the run's summary (also in ``out/summary.json``); ``load_source("pairs", out)``
    reads the pairs back. A folder holding a finished run is replaced only with ``overwrite``.
    """
    from emoalign.pair.build import PairsConfig
    from emoalign.pair.build import build_pairs as _build

    music_records, music_report = _records_of(music, "music")
    image_records, image_report = _records_of(images, "images")
    sources = {"music": str(music) if isinstance(music, str) else type(music).__name__,
               "images": str(images) if isinstance(images, str) else type(images).__name__,
               "music_report": music_report, "images_report": image_report}
    return _build(music_records, image_records, out, PairsConfig(**config), sources=sources, progress=progress_enabled(progress),
                  overwrite=overwrite)


def build_matching(source: str | Source, out: str | os.PathLike, *, hf: bool = True, jsonl: bool = True,
                   progress: bool | None = None, overwrite: bool = False, **config: Any) -> dict:
    """Derive the EMID-Emotion-Matching yes/no set from a paired source (``"pairs:out/pairs"``,
    ``"emid:/data/EMID"``, …) and export it (HF `datasets` folder ``out/hf``, chat JSONL ``out/jsonl``).
    ``config`` sets `emoalign.pair.matching.MatchingConfig` fields. Returns the summary. A folder
    holding a finished run is replaced only with ``overwrite``."""
    from emoalign.pair.matching import MatchingConfig
    from emoalign.pair.matching_build import build_matching_dir

    src = parse_source_spec(source).open() if isinstance(source, str) else source
    return build_matching_dir(src, out, MatchingConfig(**config), hf=hf, jsonl=jsonl, progress=progress_enabled(progress),
                              overwrite=overwrite)


# -- retrieval -----------------------------------------------------------------------------------
class Index:
    """A retrieval index of music and images with their emotion: find music for a picture, or
    pictures for a clip.

    >>> idx = Index.build("emid:/data/EMID", "out/index")  # doctest: +SKIP
    >>> [(h.id, h.reason) for h in idx.match("photo.jpg", top=3).hits]  # doctest: +SKIP
    """

    def __init__(self, folder: str | os.PathLike, *, mmap: bool = False) -> None:
        from emoalign.retrieve.match import Matcher

        self.folder = Path(folder)
        self._matcher = Matcher(self.folder, mmap=mmap)

    @classmethod
    def build(cls, source: str | None, out: str | os.PathLike, *, files: Sequence[str | os.PathLike] = (),
              backend: str | None = None, overwrite: bool = False, progress: bool | None = None, **options: Any) -> "Index":
        """Embed a source's (and/or loose files') music and images and write the index ``out``.

        ``backend`` picks the joint space (``auto``, ``xmodal``, ``text-bridge``, …; see
        `emoalign.store.featurize.Featurizer`); other ``options`` go to `emoalign.retrieve.build_index`
        (``adapter=``, ``featurizer=``, ``workers=``…)."""
        from emoalign.retrieve.build import build_index
        from emoalign.store.featurize import Featurizer

        if backend is not None:
            options["featurizer"] = Featurizer(backend=backend)
        build_index(source, out, files=files, overwrite=overwrite, progress=progress_enabled(progress), **options)
        return cls(out)

    def match(self, query: str | os.PathLike | bytes | Audio | Image, top: int = 10, alpha: float | None = None,
              emotion: str | None = None, **options: Any):
        """The ``top`` items of the other modality for ``query`` (a file path, bytes, `Audio` or `Image`),
        each with its score parts and a reason (`emoalign.retrieve.MatchResult`)."""
        from emoalign.retrieve.match import match

        data = query.to_bytes() if isinstance(query, (Audio, Image)) else query
        name = query.name if isinstance(query, (Audio, Image)) else None
        return match(data, self._matcher, top=top, alpha=alpha, emotion=emotion, name=name, **options)

    def add(self, source: str | None = None, *, files: Sequence[str | os.PathLike] = (), **options: Any) -> dict:
        """Embed new items like the index's own and add them; returns a summary."""
        from emoalign.retrieve.build import add_to_index

        summary = add_to_index(self.folder, source=source, files=files, **options)
        self.__init__(self.folder)
        return summary

    def __len__(self) -> int:
        return len(self._matcher.index)

    def __repr__(self) -> str:
        return f"Index({str(self.folder)!r}, items={len(self)})"


__all__ = [
    "Analysis", "Audio", "Image", "Index", "Text", "analyze", "build_matching", "build_pairs", "get_encoder", "load_source",
]
