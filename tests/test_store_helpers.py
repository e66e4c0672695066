"""A tiny but real encoder for the store tests (spectral statistics of decoded audio), and its checks.

It is registered as ``test-spectral``; every input it encodes is appended to the file named by
``EMOALIGN_TEST_ENCODE_LOG`` (when set), so tests can count what was computed, in any process.
``EMOALIGN_TEST_ENCODE_DELAY`` (seconds per input) slows it down for the crash/resume test.
"""

from __future__ import annotations

import os
import time
from typing import Sequence

import numpy as np

from emoalign.encode.base import Encoder, EncodeResult, Input, describe_input, safe_encode
from emoalign.media.decode import load_audio

NAME = "test-spectral"
SPEC = "test_store_helpers:SpectralStatsEncoder"
BANDS = (0, 125, 250, 500, 1000, 2000, 4000, 6000, 8000)


class SpectralStatsEncoder(Encoder):
    """RMS, peak, zero-crossing rate, spectral centroid/bandwidth/roll-off/flatness and 8 log band energies."""

    name = NAME
    modality = "music"
    space = "test-spectral/v1"
    version = "1"

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        log = os.environ.get("EMOALIGN_TEST_ENCODE_LOG")
        delay = float(os.environ.get("EMOALIGN_TEST_ENCODE_DELAY", "0"))
        if log:
            lines = "".join(f"{os.getpid()}\t{x if isinstance(x, str) else describe_input(x)}\n" for x in inputs)
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(fd, lines.encode())
            os.close(fd)
        if delay:
            time.sleep(delay * len(inputs))
        return safe_encode(self._one, inputs)

    def _one(self, item: Input) -> EncodeResult:
        y = load_audio(item, sr=16000).astype(np.float64)
        return EncodeResult(vector=spectral_stats(y, 16000))


def spectral_stats(y: np.ndarray, sr: int) -> np.ndarray:
    rms = np.sqrt(np.mean(y**2))
    zcr = np.mean(np.abs(np.diff(np.signbit(y).astype(np.int8))))
    power = np.abs(np.fft.rfft(y * np.hanning(y.size))) ** 2
    freqs = np.fft.rfftfreq(y.size, 1 / sr)
    total = power.sum() + 1e-12
    centroid = (freqs * power).sum() / total
    bandwidth = np.sqrt(((freqs - centroid) ** 2 * power).sum() / total)
    rolloff = freqs[np.searchsorted(np.cumsum(power), 0.85 * total)]
    flatness = np.exp(np.mean(np.log(power + 1e-12))) / (np.mean(power) + 1e-12)
    bands = [np.log10(power[(freqs >= lo) & (freqs < hi)].sum() / total + 1e-9) for lo, hi in zip(BANDS, BANDS[1:])]
    return np.array([rms, np.abs(y).max(), zcr, centroid, bandwidth, rolloff, flatness, *bands], dtype=np.float32)


def register() -> None:
    """Make ``test-spectral`` available through `emoalign.encode.get_encoder` (and so to workers)."""
    from emoalign.encode.registry import ENCODERS

    ENCODERS[NAME] = SPEC


class BrokenEncoder(SpectralStatsEncoder):
    """An encoder whose model cannot load (as when a weights file is missing)."""

    name = "test-broken"

    def __init__(self) -> None:
        raise RuntimeError("model file test-broken.onnx is missing")


def register_broken() -> None:
    from emoalign.encode.registry import ENCODERS

    ENCODERS["test-broken"] = "test_store_helpers:BrokenEncoder"


def make_clips(folder, n: int, seconds: float = 0.25, prefix: str = "clip") -> list:
    """``n`` distinct synthetic clips (WAV) in ``folder`` as music `Record`s."""
    from pathlib import Path

    from emoalign.media.synth import synth_clip, write_clip
    from emoalign.types import Record

    out = []
    for i in range(n):
        v, a = np.sin(i * 1.3), np.cos(i * 0.7)
        path = write_clip(Path(folder) / f"{prefix}{i:04d}.wav", synth_clip(v, a, seconds=seconds, seed=i))
        out.append(Record(id=f"{prefix}{i:04d}", modality="music", source="synthetic", path=str(path)))
    return out


def read_log(path) -> list[str]:
    """Inputs encoded so far, one per line of the counter file."""
    if not os.path.exists(path):
        return []
    return [line.split("\t", 1)[1] for line in open(path).read().splitlines()]


def test_spectral_stats_measure_a_known_tone():
    sr = 16000
    t = np.arange(sr) / sr
    y = 0.5 * np.sin(2 * np.pi * 1000 * t)
    v = spectral_stats(y, sr)
    assert abs(v[0] - 0.5 / np.sqrt(2)) < 1e-3  # RMS of a sine
    assert abs(v[3] - 1000) < 20  # centroid at the tone
    assert v[8 + 3] > v[8 + 0] + 3  # the 1–2 kHz band holds the energy, not 0–125 Hz


def test_encoder_reports_undecodable_input_per_item(tmp_path):
    from emoalign.media.synth import clip_bytes, synth_clip

    good = clip_bytes(synth_clip(0.5, 0.5, seconds=0.5))
    res = SpectralStatsEncoder().encode([good, b"not audio at all"])
    assert res[0].ok and res[0].vector.shape == (15,)
    assert not res[1].ok and "cannot decode audio" in res[1].error
