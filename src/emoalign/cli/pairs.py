"""``emoalign pairs build`` and ``emoalign matching build``: EMID-style pairing and the matching set.

SOURCE arguments are ``NAME:PATH[?KEY=VALUE&…]`` with NAME a data source (``emoalign datasets list``),
e.g. ``emid:/data/EMID``, ``folder:/music``, ``pairs:out/pairs``, ``emid:/data/EMID?split=train``.
"""

from __future__ import annotations

from pathlib import Path

import click

from emoalign.cli.common import open_source_arg, parse_source_arg, print_json, print_table, progress_option, resolve_progress
from emoalign.pair.blocked import DEFAULT_MEMORY_BUDGET
from emoalign.pair.matching import MAX_SOURCE_ROWS, NEGATIVES_PER_POSITIVE, TRAIN_FRACTION
from emoalign.pair.score import DEFAULT_TOP_K, PAPER_ALPHA, PAPER_KEEP


def open_spec(value: str, param_hint: str):
    """SOURCE (``NAME:PATH[?KEY=VALUE&…]``) → (parsed spec, open source), as click errors naming the option."""
    spec = parse_source_arg(value, param_hint=param_hint)
    return spec, open_source_arg(spec, param_hint=param_hint)


@click.group()
def pairs() -> None:
    """Emotion-aware music–image pairs (EMID's pipeline) from your collections."""


@pairs.command("build")
@click.option("--music", "music_src", required=True, metavar="SOURCE", help="Music collection, NAME:PATH (e.g. emid:/data/EMID).")
@click.option("--images", "image_src", required=True, metavar="SOURCE", help="Image collection, NAME:PATH.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--alpha", default=PAPER_ALPHA, show_default=True, type=click.FloatRange(0, 1), help="Weight of the semantic score (1 = semantic only).")
@click.option("--top-k", default=DEFAULT_TOP_K, show_default=True, type=click.IntRange(1),
              help="Candidates per clip by semantic similarity (and as many from the joint search with emotion-aware candidates).")
@click.option("--keep", default=PAPER_KEEP, show_default=True, type=click.IntRange(1), help="Images kept per clip.")
@click.option("--semantic", default="auto", show_default=True,
              type=click.Choice(["auto", "content", "text-bridge", "xmodal", "clip-clap", "imagebind"]), help="Joint space for S.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed (ANN training).")
@click.option("--temperature", default="auto", show_default=True, metavar="auto|τ",
              help="τ of softmax(cos/τ). auto: 0.05 (ImageBind's scale) for imagebind, the space's own cosine spread otherwise.")
@click.option("--s-norm", default="relative", show_default=True, type=click.Choice(["relative", "topk", "softmax"]), help="How S is scaled next to E.")
@click.option("--method", default="exact", show_default=True, type=click.Choice(["exact", "ivf", "hnsw"]), help="Candidate search.")
@click.option("--candidates", "candidates", default="auto", show_default=True, type=click.Choice(["auto", "semantic", "joint", "global"]),
              help="semantic: the paper's top-K by cosine; joint: ∪ top-K by α·cos + (1−α)·E; global: the best by T over all images "
                   "(exact search); auto: semantic at α = 1, else global (joint with ivf/hnsw).")
@click.option("--affect", default="auto", show_default=True, type=click.Choice(["auto", "encoder"]),
              help="auto: items' own ratings/labels where present, encoders otherwise.")
