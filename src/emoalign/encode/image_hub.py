"""Hub backends for images and faces, on Hugging Face ``transformers`` (the ``hub`` extra).

- ``image-clip-hub`` (`CLIPZeroShotImageEncoder`): zero-shot image emotion with a CLIP-style
  model (default ``openai/clip-vit-base-patch32``). Each label of a taxonomy (mikels8 by default)
  becomes a prompt, "a photo that feels {label}"; the image's probabilities are the softmax of
  CLIP's scaled cosine logits over those prompts. Its vector is the L2-normalised CLIP image
  embedding, in a space shared with CLIP text (`CLIPZeroShotImageEncoder.embed_text`); the space
  id is derived from the model id (``clip-vit-b32`` for the default).
- ``face-empathic-hub`` (`EmpathicFaceEncoder`): LAION's Empathic-Insight-Face (EmoNet-Face,
  Schuhmann et al. 2025, arXiv 2505.20033): one MLP regression head per EmoNet-Face emotion on a
  SigLIP2 image embedding (``google/siglip2-so400m-patch16-384``, 1152-d), each giving an
  intensity on the 0–7 annotation scale. Heads are the repository's ``model_<Emotion>_best.pth``
  state dicts (keys ``layers.<i>.weight/bias``: Linear layers with ReLU/Dropout between them;
  Large is 1152→1024→512→256→1). The architecture is read from each state dict, so the Large and
  Small releases both load.

Weights are downloaded by ``transformers``/``huggingface_hub`` on first use (or read from a local
directory given instead of a hub id). Nothing is downloaded at import time; models load on the
first `encode`. Offline, these encoders fail with the library's own "cannot find" error.

>>> enc = CLIPZeroShotImageEncoder()  # doctest: +SKIP
>>> enc.encode(["sunset.jpg"])[0].affect.top()  # doctest: +SKIP
('contentment', 0.41)
"""

from __future__ import annotations

import os
import re
import threading
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emoalign.affect import affect_from_probs, get_taxonomy
from emoalign.encode.base import Encoder, EncodeResult, Input, describe_input
from emoalign.encode.batching import decode_each
from emoalign.media.decode import load_image
from emoalign.numeric import softmax
from emoalign.types import Embeddings

# Fail at import (so `available_encoders` reports it) rather than at first use; find_spec is cheap.
for _module in ("transformers", "torch"):
    if find_spec(_module) is None:
        raise ImportError(f"the hub backends need '{_module}': pip install 'emoalign[hub]'")

DEFAULT_CLIP = "openai/clip-vit-base-patch32"
DEFAULT_EMPATHIC_HEADS = "laion/Empathic-Insight-Face-Large"
DEFAULT_SIGLIP = "google/siglip2-so400m-patch16-384"
DEFAULT_TEMPLATE = "a photo that feels {label}"


def space_id_for(model_id: str) -> str:
    """A vector-space id from a model id: OpenAI CLIP names are shortened, others keep their name.

    >>> space_id_for("openai/clip-vit-base-patch32"), space_id_for("openai/clip-vit-large-patch14-336")
    ('clip-vit-b32', 'clip-vit-l14-336')
    >>> space_id_for("google/siglip2-so400m-patch16-384")
    'siglip2-so400m-patch16-384'
    """
    name = Path(str(model_id).rstrip("/")).name.lower()
    m = re.fullmatch(r"clip-vit-(base|large|huge)-patch(\d+)(?:-(\d+))?", name)
    if m:
        size = {"base": "b", "large": "l", "huge": "h"}[m.group(1)]
        return f"clip-vit-{size}{m.group(2)}" + (f"-{m.group(3)}" if m.group(3) else "")
    return name


def _features(output: Any) -> "Any":
    """``get_image_features``/``get_text_features`` return a tensor (transformers 4) or an output with ``pooler_output`` (5)."""
    return output if hasattr(output, "shape") else output.pooler_output


def _pretrained_kwargs(local_files_only: bool | None) -> dict[str, Any]:
    return {} if local_files_only is None else {"local_files_only": local_files_only}


