"""``emoalign pairs build``: two collections → EMID-style emotion-aware pairs, written to a folder.

1. **Semantic vectors** through the feature store (`emoalign.store.extract`, resumable, nothing
   computed twice; local worker processes or ``engine="ray"``) with a semantic backend
   (`emoalign.encode.joint`): both sides in one space. An interrupted run resumes from the store,
   and the exact search resumes from its finished row blocks (``OUT/.pairing-checkpoint``).
2. **Affect** per item. ``affect="auto"``: a record's own valence/arousal (EMID clips: their
   listener ratings) and its own labels (EMID images: the Mikels tag, placed at the tag's point in
   the taxonomy — Warriner norms by default, NRC-VAD as in the paper with ``nrc_vad=``); items with
   neither go through the offline default affect encoders (the registry's music and image defaults), also via the
   store. ``affect="encoder"`` uses the encoders for everything.
3. **Pairing** (`emoalign.pair.pairing.pair_arrays`): candidates, S, E, T, keep M — at the chosen
   α and at α = 1. Candidates (``candidates=``, `emoalign.pair.candidates`): ``semantic`` is the
   paper's top-K by cosine; ``auto`` (default) makes them emotion-aware when α < 1 (``global``:
   the picks are the best by T over the whole collection), and the paper's picks at α are kept
   for the comparison.
4. **Outputs** (`emoalign.data.built_pairs` layout) and the comparison (`emoalign.pair.report`): α = 1
   vs α, and with emotion-aware candidates also the paper's candidates at α.

Emotion categories for the comparison live in one taxonomy (``category_taxonomy``, Mikels' 8): an
image's tag as is; a clip's label (EMID: its genre letter's category) carried over with
`emoalign.affect.map_distribution`; an encoder's distribution likewise; a bare V–A point by its
nearest label.

>>> from emoalign.data import open_source
>>> src = open_source("emid", "EMID/")  # doctest: +SKIP
>>> recs = list(src.records())  # doctest: +SKIP
>>> summary = build_pairs([r for r in recs if r.modality == "music"], [r for r in recs if r.modality == "image"], "out/pairs")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from emoalign.affect import category_from, get_taxonomy, list_taxonomies, load_nrc_vad
from emoalign.data.base import drop_duplicate_ids
from emoalign.data.built_pairs import BASELINE_FILE, CANDIDATES_FILE, COMPONENTS, PAIRS_FILE, PLOT_FILE, RECORDS_FILE, SUMMARY_FILE
from emoalign.encode.joint import choose_backend, input_records, prepare_pair_vectors
from emoalign.encode.registry import DEFAULTS
from emoalign.pair.blocked import DEFAULT_MEMORY_BUDGET
from emoalign.pair.pairing import PairingResult, pair_arrays
from emoalign.pair.report import compare, plot_distributions
from emoalign.pair.score import DEFAULT_TOP_K, PAPER_ALPHA, PAPER_KEEP, PAPER_TEMPERATURE, S_NORMS
from emoalign.types import IMAGE_MODALITIES, MUSIC_MODALITIES, Record

#: Finished row blocks of the exact search while a build runs (removed once the outputs are written).
CHECKPOINT_DIR = ".pairing-checkpoint"
#: Where embedded media (records with bytes, no path) are written, relative to the output folder.
MEDIA_DIR = "media"
#: Everything one run writes besides summary.json (the completion marker, written last).
RUN_FILES = (PAIRS_FILE, BASELINE_FILE, CANDIDATES_FILE, RECORDS_FILE, PLOT_FILE, MEDIA_DIR)


@dataclass
class PairsConfig:
    """Settings of one pairing run (defaults: the released EMID's α = 0.6, m = 3)."""

    alpha: float = PAPER_ALPHA
    top_k: int = DEFAULT_TOP_K
    keep: int = PAPER_KEEP
    semantic: str = "auto"
    #: τ of S: a number, or "auto" — ImageBind's own logit scale (0.05, the paper) for the imagebind
    #: backend, the space's own cosine spread for every other (`emoalign.pair.score.space_temperature`)
    temperature: float | str = "auto"
    s_norm: str = "relative"
    method: str = "exact"
    candidates: str = "auto"
    full_softmax: bool = True
    affect: str = "auto"
    music_affect_encoder: str = DEFAULTS["music"]
    image_affect_encoder: str = DEFAULTS["image"]
    category_taxonomy: str = "mikels8"
    nrc_vad: str | None = None
    seed: int = 0
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    workers: int | None = None
    engine: str = "local"
    features: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.keep < 1 or self.top_k < self.keep:
            raise ValueError(f"need 1 ≤ keep ≤ top_k, got keep={self.keep}, top_k={self.top_k}")
        if self.temperature != "auto" and not (isinstance(self.temperature, (int, float)) and self.temperature > 0):
            raise ValueError(f"temperature must be 'auto' or a number > 0, got {self.temperature!r}")
        if self.s_norm not in S_NORMS:
            raise ValueError(f"s_norm must be one of {S_NORMS}, got {self.s_norm!r}")
        if self.affect not in ("auto", "encoder"):
            raise ValueError(f"affect must be 'auto' or 'encoder', got {self.affect!r}")
        if self.method not in ("exact", "ivf", "hnsw"):
            raise ValueError(f"method must be exact, ivf or hnsw, got {self.method!r}")
        if self.engine not in ("local", "ray"):
            raise ValueError(f"engine must be 'local' or 'ray', got {self.engine!r}")
        from emoalign.pair.candidates import resolve_mode

        resolve_mode(self.candidates, alpha=self.alpha, method=self.method)  # raises on a bad mode or combination
        if self.s_norm == "softmax" and not (self.full_softmax and self.method == "exact"):
            raise ValueError("s_norm='softmax' needs full_softmax=True and method='exact'")


@dataclass
class Placed:
    """One item's place in the affect space for pairing."""

    valence: float
    arousal: float
    category: str
    origin: str  # "ratings", "labels", "encoder:<name>"


# ---------------------------------------------------------------------------------------------
# Affect
# ---------------------------------------------------------------------------------------------
def place_from_record(record: Record, taxonomy: str, lexicon=None) -> Placed | None:
    """A record's own affect: its valence/arousal (ratings) or its label's point; None if it has neither."""
    if record.valence is not None and record.arousal is not None:
        va = (float(record.valence), float(record.arousal))
        return Placed(*va, category_from(dict(record.labels), None, va, taxonomy), "ratings")
    for name, label in sorted(record.labels.items()):
        if name in list_taxonomies() and label:
            tax = get_taxonomy(name)
            if lexicon is not None:
                tax = tax.with_lexicon(lexicon)
            point = tax.label(label)
            va = (point.valence, point.arousal)
            return Placed(*va, category_from(dict(record.labels), None, va, taxonomy), "labels")
    return None


def _ns(side: str, records: Sequence[Record]) -> list[Record]:
    """Feature-store ids namespaced by side, so a clip and an image with one id never collide."""
    return [replace(r, id=f"{side}:{r.id}") for r in records]


def _stored_ids(table, encoder: str, wanted: Iterable[str]) -> set[str]:
    have = set(table.ids(encoder)) if table.shards(encoder) else set()
    return {w for w in wanted if w in have}


# ---------------------------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------------------------
def build_pairs(
    music: Sequence[Record],
    images: Sequence[Record],
    out_dir: str | Path,
    config: PairsConfig | None = None,
    *,
    sources: dict | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> dict:
    """Pair ``music`` with ``images`` and write the folder (layout: `emoalign.data.built_pairs`). Returns the summary.

    The folder is written atomically (`emoalign.outputs.RunWriter`): a folder holding a finished
    run is refused unless ``overwrite``; files appear together and ``summary.json`` comes last.
    An interrupted run resumes (stored features, pairing checkpoints) when started again.
    """
    from emoalign.outputs import RunWriter

    out_dir = Path(out_dir)
    with RunWriter(out_dir, kind="pairs build", files=RUN_FILES, overwrite=overwrite) as writer:
        return _build_pairs(music, images, out_dir, config or PairsConfig(), sources, progress, writer)


def _build_pairs(music, images, out_dir: Path, config: PairsConfig, sources, progress, writer) -> dict:
    from emoalign.store import FeatureTable, extract

    feat_dir = Path(config.features) if config.features else out_dir
    timing: dict[str, float] = {}
    problems: list[str] = []
    t_start = time.perf_counter()

    music = _dedupe([r for r in music if r.modality in MUSIC_MODALITIES], "music", problems)
    images = _dedupe([r for r in images if r.modality in IMAGE_MODALITIES], "image", problems)
    if not music or not images:
        raise ValueError(f"nothing to pair: {len(music)} music clips and {len(images)} images (after filtering modalities)")

    # 1. semantic vectors through the store
    backend, reason = choose_backend(config.semantic, music, images, media="content")
    m_in, i_in = input_records(backend, music, images)
    text_origins = Counter(r.meta.get("text_origin") for r in [*m_in, *i_in] if r.modality == "text")
    t0 = time.perf_counter()
    extraction = {}
    run = {"workers": config.workers, "engine": config.engine, "progress": progress}
    extraction["semantic_music"] = extract(_ns("music", m_in), backend.music_encoder, feat_dir, **run).to_dict()
    extraction["semantic_images"] = extract(_ns("image", i_in), backend.image_encoder, feat_dir, **run).to_dict()
    table = FeatureTable(feat_dir)
    m_ok = _stored_ids(table, backend.music_encoder, (f"music:{r.id}" for r in music))
    i_ok = _stored_ids(table, backend.image_encoder, (f"image:{r.id}" for r in images))
    timing["semantic_s"] = time.perf_counter() - t0

    # 2. affect
    t0 = time.perf_counter()
    lexicon = load_nrc_vad(config.nrc_vad) if config.nrc_vad else None
    m_place, ex = _place(music, "music", config.music_affect_encoder, config, lexicon, feat_dir, progress)
    extraction.update(ex)
    i_place, ex = _place(images, "image", config.image_affect_encoder, config, lexicon, feat_dir, progress)
    extraction.update(ex)
    timing["affect_s"] = time.perf_counter() - t0

    music_used = [r for r in music if f"music:{r.id}" in m_ok and r.id in m_place]
    images_used = [r for r in images if f"image:{r.id}" in i_ok and r.id in i_place]
    for side, recs, ok, placed in (("music", music, m_ok, m_place), ("image", images, i_ok, i_place)):
        for r in recs:
            if f"{side}:{r.id}" not in ok:
                problems.append(f"{side} {r.id}: no semantic vector (see the feature store's quarantine)")
            elif r.id not in placed:
                problems.append(f"{side} {r.id}: no affect (see the feature store's quarantine)")
    if not music_used or not images_used:
        raise ValueError(f"nothing left to pair: {len(music_used)} clips and {len(images_used)} images have both vectors and affect; "
                         f"first problems: {problems[:5]}")
    Xe = table.vectors([f"music:{r.id}" for r in music_used], encoder=backend.music_encoder)
    Ye = table.vectors([f"image:{r.id}" for r in images_used], encoder=backend.image_encoder)
    X, Y = prepare_pair_vectors(Xe, Ye, standardise=backend.standardise, centre=backend.centre)
    music_va = np.array([[m_place[r.id].valence, m_place[r.id].arousal] for r in music_used])
    image_va = np.array([[i_place[r.id].valence, i_place[r.id].arousal] for r in images_used])

    # 3. pairing
    t0 = time.perf_counter()
    temperature, temperature_basis = _temperature(config.temperature, backend.name, X, Y, config.seed)
    result = pair_arrays(
        X, Y, music_va, image_va, alpha=config.alpha, top_k=config.top_k, keep=config.keep,
        temperature=temperature, s_norm=config.s_norm, method=config.method, candidates=config.candidates,
        full_softmax=config.full_softmax, memory_budget=config.memory_budget, seed=config.seed,
        progress=progress, checkpoint=out_dir / CHECKPOINT_DIR,
    )
    timing["pairing_s"] = time.perf_counter() - t0

    # 4. outputs
    m_cat = np.array([m_place[r.id].category for r in music_used], dtype=object)
    i_cat = np.array([i_place[r.id].category for r in images_used], dtype=object)
    safe_idx = np.where(result.valid, result.index, 0)
    category_agree = (m_cat[:, None] == i_cat[safe_idx]) & result.valid
    polarity_agree = (np.sign(music_va[:, 0])[:, None] == np.sign(image_va[safe_idx, 0])) & result.valid
    comparison = compare(result, category_agree, polarity_agree)

    paths = _write_media_refs(writer, music_used, images_used)
    writer.write_parquet(RECORDS_FILE, _records_table(music_used, images_used, m_place, i_place, paths))
    extra = {"category_agrees": category_agree, "valence_sign_agrees": polarity_agree}
    writer.write_parquet(CANDIDATES_FILE, _candidates_table(result, music_used, images_used, m_cat, i_cat, extra))
    writer.write_parquet(PAIRS_FILE, _picks_table(result.chosen, result, music_used, images_used, m_cat, i_cat, extra, config.alpha))
    writer.write_parquet(BASELINE_FILE, _picks_table(result.baseline, result, music_used, images_used, m_cat, i_cat, extra, 1.0))
    title = f"{backend.name}, {result.candidates} candidates: semantic only vs α = {config.alpha:g} ({len(music_used)} clips)"
    writer.write_with(PLOT_FILE, lambda tmp: plot_distributions(result, tmp, title=title))
    timing["total_s"] = time.perf_counter() - t_start

    summary = {
        "config": asdict(config),
        "sources": sources or {},
        "semantic": {"backend": backend.name, "description": backend.description, "reason": reason,
                     "space": Xe.space, "music_encoder": backend.music_encoder, "image_encoder": backend.image_encoder,
                     "dim": int(X.shape[1]), "temperature": round(temperature, 6), "temperature_basis": temperature_basis,
                     "text_origins": dict(sorted((str(k), v) for k, v in text_origins.items()))},
        "affect": {
            "music": dict(Counter(m_place[r.id].origin for r in music_used)),
            "images": dict(Counter(i_place[r.id].origin for r in images_used)),
            "category_taxonomy": config.category_taxonomy,
            "lexicon": "NRC-VAD (user file)" if config.nrc_vad else "Warriner et al. 2013 (shipped)",
        },
        "counts": {
            "music_in": len(music), "images_in": len(images),
            "music_paired": len(music_used), "images_available": len(images_used),
            "pairs": int((result.chosen >= 0).sum()), "pairs_semantic": int((result.baseline >= 0).sum()),
            "candidates": int(result.valid.sum()),
        },
        "comparison": comparison,
        "candidates": _candidates_summary(result),
        "search": _jsonable(result.stats),
        "extraction": extraction,
        "timing": {k: round(v, 3) for k, v in timing.items()},
        "problems": problems[:200],
        "problems_total": len(problems),
        "files": [PAIRS_FILE, BASELINE_FILE, CANDIDATES_FILE, RECORDS_FILE, SUMMARY_FILE, PLOT_FILE],
    }
    summary = writer.finish(summary)  # summary.json last: the folder is complete from here
    shutil.rmtree(out_dir / CHECKPOINT_DIR, ignore_errors=True)  # everything is written: blocks no longer needed
    return summary


def _temperature(setting, backend: str, X: np.ndarray, Y: np.ndarray, seed: int) -> tuple[float, str]:
    """(τ, why): a number as given; ``auto`` → ImageBind's scale for imagebind, else the space's cosine spread."""
    from emoalign.pair.score import space_temperature

    if setting != "auto":
        return float(setting), "chosen by the user"
    if backend == "imagebind":
        return PAPER_TEMPERATURE, "ImageBind's fixed logit scale 20 (the paper's τ)"
    return space_temperature(X, Y, seed=seed), "the standard deviation of clip–image cosines in this space (sampled)"


def _candidates_summary(result: PairingResult) -> dict:
    """Which candidates were scored, where they came from, and how many clips' picks are provably the best."""
    from emoalign.pair.candidates import ORIGINS

    out: dict = {"mode": result.candidates, "top_k": result.top_k, "per_clip_mean": round(float(result.valid.sum(axis=1).mean()), 3)}
    if result.origin is not None:
        codes = result.origin[result.valid]
        out["origins"] = {name: int((codes == code).sum()) for code, name in ORIGINS.items()}
        picked = np.take_along_axis(result.origin, np.where(result.chosen >= 0, result.chosen, 0), axis=1)[result.chosen >= 0]
        out["picks_by_origin"] = {name: int((picked == code).sum()) for code, name in ORIGINS.items()}
    if result.certified is not None:
        out["certified_share"] = round(float(result.certified.mean()), 4)
        out["scanned_clips"] = int((~result.certified).sum()) if result.candidates == "global" else 0
        out["exact_over_collection"] = result.candidates == "global" or bool(result.certified.all())
    return out


def _dedupe(records: list[Record], side: str, problems: list[str]) -> list[Record]:
    kept, dropped = drop_duplicate_ids(records)
    problems.extend(f"{side} {r.id}: duplicate id; kept the first" for r in dropped)
    return kept


def _place(records, side, encoder, config, lexicon, feat_dir, progress) -> tuple[dict[str, Placed], dict]:
    """Each record's `Placed` (own ratings/labels when allowed, else the affect encoder through the store)."""
    from emoalign.store import FeatureTable, extract

    placed: dict[str, Placed] = {}
    todo = []
    for r in records:
        p = place_from_record(r, config.category_taxonomy, lexicon) if config.affect == "auto" else None
        if p is None:
            todo.append(r)
        else:
            placed[r.id] = p
    extraction = {}
    if todo:
        extraction[f"affect_{side}"] = extract(_ns(side, todo), encoder, feat_dir, workers=config.workers, engine=config.engine, progress=progress).to_dict()
        table = FeatureTable(feat_dir)
        ok = _stored_ids(table, encoder, (f"{side}:{r.id}" for r in todo))
        kept = [r for r in todo if f"{side}:{r.id}" in ok]
        if kept:
            for r, a in zip(kept, table.affects([f"{side}:{r.id}" for r in kept], encoder=encoder)):
                if a is None:
                    continue
                va = (float(a.valence), float(a.arousal))
                placed[r.id] = Placed(*va, category_from(dict(r.labels), a, va, config.category_taxonomy), f"encoder:{encoder}")
    return placed, extraction


def _write_media_refs(writer, music: Sequence[Record], images: Sequence[Record]) -> dict[tuple[str, str], str]:
    """Paths to store per record: absolute file paths, or files written under media/ for embedded bytes."""
    from emoalign.pair.export import safe_name

    out: dict[tuple[str, str], str] = {}
    used: dict[str, set[str]] = {"music": set(), "image": set()}
    staged: Path | None = None
    for side, recs in (("music", music), ("image", images)):
        for r in recs:
            if r.path:
                out[(side, r.id)] = str(Path(r.path).resolve())
            elif r.payload is not None:
                if staged is None:
                    staged = writer.write_with(MEDIA_DIR, lambda tmp: tmp)
                name = safe_name(r.id, used[side])
                (staged / side).mkdir(parents=True, exist_ok=True)
                (staged / side / name).write_bytes(r.payload)
                out[(side, r.id)] = f"{MEDIA_DIR}/{side}/{name}"
    return out


def _records_table(music, images, m_place, i_place, paths):
    import pyarrow as pa

    rows = []
    for side, recs, placed in (("music", music, m_place), ("image", images, i_place)):
        for r in recs:
            p = placed[r.id]
            rows.append({
                "id": r.id, "side": side, "modality": r.modality, "source": r.source, "path": paths.get((side, r.id)),
                "text": r.text, "labels": json.dumps(dict(r.labels), ensure_ascii=False, sort_keys=True),
                "valence": float(p.valence), "arousal": float(p.arousal), "category": p.category, "affect_origin": p.origin,
            })
    return pa.Table.from_pylist(rows)


def _rows_for(picks: np.ndarray, result: PairingResult, music, images, m_cat, i_cat, extra, alpha: float) -> dict[str, list]:
    n, keep = picks.shape
    rows_i, ranks = np.nonzero(picks >= 0)
    cols = picks[rows_i, ranks]
    img = result.index[rows_i, cols]
    T = alpha * result.components["S"][rows_i, cols] + (1 - alpha) * result.components["E"][rows_i, cols]
    from emoalign.pair.candidates import ORIGINS

    data: dict[str, list] = {
        "music_id": [music[i].id for i in rows_i],
        "image_id": [images[j].id for j in img],
        "rank": (ranks + 1).tolist(),
        # the candidate's place in the semantic top-K (None: an emotion-aware candidate from beyond it)
        "semantic_rank": [int(c) + 1 if c < result.top_k else None for c in cols],
        "alpha": [alpha] * len(rows_i),
    }
    if result.origin is not None:
        data["candidate_origin"] = [ORIGINS[int(o)] for o in result.origin[rows_i, cols]]
    for name in COMPONENTS:
        values = result.components[name][rows_i, cols] if name != "T" else T
        data[name] = [None if not np.isfinite(v) else float(v) for v in values]
    data["music_category"] = [m_cat[i] for i in rows_i]
    data["image_category"] = [i_cat[j] for j in img]
    for name, arr in extra.items():
        data[name] = arr[rows_i, cols].tolist()
    return data


def _picks_table(picks, result, music, images, m_cat, i_cat, extra, alpha: float):
    import pyarrow as pa

    return pa.table(_rows_for(picks, result, music, images, m_cat, i_cat, extra, alpha))


def _candidates_table(result: PairingResult, music, images, m_cat, i_cat, extra):
    import pyarrow as pa

    n, k = result.index.shape
    all_cols = np.broadcast_to(np.arange(k), (n, k)).copy()
    all_cols[~result.valid] = -1
    data = _rows_for(all_cols, result, music, images, m_cat, i_cat, extra, result.alpha)
    data.pop("rank")
    rows_i, cols = np.nonzero(all_cols >= 0)
    data["candidate_rank"] = (cols + 1).tolist()  # column in the candidate list (the semantic top-K first)
    return pa.table(data)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (np.floating, float)):
        return round(float(obj), 4)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
