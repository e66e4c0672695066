"""Train a head on cached embeddings of any data source, save it, evaluate it on a split.

The three tasks a source's targets can pose:

- ``single``: one label per record (``Record.labels[target]``) → `LinearClassifierHead`;
  reported with accuracy, weighted F1, macro F1, UAR and a confusion matrix.
- ``multilabel``: shares of annotators per label (``Record.scores[target]``, e.g. EmoNet-Face
  binary) → `MultiLabelHead` (one logistic regression per emotion); reported with per-emotion AUC.
- ``intensity``: 0–7 intensities per label (EmoNet-Face hq/big) → `IntensityHead`; reported with
  quadratic-weighted kappa against each rater (``Record.meta["raters"]``), as the EmoNet-Face paper.
- ``regression``: target ``va`` — valence and arousal per record (``Record.valence/arousal``, e.g.
  a ratings CSV ``path,valence,arousal``) → `LinearRegressorHead`, its ridge alpha chosen by
  5-fold CV grouped by ``Record.group``; reported with Pearson r and mean absolute error.

Embeddings go through the feature store (``emoalign.store``), so nothing is computed twice.

>>> from emoalign.data.fixtures import ravdess
>>> root = str(ravdess.make("fixtures")["ravdess"])  # four generated actors in RAVDESS's layout
>>> model = train_head(TrainConfig("ravdess", root, "speech-egemaps", "ravdess8", train_split="actors:1-2",
...                                features="feats", out="model", workers=1, progress=False))
>>> report = evaluate_head("model", "ravdess", root, split="actors:3-4", out="report", workers=1, progress=False)
>>> report["n"], report["accuracy"] > 1 / 8  # held-out actors, better than chance over eight emotions
(30, True)
"""

from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emoalign.affect import get_taxonomy
from emoalign.data import open_source
from emoalign.encode.heads import LinearClassifierHead, LinearRegressorHead
from emoalign.learn.multilabel import IntensityHead, MultiLabelHead
from emoalign.types import Record

TASKS = ("auto", "single", "multilabel", "intensity", "regression")
#: The target name of the valence/arousal regression task.
VA_TARGET = "va"
#: Ridge alphas tried for the regression task (on standardised features).
REGRESSION_ALPHAS = (1.0, 10.0, 100.0, 1000.0, 10000.0)


@dataclass
class TrainConfig:
    source: str
    path: str
    encoder: str
    target: str
    train_split: str | None = "train"
    features: str = "features"
    out: str = "model"
    task: str = "auto"
    C: float = 1.0
    holdout: float = 0.0
    seed: int = 0
    workers: int | None = None
    progress: bool | None = None
    #: adapter options of the source (e.g. ``{"modality": "speech"}`` for EmotionTalk)
    source_options: dict = field(default_factory=dict)
    #: "none", or how records are grouped into speakers for per-speaker z-normalisation of the
    #: embeddings: "group" (the source's own group, e.g. RAVDESS actors), "folder" or "csv".
    speaker_norm: str = "none"
    speakers: str | None = None
    #: replace a model already in ``out`` (otherwise it is refused, naming --overwrite)
    overwrite: bool = False


def hash_split(records: Sequence[Record], fraction: float, seed: int = 0) -> tuple[list[Record], list[Record]]:
    """Split records into (kept, held out) by a stable hash of their group (speaker, …) or id.

    Sources that ship one split (EmoNet-Face) still get a held-out part this way, and records of
    one group never straddle the two parts.

    >>> from emoalign.types import Record
    >>> rs = [Record(id=str(i), modality="text", source="x", text="t") for i in range(100)]
    >>> kept, held = hash_split(rs, 0.2)
    >>> len(kept) + len(held), 10 < len(held) < 30
    (100, True)
    """
    import hashlib

    if not 0.0 < fraction < 1.0:
        raise ValueError(f"holdout fraction must be in (0, 1), got {fraction}")
    kept, held = [], []
    for r in records:
        digest = hashlib.sha256(f"{seed}:{r.group or r.id}".encode()).digest()
        (held if int.from_bytes(digest[:8], "big") / 2**64 < fraction else kept).append(r)
    return kept, held


