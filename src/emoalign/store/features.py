"""The feature table: what every encoder computed for every item, as a folder of Parquet shards.

Layout of a feature folder ``DIR`` (one sub-folder per encoder, so each has one vector size)::

    DIR/features/<encoder>/part-<time_ns>-<pid>-<seq>.parquet   # one shard per finished batch
    DIR/features/<encoder>/quarantine.jsonl                      # inputs that failed, with reasons

One row per (item, encoder). The ``key`` column is ``sha256(content sha256, encoder, version)``,
so the same bytes (or text) are computed once per encoder version whatever their path or id;
two items with the same content get two rows sharing a key. A shard is written to a hidden
temporary file in the same folder, fsynced and renamed into place (`os.replace`), so a reader
never sees half a shard. If an id appears in several shards (its file changed, or a compaction
was interrupted) the row from the newest shard wins.

>>> import numpy as np
>>> table = FeatureTable("features-demo")
>>> rows = [FeatureRow(key=f"k{i}", content=f"c{i}", id=f"clip-{i}", encoder="demo", encoder_version="1",
...                    space="demo-v1", vector=np.full(4, i, np.float32)) for i in (1, 2)]
>>> shard = table.append("demo", rows)
>>> emb = table.vectors(["clip-2", "clip-1"], encoder="demo")
>>> emb.space, emb.vectors.shape, emb.ids
('demo-v1', (2, 4), ('clip-2', 'clip-1'))
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from emoalign.outputs import FolderBusyError, WriterLock, fsync_dir, write_atomic  # noqa: F401 (re-exported)
from emoalign.types import Affect, Embeddings

#: The columns of a feature shard, in order, with their meaning — the table's documented schema
#: (like a Hugging Face ``Features`` description). `feature_schema(dim)` builds the Arrow schema.
FEATURES: dict[str, tuple[str, str]] = {
    "key": ("string, not null", "sha256 hex of (content sha256, encoder name, encoder version): the cache key"),
    "content": ("string, not null", "sha256 hex of the item's bytes (file or payload) or of its UTF-8 text"),
    "id": ("string, not null", "the Record id"),
    "path": ("string", "the Record path (null for in-memory payloads and texts)"),
    "source": ("string", "the Record source name"),
    "modality": ("string", "the Record modality"),
    "encoder": ("string, not null", "encoder registry name"),
    "encoder_version": ("string, not null", "encoder version (part of the key)"),
    "space": ("string", "vector-space id; vectors are comparable only within one space"),
    "vector": ("fixed_size_list<float32>[dim]", "the embedding; null when the encoder makes none"),
    "taxonomy": ("string", "taxonomy of the affect distribution (null when the encoder gives no affect)"),
    "probs": ("map<string, float32>", "probability of each label of `taxonomy`"),
    "valence": ("float32", "valence in [-1, 1]"),
    "arousal": ("float32", "arousal in [-1, 1]"),
    "dominance": ("float32", "dominance in [-1, 1] where the encoder gives one"),
    "details": ("string", "JSON object of encoder-specific extras (face boxes, segments, ...)"),
    "created": ("timestamp[ms, UTC]", "when the row was written"),
}

SHARD_PREFIX = "part-"
SHARD_SUFFIX = ".parquet"
QUARANTINE_FILE = "quarantine.jsonl"


def feature_schema(dim: int) -> pa.Schema:
    """The Arrow schema of a shard whose vectors have ``dim`` floats (0 for encoders without vectors).

    >>> feature_schema(4).field("vector").type
    FixedSizeListType(fixed_size_list<item: float>[4])
    """
    types = {
        "key": pa.string(), "content": pa.string(), "id": pa.string(), "path": pa.string(),
        "source": pa.string(), "modality": pa.string(), "encoder": pa.string(),
        "encoder_version": pa.string(), "space": pa.string(), "vector": pa.list_(pa.float32(), dim),
        "taxonomy": pa.string(), "probs": pa.map_(pa.string(), pa.float32()), "valence": pa.float32(),
        "arousal": pa.float32(), "dominance": pa.float32(), "details": pa.string(),
        "created": pa.timestamp("ms", tz="UTC"),
    }
    not_null = {"key", "content", "id", "encoder", "encoder_version"}
    fields = [
        pa.field(name, types[name], nullable=name not in not_null, metadata={"description": FEATURES[name][1]})
        for name in FEATURES
    ]
    return pa.schema(fields, metadata={"emoalign.dim": str(dim), "emoalign.schema": "features/1"})


@dataclass(frozen=True)
class FeatureRow:
    """One row to write: an item's identity plus what its encoder returned."""

    key: str
    content: str
    id: str
    encoder: str
    encoder_version: str
    path: str | None = None
    source: str | None = None
    modality: str | None = None
    space: str | None = None
    vector: np.ndarray | None = None
    affect: Affect | None = None
    details: str = "{}"


