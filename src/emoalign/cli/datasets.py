"""``emoalign datasets list|inspect``: what a source holds and what it had to skip."""

from __future__ import annotations

import click

from emoalign.cli.common import print_json, print_table


@click.group()
def datasets() -> None:
    """Data sources: list the adapters, inspect a copy on disk."""


@datasets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(as_json: bool) -> None:
    """List the source names accepted by --source."""
    from emoalign.data import SOURCES

    if as_json:
        print_json(sorted(SOURCES))
        return
    print_table(["source", "adapter"], sorted(SOURCES.items()))


def _parse_options(items: tuple[str, ...]) -> dict[str, object]:
    """``-o key=value`` pairs; values true/false/none and numbers are converted."""
    out: dict[str, object] = {}
    for item in items:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="--option")
        key, value = item.split("=", 1)
        low = value.strip().lower()
        parsed: object = value
        if low in ("true", "yes"):
            parsed = True
        elif low in ("false", "no"):
            parsed = False
        elif low == "none":
            parsed = None
        else:
            try:
                parsed = int(value)
            except ValueError:
                try:
                    parsed = float(value)
                except ValueError:
                    parsed = value
        out[key.strip().replace("-", "_")] = parsed
    return out


@datasets.command("inspect")
@click.argument("path", type=click.Path(exists=True))
@click.option("--source", "source", required=True, help="Adapter name (see `emoalign datasets list`).")
@click.option("--split", default=None, help="Only this split (e.g. train, val, test).")
@click.option("--strict", is_flag=True, help="Stop at the first bad input instead of skipping and counting it.")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="Adapter option, e.g. -o modality=speech (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect_cmd(path: str, source: str, split: str | None, strict: bool, options: tuple[str, ...], as_json: bool) -> None:
    """Count PATH's records per split and label, and list what had to be skipped."""
    from emoalign.data import SOURCES, BadInputError
    from emoalign.data.inspect import inspect_source

    if source not in SOURCES:
        raise click.BadParameter(f"unknown source {source!r}; available: {', '.join(sorted(SOURCES))}", param_hint="--source")
    try:
        result = inspect_source(path, source, strict=strict, split=split, options=_parse_options(options))
    except BadInputError as exc:
        prefix = "stopped at the first bad input (--strict)" if strict else "bad input"
        raise click.ClickException(f"{prefix}: {exc}") from None
    except (FileNotFoundError, NotADirectoryError, ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        result.pop("summary")
        print_json(result)
        _exit_if_nothing_usable(result, path)
        return
    click.echo(f"{source} at {path}: {result['records']} records"
               + (f" (split {split})" if split else "") + f"; labels from {result['taxonomy'] or '-'}\n")
    print_table(["split", "records"], list(result["splits"].items()))
    click.echo("")
    print_table(["split", "label", "count"], [(row["split"], row["label"], row["count"]) for row in result["labels"]])
    click.echo("")
    click.echo(result["summary"])
    dup = result["duplicate_ids"]
    if dup["count"]:
        click.echo(f"{dup['count']} duplicate id(s), e.g. {', '.join(dup['examples'])}: items sharing an id overwrite "
                   "each other in feature stores and indexes — give each item its own id", err=True)
    _exit_if_nothing_usable(result, path)


def _exit_if_nothing_usable(result: dict, path: str) -> None:
    """Exit 1 when the source gave no record at all: the inspection found nothing usable."""
    if result["records"] == 0:
        problems = result["report"].get("problems") or result["report"].get("examples") or []
        first = f" ({problems[0]})" if problems else ""
        click.echo(f"error: no usable records in {path}{first}", err=True)
        raise SystemExit(1)
