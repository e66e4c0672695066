"""``emoalign taxonomy list|show|plot``."""

from __future__ import annotations

import click

from emoalign.cli.common import print_json, print_table


@click.group()
def taxonomy() -> None:
    """The emotion taxonomies and their valence–arousal coordinates."""


@taxonomy.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(as_json: bool) -> None:
    """List the shipped taxonomies."""
    from emoalign.affect import get_taxonomy, list_taxonomies

    taxes = [get_taxonomy(n) for n in list_taxonomies()]
    if as_json:
        print_json([{"name": t.name, "title": t.title, "labels": len(t)} for t in taxes])
        return
    print_table(["name", "labels", "title"], [(t.name, len(t), t.title) for t in taxes])


@taxonomy.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show_cmd(name: str, as_json: bool) -> None:
    """Show one taxonomy's labels with valence, arousal, dominance and provenance."""
    from emoalign.affect import get_taxonomy

    try:
        tax = get_taxonomy(name)
    except KeyError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    if as_json:
        print_json({
            "name": tax.name, "title": tax.title, "citation": tax.citation, "notes": tax.notes,
            "labels": [
                {"name": l.name, "code": l.code, "group": l.group, "concept": l.concept, "valence": l.valence,
                 "arousal": l.arousal, "dominance": l.dominance, "provenance": l.provenance, "synonyms": list(l.synonyms)}
                for l in tax.labels
            ],
        })
        return
    click.echo(f"{tax.name}: {tax.title}\n{tax.citation}\n")
    print_table(
        ["label", "code", "group", "valence", "arousal", "dominance", "coordinates from"],
        [(l.name, l.code, l.group, l.valence, l.arousal, l.dominance, l.provenance) for l in tax.labels],
    )
    if tax.notes:
        click.echo(f"\n{tax.notes}")


@taxonomy.command("plot")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
@click.option("--taxonomy", "names", multiple=True, help="Only these taxonomies (repeatable). Default: all.")
def plot_cmd(out: str, names: tuple[str, ...]) -> None:
    """Plot taxonomies on one valence–arousal chart."""
    from emoalign.eval.plots import plot_taxonomies

    path = plot_taxonomies(out, names or None)
    click.echo(f"wrote {path}")
