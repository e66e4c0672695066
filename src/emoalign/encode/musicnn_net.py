"""musicnn (Pons & Serra 2019) re-implemented in PyTorch, weights read from the installed package.

The network is the ``MSD_musicnn`` model of the ``musicnn`` PyPI package (ISC licence, © 2019
Jordi Pons), trained on the Million Song Dataset's 50 most frequent last.fm tags. The package's
code is TensorFlow 1; here it is rebuilt layer for layer from ``musicnn/models.py``
(``build_musicnn`` with ``num_filt_midend=64, num_units_backend=200``) and its checkpoint is read
with `emoalign.encode.tf_checkpoint`, so neither TensorFlow nor librosa is needed.

Front end (the log-mel spectrogram, `log_mel`): 16 kHz audio, 512-point FFT (periodic Hann
window, centred frames with zero padding, as librosa ≥ 0.10), hop 256, power spectrum → 96 mel
bands (Slaney scale and area normalisation: librosa's defaults) → rounded to float16 exactly as
musicnn's ``batch_data`` does → ``log10(10000 · x + 1)``. Patches are 187 frames (3 s), taken
without overlap; a last partial patch is dropped (as musicnn does).

Network per patch (time × 96 mel): batch norm → five "musically motivated" convolutions over
the spectrogram — two timbral (7 × 38 and 7 × 67 time × frequency, 204 filters each) and three
temporal (128/64/32 × 1, 51 filters each) — each ReLU → batch norm → max over frequency; their
561 channels go through three 1-D convolutions over time (7 taps, 64 filters, residual); the 753
concatenated channels are pooled over time (max and mean, interleaved as TF's flatten does),
batch-normed, then a 200-unit dense ReLU layer + batch norm (the *penultimate* embedding) and a
50-unit dense layer with a sigmoid (the tag probabilities). Batch norm uses the stored moving
statistics with TF's epsilon 0.001.

>>> net = load_musicnn()  # doctest: +SKIP
>>> out = net(torch.from_numpy(patches))  # doctest: +SKIP
>>> out["tags"].shape, out["penultimate"].shape  # doctest: +SKIP
(torch.Size([10, 50]), torch.Size([10, 200]))
"""

from __future__ import annotations

from functools import lru_cache
from importlib import util as importlib_util
from pathlib import Path

import numpy as np

SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
#: Frames per patch: librosa.time_to_frames(3 s, sr=16000, n_fft=512, hop=256) + 1, as musicnn computes it.
PATCH_FRAMES = 187
BN_EPS = 1e-3
#: The 50 MSD tags, in the model's output order (musicnn/configuration.py, MSD_LABELS).
MSD_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock", "jazz",
    "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s",
    "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy",
    "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)