def _decode_all(inputs: Sequence[Input]) -> tuple[list[EncodeResult | None], list[np.ndarray], list[int]]:
    decoded = decode_each(inputs, load_image)
    return decoded.results(), decoded.items, decoded.where


# --------------------------------------------------------------------------------------------
# CLIP zero-shot
# --------------------------------------------------------------------------------------------


def label_phrase(name: str) -> str:
    """A taxonomy label as prose: "Pleasure/Ecstasy" → "pleasure or ecstasy"."""
    return name.replace("/", " or ").replace("&", "and").lower()


class CLIPZeroShotImageEncoder(Encoder):
    """CLIP-style zero-shot emotion over a taxonomy; vectors in the CLIP image–text space.

    ``model_id`` defaults to ``$EMOALIGN_CLIP_MODEL`` or ``openai/clip-vit-base-patch32`` and may
    be a local directory holding the model, its tokenizer and image processor.

    >>> enc = CLIPZeroShotImageEncoder("openai/clip-vit-base-patch32")  # doctest: +SKIP
    >>> enc.space, enc.embed_text(["a calm lake"]).space  # doctest: +SKIP
    ('clip-vit-b32', 'clip-vit-b32')
    """

    name = "image-clip-hub"
    modality = "image"
    taxonomy = "mikels8"
    space = space_id_for(DEFAULT_CLIP)

    @classmethod
    def hub_models(cls) -> list[str]:
        return [os.environ.get("EMOALIGN_CLIP_MODEL") or DEFAULT_CLIP]

    @classmethod
    def fill_config(cls, config, environ):
        return {**config, "model_id": config.get("model_id") or environ.get("EMOALIGN_CLIP_MODEL") or DEFAULT_CLIP}

    @classmethod
    def space_for(cls, config):
        return config.get("space") or space_id_for(config["model_id"])

    def __init__(
        self,
        model_id: str | None = None,
        *,
        taxonomy: str = "mikels8",
        template: str = DEFAULT_TEMPLATE,
        space: str | None = None,
        device: str = "cpu",
        batch_size: int = 16,
        local_files_only: bool | None = None,
    ):
        self.model_id = model_id or self.hub_models()[0]
        self.taxonomy = get_taxonomy(taxonomy).name
        self.space = space or space_id_for(self.model_id)
        if "{label}" not in template:
            raise ValueError(f"template must contain '{{label}}', got {template!r}")
        self.template = template
        self.prompts = [template.format(label=label_phrase(n)) for n in get_taxonomy(taxonomy).names]
        self.device = device
        self.batch_size = batch_size
        self._kwargs = _pretrained_kwargs(local_files_only)
        self._lock = threading.Lock()
        self._model = None

    def _load(self):
        with self._lock:
            if self._model is None:
                import torch
                from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

                model = AutoModel.from_pretrained(self.model_id, **self._kwargs).to(self.device).eval()
                if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
                    raise TypeError(f"{self.model_id}: {type(model).__name__} is not a CLIP-style image–text model")
                self._tokenizer = AutoTokenizer.from_pretrained(self.model_id, **self._kwargs)
                self._processor = AutoImageProcessor.from_pretrained(self.model_id, **self._kwargs)
                self._scale = float(model.logit_scale.detach().exp()) if hasattr(model, "logit_scale") else 1.0
                bias = getattr(model, "logit_bias", None)  # SigLIP-style models add one
                self._bias = float(bias.detach()) if bias is not None else 0.0
                with torch.no_grad():
                    self._label_vectors = self._text_vectors(model, self.prompts)
                self._model = model
        return self._model

    def _text_vectors(self, model, texts: Sequence[str]) -> np.ndarray:
        import torch

        tok = self._tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt").to(self.device)
        kwargs = {"input_ids": tok["input_ids"]}
        if "attention_mask" in tok:
            kwargs["attention_mask"] = tok["attention_mask"]
        with torch.no_grad():
            vec = _features(model.get_text_features(**kwargs)).float().cpu().numpy()
        return vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)

    def _image_vectors(self, images: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        model = self._load()
        out = []
        for start in range(0, len(images), self.batch_size):
            pixels = self._processor(images=list(images[start : start + self.batch_size]), return_tensors="pt")["pixel_values"]
            with torch.no_grad():
                out.append(_features(model.get_image_features(pixel_values=pixels.to(self.device))).float().cpu().numpy())
        vec = np.concatenate(out)
        return vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)

    def embed_text(self, texts: Sequence[str], ids: Sequence[str] = ()) -> Embeddings:
        """Text vectors in the same space as this encoder's image vectors."""
        model = self._load()
        return Embeddings(self._text_vectors(model, texts).astype(np.float32), model=self.name, space=self.space, ids=tuple(ids))

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        results, images, where = _decode_all(inputs)
        if images:
            self._load()
            vectors = self._image_vectors(images)
            logits = self._scale * vectors @ self._label_vectors.T + self._bias
            probs = softmax(logits, axis=1)
            names = get_taxonomy(self.taxonomy).names
            for k, i in enumerate(where):
                results[i] = EncodeResult(
                    affect=affect_from_probs(dict(zip(names, probs[k].tolist())), self.taxonomy),
                    vector=vectors[k].astype(np.float32),
                    details={"model": self.model_id, "prompts": self.prompts, "logits": logits[k].tolist(), "basis": "zero-shot prompts"},
                )
        return results  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# EmpathicInsight-Face
