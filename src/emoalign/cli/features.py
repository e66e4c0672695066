"""``emoalign features extract|info|quarantine|compact``: the feature store from the command line."""

from __future__ import annotations

import click

from emoalign.cli.common import open_source_arg, parse_source_arg, print_json, print_table, progress_option, resolve_progress, source_options


@click.group()
def features() -> None:
    """Compute and inspect stored features (resumable: re-running computes only what is missing)."""


@features.command("extract")
@source_options()
@click.option("--encoder", "encoder", required=True, help="Encoder name, optionally with options: NAME?KEY=VALUE (see `emoalign backends`).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Feature folder (created if missing).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True, help="local: worker processes; ray: a Ray cluster.")
@click.option("--workers", type=int, default=None, help="Worker processes / Ray actors (default: all CPUs; 1 = in this process).")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Items per batch (one shard per finished batch).")
@click.option("--retry-failed", is_flag=True, help="Retry inputs in the quarantine instead of skipping them.")
@click.option("--ray-address", default=None, help="Address of an existing Ray cluster (default: start a local one).")
@progress_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
def extract_cmd(source, options, split, encoder, out, engine, workers, batch_size, retry_failed, ray_address, progress, as_json) -> None:
    """Run ENCODER over a source and store its features in OUT."""
    from emoalign.store.extract import extract

    spec = parse_source_arg(source, options, split)
    src = open_source_arg(spec)
    try:
        summary = extract(
            src.records(spec.split), encoder, out, batch_size=batch_size, workers=workers, engine=engine,
            progress=resolve_progress(progress), retry_failed=retry_failed, ray_address=ray_address,
        )
    except (ValueError, TypeError) as exc:  # an unknown engine, encoder or encoder option
        raise click.UsageError(str(exc)) from None
    if as_json:
        print_json({"source": src.report.to_dict(), "extract": summary.to_dict()})
    else:
        click.echo(src.report.summary())
        click.echo(str(summary))
    if summary.total == 0:
        click.echo(f"error: {source} gave no records to extract (see the skipped reasons above)", err=True)
        raise SystemExit(1)
    if summary.failed:  # the others are stored; the exit status still says something failed
        click.echo(f"{summary.failed} input(s) failed and were quarantined (`emoalign features quarantine {out}`); "
                   "the others are stored", err=True)
        raise SystemExit(1)


@features.command("info")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_cmd(folder: str, as_json: bool) -> None:
    """What a feature folder holds, per encoder."""
    from emoalign.store.features import FeatureTable

    info = FeatureTable(folder).info()
    if as_json:
        print_json(info)
        return
    if not info["encoders"]:
        click.echo(f"{folder}: no features stored")
        return
    print_table(
        ["encoder", "rows", "distinct", "dim", "space", "affect", "shards", "MB", "quarantined"],
        [
            (n, e["rows"], e["distinct_contents"], e["dim"], e["space"], e["with_affect"], e["shards"],
             f"{e['bytes'] / 1e6:.2f}", e["quarantined"])
            for n, e in info["encoders"].items()
        ],
    )


@features.command("quarantine")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--encoder", default=None, help="Only this encoder.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def quarantine_cmd(folder: str, encoder: str | None, as_json: bool) -> None:
    """Inputs that failed, with the reason (not retried unless `extract --retry-failed`)."""
    from emoalign.store.features import FeatureTable

    entries = FeatureTable(folder).quarantine(encoder)
    if as_json:
        print_json(entries)
        return
    print_table(["encoder", "id", "path", "stage", "reason"], [(e["encoder"], e["id"], e.get("path"), e["stage"], e["reason"]) for e in entries])


@features.command("compact")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--encoder", default=None, help="Only this encoder (default: all).")
def compact_cmd(folder: str, encoder: str | None) -> None:
    """Merge each encoder's shards into one (refused while an extraction writes to FOLDER)."""
    from emoalign.store.features import FeatureTable

    table = FeatureTable(folder)
    for name in [encoder] if encoder else table.encoders():
        removed = table.compact(name)
        click.echo(f"{name}: merged {removed} shard(s)" if removed else f"{name}: already one shard")
