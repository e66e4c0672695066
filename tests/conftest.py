"""Shared test fixtures: the real data folder (skipped when absent) and the generated fixtures."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_path() -> Path:
    """``$EMOALIGN_SHARED_DATA``, else ``<repo>/../shared/data``."""
    return Path(os.environ.get("EMOALIGN_SHARED_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real data (shared/data); tests using it are skipped when it is not there."""
    path = shared_data_path()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set EMOALIGN_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def fixture_paths(tmp_path_factory) -> dict[str, Path]:
    """Every source's generated fixture, written once per test session: ``{source name: path}``."""
    from emoalign.data.fixtures import make_all

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_all(tmp_path_factory.mktemp("fixtures"), seed=0)
