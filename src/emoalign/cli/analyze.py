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
@click.option("--face-crop", is_flag=True,
              help="Images are face crops: classify each whole image (no detection); images go to the face encoder.")
@click.option("--detect", is_flag=True,
              help="Faces only where the detector finds one (no whole-image fallback); images go to the face encoder.")
@click.option("--speaker-norm", type=click.Choice(["none", "folder", "csv"]), default=None,
              help="Speech: adapt to each speaker with the statistics of that speaker's clips in this call. "
                   "folder = files in one folder are one speaker; csv = speakers from --speakers. [default: none]")
@click.option("--speakers", "speakers_csv", type=click.Path(dir_okay=False),
              help="CSV with columns path,speaker naming each file's speaker (implies --speaker-norm csv; "
                   "with --speaker-norm folder, listed files take the CSV's speaker).")
@click.option("--dialogue", "dialogue_csv", type=click.Path(dir_okay=False),
              help="Text in its dialogue: a CSV with columns dialogue, speaker, text (optional id), rows in the "
                   "order spoken; one result per row, in the same order.")
@click.option("--context", type=click.Choice(["preceding", "dialogue", "none"]), default="preceding", show_default=True,
              help="With --dialogue: read each turn with the speaker's earlier turns (preceding, never looks "
                   "ahead), all of the speaker's other turns (dialogue), or alone (none).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input per line.")
def analyze(paths, texts, text_file, modality, backend, face_crop, detect, speaker_norm, speakers_csv, dialogue_csv, context, as_json) -> None:
    """Analyse the emotion of files (speech, music, image, face, video) and texts.

    Faces: a small image (longest side ≤ 256 px, aspect 0.75–1.33) that is greyscale or shows a
    detectable face is read as a face crop: the face encoder uses a detected face if it finds one
    and the whole image otherwise; `details.basis` says which ("detected face" / "whole image").

    \b
    Examples:
      emoalign analyze photo.jpg song.mp3 --text "What a day!"
      emoalign analyze --modality speech --speaker-norm folder alice/*.wav bob/*.wav
      emoalign analyze --modality speech --speakers speakers.csv clips/*.wav
      emoalign analyze --dialogue talk.csv --context preceding --json
    """
    from emoalign.encode.analyze import analyze as run
    from emoalign.errors import BadInputError

    texts = list(texts)
    if text_file is not None:
        texts += read_text_lines(text_file)
    if face_crop and detect:
        raise click.UsageError("--face-crop and --detect exclude each other")
    face_mode = "crop" if face_crop else "detect" if detect else "auto"
    if dialogue_csv is not None:
        if paths or texts or speaker_norm or speakers_csv:
            raise click.UsageError("--dialogue reads its texts from the CSV: give no PATH, --text, --text-file or speaker options with it")
        rows = _dialogue_rows(dialogue_csv, context, backend)
    else:
        if not paths and not texts:
            raise click.UsageError("give at least one PATH, --text, --text-file or --dialogue")
        if speaker_norm is None:
            speaker_norm = "csv" if speakers_csv else "none"
        try:
            rows = run(list(paths), texts, modality=modality, backend=backend, face_mode=face_mode,
                       speaker_norm=speaker_norm, speakers=speakers_csv)
        except BadInputError as exc:
            raise click.ClickException(str(exc)) from None
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    if as_json:
        for row in rows:
            print_json(row)
    elif dialogue_csv is not None:
        print_table(
            ["id", "speaker", "text", "emotion", "confidence", "valence", "arousal", "error"],
            [(r["id"], r["speaker"], r["input"], r["label"], r["confidence"], r["valence"], r["arousal"], r["error"]) for r in rows],
        )
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


def _dialogue_rows(path: str, context: str, backend: str | None) -> list[dict]:
    from emoalign.data.dialogue_csv import read_dialogue_csv
    from emoalign.encode.dialogue import analyze_dialogue
    from emoalign.errors import BadInputError

    try:
        turns = read_dialogue_csv(path)
        return analyze_dialogue(turns, context, backend=backend)
    except BadInputError as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


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
        if not models and cls.weights_location():
            weights = cls.weights_location()
            present = "missing" not in weights
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
