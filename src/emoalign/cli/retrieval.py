"""``emoalign adapter train|evaluate``, ``emoalign index build|add|remove|info`` and ``emoalign match``.

SOURCE arguments are ``NAME:PATH[?KEY=VALUE&…]`` with NAME a data source (``emoalign datasets list``), e.g.
``emid:/data/EMID`` or ``pairs:out/pairs``; a bare path is recognised for EMID and pairs folders.
The work happens in `emoalign.learn.adapter_run` and `emoalign.retrieve`.
"""

from __future__ import annotations

from pathlib import Path

import click

from emoalign.cli.common import print_json, print_table, progress_option, resolve_progress
from emoalign.encode.registry import DEFAULTS
from emoalign.learn.adapter import AdapterConfig
from emoalign.learn.adapter_data import DEFAULT_FRACTIONS

_BACKENDS = ["auto", "text-bridge", "xmodal", "clip-clap", "imagebind"]


def _featurizer(backend, music_encoder, image_encoder, music_affect, image_affect, affect):
    from emoalign.store.featurize import Featurizer

    if bool(music_encoder) != bool(image_encoder):
        raise click.UsageError("pass both --music-encoder and --image-encoder (or neither, to use --backend)")
    return Featurizer(backend=backend, music_encoder=music_encoder, image_encoder=image_encoder,
                      music_affect_encoder=music_affect, image_affect_encoder=image_affect, affect=affect)


