"""A light, real encoder for the extraction benchmark: spectral statistics of the decoded audio.

It costs ~1–3 ms per short clip, so with it the benchmark measures the engines' own overhead
(scheduling, pickling, shard writing); with ``music-acoustic`` (~50–130 ms per clip) it measures
how well they spread real work over the cores. Registered as ``bench-spectral`` by
``bench/extract.py``; workers import it through the driver's ``sys.path``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from emoalign.encode.base import Encoder, EncodeResult, Input, safe_encode
from emoalign.media.decode import load_audio

BANDS = (0, 125, 250, 500, 1000, 2000, 4000, 6000, 8000)


class SpectralStatsEncoder(Encoder):
    """RMS, peak, zero-crossing rate, spectral centroid/bandwidth/roll-off/flatness, 8 log band energies."""

    name = "bench-spectral"
    modality = "music"
    space = "bench-spectral/v1"
    version = "1"

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        return safe_encode(self._one, inputs)

    def _one(self, item: Input) -> EncodeResult:
        y = load_audio(item, sr=16000).astype(np.float64)
        sr = 16000
        power = np.abs(np.fft.rfft(y * np.hanning(y.size))) ** 2
        freqs = np.fft.rfftfreq(y.size, 1 / sr)
        total = power.sum() + 1e-12
        centroid = (freqs * power).sum() / total
        bandwidth = np.sqrt(((freqs - centroid) ** 2 * power).sum() / total)
        rolloff = freqs[np.searchsorted(np.cumsum(power), 0.85 * total)]
        flatness = np.exp(np.mean(np.log(power + 1e-12))) / (np.mean(power) + 1e-12)
        bands = [np.log10(power[(freqs >= lo) & (freqs < hi)].sum() / total + 1e-9) for lo, hi in zip(BANDS, BANDS[1:])]
        zcr = np.mean(np.abs(np.diff(np.signbit(y).astype(np.int8))))
        vec = [np.sqrt(np.mean(y**2)), np.abs(y).max(), zcr, centroid, bandwidth, rolloff, flatness, *bands]
        return EncodeResult(vector=np.asarray(vec, dtype=np.float32))


def register() -> None:
    from emoalign.encode.registry import ENCODERS

    ENCODERS["bench-spectral"] = "extract_encoders:SpectralStatsEncoder"