# --------------------------------------------------------------------------------------------


def head_key(text: str) -> str:
    """Normalise an emotion name or head file stem for matching: "Jealousy_&_Envy" ≡ "Jealousy & Envy".

    >>> head_key("model_Jealousy_&_Envy_best"), head_key("Jealousy & Envy")
    ('jealousy_and_envy', 'jealousy_and_envy')
    >>> head_key("Pleasure/Ecstasy") == head_key("model_pleasure_ecstasy_best")
    True
    """
    text = re.sub(r"^model_|_best$", "", text.strip())
    text = text.lower().replace("&", " and ")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _head_state(obj: Any, path: Path) -> dict[str, Any]:
    """The ``layers.<i>.*`` tensors of a head checkpoint (bare state dict or wrapped)."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise OSError(f"{path}: expected a state dict, got {type(obj).__name__}")
    state = {re.sub(r"^(module\.)", "", k): v for k, v in obj.items()}
    if not any(re.fullmatch(r"layers\.\d+\.weight", k) for k in state):
        raise OSError(f"{path}: no 'layers.<i>.weight' tensors (keys: {sorted(state)[:6]})")
    return state


def build_head(state: dict[str, Any], in_dim: int | None = None, path: Path | str = "head"):
    """An MLP matching an EmpathicInsight head's state dict: Linear layers at the saved indices,
    ReLU (then Dropout, inactive at inference) in the gaps, a single output."""
    import torch.nn as nn

    idx = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"layers\.(\d+)\.weight", k)))
    if idx[0] != 0:
        raise OSError(f"{path}: the first linear layer is at index {idx[0]}, expected 0")
    layers: list[nn.Module] = []
    prev_out = None
    for i in idx:
        gap_start = len(layers)
        while len(layers) < i:  # the slots between linear layers: ReLU first, then Dropout
            layers.append(nn.ReLU() if len(layers) == gap_start else nn.Dropout(0.0))
        out_f, in_f = state[f"layers.{i}.weight"].shape
        if prev_out is not None and in_f != prev_out:
            raise OSError(f"{path}: layer {i} takes {in_f} inputs but the previous layer gives {prev_out}")
        layers.append(nn.Linear(in_f, out_f, bias=f"layers.{i}.bias" in state))
        prev_out = out_f
    if prev_out != 1:
        raise OSError(f"{path}: head ends in {prev_out} outputs, expected 1")
    first_in = state[f"layers.{idx[0]}.weight"].shape[1]
    if in_dim is not None and first_in != in_dim:
        raise OSError(f"{path}: head expects {first_in}-d embeddings, the image model gives {in_dim}")

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(*layers)

        def forward(self, x):
            return self.layers(x)

    head = Head()
    head.load_state_dict(state, strict=True)
    return head.eval()


def load_heads(directory: str | Path, in_dim: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(emonet40 label → head, extra heads by file stem) from a folder of ``model_*_best.pth``."""
    import torch

    directory = Path(directory)
    files = sorted(directory.glob("model_*_best.pth"))
    if not files:
        raise FileNotFoundError(f"{directory}: no EmpathicInsight head files (model_<Emotion>_best.pth)")
    by_key = {head_key(label): label for label in get_taxonomy("emonet40").names}
    heads: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for path in files:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        head = build_head(_head_state(obj, path), in_dim, path)
        label = by_key.get(head_key(path.stem))
        if label is None:
            extras[head_key(path.stem)] = head
        else:
            heads[label] = head
    missing = [label for label in get_taxonomy("emonet40").names if label not in heads]
    if missing:
        raise FileNotFoundError(f"{directory}: no head for {len(missing)} EmoNet-Face emotions: {', '.join(missing)}")
    return heads, extras


