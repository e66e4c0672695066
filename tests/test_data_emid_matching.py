"""EMID-Emotion-Matching adapter on its fixture: recipe consistency, records, splits, bad rows."""

from __future__ import annotations

import io
import shutil
from collections import Counter
from pathlib import Path

import pytest

from emoalign.data import BadInputError, open_source
from emoalign.data.emid import EMIDSource
from emoalign.data.emid_matching import EMIDMatchingSource, expected_answer, normalise_tag
from emoalign.data.fixtures.emid import make


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> dict[str, Path]:
    return make(tmp_path_factory.mktemp("emid-matching-fixture"), seed=0)


@pytest.fixture(scope="module")
def matching(fx):
    src = EMIDMatchingSource(fx["emid-matching"])
    return src, list(src.records()), list(src.pairs())


def test_recipe_helpers():
    assert normalise_tag("Excitement") == "excitement" and normalise_tag("awe / wonder!") == "awe_wonder"
    assert expected_answer(True, "fear") == "yes - fear" and expected_answer(False, "") == "no"


def test_parquet_layout_has_the_card_features(fx):
    import datasets

    files = {s: [str(p) for p in sorted((fx["emid-matching"] / "data").glob(f"{s}-*.parquet"))] for s in ("train", "test")}
    ds = datasets.load_dataset("parquet", data_files=files, streaming=True)
    f = ds["train"].features
    assert isinstance(f["audio"], datasets.Audio) and f["audio"].sampling_rate == 16000
    assert isinstance(f["image"], datasets.Image)
    assert f["sampling_rate"] == datasets.Value("int32") and f["same"] == datasets.Value("bool")
    assert [c for c in f] == ["audio", "sampling_rate", "image", "same", "emotion", "question", "answer"]


def test_pairs_follow_the_recipe(matching):
    src, _, pairs = matching
    assert src.report.skipped == 0
    # 26 clips × 3 images → 78 positives, one negative each; 80/20 split of the examples
    assert len(pairs) == 156
    assert Counter(p.same for p in pairs) == {True: 78, False: 78}
    assert Counter(p.split for p in pairs) == {"train": 125, "test": 31}
    assert src.split_names() == ["train", "test"]
    for p in pairs:
        assert p.answer == (f"yes - {p.emotion}" if p.same else "no")
        assert (p.emotion != "") == p.same and p.question
    assert [p for p in src.pairs("test")] == [p for p in pairs if p.split == "test"]
    with pytest.raises(ValueError, match="no split"):
        list(src.pairs("validation"))


def test_records_are_the_distinct_clips_and_images(fx, matching):
    import soundfile as sf
    from PIL import Image

    src, records, pairs = matching
    music = [r for r in records if r.modality == "music"]
    images = [r for r in records if r.modality == "image"]
    assert len(music) == 26 and len({r.id for r in records}) == len(records)
    assert {p.music_id for p in pairs} == {r.id for r in music}
    assert {p.image_id for p in pairs} == {r.id for r in images}
    for r in music:
        info = sf.info(io.BytesIO(r.payload))
        assert info.samplerate == 16000 and info.channels == 1 and r.meta["sampling_rate"] == 16000
    for r in images:
        assert Image.open(io.BytesIO(r.payload)).size == (48, 48)
    # an image's label (from its positive rows) is the tag EMID gives the same picture
    release = [r for r in EMIDSource(fx["emid"]).records() if r.modality == "image"]
    emid_tag = {Path(r.path).read_bytes(): r.labels["mikels8"] for r in release}
    labelled = [r for r in images if r.labels]
    assert len(labelled) >= len(images) - 2  # an image only ever drawn as a negative has no label
    assert all(emid_tag[r.payload] == r.labels["mikels8"] for r in labelled)
    # items that occur in both splits say so (the recipe splits rows, not clips)
    both = [r for r in records if r.split is None]
    assert both and all(r.meta["splits"] == ["train", "test"] for r in both)
    assert {r.id for r in src.records("test")} <= {r.id for r in records}


def test_open_source_and_save_to_disk_copy(fx, matching, tmp_path):
    import datasets

    _, _, pairs = matching
    files = {s: [str(p) for p in sorted((fx["emid-matching"] / "data").glob(f"{s}-*.parquet"))] for s in ("train", "test")}
    saved = tmp_path / "saved"
    datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "cache")).save_to_disk(str(saved))
    src = open_source("emid-matching", saved)
    assert isinstance(src, EMIDMatchingSource)
    assert list(src.pairs()) == pairs and src.report.skipped == 0


@pytest.fixture()
def broken(fx, tmp_path) -> Path:
    """Train rows 0–3 made inconsistent in four different ways."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "matching"
    shutil.copytree(fx["emid-matching"], root)
    path = next((root / "data").glob("train-*.parquet"))
    table = pq.read_table(path)
    cols = {c: table.column(c).to_pylist() for c in ("same", "emotion", "answer", "sampling_rate")}
    pos = [i for i, s in enumerate(cols["same"]) if s]
    neg = [i for i, s in enumerate(cols["same"]) if not s]
    cols["answer"][pos[0]] = "no"                                  # positive answered "no"
    cols["emotion"][pos[1]] = ""                                   # positive without emotion
    cols["answer"][neg[0]] = "yes - awe"                           # negative answered yes
    cols["sampling_rate"][neg[1]] = 44100                          # rate disagrees with the audio
    for c, values in cols.items():
        table = table.set_column(table.schema.get_field_index(c), table.schema.field(c), pa.array(values, table.schema.field(c).type))
    pq.write_table(table, path)
    return root, sorted([pos[0], pos[1], neg[0], neg[1]])


def test_inconsistent_rows_are_reported_and_skipped(broken, matching):
    root, bad = broken
    src = EMIDMatchingSource(root)
    pairs = list(src.pairs())
    list(src.records())
    assert src.report.skipped == 4
    assert sorted(int(p.where.rsplit(":", 1)[1]) for p in src.report.problems) == bad
    assert all(p.where.split(":")[-2] == "train" for p in src.report.problems)
    reasons = " | ".join(p.message for p in src.report.problems)
    assert "answer is 'no'" in reasons and "emotion is empty" in reasons and "44100" in reasons
    assert len(pairs) == 156 - 4
    with pytest.raises(BadInputError, match=r":train:\d+: inconsistent row"):
        list(EMIDMatchingSource(root, strict=True).pairs())
