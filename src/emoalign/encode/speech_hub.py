"""Hub backend: a pretrained wav2vec2 / HuBERT / WavLM speech-emotion classifier via `transformers`.

Any checkpoint loadable with ``AutoModelForAudioClassification.from_pretrained`` works: a hub id
(needs the network, or the Hugging Face cache) or a local folder. The model's own labels
(``config.id2label``, e.g. ``neu``/``hap``/``ang``/``sad`` for SUPERB ER, or ``生气/angry`` style)
are mapped onto the closest shipped taxonomy (`map_model_labels`): each label is normalised
(abbreviations expanded, bilingual names split) and matched by name, synonym or concept; the
taxonomy that covers most labels wins, ravdess8 first on ties. Labels that match nothing
(``other``, ``unknown``) have their probability mass dropped and reported as
``details["unmapped_mass"]``.

Long clips are cut into windows of ``window_seconds`` whose logits are averaged (weighted by
length), so memory stays bounded.

emotion2vec is not offered (yet). Its checkpoints (data2vec-2.0 style, 9 classes) load only
through FunASR's ``AutoModel``, not through `transformers`; FunASR itself installs from PyPI but
pulls ~30 packages (modelscope, numba, librosa, umap-learn, …) and fetches the weights from
ModelScope or the hub at load time. A loader would need FunASR's config/checkpoint layout
reproduced in a tiny random model to be tested here; until then its label set is handled by
`map_model_labels` (``生气/angry`` … ``other``, ``<unk>``) for whoever wires it.

>>> enc = HubSpeechEncoder("superb/wav2vec2-base-superb-er")  # doctest: +SKIP
>>> enc.encode(["clip.wav"])[0].affect.top()  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from emoalign.affect import affect_from_probs, get_taxonomy, map_distribution
from emoalign.affect.taxonomy import Taxonomy
from emoalign.encode.base import DecodeError, Encoder, EncodeResult, Input, describe_input, safe_encode
from emoalign.media.decode import load_audio
from emoalign.numeric import softmax

#: A public SER checkpoint (wav2vec2-base fine-tuned on IEMOCAP, 4 classes; Apache-2.0).
DEFAULT_MODEL = "superb/wav2vec2-base-superb-er"
#: Environment variable that overrides the default model id (a hub id or a local folder).
MODEL_ENV = "EMOALIGN_SPEECH_HUB_MODEL"
#: Taxonomies tried for a model's labels, in order of preference on ties.
CANDIDATE_TAXONOMIES = ("ravdess8", "emotiontalk7", "fer7", "goemotions28", "emonet40", "mikels8")
MIN_SECONDS = 0.25

#: Abbreviations used as label names by SER checkpoints (IEMOCAP-style) → the word.
LABEL_ABBREVIATIONS: dict[str, str] = {
    "neu": "neutral", "hap": "happy", "ang": "angry", "fea": "fearful", "dis": "disgust",
    "sur": "surprised", "cal": "calm", "exc": "excited", "fru": "frustrated",
}
#: Word forms → affect concepts (the ``concept`` field of the taxonomy data), tried when no
#: label of a taxonomy has the word as its name or synonym.
WORD_CONCEPTS: dict[str, str] = {
    "neutral": "neutral", "calm": "calm", "happy": "happiness", "happiness": "happiness", "joy": "happiness",
    "joyful": "happiness", "sad": "sadness", "sadness": "sadness", "angry": "anger", "anger": "anger",
    "fearful": "fear", "fear": "fear", "afraid": "fear", "scared": "fear", "disgust": "disgust",
    "disgusted": "disgust", "surprised": "surprise", "surprise": "surprise", "excited": "excitement",
    "frustrated": "annoyance", "frustration": "annoyance",
}


def normalise_label(raw: str) -> str:
    """A model label as a plain lower-case English word (bilingual names split, abbreviations expanded).

    >>> normalise_label("生气/angry"), normalise_label("Hap"), normalise_label("LABEL_0")
    ('angry', 'happy', 'label_0')
    """
    text = str(raw).strip()
    parts = [p for p in re.split(r"[/|]", text) if p.strip()]
    ascii_parts = [p for p in parts if p.isascii()] or parts
    word = ascii_parts[-1].strip().lower().replace("-", " ")
    return LABEL_ABBREVIATIONS.get(word, word)


def _match(word: str, tax: Taxonomy) -> str | None:
    for label in tax.labels:  # the word itself: name, a part of a name like "calm/relaxing", a synonym
        names = {label.name.lower(), *(s.lower() for s in label.synonyms)}
        names |= {part.strip() for name in list(names) for part in name.split("/")}
        if word in names:
            return label.name
    concept = WORD_CONCEPTS.get(word)
    if concept is not None:  # else its concept: "joy" finds ravdess8 "happy" (concept happiness)
        for label in tax.labels:
            if label.concept == concept:
                return label.name
    return None


def map_model_labels(id2label: dict[int, str], candidates: Sequence[str] = CANDIDATE_TAXONOMIES) -> tuple[str, list[str | None]]:
    """The taxonomy that covers most of a model's labels, and each class index's label in it (None: unmapped).

    >>> map_model_labels({0: "neu", 1: "hap", 2: "ang", 3: "sad"})
    ('ravdess8', ['neutral', 'happy', 'angry', 'sad'])
    """
    order = sorted(int(k) for k in id2label)
    if order != list(range(len(order))):
        raise ValueError(f"model labels must be numbered 0..n-1, got ids {order}")
    words = [normalise_label(id2label[i]) for i in order]
    best: tuple[int, str, list[str | None]] | None = None
    for name in candidates:
        tax = get_taxonomy(name)
        mapped = [_match(w, tax) for w in words]
        hits = sum(m is not None for m in mapped)
        if best is None or hits > best[0]:
            best = (hits, name, mapped)
    assert best is not None
    if best[0] == 0:
        raise ValueError(
            f"none of the model's labels {[id2label[i] for i in order]} matches a label of {', '.join(candidates)}; "
            "it may not be an emotion classifier (or its config lacks id2label)"
        )
    return best[1], best[2]


class HubSpeechEncoder(Encoder):
    """Speech → `Affect` with a pretrained ``AutoModelForAudioClassification`` (wav2vec2, HuBERT, WavLM).

    ``model_id``: hub id or local folder (default: ``$EMOALIGN_SPEECH_HUB_MODEL`` or
    `DEFAULT_MODEL`). ``taxonomy``: output taxonomy; default the one closest to the model's
    labels (mass is carried over with `emoalign.affect.map_distribution` when you force another).

    >>> enc = HubSpeechEncoder("/path/to/local/checkpoint")  # doctest: +SKIP
    >>> enc.taxonomy, enc.label_map  # doctest: +SKIP
    ('ravdess8', ['neutral', 'happy', 'angry', 'sad'])
    """

    name: ClassVar[str] = "speech-wav2vec2-hub"
    modality: ClassVar[str] = "speech"
    taxonomy: ClassVar[str | None] = "ravdess8"
    space: ClassVar[str | None] = None

    @classmethod
    def hub_models(cls) -> list[str]:
        return [os.environ.get(MODEL_ENV) or DEFAULT_MODEL]

    @classmethod
    def fill_config(cls, config, environ):
        return {**config, "model_id": config.get("model_id") or environ.get(MODEL_ENV) or DEFAULT_MODEL}

    def __init__(
        self,
        model_id: str | Path | None = None,
        *,
        taxonomy: str | None = None,
        window_seconds: float = 20.0,
        device: str = "cpu",
    ) -> None:
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForAudioClassification
        except ImportError as exc:
            raise ImportError("speech-wav2vec2-hub needs transformers and torch: pip install 'emoalign[hub]'") from exc
        self.model_id = str(model_id or self.hub_models()[0])
        try:
            self.model = AutoModelForAudioClassification.from_pretrained(self.model_id)
        except (OSError, ValueError) as exc:
            raise OSError(
                f"cannot load speech-emotion model {self.model_id!r}: {exc}. Hub ids need the network or a "
                "Hugging Face cache; otherwise pass a local checkpoint folder as model_id"
            ) from exc
        self.model.eval().to(device)
        self.device = device
        self.feature_extractor, self.preprocessor_note = self._feature_extractor()
        self.sampling_rate = int(getattr(self.feature_extractor, "sampling_rate", 16000))
        self.window_seconds = float(window_seconds)
        self.model_taxonomy, self.label_map = map_model_labels(dict(self.model.config.id2label))
        self.raw_labels = [str(self.model.config.id2label[i]) for i in range(len(self.label_map))]
        self.taxonomy = taxonomy or self.model_taxonomy
        get_taxonomy(self.taxonomy)  # validate early

    def _feature_extractor(self) -> tuple[Any, str | None]:
        from transformers import AutoFeatureExtractor, Wav2Vec2FeatureExtractor

        try:
            return AutoFeatureExtractor.from_pretrained(self.model_id), None
        except (OSError, ValueError) as exc:
            # wav2vec2-family models read raw 16 kHz audio normalised per clip; their checkpoints
            # sometimes lack preprocessor_config.json. Any other architecture needs its own.
            if self.model.config.model_type in {"wav2vec2", "hubert", "wavlm", "data2vec-audio", "unispeech", "unispeech-sat", "sew", "sew-d"}:
                fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True)
                return fe, "no preprocessor_config.json: used the wav2vec2 default (16 kHz, per-clip normalisation)"
            raise OSError(f"{self.model_id}: no feature extractor config ({exc})") from exc

    def logits(self, y: np.ndarray) -> np.ndarray:
        """Class logits of one clip (window-averaged for long clips)."""
        import torch

        win = max(1, int(self.window_seconds * self.sampling_rate))
        starts = list(range(0, len(y), win))
        # fold a short tail into the previous window rather than classifying a fragment
        if len(starts) > 1 and len(y) - starts[-1] < MIN_SECONDS * self.sampling_rate:
            starts.pop()
        out, weights = [], []
        for k, s in enumerate(starts):
            seg = y[s : (starts[k + 1] if k + 1 < len(starts) else len(y))]
            inputs = self.feature_extractor(seg, sampling_rate=self.sampling_rate, return_tensors="pt")
            inputs = {key: value.to(self.device) for key, value in inputs.items()}
            with torch.inference_mode():
                out.append(self.model(**inputs).logits[0].float().cpu().numpy())
            weights.append(len(seg))
        return np.average(np.stack(out), axis=0, weights=np.asarray(weights, dtype=np.float64))

    def _encode_one(self, item: Input) -> EncodeResult:
        name = describe_input(item)
        y = load_audio(item, self.sampling_rate)
        if y.size < MIN_SECONDS * self.sampling_rate:
            raise DecodeError(f"{name}: {y.size / self.sampling_rate:.2f} s of audio is shorter than the {MIN_SECONDS} s minimum")
        z = self.logits(y)
        if not np.all(np.isfinite(z)):
            raise DecodeError(f"{name}: model returned non-finite logits")
        p = softmax(z)
        dist: dict[str, float] = {}
        unmapped = 0.0
        for prob, label in zip(p.tolist(), self.label_map):
            if label is None:
                unmapped += prob
            else:
                dist[label] = dist.get(label, 0.0) + prob
        if sum(dist.values()) <= 0:
            raise DecodeError(f"{name}: all probability on unmapped labels {self.raw_labels}")
        if self.taxonomy != self.model_taxonomy:
            dist = map_distribution(dist, self.model_taxonomy, self.taxonomy)
        details = {
            "model": self.model_id,
            "model_probs": dict(zip(self.raw_labels, p.tolist())),
            "unmapped_mass": unmapped,
        }
        if self.preprocessor_note:
            details["preprocessor"] = self.preprocessor_note
        return EncodeResult(affect=affect_from_probs(dist, self.taxonomy), details=details)

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        return safe_encode(self._encode_one, inputs)
