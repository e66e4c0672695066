"""A CLIP + CLAP joint space for pairing: both media scored against one shared prompt list.

CLAP (audio–text) and CLIP (image–text) each live in their own space: a CLAP audio vector and a
CLIP image vector must never be compared. Their *text* sides, though, can read the same sentences.
So each item is described by how its model distributes it over one list of prompts:

    p_audio = softmax(exp(logit_scale_a) · cos(CLAP audio, CLAP text(prompts)))
    p_image = softmax(exp(logit_scale)   · cos(CLIP image, CLIP text(prompts)))

and its vector is √p (unit length). Two such vectors' dot product is the Bhattacharyya
coefficient of the two distributions — a similarity in [0, 1] between *profiles over the same
prompts*, which both models produce. The space id is derived from both model ids and the prompt
list (`prompt_space_id`), so changing any of them gives a different, incomparable space.

Each model uses its own learned temperature (its zero-shot classification logits), so neither
profile is flattened or sharpened by us. Limits: the profile is only as rich as the prompt list
(`DEFAULT_PROMPTS`: scenes and settings that music and images both evoke); CLAP and CLIP were
trained on different text, so the same prompt may not mean quite the same to both.

Weights come from the hub (``laion/clap-htsat-unfused``, ``openai/clip-vit-base-patch32``) or a
local directory; nothing loads at import time. To use other models, pass ``clap_id``/``clip_id``
(both encoders need both ids: they name the shared space) or subclass with other defaults.

>>> CLAPPromptMusicEncoder.space == CLIPPromptImageEncoder.space
True
"""

from __future__ import annotations

import hashlib
import json
import threading
from importlib.util import find_spec
from typing import Any, Sequence

import numpy as np

from emoalign.encode.base import Encoder, EncodeResult, Input
from emoalign.encode.batching import batches, decode_each
from emoalign.numeric import softmax
from emoalign.numeric import unit_rows as _unit

for _module in ("transformers", "torch"):
    if find_spec(_module) is None:
        raise ImportError(f"the CLIP+CLAP backend needs '{_module}': pip install 'emoalign[hub]'")

DEFAULT_CLAP = "laion/clap-htsat-unfused"
DEFAULT_CLIP = "openai/clip-vit-base-patch32"
#: Settings and scenes that both a piece of music and a picture can evoke (not emotion words).
DEFAULT_PROMPTS: tuple[str, ...] = (
    "the sea", "a forest", "a city street at night", "a starry night sky", "a crowd of people", "a party",
    "a church", "a battlefield", "rain", "a sunny beach", "snow and ice", "a desert", "a dance floor",
    "an empty room", "children playing", "a wedding", "a storm", "outer space", "a road trip",
    "a farm in the countryside", "an old film", "a video game", "a cartoon", "a horror film",
    "a candlelit dinner", "a sports match", "a military parade", "a lullaby at bedtime",
)


def prompt_space_id(clap_id: str, clip_id: str, prompts: Sequence[str]) -> str:
    """``prompt-profile-<12 hex>`` from the two model ids and the prompt list.

    >>> prompt_space_id("a", "b", ["x"]) == prompt_space_id("a", "b", ["x"]) != prompt_space_id("a", "b", ["y"])
    True
    """
    blob = json.dumps([str(clap_id), str(clip_id), list(prompts)], ensure_ascii=False)
    return "prompt-profile-" + hashlib.sha1(blob.encode("utf-8")).hexdigest()[:12]


def _features(output: Any):
    """``get_*_features`` return a tensor (transformers 4) or an output with ``pooler_output`` (5)."""
    return output if hasattr(output, "shape") else output.pooler_output


def profile(logits: np.ndarray) -> np.ndarray:
    """√softmax of each row: unit vectors whose dot product is the Bhattacharyya coefficient.

    >>> v = profile(np.array([[0.0, 0.0, 0.0, 0.0]])); v.round(2).tolist(), float((v * v).sum())
    ([[0.5, 0.5, 0.5, 0.5]], 1.0)
    """
    return np.sqrt(softmax(logits, axis=1)).astype(np.float32)


