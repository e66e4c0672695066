"""Music emotion from musicnn: a pretrained tagging network + heads trained on the 4Q clips.

Per clip: the log-mel spectrogram is cut into 3-s patches and run through the MSD musicnn port
(`emoalign.encode.musicnn_net`, weights read from the installed ``musicnn`` package, no
TensorFlow). The 200-d penultimate layer is pooled over the patches (mean and std → the 400-d
``vector``, space ``music-musicnn-v1``) and the 50 MSD tag probabilities are averaged
(``details["tags"]``). Small linear heads trained on the 700 shared 4Q clips
(``encode/models/music_musicnn_quadrant.npz``; how they were chosen: the model card
``music_musicnn.md`` and ``bench/music_4q.py``) turn the pooled features into a distribution over
Russell's quadrants (``details["quadrant"]``). Valence and arousal are that distribution's
marginals, ``V = P(Q1) + P(Q4) − P(Q2) − P(Q3)`` and ``A = P(Q1) + P(Q2) − P(Q3) − P(Q4)``
(in −1…1, 0 = undecided). Their signs always name the most probable quadrant: where a marginal's
sign disagrees with it (the model is torn between two quadrants), that coordinate is set to
±0.01 on the side of the most probable quadrant (``details["va_adjusted"]`` says so). EMID's 13
categories are Gaussian weights (σ = 0.25) around that point, as for ``music-acoustic``.

Input rules: clips shorter than 0.5 s, silent, non-finite or undecodable ones get a per-file error;
clips of 0.5–3 s are repeated to fill one 3-s patch (musicnn's own training used this
``repeat-pad``) and carry ``details["padded"] = True``; a last partial patch is dropped.

>>> from emoalign.media.synth import clip_bytes, synth_clip
>>> enc = MusicnnMusicEncoder()
>>> res = enc.encode([clip_bytes(synth_clip(0.9, 0.9, seconds=4.0))])[0]
>>> res.vector.shape, res.details["patches"], sorted(res.details["quadrant"])
((400,), 1, ['Q1', 'Q2', 'Q3', 'Q4'])
"""

from __future__ import annotations

from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emoalign.affect.space import DEFAULT_SIGMA
from emoalign.encode.base import Encoder, EncodeResult, Input, describe_input, safe_encode
from emoalign.encode.music import va_distribution
from emoalign.encode.musicnn_net import MSD_TAGS, PATCH_FRAMES, SR, load_musicnn, log_mel, package_model_dir, patches
from emoalign.media.decode import load_audio
from emoalign.types import Affect

#: Shorter clips are refused: under a sixth of a patch, repeat-padding would invent the music.
MIN_SECONDS = 0.5
QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
#: Quadrant → (valence sign, arousal sign) (Russell's circumplex as in the 4Q data set).
QUADRANT_SIGNS = {"Q1": (1, 1), "Q2": (-1, 1), "Q3": (-1, -1), "Q4": (1, -1)}
HEAD_FILE = "music_musicnn_quadrant.npz"
#: Where a marginal disagrees with the most probable quadrant, it is set to this, on that quadrant's side.
TORN = 0.01


def pooled_features(y: np.ndarray) -> dict[str, Any]:
    """The network's per-clip features of a 16 kHz mono clip (no heads).

    Returns ``pen_mean``/``pen_std`` (200 each), ``tags`` (50 mean probabilities), ``patches``
    and ``padded``.
    """
    spec = log_mel(y)
    batch, padded = patches(spec)
    out = load_musicnn()(batch)
    pen = out["penultimate"].numpy().astype(np.float64)
    return {"pen_mean": pen.mean(axis=0), "pen_std": pen.std(axis=0), "tags": out["tags"].numpy().astype(np.float64).mean(axis=0),
            "patches": int(len(batch)), "padded": bool(padded)}


def acoustic_block(y: np.ndarray) -> np.ndarray:
    """The ``music-acoustic`` cue scores, raw descriptors and fixed-weight V/A of a clip, as one row."""
    from emoalign.encode.registry import get_encoder

    res = get_encoder("music-acoustic").encode_waveform(y, SR)
    feats = res.details["features"]
    desc = [float(v) for v in feats.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return np.array([*res.vector.tolist(), *desc, res.affect.valence, res.affect.arousal], dtype=np.float64)


def egemaps_block(y: np.ndarray) -> np.ndarray:
    """openSMILE eGeMAPSv02 functionals (88) of the whole clip."""
    import opensmile

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals)
    return smile.process_signal(y, SR).to_numpy(dtype=np.float64).reshape(-1)


