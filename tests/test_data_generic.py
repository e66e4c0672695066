"""Generic sources: folder-per-label and CSV, with content-sniffed modality and path checks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from emoalign.data import BadInputError, open_source
from emoalign.data.fixtures import generic as fx
from emoalign.media.synth import clip_bytes, image_bytes, synth_clip, synth_image


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> dict[str, Path]:
    return fx.make(tmp_path_factory.mktemp("gen"), seed=0)


def _wav() -> bytes:
    return clip_bytes(synth_clip(0.5, 0.5, seconds=0.2))


def _png() -> bytes:
    return image_bytes(synth_image(0.5, 0.5, size=16))


# -- folder -------------------------------------------------------------------------------------
def test_folder_sniffs_modality_from_content(gen):
    src = open_source("folder", gen["folder"])
    recs = list(src.records())
    assert src.report.skipped == 0
    assert Counter(r.modality for r in recs) == {"audio": 4, "image": 4, "text": 4}
    assert {r.labels["user"] for r in recs} == {"happy", "sad", "angry", "calm"}
    text = next(r for r in recs if r.modality == "text" and r.labels["user"] == "happy")
    assert text.text == fx.TEXTS["happy"][0] and text.path is None
    assert len({r.id for r in recs}) == len(recs)


def test_folder_trusts_content_not_extension(tmp_path):
    (tmp_path / "joy").mkdir()
    (tmp_path / "joy" / "looks_like_audio.wav").write_bytes(_png())
    (tmp_path / "joy" / "noise.wav").write_bytes(b"\x00\x01garbage" * 10)
    (tmp_path / "stray.txt").write_text("not in a label folder")
    src = open_source("folder", tmp_path)
    recs = list(src.records())
    assert [(r.id, r.modality) for r in recs] == [("joy/looks_like_audio.wav", "image")]
    assert src.report.reasons() == {"not in a label folder": 1, "unknown file type": 1}
    with pytest.raises(BadInputError, match="stray.txt: not in a label folder"):
        list(open_source("folder", tmp_path, strict=True).records())


def test_folder_fixed_modality_taxonomy_and_verify(tmp_path):
    for label in ("HAPPY", "sad", "hungry"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "a.wav").write_bytes(_wav())
    (tmp_path / "sad" / "b.png").write_bytes(_png())
    (tmp_path / "sad" / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 4)  # WAV magic, no audio
    src = open_source("folder", tmp_path, modality="music", taxonomy="ravdess8", verify=True)
    recs = list(src.records())
    assert sorted((r.labels["ravdess8"], r.modality) for r in recs) == [("happy", "music"), ("sad", "music")]
    assert src.report.reasons() == {"unknown label": 1, "wrong file type": 1, "undecodable media": 1}
    with pytest.raises(ValueError, match="unknown modality"):
        open_source("folder", tmp_path, modality="smell")
    with pytest.raises(KeyError):
        open_source("folder", tmp_path, taxonomy="nope")


def test_folder_split_layout(tmp_path):
    for split, label in (("train", "a"), ("val", "a"), ("test", "b")):
        (tmp_path / split / label).mkdir(parents=True)
        (tmp_path / split / label / "x.png").write_bytes(_png())
    src = open_source("folder", tmp_path)
    assert Counter(r.split for r in src.records()) == {"train": 1, "val": 1, "test": 1}
    assert [r.labels["user"] for r in open_source("folder", tmp_path).records(split="test")] == ["b"]


# -- CSV ----------------------------------------------------------------------------------------
def test_csv_rows_with_media_and_text(gen):
    src = open_source("csv", gen["csv"])
    recs = list(src.records())
    assert src.report.skipped == 0 and src.taxonomy == "ravdess8"
    assert Counter(r.modality for r in recs) == {"audio": 4, "image": 4, "text": 8}
    assert any(r.text and "开心" in r.text for r in recs) and any(r.text and "wonderful" in r.text for r in recs)
    audio = next(r for r in recs if r.modality == "audio")
    assert Path(audio.path).is_file() and audio.group == "speaker0" and -1 <= audio.valence <= 1
    assert Counter(r.split for r in recs) == {"train": 8, "val": 4, "test": 4}
    assert {r.labels["ravdess8"] for r in src.records(split="val")} == {"angry"}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_csv_paths_may_not_leave_the_csv_folder(tmp_path):
    base = tmp_path / "data"
    (base / "m").mkdir(parents=True)
    (base / "m" / "ok.wav").write_bytes(_wav())
    (tmp_path / "secret.wav").write_bytes(_wav())
    csv_path = _write(base / "labels.csv", [
        "path,label", "m/ok.wav,happy", "../secret.wav,sad", "/etc/passwd,sad", "m/missing.wav,sad",
    ])
    src = open_source("csv", csv_path)
    recs = list(src.records())
    assert [r.id for r in recs] == ["m/ok.wav"] and recs[0].labels == {"user": "happy"}
    assert src.report.reasons() == {"path escapes the CSV folder": 2, "missing media": 1}
    assert any(p.where == f"{csv_path}:3" for p in src.report.problems)
    with pytest.raises(BadInputError, match=r"labels\.csv:3: path escapes"):
        list(open_source("csv", csv_path, strict=True).records())


def test_csv_labels_values_and_scales(tmp_path):
    csv_path = _write(tmp_path / "t.csv", [
        "text,label,valence,arousal,taxonomy",
        "great,HAPPY,8,5,ravdess8",
        "meh,bored,5,5,ravdess8",
        "bad,sad,12,1,ravdess8",
        "x,sad,abc,1,ravdess8",
        ",sad,1,1,ravdess8",
    ])
    src = open_source("csv", csv_path, va_range=(1, 9))
    recs = list(src.records())
    assert len(recs) == 1 and recs[0].labels == {"ravdess8": "happy"}
    assert recs[0].valence == pytest.approx(0.75) and recs[0].arousal == pytest.approx(0.0)
    assert src.report.reasons() == {"unknown label": 1, "malformed row": 3}


def test_csv_needs_label_and_content_columns(tmp_path):
    csv_path = _write(tmp_path / "t.csv", ["foo,bar", "1,2"])
    src = open_source("csv", csv_path)
    assert list(src.records()) == []
    assert src.report.reasons() == {"malformed file": 1}