SPEAKER_NORMS = ("none", "group", "folder", "csv")


def record_speakers(records: Sequence[Record], mode: str, speakers: str | Path | None = None) -> list[str] | None:
    """One speaker id per record for per-speaker normalisation (None for ``mode="none"``).

    ``"group"``: the source's own group (``Record.group``: RAVDESS actor, EmotionTalk speaker);
    ``"folder"``/``"csv"``: as ``emoalign analyze --speaker-norm`` (`emoalign.data.speakers`).

    >>> from emoalign.types import Record
    >>> record_speakers([Record(id="a", modality="speech", source="x", path="a.wav", group="actor01")], "group")
    ['actor01']
    """
    if mode not in SPEAKER_NORMS:
        raise ValueError(f"speaker norm must be one of {', '.join(SPEAKER_NORMS)}, got {mode!r}")
    if mode == "none":
        return None
    if mode == "group":
        missing = [r.id for r in records if not r.group]
        if missing:
            raise ValueError(f"speaker norm 'group': records without a group, e.g. {missing[:3]} (use folder or csv)")
        return [str(r.group) for r in records]
    from emoalign.data.speakers import speaker_ids

    no_path = [r.id for r in records if not r.path]
    if no_path:
        raise ValueError(f"speaker norm {mode!r} needs file paths; records without one, e.g. {no_path[:3]}")
    return speaker_ids([r.path for r in records], mode, speakers)


