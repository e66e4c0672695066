"""What the library tells you while it works: one progress-bar switch and one logger setup.

As in Hugging Face ``datasets``: long jobs (feature extraction, pairing, exports) draw ``tqdm``
bars on stderr; one call, or one environment variable, silences them all::

    import emoalign.progress
    emoalign.progress.disable_progress_bars()     # or EMOALIGN_DISABLE_PROGRESS_BARS=1
    emoalign.progress.set_verbosity("INFO")       # or EMOALIGN_VERBOSITY=info

A function's own ``progress=`` argument asks for a bar (``None``: only when stderr is a
terminal); the global switch overrides it. Log messages go through the ``"emoalign"`` logger
(`get_logger`), which has no handler of its own until `set_verbosity` is called, so an
application's logging configuration decides what is shown.

>>> disable_progress_bars(); progress_bars_enabled()
False
>>> bar = progress_bar(total=3, desc="demo", enabled=True); bar.disable
True
>>> enable_progress_bars(); progress_bars_enabled()
True
>>> get_logger("emoalign.store").name, get_logger("pair.build").name
('emoalign.store', 'emoalign.pair.build')
"""

from __future__ import annotations

import logging
import os
import sys

#: Set to 1/true/yes/on to silence every progress bar of the library.
DISABLE_ENV = "EMOALIGN_DISABLE_PROGRESS_BARS"
#: The library logger's level when nothing else sets it (debug, info, warning, error, critical).
VERBOSITY_ENV = "EMOALIGN_VERBOSITY"
LIBRARY_LOGGER = "emoalign"

_TRUE = {"1", "true", "yes", "on"}
_bars_enabled: bool | None = None  # None: follow the environment variable


def enable_progress_bars() -> None:
    """Show the library's progress bars (where a function asks for one)."""
    global _bars_enabled
    _bars_enabled = True


def disable_progress_bars() -> None:
    """Hide every progress bar of the library, whatever the functions' ``progress=`` say."""
    global _bars_enabled
    _bars_enabled = False


def progress_bars_enabled() -> bool:
    """The global switch: the last enable/disable call, else the environment variable."""
    if _bars_enabled is not None:
        return _bars_enabled
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in _TRUE


def progress_bar(iterable=None, *, total: int | None = None, desc: str | None = None, unit: str = "it",
                 enabled: bool | None = None, **kwargs):
    """The library's one ``tqdm`` factory: a bar that draws only when wanted.

    ``enabled`` is the caller's ``progress=`` argument: ``True`` asks for a bar, ``False``
    refuses one, ``None`` draws one when stderr is a terminal. `disable_progress_bars` (or
    ``EMOALIGN_DISABLE_PROGRESS_BARS``) overrides. A disabled bar takes the same calls
    (``update``, ``close``, iteration), so callers need no ``if``.
    """
    from tqdm.auto import tqdm

    wanted = _stderr_is_terminal() if enabled is None else bool(enabled)
    options = {"smoothing": 0.1, "mininterval": 0.5, **kwargs}
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not (wanted and progress_bars_enabled()), **options)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


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
    level = os.environ.get(VERBOSITY_ENV, "").strip()
    if level:
        set_verbosity(level)
