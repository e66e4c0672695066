"""Video files in and out with PyAV (FFmpeg): sampled RGB frames and a mono audio track.

`decode_video` reads a path or the bytes of a file in one demuxing pass, keeps frames at a
fixed sampling rate (e.g. 2 per second, downscaled so the longer side is at most ``max_side``)
and the first audio stream resampled to mono float32. `write_video` makes real, decodable
clips (frames + optional audio) for tests, benchmarks and demos.

>>> import numpy as np
>>> frames = [np.full((64, 64, 3), 40 * i, np.uint8) for i in range(5)]
>>> data = write_video(None, frames, fps=5, audio=np.zeros(16000, np.float32) + 0.1)
>>> v = decode_video(data, fps=2.0)
>>> len(v.frames), v.audio.shape[0] > 0, round(v.duration, 1)
(2, True, 1.0)
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

from emoalign.errors import DecodeError
from emoalign.types import Input, describe_input

#: Refuse videos longer than this (the same limit as audio in `emoalign.media.decode`).
MAX_VIDEO_SECONDS = 600.0


@dataclass
class DecodedVideo:
    """Sampled frames (time in seconds, RGB uint8 array), the audio track and the duration."""

    frames: list[tuple[float, np.ndarray]] = field(default_factory=list)
    audio: np.ndarray | None = None
    sr: int = 16000
    duration: float = 0.0
    width: int = 0
    height: int = 0
    frames_decoded: int = 0


def _open(item: Input):
    import av

    name = describe_input(item)
    if isinstance(item, bytes):
        if not item:
            raise DecodeError(f"{name}: empty file")
        source = io.BytesIO(item)
    else:
        path = Path(item)
        if not path.is_file():
            raise DecodeError(f"{path}: no such file")
        if path.stat().st_size == 0:
            raise DecodeError(f"{path}: empty file")
        source = str(path)
    try:
        return av.open(source, mode="r")
    except Exception as exc:  # av.error.InvalidDataError and friends
        raise DecodeError(f"{name}: cannot open as video ({exc})") from None


def decode_video(
    item: Input,
    fps: float = 2.0,
    sr: int = 16000,
    *,
    max_side: int = 960,
    max_seconds: float = MAX_VIDEO_SECONDS,
    with_audio: bool = True,
) -> DecodedVideo:
    """Frames sampled at ``fps`` and the first audio stream as mono float32 at ``sr`` Hz.

    Raises `DecodeError` (naming the input) for missing, empty, undecodable, overlong or
    frame-less files. A file with no audio stream gives ``audio=None``.
    """
    import av

    name = describe_input(item)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    out = DecodedVideo(sr=sr)
    step = 1.0 / fps
    with _open(item) as container:
        vstreams = [s for s in container.streams if s.type == "video"]
        astreams = [s for s in container.streams if s.type == "audio"] if with_audio else []
        if not vstreams:
            raise DecodeError(f"{name}: no video stream (for audio files use a speech or music encoder)")
        vstream = vstreams[0]
        vstream.thread_type = "AUTO"
        if container.duration is not None and container.duration / 1e6 > max_seconds:
            raise DecodeError(f"{name}: {container.duration / 1e6:.0f} s of video is longer than the {max_seconds:.0f} s limit")
        astream = astreams[0] if astreams else None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr) if astream is not None else None
        chunks: list[np.ndarray] = []
        next_t, last_t, frame_dur = 0.0, 0.0, 0.0
        rate = vstream.average_rate or vstream.guessed_rate
        if rate:
            frame_dur = float(1 / Fraction(rate))
        try:
            for packet in container.demux(*(s for s in (vstream, astream) if s is not None)):
                for frame in packet.decode():
                    if packet.stream.type == "video":
                        t = float(frame.time) if frame.time is not None else out.frames_decoded * frame_dur
                        out.frames_decoded += 1
                        last_t = max(last_t, t)
                        if t > max_seconds:
                            raise DecodeError(f"{name}: video runs past the {max_seconds:.0f} s limit")
                        if t + 1e-6 >= next_t:
                            out.frames.append((t, _rgb(frame, max_side)))
                            out.width, out.height = frame.width, frame.height
                            while next_t <= t + 1e-6:
                                next_t += step
                    else:
                        for res in resampler.resample(frame):
                            chunks.append(res.to_ndarray().reshape(-1))
            if resampler is not None:
                for res in resampler.resample(None):  # flush
                    chunks.append(res.to_ndarray().reshape(-1))
        except DecodeError:
            raise
        except Exception as exc:  # corrupt packets part-way through
            if not out.frames:
                raise DecodeError(f"{name}: cannot decode video ({exc})") from None
    if not out.frames:
        raise DecodeError(f"{name}: video stream has no decodable frames")
    if chunks:
        audio = np.concatenate(chunks).astype(np.float32)
        if not np.all(np.isfinite(audio)):
            raise DecodeError(f"{name}: audio track contains NaN or infinite samples")
        out.audio = audio
    audio_seconds = 0.0 if out.audio is None else out.audio.size / sr
    out.duration = max(last_t + frame_dur, audio_seconds)
    return out


def _rgb(frame, max_side: int) -> np.ndarray:
    """RGB uint8 array of a frame, downscaled (aspect kept) so its longer side is ≤ ``max_side``."""
    w, h = frame.width, frame.height
    scale = min(1.0, max_side / max(w, h))
    if scale < 1.0:
        frame = frame.reformat(width=max(2, int(round(w * scale))), height=max(2, int(round(h * scale))), format="rgb24")
        return frame.to_ndarray()
    return frame.to_ndarray(format="rgb24")


def write_video(
    path: str | Path | None,
    frames: Sequence[np.ndarray],
    fps: float = 25.0,
    audio: np.ndarray | None = None,
    sr: int = 16000,
    *,
    codec: str = "mpeg4",
    container_format: str = "mp4",
) -> bytes | Path:
    """Write RGB uint8 frames (all the same even size) and optional mono audio as a video file.

    Returns the path, or the file's bytes when ``path`` is None. Audio is AAC, video MPEG-4
    part 2 by default (both encoders are built into FFmpeg, so every PyAV wheel has them).
    """
    import av

    if not frames:
        raise ValueError("write_video needs at least one frame")
    h, w = frames[0].shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"frame size {w}×{h} must be even for yuv420p")
    target = io.BytesIO() if path is None else str(path)
    with av.open(target, mode="w", format=container_format) as out:
        vs = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.bit_rate = 2_000_000
        astream = None
        if audio is not None:
            astream = out.add_stream("aac", rate=sr)
            astream.layout = "mono"
        for img in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img, dtype=np.uint8), format="rgb24")):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if astream is not None:
            samples = np.clip(np.asarray(audio, dtype=np.float32).reshape(1, -1), -1, 1)
            block = 1024
            for start in range(0, samples.shape[1], block):
                chunk = np.ascontiguousarray(samples[:, start : start + block])
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate = sr
                frame.pts = start
                for packet in astream.encode(frame):
                    out.mux(packet)
            for packet in astream.encode(None):
                out.mux(packet)
    if path is None:
        return target.getvalue()
    return Path(path)