def _speaker_normalise(X: np.ndarray, speakers: Sequence[str], pooled: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(X z-normalised per speaker, pooled within-speaker scale): the speech encoder's transform."""
    from emoalign.encode.speech import DEFAULT_SHRINK, pooled_within_speaker_scale, speaker_znorm

    if pooled is None:
        pooled = pooled_within_speaker_scale(X, speakers)
    return speaker_znorm(X, speakers, pooled, DEFAULT_SHRINK), pooled


class NoTrainingDataError(ValueError):
    """The source gave no usable examples for the requested target/split."""


def _records(source: str, path: str, split: str | None, options: dict | None = None) -> list[Record]:
    src = open_source(source, path, **(options or {}))
    return list(src.records(split=split) if split else src.records())


def infer_task(records: Sequence[Record], target: str) -> str:
    """'single' if records carry a label for ``target``, else 'multilabel'/'intensity' from their scores; 'regression' for ``va``."""
    if target == VA_TARGET:
        return "regression"
    if any(r.label(target) for r in records) and not any(target in r.scores for r in records):
        return "single"
    values = [v for r in records for v in r.scores.get(target, {}).values()]
    if not values:
        if any(r.label(target) for r in records):
            return "single"
        raise NoTrainingDataError(f"no record has a label or scores for target {target!r}")
    return "multilabel" if max(values) <= 1.0 else "intensity"


def embed(
    records: Sequence[Record], encoder: str, features: str | Path, *, workers: int | None = None, progress: bool | None = None
) -> tuple[np.ndarray, list[Record], str]:
    """Vectors for ``records`` through the feature store; returns (X, records kept, space id).

    Records whose input failed to encode are dropped (they stay listed in the store's quarantine).
    """
    from emoalign.store import FeatureTable, extract

    extract(records, encoder, features, workers=workers, progress=progress)
    table = FeatureTable(features)
    stored = set(table.ids(encoder)) if table.shards(encoder) else set()
    kept = [r for r in records if r.id in stored]
    if not kept:
        raise NoTrainingDataError(f"encoder {encoder!r} produced no vectors for these {len(records)} records (see `emoalign features info {features}`)")
    emb = table.vectors([r.id for r in kept], encoder=encoder)
    return emb.vectors, kept, emb.space


def _targets(records: Sequence[Record], target: str, task: str, labels: Sequence[str]) -> tuple[np.ndarray | list[str], list[Record]]:
    if task == "regression":
        kept = [r for r in records if r.valence is not None and r.arousal is not None]
        return np.array([[r.valence, r.arousal] for r in kept], dtype=np.float64).reshape(len(kept), 2), kept
    if task == "single":
        kept = [r for r in records if r.label(target)]
        return [r.label(target) for r in kept], kept
    kept = [r for r in records if r.scores.get(target)]
    index = {l: j for j, l in enumerate(labels)}
    Y = np.zeros((len(kept), len(labels)))
    for i, r in enumerate(kept):
        for l, v in r.scores[target].items():
            Y[i, index[get_taxonomy(target).label(l).name] if target in _taxonomies() else index[l]] = v
    return Y, kept


def _taxonomies() -> set[str]:
    from emoalign.affect import list_taxonomies

    return set(list_taxonomies())


def _label_set(records: Sequence[Record], target: str, task: str) -> list[str]:
    if task == "regression":
        return ["valence", "arousal"]
    if target in _taxonomies():
        return list(get_taxonomy(target).names)
    if task == "single":
        return sorted({r.label(target) for r in records if r.label(target)})
    return sorted({l for r in records for l in r.scores.get(target, {})})


def refuse_existing(marker: Path, what: str, overwrite: bool) -> None:
    """Refuse to replace ``what`` (whose presence ``marker`` shows) unless ``overwrite``: checked
    before any work, so a mistyped folder costs nothing."""
    from emoalign.outputs import OutputExistsError

    if marker.exists() and not overwrite:
        raise OutputExistsError(f"{marker.parent}: already holds {what} ({marker.name}); pass --overwrite to replace it, or choose another folder")


def train_head(cfg: TrainConfig) -> Path:
    """Fit a head for ``cfg.target`` on ``cfg.encoder`` embeddings of the train split; save it in ``cfg.out``."""
    if cfg.task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}")
    if cfg.speaker_norm not in SPEAKER_NORMS:
        raise ValueError(f"speaker norm must be one of {', '.join(SPEAKER_NORMS)}, got {cfg.speaker_norm!r}")
    refuse_existing(Path(cfg.out) / "model.json", "a trained model", cfg.overwrite)
    records = _records(cfg.source, cfg.path, cfg.train_split, cfg.source_options)
    if not records:
        raise NoTrainingDataError(f"{cfg.source} at {cfg.path} has no records in split {cfg.train_split!r}")
    held: list[Record] = []
    if cfg.holdout:
        records, held = hash_split(records, cfg.holdout, cfg.seed)
    task = infer_task(records, cfg.target) if cfg.task == "auto" else cfg.task
    labels = _label_set(records, cfg.target, task)
    _, with_target = _targets(records, cfg.target, task, labels)
    if task == "regression" and not with_target:
        raise NoTrainingDataError(f"no record of {cfg.source} at {cfg.path} has both valence and arousal "
                                  "(a ratings CSV needs 'path', 'valence' and 'arousal' columns)")
    X, kept, space = embed(with_target, cfg.encoder, cfg.features, workers=cfg.workers, progress=cfg.progress)
    Y, kept = _targets(kept, cfg.target, task, labels)
    meta: dict[str, Any] = {"encoder": cfg.encoder, "space": space, "target": cfg.target, "task": task,
            "trained_on": {"source": cfg.source, "split": cfg.train_split, "n": len(kept)},
            "holdout_ids": sorted(r.id for r in held)}
    if cfg.speaker_norm != "none":
        spk = record_speakers(kept, cfg.speaker_norm, cfg.speakers)
        X, pooled = _speaker_normalise(X, spk)
        meta["speaker_norm"] = cfg.speaker_norm
        meta["speakers_in_training"] = len(set(spk))
        meta["pooled_scale"] = [float(f"{v:.6g}") for v in pooled]
    if task == "single":
        present = sorted(set(Y))
        if len(present) < 2:
            raise NoTrainingDataError(f"training needs at least 2 classes of {cfg.target!r}; found {present}")
        head = LinearClassifierHead(C=cfg.C, meta=meta).fit(X, Y)
    elif task == "multilabel":
        head = MultiLabelHead(labels=tuple(labels), C=cfg.C, meta=meta).fit(X, Y)
    elif task == "regression":
        head = fit_regressor(X, np.asarray(Y), [r.group or r.id for r in kept], meta)
    else:
        head = IntensityHead(labels=tuple(labels), alpha=1.0 / cfg.C, meta=meta).fit(X, Y)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    head.save(out / "head.npz")
    from emoalign.outputs import write_atomic

    model = {"config": asdict(cfg), **{k: v for k, v in meta.items()}, "labels": list(labels)}
    data = json.dumps(model, indent=2, ensure_ascii=False).encode("utf-8")
    write_atomic(out / "model.json", lambda fh: fh.write(data))  # last: the model is complete
    return out


