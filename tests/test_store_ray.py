"""The Ray engine on a local cluster on this machine: same features as local, same resume rules."""

from __future__ import annotations

import numpy as np
import pytest

import test_store_helpers as helpers
from emoalign.store import FeatureTable, extract

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    return tmp_path_factory.mktemp("ray-log") / "encoded.log"


@pytest.fixture(scope="module")
def cluster(log):
    # Ray workers take the environment of the cluster at start: set the counter file first.
    mp = pytest.MonkeyPatch()
    mp.setenv("EMOALIGN_TEST_ENCODE_LOG", str(log))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    mp.undo()


def test_ray_engine_matches_local_and_resumes(tmp_path, log, cluster):
    helpers.register()
    clips = helpers.make_clips(tmp_path / "media", 20)
    (tmp_path / "media" / "broken.wav").write_bytes(b"not audio")
    broken = clips[0].__class__(id="broken", modality="music", source="synthetic", path=str(tmp_path / "media" / "broken.wav"))

    s = extract(clips[:14] + [broken], helpers.NAME, tmp_path / "ray", batch_size=4, engine="ray", progress=False)
    assert (s.computed, s.failed, s.workers, s.engine) == (14, 1, 2, "ray")
    assert ray.is_initialized(), "a cluster the caller started is left running"
    # The actors logged their inputs from their own processes (not this one).
    import os

    pids = {line.split("\t")[0] for line in log.read_text().splitlines()}
    assert str(os.getpid()) not in pids

    # Resume on Ray: only the 6 new clips are encoded; the broken one is not retried.
    n = len(helpers.read_log(log))
    s = extract(clips + [broken], helpers.NAME, tmp_path / "ray", batch_size=4, engine="ray", progress=False)
    assert (s.computed, s.reused, s.skipped_failed) == (6, 14, 1)
    assert sorted(helpers.read_log(log)[n:]) == sorted(r.path for r in clips[14:])

    extract(clips, helpers.NAME, tmp_path / "local", batch_size=4, workers=1, progress=False)
    ids = [r.id for r in clips]
    np.testing.assert_array_equal(
        FeatureTable(tmp_path / "ray").vectors(ids).vectors, FeatureTable(tmp_path / "local").vectors(ids).vectors
    )
    assert [e["id"] for e in FeatureTable(tmp_path / "ray").quarantine()] == ["broken"]
