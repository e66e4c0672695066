"""EmotionTalk adapters: annotation CSVs and release tar archives, on fixtures and on the real CSVs."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from emoalign.data import BadInputError, open_source
from emoalign.data.emotiontalk import clean_transcript, normalize_label, official_split, parse_utterance, sentiment_level, unsafe_member_reason
from emoalign.data.fixtures import emotiontalk as fx

LABELS = {"neutral", "happy", "sad", "angry", "surprised", "disgusted", "fearful"}


@pytest.fixture(scope="module")
def et(tmp_path_factory) -> dict[str, Path]:
    return fx.make(tmp_path_factory.mktemp("et"), seed=0)


def _copy_csvs(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.glob("*.csv"):
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def _rewrite(path: Path, edit) -> None:
    rows = list(csv.reader(io.StringIO(path.read_text("utf-8"))))
    edit(rows)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


# -- helpers ------------------------------------------------------------------------------------
def test_utterance_names_split_into_group_dialogue_speaker_index():
    p = parse_utterance("G00009/G00009_42/G00009_42_14/G00009_42_14_024")
    assert (p["recording_group"], p["dialogue"], p["speaker"], p["index"]) == ("G00009", "G00009_42", "14", 24)
    with pytest.raises(ValueError, match="bad utterance name"):
        parse_utterance("hello_world")


def test_official_split_holds_out_groups():
    assert official_split("G00001_02_01_002") == "val"
    assert official_split("G00012_05_13_010") == "val"
    assert official_split("G00015_01_20_001") == "test"
    assert official_split("G00007_01_11_001") == "train"


def test_transcript_cleaning_keeps_words_and_lists_events():
    text, events = clean_transcript("[over/]我敲您[/over]的门，[over]他的演技[over]特别好[Sobbing]。[interrupted]")
    assert text == "我敲您的门，他的演技特别好。"
    assert events == ["sobbing", "interrupted"]
    assert clean_transcript("[over/蓝，你感觉]怎么样")[0] == "蓝，你感觉怎么样"


def test_label_spellings_and_sentiment_levels():
    assert normalize_label("Fear") == "fearful"
    assert normalize_label("6") == "fearful"  # the release scripts' label code
    with pytest.raises(KeyError):
        normalize_label("joyful")
    assert [sentiment_level(x) for x in (-2.0, -1.4, -0.6, 0.4, 1.0, 2.0)] == [
        "strongly negative", "weakly negative", "weakly negative", "neutral", "weakly positive", "strongly positive"]


# -- annotation CSVs ----------------------------------------------------------------------------
def test_csv_records_have_all_labels_splits_and_clean_text(et):
    src = open_source("emotiontalk", et["emotiontalk"])
    recs = list(src.records())
    assert len(recs) == 56 and src.report.skipped == 0
    assert Counter(r.split for r in recs) == {"train": 28, "val": 14, "test": 14}
    for split in ("train", "val", "test"):
        assert {r.labels["emotiontalk7"] for r in recs if r.split == split} == LABELS
    for r in recs:
        assert r.modality == "text" and r.text and "[" not in r.text
        assert {"emotiontalk7/text", "emotiontalk7/audio", "emotiontalk7/video", "emotiontalk_sentiment5"} <= set(r.labels)
        assert r.split == official_split(r.id)
        assert r.group == f"speaker{r.meta['speaker']}"
        assert r.valence == pytest.approx(r.meta["sentiment"] / 2)
        assert r.labels["emotiontalk_sentiment5"] == sentiment_level(r.meta["sentiment"])
    assert any("[" in r.meta["transcript_raw"] for r in recs)  # raw text keeps the markers


def test_csv_split_filter_and_bad_split(et):
    src = open_source("emotiontalk", et["emotiontalk"])
    assert {r.split for r in src.records(split="test")} == {"test"}
    with pytest.raises(ValueError, match="unknown split"):
        src.records(split="dev")


def test_csv_several_modalities_point_at_media(et, tmp_path):
    media = tmp_path / "media"
    src = open_source("emotiontalk", et["emotiontalk"], modality="all", media_root=media)
    recs = list(src.records(split="val"))
    assert Counter(r.modality for r in recs) == {"text": 14, "speech": 14, "video": 14}
    assert len({r.id for r in recs}) == 42
    speech = next(r for r in recs if r.modality == "speech")
    assert speech.path == str(media / speech.meta["audio_file"]) and speech.text

    first = next(iter(open_source("emotiontalk", et["emotiontalk"], modality="speech").records(split="train")))
    wav = media / "Audio" / "wav" / first.meta["audio_file"]
    wav.parent.mkdir(parents=True)
    wav.write_bytes(b"RIFF")
    strict_media = open_source("emotiontalk", et["emotiontalk"], modality="speech", media_root=media, require_media=True)
    got = list(strict_media.records(split="train"))
    assert [r.id for r in got] == [first.id] and got[0].path == str(wav)
    assert strict_media.report.reasons() == {"missing media": 27}


def test_csv_without_splits_uses_group_rule(et, tmp_path):
    root = _copy_csvs(et["emotiontalk"], tmp_path / "mmprocess")
    (root / "splits.csv").unlink()
    recs = list(open_source("emotiontalk", root).records())
    assert len(recs) == 56 and all(r.split == official_split(r.id) for r in recs)
    assert all(r.meta["sentiment"] is None and "emotiontalk_sentiment5" not in r.labels for r in recs)


def test_csv_bad_rows_are_skipped_and_counted_or_raised(et, tmp_path):
    root = _copy_csvs(et["emotiontalk"], tmp_path / "bad")

    def damage(rows):
        rows[2][3] = "not-a-number"   # malformed sentiment, line 3
        rows[5][2] = "joyful"         # unknown label, line 6
        rows.append(["G00002_01_07", "train", "happy", "0.0"])  # malformed name
    _rewrite(root / "splits.csv", damage)
    _rewrite(root / "transcription.csv", lambda rows: rows.pop(10))  # a missing transcript

    src = open_source("emotiontalk", root)
    recs = list(src.records())
    assert len(recs) == 56 - 2 - 1
    assert src.report.reasons() == {"malformed row": 2, "unknown label": 1, "missing transcript": 1}
    assert any(p.where.endswith("splits.csv:6") and "joyful" in p.message for p in src.report.problems)
    assert "skipped" in src.report.summary()

    with pytest.raises(BadInputError, match=r"splits\.csv:3: malformed row"):
        list(open_source("emotiontalk", root, strict=True).records())


def test_csv_needs_its_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="splits.csv nor mm.csv"):
        open_source("emotiontalk", tmp_path)
    with pytest.raises(ValueError, match="require_media needs media_root"):
        (tmp_path / "mm.csv").write_text("file_name,emotion\n")
        (tmp_path / "transcription.csv").write_text("name,emotion,chinese\n")
        open_source("emotiontalk", tmp_path, require_media=True)


# -- release archives ---------------------------------------------------------------------------
def test_release_matches_the_csvs_and_carries_payloads(et):
    from emoalign.media.decode import load_audio, sniff_kind

    csv_recs = {r.id: r for r in open_source("emotiontalk", et["emotiontalk"]).records()}
    src = open_source("emotiontalk-release", et["emotiontalk-release"], modality="all")
    recs = list(src.records())
    assert src.report.skipped == 0 and len(recs) == 3 * len(csv_recs)
    for r in recs:
        base = csv_recs[r.meta["utterance"]]
        assert r.split == base.split and r.group == base.group and r.text == base.text
        assert {k: v for k, v in r.labels.items()} == dict(base.labels)
        assert r.meta["sentiment"] == pytest.approx(base.meta["sentiment"])
        if r.modality == "speech":
            assert load_audio(r.payload).size > 0 and r.meta["member"].startswith("Audio/wav/")
        elif r.modality == "video":
            assert sniff_kind(r.payload[:16]) == "video" and r.meta["member"].startswith("Multimodal/mp4/")
        else:
            assert r.payload is None


def test_release_without_multimodal_falls_back_to_modality_label(et, tmp_path):
    root = tmp_path / "partial"
    root.mkdir()
    for name in ("Audio.tar", "Text.tar"):
        (root / name).write_bytes((et["emotiontalk-release"] / name).read_bytes())
    recs = list(open_source("emotiontalk-release", root, modality="speech", payload=False).records(split="test"))
    assert len(recs) == 14
    assert all(r.meta["label_source"] == "audio" and r.labels["emotiontalk7"] == r.labels["emotiontalk7/audio"] for r in recs)
    assert all(r.payload is None and "member" in r.meta for r in recs)


def _tar_with(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as tf:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def test_release_refuses_members_escaping_the_archive(tmp_path):
    good = json.dumps({"emotion_result": "happy", "content": "好啊", "speaker_id": "01"}).encode()
    sym = tarfile.TarInfo("Text/json/G00001/G00001_01/G00001_01_01/G00001_01_01_003.json")
    sym.type, sym.linkname = tarfile.SYMTYPE, "../../../../../../etc/passwd"
    hard = tarfile.TarInfo("Text/json/G00001/G00001_01/G00001_01_01/G00001_01_01_004.json")
    hard.type, hard.linkname = tarfile.LNKTYPE, "/etc/passwd"
    root = tmp_path / "release"
    root.mkdir()
    _tar_with(root / "Text.tar", [
        ("Text/json/G00001/G00001_01/G00001_01_01/G00001_01_01_001.json", good),
        ("../G00001_01_01_002.json", good),
        ("/tmp/G00001_01_01_005.json", good),
        sym, hard,
    ])
    src = open_source("emotiontalk-release", root)
    recs = list(src.records())
    assert [r.id for r in recs] == ["G00001_01_01_001"] and recs[0].text == "好啊"
    assert src.report.reasons() == {"unsafe tar member": 4}
    messages = " | ".join(str(p) for p in src.report.problems)
    assert "'..'" in messages and "absolute path" in messages and "outside the archive" in messages
    assert "Text.tar!../G00001_01_01_002.json" in messages
    assert not (tmp_path / "G00001_01_01_002.json").exists()

    with pytest.raises(BadInputError, match="unsafe tar member"):
        list(open_source("emotiontalk-release", root, strict=True).records())


def test_unsafe_member_reason_allows_links_inside():
    inside = tarfile.TarInfo("Audio/wav/a/b.wav")
    inside.type, inside.linkname = tarfile.SYMTYPE, "../c.wav"
    assert unsafe_member_reason(inside) is None
    dev = tarfile.TarInfo("Audio/dev")
    dev.type = tarfile.CHRTYPE
    assert unsafe_member_reason(dev) == "device or fifo member"


def test_release_bad_json_unknown_label_and_missing_media(tmp_path):
    root = tmp_path / "release"
    root.mkdir()
    _tar_with(root / "Multimodal.tar", [
        ("Multimodal/json/G00002/G00002_01/G00002_01_07/G00002_01_07_001.json", b"{not json"),
        ("Multimodal/json/G00002/G00002_01/G00002_01_07/G00002_01_07_002.json", json.dumps({"emotion_result": "joyful"}).encode()),
        ("Multimodal/json/G00002/G00002_01/G00002_01_07/G00002_01_07_003.json",
         json.dumps({"data": [{"emotion_result": "sad"}, {"emotion_result": "sad"}, {"emotion_result": "angry"}],
                     "Continuous label_result": -1.2}).encode()),
    ])
    src = open_source("emotiontalk-release", root, modality="video")
    assert list(src.records()) == []
    assert src.report.reasons() == {"malformed annotation": 1, "unknown label": 1, "missing media": 1}
    assert any("G00002_01_07_001.json" in p.where for p in src.report.problems)


# -- real data ----------------------------------------------------------------------------------
@pytest.mark.shared_data
def test_real_emotiontalk_official_split_sizes(shared_data):
    src = open_source("emotiontalk", shared_data / "emotiontalk")
    recs = list(src.records())
    assert src.report.skipped == 0
    assert Counter(r.split for r in recs) == {"train": 15413, "val": 1908, "test": 1929}
    # the README's per-label counts of the test split (Test(G03/G15))
    test = Counter(r.labels["emotiontalk7"] for r in recs if r.split == "test")
    assert test == {"angry": 339, "disgusted": 134, "fearful": 125, "happy": 246, "neutral": 801, "sad": 123, "surprised": 161}
    train = Counter(r.labels["emotiontalk7"] for r in recs if r.split == "train")
    assert train == {"angry": 2950, "disgusted": 1142, "fearful": 672, "happy": 2986, "neutral": 5377, "sad": 919, "surprised": 1367}
    assert all(r.split == official_split(r.id) for r in recs)
    assert len({r.group for r in recs}) == 19  # 19 speakers
    assert not any("[" in r.text or "]" in r.text for r in recs)
    train_speakers = {r.group for r in recs if r.split == "train"}
    assert not train_speakers & {r.group for r in recs if r.split != "train"}


def test_release_link_to_a_missing_member_is_reported(tmp_path):
    link = tarfile.TarInfo("Text/json/G00001/G00001_01/G00001_01_01/G00001_01_01_001.json")
    link.type, link.linkname = tarfile.SYMTYPE, "elsewhere.json"
    root = tmp_path / "release"
    root.mkdir()
    _tar_with(root / "Text.tar", [link])
    src = open_source("emotiontalk-release", root)
    assert list(src.records()) == []
    assert src.report.reasons() == {"unreadable member": 1}
