"""Interpretable acoustic descriptors of a music clip, numpy/scipy only.

Each descriptor is one of the "primary musical cues" that music-psychology studies relate to
perceived emotion (Gabrielsson & Lindström 2010; Eerola, Friberg & Bresin 2013):

- ``tempo_bpm`` — beat rate from the autocorrelation of a spectral-flux onset envelope, with a
  log-normal preference around 120 BPM (one octave wide) against octave errors;
- ``onset_rate`` — note/event onsets per second (peaks of the onset envelope);
- ``loudness_db`` — mean frame RMS in dB re full scale (level as recorded: mastering counts);
- ``centroid_hz`` — spectral centroid (timbral brightness), frame-energy weighted;
- ``register_hz`` — magnitude-weighted geometric mean frequency of the spectral peaks between
  80 Hz and 2 kHz (pitch height of the sounding notes, bass and melody together);
- ``mode`` — best major minus best minor key-profile correlation of the mean chroma vector
  (Krumhansl & Kessler 1982 profiles); positive = major, with ``key`` and ``key_strength``;
- ``roughness`` — sensory dissonance of the spectral peaks (Plomp & Levelt 1965 curve in
  Sethares' 1998 parameterisation), normalised by peak power so it is level-independent.

>>> import numpy as np
>>> from emoalign.media.synth import synth_clip
>>> f = extract_features(synth_clip(0.8, 0.6, seconds=4.0, sr=22050), sr=22050)
>>> f.mode > 0, f.key.endswith("major")
(True, True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Analysis rate, window and hop (≈ 93 ms window, 23 ms hop at 22.05 kHz).
SR = 22050
N_FFT = 2048
HOP = 512

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
#: Krumhansl & Kessler (1982) probe-tone key profiles, tonic first (C major / C minor).
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

# Sethares (1998, "Tuning, Timbre, Spectrum, Scale", appendix E) fit of the Plomp–Levelt curve.
_D_STAR, _S1, _S2, _B1, _B2 = 0.24, 0.0207, 18.96, 3.51, 5.75


@dataclass(frozen=True)
class MusicFeatures:
    """Descriptors of one clip (see the module doc for definitions and units)."""

    duration: float
    tempo_bpm: float
    onset_rate: float
    loudness_db: float
    centroid_hz: float
    register_hz: float
    mode: float
    key: str
    key_strength: float
    roughness: float

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


def stft_magnitude(y: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """|STFT| as (frames, n_fft // 2 + 1), Hann window, signal zero-padded to whole frames."""
    y = np.asarray(y, dtype=np.float32)
    if y.size < n_fft:
        y = np.pad(y, (0, n_fft - y.size))
    pad = (-(y.size - n_fft)) % hop
    y = np.pad(y, (0, pad))
    frames = sliding_window_view(y, n_fft)[::hop]
    window = np.hanning(n_fft).astype(np.float32)
    return np.abs(np.fft.rfft(frames * window, axis=1)).astype(np.float32)


def onset_envelope(mag: np.ndarray) -> np.ndarray:
    """Spectral flux of log-compressed magnitudes (half-wave rectified, summed over bins)."""
    logmag = np.log1p(100.0 * mag)
    diff = np.diff(logmag, axis=0, prepend=logmag[:1])
    return np.maximum(diff, 0.0).sum(axis=1)


def estimate_tempo(onset_env: np.ndarray, frame_rate: float, lo: float = 40.0, hi: float = 240.0) -> float:
    """Beat rate in BPM: autocorrelation of the onset envelope times a log-normal tempo prior.

    The prior (centre 120 BPM, one octave standard deviation) is the usual guard against
    picking half or double the perceived beat (as in librosa's ``beat.tempo``).
    """
    o = onset_env - onset_env.mean()
    if o.size < 4 or not np.any(o):
        return float("nan")
    n = int(2 ** np.ceil(np.log2(2 * o.size)))
    spec = np.fft.rfft(o, n)
    ac = np.fft.irfft(spec * np.conj(spec), n)[: o.size]
    lags = np.arange(1, o.size)
    bpm = 60.0 * frame_rate / lags
    ok = (bpm >= lo) & (bpm <= hi)
    if not np.any(ok):
        return float("nan")
    prior = np.exp(-0.5 * np.log2(bpm[ok] / 120.0) ** 2)
    score = ac[1:][ok] * prior
    return float(bpm[ok][int(np.argmax(score))])


def count_onsets(onset_env: np.ndarray, frame_rate: float) -> int:
    """Onsets = envelope peaks that stand out from their 1-s neighbourhood, at least 60 ms apart."""
    from scipy.ndimage import median_filter
    from scipy.signal import find_peaks

    if onset_env.size < 3 or onset_env.max() <= 0:
        return 0
    env = onset_env / onset_env.max()
    local = median_filter(env, size=max(3, int(frame_rate)), mode="nearest")
    peaks, _ = find_peaks(env - local, height=0.1, distance=max(1, int(0.06 * frame_rate)))
    return int(peaks.size)


def chroma(mag: np.ndarray, sr: int, n_fft: int = N_FFT, fmin: float = 65.0, fmax: float = 2100.0) -> np.ndarray:
    """Mean 12-bin pitch-class profile (C first) of a magnitude spectrogram, summing to 1."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    band = (freqs >= fmin) & (freqs <= fmax)
    pc = np.round(12 * np.log2(freqs[band] / 440.0) + 69).astype(int) % 12
    energy = mag[:, band].sum(axis=0)
    out = np.bincount(pc, weights=energy, minlength=12)
    total = out.sum()
    return out / total if total > 0 else out


def key_profile_mode(chroma_vec: np.ndarray) -> tuple[float, str, float]:
    """(mode, key, strength): best-major minus best-minor correlation, best key, its correlation.

    >>> m, key, r = key_profile_mode(np.roll(KK_MAJOR, 7))  # the G-major profile itself
    >>> key, round(r, 3), m > 0
    ('G major', 1.0, True)
    """
    c = np.asarray(chroma_vec, dtype=np.float64)
    if np.ptp(c) == 0:
        return 0.0, "none", 0.0
    major = np.array([np.corrcoef(c, np.roll(KK_MAJOR, k))[0, 1] for k in range(12)])
    minor = np.array([np.corrcoef(c, np.roll(KK_MINOR, k))[0, 1] for k in range(12)])
    if major.max() >= minor.max():
        key, strength = f"{PITCH_CLASSES[int(np.argmax(major))]} major", float(major.max())
    else:
        key, strength = f"{PITCH_CLASSES[int(np.argmax(minor))]} minor", float(minor.max())
    return float(major.max() - minor.max()), key, strength


@lru_cache(maxsize=1)
def ideal_mode_contrast() -> float:
    """The mode value of the KK major profile itself (≈ 0.35; the minor profile gives ≈ −0.35).

    It is the largest contrast a chroma vector can plausibly show, so cue scaling uses it as ±1.
    """
    return key_profile_mode(KK_MAJOR)[0]


def roughness_of_peaks(freqs: np.ndarray, amps: np.ndarray) -> float:
    """Sensory dissonance of a set of partials, Σ aᵢaⱼ·PL(|fᵢ−fⱼ|) / Σ aᵢ² (level-independent)."""
    f = np.asarray(freqs, dtype=np.float64)
    a = np.asarray(amps, dtype=np.float64)
    if f.size < 2:
        return 0.0
    i, j = np.triu_indices(f.size, k=1)
    fmin = np.minimum(f[i], f[j])
    s = _D_STAR / (_S1 * fmin + _S2)
    df = np.abs(f[i] - f[j])
    d = a[i] * a[j] * (np.exp(-_B1 * s * df) - np.exp(-_B2 * s * df))
    return float(d.sum() / max((a**2).sum(), 1e-12))


def harmonic_tone(f0: float, n_harmonics: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Partials of an ideal harmonic tone with 1/k amplitudes (used for roughness references)."""
    k = np.arange(1, n_harmonics + 1)
    return f0 * k, 1.0 / k


@lru_cache(maxsize=1)
def roughness_references() -> tuple[float, float]:
    """Roughness of a consonant and a dissonant reference chord of harmonic tones on C4.

    (major triad C–E–G in just intonation, chromatic cluster C–C#–D in equal temperament):
    the two anchors of the dissonance cue. Computed, not fitted.
    """
    def chord(ratios):
        parts = [harmonic_tone(261.63 * r) for r in ratios]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    consonant = roughness_of_peaks(*chord([1.0, 5 / 4, 3 / 2]))
    dissonant = roughness_of_peaks(*chord([1.0, 2 ** (1 / 12), 2 ** (2 / 12)]))
    return consonant, dissonant


def spectral_peaks(spectrum: np.ndarray, sr: int, n_fft: int = N_FFT, fmin: float = 50.0, fmax: float = 5000.0,
                   max_peaks: int = 24, floor_db: float = -40.0) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of one magnitude spectrum (parabolic-interpolated frequency), strongest first."""
    from scipy.signal import find_peaks

    lo, hi = int(fmin * n_fft / sr), min(int(fmax * n_fft / sr), spectrum.size - 2)
    seg = spectrum[lo:hi]
    if seg.size < 3 or seg.max() <= 0:
        return np.zeros(0), np.zeros(0)
    idx, _ = find_peaks(seg, height=seg.max() * 10 ** (floor_db / 20))
    if idx.size == 0:
        return np.zeros(0), np.zeros(0)
    idx = idx[np.argsort(seg[idx])[::-1][:max_peaks]]
    k = idx + lo
    la, lb, lc = (np.log(spectrum[k + o] + 1e-12) for o in (-1, 0, 1))
    denom = la - 2 * lb + lc
    delta = np.where(np.abs(denom) > 1e-12, 0.5 * (la - lc) / np.where(denom == 0, 1, denom), 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    return (k + delta) * sr / n_fft, spectrum[k]


def extract_features(y: np.ndarray, sr: int = SR, *, roughness_frames_per_second: float = 5.0) -> MusicFeatures:
    """All descriptors of a mono clip at ``sr`` Hz (use `SR`; other rates work but shift nothing)."""
    y = np.asarray(y, dtype=np.float32)
    duration = y.size / sr
    mag = stft_magnitude(y)
    frame_rate = sr / HOP
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)

    # Level: RMS per hop-sized frame, mean power in dBFS (a full-scale sine reads -3 dB).
    frames = sliding_window_view(np.pad(y, (0, (-y.size) % HOP)), HOP)[::HOP]
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))
    loudness_db = float(10 * np.log10(max((rms**2).mean(), 1e-12)))

    power = mag.astype(np.float64) ** 2
    frame_energy = power.sum(axis=1)
    weights = frame_energy / max(frame_energy.sum(), 1e-12)
    centroid_per_frame = (power * freqs).sum(axis=1) / np.maximum(frame_energy, 1e-12)
    centroid_hz = float((centroid_per_frame * weights).sum())

    env = onset_envelope(mag)
    tempo_bpm = estimate_tempo(env, frame_rate)
    onset_rate = count_onsets(env, frame_rate) / max(duration, 1e-9)

    mode, key, key_strength = key_profile_mode(chroma(mag, sr))

    # Roughness and register on a subset of frames (a few per second is plenty for a clip mean),
    # skipping frames more than 40 dB below the loudest so silence and fades do not count.
    step = max(1, int(round(frame_rate / roughness_frames_per_second)))
    loud = frame_energy >= frame_energy.max() * 1e-4
    rough, reg_num, reg_den, w_sum = 0.0, 0.0, 0.0, 0.0
    for t in np.flatnonzero(loud)[::step]:
        pf, pa = spectral_peaks(mag[t], sr)
        if pf.size == 0:
            continue
        w = frame_energy[t]
        rough += w * roughness_of_peaks(pf, pa)
        w_sum += w
        band = (pf >= 80.0) & (pf <= 2000.0)
        if np.any(band):
            reg_num += w * float((pa[band] * np.log2(pf[band])).sum() / pa[band].sum())
            reg_den += w
    roughness = rough / w_sum if w_sum > 0 else 0.0
    register_hz = float(2 ** (reg_num / reg_den)) if reg_den > 0 else float("nan")

    return MusicFeatures(
        duration=float(duration), tempo_bpm=tempo_bpm, onset_rate=float(onset_rate),
        loudness_db=loudness_db, centroid_hz=centroid_hz, register_hz=register_hz,
        mode=mode, key=key, key_strength=key_strength, roughness=float(roughness),
    )
