"""Faces on crops (issue #12, item 1): the crop rule, face_mode, what a result says it is based on,
the CNN classifier path (on a tiny ONNX net built here), and the same options through `analyze`,
the Python API, the CLI and the service."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("cv2")
pytest.importorskip("onnxruntime")
skimage_data = pytest.importorskip("skimage.data")

from click.testing import CliRunner  # noqa: E402

from emoalign.cli import cli  # noqa: E402
from emoalign.encode.analyze import analyze, image_modality  # noqa: E402
from emoalign.encode.face import FER_LABELS, CNNFaceEncoder, FERFaceEncoder, looks_like_face_crop  # noqa: E402
from emoalign.encode.registry import DEFAULTS, get_encoder  # noqa: E402
from emoalign.media.synth import image_bytes, synth_image  # noqa: E402

#: The astronaut's face in skimage's astronaut() photo (found by the Haar detector: test_encode_face).
FACE_BOX = (177, 66, 95, 95)


def fer_style_crop(rgb: np.ndarray, box=FACE_BOX, margin: float = 0.1, size: int = 48) -> np.ndarray:
    """A FER2013-like crop: the face box widened a little, grey, ``size``×``size``."""
    x, y, w, h = box
    m = int(round(w * margin))
    face = rgb[max(0, y - m) : y + h + m, max(0, x - m) : x + w + m]
    return np.asarray(Image.fromarray(face).convert("L").resize((size, size), Image.LANCZOS))


@pytest.fixture(scope="module")
def cnn() -> FERFaceEncoder:
    """The default face encoder (the name is historical: any `FaceEncoder` runs these tests)."""
    return get_encoder(DEFAULTS["face"])


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory) -> str:
    """A small, untrained CNN with the trained model's signature: (n, 1, 48, 48) pixels → 7 logits."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(16, 7),
    ).eval()
    path = tmp_path_factory.mktemp("cnn") / "tiny.onnx"
    torch.onnx.export(net, torch.zeros(1, 1, 48, 48), str(path), input_names=["pixels"], output_names=["logits"],
                      dynamic_axes={"pixels": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False)
    return str(path)


@pytest.fixture(scope="module")
def crop48() -> np.ndarray:
    return fer_style_crop(skimage_data.astronaut())


@pytest.fixture(scope="module")
def landscape_png() -> bytes:
    """A 640×480 colourful picture without a face: too big for the crop rule."""
    return image_bytes(np.asarray(Image.fromarray(synth_image(0.5, 0.5, size=480)).resize((640, 480))))


def test_the_crop_rule():
    assert looks_like_face_crop(48, 48) and looks_like_face_crop(256, 256)
    assert looks_like_face_crop(192, 256) and looks_like_face_crop(256, 193)  # aspect 0.75 and 1.33 allowed
    assert not looks_like_face_crop(257, 257)  # too big
    assert not looks_like_face_crop(100, 140)  # aspect 0.71: too elongated
    assert not looks_like_face_crop(0, 48)


def test_default_face_backend(cnn):
    assert DEFAULTS["face"] == "face-fer" and isinstance(cnn, FERFaceEncoder)
    assert (cnn.modality, cnn.taxonomy) == ("face", "fer7")


def test_fer_style_crop_is_classified_whole_and_says_so(cnn, crop48):
    res = cnn.encode([image_bytes(crop48)])[0]
    assert res.ok, res.error
    assert res.details["basis"] == "whole image" and res.details["n_faces"] == 0
    assert "crop rule" in res.details["basis_reason"] and res.details["size"] == [48, 48]
    assert res.affect.top()[0] == "happy"  # the astronaut smiles
    assert list(res.affect.probs) == list(FER_LABELS)
    assert sum(res.affect.probs.values()) == pytest.approx(1.0, abs=1e-6)


def test_detected_face_is_preferred_to_the_whole_image(cnn):
    res = cnn.encode([image_bytes(skimage_data.astronaut())])[0]
    assert res.ok, res.error
    assert res.details["basis"] == "detected face" and res.details["n_faces"] == 1
    assert res.affect.top()[0] == "happy"
    # a 200×200 crop around the face is crop-sized, but the detector still finds the face in it
    head = skimage_data.astronaut()[30:230, 130:330]
    res = cnn.encode([image_bytes(head)])[0]
    assert res.details["basis"] == "detected face" and res.affect.top()[0] == "happy"


def test_face_modes(cnn, crop48, landscape_png):
    crop = image_bytes(crop48)
    # detect: a 48×48 crop is below the detector's minimum face size -> no face, no guess
    res = cnn.encode([crop], face_mode="detect")[0]
    assert not res.ok and res.affect is None and "no face found" in res.error
    # auto on a big picture without a face: an error that names the way out
    res = cnn.encode([landscape_png])[0]
    assert not res.ok and "no face found" in res.error and "640×480" in res.error and "--face-crop" in res.error
    # crop on the same non-face picture: classified, and the result says on what
    res = cnn.encode([landscape_png], face_mode="crop")[0]
    assert res.ok and res.details["basis"] == "whole image" and "forced" in res.details["basis_reason"]
    assert res.details["face_mode"] == "crop"
    with pytest.raises(ValueError, match="face_mode"):
        cnn.encode([crop], face_mode="sideways")


def test_a_small_non_face_in_auto_mode_is_still_labelled_whole_image(cnn):
    """The crop rule looks at size and shape only: a small picture is read as a crop, and says so."""
    res = cnn.encode([image_bytes(synth_image(-0.5, 0.5, size=64))])[0]
    assert res.ok and res.details["basis"] == "whole image"
    assert "64×64" in res.details["basis_reason"]


def test_grey_rgb_rgba_crops_agree(cnn, crop48):
    grey = cnn.encode([image_bytes(crop48)])[0]
    rgb = cnn.encode([image_bytes(np.dstack([crop48] * 3))])[0]
    rgba = cnn.encode([image_bytes(np.dstack([crop48] * 3 + [np.full_like(crop48, 255)]))])[0]
    for other in (rgb, rgba):
        assert other.affect.probs == pytest.approx(grey.affect.probs, abs=1e-5)


def test_flip_tta_is_the_mean_of_the_face_and_its_mirror(cnn, crop48):
    plain = FERFaceEncoder(flip_tta=False).classifier
    a = plain.predict(plain.whole(crop48))[0]
    b = plain.predict(plain.whole(crop48[:, ::-1].copy()))[0]
    both = cnn.classifier.predict(cnn.classifier.whole(crop48))[0]
    np.testing.assert_allclose(both, (a + b) / 2, atol=1e-6)


def test_cnn_classifier_path_on_a_tiny_onnx_net(tiny_onnx, crop48):
    enc = CNNFaceEncoder(model=tiny_onnx)
    crop = enc.encode([image_bytes(crop48)])[0]
    assert crop.ok and crop.details["basis"] == "whole image" and list(crop.affect.probs) == list(FER_LABELS)
    assert sum(crop.affect.probs.values()) == pytest.approx(1.0, abs=1e-6)
    photo = enc.encode([image_bytes(skimage_data.astronaut())])[0]
    assert photo.details["basis"] == "detected face" and photo.details["n_faces"] == 1
    # flip TTA = mean of the face's and its mirror's softmax
    plain = CNNFaceEncoder(model=tiny_onnx, flip_tta=False).classifier
    x = plain.whole(crop48)
    np.testing.assert_allclose(enc.classifier.predict(x)[0], (plain.predict(x)[0] + plain.predict(x[..., ::-1])[0]) / 2, atol=1e-6)
    # a detected box near the border is cut with replicated edges, always 48×48
    cut = plain.crops(np.zeros((100, 100), np.uint8), [(80, 80, 30, 30), (0, 0, 100, 100)])
    assert cut.shape == (2, 1, 48, 48)
    with pytest.raises(FileNotFoundError, match="train one"):
        CNNFaceEncoder(model="/nonexistent/face_cnn.onnx")


def test_fer_backend_reads_crops(cnn, crop48):
    res = cnn.encode([image_bytes(crop48)])[0]
    assert res.ok and res.details["basis"] == "whole image"
    assert "mini-XCEPTION" in res.details["classifier"]


def test_bad_inputs_fail_alone(cnn, crop48):
    res = cnn.encode([b"\x89PNG\r\n\x1a\n junk", image_bytes(crop48), b""], face_mode="crop")
    assert "cannot decode image" in res[0].error and res[1].ok and "empty" in res[2].error


# ---------------------------------------------------------------- routing, analyze, CLI, service
def test_auto_routing_sends_grey_crops_to_faces(crop48, landscape_png):
    assert image_modality(image_bytes(crop48)) == "face"
    assert image_modality(image_bytes(np.dstack([crop48] * 3))) == "face"  # grey stored as RGB
    assert image_modality(image_bytes(synth_image(0.5, 0.5, size=96))) == "image"  # colour, no face: scene
    assert image_modality(landscape_png) == "image"
    assert image_modality(landscape_png, "crop") == "face" and image_modality(landscape_png, "detect") == "face"


def test_analyze_passes_face_mode(crop48, landscape_png):
    rows = analyze([image_bytes(crop48), landscape_png], names=["crop.png", "land.png"])
    assert [r["modality"] for r in rows] == ["face", "image"]
    assert rows[0]["encoder"] == "face-fer" and rows[0]["label"] == "happy"
    assert rows[0]["details"]["basis"] == "whole image"
    rows = analyze([image_bytes(crop48), landscape_png], face_mode="crop")
    assert [r["details"]["basis"] for r in rows] == ["whole image", "whole image"]
    assert all(r["encoder"] == "face-fer" and r["error"] is None for r in rows)
    rows = analyze([image_bytes(crop48)], face_mode="detect")
    assert rows[0]["modality"] == "face" and "no face found" in rows[0]["error"]
    with pytest.raises(ValueError, match="face_mode"):
        analyze([image_bytes(crop48)], face_mode="maybe")


def _cli(*args: str) -> tuple[int, list[dict], str]:
    result = CliRunner().invoke(cli, ["analyze", *args])
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, rows, result.output


def test_cli_flags(tmp_path, crop48, landscape_png):
    crop, land = tmp_path / "crop.png", tmp_path / "land.png"
    Image.fromarray(crop48).save(crop)
    land.write_bytes(landscape_png)
    code, rows, out = _cli("--json", str(crop))  # no flags: what a user with FER2013 crops runs
    assert code == 0, out
    assert (rows[0]["modality"], rows[0]["encoder"], rows[0]["label"], rows[0]["details"]["basis"]) == ("face", "face-fer", "happy", "whole image")
    code, rows, out = _cli("--json", "--face-crop", str(land))
    assert code == 0 and rows[0]["details"]["basis"] == "whole image" and rows[0]["modality"] == "face", out
    code, rows, out = _cli("--json", "--detect", str(crop))
    assert code == 1 and "no face found" in rows[0]["error"]
    code, rows, out = _cli("--face-crop", "--detect", str(crop))
    assert code == 2 and "exclude each other" in out


def test_service_face_mode(crop48, landscape_png):
    pytest.importorskip("fastapi")
    pytest.importorskip("multipart")
    from fastapi.testclient import TestClient

    from emoalign.serve.app import create_app

    with TestClient(create_app(preload=("face-fer",), warm=False)) as client:
        def post(data: bytes, **form):
            return client.post("/api/analyze", files={"file": ("x.png", data, "image/png")}, data=form)

        r = post(image_bytes(crop48))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["modality"], body["encoder"], body["details"]["basis"]) == ("face", "face-fer", "whole image")
        r = post(landscape_png, face_mode="crop")
        assert r.status_code == 200 and r.json()["details"]["basis"] == "whole image"
        r = post(image_bytes(crop48), face_mode="detect")
        assert r.status_code == 422 and "no face found" in r.json()["detail"]
        assert post(image_bytes(crop48), face_mode="sideways").status_code == 422


def test_python_api_takes_face_mode(crop48, landscape_png):
    import emoalign

    res = emoalign.analyze(emoalign.Image(crop48, name="crop"))
    assert (res.modality, res.encoder, res.details["basis"]) == ("face", "face-fer", "whole image")
    res = emoalign.analyze(landscape_png, face_mode="crop")
    assert res.ok and res.modality == "face" and res.details["basis"] == "whole image"
    res = emoalign.analyze(emoalign.Image(crop48), face_mode="detect")
    assert not res.ok and "no face found" in res.error
