"""End to end in headless Chromium: `emoalign serve` in a child process, the page driven by Playwright.

Uses Debian's Chromium at /usr/bin/chromium (Playwright's own browser download does not work
here); skipped, saying so, only when that binary is absent. Screenshots are kept under
``artifacts/`` (git-ignored) and their paths printed.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not installed (Debian package 'chromium'; EMOALIGN_BROWSER=1 bash scripts/setup.sh)",
                allow_module_level=True)
pytest.importorskip("fastapi")
playwright = pytest.importorskip("playwright.sync_api")

from emoalign.affect import get_taxonomy  # noqa: E402
from emoalign.serve.default_index import default_index, example_dir  # noqa: E402
from emoalign.serve.runner import serve_in_process  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
# The flags the machine notes give for a sandboxed, offline root session.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """The example index folder (built once per session, shared with test_serve_match)."""
    folder = tmp_path_factory.getbasetemp() / "serve-cache" / example_dir().name
    default_index(folder)
    return folder


@pytest.fixture(scope="module")
def server(example, tmp_path_factory):
    """`emoalign serve` with no --index: it must find the (already built) example index on its own."""
    log = tmp_path_factory.getbasetemp() / "serve-browser.log"
    with serve_in_process([], log=log, env={"EMOALIGN_SERVE_EXAMPLE": str(example)}) as (url, proc):
        yield url


@pytest.fixture(scope="module")
def media(example) -> Path:
    return example / "data" / "emid"


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    requested: list[str] = []
    errors: list[str] = []
    pg.on("request", lambda r: requested.append(r.url))
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # Failed requests show up as console errors; the page reports 4xx/503 answers itself (tested).
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and not re.search(r"status of (4\d\d|503)", m.text) else None)
    pg.goto(server + "/")
    pg.wait_for_selector("#service.ok")
    yield pg
    # Nothing but this server was contacted (no CDN, fonts or analytics), and no script failed.
    foreign = [u for u in requested if not u.startswith((server + "/", "blob:", "data:"))]
    assert not foreign, foreign
    assert not errors, errors
    context.close()


def _api(server: str, path: str, file: Path) -> dict:
    boundary = "emoalign-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file.name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + file.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(server + path, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def _until(page, js: str, timeout: float = 30.0) -> None:
    """Poll a JS expression until truthy (page.wait_for_function would eval a string in the page,
    which the page's own Content-Security-Policy forbids — as it should)."""
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(js):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout:.0f} s: {js}")
        page.wait_for_timeout(50)


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"\nscreenshot: {path}")
    return path


def _wait_results(page) -> None:
    page.wait_for_selector("#top-emotion:not(:empty), #error:not([hidden])", timeout=60_000)
    page.wait_for_selector("#busy", state="hidden", timeout=60_000)
    assert page.locator("#error").is_hidden(), f"the page shows an error: {page.inner_text('#error')}"


def _check_emotion(page, expected: dict) -> None:
    assert page.inner_text("#top-emotion").lower() == expected["label"].lower()
    bars = page.locator("#bars .bar")
    assert bars.count() == min(5, len(expected["probs"]))
    assert bars.first.get_attribute("data-label") == expected["label"]
    widths = [float(w) for w in page.eval_on_selector_all("#bars .fill", "els => els.map(e => e.getBoundingClientRect().width)")]
    assert widths[0] > 0 and widths == sorted(widths, reverse=True)
    point = page.locator("#va-point")
    assert float(point.get_attribute("data-valence")) == pytest.approx(expected["valence"])
    assert float(point.get_attribute("data-arousal")) == pytest.approx(expected["arousal"])
    # The point sits where its valence (x) and arousal (y, upwards) say, inside the chart.
    cx, cy = float(point.get_attribute("cx")), float(point.get_attribute("cy"))
    assert cx == pytest.approx(26 + (expected["valence"] + 1) / 2 * 288, abs=0.01)
    assert cy == pytest.approx(340 - 26 - (expected["arousal"] + 1) / 2 * 288, abs=0.01)
    names = page.eval_on_selector_all("#va-chart g.lab", "gs => gs.map(g => g.dataset.label)")
    assert names == list(get_taxonomy(expected["taxonomy"]).names)
    assert page.locator("#va-chart g.lab.top").get_attribute("data-label") == expected["label"]