def va_from_quadrants(probs: np.ndarray) -> tuple[float, float, bool]:
    """(valence, arousal, adjusted) from P(Q1..Q4): the marginals, signs forced to the argmax quadrant.

    >>> va_from_quadrants(np.array([0.7, 0.1, 0.1, 0.1]))[:2]
    (0.6, 0.6)
    >>> va_from_quadrants(np.array([0.4, 0.0, 0.3, 0.3]))  # Q1 most probable, arousal marginal < 0
    (0.4, 0.01, True)
    """
    p = np.asarray(probs, dtype=np.float64)
    v = float(p[0] + p[3] - p[1] - p[2])
    a = float(p[0] + p[1] - p[2] - p[3])
    sv, sa = QUADRANT_SIGNS[QUADRANTS[int(p.argmax())]]
    adjusted = False
    if (v >= 0) != (sv > 0):
        v, adjusted = sv * TORN, True
    if (a >= 0) != (sa > 0):
        a, adjusted = sa * TORN, True
    return round(v, 6), round(a, 6), adjusted


class MusicnnMusicEncoder(Encoder):
    """Offline music encoder: musicnn (MSD) embedding + tags → 4Q-trained quadrant head → V/A → emid13."""

    name = "music-musicnn"
    modality = "music"
    taxonomy = "emid13"
    space = "music-musicnn-v1"
    version = "1"

    def __init__(self, head_path: str | Path | None = None, sigma: float = DEFAULT_SIGMA) -> None:
        self.head_path = Path(head_path) if head_path else None
        self.sigma = float(sigma)

    @classmethod
    def weights_location(cls) -> str:
        """Where the weights are: the musicnn package's checkpoint and this package's head file."""
        try:
            net = str(package_model_dir())
        except (ImportError, FileNotFoundError) as exc:
            net = f"missing ({exc})"
        return f"in the packages: {net} (musicnn MSD checkpoint); emoalign/encode/models/{HEAD_FILE} (4Q head)"

    @cached_property
    def head(self):
        from emoalign.encode.heads import LinearClassifierHead

        path = self.head_path or Path(str(resources.files("emoalign.encode").joinpath("models", HEAD_FILE)))
        return LinearClassifierHead.load(path)

    @property
    def feature_blocks(self) -> list[str]:
        return list(self.head.meta.get("features", ["pen_mean", "pen_std", "tags"]))

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        load_musicnn()  # a missing package or checkpoint is one clear error, not one per file
        self.head
        return safe_encode(self._encode_one, inputs)

    def _encode_one(self, item: Input) -> EncodeResult:
        return self.encode_waveform(load_audio(item, sr=SR), SR, name=describe_input(item))

    def encode_waveform(self, y: np.ndarray, sr: int = SR, name: str = "waveform") -> EncodeResult:
        """Encode an already decoded mono clip; raises `DecodeError` for unusable audio."""
        from emoalign.media.decode import music_waveform

        y = music_waveform(y, sr, SR, MIN_SECONDS, name)
        feats = pooled_features(y)
        blocks = {"pen_mean": feats["pen_mean"], "pen_std": feats["pen_std"], "tags": feats["tags"]}
        for extra, fn in (("acoustic", acoustic_block), ("egemaps", egemaps_block)):
            if extra in self.feature_blocks:
                blocks[extra] = fn(y)
        x = np.concatenate([blocks[b] for b in self.feature_blocks])[None, :]
        probs_q = self.head.predict_proba(x)[0]
        order = [self.head.classes_.index(q) for q in QUADRANTS]
        probs_q = probs_q[order]
        valence, arousal, adjusted = va_from_quadrants(probs_q)
        affect = Affect(self.taxonomy, va_distribution(valence, arousal, self.taxonomy, self.sigma), valence, arousal)
        tags = dict(zip(MSD_TAGS, np.round(feats["tags"], 5).tolist()))
        details = {
            "quadrant": dict(zip(QUADRANTS, np.round(probs_q, 5).tolist())),
            "quadrant_top": QUADRANTS[int(probs_q.argmax())],
            "va_adjusted": adjusted,
            "tags": tags,
            "top_tags": sorted(tags, key=tags.get, reverse=True)[:5],
            "patches": feats["patches"],
            "padded": feats["padded"],
            "seconds": round(y.size / SR, 3),
            "patch_seconds": round((PATCH_FRAMES - 1) * 256 / SR, 3),
            "model": f"{self.space}+{self.head.meta.get('name', HEAD_FILE)}",
        }
        vector = np.concatenate([feats["pen_mean"], feats["pen_std"]]).astype(np.float32)
        return EncodeResult(affect=affect, vector=vector, details=details)