def fit_regressor(X: np.ndarray, Y: np.ndarray, groups: Sequence[str], meta: dict[str, Any]) -> LinearRegressorHead:
    """Valence/arousal ridge; alpha by grouped 5-fold CV (mean Pearson r of the two), recorded in ``meta``."""
    from sklearn.model_selection import GroupKFold

    if len(Y) < 4:
        raise NoTrainingDataError(f"the valence/arousal regressor needs at least 4 rated items, got {len(Y)}")
    if np.ptp(Y, axis=0).min() == 0:
        raise NoTrainingDataError("every item has the same valence or the same arousal: nothing to learn")
    k = min(5, len(set(groups)))
    scores: dict[float, float] = {}
    if k >= 2:
        folds = list(GroupKFold(k).split(X, groups=groups))
        for alpha in REGRESSION_ALPHAS:
            pred = np.zeros_like(Y)
            for tr, te in folds:
                pred[te] = LinearRegressorHead(alpha=alpha).fit(X[tr], Y[tr]).predict(X[te])
            rs = [np.corrcoef(pred[:, j], Y[:, j])[0, 1] for j in range(2)]
            scores[alpha] = float(np.nanmean(rs)) if not np.all(np.isnan(rs)) else -1.0
    alpha = max(scores, key=scores.get) if scores else 100.0
    meta.update({"alpha": alpha, "cv_mean_pearson": {str(a): v for a, v in scores.items()}})
    return LinearRegressorHead(alpha=alpha, meta=meta).fit(X, Y)


def load_model(model_dir: str | Path) -> tuple[Any, dict]:
    model_dir = Path(model_dir)
    if not (model_dir / "model.json").is_file():
        raise FileNotFoundError(f"{model_dir}: not a model folder (no model.json); train one with `emoalign train`")
    info = json.loads((model_dir / "model.json").read_text())
    cls = {"single": LinearClassifierHead, "multilabel": MultiLabelHead, "intensity": IntensityHead,
           "regression": LinearRegressorHead}[info["task"]]
    return cls.load(model_dir / "head.npz"), info


