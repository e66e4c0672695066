"""The music-4q adapter: quadrant folders + metadata.csv → music Records grouped by artist."""

from __future__ import annotations

import shutil

import pytest

from emoalign.data import BadInputError, open_source
from emoalign.data.fixtures import music4q
from emoalign.data.music4q import quadrant_of


def test_fixture_reads_with_labels_groups_and_folds(tmp_path):
    root = music4q.make(tmp_path)["music-4q"]
    src = open_source("music-4q", root)
    recs = list(src.records())
    assert src.report.skipped == 0 and len(recs) == 12
    assert {r.labels["quadrant"] for r in recs} == {"Q1", "Q2", "Q3", "Q4"}
    assert all(r.modality == "music" and r.path.endswith(".mp3") for r in recs)
    # the signs go to meta, never to Record.valence (they are not ratings)
    assert all(r.valence is None and r.meta["valence_sign"] in (-1, 1) for r in recs)
    q1 = [r for r in recs if r.labels["quadrant"] == "Q1"]
    assert all(r.meta["valence_sign"] == 1 and r.meta["arousal_sign"] == 1 for r in q1)
    # no artist in two folds
    folds_of = {}
    for r in recs:
        folds_of.setdefault(r.group, set()).add(r.split)
    assert all(len(f) == 1 for f in folds_of.values())


def test_fold_split_selects_and_bad_split_is_refused(tmp_path):
    root = music4q.make(tmp_path)["music-4q"]
    every = list(open_source("music-4q", root).records())
    some = list(open_source("music-4q", root).records("folds:0-1"))
    assert 0 < len(some) < len(every) and {r.split for r in some} <= {"fold0", "fold1"}
    with pytest.raises(ValueError, match="folds:0-3"):
        list(open_source("music-4q", root).records("train"))


def test_missing_file_and_bad_label_are_named_and_skipped(tmp_path):
    root = music4q.make(tmp_path)["music-4q"]
    victim = sorted((root / "Q2").glob("*.mp3"))[0]
    victim.unlink()
    meta = root / "metadata.csv"
    meta.write_text(meta.read_text().replace(",Q3,", ",Q5,", 1))
    src = open_source("music-4q", root)
    recs = list(src.records())
    assert len(recs) == 10 and src.report.skipped == 2
    text = src.report.summary()
    assert victim.stem in text and "Q5" in text
    with pytest.raises(BadInputError, match=victim.stem):
        list(open_source("music-4q", root, strict=True).records())


def test_folders_without_metadata(tmp_path):
    root = music4q.make(tmp_path)["music-4q"]
    shutil.copytree(root, tmp_path / "plain", ignore=shutil.ignore_patterns("*.csv"))
    recs = list(open_source("music-4q", tmp_path / "plain").records())
    assert len(recs) == 12 and all(r.group is None and r.split is None for r in recs)


def test_quadrant_of_signs():
    assert [quadrant_of(v, a) for v, a in [(0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5), (0.5, -0.5)]] == ["Q1", "Q2", "Q3", "Q4"]


@pytest.mark.shared_data
def test_shared_music4q_has_700_clips_in_artist_grouped_folds(shared_data):
    root = shared_data / "music-4q"
    if not root.is_dir():
        pytest.skip("music-4q not in the shared data")
    src = open_source("music-4q", root)
    recs = list(src.records())
    assert len(recs) == 700 and src.report.skipped == 0
    folds_of = {}
    for r in recs:
        folds_of.setdefault(r.group, set()).add(r.split)
    assert sum(len(f) > 1 for f in folds_of.values()) == 0
