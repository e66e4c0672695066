"""The three small types every layer shares: `Record`, `Affect` and `Embeddings`.

They are deliberately plain (frozen dataclasses of built-ins and numpy arrays) so that
adapters, encoders, stores and the service can pass them around without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Union

import numpy as np

Modality = Literal["audio", "music", "speech", "image", "face", "text", "video"]
MODALITIES: tuple[str, ...] = ("audio", "music", "speech", "image", "face", "text", "video")
#: The modalities on each side of a music–image pair.
MUSIC_MODALITIES: tuple[str, ...] = ("music", "audio")
IMAGE_MODALITIES: tuple[str, ...] = ("image", "face")
#: The modalities whose media is a sound file (decoded with `emoalign.media.load_audio`).
AUDIO_MODALITIES: tuple[str, ...] = ("audio", "music", "speech")

#: What encoders take: a path, raw bytes of a media file, or (text encoders) a string of text.
Input = Union[str, Path, bytes]


@dataclass(frozen=True)
class Record:
    """One item of a data source: a media file (or in-memory bytes) or a text, with its labels.

    ``labels`` maps a taxonomy name to the item's single label in it (``{"mikels8": "awe"}``);
    ``scores`` holds graded or multi-label targets (``{"emonet40": {"Anger": 0.5, ...}}``).
    ``valence``/``arousal`` are on the project scale [-1, 1] (see ``emoalign.affect``).

    >>> r = Record(id="a", modality="text", source="demo", text="hi", labels={"goemotions28": "joy"})
    >>> r.label("goemotions28")
    'joy'
    """

    id: str
    modality: str
    source: str
    path: str | None = None
    text: str | None = None
    payload: bytes | None = field(default=None, repr=False)
    labels: Mapping[str, str] = field(default_factory=dict)
    scores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    valence: float | None = None
    arousal: float | None = None
    split: str | None = None
    group: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"record {self.id!r}: unknown modality {self.modality!r}; expected one of {MODALITIES}")

    def label(self, taxonomy: str) -> str | None:
        return self.labels.get(taxonomy)


@dataclass(frozen=True)
class Pair:
    """A music clip and an image with how they were matched (EMID rows, built pairs, matching sets).

    ``same`` is the yes/no target of matching sets (None where a source has no such target);
    ``components`` keeps every part of a score (``{"S": .., "E": .., "T": ..}``).
    """

    music_id: str
    image_id: str
    source: str
    rank: int | None = None
    same: bool | None = None
    emotion: str = ""
    question: str = ""
    answer: str = ""
    split: str | None = None
    components: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Affect:
    """Where one input lands in the affect space: a distribution over a taxonomy and a V–A point.

    >>> a = Affect("mikels8", {"awe": 0.7, "fear": 0.3}, valence=0.4, arousal=0.2)
    >>> a.top()
    ('awe', 0.7)
    """

    taxonomy: str
    probs: Mapping[str, float]
    valence: float
    arousal: float
    dominance: float | None = None

    def top(self) -> tuple[str, float]:
        label = max(self.probs, key=self.probs.__getitem__)
        return label, float(self.probs[label])

    def to_dict(self) -> dict[str, Any]:
        label, confidence = self.top()
        return {
            "taxonomy": self.taxonomy,
            "label": label,
            "confidence": confidence,
            "probs": {k: float(v) for k, v in self.probs.items()},
            "valence": float(self.valence),
            "arousal": float(self.arousal),
            "dominance": None if self.dominance is None else float(self.dominance),
        }


@dataclass(frozen=True)
class Embeddings:
    """A batch of vectors from one model in one vector space.

    Two batches are comparable only when their ``space`` ids match; `check_comparable` enforces it.
    """

    vectors: np.ndarray
    model: str
    space: str
    ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2:
            raise ValueError(f"embeddings from {self.model!r} must be 2-D (n, d), got shape {self.vectors.shape}")
        if self.ids and len(self.ids) != self.vectors.shape[0]:
            raise ValueError(f"{len(self.ids)} ids for {self.vectors.shape[0]} vectors from {self.model!r}")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def check_comparable(self, other: "Embeddings") -> None:
        if self.space != other.space:
            raise ValueError(
                f"cannot compare vectors from space {self.space!r} ({self.model}) "
                f"with vectors from space {other.space!r} ({other.model})"
            )


def describe_input(item: Input) -> str:
    """A short name for an input in error messages."""
    if isinstance(item, bytes):
        return f"<{len(item)} bytes>"
    text = str(item)
    return text if len(text) <= 80 else text[:77] + "..."
