"""Training on your own pictures: a ratings CSV (path, valence, arousal) and a folder per label, through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("onnxruntime")
pytest.importorskip("efficientnet_lite_pytorch")

from emoalign.cli import cli  # noqa: E402
from emoalign.data import open_source  # noqa: E402
from emoalign.media.synth import synth_image, write_image  # noqa: E402


@pytest.fixture(scope="module")
def rated_pictures(tmp_path_factory):
    """48 generated pictures whose brightness follows valence and saturation arousal, with a ratings CSV."""
    root = tmp_path_factory.mktemp("rated")
    rng = np.random.default_rng(3)
    lines = ["path,valence,arousal,group"]
    for i in range(48):
        v, a = rng.uniform(-0.9, 0.9, size=2)
        write_image(root / "pics" / f"p{i:02d}.png", synth_image(float(v), float(a), size=96, seed=i))
        lines.append(f"pics/p{i:02d}.png,{v:.3f},{a:.3f},g{i // 2}")
    (root / "ratings.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("EMOALIGN_CACHE", str(tmp_path_factory.getbasetemp() / "emoalign-cache"))


def test_ratings_csv_needs_no_label_column(rated_pictures):
    records = list(open_source("csv", rated_pictures / "ratings.csv").records())
    assert len(records) == 48
    assert all(r.labels == {} and -1 <= r.valence <= 1 and -1 <= r.arousal <= 1 for r in records)


def test_ratings_on_another_scale_are_mapped_with_va_range(tmp_path):
    write_image(tmp_path / "a.png", synth_image(0.1, 0.1, size=32))
    (tmp_path / "r.csv").write_text("path,valence,arousal\na.png,7,1\n", encoding="utf-8")
    rec = next(iter(open_source("csv", tmp_path / "r.csv", va_range="1,9").records()))
    assert rec.valence == pytest.approx(0.5) and rec.arousal == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="va_range"):
        open_source("csv", tmp_path / "r.csv", va_range="low,high")


def test_train_and_evaluate_a_valence_arousal_head_on_rated_pictures(rated_pictures, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["train", "--source", f"csv:{rated_pictures / 'ratings.csv'}",
                              "--encoder", "image-affect", "--target", "va", "--train-split", "all", "--holdout", "0.3",
                              "--features", str(tmp_path / "f"), "--out", str(tmp_path / "m"), "--workers", "1"])
    assert res.exit_code == 0, res.output
    info = json.loads((tmp_path / "m" / "model.json").read_text())
    assert info["task"] == "regression" and info["space"] == "efficientnet-lite0-imagenet"
    assert info["alpha"] in (1.0, 10.0, 100.0, 1000.0, 10000.0)
    res = runner.invoke(cli, ["evaluate", "--model", str(tmp_path / "m"), "--source", f"csv:{rated_pictures / 'ratings.csv'}",
                              "--split", "holdout", "--out", str(tmp_path / "r"), "--json"])
    assert res.exit_code == 0, res.output
    metrics = json.loads(res.output[res.output.index("{"):])
    assert metrics["n"] >= 8
    # brightness carries valence in these pictures: the head trained on 2/3 of them finds it in the rest
    assert metrics["valence_pearson"] > 0.5
    assert 0 <= metrics["valence_mae"] < 1
    # the trained folder is the picture head of `emoalign analyze --backend "image-affect?head=..."`
    picture = rated_pictures / "pics" / "p00.png"
    res = runner.invoke(cli, ["analyze", "--modality", "image", "--backend", f"image-affect?head={tmp_path / 'm'}", "--json", str(picture)])
    assert res.exit_code == 0, res.output
    row = json.loads([line for line in res.output.splitlines() if line.startswith("{")][0])
    from emoalign.encode.heads import LinearRegressorHead
    from emoalign.encode.registry import get_encoder

    vector = get_encoder("image-affect").encode([picture])[0].vector
    expected = np.clip(LinearRegressorHead.load(tmp_path / "m" / "head.npz").predict(vector[None])[0], -1, 1)
    assert row["valence"] == pytest.approx(expected[0], abs=1e-4) and row["arousal"] == pytest.approx(expected[1], abs=1e-4)


def test_train_a_label_head_on_a_folder_of_pictures(tmp_path):
    root = tmp_path / "mine"
    for i in range(10):
        write_image(root / "contentment" / f"c{i}.png", synth_image(0.8, -0.2, size=96, seed=i))
        write_image(root / "sadness" / f"s{i}.png", synth_image(-0.8, -0.6, size=96, seed=100 + i))
    runner = CliRunner()
    res = runner.invoke(cli, ["train", "--source", f"folder:{root}", "--encoder", "image-affect",
                              "--target", "user", "--train-split", "all", "--holdout", "0.4",
                              "--features", str(tmp_path / "f"), "--out", str(tmp_path / "m"), "--workers", "1"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["evaluate", "--model", str(tmp_path / "m"), "--source", f"folder:{root}",
                              "--split", "holdout", "--out", str(tmp_path / "r"), "--json"])
    assert res.exit_code == 0, res.output
    metrics = json.loads(res.output[res.output.index("{"):])
    assert metrics["accuracy"] >= 0.75


def test_a_label_model_is_refused_as_a_picture_head(tmp_path):
    from emoalign.encode.image_affect import load_picture_head

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.json").write_text(json.dumps({"task": "single", "space": "efficientnet-lite0-imagenet"}))
    with pytest.raises(ValueError, match="not a valence/arousal model"):
        load_picture_head(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="without model.json"):
        load_picture_head(tmp_path)


def test_regression_without_ratings_is_a_clear_error(tmp_path):
    root = tmp_path / "labelled"
    for i in range(3):
        write_image(root / "awe" / f"a{i}.png", synth_image(0.5, 0.5, size=64, seed=i))
    res = CliRunner().invoke(cli, ["train", "--source", f"folder:{root}", "--encoder", "image-affect",
                                   "--target", "va", "--train-split", "all", "--features", str(tmp_path / "f"),
                                   "--out", str(tmp_path / "m"), "--workers", "1"])
    assert res.exit_code != 0
    assert "has both valence and arousal" in res.output
