"""Per-picture features for image affect: backbone outputs, colour statistics and the largest face.

One pass over a batch of RGB arrays gives everything the image-affect head reads
(`emoalign.encode.image_affect`) and everything a user needs to fit that head on their own
pictures (`emoalign train --encoder image-affect`):

- ``embedding``: EfficientNet-Lite0's 1280-d pooled features, L2-normalised (content);
- ``logits``: its 1000 ImageNet logits (turned into class probabilities by the head);
- ``colour``: `COLOUR_NAMES` — CIELAB lightness and chroma (the Valdez & Mehrabian 1994 inputs),
  their spread, Hasler & Süsstrunk (2003) colourfulness and the warm/cool balance;
- ``face``: `FACE_NAMES` — area fraction of the largest face and that face's FER valence and
  arousal (zeros without a face).

>>> extractor = PictureFeatures()  # doctest: +SKIP
>>> feats = extractor([load_image("beach.jpg")])  # doctest: +SKIP
>>> feats["embedding"].shape, feats["colour"].shape  # doctest: +SKIP
((1, 1280), (1, 6))
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

COLOUR_NAMES = ("lightness", "chroma", "lightness_sd", "chroma_sd", "colourfulness", "warmth")
FACE_NAMES = ("face_fraction", "face_valence", "face_arousal")
#: Colour statistics are computed on a copy at most this many pixels on its longer side.
COLOUR_SIDE = 256


def colour_features(rgb: np.ndarray) -> np.ndarray:
    """`COLOUR_NAMES` of an RGB uint8 image, each roughly in [0, 1].

    Lightness = mean L*/100; chroma = mean C*ab/100 (pixels clipped at 1); their standard
    deviations; colourfulness (Hasler & Süsstrunk 2003, σ_rgyb + 0.3 μ_rgyb, /100); warmth =
    mean b*/100 + mean a*/200 (yellow/red against blue/green), shifted by 0.5.

    >>> grey = np.full((8, 8, 3), 128, np.uint8)
    >>> f = colour_features(grey)
    >>> round(float(f[1]), 3), round(float(f[4]), 3)
    (0.0, 0.0)
    """
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, COLOUR_SIDE / max(h, w))
    small = rgb if scale == 1.0 else cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    x = np.ascontiguousarray(small).astype(np.float32) / 255.0
    lab = cv2.cvtColor(x, cv2.COLOR_RGB2Lab)
    light = lab[..., 0] / 100.0
    chroma = np.minimum(np.hypot(lab[..., 1], lab[..., 2]) / 100.0, 1.0)
    r, g, b = (small[..., k].astype(np.float32) for k in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourful = (np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())) / 100.0
    warmth = 0.5 + float(lab[..., 2].mean()) / 100.0 + float(lab[..., 1].mean()) / 200.0
    return np.array([light.mean(), chroma.mean(), light.std(), chroma.std(), colourful, warmth], dtype=np.float32)


def face_features(faces, image_area: int) -> np.ndarray:
    """`FACE_NAMES` from a list of `Face` (largest first): zeros when there is none."""
    if not faces:
        return np.zeros(len(FACE_NAMES), np.float32)
    face = faces[0]
    return np.array([face.area / max(image_area, 1), face.affect.valence, face.affect.arousal], dtype=np.float32)


class PictureFeatures:
    """Backbone, colour and face features for a batch of RGB arrays (see module doc).

    ``faces=False`` skips face detection (the face columns are then zeros).
    """

    def __init__(self, backend: str = "auto", *, faces: bool = True, batch_size: int = 16):
        from emoalign.encode.image import EfficientNetLite0

        self.net = EfficientNetLite0(backend=backend, batch_size=batch_size)
        self.face_encoder = None
        if faces:
            from emoalign.encode.face import FERFaceEncoder

            self.face_encoder = FERFaceEncoder()

    def faces(self, rgb: np.ndarray) -> list:
        return self.face_encoder.faces(rgb) if self.face_encoder is not None else []

    def __call__(self, images: Sequence[np.ndarray], faces: Sequence[list] | None = None) -> dict[str, np.ndarray]:
        """Features of ``images``; pass ``faces`` (one list per image) if they were already detected."""
        n = len(images)
        if n == 0:
            return {"embedding": np.zeros((0, 1280), np.float32), "logits": np.zeros((0, 1000), np.float32),
                    "colour": np.zeros((0, len(COLOUR_NAMES)), np.float32), "face": np.zeros((0, len(FACE_NAMES)), np.float32)}
        emb, logits = self.net.run(self.net.preprocess(images))
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        if faces is None:
            faces = [self.faces(rgb) for rgb in images]
        colour = np.stack([colour_features(rgb) for rgb in images])
        face = np.stack([face_features(f, rgb.shape[0] * rgb.shape[1]) for f, rgb in zip(faces, images)])
        return {"embedding": emb.astype(np.float32), "logits": logits.astype(np.float32), "colour": colour, "face": face}
