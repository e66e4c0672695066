"""Image affect that knows what a picture shows: a head trained on rated pictures (OASIS) + the language path.

``AffectImageEncoder`` ("image-affect", the default ``image`` backend) returns for each picture
the EfficientNet-Lite0 embedding (space ``efficientnet-lite0-imagenet``, as ``image-scene``) and
an `Affect` over ``mikels8`` whose valence and arousal (−1..1, 0 = the rating scale's middle)
come from `ImageAffectHead`:

1. **Content features.** The 1280-d embedding, and the picture's *semantic vector*: its
   ImageNet class probabilities times the sentence embeddings (USE) of the classes' names and
   descriptions (``imagenet_class_text.npz``), i.e. what the picture shows, said in words.
2. **Level 1**: ridge regression from the standardised [embedding, semantic vector] to
   valence and arousal.
3. **Level 2** (stacking on level-1 predictions made out of fold): valence from level-1 valence
   and the language path's valence (the class table, `emoalign.encode.imagenet_affect`);
   arousal from level-1 arousal, level-1 valence and its magnitude |valence| (affective
   pictures are more arousing the further they are from neutral, the "boomerang" of picture
   ratings) and the language path's arousal.
4. **Calibration**: ridge predictions are shrunk towards the mean. Each output is rescaled about
   its mean so that the spread of the out-of-fold predictions equals the spread of the
   ratings (``y = m + (ŷ − m̂) · sd(y) / sd(ŷ_oof)``), then clipped to [-1, 1]. Correlations are
   unchanged; signs and quadrants are not shrunk towards the middle.

The Mikels-8 distribution is `VA_WEIGHT` × Gaussian weights on the distance from the predicted
point to each label (σ = `MIKELS_SIGMA`) plus (1 − `VA_WEIGHT`) × the class-probability mixture
of the table's per-class distributions (content: a snake picture leans to fear/disgust even when
its point sits between labels).

``details`` gives the basis: the top classes with their table affect ("looks like"), the
language path's and the head's estimates, the colour statistics, and the largest face when one
covers at least `FACE_DOMINATES` of the picture. See ``encode/models/image_affect.md``.

>>> enc = AffectImageEncoder()  # doctest: +SKIP
>>> r = enc.encode(["beach.jpg"])[0]  # doctest: +SKIP
>>> round(r.affect.valence, 2), r.details["looks_like"][0]["class"]  # doctest: +SKIP
(0.41, 'seashore')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from emoalign import numeric
from emoalign.encode.base import Encoder, EncodeResult, Input, describe_input
from emoalign.encode.heads import load_head_arrays, save_head_arrays
from emoalign.encode.image import SPACE, colour_pad, va_distribution
from emoalign.encode.image_features import COLOUR_NAMES, PictureFeatures
from emoalign.encode.imagenet_affect import ClassAffectTable, describe_va, load_table
from emoalign.errors import DecodeError
from emoalign.media.decode import load_image
from emoalign.types import Affect

HEAD_FILE = "image_affect.npz"
CLASS_TEXT_FILE = "imagenet_class_text.npz"
#: Share of the Mikels-8 distribution that comes from the predicted point (the rest from content).
VA_WEIGHT = 0.7
MIKELS_SIGMA = 0.35
#: A face "dominates" (is reported in details as the basis of a person picture) from this area share.
FACE_DOMINATES = 0.05
TOP_CLASSES = 3


def models_dir() -> Path:
    from emoalign.encode.text import models_dir as _models_dir

    return _models_dir()


def softmax(logits: np.ndarray) -> np.ndarray:
    """(n, 1000) logits → class probabilities in float64 (the precision the head was fitted in)."""
    return numeric.softmax(logits, axis=1, dtype=np.float64)


def load_class_text(path: str | Path | None = None) -> np.ndarray:
    """(1000, 512) unit USE vectors of the class texts (``scripts/make_imagenet_affect.py`` writes them)."""
    path = Path(path) if path else models_dir() / CLASS_TEXT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: class text embeddings missing (run scripts/make_imagenet_affect.py)")
    with np.load(path) as z:
        u = z["embeddings"].astype(np.float64)
    if u.shape != (1000, 512):
        raise ValueError(f"{path}: expected (1000, 512) class embeddings, got {u.shape}")
    return u


def _ridge(X: np.ndarray, Y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardise, then closed-form ridge. Returns (mean, scale, coef (k, d), intercept (k,))."""
    from sklearn.linear_model import Ridge

    mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-8
    model = Ridge(alpha=alpha).fit((X - mean) / scale, Y)
    return mean, scale, np.atleast_2d(model.coef_), np.atleast_1d(model.intercept_)


