"""Speaker-adapted speech through ``emoalign analyze --speaker-norm none|folder|csv`` and ``--speakers``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("opensmile")

from click.testing import CliRunner  # noqa: E402

from emoalign.cli import cli  # noqa: E402
from emoalign.data.speakers import read_speakers_csv, speaker_ids  # noqa: E402
from emoalign.encode.registry import get_encoder  # noqa: E402
from emoalign.errors import BadInputError  # noqa: E402
from emoalign.media.synth import synth_clip, write_clip  # noqa: E402


@pytest.fixture(scope="module")
def enc():
    return get_encoder("speech-egemaps")


@pytest.fixture(scope="module")
def clips(enc, tmp_path_factory) -> dict[str, list[Path]]:
    """Two speakers with enough clips each for normalisation, in their own folders, and a lone clip."""
    root = tmp_path_factory.mktemp("speakers")
    n = enc.min_speaker_clips + 1
    rng = np.random.default_rng(0)
    out: dict[str, list[Path]] = {}
    for speaker, pitch_shift in (("alice", 0.0), ("bob", 0.5)):
        out[speaker] = [write_clip(root / speaker / f"{speaker}_{i:02d}.wav",
                                   synth_clip(*rng.uniform(-1, 1, 2), seconds=0.75, seed=i + int(pitch_shift * 100)))
                        for i in range(n)]
    out["lone"] = [write_clip(root / "carol" / "carol_00.wav", synth_clip(0.5, 0.5, seconds=0.75, seed=99))]
    return out


def _rows(*args: str) -> list[dict]:
    res = CliRunner().invoke(cli, ["analyze", "--modality", "speech", "--json", *args])
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


def _csv(path: Path, pairs) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "speaker"])
        w.writerows(pairs)
    return path


def test_none_folder_and_csv(clips, tmp_path):
    files = [str(p) for p in clips["alice"] + clips["bob"]]
    plain = _rows(*files)
    assert all(r["details"]["speaker_norm"] == "none" and "speaker" not in r["details"] for r in plain)
    assert _rows("--speaker-norm", "none", *files) == plain  # the default, said out loud

    by_folder = _rows("--speaker-norm", "folder", *files)
    n = len(clips["alice"])
    assert [r["details"]["speaker"] for r in by_folder] == [str(clips["alice"][0].parent.resolve())] * n + \
        [str(clips["bob"][0].parent.resolve())] * n
    assert all(r["details"]["speaker_norm"] == "applied" and r["details"]["speaker_clips"] == n for r in by_folder)
    assert any(a["probs"] != pytest.approx(b["probs"], abs=1e-6) for a, b in zip(plain, by_folder))

    # the same grouping from a CSV gives the same results; relative paths are read from the CSV's folder
    table = _csv(clips["alice"][0].parent.parent / "speakers.csv",
                 [(str(Path(p).relative_to(clips["alice"][0].parent.parent)), Path(p).parent.name) for p in files])
    by_csv = _rows("--speakers", str(table), *files)
    assert [r["details"]["speaker"] for r in by_csv] == ["alice"] * n + ["bob"] * n
    for a, b in zip(by_folder, by_csv):
        assert a["probs"] == pytest.approx(b["probs"], abs=1e-9)


def test_explicit_csv_overrides_folders(clips, tmp_path):
    """A folder that mixes speakers is one speaker to ``folder`` mode; a CSV that says otherwise wins."""
    files = [str(p) for p in clips["alice"] + clips["bob"]]
    half = len(files) // 2
    # pretend the first clips of both folders are "dora": listed files take the CSV's speaker
    listed = files[:2] + files[half:half + 2]
    table = _csv(tmp_path / "spk.csv", [(p, "dora") for p in listed])
    rows = _rows("--speaker-norm", "folder", "--speakers", str(table), *files)
    speakers = [r["details"]["speaker"] for r in rows]
    assert [s for f, s in zip(files, speakers) if f in listed] == ["dora"] * 4
    assert all(s.endswith(("alice", "bob")) for f, s in zip(files, speakers) if f not in listed)
    # in csv mode, a file the CSV does not list is an error that names the CSV and the file
    res = CliRunner().invoke(cli, ["analyze", "--modality", "speech", "--speakers", str(table), *files])
    assert res.exit_code != 0 and str(table) in res.output and "no speaker for" in res.output and files[2] in res.output


def test_single_clip_speaker_falls_back_to_the_per_clip_head(clips):
    lone = str(clips["lone"][0])
    plain = _rows(lone)[0]
    row = _rows("--speaker-norm", "folder", lone, *map(str, clips["alice"]))[0]
    details = row["details"]
    assert details["speaker_norm"] == "fallback" and details["speaker_clips"] == 1
    assert "1 decoded clip" in details["speaker_norm_reason"] and "per-clip head" in details["speaker_norm_reason"]
    assert row["probs"] == pytest.approx(plain["probs"], abs=1e-9)


def test_speakers_csv_errors(tmp_path, clips):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,who\na.wav,x\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["analyze", "--modality", "speech", "--speakers", str(bad), str(clips["lone"][0])])
    assert res.exit_code != 0 and str(bad) in res.output and "missing columns 'path', 'speaker'" in res.output
    with pytest.raises(BadInputError, match="two speakers"):
        read_speakers_csv(_csv(tmp_path / "twice.csv", [("a.wav", "x"), ("a.wav", "y")]))
    with pytest.raises(ValueError, match="needs a speakers CSV"):
        speaker_ids(["a.wav"], "csv")
    res = CliRunner().invoke(cli, ["analyze", "--speaker-norm", "bogus", "x.wav"])
    assert res.exit_code == 2


def test_train_and_evaluate_with_speaker_norm(fixture_paths, tmp_path):
    from emoalign.learn.train import TrainConfig, evaluate_head, load_model, train_head

    runner = CliRunner()
    res = runner.invoke(cli, ["train", "--source", f"ravdess:{fixture_paths['ravdess']}",
                              "--encoder", "speech-egemaps", "--target", "ravdess8", "--train-split", "actors:1-3",
                              "--features", str(tmp_path / "f"), "--out", str(tmp_path / "m"), "--C", "0.01",
                              "--speaker-norm", "group"])
    assert res.exit_code == 0, res.output
    head, info = load_model(tmp_path / "m")
    assert info["speaker_norm"] == "group" and info["speakers_in_training"] == 3
    assert len(info["pooled_scale"]) == head.coef_.shape[1]
    rep = evaluate_head(tmp_path / "m", "ravdess", str(fixture_paths["ravdess"]), split="actors:4", out=tmp_path / "r")
    assert rep["n"] == 15 and rep["context"]["speaker norm"] == "group"
    # the actor folders are the actors: the same grouping, the same report
    rep_folder = evaluate_head(tmp_path / "m", "ravdess", str(fixture_paths["ravdess"]), split="actors:4",
                               out=tmp_path / "r2", speaker_norm="folder")
    assert rep_folder["accuracy"] == rep["accuracy"]
    res = runner.invoke(cli, ["evaluate", "--model", str(tmp_path / "m"), "--source", f"ravdess:{fixture_paths['ravdess']}",
                              "--split", "actors:4", "--out", str(tmp_path / "r3"),
                              "--speaker-norm", "none"])
    assert res.exit_code != 0 and "trained with speaker norm 'group'" in res.output
    with pytest.raises(ValueError, match="speaker norm must be one of"):
        train_head(TrainConfig("ravdess", str(fixture_paths["ravdess"]), "speech-egemaps", "ravdess8",
                               features=str(tmp_path / "f"), out=str(tmp_path / "m2"), speaker_norm="actor"))


def test_python_api_takes_the_same_options(clips):
    import emoalign

    files = [str(p) for p in clips["alice"]] + [str(clips["lone"][0])]
    cli_rows = _rows("--speaker-norm", "folder", *files)
    api_rows = emoalign.analyze(files, modality="speech", speaker_norm="folder")
    assert [r.details["speaker_norm"] for r in api_rows] == ["applied"] * len(clips["alice"]) + ["fallback"]
    for c, a in zip(cli_rows, api_rows):
        assert a.affect.probs == pytest.approx(c["probs"], abs=1e-9)
    # in-memory clips: explicit speaker ids; grouping by folder needs paths
    data = [Path(f).read_bytes() for f in files]
    by_ids = emoalign.analyze(data, modality="speech", speaker_ids=["alice"] * len(clips["alice"]) + [None])
    assert [r.details["speaker_norm"] for r in by_ids] == ["applied"] * len(clips["alice"]) + ["none"]
    for c, a in zip(cli_rows, by_ids):
        assert a.affect.probs == pytest.approx(c["probs"], abs=1e-9)
    with pytest.raises(emoalign.BadInputError, match="needs file paths"):
        emoalign.analyze(data, modality="speech", speaker_norm="folder")
