"""Dialogue context features: what the other turns of a conversation say about one turn's emotion.

In EmotionTalk a speaker's turns in a conversation share much of their emotion (the multimodal
label of a turn equals that of the same speaker's previous turn 59 % of the time), and one short
transcript alone is often too little to tell. So the Chinese head is stacked: per-turn scores
from the utterance models (log-probabilities, shape ``(n_turns, k)``) are joined with summaries
of the other turns of the same speaker (a "thread"; the text encoder splits a conversation into
threads when it is told who speaks).

Modes (the columns of the feature matrix, in order):

- ``"utterance"``: the turn's own scores only;
- ``"preceding"``: own scores, mean of all earlier turns, the previous turn, and flags — usable
  online, as a conversation unfolds;
- ``"dialogue"``: own scores, mean of all other turns, mean of the turns within ``window``
  either side, and flags — needs the whole conversation (offline analysis).

>>> import numpy as np
>>> P = np.log(np.array([[0.8, 0.2], [0.6, 0.4], [0.1, 0.9]]))
>>> context_features(P, "dialogue").shape
(3, 8)
>>> context_features(P, "preceding")[0, 2:6].tolist()  # first turn: nothing before it
[0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

MODES = ("utterance", "preceding", "dialogue")
WINDOW = 2


def context_features(P: np.ndarray, mode: str, window: int = WINDOW) -> np.ndarray:
    """Features of the turns of ONE thread (a speaker's turns of a conversation), given their scores ``P`` in turn order."""
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2:
        raise ValueError(f"per-turn scores must be 2-D (n_turns, k), got shape {P.shape}")
    if mode not in MODES:
        raise ValueError(f"unknown context mode {mode!r}; expected one of {MODES}")
    n, k = P.shape
    if mode == "utterance":
        return P.copy()
    position = (np.arange(n) / max(n - 1, 1))[:, None]
    if mode == "preceding":
        before = np.zeros_like(P)
        prev = np.zeros_like(P)
        if n > 1:
            csum = np.cumsum(P, axis=0)
            before[1:] = csum[:-1] / np.arange(1, n)[:, None]
            prev[1:] = P[:-1]
        has_prev = (np.arange(n) > 0).astype(float)[:, None]
        return np.hstack([P, before, prev, has_prev, np.minimum(np.arange(n), 10)[:, None] / 10.0])
    # "dialogue": the whole conversation, before and after the turn
    others = np.zeros_like(P)
    if n > 1:
        others = (P.sum(axis=0) - P) / (n - 1)
    near = np.zeros_like(P)
    for j in range(n):
        idx = [t for t in range(max(0, j - window), min(n, j + window + 1)) if t != j]
        if idx:
            near[j] = P[idx].mean(axis=0)
    alone = np.full((n, 1), float(n == 1))
    return np.hstack([P, others, near, alone, position])


def grouped_context_features(P: np.ndarray, dialogues: Sequence[str], mode: str, window: int = WINDOW) -> np.ndarray:
    """`context_features` of many threads at once (``dialogues``: thread id per row; rows of a thread contiguous, in order)."""
    P = np.asarray(P, dtype=np.float64)
    dialogues = np.asarray(dialogues)
    if len(dialogues) != len(P):
        raise ValueError(f"{len(dialogues)} dialogue ids for {len(P)} rows of scores")
    starts = np.r_[0, np.flatnonzero(dialogues[1:] != dialogues[:-1]) + 1, len(P)]
    seen: set = set()
    blocks = []
    for a, b in zip(starts[:-1], starts[1:]):
        if dialogues[a] in seen:
            raise ValueError(f"dialogue {dialogues[a]!r} is not contiguous: sort rows by dialogue and turn first")
        seen.add(dialogues[a])
        blocks.append(context_features(P[a:b], mode, window))
    return np.vstack(blocks) if blocks else np.zeros((0, 0))
