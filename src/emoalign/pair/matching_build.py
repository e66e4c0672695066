"""``emoalign matching build``: a paired source → matching set → HF DatasetDict + chat JSONL.

Output folder::

    OUT/
      hf/                 DatasetDict (train, test) — datasets.load_from_disk("OUT/hf")
      jsonl/train.jsonl   chat-format lines (Qwen2.5-Omni style)
      jsonl/test.jsonl
      jsonl/media/audio/  one 16 kHz mono WAV per clip
      jsonl/media/images/ one file per image (original bytes)
      examples.jsonl      every example with its ids, tags and split (for audits)
      summary.json        settings, counts per split, problems

>>> from emoalign.data import open_source
>>> summary = build_matching_dir(open_source("emid", "EMID/"), "out/matching")  # doctest: +SKIP
>>> summary["counts"]["train"]["examples"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

from emoalign.data.base import Source
from emoalign.pair.export import prepare_media, write_hf, write_jsonl
from emoalign.pair.matching import MatchingConfig, MatchingSet, build_matching, select_rows
from emoalign.types import IMAGE_MODALITIES, Record

TAG_TAXONOMY = "mikels8"


def build_matching_dir(
    source: Source,
    out_dir: str | Path,
    config: MatchingConfig | None = None,
    *,
    tag_taxonomy: str = TAG_TAXONOMY,
    hf: bool = True,
    jsonl: bool = True,
    progress: bool = False,
) -> dict:
    """Run the recipe on ``source`` (anything with `pairs` and `records`) and write ``out_dir``.

    Image tags come from each image record's label in ``tag_taxonomy`` (EMID: the Mikels tag;
    built pairs: the image's category), else from the pairs' ``emotion``. Returns the summary.
    """
    config = config or MatchingConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pair_emotion: dict[str, str] = {}
    pairs = []
    for p in source.pairs():
        pairs.append(p)
        if p.same is not False and p.emotion:
            pair_emotion.setdefault(p.image_id, p.emotion)
    rows = select_rows(pairs, config.max_rows)
    audio_ids = {m for m, _ in rows}
    image_ids = {i for _, imgs in rows for i in imgs}
    tags: dict[str, str] = {}

    def tagged(records: Iterator[Record]) -> Iterator[Record]:
        for r in records:
            if r.id in image_ids and r.modality in IMAGE_MODALITIES and r.labels.get(tag_taxonomy):
                tags.setdefault(r.id, r.labels[tag_taxonomy])
            yield r

    media_root = out_dir / "jsonl" / "media"
    shutil.rmtree(media_root, ignore_errors=True)
    media = prepare_media(tagged(source.records()), audio_ids, image_ids, media_root, progress=progress)
    for image_id, emotion in pair_emotion.items():
        tags.setdefault(image_id, emotion)
    usable_rows = [
        (m, [i for i in imgs if i in media.images])
        for m, imgs in rows if m in media.audio
    ]
    usable_rows = [(m, imgs) for m, imgs in usable_rows if imgs]
    ms: MatchingSet = build_matching(usable_rows, tags, config)
    ms.problems[:0] = media.problems
    _write_examples(out_dir / "examples.jsonl", ms)
    outputs = {}
    if jsonl:
        outputs["jsonl"] = {k: str(v.relative_to(out_dir)) for k, v in write_jsonl(ms.examples, media, out_dir / "jsonl").items()}
    if hf:
        outputs["hf"] = str(write_hf(ms.examples, media, out_dir / "hf", progress=progress).relative_to(out_dir))
    summary = {
        "source": {"name": source.name, "root": str(source.root)},
        "config": asdict(config),
        "tag_taxonomy": tag_taxonomy,
        "rows_selected": len(rows),
        "rows_used": len(ms.rows),
        "counts": ms.counts(),
        "outputs": outputs,
        "source_report": source.report.to_dict(),
        "problems": ms.problems[:200],
        "problems_total": len(ms.problems),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary


def _write_examples(path: Path, ms: MatchingSet) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for e in ms.examples:
            fh.write(json.dumps(asdict(e), ensure_ascii=False) + "\n")
