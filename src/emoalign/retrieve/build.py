"""Building and updating a match index from a data source (or files): featurize, adapt, store.

``build_index`` reads every music clip and image of a source, embeds them through the feature
store with the featurizer (a joint backend, or the one an EMI-Adapter was trained with), maps
them into the adapter's space when an adapter is given, and writes a `VectorIndex` whose
metadata holds each item's emotion category, valence, arousal and path. The featurizer (with
its standardisation statistics) and a copy of the adapter are saved with the index, so a
query is embedded exactly like the items.

>>> summary = build_index("emid:EMID/", "out/index", adapter="out/adapter")  # doctest: +SKIP
>>> summary["items"]  # doctest: +SKIP
{'music': 10738, 'image': 22017}
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from emoalign.data.base import drop_duplicate_ids, split_music_images
from emoalign.data.spec import parse_source_spec
from emoalign.numeric import unit_rows
from emoalign.retrieve.match import ADAPTER_DIR
from emoalign.store.featurize import Featurizer, Resolved, featurize_records, standardise_items
from emoalign.store.index import IVF_THRESHOLD, ItemMeta, VectorIndex
from emoalign.store.items import ItemSet
from emoalign.types import Record

ADAPTER_FILES = ("config.json", "weights.npz", "history.json", "data.json")


def read_records(spec: str) -> tuple[list[Record], list[Record], dict]:
    """(music records, image records, source report) of any source given as ``NAME:PATH``."""
    parsed = parse_source_spec(spec)
    src = parsed.open()
    music, images = split_music_images(src.records(parsed.split))
    return music, images, src.report.to_dict()


def records_from_files(files: Sequence[str | Path]) -> list[Record]:
    """Records for loose files (modality sniffed from the content; unknown kinds are refused)."""
    from emoalign.media.decode import sniff_kind

    out = []
    for f in files:
        p = Path(f)
        with open(p, "rb") as fh:
            kind = sniff_kind(fh.read(64))
        if kind not in ("audio", "image"):
            raise ValueError(f"{p}: not a recognised image or audio file")
        out.append(Record(id=p.name, modality="music" if kind == "audio" else "image", source="files", path=str(p.resolve())))
    return out


def load_adapter(folder: str | Path):
    """(adapter, resolved featurizer) of an adapter folder written by ``emoalign adapter train``."""
    from emoalign.learn.adapter import AdapterFormatError, EMIAdapter

    folder = Path(folder)
    ad = EMIAdapter.load(folder)
    data = folder / "data.json"
    if not data.is_file():
        raise AdapterFormatError(f"{folder}: no data.json (how the adapter's inputs were made); train it with `emoalign adapter train`")
    return ad, Resolved.from_dict(json.loads(data.read_text())["featurizer"])


def _index_vectors(items: ItemSet, side: str, resolved: Resolved, adapter) -> np.ndarray:
    items = standardise_items(items, side, resolved)
    if adapter is not None:
        return adapter.transform(items, role="item", modality=side)
    return unit_rows(items.vectors, np.float64).astype(np.float32)


def _metas(items: ItemSet, side: str) -> list[ItemMeta]:
    return [
        ItemMeta(id=i, modality=side, label=lab, taxonomy=items.taxonomy, valence=float(va[0]), arousal=float(va[1]),
                 path=m.get("path"), source=m.get("source"))
        for i, lab, va, m in zip(items.ids, items.labels, items.va, items.meta or [{}] * len(items))
    ]


def build_index(
    source: str | None,
    out: str | Path,
    *,
    files: Sequence[str | Path] = (),
    adapter: str | Path | None = None,
    featurizer: Featurizer | None = None,
    features_dir: str | Path | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    ivf_threshold: int = IVF_THRESHOLD,
    progress: bool = False,
) -> dict:
    """Build an index at ``out`` from a source (``NAME:PATH``) and/or files; returns a summary."""
    t0 = time.perf_counter()
    out = Path(out)
    unfinished = _unfinished_build(out)
    if (out / "manifest.json").exists() and not overwrite and not unfinished:  # refuse now, not after minutes of embedding
        raise FileExistsError(f"{out} already holds an index (pass overwrite=True to replace it)")
    music, images, report = read_records(source) if source else ([], [], {})
    for r in records_from_files(files):
        (music if r.modality == "music" else images).append(r)
    if not music and not images:
        raise ValueError(f"{source or files}: no music or image records to index")
    duplicates: list[str] = []
    music, images = _unique_ids(music, duplicates), _unique_ids(images, duplicates, seen={r.id for r in music})
    ad = None
    if adapter is not None:
        ad, resolved = load_adapter(adapter)
    else:
        resolved = (featurizer or Featurizer()).resolve(music, images)
        if not resolved.joint:
            raise ValueError(
                f"music ({resolved.music_encoder}, space {resolved.music_space}) and images ({resolved.image_encoder}, "
                f"space {resolved.image_space}) are in different spaces: pass an adapter trained on them (--adapter) or a joint backend"
            )
    features_dir = Path(features_dir) if features_dir else out / "features"
    parts, problems, counts = [], list(duplicates), {}
    for side, recs in (("music", music), ("image", images)):
        if not recs:
            continue
        items, _, probs = featurize_records(recs, side, resolved, features_dir, workers=workers, progress=progress)
        problems += probs
        if resolved.standardise and side not in resolved.stats:
            resolved.fit_stats(side, items.vectors)  # the collection's own statistics (no labels used)
        parts.append((side, items))
        counts[side] = len(items)
    space = ad.config.space_id if ad is not None else resolved.music_space
    vecs = [_index_vectors(items, side, resolved, ad) for side, items in parts if len(items)]
    metas = [m for side, items in parts for m in _metas(items, side)]
    if not metas:
        raise ValueError(f"nothing could be embedded; first problems: {problems[:3]}")
    info = {
        "featurizer": resolved.to_dict(), "adapter": ADAPTER_DIR if ad is not None else None,
        "source": source, "built_from_files": len(files),
        "complete": False,  # until the items are in: readers refuse an index whose build was stopped
    }
    overwrite = overwrite or unfinished  # our own stopped build is resumed, not protected
    if overwrite and out.exists() and (out / ADAPTER_DIR).exists():
        shutil.rmtree(out / ADAPTER_DIR)
    index = VectorIndex.create(out, space=space, dim=vecs[0].shape[1], info=info, ivf_threshold=ivf_threshold, overwrite=overwrite)
    if ad is not None:
        (out / ADAPTER_DIR).mkdir(parents=True, exist_ok=True)
        for f in ADAPTER_FILES:
            if (Path(adapter) / f).is_file():
                shutil.copy2(Path(adapter) / f, out / ADAPTER_DIR / f)
    index.manifest["info"]["complete"] = True  # committed together with the items (one manifest write)
    index.add(np.concatenate(vecs), metas, space=space)
    return {
        "index": str(out), "space": space, "dim": index.dim, "items": counts, "problems": problems[:50],
        "problems_total": len(problems), "source_report": report, "seconds": round(time.perf_counter() - t0, 3),
        "segments": index.summary()["segments"],
    }


def _unfinished_build(out: Path) -> bool:
    """True when ``out`` holds an index whose `build_index` was stopped before its items were added."""
    import json

    try:
        manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and (manifest.get("info") or {}).get("complete") is False


def _unique_ids(records: list, problems: list[str], seen: set[str] | None = None) -> list:
    """The records with ids not seen before; each duplicate is reported (an index holds one item per id)."""
    kept, dropped = drop_duplicate_ids(records, seen)
    problems.extend(f"{r.path or r.id}: duplicate id {r.id!r} (kept the first item with it)" for r in dropped)
    return kept


def add_to_index(
    index_dir: str | Path,
    *,
    source: str | None = None,
    files: Sequence[str | Path] = (),
    features_dir: str | Path | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> dict:
    """Embed new items like the index's own and add them (items with an existing id are replaced)."""
    from emoalign.retrieve.match import Matcher

    m = Matcher(index_dir)
    music, images, report = read_records(source) if source else ([], [], {})
    for r in records_from_files(files):
        (music if r.modality == "music" else images).append(r)
    features_dir = Path(features_dir) if features_dir else Path(index_dir) / "features"
    added, problems = {}, []
    vecs, metas = [], []
    for side, recs in (("music", music), ("image", images)):
        if not recs:
            continue
        items, _, probs = featurize_records(recs, side, m.resolved, features_dir, workers=workers, progress=progress)
        problems += probs
        if len(items):
            vecs.append(_index_vectors(items, side, m.resolved, m.adapter))
            metas += _metas(items, side)
        added[side] = len(items)
    if metas:
        m.index.add(np.concatenate(vecs), metas, space=m.index.space)
    return {"index": str(index_dir), "added": added, "items": len(m.index), "problems": problems[:50],
            "problems_total": len(problems), "source_report": report}

