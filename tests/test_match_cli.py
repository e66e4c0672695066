"""`emoalign adapter train/evaluate`, `index build/add/remove/info` and `match` on EMID-layout fixtures
(real decodable MP3 clips and JPEG images; offline encoders: xmodal for semantics, music-acoustic /
image-scene for affect)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from emoalign.cli import cli


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from emoalign.data.fixtures.emid import make

    root = tmp_path_factory.mktemp("match")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        emid = make(root / "fx", seed=0)["emid"]
    feats = root / "features"
    model = root / "adapter"
    run("adapter", "train", "--pairs", f"emid:{emid}", "--out", model, "--epochs", "3", "--backend", "xmodal",
        "--features", feats, "--workers", "1", "--fractions", "0.6,0.2,0.2")
    index = root / "index"
    run("index", "build", "--source", f"emid:{emid}", "--out", index, "--adapter", model, "--features", feats, "--workers", "1")
    return {"root": root, "emid": emid, "features": feats, "model": model, "index": index}


def first(folder: Path, pattern: str) -> Path:
    return sorted(folder.rglob(pattern))[0]


def test_train_refuses_an_existing_adapter_without_overwrite(world):
    res = CliRunner().invoke(cli, ["adapter", "train", "--pairs", f"emid:{world['emid']}", "--out", str(world["model"]),
                                   "--epochs", "1", "--backend", "xmodal", "--features", str(world["features"]), "--workers", "1"])
    assert res.exit_code != 0 and "--overwrite" in res.output and "config.json" in res.output


def test_train_writes_model_and_split(world):
    model = world["model"]
    names = {p.name for p in model.iterdir()}
    assert {"config.json", "weights.npz", "history.json", "data.json", "training.png"} <= names
    data = json.loads((model / "data.json").read_text())
    assert data["featurizer"]["backend"] == "xmodal" and data["featurizer"]["standardise"] is True
    assert set(data["featurizer"]["stats"]) == {"music", "image"}
    split = data["split"]["music"]
    assert len(split) == 26 and set(split.values()) == {"train", "val", "test"}
    # slices of one recording stay in one split
    by_rec: dict[str, set] = {}
    for clip, s in split.items():
        by_rec.setdefault(clip.split("___")[0], set()).add(s)
    assert all(len(v) == 1 for v in by_rec.values())


def test_evaluate_side_by_side(world, tmp_path):
    out = tmp_path / "eval"
    res = run("adapter", "evaluate", "--model", world["model"], "--out", out, "--features", world["features"])
    for name in ("semantic", "emotion", "tscore", "adapter (svdpp)"):
        assert name in res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"semantic", "emotion", "tscore", "adapter (svdpp)"} <= set(metrics)
    for m in ("semantic", "emotion", "tscore", "adapter (svdpp)"):
        for d in ("music_to_image", "image_to_music"):
            r = metrics[m][d]
            assert 0 <= r["R@1"] <= r["R@5"] <= r["R@10"] <= 1 and r["mean_rank"] >= 1 and 0 <= r["agreement@10"] <= 1
    assert metrics["_data"]["split"] == "test" and metrics["_data"]["alpha_chosen_on"] == "validation"
    assert (out / "training.png").read_bytes()[:4] == b"\x89PNG"
    assert "| method |" in (out / "report.md").read_text()


def test_match_image_finds_music_with_reasons(world):
    img = first(world["emid"] / "imageData", "*.jpg")
    res = run("match", img, "--index", world["index"], "--top", "5", "--json")
    out = json.loads(res.output)
    assert out["query"]["modality"] == "image" and out["query"]["taxonomy"] == "mikels8"
    hits = out["results"]
    assert len(hits) == 5 and all(h["modality"] == "music" for h in hits)
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    assert all(hits[i]["total"] >= hits[i + 1]["total"] for i in range(4))
    for h in hits:
        assert Path(h["path"]).is_file() and h["taxonomy"] == "emid13"
        assert 0 <= h["emotional"] <= 1 and 0 < h["semantic"] <= 1
        assert h["emotion"] in h["reason"] and out["query"]["emotion"] in h["reason"]
    # a plain-text table too
    text = run("match", img, "--index", world["index"], "--top", "3").output
    assert "image, feels" in text and hits[0]["id"] in text


def test_match_music_finds_images_and_filters_by_emotion(world):
    clip = first(world["emid"] / "musicData", "*.mp3")
    out = json.loads(run("match", clip, "--index", world["index"], "--top", "4", "--emotion", "Fear", "--json").output)
    assert out["query"]["modality"] == "music" and out["filters"]["emotion"] == "fear"
    assert out["results"] and all(h["modality"] == "image" and h["emotion"] == "fear" for h in out["results"])
    # α = 0: purely emotional order; α = 1: purely by the index similarity
    e = json.loads(run("match", clip, "--index", world["index"], "--top", "5", "--alpha", "0", "--json").output)["results"]
    assert all(e[i]["emotional"] >= e[i + 1]["emotional"] for i in range(len(e) - 1))
    s = json.loads(run("match", clip, "--index", world["index"], "--top", "5", "--alpha", "1", "--json").output)["results"]
    assert all(s[i]["similarity"] >= s[i + 1]["similarity"] for i in range(len(s) - 1))


def test_match_bad_inputs(world, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image at all")
    res = run("match", text, "--index", world["index"], ok=False)
    assert res.exit_code != 0 and "not a recognised image or audio file" in res.output
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    res = run("match", broken, "--index", world["index"], ok=False)
    assert res.exit_code != 0 and "cannot decode" in res.output and "broken.jpg" in res.output
    img = first(world["emid"] / "imageData", "*.jpg")
    res = run("match", img, "--index", world["index"], "--emotion", "bliss", ok=False)
    assert res.exit_code != 0 and "unknown emotion 'bliss'" in res.output
    res = run("match", img, "--index", tmp_path, ok=False)
    assert res.exit_code != 0 and "not an emoalign index" in res.output


def test_index_info_add_remove(world, tmp_path):
    import shutil

    index = tmp_path / "copy"
    shutil.copytree(world["index"], index)
    info = json.loads(run("index", "info", "--index", index, "--json").output)
    assert info["items"] == 54 and info["modalities"] == {"music": 26, "image": 28}
    assert info["info"]["adapter"] == "adapter" and info["space"].startswith("emi-adapter/svdpp/xmodal-v1")
    extra = tmp_path / "extra"
    extra.mkdir()
    src = first(world["emid"] / "imageData", "*.jpg")
    shutil.copy(src, extra / "new-photo.jpg")
    res = run("index", "add", "--index", index, "--file", extra / "new-photo.jpg", "--features", world["features"], "--workers", "1")
    assert "'image': 1" in res.output
    info = json.loads(run("index", "info", "--index", index, "--json").output)
    assert info["items"] == 55 and len(info["segments"]) == 2
    res = run("index", "remove", "--index", index, "new-photo.jpg", "nope")
    assert "removed 1 (1 not in the index)" in res.output
    assert json.loads(run("index", "info", "--index", index, "--json").output)["items"] == 54
    assert "segment" in run("index", "info", "--index", index).output


def test_joint_index_without_adapter_and_separate_encoders_refused(world, tmp_path):
    out = tmp_path / "joint"
    res = run("index", "build", "--source", f"emid:{world['emid']}", "--out", out, "--backend", "xmodal",
              "--features", world["features"], "--workers", "1", "--json")
    summary = json.loads(res.output)
    assert summary["space"] == "xmodal-v1" and summary["items"] == {"music": 26, "image": 28}
    clip = first(world["emid"] / "musicData", "*.mp3")
    hits = json.loads(run("match", clip, "--index", out, "--json").output)
    assert hits["score_kind"] == "semantic" and hits["alpha"] == 0.6 and len(hits["results"]) == 10
    res = run("index", "build", "--source", f"emid:{world['emid']}", "--out", tmp_path / "sep",
              "--music-encoder", "music-acoustic", "--image-encoder", "image-scene", "--features", world["features"],
              "--workers", "1", ok=False)
    assert res.exit_code != 0 and "different spaces" in res.output and "--adapter" in res.output


def test_match_emotion_as_the_help_gives_it(world):
    """The help's examples work: `--emotion calm` finds music labelled "calm/relaxing/serene"."""
    img = first(world["emid"] / "imageData", "*.jpg")
    res = run("match", img, "--index", world["index"], "--top", "3", "--emotion", "calm", "--json")
    out = json.loads(res.output)
    assert out["filters"]["emotion"] == "calm/relaxing/serene"
    assert all(h["emotion"] == "calm/relaxing/serene" for h in out["results"])
    clip = first(world["emid"] / "musicData", "*.mp3")
    out = json.loads(run("match", clip, "--index", world["index"], "--top", "3", "--emotion", "awe", "--json").output)
    assert out["filters"]["emotion"] == "awe"


def test_index_build_refuses_an_existing_index_at_once_naming_the_option(world):
    res = run("index", "build", "--source", f"emid:{world['emid']}", "--out", world["index"], ok=False)
    assert res.exit_code == 1
    assert "already holds an index" in res.output and "--overwrite" in res.output and "overwrite=True" not in res.output
