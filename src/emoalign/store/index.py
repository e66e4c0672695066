"""A persistent, embedded vector index (faiss-cpu) with per-item metadata and emotion filters.

Layout of an index folder ``DIR``::

    DIR/manifest.json                  format + version, vector space id, dimension, segments, counts
    DIR/segments/seg-<gen>-<u>.faiss   one faiss index per segment (immutable once written)
    DIR/segments/seg-<gen>-<u>.parquet its items' metadata: fid, id, modality, label, taxonomy,
                                       valence, arousal, path, source
    DIR/segments/tomb-<gen>-<u>.npy    ids (fids) removed since their segment was written
    DIR/<anything else>                left alone (e.g. ``adapter/``, ``features/`` of the builder)

**Segments.** The first large batch becomes the *base* segment: exact ``IndexFlatIP`` below
`IVF_THRESHOLD` items, IVF-Flat above it (``nlist`` ≈ 4·√n rounded to a power of two: 1,024 lists
at 100k, 4,096 at 1M; ``nprobe`` 64 — the settings measured in shared/ARCHITECTURE.md: recall
≈ 0.9998 at 100k, 0.98 at 1M, ~1–2 ms per query). Later additions become small exact *delta*
segments and removals a tombstone list, so ``add``/``remove`` never rebuild or retrain anything
and write only what changed. Deltas are merged when there are more than `MAX_DELTAS` of them,
and folded into the base (vectors added to the trained IVF lists, tombstoned ones dropped) once
they hold more than `DELTA_SHARE` of the base; an exact base that grows past the threshold is
retrained as IVF then. A query searches every segment with the same filter and merges.

**Atomic writes.** New segment files are written in a hidden staging folder, fsynced and
renamed into ``segments/``; then ``manifest.json`` is replaced atomically (temp file + rename).
The manifest is the commit point: a writer killed before it leaves the previous index intact
(orphan files are removed by the next writer); readers only ever follow a complete manifest.
Files of the previous generation are kept one generation longer for readers that are loading.
One writer at a time (an OS file lock, `emoalign.store.features.WriterLock`).

**Ids.** Each item gets a 64-bit faiss id whose high bits encode its modality, so "only music"
is a range selector; emotion filters are id-set selectors (``faiss.IDSelectorBatch``), combined
with the tombstones by ``IDSelectorAnd``/``IDSelectorNot``. With IVF, a filter that keeps a
fraction f of the items probes ``nprobe / f`` lists (capped at ``nlist``) so filtered queries
keep their recall.

>>> import numpy as np
>>> idx = VectorIndex.create("out/idx", space="demo", dim=4)  # doctest: +SKIP
>>> idx.add(np.eye(4, dtype="float32"), [ItemMeta(f"x{i}", "image", label="awe") for i in range(4)], space="demo")  # doctest: +SKIP
>>> [h.id for h in idx.search(np.eye(4, dtype="float32")[:1], k=2)[0]]  # doctest: +SKIP
['x0', 'x1']
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from emoalign.errors import SpaceMismatchError
from emoalign.store.features import WriterLock, fsync_dir, write_atomic
from emoalign.types import MODALITIES

FORMAT = "emoalign-vector-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SEGMENTS = "segments"
#: Below this many items the base is exact (IndexFlatIP): at 50k a query costs ~4–5 ms here.
IVF_THRESHOLD = 50_000
DEFAULT_NPROBE = 64
MAX_DELTAS = 4
DELTA_SHARE = 0.25
#: fid = modality code << MODALITY_SHIFT | sequence number
MODALITY_SHIFT = 40
MODALITY_CODES: dict[str, int] = {m: i + 1 for i, m in enumerate(MODALITIES)}
#: Query batches up to this size run on one faiss thread by default (see `VectorIndex.search`).
SMALL_BATCH = 4

META_SCHEMA = pa.schema([
    ("fid", pa.int64()), ("id", pa.string()), ("modality", pa.string()), ("label", pa.string()),
    ("taxonomy", pa.string()), ("valence", pa.float32()), ("arousal", pa.float32()),
    ("path", pa.string()), ("source", pa.string()),
])

#: Test hook: called after the new files are in place and before the manifest is replaced.
_before_commit: Callable[[], None] | None = None


class IndexError_(ValueError):
    """Base of the index's errors (named with a trailing underscore: ``IndexError`` is a builtin)."""


