"""Music emotion offline: interpretable acoustic cues → valence/arousal → EMID's 13 categories.

No pretrained music-emotion model ships inside a permissively licensed PyPI package, so the
default music encoder is a *cue model*: the descriptors of `music_features` (mode, note rate,
loudness, brightness, register, roughness) are scaled to [-1, 1] between fixed anchors and
combined with fixed weights whose directions come from music psychology (Gabrielsson &
Lindström 2010) and whose order follows Eerola, Friberg & Bresin (2013). Anchors, weights and
their reasons are data, in ``encode/models/music_acoustic.json``; the model card is
``encode/models/music_acoustic.md``. Nothing is fitted.

The distribution over EMID's categories puts Gaussian weights (σ = 0.25, as in
`emoalign.affect.map_distribution`) on the distance between the predicted valence–arousal point
and each emid13 label's coordinates.

>>> from emoalign.media.synth import clip_bytes, synth_clip
>>> enc = AcousticMusicEncoder()
>>> res = enc.encode([clip_bytes(synth_clip(0.9, 0.9, seconds=4.0))])[0]
>>> res.affect.valence > 0, res.affect.arousal > 0, res.vector.shape
(True, True, (7,))
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping, Sequence

import numpy as np

from emoalign.affect import va_to_distribution
from emoalign.affect.space import DEFAULT_SIGMA
from emoalign.encode.base import Encoder, EncodeResult, Input, describe_input, safe_encode
from emoalign.encode.music_features import SR, MusicFeatures, extract_features
from emoalign.media.decode import load_audio
from emoalign.types import Affect

#: Clips shorter than this carry too few notes for tempo, key or roughness.
MIN_SECONDS = 1.0


@lru_cache(maxsize=None)
def load_cue_model(name: str = "music_acoustic.json") -> dict[str, Any]:
    """The shipped cue model (anchors, weights, references) as a dict."""
    text = resources.files("emoalign.encode").joinpath("models", name).read_text("utf-8")
    return json.loads(text)


def cue_score(value: float, spec: Mapping[str, Any]) -> float:
    """Scale one descriptor between its anchors: ``low`` → out[0], ``high`` → out[1], clipped.

    >>> cue_score(240.0, {"scale": "log", "low": 60.0, "high": 240.0, "out": [-1, 1]})
    1.0
    >>> cue_score(120.0, {"scale": "log", "low": 60.0, "high": 240.0, "out": [-1, 1]})
    0.0
    """
    lo_out, hi_out = spec.get("out", (-1.0, 1.0))
    if value is None or not np.isfinite(value):
        return 0.0 if lo_out < 0 < hi_out else float(lo_out)  # missing → neutral
    low, high = float(spec["low"]), float(spec["high"])
    if spec["scale"] == "log":
        value, low, high = np.log(max(value, 1e-9)), np.log(low), np.log(high)
    frac = (value - low) / (high - low)
    return float(np.clip(lo_out + frac * (hi_out - lo_out), min(lo_out, hi_out), max(lo_out, hi_out)))


def va_distribution(valence: float, arousal: float, taxonomy: str = "emid13", sigma: float = DEFAULT_SIGMA) -> dict[str, float]:
    """`emoalign.affect.va_to_distribution` over EMID's 13 clusters by default.

    >>> p = va_distribution(-0.7, -0.45)
    >>> max(p, key=p.get), round(sum(p.values()), 6)
    ('sad/depressing', 1.0)
    """
    return va_to_distribution(valence, arousal, taxonomy, sigma)


class CueModel:
    """Descriptors → cue scores → valence/arousal, with every contribution kept for explanation.

    >>> from emoalign.encode.music_features import MusicFeatures
    >>> f = MusicFeatures(10.0, 140.0, 6.0, -12.0, 2500.0, 400.0, 0.3, "C major", 0.9, 0.04)
    >>> v, a, detail = CueModel().predict(f)
    >>> v > 0.3 and a > 0.3
    True
    """

    def __init__(self, spec: Mapping[str, Any] | None = None) -> None:
        self.spec = dict(spec or load_cue_model())
        self.cues: tuple[str, ...] = tuple(self.spec["cues"])
        for dim in ("valence", "arousal"):
            unknown = set(self.spec[dim]) - set(self.cues)
            if unknown:
                raise ValueError(f"cue model {self.spec.get('name')!r}: {dim} weights name unknown cues {sorted(unknown)}")

    def scores(self, features: MusicFeatures) -> dict[str, float]:
        values = features.as_dict()
        return {cue: cue_score(values[spec["feature"]], spec) for cue, spec in self.spec["cues"].items()}

    def predict(self, features: MusicFeatures) -> tuple[float, float, dict[str, Any]]:
        scores = self.scores(features)
        out: dict[str, Any] = {"cues": scores}
        va = []
        for dim in ("valence", "arousal"):
            contrib = {cue: w * scores[cue] for cue, w in self.spec[dim].items()}
            out[dim] = contrib
            va.append(float(np.clip(sum(contrib.values()), -1.0, 1.0)))
        return va[0], va[1], out

    def vector(self, scores: Mapping[str, float]) -> np.ndarray:
        return np.array([scores[c] for c in self.cues], dtype=np.float32)


class AcousticMusicEncoder(Encoder):
    """Offline music encoder: acoustic cues → (valence, arousal) → emid13 distribution.

    ``vector`` is the 7 cue scores in [-1, 1] (space ``music-acoustic-v1``, order
    ``encoder.cue_model.cues``); ``details`` holds the raw descriptors, the cue scores and each
    cue's contribution to valence and arousal.
    """

    name = "music-acoustic"
    modality = "music"
    taxonomy = "emid13"
    space = "music-acoustic-v1"

    def __init__(self, sigma: float | None = None, spec: Mapping[str, Any] | None = None) -> None:
        self.cue_model = CueModel(spec)
        self.sigma = float(sigma if sigma is not None else self.cue_model.spec.get("sigma", DEFAULT_SIGMA))
        self.taxonomy_name = self.cue_model.spec.get("taxonomy", self.taxonomy)

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        return safe_encode(self._encode_one, inputs)

    def _encode_one(self, item: Input) -> EncodeResult:
        y = load_audio(item, sr=SR)
        return self.encode_waveform(y, SR, name=describe_input(item))

    def encode_waveform(self, y: np.ndarray, sr: int = SR, name: str = "waveform") -> EncodeResult:
        """Encode an already decoded mono clip (used for windows of a longer track).

        Raises `DecodeError` for clips that are too short, silent or not finite.
        """
        from emoalign.media.decode import music_waveform

        y = music_waveform(y, sr, SR, MIN_SECONDS, name)
        features = extract_features(y, SR)
        valence, arousal, detail = self.cue_model.predict(features)
        probs = va_distribution(valence, arousal, self.taxonomy_name, self.sigma)
        affect = Affect(self.taxonomy_name, probs, valence, arousal)
        details = {"features": features.as_dict(), **detail, "model": self.cue_model.spec.get("space", self.space)}
        return EncodeResult(affect=affect, vector=self.cue_model.vector(detail["cues"]), details=details)
