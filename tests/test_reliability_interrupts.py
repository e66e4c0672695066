"""Stopping long commands: Ctrl-C (SIGINT) and SIGKILL mid-run, then the same command again.

For `features extract` (the speech encoder: openSMILE delivers features through a ctypes
callback, where a plain KeyboardInterrupt used to be swallowed) and `pairs build`: a stopped run
exits 130 (SIGINT), quarantines nothing, leaves no folder that readers accept as finished, and
the re-run ends with exactly the output of a run that was never stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from emoalign.media.synth import synth_clip, write_clip
from emoalign.store import FeatureTable

CLI = [sys.executable, "-c", "from emoalign.cli import main; main()"]


def start(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}, start_new_session=True)


def wait_until(proc: subprocess.Popen, ready, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"the command ended before it could be stopped: {proc.communicate()}"
        assert time.monotonic() < deadline, "the command never reached the point where it is stopped"
        time.sleep(0.05)


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


# -- features extract ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def speech_clips(tmp_path_factory) -> Path:
    media = tmp_path_factory.mktemp("speech")
    for i in range(16):
        write_clip(media / "calm" / f"clip{i:02d}.wav", synth_clip(0.6 * np.sin(i), 0.6 * np.cos(i), seconds=2.5, seed=i))
    return media


def extract_args(media: Path, out: Path, workers: int = 1) -> list[str]:
    return ["features", "extract", "--source", f"folder:{media}", "--encoder", "speech-egemaps", "--out", str(out),
            "--workers", str(workers), "--batch-size", "2", "--no-progress"]


def stored(out: Path) -> dict[str, np.ndarray]:
    emb = FeatureTable(out).vectors(encoder="speech-egemaps")
    return dict(zip(emb.ids, emb.vectors))


@pytest.fixture(scope="module")
def uninterrupted(speech_clips, tmp_path_factory) -> dict[str, np.ndarray]:
    out = tmp_path_factory.mktemp("ref") / "feats"
    code, _, err = finish(start(*extract_args(speech_clips, out)))
    assert code == 0, err
    return stored(out)


@pytest.mark.slow
@pytest.mark.parametrize("how, workers", [("SIGINT", 1), ("SIGKILL", 1), ("SIGINT", 2)])
def test_stopped_extraction_quarantines_nothing_and_resumes_exactly(speech_clips, uninterrupted, tmp_path, how, workers):
    out = tmp_path / "feats"
    table = FeatureTable(out)
    proc = start(*extract_args(speech_clips, out, workers))
    wait_until(proc, lambda: len(table.shards("speech-egemaps")) >= 1)
    if how == "SIGINT":
        # Several Ctrl-C in a row would be "stop now"; one is "stop at the next safe point". Sent
        # to the process only (not the group), while it is busy inside openSMILE most of the time.
        os.kill(proc.pid, signal.SIGINT)
        code, out_text, err = finish(proc)
        assert code == 130, (code, err)
        assert "run the same command again to resume" in err
        assert "Traceback" not in err
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert table.quarantine("speech-egemaps") == [], "a stop must not quarantine a valid clip"
    partial = len(FeatureTable(out).ids("speech-egemaps"))
    assert 0 < partial < 16, "stopped mid-run"

    code, _, err = finish(start(*extract_args(speech_clips, out)))
    assert code == 0, err
    final = stored(out)
    assert sorted(final) == sorted(uninterrupted)
    for k, v in uninterrupted.items():
        np.testing.assert_allclose(final[k], v, rtol=1e-5, atol=1e-6)
    assert FeatureTable(out).quarantine("speech-egemaps") == []


def test_interrupt_flag_turns_a_failure_during_a_stop_into_the_stop(monkeypatch):
    """What used to happen inside openSMILE: the item fails *because* of the stop. It must not be
    recorded as a bad input: the stop is raised instead."""
    from emoalign import interrupts
    from emoalign.encode.base import safe_encode
    from emoalign.errors import DecodeError

    def encode_one(item):
        interrupts._state["signal"] = signal.SIGINT  # the signal arrives while the item is encoded
        raise DecodeError(f"{item}: openSMILE returned undefined features (clip too short or degenerate)")

    try:
        with pytest.raises(interrupts.Interrupted):
            safe_encode(encode_one, ["a.wav", "b.wav"])
    finally:
        interrupts._state["signal"] = None


def test_deferred_interrupts_defer_sigint_to_a_safe_point():
    from emoalign import interrupts

    reached = []
    with pytest.raises(interrupts.Interrupted):
        with interrupts.deferred_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler has run: no exception here, only the flag
            reached.append("after the signal")
            interrupts.check()
    assert reached == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


# -- pairs build -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def emid_root(tmp_path_factory) -> Path:
    from emoalign.data.fixtures.emid import make

    return make(tmp_path_factory.mktemp("emid"), seed=0)["emid"]


def pairs_args(emid: Path, out: Path, *extra: str) -> list[str]:
    return ["pairs", "build", "--music", f"emid:{emid}", "--images", f"emid:{emid}", "--out", str(out),
            "--no-progress", "--workers", "1", "--affect", "encoder", *extra]


def pairs_content(out: Path) -> dict:
    return {name: pq.read_table(out / name).to_pylist() for name in ("pairs.parquet", "pairs_semantic.parquet", "records.parquet")}


@pytest.fixture(scope="module")
def pairs_reference(emid_root, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("pairs_ref") / "out"
    code, _, err = finish(start(*pairs_args(emid_root, out)))
    assert code == 0, err
    return pairs_content(out)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_stopped_pairs_build_is_not_accepted_and_resumes_to_the_same_pairs(emid_root, pairs_reference, tmp_path, how):
    out = tmp_path / "out"
    proc = start(*pairs_args(emid_root, out))
    wait_until(proc, lambda: any((out / "features").glob("*/part-*.parquet")))
    if how == "SIGINT":
        os.kill(proc.pid, signal.SIGINT)
        code, _, err = finish(proc)
        assert code == 130, (code, err)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "summary.json").exists()
    # A reader refuses the unfinished folder instead of pairing from half of it.
    from click.testing import CliRunner

    from emoalign.cli import cli

    refused = CliRunner().invoke(cli, ["matching", "build", "--source", f"pairs:{out}", "--out", str(tmp_path / "m"), "--no-hf"])
    assert refused.exit_code != 0 and "Traceback" not in refused.output

    code, _, err = finish(start(*pairs_args(emid_root, out)))  # same command, no --overwrite: resumes
    assert code == 0, err
    assert pairs_content(out) == pairs_reference


def test_pairs_build_refuses_an_existing_run_without_overwrite(emid_root, pairs_reference, tmp_path):
    out = tmp_path / "out"
    assert finish(start(*pairs_args(emid_root, out)))[0] == 0
    before = (out / "summary.json").read_bytes()
    code, _, err = finish(start(*pairs_args(emid_root, out, "--alpha", "0.2")))
    assert code == 1 and "--overwrite" in err and "Traceback" not in err
    assert (out / "summary.json").read_bytes() == before  # untouched
    code, _, err = finish(start(*pairs_args(emid_root, out, "--alpha", "0.2", "--overwrite")))
    assert code == 0, err
    import json

    assert json.loads((out / "summary.json").read_text())["config"]["alpha"] == 0.2


# -- index build and matching build ------------------------------------------------------------
def index_args(emid: Path, out: Path) -> list[str]:
    return ["index", "build", "--source", f"emid:{emid}", "--out", str(out), "--workers", "1"]


def index_content(out: Path) -> list[dict]:
    from emoalign.store.index import VectorIndex

    items = [{k: v for k, v in d.items() if k != "score"} for d in VectorIndex.open(out).items()]
    return sorted(items, key=lambda d: (d["modality"], d["id"]))


@pytest.mark.slow
def test_killed_index_build_is_refused_by_match_and_resumes_to_the_same_index(emid_root, tmp_path):
    ref = tmp_path / "ref"
    code, _, err = finish(start(*index_args(emid_root, ref)))
    assert code == 0, err
    out = tmp_path / "out"
    proc = start(*index_args(emid_root, out))
    wait_until(proc, lambda: any(out.rglob("part-*.parquet")))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    query = next(emid_root.rglob("*.jpg"), None) or next(p for p in emid_root.rglob("*") if p.suffix in (".png", ".jpeg"))
    code, _, err = finish(start("match", str(query), "--index", str(out)))
    assert code != 0 and "Traceback" not in err
    code, _, err = finish(start(*index_args(emid_root, out)))  # same command, no --overwrite
    assert code == 0, err
    assert index_content(out) == index_content(ref)
    hits = [json.loads(finish(start("match", str(query), "--index", str(d), "--json"))[1])["results"] for d in (out, ref)]
    assert [(h["id"], round(h["total"], 5)) for h in hits[0]] == [(h["id"], round(h["total"], 5)) for h in hits[1]]


def matching_args(emid: Path, out: Path) -> list[str]:
    return ["matching", "build", "--source", f"emid:{emid}", "--out", str(out), "--seed", "1", "--max-rows", "40"]


@pytest.mark.slow
def test_killed_matching_build_resumes_to_the_same_set_and_keeps_user_files(emid_root, tmp_path):
    from emoalign.pair.export import tree_digest

    ref = tmp_path / "ref"
    code, _, err = finish(start(*matching_args(emid_root, ref)))
    assert code == 0, err
    out = tmp_path / "out"
    proc = start(*matching_args(emid_root, out))
    wait_until(proc, lambda: any(out.glob(".tmp-*-jsonl/media/audio/*.wav")), timeout=240)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    code, _, err = finish(start(*matching_args(emid_root, out)))  # resumes: no --overwrite needed
    assert code == 0, err
    assert (out / "examples.jsonl").read_bytes() == (ref / "examples.jsonl").read_bytes()
    assert tree_digest(out / "jsonl") == tree_digest(ref / "jsonl")
    assert not list(out.glob(".tmp-*")), "staged files of the killed run are gone"

    # A file of the user's inside OUT/hf: --overwrite replaces the run but never deletes it.
    (out / "hf" / "my-notes.txt").write_text("mine")
    code, _, err = finish(start(*matching_args(emid_root, out), "--overwrite"))
    assert code == 1 and "did not write" in err and "my-notes.txt" in err
    assert (out / "hf" / "my-notes.txt").read_text() == "mine"
    # Nor may it write into a pairs folder and replace that folder's summary.
    pairs_dir = tmp_path / "pairs"
    code, _, err = finish(start(*pairs_args(emid_root, pairs_dir)))
    assert code == 0, err
    before = (pairs_dir / "summary.json").read_bytes()
    code, _, err = finish(start("matching", "build", "--source", f"pairs:{pairs_dir}", "--out", str(pairs_dir), "--overwrite"))
    assert code == 1 and "Traceback" not in err
    assert (pairs_dir / "summary.json").read_bytes() == before
