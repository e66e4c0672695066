"""Semantic backends for pairing: a music encoder and an image encoder that share one vector space.

EMID's semantic score needs music and images in *one* space (the paper: ImageBind). Each backend
names the two registered encoders (so vectors go through the feature store and are computed once),
how a record becomes that encoder's input, and how the two collections' vectors are prepared
before cosines. Both encoders report the same space id; `prepare_pair_vectors` refuses anything
else (`Embeddings.check_comparable`).

=============  ===========================================  ==========================================
backend        music side / image side                      what it is
=============  ===========================================  ==========================================
content        ``music-content`` / ``image-content``        offline. A content bridge for raw media:
               (space ``usem3``)                            each item described in words — a picture
                                                            by its top ImageNet classes, a clip by its
                                                            top tags (MSD tags of ``music-musicnn``,
                                                            or words for the acoustic cues) — the
                                                            words' USE vectors averaged; each
                                                            collection mean-centred. See
                                                            `emoalign.encode.joint_content`.
text-bridge    text of the clip / text of the image, both   offline. A language bridge: the two media
               through ``text-use`` (multilingual USE,      never meet, their *descriptions* do. On
               space ``usem3``)                             EMID: image captions (GIT) vs the clip's
                                                            ``feeling`` words — which are emotion
                                                            words, so S is not free of affect there.
                                                            Items without text fall back to their file
                                                            name (counted and reported).
xmodal         ``music-xmodal`` / ``image-xmodal``          offline. Five hand-built perceptual
               (space ``xmodal-v1``)                        correspondence axes (pitch ↔ lightness,
                                                            speed ↔ colourfulness, …); see
                                                            `emoalign.encode.joint_xmodal`. Works on
                                                            any media, knows no semantics.
clip-clap      ``music-clap-prompts-hub`` /                 hub. CLAP scores the clip and CLIP the
               ``image-clip-prompts-hub``                   image against one shared prompt list; each
                                                            item becomes √(softmax over prompts), so
                                                            both land in one "prompt-profile" space
                                                            (cosine = Bhattacharyya coefficient).
imagebind      ``music-imagebind-hub`` /                    hub, as in the paper. Needs the
               ``image-imagebind-hub``                      ``imagebind`` package and a checkpoint
                                                            (see `emoalign.encode.joint_imagebind`).
=============  ===========================================  ==========================================

``auto`` (the CLI default) picks ``text-bridge`` when every record on both sides carries text of
its own (not just a file name); for raw media ``pairs build`` picks ``content`` (what the pictures
show and how the music sounds, in words) — or ``xmodal`` when the content encoders cannot be
imported here. The choice and its reason are written to the pairs summary. File names are never
read as content.

>>> backend = get_backend("xmodal")
>>> backend.music_encoder, backend.image_encoder, backend.space
('music-xmodal', 'image-xmodal', 'xmodal-v1')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from emoalign.numeric import unit_rows as _unit
from emoalign.types import Embeddings, Record


def record_text(record: Record) -> tuple[str, str]:
    """(text, origin) describing a record for the language bridge.

    Origins, in order of preference: ``text`` (the record's own text: EMID image captions),
    ``feeling`` (EMID clips: their listeners' feeling categories, by share), ``captions``,
    ``description``/``title``/``tags`` from the record's metadata, and ``filename`` (the file
    stem, separators → spaces) as the last resort.

    >>> record_text(Record(id="x", modality="music", source="s", meta={"feeling": {"Sad, depressing": 0.33, "Dreamy": 0.5}}))
    ('dreamy; sad, depressing', 'feeling')
    >>> record_text(Record(id="rainy_day-piano.mp3", modality="music", source="s"))
    ('rainy day piano', 'filename')
    """
    if record.text and record.text.strip():
        return record.text.strip(), "text"
    meta = record.meta or {}
    feeling = meta.get("feeling")
    if isinstance(feeling, dict) and feeling:
        ranked = sorted(feeling.items(), key=lambda kv: (-float(kv[1]), kv[0]))
        return "; ".join(name.lower() for name, _ in ranked[:3]), "feeling"
    captions = meta.get("captions")
    if isinstance(captions, (list, tuple)) and captions:
        return " ".join(str(c) for c in captions), "captions"
    for key in ("description", "title", "tags"):
        value = meta.get(key)
        if isinstance(value, (list, tuple)) and value:
            return ", ".join(str(v) for v in value), key
        if isinstance(value, str) and value.strip():
            return value.strip(), key
    stem = Path(record.path or record.id).name
    stem = re.sub(r"\.[A-Za-z0-9]{2,4}$", "", stem)
    return re.sub(r"[\s_.\-]+", " ", stem).strip() or record.id, "filename"


def _as_text_record(record: Record) -> Record:
    text, origin = record_text(record)
    return Record(id=record.id, modality="text", source=record.source, text=text, meta={"text_origin": origin})


def _identity(record: Record) -> Record:
    return record


@dataclass(frozen=True)
class SemanticBackend:
    """One way to put music and images in a shared space (see the module table)."""

    name: str
    music_encoder: str
    image_encoder: str
    description: str
    hub: bool = False
    #: per-collection z-scoring of every axis before cosines (hand-built axes need it)
    standardise: bool = False
    #: per-collection mean-centring before cosines (descriptions of one modality share a direction)
    centre: bool = False
    music_input: Callable[[Record], Record] = field(default=_identity, repr=False)
    image_input: Callable[[Record], Record] = field(default=_identity, repr=False)

    @property
    def space(self) -> str:
        from emoalign.encode.registry import encoder_class

        spaces = {getattr(encoder_class(n), "space", None) for n in (self.music_encoder, self.image_encoder)}
        if len(spaces) != 1 or None in spaces:
            raise ValueError(f"backend {self.name!r}: encoders {self.music_encoder}, {self.image_encoder} do not share a space ({spaces})")
        return spaces.pop()


BACKENDS: dict[str, SemanticBackend] = {
    "content": SemanticBackend(
        "content", "music-content", "image-content",
        "offline content bridge: top ImageNet classes of each picture and top tags of each clip, in words, "
        "embedded with the multilingual USE (each collection mean-centred)",
        centre=True,
    ),
    "text-bridge": SemanticBackend(
        "text-bridge", "text-use", "text-use",
        "offline language bridge: both sides' text embedded with the multilingual USE",
        music_input=_as_text_record, image_input=_as_text_record,
    ),
    "xmodal": SemanticBackend(
        "xmodal", "music-xmodal", "image-xmodal",
        "offline cross-modal correspondence axes (pitch↔lightness, speed↔colourfulness, …)",
        standardise=True,
    ),
    "clip-clap": SemanticBackend(
        "clip-clap", "music-clap-prompts-hub", "image-clip-prompts-hub",
        "hub: CLAP (audio) and CLIP (image) profiles over one shared prompt list", hub=True,
    ),
    "imagebind": SemanticBackend(
        "imagebind", "music-imagebind-hub", "image-imagebind-hub",
        "hub: ImageBind audio and vision embeddings (the paper's space)", hub=True,
    ),
}
CHOICES: tuple[str, ...] = ("auto", *BACKENDS)


def get_backend(name: str) -> SemanticBackend:
    if name not in BACKENDS:
        raise ValueError(f"unknown semantic backend {name!r}; choose one of {', '.join(CHOICES)}")
    return BACKENDS[name]


def choose_backend(name: str, music: Iterable[Record], images: Iterable[Record], *,
                   media: str = "xmodal") -> tuple[SemanticBackend, str]:
    """Resolve ``auto``: (backend, reason).

    Records that all carry text of their own → ``text-bridge``; otherwise the raw-media backend
    ``media``: ``pairs build`` passes ``content`` (and falls back to ``xmodal`` when the content
    encoders cannot be imported here); the adapter/index featurizer keeps ``xmodal``, whose
    per-collection statistics it saves with the index.
    """
    if name != "auto":
        return get_backend(name), "chosen by the user"
    origins = [record_text(r)[1] for r in [*music, *images]]
    if origins and all(o != "filename" for o in origins):
        return BACKENDS["text-bridge"], "every record has text of its own (captions, feelings, descriptions)"
    n = sum(o == "filename" for o in origins)
    why = f"{n} of {len(origins)} records have no text but their file name"
    if media == "content":
        from emoalign.encode.registry import available_encoders

        reasons = available_encoders()
        missing = [f"{e}: {reasons[e]}" for e in ("music-content", "image-content") if reasons.get(e)]
        if not missing:
            return BACKENDS["content"], f"{why}: media described in words (content bridge)"
        return BACKENDS["xmodal"], f"{why}, and the content bridge cannot load here ({missing[0]})"
    return get_backend(media), why


def prepare_pair_vectors(music: Embeddings, images: Embeddings, *, standardise: bool = False,
                         centre: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors ready for cosines: checks the spaces, optionally z-scores or mean-centres each collection.

    >>> a = Embeddings(np.array([[3.0, 4.0]]), "m", "s"); b = Embeddings(np.array([[1.0, 0.0]]), "i", "s")
    >>> X, Y = prepare_pair_vectors(a, b); (X @ Y.T).item()
    0.6000000238418579
    """
    music.check_comparable(images)
    X = np.asarray(music.vectors, dtype=np.float64)
    Y = np.asarray(images.vectors, dtype=np.float64)
    if standardise:
        X, Y = _zscore(X), _zscore(Y)
    elif centre:
        X, Y = _centre(X), _centre(Y)
    return _unit(X).astype(np.float32), _unit(Y).astype(np.float32)


def _centre(a: np.ndarray) -> np.ndarray:
    """Minus the collection's mean (a single item is left as it is: its mean is itself)."""
    return a - a.mean(axis=0, keepdims=True) if a.shape[0] > 1 else a


def _zscore(a: np.ndarray) -> np.ndarray:
    if a.shape[0] < 2:
        return a - a.mean(axis=0, keepdims=True) if a.shape[0] else a
    sd = a.std(axis=0, keepdims=True)
    return (a - a.mean(axis=0, keepdims=True)) / np.where(sd > 1e-12, sd, 1.0)


def input_records(backend: SemanticBackend, music: Sequence[Record], images: Sequence[Record]) -> tuple[list[Record], list[Record]]:
    """The records each side's encoder reads (text records for the language bridge)."""
    return [backend.music_input(r) for r in music], [backend.image_input(r) for r in images]
