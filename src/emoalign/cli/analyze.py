"""``emoalign analyze`` and ``emoalign backends``."""

from __future__ import annotations

import click

from emoalign.cli.common import print_json, print_table


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--text", "texts", multiple=True, help="A text to analyse (repeatable).")
@click.option("--text-file", type=click.Path(exists=True, dir_okay=False), help="Analyse each non-empty line of this file (UTF-8).")
@click.option("--modality", default="auto", show_default=True,
              type=click.Choice(["auto", "speech", "music", "image", "face", "text", "video"]))
@click.option("--backend", default=None, help="Encoder name (see `emoalign backends`); default: the offline one per modality.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input per line.")
def analyze(paths, texts, text_file, modality, backend, as_json) -> None:
    """Analyse the emotion of files (speech, music, image, face, video) and texts."""
    from emoalign.encode.analyze import analyze as run

    texts = list(texts)
    if text_file is not None:
        texts += read_text_lines(text_file)
    if not paths and not texts:
        raise click.UsageError("give at least one PATH, --text or --text-file")
    try:
        rows = run(list(paths), texts, modality=modality, backend=backend)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        for row in rows:
            print_json(row)
    else:
        print_table(
            ["input", "modality", "emotion", "confidence", "valence", "arousal", "error"],
            [(r["input"], r["modality"], r["label"], r["confidence"], r["valence"], r["arousal"], r["error"]) for r in rows],
        )
    failed = sum(1 for r in rows if r["error"])
    if failed:  # the others' results are printed above; the exit status still says something failed
        click.echo(f"{failed} of {len(rows)} inputs failed", err=True)
        raise SystemExit(1)


def read_text_lines(path: str) -> list[str]:
    """The non-empty lines of a UTF-8 text file; a clear error naming the file and line otherwise."""
    data = open(path, "rb").read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise click.BadParameter(f"{path}: line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                                 "save the file as UTF-8", param_hint="--text-file") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


@click.command()
@click.option("--json", "as_json", is_flag=True)
def backends(as_json: bool) -> None:
    """List encoders: modality, taxonomy, vector space, where their weights are, and whether they run here."""
    from emoalign.encode.hub_weights import weights_status
    from emoalign.encode.registry import DEFAULTS, ENCODERS, encoder_class

    rows = []
    for name in ENCODERS:
        try:
            cls = encoder_class(name)
        except Exception as exc:
            rows.append({"name": name, "modality": None, "taxonomy": None, "space": None, "default": False,
                         "weights": None, "usable": False, "reason": f"{type(exc).__name__}: {exc}"})
            continue
        models = cls.hub_models()
        present, weights = weights_status(models)
        reason = None if present else (
            "weights not on this machine: download them once with network access (Hugging Face cache), "
            "or point the encoder at a local copy (see its docstring)")
        rows.append({"name": name, "modality": cls.modality, "taxonomy": cls.taxonomy, "space": cls.space,
                     "default": DEFAULTS.get(cls.modality) == name, "weights": weights, "usable": present, "reason": reason})
    if as_json:
        print_json(rows)
        return
    print_table(["encoder", "modality", "taxonomy", "space", "default", "weights", "usable", "why not"],
                [(r["name"], r["modality"], r["taxonomy"], r["space"], "yes" if r["default"] else "", r["weights"],
                  "yes" if r["usable"] else "no", r["reason"]) for r in rows])