class EmptyIndexError(IndexError_):
    """A search on an index with no (matching) items."""


class IndexFormatError(IndexError_):
    """Not an index folder, or one written by another format version."""


@dataclass(frozen=True)
class ItemMeta:
    """What the index keeps about an item besides its vector."""

    id: str
    modality: str
    label: str | None = None
    taxonomy: str | None = None
    valence: float | None = None
    arousal: float | None = None
    path: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Hit:
    """One search result: the item's metadata and its inner product with the query."""

    id: str
    score: float
    modality: str
    label: str | None
    taxonomy: str | None
    valence: float | None
    arousal: float | None
    path: str | None
    source: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ivf_lists(n: int) -> int:
    """IVF list count for ``n`` vectors: ~4·√n rounded to a power of two, at least 16.

    >>> ivf_lists(100_000), ivf_lists(1_000_000)
    (1024, 4096)
    """
    target = 4.0 * math.sqrt(max(n, 1))
    lists = int(max(16, 2 ** round(math.log2(target))))
    while lists > 16 and n < 39 * lists:  # k-means wants ≥ 39 points per centroid
        lists //= 2
    return lists


class _Segment:
    def __init__(self, name: str, kind: str, index, meta: pa.Table) -> None:
        self.name, self.kind, self.index, self.meta = name, kind, index, meta
        self.fids = meta.column("fid").to_numpy()

    @property
    def nlist(self) -> int:
        return int(self.index.nlist) if self.kind == "ivf" else 0


