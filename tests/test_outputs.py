"""`emoalign.outputs.RunWriter`: atomic run folders, a completion marker readers check, no clobbering."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from emoalign.outputs import IncompleteOutputError, OutputExistsError, RunWriter, check_complete

FILES = ["data.parquet", "notes.txt", "media"]


def run(folder, value: int, *, overwrite: bool = False, finish: bool = True, kind: str = "demo build") -> dict | None:
    with RunWriter(folder, kind=kind, files=FILES, overwrite=overwrite) as w:
        w.write_parquet("data.parquet", pa.table({"x": [value, value + 1]}))
        w.write_text("notes.txt", f"run {value}\n")
        media = w.write_with("media", lambda tmp: tmp)
        media.mkdir()
        (media / "a.bin").write_bytes(bytes([value]))
        if not finish:
            return None  # as if killed here: nothing staged is renamed, no marker
        return w.finish({"value": value})


def test_a_finished_run_is_complete_and_stamped(tmp_path):
    out = tmp_path / "out"
    summary = run(out, 1)
    assert check_complete(out, kind="demo build")["value"] == 1
    assert summary["run"]["files"]["data.parquet"]["bytes"] == (out / "data.parquet").stat().st_size
    assert run(tmp_path / "again", 1)["run"] == summary["run"]  # the same run twice: the same marker
    assert sorted(summary["run"]["manifest"]) == ["data.parquet", "media/a.bin", "notes.txt"]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]


def test_an_existing_run_needs_overwrite(tmp_path):
    out = tmp_path / "out"
    run(out, 1)
    with pytest.raises(OutputExistsError, match="pass --overwrite to replace them"):
        run(out, 2)
    assert (out / "notes.txt").read_text() == "run 1\n"
    run(out, 2, overwrite=True)
    assert (out / "notes.txt").read_text() == "run 2\n" and (out / "media" / "a.bin").read_bytes() == b"\x02"


def test_files_emoalign_did_not_write_are_never_deleted(tmp_path):
    out = tmp_path / "out"
    run(out, 1)
    (out / "media" / "mine.txt").write_text("user data")
    with pytest.raises(OutputExistsError, match="did not write"):
        run(out, 2, overwrite=True)
    assert (out / "media" / "mine.txt").read_text() == "user data"


def test_a_stopped_run_is_refused_by_readers_and_resumed_without_overwrite(tmp_path):
    out = tmp_path / "out"
    run(out, 1)
    run(out, 2, overwrite=True, finish=False)  # killed after staging: old files in place, no marker
    with pytest.raises(IncompleteOutputError, match="did not finish"):
        check_complete(out, kind="demo build")
    summary = run(out, 3)  # the same command again: resumes, no --overwrite needed
    assert summary["value"] == 3 and check_complete(out, kind="demo build")["value"] == 3
    assert (out / "media" / "a.bin").read_bytes() == b"\x03"  # its own earlier files were replaced, not refused


def test_files_from_different_runs_are_detected(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run(a, 1)
    run(b, 5)
    (a / "data.parquet").write_bytes((b / "data.parquet").read_bytes())  # a half-replaced folder
    with pytest.raises(IncompleteOutputError, match="is not the file summary.json describes"):
        check_complete(a, kind="demo build")


def test_another_commands_folder_is_refused_even_with_overwrite(tmp_path):
    out = tmp_path / "out"
    run(out, 1, kind="pairs build")
    with pytest.raises(OutputExistsError, match="holds the output of `emoalign pairs build`"):
        run(out, 2, kind="matching build", overwrite=True)
    # also a folder written before run markers existed, recognised by its summary's fields
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "summary.json").write_text(json.dumps({"comparison": {}, "semantic": {}}))
    with pytest.raises(OutputExistsError, match="pairs build"):
        run(legacy, 1, kind="matching build", overwrite=True)
