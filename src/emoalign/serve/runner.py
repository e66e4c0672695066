"""Run the app on a loopback port in a background thread or a child process (tests, benchmarks).

>>> with serve_in_thread(create_app()) as url:  # doctest: +SKIP
...     httpx.get(url + "/api/health").json()["status"]
'ok'
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence


def limit_malloc_arenas(n: int) -> bool:
    """Cap glibc's malloc arenas at ``n`` for this process (``mallopt(M_ARENA_MAX, n)``); False if not glibc.

    Each request thread otherwise gets an arena of its own whose freed memory stays mapped. Measured
    by ``bench/serve_load.py --scenarios analyze_music,match_image --clients 16 --malloc-arenas A``
    (bench/results/serve.md): the server's RSS levels off at ~720 MB with glibc's default (A=0) and
    at ~540 MB with 2 arenas, with no errors either way. Call it before the request threads start.
    """
    import ctypes
    import ctypes.util

    if n <= 0:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    M_ARENA_MAX = -8
    return bool(mallopt(M_ARENA_MAX, int(n)))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(app, host: str = "127.0.0.1", port: int | None = None, *, timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a daemon thread; yields its base URL and stops it on exit."""
    import uvicorn

    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name=f"emoalign-serve-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on {host}:{port} did not start within {timeout:.0f} s")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serve_in_process(args: Sequence[str] = (), host: str = "127.0.0.1", port: int | None = None, *,
                     timeout: float = 180.0, log: str | Path | None = None, env: dict | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``emoalign serve ARGS`` in a child process; yields (base URL, process) once /api/health answers.

    The child is ended (SIGTERM, then SIGKILL) on exit; its output goes to ``log`` (or is dropped).
    """
    port = port or free_port(host)
    cmd = [sys.executable, "-m", "emoalign.cli.serve", "--host", host, "--port", str(port), "--log-level", "warning", *args]
    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"`{' '.join(cmd)}` exited with {proc.returncode}" + (f"; see {log}" if log else ""))
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server on {url} did not answer within {timeout:.0f} s")
            time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()
