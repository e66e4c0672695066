"""One progress switch and one logger for the library (emoalign.progress)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from emoalign import progress
from emoalign.pair.blocked import exact_topk


@pytest.fixture(autouse=True)
def fresh_switch(monkeypatch):
    monkeypatch.setattr(progress, "_forced", None)
    monkeypatch.delenv(progress.ENV_DISABLE, raising=False)
    yield


def _pairing(capsys, flag) -> str:
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 8)).astype(np.float32), rng.normal(size=(30, 8)).astype(np.float32)
    exact_topk(X, Y, 3, progress=progress.progress_enabled(flag))
    return capsys.readouterr().err


def test_a_job_asked_for_progress_draws_its_bar(capsys):
    assert "pairing" in _pairing(capsys, True)
    assert _pairing(capsys, False) == ""


def test_the_switch_decides_when_the_call_does_not(capsys):
    progress.disable_progress_bars()
    assert _pairing(capsys, None) == ""
    progress.enable_progress_bars()
    assert "pairing" in _pairing(capsys, None)
    assert _pairing(capsys, False) == ""  # the call's own word wins


@pytest.mark.parametrize("value, silent", [("1", True), ("true", True), ("ON", True), ("0", False)])
def test_the_environment_variable_turns_bars_off(monkeypatch, value, silent):
    monkeypatch.setattr(progress.sys, "stderr", _Terminal())
    monkeypatch.setenv(progress.ENV_DISABLE, value)
    assert progress.progress_enabled() is not silent


class _Terminal:
    def isatty(self):
        return True

    def write(self, text):
        return len(text)

    def flush(self):
        pass


def test_without_a_terminal_no_bar_by_default(monkeypatch):
    assert progress.progress_bar(total=1).disable  # pytest captures stderr: not a terminal
    monkeypatch.setattr(progress.sys, "stderr", _Terminal())
    assert not progress.progress_bar(total=1, file=_Terminal()).disable


def test_a_hidden_bar_takes_the_same_calls(capsys):
    with progress.progress_bar(total=5, enabled=False) as bar:
        bar.update(2)
        assert bar.disable
    assert list(progress.progress_bar(range(3), enabled=False)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


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


def test_extraction_follows_the_switch_when_not_told(tmp_path, capsys):
    from emoalign.media.synth import synth_clip, write_clip
    from emoalign.store import extract
    from emoalign.types import Record

    paths = [write_clip(tmp_path / f"c{k}.wav", synth_clip(0.4 * k - 0.2, 0.1, seconds=1.2, seed=k)) for k in range(2)]
    records = [Record(id=p.stem, modality="music", source="demo", path=str(p)) for p in paths]
    progress.disable_progress_bars()
    assert extract(records[:1], "music-acoustic", tmp_path / "feats", workers=1).computed == 1
    assert "extract" not in capsys.readouterr().err
    progress.enable_progress_bars()
    assert extract(records, "music-acoustic", tmp_path / "feats", workers=1).computed == 1
    assert "extract music-acoustic" in capsys.readouterr().err  # one new clip: a bar for it
