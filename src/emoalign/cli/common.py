"""Helpers shared by the command modules: the one source syntax, the progress switch, printing.

Every command names a data source the same way, ``NAME:PATH`` with optional ``?key=value&…``
adapter options (``emoalign.data.spec``), plus repeatable ``-o KEY=VALUE`` for the same options
and ``--split`` for the split to read."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence

import click

from emoalign.data.spec import SourceSpec

SOURCE_HELP = "Data source NAME:PATH[?KEY=VALUE&…], e.g. emotiontalk:/data/ET?modality=speech (see `emoalign datasets list`)."


def source_options(required: bool = True, flag: str = "--source", split: bool = True):
    """Decorator adding ``--source SPEC``, ``-o/--option KEY=VALUE`` (repeatable) and (optionally) ``--split``."""

    def wrap(f):
        f = click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
                         help="Adapter option for the source (repeatable); the same as ?KEY=VALUE in the source.")(f)
        if split:
            f = click.option("--split", default=None, help="Read only this split of the source (train, val, test, …).")(f)
        return click.option(flag, "source", required=required, metavar="SOURCE", help=SOURCE_HELP)(f)

    return wrap


def parse_source_arg(spec: str, options: Iterable[str] = (), split: str | None = None, param_hint: str = "--source") -> SourceSpec:
    """Parse a SOURCE argument (+ ``-o`` options, + ``--split``) into a `SourceSpec`, as a click error if it is bad."""
    from emoalign.data.spec import parse_options, parse_source_spec
    from emoalign.errors import EmoalignError

    try:
        parsed = parse_source_spec(spec, **parse_options(options))
    except EmoalignError as exc:
        raise click.BadParameter(str(exc), param_hint=param_hint) from None
    if split is not None:
        if parsed.split is not None and parsed.split != split:
            raise click.BadParameter(f"{spec!r} names split {parsed.split!r} but --split says {split!r}", param_hint=param_hint)
        parsed = SourceSpec(parsed.name, parsed.path, parsed.options, split)
    return parsed


def open_source_arg(spec: SourceSpec, param_hint: str = "--source", **open_options):
    """Open a parsed source, turning a missing path or a bad option into a click error naming it."""
    from emoalign.data import open_source

    try:
        return open_source(spec.name, spec.path, **{**spec.options, **open_options})
    except (FileNotFoundError, NotADirectoryError, ValueError) as exc:
        raise click.BadParameter(f"{spec}: {exc}", param_hint=param_hint) from None
    except TypeError as exc:  # an option the adapter does not take
        raise click.BadParameter(f"{spec}: {exc}", param_hint=param_hint) from None


def progress_option(f):
    """``--progress/--no-progress``; the default follows `emoalign.progress` (bars when stderr is a terminal)."""
    return click.option("--progress/--no-progress", "progress", default=None,
                        help="Show progress bars (default: when stderr is a terminal, unless EMOALIGN_DISABLE_PROGRESS_BARS is set).")(f)


def resolve_progress(flag: bool | None) -> bool:
    from emoalign.progress import progress_enabled

    return progress_enabled(flag)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain aligned text table (no dependency, copy-pasteable)."""
    rows = [[_fmt(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    click.echo(line)
    click.echo("  ".join("-" * w for w in widths))
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, sort_keys=False)
    sys.stdout.write("\n")
