"""Side-by-side retrieval evaluation: semantic-only, emotion-only, T-score and EMI-Adapter rankings.

For a set of music clips (one split) the gallery is every image paired with them, and the music
gallery is the clips themselves. Each method gives a (clips × images) score matrix; music→image
ranks each clip's images (relevant: the clip's paired images), image→music ranks each image's
clips (relevant: the clips it is paired with). Reported per direction: Recall@1/5/10 (the first
relevant item within the top K, `emoalign.eval.metrics.recall_at_k`), mean and median rank of
the first relevant item (`ranks_of_targets`), and **emotion agreement@10**: the share of the
top-10 results whose emotion category is one of the categories of the query's true partners
(images: their Mikels tag; clips: their EMID letter) — "are the suggestions at least
emotionally right?".

Methods
-------
``semantic``  cosine in the joint input space (EMID's α = 1 baseline; needs one space for both).
``emotion``   E = (1 + cos_VA)/2, the V–A closeness of EMID's pairing step (`emoalign.pair.score`).
``tscore``    T = α·S + (1−α)·E with S the paper's softmax at τ = 0.05 rescaled per query row
              (``S_rel``, see `emoalign.pair.score`); α fixed or chosen on validation pairs.
``adapter``   an `EMIAdapter`'s score (one entry per trained adapter, e.g. with and without affect).

Ties (emotion-only scores from discrete labels tie a lot) are broken by a seeded random jitter far
below any real score difference, so tied items are ranked in random order instead of all
counting as "first".

>>> import numpy as np
>>> s = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.1]])
>>> pos = np.array([[False, False, True], [False, True, False]])
>>> [r.tolist() for r in ranks_for_pairs(s, pos)]
[[2, 1], [1, 1]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from emoalign.eval.metrics import ranks_of_targets, recall_at_k
from emoalign.learn.adapter_data import PairData
from emoalign.numeric import unit_rows

KS: tuple[int, ...] = (1, 5, 10)
DIRECTIONS: tuple[str, ...] = ("music_to_image", "image_to_music")
TIE_JITTER = 1e-9


def _jitter(scores: np.ndarray, seed: int | None) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if seed is None:
        return s
    span = float(np.nanmax(np.abs(s))) if s.size else 1.0
    return s + np.random.default_rng(seed).uniform(0.0, TIE_JITTER * max(span, 1.0), size=s.shape)


def ranks_for_pairs(scores: np.ndarray, positives: np.ndarray, *, tie_seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rank of the first relevant item per row (music→image) and per column (image→music).

    ``scores`` (n_music, n_images), ``positives`` boolean of the same shape; rows/columns
    without any positive are left out.
    """
    s = _jitter(scores, tie_seed)
    positives = np.asarray(positives, dtype=bool)
    rows = np.flatnonzero(positives.any(axis=1))
    cols = np.flatnonzero(positives.any(axis=0))
    r_m2i = ranks_of_targets(s[rows], [np.flatnonzero(positives[r]) for r in rows]) if len(rows) else np.zeros(0, np.int64)
    sT = s.T
    r_i2m = ranks_of_targets(sT[cols], [np.flatnonzero(positives[:, c]) for c in cols]) if len(cols) else np.zeros(0, np.int64)
    return r_m2i, r_i2m


def agreement_at_k(scores: np.ndarray, gallery_labels: Sequence[str], wanted: Sequence[set[str]], k: int = 10, *, tie_seed: int | None = 0) -> float:
    """Mean share of each query row's top-``k`` gallery items whose label is in that row's ``wanted`` set."""
    s = _jitter(scores, tie_seed)
    if s.shape[0] == 0 or not gallery_labels:
        return float("nan")
    k = min(k, s.shape[1])
    top = np.argpartition(-s, k - 1, axis=1)[:, :k]
    labels = np.asarray(gallery_labels, dtype=object)
    shares = [np.mean([lab in want for lab in labels[t]]) for t, want in zip(top, wanted)]
    return float(np.mean(shares))


