"""Counting what a source holds: records per split, per label and modality, and what was skipped."""

from __future__ import annotations

from collections import Counter


def inspect_source(path: str, source: str, *, strict: bool = False, split: str | None = None, options: dict | None = None) -> dict:
    """Count a source's records per split and label; returns a JSON-ready dict (used by ``emoalign datasets inspect`` and the demo)."""
    from emoalign.data import open_source

    src = open_source(source, path, strict=strict, **(options or {}))
    taxonomy = getattr(src, "taxonomy", None)
    per_split: Counter = Counter()
    per_label: Counter = Counter()
    modalities: Counter = Counter()
    ids: Counter = Counter()
    for record in src.records(split=split):
        ids[record.id] += 1
        s = record.split or "(none)"
        per_split[s] += 1
        modalities[record.modality] += 1
        label = record.labels.get(taxonomy) if taxonomy else None
        per_label[(s, label if label is not None else "(unlabelled)")] += 1
    return {
        "source": source,
        "path": str(path),
        "taxonomy": taxonomy,
        "split_filter": split,
        "records": sum(per_split.values()),
        "splits": dict(sorted(per_split.items())),
        "modalities": dict(sorted(modalities.items())),
        "labels": [{"split": s, "label": l, "count": n} for (s, l), n in sorted(per_label.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))],
        "duplicate_ids": {"count": sum(1 for n in ids.values() if n > 1),
                          "examples": [i for i, n in ids.items() if n > 1][:5]},
        "report": src.report.to_dict(),
        "summary": src.report.summary(),
    }
