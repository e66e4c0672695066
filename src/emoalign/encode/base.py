"""The encoder protocol: a batch of inputs in, one `EncodeResult` per input out.

An encoder places each input in the affect space (an `Affect` over its taxonomy) and/or in a
semantic vector space (a row vector whose space id is the encoder's ``space``). A failing input
never fails the batch: its result carries ``error`` and the others go on.

>>> from emoalign.encode import get_encoder
>>> enc = get_encoder("text-use")  # doctest: +SKIP
>>> [r.affect.top() for r in enc.encode(["I am so happy today!"])]  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from emoalign.errors import DecodeError
from emoalign.types import Affect, Embeddings, Input, describe_input

__all__ = ["DecodeError", "EncodeResult", "Encoder", "Input", "describe_input", "safe_encode"]

@dataclass
class EncodeResult:
    """One input's outcome. ``details`` holds modality-specific extras (face boxes, segments, …)."""

    affect: Affect | None = None
    vector: np.ndarray | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


class Encoder(ABC):
    """Base class of every encoder. Subclasses set the class attributes and implement `encode`."""

    #: Registry name (``emoalign backends`` lists them).
    name: ClassVar[str]
    #: Modality it reads: speech, music, image, face, text or video.
    modality: ClassVar[str]
    #: Taxonomy of the `Affect` it returns (None if it returns no affect).
    taxonomy: ClassVar[str | None] = None
    #: Vector-space id of its embeddings (None if it returns none). Equal ids ⇔ comparable vectors.
    space: ClassVar[str | None] = None
    #: Bump when the encoder's outputs change (new weights, features, preprocessing): it is part of
    #: the feature-store key, so stored features of the old version are not reused.
    version: ClassVar[str] = "1"

    #: Constructor parameters that never change outputs (where it runs, how many at once, whether
    #: it may download): left out of the encoder's identity in the feature store.
    runtime_params: ClassVar[tuple[str, ...]] = ("device", "batch_size", "local_files_only", "threads", "workers")

    @classmethod
    def resolve_config(cls, config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Every constructor parameter that changes outputs, defaults filled in: the configured
        instance's identity (with `version`). ``environ`` (default ``os.environ``) supplies what
        an encoder reads from the environment, e.g. a hub checkpoint; subclasses that do so
        override `fill_config`. Unknown parameters raise `TypeError` naming them.

        >>> from emoalign.encode.registry import encoder_class
        >>> encoder_class("speech-egemaps").resolve_config({"min_speaker_clips": 4})
        {'head': None, 'min_speaker_clips': 4, 'speaker_head': None}
        """
        config = dict(config or {})
        params = inspect.signature(cls.__init__).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        unknown = sorted(set(config) - set(params) - {"self"}) if not takes_any else []
        if unknown:
            raise TypeError(f"encoder {cls.name!r} has no parameter(s) {unknown}; it takes {sorted(set(params) - {'self'})}")
        out: dict[str, Any] = {}
        for pname, p in params.items():
            if pname == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or pname in cls.runtime_params:
                continue
            value = config.get(pname, None if p.default is p.empty else p.default)
            if isinstance(p.default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)  # "gain=2" from a string and gain=2.0 are one configuration
            out[pname] = value
        out.update({k: v for k, v in config.items() if k not in params and k not in cls.runtime_params})
        out = cls.fill_config(out, os.environ if environ is None else environ)
        return {k: _plain(v) for k, v in sorted(out.items())}

    @classmethod
    def fill_config(cls, config: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
        """Fill parameters whose default comes from the environment (hub checkpoints); identity here."""
        return config

    @classmethod
    def space_for(cls, config: Mapping[str, Any]) -> str | None:
        """The vector-space id an instance with this (resolved) config produces; the class's by default."""
        return cls.space

    @classmethod
    def hub_models(cls) -> list[str]:
        """The models (hub ids or local folders) a default instance loads; [] when the weights ship
        inside the installed packages. `emoalign.encode.hub_weights` says whether they are here."""
        return []

    @abstractmethod
    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        """Encode a batch; the i-th result belongs to the i-th input."""

    def embed(self, inputs: Sequence[Input], ids: Sequence[str] = ()) -> Embeddings:
        """Vectors of a batch as `Embeddings` (raises on the first input that failed)."""
        if self.space is None:
            raise TypeError(f"encoder {self.name!r} produces no embeddings")
        results = self.encode(inputs)
        for inp, res in zip(inputs, results):
            if res.error:
                raise DecodeError(f"{describe_input(inp)}: {res.error}")
        vectors = np.stack([r.vector for r in results]) if results else np.zeros((0, 0), np.float32)
        return Embeddings(vectors.astype(np.float32), model=self.name, space=self.space, ids=tuple(ids))


def safe_encode(encode_one, inputs: Sequence[Input]) -> list[EncodeResult]:
    """Run ``encode_one(item) -> EncodeResult`` on each input, turning exceptions into per-input errors."""
    from emoalign.interrupts import check as check_interrupt

    out = []
    for item in inputs:
        check_interrupt()
        try:
            out.append(encode_one(item))
        except (DecodeError, ValueError, OSError) as exc:
            check_interrupt()  # an error while stopping is the stop's doing, never the input's
            out.append(EncodeResult(error=f"{type(exc).__name__}: {exc}"))
    return out


def _plain(value: Any) -> Any:
    """A JSON-able stand-in for a config value (paths as strings, tuples as lists, objects by type)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    return f"<{type(value).__module__}.{type(value).__qualname__}>"