def _resolve_dir(repo_or_dir: str, local_files_only: bool | None) -> Path:
    path = Path(repo_or_dir).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id=repo_or_dir, allow_patterns=["*.pth", "*.json", "*.md"], local_files_only=bool(local_files_only)))


class EmpathicFaceEncoder(Encoder):
    """EmpathicInsight-Face: 0–7 intensities for EmoNet-Face's 40 emotions, per detected face.

    Faces are found with the Haar detector of `emoalign.encode.face` and cropped with a margin of
    ``margin`` × the box size on each side (EmoNet-Face images are head-and-shoulders portraits);
    ``detect_faces=False`` treats each whole image as one face crop. The result's affect is the
    largest face's: its positive intensities normalised to a distribution over emonet40 (raw
    intensities in ``details["faces"][i]["intensities"]``). Its vector is the SigLIP embedding.

    >>> enc = EmpathicFaceEncoder()  # doctest: +SKIP
    >>> enc.encode(["portrait.jpg"])[0].details["faces"][0]["intensities"]["Elation"]  # doctest: +SKIP
    5.8
    """

    name = "face-empathic-hub"
    modality = "face"
    taxonomy = "emonet40"
    space = space_id_for(DEFAULT_SIGLIP)

    @classmethod
    def hub_models(cls) -> list[str]:
        return [os.environ.get("EMOALIGN_EMPATHIC_HEADS") or DEFAULT_EMPATHIC_HEADS,
                os.environ.get("EMOALIGN_SIGLIP_MODEL") or DEFAULT_SIGLIP]

    @classmethod
    def fill_config(cls, config, environ):
        return {**config,
                "heads": config.get("heads") or environ.get("EMOALIGN_EMPATHIC_HEADS") or DEFAULT_EMPATHIC_HEADS,
                "image_model": config.get("image_model") or environ.get("EMOALIGN_SIGLIP_MODEL") or DEFAULT_SIGLIP}

    @classmethod
    def space_for(cls, config):
        return config.get("space") or space_id_for(config["image_model"])

    def __init__(
        self,
        heads: str | None = None,
        image_model: str | None = None,
        *,
        detect_faces: bool = True,
        margin: float = 0.25,
        space: str | None = None,
        device: str = "cpu",
        batch_size: int = 16,
        local_files_only: bool | None = None,
    ):
        default_heads, default_image_model = self.hub_models()
        self.heads_id = heads or default_heads
        self.image_model_id = image_model or default_image_model
        self.space = space or space_id_for(self.image_model_id)
        self.detect_faces = detect_faces
        self.margin = margin
        self.device = device
        self.batch_size = batch_size
        self._local = local_files_only
        self._lock = threading.Lock()
        self._model = None
        self._detector = None

    def _load(self):
        with self._lock:
            if self._model is None:
                from transformers import AutoImageProcessor, AutoModel

                kwargs = _pretrained_kwargs(self._local)
                model = AutoModel.from_pretrained(self.image_model_id, **kwargs).to(self.device).eval()
                self._processor = AutoImageProcessor.from_pretrained(self.image_model_id, **kwargs)
                vision = getattr(model.config, "vision_config", model.config)
                dim = getattr(vision, "hidden_size", None)
                heads, extras = load_heads(_resolve_dir(self.heads_id, self._local), dim)
                self.labels = list(get_taxonomy("emonet40").names)
                self._heads = [heads[label].to(self.device) for label in self.labels]
                self._extras = {k: h.to(self.device) for k, h in extras.items()}
                if self.detect_faces:
                    from emoalign.encode.face import FaceDetector

                    self._detector = FaceDetector()
                self._model = model
        return self._model

    def _embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        model = self._load()
        out = []
        for start in range(0, len(crops), self.batch_size):
            pixels = self._processor(images=list(crops[start : start + self.batch_size]), return_tensors="pt")["pixel_values"].to(self.device)
            with torch.no_grad():
                if hasattr(model, "get_image_features"):
                    feats = _features(model.get_image_features(pixel_values=pixels))
                else:  # a bare vision tower (e.g. SiglipVisionModel): its pooled output is the same embedding
                    feats = model(pixel_values=pixels).pooler_output
            out.append(feats.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def intensities(self, embeddings: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(n, 40) head outputs in emonet40 order, and the extra heads' outputs by name."""
        import torch

        self._load()
        x = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32)).to(self.device)
        with torch.no_grad():
            main = torch.cat([h(x) for h in self._heads], dim=1).cpu().numpy()
            extra = {k: h(x)[:, 0].cpu().numpy() for k, h in self._extras.items()}
        return main.astype(np.float64), extra

    def _crops(self, rgb: np.ndarray) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        h, w = rgb.shape[:2]
        if not self.detect_faces:
            return [((0, 0, w, h), rgb)]
        import cv2

        gray = rgb if rgb.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        boxes, _, scale = self._detector.detect(gray)
        out = []
        for bx, by, bw, bh in boxes:
            x, y, s = bx / scale, by / scale, max(bw, bh) / scale
            pad = self.margin * s
            x1, y1 = int(max(0, x - pad)), int(max(0, y - pad))
            x2, y2 = int(min(w, x + s + pad)), int(min(h, y + s + pad))
            out.append(((int(x), int(y), int(s), int(s)), rgb[y1:y2, x1:x2]))
        return sorted(out, key=lambda bc: -bc[0][2] * bc[0][3])

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        results, images, where = _decode_all(inputs)
        if not images:
            return results  # type: ignore[return-value]
        self._load()
        per_image = [self._crops(img) for img in images]
        crops = [crop for faces in per_image for _, crop in faces]
        emb = self._embed(crops) if crops else np.zeros((0, 0), np.float32)
        scores, extra = self.intensities(emb) if crops else (np.zeros((0, 40)), {})
        pos = 0
        for k, i in enumerate(where):
            faces = per_image[k]
            if not faces:
                results[i] = EncodeResult(error=f"NoFaceError: {describe_input(inputs[i])}: no face found")
                continue
            rows = range(pos, pos + len(faces))
            pos += len(faces)
            listed = [
                {
                    "box": list(box),
                    "intensities": dict(zip(self.labels, scores[r].tolist())),
                    **({"extra": {n: float(v[r]) for n, v in extra.items()}} if extra else {}),
                }
                for (box, _), r in zip(faces, rows)
            ]
            first = scores[rows[0]]
            positive = np.clip(first, 0.0, None)
            affect = affect_from_probs(dict(zip(self.labels, positive.tolist())), "emonet40") if positive.sum() > 0 else None
            vec = emb[rows[0]]
            results[i] = EncodeResult(
                affect=affect,
                vector=(vec / max(float(np.linalg.norm(vec)), 1e-12)).astype(np.float32),
                details={
                    "faces": listed,
                    "n_faces": len(faces),
                    "affect_from": "largest face; positive 0–7 intensities normalised to a distribution",
                    "scale": "EmoNet-Face intensity 0 (absent) – 7 (extreme)",
                    "heads": self.heads_id,
                    "image_model": self.image_model_id,
                    **({} if affect else {"note": "no emotion scored above 0"}),
                },
            )
        return results  # type: ignore[return-value]