# -- front end -----------------------------------------------------------------------------------
def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa ``htk=False``): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz, min_log_mel, logstep = 200.0 / 3, 1000.0, 15.0, np.log(6.4) / 27.0
    mels = f / f_sp
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, mels)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz, min_log_mel, logstep = 200.0 / 3, 1000.0, 15.0, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@lru_cache(maxsize=4)
def mel_filters(sr: int = SR, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) float32 triangular filters, as ``librosa.filters.mel(sr=, n_fft=, n_mels=)``.

    >>> fb = mel_filters()
    >>> fb.shape, fb.dtype
    ((96, 257), dtype('float32'))
    """
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((n_mels, len(fft_freqs)), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])  # Slaney: constant energy per band
    weights *= enorm[:, None]
    return weights


def log_mel(y: np.ndarray) -> np.ndarray:
    """(frames, 96) float32 musicnn input spectrogram of a 16 kHz mono clip (see module doc).

    >>> log_mel(np.zeros(16000, np.float32)).shape
    (63, 96)
    """
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    pad = N_FFT // 2
    yp = np.pad(y, (pad, pad), mode="constant")
    n_frames = 1 + (yp.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(yp, shape=(n_frames, N_FFT), strides=(yp.strides[0] * HOP, yp.strides[0]))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann (scipy fftbins=True)
    spec = np.fft.rfft(frames * window, axis=1).astype(np.complex64)
    power = np.abs(spec) ** 2
    mel = power @ mel_filters().T
    mel = mel.astype(np.float16).astype(np.float32)  # musicnn stores the mel spectrogram as float16
    return np.log10(10000.0 * mel + 1.0).astype(np.float32)


def patches(spec: np.ndarray, frames: int = PATCH_FRAMES) -> tuple[np.ndarray, bool]:
    """Cut a (frames, 96) spectrogram into non-overlapping (n, 187, 96) patches.

    A spectrogram shorter than one patch is repeated until it fills one (the ``repeat-pad`` of
    musicnn's training configuration) and the second value is True; otherwise a last partial
    patch is dropped, as musicnn's ``batch_data`` does.

    >>> p, padded = patches(np.zeros((400, 96), np.float32))
    >>> p.shape, padded
    ((2, 187, 96), False)
    """
    if spec.shape[0] < frames:
        reps = -(-frames // max(spec.shape[0], 1))
        return np.tile(spec, (reps, 1))[None, :frames], True
    n = (spec.shape[0] - frames) // frames + 1
    return np.stack([spec[i * frames : (i + 1) * frames] for i in range(n)]), False


# -- network -------------------------------------------------------------------------------------
def package_model_dir(model: str = "MSD_musicnn") -> Path:
    """Folder of a musicnn checkpoint inside the installed ``musicnn`` package (not imported: it imports TF)."""
    spec = importlib_util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the musicnn package is not installed: pip install --no-deps musicnn==0.1.0")
    folder = Path(list(spec.submodule_search_locations)[0]) / model
    if not (folder / ".index").is_file():
        raise FileNotFoundError(f"{folder}: no musicnn checkpoint (.index) here")
    return folder


def _torch():
    import torch

    return torch


class _BN:
    """Inference batch norm from TF variables: y = (x − mean) / sqrt(var + eps) · gamma + beta."""

    def __init__(self, w: dict, name: str, torch) -> None:
        mean, var = w[f"{name}/moving_mean"], w[f"{name}/moving_variance"]
        gamma, beta = w[f"{name}/gamma"], w[f"{name}/beta"]
        scale = gamma / np.sqrt(var + np.float32(BN_EPS))
        self.scale = torch.from_numpy(scale.astype(np.float32))
        self.shift = torch.from_numpy((beta - mean * scale).astype(np.float32))

    def __call__(self, x, channel_dim: int = 1):
        shape = [1] * x.dim()
        shape[channel_dim] = -1
        return x * self.scale.view(shape) + self.shift.view(shape)


def _relu_bn_max_over_freq(z, norm: _BN):
    """``max over frequency of BN(ReLU(z))``, computed on the pooled tensor instead of the full map.

    ReLU and a per-channel affine map are monotone, so the max over frequency of BN(ReLU(z)) is
    BN(ReLU(max z)) where the channel's BN scale is ≥ 0 and BN(ReLU(min z)) where it is < 0 —
    the same element, hence the same float result (a monotone function of a float rounds
    monotonically) — at a fraction of the memory traffic (the front end's maps are ~20 M values).
    """
    zmin, zmax = z.aminmax(dim=3)
    pooled = zmax.where(norm.scale.view(1, -1, 1) >= 0, zmin)
    return norm(pooled.clamp_min(0))


class MusicnnNet:
    """The MSD musicnn graph in inference mode; call it on (n, 187, 96) float32 patches.

    Returns a dict of tensors: ``tags`` (n, 50) sigmoid probabilities, ``logits``,
    ``penultimate`` (n, 200), ``mean_pool`` and ``max_pool`` (n, 753).
    """

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        torch = _torch()
        self.torch = torch
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
        conv2d = lambda name: (t(weights[f"{name}/kernel"].transpose(3, 2, 0, 1)), t(weights[f"{name}/bias"]))  # noqa: E731
        # mid-end kernels are (7, channels, 1, 64) over a (time, channels) "image": 1-D convolutions over time
        conv1d = lambda name: (t(weights[f"{name}/kernel"][:, :, 0, :].transpose(2, 1, 0)), t(weights[f"{name}/bias"]))  # noqa: E731
        bn = lambda name: _BN(weights, name, torch)  # noqa: E731
        # TF names layers in creation order (models.py): conv2d … conv2d_7, batch_normalization … _10, dense, dense_1
        self.bn_in = bn("batch_normalization")
        self.timbral = [(conv2d("conv2d"), bn("batch_normalization_1")), (conv2d("conv2d_1"), bn("batch_normalization_2"))]
        self.temporal = [(conv2d(f"conv2d_{i}"), bn(f"batch_normalization_{i + 1}")) for i in (2, 3, 4)]
        self.midend = [(conv1d(f"conv2d_{i}"), bn(f"batch_normalization_{i + 1}")) for i in (5, 6, 7)]
        self.bn_pool = bn("batch_normalization_9")
        self.dense = (t(weights["dense/kernel"].T), t(weights["dense/bias"]))
        self.bn_dense = bn("batch_normalization_10")
        self.out = (t(weights["dense_1/kernel"].T), t(weights["dense_1/bias"]))

    @classmethod
    def from_checkpoint(cls, folder: str | Path) -> "MusicnnNet":
        from emoalign.encode.tf_checkpoint import read_checkpoint, read_index

        prefix = str(folder).rstrip("/") + "/"
        names = [k for k in read_index(prefix + ".index") if "Adam" not in k and not k.endswith("_power")]
        return cls(read_checkpoint(prefix, names))

    def __call__(self, x):
        torch, F = self.torch, self.torch.nn.functional
        with torch.inference_mode():
            x = torch.as_tensor(x, dtype=torch.float32)
            x = self.bn_in(x.unsqueeze(1))  # (n, 1, time, mel)
            front = []
            x7 = F.pad(x, (0, 0, 3, 3))  # 'same' in time only, frequency 'valid' (then max over it)
            for (w, b), norm in self.timbral:
                front.append(_relu_bn_max_over_freq(F.conv2d(x7, w, b), norm))
            for (w, b), norm in self.temporal:
                k = w.shape[2]  # TF 'same': (k-1)//2 before, the rest after
                y = F.conv2d(F.pad(x, (0, 0, (k - 1) // 2, k - 1 - (k - 1) // 2)), w, b)
                front.append(_relu_bn_max_over_freq(y, norm))
            front_cat = torch.cat(front, dim=1)  # (n, 561, time)
            mids = [front_cat]
            h = front_cat
            for i, ((w, b), norm) in enumerate(self.midend):
                y = norm(F.relu(F.conv1d(F.pad(h, (3, 3)), w, b)))
                h = y if i == 0 else y + h  # residual from the second layer on
                mids.append(h)
            feats = torch.cat(mids, dim=1)  # (n, 753, time)
            max_pool, mean_pool = feats.amax(dim=2), feats.mean(dim=2)
            flat = torch.stack([max_pool, mean_pool], dim=2).reshape(len(feats), -1)  # TF flatten of (753, 2)
            flat = self.bn_pool(flat)
            pen = self.bn_dense(F.relu(flat @ self.dense[0].T + self.dense[1]))
            logits = pen @ self.out[0].T + self.out[1]
            return {"tags": torch.sigmoid(logits), "logits": logits, "penultimate": pen,
                    "mean_pool": mean_pool, "max_pool": max_pool}

    @staticmethod
    def conv_flops_per_patch() -> int:
        """Multiply-adds ×2 of the convolutions and dense layers for one 187 × 96 patch."""
        T = PATCH_FRAMES
        macs = T * (96 - 38 + 1) * 204 * 7 * 38 + T * (96 - 67 + 1) * 204 * 7 * 67  # timbral
        macs += T * 96 * 51 * (128 + 64 + 32)  # temporal
        macs += T * 64 * 7 * (561 + 64 + 64)  # mid-end
        macs += 1506 * 200 + 200 * 50  # back-end
        return 2 * macs


@lru_cache(maxsize=2)
def load_musicnn(model: str = "MSD_musicnn") -> MusicnnNet:
    """The network with the installed package's weights, loaded once per process."""
    return MusicnnNet.from_checkpoint(package_model_dir(model))
