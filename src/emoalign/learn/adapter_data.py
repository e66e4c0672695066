"""The arrays the EMI-Adapter learns from: items of one modality, music–image pairs, a split by clip.

Everything here is numpy: `PairData` ties a music `ItemSet` (`emoalign.store.items`: one
modality's featurised items), an image `ItemSet` and the (music index, image index) pairs
together. `split_by_music` splits *by music clip* — and by source recording when clips carry one
(EMID's ``106.m4a___172.mp3`` slices of one recording share a ``group``), so slices of one
recording never sit on both sides of a split.

Building these from a data source and the feature store is `emoalign.learn.adapter_io`'s job.

>>> splits = split_by_music(10, None, (0.8, 0.1, 0.1), seed=0)
>>> sorted(set(splits.tolist())), int((splits == "train").sum())
(['test', 'train', 'val'], 8)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from emoalign.store.items import ItemSet

SPLITS: tuple[str, ...] = ("train", "val", "test")
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)


@dataclass
class PairData:
    """Music items, image items and the pairs between them (``pairs[:, 0]`` music, ``[:, 1]`` image index).

    ``groups`` (one per music item) keeps slices of one recording together when splitting.
    """

    music: ItemSet
    images: ItemSet
    pairs: np.ndarray
    groups: tuple[str, ...] = ()
    description: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pairs = np.asarray(self.pairs, dtype=np.int64).reshape(-1, 2)
        if len(self.pairs) and (
            self.pairs[:, 0].min() < 0 or self.pairs[:, 0].max() >= len(self.music)
            or self.pairs[:, 1].min() < 0 or self.pairs[:, 1].max() >= len(self.images)
        ):
            raise ValueError("pair indices out of range")
        self.pairs = np.unique(self.pairs, axis=0)  # a pair listed twice counts once
        if self.groups and len(self.groups) != len(self.music):
            raise ValueError(f"{len(self.groups)} groups for {len(self.music)} music items")

    @property
    def joint(self) -> bool:
        """Music and image vectors share one space (so a semantic-only ranking exists)."""
        return self.music.space == self.images.space and self.music.dim == self.images.dim

    def pairs_of(self, music_index: np.ndarray) -> np.ndarray:
        """The pairs whose music item is in ``music_index``."""
        return self.pairs[np.isin(self.pairs[:, 0], np.asarray(music_index))]


def split_by_music(
    n_music: int,
    groups: Sequence[str] | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> np.ndarray:
    """A split name (``train``/``val``/``test``) per music item, drawn by group (or by item).

    Groups are shuffled with ``seed`` and dealt to the splits until each holds its share of the
    *items*; with at least three groups every split with a positive share gets at least one.

    >>> split_by_music(10, seed=0).tolist().count("train")
    8
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.shape != (3,) or (fractions < 0).any() or fractions.sum() <= 0:
        raise ValueError(f"fractions must be three non-negative numbers (train, val, test), got {fractions.tolist()}")
    fractions = fractions / fractions.sum()
    keys = list(groups) if groups else [str(i) for i in range(n_music)]
    if len(keys) != n_music:
        raise ValueError(f"{len(keys)} groups for {n_music} music items")
    unique = sorted(set(keys))
    order = np.random.default_rng(seed).permutation(len(unique))
    sizes: dict[str, int] = {}
    for k in keys:
        sizes[k] = sizes.get(k, 0) + 1
    targets = np.cumsum(fractions) * n_music
    assign: dict[str, int] = {}
    done = 0
    for g in order:
        name = unique[g]
        # a group goes where the middle of its items falls on the cumulative shares
        assign[name] = min(2, int(np.searchsorted(targets, done + sizes[name] / 2.0, side="right")))
        done += sizes[name]
    # small collections: give an empty val/test split (wanted, fraction > 0) the last train group
    for split in (2, 1):
        used = set(assign.values())
        train_groups = [unique[g] for g in order if assign[unique[g]] == 0]
        if fractions[split] > 0 and split not in used and len(train_groups) > 1:
            assign[train_groups[-1]] = split
    named = {k: SPLITS[v] for k, v in assign.items()}
    return np.array([named[k] for k in keys])


def split_index(splits: np.ndarray, name: str) -> np.ndarray:
    """Music indices of one split."""
    if name not in SPLITS:
        raise ValueError(f"unknown split {name!r}; one of {SPLITS}")
    return np.flatnonzero(np.asarray(splits) == name)


def categories_of(data: PairData, music_index: np.ndarray) -> tuple[list[set[str]], Mapping[int, set[str]]]:
    """For agreement@10: each clip's set of paired image labels, each image's set of paired clip labels."""
    pairs = data.pairs_of(music_index)
    by_music: dict[int, set[str]] = {int(m): set() for m in music_index}
    by_image: dict[int, set[str]] = {}
    for m, i in pairs:
        if data.images.labels:
            by_music[int(m)].add(data.images.labels[i])
        if data.music.labels:
            by_image.setdefault(int(i), set()).add(data.music.labels[m])
    return [by_music[int(m)] for m in music_index], by_image
