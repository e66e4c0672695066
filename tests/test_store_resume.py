"""Crash and resume: SIGKILL an extraction mid-run, run it again, and check nothing is lost or redone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import test_store_helpers as helpers
from emoalign.store import FeatureTable
from emoalign.store.features import WriterLock

TESTS = Path(__file__).resolve().parent

RUNNER = f"""
import json, sys
from pathlib import Path
sys.path.insert(0, {str(TESTS)!r})
import test_store_helpers as helpers
from emoalign.store import extract
from emoalign.types import Record

if __name__ == "__main__":
    media, out, workers = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    helpers.register()
    records = [Record(id=p.stem, modality="music", source="synthetic", path=str(p)) for p in sorted(media.glob("*.wav"))]
    s = extract(records, helpers.NAME, out, batch_size=3, workers=workers, progress=False)
    print(json.dumps(s.to_dict()))
"""


def run(script: Path, media: Path, out: Path, workers: int, log: Path, delay: float) -> subprocess.Popen:
    env = dict(os.environ, EMOALIGN_TEST_ENCODE_LOG=str(log), EMOALIGN_TEST_ENCODE_DELAY=str(delay))
    return subprocess.Popen(
        [sys.executable, str(script), str(media), str(out), str(workers)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def raw_ids(out: Path) -> Counter:
    """How many rows each id has across every shard on disk (not deduplicated)."""
    shards = FeatureTable(out).shards(helpers.NAME)
    return Counter(i for p in shards for i in pq.read_table(p, columns=["id"]).column("id").to_pylist())


@pytest.mark.parametrize("workers", [1, 2])
def test_killed_extraction_resumes_without_loss_or_recomputation(tmp_path, workers):
    media, out = tmp_path / "media", tmp_path / "out"
    clips = helpers.make_clips(media, 24)
    (media / "aaa-corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVE not really")  # sorts first: batch 1
    script = tmp_path / "run_extract.py"
    script.write_text(RUNNER)
    table = FeatureTable(out)

    # First run, slowed down, killed (with its workers) once a few shards are on disk.
    proc = run(script, media, out, workers, tmp_path / "run1.log", delay=0.15)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if len(table.shards(helpers.NAME)) >= 3 and table.quarantine_path(helpers.NAME).exists():
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"extraction ended before it could be killed: {proc.communicate()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    before = raw_ids(out)
    assert 6 <= sum(before.values()) < 24, "killed mid-run: some but not all items stored"
    assert max(before.values()) == 1
    assert [e["id"] for e in table.quarantine(helpers.NAME)] == ["aaa-corrupt"]

    # Second run, same command: resumes.
    proc = run(script, media, out, workers, tmp_path / "run2.log", delay=0)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["reused"] == sum(before.values())
    assert summary["computed"] == 24 - sum(before.values())
    assert (summary["failed"], summary["skipped_failed"]) == (0, 1)

    recomputed = helpers.read_log(tmp_path / "run2.log")
    finished_paths = {str(media / f"{i}.wav") for i in before}
    assert not finished_paths & set(recomputed), "finished items were computed again"
    assert str(media / "aaa-corrupt.wav") not in recomputed, "quarantined input was retried"
    assert len(recomputed) == 24 - sum(before.values())

    after = raw_ids(out)
    assert after == Counter({r.id: 1 for r in clips}), "every item exactly once across all shards"
    assert [e["id"] for e in FeatureTable(out).quarantine(helpers.NAME)] == ["aaa-corrupt"]
    with WriterLock(table.encoder_dir(helpers.NAME)):  # the killed writer left no lock that blocks
        pass
    assert not list(table.encoder_dir(helpers.NAME).glob(".*.tmp"))
    assert FeatureTable(out).vectors([r.id for r in clips]).vectors.shape == (24, 15)
