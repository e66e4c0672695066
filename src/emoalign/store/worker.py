"""What runs inside a worker process or Ray actor: build the encoder once, encode batches.

Kept apart from the driver's planning and writing code in `emoalign.store.extract`; functions
here are what the process pool and the Ray actors call, by reference.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, Sequence

import numpy as np

from emoalign.interrupts import check as check_interrupt
from emoalign.interrupts import ignore_in_worker, requested


class EncoderLoadError(RuntimeError):
    """The encoder could not be built in a worker (a missing model or dependency): nothing can be computed."""


_WORKER: dict[str, Any] = {}


def setup_worker(name: str, spec: str, paths: Sequence[str], threads: int | None, options: dict | None = None) -> None:
    """Build the encoder (in its configuration ``options``) once per worker process (spawned pools and Ray actors alike)."""
    if threads is not None and threading.current_thread() is threading.main_thread():
        ignore_in_worker()  # a pool worker: the driver handles Ctrl-C and ends the pool
    if threads:
        # Several workers on few cores: one BLAS/OpenMP thread each, or they fight for the cores.
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, str(threads))
    for p in paths:  # the driver's import path, so encoders registered by the caller import here too
        if p not in sys.path:
            sys.path.append(p)
    from emoalign.encode.registry import ENCODERS, get_encoder

    ENCODERS.setdefault(name, spec)
    try:
        if threads and "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
        _WORKER["encoder"] = get_encoder(name, **(options or {}))
        _WORKER["error"] = None
    except Exception as exc:  # reported on the first batch, where the driver can see it
        _WORKER["encoder"] = None
        _WORKER["error"] = f"{type(exc).__name__}: {exc}"


def encode_batch(inputs: Sequence[Any]) -> list[tuple]:
    """Encode one batch in a worker; returns one plain tuple per input (cheap to pickle)."""
    enc = _WORKER.get("encoder")
    if enc is None:
        raise EncoderLoadError(_WORKER.get("error") or "encoder not set up in this worker")
    return encode_inputs(enc, inputs)


def encode_inputs(enc, inputs: Sequence[Any]) -> list[tuple]:
    """Run ``enc.encode`` on a batch, isolating inputs when the whole batch raises.

    Each output is ``(vector or None, affect tuple or None, details JSON, error or None)``.
    """
    try:
        results = enc.encode(list(inputs))
        if len(results) != len(inputs):
            raise RuntimeError(f"encoder {enc.name!r} returned {len(results)} results for {len(inputs)} inputs")
    except EncoderLoadError:
        raise
    except Exception:
        check_interrupt()  # a failure during a stop is the stop's doing, not the inputs'
        # One bad input must not sink the batch: encode one by one to find it.
        results = []
        for item in inputs:
            check_interrupt()
            try:
                (res,) = enc.encode([item])
                results.append(res)
            except Exception as exc:
                if requested():
                    check_interrupt()
                from emoalign.encode.base import EncodeResult

                results.append(EncodeResult(error=f"{type(exc).__name__}: {exc}"))
    check_interrupt()
    return [_pack(r) for r in results]


def _pack(res) -> tuple:
    if res.error:
        return (None, None, "{}", str(res.error))
    vec = None
    if res.vector is not None:
        vec = np.asarray(res.vector, dtype=np.float32).reshape(-1)
        if not np.all(np.isfinite(vec)):
            return (None, None, "{}", "encoder returned a non-finite vector (NaN or inf)")
    aff = None
    if res.affect is not None:
        a = res.affect
        aff = (a.taxonomy, {str(k): float(v) for k, v in a.probs.items()}, float(a.valence), float(a.arousal),
               None if a.dominance is None else float(a.dominance))
        if not np.isfinite([aff[2], aff[3]]).all():
            return (None, None, "{}", "encoder returned a non-finite valence/arousal")
    details = json.dumps(res.details or {}, default=_json_default, ensure_ascii=False, sort_keys=True)
    return (vec, aff, details, None)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


class EncoderActor:
    """A Ray actor holding one encoder (wrapped with ``ray.remote`` only when Ray is used)."""

    def __init__(self, name: str, spec: str, paths: Sequence[str], threads: int | None, options: dict | None = None) -> None:
        setup_worker(name, spec, paths, threads, options)

    def encode(self, inputs: Sequence[Any]) -> list[tuple]:
        return encode_batch(inputs)