def evaluate_head(model_dir: str | Path, source: str, path: str, *, split: str | None, out: str | Path,
                  features: str | Path | None = None, workers: int | None = None, progress: bool | None = None,
                  source_options: dict | None = None, speaker_norm: str | None = None,
                  speakers: str | None = None) -> dict:
    """Evaluate a trained head on one split of a source; writes metrics.json, report.md and figures to ``out``.

    A head trained with speaker normalisation is evaluated the same way: each evaluated speaker's
    vectors are normalised with that speaker's own (unlabelled) statistics. ``speaker_norm``
    (default: the training grouping) and ``speakers`` choose how evaluated records form speakers.
    """
    from emoalign.eval.metrics import per_label_auc, quadratic_weighted_kappa
    from emoalign.eval.report import write_classification_report, write_table_report

    head, info = load_model(model_dir)
    features = features or info["config"]["features"]
    if split == "holdout":  # the part `train --holdout` kept back, by id
        held = set(info.get("holdout_ids") or [])
        if not held:
            raise ValueError(f"{model_dir} was trained without --holdout: there is no held-out part to evaluate")
        records = [r for r in _records(source, path, info["config"]["train_split"], source_options) if r.id in held]
    else:
        records = _records(source, path, split, source_options)
    labels = info["labels"]
    _, with_target = _targets(records, info["target"], info["task"], labels)
    if not with_target:
        raise NoTrainingDataError(f"{source} split {split!r} has no examples of {info['target']!r}")
    X, kept, space = embed(with_target, info["encoder"], features, workers=workers, progress=progress)
    if space != info["space"]:
        raise ValueError(f"model was trained on vectors of space {info['space']!r}, these are {space!r}")
    Y, kept = _targets(kept, info["target"], info["task"], labels)
    trained_norm = info.get("speaker_norm", "none")
    norm = speaker_norm or trained_norm
    if (norm == "none") != (trained_norm == "none"):
        raise ValueError(f"{model_dir} was trained with speaker norm {trained_norm!r}; evaluate it with a speaker "
                         f"grouping too ({', '.join(SPEAKER_NORMS[1:])})" if trained_norm != "none" else
                         f"{model_dir} was trained without speaker normalisation; evaluate it with --speaker-norm none")
    if norm != "none":
        X, _ = _speaker_normalise(X, record_speakers(kept, norm, speakers), np.asarray(info["pooled_scale"]))
    context = {"model": str(model_dir), "encoder": info["encoder"], "source": source, "split": split,
               "trained on": f"{info['trained_on']['source']} / {info['trained_on']['split']} ({info['trained_on']['n']} items)",
               "evaluated items": len(kept), "skipped (no vector)": len(with_target) - len(kept),
               "speaker norm": norm}
    title = f"{info['target']} on {source} / {split or 'all'}"
    if info["task"] == "single":
        return write_classification_report(Y, head.predict(X), out, labels=labels, title=title, context=context)
    if info["task"] == "regression":
        pred = np.clip(head.predict(X), -1.0, 1.0)
        Y = np.asarray(Y)
        metrics: dict[str, Any] = {"n": len(kept)}
        for j, dim in enumerate(("valence", "arousal")):
            ok = len(kept) > 1 and np.ptp(Y[:, j]) > 0 and np.ptp(pred[:, j]) > 0
            metrics[f"{dim}_pearson"] = float(np.corrcoef(pred[:, j], Y[:, j])[0, 1]) if ok else None
            metrics[f"{dim}_mae"] = float(np.abs(pred[:, j] - Y[:, j]).mean())
        return write_table_report(metrics, out, title=title, context=context)
    if info["task"] == "multilabel":
        truth = (np.asarray(Y) >= 0.5).astype(int)
        auc = per_label_auc(truth, head.predict_proba(X), labels)
        valid = [v for v in auc.values() if v is not None]
        metrics = {"mean_auc": float(np.mean(valid)) if valid else None, "labels_with_auc": len(valid), "n": len(kept)}
        return write_table_report(metrics, out, title=title, per_label={l: {"auc": a} for l, a in auc.items()},
                                  per_label_metric="auc", context=context)
    # intensity: quadratic-weighted kappa of the model against each rater, per emotion, averaged
    pred = head.predict(X)
    per_rater: dict[str, list[float]] = {}
    per_label: dict[str, dict[str, Any]] = {l: {} for l in labels}
    for j, l in enumerate(labels):
        for rater, ratings in _rater_matrix(kept, labels).items():
            mask = ~np.isnan(ratings[:, j])
            if mask.sum() >= 2:
                k = quadratic_weighted_kappa(pred[mask, j], ratings[mask, j])
                per_rater.setdefault(rater, []).append(k)
                per_label[l][rater] = k
    metrics = {f"qwk_vs_{r}": float(np.mean(v)) for r, v in per_rater.items()}
    metrics["qwk_mean"] = float(np.mean([np.mean(v) for v in per_rater.values()])) if per_rater else None
    metrics["n"] = len(kept)
    return write_table_report(metrics, out, title=title, per_label=per_label, context=context)


def _rater_matrix(records: Sequence[Record], labels: Sequence[str]) -> dict[str, np.ndarray]:
    """rater → (n_records, n_labels) ratings, NaN where that rater did not rate that record."""
    index = {l: j for j, l in enumerate(labels)}
    out: dict[str, np.ndarray] = {}
    for i, r in enumerate(records):
        raters = r.meta.get("raters") or {}
        if isinstance(raters, str):
            raters = ast.literal_eval(raters)
        for rater, ratings in raters.items():
            m = out.setdefault(rater, np.full((len(records), len(labels)), np.nan))
            for l, v in ratings.items():
                if l in index:
                    m[i, index[l]] = v
    return out
