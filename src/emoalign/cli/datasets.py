"""``emoalign datasets list|inspect``: what a source holds and what it had to skip."""

from __future__ import annotations

import click

from emoalign.cli.common import parse_source_arg, print_json, print_table


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


@datasets.command("inspect")
@click.argument("source", metavar="SOURCE")
@click.option("--split", default=None, help="Only this split (e.g. train, val, test).")
@click.option("--strict", is_flag=True, help="Stop at the first bad input instead of skipping and counting it.")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="Adapter option, e.g. -o modality=speech (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect_cmd(source: str, split: str | None, strict: bool, options: tuple[str, ...], as_json: bool) -> None:
    """Count SOURCE's records per split and label, and list what had to be skipped.

    SOURCE is NAME:PATH[?KEY=VALUE&…], e.g. emotiontalk:/data/EmotionTalk?modality=speech.
    """
    from emoalign.data import BadInputError
    from emoalign.data.inspect import inspect_source

    spec = parse_source_arg(source, options, split, param_hint="SOURCE")
    source, path, split = spec.name, str(spec.path), spec.split
    try:
        result = inspect_source(path, source, strict=strict, split=split, options=spec.options)
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
