"""Warm the service's encoders at start-up: one small generated input each.

Most encoders construct cheaply and load their model on the first `encode` (the text encoder's
sentence model takes ~1.5 s, the image backbone's ONNX session ~0.3 s). Running each once when
the service starts moves that wait from the first user to the start, and a model file that is
present but unusable shows up in /api/health instead of in someone's request.

>>> warm_up(get_encoder("text-use"))  # doctest: +SKIP
"""

from __future__ import annotations

from emoalign.encode.base import Encoder, Input
from emoalign.media.synth import SR, clip_bytes, image_bytes, synth_clip, synth_image


def _short_video() -> bytes:
    from emoalign.media.video import write_video

    frame = synth_image(0.5, 0.5, size=64)
    return write_video(None, [frame] * 5, fps=5.0, audio=synth_clip(0.5, 0.5, seconds=1.0), sr=SR)


def warm_up_input(modality: str) -> Input:
    """A small, valid input of ``modality`` (text, image, face, music, speech, video)."""
    if modality == "text":
        return "warm-up"
    if modality in ("image", "face"):
        return image_bytes(synth_image(0.5, 0.5))
    if modality in ("music", "speech"):
        return clip_bytes(synth_clip(0.5, 0.5))
    if modality == "video":
        return _short_video()
    raise ValueError(f"no warm-up input for modality {modality!r}")


def warm_up(encoder: Encoder) -> str | None:
    """Run ``encoder`` once on a generated input; returns its per-input error, if any.

    The per-input error is informational (a face encoder finds no face in a generated picture); an
    exception — a model that cannot load or run — propagates to the caller.
    """
    result = encoder.encode([warm_up_input(encoder.modality)])[0]
    return result.error
