"""From a pairs source to the adapter's arrays (`PairData`), through the featurizer.

`load_pair_data` reads a pairs source (``emid``, ``emid-hub``, ``pairs`` from ``emoalign pairs
build`` — anything whose `Source.pairs` yields `Pair`s), extracts features through the feature store
(`emoalign.store.extract`; ids are namespaced ``music:``/``image:`` like ``pairs build``, so a
pairs folder's own ``features/`` is reused), and returns a `PairData`. How an item becomes a vector
and an affect is `emoalign.store.featurize`'s job.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from emoalign.data.base import split_music_images
from emoalign.data.spec import SourceSpec, parse_source_spec
from emoalign.learn.adapter_data import PairData
from emoalign.store.featurize import Featurizer, Resolved, featurize_records, standardise_items
from emoalign.types import Record


# ---------------------------------------------------------------------------------------------
# Pairs sources → PairData
# ---------------------------------------------------------------------------------------------
def read_pairs_source(spec: SourceSpec) -> tuple[list[Record], list[Record], list[tuple[str, str]], dict]:
    """(music records, image records, (music id, image id) pairs, source report) of a pairs source."""
    src = spec.open()
    music, images = split_music_images(src.records(spec.split))
    try:
        pairs = [(p.music_id, p.image_id) for p in src.pairs()]
    except NotImplementedError:
        raise ValueError(f"source {spec.name!r} has no music–image pairs; train on emid, emid-hub or a pairs folder") from None
    return music, images, pairs, src.report.to_dict()


def load_pair_data(
    spec: str,
    featurizer: Featurizer | Resolved,
    features_dir: str | Path | None = None,
    *,
    workers: int | None = None,
    progress: bool = False,
) -> tuple[PairData, Resolved, dict]:
    """Read a pairs source, featurize both sides, and return (PairData with raw vectors, resolved featurizer, report).

    ``features_dir`` defaults to the pairs folder for a ``pairs`` source (reusing what ``pairs build``
    computed) and must be given otherwise.
    """
    parsed = parse_source_spec(spec)
    name, path = parsed.name, parsed.path
    music, images, pairs, report = read_pairs_source(parsed)
    if features_dir is None:
        if name != "pairs":
            raise ValueError(f"pass a features folder for source {name!r} (where extracted features are kept)")
        features_dir = path
    resolved = featurizer if isinstance(featurizer, Resolved) else featurizer.resolve(music, images)
    m_items, m_recs, m_prob = featurize_records(music, "music", resolved, features_dir, workers=workers, progress=progress)
    i_items, i_recs, i_prob = featurize_records(images, "image", resolved, features_dir, workers=workers, progress=progress)
    m_pos, i_pos = m_items.position(), i_items.position()
    kept = [(m_pos[m], i_pos[i]) for m, i in pairs if m in m_pos and i in i_pos]
    groups = tuple(str(r.group or r.id) for r in m_recs)
    data = PairData(m_items, i_items, np.array(kept, np.int64).reshape(-1, 2), groups,
                    description={"source": name, "path": str(path)})
    counts = {
        "source": name, "path": str(path), "music_records": len(music), "image_records": len(images),
        "pairs_listed": len(pairs), "music_used": len(m_items), "images_used": len(i_items), "pairs_used": int(len(data.pairs)),
        "problems": (m_prob + i_prob)[:50], "problems_total": len(m_prob) + len(i_prob), "source_report": report,
    }
    if len(data.pairs) == 0:
        raise ValueError(f"{spec}: no usable pairs ({counts['music_used']} clips and {counts['images_used']} images featurized; "
                         f"first problems: {counts['problems'][:3]})")
    return data, resolved, counts


def standardised(data: PairData, resolved: Resolved, train_music: np.ndarray) -> PairData:
    """Fit the featurizer's standardisation on the training items (clips of the train split and their
    images) and return the data with it applied to every item."""
    if not resolved.standardise:
        return data
    train_images = np.unique(data.pairs_of(train_music)[:, 1])
    resolved.fit_stats("music", data.music.vectors[train_music])
    resolved.fit_stats("image", data.images.vectors[train_images])
    return replace(data, music=standardise_items(data.music, "music", resolved), images=standardise_items(data.images, "image", resolved))


def write_json(path: str | Path, obj: Any) -> None:
    from emoalign.store.features import write_atomic

    data = json.dumps(obj, indent=1, ensure_ascii=False, default=_default).encode()
    write_atomic(Path(path), lambda fh: fh.write(data))


def _default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def counts_of(labels: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(labels).items()))
