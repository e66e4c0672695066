"""Optional music backend "music-vibenet": VibeNet's distilled EfficientNet (GPL-3.0).

VibeNet (``pip install vibenet==0.1.0``, Jaeheon Shim, GPL-3.0-or-later) ships an 18.5 MB ONNX
student network, trained by teacher–student distillation on the Free Music Archive, that
predicts seven Spotify-style attributes from a 16 kHz log-mel spectrogram: acousticness,
danceability, energy, instrumentalness, liveness, speechiness and valence (0–1). Its weights
are inside the wheel, so it runs offline.

Licence: importing a GPL-3.0 package into a program makes the combined work subject to the
GPL. emoalign (Apache-2.0) therefore never installs or imports it by default: it lives in the
optional extra ``music-gpl`` (``pip install 'emoalign[music-gpl]'``) and only this module,
loaded on demand by the registry, imports it.

Mapping: valence ← 2·valence − 1, arousal ← 2·energy − 1 (VibeNet documents energy as
"also known as arousal"); the emid13 distribution is the same Gaussian-around-the-point as
the default encoder's (`emoalign.encode.music.va_distribution`). ``vector`` holds the seven
attributes (space ``vibenet-attributes-v1``).

>>> enc = VibeNetMusicEncoder()  # doctest: +SKIP
>>> enc.encode(["song.mp3"])[0].details["attributes"]["energy"]  # doctest: +SKIP
0.71
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from emoalign.affect.space import DEFAULT_SIGMA
from emoalign.encode.base import DecodeError, Encoder, EncodeResult, Input, describe_input, safe_encode
from emoalign.encode.music import va_distribution
from emoalign.media.decode import load_audio
from emoalign.types import Affect

try:  # at import time, so `emoalign backends` reports the missing optional dependency
    import vibenet
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "music-vibenet needs the GPL-3.0 package 'vibenet' (not installed by default): "
        "pip install 'emoalign[music-gpl]'"
    ) from exc

#: VibeNet's input rate (vibenet.core.SAMPLE_RATE).
SR = 16000
#: Attribute order of the model's output (``vibenet.labels``).
ATTRIBUTES: tuple[str, ...] = tuple(vibenet.labels)
#: VibeNet's spectrogram frames are 20 ms; below ~1 s the network sees too little context.
MIN_SECONDS = 1.0


class VibeNetMusicEncoder(Encoder):
    """VibeNet attributes → (valence, arousal) → emid13 distribution."""

    name = "music-vibenet"
    modality = "music"
    taxonomy = "emid13"
    space = "vibenet-attributes-v1"

    def __init__(self, sigma: float = DEFAULT_SIGMA, model: Any | None = None) -> None:
        # vibenet.load_model() opens the ONNX file shipped inside the wheel with onnxruntime.
        self.model = model if model is not None else vibenet.load_model()
        self.sigma = float(sigma)

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        return safe_encode(self._encode_one, inputs)

    def _encode_one(self, item: Input) -> EncodeResult:
        return self.encode_waveform(load_audio(item, sr=SR), SR, name=describe_input(item))

    def encode_waveform(self, y: np.ndarray, sr: int = SR, name: str = "waveform") -> EncodeResult:
        y = np.asarray(y, dtype=np.float32).reshape(-1)
        if y.size < MIN_SECONDS * sr:
            raise DecodeError(f"{name}: {y.size / sr:.2f} s of audio is too short for VibeNet (needs ≥ {MIN_SECONDS:.0f} s)")
        result = self.model.predict(y, sr=sr)[0]
        attrs = {k: float(v) for k, v in result.to_dict().items()}
        valence = float(np.clip(2 * attrs["valence"] - 1, -1, 1))
        arousal = float(np.clip(2 * attrs["energy"] - 1, -1, 1))
        affect = Affect(self.taxonomy, va_distribution(valence, arousal, self.taxonomy, self.sigma), valence, arousal)
        vector = np.array([attrs[k] for k in ATTRIBUTES], dtype=np.float32)
        return EncodeResult(affect=affect, vector=vector, details={"attributes": attrs, "model": "vibenet==0.1.0 (GPL-3.0)"})
