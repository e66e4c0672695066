"""Matching over HTTP against the example index, its media, and what a request path can reach."""

from __future__ import annotations

import http.client
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("faiss")
from fastapi.testclient import TestClient  # noqa: E402

from emoalign.media.synth import clip_bytes, image_bytes, synth_clip, synth_image  # noqa: E402
from emoalign.serve.app import create_app  # noqa: E402
from emoalign.serve.default_index import default_index, example_dir  # noqa: E402
from emoalign.serve.media import MediaNotFound, MediaRoot  # noqa: E402
from emoalign.serve.runner import serve_in_thread  # noqa: E402

HIT_FIELDS = {"rank", "id", "modality", "path", "similarity", "semantic", "emotional", "total", "emotion", "taxonomy",
              "valence", "arousal", "reason", "media_url"}


def example_cache(tmp_path_factory) -> Path:
    """A cache folder holding the example index, shared by this session's serve tests."""
    return tmp_path_factory.getbasetemp() / "serve-cache"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    return default_index(example_cache(tmp_path_factory) / example_dir().name)


@pytest.fixture(scope="module")
def media_dir(index_dir) -> Path:
    return index_dir.parent / "data" / "emid"


@pytest.fixture(scope="module")
def client(index_dir):
    with TestClient(create_app(index_dir, preload=("image-scene", "music-acoustic"))) as c:
        yield c


@pytest.fixture(scope="module")
def jpg(media_dir) -> Path:
    return sorted((media_dir / "imageData").rglob("*.jpg"))[0]


@pytest.fixture(scope="module")
def mp3(media_dir) -> Path:
    return sorted((media_dir / "musicData").glob("*.mp3"))[0]


def _match(client, path_or_bytes, name="q", **form):
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    return client.post("/api/match", files={"file": (name, data, "application/octet-stream")}, data=form)


# ----------------------------------------------------------------------------- example index
def test_example_index_is_built_once_then_reused(index_dir):
    ready = index_dir.parent / "READY"
    assert ready.is_file() and (index_dir / "manifest.json").is_file()
    stamp = (index_dir / "manifest.json").stat().st_mtime_ns
    assert default_index(index_dir.parent) == index_dir
    assert (index_dir / "manifest.json").stat().st_mtime_ns == stamp


def test_health_describes_the_index(client):
    idx = client.get("/api/health").json()["index"]
    assert idx["items"] > 40 and set(idx["modalities"]) == {"music", "image"}
    assert idx["media"] is True and idx["missing_media"] == 0
    assert "/" not in idx["name"]  # no server path


