"""Resumable batch extraction: run an encoder over records and store what it returns.

`extract` hashes every record's content, skips what the feature folder already holds (same key:
same content, encoder and version — whatever the path), computes the rest in batches and writes
each finished batch as its own shard, atomically. Inputs that fail go to the encoder's
quarantine file with their reason and are not retried on resume unless ``retry_failed=True``.
Killing the job at any point loses at most the batches in flight; re-running the same command
resumes.

Engines:

- ``local`` (default): worker processes (``spawn``), each building its encoder once through
  `emoalign.encode.get_encoder`; ``workers=1`` runs in this process. On one machine this beat
  every distributed engine (docs/ARCHITECTURE.md).
- ``ray``: a pool of Ray actors (one encoder each) fed whole batches, on an existing cluster
  (``ray_address``, or one already initialised) or a local one started for the job. Inputs
  travel as paths (or bytes for in-memory payloads), so on a multi-machine cluster the files
  must be on storage every node sees; the driver writes all shards.

>>> from emoalign.data import open_source
>>> records = open_source("ravdess", "ravdess-speech-16k").records()  # doctest: +SKIP
>>> summary = extract(records, "speech-egemaps", "out/feats", workers=2)  # doctest: +SKIP
>>> print(summary)  # doctest: +SKIP
speech-egemaps → out/feats: 1440 items: 1440 computed, 0 reused, 0 failed (…)
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from emoalign.interrupts import check as check_interrupt
from emoalign.interrupts import deferred_interrupts
from emoalign.progress import progress_bar
from emoalign.store.features import FeatureRow, FeatureTable, WriterLock, append_quarantine, read_quarantine, repair_quarantine
from emoalign.store.worker import EncoderActor, EncoderLoadError, encode_batch, setup_worker
from emoalign.types import Affect, Record

ENGINES = ("local", "ray")
_HASH_CHUNK = 1 << 20


@dataclass
class ExtractSummary:
    """What one `extract` call did. ``reused`` items were already stored (or shared content with
    an item computed in this run); ``skipped_failed`` were in quarantine and not retried."""

    encoder: str
    out: str
    engine: str
    workers: int
    total: int = 0
    computed: int = 0
    reused: int = 0
    failed: int = 0
    skipped_failed: int = 0
    encoded_inputs: int = 0
    shards: int = 0
    seconds: float = 0.0
    failures: list[dict] = field(default_factory=list)

    @property
    def items_per_s(self) -> float:
        return self.encoded_inputs / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["items_per_s"] = round(self.items_per_s, 2)
        d["failures"] = self.failures[:20]
        return d

    def __str__(self) -> str:
        lines = [
            f"{self.encoder} → {self.out}: {self.total} items: {self.computed} computed, {self.reused} reused, "
            f"{self.failed} failed, {self.skipped_failed} skipped (quarantined earlier)",
            f"  engine {self.engine} × {self.workers} worker(s), {self.encoded_inputs} inputs encoded in "
            f"{self.seconds:.1f} s ({self.items_per_s:.1f}/s), {self.shards} shard(s) written",
        ]
        for f in self.failures[:5]:
            lines.append(f"  failed: {f['id']} ({f.get('path') or '-'}): {f['reason']}")
        if self.failed > 5:
            lines.append(f"  … {self.failed - 5} more in {Path(self.out) / 'features' / self.encoder / 'quarantine.jsonl'}")
        return "\n".join(lines)


# -- planning: what is stored, what to compute ---------------------------------------------------
@dataclass
class _Task:
    """One distinct content to encode and every record that carries it."""

    key: str
    content: str
    input: Any  # path str, bytes or text, as the encoder takes it
    records: list[Record]


def content_hash(record: Record, text_input: bool) -> tuple[str, Any]:
    """(sha256 hex of the content, the encoder input) for a record; raises OSError/ValueError if unreadable."""
    h = hashlib.sha256()
    if text_input:
        if record.text is None:
            raise ValueError("record has no text for a text encoder")
        h.update(record.text.encode("utf-8"))
        return h.hexdigest(), record.text
    if record.payload is not None:
        h.update(record.payload)
        return h.hexdigest(), record.payload
    if record.path is None:
        raise ValueError("record has neither a path nor a payload")
    with open(record.path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest(), str(record.path)


def feature_key(content: str, encoder: str, version: str) -> str:
    """The cache key of (content, encoder's store name — its configured identity —, version).

    >>> feature_key("ab" * 32, "text-use", "1")[:12]
    'dc5e8155dcb8'
    """
    return hashlib.sha256(f"{content}\0{encoder}\0{version}".encode()).hexdigest()


def encoder_info(ref: str, config: dict | None = None):
    """(identity, registry spec, options, takes text) of an encoder in a configuration, without building it."""
    from emoalign.encode.registry import ENCODERS, encoder_class, encoder_identity, split_encoder_ref

    identity = encoder_identity(ref, config)
    _, options = split_encoder_ref(ref, config)
    text_input = getattr(encoder_class(identity.name), "modality", None) == "text"
    return identity, ENCODERS[identity.name], options, text_input


# -- engines: each yields (batch of tasks, packed results) as batches finish -----------------------
def _run_inprocess(batches: Iterator[list[_Task]], name: str, spec: str, options: dict) -> Iterator[tuple[list[_Task], list[tuple]]]:
    setup_worker(name, spec, (), None, options)
    for batch in batches:
        check_interrupt()
        yield batch, encode_batch([t.input for t in batch])


def _run_pool(batches: Iterator[list[_Task]], name: str, spec: str, options: dict, workers: int) -> Iterator[tuple[list[_Task], list[tuple]]]:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // workers)
    # A process pool on the multiprocessing spawn context; unlike multiprocessing.Pool it notices a
    # worker that dies (a decoder segfault) instead of waiting forever for its batch. Workers ignore
    # SIGINT (`setup_worker`): the driver alone decides to stop, and then ends them itself.
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=mp.get_context("spawn"),
        initializer=setup_worker, initargs=(name, spec, list(sys.path), threads, options),
    )
    pending: dict = {}
    exhausted = False
    finished = False
    try:
        while True:
            while not exhausted and len(pending) < 2 * workers:  # bounded: inputs stream in
                batch = next(batches, None)
                if batch is None:
                    exhausted = True
                    break
                pending[pool.submit(encode_batch, [t.input for t in batch])] = batch
            if not pending:
                finished = True
                return
            done, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            check_interrupt()  # wakes up four times a second to notice a Ctrl-C
            for fut in done:
                batch = pending.pop(fut)
                yield batch, fut.result()
    except BrokenProcessPool:
        ids = [r.id for b in pending.values() for t in b for r in t.records][:10]
        raise RuntimeError(
            f"a worker process died while encoding (in flight: {ids}…); finished batches are saved — "
            "re-run to resume, or use workers=1 to find the input that crashes the decoder"
        ) from None
    finally:
        for fut in pending:
            fut.cancel()
        if finished:
            pool.shutdown(wait=True)
        else:  # stopped early (interrupt, error, consumer closed): batches in flight are dropped
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)


def _run_ray(
    batches: Iterator[list[_Task]], name: str, spec: str, options: dict, workers: int | None, address: str | None, summary: ExtractSummary
) -> Iterator[tuple[list[_Task], list[tuple]]]:
    try:
        import ray
    except ImportError:
        raise ImportError('engine "ray" needs Ray: pip install "emoalign[ray]"') from None

    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address)
        else:
            ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False, log_to_driver=False)
        started = True
    n = workers or max(1, int(ray.available_resources().get("CPU", 1)))
    summary.workers = n
    Actor = ray.remote(num_cpus=1)(EncoderActor)
    actors = [Actor.remote(name, spec, list(sys.path), 1, options) for _ in range(n)]
    pending: dict = {}
    load: dict[int, int] = {i: 0 for i in range(n)}
    exhausted = False
    try:
        while True:
            # Two batches queued per actor keep it busy while the driver writes shards.
            while not exhausted and len(pending) < 2 * n:
                batch = next(batches, None)
                if batch is None:
                    exhausted = True
                    break
                a = min(load, key=load.__getitem__)
                ref = actors[a].encode.remote([t.input for t in batch])
                pending[ref] = (batch, a)
                load[a] += 1
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                batch, a = pending.pop(ref)
                load[a] -= 1
                try:
                    out = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.as_instanceof_cause()
                    if isinstance(cause, EncoderLoadError):
                        raise EncoderLoadError(str(cause)) from None
                    raise
                yield batch, out
    finally:
        for actor in actors:  # also drops its queued batches (actor tasks cannot be force-cancelled)
            ray.kill(actor)
        if started:
            ray.shutdown()


# -- the job ---------------------------------------------------------------------------------------
def extract(
    records: Iterable[Record],
    encoder_name: str,
    out_dir: str | Path,
    *,
    encoder_config: dict | None = None,
    batch_size: int = 64,
    workers: int | None = None,
    engine: str = "local",
    progress: bool | None = None,
    retry_failed: bool = False,
    ray_address: str | None = None,
) -> ExtractSummary:
    """Compute and store ``encoder_name``'s features for every record not yet in ``out_dir``.

    ``encoder_name`` is a registry name, optionally with options (``"image-clip-hub?model_id=…"``);
    ``encoder_config`` adds options. Rows are stored under the configured encoder's identity
    (`emoalign.encode.registry.encoder_identity`): ``summary.encoder`` is the name to read them
    back with (the plain name for the default configuration).

    Returns an `ExtractSummary` (computed / reused / failed counts). Safe to interrupt and re-run.
    ``progress=None`` follows `emoalign.progress` (a bar when stderr is a terminal, unless disabled).

    >>> s = extract(records, "music-acoustic", "out/feats", batch_size=64, workers=2)  # doctest: +SKIP
    >>> s.computed, s.reused, s.failed  # doctest: +SKIP
    (1998, 0, 2)
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    identity, spec, options, text_input = encoder_info(encoder_name, encoder_config)
    name, version, space = identity.name, identity.version, identity.space
    encoder_name = identity.store_name  # rows, folder and keys belong to the configured instance
    if workers is None:
        workers = (os.cpu_count() or 1) if engine == "local" else 0  # ray: one actor per cluster CPU
    table = FeatureTable(out_dir)
    folder = table.encoder_dir(encoder_name)
    summary = ExtractSummary(encoder_name, str(out_dir), engine, workers)
    start = time.perf_counter()
    with WriterLock(folder), deferred_interrupts():
        _clean_temp_files(folder)
        qpath = table.quarantine_path(encoder_name)
        repair_quarantine(qpath)
        tasks, aliases = _plan(list(records), table, encoder_name, version, text_input, retry_failed, summary, qpath, progress)
        # Items sharing content with stored rows: copy those rows under the new ids (no computing).
        _write_aliases(table, encoder_name, aliases, summary)
        todo = sum(len(t.records) for t in tasks)
        if tasks:
            batches = iter([tasks[i : i + batch_size] for i in range(0, len(tasks), batch_size)])
            if engine == "ray":
                runner = _run_ray(batches, name, spec, options, workers or None, ray_address, summary)
            elif workers <= 1:
                runner = _run_inprocess(batches, name, spec, options)
            else:
                runner = _run_pool(batches, name, spec, options, workers)
            bar = _progress(todo, f"extract {encoder_name}", progress)
            try:
                for batch, packed in runner:
                    # A batch that finished after a stop was asked for is dropped, not stored: an
                    # encoder interrupted mid-item must not leave a wrong row or a quarantine entry.
                    check_interrupt()
                    _store_batch(table, encoder_name, version, space, batch, packed, summary, qpath)
                    bar.update(sum(len(t.records) for t in batch))
            finally:
                bar.close()
                if hasattr(runner, "close"):
                    runner.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _plan(records, table, encoder, version, text_input, retry_failed, summary, qpath, progress):
    """Hash every record and sort it into: already stored, alias of stored content, quarantined, to compute."""
    summary.total = len(records)
    stored = table._raw(encoder) if table.shards(encoder) else None
    have_key = set(stored.column("key").to_pylist()) if stored is not None else set()
    have_pair = set(zip(stored.column("id").to_pylist(), stored.column("key").to_pylist())) if stored is not None else set()
    quarantined = read_quarantine(qpath)
    failed_keys = {e["key"] for e in quarantined if e.get("key")} - have_key
    unreadable = {(e["id"], e.get("path")) for e in quarantined if not e.get("key")}
    tasks: dict[str, _Task] = {}
    aliases: list[tuple[Record, str, str]] = []
    new_failures = []
    bar = _progress(len(records), f"hash {encoder}", progress if len(records) > 5000 else False)
    for n, r in enumerate(records):
        bar.update(1)
        if n % 256 == 0:
            check_interrupt()
        try:
            content, item = content_hash(r, text_input)
        except (OSError, ValueError) as exc:
            if not retry_failed and (r.id, r.path) in unreadable:
                summary.skipped_failed += 1
            else:
                new_failures.append(_failure(r, encoder, version, None, "read", f"{type(exc).__name__}: {exc}"))
            continue
        key = feature_key(content, encoder, version)
        if key in have_key:
            summary.reused += 1
            if (r.id, key) not in have_pair:
                aliases.append((r, key, content))
                have_pair.add((r.id, key))
        elif key in failed_keys and not retry_failed:
            summary.skipped_failed += 1
        elif key in tasks:
            # Same content as another item of this run: computed once, counted when its batch ends.
            if all(x.id != r.id for x in tasks[key].records):
                tasks[key].records.append(r)
            else:
                summary.reused += 1  # the very same record twice
        else:
            tasks[key] = _Task(key, content, item, [r])
    bar.close()
    if new_failures:
        append_quarantine(qpath, new_failures)
        summary.failed += len(new_failures)
        summary.failures.extend(new_failures)
    return list(tasks.values()), aliases


def _write_aliases(table: FeatureTable, encoder: str, aliases, summary: ExtractSummary) -> None:
    if not aliases:
        return
    import pyarrow as pa

    src = table.get([k for _, k, _ in aliases], encoder=encoder)
    pos = {k: i for i, k in enumerate(src.column("key").to_pylist())}
    idx = pa.array([pos[k] for _, k, _ in aliases], pa.int64())
    rows = src.take(idx)
    rows = rows.set_column(rows.schema.get_field_index("id"), rows.schema.field("id"), pa.array([r.id for r, _, _ in aliases], pa.string()))
    rows = rows.set_column(rows.schema.get_field_index("path"), rows.schema.field("path"), pa.array([r.path for r, _, _ in aliases], pa.string()))
    rows = rows.set_column(rows.schema.get_field_index("source"), rows.schema.field("source"), pa.array([r.source for r, _, _ in aliases], pa.string()))
    rows = rows.set_column(rows.schema.get_field_index("modality"), rows.schema.field("modality"), pa.array([r.modality for r, _, _ in aliases], pa.string()))
    for i in range(0, rows.num_rows, 100_000):
        table.append(encoder, rows.slice(i, 100_000))
        summary.shards += 1


def _store_batch(table, encoder, version, space, batch: list[_Task], packed: list[tuple], summary, qpath) -> None:
    """Write a finished batch: its rows as one shard, then its failures to the quarantine."""
    rows: list[FeatureRow] = []
    failures = []
    for task, (vec, aff, details, error) in zip(batch, packed):
        summary.encoded_inputs += 1
        if error is not None:
            for r in task.records:
                failures.append(_failure(r, encoder, version, task.key, "encode", error))
            continue
        affect = Affect(aff[0], aff[1], aff[2], aff[3], aff[4]) if aff else None
        for r in task.records:
            rows.append(FeatureRow(
                key=task.key, content=task.content, id=r.id, encoder=encoder, encoder_version=version,
                path=r.path, source=r.source, modality=r.modality, space=space if vec is not None else None,
                vector=vec, affect=affect, details=details,
            ))
        summary.computed += 1
        summary.reused += len(task.records) - 1  # other items with the same content: computed once
    if rows and table.append(encoder, rows) is not None:
        summary.shards += 1
    if failures:
        append_quarantine(qpath, failures)
        summary.failed += len(failures)
        summary.failures.extend(failures[: max(0, 20 - len(summary.failures))])


def _failure(r: Record, encoder: str, version: str, key: str | None, stage: str, reason: str) -> dict:
    return {
        "id": r.id, "path": r.path, "source": r.source, "encoder": encoder, "encoder_version": version,
        "key": key, "stage": stage, "reason": reason,
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def _clean_temp_files(folder: Path) -> None:
    """Remove temp files a killed writer left behind (we hold the lock: nobody else is writing)."""
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(".") and p.name.endswith(".tmp"):
                p.unlink(missing_ok=True)


def _progress(total: int, desc: str, enabled: bool | None):
    return progress_bar(total=total, desc=desc, unit="item", enabled=enabled)