def rows_to_table(rows: Sequence[FeatureRow], dim: int) -> pa.Table:
    """Build a shard table from rows (vectors must all have ``dim`` floats, finite)."""
    n = len(rows)
    flat = np.zeros((n, dim), dtype=np.float32)
    valid = np.zeros(n, dtype=bool)
    for i, r in enumerate(rows):
        if r.vector is not None:
            v = np.asarray(r.vector, dtype=np.float32).reshape(-1)
            if v.size != dim:
                raise ValueError(f"item {r.id!r}: encoder {r.encoder!r} returned {v.size} floats, the table holds {dim}")
            flat[i] = v
            valid[i] = True
    if dim == 0:  # an encoder without embeddings: an all-null column of empty vectors
        vector = pa.nulls(n, type=pa.list_(pa.float32(), 0))
    else:
        vector = pa.FixedSizeListArray.from_arrays(
            pa.array(flat.reshape(-1), type=pa.float32()), dim, mask=None if valid.all() else pa.array(~valid)
        )
    affects = [r.affect for r in rows]
    now = pa.scalar(int(time.time() * 1000), type=pa.timestamp("ms", tz="UTC"))
    cols = {
        "key": pa.array([r.key for r in rows], pa.string()),
        "content": pa.array([r.content for r in rows], pa.string()),
        "id": pa.array([r.id for r in rows], pa.string()),
        "path": pa.array([r.path for r in rows], pa.string()),
        "source": pa.array([r.source for r in rows], pa.string()),
        "modality": pa.array([r.modality for r in rows], pa.string()),
        "encoder": pa.array([r.encoder for r in rows], pa.string()),
        "encoder_version": pa.array([r.encoder_version for r in rows], pa.string()),
        "space": pa.array([r.space for r in rows], pa.string()),
        "vector": vector,
        "taxonomy": pa.array([a.taxonomy if a else None for a in affects], pa.string()),
        "probs": pa.array(
            [[(str(k), float(v)) for k, v in a.probs.items()] if a else None for a in affects],
            pa.map_(pa.string(), pa.float32()),
        ),
        "valence": pa.array([float(a.valence) if a else None for a in affects], pa.float32()),
        "arousal": pa.array([float(a.arousal) if a else None for a in affects], pa.float32()),
        "dominance": pa.array(
            [float(a.dominance) if a and a.dominance is not None else None for a in affects], pa.float32()
        ),
        "details": pa.array([r.details for r in rows], pa.string()),
        "created": pa.array([now.value] * n, pa.timestamp("ms", tz="UTC")),
    }
    return pa.table(cols, schema=feature_schema(dim))


def affect_from_row(row: Mapping[str, Any]) -> Affect | None:
    """The `Affect` stored in a row (as from ``table.to_pylist()``), or None."""
    if row.get("taxonomy") is None:
        return None
    probs = row.get("probs") or []
    probs = dict(probs) if not isinstance(probs, Mapping) else dict(probs)
    return Affect(
        taxonomy=row["taxonomy"],
        probs={k: float(v) for k, v in probs.items()},
        valence=float(row["valence"]),
        arousal=float(row["arousal"]),
        dominance=None if row.get("dominance") is None else float(row["dominance"]),
    )


