"""How the emotional term changed the pairs: α = 1 (semantic only) against the chosen α.

With emotion-aware candidates (`emoalign.pair.candidates`) a third set is reported: the paper's
procedure at the same α (T over the semantic top-K only), so what the candidates add is measured
on the same data in the same run.

For each set of picks: the share of pairs whose emotion category agrees (clip and image mapped to
one taxonomy, Mikels' 8 by default), the share whose valence sign agrees, the mean valence–arousal
distance, the mean E and the mean cosine (what the emotional term cost semantically), and how many
picks the two sets share. `plot_distributions` draws the V–A distance and E of both sets (the
comparison the paper's Figure 5 makes) to a PNG.

>>> import numpy as np
>>> d = np.array([[0.1, 0.5]]); agree = np.array([[True, False]])
>>> summarise_picks(np.array([[0, 1]]), {"va_dist": d, "E": d, "cos": d}, agree, agree)["category_agreement"]
0.5
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _gather(arr: np.ndarray, picks: np.ndarray) -> np.ndarray:
    ok = picks >= 0
    vals = np.take_along_axis(arr, np.where(ok, picks, 0), axis=1).astype(np.float64)
    return vals[ok]


def summarise_picks(picks: np.ndarray, components: dict[str, np.ndarray], category_agree: np.ndarray, polarity_agree: np.ndarray) -> dict:
    """Means over the picked candidates (``picks``: (N, keep) candidate columns, −1 = none)."""
    n = int((picks >= 0).sum())
    if n == 0:
        return {"pairs": 0}
    return {
        "pairs": n,
        "category_agreement": float(_gather(category_agree, picks).mean()),
        "valence_sign_agreement": float(_gather(polarity_agree, picks).mean()),
        "mean_va_distance": float(_gather(components["va_dist"], picks).mean()),
        "mean_E": float(_gather(components["E"], picks).mean()),
        "mean_cos": float(_gather(components["cos"], picks).mean()),
    }


def overlap(a: np.ndarray, b: np.ndarray, index: np.ndarray) -> float:
    """Share of the pairs in ``a`` that ``b`` also picked (same clip, same image)."""
    ia = np.where(a >= 0, np.take_along_axis(index, np.where(a >= 0, a, 0), axis=1), -1)
    ib = np.where(b >= 0, np.take_along_axis(index, np.where(b >= 0, b, 0), axis=1), -1)
    total = int((ia >= 0).sum())
    if total == 0:
        return 1.0
    hits = ((ia[:, :, None] == ib[:, None, :]) & (ia[:, :, None] >= 0)).any(axis=2).sum()
    return float(hits / total)


def compare(result, category_agree: np.ndarray, polarity_agree: np.ndarray) -> dict:
    """The α = 1 baseline vs the chosen α, and their overlap (for summary.json)."""
    keys = ("category_agreement", "valence_sign_agreement", "mean_va_distance", "mean_E", "mean_cos")
    base = summarise_picks(result.baseline, result.components, category_agree, polarity_agree)
    chosen = summarise_picks(result.chosen, result.components, category_agree, polarity_agree)
    candidates = getattr(result, "candidates", "semantic")
    out = {
        "semantic_only": {"alpha": 1.0, **base},
        "emotion_aware": {"alpha": float(result.alpha), "candidates": candidates, **chosen},
        "shared_pairs": overlap(result.chosen, result.baseline, result.index),
        "change": {k: chosen[k] - base[k] for k in keys if k in chosen and k in base},
    }
    paper_picks = getattr(result, "paper", None)
    if paper_picks is not None:
        paper = summarise_picks(paper_picks, result.components, category_agree, polarity_agree)
        out["paper_candidates"] = {"alpha": float(result.alpha), "candidates": "semantic", **paper}
        out["shared_with_paper"] = overlap(result.chosen, paper_picks, result.index)
        out["change_vs_paper"] = {k: chosen[k] - paper[k] for k in keys if k in chosen and k in paper}
    return out


def plot_distributions(result, path: str | Path, *, title: str = "") -> Path:
    """Histograms of the picks' V–A distance and E at α = 1 and at the chosen α (a PNG)."""
    from emoalign.eval.plots import pyplot

    plt = pyplot()
    path = Path(path)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    series = {"semantic only (α = 1)": result.baseline}
    if getattr(result, "paper", None) is not None:
        series[f"paper's top-K candidates (α = {result.alpha:g})"] = result.paper
    series[f"emotion-aware, {getattr(result, 'candidates', 'semantic')} candidates (α = {result.alpha:g})"] = result.chosen
    colours = ("#7f7f7f", "#1f77b4", "#d62728")[-len(series):] if len(series) == 3 else ("#7f7f7f", "#d62728")
    styles = ("stepfilled", "step", "step")
    for ax, (key, label, rng) in zip(axes, [("va_dist", "valence–arousal distance of the pair", (0, 2 * np.sqrt(2))),
                                            ("E", "emotional score E", (0, 1))]):
        bins = np.linspace(*rng, 29)
        for (name, picks), colour, style in zip(series.items(), colours, styles):
            values = _gather(result.components[key], picks)
            ax.hist(values, bins=bins, histtype=style, alpha=0.5 if style == "stepfilled" else 1.0, linewidth=2, color=colour,
                    label=f"{name}: mean {values.mean():.3f}" if values.size else name)
        ax.set_xlabel(label)
        ax.set_ylabel("pairs")
        ax.legend(fontsize=8)
    fig.suptitle(title or "How the emotional term changes the pairs")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
