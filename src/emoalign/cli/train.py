"""``emoalign train`` and ``emoalign evaluate``: heads on cached embeddings of any source."""

from __future__ import annotations

import click

from emoalign.cli.common import parse_source_arg, print_json, progress_option, resolve_progress, source_options


@click.command()
@source_options(split=False)
@click.option("--encoder", required=True, help="Encoder whose embeddings the head reads (see `emoalign backends`).")
@click.option("--target", required=True, help="Taxonomy (or label key) to predict, e.g. ravdess8, emotiontalk7, emonet40; "
              "'va' for valence/arousal regression (e.g. a ratings CSV: path,valence,arousal).")
@click.option("--train-split", default="train", show_default=True, help="Split to train on ('all' for every record; RAVDESS: actors:1-16).")
@click.option("--holdout", type=float, default=0.0, help="Keep this fraction back (by group/id hash) for `evaluate --split holdout`.")
@click.option("--task", type=click.Choice(["auto", "single", "multilabel", "intensity", "regression"]), default="auto", show_default=True)
@click.option("--C", "C", type=float, default=1.0, show_default=True, help="Inverse regularisation strength.")
@click.option("--features", required=True, type=click.Path(), help="Feature-store folder (embeddings are cached there).")
@click.option("--out", required=True, type=click.Path(), help="Model folder to write (head.npz + model.json).")
@click.option("--workers", type=int, default=None, help="Worker processes for embedding (default: all cores).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--speaker-norm", type=click.Choice(["none", "group", "folder", "csv"]), default="none", show_default=True,
              help="Z-normalise each speaker's embeddings with that speaker's own statistics before fitting "
                   "(group = the source's speaker/actor group; folder / csv as in `analyze`).")
@click.option("--speakers", "speakers_csv", type=click.Path(dir_okay=False), help="CSV path,speaker for --speaker-norm csv.")
@click.option("--overwrite", is_flag=True, help="Replace a model already in --out.")
@progress_option
def train(source, options, encoder, target, train_split, holdout, task, C, features, out, workers, seed,
          speaker_norm, speakers_csv, overwrite, progress) -> None:
    """Fit a head (classifier, multi-label, intensity or valence/arousal regressor) on a source's embeddings and save it."""
    from emoalign.learn.train import NoTrainingDataError, TrainConfig, train_head

    spec = parse_source_arg(source, options)
    if spec.split is not None:
        raise click.BadParameter("choose the training split with --train-split, not ?split=", param_hint="--source")
    cfg = TrainConfig(spec.name, str(spec.path), encoder, target, train_split=None if train_split == "all" else train_split,
                      features=features, out=out, task=task, C=C, holdout=holdout, seed=seed, workers=workers,
                      progress=resolve_progress(progress), source_options=spec.options,
                      speaker_norm=speaker_norm, speakers=speakers_csv, overwrite=overwrite)
    try:
        model = train_head(cfg)
    except (NoTrainingDataError, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"saved model to {model}")


@click.command()
@click.option("--model", "model_dir", required=True, type=click.Path(exists=True, file_okay=False))
@source_options(split=False)
@click.option("--split", default="val", show_default=True, help="Split of the source to evaluate ('holdout': the part kept back at training; 'all').")
@click.option("--out", required=True, type=click.Path(), help="Report folder (metrics.json, report.md, figures).")
@click.option("--features", type=click.Path(), default=None, help="Feature-store folder (default: the one used in training).")
@click.option("--workers", type=int, default=None)
@click.option("--speaker-norm", type=click.Choice(["none", "group", "folder", "csv"]), default=None,
              help="How evaluated records form speakers for a head trained with speaker normalisation "
                   "[default: the grouping used in training].")
@click.option("--speakers", "speakers_csv", type=click.Path(dir_okay=False), help="CSV path,speaker for --speaker-norm csv.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@progress_option
def evaluate(model_dir, source, options, split, out, features, workers, speaker_norm, speakers_csv, as_json, progress) -> None:
    """Evaluate a trained head on a split; write a report with metrics and figures."""
    from emoalign.learn.train import NoTrainingDataError, evaluate_head

    spec = parse_source_arg(source, options, None if split in ("holdout", "all") else split)
    try:
        rep = evaluate_head(model_dir, spec.name, str(spec.path), split=None if split == "all" else split, out=out, features=features,
                            workers=workers, progress=resolve_progress(progress), source_options=spec.options,
                            speaker_norm=speaker_norm, speakers=speakers_csv)
    except (NoTrainingDataError, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    metrics = rep.get("metrics") or {k: rep[k] for k in ("n", "accuracy", "weighted_f1", "macro_f1", "uar")}
    if as_json:
        print_json(metrics)
    else:
        for k, v in metrics.items():
            click.echo(f"{k:>16}: {v:.4f}" if isinstance(v, float) else f"{k:>16}: {v}")
        click.echo(f"report: {out}/report.md")
