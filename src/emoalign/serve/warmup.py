"""Warm the service's encoders at start-up: one small generated input each.

Most encoders construct cheaply and load their model on the first `encode` (the text encoder's
sentence model takes ~1.5 s, the image backbone's ONNX session ~0.3 s). Running each once when
the service starts moves that wait from the first user to the start, and a model file that is
present but unusable shows up in /api/health instead of in someone's request.

>>> warm_up(get_encoder("text-use"))  # doctest: +SKIP
"""

from __future__ import annotations

import io

import numpy as np

from emoalign.encode.base import Encoder, Input

_SR = 16000


def _tone(seconds: float) -> np.ndarray:
    """A quiet two-tone signal (not silence: encoders rightly refuse silent audio)."""
    t = np.arange(int(seconds * _SR)) / _SR
    return (0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)


def _tone_wav(seconds: float = 2.0) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, _tone(seconds), _SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _gradient_png(size: int = 96) -> bytes:
    from PIL import Image

    ramp = np.linspace(0, 255, size, dtype=np.uint8)
    rgb = np.stack([np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size)), np.full((size, size), 128, np.uint8)], -1)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _short_video() -> bytes:
    from emoalign.encode.media import load_image
    from emoalign.encode.video_io import write_video

    frame = load_image(_gradient_png(64))
    return write_video(None, [frame] * 5, fps=5.0, audio=_tone(1.0), sr=_SR)


def warm_up_input(modality: str) -> Input:
    """A small, valid input of ``modality`` (text, image, face, music, speech, video)."""
    if modality == "text":
        return "warm-up"
    if modality in ("image", "face"):
        return _gradient_png()
    if modality in ("music", "speech"):
        return _tone_wav()
    if modality == "video":
        return _short_video()
    raise ValueError(f"no warm-up input for modality {modality!r}")


def warm_up(encoder: Encoder) -> str | None:
    """Run ``encoder`` once on a generated input; returns its per-input error, if any.

    The per-input error is informational (a face encoder finds no face in a gradient); an
    exception — a model that cannot load or run — propagates to the caller.
    """
    result = encoder.encode([warm_up_input(encoder.modality)])[0]
    return result.error
