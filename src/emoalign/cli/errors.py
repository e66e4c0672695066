"""How the command line reports failures: one line that names the file and says what to do.

Errors the library raises on purpose become ``error: <message>`` and exit status 1; a stop
(Ctrl-C, SIGTERM) exits 130 after saying that finished work is kept and how to resume. Any other
exception is a bug: it prints one line plus how to see the traceback (``EMOALIGN_DEBUG=1``) and
exits 2. Nothing here changes what a command computes.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

import click

from emoalign.interrupts import EXIT_INTERRUPTED

#: Exit status of an unexpected internal error (a bug), distinct from a refused input (1).
EXIT_BUG = 2


def _expected() -> tuple[type[BaseException], ...]:
    """The exception types that mean "this input or folder is not usable", not "emoalign is broken"."""
    from emoalign.affect.taxonomy import UnknownLabelError
    from emoalign.errors import EmoalignError

    return (EmoalignError, UnknownLabelError, OSError, UnicodeError)


def describe(exc: BaseException) -> str:
    """A message for a person: the exception's own text, without Python class names where it has one."""
    if isinstance(exc, UnicodeDecodeError):
        return f"text is not UTF-8 ({exc.reason} at byte {exc.start}); save the file as UTF-8"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)  # KeyError's str() adds quotes
    # the library speaks of keyword arguments; on the command line they are options
    text = text.strip().replace("overwrite=True", "--overwrite")
    return text or type(exc).__name__


@contextmanager
def handle(ctx: click.Context) -> Iterator[None]:
    """Run a command, mapping interrupts to 130 and expected errors to a one-line message and 1."""
    debug = bool(os.environ.get("EMOALIGN_DEBUG"))
    try:
        yield
    except KeyboardInterrupt:
        click.echo("\ninterrupted: work finished before the stop is saved; run the same command again to resume",
                   err=True)
        ctx.exit(EXIT_INTERRUPTED)
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except Exception as exc:
        if debug:
            raise
        if isinstance(exc, _expected()):
            raise click.ClickException(describe(exc)) from None
        click.echo(f"internal error: {type(exc).__name__}: {exc}\n"
                   "(this is a bug in emoalign; run with EMOALIGN_DEBUG=1 to see the traceback and report it)", err=True)
        sys.stderr.flush()
        ctx.exit(EXIT_BUG)
