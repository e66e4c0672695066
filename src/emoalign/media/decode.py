"""Decoding media for the encoders: audio to mono float32 at a fixed rate, images to RGB arrays.

Every function takes a path or the raw bytes of a file and raises `DecodeError` naming the input
and the problem (missing, empty, undecodable, silent, too large) instead of returning garbage.
"""

from __future__ import annotations

import io
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoalign.errors import DecodeError
from emoalign.types import Input, describe_input

#: Refuse images with more pixels than this (decompression bombs); ~ 8k × 8k.
MAX_IMAGE_PIXELS = 64_000_000
#: Images are reduced to at most this many pixels on their longer side right after decoding (JPEGs
#: while decoding): no model here looks at more, and the working copies stay small.
MAX_IMAGE_SIDE = 2048
#: Refuse audio longer than this many seconds (a 10-minute clip is plenty for emotion). One limit
#: for every command and endpoint (analyze, match, pairs, the service).
MAX_AUDIO_SECONDS = 600.0
#: Frames read per block while streaming audio (downmixed to mono as it arrives).
_AUDIO_BLOCK = 1 << 16


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file's header says, before any sample is decoded."""

    rate: int
    channels: int
    frames: int | None  # None when the container does not say (streams, some MP3s)
    format: str

    @property
    def seconds(self) -> float | None:
        return None if self.frames is None else self.frames / self.rate


def _source(item: Input):
    """A binary file object for a path or bytes, refusing missing, folder and empty inputs by name."""
    if isinstance(item, bytes):
        if not item:
            raise DecodeError("<0 bytes>: empty file")
        return io.BytesIO(item)
    path = Path(item)
    if path.is_dir():
        raise DecodeError(f"{path}: is a folder, not a file")
    if not path.exists():
        raise DecodeError(f"{path}: no such file")
    if not path.is_file():
        raise DecodeError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise DecodeError(f"{path}: empty file")
    return open(path, "rb")


def read_head(item: Input, n: int = 64) -> bytes:
    """The first ``n`` bytes of a path or bytes (for sniffing); `DecodeError` for missing, folder, empty."""
    with _source(item) as fh:
        return fh.read(n)


def _open_bytes(item: Input) -> bytes:
    with _source(item) as fh:
        return fh.read()


def audio_info(item: Input) -> AudioInfo:
    """Rate, channels and length from the header (libsndfile; PyAV for MP4/M4A/MP3 it cannot read).

    >>> from emoalign.media.synth import clip_bytes, synth_clip
    >>> info = audio_info(clip_bytes(synth_clip(0.5, 0.5, seconds=1.5, sr=22050), sr=22050))
    >>> info.rate, info.channels, info.seconds
    (22050, 1, 1.5)
    """
    with _source(item) as fh:
        return _header(fh, describe_input(item))[0]


def _header(fh, name: str):
    """(AudioInfo, an open soundfile.SoundFile or None when only PyAV can read it)."""
    import soundfile as sf

    try:
        snd = sf.SoundFile(fh)
    except Exception as sf_error:  # not a libsndfile format: ask FFmpeg's demuxer (no decoding)
        fh.seek(0)
        try:
            import av
        except ImportError:
            raise DecodeError(f"{name}: cannot decode audio ({_plain(sf_error)})") from None
        if sniff_kind(fh.read(64)) is None:  # neither libsndfile's nor a container FFmpeg should try
            raise DecodeError(f"{name}: cannot decode audio ({_plain(sf_error)})")
        fh.seek(0)
        try:
            with av.open(fh) as container:
                stream = next((s for s in container.streams if s.type == "audio"), None)
                if stream is None:
                    raise DecodeError(f"{name}: no audio stream")
                rate = int(stream.codec_context.sample_rate or stream.rate or 0)
                channels = int(stream.codec_context.channels or 1)
                seconds = None
                if stream.duration is not None and stream.time_base is not None:
                    seconds = float(stream.duration * stream.time_base)
                elif container.duration is not None:
                    seconds = container.duration / 1e6
                fmt = container.format.name
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(f"{name}: cannot decode audio ({_plain(exc)})") from None
        if rate <= 0:
            raise DecodeError(f"{name}: the audio stream gives no sample rate")
        frames = None if seconds is None else int(round(seconds * rate))
        return AudioInfo(rate, channels, frames, fmt), None
    if snd.samplerate <= 0 or snd.channels <= 0:
        raise DecodeError(f"{name}: header gives {snd.samplerate} Hz and {snd.channels} channels")
    frames = int(snd.frames) if 0 < snd.frames < 2**62 else None
    return AudioInfo(int(snd.samplerate), int(snd.channels), frames, str(snd.format)), snd