@click.option("--nrc-vad", type=click.Path(exists=True, dir_okay=False), default=None, help="NRC-VAD lexicon file for label coordinates (as the paper).")
@click.option("--features", type=click.Path(file_okay=False), default=None, help="Feature store folder to reuse (default: OUT).")
@click.option("--workers", type=click.IntRange(1), default=None, help="Extraction worker processes (or Ray actors).")
@click.option("--engine", default="local", show_default=True, type=click.Choice(["local", "ray"]), help="Extraction engine (ray: pip install 'emoalign[ray]').")
@click.option("--memory-mb", default=DEFAULT_MEMORY_BUDGET // 2**20, show_default=True, type=click.IntRange(16), help="Working memory of exact pairing.")
@click.option("--full-softmax/--no-full-softmax", default=True, show_default=True, help="Also store the paper's S over all images.")
@progress_option
@click.option("--overwrite", is_flag=True, help="Replace a finished run in OUT (the feature store in it is kept).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def build_pairs_cmd(music_src, image_src, out_dir, alpha, top_k, keep, semantic, seed, temperature, s_norm, method, candidates, affect,
                    nrc_vad, features, workers, engine, memory_mb, full_softmax, progress, overwrite, as_json) -> None:
    """Pair every clip of --music with its --keep best images of --images by T = αS + (1−α)E."""
    from emoalign.data.base import split_music_images
    from emoalign.pair.build import PairsConfig, build_pairs

    if temperature != "auto":
        try:
            temperature = float(temperature)
        except ValueError:
            raise click.BadParameter(f"{temperature!r}: expected 'auto' or a number", param_hint="--temperature") from None
    try:
        config = PairsConfig(alpha=alpha, top_k=top_k, keep=keep, semantic=semantic, temperature=temperature, s_norm=s_norm,
                             method=method, candidates=candidates, full_softmax=full_softmax, affect=affect, nrc_vad=nrc_vad, seed=seed,
                             memory_budget=memory_mb * 2**20, workers=workers, engine=engine, features=features)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    (mspec, msrc), (ispec, isrc) = open_spec(music_src, "--music"), open_spec(image_src, "--images")
    music, _ = split_music_images(msrc.records(mspec.split))
    _, images = split_music_images(isrc.records(ispec.split))
    sources = {"music": music_src, "images": image_src, "music_report": msrc.report.to_dict(), "images_report": isrc.report.to_dict()}
    try:
        summary = build_pairs(music, images, out_dir, config, sources=sources, progress=resolve_progress(progress),
                              overwrite=overwrite)
    except (ValueError, ImportError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    except RuntimeError as exc:  # the store's EncoderLoadError: an encoder's model or dependency is missing
        if type(exc).__name__ != "EncoderLoadError":
            raise
        raise click.ClickException(f"cannot load an encoder: {exc}") from None
    if as_json:
        print_json(summary)
        return
    c, cmp = summary["counts"], summary["comparison"]
    click.echo(f"{c['pairs']} pairs for {c['music_paired']} clips from {c['images_available']} images → {out_dir}")
    click.echo(f"semantic backend: {summary['semantic']['backend']} (space {summary['semantic']['space']}; {summary['semantic']['reason']})")
    click.echo(f"affect: music {summary['affect']['music']}, images {summary['affect']['images']}\n")
    keys = ["category_agreement", "valence_sign_agreement", "mean_va_distance", "mean_E", "mean_cos"]
    rows = [["α = 1 (semantic only)", *[cmp["semantic_only"].get(k) for k in keys]]]
    if "paper_candidates" in cmp:
        rows.append([f"α = {alpha:g}, paper's top-{top_k} candidates", *[cmp["paper_candidates"].get(k) for k in keys]])
    rows.append([f"α = {alpha:g}, {summary['candidates']['mode']} candidates", *[cmp["emotion_aware"].get(k) for k in keys]])
    print_table(["", *keys], rows)
    cands = summary["candidates"]
    if "certified_share" in cands:
        click.echo(f"\ncandidates: {cands['per_clip_mean']:g} per clip; picks provably the collection's best by T for "
                   f"{cands['certified_share']:.1%} of clips" + (f", {cands['scanned_clips']} clip(s) scanned" if cands["scanned_clips"] else ""))
    click.echo(f"\npairs shared with α = 1: {cmp['shared_pairs']:.1%}; plot: {Path(out_dir) / 'pairs_distributions.png'}")
    if summary["problems_total"]:
        click.echo(f"{summary['problems_total']} problem(s), e.g. {summary['problems'][0]} (all in summary.json)")


@click.group()
def matching() -> None:
    """The EMID-Emotion-Matching yes/no set (HF datasets + chat JSONL) from a paired source."""


@matching.command("build")
@click.option("--source", "source", required=True, metavar="SOURCE", help="Paired source, NAME:PATH (emid, emid-hub, pairs, …).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--max-rows", default=MAX_SOURCE_ROWS, show_default=True, type=click.IntRange(1), help="Clips (rows) taken, in source order.")
@click.option("--negatives-per-positive", default=NEGATIVES_PER_POSITIVE, show_default=True, type=click.IntRange(0))
@click.option("--train-fraction", default=TRAIN_FRACTION, show_default=True, type=click.FloatRange(0, 1), help="Share of clips in train.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--templates", type=click.Path(exists=True, dir_okay=False), default=None, help="Question templates, one per line.")
@click.option("--hf/--no-hf", default=True, show_default=True, help="Write the datasets DatasetDict (OUT/hf).")
@click.option("--jsonl/--no-jsonl", default=True, show_default=True, help="Write chat JSONL (OUT/jsonl).")
@progress_option
@click.option("--overwrite", is_flag=True, help="Replace a finished run in OUT (never files emoalign did not write).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def build_matching_cmd(source, out_dir, max_rows, negatives_per_positive, train_fraction, seed, templates, hf, jsonl, progress,
                       overwrite, as_json) -> None:
    """Positives (clip, own image), negatives (image of another tag), questions, split by clip."""
    from emoalign.pair.matching import MatchingConfig
    from emoalign.pair.matching_build import build_matching_dir

    kwargs = {}
    if templates:
        lines = [ln.strip() for ln in Path(templates).read_text("utf-8").splitlines() if ln.strip()]
        if not lines:
            raise click.BadParameter(f"{templates}: no templates", param_hint="--templates")
        kwargs["templates"] = tuple(lines)
    config = MatchingConfig(max_rows=max_rows, negatives_per_positive=negatives_per_positive,
                            train_fraction=train_fraction, seed=seed, **kwargs)
    _, src = open_spec(source, "--source")
    try:
        summary = build_matching_dir(src, out_dir, config, hf=hf, jsonl=jsonl, progress=resolve_progress(progress),
                                     overwrite=overwrite)
    except (ValueError, NotImplementedError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        print_json(summary)
        return
    counts = summary["counts"]
    click.echo(f"{summary['rows_used']} clips from {source} → {out_dir}")
    print_table(["split", "examples", "positives", "negatives", "clips", "images"],
                [[s, *[counts[s][k] for k in ("examples", "positives", "negatives", "clips", "images")]] for s in ("train", "test")])
    click.echo(f"clips in both splits: {counts['clips_in_both_splits']}; outputs: {summary['outputs']}")
    if summary["problems_total"]:
        click.echo(f"{summary['problems_total']} problem(s), e.g. {summary['problems'][0]}")
