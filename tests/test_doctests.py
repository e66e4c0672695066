"""The docstring examples of every emoalign module run, and say what they show.

One test per module (so a failure names it); a module whose optional dependency is missing
(``imagebind``, the GPL ``vibenet``) is skipped, not failed. Examples that need a model or data
not available here carry ``# doctest: +SKIP`` in the source.
"""

from __future__ import annotations

import doctest
import importlib
import logging
import pkgutil

import pytest

import emoalign
from emoalign import progress

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names() -> list[str]:
    names = ["emoalign"]
    for info in pkgutil.walk_packages(emoalign.__path__, "emoalign."):
        names.append(info.name)
    return sorted(names)


MODULES = _module_names()


def test_modules_are_found():
    assert len(MODULES) > 50 and "emoalign.affect.space" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # an optional extra that is not installed
        pytest.skip(f"{name}: {exc}")
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, name) if t.examples]
    if not tests:
        pytest.skip(f"{name} has no examples")
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    monkeypatch.setenv("EMOALIGN_DISABLE_PROGRESS_BARS", "1")
    # examples may flip the library's switches (emoalign.progress): the next tests get them back
    monkeypatch.setattr(progress, "_forced", progress._forced)
    library_logger = logging.getLogger(progress.LIBRARY_LOGGER)
    monkeypatch.setattr(library_logger, "level", library_logger.level)
    monkeypatch.setattr(library_logger, "handlers", list(library_logger.handlers))
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed:\n" + "".join(report)