def store_name(encoder: str) -> str:
    """Where an encoder's rows live in a feature folder: a registered encoder (``name`` or
    ``name?options``) resolves to `emoalign.encode.registry.EncoderIdentity.store_name` in this
    environment; any other name (an identity already, or an encoder registered elsewhere) is kept.
    """
    from emoalign.encode.registry import ENCODERS, encoder_identity

    base = encoder.partition("?")[0]
    if base not in ENCODERS or "@" in encoder:
        return encoder
    try:
        return encoder_identity(encoder).store_name
    except ImportError:  # an optional backend that is not installed: it has only its default rows
        return base


class FeatureTable:
    """Read (and append to) a feature folder. Cheap to create; shards are read on first use.

    >>> import numpy as np
    >>> table = FeatureTable("features-demo")
    >>> rows = [FeatureRow(key=f"k{i}", content=f"c{i}", id=f"clip-{i}", encoder="demo", encoder_version="1",
    ...                    space="demo-v1", vector=np.full(4, i, np.float32)) for i in (1, 2)]
    >>> shard = table.append("demo", rows)
    >>> table.encoders(), sorted(table.keys("demo")), shard.suffix
    (['demo'], ['k1', 'k2'], '.parquet')
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._cache: dict[str, tuple[tuple[str, ...], pa.Table]] = {}

    # -- layout -------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.folder / "features"

    def encoder_dir(self, encoder: str) -> Path:
        """The folder of an encoder's rows; a registry name (with ``?options``) means its configured
        identity (`store_name`), so another checkpoint or configuration never reads these rows."""
        encoder = store_name(encoder)
        if not encoder or "/" in encoder or "\\" in encoder or encoder.startswith("."):
            raise ValueError(f"bad encoder name {encoder!r} for a feature folder")
        return self.root / encoder

    def encoders(self) -> list[str]:
        """Names of the encoders with at least one shard."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.shards(p.name))

    def shards(self, encoder: str) -> list[Path]:
        """An encoder's shard files, oldest first (names sort by creation time)."""
        folder = self.encoder_dir(encoder)
        if not folder.is_dir():
            return []
        return sorted(
            p for p in folder.iterdir() if p.name.startswith(SHARD_PREFIX) and p.name.endswith(SHARD_SUFFIX)
        )

    def quarantine_path(self, encoder: str) -> Path:
        return self.encoder_dir(encoder) / QUARANTINE_FILE

    # -- reading ------------------------------------------------------------------------------
    def _raw(self, encoder: str) -> pa.Table:
        """All rows of all shards of one encoder, newest shard last (cached until shards change)."""
        shards = self.shards(encoder)
        names = tuple(p.name for p in shards)
        cached = self._cache.get(encoder)
        if cached and cached[0] == names:
            return cached[1]
        if not shards:
            table = feature_schema(0).empty_table()
        else:
            parts = []
            for p in shards:
                try:
                    parts.append(pq.read_table(p))
                except Exception as exc:  # a shard damaged after it was written (disk, manual edit)
                    raise ValueError(f"{p}: unreadable feature shard ({exc}); delete it and re-run extraction") from None
            dims = {t.schema.field("vector").type.list_size for t in parts}
            if len(dims) > 1:
                raise ValueError(f"{self.encoder_dir(encoder)}: shards hold vectors of different sizes {sorted(dims)}")
            table = pa.concat_tables(parts, promote_options="none") if len(parts) > 1 else parts[0]
            table = _latest_per(table, "id")
        self._cache[encoder] = (names, table)
        return table

    def to_table(self, encoder: str | None = None) -> pa.Table:
        """Every current row (one per item and encoder) as one Arrow table.

        With several encoders of different vector sizes, pass ``encoder`` (their vector columns
        cannot share one table).
        """
        names = [encoder] if encoder else self.encoders()
        tables = [self._raw(n) for n in names]
        if not tables:
            return feature_schema(0).empty_table()
        if len(tables) == 1:
            return tables[0]
        dims = {t.schema.field("vector").type.list_size for t in tables}
        if len(dims) > 1:
            raise ValueError(f"{self.folder}: encoders {names} have different vector sizes; pass encoder=")
        return pa.concat_tables(tables)

    def __len__(self) -> int:
        return sum(self._raw(n).num_rows for n in self.encoders())

    def keys(self, encoder: str | None = None) -> set[str]:
        """The cache keys present (for one encoder, or all)."""
        names = [encoder] if encoder else self.encoders()
        out: set[str] = set()
        for n in names:
            out.update(self._raw(n).column("key").to_pylist())
        return out

    def ids(self, encoder: str) -> list[str]:
        return self._raw(encoder).column("id").to_pylist()

    def get(self, keys: Iterable[str], encoder: str | None = None) -> pa.Table:
        """One row per requested key that is present, in the order asked (absent keys are left out)."""
        keys = list(dict.fromkeys(keys))
        found = []
        for n in [encoder] if encoder else self.encoders():
            t = self._raw(n)
            sel = t.filter(pc.is_in(t.column("key"), value_set=pa.array(keys, pa.string())))
            if sel.num_rows:
                found.append(_latest_per(sel, "key"))
        if not found:
            return feature_schema(0).empty_table()
        if len({t.schema.field("vector").type.list_size for t in found}) > 1:
            raise ValueError(f"{self.folder}: keys from encoders with different vector sizes; pass encoder=")
        table = pa.concat_tables(found) if len(found) > 1 else found[0]
        return _reorder(table, "key", keys, missing="skip")

    def rows(self, ids: Sequence[str] | None = None, *, keys: Sequence[str] | None = None, encoder: str | None = None) -> pa.Table:
        """The rows for ``ids`` (or ``keys``) in that order; raises `KeyError` naming missing ones."""
        if (ids is None) == (keys is None):
            if ids is None and keys is None:
                return self.to_table(self._one_encoder(encoder, None, "id"))
            raise TypeError("pass ids or keys, not both")
        column, wanted = ("id", list(ids)) if ids is not None else ("key", list(keys))
        name = self._one_encoder(encoder, wanted, column)
        t = self._raw(name)
        sel = t.filter(pc.is_in(t.column(column), value_set=pa.array(list(set(wanted)), pa.string())))
        if column == "key":
            sel = _latest_per(sel, "key")
        return _reorder(sel, column, wanted, missing="raise", where=f"{self.folder} ({name})")

    def _one_encoder(self, encoder: str | None, wanted: list[str] | None, column: str) -> str:
        if encoder:
            return encoder
        names = self.encoders()
        if len(names) == 1:
            return names[0]
        if not names:
            raise KeyError(f"{self.folder}: no features stored yet")
        if wanted is not None:
            holding = [n for n in names if pc.any(pc.is_in(self._raw(n).column(column), value_set=pa.array(wanted, pa.string()))).as_py()]
            if len(holding) == 1:
                return holding[0]
            if not holding:
                raise KeyError(f"{self.folder}: no features for any of {wanted[:5]} (encoders here: {names})")
            if holding:
                spaces = {n: self.space(n) for n in holding}
                raise ValueError(
                    f"{self.folder}: these items have features from several encoders {spaces} "
                    f"(vectors from different spaces are never mixed); pass encoder="
                )
        raise ValueError(f"{self.folder} holds features of {names}; pass encoder=")

    def space(self, encoder: str) -> str | None:
        spaces = set(self._raw(encoder).column("space").drop_null().to_pylist())
        if len(spaces) > 1:
            raise ValueError(f"{self.encoder_dir(encoder)}: rows from several vector spaces {sorted(spaces)}")
        return spaces.pop() if spaces else None

    def vectors(self, ids: Sequence[str] | None = None, *, keys: Sequence[str] | None = None, encoder: str | None = None) -> Embeddings:
        """The vectors of ``ids`` (or ``keys``, or every row) as one `Embeddings` batch, in that order.

        Refuses to mix vector spaces and names items whose encoder made no vector.

        >>> FeatureTable("empty").vectors(["a"])
        Traceback (most recent call last):
        ...
        KeyError: 'empty: no features stored yet'
        """
        t = self.rows(ids, keys=keys, encoder=encoder)
        spaces = set(t.column("space").to_pylist())
        if None in spaces:
            missing = [i for i, s in zip(t.column("id").to_pylist(), t.column("space").to_pylist()) if s is None]
            raise ValueError(f"{self.folder}: no vector for {missing[:5]} (encoder makes no embeddings)")
        if len(spaces) > 1:
            raise ValueError(f"{self.folder}: refusing to mix vectors from spaces {sorted(spaces)}")
        col = t.column("vector").combine_chunks()
        if col.null_count:
            bad = [i for i, v in zip(t.column("id").to_pylist(), col.is_null().to_pylist()) if v]
            raise ValueError(f"{self.folder}: no vector stored for {bad[:5]}")
        dim = col.type.list_size
        vecs = col.values.to_numpy(zero_copy_only=False)[col.offset * dim : (col.offset + len(col)) * dim]
        model = t.column("encoder")[0].as_py() if t.num_rows else (encoder or "")
        space = spaces.pop() if spaces else (self.space(encoder) if encoder else "")
        return Embeddings(
            np.ascontiguousarray(vecs.reshape(len(col), dim), dtype=np.float32),
            model=model, space=space or "", ids=tuple(t.column("id").to_pylist()),
        )

    def affects(self, ids: Sequence[str] | None = None, *, keys: Sequence[str] | None = None, encoder: str | None = None) -> list[Affect | None]:
        """The `Affect` of each item (None where the encoder gives none), in the order asked."""
        t = self.rows(ids, keys=keys, encoder=encoder)
        cols = t.select(["taxonomy", "probs", "valence", "arousal", "dominance"]).to_pylist()
        return [affect_from_row(r) for r in cols]

    def quarantine(self, encoder: str | None = None, *, include_resolved: bool = False) -> list[dict]:
        """Inputs that failed, newest entry per (id, key), leaving out those computed since (retried)."""
        names = [encoder] if encoder else sorted(p.name for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []
        out: list[dict] = []
        for n in names:
            entries = read_quarantine(self.quarantine_path(n))
            if not include_resolved and entries and self.shards(n):
                # An entry is resolved when its item was stored after it failed (retried or fixed).
                t = self._raw(n)
                stored = dict(zip(t.column("id").to_pylist(), t.column("created").cast(pa.int64()).to_pylist()))
                entries = [e for e in entries if stored.get(e["id"], -1) < _entry_ms(e)]
            out.extend(entries)
        return out

    # -- writing ------------------------------------------------------------------------------
    def append(self, encoder: str, rows: Sequence[FeatureRow] | pa.Table, *, dim: int | None = None) -> Path | None:
        """Write rows as one new shard, atomically; returns its path (None when there are no rows)."""
        table = rows if isinstance(rows, pa.Table) else None
        if table is None:
            if not rows:
                return None
            if dim is None:
                dims = {np.asarray(r.vector).size for r in rows if r.vector is not None}
                if len(dims) > 1:
                    raise ValueError(f"encoder {encoder!r} returned vectors of different sizes {sorted(dims)}")
                dim = dims.pop() if dims else self.dim(encoder) or 0
            table = rows_to_table(rows, dim)
        if table.num_rows == 0:
            return None
        existing = self.dim(encoder)
        new_dim = table.schema.field("vector").type.list_size
        if existing is not None and existing != new_dim:
            raise ValueError(
                f"{self.encoder_dir(encoder)} holds {existing}-float vectors; refusing a shard of {new_dim}-float "
                f"vectors (did the encoder change without a new version? use a new folder)"
            )
        folder = self.encoder_dir(encoder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / new_shard_name()
        write_atomic(path, lambda fh: pq.write_table(table, fh, compression="zstd"))
        return path

    def dim(self, encoder: str) -> int | None:
        """Vector size of an encoder's shards (None when it has none yet)."""
        shards = self.shards(encoder)
        if not shards:
            return None
        return pq.read_schema(shards[-1]).field("vector").type.list_size

    def compact(self, encoder: str) -> int:
        """Merge an encoder's shards into one (newest row per id kept); returns shards removed.

        Safe to interrupt: the merged shard is written atomically before the old ones are deleted,
        and readers keep the newest row of any id that is in both.
        """
        with WriterLock(self.encoder_dir(encoder)):
            old = self.shards(encoder)
            if len(old) <= 1:
                return 0
            table = self._raw(encoder)
            new = self.append(encoder, table)
            for p in old:
                if p != new:
                    p.unlink(missing_ok=True)
            fsync_dir(self.encoder_dir(encoder))
            self._cache.pop(encoder, None)
            return len(old)

    def info(self) -> dict:
        """A summary per encoder: rows, distinct contents, vector size, space, shards, bytes, quarantined."""
        out = {"folder": str(self.folder), "encoders": {}}
        for n in self.encoders():
            t = self._raw(n)
            shards = self.shards(n)
            out["encoders"][n] = {
                "rows": t.num_rows,
                "distinct_contents": len(set(t.column("key").to_pylist())),
                "versions": sorted(set(t.column("encoder_version").to_pylist())),
                "dim": self.dim(n),
                "space": self.space(n),
                "with_affect": t.num_rows - t.column("taxonomy").null_count,
                "shards": len(shards),
                "bytes": sum(p.stat().st_size for p in shards),
                "quarantined": len(self.quarantine(n)),
            }
        return out


_SEQ = 0


def new_shard_name() -> str:
    """A shard file name that sorts by creation time (then process and sequence, for ties)."""
    global _SEQ
    _SEQ += 1
    return f"{SHARD_PREFIX}{time.time_ns():020d}-{os.getpid()}-{_SEQ:06d}{SHARD_SUFFIX}"


def _latest_per(table: pa.Table, column: str) -> pa.Table:
    """Keep the last row of each value of ``column`` (rows are in shard order, newest last)."""
    if table.num_rows == 0:
        return table
    values = table.column(column).to_pylist()
    last: dict[str, int] = {}
    for i, v in enumerate(values):
        last[v] = i
    if len(last) == len(values):
        return table
    return table.take(pa.array(sorted(last.values()), pa.int64()))


def _reorder(table: pa.Table, column: str, wanted: list[str], *, missing: str, where: str = "") -> pa.Table:
    pos = {v: i for i, v in enumerate(table.column(column).to_pylist())}
    idx = []
    absent = []
    for w in wanted:
        if w in pos:
            idx.append(pos[w])
        else:
            absent.append(w)
    if absent and missing == "raise":
        raise KeyError(f"{where}: no features for {len(absent)} {column}(s), e.g. {absent[:5]}")
    return table.take(pa.array(idx, pa.int64()))


# -- quarantine --------------------------------------------------------------------------------
def append_quarantine(path: Path, entries: Sequence[Mapping[str, Any]]) -> None:
    """Append entries as JSON lines in one write + fsync (a crash can cut off only whole trailing lines,
    which `read_quarantine` ignores and `repair_quarantine` removes)."""
    if not entries:
        return
    data = "".join(json.dumps(dict(e), ensure_ascii=False, sort_keys=True) + "\n" for e in entries).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)


def repair_quarantine(path: Path) -> None:
    """Cut a torn last line (no newline) left by a crash mid-append, so the next append starts clean."""
    if not path.is_file():
        return
    with open(path, "rb+") as fh:
        data = fh.read()
        if data and not data.endswith(b"\n"):
            fh.truncate(data.rfind(b"\n") + 1)
            fh.flush()
            os.fsync(fh.fileno())


def _entry_ms(entry: Mapping[str, Any]) -> int:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp() * 1000)
    except (KeyError, ValueError, AttributeError):
        return 0


def read_quarantine(path: Path) -> list[dict]:
    """Complete entries of a quarantine file, newest per (id, key, path)."""
    if not path.is_file():
        return []
    latest: dict[tuple, dict] = {}
    with open(path, "rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break  # torn tail of an interrupted append
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                continue
            latest[(e.get("id"), e.get("key"), e.get("path"))] = e
    return list(latest.values())
