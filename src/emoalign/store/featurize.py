"""From records and files to featurised items: which encoders, which affect, which vectors.

A `Featurizer` says how an item becomes (semantic vector, affect):

* **semantic** — a joint backend of `emoalign.encode.joint` (``auto``, ``xmodal``, ``text-bridge``,
  ``clip-clap``, ``imagebind``: music and images in one space), or two separate encoders
  (``music_encoder``/``image_encoder``, e.g. ``music-acoustic`` + ``image-scene``; then only an
  adapter can compare them);
* **affect** — ``encoder`` (default: the music and image affect encoders, i.e. exactly what a query
  file gets at match time) or ``labels`` (the source's own labels and ratings: EMID's genre
  letter and V–A ratings, Mikels tags; items without any fall back to the encoder);
* **standardise** — z-score each modality's vectors with statistics of the training items before
  cosines (the hand-built ``xmodal`` axes need it; the statistics are saved so that queries and
  index items are transformed identically).

`featurize_records` turns records into `ItemSet`s through the feature store (resumable, cached);
`featurize_query` does the same for one file or bytes, without the store. The EMI-Adapter's
training data (`emoalign.learn.adapter_io`) and the retrieval index (`emoalign.retrieve`) both
build on it, so it lives here, below both.

>>> f = Featurizer(backend="xmodal")
>>> f.resolve([], []).music_encoder
'music-xmodal'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from emoalign.affect import category_from, get_taxonomy, list_taxonomies, map_distribution, probs_vector, va_to_distribution
from emoalign.encode.registry import DEFAULTS
from emoalign.errors import QueryError
from emoalign.store.items import ItemSet
from emoalign.types import IMAGE_MODALITIES, MUSIC_MODALITIES, Affect, Record

AFFECT_FROM = ("encoder", "labels")
#: The affect of each side comes from the offline default encoder of its modality (one place: the registry).
DEFAULT_MUSIC_AFFECT = DEFAULTS["music"]
DEFAULT_IMAGE_AFFECT = DEFAULTS["image"]


@dataclass
class Featurizer:
    """How items become vectors and affect (see the module docstring). ``resolve`` makes it concrete."""

    backend: str | None = "auto"
    music_encoder: str | None = None
    image_encoder: str | None = None
    music_affect_encoder: str = DEFAULT_MUSIC_AFFECT
    image_affect_encoder: str = DEFAULT_IMAGE_AFFECT
    affect: str = "encoder"
    standardise: bool | None = None

    def resolve(self, music: Sequence[Record], images: Sequence[Record]) -> "Resolved":
        """Pick the backend (``auto`` looks at the records, as ``pairs build`` does) and check the encoders."""
        from emoalign.encode.joint import choose_backend
        from emoalign.encode.registry import encoder_class

        if self.affect not in AFFECT_FROM:
            raise ValueError(f"affect must be one of {AFFECT_FROM}, got {self.affect!r}")
        if self.music_encoder or self.image_encoder:
            if not (self.music_encoder and self.image_encoder):
                raise ValueError("pass both music_encoder and image_encoder (or a backend)")
            backend, reason, standardise = None, "encoders chosen by the user", bool(self.standardise)
            m_enc, i_enc = self.music_encoder, self.image_encoder
        else:
            b, reason = choose_backend(self.backend or "auto", music, images)
            backend, m_enc, i_enc = b.name, b.music_encoder, b.image_encoder
            standardise = b.standardise if self.standardise is None else bool(self.standardise)
        spaces = {}
        for side, name in (("music", m_enc), ("image", i_enc)):
            cls = encoder_class(name)
            if getattr(cls, "space", None) is None:
                raise ValueError(f"encoder {name!r} makes no embeddings; choose one with a vector space")
            spaces[side] = cls.space
        for name in (self.music_affect_encoder, self.image_affect_encoder):
            if getattr(encoder_class(name), "taxonomy", None) is None:
                raise ValueError(f"encoder {name!r} gives no affect; choose an affect encoder")
        return Resolved(
            backend=backend, reason=reason, music_encoder=m_enc, image_encoder=i_enc,
            music_space=spaces["music"], image_space=spaces["image"],
            music_affect_encoder=self.music_affect_encoder, image_affect_encoder=self.image_affect_encoder,
            music_taxonomy=encoder_class(self.music_affect_encoder).taxonomy,
            image_taxonomy=encoder_class(self.image_affect_encoder).taxonomy,
            affect=self.affect, standardise=standardise,
        )


@dataclass
class Resolved:
    """A concrete featurizer, saved with adapters and indexes (``to_dict``/``from_dict``)."""

    backend: str | None
    reason: str
    music_encoder: str
    image_encoder: str
    music_space: str
    image_space: str
    music_affect_encoder: str
    image_affect_encoder: str
    music_taxonomy: str
    image_taxonomy: str
    affect: str = "encoder"
    standardise: bool = False
    stats: dict = field(default_factory=dict)  # side → {"mean": [...], "std": [...]}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Resolved":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    @property
    def joint(self) -> bool:
        return self.music_space == self.image_space

    def side(self, modality: str) -> str:
        if modality in MUSIC_MODALITIES:
            return "music"
        if modality in IMAGE_MODALITIES:
            return "image"
        raise QueryError(f"modality {modality!r} is neither music nor image")

    def encoders(self, side: str) -> tuple[str, str, str, str]:
        """(semantic encoder, space, affect encoder, taxonomy) of one side."""
        if side == "music":
            return self.music_encoder, self.music_space, self.music_affect_encoder, self.music_taxonomy
        return self.image_encoder, self.image_space, self.image_affect_encoder, self.image_taxonomy

    def semantic_input(self, side: str, records: Sequence[Record]) -> list[Record]:
        """What the semantic encoder reads (text records for the language bridge)."""
        if self.backend is None:
            return list(records)
        from emoalign.encode.joint import get_backend

        b = get_backend(self.backend)
        fn = b.music_input if side == "music" else b.image_input
        return [fn(r) for r in records]

    def fit_stats(self, side: str, vectors: np.ndarray) -> None:
        if self.standardise and len(vectors):
            sd = vectors.std(axis=0)
            self.stats[side] = {"mean": vectors.mean(axis=0).tolist(), "std": np.where(sd > 1e-12, sd, 1.0).tolist()}

    def apply_stats(self, side: str, vectors: np.ndarray) -> np.ndarray:
        if not self.standardise:
            return vectors
        if side not in self.stats:
            raise ValueError(f"standardisation statistics for {side} are missing (fit them on the training items first)")
        s = self.stats[side]
        return ((vectors - np.asarray(s["mean"], np.float32)) / np.asarray(s["std"], np.float32)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Affect
# ---------------------------------------------------------------------------------------------
def affect_from_labels(record: Record, taxonomy: str) -> Affect | None:
    """A record's own affect carried into ``taxonomy``: its label (mapped through the affect space)
    and its V–A ratings when present; None when it has neither."""
    tax = get_taxonomy(taxonomy)
    for name, label in sorted(record.labels.items(), key=lambda kv: kv[0] != taxonomy):
        if name in list_taxonomies() and label:
            try:
                probs = map_distribution({label: 1.0}, name, taxonomy)
            except KeyError:
                continue
            vec = probs_vector(probs, tax)
            v, a = vec @ tax.va
            if record.valence is not None and record.arousal is not None:
                v, a = float(record.valence), float(record.arousal)
            return Affect(tax.name, dict(zip(tax.names, vec.tolist())), float(v), float(a))
    if record.valence is not None and record.arousal is not None:
        probs = va_to_distribution(record.valence, record.arousal, tax)
        return Affect(tax.name, probs, float(record.valence), float(record.arousal))
    return None


def category_of(record: Record, affect: Affect, taxonomy: str) -> str:
    """The item's emotion category in ``taxonomy``: its own label, a label carried over, or the affect's."""

    return category_from(dict(record.labels), affect, (affect.valence, affect.arousal), taxonomy)


def _affect_arrays(affects: Sequence[Affect], taxonomy: str) -> tuple[np.ndarray, np.ndarray]:
    tax = get_taxonomy(taxonomy)
    probs = np.zeros((len(affects), len(tax)), np.float32)
    va = np.zeros((len(affects), 2), np.float32)
    for k, a in enumerate(affects):
        p = dict(a.probs) if a.taxonomy == tax.name else map_distribution(dict(a.probs), a.taxonomy, tax.name)
        probs[k] = probs_vector(p, tax)
        va[k] = (a.valence, a.arousal)
    return probs, va


# ---------------------------------------------------------------------------------------------
# Records → ItemSet
# ---------------------------------------------------------------------------------------------
def featurize_records(
    records: Sequence[Record],
    side: str,
    resolved: Resolved,
    features_dir: str | Path,
    *,
    workers: int | None = None,
    progress: bool = False,
) -> tuple[ItemSet, list[Record], list[str]]:
    """Embed one side's records through the feature store: (items, the records kept, problems).

    Vectors are returned *raw* (before standardisation); `standardise_items` applies it.
    """
    from emoalign.store import FeatureTable, extract

    problems: list[str] = []
    sem_enc, space, aff_enc, taxonomy = resolved.encoders(side)
    ns = [replace(r, id=f"{side}:{r.id}") for r in records]
    sem_in = resolved.semantic_input(side, ns)
    extract(sem_in, sem_enc, features_dir, workers=workers, progress=progress)
    table = FeatureTable(features_dir)
    have = set(table.ids(sem_enc)) if table.shards(sem_enc) else set()
    affects: dict[str, Affect] = {}
    need_encoder = []
    for r in ns:
        a = affect_from_labels(r, taxonomy) if resolved.affect == "labels" else None
        if a is None:
            need_encoder.append(r)
        else:
            affects[r.id] = a
    if need_encoder:
        if aff_enc != sem_enc or resolved.backend == "text-bridge":
            extract(need_encoder, aff_enc, features_dir, workers=workers, progress=progress)
        aff_have = set(table.ids(aff_enc)) if table.shards(aff_enc) else set()
        got = [r for r in need_encoder if r.id in aff_have]
        for r, a in zip(got, table.affects([r.id for r in got], encoder=aff_enc) if got else []):
            if a is not None:
                affects[r.id] = a
    kept = [r for r in ns if r.id in have and r.id in affects]
    for r in ns:
        if r.id not in have:
            problems.append(f"{side} {r.id[len(side) + 1:]}: no semantic vector from {sem_enc} (see the feature store's quarantine)")
        elif r.id not in affects:
            problems.append(f"{side} {r.id[len(side) + 1:]}: no affect from {aff_enc} (see the feature store's quarantine)")
    originals = {f"{side}:{r.id}": r for r in records}
    kept_records = [originals[r.id] for r in kept]
    if kept:
        emb = table.vectors([r.id for r in kept], encoder=sem_enc)
        vectors = emb.vectors
    else:
        vectors = np.zeros((0, 1), np.float32)
    affs = [affects[r.id] for r in kept]
    probs, va = _affect_arrays(affs, taxonomy)
    items = ItemSet(
        tuple(r.id for r in kept_records), vectors, space, get_taxonomy(taxonomy).name, probs, va,
        tuple(category_of(r, a, taxonomy) for r, a in zip(kept_records, affs)),
        [{"path": r.path, "source": r.source, "modality": r.modality} for r in kept_records],
    )
    return items, kept_records, problems


def standardise_items(items: ItemSet, side: str, resolved: Resolved) -> ItemSet:
    """The items with the featurizer's standardisation applied (a no-op without it)."""
    if not resolved.standardise:
        return items
    return replace(items, vectors=resolved.apply_stats(side, items.vectors))


