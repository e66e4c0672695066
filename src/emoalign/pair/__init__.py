"""EMID-style pairing, the matching set, and their exports.

Modules (one purpose each):

- `score` — S (softmax over cosine/τ, τ = 0.05 as ImageBind's fixed audio logit scale; rescaled
  per row so it is commensurable with E), E (V–A cosine mapped to [0, 1]), T = αS + (1 − α)E.
- `blocked` — exact top-K of X·Yᵀ in bounded memory (fused threshold filter, threads, exact ties,
  streaming log-sum-exp for the paper's full softmax) and faiss ANN with recall against exact.
- `pairing` — the numeric pipeline on arrays (candidates, components, picks at α and at α = 1).
- `build` — ``emoalign pairs build``: feature store → semantic vectors and affect → pairing → folder.
- `report` — α = 1 vs α: category/valence agreement, V–A distance, E, cosine; the plot.
- `store` — the pairs folder layout and `BuiltPairsSource` (data source ``pairs``).
- `matching` — the EMID-Emotion-Matching recipe (positives, negatives of another tag, templates,
  split by clip); `matching_build` — ``emoalign matching build``; `export` — HF DatasetDict and
  Qwen2.5-Omni-style chat JSONL, byte-identical for the same inputs and seed.

Semantic backends (the joint music–image spaces) live in `emoalign.encode.joint`.

>>> from emoalign.pair.score import PAPER_ALPHA, PAPER_KEEP, PAPER_TEMPERATURE
>>> PAPER_ALPHA, PAPER_KEEP, PAPER_TEMPERATURE
(0.6, 3, 0.05)
"""