class _PromptProfileEncoder(Encoder):
    taxonomy = None
    space = prompt_space_id(DEFAULT_CLAP, DEFAULT_CLIP, DEFAULT_PROMPTS)
    version = "1"

    @classmethod
    def fill_config(cls, config, environ):
        return {**config, "clap_id": config.get("clap_id") or DEFAULT_CLAP, "clip_id": config.get("clip_id") or DEFAULT_CLIP,
                "prompts": list(config.get("prompts") or DEFAULT_PROMPTS)}

    @classmethod
    def space_for(cls, config):
        return prompt_space_id(config["clap_id"], config["clip_id"], config["prompts"])

    def __init__(
        self,
        clap_id: str | None = None,
        clip_id: str | None = None,
        prompts: Sequence[str] | None = None,
        *,
        local_files_only: bool | None = None,
        device: str = "cpu",
        batch_size: int = 8,
    ) -> None:
        self.clap_id = clap_id or DEFAULT_CLAP
        self.clip_id = clip_id or DEFAULT_CLIP
        self.prompts = tuple(prompts or DEFAULT_PROMPTS)
        if len(self.prompts) < 2:
            raise ValueError("a prompt profile needs at least two prompts")
        self.space = prompt_space_id(self.clap_id, self.clip_id, self.prompts)
        self.device = device
        self.batch_size = batch_size
        self._kwargs = {} if local_files_only is None else {"local_files_only": local_files_only}
        self._lock = threading.Lock()
        self._model = None

    def _text_vectors(self, model, tokenizer) -> np.ndarray:
        import torch

        tok = tokenizer(list(self.prompts), padding=True, truncation=True, return_tensors="pt").to(self.device)
        kwargs = {"input_ids": tok["input_ids"]}
        if "attention_mask" in tok:
            kwargs["attention_mask"] = tok["attention_mask"]
        with torch.no_grad():
            return _unit(_features(model.get_text_features(**kwargs)).float().cpu().numpy())

    def _results(self, inputs: Sequence[Input], decoded: list, where: list[int], errors: dict[int, str], vectors: np.ndarray | None) -> list[EncodeResult]:
        out: list[EncodeResult] = []
        row = {i: k for k, i in enumerate(where)}
        for i in range(len(inputs)):
            if i in errors:
                out.append(EncodeResult(error=errors[i]))
                continue
            logits = self._scale * vectors[row[i]] @ self._prompt_vectors.T
            out.append(EncodeResult(
                vector=profile(logits[None, :])[0],
                details={"model": self._model_id(), "space": self.space, "prompts": list(self.prompts), "logits": logits.tolist()},
            ))
        return out

    def _model_id(self) -> str:
        raise NotImplementedError


class CLAPPromptMusicEncoder(_PromptProfileEncoder):
    """Music → √(CLAP zero-shot distribution over the shared prompts)."""

    name = "music-clap-prompts-hub"
    modality = "music"

    @classmethod
    def hub_models(cls) -> list[str]:
        return [DEFAULT_CLAP]

    def _model_id(self) -> str:
        return self.clap_id

    def _load(self):
        with self._lock:
            if self._model is None:
                from transformers import AutoTokenizer, ClapFeatureExtractor, ClapModel

                model = ClapModel.from_pretrained(self.clap_id, **self._kwargs).to(self.device).eval()
                self._extractor = ClapFeatureExtractor.from_pretrained(self.clap_id, **self._kwargs)
                tokenizer = AutoTokenizer.from_pretrained(self.clap_id, **self._kwargs)
                # audio→text logits use the audio-side scale (ClapModel.forward: logits_per_audio)
                self._scale = float(model.logit_scale_a.detach().exp())
                self._prompt_vectors = self._text_vectors(model, tokenizer)
                self._model = model
        return self._model

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        import torch

        from emoalign.media.decode import load_audio

        model = self._load()
        sr = int(self._extractor.sampling_rate)
        window = int(getattr(self._extractor, "nb_max_samples", 0) or 0)

        def read(item: Input) -> np.ndarray:
            y = load_audio(item, sr)
            if window and y.size > window:
                # CLAP reads a fixed window (10 s); its extractor would pick a *random* crop of
                # longer audio — take the middle one instead, so the same clip gives the same vector
                start = (y.size - window) // 2
                y = y[start:start + window]
            return y

        d = decode_each(inputs, read)
        decoded, where, errors = d.items, d.where, d.errors
        vectors = None
        if decoded:
            parts = []
            for batch in batches(decoded, self.batch_size):
                feats = self._extractor(batch, sampling_rate=sr, return_tensors="pt")
                kwargs = {"input_features": feats["input_features"].to(self.device)}
                if "is_longer" in feats:
                    kwargs["is_longer"] = feats["is_longer"].to(self.device)
                with torch.no_grad():
                    parts.append(_features(model.get_audio_features(**kwargs)).float().cpu().numpy())
            vectors = _unit(np.concatenate(parts))
        return self._results(inputs, decoded, where, errors, vectors)


class CLIPPromptImageEncoder(_PromptProfileEncoder):
    """Image → √(CLIP zero-shot distribution over the shared prompts)."""

    name = "image-clip-prompts-hub"
    modality = "image"

    @classmethod
    def hub_models(cls) -> list[str]:
        return [DEFAULT_CLIP]

    def _model_id(self) -> str:
        return self.clip_id

    def _load(self):
        with self._lock:
            if self._model is None:
                from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

                model = AutoModel.from_pretrained(self.clip_id, **self._kwargs).to(self.device).eval()
                if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
                    raise TypeError(f"{self.clip_id}: {type(model).__name__} is not a CLIP-style image–text model")
                self._processor = AutoImageProcessor.from_pretrained(self.clip_id, **self._kwargs)
                tokenizer = AutoTokenizer.from_pretrained(self.clip_id, **self._kwargs)
                self._scale = float(model.logit_scale.detach().exp()) if hasattr(model, "logit_scale") else 1.0
                self._prompt_vectors = self._text_vectors(model, tokenizer)
                self._model = model
        return self._model

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        import torch

        from emoalign.media.decode import load_image

        model = self._load()
        d = decode_each(inputs, load_image)
        decoded, where, errors = d.items, d.where, d.errors
        vectors = None
        if decoded:
            parts = []
            for batch in batches(decoded, self.batch_size):
                pixels = self._processor(images=batch, return_tensors="pt")["pixel_values"]
                with torch.no_grad():
                    parts.append(_features(model.get_image_features(pixel_values=pixels.to(self.device))).float().cpu().numpy())
            vectors = _unit(np.concatenate(parts))
        return self._results(inputs, decoded, where, errors, vectors)
