"""Media in and out: bounded decoding of audio, images and video, file-type sniffing, and
synthetic but real media for tests and demos. Knows nothing about models.

>>> from emoalign.media import load_audio, synth_clip, clip_bytes
>>> load_audio(clip_bytes(synth_clip(0.5, 0.5, seconds=1.0)), sr=16000).shape
(16000,)
"""

from emoalign.media.decode import MAX_AUDIO_SECONDS, MAX_IMAGE_PIXELS, load_audio, load_image, resample, sniff_kind, sniff_mime
from emoalign.media.synth import clip_bytes, image_bytes, synth_clip, synth_image, write_clip, write_image

__all__ = [
    "MAX_AUDIO_SECONDS", "MAX_IMAGE_PIXELS", "clip_bytes", "image_bytes", "load_audio", "load_image",
    "resample", "sniff_kind", "sniff_mime", "synth_clip", "synth_image", "write_clip", "write_image",
]