def direction_metrics(
    scores: np.ndarray, positives: np.ndarray, gallery_labels: Sequence[str], wanted: Sequence[set[str]], *, tie_seed: int | None = 0
) -> dict:
    """Recall@K, mean/median rank and agreement@10 for query rows of ``scores``."""
    rows = np.flatnonzero(np.asarray(positives, bool).any(axis=1))
    ranks, _ = ranks_for_pairs(scores[rows], positives[rows], tie_seed=tie_seed)
    out = {f"R@{k}": recall_at_k(ranks, k) for k in KS}
    out["mean_rank"] = float(ranks.mean()) if len(ranks) else float("nan")
    out["median_rank"] = float(np.median(ranks)) if len(ranks) else float("nan")
    out["agreement@10"] = agreement_at_k(scores[rows], gallery_labels, [wanted[r] for r in rows], tie_seed=tie_seed)
    out["queries"] = int(len(rows))
    out["gallery"] = int(scores.shape[1])
    return out


def semantic_matrix(data: PairData, m: np.ndarray, i: np.ndarray) -> np.ndarray | None:
    """Cosine of clips ``m`` × images ``i`` in the joint input space (None when spaces differ)."""
    if not data.joint:
        return None
    return unit_rows(data.music.vectors[m], np.float64) @ unit_rows(data.images.vectors[i], np.float64).T


def emotion_matrix(data: PairData, m: np.ndarray, i: np.ndarray) -> np.ndarray:
    """E = (1 + cos_VA)/2 for clips ``m`` × images ``i`` (the pairing step's emotional score)."""
    from emoalign.affect import va_cosine

    return (1.0 + va_cosine(data.music.va[m], data.images.va[i])) / 2.0


