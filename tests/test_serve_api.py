"""The HTTP API through FastAPI's TestClient: every endpoint, bad uploads, concurrency, load-once."""

from __future__ import annotations

import io
import math
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
from fastapi.testclient import TestClient  # noqa: E402

from emoalign import __version__  # noqa: E402
from emoalign.affect import get_taxonomy, list_taxonomies  # noqa: E402
from emoalign.encode.analyze import analyze  # noqa: E402
from emoalign.encode.registry import get_encoder  # noqa: E402
from emoalign.media.synth import clip_bytes, image_bytes, synth_clip, synth_image  # noqa: E402
from emoalign.serve.app import ServeConfig, create_app  # noqa: E402

FIELDS = {"input", "modality", "encoder", "taxonomy", "label", "confidence", "probs", "valence", "arousal", "error", "details"}


@pytest.fixture(scope="module")
def app():
    return create_app(preload=("image-scene", "music-acoustic", "text-use", "video-fusion"))


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def png() -> bytes:
    return image_bytes(synth_image(0.7, 0.6, size=96, seed=1), "PNG")


@pytest.fixture(scope="module")
def jpeg_sad() -> bytes:
    return image_bytes(synth_image(-0.8, -0.5, size=96, seed=2), "JPEG")


@pytest.fixture(scope="module")
def wav() -> bytes:
    return clip_bytes(synth_clip(0.6, 0.7, seconds=3.0, seed=3))


def _has(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


def _post_file(client, data: bytes, name: str, mime: str = "application/octet-stream", **form):
    return client.post("/api/analyze", files={"file": (name, data, mime)}, data=form)


# ------------------------------------------------------------------------------ service
def test_health_and_version(client):
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["version"] == __version__
    assert {"image-scene", "music-acoustic"} <= set(h["encoders"])
    assert h["limits"]["max_upload_bytes"] == ServeConfig().max_upload_bytes
    assert client.get("/api/version").json() == {"name": "emoalign", "version": __version__}


def test_taxonomies_and_coordinates(client):
    listed = client.get("/api/taxonomies").json()
    assert [t["name"] for t in listed] == list(list_taxonomies())
    detail = client.get("/api/taxonomies/mikels8").json()
    tax = get_taxonomy("mikels8")
    assert [l["name"] for l in detail["labels"]] == list(tax.names)
    for got, want in zip(detail["labels"], tax.labels):
        assert got["valence"] == pytest.approx(want.valence) and got["arousal"] == pytest.approx(want.arousal)
        assert -1 <= got["valence"] <= 1 and -1 <= got["arousal"] <= 1
    r = client.get("/api/taxonomies/nope")
    assert r.status_code == 404 and "mikels8" in r.json()["detail"]


def test_openapi_lists_every_endpoint(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/analyze", "/api/analyze/text", "/api/match", "/api/taxonomies", "/api/taxonomies/{name}", "/api/health",
            "/api/version", "/api/media/{path}"} <= set(spec["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200
    if _has("fastapi_offline"):
        assert "/docs-assets/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text.lower()
        assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_page_is_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/static/app.js" in assets and "/static/style.css" in assets
    for asset in ("/static/app.js", "/static/style.css"):
        body = client.get(asset)
        assert body.status_code == 200
        # No external fetches: the only absolute URL is the SVG namespace (an identifier, never loaded).
        urls = set(re.findall(r"https?://[^\s\"')]+", body.text)) - {"http://www.w3.org/2000/svg"}
        assert not urls, f"{asset} references {urls}"
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))]


# ------------------------------------------------------------------------------ analyse
def test_analyse_image_has_analyze_fields(client, png):
    r = _post_file(client, png, "holiday.png", "image/png")
    assert r.status_code == 200, r.text
    row = r.json()
    assert FIELDS <= set(row)
    assert row["input"] == "holiday.png" and row["modality"] == "image" and row["error"] is None
    assert row["taxonomy"] == "mikels8" and row["label"] in get_taxonomy("mikels8").names
    assert math.isclose(sum(row["probs"].values()), 1.0, abs_tol=1e-6)
    # Same answer as the library call (and so as `emoalign analyze --json`) for the same bytes.
    direct = analyze([png], names=["holiday.png"])[0]
    assert row["label"] == direct["label"]
    assert row["valence"] == pytest.approx(direct["valence"]) and row["arousal"] == pytest.approx(direct["arousal"])


def test_analyse_music_clip(client, wav):
    row = _post_file(client, wav, "song.wav", "audio/wav").json()
    assert row["modality"] == "music" and row["encoder"] == "music-acoustic" and row["taxonomy"] == "emid13"
    assert row["label"] in get_taxonomy("emid13").names and -1 <= row["arousal"] <= 1


