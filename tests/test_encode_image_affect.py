"""image-affect: the stacked head (fit, calibration, save/load), the shipped model through the encoder, bad inputs."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")

from emoalign.encode.image_affect import AffectImageEncoder, ImageAffectHead, mikels_distribution, softmax  # noqa: E402
from emoalign.encode.registry import DEFAULTS, encoder_class  # noqa: E402
from emoalign.media.synth import image_bytes, synth_image  # noqa: E402


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("emoalign-cache")
    mp.setenv("EMOALIGN_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def enc(cache) -> AffectImageEncoder:
    return AffectImageEncoder(backend="onnx")


def planted(n: int = 240, seed: int = 0):
    """Pictures as a few latent factors seen through the embedding and the class probabilities; ratings follow two of them."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 6))
    emb = latent @ rng.standard_normal((6, 1280)) + 0.3 * rng.standard_normal((n, 1280))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    probs = softmax(latent @ rng.standard_normal((6, 1000)) + rng.standard_normal((n, 1000)))
    Y = np.tanh(0.5 * latent[:, :2] + 0.1 * rng.standard_normal((n, 2)))
    groups = np.repeat(np.arange(n // 4), 4)
    return emb, probs, Y, groups


def test_head_learns_a_planted_relation_and_calibrates_the_spread():
    emb, probs, Y, groups = planted()
    tr, te = np.arange(180), np.arange(180, 240)
    head = ImageAffectHead(alpha=10.0).fit(emb[tr], probs[tr], Y[tr], groups=groups[tr])
    pred = head.predict(emb[te], probs[te])
    for k in range(2):
        assert np.corrcoef(pred[:, k], Y[te, k])[0, 1] > 0.8
    raw = head.predict_uncalibrated(emb[te], probs[te])
    # calibration stretches the out-of-fold spread to the ratings' spread; it never shrinks it
    assert np.all(pred.std(axis=0) >= raw.std(axis=0) * 0.999)
    assert np.all(np.abs(pred) <= 1.0)
    assert len(head.meta["oof_pearson"]) == 2


def test_head_save_and_load_predict_the_same(tmp_path):
    emb, probs, Y, groups = planted(120, seed=1)
    head = ImageAffectHead(alpha=30.0).fit(emb, probs, Y, groups=groups)
    path = head.save(tmp_path / "head.npz")
    again = ImageAffectHead.load(path)
    np.testing.assert_allclose(again.predict(emb[:10], probs[:10]), head.predict(emb[:10], probs[:10]), atol=1e-4)
    assert again.alpha == 30.0


def test_head_needs_two_groups_and_says_so():
    emb, probs, Y, _ = planted(20)
    with pytest.raises(ValueError, match="at least 2 groups"):
        ImageAffectHead().fit(emb, probs, Y, groups=np.zeros(20))


def test_mikels_distribution_mixes_the_point_and_the_content():
    from emoalign.affect import get_taxonomy

    names = get_taxonomy("mikels8").names
    content = np.zeros(8)
    content[names.index("fear")] = 1.0
    p = mikels_distribution(0.6, 0.2, content, names)
    assert abs(sum(p.values()) - 1.0) < 1e-9
    positive = {"excitement", "amusement", "contentment", "awe"}
    assert max((n for n in names if n != "fear"), key=p.get) in ("excitement", "amusement")  # around the point
    assert sum(p[n] for n in positive) > 0.6  # the point carries 0.7 of the mass
    assert p["fear"] >= 0.3  # the content's share


def test_registry_default_image_backend_is_image_affect():
    assert DEFAULTS["image"] == "image-affect"
    assert encoder_class("image-affect") is AffectImageEncoder
    assert encoder_class("image-scene").name == "image-scene"  # the colour/face backend stays available


def test_shipped_head_scores_a_picture_with_its_basis(enc):
    skimage_data = pytest.importorskip("skimage.data")
    photo = image_bytes(skimage_data.coffee())
    r = enc.encode([photo])[0]
    assert r.error is None
    assert -1.0 <= r.affect.valence <= 1.0 and -1.0 <= r.affect.arousal <= 1.0
    assert r.affect.taxonomy == "mikels8" and abs(sum(r.affect.probs.values()) - 1.0) < 1e-6
    assert r.vector.shape == (1280,) and abs(float(np.linalg.norm(r.vector)) - 1.0) < 1e-4
    d = r.details
    assert d["basis"] == "content"
    assert d["looks_like"][0]["class"] == "espresso" or "espresso" in [x["class"] for x in d["looks_like"]]
    assert d["explanation"].startswith("looks like: ")
    assert {"lightness", "chroma", "colour_valence"} <= set(d["colour"])
    assert set(d["language_path"]) == {"valence", "arousal"}


def test_shipped_head_is_real_oasis_metadata():
    from emoalign.encode.image_affect import HEAD_FILE, models_dir

    head = ImageAffectHead.load(models_dir() / HEAD_FILE)
    assert "OASIS" in head.meta["trained_on"]
    assert head.meta["theme_cv"]["V"] > 0.4  # measured by bench/image_oasis.py, stored with the head


def test_face_photo_reports_the_dominant_face(enc):
    skimage_data = pytest.importorskip("skimage.data")
    photo = skimage_data.astronaut()
    full, head_and_shoulders = enc.encode([image_bytes(photo), image_bytes(np.ascontiguousarray(photo[:256, 96:352]))])
    assert full.error is None and len(full.details["faces"]) >= 1
    assert "dominant_face" not in full.details  # a face of ~4 % of the picture is not what it shows
    d = head_and_shoulders.details["dominant_face"]
    assert d["area_share"] >= 0.05 and d["expression"] in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


# ------------------------------------------------------------------------------------------
# Bad and unusual inputs: each gives a result or a clear error naming the input
# ------------------------------------------------------------------------------------------


def _save(im, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def unusual_pictures(tmp_path) -> dict:
    from PIL import Image

    rgb = synth_image(0.5, 0.3, size=96)
    grey16 = (np.linspace(0, 65535, 96 * 96).reshape(96, 96)).astype(np.uint16)
    rgba = np.dstack([rgb, np.full((96, 96), 255, np.uint8)])
    rgba[:48, :, 3] = 0
    huge = tmp_path / "huge.png"
    Image.new("RGB", (8000, 6000), (40, 120, 200)).save(huge)  # 48 Mpx, well-formed, compresses to ~150 kB
    return {
        "grey": _save(Image.fromarray(rgb).convert("L"), "PNG"),
        "palette": _save(Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
        "cmyk": _save(Image.fromarray(rgb).convert("CMYK"), "JPEG"),
        "one_pixel": _save(Image.new("RGB", (1, 1), (200, 30, 30)), "PNG"),
        "rgba": _save(Image.fromarray(rgba, "RGBA"), "PNG"),
        "grey16": _save(Image.fromarray(grey16), "PNG"),
        "huge": huge,
    }


def test_unusual_but_valid_pictures_all_get_a_result(enc, tmp_path):
    pics = unusual_pictures(tmp_path)
    results = enc.encode(list(pics.values()))
    for name, r in zip(pics, results):
        assert r.error is None, f"{name}: {r.error}"
        assert -1.0 <= r.affect.valence <= 1.0 and -1.0 <= r.affect.arousal <= 1.0, name
        assert np.isfinite(r.vector).all(), name


def test_sixteen_bit_and_transparent_pictures_keep_their_content():
    from PIL import Image

    from emoalign.media.decode import load_image

    ramp = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    rgb = load_image(_save(Image.fromarray(ramp), "PNG"))
    assert rgb.shape == (64, 64, 3)
    assert rgb[0, 0, 0] < 10 and rgb[-1, -1, 0] > 245 and 100 < rgb.mean() < 155  # a ramp, not all white
    from emoalign.media.decode import MAX_IMAGE_SIDE

    wide = np.tile(np.linspace(0, 65535, 3 * MAX_IMAGE_SIDE).astype(np.uint16), (8, 1))  # shrunk on decoding
    rgb = load_image(_save(Image.fromarray(wide), "PNG"))
    assert max(rgb.shape[:2]) <= MAX_IMAGE_SIDE and rgb[..., 0].min() < 10 and rgb[..., 0].max() > 245
    assert 100 < rgb.mean() < 155
    rgba = np.zeros((8, 8, 4), np.uint8)  # fully transparent black
    out = load_image(_save(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert np.all(out == 128)  # composited onto mid grey, not shown as black


def test_broken_inputs_fail_alone_and_name_the_file(enc, tmp_path):
    good = image_bytes(synth_image(0.2, 0.1, size=64))
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(image_bytes(synth_image(0.2, 0.1, size=64), "JPEG")[:40])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    results = enc.encode([good, truncated, empty, tmp_path / "missing.png", b"not an image at all"])
    assert results[0].error is None
    assert "cut.jpg" in results[1].error and "empty.png" in results[2].error and "missing.png" in results[3].error
    assert results[4].error.startswith("DecodeError")


def test_analyze_cli_returns_the_new_model_with_its_basis(cache, tmp_path):
    from click.testing import CliRunner

    from emoalign.cli import cli
    from emoalign.media.synth import write_image

    path = write_image(tmp_path / "scene.png", synth_image(0.6, -0.2, size=128, seed=5))
    res = CliRunner().invoke(cli, ["analyze", "--modality", "image", "--json", str(path)])
    assert res.exit_code == 0, res.output
    row = json.loads([line for line in res.output.splitlines() if line.startswith("{")][0])
    assert row["encoder"] == "image-affect" and row["error"] is None
    assert -1.0 <= row["valence"] <= 1.0 and -1.0 <= row["arousal"] <= 1.0
    assert row["details"]["basis"] == "content" and len(row["details"]["looks_like"]) == 3
    assert {"lightness", "chroma"} <= set(row["details"]["colour"])