def _check_cards(page, expected: dict, media_tag: str) -> None:
    cards = page.locator(".match-card")
    assert cards.count() == len(expected["results"]) == 6
    for i, hit in enumerate(expected["results"]):
        card = cards.nth(i)
        assert card.locator(".title span").first.inner_text() == hit["id"]
        el = card.locator(media_tag)
        assert el.count() == 1 and el.get_attribute("src") == hit["media_url"]
        assert card.locator(".reason").inner_text() == hit["reason"]
        assert hit["emotion"].lower() in card.locator(".verdict").inner_text().lower()
        chips = card.locator(".chip").all_inner_texts()
        assert any(expected["query"]["emotion"].lower() in c.lower() for c in chips)
        assert any(hit["emotion"].lower() in c.lower() for c in chips)
        nums = card.locator(".scores .num").all_inner_texts()
        assert nums == [f"{hit['semantic']:.2f}", f"{hit['emotional']:.2f}", f"{hit['total']:.2f}"]


def test_image_upload_shows_emotion_and_playable_music(page, server, media):
    image = sorted((media / "imageData").rglob("*.jpg"))[5]
    want = _api(server, "/api/analyze", image)
    page.set_input_files("#file", str(image))
    _wait_results(page)
    _check_emotion(page, want)
    page.wait_for_selector(".match-card")
    alpha = page.input_value("#alpha")
    matches = _match_like_page(server, image, alpha)
    _check_cards(page, matches, "audio")
    assert page.text_content("#matches-title") == "Best matching music"
    # The first clip really loads and plays in the page (decoded by Chromium from this server).
    duration = page.eval_on_selector(".match-card audio", """a => new Promise((ok, no) => {
        a.muted = true;
        a.addEventListener('error', () => no('audio error ' + (a.error && a.error.code)));
        a.play().then(() => ok(a.duration)).catch(no); })""")
    assert duration > 0.5
    _until(page, "document.querySelector('.match-card audio').currentTime > 0.05")
    # Query's and matches' points are drawn on the chart.
    assert page.locator("#va-chart .match-pt").count() == 6
    _shot(page, "serve_browser_image.png")


def test_music_upload_shows_pictures(page, server, media):
    clip = sorted((media / "musicData").glob("*.mp3"))[3]
    want = _api(server, "/api/analyze", clip)
    page.set_input_files("#file", str(clip))
    _wait_results(page)
    _check_emotion(page, want)
    page.wait_for_selector(".match-card img")
    _check_cards(page, _match_like_page(server, clip, page.input_value("#alpha")), "img")
    assert page.text_content("#matches-title") == "Best matching pictures"
    _until(page, "[...document.querySelectorAll('.match-card img')].every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator("#preview audio").count() == 1  # the uploaded clip is playable too
    _shot(page, "serve_browser_music.png")


def test_bad_upload_gets_a_clear_message(page, tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a picture at all")
    page.set_input_files("#file", str(fake))
    page.wait_for_selector("#error:not([hidden])")
    text = page.inner_text("#error")
    assert "This kind of file is not supported" in text and "whatever its name says" in text
    assert page.locator("#emotion-panel").is_hidden() and page.locator(".match-card").count() == 0
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    page.set_input_files("#file", str(broken))
    _until(page, "document.querySelector('#error').innerText.includes('could not be read')")
    assert "cannot decode image" in page.inner_text("#error")
    _shot(page, "serve_browser_error.png")


def test_typed_text_is_analysed(page, server):
    page.fill("#text", "I finally got the job, I am so happy and grateful!")
    page.click("#text-go")
    with urllib.request.urlopen(server + "/api/health", timeout=30) as r:
        text_ready = "text-use" in json.loads(r.read())["encoders"]
    if not text_ready:  # the text encoder cannot load on this machine: the page must say so plainly
        page.wait_for_selector("#error:not([hidden])")
        assert "Not available on this server" in page.inner_text("#error") and "text-use" in page.inner_text("#error")
        _shot(page, "serve_browser_text.png")
        return
    _wait_results(page)
    req = urllib.request.Request(server + "/api/analyze/text", data=json.dumps({"text": page.input_value("#text")}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        want = json.loads(r.read())
    _check_emotion(page, want)
    assert "texts are analysed only" in page.inner_text("#matches-note")
    _shot(page, "serve_browser_text.png")


def _match_like_page(server: str, file: Path, alpha: str) -> dict:
    """What /api/match answers for the page's own request (top 6, the slider's alpha)."""
    boundary = "emoalign-test-boundary"
    fields = {"top": "6", "alpha": alpha}
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode() for k, v in fields.items())
    body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file.name}\"\r\n"
             f"Content-Type: application/octet-stream\r\n\r\n").encode() + file.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(server + "/api/match", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def test_api_reference_renders_offline(page, server):
    pytest.importorskip("fastapi_offline")
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.getAttribute('data-path'))")
    assert {"/api/analyze", "/api/analyze/text", "/api/match", "/api/health"} <= set(paths)
    _shot(page, "serve_browser_docs.png")