def test_type_is_read_from_content_not_name(client, png):
    r = _post_file(client, png, "report.pdf", "application/pdf")
    assert r.status_code == 200 and r.json()["modality"] == "image"


def test_analyse_text(app, client):
    r = client.post("/api/analyze/text", json={"text": "I am so happy, this is wonderful news!"})
    problem = app.state.unavailable.get("text-use")
    if problem:  # the text encoder cannot load here: the service says so, with the reason, as a 503
        assert r.status_code == 503 and "text-use" in r.json()["detail"] and problem in r.json()["detail"]
        return
    assert r.status_code == 200, r.text
    row = r.json()
    assert FIELDS <= set(row)
    assert row["modality"] == "text" and row["encoder"] == "text-use" and row["error"] is None and row["label"]
    assert row["valence"] > 0
    assert row == analyze(texts=["I am so happy, this is wonderful news!"])[0] | {"input": row["input"]}


def test_analyse_video(client):
    pytest.importorskip("av")
    from emoalign.media.video import write_video

    frames = [synth_image(0.5, 0.5, size=64, seed=k) for k in range(10)]
    clip = write_video(None, frames, fps=5.0, audio=synth_clip(0.5, 0.5, seconds=2.0), sr=16000)
    r = _post_file(client, clip, "party.mp4", "video/mp4")
    assert r.status_code == 200, r.text
    row = r.json()
    assert row["modality"] == "video" and row["encoder"] == "video-fusion" and row["taxonomy"] == "emotiontalk7"
    assert row["details"]["segments"]  # per-segment affect travels through the API as JSON


def test_forced_modality_music_for_audio(client, wav):
    row = _post_file(client, wav, "a.wav", modality="music").json()
    assert row["modality"] == "music"


# -------------------------------------------------------------------------- bad uploads
@pytest.mark.parametrize("name,data,mime", [
    ("cat.png", b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "image/png"),
    ("song.mp3", b"<html><script>alert(1)</script></html>", "audio/mpeg"),
    ("photo.jpg", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200), "image/jpeg"),
    ("clip.wav", "just some text, honestly".encode(), "audio/wav"),
])
def test_wrong_type_disguised_by_name_is_415(client, name, data, mime):
    r = _post_file(client, data, name, mime)
    assert r.status_code == 415
    assert "unsupported file type" in r.json()["detail"] and "whatever its name says" in r.json()["detail"]


def test_corrupt_image_is_422_with_decoder_message(client, png):
    r = _post_file(client, png[:16] + bytes(range(256)) * 4, "broken.png", "image/png")
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith("broken.png: cannot decode image") and "BytesIO" not in detail and " at 0x" not in detail


