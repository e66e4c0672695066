"""``emoalign features extract|info|quarantine|compact`` on a RAVDESS-style folder."""

from __future__ import annotations

import json

from click.testing import CliRunner

import test_store_helpers as helpers
from emoalign.cli import cli
from emoalign.media.synth import synth_clip, write_clip
from emoalign.store import FeatureTable


def make_ravdess(folder):
    for actor in (1, 2):
        for emotion in (3, 4, 5):
            clip = synth_clip(0.2 * emotion - 0.6, 0.1 * actor, seconds=0.25, seed=emotion * 10 + actor)
            write_clip(folder / f"03-01-0{emotion}-01-01-01-0{actor}.wav", clip)
    (folder / "03-01-06-01-01-01-03.wav").write_bytes(b"RIFF broken")


def test_extract_then_info_and_quarantine(tmp_path):
    helpers.register()
    make_ravdess(tmp_path / "rav")
    out = tmp_path / "feats"
    args = ["features", "extract", "--source", f"ravdess:{tmp_path / 'rav'}", "--encoder", helpers.NAME,
            "--out", str(out), "--workers", "1", "--batch-size", "2", "--no-progress"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output  # an input failed: the others are stored and reported all the same
    assert "7 items: 6 computed, 0 reused, 1 failed" in res.output
    assert "03-01-06-01-01-01-03" in res.output  # the failure is named

    res = CliRunner().invoke(cli, args + ["--json"])
    assert res.exit_code == 0  # nothing failed in this run (the quarantined input is skipped, and counted)
    summary = json.loads(res.output)["extract"]
    assert (summary["computed"], summary["reused"], summary["skipped_failed"]) == (0, 6, 1)

    res = CliRunner().invoke(cli, ["features", "info", str(out), "--json"])
    info = json.loads(res.output)["encoders"][helpers.NAME]
    assert (info["rows"], info["dim"], info["shards"], info["quarantined"]) == (6, 15, 3, 1)
    res = CliRunner().invoke(cli, ["features", "info", str(out)])
    assert helpers.NAME in res.output and "test-spectral/v1" in res.output

    res = CliRunner().invoke(cli, ["features", "quarantine", str(out)])
    assert "03-01-06-01-01-01-03" in res.output and "cannot decode audio" in res.output

    res = CliRunner().invoke(cli, ["features", "compact", str(out)])
    assert res.exit_code == 0 and "merged 3" in res.output
    assert len(FeatureTable(out).shards(helpers.NAME)) == 1 and len(FeatureTable(out)) == 6


def test_bad_source_and_encoder_are_reported(tmp_path):
    res = CliRunner().invoke(cli, ["features", "extract", "--source", f"nope:{tmp_path}", "--encoder", "x", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "unknown source 'nope'" in res.output
    (tmp_path / "rav").mkdir()
    res = CliRunner().invoke(cli, ["features", "extract", "--source", f"ravdess:{tmp_path / 'rav'}", "--encoder", "nope", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "unknown encoder 'nope'" in res.output
