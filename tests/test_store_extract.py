"""Batch extraction: what is computed, what is reused, what is quarantined, and on which engine."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import test_store_helpers as helpers
from emoalign.store import FeatureTable, extract
from emoalign.store.extract import EncoderLoadError
from emoalign.types import Record

ENC = helpers.NAME


@pytest.fixture(autouse=True)
def _registered(monkeypatch, tmp_path):
    helpers.register()
    helpers.register_broken()
    log = tmp_path / "encoded.log"
    monkeypatch.setenv("EMOALIGN_TEST_ENCODE_LOG", str(log))
    return log


@pytest.fixture()
def clips(tmp_path):
    return helpers.make_clips(tmp_path / "media", 12)


def encoded(tmp_path) -> list[str]:
    return helpers.read_log(tmp_path / "encoded.log")


def test_stores_every_item_as_the_encoder_computes_it(tmp_path, clips):
    s = extract(clips, ENC, tmp_path / "out", batch_size=5, workers=1, progress=False)
    assert (s.total, s.computed, s.reused, s.failed) == (12, 12, 0, 0)
    assert s.shards == 3  # one shard per batch: 5 + 5 + 2
    emb = FeatureTable(tmp_path / "out").vectors([r.id for r in clips])
    direct = helpers.SpectralStatsEncoder().embed([r.path for r in clips])
    np.testing.assert_allclose(emb.vectors, direct.vectors, rtol=1e-6)
    assert emb.space == helpers.SpectralStatsEncoder.space


def test_worker_pool_gives_the_same_features_as_in_process(tmp_path, clips):
    a = extract(clips, ENC, tmp_path / "serial", batch_size=4, workers=1, progress=False)
    b = extract(clips, ENC, tmp_path / "pool", batch_size=4, workers=2, progress=False)
    assert a.computed == b.computed == 12 and b.workers == 2
    ids = [r.id for r in clips]
    va = FeatureTable(tmp_path / "serial").vectors(ids).vectors
    vb = FeatureTable(tmp_path / "pool").vectors(ids).vectors
    np.testing.assert_array_equal(va, vb)
    pids = {line.split("\t")[0] for line in (tmp_path / "encoded.log").read_text().splitlines()[12:]}
    assert len(pids) >= 1  # the pool's inputs were encoded in worker processes, logged there


def test_rerun_computes_nothing_and_new_items_only_are_computed(tmp_path, clips):
    extract(clips[:8], ENC, tmp_path / "out", batch_size=4, workers=1, progress=False)
    assert len(encoded(tmp_path)) == 8
    s = extract(clips, ENC, tmp_path / "out", batch_size=4, workers=1, progress=False)
    assert (s.computed, s.reused) == (4, 8)
    assert sorted(encoded(tmp_path)[8:]) == sorted(r.path for r in clips[8:])
    s = extract(clips, ENC, tmp_path / "out", batch_size=4, workers=1, progress=False)
    assert (s.computed, s.reused, s.shards) == (0, 12, 0)
    assert len(encoded(tmp_path)) == 12
    assert sorted(FeatureTable(tmp_path / "out").ids(ENC)) == sorted(r.id for r in clips)


def test_same_content_is_computed_once_whatever_its_path(tmp_path, clips):
    copy = tmp_path / "elsewhere" / "renamed.wav"
    copy.parent.mkdir()
    shutil.copy(clips[0].path, copy)
    twin = Record(id="twin", modality="music", source="synthetic", path=str(copy))
    s = extract(clips[:3] + [twin], ENC, tmp_path / "out", workers=1, progress=False)
    assert (s.computed, s.reused) == (3, 1)
    assert len(encoded(tmp_path)) == 3
    # Later, a third copy under a new id: stored as a row copied from the first, not recomputed.
    payload = Record(id="in-memory", modality="music", source="upload", payload=copy.read_bytes())
    s = extract([payload], ENC, tmp_path / "out", workers=1, progress=False)
    assert (s.computed, s.reused) == (0, 1) and len(encoded(tmp_path)) == 3
    table = FeatureTable(tmp_path / "out")
    v = table.vectors([clips[0].id, "twin", "in-memory"]).vectors
    np.testing.assert_array_equal(v[0], v[1])
    np.testing.assert_array_equal(v[0], v[2])
    rows = table.rows([clips[0].id, "twin", "in-memory"])
    assert len(set(rows.column("key").to_pylist())) == 1
    assert rows.column("path").to_pylist()[2] is None and rows.column("source").to_pylist()[2] == "upload"


def test_corrupt_inputs_are_quarantined_with_their_reason_and_the_batch_goes_on(tmp_path, clips):
    media = tmp_path / "media"
    (media / "garbage.wav").write_bytes(b"RIFF....WAVEfmt definitely not audio")
    (media / "empty.wav").write_bytes(b"")
    good = open(clips[0].path, "rb").read()
    (media / "truncated.wav").write_bytes(good[:30])
    bad = [Record(id=n, modality="music", source="synthetic", path=str(media / f"{n}.wav")) for n in ("garbage", "empty", "truncated", "missing")]
    records = clips[:3] + bad[:3] + clips[3:6] + bad[3:]
    s = extract(records, ENC, tmp_path / "out", batch_size=100, workers=1, progress=False)  # one batch
    assert (s.computed, s.failed) == (6, 4)
    table = FeatureTable(tmp_path / "out")
    assert sorted(table.ids(ENC)) == sorted(r.id for r in clips[:6])
    reasons = {e["id"]: (e["stage"], e["reason"]) for e in table.quarantine(ENC)}
    assert set(reasons) == {"garbage", "empty", "truncated", "missing"}
    assert reasons["garbage"][0] == "encode" and "cannot decode audio" in reasons["garbage"][1]
    assert "empty file" in reasons["empty"][1]
    assert reasons["missing"][0] == "read" and "No such file" in reasons["missing"][1]
    assert all(e["path"] for e in table.quarantine(ENC))

    # Not retried on resume …
    n = len(encoded(tmp_path))
    s = extract(records, ENC, tmp_path / "out", workers=1, progress=False)
    assert (s.computed, s.reused, s.failed, s.skipped_failed) == (0, 6, 0, 4)
    assert len(encoded(tmp_path)) == n
    # … unless asked; still failing, they stay in quarantine (once each).
    s = extract(records, ENC, tmp_path / "out", workers=1, progress=False, retry_failed=True)
    assert (s.failed, s.skipped_failed) == (4, 0)
    assert sorted(encoded(tmp_path)[n:]) == sorted(str(media / f"{x}.wav") for x in ("garbage", "empty", "truncated"))
    assert len(FeatureTable(tmp_path / "out").quarantine(ENC)) == 4
    # A file that is fixed is new content: computed on the next run, and leaves the quarantine.
    shutil.copy(clips[7].path, media / "garbage.wav")
    s = extract(records, ENC, tmp_path / "out", workers=1, progress=False)
    assert (s.computed, s.skipped_failed) == (1, 3)
    assert {e["id"] for e in FeatureTable(tmp_path / "out").quarantine(ENC)} == {"empty", "truncated", "missing"}


def test_an_encoder_that_cannot_load_stops_the_job_with_its_reason(tmp_path, clips):
    with pytest.raises(EncoderLoadError, match="test-broken.onnx is missing"):
        extract(clips[:2], "test-broken", tmp_path / "out", workers=1, progress=False)
    with pytest.raises(EncoderLoadError, match="test-broken.onnx is missing"):
        extract(clips[:2], "test-broken", tmp_path / "out", workers=2, progress=False)
    assert FeatureTable(tmp_path / "out").encoders() == []


def test_unknown_encoder_and_engine_are_named(tmp_path, clips):
    with pytest.raises(ValueError, match="unknown encoder 'nope'"):
        extract(clips, "nope", tmp_path / "out")
    with pytest.raises(ValueError, match="unknown engine"):
        extract(clips, ENC, tmp_path / "out", engine="spark")


def test_text_use_encoder_through_the_store(tmp_path):
    from emoalign.encode.registry import get_encoder

    try:
        get_encoder("text-use")  # importable is not enough: its heads must load too
    except Exception as exc:
        pytest.skip(f"text-use cannot load here: {type(exc).__name__}: {exc}")
    texts = ["I am so happy today!", "This is terrible news.", "I am so happy today!"]
    records = [Record(id=f"t{i}", modality="text", source="demo", text=t) for i, t in enumerate(texts)]
    s = extract(records, "text-use", tmp_path / "out", workers=1, progress=False)
    assert (s.computed, s.reused, s.failed) == (2, 1, 0)
    table = FeatureTable(tmp_path / "out")
    emb = table.vectors(["t0", "t1", "t2"], encoder="text-use")
    np.testing.assert_array_equal(emb.vectors[0], emb.vectors[2])
    assert not np.allclose(emb.vectors[0], emb.vectors[1])
    affects = table.affects(["t0"], encoder="text-use")
    assert affects[0] is None or affects[0].probs


def test_image_scene_encoder_through_the_store(tmp_path):
    """A real offline encoder end to end: vectors, affect and details survive the table."""
    from emoalign.encode import get_encoder
    from emoalign.encode.registry import available_encoders
    from emoalign.media.synth import synth_image, write_image

    reason = available_encoders().get("image-scene")
    if reason is not None:
        pytest.skip(f"image-scene not available here: {reason}")
    paths = [write_image(tmp_path / f"img{i}.png", synth_image(v, a, size=64, seed=i))
             for i, (v, a) in enumerate([(0.8, 0.6), (-0.7, -0.5), (0.1, 0.9)])]
    records = [Record(id=p.stem, modality="image", source="synthetic", path=str(p)) for p in paths]
    s = extract(records, "image-scene", tmp_path / "out", workers=1, progress=False)
    assert (s.computed, s.failed) == (3, 0)
    table = FeatureTable(tmp_path / "out")
    direct = get_encoder("image-scene").encode([str(p) for p in paths])
    emb = table.vectors([r.id for r in records], encoder="image-scene")
    np.testing.assert_allclose(emb.vectors, np.stack([d.vector for d in direct]), rtol=1e-5, atol=1e-6)
    for stored, d in zip(table.affects([r.id for r in records]), direct):
        assert stored.taxonomy == d.affect.taxonomy and stored.top()[0] == d.affect.top()[0]
        assert stored.valence == pytest.approx(d.affect.valence, abs=1e-6)
    assert table.info()["encoders"]["image-scene"]["with_affect"] == 3
