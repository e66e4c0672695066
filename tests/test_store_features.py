"""The feature table: schema, round trips, lookups, space checks, newest-row-wins, atomic shards."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emoalign.store.features import FEATURES, FeatureRow, FeatureTable, WriterLock, append_quarantine, feature_schema, read_quarantine, repair_quarantine
from emoalign.types import Affect


def row(i: int, encoder: str = "enc-a", space: str | None = "space-a", dim: int = 4, affect: Affect | None = None, **kw) -> FeatureRow:
    vec = None if space is None else np.arange(dim, dtype=np.float32) + i
    return FeatureRow(key=kw.pop("key", f"k{i}"), content=f"c{i}", id=kw.pop("id", f"item{i}"), encoder=encoder,
                      encoder_version="1", space=space, vector=vec, affect=affect, **kw)


def test_schema_documents_every_column_and_fixes_vector_size():
    schema = feature_schema(8)
    assert schema.names == list(FEATURES)
    assert schema.field("vector").type == pa.list_(pa.float32(), 8)
    assert schema.field("key").nullable is False and schema.field("vector").nullable is True
    assert all(schema.field(n).metadata[b"description"] for n in schema.names)


def test_round_trip_vectors_affect_and_details(tmp_path):
    table = FeatureTable(tmp_path)
    aff = Affect("mikels8", {"awe": 0.75, "fear": 0.25}, valence=0.4, arousal=-0.2, dominance=0.1)
    table.append("enc-a", [row(0, affect=aff, details=json.dumps({"faces": 1})), row(1)])
    # A fresh reader sees exactly what was written, in the order asked.
    fresh = FeatureTable(tmp_path)
    emb = fresh.vectors(["item1", "item0"])
    assert emb.ids == ("item1", "item0") and emb.space == "space-a" and emb.model == "enc-a"
    np.testing.assert_array_equal(emb.vectors, [[1, 2, 3, 4], [0, 1, 2, 3]])
    got = fresh.affects(["item0", "item1"])
    assert got[1] is None
    assert got[0].taxonomy == "mikels8" and got[0].top() == ("awe", 0.75)
    assert got[0].valence == pytest.approx(0.4) and got[0].dominance == pytest.approx(0.1)
    assert json.loads(fresh.rows(["item0"]).column("details")[0].as_py()) == {"faces": 1}
    assert fresh.keys() == {"k0", "k1"}
    assert fresh.get(["k1", "nope", "k0"]).column("id").to_pylist() == ["item1", "item0"]


def test_missing_ids_are_named(tmp_path):
    table = FeatureTable(tmp_path)
    table.append("enc-a", [row(0)])
    with pytest.raises(KeyError, match="ghost"):
        table.vectors(["item0", "ghost"])


def test_refuses_to_mix_vector_spaces(tmp_path):
    table = FeatureTable(tmp_path)
    table.append("enc-a", [row(0), row(1)])
    table.append("enc-b", [row(0, encoder="enc-b", space="space-b", dim=3, key="kb0")])
    with pytest.raises(ValueError, match="space"):
        table.vectors(["item0"])  # item0 has vectors in two spaces: which one is ambiguous
    assert table.vectors(["item0"], encoder="enc-b").vectors.shape == (1, 3)
    assert table.vectors(["item1"]).space == "space-a"  # only one encoder holds item1
    # Rows of one encoder folder claiming two spaces are refused too.
    table.append("enc-a", [row(2, space="space-z")])
    with pytest.raises(ValueError, match="spaces"):
        table.vectors(["item0", "item2"], encoder="enc-a")


def test_encoder_without_vectors_stores_affect_only(tmp_path):
    table = FeatureTable(tmp_path)
    aff = Affect("fer7", {"happy": 1.0}, valence=0.8, arousal=0.5)
    table.append("affect-only", [row(0, encoder="affect-only", space=None, affect=aff)])
    assert table.dim("affect-only") == 0
    assert table.affects(["item0"])[0].top() == ("happy", 1.0)
    with pytest.raises(ValueError, match="no vector"):
        table.vectors(["item0"])


def test_newest_row_wins_and_compact_keeps_current_rows(tmp_path):
    table = FeatureTable(tmp_path)
    table.append("enc-a", [row(0), row(1)])
    table.append("enc-a", [row(9, id="item0", key="k-new")])  # item0's file changed
    assert table.vectors(["item0"]).vectors[0, 0] == 9
    assert len(table) == 2
    assert table.compact("enc-a") == 2
    assert len(table.shards("enc-a")) == 1
    assert FeatureTable(tmp_path).vectors(["item0", "item1"]).vectors[:, 0].tolist() == [9, 1]


def test_vector_size_change_is_refused(tmp_path):
    table = FeatureTable(tmp_path)
    table.append("enc-a", [row(0)])
    with pytest.raises(ValueError, match="4-float"):
        table.append("enc-a", [row(1, dim=5)])


def test_shards_appear_whole_or_not_at_all(tmp_path):
    table = FeatureTable(tmp_path)
    path = table.append("enc-a", [row(0)])
    assert path.name.startswith("part-") and pq.read_table(path).num_rows == 1
    # What a writer killed mid-write leaves behind is a hidden temp file: never read as a shard.
    (path.parent / ".part-123.parquet.abcd.tmp").write_bytes(b"PAR1 half a shard")
    assert [p.name for p in table.shards("enc-a")] == [path.name]
    assert FeatureTable(tmp_path).ids("enc-a") == ["item0"]


def test_quarantine_ignores_and_repairs_a_torn_append(tmp_path):
    q = tmp_path / "quarantine.jsonl"
    append_quarantine(q, [{"id": "a", "key": "k", "path": "a.wav", "reason": "bad", "time": "2020-01-01T00:00:00.000Z"}])
    with open(q, "ab") as fh:
        fh.write(b'{"id": "b", "rea')  # crash in the middle of the next append
    assert [e["id"] for e in read_quarantine(q)] == ["a"]
    repair_quarantine(q)
    append_quarantine(q, [{"id": "c", "key": None, "path": "c.wav", "reason": "missing", "time": "2020-01-01T00:00:00.000Z"}])
    assert [e["id"] for e in read_quarantine(q)] == ["a", "c"]


def test_one_writer_per_encoder_folder(tmp_path):
    with WriterLock(tmp_path / "enc"):
        with pytest.raises(RuntimeError, match=r"enc is being written by another emoalign process"):
            with WriterLock(tmp_path / "enc"):
                pass
    # A lock file left by a process that is gone does not block: the OS lock died with it.
    (tmp_path / "enc" / ".lock").write_text("stale")
    with WriterLock(tmp_path / "enc"):
        pass
