"""Read TensorFlow checkpoints (``.index`` + ``.data-NNNNN-of-NNNNN``) with numpy alone.

A TF2/TF1 "tensor bundle" checkpoint is two kinds of file:

- ``<prefix>.index``: an immutable sorted table in LevelDB's SSTable format. Data blocks of
  prefix-compressed ``key → value`` entries, an index block pointing at them, and a 48-byte footer
  (two varint block handles, padding, magic ``0xdb4775248b80fb57``). Each block is followed by
  a 1-byte compression type and a 4-byte CRC. Key ``""`` holds a ``BundleHeaderProto``; every
  other key is a variable name whose value is a ``BundleEntryProto``:
  ``dtype`` (1), ``shape`` (2, a ``TensorShapeProto`` of ``dim`` (2) messages with ``size`` (1)),
  ``shard_id`` (3), ``offset`` (4), ``size`` (5), ``crc32c`` (6, fixed32), ``slices`` (7).
- ``<prefix>.data-<shard>-of-<n>``: the tensors' raw bytes, little-endian, row-major, at
  ``offset`` in shard ``shard_id``.

Only uncompressed tables and numeric dtypes are handled (what ``tf.train.Saver`` writes);
anything else raises `ValueError` naming the file. Sources: LevelDB's ``table_format.md`` and
TensorFlow's ``tensor_bundle.proto`` / ``types.proto``.

>>> ckpt = read_checkpoint("model/")  # doctest: +SKIP
>>> ckpt["model/dense/kernel"].shape  # doctest: +SKIP
(1506, 200)
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_MAGIC = 0xDB4775248B80FB57
#: TF DataType enum value → numpy dtype (types.proto), numeric types only.
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
           10: np.bool_, 14: np.float16, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _proto_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of a protobuf message: varints as int, length-delimited as bytes."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((field, value))
    return out


def _block_entries(data: bytes, offset: int, size: int, where: str) -> list[tuple[bytes, bytes]]:
    """The key/value entries of one SSTable block (prefix-compressed keys, restart array at the end)."""
    if data[offset + size] != 0:
        raise ValueError(f"{where}: compressed table blocks (type {data[offset + size]}) are not supported")
    block = data[offset : offset + size]
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def read_index(index_path: str | Path) -> dict[str, dict]:
    """Variable name → {dtype, shape, shard_id, offset, size} from a checkpoint's ``.index`` file."""
    index_path = Path(index_path)
    data = index_path.read_bytes()
    if len(data) < 48 or struct.unpack_from("<Q", data, len(data) - 8)[0] != _MAGIC:
        raise ValueError(f"{index_path}: not a TensorFlow checkpoint index (bad SSTable footer)")
    pos = len(data) - 48
    _meta_off, pos = _varint(data, pos)
    _meta_size, pos = _varint(data, pos)
    index_off, pos = _varint(data, pos)
    index_size, pos = _varint(data, pos)
    entries: dict[str, dict] = {}
    for _last_key, handle in _block_entries(data, index_off, index_size, str(index_path)):
        block_off, p = _varint(handle, 0)
        block_size, _ = _varint(handle, p)
        for key, value in _block_entries(data, block_off, block_size, str(index_path)):
            if not key:  # the BundleHeaderProto
                continue
            fields = dict.fromkeys(("dtype", "shard_id", "offset", "size"), 0)
            shape: list[int] = []
            for num, val in _proto_fields(value):
                if num == 1:
                    fields["dtype"] = val
                elif num == 2:
                    shape = [dict(_proto_fields(dim)).get(1, 0) for f, dim in _proto_fields(val) if f == 2]
                elif num in (3, 4, 5):
                    fields[("shard_id", "offset", "size")[num - 3]] = val
                elif num == 7:
                    raise ValueError(f"{index_path}: {key.decode()} is a partitioned (sliced) variable; not supported")
            entries[key.decode("utf-8")] = {**fields, "shape": tuple(shape)}
    return entries


def read_checkpoint(prefix: str | Path, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Tensors of a checkpoint as numpy arrays (all, or only ``names``).

    ``prefix`` is what ``tf.train.Saver`` was given: ``dir/model`` for ``dir/model.index``, or a
    directory ending in ``/`` for a checkpoint saved as ``dir/.index`` (musicnn's layout).
    """
    prefix = str(prefix)
    index_path = Path(prefix + ".index")
    if not index_path.is_file():
        raise FileNotFoundError(f"checkpoint index not found: {index_path}")
    entries = read_index(index_path)
    shards: dict[int, np.memmap] = {}
    out: dict[str, np.ndarray] = {}
    for name in names if names is not None else sorted(entries):
        if name not in entries:
            raise KeyError(f"{index_path}: no variable {name!r}")
        e = entries[name]
        dtype = _DTYPES.get(e["dtype"])
        if dtype is None:
            raise ValueError(f"{index_path}: {name} has unsupported dtype enum {e['dtype']}")
        if e["shard_id"] not in shards:
            n_shards = len(list(Path(prefix + ".index").parent.glob(Path(prefix).name + ".data-*"))) if not prefix.endswith("/") \
                else len(list(Path(prefix).glob(".data-*")))
            shard = Path(f"{prefix}.data-{e['shard_id']:05d}-of-{max(n_shards, 1):05d}")
            if not shard.is_file():
                raise FileNotFoundError(f"checkpoint shard not found: {shard}")
            shards[e["shard_id"]] = np.memmap(shard, dtype=np.uint8, mode="r")
        raw = shards[e["shard_id"]][e["offset"] : e["offset"] + e["size"]]
        count = int(np.prod(e["shape"])) if e["shape"] else 1
        if raw.size != count * np.dtype(dtype).itemsize:
            raise ValueError(f"{index_path}: {name} holds {raw.size} bytes, expected {count} × {np.dtype(dtype).name}")
        out[name] = np.frombuffer(raw.tobytes(), dtype=np.dtype(dtype).newbyteorder("<")).reshape(e["shape"]).astype(dtype)
    return out
