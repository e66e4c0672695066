"""EmoNet-Face adapters: binary judgements, HQ expert ratings, Big VLM labels."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import pytest

from emoalign.affect import get_taxonomy
from emoalign.data import BadInputError, open_source
from emoalign.data.emonet_face import emotion_name, per_rater
from emoalign.data.fixtures import emonet_face as fx


@pytest.fixture(scope="module")
def ef(tmp_path_factory) -> dict[str, Path]:
    return fx.make(tmp_path_factory.mktemp("ef"), seed=0)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


def test_emotion_names_accept_families_case_and_synonyms():
    assert emotion_name("Negative Low-Energy Emotions|Sadness") == "Sadness"
    assert emotion_name("jealousy & envy") == "Jealousy & Envy"
    assert emotion_name("Hopelessness") == "Helplessness"  # a guide.json synonym, used in binary.csv
    with pytest.raises(KeyError):
        emotion_name("Hunger")
    assert per_rater([{"a": {"X": 1}}, {"b": {"Y": 2}}, {"a": {"Z": 3}}]) == {"a": {"X": 1, "Z": 3}, "b": {"Y": 2}}


def test_binary_scores_are_shares_of_yes(ef):
    rows = _csv_rows(ef["emonet-face-binary"] / "binary.csv")
    src = open_source("emonet-face-binary", ef["emonet-face-binary"])
    recs = list(src.records())
    assert len(recs) == len({r["path"] for r in rows}) == 40 and src.report.skipped == 0
    assert sum(r.meta["n_judgements"] for r in recs) == len(rows)
    r = recs[3]
    mine = [row for row in rows if row["path"] == r.id]
    for emotion, score in r.scores["emonet40"].items():
        votes = [row["value"] == "True" for row in mine if emotion_name(row["emotion"]) == emotion]
        assert score == pytest.approx(sum(votes) / len(votes))
    assert set(r.scores["emonet40"]) <= set(get_taxonomy("emonet40").names)
    for rec in recs:
        label = rec.labels.get("emonet40")
        assert label is None or rec.scores["emonet40"][label] > 0.5
    # images: 4 of every 5 are on disk; records point at them, the rest keep their name
    assert sum(Path(rec.path).is_file() for rec in recs) == 32


def test_binary_require_media_and_bad_rows(ef, tmp_path):
    src = open_source("emonet-face-binary", ef["emonet-face-binary"], require_media=True)
    assert len(list(src.records())) == 32 and src.report.reasons() == {"missing media": 8}

    bad = tmp_path / "binary.csv"
    text = (ef["emonet-face-binary"] / "binary.csv").read_text("utf-8").splitlines()
    text[1] = text[1].rsplit(",", 1)[0] + ",Hunger"          # unknown label, line 2
    text[2] = ",".join(text[2].split(",")[:2] + ["maybe"] + text[2].split(",")[3:])  # bad value, line 3
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    src = open_source("emonet-face-binary", bad)
    assert len(list(src.records())) == 40
    assert src.report.reasons() == {"unknown label": 1, "malformed row": 1}
    assert str(src.report.problems[0]).startswith(f"{bad}:2: unknown label")
    with pytest.raises(BadInputError, match=r"binary\.csv:2: unknown label: 'Hunger'"):
        list(open_source("emonet-face-binary", bad, strict=True).records())


def test_hq_csv_and_hub_layouts_agree(ef):
    csv_src = open_source("emonet-face-hq", ef["emonet-face-hq"])
    hub_src = open_source("emonet-face-hq", ef["emonet-face-hq"] / "hub")
    by_csv, by_hub = list(csv_src.records()), list(hub_src.records())
    assert len(by_csv) == len(by_hub) == 12
    assert csv_src.report.skipped == hub_src.report.skipped == 0
    for a, b in zip(by_csv, by_hub):
        assert a.meta["n_raters"] == b.meta["n_raters"] == 4  # the model-baseline rows are not experts
        assert a.scores == b.scores and a.labels == b.labels
        assert len(a.scores["emonet40"]) == 40 and all(0 <= v <= 7 for v in a.scores["emonet40"].values())
        assert a.labels["emonet40"] == b.meta["prompted_emotion"]
        assert Path(a.path).is_file() and b.payload[:8] == b"\x89PNG\r\n\x1a\n"
        mean = sum(r[a.labels["emonet40"]] for r in a.meta["raters"].values()) / 4
        assert a.scores["emonet40"][a.labels["emonet40"]] == pytest.approx(mean)


def test_hq_out_of_range_rating_is_reported(ef, tmp_path):
    rows = (ef["emonet-face-hq"] / "hq.csv").read_text("utf-8")
    bad = tmp_path / "hq.csv"
    bad.write_text(rows.replace("|Amusement': 7", "|Amusement': 9", 1), encoding="utf-8")
    src = open_source("emonet-face-hq", bad)
    assert len(list(src.records())) == 11
    assert src.report.reasons() == {"malformed value": 1}


def test_big_reads_vlm_annotations(ef):
    src = open_source("emonet-face-big", ef["emonet-face-big"])
    recs = list(src.records())
    assert len(recs) == 16 and src.report.skipped == 0
    names = set(get_taxonomy("emonet40").names)
    for r in recs:
        assert set(r.scores["emonet40"]) <= names  # lower-case keys were mapped
        assert r.labels["emonet40"] == r.meta["prompted_emotion"]
        assert r.payload and r.meta["demographics"]["age"] in (20, 30, 40, 50, 60, 70)
        assert r.id.startswith("big_")


def test_sets_have_one_split(ef):
    src = open_source("emonet-face-big", ef["emonet-face-big"])
    assert list(src.records(split="test")) == []
    assert len(list(src.records(split="train"))) == 16


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no hq.csv"):
        list(open_source("emonet-face-hq", tmp_path).records())


@pytest.mark.shared_data
def test_real_binary_counts(shared_data):
    src = open_source("emonet-face-binary", shared_data / "emonet-face")
    recs = list(src.records())
    assert src.report.skipped == 0
    assert len(recs) == 19_999
    assert sum(r.meta["n_judgements"] for r in recs) == 65_686
    assert {e for r in recs for e in r.scores["emonet40"]} <= set(get_taxonomy("emonet40").names)
    assert Counter(len(r.scores["emonet40"]) for r in recs) == {2: 19_999}  # two emotions judged per image


def test_binary_hub_layout_matches_the_csv(ef, tmp_path):
    """laion/emonet-face-binary's parquet: ``label`` = "[{'human-4': {'Amusement': True}}, …]"."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _csv_rows(ef["emonet-face-binary"] / "binary.csv")
    per_image: dict[str, list] = {}
    for row in rows:
        per_image.setdefault(row["path"], []).append({row["annotator"]: {row["emotion"]: row["value"] == "True"}})
    table = pa.table({
        "path": [{"bytes": b"\x89PNG\r\n\x1a\n fake", "path": f"{p}.png"} for p in per_image],
        "subset": ["binary"] * len(per_image),
        "label": [repr(v) for v in per_image.values()],
    })
    (tmp_path / "data").mkdir()
    pq.write_table(table, tmp_path / "data" / "train-00000-of-00001.parquet")
    hub = {r.id: r for r in open_source("emonet-face-binary", tmp_path).records()}
    csv_recs = {r.id: r for r in open_source("emonet-face-binary", ef["emonet-face-binary"]).records()}
    assert hub.keys() == csv_recs.keys()
    for key, r in csv_recs.items():
        assert hub[key].scores == r.scores and hub[key].labels == r.labels
        assert hub[key].meta["judgements"] == r.meta["judgements"] and hub[key].payload
