"""One progress switch and one logger for the library (emoalign.progress)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from emoalign import progress
from emoalign.pair.blocked import exact_topk


@pytest.fixture(autouse=True)
def fresh_switch(monkeypatch):
    monkeypatch.setattr(progress, "_bars_enabled", None)
    monkeypatch.delenv(progress.DISABLE_ENV, raising=False)
    yield


def _pairing(capsys) -> str:
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 8)).astype(np.float32), rng.normal(size=(30, 8)).astype(np.float32)
    exact_topk(X, Y, 3, progress=True)
    return capsys.readouterr().err


def test_a_job_asked_for_progress_draws_its_bar(capsys):
    assert "pairing" in _pairing(capsys)


def test_disable_progress_bars_silences_every_bar(capsys):
    progress.disable_progress_bars()
    assert _pairing(capsys) == ""
    progress.enable_progress_bars()
    assert "pairing" in _pairing(capsys)


@pytest.mark.parametrize("value, silent", [("1", True), ("true", True), ("ON", True), ("0", False), ("", False)])
def test_the_environment_variable_is_the_default_switch(monkeypatch, capsys, value, silent):
    monkeypatch.setenv(progress.DISABLE_ENV, value)
    assert progress.progress_bars_enabled() is not silent
    assert (_pairing(capsys) == "") is silent


def test_a_disabled_bar_takes_the_same_calls(capsys):
    with progress.progress_bar(total=5, enabled=False) as bar:
        bar.update(2)
        assert bar.disable
    assert list(progress.progress_bar(range(3), enabled=False)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def test_unasked_bars_follow_the_terminal(monkeypatch):
    monkeypatch.setattr(progress, "_stderr_is_terminal", lambda: False)
    assert progress.progress_bar(total=1).disable
    monkeypatch.setattr(progress, "_stderr_is_terminal", lambda: True)
    assert not progress.progress_bar(total=1).disable


def test_loggers_hang_under_the_library_logger_and_set_verbosity_shows_them(capsys):
    log = progress.get_logger("store.extract")
    assert log.name == "emoalign.store.extract" and progress.get_logger().name == "emoalign"
    root = logging.getLogger("emoalign")
    before_level, before_handlers = root.level, list(root.handlers)
    try:
        progress.set_verbosity("info")
        progress.set_verbosity("info")  # twice: still one handler
        log.info("hello from the store")
        err = capsys.readouterr().err
        assert err.count("hello from the store") == 1 and "emoalign.store.extract" in err
        progress.set_verbosity(logging.ERROR)
        log.warning("not shown")
        assert "not shown" not in capsys.readouterr().err
    finally:
        root.setLevel(before_level)
        root.handlers[:] = before_handlers
