"""``emoalign demo``: the whole pipeline once, on example data the project generates."""

from __future__ import annotations

import click


@click.command()
@click.option("--out", default="demo-out", show_default=True, type=click.Path(file_okay=False), help="Folder to write everything into.")
@click.option("--seed", type=int, default=0, show_default=True)
def demo(out: str, seed: int) -> None:
    """Generate example data, load it, analyse it, pair music with images, build a matching set."""
    from emoalign.demo import run_demo

    run_demo(out, seed=seed, echo=click.echo)