def _apply(params, X: np.ndarray) -> np.ndarray:
    mean, scale, coef, intercept = params
    return ((X - mean) / scale) @ coef.T + intercept


def stack_features(level1: np.ndarray, language: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Level-2 inputs: valence ← [V1, language V]; arousal ← [A1, V1, |V1|, language A]."""
    v1, a1 = level1[:, 0], level1[:, 1]
    return np.c_[v1, language[:, 0]], np.c_[a1, v1, np.abs(v1), language[:, 1]]


def group_folds(n: int, groups: Sequence | None, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """k grouped folds (each item its own group without ``groups``); fewer folds when there are fewer groups."""
    from sklearn.model_selection import GroupKFold

    g = np.arange(n) if groups is None else np.asarray(groups)
    k = min(k, len(np.unique(g)))
    if k < 2:
        raise ValueError(f"need at least 2 groups of pictures to fit the image head, got {len(np.unique(g))}")
    return list(GroupKFold(k).split(np.zeros(n), groups=g))


@dataclass
class ImageAffectHead:
    """Two-level stacked ridge from picture features to calibrated valence/arousal (see module doc).

    >>> head = ImageAffectHead().fit(embedding, probs, ratings, groups=themes)  # doctest: +SKIP
    >>> head.predict(embedding, probs)  # doctest: +SKIP
    """

    alpha: float = 3000.0
    alpha2: float = 1.0
    folds: int = 5
    meta: dict[str, Any] = field(default_factory=dict)
    level1_: tuple | None = None
    valence_: tuple | None = None
    arousal_: tuple | None = None
    calibration_: np.ndarray | None = None  # (3, 2): prediction mean, target mean, spread ratio
    class_text_: np.ndarray | None = None
    table_va_: np.ndarray | None = None

    def _resources(self) -> None:
        if self.class_text_ is None:
            self.class_text_ = load_class_text()
        if self.table_va_ is None:
            self.table_va_ = load_table().va

    def features(self, embedding: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(level-1 inputs [embedding, semantic vector], language-path valence/arousal)."""
        self._resources()
        probs = np.asarray(probs, np.float64)
        semantic = probs @ self.class_text_
        return np.hstack([np.asarray(embedding, np.float64), semantic]), probs @ self.table_va_

    def _fit_levels(self, X1: np.ndarray, lang: np.ndarray, Y: np.ndarray, groups) -> tuple:
        oof = np.zeros_like(Y)
        for tr, te in group_folds(len(Y), groups, self.folds):
            oof[te] = _apply(_ridge(X1[tr], Y[tr], self.alpha), X1[te])
        xv, xa = stack_features(oof, lang)
        return _ridge(X1, Y, self.alpha), _ridge(xv, Y[:, 0], self.alpha2), _ridge(xa, Y[:, 1], self.alpha2)

    def _raw(self, params: tuple, X1: np.ndarray, lang: np.ndarray) -> np.ndarray:
        level1, pv, pa = params
        xv, xa = stack_features(_apply(level1, X1), lang)
        return np.c_[_apply(pv, xv), _apply(pa, xa)]

    def fit(self, embedding: np.ndarray, probs: np.ndarray, Y: np.ndarray, groups: Sequence | None = None) -> "ImageAffectHead":
        """Fit on (n, 1280) embeddings, (n, 1000) class probabilities and (n, 2) valence/arousal in −1..1.

        ``groups`` (e.g. OASIS themes) keep related pictures in one fold, both for the stacking and
        for the out-of-fold predictions the calibration is measured on.
        """
        Y = np.asarray(Y, np.float64).reshape(len(embedding), 2)
        X1, lang = self.features(embedding, probs)
        oof = np.zeros_like(Y)
        for tr, te in group_folds(len(Y), groups, self.folds):
            sub = None if groups is None else np.asarray(groups)[tr]
            oof[te] = self._raw(self._fit_levels(X1[tr], lang[tr], Y[tr], sub), X1[te], lang[te])
        self.level1_, self.valence_, self.arousal_ = self._fit_levels(X1, lang, Y, groups)
        ratio = Y.std(axis=0) / np.maximum(oof.std(axis=0), 1e-9)
        self.calibration_ = np.vstack([oof.mean(axis=0), Y.mean(axis=0), ratio])
        self.meta.setdefault("oof_pearson", [float(np.corrcoef(oof[:, k], Y[:, k])[0, 1]) for k in range(2)])
        return self

    def predict_uncalibrated(self, embedding: np.ndarray, probs: np.ndarray) -> np.ndarray:
        self._check()
        X1, lang = self.features(embedding, probs)
        return self._raw((self.level1_, self.valence_, self.arousal_), X1, lang)

    def predict(self, embedding: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """(n, 2) calibrated valence/arousal in [-1, 1]."""
        raw = self.predict_uncalibrated(embedding, probs)
        pred_mean, target_mean, ratio = self.calibration_
        return np.clip(target_mean + (raw - pred_mean) * ratio, -1.0, 1.0)

    def level1(self, embedding: np.ndarray, probs: np.ndarray) -> np.ndarray:
        self._check()
        return _apply(self.level1_, self.features(embedding, probs)[0])

    def _check(self) -> None:
        if self.level1_ is None:
            raise RuntimeError("image head is not fitted: call fit() or load()")

    def save(self, path: str | Path) -> Path:
        self._check()
        arrays = {}
        for name, params in (("l1", self.level1_), ("v", self.valence_), ("a", self.arousal_)):
            for part, arr in zip(("mean", "scale", "coef", "intercept"), params):
                arrays[f"{name}_{part}"] = np.asarray(arr, np.float32 if name == "l1" else np.float64)
        return save_head_arrays(path, "image-affect", self.meta, calibration=self.calibration_,
                     hyper=np.array([self.alpha, self.alpha2, self.folds]), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "ImageAffectHead":
        arrays, meta = load_head_arrays(path, "image-affect")
        params = {name: tuple(arrays[f"{name}_{p}"].astype(np.float64) for p in ("mean", "scale", "coef", "intercept"))
                  for name in ("l1", "v", "a")}
        alpha, alpha2, folds = arrays["hyper"].tolist()
        return cls(alpha=alpha, alpha2=alpha2, folds=int(folds), meta=meta, level1_=params["l1"], valence_=params["v"],
                   arousal_=params["a"], calibration_=arrays["calibration"])


class EmbeddingVAHead:
    """A ``emoalign train --target va`` model folder used as the picture head: its ridge on the embedding.

    Predictions are clipped to [-1, 1]; no spread calibration (the folder holds none).
    """

    def __init__(self, folder: Path):
        import json

        from emoalign.encode.heads import LinearRegressorHead

        info = json.loads((folder / "model.json").read_text("utf-8"))
        if info.get("task") != "regression" or info.get("space") != SPACE:
            raise ValueError(f"{folder}: not a valence/arousal model on {SPACE} vectors (task {info.get('task')!r}, "
                             f"space {info.get('space')!r}); train one with `emoalign train --encoder image-affect --target va`")
        self.regressor = LinearRegressorHead.load(folder / "head.npz")
        self.meta = info

    def predict(self, embedding: np.ndarray, probs: np.ndarray) -> np.ndarray:
        return np.clip(self.regressor.predict(embedding)[:, :2], -1.0, 1.0)


def load_picture_head(path: Path):
    """An `ImageAffectHead` file, or an ``emoalign train --target va`` model folder (`EmbeddingVAHead`)."""
    path = Path(path)
    if path.is_dir():
        if not (path / "model.json").is_file():
            raise FileNotFoundError(f"{path}: a folder without model.json is not a trained model (see `emoalign train`)")
        return EmbeddingVAHead(path)
    return ImageAffectHead.load(path)


def mikels_distribution(valence: float, arousal: float, content: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """`VA_WEIGHT` × Gaussian weights around the point + the rest × the content mixture (see module doc)."""
    around = va_distribution(valence, arousal, "mikels8", sigma=MIKELS_SIGMA)
    mix = {n: VA_WEIGHT * around[n] + (1 - VA_WEIGHT) * float(c) for n, c in zip(names, content)}
    total = sum(mix.values())
    return {n: p / total for n, p in mix.items()}


class AffectImageEncoder(Encoder):
    """Picture → EfficientNet-Lite0 embedding + valence/arousal/Mikels-8 from the OASIS-trained head.

    ``head``: a saved `ImageAffectHead` (default: the shipped ``image_affect.npz``), or a model
    folder written by ``emoalign train --encoder image-affect --target va`` (valence/arousal from
    your own rated pictures), e.g. ``--backend "image-affect?head=my-head/"``. ``faces=False`` skips face detection (the
    face is only reported in ``details``).

    >>> enc = AffectImageEncoder()  # doctest: +SKIP
    >>> [r.error or r.details["basis"] for r in enc.encode(["photo.jpg", b"junk"])]  # doctest: +SKIP
    ['content', 'DecodeError: <4 bytes>: cannot decode image (...)']
    """

    name: ClassVar[str] = "image-affect"
    modality: ClassVar[str] = "image"
    taxonomy: ClassVar[str] = "mikels8"
    space: ClassVar[str] = SPACE
    #: Bumped when the shipped head or table changes (feature stores key cached results on it).
    version: ClassVar[str] = "1"

    def __init__(self, head: str | Path | None = None, *, backend: str = "auto", faces: bool = True, batch_size: int = 16):
        self.head_path = Path(head) if head else models_dir() / HEAD_FILE
        self.head = load_picture_head(self.head_path)
        self.table: ClassAffectTable = load_table()
        self.features = PictureFeatures(backend=backend, faces=faces, batch_size=batch_size)
        from emoalign.affect import get_taxonomy

        self.labels = get_taxonomy("mikels8").names

    def _details(self, probs: np.ndarray, language: np.ndarray, colour: np.ndarray, faces: list, area: int) -> dict[str, Any]:
        top = np.argsort(-probs)[:TOP_CLASSES]
        looks = []
        for j in top:
            v, a = self.table.va[j]
            looks.append({"class": self.table.names[j], "index": int(j), "probability": float(probs[j]),
                          "valence": float(v), "arousal": float(a), "reads_as": describe_va(v, a)})
        b, s = float(colour[0]), float(colour[1])
        pad = colour_pad(b, s)
        details: dict[str, Any] = {
            "basis": "content",
            "affect_from": "image-affect head (OASIS-trained) on the EfficientNet-Lite0 embedding and the ImageNet classes read through language",
            "looks_like": looks,
            "explanation": "looks like: " + "; ".join(f"{x['class']} {x['probability']:.2f} → {x['reads_as']}" for x in looks),
            "language_path": {"valence": float(language[0]), "arousal": float(language[1])},
            "colour": {**{k: float(x) for k, x in zip(COLOUR_NAMES, colour)},
                       "colour_valence": pad["pleasure"], "colour_arousal": pad["arousal"]},
            "imagenet_top5": [[int(j), float(probs[j])] for j in np.argsort(-probs)[:5]],
        }
        if faces:
            largest = faces[0]
            share = largest.area / max(area, 1)
            details["faces"] = [f.to_dict() for f in faces]
            if share >= FACE_DOMINATES:
                details["dominant_face"] = {"area_share": share, "expression": largest.affect.top()[0],
                                            "valence": largest.affect.valence, "arousal": largest.affect.arousal}
        return details

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        results: list[EncodeResult | None] = [None] * len(inputs)
        images, where = [], []
        for i, item in enumerate(inputs):
            try:
                images.append(load_image(item))
                where.append(i)
            except (DecodeError, ValueError, OSError) as exc:
                results[i] = EncodeResult(error=f"{type(exc).__name__}: {exc}")
        if not images:
            return results  # type: ignore[return-value]
        faces = []
        for rgb in images:
            try:
                faces.append(self.features.faces(rgb))
            except (ValueError, OSError):  # faces only feed details: a detector failure must not lose the picture
                faces.append([])
        feats = self.features(images, faces)
        probs = softmax(feats["logits"])
        va = self.head.predict(feats["embedding"], probs)
        language = self.table.picture_va(probs)
        content = self.table.picture_mikels(probs)
        for k, i in enumerate(where):
            try:
                v, a = float(va[k, 0]), float(va[k, 1])
                affect = Affect(self.taxonomy, mikels_distribution(v, a, content[k], self.labels), v, a)
                details = self._details(probs[k], language[k], feats["colour"][k], faces[k], images[k].shape[0] * images[k].shape[1])
                results[i] = EncodeResult(affect=affect, vector=feats["embedding"][k], details=details)
            except (ValueError, OSError) as exc:
                results[i] = EncodeResult(error=f"{type(exc).__name__}: {describe_input(inputs[i])}: {exc}")
        return results  # type: ignore[return-value]