def _plain(exc: BaseException) -> str:
    """A decoder's message without Python object reprs (`<_io.BytesIO object at 0x…>`)."""
    import re

    text = re.sub(r"\s*<_io\.\w+ (object at 0x[0-9a-fA-F]+|name=[^>]*)>", "", str(exc))
    text = re.sub(r"^Error opening\s*:?\s*", "", text).strip()
    return text or type(exc).__name__


def _wav_declared_seconds(head: bytes) -> float | None:
    """The duration a WAV header declares (from its data chunk size), to name truncated files."""
    import struct

    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, rate, align = 12, None, None
    while pos + 8 <= len(head):
        cid, size = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
        if cid == b"fmt " and pos + 8 + 16 <= len(head):
            _, _, rate, _, align = struct.unpack("<HHIIH", head[pos + 8:pos + 8 + 14])
        if cid == b"data":
            if not rate or not align or size in (0, 0xFFFFFFFF):
                return None  # streamed WAVs leave the size open
            return size / align / rate
        pos += 8 + size + (size & 1)
    return None


def load_audio(
    item: Input,
    sr: int = 16000,
    *,
    max_seconds: float = MAX_AUDIO_SECONDS,
    keep_seconds: float | None = None,
    allow_silent: bool = False,
) -> np.ndarray:
    """Decode audio to mono float32 in [-1, 1] at ``sr`` Hz, with bounded time and memory.

    The header is read first: a file longer than ``max_seconds`` is refused before any sample is
    decoded (an hour of silent FLAC is 0.7 MB compressed and 1.4 GB decoded). Samples are then
    read in blocks and downmixed as they come; a header that lies is caught by counting. With
    ``keep_seconds`` only the beginning a model uses is decoded. A WAV whose data chunk is shorter
    than its header declares is refused as truncated.

    >>> from emoalign.media.synth import clip_bytes, synth_clip
    >>> y = load_audio(clip_bytes(synth_clip(0.5, 0.5, seconds=1.0, sr=22050), sr=22050))
    >>> y.dtype, y.shape, float(abs(y).max()) <= 1.0
    (dtype('float32'), (16000,), True)
    """
    name = describe_input(item)
    with _source(item) as fh:
        head = fh.read(4096)
        fh.seek(0)
        info, snd = _header(fh, name)
        if info.seconds is not None and info.seconds > max_seconds:
            raise DecodeError(f"{name}: {info.seconds:.0f} s of audio is longer than the {max_seconds:.0f} s limit")
        limit = int(max_seconds * info.rate) + 1  # frames: more than this and the header lied
        want = limit if keep_seconds is None else min(limit, max(1, int(np.ceil(keep_seconds * info.rate))))
        if snd is not None:
            y = _read_blocks(snd, want, limit, info, name, keep_seconds is not None)
        else:
            fh.seek(0)
            y = _read_av(fh, want, limit, info, name, keep_seconds is not None)
    declared = _wav_declared_seconds(head)
    if declared is not None and declared - y.size / info.rate > 0.05 and (keep_seconds is None or y.size < want):
        raise DecodeError(f"{name}: truncated WAV: the header declares {declared:.2f} s but the file holds "
                          f"{y.size / info.rate:.2f} s (an interrupted copy or download?)")
    if y.size == 0:
        raise DecodeError(f"{name}: no audio samples")
    if not np.all(np.isfinite(y)):
        raise DecodeError(f"{name}: audio contains NaN or infinite samples")
    if info.rate != sr:
        y = resample(y, info.rate, sr)
    if not allow_silent and float(np.max(np.abs(y))) < 1e-4:
        raise DecodeError(f"{name}: audio is silent (peak below -80 dBFS)")
    return y.astype(np.float32, copy=False)


def _too_long(name: str, frames: int, rate: int, limit: int) -> DecodeError:
    return DecodeError(f"{name}: audio runs past the {(limit - 1) / rate:.0f} s limit (its header did not say so)")


