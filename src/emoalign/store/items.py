"""`ItemSet`: one modality's featurised items as numpy arrays — ids, semantic vectors in one vector
space, affect as probabilities over one taxonomy plus valence–arousal, a category per item.

It is what the EMI-Adapter learns from (`emoalign.learn`) and what an index holds
(`emoalign.retrieve`), so it lives here, below both.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> music = ItemSet.from_arrays(["m0", "m1"], rng.normal(size=(2, 4)), "demo-space", "mikels8",
...                             probs=np.eye(8)[[0, 7]])
>>> music.affect_features().shape
(2, 10)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from emoalign.affect import get_taxonomy
from emoalign.numeric import unit_rows


@dataclass
class ItemSet:
    """One modality's items: ids, semantic vectors (one space), affect (probs over ``taxonomy`` + V–A).

    ``probs`` rows follow the taxonomy's label order; ``va`` is (n, 2) on [-1, 1];
    ``labels`` is each item's emotion category (ground truth where the source has one, else the
    encoder's top label), used for the top-10 emotion-agreement metric and for index filters.
    """

    ids: tuple[str, ...]
    vectors: np.ndarray
    space: str
    taxonomy: str
    probs: np.ndarray
    va: np.ndarray
    labels: tuple[str, ...] = ()
    meta: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.ids)
        self.vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
        self.probs = np.asarray(self.probs, dtype=np.float32)
        self.va = np.asarray(self.va, dtype=np.float32)
        k = len(get_taxonomy(self.taxonomy))
        if self.vectors.ndim != 2 or self.vectors.shape[0] != n:
            raise ValueError(f"{n} ids but vectors of shape {self.vectors.shape}")
        if self.probs.shape != (n, k):
            raise ValueError(f"probs must be (n, {k}) over {self.taxonomy!r}, got {self.probs.shape}")
        if self.va.shape != (n, 2):
            raise ValueError(f"va must be (n, 2), got {self.va.shape}")
        if self.labels and len(self.labels) != n:
            raise ValueError(f"{len(self.labels)} labels for {n} items")
        if not np.isfinite(self.vectors).all():
            raise ValueError("vectors contain NaN or infinity")

    @classmethod
    def from_arrays(
        cls,
        ids: Sequence[str],
        vectors: np.ndarray,
        space: str,
        taxonomy: str,
        *,
        probs: np.ndarray,
        va: np.ndarray | None = None,
        labels: Sequence[str] | None = None,
    ) -> "ItemSet":
        """Items from arrays; V–A defaults to the expectation of ``probs`` over the label points,
        labels to each row's most probable label."""
        tax = get_taxonomy(taxonomy)
        probs = np.asarray(probs, dtype=np.float64)
        probs = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)
        if va is None:
            va = probs @ tax.va
        if labels is None:
            labels = [tax.names[i] for i in probs.argmax(axis=1)]
        return cls(tuple(ids), vectors, space, tax.name, probs, va, tuple(labels))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def affect_features(self) -> np.ndarray:
        """(n, k + 2): the label probabilities followed by valence and arousal."""
        return np.concatenate([self.probs, self.va], axis=1).astype(np.float32)

    def unit_vectors(self) -> np.ndarray:
        """Semantic vectors scaled to unit length (cosine geometry; a zero vector stays zero)."""
        return unit_rows(self.vectors)

    def subset(self, index: np.ndarray) -> "ItemSet":
        index = np.asarray(index, dtype=np.int64)
        return ItemSet(
            tuple(self.ids[i] for i in index), self.vectors[index], self.space, self.taxonomy,
            self.probs[index], self.va[index],
            tuple(self.labels[i] for i in index) if self.labels else (),
            [self.meta[i] for i in index] if self.meta else [],
        )

    def position(self) -> dict[str, int]:
        return {item: i for i, item in enumerate(self.ids)}
