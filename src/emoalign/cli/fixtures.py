"""``emoalign fixtures make DIR [--seed N]``: write the small schema-exact copies of every source."""

from __future__ import annotations

import click

from emoalign.cli.common import print_json, print_table


@click.group()
def fixtures() -> None:
    """Small, seeded copies of every data source (for tests and demos)."""


@fixtures.command("make")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same bytes.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def make_cmd(out_dir: str, seed: int, as_json: bool) -> None:
    """Write every fixture under OUT_DIR and print, per source, the path to open it with."""
    from emoalign.data.fixtures import make_all

    written = make_all(out_dir, seed=seed)
    if as_json:
        print_json({name: str(path) for name, path in written.items()})
        return
    print_table(["source", "path"], [(name, str(path)) for name, path in written.items()])
    click.echo(f"\nwrote {len(written)} fixtures under {out_dir} (seed {seed}); "
               "open one with: emoalign datasets inspect SOURCE:PATH")
