"""ImageBind audio and vision embeddings — the joint space EMID's paper used (hub extra, guarded).

Loading follows Meta's reference code (``imagebind.models.imagebind_model.imagebind_huge`` and
``imagebind.data.load_and_transform_{audio,vision}_data``) with one change: the checkpoint is
read from a path (``checkpoint=`` or ``$EMOALIGN_IMAGEBIND_CHECKPOINT``), never downloaded at run
time (``imagebind_huge(pretrained=True)`` would fetch ``imagebind_huge.pth`` into ``.checkpoints/``).

Scale: ImageBind's vision head ends in ``Normalize``; its audio head in ``Normalize`` and a fixed
logit scale of 20 (``LearnableLogitScaling(logit_scale_init=20.0, learnable=False)``). We return
unit vectors for both, so pairing's cosine/τ with τ = 0.05 (`emoalign.pair.score.PAPER_TEMPERATURE`)
is exactly the paper's ``softmax(X·Yᵀ)`` on raw ImageBind outputs.

Installing here: no ImageBind distribution installs beside this project's torch. The PyPI
package ``imagebind-unofficial==0.1.1`` (the reference code) requires unpinned ``torch``,
``torchvision``, ``torchaudio``, ``pytorchvideo``, ``timm`` and ``decord``; pip resolves them to
torch 2.14.1 with the CUDA 13 wheels, torchvision 0.29.1 and torchaudio 2.11.0 (``pip install
--dry-run``, checked on this machine), i.e. it would replace torch 2.13.0 (CPU) with a multi-GB
CUDA build, and plain PyPI torchvision does not import beside torch 2.13.0 (shared/MODELS.md). Its
model code itself imports ``timm`` (which imports torchvision). So this module imports only when
the ``imagebind`` package is importable — install it in its own environment (with a matching
torch/torchvision/torchaudio) — and the code below is untested here.

>>> enc = ImageBindMusicEncoder(checkpoint="imagebind_huge.pth")  # doctest: +SKIP
>>> enc.embed(["clip.wav"]).space  # doctest: +SKIP
'imagebind-huge'
"""

from __future__ import annotations

import os
import tempfile
import threading
from importlib.util import find_spec
from pathlib import Path
from typing import Sequence

import numpy as np

from emoalign.encode.base import Encoder, EncodeResult, Input

if find_spec("imagebind") is None:
    raise ImportError(
        "the ImageBind backend needs the 'imagebind' package (e.g. imagebind-unofficial), which pulls its own "
        "torch/torchvision/torchaudio: install it in a separate environment, then point "
        "EMOALIGN_IMAGEBIND_CHECKPOINT at imagebind_huge.pth"
    )

SPACE = "imagebind-huge"
_LOCK = threading.Lock()
_MODEL: dict[str, object] = {}


def load_model(checkpoint: str | Path | None = None, device: str = "cpu"):
    """The ImageBind-Huge model with weights from a local checkpoint (loaded once per process)."""
    import torch
    from imagebind.models import imagebind_model

    path = Path(checkpoint or os.environ.get("EMOALIGN_IMAGEBIND_CHECKPOINT", ""))
    if not path.is_file():
        raise FileNotFoundError(
            f"ImageBind checkpoint not found at {str(path) or '(unset)'}: pass checkpoint= or set "
            "EMOALIGN_IMAGEBIND_CHECKPOINT to imagebind_huge.pth (weights are never downloaded at run time)"
        )
    key = f"{path.resolve()}@{device}"
    with _LOCK:
        if key not in _MODEL:
            model = imagebind_model.imagebind_huge(pretrained=False)
            model.load_state_dict(torch.load(str(path), map_location=device, weights_only=True))
            _MODEL[key] = model.eval().to(device)
    return _MODEL[key]


def _as_paths(inputs: Sequence[Input], tmp: Path, suffix: str) -> list[str]:
    """ImageBind's loaders read files: write bytes inputs to a temporary folder."""
    out = []
    for i, item in enumerate(inputs):
        if isinstance(item, bytes):
            p = tmp / f"{i}{suffix}"
            p.write_bytes(item)
            out.append(str(p))
        else:
            out.append(str(item))
    return out


class _ImageBindEncoder(Encoder):
    taxonomy = None
    space = SPACE
    version = "1"
    # One model (ImageBind-Huge); where its checkpoint file sits does not change outputs.
    runtime_params = Encoder.runtime_params + ("checkpoint",)
    _modality_key = ""
    _suffix = ""

    def __init__(self, checkpoint: str | Path | None = None, device: str = "cpu") -> None:
        self.checkpoint = checkpoint
        self.device = device

    def _transform(self, paths: list[str]):
        raise NotImplementedError

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        import torch

        model = load_model(self.checkpoint, self.device)
        results: list[EncodeResult] = []
        with tempfile.TemporaryDirectory() as tmp:
            paths = _as_paths(inputs, Path(tmp), self._suffix)
            for p in paths:  # one at a time: a bad file fails alone
                try:
                    with torch.no_grad():
                        out = model({self._modality_key: self._transform([p])})[self._modality_key]
                    v = out.float().cpu().numpy()[0]
                    results.append(EncodeResult(vector=(v / max(np.linalg.norm(v), 1e-12)).astype(np.float32),
                                                details={"model": "imagebind_huge"}))
                except Exception as exc:  # decoder errors of torchaudio/PIL
                    results.append(EncodeResult(error=f"{type(exc).__name__}: {exc}"))
        return results


class ImageBindMusicEncoder(_ImageBindEncoder):
    name = "music-imagebind-hub"
    modality = "music"
    _modality_key = "audio"
    _suffix = ".wav"

    def _transform(self, paths: list[str]):
        from imagebind import data

        return data.load_and_transform_audio_data(paths, self.device)


class ImageBindImageEncoder(_ImageBindEncoder):
    name = "image-imagebind-hub"
    modality = "image"
    _modality_key = "vision"
    _suffix = ".jpg"

    def _transform(self, paths: list[str]):
        from imagebind import data

        return data.load_and_transform_vision_data(paths, self.device)