# ----------------------------------------------------------------------------------- match
def test_image_finds_music_with_reasons(client, jpg, index_dir):
    from emoalign.retrieve import match

    r = _match(client, jpg, name=jpg.name, top=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"]["modality"] == "image" and body["query"]["name"] == jpg.name
    hits = body["results"]
    assert len(hits) == 5 and all(HIT_FIELDS <= set(h) for h in hits)
    assert all(h["modality"] == "music" for h in hits)
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    assert [h["total"] for h in hits] == sorted((h["total"] for h in hits), reverse=True)
    for h in hits:
        assert h["emotion"] in h["reason"] and body["query"]["emotion"] in h["reason"]
        assert 0 <= h["emotional"] <= 1 and 0 <= h["semantic"] <= 1
        assert not h["path"].startswith("/") and h["media_url"].startswith("/api/media/")
    assert body["index"] == index_dir.name  # the folder's name, not its server path
    # The same ranking and scores as the library call behind `emoalign match --json`.
    direct = match(jpg, index_dir, top=5).to_dict()
    assert [h["id"] for h in hits] == [h["id"] for h in direct["results"]]
    assert [h["total"] for h in hits] == pytest.approx([h["total"] for h in direct["results"]], abs=1e-6)
    assert set(direct) <= set(body) and set(direct["results"][0]) <= set(hits[0])


def test_media_of_a_hit_is_the_item_file(client, jpg, media_dir):
    hit = _match(client, jpg, top=1).json()["results"][0]
    r = client.get(hit["media_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
    assert r.content == (media_dir / hit["path"]).read_bytes()
    # Range requests work (the page's <audio> seeks with them).
    part = client.get(hit["media_url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == r.content[:100]


def test_music_finds_images(client, mp3, media_dir):
    body = _match(client, mp3, name=mp3.name, top=3).json()
    assert body["query"]["modality"] == "music" and body["query"]["taxonomy"] == "emid13"
    assert [h["modality"] for h in body["results"]] == ["image"] * 3
    img = client.get(body["results"][0]["media_url"])
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    assert img.content == (media_dir / body["results"][0]["path"]).read_bytes()


def test_emotion_filter(client, jpg, index_dir):
    from emoalign.store.index import VectorIndex

    music_labels = {it["label"] for it in VectorIndex.open(index_dir).items() if it["modality"] == "music"}
    label = sorted(music_labels)[0]
    body = _match(client, jpg, top=10, emotion=label).json()
    assert body["results"] and {h["emotion"] for h in body["results"]} == {label}
    assert body["filters"]["emotion"] == label
    r = _match(client, jpg, emotion="grumpy-ish")
    assert r.status_code == 422 and "unknown emotion" in r.json()["detail"] and label in r.json()["detail"]


def test_alpha_changes_the_ranking_weights(client, jpg):
    only_emotion = _match(client, jpg, top=5, alpha=0.0).json()["results"]
    assert [h["total"] for h in only_emotion] == pytest.approx([h["emotional"] for h in only_emotion])
    only_meaning = _match(client, jpg, top=5, alpha=1.0).json()["results"]
    assert [h["total"] for h in only_meaning] == pytest.approx([h["semantic"] for h in only_meaning])


@pytest.mark.parametrize("form", [{"top": 0}, {"top": 51}, {"top": "many"}, {"alpha": 1.5}, {"alpha": -0.1}])
def test_bad_match_parameters_are_422(client, jpg, form):
    r = _match(client, jpg, **form)
    assert r.status_code == 422 and r.json()["detail"].split(":")[0] in form


def test_bad_match_uploads(client, jpg):
    r = _match(client, b"name,emotion\nx,joy\n", name="photo.jpg")
    assert r.status_code == 415
    video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(100)
    r = _match(client, video, name="clip.mp4")
    assert r.status_code == 415 and "matching takes an image or an audio file" in r.json()["detail"]
    r = _match(client, jpg.read_bytes()[:40], name="cut.jpg")
    assert r.status_code == 422 and "cannot decode image" in r.json()["detail"]
    assert _match(client, b"", name="empty.jpg").status_code == 422


def test_generated_media_match_too(client):
    png = image_bytes(synth_image(-0.7, 0.8, size=80, seed=9), "PNG")
    wav = clip_bytes(synth_clip(0.8, 0.5, seconds=3.0, seed=9))
    assert _match(client, png, top=2).json()["query"]["modality"] == "image"
    assert [h["modality"] for h in _match(client, wav, top=2).json()["results"]] == ["image", "image"]


def test_without_an_index_match_is_503():
    with TestClient(create_app(preload=("image-scene",))) as c:
        r = _match(c, image_bytes(synth_image(0.1, 0.1, size=32), "PNG"))
        assert r.status_code == 503 and "--index" in r.json()["detail"]
        assert c.get("/api/media/anything.jpg").status_code == 404


# ------------------------------------------------------------------------ paths that escape
RAW_ESCAPES = [
    "/api/media/../index/manifest.json",
    "/api/media/../../../../etc/passwd",
    "/api/media/%2e%2e/index/manifest.json",
    "/api/media/%2E%2E%2Findex%2Fmanifest.json",
    "/api/media/musicData/..%2F..%2Findex%2Fmanifest.json",
    "/api/media/musicData%2f..%2f..%2f..%2fREADY",
    "/api/media/%2fetc%2fpasswd",
    "/api/media//etc/passwd",
    "/api/media/%252e%252e/index/manifest.json",
    "/api/media/..%5cindex%5cmanifest.json",
    "/api/media/musicData/%00.mp3",
    "/api/media/./EMID_data.csv",
    "/api/media/EMID_data.csv",
    "/api/media/musicData",
    "/api/media/",
]


def _raw_get(url: str, raw_path: str) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (no client-side normalisation of '..')."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("GET", raw_path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_request_paths_never_leave_the_media_root(index_dir, media_dir, mp3):
    app = create_app(index_dir, preload=())
    secret = (index_dir / "manifest.json").read_bytes()
    with serve_in_thread(app) as url:
        ok, body = _raw_get(url, "/api/media/musicData/" + mp3.name)
        assert ok == 200 and body == mp3.read_bytes()
        for raw in RAW_ESCAPES:
            status, body = _raw_get(url, raw)
            # Refused by the media check itself (not by an accident of routing).
            assert (status, body) == (404, b'{"detail":"not a media file of the index"}'), raw
            assert secret not in body and b"root:" not in body and b"Audio_Filename" not in body, raw


def test_symlinks_out_of_the_media_root_are_refused(tmp_path, index_dir, media_dir):
    """An index whose media folder contains links pointing outside it."""
    from emoalign.retrieve import build_index
    from emoalign.store.featurize import Featurizer

    media = tmp_path / "media"
    outside = tmp_path / "outside"
    media.mkdir()
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(image_bytes(synth_image(0.2, 0.2, size=40, seed=4), "JPEG"))
    items = [media / "a.jpg", media / "b.jpg", media / "c.wav"]
    items[0].write_bytes(image_bytes(synth_image(0.6, 0.3, size=40, seed=1), "JPEG"))
    items[1].write_bytes(image_bytes(synth_image(-0.6, 0.3, size=40, seed=2), "JPEG"))
    items[2].write_bytes(clip_bytes(synth_clip(0.4, 0.2, seconds=2.0, seed=3)))
    build_index(None, tmp_path / "index", files=items, featurizer=Featurizer(backend="xmodal"), workers=1)
    os.symlink(outside / "secret.jpg", media / "link.jpg")  # a file link pointing out
    os.symlink(outside, media / "up")  # a folder link pointing out
    os.symlink(media / "a.jpg", media / "alias.jpg")  # a link inside, to an item
    with TestClient(create_app(tmp_path / "index", preload=())) as c:
        assert c.get("/api/media/a.jpg").status_code == 200
        assert c.get("/api/media/c.wav").headers["content-type"] == "audio/wav"
        for path in ("link.jpg", "up/secret.jpg", "up%2Fsecret.jpg"):
            assert c.get("/api/media/" + path).status_code == 404, path
        # A link that stays inside and names an item is the item itself.
        assert c.get("/api/media/alias.jpg").content == items[0].read_bytes()


def test_media_root_rules(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "x.jpg").write_bytes(b"\xff\xd8\xff" + bytes(10))
    (root / "notes.txt").write_text("not an item")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", root / "out.txt")
    os.symlink(root / "loop", root / "loop")
    m = MediaRoot(root, allowed=[root / "sub" / "x.jpg", root / "out.txt"])
    assert m.resolve("sub/x.jpg") == (root / "sub" / "x.jpg").resolve()
    assert m.allowed == frozenset({(root / "sub" / "x.jpg").resolve()})  # the link out never becomes servable
    for bad in ("", "/etc/passwd", "../secret.txt", "sub/../../secret.txt", "sub/./x.jpg", "sub//x.jpg",
                "sub\\x.jpg", "a\x00b", "out.txt", "loop", "notes.txt", "sub", str(root / "sub" / "x.jpg")):
        with pytest.raises(MediaNotFound):
            m.resolve(bad)
    open_root = MediaRoot(root)  # no item list: any regular file inside, still nothing outside
    assert open_root.resolve("notes.txt").name == "notes.txt"
    with pytest.raises(MediaNotFound):
        open_root.resolve("out.txt")
    assert m.relative(root / "sub" / "x.jpg") == "sub/x.jpg" and m.relative(tmp_path / "secret.txt") is None


def test_nothing_is_written_by_requests(client, jpg, index_dir, media_dir):
    """Uploads stay in memory: the index and media folders are unchanged by any request."""
    def snapshot():
        return {p: p.stat().st_mtime_ns for base in (index_dir, media_dir) for p in base.rglob("*")}

    before = snapshot()
    _match(client, jpg, name="../../index/manifest.json", top=2)
    client.post("/api/analyze", files={"file": ("../../../../tmp/evil.png", jpg.read_bytes(), "image/png")})
    client.put("/api/media/x.jpg", content=b"overwrite")
    client.delete("/api/media/musicData/" + next((media_dir / "musicData").iterdir()).name)
    assert snapshot() == before
    assert not Path("/tmp/evil.png").exists()


def test_concurrent_matches_give_the_sequential_answers(client, media_dir):
    from concurrent.futures import ThreadPoolExecutor

    queries = sorted((media_dir / "imageData").rglob("*.jpg"))[:3] + sorted((media_dir / "musicData").glob("*.mp3"))[:3]
    expected = {q.name: _match(client, q, name=q.name, top=5).json() for q in queries}
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda i: (queries[i % 6].name, _match(client, queries[i % 6], name=queries[i % 6].name, top=5)), range(30)))
    for name, r in got:
        assert r.status_code == 200, r.text
        want = expected[name]
        assert [h["id"] for h in r.json()["results"]] == [h["id"] for h in want["results"]]
        assert [h["total"] for h in r.json()["results"]] == pytest.approx([h["total"] for h in want["results"]], abs=1e-6)
        assert r.json()["query"]["emotion"] == want["query"]["emotion"]


def test_cli_serve_refuses_bad_options(tmp_path):
    from click.testing import CliRunner

    from emoalign.cli import cli

    runner = CliRunner()
    assert "--index" in runner.invoke(cli, ["serve", "--help"]).output
    r = runner.invoke(cli, ["serve", "--index", str(tmp_path / "nope"), "--port", "0"])
    assert r.exit_code != 0 and "not an index folder" in r.output
    r = runner.invoke(cli, ["serve", "--no-index", "--index", str(tmp_path)])
    assert r.exit_code == 2 and "exclude each other" in r.output
