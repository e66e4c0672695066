"""Emotion taxonomies as data: labels, groups, synonyms and a valence–arousal point per label.

Each taxonomy is a JSON file in ``affect/data/`` naming, for every label, the lemmas whose
published norms give its coordinates (or fixed coordinates with a stated reason, e.g. neutral
at the origin). Coordinates are resolved when the taxonomy is loaded, so a user can swap the
lexicon (e.g. the NRC-VAD lexicon from their own copy) with `Taxonomy.with_lexicon`.

>>> tax = get_taxonomy("ravdess8")
>>> tax.names[:3]
('neutral', 'calm', 'happy')
>>> tax.label("HAPPY").valence > 0.5
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from emoalign.affect.lexicon import Lexicon, warriner_subset


class UnknownLabelError(KeyError):
    """A label that a taxonomy does not have (the message lists the ones it does)."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain message
        return str(self.args[0])


@dataclass(frozen=True)
class Label:
    name: str
    valence: float
    arousal: float
    dominance: float | None
    provenance: str
    concept: str | None = None
    code: str | None = None
    group: str | None = None
    description: str | None = None
    synonyms: tuple[str, ...] = ()
    #: other spellings of this very label (other tools' and papers' names, other languages)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """A named set of emotion labels, each placed in valence–arousal(–dominance) space."""

    name: str
    title: str
    citation: str
    labels: tuple[Label, ...]
    notes: str = ""
    spec: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def va(self) -> np.ndarray:
        """(n_labels, 2) array of valence, arousal."""
        return np.array([[label.valence, label.arousal] for label in self.labels], dtype=np.float64)

    def index(self, name: str) -> int:
        return self.names.index(self.label(name).name)

    def label(self, name: str) -> Label:
        """Look a label up by name, code (EMID letter, RAVDESS code), alias or synonym, ignoring case.

        >>> get_taxonomy("emotiontalk7").label("Joy").name, get_taxonomy("emotiontalk7").label("厌恶").name
        ('happy', 'disgusted')
        """
        key = name.strip().lower()
        for label in self.labels:
            if key == label.name.lower() or (label.code is not None and key == label.code.lower()):
                return label
        for label in self.labels:
            if key in (s.lower() for s in label.aliases):
                return label
        for label in self.labels:
            if key in (s.lower() for s in label.synonyms):
                return label
        raise UnknownLabelError(f"{name!r} is not a label of taxonomy {self.name!r}; labels: {', '.join(self.names)}")

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for label in self.labels:
            if label.group:
                out.setdefault(label.group, []).append(label.name)
        return out

    def with_lexicon(self, lexicon: Lexicon) -> "Taxonomy":
        """The same labels with coordinates re-resolved from another lexicon (falls back per label)."""
        return _build(self.spec, lexicon, fallback=self)


def _resolve(label_spec: dict, lexicon: Lexicon, taxonomy: str) -> tuple[float, float, float | None, str]:
    fixed = label_spec.get("fixed")
    if fixed is not None:
        return fixed["valence"], fixed["arousal"], fixed.get("dominance"), fixed["provenance"]
    found = [w for w in label_spec["lemmas"] if w in lexicon]
    if not found:
        raise UnknownLabelError(
            f"taxonomy {taxonomy!r}, label {label_spec['name']!r}: none of its lemmas {label_spec['lemmas']} "
            f"is in lexicon {lexicon.name!r}"
        )
    values = np.array([[np.nan if x is None else x for x in lexicon[w]] for w in found], dtype=float)
    v, a, d = values.mean(axis=0)
    return float(v), float(a), (None if np.isnan(d) else float(d)), f"{lexicon.name}: mean of {', '.join(found)}"


def _build(spec: dict, lexicon: Lexicon, fallback: Taxonomy | None = None) -> Taxonomy:
    labels = []
    for i, ls in enumerate(spec["labels"]):
        try:
            v, a, d, prov = _resolve(ls, lexicon, spec["name"])
        except UnknownLabelError:
            if fallback is None:
                raise
            labels.append(fallback.labels[i])
            continue
        labels.append(
            Label(
                name=ls["name"], valence=v, arousal=a, dominance=d, provenance=prov,
                concept=ls.get("concept"), code=ls.get("code"), group=ls.get("group"),
                description=ls.get("description"), synonyms=tuple(ls.get("synonyms", ())), aliases=tuple(ls.get("aliases", ())),
            )
        )
    return Taxonomy(spec["name"], spec["title"], spec["citation"], tuple(labels), spec.get("notes", ""), spec)


def _data_dir():
    return resources.files("emoalign.affect").joinpath("data")


@lru_cache(maxsize=None)
def list_taxonomies() -> tuple[str, ...]:
    """Names of the shipped taxonomies.

    >>> "emid13" in list_taxonomies()
    True
    """
    return tuple(sorted(p.name[:-5] for p in _data_dir().iterdir() if p.name.endswith(".json")))


@lru_cache(maxsize=None)
def get_taxonomy(name: str) -> Taxonomy:
    """Load a shipped taxonomy by name, with coordinates from Warriner et al. (2013)."""
    if name not in list_taxonomies():
        raise UnknownLabelError(f"unknown taxonomy {name!r}; available: {', '.join(list_taxonomies())}")
    spec = json.loads(_data_dir().joinpath(f"{name}.json").read_text("utf-8"))
    return _build(spec, warriner_subset())
