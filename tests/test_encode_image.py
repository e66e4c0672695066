"""image-scene: embedding (ONNX and torch agree), faces vs colour scene estimate, per-input errors."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
skimage_data = pytest.importorskip("skimage.data")

from emoalign.affect import get_taxonomy  # noqa: E402
from emoalign.encode.face import FERFaceEncoder  # noqa: E402
from emoalign.encode.image import SPACE, SceneImageEncoder, colour_pad, colour_stats, onnx_path  # noqa: E402
from emoalign.encode.registry import encoder_class  # noqa: E402
from emoalign.media.synth import image_bytes, synth_image  # noqa: E402

ESPRESSO = 967  # ImageNet class index


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("emoalign-cache")
    mp.setenv("EMOALIGN_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def enc(cache) -> SceneImageEncoder:
    return SceneImageEncoder(backend="onnx")


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny, well-formed PNG whose header claims width × height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def flat(rgb: tuple[int, int, int], size: int = 64) -> bytes:
    return image_bytes(np.full((size, size, 3), rgb, np.uint8))


def test_registry_name_points_here():
    cls = encoder_class("image-scene")
    assert cls is SceneImageEncoder
    assert (cls.modality, cls.taxonomy, cls.space) == ("image", "mikels8", SPACE)


def test_onnx_is_exported_once_into_the_cache(enc, cache):
    path = onnx_path()
    assert path.parent == cache and path.is_file()
    stamp = path.stat().st_mtime_ns
    again = SceneImageEncoder(backend="onnx", faces=False)
    assert again.net.model_path == path and path.stat().st_mtime_ns == stamp


def test_real_photo_embeds_and_classifies(enc):
    res = enc.encode([image_bytes(skimage_data.coffee())])[0]
    assert res.ok, res.error
    assert res.vector.shape == (1280,) and res.vector.dtype == np.float32
    assert np.linalg.norm(res.vector) == pytest.approx(1.0, abs=1e-5)
    top_class, p = res.details["imagenet_top5"][0]
    assert top_class == ESPRESSO and p > 0.5  # the pretrained weights really are loaded


def test_torch_and_onnx_backends_agree(enc):
    imgs = [image_bytes(skimage_data.coffee()), image_bytes(skimage_data.chelsea())]
    eager = SceneImageEncoder(backend="torch", faces=False)
    for a, b in zip(enc.encode(imgs), eager.encode(imgs)):
        assert np.abs(a.vector - b.vector).max() < 1e-4


def test_no_face_gives_a_scene_estimate_while_face_fer_errors(enc):
    img = image_bytes(synth_image(0.6, 0.4, size=160))
    face = FERFaceEncoder().encode([img], face_mode="detect")[0]
    assert not face.ok and "no face found" in face.error
    res = enc.encode([img])[0]
    assert res.ok, res.error
    assert res.details["basis"] == "scene"
    assert res.details["scene"]["label_kind"] == "scene estimate"
    assert "faces" not in res.details
    assert res.affect.taxonomy == "mikels8"
    assert set(res.affect.probs) == set(get_taxonomy("mikels8").names)
    assert sum(res.affect.probs.values()) == pytest.approx(1.0, abs=1e-6)
    assert -1 <= res.affect.valence <= 1 and -1 <= res.affect.arousal <= 1
    assert res.affect.dominance is not None


def test_face_photo_uses_the_face(enc):
    res = enc.encode([image_bytes(skimage_data.astronaut())])[0]
    assert res.details["basis"] == "faces"
    assert res.details["faces"][0]["label"] == "happy"
    label, _ = res.affect.top()
    assert get_taxonomy("mikels8").label(label).group == "positive"
    assert res.affect.valence > 0.5
    assert "scene" in res.details  # the colour estimate is still reported alongside


def test_small_face_leaves_the_scene_basis(cache):
    enc = SceneImageEncoder(backend="onnx", min_face_fraction=0.5)
    res = enc.encode([image_bytes(skimage_data.astronaut())])[0]
    assert res.details["basis"] == "scene" and len(res.details["faces"]) == 1


def test_colour_relations_follow_valdez_mehrabian(enc):
    bright_vivid, dark_grey, vivid_mid, grey_mid = enc.encode(
        [flat((255, 230, 60)), flat((30, 30, 30)), flat((200, 40, 40)), flat((110, 110, 110))]
    )
    # brighter and more saturated → more pleasant
    assert bright_vivid.affect.valence > dark_grey.affect.valence
    # at similar lightness, saturation raises arousal
    assert vivid_mid.details["scene"]["saturation"] > grey_mid.details["scene"]["saturation"]
    assert vivid_mid.affect.arousal > grey_mid.affect.arousal
    # brightness lowers arousal and dominance when saturation is fixed (negative weights)
    lo, hi = colour_pad(0.2, 0.3), colour_pad(0.8, 0.3)
    assert hi["arousal"] < lo["arousal"] and hi["dominance"] < lo["dominance"] and hi["pleasure"] > lo["pleasure"]
    # the scaled equations span exactly [-1, 1]
    assert colour_pad(1, 1)["pleasure"] == pytest.approx(1.0) and colour_pad(0, 0)["pleasure"] == pytest.approx(-1.0)
    assert colour_pad(0, 1)["arousal"] == pytest.approx(1.0) and colour_pad(0, 1)["dominance"] == pytest.approx(1.0)


def test_colour_stats_range():
    assert colour_stats(np.zeros((8, 8, 3), np.uint8)) == pytest.approx((0.0, 0.0), abs=1e-6)
    b, s = colour_stats(np.full((8, 8, 3), 255, np.uint8))
    assert b == pytest.approx(1.0, abs=1e-3) and s < 0.01
    _, s_red = colour_stats(np.full((8, 8, 3), (255, 0, 0), np.uint8))
    assert s_red > 0.9


def test_bad_inputs_fail_alone(enc, tmp_path):
    good = image_bytes(synth_image(-0.5, -0.5, size=96))
    inputs = [b"not an image at all", good, png_bomb(), str(tmp_path / "nope.png"), good]
    res = enc.encode(inputs)
    assert [r.ok for r in res] == [False, True, False, False, True]
    assert "cannot decode image" in res[0].error
    assert "bomb" in res[2].error or "100000×100000" in res[2].error
    assert "no such file" in res[3].error
    np.testing.assert_allclose(res[1].vector, res[4].vector, atol=1e-6)
    assert enc.encode([]) == []


def test_embed_gives_comparable_embeddings(enc):
    emb = enc.embed([image_bytes(skimage_data.coffee()), image_bytes(skimage_data.chelsea())], ids=("coffee", "cat"))
    assert emb.space == SPACE and emb.vectors.shape == (2, 1280)
    cos = float(emb.vectors[0] @ emb.vectors[1])
    assert cos < 0.95  # different content, different vectors


def test_auto_falls_back_to_torch_when_the_cache_is_unusable(tmp_path, monkeypatch):
    from emoalign.encode.image import EfficientNetLite0

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("EMOALIGN_CACHE", str(blocker))
    with pytest.warns(RuntimeWarning, match="using torch eager"):
        net = EfficientNetLite0("auto")
    assert net.backend == "torch"
    with pytest.raises(OSError):
        EfficientNetLite0("onnx")