def featurize_query(data: bytes | str | Path, resolved: Resolved, *, name: str | None = None) -> tuple[str, ItemSet, Affect]:
    """(side, one-item `ItemSet` (standardised), affect) for a query file or its bytes.

    The modality is sniffed from the content; raises `QueryError` for anything that is not an
    image or audio, or that fails to decode.
    """
    from emoalign.encode.registry import get_encoder
    from emoalign.media.decode import sniff_kind

    if isinstance(data, (str, Path)):
        path = Path(data)
        name = name or str(path)
        try:
            payload = path.read_bytes()
        except OSError as exc:
            raise QueryError(f"{path}: cannot read ({exc.strerror or exc})") from None
    else:
        payload = bytes(data)
        name = name or f"<{len(payload)} bytes>"
    if not payload:
        raise QueryError(f"{name}: empty file")
    kind = sniff_kind(payload[:64])
    if kind == "audio":
        side, modality = "music", "music"
    elif kind == "image":
        side, modality = "image", "image"
    elif kind == "video":
        raise QueryError(f"{name}: a video; match takes an image (to find music) or an audio clip (to find images)")
    else:
        raise QueryError(f"{name}: not a recognised image or audio file (cannot decode it)")
    record = Record(id=Path(name).name, modality=modality, source="query", payload=payload)
    sem_enc, space, aff_enc, taxonomy = resolved.encoders(side)
    sem_rec = resolved.semantic_input(side, [record])[0]
    if sem_rec.modality == "text" and (sem_rec.meta or {}).get("text_origin") == "filename":
        raise QueryError(
            f"{name}: this index's semantic space ({resolved.backend}) embeds the items' descriptions, and a query file has "
            "none (only its file name); build the index with a media backend (--backend xmodal, clip-clap or imagebind)"
        )
    sem = get_encoder(sem_enc)
    sem_input = sem_rec.text if sem_rec.modality == "text" else payload
    res = sem.encode([sem_input])[0]
    if res.error or res.vector is None:
        raise QueryError(f"{name}: cannot decode it as {modality} ({res.error or 'no vector'})")
    if aff_enc == sem_enc and sem_rec.modality != "text":
        aff = res
    else:
        aff = get_encoder(aff_enc).encode([payload])[0]
    if aff.error or aff.affect is None:
        raise QueryError(f"{name}: cannot decode it as {modality} ({aff.error or 'no affect'})")
    probs, va = _affect_arrays([aff.affect], taxonomy)
    vec = resolved.apply_stats(side, np.asarray(res.vector, np.float32)[None, :])
    tax = get_taxonomy(taxonomy)
    items = ItemSet((record.id,), vec, space, tax.name, probs, va, (tax.names[int(probs[0].argmax())],))
    return side, items, aff.affect
