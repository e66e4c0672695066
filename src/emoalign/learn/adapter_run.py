"""The two jobs behind ``emoalign adapter train`` and ``emoalign adapter evaluate``.

``train_adapter`` reads pairs, featurizes both sides, splits *by music clip* (by recording where
clips carry one), fits the standardisation (if any) on the training items, trains the adapter
(epoch chosen on validation pairs only) and saves it with ``data.json`` — the pairs source, the
featurizer and every clip's split — and ``training.png``.

``evaluate_adapter`` reloads that exact data and split and reports, on the test split (once),
semantic-only, emotion-only, the T-score ranking (α chosen on validation unless given) and the
adapter side by side; writes ``metrics.json``, ``report.md`` and the training-curve plot.

>>> summary = train_adapter("emid:EMID/", "out/adapter", features_dir="out/feats")  # doctest: +SKIP
>>> report = evaluate_adapter("out/adapter", out="out/adapter-eval")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from emoalign.learn.adapter import AdapterConfig, AdapterFormatError, EMIAdapter
from emoalign.learn.adapter_data import DEFAULT_FRACTIONS, SPLITS, PairData, split_by_music, split_index
from emoalign.learn.adapter_eval import evaluate_split, markdown_table, plot_history, ranks_for_pairs, results_table, semantic_matrix, tune_alpha
from emoalign.learn.adapter_io import load_pair_data, standardised, write_json
from emoalign.learn.train import refuse_existing
from emoalign.store.featurize import Featurizer, Resolved, standardise_items

DATA_FILE = "data.json"
PLOT_FILE = "training.png"


def semantic_val_r10(data: PairData, val_music: np.ndarray) -> dict[str, float]:
    """Validation Recall@10 of the semantic-only ranking (for the training plot), if a joint space."""
    from emoalign.learn.adapter_eval import _galleries

    m, i, pos = _galleries(data, val_music)
    cos = semantic_matrix(data, m, i)
    if cos is None:
        return {}
    r1, r2 = ranks_for_pairs(cos, pos)
    return {"semantic-only m→i": float((r1 <= 10).mean()), "semantic-only i→m": float((r2 <= 10).mean())}


def train_adapter(
    pairs: str,
    out: str | Path,
    *,
    featurizer: Featurizer | None = None,
    features_dir: str | Path | None = None,
    config: AdapterConfig | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    split_seed: int = 0,
    split_by: str = "recording",
    workers: int | None = None,
    progress: bool = False,
    on_epoch=None,
    overwrite: bool = False,
) -> dict:
    """Train and save an adapter on a pairs source; returns a summary (counts, best epoch, time).

    An adapter already in ``out`` is refused before any work unless ``overwrite``.

    ``split_by="recording"`` keeps clips of one source recording (the record's ``group``) in one
    split; ``"clip"`` splits clip by clip (for collections whose recordings are not independent of
    their labels, e.g. generated fixtures with one recording per emotion category).
    """
    if split_by not in ("recording", "clip"):
        raise ValueError(f"split_by must be 'recording' or 'clip', got {split_by!r}")
    out = Path(out)
    refuse_existing(out / "config.json", "a trained adapter", overwrite)
    data, resolved, report = load_pair_data(pairs, featurizer or Featurizer(), features_dir, workers=workers, progress=progress)
    groups = (data.groups or None) if split_by == "recording" else None
    splits = split_by_music(len(data.music), groups, fractions, split_seed)
    tr, va = split_index(splits, "train"), split_index(splits, "val")
    data = standardised(data, resolved, tr)
    cfg = config or AdapterConfig()
    adapter = EMIAdapter(cfg).fit(data.music, data.images, data.pairs_of(tr), val_pairs=data.pairs_of(va) if len(va) else None,
                                  progress=on_epoch)
    adapter.save(out)
    features_dir = features_dir or (Path(report["path"]) if report["source"] == "pairs" else None)
    meta = {
        "pairs": pairs, "features": str(Path(features_dir).resolve()) if features_dir else None,
        "featurizer": resolved.to_dict(),
        "split": {"seed": split_seed, "fractions": list(map(float, fractions)), "by": split_by,
                  "music": dict(zip(data.music.ids, splits.tolist()))},
        "counts": {s: {"clips": int((splits == s).sum()), "pairs": int(len(data.pairs_of(split_index(splits, s))))} for s in SPLITS},
        "report": report,
    }
    write_json(out / DATA_FILE, meta)
    plot_history(adapter.history_, out / PLOT_FILE, baselines=semantic_val_r10(data, va),
                 title=f"EMI-Adapter ({cfg.variant}) on {report['source']}: {report['pairs_used']} pairs")
    return {
        "model": str(out), "variant": cfg.variant, "best_epoch": adapter.config.best_epoch, "seconds": adapter.config.seconds,
        "epochs_run": len(adapter.history_) - 1, "space": adapter.config.space_id, "parameters": adapter.n_parameters(),
        "featurizer": {k: v for k, v in resolved.to_dict().items() if k != "stats"}, "counts": meta["counts"],
        "history": adapter.history_, "problems_total": report["problems_total"],
    }


def load_training_data(model: str | Path, pairs: str | None = None, features_dir: str | Path | None = None,
                       *, workers: int | None = None, progress: bool = False) -> tuple[EMIAdapter, PairData, np.ndarray, Resolved, dict]:
    """(adapter, standardised data, split per clip, featurizer, data.json) exactly as at training time."""
    model = Path(model)
    ad = EMIAdapter.load(model)
    path = model / DATA_FILE
    if not path.is_file():
        raise AdapterFormatError(f"{model}: no {DATA_FILE}; train with `emoalign adapter train` (or pass the data yourself)")
    meta = json.loads(path.read_text())
    resolved = Resolved.from_dict(meta["featurizer"])
    data, _, report = load_pair_data(pairs or meta["pairs"], resolved, features_dir or meta.get("features"), workers=workers, progress=progress)
    assigned = meta["split"]["music"]
    missing = [m for m in data.music.ids if m not in assigned]
    if missing:
        raise ValueError(f"{len(missing)} clips were not in the data the adapter was trained on (e.g. {missing[:3]}); "
                         "evaluate on the same pairs source")
    splits = np.array([assigned[m] for m in data.music.ids])
    data = replace(data, music=standardise_items(data.music, "music", resolved), images=standardise_items(data.images, "image", resolved))
    return ad, data, splits, resolved, meta


def evaluate_adapter(
    model: str | Path,
    *,
    pairs: str | None = None,
    features_dir: str | Path | None = None,
    split: str = "test",
    alpha: float | None = None,
    out: str | Path | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> dict:
    """Side-by-side retrieval metrics on ``split`` (α of the T-score tuned on ``val`` unless given)."""
    ad, data, splits, resolved, meta = load_training_data(model, pairs, features_dir, workers=workers, progress=progress)
    test = split_index(splits, split)
    val = split_index(splits, "val")
    if len(test) == 0:
        raise ValueError(f"the {split} split is empty")
    alpha_grid = None
    if alpha is None:
        if data.joint and len(val):
            alpha, alpha_grid = tune_alpha(data, val, temperature=0.05)
        else:
            alpha = 0.6
    name = f"adapter ({ad.config.variant}{'' if ad.config.use_affect else ', no affect'})"
    results = evaluate_split(data, test, adapters={name: ad}, alpha=alpha)
    results["_data"].update({
        "split": split, "alpha_chosen_on": "validation" if alpha_grid else "given", "alpha_grid": alpha_grid,
        "pairs_source": meta["pairs"], "featurizer": {k: v for k, v in resolved.to_dict().items() if k != "stats"},
        "adapter": {"variant": ad.config.variant, "best_epoch": ad.config.best_epoch, "use_affect": ad.config.use_affect,
                    "space": ad.config.space_id},
    })
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "metrics.json", results)
        headers, rows = results_table(results)
        d = results["_data"]
        md = [
            f"# EMI-Adapter evaluation ({split} split)", "",
            f"- pairs: `{meta['pairs']}`; featurizer: {resolved.backend or 'separate encoders'} "
            f"({resolved.music_encoder} / {resolved.image_encoder}), affect from {resolved.affect}",
            f"- {d['clips']} clips, {d['images']} images, {d['pairs']} pairs in this split; joint input space: {d['joint_space']}",
            f"- T-score α = {d['alpha']:g} ({d['alpha_chosen_on']}), τ = {d['temperature']:g}; adapter {ad.config.variant}, "
            f"epoch {ad.config.best_epoch} chosen on validation",
            "", markdown_table(headers, rows), "",
            "Semantic-only and T-score need music and images in one space; they are absent otherwise.", "",
            f"![training]({PLOT_FILE})", "",
        ]
        (out / "report.md").write_text("\n".join(md), encoding="utf-8")
        plot_history(ad.history_, out / PLOT_FILE, baselines=semantic_val_r10(data, val),
                     title=f"EMI-Adapter ({ad.config.variant}): training loss and validation Recall@10")
    return results
