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
>>> from emoalign.data.fixtures.emid import make
>>> summary = build_matching_dir(open_source("emid", make("fixtures")["emid"]), "matching", hf=False)
>>> summary["counts"]["train"]["examples"], summary["counts"]["clips_in_both_splits"]
(126, 0)
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

from emoalign.data.base import Source
from emoalign.pair.export import prepare_media, write_hf, write_jsonl
from emoalign.pair.matching import MatchingConfig, MatchingSet, build_matching, select_rows
from emoalign.types import IMAGE_MODALITIES, Record

TAG_TAXONOMY = "mikels8"
#: Everything one run writes besides summary.json (the completion marker, written last).
RUN_FILES = ("hf", "jsonl", "examples.jsonl")


def build_matching_dir(
    source: Source,
    out_dir: str | Path,
    config: MatchingConfig | None = None,
    *,
    tag_taxonomy: str = TAG_TAXONOMY,
    hf: bool = True,
    jsonl: bool = True,
    progress: bool = False,
    overwrite: bool = False,
) -> dict:
    """Run the recipe on ``source`` (anything with `pairs` and `records`) and write ``out_dir``.

    Image tags come from each image record's label in ``tag_taxonomy`` (EMID: the Mikels tag;
    built pairs: the image's category), else from the pairs' ``emotion``. Returns the summary.
    Written atomically (`emoalign.outputs.RunWriter`): an existing run is replaced only with
    ``overwrite``, another command's folder never, and files it did not write are never deleted.
    """
    from emoalign.outputs import RunWriter

    out_dir = Path(out_dir)
    if source.root is not None and Path(source.root).resolve() == out_dir.resolve():
        from emoalign.outputs import OutputExistsError

        raise OutputExistsError(f"{out_dir} is the source folder itself; choose another output folder")
    with RunWriter(out_dir, kind="matching build", files=RUN_FILES, overwrite=overwrite) as writer:
        return _build(source, out_dir, config or MatchingConfig(), tag_taxonomy, hf, jsonl, progress, writer)


def _build(source, out_dir: Path, config: MatchingConfig, tag_taxonomy: str, hf: bool, jsonl: bool, progress: bool, writer) -> dict:
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

    jsonl_dir = writer.write_with("jsonl", lambda tmp: tmp)  # staged; renamed to OUT/jsonl at the end
    media_root = jsonl_dir / "media"
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
    writer.write_with("examples.jsonl", lambda tmp: _write_examples(tmp, ms))
    outputs = {}
    if jsonl:
        outputs["jsonl"] = {k: f"jsonl/{v.name}" for k, v in write_jsonl(ms.examples, media, jsonl_dir).items()}
    if hf:
        writer.write_with("hf", lambda tmp: write_hf(ms.examples, media, tmp, progress=progress))
        outputs["hf"] = "hf"
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
    return writer.finish(summary)  # summary.json last: the folder is complete from here


def _write_examples(path: Path, ms: MatchingSet) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for e in ms.examples:
            fh.write(json.dumps(asdict(e), ensure_ascii=False) + "\n")