def _featurizer_options(f, backend_default: str = "auto"):
    options = [
        click.option("--backend", default=backend_default, show_default=True, type=click.Choice(_BACKENDS),
                     help="Joint music–image space (auto: text-bridge when every item has text, else xmodal; "
                          "text-bridge cannot embed a query file, which has no text)."),
        click.option("--music-encoder", default=None, help="Separate music embedding encoder (with --image-encoder; needs the adapter to compare)."),
        click.option("--image-encoder", default=None, help="Separate image embedding encoder."),
        click.option("--music-affect", default=DEFAULTS["music"], show_default=True, help="Encoder giving the clips' affect."),
        click.option("--image-affect", default=DEFAULTS["image"], show_default=True, help="Encoder giving the images' affect."),
        click.option("--affect", default="encoder", show_default=True, type=click.Choice(["encoder", "labels"]),
                     help="encoder: what a query gets at match time; labels: the source's own labels/ratings."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _fail(exc: Exception) -> click.ClickException:
    # the library speaks of keyword arguments; on the command line they are options
    return click.ClickException(str(exc).replace("overwrite=True", "--overwrite"))


# ---------------------------------------------------------------------------------------------
# adapter
# ---------------------------------------------------------------------------------------------
@click.group()
def adapter() -> None:
    """Train and evaluate the EMI-Adapter (semantic embedding + affect → one shared space)."""


@adapter.command("train")
@click.option("--pairs", "pairs", required=True, metavar="SOURCE", help="Pairs to learn from: emid:DIR, emid-hub:DIR, pairs:DIR (from `pairs build`).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Model folder (config.json, weights.npz, history.json, data.json, training.png).")
@click.option("--epochs", default=AdapterConfig.epochs, show_default=True, type=click.IntRange(0), help="Maximum epochs (the best on validation is kept).")
@click.option("--seed", default=AdapterConfig.seed, show_default=True, type=int, help="Seed of initialisation and batching.")
@click.option("--variant", default=AdapterConfig.variant, show_default=True, type=click.Choice(["bmf", "svdpp", "ncf"]), help="Fusion variant (see docs).")
@click.option("--no-affect", is_flag=True, help="Control: same model with the affect input zeroed.")
@click.option("--freeze-semantic", is_flag=True,
              help="Joint spaces only: keep the semantic embedding fixed and learn only the affect terms (far fewer weights).")
@click.option("--dim", default=AdapterConfig.dim, show_default=True, type=click.IntRange(1), help="Shared-space size when the inputs are in two spaces.")
@click.option("--lr", default=AdapterConfig.lr, show_default=True, type=click.FloatRange(min=1e-7))
@click.option("--batch-size", default=AdapterConfig.batch_size, show_default=True, type=click.IntRange(2))
@click.option("--weight-decay", default=AdapterConfig.weight_decay, show_default=True, type=click.FloatRange(min=0))
@click.option("--patience", default=AdapterConfig.patience, show_default=True, type=click.IntRange(1),
              help="Stop after this many epochs without a better validation Recall@10.")
@click.option("--fractions", "fractions", default=",".join(f"{x:g}" for x in DEFAULT_FRACTIONS), show_default=True,
              help="Train,val,test shares of the clips (split by clip / recording).")
@click.option("--split-seed", default=0, show_default=True, type=int)
@click.option("--split-by", default="recording", show_default=True, type=click.Choice(["recording", "clip"]),
              help="Keep slices of one source recording in one split (EMID's <recording>___<slice> ids), or split clip by clip.")
@_featurizer_options
@click.option("--features", type=click.Path(file_okay=False), default=None,
              help="Feature store folder (default: the pairs folder for pairs:, else OUT/features).")
@click.option("--workers", type=click.IntRange(1), default=None, help="Extraction worker processes.")
@click.option("--overwrite", is_flag=True, help="Replace an adapter already in --out.")
@progress_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def train_cmd(pairs, out, epochs, seed, variant, no_affect, freeze_semantic, dim, lr, batch_size, weight_decay, patience, fractions, split_seed,
              split_by, backend, music_encoder, image_encoder, music_affect, image_affect, affect, features, workers, overwrite, progress,
              as_json) -> None:
    """Train an adapter on music–image pairs; the epoch is chosen on validation pairs."""
    from emoalign.data.spec import parse_source_spec
    from emoalign.learn.adapter import AdapterConfig
    from emoalign.learn.adapter_run import train_adapter

    try:
        shares = [float(x) for x in fractions.split(",")]
    except ValueError:
        raise click.BadParameter(f"{fractions!r}: three comma-separated numbers", param_hint="--fractions") from None
    if len(shares) != 3:
        raise click.BadParameter(f"{fractions!r}: three comma-separated numbers", param_hint="--fractions")
    feat = _featurizer(backend, music_encoder, image_encoder, music_affect, image_affect, affect)
    try:
        name = parse_source_spec(pairs).name
        if features is None and name != "pairs":
            features = str(Path(out) / "features")
        cfg = AdapterConfig(variant=variant, epochs=epochs, seed=seed, use_affect=not no_affect, freeze_semantic=freeze_semantic, dim=dim, lr=lr,
                            batch_size=batch_size, weight_decay=weight_decay, patience=patience)

        def on_epoch(rec):
            if resolve_progress(progress) and not as_json:
                click.echo(f"epoch {rec['epoch']:>3}  loss {rec.get('train_loss', float('nan')):.4f}  "
                           f"val R@10 m→i {rec.get('val_r10_m2i', float('nan')):.3f}  i→m {rec.get('val_r10_i2m', float('nan')):.3f}", err=True)

        summary = train_adapter(pairs, out, featurizer=feat, features_dir=features, config=cfg, fractions=shares,
                                split_seed=split_seed, split_by=split_by, workers=workers, progress=resolve_progress(progress), on_epoch=on_epoch,
                                overwrite=overwrite)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from None
    if as_json:
        print_json(summary)
        return
    f = summary["featurizer"]
    click.echo(f"adapter {summary['variant']} → {summary['model']}  ({summary['parameters']:,} parameters, {summary['seconds']:.1f} s)")
    click.echo(f"inputs: {f['backend'] or 'separate encoders'} ({f['music_encoder']} / {f['image_encoder']}), affect from {f['affect']} "
               f"({f['music_affect_encoder']} / {f['image_affect_encoder']})")
    print_table(["split", "clips", "pairs"], [(s, c["clips"], c["pairs"]) for s, c in summary["counts"].items()])
    best = summary["history"][summary["best_epoch"]] if summary["best_epoch"] >= 0 else {}
    click.echo(f"best epoch {summary['best_epoch']} of {summary['epochs_run']}: validation R@10 "
               f"m→i {best.get('val_r10_m2i', float('nan')):.3f}, i→m {best.get('val_r10_i2m', float('nan')):.3f}")
    if summary["problems_total"]:
        click.echo(f"{summary['problems_total']} items skipped (no vector or affect); see data.json")


@adapter.command("evaluate")
@click.option("--model", "model", required=True, type=click.Path(exists=True, file_okay=False), help="Folder written by `adapter train`.")
@click.option("--pairs", "pairs", default=None, metavar="SOURCE", help="Pairs (default: the ones it was trained on; the saved split is reused).")
@click.option("--split", "split", default="test", show_default=True, type=click.Choice(["test", "val", "train"]))
@click.option("--alpha", type=click.FloatRange(0, 1), default=None, help="α of the T-score (default: chosen on the validation split).")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None, help="Write metrics.json, report.md, training.png here.")
@click.option("--features", type=click.Path(file_okay=False), default=None, help="Feature store folder (default: the one used in training).")
@click.option("--workers", type=click.IntRange(1), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate_cmd(model, pairs, split, alpha, out, features, workers, as_json) -> None:
    """Recall@1/5/10, mean rank, emotion agreement@10: semantic-only, emotion-only, T-score and the adapter."""
    from emoalign.learn.adapter_eval import results_table
    from emoalign.learn.adapter_run import evaluate_adapter

    try:
        results = evaluate_adapter(model, pairs=pairs, features_dir=features, split=split, alpha=alpha, out=out, workers=workers)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from None
    if as_json:
        print_json(results)
        return
    d = results["_data"]
    click.echo(f"{split} split: {d['clips']} clips, {d['images']} images, {d['pairs']} pairs; "
               f"T-score α = {d['alpha']:g} ({d['alpha_chosen_on']})")
    print_table(*results_table(results))
    if not d["joint_space"]:
        click.echo("semantic-only and T-score need music and images in one space: not available for these encoders")
    if out:
        click.echo(f"report: {Path(out) / 'report.md'}")


# ---------------------------------------------------------------------------------------------
# index
# ---------------------------------------------------------------------------------------------
@click.group()
def index() -> None:
    """A persistent vector index of music and images with their emotions (faiss, embedded)."""


@index.command("build")
@click.option("--source", "source", default=None, metavar="SOURCE", help="Items to index, NAME:PATH[?KEY=VALUE&…] (e.g. emid:/data/EMID).")
@click.option("--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False), help="Loose image/audio files to index (repeatable).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Index folder.")
@click.option("--adapter", "adapter_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Index in an EMI-Adapter's space (its featurizer is used; the adapter is copied into the index).")
@lambda f: _featurizer_options(f, "xmodal")
@click.option("--features", type=click.Path(file_okay=False), default=None, help="Feature store folder (default: OUT/features).")
@click.option("--workers", type=click.IntRange(1), default=None)
@click.option("--overwrite", is_flag=True, help="Replace an existing index at OUT.")
@progress_option
@click.option("--json", "as_json", is_flag=True)
def build_cmd(source, files, out, adapter_dir, backend, music_encoder, image_encoder, music_affect, image_affect, affect,
              features, workers, overwrite, progress, as_json) -> None:
    """Embed a source's music and images and write an index with their emotion, V–A and path."""
    from emoalign.retrieve import build_index

    if not source and not files:
        raise click.UsageError("pass --source NAME:PATH and/or --file")
    feat = _featurizer(backend, music_encoder, image_encoder, music_affect, image_affect, affect)
    try:
        summary = build_index(source, out, files=files, adapter=adapter_dir, featurizer=feat, features_dir=features,
                              workers=workers, overwrite=overwrite, progress=resolve_progress(progress))
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        raise _fail(exc) from None
    if as_json:
        print_json(summary)
        return
    click.echo(f"index {summary['index']}: {summary['items']} items, space {summary['space']} ({summary['dim']}-d), "
               f"{summary['seconds']:.1f} s")
    if summary["problems_total"]:
        click.echo(f"{summary['problems_total']} items skipped, e.g. {summary['problems'][:3]}")


@index.command("add")
@click.option("--index", "index_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--source", "source", default=None, metavar="SOURCE", help="Items to add, NAME:PATH.")
@click.option("--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False), help="Image/audio files to add (repeatable).")
@click.option("--features", type=click.Path(file_okay=False), default=None)
@click.option("--workers", type=click.IntRange(1), default=None)
@click.option("--json", "as_json", is_flag=True)
def add_cmd(index_dir, source, files, features, workers, as_json) -> None:
    """Add items (embedded like the index's own; an existing id is replaced) without rebuilding."""
    from emoalign.retrieve import add_to_index

    if not source and not files:
        raise click.UsageError("pass --source NAME:PATH and/or --file")
    try:
        summary = add_to_index(index_dir, source=source, files=files, features_dir=features, workers=workers)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from None
    if as_json:
        print_json(summary)
        return
    click.echo(f"added {summary['added']}; the index holds {summary['items']} items")


@index.command("remove")
@click.option("--index", "index_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.argument("ids", nargs=-1, required=True)
def remove_cmd(index_dir, ids) -> None:
    """Remove items by id (written as a tombstone list; no rebuild)."""
    from emoalign.store.index import VectorIndex

    try:
        idx = VectorIndex.open(index_dir)
        n = idx.remove(ids)
    except ValueError as exc:
        raise _fail(exc) from None
    missing = len(set(ids)) - n
    click.echo(f"removed {n}" + (f" ({missing} not in the index)" if missing else "") + f"; {len(idx)} items left")


@index.command("info")
@click.option("--index", "index_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True)
def info_cmd(index_dir, as_json) -> None:
    """What an index holds: items per modality and emotion, segments, space, size."""
    from emoalign.store.index import VectorIndex

    try:
        s = VectorIndex.open(index_dir).summary()
    except ValueError as exc:
        raise _fail(exc) from None
    if as_json:
        print_json(s)
        return
    click.echo(f"{s['folder']}: {s['items']} items, space {s['space']} ({s['dim']}-d), format v{s['format_version']}, "
               f"generation {s['generation']}, {s['bytes'] / 1e6:.1f} MB")
    feat = s["info"].get("featurizer", {})
    if feat:
        click.echo(f"embedded with {feat.get('backend') or 'separate encoders'} ({feat.get('music_encoder')} / {feat.get('image_encoder')})"
                   + (", EMI-Adapter" if s["info"].get("adapter") else ""))
    print_table(["modality", "items"], sorted(s["modalities"].items()))
    print_table(["emotion", "items"], sorted(s["labels"].items()))
    print_table(["segment", "kind", "vectors"],
                [(g["name"], g["kind"] + (f" ({g['nlist']} lists)" if g.get("nlist") else ""), g["vectors"]) for g in s["segments"]])
    if s["removed_pending"]:
        click.echo(f"{s['removed_pending']} removed items still in segments (dropped at the next compaction)")


# ---------------------------------------------------------------------------------------------
# match
# ---------------------------------------------------------------------------------------------
@click.command("match")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--index", "index_dir", required=True, type=click.Path(exists=True, file_okay=False), help="Folder written by `index build`.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1))
@click.option("--alpha", type=click.FloatRange(0, 1), default=None, help="T = α·S + (1−α)·E (default: 0.6; 1.0 with an adapter index).")
@click.option("--emotion", default=None, help="Only items with this emotion label (e.g. awe for images, calm for music).")
@click.option("--candidates", default=100, show_default=True, type=click.IntRange(1), help="Nearest items re-ranked by T.")
@click.option("--json", "as_json", is_flag=True)
def match(file, index_dir, top, alpha, emotion, candidates, as_json) -> None:
    """For an image, the best music; for a music clip, the best images — with the reason for each."""
    from emoalign.retrieve import match as do_match

    try:
        res = do_match(file, index_dir, top=top, alpha=alpha, emotion=emotion, candidates=candidates)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from None
    if as_json:
        print_json(res.to_dict())
        return
    q = res.query
    click.echo(f"{file}: {q['modality']}, feels {q['emotion']} ({q['confidence']:.2f}), V {q['valence']:+.2f}, A {q['arousal']:+.2f}; "
               f"α = {res.alpha:g}" + (f", only {res.filters['emotion']}" if res.filters.get("emotion") else ""))
    print_table(
        ["#", "item", "emotion", "T", res.score_kind, "S", "E", "V", "A"],
        [(h.rank, h.id, h.emotion, h.total, h.similarity, h.semantic, h.emotional,
          None if h.valence is None else f"{h.valence:+.2f}", None if h.arousal is None else f"{h.arousal:+.2f}") for h in res.hits],
    )
