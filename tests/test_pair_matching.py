"""The matching-set recipe and its exports: positives/negatives, tags, split by clip, HF + JSONL, determinism."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from emoalign.data import open_source
from emoalign.pair.export import tree_digest
from emoalign.pair.matching import MatchingConfig, build_matching, normalise_tag, select_rows
from emoalign.pair.matching_build import build_matching_dir
from emoalign.types import Pair

TAGS = ["amusement", "Awe", "contentment", "excitement", "anger", "disgust", "fear", "Sadness"]


def synthetic_rows(n_clips: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows, tags = [], {}
    for c in range(n_clips):
        imgs = []
        for s in range(3):
            image_id = f"img{c:03d}_{s}.jpg"
            tags[image_id] = TAGS[int(rng.integers(len(TAGS)))]
            imgs.append(image_id)
        rows.append((f"clip{c:03d}.mp3", imgs))
    return rows, tags


def test_recipe_counts_answers_and_negative_tags():
    rows, tags = synthetic_rows()
    ms = build_matching(rows, tags, MatchingConfig(seed=1))
    pos = [e for e in ms.examples if e.same]
    neg = [e for e in ms.examples if not e.same]
    assert len(pos) == 180 and len(neg) == 180
    for e in pos:
        assert e.emotion == normalise_tag(tags[e.image_id]) and e.answer == f"yes - {e.emotion}"
        assert e.image_id in dict(rows)[e.music_id]  # the clip's own image
    for e in neg:
        assert e.emotion == "" and e.answer == "no"
        assert normalise_tag(tags[e.image_id]) != e.positive_tag  # never the positive's tag
    assert {e.question for e in ms.examples} <= set(MatchingConfig().templates)
    assert len({e.question for e in ms.examples}) > 1


def test_split_is_by_clip_with_the_requested_fraction():
    rows, tags = synthetic_rows(50)
    ms = build_matching(rows, tags, MatchingConfig(seed=4, train_fraction=0.8))
    train = {e.music_id for e in ms.split("train")}
    test = {e.music_id for e in ms.split("test")}
    assert not train & test
    assert len(train) == 40 and len(test) == 10
    assert ms.counts()["clips_in_both_splits"] == 0
    # every example of a clip sits with its clip
    assert Counter(e.music_id for e in ms.split("test")) == Counter({m: 6 for m in test})


def test_negatives_per_positive_and_max_rows():
    rows, tags = synthetic_rows(30)
    ms = build_matching(rows, tags, MatchingConfig(seed=0, negatives_per_positive=3, max_rows=10))
    assert len({e.music_id for e in ms.examples}) == 10
    assert sum(not e.same for e in ms.examples) == 3 * sum(e.same for e in ms.examples)


def test_single_tag_pool_has_no_negative_and_says_so():
    ms = build_matching([("m", ["a.jpg", "b.jpg"])], {"a.jpg": "awe", "b.jpg": "Awe"}, MatchingConfig())
    assert all(e.same for e in ms.examples) and len(ms.examples) == 2
    assert any("no image with a tag other than" in p for p in ms.problems)


def test_same_seed_same_examples_other_seed_other_draws():
    rows, tags = synthetic_rows()
    a = build_matching(rows, tags, MatchingConfig(seed=5)).examples
    b = build_matching(rows, tags, MatchingConfig(seed=5)).examples
    c = build_matching(rows, tags, MatchingConfig(seed=6)).examples
    assert a == b and a != c


def test_select_rows_keeps_source_order_and_ranks():
    pairs = [Pair("m2", "x", "s", rank=2), Pair("m2", "y", "s", rank=1), Pair("m1", "z", "s", rank=1),
             Pair("m3", "w", "s", same=False), Pair("m4", "v", "s")]
    assert select_rows(pairs, 2) == [("m2", ["y", "x"]), ("m1", ["z"])]


# ---------------------------------------------------------------------------------------------
# On the EMID fixture: the exports
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def emid_root(tmp_path_factory) -> Path:
    from emoalign.data.fixtures.emid import make

    return make(tmp_path_factory.mktemp("emid"), seed=0)["emid"]


@pytest.fixture(scope="module")
def built(emid_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("matching") / "out"
    summary = build_matching_dir(open_source("emid", emid_root), out, MatchingConfig(seed=3))
    return out, summary


def test_summary_counts_and_no_shared_clip(built, emid_root):
    out, summary = built
    counts = summary["counts"]
    rows = list(open_source("emid", emid_root).pairs())
    assert counts["train"]["examples"] + counts["test"]["examples"] == 2 * len(rows)
    assert counts["clips_in_both_splits"] == 0
    assert counts["train"]["clips"] == round(0.8 * summary["rows_used"])
    assert json.loads((out / "summary.json").read_text())["counts"] == counts


def test_hf_export_loads_with_the_matching_sets_features(built):
    datasets = pytest.importorskip("datasets")

    out, summary = built
    dd = datasets.load_from_disk(str(out / "hf"))
    assert set(dd) == {"train", "test"}
    ds = dd["train"]
    assert list(ds.features) == ["audio", "sampling_rate", "image", "same", "emotion", "question", "answer"]
    assert isinstance(ds.features["image"], datasets.Image)
    assert ds.features["sampling_rate"].dtype == "int32" and ds.features["same"].dtype == "bool"
    assert len(ds) == summary["counts"]["train"]["examples"]


def test_a_row_of_the_hf_export_decodes_in_a_plain_install(built):
    """The user's first action on the export: read a row, get the clip and the picture decoded."""
    datasets = pytest.importorskip("datasets")
    import soundfile as sf
    from PIL import Image

    out, _ = built
    ds = datasets.load_from_disk(str(out / "hf"))["train"]
    row = ds[0]  # no torchcodec, no FFmpeg needed
    audio = row["audio"]
    y = np.asarray(audio["array"], dtype=np.float32)
    assert audio["sampling_rate"] == row["sampling_rate"] == 16000
    assert y.ndim == 1 and len(y) > 16000 * 0.5 and 0 < np.abs(y).max() <= 1.0
    # the very samples of the clip's WAV in jsonl/media/audio/
    wav, sr = sf.read(out / "jsonl" / "media" / "audio" / audio["path"], dtype="float32")
    assert sr == 16000
    np.testing.assert_array_equal(y, wav)
    img = row["image"]
    assert isinstance(img, Image.Image) and img.size[0] > 0 and np.asarray(img).std() > 0
    assert row["answer"] == (f"yes - {row['emotion']}" if row["same"] else "no")
    numpy_row = ds.with_format("numpy")[1]
    assert numpy_row["audio"]["array"].dtype == np.float32 and numpy_row["audio"]["array"].ndim == 1


