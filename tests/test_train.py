"""`emoalign train` / `evaluate` end to end on fixtures: single-label, multi-label (EmoNet-Face
binary, 40 heads on an image embedding) and intensity (EmoNet-Face hq, kappa per rater)."""

import json

import pytest
from click.testing import CliRunner

from emoalign.cli import cli
from emoalign.data.fixtures import make_all
from emoalign.learn.train import TrainConfig, evaluate_head, hash_split, train_head


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    return make_all(tmp_path_factory.mktemp("fixtures"))


def test_emonet_binary_forty_heads_on_image_embedding_via_cli(fixtures, tmp_path):
    runner = CliRunner()
    args = ["train", "--source", f"emonet-face-binary:{fixtures['emonet-face-binary']}",
            "--encoder", "image-scene", "--target", "emonet40", "--holdout", "0.3",
            "--features", str(tmp_path / "feats"), "--out", str(tmp_path / "model"), "--workers", "1"]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    info = json.loads((tmp_path / "model" / "model.json").read_text())
    assert info["task"] == "multilabel" and len(info["labels"]) == 40 and info["holdout_ids"]
    res = runner.invoke(cli, ["evaluate", "--model", str(tmp_path / "model"), "--source", f"emonet-face-binary:{fixtures['emonet-face-binary']}",
                              "--split", "holdout", "--out", str(tmp_path / "report"), "--json", "--workers", "1"])
    assert res.exit_code == 0, res.output
    metrics = json.loads(res.stdout.strip().splitlines()[-1])
    assert 0 < metrics["n"] <= len(info["holdout_ids"])  # items whose image fails to decode are skipped
    assert 0.0 <= metrics["mean_auc"] <= 1.0
    assert (tmp_path / "report" / "per_label.png").stat().st_size > 5000
    assert "| Amusement |" in (tmp_path / "report" / "report.md").read_text()


def test_emonet_hq_intensity_is_scored_with_kappa_per_rater(fixtures, tmp_path):
    model = train_head(TrainConfig("emonet-face-hq", str(fixtures["emonet-face-hq"]), "image-scene", "emonet40",
                                   train_split=None, features=str(tmp_path / "f"), out=str(tmp_path / "m"),
                                   progress=False, workers=1))
    rep = evaluate_head(model, "emonet-face-hq", str(fixtures["emonet-face-hq"]), split=None, out=tmp_path / "r",
                        progress=False, workers=1)
    raters = [k for k in rep["metrics"] if k.startswith("qwk_vs_")]
    assert len(raters) >= 4  # four experts per image in hq
    assert -1.0 <= rep["metrics"]["qwk_mean"] <= 1.0


def test_single_label_speech_head_report_has_confusion_matrix(fixtures, tmp_path):
    model = train_head(TrainConfig("ravdess", str(fixtures["ravdess"]), "speech-egemaps", "ravdess8",
                                   train_split=None, holdout=0.3, features=str(tmp_path / "f"), out=str(tmp_path / "m"),
                                   progress=False, workers=1))
    rep = evaluate_head(model, "ravdess", str(fixtures["ravdess"]), split="holdout", out=tmp_path / "r",
                        progress=False, workers=1)
    assert rep["n"] > 0 and 0 <= rep["weighted_f1"] <= 1
    assert sum(map(sum, rep["confusion"])) == rep["n"]
    assert (tmp_path / "r" / "confusion.png").exists() and (tmp_path / "r" / "metrics.json").exists()


def test_an_existing_model_is_replaced_only_with_overwrite(fixtures, tmp_path):
    args = ["train", "--source", f"ravdess:{fixtures['ravdess']}", "--encoder", "speech-egemaps", "--target", "ravdess8",
            "--train-split", "all", "--features", str(tmp_path / "f"), "--out", str(tmp_path / "m"), "--workers", "1", "--no-progress"]
    runner = CliRunner()
    assert runner.invoke(cli, args).exit_code == 0
    first = (tmp_path / "m" / "model.json").read_bytes()
    again = runner.invoke(cli, args)
    assert again.exit_code != 0 and "--overwrite" in again.output and "model.json" in again.output
    assert (tmp_path / "m" / "model.json").read_bytes() == first  # refused before touching anything
    assert runner.invoke(cli, [*args, "--overwrite"]).exit_code == 0


def test_errors_are_clear(fixtures, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["evaluate", "--model", str(tmp_path), "--source", f"ravdess:{fixtures['ravdess']}",
                              "--out", str(tmp_path / "r")])
    assert res.exit_code != 0 and "not a model folder" in res.output
    res = runner.invoke(cli, ["train", "--source", f"emonet-face-binary:{fixtures['emonet-face-binary']}",
                              "--encoder", "image-scene", "--target", "emonet40", "--train-split", "val",
                              "--features", str(tmp_path / "f"), "--out", str(tmp_path / "m")])
    assert res.exit_code != 0 and "no records in split 'val'" in res.output


def test_hash_split_keeps_groups_together():
    from emoalign.types import Record

    rs = [Record(id=f"{g}-{i}", modality="text", source="x", text="t", group=f"spk{g}") for g in range(30) for i in range(5)]
    kept, held = hash_split(rs, 0.25, seed=1)
    assert {r.group for r in kept}.isdisjoint({r.group for r in held})
    assert kept and held