def _read_blocks(snd, want: int, limit: int, info: AudioInfo, name: str, partial: bool) -> np.ndarray:
    """Read at most ``want`` frames from a libsndfile handle, downmixing each block to mono."""
    parts, got = [], 0
    try:
        while got < want:
            block = snd.read(min(_AUDIO_BLOCK, want - got + (0 if partial else 1)), dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                break
            got += block.shape[0]
            if got > limit - 1 and not partial:
                raise _too_long(name, got, info.rate, limit)
            parts.append(block[:, 0].copy() if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32))
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(f"{name}: cannot decode audio ({_plain(exc)})") from None
    finally:
        snd.close()
    y = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return y[:want]


def _read_av(fh, want: int, limit: int, info: AudioInfo, name: str, partial: bool) -> np.ndarray:
    """The same with PyAV (FFmpeg) for containers libsndfile cannot read; stops at ``want`` frames."""
    import av

    parts, got = [], 0
    try:
        with av.open(fh) as container:
            stream = next(s for s in container.streams if s.type == "audio")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=info.rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    got += chunk.size
                    parts.append(chunk)
                if got >= want:
                    break
    except Exception as exc:
        raise DecodeError(f"{name}: cannot decode audio ({_plain(exc)})") from None
    if not parts:
        raise DecodeError(f"{name}: audio stream has no frames")
    if got > limit - 1 and not partial:
        raise _too_long(name, got, info.rate, limit)
    return np.concatenate(parts)[:want]