def tscore_matrices(cos: np.ndarray, E: np.ndarray, alpha: float, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """T = α·S_rel + (1−α)·E oriented per query: (clips × images) for music→image, (images × clips) for image→music."""
    from emoalign.pair.score import combine, semantic_scores

    t_m2i = combine(semantic_scores(cos, temperature)["S_rel"], E, alpha)
    t_i2m = combine(semantic_scores(cos.T, temperature)["S_rel"], E.T, alpha)
    return t_m2i, t_i2m


def _galleries(data: PairData, music_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    music_index = np.asarray(music_index, dtype=np.int64)
    pairs = data.pairs_of(music_index)
    images = np.unique(pairs[:, 1])
    m_pos = {int(m): k for k, m in enumerate(music_index)}
    i_pos = {int(i): k for k, i in enumerate(images)}
    positives = np.zeros((len(music_index), len(images)), dtype=bool)
    for a, b in pairs:
        positives[m_pos[int(a)], i_pos[int(b)]] = True
    return music_index, images, positives


def evaluate_split(
    data: PairData,
    music_index: np.ndarray,
    *,
    adapters: Mapping[str, object] | None = None,
    alpha: float = 0.6,
    temperature: float = 0.05,
    tie_seed: int | None = 0,
) -> dict:
    """Every method on the clips ``music_index`` and their images; returns ``{method: {direction: metrics}}``
    plus ``"_data"`` (counts). Methods that do not apply (semantic/T-score without a joint space) are absent."""
    m, i, positives = _galleries(data, music_index)
    music_labels = [data.music.labels[k] for k in m] if data.music.labels else []
    image_labels = [data.images.labels[k] for k in i] if data.images.labels else []
    want_m2i = [{image_labels[c] for c in np.flatnonzero(positives[r])} for r in range(len(m))] if image_labels else []
    want_i2m = [{music_labels[r] for r in np.flatnonzero(positives[:, c])} for c in range(len(i))] if music_labels else []

    def both(s_m2i: np.ndarray, s_i2m: np.ndarray | None = None) -> dict:
        s_i2m = s_m2i.T if s_i2m is None else s_i2m
        return {
            "music_to_image": direction_metrics(s_m2i, positives, image_labels, want_m2i or [set()] * len(m), tie_seed=tie_seed),
            "image_to_music": direction_metrics(s_i2m, positives.T, music_labels, want_i2m or [set()] * len(i), tie_seed=tie_seed),
        }

    out: dict = {"_data": {"clips": int(len(m)), "images": int(len(i)), "pairs": int(positives.sum()),
                           "joint_space": bool(data.joint), "alpha": float(alpha), "temperature": float(temperature)}}
    cos = semantic_matrix(data, m, i)
    E = emotion_matrix(data, m, i)
    if cos is not None:
        out["semantic"] = both(cos)
    out["emotion"] = both(E)
    if cos is not None:
        out["tscore"] = both(*tscore_matrices(cos, E, alpha, temperature))
    for name, adapter in (adapters or {}).items():
        out[name] = both(adapter.score(data.music.subset(m), data.images.subset(i)))
    return out


def tune_alpha(data: PairData, val_index: np.ndarray, grid: Sequence[float] = tuple(np.round(np.arange(0, 1.0001, 0.1), 2)),
               temperature: float = 0.05) -> tuple[float, dict[float, float]]:
    """The α of the T-score with the best mean validation Recall@10 (both directions); ties → larger α."""
    m, i, positives = _galleries(data, val_index)
    cos = semantic_matrix(data, m, i)
    if cos is None:
        raise ValueError("the T-score needs music and images in one embedding space")
    E = emotion_matrix(data, m, i)
    scores: dict[float, float] = {}
    for a in grid:
        t_m2i, t_i2m = tscore_matrices(cos, E, float(a), temperature)
        r1, _ = ranks_for_pairs(t_m2i, positives)
        r2, _ = ranks_for_pairs(t_i2m, positives.T)
        scores[float(a)] = 0.5 * (recall_at_k(r1, 10) + recall_at_k(r2, 10))
    best = max(scores, key=lambda a: (scores[a], a))
    return best, scores


def results_table(results: Mapping[str, Mapping]) -> tuple[list[str], list[list]]:
    """Headers and rows (one per method × direction) for printing or Markdown."""
    headers = ["method", "direction", "R@1", "R@5", "R@10", "mean rank", "median rank", "agree@10", "queries", "gallery"]
    rows = []
    for method, res in results.items():
        if method.startswith("_"):
            continue
        for direction in DIRECTIONS:
            d = res[direction]
            rows.append([method, direction.replace("_to_", "→"), d["R@1"], d["R@5"], d["R@10"], d["mean_rank"],
                         d["median_rank"], d["agreement@10"], d["queries"], d["gallery"]])
    return headers, rows


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return "n/a" if not np.isfinite(v) else f"{v:.3f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def plot_history(history: Sequence[Mapping], out: str | Path, *, baselines: Mapping[str, float] | None = None, title: str = "") -> Path:
    """Training loss and validation Recall@10 per epoch (like EMID's Figure 4), as a PNG.

    ``baselines`` draws horizontal lines (e.g. the semantic-only validation Recall@10).
    """
    from emoalign.eval.plots import pyplot

    plt = pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    ax1.plot(epochs, [h.get("train_loss", np.nan) for h in history], marker="o", ms=3, label="train")
    if any("val_loss" in h for h in history):
        ax1.plot(epochs, [h.get("val_loss", np.nan) for h in history], marker="o", ms=3, label="validation")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("symmetric InfoNCE loss")
    ax1.set_title("loss")
    ax1.grid(alpha=0.3)
    ax1.legend()
    if any("val_r10_m2i" in h for h in history):
        ax2.plot(epochs, [h.get("val_r10_m2i", np.nan) for h in history], marker="o", ms=3, label="music→image")
        ax2.plot(epochs, [h.get("val_r10_i2m", np.nan) for h in history], marker="o", ms=3, label="image→music")
    cmap = plt.get_cmap("tab10")
    for k, (name, value) in enumerate((baselines or {}).items()):
        ax2.axhline(value, color=cmap(k + 2), ls="--", lw=1, label=name)
    ax2.set_xlabel("epoch (0 = untrained)")
    ax2.set_ylabel("Recall@10 (validation)")
    ax2.set_title("validation Recall@10")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
