"""Evaluation reports written to a folder: metrics.json, report.md and the figures.

>>> import os
>>> write_classification_report(["a", "b"], ["a", "a"], "eval", title="demo")["accuracy"]
0.5
>>> sorted(os.listdir("eval"))
['confusion.png', 'metrics.json', 'per_class.png', 'report.md']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from emoalign.eval.metrics import classification_report
from emoalign.eval.plots import plot_confusion, plot_per_class


def write_classification_report(
    y_true: Sequence[str], y_pred: Sequence[str], out_dir: str | Path, *, labels: Sequence[str] | None = None,
    title: str = "", context: dict[str, Any] | None = None,
) -> dict:
    """Compute accuracy / weighted F1 / macro F1 / UAR and write metrics.json, report.md, PNGs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rep = classification_report(y_true, y_pred, labels)
    rep["context"] = context or {}
    (out / "metrics.json").write_text(json.dumps(rep, indent=2, ensure_ascii=False))
    plot_confusion(rep["confusion"], rep["labels"], out / "confusion.png", title=title or "confusion matrix")
    plot_per_class(rep["per_class"], out / "per_class.png", title=title or "per-class recall and F1")
    lines = [f"# {title or 'Evaluation'}", ""]
    for k, v in (context or {}).items():
        lines.append(f"- {k}: {v}")
    lines += ["", "| metric | value |", "|---|---|"]
    for k in ("n", "accuracy", "weighted_f1", "macro_f1", "uar"):
        v = rep[k]
        lines.append(f"| {k} | {v if isinstance(v, int) else f'{v:.4f}'} |")
    lines += ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, m in rep["per_class"].items():
        lines.append(f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    lines += ["", "![confusion](confusion.png)", "", "![per class](per_class.png)", ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return rep


def write_table_report(metrics: dict[str, Any], out_dir: str | Path, *, title: str, per_label: dict[str, dict[str, Any]] | None = None,
                       per_label_metric: str | None = None, context: dict[str, Any] | None = None) -> dict:
    """Reports for multi-label / intensity tasks (per-label AUC, quadratic-weighted kappa)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"metrics": metrics, "per_label": per_label or {}, "context": context or {}}
    (out / "metrics.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    lines = [f"# {title}", ""] + [f"- {k}: {v}" for k, v in (context or {}).items()]
    lines += ["", "| metric | value |", "|---|---|"] + [f"| {k} | {_fmt(v)} |" for k, v in metrics.items()]
    if per_label:
        cols = sorted({c for row in per_label.values() for c in row})
        lines += ["", "| label | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        lines += [f"| {l} | " + " | ".join(_fmt(row.get(c)) for c in cols) + " |" for l, row in per_label.items()]
        if per_label_metric:
            plot_per_class({l: {per_label_metric: row.get(per_label_metric)} for l, row in per_label.items()},
                           out / "per_label.png", metrics=(per_label_metric,), title=title)
            lines += ["", "![per label](per_label.png)"]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return payload


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)