def resample(y: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Polyphase resampling (scipy), exact for integer-ratio rates."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(sr_from, sr_to)
    return resample_poly(y, sr_to // g, sr_from // g).astype(np.float32)


#: Background that transparent pixels are composited onto (mid grey: neither bright nor dark).
ALPHA_BACKGROUND = (128, 128, 128)


def to_rgb(im):
    """A decoded PIL image as 8-bit RGB, keeping what its mode means.

    - 16-bit and 32-bit grey or float ("I;16", "I", "F"): scaled from the mode's range to 0–255
      (``convert("RGB")`` would clip everything above 255 to white);
    - transparency (RGBA, LA, palette with a transparent index): composited onto mid grey
      (``convert("RGB")`` would expose whatever colour the transparent pixels happen to hold);
    - CMYK, YCbCr, palette, 1-bit, grey: Pillow's own conversion.
    """
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if im.mode.startswith("I;16"):
            top = 65535.0
        elif im.mode == "I":
            top = 65535.0 if arr.max(initial=0) > 255 else 255.0
        else:
            top = 1.0 if arr.max(initial=0) <= 1.0 else max(float(arr.max()), 1.0)
        grey = np.clip(np.nan_to_num(arr) / top * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", rgba.size, ALPHA_BACKGROUND + (255,))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return im.convert("RGB")


@dataclass(frozen=True)
class ImageInfo:
    """What an image file's header says (nothing decoded)."""

    width: int
    height: int
    mode: str
    format: str | None


def image_info(item: Input, *, max_pixels: int = MAX_IMAGE_PIXELS) -> ImageInfo:
    """Size, mode and format from the header; refuses unreadable headers and pixel bombs (no decoding).

    >>> from emoalign.media.synth import image_bytes, synth_image
    >>> image_info(image_bytes(synth_image(0.5, 0.5, size=32)))
    ImageInfo(width=32, height=32, mode='RGB', format='PNG')
    """
    name = describe_input(item)
    with _opened_image(item, name) as im:
        info = ImageInfo(im.size[0], im.size[1], im.mode, im.format)
    _check_pixels(info.width, info.height, max_pixels, name)
    return info


@contextmanager
def _opened_image(item: Input, name: str):
    """The image opened lazily (header read, pixels not yet decoded); whatever goes wrong inside the
    ``with`` — PIL's bomb guards, a broken file — becomes a `DecodeError` naming the input."""
    from PIL import Image

    with _source(item) as fh:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(fh) as im:
                    yield im
        except DecodeError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise DecodeError(f"{name}: refused as a decompression bomb ({_plain(exc)})") from None
        except Exception as exc:
            raise DecodeError(f"{name}: cannot decode image ({_plain(exc)})") from None


def _check_pixels(w: int, h: int, max_pixels: int, name: str) -> None:
    if w * h > max_pixels:
        raise DecodeError(f"{name}: {w}×{h} image exceeds the {max_pixels:,}-pixel limit (decompression bomb?)")


def music_waveform(y: np.ndarray, sr: int, target_sr: int, min_seconds: float, name: str = "waveform") -> np.ndarray:
    """A decoded clip as mono float32 at ``target_sr``, refused with a `DecodeError` naming it when it
    is shorter than ``min_seconds``, not finite, or silent (peak below -80 dBFS) — what no music
    model can read.

    >>> music_waveform(np.full(8000, 0.1, np.float32), 8000, 16000, 0.5).shape
    (16000,)
    """
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if sr != target_sr:
        y = resample(y, sr, target_sr)
    if y.size < min_seconds * target_sr:
        raise DecodeError(f"{name}: {y.size / target_sr:.2f} s of audio is too short for music analysis (needs ≥ {min_seconds:g} s)")
    if not np.all(np.isfinite(y)):
        raise DecodeError(f"{name}: audio contains NaN or infinite samples")
    if float(np.max(np.abs(y))) < 1e-4:
        raise DecodeError(f"{name}: audio is silent (peak below -80 dBFS)")
    return y


def load_image(item: Input, *, max_pixels: int = MAX_IMAGE_PIXELS, max_side: int | None = MAX_IMAGE_SIDE) -> np.ndarray:
    """Decode an image to an RGB uint8 array (H, W, 3), refusing decompression bombs, bounding memory.

    The size is read from the header before decoding (pixel bombs are refused at no cost). A JPEG
    is decoded at a reduced scale when it is much larger than ``max_side`` (libjpeg's DCT
    scaling); any image is reduced to at most ``max_side`` pixels on its longer side right after
    decoding, before the RGB conversion, so the full-size copy is freed at once.

    >>> from emoalign.media.synth import image_bytes, synth_image
    >>> img = load_image(image_bytes(synth_image(0.5, 0.5, size=48), fmt="JPEG"))
    >>> img.shape, img.dtype
    ((48, 48, 3), dtype('uint8'))
    """
    name = describe_input(item)
    with _opened_image(item, name) as im:
        w, h = im.size
        _check_pixels(w, h, max_pixels, name)
        if max_side and max(w, h) > 2 * max_side and im.format == "JPEG":
            im.draft("RGB", (max(1, w * max_side // max(w, h)), max(1, h * max_side // max(w, h))))
        im.load()
        work = _shrink(im, max_side)
        rgb = to_rgb(work)  # 16-bit scaled, transparency composited (not clipped / exposed)
        return np.asarray(rgb)


def _shrink(im, max_side: int | None):
    """``im`` reduced (box filter, integer factor) so its longer side is at most about ``max_side``."""
    if not max_side:
        return im
    w, h = im.size
    factor = -(-max(w, h) // max_side)  # ceil
    if factor <= 1:
        return im
    if im.mode not in ("L", "RGB", "RGBA", "LA", "I", "F", "RGBX", "CMYK", "YCbCr"):
        im = to_rgb(im)  # e.g. 16-bit grey: scaled to 8 bits, not clipped by a plain convert
    return im.reduce(factor)


def image_size(item: Input) -> tuple[int, int]:
    """(width, height) of an image from its header, without decoding the pixels.

    >>> image_size("photo.jpg")  # doctest: +SKIP
    (640, 480)
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(_open_bytes(item))) as im:
            return im.size
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(f"{describe_input(item)}: cannot decode image ({exc})") from None


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


#: The usual file-name suffix of each MIME type `sniff_mime` recognises.
MIME_SUFFIXES: dict[str, str] = {
    "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/bmp": ".bmp", "image/webp": ".webp",
    "audio/wav": ".wav", "audio/flac": ".flac", "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a",
    "video/mp4": ".mp4", "video/webm": ".webm", "video/x-msvideo": ".avi",
}


def sniff_suffix(head: bytes) -> str:
    r"""The file-name suffix of a file from its first bytes, or ``""`` if unrecognised.

    >>> sniff_suffix(b"\xff\xd8\xff\xe0" + bytes(8)), sniff_suffix(b"hello")
    ('.jpg', '')
    """
    return MIME_SUFFIXES.get(sniff_mime(head) or "", "")


def sniff_kind(head: bytes) -> str | None:
    r"""Guess 'image', 'audio', 'video' or None from a file's first bytes.

    >>> sniff_kind(b"fLaC\x00\x00"), sniff_kind(b"hello")
    ('audio', None)
    """
    mime = sniff_mime(head)
    return None if mime is None else mime.split("/", 1)[0]
