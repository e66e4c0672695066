"""Valence–arousal–dominance word norms: the shipped Warriner subset and user-supplied lexicons.

The project scale is [-1, 1] on every axis (0 = neutral midpoint). Sources on other scales are
mapped linearly: Warriner et al. (2013) 1..9 by (x − 5) / 4; NRC-VAD v1 0..1 by 2x − 1; NRC-VAD
v2 is already −1..1.

The NRC-VAD lexicon's terms forbid redistribution, so it is never shipped: `load_nrc_vad` reads
it from a path the user supplies.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

WARRINER_2013 = (
    "Warriner, A. B., Kuperman, V., & Brysbaert, M. (2013). Norms of valence, arousal, and "
    "dominance for 13,915 English lemmas. Behavior Research Methods 45, 1191-1207."
)


@dataclass(frozen=True)
class Lexicon:
    """Word → (valence, arousal, dominance) on the project scale, with where it came from."""

    name: str
    citation: str
    entries: dict[str, tuple[float, float, float | None]]

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.entries

    def __getitem__(self, word: str) -> tuple[float, float, float | None]:
        return self.entries[word.lower()]


def linear_to_unit(x: float, low: float, high: float) -> float:
    """Map ``x`` from [low, high] to [-1, 1].

    >>> linear_to_unit(5.0, 1, 9), linear_to_unit(9.0, 1, 9)
    (0.0, 1.0)
    """
    return 2.0 * (x - low) / (high - low) - 1.0


def warriner_subset() -> Lexicon:
    """The Warriner (2013) rows for the lemmas that the shipped taxonomies use."""
    text = resources.files("emoalign.affect").joinpath("data/warriner2013_subset.csv").read_text("utf-8")
    entries = {}
    for row in csv.DictReader(text.splitlines()):
        entries[row["word"].lower()] = (
            linear_to_unit(float(row["valence"]), 1, 9),
            linear_to_unit(float(row["arousal"]), 1, 9),
            linear_to_unit(float(row["dominance"]), 1, 9),
        )
    return Lexicon("warriner2013", WARRINER_2013, entries)


def load_nrc_vad(path: str | Path) -> Lexicon:
    """Read the NRC-VAD lexicon from a user-supplied file (v1: 0..1, or v2: −1..1).

    The file is tab-separated ``word<TAB>valence<TAB>arousal<TAB>dominance`` with an optional
    header line. The scale is detected from the values: any negative value means v2.

    >>> from pathlib import Path
    >>> _ = Path("nrc.txt").write_text("word\\tvalence\\tarousal\\tdominance\\nawe\\t0.900\\t0.700\\t0.600\\n")
    >>> [round(x, 3) for x in load_nrc_vad("nrc.txt")["awe"]]  # v1 (0..1) mapped to [-1, 1]
    [0.8, 0.4, 0.2]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"NRC-VAD lexicon not found at {path}")
    raw: dict[str, tuple[float, float, float]] = {}
    for line_no, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        parts = line.rstrip("\n").split("\t")
        if not line.strip():
            continue
        if len(parts) != 4:
            raise ValueError(f"{path}:{line_no}: expected 4 tab-separated fields, got {len(parts)}")
        try:
            raw[parts[0].lower()] = (float(parts[1]), float(parts[2]), float(parts[3]))
        except ValueError:
            if line_no == 1:  # header
                continue
            raise ValueError(f"{path}:{line_no}: valence/arousal/dominance are not numbers: {line!r}") from None
    if not raw:
        raise ValueError(f"{path}: no entries")
    is_v2 = any(min(v) < 0 for v in raw.values())
    scale = (lambda x: x) if is_v2 else (lambda x: linear_to_unit(x, 0, 1))
    entries = {w: (scale(v), scale(a), scale(d)) for w, (v, a, d) in raw.items()}
    version = "v2 (-1..1)" if is_v2 else "v1 (0..1)"
    return Lexicon("nrc-vad", f"Mohammad, S. M. NRC Valence, Arousal, and Dominance Lexicon, {version}, read from {path}", entries)
