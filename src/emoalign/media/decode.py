"""Decoding media for the encoders: audio to mono float32 at a fixed rate, images to RGB arrays.

Every function takes a path or the raw bytes of a file and raises `DecodeError` naming the input
and the problem (missing, empty, undecodable, silent, too large) instead of returning garbage.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from emoalign.errors import DecodeError
from emoalign.types import Input, describe_input

#: Refuse images with more pixels than this (decompression bombs); ~ 8k × 8k.
MAX_IMAGE_PIXELS = 64_000_000
#: Refuse audio longer than this many seconds (a 10-minute clip is plenty for emotion).
MAX_AUDIO_SECONDS = 600.0


def _open_bytes(item: Input) -> bytes:
    if isinstance(item, bytes):
        data = item
    else:
        path = Path(item)
        if not path.is_file():
            raise DecodeError(f"{path}: no such file")
        data = path.read_bytes()
    if not data:
        raise DecodeError(f"{describe_input(item)}: empty file")
    return data


def load_audio(item: Input, sr: int = 16000, *, max_seconds: float = MAX_AUDIO_SECONDS, allow_silent: bool = False) -> np.ndarray:
    """Decode audio to mono float32 in [-1, 1] at ``sr`` Hz.

    >>> y = load_audio("clip.wav")  # doctest: +SKIP
    """
    data = _open_bytes(item)
    name = describe_input(item)
    y, native_sr = _decode_audio(data, name)
    if y.ndim == 2:
        y = y.mean(axis=1)
    if y.size == 0:
        raise DecodeError(f"{name}: no audio samples")
    if y.size / native_sr > max_seconds:
        raise DecodeError(f"{name}: {y.size / native_sr:.0f} s of audio is longer than the {max_seconds:.0f} s limit")
    if not np.all(np.isfinite(y)):
        raise DecodeError(f"{name}: audio contains NaN or infinite samples")
    if native_sr != sr:
        y = resample(y, native_sr, sr)
    if not allow_silent and float(np.max(np.abs(y))) < 1e-4:
        raise DecodeError(f"{name}: audio is silent (peak below -80 dBFS)")
    return y.astype(np.float32)


def _decode_audio(data: bytes, name: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        y, native_sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
        return np.asarray(y), int(native_sr)
    except Exception as sf_error:  # libsndfile cannot read it: try FFmpeg (mp4/m4a/aac/webm …) if present
        try:
            return _decode_audio_ffmpeg(data)
        except ImportError:
            raise DecodeError(f"{name}: cannot decode audio ({sf_error})") from None
        except Exception as exc:
            raise DecodeError(f"{name}: cannot decode audio ({exc})") from None


def _decode_audio_ffmpeg(data: bytes) -> tuple[np.ndarray, int]:
    import av  # optional: PyAV

    with av.open(io.BytesIO(data)) as container:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise DecodeError("no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono")
        chunks = []
        rate = None
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                rate = out.sample_rate
                chunks.append(out.to_ndarray().reshape(-1))
        if not chunks:
            raise DecodeError("audio stream has no frames")
        return np.concatenate(chunks), int(rate)


def resample(y: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Polyphase resampling (scipy), exact for integer-ratio rates."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(sr_from, sr_to)
    return resample_poly(y, sr_to // g, sr_from // g).astype(np.float32)


def load_image(item: Input, *, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode an image to an RGB uint8 array (H, W, 3), refusing decompression bombs.

    >>> img = load_image("photo.jpg")  # doctest: +SKIP
    """
    from PIL import Image

    data = _open_bytes(item)
    name = describe_input(item)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise DecodeError(f"{name}: {w}×{h} image exceeds the {max_pixels:,}-pixel limit (decompression bomb?)")
                im.load()
                rgb = im.convert("RGB")
    except DecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecodeError(f"{name}: refused as a decompression bomb ({exc})") from None
    except Exception as exc:
        raise DecodeError(f"{name}: cannot decode image ({exc})") from None
    return np.asarray(rgb)


# Magic numbers → MIME type, for `--modality auto` and upload checks (by content, not by name).
_SIGNATURES: list[tuple[bytes, int, str]] = [
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF8", 0, "image/gif"),
    (b"BM", 0, "image/bmp"),
    (b"RIFF", 0, "riff"),  # WAVE, WEBP or AVI: disambiguated below
    (b"fLaC", 0, "audio/flac"),
    (b"OggS", 0, "audio/ogg"),
    (b"ID3", 0, "audio/mpeg"),
    (b"\xff\xfb", 0, "audio/mpeg"),
    (b"\xff\xf3", 0, "audio/mpeg"),
    (b"\xff\xf2", 0, "audio/mpeg"),
    (b"ftyp", 4, "video/mp4"),  # MP4/M4A/MOV: refined below
    (b"\x1a\x45\xdf\xa3", 0, "video/webm"),  # Matroska/WebM
]
_RIFF = {b"WAVE": "audio/wav", b"WEBP": "image/webp", b"AVI ": "video/x-msvideo"}


def sniff_mime(head: bytes) -> str | None:
    r"""The MIME type of a file from its first bytes (at least 12), or None if unrecognised.

    >>> sniff_mime(b"\x89PNG\r\n\x1a\n" + bytes(8)), sniff_mime(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    ('image/png', 'audio/wav')
    """
    for magic, offset, mime in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if mime == "riff":
                return _RIFF.get(head[8:12])
            if mime == "video/mp4" and head[8:11] in (b"M4A", b"M4B"):
                return "audio/mp4"
            return mime
    return None


def sniff_kind(head: bytes) -> str | None:
    r"""Guess 'image', 'audio', 'video' or None from a file's first bytes.

    >>> sniff_kind(b"fLaC\x00\x00"), sniff_kind(b"hello")
    ('audio', None)
    """
    mime = sniff_mime(head)
    return None if mime is None else mime.split("/", 1)[0]
