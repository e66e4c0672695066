"""Plots people would rather look at than read: taxonomies in V–A space, confusion matrices, …

All functions write a PNG and return its path. matplotlib is imported when a plot is drawn, not
when the module is imported, and its backend is left as the user chose it (`pyplot`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np


def pyplot():
    """``matplotlib.pyplot`` for drawing a figure to a file.

    The non-interactive Agg backend is selected only when nothing chose a backend (no
    ``MPLBACKEND``, no ``matplotlib.use``, pyplot not yet imported) and there is no display, so
    a notebook or a desktop session keeps its own backend and a server or CI never needs a GUI.

    >>> pyplot().__name__
    'matplotlib.pyplot'
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules and _backend_unset(matplotlib) and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _backend_unset(matplotlib) -> bool:
    if os.environ.get("MPLBACKEND"):
        return False
    get = getattr(matplotlib.rcParams, "_get_backend_or_none", None)
    return get() is None if get is not None else True


def _has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _save(fig, out: str | Path) -> Path:
    plt = pyplot()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_taxonomies(out: str | Path, names: Sequence[str] | None = None) -> Path:
    """Every label of the given taxonomies (default: all) as a point in valence–arousal space.

    >>> plot_taxonomies("va.png", ["mikels8", "emid13"]).stat().st_size > 10_000
    True
    """
    from emoalign.affect import get_taxonomy, list_taxonomies

    plt = pyplot()
    names = list(names) if names else list(list_taxonomies())
    fig, ax = plt.subplots(figsize=(12, 10), dpi=110)
    markers = "osD^vP*Xh<>"
    cmap = plt.get_cmap("tab10")
    for i, name in enumerate(names):
        tax = get_taxonomy(name)
        va = tax.va
        ax.scatter(va[:, 0], va[:, 1], s=36, marker=markers[i % len(markers)], color=cmap(i % 10),
                   label=f"{tax.name} ({len(tax)})", alpha=0.85, edgecolors="white", linewidths=0.5)
        for label, (v, a) in zip(tax.labels, va):
            ax.annotate(label.name, (v, a), fontsize=6.5, color=cmap(i % 10), xytext=(3, 2), textcoords="offset points")
    ax.axhline(0, color="grey", lw=0.6)
    ax.axvline(0, color="grey", lw=0.6)
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_xlabel("valence (negative → positive)")
    ax.set_ylabel("arousal (calm → excited)")
    ax.set_title("Emotion taxonomies in valence–arousal space (Warriner et al. 2013 norms, scaled to [-1, 1])")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.2)
    return _save(fig, out)


def plot_confusion(matrix: np.ndarray, labels: Sequence[str], out: str | Path, title: str = "") -> Path:
    """A row-normalised confusion matrix with counts in each cell."""
    matrix = np.asarray(matrix, dtype=float)
    norm = matrix / np.clip(matrix.sum(axis=1, keepdims=True), 1, None)
    n = len(labels)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 0.55 * n + 2), max(4, 0.5 * n + 1.5)), dpi=110)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    ax.set_title(title)
    return _save(fig, out)


def plot_per_class(per_class: dict[str, dict[str, float]], out: str | Path, metrics: Sequence[str] = ("recall", "f1"), title: str = "") -> Path:
    """Grouped horizontal bars of per-class metrics (e.g. recall and F1 per emotion)."""
    labels = list(per_class)
    y = np.arange(len(labels))
    height = 0.8 / len(metrics)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, max(3, 0.32 * len(labels) + 1.2)), dpi=110)
    for k, m in enumerate(metrics):
        vals = [per_class[l].get(m) or 0.0 for l in labels]
        ax.barh(y + k * height, vals, height=height, label=m)
    ax.set_yticks(y + height * (len(metrics) - 1) / 2, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, out)
