"""Encoders: a registry of per-modality models behind one protocol (`Encoder`).

>>> from emoalign.encode import ENCODERS
>>> "text-use" in ENCODERS
True
"""

from emoalign.encode.base import DecodeError, Encoder, EncodeResult, Input
from emoalign.encode.registry import ENCODERS, available_encoders, default_encoder, get_encoder

__all__ = ["DecodeError", "ENCODERS", "EncodeResult", "Encoder", "Input", "available_encoders", "default_encoder", "get_encoder"]
