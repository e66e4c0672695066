"""One lock per encoder: concurrent requests never run the same model at the same time.

Encoders are not assumed thread-safe (ONNX Runtime sessions are, but TFLite interpreters,
openSMILE and torch modules with cached buffers are not documented to be). The service runs
request handlers in FastAPI's thread pool, so two requests can reach the same encoder at once.
`serialise` wraps the process-wide encoder instance (the one `get_encoder` caches, which every
caller shares: the analysis path, the retrieval path and encoders that call other encoders)
so its ``encode`` holds that encoder's own re-entrant lock. Different encoders still run in
parallel (a text request does not wait for an image request), and a request that needs two
encoders takes their locks one after the other, never nested in opposite orders, so there is
no deadlock.

>>> enc = serialise("image-scene")  # doctest: +SKIP
>>> enc.encode is serialise("image-scene").encode  # idempotent  # doctest: +SKIP
True
"""

from __future__ import annotations

import functools
import threading
import time

from emoalign.encode.base import Encoder
from emoalign.encode.registry import get_encoder

_GUARD = threading.Lock()
_LOCKS: dict[str, threading.RLock] = {}
#: Seconds each encoder spent waiting for its lock and running, for /api/health.
STATS: dict[str, dict[str, float]] = {}


def serialise(name: str) -> Encoder:
    """The shared instance of encoder ``name`` with its ``encode`` serialised (loads it if needed)."""
    encoder = get_encoder(name)
    with _GUARD:
        if getattr(encoder, "_emoalign_serialised", False):
            return encoder
        lock = _LOCKS.setdefault(name, threading.RLock())
        stats = STATS.setdefault(name, {"calls": 0, "wait_s": 0.0, "busy_s": 0.0})
        for method in ("encode", "encode_dialogue"):  # every entry point that runs the model
            if hasattr(encoder, method):
                # An instance attribute shadows the class method for every holder of this instance.
                setattr(encoder, method, _locked(getattr(encoder, method), lock, stats))
        encoder._emoalign_serialised = True  # type: ignore[attr-defined]
        return encoder


def _locked(inner, lock: threading.RLock, stats: dict[str, float]):
    """``inner`` (any signature: speaker ids, dialogue context …) run under ``lock``, timed into ``stats``."""

    @functools.wraps(inner)
    def call(*args, **kwargs):
        t0 = time.perf_counter()
        with lock:
            t1 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                stats["calls"] += 1
                stats["wait_s"] += t1 - t0
                stats["busy_s"] += time.perf_counter() - t1

    return call