def test_truncated_jpeg_is_422(client, jpeg_sad):
    r = _post_file(client, jpeg_sad[: len(jpeg_sad) // 3], "half.jpg", "image/jpeg")
    assert r.status_code == 422 and "image" in r.json()["detail"]


def test_corrupt_audio_is_422_with_decoder_message(client):
    fake = b"RIFF" + (1000).to_bytes(4, "little") + b"WAVE" + b"\x07garbage-not-a-fmt-chunk" * 20
    r = _post_file(client, fake, "broken.wav", "audio/wav")
    assert r.status_code == 422
    assert "cannot decode audio" in r.json()["detail"] and "broken.wav" in r.json()["detail"]


def test_pixel_bomb_is_422(client):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (9000, 9000)).save(buf, "PNG")  # 81 Mpx, a few hundred kB compressed
    r = _post_file(client, buf.getvalue(), "bomb.png", "image/png")
    detail = r.json()["detail"]
    assert r.status_code == 422 and ("pixel" in detail or "bomb" in detail)


def test_empty_file_and_missing_input_are_422(client):
    r = _post_file(client, b"", "empty.png")
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    r = client.post("/api/analyze")
    assert r.status_code == 422 and r.json()["detail"] == "file: Field required"
    for bad in ({"text": "   "}, {"text": ""}, {}, {"text": 3}):
        r = client.post("/api/analyze/text", json=bad)
        assert r.status_code == 422 and r.json()["detail"].startswith("text:"), (bad, r.text)


def test_modality_that_cannot_read_the_file_is_415(client, png, wav):
    r = _post_file(client, png, "a.png", modality="speech")
    assert r.status_code == 415 and "audio" in r.json()["detail"]
    r = _post_file(client, wav, "a.wav", modality="image")
    assert r.status_code == 415 and "image" in r.json()["detail"]
    r = _post_file(client, png, "a.png", modality="bogus")
    assert r.status_code == 422 and r.json()["detail"].startswith("modality: Input should be 'auto'")


def test_too_big_upload_is_413():
    small = create_app(preload=("image-scene",), config=ServeConfig(max_upload_bytes=20_000))
    noise = np.random.default_rng(5).integers(0, 256, size=(128, 128, 3), dtype=np.uint8)
    big = image_bytes(noise, "PNG")  # noise does not compress: ~49 kB
    assert len(big) > 20_000
    with TestClient(small) as c:
        # Under the body cap (limit + 64 KiB of envelope) but over the file limit: the handler says so.
        r = c.post("/api/analyze", files={"file": ("big.png", big, "image/png")})
        assert r.status_code == 413 and "20,000" in r.json()["detail"]
        # Far over: refused from Content-Length before anything is parsed or spooled to disk.
        r = c.post("/api/analyze", files={"file": ("huge.png", big + bytes(200_000), "image/png")})
        assert r.status_code == 413 and "request body" in r.json()["detail"]
        # A chunked body without Content-Length is counted as it arrives.
        def chunks():
            for _ in range(40):
                yield bytes(4096)
        r = c.post("/api/analyze", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"})
        assert r.status_code == 413
        # Text over the character limit.
        r = c.post("/api/analyze/text", json={"text": "a" * 5001})
        assert r.status_code == 422 and "at most 5000 characters" in r.json()["detail"]


# --------------------------------------------------------------------------- concurrency
def test_concurrent_requests_give_the_sequential_answers(app, client, png, jpeg_sad, wav):
    jobs = [("a.png", png), ("b.jpg", jpeg_sad), ("c.wav", wav)] * 6
    expected = {name: _post_file(client, data, name).json() for name, data in jobs[:3]}
    texts = ["What a wonderful surprise!", "I am terrified of the dark."]
    with_text = "text-use" not in app.state.unavailable
    expected_text = {t: client.post("/api/analyze/text", json={"text": t}).json() for t in texts} if with_text else {}

    def one(i: int):
        if i % 4 == 3 and with_text:
            t = texts[i % 2]
            return t, client.post("/api/analyze/text", json={"text": t})
        name, data = jobs[i % len(jobs)]
        return name, _post_file(client, data, name)

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(one, range(48)))
    for key, r in results:
        assert r.status_code == 200, r.text
        want = expected.get(key) or expected_text[key]
        got = r.json()
        assert got["label"] == want["label"]
        assert got["probs"] == pytest.approx(want["probs"], abs=1e-6)
        assert got["valence"] == pytest.approx(want["valence"], abs=1e-6)


def test_models_load_once_not_per_request(client, png, wav):
    before = get_encoder.cache_info()
    encoder = get_encoder("image-scene")
    for _ in range(3):
        assert _post_file(client, png, "a.png").status_code == 200
        assert _post_file(client, wav, "a.wav").status_code == 200
    after = get_encoder.cache_info()
    assert after.misses == before.misses  # no encoder constructed by a request
    assert get_encoder("image-scene") is encoder
    assert getattr(encoder, "_emoalign_serialised", False)  # the shared instance holds its lock


def test_encoder_that_fails_to_load_is_reported():
    app = create_app(preload=("image-scene", "no-such-encoder"))
    assert "no-such-encoder" in app.state.unavailable
    with TestClient(app) as c:
        assert "no-such-encoder" not in c.get("/api/health").json()["encoders"]


def test_models_load_at_start_and_a_model_that_cannot_run_is_reported(tmp_path, monkeypatch):
    """Warm-up runs each encoder once when the app is built: the text model is in memory before
    any request, and a hub model that cannot load (an empty model folder) is reported as
    unavailable with the reason, instead of failing the first request that needs it."""
    from emoalign.serve import locks

    (tmp_path / "empty-clip").mkdir()
    monkeypatch.setenv("EMOALIGN_CLIP_MODEL", str(tmp_path / "empty-clip"))
    get_encoder.cache_clear()
    try:
        app = create_app(preload=("text-use", "image-clip-hub"))
        assert app.state.encoders == ["text-use"]
        assert "empty-clip" in app.state.unavailable["image-clip-hub"]
        assert locks.STATS["text-use"]["calls"] >= 1  # the warm-up call, before any request
        with TestClient(app) as c:
            r = c.post("/api/analyze/text", json={"text": "我今天特别开心"})
            assert r.status_code == 200 and r.json()["error"] is None
            assert "image-clip-hub" not in c.get("/api/health").json()["encoders"]
    finally:
        get_encoder.cache_clear()
