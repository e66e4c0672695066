"""The Python API as a user would call it: `import emoalign` and the five main jobs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import emoalign
from emoalign.media.synth import clip_bytes, synth_clip, synth_image, write_clip


def test_inputs_are_explicit(tmp_path):
    y = synth_clip(0.6, 0.6, seconds=2.0)
    wav = write_clip(tmp_path / "song.wav", y)
    results = emoalign.analyze([
        wav,                                  # a path
        clip_bytes(y),                        # a file's bytes
        emoalign.Audio(y, sr=16000),          # a waveform with its rate
        emoalign.Image(synth_image(0.5, 0.5)),
        emoalign.Text("我今天特别开心"),
        "I am not a file",                    # a str is always a path, never text
    ], modality="auto")
    assert [r.ok for r in results] == [True, True, True, True, True, False]
    assert results[0].affect.probs == pytest.approx(results[1].affect.probs, abs=1e-6)  # same content, same answer
    assert results[0].valence == pytest.approx(results[2].valence, abs=1e-4)  # WAV written in memory, lossless
    assert results[3].modality == "image" and results[4].modality == "text"
    assert "I am not a file" in results[5].error and "no such file" in results[5].error
    assert all(-1 <= r.valence <= 1 for r in results[:5])


def test_one_input_gives_one_result_and_rows_match_the_cli_fields():
    r = emoalign.analyze(emoalign.Text("What a wonderful day!"))
    assert isinstance(r, emoalign.Analysis) and r.ok and r.label in r.affect.probs
    row = r.to_dict()
    assert {"input", "modality", "encoder", "taxonomy", "label", "confidence", "probs", "valence", "arousal", "error", "details"} <= set(row)
    json.dumps(row)  # plain JSON


def test_bad_inputs_raise_the_library_error():
    with pytest.raises(emoalign.EmoalignError, match="sampling rate"):
        emoalign.Audio(np.zeros(10), sr=0)
    with pytest.raises(emoalign.EmoalignError, match="shape"):
        emoalign.Image(np.zeros((4, 4, 2)))
    with pytest.raises(emoalign.EmoalignError, match="emoalign.Text"):
        emoalign.analyze(12345)


def test_load_source_by_name_or_by_string(fixture_paths):
    root = fixture_paths["emotiontalk"]
    by_name = emoalign.load_source("emotiontalk", root, modality="text")
    by_string = emoalign.load_source(f"emotiontalk:{root}?modality=text")
    ids = [r.id for r in by_name.records("test")]
    assert ids and ids == [r.id for r in by_string.records("test")]
    with pytest.raises(emoalign.EmoalignError, match="records"):
        emoalign.load_source(f"emotiontalk:{root}?split=test")


def test_to_dataset_has_an_explicit_schema(fixture_paths):
    import datasets

    ds = emoalign.load_source("ravdess", fixture_paths["ravdess"]).to_dataset()
    assert isinstance(ds, datasets.Dataset) and len(ds) > 0
    label = ds.features["label_ravdess8"]
    assert isinstance(label, datasets.ClassLabel) and "fearful" in label.names
    row = ds[0]
    assert row["modality"] == "speech" and 0 <= row["label_ravdess8"] < len(label.names)


def test_get_encoder_is_the_configured_model():
    enc = emoalign.get_encoder("music-acoustic")
    assert enc is emoalign.get_encoder("music-acoustic")
    assert enc.encode([clip_bytes(synth_clip(0.2, 0.2, seconds=2.0))])[0].ok


def test_pairs_matching_and_index_end_to_end(tmp_path):
    from emoalign.data.fixtures.emid import make

    emid = make(tmp_path / "emid", seed=0)["emid"]
    summary = emoalign.build_pairs(f"emid:{emid}", f"emid:{emid}", tmp_path / "pairs", semantic="xmodal",
                                   top_k=6, keep=2, workers=1, progress=False)
    pairs = list(emoalign.load_source("pairs", tmp_path / "pairs").pairs())
    assert len(pairs) == summary["counts"]["pairs"] > 0
    matching = emoalign.build_matching(f"pairs:{tmp_path / 'pairs'}", tmp_path / "matching", hf=False, seed=1)
    assert matching["counts"]["clips_in_both_splits"] == 0
    index = emoalign.Index.build(f"emid:{emid}", tmp_path / "index", backend="xmodal", workers=1)
    assert len(index) > 0
    hits = index.match(emoalign.Image(synth_image(0.7, 0.6)), top=3).hits
    assert len(hits) == 3 and all(h.reason for h in hits)
