"""The vector index: search and filters, add/remove without rebuild, reload, versions, atomic writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from emoalign.errors import SpaceMismatchError
from emoalign.store import index as index_mod
from emoalign.store.index import EmptyIndexError, IndexError_, IndexFormatError, ItemMeta, VectorIndex, ivf_lists

REPO = Path(__file__).resolve().parents[1]
LABELS = ("awe", "fear", "sadness", "contentment")


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def items(n, prefix="x", modality="image", offset=0):
    return [ItemMeta(f"{prefix}{i}", modality, label=LABELS[(i + offset) % 4], taxonomy="mikels8",
                     valence=0.1 * (i % 5), arousal=-0.2, path=f"/media/{prefix}{i}.jpg", source="test") for i in range(n)]


@pytest.fixture
def vecs():
    return unit(np.random.default_rng(0).standard_normal((300, 16)))


@pytest.fixture
def idx(tmp_path, vecs):
    index = VectorIndex.create(tmp_path / "idx", space="test-space", dim=16, info={"note": "unit test"})
    metas = items(200) + items(100, "m", "music")
    index.add(vecs, metas, space="test-space")
    return index


def exact_ids(vecs, ids, q, k, keep=None):
    s = vecs @ q
    if keep is not None:
        s = np.where(keep, s, -np.inf)
    return [ids[i] for i in np.argsort(-s, kind="stable")[:k]]


def test_search_is_exact_and_carries_metadata(idx, vecs):
    ids = [f"x{i}" for i in range(200)] + [f"m{i}" for i in range(100)]
    hits = idx.search(vecs[5], k=5)[0]
    assert [h.id for h in hits] == exact_ids(vecs, ids, vecs[5], 5)
    assert hits[0].id == "x5" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    h = hits[0]
    assert (h.modality, h.label, h.taxonomy, h.path, h.source) == ("image", LABELS[1], "mikels8", "/media/x5.jpg", "test")
    assert h.valence == pytest.approx(0.0) and h.arousal == pytest.approx(-0.2)
    assert len(idx.search(vecs[:3], k=4)) == 3


def test_filters_by_modality_and_emotion(idx, vecs):
    ids = [f"x{i}" for i in range(200)] + [f"m{i}" for i in range(100)]
    music = np.array([i.startswith("m") for i in ids])
    hits = idx.search(vecs[0], k=10, modality="music")[0]
    assert [h.id for h in hits] == exact_ids(vecs, ids, vecs[0], 10, music)
    labels = np.array([LABELS[i % 4] for i in range(200)] + [LABELS[i % 4] for i in range(100)])
    keep = (labels == "fear") & ~music
    hits = idx.search(vecs[0], k=10, modality="image", labels=["fear"])[0]
    assert [h.id for h in hits] == exact_ids(vecs, ids, vecs[0], 10, keep)
    assert all(h.label == "fear" and h.modality == "image" for h in hits)
    two = idx.search(vecs[0], k=50, labels=["fear", "awe"])[0]
    assert {h.label for h in two} == {"fear", "awe"}
    with pytest.raises(EmptyIndexError, match="no items with label joy"):
        idx.search(vecs[0], k=3, labels=["joy"])
    with pytest.raises(EmptyIndexError, match="modality 'text'"):
        idx.search(vecs[0], k=3, modality="text")


def test_add_remove_replace_without_rebuild(idx, vecs):
    base = idx.segments[0].name
    gen = idx.manifest["generation"]
    new = unit(np.random.default_rng(1).standard_normal((5, 16)))
    idx.add(new, items(5, "n"), space="test-space")
    assert len(idx) == 305 and idx.segments[0].name == base  # the base segment is untouched
    assert [s.kind for s in idx.segments] == ["flat", "flat"]
    assert idx.search(new[2], k=1)[0][0].id == "n2"
    assert idx.remove(["x5", "n2", "not-there"]) == 2
    assert len(idx) == 303 and "x5" not in idx and idx.segments[0].name == base
    assert all(h.id != "x5" for h in idx.search(vecs[5], k=20)[0])
    # re-adding an id replaces it
    idx.add(vecs[7:8] * 0 + new[0:1], [ItemMeta("x7", "image", label="awe")], space="test-space")
    assert len(idx) == 303
    assert idx.search(new[0], k=2)[0][0].id in {"x7", "n0"}
    assert [h.id for h in idx.search(vecs[7], k=1)[0]] != ["x7"]
    assert idx.manifest["generation"] == gen + 3
    # reload sees the same state
    again = VectorIndex.open(idx.folder)
    assert len(again) == 303 and "x5" not in again and again.manifest["generation"] == gen + 3
    assert [h.id for h in again.search(vecs[9], k=8)[0]] == [h.id for h in idx.search(vecs[9], k=8)[0]]
    assert again.info == {"note": "unit test"}


def test_deltas_are_merged_and_compaction_drops_removed(tmp_path, vecs):
    index = VectorIndex.create(tmp_path / "i", space="s", dim=16)
    index.add(vecs[:200], items(200), space="s")
    for k in range(6):
        index.add(vecs[200 + k * 5 : 205 + k * 5], items(5, f"d{k}-"), space="s")
        assert len(index.segments) <= 1 + index_mod.MAX_DELTAS + 1
    assert len(index) == 230
    index.remove([f"x{i}" for i in range(50)])
    index.compact()
    assert [s.kind for s in index.segments] == ["flat"] and index.segments[0].index.ntotal == 180
    assert len(index.tombstones) == 0 and len(VectorIndex.open(tmp_path / "i")) == 180
    files = sorted(p.name for p in (tmp_path / "i" / "segments").iterdir())
    kept = set(index_mod._files_of(index.manifest)) | set(index.manifest["previous_files"])
    assert set(files) == kept  # older generations' files are gone


def test_ivf_above_threshold_recall_and_incremental_updates(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, 32))
    X = unit(centres[rng.integers(40, size=3000)] + 0.3 * rng.standard_normal((3000, 32)))
    Q = unit(centres[rng.integers(40, size=50)] + 0.3 * rng.standard_normal((50, 32)))
    index = VectorIndex.create(tmp_path / "ivf", space="s", dim=32, ivf_threshold=2000, nprobe=16)
    index.add(X, items(3000), space="s")
    seg = index.segments[0]
    assert seg.kind == "ivf" and seg.nlist == ivf_lists(3000)
    ids = [f"x{i}" for i in range(3000)]
    recall = np.mean([len({h.id for h in index.search(q, 10)[0]} & set(exact_ids(X, ids, q, 10))) / 10 for q in Q])
    assert recall > 0.9
    # filtered queries probe more lists to keep recall
    keep = np.array([LABELS[i % 4] == "sadness" for i in range(3000)])
    frec = np.mean([len({h.id for h in index.search(q, 10, labels=["sadness"])[0]} & set(exact_ids(X, ids, q, 10, keep))) / 10 for q in Q])
    assert frec > 0.9
    # a delta folds into the trained lists once it is large enough: still IVF, same centroids count
    index.add(X[:900] * 1.0, items(900, "late"), space="s")
    assert [s.kind for s in index.segments] == ["ivf"] and index.segments[0].nlist == seg.nlist and len(index) == 3900


def test_flat_base_becomes_ivf_when_it_grows(tmp_path):
    X = unit(np.random.default_rng(2).standard_normal((1500, 8)))
    index = VectorIndex.create(tmp_path / "g", space="s", dim=8, ivf_threshold=1000)
    index.add(X[:600], items(600), space="s")
    assert index.segments[0].kind == "flat"
    index.add(X[600:], items(900, "b"), space="s")
    assert [s.kind for s in index.segments] == ["ivf"] and len(index) == 1500


def test_errors_empty_space_version_not_an_index(tmp_path, idx, vecs):
    empty = VectorIndex.create(tmp_path / "empty", space="s", dim=16)
    with pytest.raises(EmptyIndexError, match="empty"):
        empty.search(vecs[0], k=3)
    with pytest.raises(EmptyIndexError):
        VectorIndex.open(tmp_path / "empty").search(vecs[0])
    with pytest.raises(SpaceMismatchError, match="test-space"):
        idx.add(vecs[:1], items(1, "z"), space="another-space")
    with pytest.raises(SpaceMismatchError, match="dimensions"):
        idx.search(np.zeros((1, 8), np.float32))
    with pytest.raises(SpaceMismatchError):
        VectorIndex.open(idx.folder, space="another-space")
    with pytest.raises(ValueError, match="duplicate ids"):
        idx.add(vecs[:2], [ItemMeta("a", "image"), ItemMeta("a", "image")], space="test-space")
    with pytest.raises(ValueError, match="NaN"):
        idx.add(np.full((1, 16), np.nan, np.float32), [ItemMeta("nan", "image")], space="test-space")
    with pytest.raises(FileExistsError):
        VectorIndex.create(idx.folder, space="test-space", dim=16)
    with pytest.raises(IndexFormatError, match="not an emoalign index"):
        VectorIndex.open(tmp_path)
    manifest = json.loads((idx.folder / "manifest.json").read_text())
    (idx.folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 2}))
    with pytest.raises(IndexFormatError, match="format version 2.*rebuild"):
        VectorIndex.open(idx.folder)
    (idx.folder / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFormatError, match="not valid JSON"):
        VectorIndex.open(idx.folder)


def test_injected_failure_leaves_previous_index_usable(monkeypatch, idx, vecs):
    before = [h.id for h in idx.search(vecs[3], k=10)[0]]
    gen = idx.manifest["generation"]

    def boom():
        raise OSError("disk full (injected)")

    monkeypatch.setattr(index_mod, "_before_commit", boom)
    with pytest.raises(OSError, match="injected"):
        idx.add(unit(np.ones((1, 16))), [ItemMeta("new", "image")], space="test-space")
    with pytest.raises(OSError, match="injected"):
        VectorIndex.open(idx.folder).remove(["x3"])
    monkeypatch.setattr(index_mod, "_before_commit", None)
    reopened = VectorIndex.open(idx.folder)
    assert reopened.manifest["generation"] == gen and len(reopened) == 300 and "new" not in reopened and "x3" in reopened
    assert [h.id for h in reopened.search(vecs[3], k=10)[0]] == before
    # the next successful write removes the orphans of the failed ones
    reopened.add(unit(np.ones((1, 16))), [ItemMeta("new", "image")], space="test-space")
    on_disk = {p.name for p in (idx.folder / "segments").iterdir()}
    assert on_disk == set(index_mod._files_of(reopened.manifest)) | set(reopened.manifest["previous_files"])
    assert not list(idx.folder.glob(".staging-*"))


def test_killed_writer_leaves_previous_index_usable(tmp_path, vecs):
    folder = tmp_path / "k"
    index = VectorIndex.create(folder, space="s", dim=16)
    index.add(vecs[:100], items(100), space="s")
    marker = tmp_path / "writing"
    script = textwrap.dedent(f"""
        import time, numpy as np
        from pathlib import Path
        from emoalign.store import index as m
        def stall():
            Path({str(marker)!r}).write_text("x")
            time.sleep(120)
        m._before_commit = stall
        idx = m.VectorIndex.open({str(folder)!r})
        X = np.random.default_rng(5).standard_normal((5000, 16)).astype("float32")
        idx.add(X, [m.ItemMeta(f"big{{i}}", "image") for i in range(5000)], space="s")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    try:
        deadline = time.time() + 120
        while not marker.exists():
            assert proc.poll() is None, "writer exited before reaching the commit point"
            assert time.time() < deadline, "writer never reached the commit point"
            time.sleep(0.1)
        assert (folder / ".lock").exists()
        with pytest.raises(RuntimeError, match="being written"):  # a live writer holds the lock
            VectorIndex.open(folder).remove(["x1"])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    after = VectorIndex.open(folder)
    assert len(after) == 100 and "big0" not in after
    assert after.search(vecs[4], k=1)[0][0].id == "x4"
    # the dead writer's lock is taken over and its files are cleaned up by the next write
    after.remove(["x1"])
    assert len(VectorIndex.open(folder)) == 99
    names = {p.name for p in (folder / "segments").iterdir()}
    assert names == set(index_mod._files_of(after.manifest)) | set(after.manifest["previous_files"])


def test_two_handles_see_each_others_writes(idx, vecs):
    other = VectorIndex.open(idx.folder)
    idx.add(vecs[:1] * -1, [ItemMeta("from-a", "image")], space="test-space")
    other.add(vecs[1:2] * -1, [ItemMeta("from-b", "image")], space="test-space")  # syncs first, loses nothing
    final = VectorIndex.open(idx.folder)
    assert "from-a" in final and "from-b" in final and len(final) == 302


def test_mmap_open_is_read_only(idx, vecs):
    ro = VectorIndex.open(idx.folder, mmap=True)
    assert [h.id for h in ro.search(vecs[8], 3)[0]] == [h.id for h in idx.search(vecs[8], 3)[0]]
    with pytest.raises(IndexError_, match="read-only"):
        ro.add(vecs[:1], [ItemMeta("q", "image")], space="test-space")


def test_summary(idx):
    s = idx.summary()
    assert s["items"] == 300 and s["modalities"] == {"image": 200, "music": 100}
    assert s["labels"]["awe"] == 75 and s["space"] == "test-space" and s["format_version"] == 1
    assert s["segments"][0]["kind"] == "flat" and s["bytes"] > 300 * 16 * 4
