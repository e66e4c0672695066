"""Emotion-aware cross-modal matching against an index: an image finds music, a clip finds images.

A query file is embedded exactly like the index's items (the featurizer and, if any, the
EMI-Adapter saved with the index), the index returns the ``candidates`` nearest items of the
other modality (optionally only those with one emotion label), and these are re-ranked by
EMID's score ``T = α·S + (1 − α)·E``:

* ``S`` — the semantic score: the paper's softmax over the candidates at temperature τ, divided
  by its row maximum (``S_rel`` of `emoalign.pair.score`, in (0, 1], best candidate = 1); τ is
  the paper's 0.05 for a raw joint space and the adapter's learnt temperature for an adapter
  index (whose similarity already mixes in emotion — it is then the adapter's score);
* ``E`` — the emotional score (1 + cos_VA)/2 between the query's and the item's valence–arousal.

Every hit carries the reason: the raw similarity, S, E, T, and both items' emotions. Candidates
come from the index's nearest neighbours, as EMID's pipeline pre-selects its top-K by S before
re-ranking; with α near 0 raise ``candidates`` to let emotion reach further.

Default α: the paper's 0.6 for a raw joint space; 1.0 for an adapter index (the adapter was
trained to weigh emotion itself).

>>> m = Matcher("out/index")  # doctest: +SKIP
>>> res = m.match("photo.jpg", top=5)  # doctest: +SKIP
>>> res.hits[0].reason  # doctest: +SKIP
'semantic 0.41 (S 1.00), emotional 0.93: query awe (V +0.53, A +0.31) ~ item triumphant/heroic (V +0.60, A +0.35)'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emoalign.affect import get_taxonomy
from emoalign.affect.taxonomy import UnknownLabelError
from emoalign.errors import QueryError
from emoalign.numeric import unit_rows
from emoalign.pair.score import PAPER_ALPHA, PAPER_TEMPERATURE, combine, emotional_scores, semantic_scores
from emoalign.store.featurize import Resolved, featurize_query
from emoalign.store.index import EmptyIndexError, VectorIndex

ADAPTER_DIR = "adapter"
DEFAULT_CANDIDATES = 100


@dataclass(frozen=True)
class MatchHit:
    """One match with its scores and the reason for it."""

    rank: int
    id: str
    modality: str
    path: str | None
    similarity: float
    semantic: float
    emotional: float
    total: float
    emotion: str | None
    taxonomy: str | None
    valence: float | None
    arousal: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MatchResult:
    """The query's own affect, the settings used, and the hits (best first)."""

    query: dict[str, Any]
    hits: list[MatchHit]
    alpha: float
    temperature: float
    index: str
    space: str
    score_kind: str
    filters: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query, "results": [h.to_dict() for h in self.hits], "alpha": self.alpha,
            "temperature": self.temperature, "index": self.index, "space": self.space,
            "score_kind": self.score_kind, "filters": self.filters,
        }


