"""What the library tells you while it works: one progress-bar switch and one logger setup.

As in Hugging Face ``datasets``. Long work (hashing, extraction, pairing, exports, training)
shows a ``tqdm`` bar on stderr. By default a bar shows when stderr is a terminal, so logs and CI
output stay clean; `disable_progress_bars` / `enable_progress_bars` (or
``EMOALIGN_DISABLE_PROGRESS_BARS=1``) change the default, and a call's own ``progress=``
argument or the CLI's ``--progress/--no-progress`` wins over it. Every bar of the library comes
from `progress_bar`.

Log messages go through the ``"emoalign"`` logger (`get_logger`), which has only a
``NullHandler`` until `set_verbosity` (or ``EMOALIGN_VERBOSITY=info``) adds one, so an
application's own logging configuration decides what is shown.

>>> from emoalign import progress
>>> progress.disable_progress_bars(); progress.progress_enabled()
False
>>> progress.progress_enabled(True)
True
>>> progress_bar(total=3, desc="demo").disable  # follows the switch
True
>>> progress.enable_progress_bars(); progress.progress_enabled()
True
>>> get_logger("emoalign.store").name, get_logger("pair.build").name
('emoalign.store', 'emoalign.pair.build')
"""

from __future__ import annotations

import logging
import os
import sys

#: Set to 1/true to turn every bar off (as ``HF_DATASETS_DISABLE_PROGRESS_BARS``).
ENV_DISABLE = "EMOALIGN_DISABLE_PROGRESS_BARS"
#: The library logger's level when nothing else sets it (debug, info, warning, error, critical).
ENV_VERBOSITY = "EMOALIGN_VERBOSITY"
LIBRARY_LOGGER = "emoalign"

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
    if os.environ.get(ENV_DISABLE, "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stderr
        return False


def progress_bar(iterable=None, *, total: int | None = None, desc: str | None = None, unit: str = "it",
                 enabled: bool | None = None, **kwargs):
    """The library's one ``tqdm`` factory; ``enabled`` is the call's ``progress=`` (see `progress_enabled`).

    A hidden bar takes the same calls (``update``, ``close``, iteration, ``with``), so callers
    need no ``if``.
    """
    from tqdm.auto import tqdm

    options = {"smoothing": 0.1, "mininterval": 0.5, **kwargs}
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not progress_enabled(enabled), **options)


def get_logger(name: str | None = None) -> logging.Logger:
    """A logger under the library's ``"emoalign"`` logger (``"pair.build"`` → ``"emoalign.pair.build"``)."""
    _configure_library_logger()
    if not name or name == LIBRARY_LOGGER:
        return logging.getLogger(LIBRARY_LOGGER)
    return logging.getLogger(name if name.startswith(LIBRARY_LOGGER + ".") else f"{LIBRARY_LOGGER}.{name}")


def set_verbosity(level: int | str) -> None:
    """Show the library's messages at ``level`` and above on stderr (adds one handler, once).

    >>> set_verbosity("warning"); get_logger().level == logging.WARNING
    True
    """
    logger = logging.getLogger(LIBRARY_LOGGER)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    if not any(getattr(h, "_emoalign", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._emoalign = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


_configured = False


def _configure_library_logger() -> None:
    """Once: a NullHandler (no "no handler" warnings; the application decides), and the env level."""
    global _configured
    if _configured:
        return
    _configured = True
    logger = logging.getLogger(LIBRARY_LOGGER)
    logger.addHandler(logging.NullHandler())
    level = os.environ.get(ENV_VERBOSITY, "").strip()
    if level:
        set_verbosity(level)
