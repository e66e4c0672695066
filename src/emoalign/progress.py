"""One switch for the library's progress bars, as in Hugging Face `datasets`.

Long work (hashing, extraction, pairing, training) shows a tqdm bar on stderr. By default a bar
shows when stderr is a terminal, so logs and CI output stay clean; a call's own ``progress=``
argument or the CLI's ``--progress/--no-progress`` wins over the default.

>>> from emoalign import progress
>>> progress.disable_progress_bars(); progress.progress_enabled()
False
>>> progress.progress_enabled(True)
True
>>> progress.enable_progress_bars(); progress.progress_enabled()
True
"""

from __future__ import annotations

import os
import sys

#: Set to 1/true to turn every bar off (as ``HF_DATASETS_DISABLE_PROGRESS_BARS``).
ENV_DISABLE = "EMOALIGN_DISABLE_PROGRESS_BARS"

_forced: bool | None = None


def enable_progress_bars() -> None:
    """Show progress bars from now on (unless a call passes ``progress=False``)."""
    global _forced
    _forced = True


def disable_progress_bars() -> None:
    """Hide progress bars from now on (unless a call passes ``progress=True``)."""
    global _forced
    _forced = False


def progress_enabled(flag: bool | None = None) -> bool:
    """Whether to show a bar: ``flag`` if given, else the switch, else the environment, else a TTY test."""
    if flag is not None:
        return bool(flag)
    if _forced is not None:
        return _forced
    if os.environ.get(ENV_DISABLE, "").strip().lower() in ("1", "true", "yes"):
        return False
    return sys.stderr.isatty()
