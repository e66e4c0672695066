"""Honour Ctrl-C (SIGINT) and SIGTERM in long jobs, including while native code runs Python callbacks.

Python raises `KeyboardInterrupt` wherever the interpreter happens to be when the signal arrives.
Inside a ctypes callback (openSMILE delivers its features through one) the exception cannot
propagate: ctypes prints "Exception ignored on calling ctypes callback function" and the native
code goes on with a half-filled result — so the job continued, exited 0, and a valid clip was
quarantined as "degenerate". `deferred_interrupts` instead *records* the signal in a flag and lets
the native call finish; the job calls `check` between items and batches, which raises
`Interrupted` (a `KeyboardInterrupt`) at a point where nothing is half-written. Whatever an
item's encoder reported while the flag was set is discarded, never recorded as a bad input.

A second Ctrl-C raises at once (a user who insists gets the default behaviour back).

>>> with deferred_interrupts():
...     for batch in []:
...         check()  # raises Interrupted after a Ctrl-C
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

#: Exit status of a command stopped by SIGINT (128 + 2, as shells report it).
EXIT_INTERRUPTED = 130

_state = {"signal": None, "depth": 0}


class Interrupted(KeyboardInterrupt):
    """The job was asked to stop (SIGINT or SIGTERM); raised at a safe point by `check`."""

    def __init__(self, signum: int | None = None) -> None:
        name = signal.Signals(signum).name if signum else "an interrupt"
        super().__init__(f"stopped by {name}")
        self.signum = signum


def requested() -> bool:
    """True once a SIGINT/SIGTERM arrived inside `deferred_interrupts` (until the block ends)."""
    return _state["signal"] is not None


def check() -> None:
    """Raise `Interrupted` if a stop was requested; call it between items and between batches."""
    if _state["signal"] is not None:
        raise Interrupted(_state["signal"])


@contextmanager
def deferred_interrupts(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Record SIGINT/SIGTERM instead of raising anywhere; `check` raises at safe points.

    A no-op outside the main thread (Python delivers signals only there). Nested use is fine.
    On leaving the block with a stop still pending (nobody called `check`), it raises `Interrupted`.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        if _state["signal"] is not None and signum == signal.SIGINT:
            raise Interrupted(signum)  # second Ctrl-C: stop now
        _state["signal"] = signum

    if _state["depth"] == 0:
        _state["signal"] = None
        for s in signals:
            previous[s] = signal.signal(s, handler)
    _state["depth"] += 1
    try:
        yield
        if _state["depth"] == 1:
            check()
    finally:
        _state["depth"] -= 1
        if _state["depth"] == 0:
            for s, h in previous.items():
                signal.signal(s, h)
            _state["signal"] = None


def ignore_in_worker() -> None:
    """For worker processes of a pool: leave SIGINT to the parent, which stops the pool in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
