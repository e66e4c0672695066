"""Hostile clients against a real `emoalign serve` on 127.0.0.1: bombs, drips, idle sockets, Host.

One uvicorn child process serves the whole module. Its memory is read from /proc (RSS) around
bursts of decompression bombs; the bounds are generous (any machine passes a correct build; the
old code used 2 GB per FLAC bomb and kept 4 GB after 16 large PNGs). No timing is asserted
except that the server closes connections it should close at all.
"""

from __future__ import annotations

import io
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from emoalign.media.synth import clip_bytes, synth_clip  # noqa: E402
from emoalign.serve.runner import serve_in_process  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads RSS from /proc")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def flac_bomb(seconds: int = 3600, rate: int = 48000) -> bytes:
    """An hour of silent 48 kHz stereo FLAC (~0.7 MB), written in chunks (never all in memory)."""
    import soundfile as sf

    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", rate, 2, format="FLAC", subtype="PCM_16") as fh:
        block = np.zeros((rate * 10, 2), np.int16)
        for _ in range(seconds // 10):
            fh.write(block)
    return buf.getvalue()


def big_png(w: int = 8000, h: int = 7999) -> bytes:
    """A flat-colour PNG one row short of the 64-Mpixel limit (small file, 192 MB decoded)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), (90, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    args = ["--no-index", "--header-timeout", "1", "--body-timeout", "2"]
    with serve_in_process(args, log=log, env={"OMP_NUM_THREADS": "1"}) as (url, proc):
        time.sleep(1.0)
        yield url, proc, log


def post(url: str, data: bytes, name: str, path: str = "/api/analyze", timeout: float = 300) -> httpx.Response:
    return httpx.post(url + path, files={"file": (name, data)}, timeout=timeout)


@pytest.mark.slow
def test_bombs_are_refused_from_the_header_and_memory_comes_back(server):
    url, proc, log = server
    bomb = flac_bomb()
    assert len(bomb) < 2_000_000
    idle = rss_mb(proc.pid)
    peak = idle
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(post, url, bomb, f"bomb{i}.flac") for i in range(3)]
        while not all(f.done() for f in futures):
            peak = max(peak, rss_mb(proc.pid))
            time.sleep(0.02)
    answers = [f.result() for f in futures]
    assert [r.status_code for r in answers] == [422, 422, 422]
    assert all("longer than the 600 s limit" in r.json()["detail"] for r in answers)
    assert all(r.json()["detail"].startswith("bomb") for r in answers)  # names the upload, no class name
    # Decoding one of these used to cost 2 GB; refusing from the header costs next to nothing.
    assert peak - idle < 300, f"3 FLAC bombs raised the server from {idle:.0f} to {peak:.0f} MB"

    png = big_png()
    before = rss_mb(proc.pid)
    peak = before
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(post, url, png, f"big{i}.png", "/api/analyze") for i in range(4)]
        while not all(f.done() for f in futures):
            peak = max(peak, rss_mb(proc.pid))
            time.sleep(0.02)
    assert [f.result().status_code for f in futures] == [200] * 4
    assert peak - before < 4 * 450, f"4 large PNGs raised the server from {before:.0f} to {peak:.0f} MB"
    time.sleep(2.0)
    after = rss_mb(proc.pid)
    # Memory goes back: within 20 % of idle (plus a little slack for allocator noise).
    assert after < idle * 1.2 + 50, f"idle {idle:.0f} MB, {after:.0f} MB after the burst"
    assert "Traceback" not in log.read_text(errors="replace")


def test_refusals_say_what_is_wrong_in_plain_words(server):
    url, _, _ = server
    good = clip_bytes(synth_clip(0.3, 0.3, seconds=3.0))
    truncated = good[: 44 + 3200]
    r = post(url, truncated, "cut.wav")
    assert r.status_code == 422
    assert r.json()["detail"].startswith("cut.wav: truncated WAV")
    r = post(url, b"", "empty.wav")
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    r = post(url, b"%PDF-1.7 not media", "doc.wav")
    assert r.status_code == 415
    for resp in (r,):
        assert "Error:" not in resp.json()["detail"]


def test_host_header_must_be_allowed(server):
    url, _, _ = server
    assert httpx.get(url + "/api/health").status_code == 200
    r = httpx.get(url + "/api/health", headers={"Host": "attacker.example"})
    assert r.status_code == 400 and "--allowed-host" in r.json()["detail"]
    assert httpx.get(url + "/api/health", headers={"Host": "localhost:1234"}).status_code == 200


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    return s


def test_idle_and_dripping_connections_are_closed(server):
    url, _, _ = server
    # Connects and sends nothing: closed after the head deadline (1 s here), not held forever.
    s = _connect(url)
    assert s.recv(1024) == b""
    s.close()
    # Drips a header line and stops.
    s = _connect(url)
    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert s.recv(1024) == b""
    s.close()
    # Promises a body and sends a tenth of it: 408 once the body deadline (2 s) passes.
    s = _connect(url)
    head = (b"POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
            b"Content-Length: 1000\r\n\r\n")
    s.sendall(head + b"--xx\r\n" + b"a" * 94)
    reply = b""
    while chunk := s.recv(4096):
        reply += chunk
        if b"\r\n\r\n" in reply and b"}" in reply:
            break
    s.close()
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b"did not arrive within 2 s" in reply