def test_the_hf_export_reads_back_as_an_emid_matching_source(built):
    pytest.importorskip("datasets")
    out, summary = built
    src = open_source("emid-matching", out / "hf")
    pairs = list(src.pairs("train"))
    assert len(pairs) == summary["counts"]["train"]["examples"]
    assert not src.report.problems
    records = {r.id: r for r in src.records("train")}
    clip = records[pairs[0].music_id]
    assert clip.payload[:4] == b"RIFF"
    assert clip.payload == (out / "jsonl" / "media" / "audio" / pairs[0].music_id).read_bytes()  # the same WAV, byte for byte


def test_jsonl_lines_reference_existing_media(built):
    out, summary = built
    for split in ("train", "test"):
        path = out / "jsonl" / f"{split}.jsonl"
        lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        assert len(lines) == summary["counts"][split]["examples"]
        for line in lines:
            user, assistant = line["messages"]
            assert user["role"] == "user" and assistant["role"] == "assistant"
            kinds = [c["type"] for c in user["content"]]
            assert kinds == ["audio", "image", "text"]
            assert (path.parent / user["content"][0]["audio"]).is_file()
            assert (path.parent / user["content"][1]["image"]).is_file()
            assert assistant["content"][0]["text"] == ("yes - " + line["emotion"] if line["same"] else "no")


def test_same_inputs_and_seed_give_byte_identical_outputs(built, emid_root, tmp_path):
    out, _ = built
    again = tmp_path / "again"
    build_matching_dir(open_source("emid", emid_root), again, MatchingConfig(seed=3))
    a, b = tree_digest(out), tree_digest(again)
    assert a.keys() == b.keys() and len(a) > 10
    assert a == b
    other = tmp_path / "other"
    build_matching_dir(open_source("emid", emid_root), other, MatchingConfig(seed=4), hf=False)
    assert tree_digest(other)["jsonl/train.jsonl"] != a["jsonl/train.jsonl"]


def test_hub_layout_gives_the_same_examples(built, emid_root, tmp_path):
    out, _ = built
    hub = emid_root.parent / "emid-hub"
    build_matching_dir(open_source("emid-hub", hub), tmp_path / "hub", MatchingConfig(seed=3), hf=False)
    assert (tmp_path / "hub" / "examples.jsonl").read_text() == (out / "examples.jsonl").read_text()
