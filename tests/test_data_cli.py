"""``emoalign datasets`` and ``emoalign fixtures`` through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from emoalign.cli import cli
from emoalign.data import fixtures as fixtures_pkg
from emoalign.data.fixtures import emotiontalk as et_fixture


@pytest.fixture(scope="module")
def et(tmp_path_factory) -> dict[str, Path]:
    return et_fixture.make(tmp_path_factory.mktemp("cli_et"), seed=0)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_inspect_prints_counts_per_split_and_label(et):
    res = run("datasets", "inspect", f"emotiontalk:{et['emotiontalk']}")
    assert res.exit_code == 0, res.output
    assert "56 records" in res.output
    lines = [line.split() for line in res.output.splitlines()]
    assert ["train", "28"] in lines and ["val", "14"] in lines and ["test", "14"] in lines
    assert ["test", "angry", "2"] in lines
    assert "0 skipped" in res.output


def test_inspect_json_split_and_options(et):
    res = run("datasets", "inspect", f"emotiontalk-release:{et['emotiontalk-release']}",
              "--split", "val", "-o", "modality=text,speech", "-o", "payload=false", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["records"] == 28 and out["splits"] == {"val": 28}
    assert out["modalities"] == {"speech": 14, "text": 14}
    assert sum(row["count"] for row in out["labels"]) == 28
    assert out["report"]["skipped"] == 0 and out["taxonomy"] == "emotiontalk7"


def test_inspect_reports_skips_and_strict_fails(et, tmp_path):
    root = tmp_path / "et"
    root.mkdir()
    for f in et["emotiontalk"].glob("*.csv"):
        (root / f.name).write_bytes(f.read_bytes())
    lines = (root / "splits.csv").read_text("utf-8").splitlines()
    lines[4] = lines[4].replace(lines[4].split(",")[2], "ecstatic")
    (root / "splits.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    res = run("datasets", "inspect", f"emotiontalk:{root}", "--json")
    out = json.loads(res.output)
    assert out["records"] == 55 and out["report"]["reasons"] == {"unknown label": 1}
    assert out["report"]["examples"][0].startswith(f"{root / 'splits.csv'}:5: unknown label")

    res = CliRunner().invoke(cli, ["datasets", "inspect", f"emotiontalk:{root}", "--strict"])
    assert res.exit_code == 1
    assert "splits.csv:5: unknown label: 'ecstatic'" in res.output


def test_inspect_rejects_unknown_source_and_bad_options(et):
    res = CliRunner().invoke(cli, ["datasets", "inspect", f"nope:{et['emotiontalk']}"])
    assert res.exit_code == 2 and "unknown source" in res.output
    res = CliRunner().invoke(cli, ["datasets", "inspect", f"emotiontalk:{et['emotiontalk']}", "-o", "modality=smell"])
    assert res.exit_code == 1 and "unknown modality" in res.output


def test_datasets_list():
    res = run("datasets", "list", "--json")
    assert "emotiontalk-release" in json.loads(res.output)


def test_fixtures_make_prints_what_it_wrote(monkeypatch, tmp_path):
    monkeypatch.setattr(fixtures_pkg, "MODULES", ("emotiontalk", "generic"))
    res = run("fixtures", "make", str(tmp_path / "fx"), "--seed", "3")
    assert res.exit_code == 0, res.output
    for name in ("emotiontalk", "emotiontalk-release", "folder", "csv"):
        assert name in res.output
    out = json.loads(run("fixtures", "make", str(tmp_path / "fx2"), "--seed", "3", "--json").output)
    assert Path(out["csv"]).is_file() and (Path(out["emotiontalk-release"]) / "Audio.tar").is_file()


@pytest.mark.shared_data
def test_inspect_real_emotiontalk(shared_data):
    res = run("datasets", "inspect", f"emotiontalk:{shared_data / 'emotiontalk'}", "--json")
    out = json.loads(res.output)
    assert out["splits"] == {"test": 1929, "train": 15413, "val": 1908}
    assert out["report"]["skipped"] == 0