class VectorIndex:
    """An index folder opened for searching (and, through the same object, for writing).

    Create with `VectorIndex.create`, open with `VectorIndex.open`. Writes (`add`, `remove`,
    `compact`) take the folder's writer lock and commit a new manifest.
    """

    def __init__(self, folder: Path, manifest: dict, segments: list[_Segment], tombstones: np.ndarray) -> None:
        self.folder = folder
        self.manifest = manifest
        self.segments = segments
        self.tombstones = np.unique(np.asarray(tombstones, dtype=np.int64))
        self._mmap = False
        self._rebuild_lookup()

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        folder: str | Path,
        *,
        space: str,
        dim: int,
        info: Mapping[str, Any] | None = None,
        ivf_threshold: int = IVF_THRESHOLD,
        nprobe: int = DEFAULT_NPROBE,
        overwrite: bool = False,
    ) -> "VectorIndex":
        """A new empty index in ``folder`` (refuses an existing index unless ``overwrite``).

        ``info`` is free JSON kept in the manifest (how items were embedded: encoders, adapter…).
        """
        folder = Path(folder)
        if not space:
            raise ValueError("an index needs the id of its vector space")
        if int(dim) < 1:
            raise ValueError(f"dim must be ≥ 1, got {dim}")
        if (folder / MANIFEST).exists() and not overwrite:
            raise FileExistsError(f"{folder} already holds an index (pass overwrite=True to replace it)")
        folder.mkdir(parents=True, exist_ok=True)
        now = _now()
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "generation": 0, "space": space, "dim": int(dim),
            "metric": "inner_product", "count": 0, "next_seq": {}, "ivf_threshold": int(ivf_threshold),
            "nprobe": int(nprobe), "segments": [], "tombstones": None, "previous_files": [],
            "info": dict(info or {}), "created": now, "modified": now,
        }
        with WriterLock(folder):
            old = _read_manifest(folder, missing_ok=True) if overwrite else None
            if old is not None:
                manifest["generation"] = int(old.get("generation", 0)) + 1
                manifest["previous_files"] = _files_of(old)
            _commit(folder, manifest, staged=[])
        return cls(folder, manifest, [], np.zeros(0, np.int64))

    @classmethod
    def open(cls, folder: str | Path, *, mmap: bool = False, space: str | None = None) -> "VectorIndex":
        """Load an index; ``space`` (if given) must match the one it was built in.

        ``mmap=True`` maps IVF segments from disk instead of reading them (faster start, pages
        load on demand); such an index is read-only.
        """
        import faiss

        folder = Path(folder)
        manifest = _read_manifest(folder)
        if space is not None and space != manifest["space"]:
            raise SpaceMismatchError(f"{folder}: index holds vectors of space {manifest['space']!r}, not {space!r}")
        segs = []
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        for s in manifest["segments"]:
            base = folder / SEGMENTS / s["name"]
            try:
                index = faiss.read_index(str(base.with_suffix(".faiss")), flags)
                meta = pq.read_table(base.with_suffix(".parquet"), schema=META_SCHEMA)
            except Exception as exc:
                raise IndexFormatError(f"{base}: unreadable segment ({exc}); the index folder is damaged") from None
            if index.ntotal != meta.num_rows:
                raise IndexFormatError(f"{base}: {index.ntotal} vectors but {meta.num_rows} metadata rows")
            segs.append(_Segment(s["name"], s["kind"], index, meta))
        tomb = np.zeros(0, np.int64)
        if manifest.get("tombstones"):
            tomb = np.load(folder / SEGMENTS / manifest["tombstones"], allow_pickle=False)
        self = cls(folder, manifest, segs, tomb)
        self._mmap = mmap
        return self

    # -- properties ---------------------------------------------------------------------------
    @property
    def space(self) -> str:
        return self.manifest["space"]

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def info(self) -> dict:
        return self.manifest.get("info", {})

    def __len__(self) -> int:
        return int(len(self._live_fids))

    def summary(self) -> dict:
        """What ``emoalign index info`` prints."""
        live = self._table.take(pa.array(self._live_rows, pa.int64()))

        def counts(name: str) -> dict[str, int]:
            vc = pc.value_counts(live.column(name)).to_pylist() if live.num_rows else []
            return {str(d["values"]): int(d["counts"]) for d in vc}

        mods, labels = counts("modality"), counts("label")
        files = [self.folder / MANIFEST] + [self.folder / SEGMENTS / f for f in _files_of(self.manifest)]
        return {
            "folder": str(self.folder), "format_version": self.manifest["format_version"],
            "generation": self.manifest["generation"], "space": self.space, "dim": self.dim, "items": len(self),
            "modalities": mods, "labels": dict(sorted(labels.items())),
            "segments": [{"name": s.name, "kind": s.kind, "vectors": int(s.index.ntotal), **({"nlist": s.nlist} if s.nlist else {})}
                         for s in self.segments],
            "removed_pending": int(len(self.tombstones)), "nprobe": self.manifest["nprobe"],
            "bytes": int(sum(p.stat().st_size for p in files if p.exists())),
            "info": self.info, "created": self.manifest["created"], "modified": self.manifest["modified"],
        }

    # -- metadata lookup ------------------------------------------------------------------------
    def _rebuild_lookup(self) -> None:
        """Lookups over the metadata, kept as Arrow columns (reload stays fast at millions of items)."""
        metas = [s.meta for s in self.segments]
        table = pa.concat_tables(metas).combine_chunks() if metas else META_SCHEMA.empty_table()
        fids = table.column("fid").to_numpy() if table.num_rows else np.zeros(0, np.int64)
        live = ~np.isin(fids, self.tombstones) if len(self.tombstones) else np.ones(len(fids), bool)
        self._table = table
        self._all_fids = fids
        self._order = np.argsort(fids, kind="stable")
        self._sorted_fids = fids[self._order]
        self._live = live
        self._live_rows = np.flatnonzero(live)
        self._live_fids = fids[live]
        self._by_id: dict[str, int] | None = None
        self._selectors: dict = {}

    def _column(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        col = self._table.column(name)
        if rows is not None:
            col = col.take(pa.array(rows, pa.int64()))
        return np.asarray(col.to_pylist(), dtype=object)

    def _row_of(self, fids: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self._sorted_fids, fids)
        return self._order[np.minimum(pos, len(self._order) - 1)]

    def _id_map(self) -> dict[str, int]:
        """Item id → fid of its live entry."""
        if self._by_id is None:
            ids = self._column("id", self._live_rows)
            self._by_id = dict(zip(ids.tolist(), self._live_fids.tolist()))
        return self._by_id

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._id_map()

    def items(self) -> list[dict]:
        """Metadata of every live item (in storage order)."""
        return [h.to_dict() for h in self._hits(self._live_rows, np.full(len(self._live_rows), np.nan))]

    def _hits(self, rows: np.ndarray, scores: np.ndarray) -> list[Hit]:
        if len(rows) == 0:
            return []
        out = []
        for rec, score in zip(self._table.take(pa.array(rows, pa.int64())).to_pylist(), scores):
            rec.pop("fid")
            out.append(Hit(score=float(score), **rec))
        return out

    # -- searching ------------------------------------------------------------------------------
    def search(
        self,
        queries: np.ndarray,
        k: int = 10,
        *,
        modality: str | None = None,
        labels: Iterable[str] | None = None,
        nprobe: int | None = None,
        threads: int | None = None,
    ) -> list[list[Hit]]:
        """The ``k`` items with the largest inner product for each query row, best first.

        ``modality`` keeps items of that modality only; ``labels`` those whose emotion label is
        one of them. Raises `EmptyIndexError` when the index (or the filter) leaves nothing.
        ``threads``: faiss OpenMP threads for this call; by default 1 for up to `SMALL_BATCH`
        queries (a single query is too little work to split, and on a busy machine OpenMP's
        spinning made single queries 4× slower here: 87 vs 22 ms on a 20k flat index under load),
        faiss's default for larger batches.
        """
        import faiss

        q = np.ascontiguousarray(np.atleast_2d(np.asarray(queries, dtype=np.float32)))
        if q.shape[1] != self.dim:
            raise SpaceMismatchError(f"queries have {q.shape[1]} dimensions; the index {self.folder} holds {self.dim}")
        if not np.isfinite(q).all():
            raise ValueError("query vectors contain NaN or infinity")
        if k < 1:
            raise ValueError(f"k must be ≥ 1, got {k}")
        if len(self) == 0:
            raise EmptyIndexError(f"{self.folder}: the index is empty (add items with `emoalign index add`)")
        if modality is not None and modality not in MODALITY_CODES:
            raise ValueError(f"unknown modality {modality!r}; one of {MODALITIES}")
        labels = tuple(sorted(set(labels))) if labels else None
        sel, allowed = self._selector(modality, labels)
        if allowed == 0:
            what = " and ".join(x for x in [f"modality {modality!r}" if modality else "", f"label {', '.join(labels)}" if labels else ""] if x)
            raise EmptyIndexError(f"{self.folder}: no items with {what} (labels here: {sorted(set(map(str, self._column('label', self._live_rows))))})")
        share = allowed / max(1, len(self))
        nprobe = int(nprobe or self.manifest["nprobe"])
        all_d, all_i = [], []
        with _faiss_threads(threads if threads else (1 if len(q) <= SMALL_BATCH else None)):
            for seg in self.segments:
                if seg.index.ntotal == 0:
                    continue
                kk = min(k, int(seg.index.ntotal))
                if seg.kind == "ivf":
                    params = faiss.SearchParametersIVF(sel=sel, nprobe=min(seg.nlist, max(1, math.ceil(nprobe / max(share, 1e-9)))))
                else:
                    params = faiss.SearchParameters(sel=sel) if sel is not None else None
                D, I = seg.index.search(q, kk, params=params)
                all_d.append(D)
                all_i.append(I)
        D = np.concatenate(all_d, axis=1)
        I = np.concatenate(all_i, axis=1)
        D = np.where(I < 0, -np.inf, D)
        order = np.argsort(-D, axis=1, kind="stable")[:, :k]
        out = []
        for r in range(len(q)):
            cols = order[r][I[r, order[r]] >= 0]
            out.append(self._hits(self._row_of(I[r, cols]), D[r, cols]))
        return out

    def _selector(self, modality: str | None, labels: tuple[str, ...] | None):
        """(faiss selector or None, number of live items it lets through); cached per filter."""
        key = (modality, labels)
        if key in self._selectors:
            return self._selectors[key][0], self._selectors[key][1]
        import faiss

        keep_alive: list = []
        parts = []
        live_rows = self._live_rows
        mask = np.ones(len(live_rows), bool)
        if modality is not None:
            code = MODALITY_CODES[modality]
            parts.append(faiss.IDSelectorRange(code << MODALITY_SHIFT, (code + 1) << MODALITY_SHIFT))
            mask &= (self._live_fids >> MODALITY_SHIFT) == code
        if labels is not None:
            col = self._table.column("label").take(pa.array(live_rows, pa.int64()))
            mask &= pc.fill_null(pc.is_in(col, value_set=pa.array(labels, pa.string())), False).to_numpy(zero_copy_only=False)
            chosen = np.ascontiguousarray(self._all_fids[live_rows[mask]], dtype=np.int64)
            parts.append(faiss.IDSelectorBatch(chosen))
            keep_alive.append(chosen)
        if len(self.tombstones):
            inner = faiss.IDSelectorBatch(self.tombstones)
            keep_alive.append(inner)
            parts.append(faiss.IDSelectorNot(inner))
        sel = None
        for p in parts:
            sel = p if sel is None else faiss.IDSelectorAnd(sel, p)
            keep_alive.append(p)
        if sel is not None:
            keep_alive.append(sel)
        allowed = int(mask.sum())
        self._selectors[key] = (sel, allowed, keep_alive)  # faiss keeps raw pointers: hold the objects
        return sel, allowed

    # -- writing --------------------------------------------------------------------------------
    def add(self, vectors: np.ndarray, items: Sequence[ItemMeta], *, space: str) -> int:
        """Add (or replace, by id) items; commits. Returns the number written.

        ``space`` must be the index's space id: vectors from another space are refused.
        """
        if space != self.space:
            raise SpaceMismatchError(f"{self.folder}: index holds vectors of space {self.space!r}; refusing vectors of {space!r}")
        X = np.ascontiguousarray(np.atleast_2d(np.asarray(vectors, dtype=np.float32)))
        items = list(items)
        if X.shape[0] != len(items):
            raise ValueError(f"{X.shape[0]} vectors for {len(items)} items")
        if len(items) == 0:
            return 0
        if X.shape[1] != self.dim:
            raise SpaceMismatchError(f"vectors have {X.shape[1]} dimensions; the index holds {self.dim}")
        if not np.isfinite(X).all():
            raise ValueError("vectors contain NaN or infinity")
        ids = [it.id for it in items]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise ValueError(f"duplicate ids in one batch: {dup}")
        for it in items:
            if it.modality not in MODALITY_CODES:
                raise ValueError(f"item {it.id!r}: unknown modality {it.modality!r}")
        with WriterLock(self.folder):
            self._sync_from_disk()
            manifest = json.loads(json.dumps(self.manifest))
            replaced = [self._id_map()[i] for i in ids if i in self._id_map()]
            seqs = manifest.setdefault("next_seq", {})
            fids = np.empty(len(items), np.int64)
            for n, it in enumerate(items):
                seq = int(seqs.get(it.modality, 0))
                seqs[it.modality] = seq + 1
                fids[n] = (MODALITY_CODES[it.modality] << MODALITY_SHIFT) | seq
            meta = _meta_table(fids, items)
            tomb = np.union1d(self.tombstones, np.asarray(replaced, np.int64))
            staging = _Staging(self.folder, manifest)
            base_live = self._live_count_of(self.segments[0]) if self.segments else 0
            if not self.segments or (base_live == 0 and len(self.segments) == 1):
                new_segments = [staging.segment(self._new_base(X, fids, manifest), "flat" if len(X) < manifest["ivf_threshold"] else "ivf", meta)]
                tomb = np.zeros(0, np.int64)
            else:
                new_segments = list(self.segments) + [staging.segment(_flat_index(X, fids), "flat", meta)]
            self._write(manifest, staging, new_segments, tomb)
            self._maybe_compact()
        return len(items)

    def remove(self, ids: Iterable[str]) -> int:
        """Remove items by id (absent ids are ignored); commits a tombstone list. Returns how many."""
        ids = list(dict.fromkeys(ids))
        with WriterLock(self.folder):
            self._sync_from_disk()
            fids = [self._id_map()[i] for i in ids if i in self._id_map()]
            if not fids:
                return 0
            manifest = json.loads(json.dumps(self.manifest))
            staging = _Staging(self.folder, manifest)
            self._write(manifest, staging, list(self.segments), np.union1d(self.tombstones, np.asarray(fids, np.int64)))
            self._maybe_compact()
        return len(fids)

    def compact(self, *, retrain: bool = False) -> None:
        """Fold every segment and tombstone into one base segment (``retrain``: new IVF centroids)."""
        with WriterLock(self.folder):
            self._sync_from_disk()
            self._compact_all(retrain=retrain)

    # -- internals of writing ---------------------------------------------------------------------
    def _sync_from_disk(self) -> None:
        """Under the lock: if another writer committed since we loaded, load its state first."""
        if self._mmap:
            raise IndexError_(f"{self.folder} was opened with mmap=True (read-only); reopen it to write")
        disk = _read_manifest(self.folder)
        if disk["generation"] != self.manifest["generation"]:
            fresh = VectorIndex.open(self.folder)
            self.__dict__.update(fresh.__dict__)

    def _live_count_of(self, seg: _Segment) -> int:
        if not len(self.tombstones):
            return int(seg.index.ntotal)
        return int((~np.isin(seg.fids, self.tombstones)).sum())

    def _new_base(self, X: np.ndarray, fids: np.ndarray, manifest: dict):
        if len(X) < manifest["ivf_threshold"]:
            return _flat_index(X, fids)
        return _ivf_index(X, fids, ivf_lists(len(X)), manifest.get("seed", 0))

    def _write(self, manifest: dict, staging: "_Staging", segments: list[_Segment], tombstones: np.ndarray) -> None:
        tombstones = np.asarray(tombstones, np.int64)
        # tombstones only need to name fids that still sit in some segment
        present = np.concatenate([s.fids for s in segments]) if segments else np.zeros(0, np.int64)
        tombstones = np.intersect1d(tombstones, present)
        manifest["segments"] = [{"name": s.name, "kind": s.kind, "count": int(s.index.ntotal), **({"nlist": s.nlist} if s.nlist else {})}
                                for s in segments]
        manifest["tombstones"] = staging.tombstones(tombstones) if len(tombstones) else None
        manifest["count"] = int(len(present) - len(tombstones))
        staging.commit()
        self.manifest, self.segments, self.tombstones = manifest, segments, tombstones
        self._rebuild_lookup()

    def _maybe_compact(self) -> None:
        if len(self.segments) <= 1:
            return
        base, deltas = self.segments[0], self.segments[1:]
        base_live = self._live_count_of(base)
        delta_live = sum(self._live_count_of(s) for s in deltas)
        total = base_live + delta_live
        crosses = base.kind == "flat" and total >= self.manifest["ivf_threshold"]
        if crosses or delta_live > DELTA_SHARE * max(base_live, 1) or base_live == 0:
            self._compact_all(retrain=crosses)
        elif len(deltas) > MAX_DELTAS:
            self._merge_deltas()

    def _merge_deltas(self) -> None:
        manifest = json.loads(json.dumps(self.manifest))
        staging = _Staging(self.folder, manifest)
        fids, X, meta = _live_parts(self.segments[1:], self.tombstones, self.dim)
        merged = staging.segment(_flat_index(X, fids), "flat", meta)
        self._write(manifest, staging, [self.segments[0], merged], self.tombstones)

    def _compact_all(self, *, retrain: bool) -> None:
        import faiss

        manifest = json.loads(json.dumps(self.manifest))
        staging = _Staging(self.folder, manifest)
        if not self.segments:
            return
        base = self.segments[0]
        if base.kind == "ivf" and not retrain:
            # fold deltas into the trained lists: no retraining, no re-adding of the base
            index = faiss.clone_index(base.index)  # the loaded base stays untouched until the commit
            if len(self.tombstones):
                index.remove_ids(faiss.IDSelectorBatch(self.tombstones))
            keep = ~np.isin(base.fids, self.tombstones) if len(self.tombstones) else np.ones(len(base.fids), bool)
            metas = [base.meta.filter(pa.array(keep))]
            if len(self.segments) > 1:
                fids, X, meta = _live_parts(self.segments[1:], self.tombstones, self.dim)
                if len(fids):
                    index.add_with_ids(X, fids)
                    metas.append(meta)
            seg = staging.segment(index, "ivf", pa.concat_tables(metas))
        else:
            fids, X, meta = _live_parts(self.segments, self.tombstones, self.dim)
            seg = staging.segment(self._new_base(X, fids, manifest), "flat" if len(X) < manifest["ivf_threshold"] else "ivf", meta)
        self._write(manifest, staging, [seg], np.zeros(0, np.int64))


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
class _Staging:
    """New files for one commit: written to a hidden folder, then renamed into ``segments/``."""

    def __init__(self, folder: Path, manifest: dict) -> None:
        self.folder = folder
        self.manifest = manifest
        manifest["previous_files"] = _files_of(manifest)
        manifest["generation"] = int(manifest["generation"]) + 1
        self.tag = f"{manifest['generation']:06d}-{uuid.uuid4().hex[:8]}"
        self.dir = folder / f".staging-{self.tag}"
        self.files: list[str] = []
        self._n = 0

    def _ensure(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)

    def segment(self, index, kind: str, meta: pa.Table) -> _Segment:
        import faiss

        self._ensure()
        self._n += 1
        name = f"seg-{self.tag}-{self._n}"
        faiss.write_index(index, str(self.dir / f"{name}.faiss"))
        pq.write_table(meta, self.dir / f"{name}.parquet")
        for suffix in (".faiss", ".parquet"):
            _fsync_file(self.dir / f"{name}{suffix}")
            self.files.append(name + suffix)
        return _Segment(name, kind, index, meta)

    def tombstones(self, fids: np.ndarray) -> str:
        self._ensure()
        name = f"tomb-{self.tag}.npy"
        with open(self.dir / name, "wb") as fh:
            np.save(fh, np.asarray(fids, np.int64), allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        self.files.append(name)
        return name

    def commit(self) -> None:
        _commit(self.folder, self.manifest, staged=self.files, staging=self.dir)


def _commit(folder: Path, manifest: dict, *, staged: Sequence[str], staging: Path | None = None) -> None:
    seg_dir = folder / SEGMENTS
    seg_dir.mkdir(parents=True, exist_ok=True)
    for name in staged:
        os.replace(staging / name, seg_dir / name)
    if staged:
        fsync_dir(seg_dir)
    if _before_commit is not None:
        _before_commit()
    manifest["modified"] = _now()
    data = json.dumps(manifest, indent=1, sort_keys=True).encode()
    write_atomic(folder / MANIFEST, lambda fh: fh.write(data))
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
    _clean(folder, manifest)


def _clean(folder: Path, manifest: dict) -> None:
    """Delete files neither the current nor the previous generation uses, and stale staging folders."""
    keep = set(_files_of(manifest)) | set(manifest.get("previous_files", []))
    seg_dir = folder / SEGMENTS
    if seg_dir.is_dir():
        for p in seg_dir.iterdir():
            if p.name not in keep and (p.name.startswith("seg-") or p.name.startswith("tomb-")):
                p.unlink(missing_ok=True)
    for p in folder.glob(".staging-*"):
        shutil.rmtree(p, ignore_errors=True)


def _files_of(manifest: Mapping) -> list[str]:
    out = []
    for s in manifest.get("segments", []):
        out += [s["name"] + ".faiss", s["name"] + ".parquet"]
    if manifest.get("tombstones"):
        out.append(manifest["tombstones"])
    return out


def _read_manifest(folder: Path, *, missing_ok: bool = False) -> dict | None:
    path = folder / MANIFEST
    if not path.is_file():
        if missing_ok:
            return None
        if folder.is_dir() and any(folder.glob(".staging-*")):
            raise IndexFormatError(f"{folder}: no {MANIFEST} — an index was being created here and never committed")
        raise IndexFormatError(f"{folder}: no {MANIFEST} — not an emoalign index (build one with `emoalign index build`)")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexFormatError(f"{path}: not valid JSON ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise IndexFormatError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexFormatError(
            f"{path}: index format version {version!r}; this emoalign reads version {FORMAT_VERSION} — rebuild the index with `emoalign index build`"
        )
    return manifest


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---------------------------------------------------------------------------------------------
# faiss helpers
# ---------------------------------------------------------------------------------------------
class _faiss_threads:
    """Run a block with ``n`` faiss OpenMP threads (None: leave as is), restoring the count after."""

    def __init__(self, n: int | None) -> None:
        self.n = n

    def __enter__(self) -> None:
        import faiss

        self.before = faiss.omp_get_max_threads()
        if self.n is not None and self.n != self.before:
            faiss.omp_set_num_threads(int(self.n))

    def __exit__(self, *exc) -> None:
        import faiss

        if faiss.omp_get_max_threads() != self.before:
            faiss.omp_set_num_threads(self.before)


def _flat_index(X: np.ndarray, fids: np.ndarray):
    import faiss

    index = faiss.IndexIDMap2(faiss.IndexFlatIP(X.shape[1]))
    if len(X):
        index.add_with_ids(np.ascontiguousarray(X, np.float32), np.ascontiguousarray(fids, np.int64))
    return index


def _ivf_index(X: np.ndarray, fids: np.ndarray, nlist: int, seed: int = 0):
    import faiss

    d = X.shape[1]
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = int(seed)
    # k-means on a sample: 64 points per list is plenty for the centroids (faiss warns below 39)
    n_train = min(len(X), 64 * nlist)
    sample = X if n_train == len(X) else X[np.random.default_rng(seed).choice(len(X), n_train, replace=False)]
    index.train(np.ascontiguousarray(sample, np.float32))
    index.add_with_ids(np.ascontiguousarray(X, np.float32), np.ascontiguousarray(fids, np.int64))
    return index


def segment_vectors(seg: _Segment, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(fids, vectors) stored in a segment, read back from faiss's own storage (no copy kept elsewhere)."""
    import faiss

    index = faiss.downcast_index(seg.index)
    if isinstance(index, faiss.IndexIDMap2) or isinstance(index, faiss.IndexIDMap):
        fids = faiss.vector_to_array(index.id_map).astype(np.int64)
        inner = faiss.downcast_index(index.index)
        X = faiss.vector_to_array(inner.codes).view(np.float32).reshape(-1, dim)
        return fids, X
    inv = index.invlists
    parts_i, parts_x = [], []
    for lst in range(index.nlist):
        n = inv.list_size(lst)
        if n == 0:
            continue
        parts_i.append(faiss.rev_swig_ptr(inv.get_ids(lst), n).copy())
        parts_x.append(faiss.rev_swig_ptr(inv.get_codes(lst), n * index.code_size).copy().view(np.float32).reshape(n, dim))
    if not parts_i:
        return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
    return np.concatenate(parts_i).astype(np.int64), np.concatenate(parts_x)


def _live_parts(segments: Sequence[_Segment], tombstones: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray, pa.Table]:
    """Live (fids, vectors, metadata) of some segments, metadata in the vectors' order."""
    all_f, all_x, metas = [], [], []
    for seg in segments:
        fids, X = segment_vectors(seg, dim)
        keep = ~np.isin(fids, tombstones) if len(tombstones) else np.ones(len(fids), bool)
        fids, X = fids[keep], X[keep]
        order = np.argsort(seg.fids, kind="stable")
        rows = order[np.searchsorted(seg.fids[order], fids)]
        all_f.append(fids)
        all_x.append(X)
        metas.append(seg.meta.take(pa.array(rows, pa.int64())))
    if not all_f:
        return np.zeros(0, np.int64), np.zeros((0, dim), np.float32), META_SCHEMA.empty_table()
    return np.concatenate(all_f), np.ascontiguousarray(np.concatenate(all_x)), pa.concat_tables(metas)


def _meta_table(fids: np.ndarray, items: Sequence[ItemMeta]) -> pa.Table:
    def num(v):
        return None if v is None or not np.isfinite(v) else float(v)

    return pa.table({
        "fid": pa.array(fids, pa.int64()),
        "id": pa.array([it.id for it in items], pa.string()),
        "modality": pa.array([it.modality for it in items], pa.string()),
        "label": pa.array([it.label for it in items], pa.string()),
        "taxonomy": pa.array([it.taxonomy for it in items], pa.string()),
        "valence": pa.array([num(it.valence) for it in items], pa.float32()),
        "arousal": pa.array([num(it.arousal) for it in items], pa.float32()),
        "path": pa.array([it.path for it in items], pa.string()),
        "source": pa.array([it.source for it in items], pa.string()),
    }, schema=META_SCHEMA)
