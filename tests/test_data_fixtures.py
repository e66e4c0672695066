"""The fixture maker: every source gets a readable, seeded, byte-stable copy."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from emoalign.data import SOURCES, open_source
from emoalign.data import fixtures as fixtures_pkg
from emoalign.data.fixtures import emonet_face, emotiontalk, generic, ravdess


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("module", [emotiontalk, emonet_face, ravdess, generic], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_same_seed_same_bytes(module, tmp_path):
    module.make(tmp_path / "a", seed=0)
    module.make(tmp_path / "b", seed=0)
    module.make(tmp_path / "c", seed=1)
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert a and a == b
    assert a != c


def test_make_all_covers_every_source_and_each_reads_cleanly(fixture_paths):
    expected = set(SOURCES) - {"pairs"}  # built pairs come from the pairing step, not from a fixture
    if "emid" not in fixture_paths:
        expected -= {"emid", "emid-hub", "emid-matching"}
    assert expected <= set(fixture_paths)
    for name in ("emotiontalk", "emotiontalk-release", "emonet-face-binary", "emonet-face-hq", "emonet-face-big", "ravdess", "folder", "csv"):
        src = open_source(name, fixture_paths[name])
        records = list(src.records())
        assert records, name
        assert src.report.skipped == 0, src.report.summary()


def test_make_all_skips_a_module_that_is_not_there(monkeypatch, tmp_path):
    monkeypatch.setattr(fixtures_pkg, "MODULES", ("not_built_yet", "generic"))
    with pytest.warns(UserWarning, match="not_built_yet"):
        written = fixtures_pkg.make_all(tmp_path)
    assert set(written) == {"folder", "csv"}


def test_ravdess_fixture_is_real_flac_with_ravdess_names(tmp_path):
    root = ravdess.make(tmp_path)["ravdess"]
    files = sorted(root.rglob("*.flac"))
    assert len(files) == 4 * 15
    assert all(f.read_bytes()[:4] == b"fLaC" for f in files)
    assert {f.parent.name for f in files} == {"Actor_01", "Actor_02", "Actor_03", "Actor_04"}
    src = open_source("ravdess", root)
    recs = list(src.records())
    assert src.report.skipped == 0
    assert Counter(r.labels["ravdess8"] for r in recs) == {"neutral": 4, **{e: 8 for e in ("calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")}}
    from emoalign.media.decode import load_audio

    y = load_audio(recs[0].path)
    assert 0.7 < y.size / 16000 < 0.8


@pytest.mark.shared_data
def test_real_ravdess_clips(shared_data):
    src = open_source("ravdess", shared_data / "ravdess-speech-16k")
    recs = list(src.records())
    assert src.report.skipped == 0
    assert len(recs) == 1200
    assert len({r.labels["ravdess8"] for r in recs}) == 8
    assert len({r.group for r in recs}) == 20