class Matcher:
    """An index opened for matching, with its featurizer and adapter loaded once (for the service).

    >>> Matcher("out/index").encoders  # doctest: +SKIP
    ['music-xmodal', 'music-acoustic', 'image-xmodal', 'image-scene']
    """

    def __init__(self, index: str | Path | VectorIndex, *, mmap: bool = False) -> None:
        self.index = index if isinstance(index, VectorIndex) else VectorIndex.open(index, mmap=mmap)
        info = self.index.info
        if info.get("complete") is False:
            raise QueryError(f"{self.index.folder}: the `emoalign index build` that wrote this index was stopped before "
                             "its items were added; run the same command again to finish it")
        if "featurizer" not in info:
            raise QueryError(f"{self.index.folder}: this index does not say how its items were embedded (not built by `emoalign index build`)")
        self.resolved = Resolved.from_dict(info["featurizer"])
        self.adapter = None
        if info.get("adapter"):
            from emoalign.learn.adapter import EMIAdapter

            self.adapter = EMIAdapter.load(self.index.folder / info["adapter"])
            if self.adapter.config.space_id != self.index.space:
                raise QueryError(f"{self.index.folder}: adapter space {self.adapter.config.space_id!r} ≠ index space {self.index.space!r}")
        self.temperature = self.adapter.temperature_ if self.adapter is not None else PAPER_TEMPERATURE
        self.score_kind = "adapter" if self.adapter is not None else "semantic"
        self.default_alpha = 1.0 if self.adapter is not None else PAPER_ALPHA

    @property
    def encoders(self) -> list[str]:
        """Every encoder a query may need (semantic and affect, both sides)."""
        r = self.resolved
        names = [r.music_encoder, r.music_affect_encoder, r.image_encoder, r.image_affect_encoder]
        return list(dict.fromkeys(names))

    def query_vector(self, side: str, items) -> np.ndarray:
        if self.adapter is not None:
            return self.adapter.transform(items, role="query", modality=side)
        return unit_rows(items.vectors, np.float64).astype(np.float32)

    def normalise_emotion(self, emotion: str, target: str) -> str:
        tax_name = self.resolved.image_taxonomy if target == "image" else self.resolved.music_taxonomy
        tax = get_taxonomy(tax_name)
        try:
            return tax.label(emotion).name
        except (UnknownLabelError, KeyError):
            # "calm" for "calm/relaxing/serene": a label is also known by each of its slash-separated names
            word = emotion.strip().lower()
            hits = [n for n in tax.names if word in (part.strip().lower() for part in n.split("/"))]
            if len(hits) == 1:
                return hits[0]
            raise QueryError(f"unknown emotion {emotion!r} for {target} items ({tax.name}: {', '.join(tax.names)})") from None

    def match(
        self,
        query: bytes | str | Path,
        *,
        top: int = 10,
        alpha: float | None = None,
        emotion: str | None = None,
        candidates: int = DEFAULT_CANDIDATES,
        name: str | None = None,
    ) -> MatchResult:
        """The ``top`` best items of the other modality for a query file (or its bytes)."""
        if top < 1:
            raise ValueError(f"top must be ≥ 1, got {top}")
        alpha = self.default_alpha if alpha is None else float(alpha)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        side, items, affect = featurize_query(query, self.resolved, name=name)
        target = "image" if side == "music" else "music"
        labels = [self.normalise_emotion(emotion, target)] if emotion else None
        q = self.query_vector(side, items)
        k = max(top, candidates)
        try:
            found = self.index.search(q, k, modality=target, labels=labels)[0]
        except EmptyIndexError:
            raise
        qlabel, qconf = affect.top()
        query_info = {
            "name": name or (str(query) if isinstance(query, (str, Path)) else items.ids[0]),
            "modality": side, "emotion": qlabel, "confidence": qconf, "taxonomy": affect.taxonomy,
            "valence": float(affect.valence), "arousal": float(affect.arousal),
            "top_emotions": sorted(((k2, float(v)) for k2, v in affect.probs.items()), key=lambda kv: -kv[1])[:3],
        }
        if not found:
            hits: list[MatchHit] = []
        else:
            sims = np.array([[h.score for h in found]], np.float64)
            S = semantic_scores(sims, self.temperature)["S_rel"][0]
            item_va = np.array([[h.valence if h.valence is not None else 0.0, h.arousal if h.arousal is not None else 0.0] for h in found])
            E = emotional_scores(items.va.astype(np.float64), item_va[None, :, :])["E"][0]
            T = combine(S, E, alpha)
            order = np.lexsort((np.arange(len(found)), -T))[:top]  # ties: the index's order
            hits = [self._hit(r + 1, found[j], float(sims[0, j]), float(S[j]), float(E[j]), float(T[j]), query_info)
                    for r, j in enumerate(order)]
        return MatchResult(
            query=query_info, hits=hits, alpha=alpha, temperature=float(self.temperature), index=str(self.index.folder),
            space=self.index.space, score_kind=self.score_kind, filters={"emotion": labels[0] if labels else None, "modality": target},
        )

    def _hit(self, rank: int, h, sim: float, S: float, E: float, T: float, q: dict) -> MatchHit:
        def va(v, a):
            return "V ?, A ?" if v is None or a is None else f"V {v:+.2f}, A {a:+.2f}"

        reason = (
            f"{self.score_kind} {sim:.2f} (S {S:.2f}), emotional {E:.2f}: query {q['emotion']} "
            f"({va(q['valence'], q['arousal'])}) ~ {h.modality} {h.label or '?'} ({va(h.valence, h.arousal)})"
        )
        return MatchHit(
            rank=rank, id=h.id, modality=h.modality, path=h.path, similarity=sim, semantic=S, emotional=E, total=T,
            emotion=h.label, taxonomy=h.taxonomy, valence=h.valence, arousal=h.arousal, reason=reason,
        )


def match(
    query: bytes | str | Path,
    index: str | Path | VectorIndex | Matcher,
    top: int = 10,
    alpha: float | None = None,
    emotion: str | None = None,
    *,
    candidates: int = DEFAULT_CANDIDATES,
    name: str | None = None,
) -> MatchResult:
    """Match one image (→ music) or music clip (→ images) against an index; see `Matcher.match`."""
    matcher = index if isinstance(index, Matcher) else Matcher(index)
    return matcher.match(query, top=top, alpha=alpha, emotion=emotion, candidates=candidates, name=name)
