"""A synthetic music–image pairing benchmark whose ground truth is known and controlled.

EMID itself is not available offline, so the adapter's claim ("emotion helps retrieval") is
tested where we know what the answer should be. The generator models what EMID's annotators
and encoders do:

* **Content.** ``topics`` random unit directions in a ``dim``-d joint space stand for what a
  clip or an image is *about* (ImageBind-like semantics). Every item has one topic.
* **Emotion.** Every item has a true valence–arousal point: a clip draws one of EMID's 13
  categories (emid13), an image one of Mikels' 8 (mikels8), and the point scatters around the
  label's coordinates (``va_spread``).
* **What the encoders see.** The semantic vector is the topic direction plus Gaussian noise
  (``semantic_noise`` per unit norm) plus, optionally, a little of the emotion
  (``emotion_leak``: real joint spaces do carry some affect). The affect is an *estimate*:
  the true V–A point plus noise (``affect_noise``), turned into label probabilities the way
  `emoalign.affect.map_distribution` spreads mass (Gaussian in V–A, σ = 0.25).
* **Who pairs with whom (the ground truth).** For every clip, every image gets a compatibility
  ``w_semantic · cos(topics) + w_emotion · E_true + judge noise`` (E_true = (1 + cos_VA)/2 of the
  *true* points) and the ``keep`` best become its pairs — EMID's "keep m = 3". ``w_emotion = 0``
  is a world where emotion does not matter; there no method should gain from it.

Nothing in the generator mirrors the adapter's architecture: pairs are chosen from true, hidden
quantities; the methods only see noisy observations.

>>> data = make_pair_data(n_music=60, n_images=60, dim=16, seed=0)
>>> len(data.music), len(data.images), data.pairs.shape[1], data.joint
(60, 60, 2, True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from emoalign.affect import get_taxonomy, va_weights
from emoalign.learn.adapter_data import PairData
from emoalign.numeric import unit_rows
from emoalign.store.items import ItemSet

SPACE = "synthetic-joint"


@dataclass(frozen=True)
class SynthConfig:
    n_music: int = 2000
    n_images: int = 2000
    dim: int = 512
    topics: int = 40
    semantic_noise: float = 1.0
    emotion_leak: float = 0.0
    va_spread: float = 0.15
    affect_noise: float = 0.15
    w_semantic: float = 1.0
    w_emotion: float = 1.0
    judge_noise: float = 0.1
    keep: int = 3
    seed: int = 0


def make_pair_data(config: SynthConfig | None = None, **overrides) -> PairData:
    """Generate music and image `ItemSet`s in one joint space and the ground-truth pairs."""
    cfg = SynthConfig(**{**(asdict(config) if config else {}), **overrides})
    rng = np.random.default_rng(cfg.seed)
    topics = unit_rows(rng.normal(size=(cfg.topics, cfg.dim)))
    # a fixed random embedding of V–A into the space, for the optional emotion leak
    va_dirs = unit_rows(rng.normal(size=(2, cfg.dim)))

    def side(n: int, taxonomy: str, prefix: str):
        tax = get_taxonomy(taxonomy)
        label = rng.integers(len(tax), size=n)
        true_va = np.clip(tax.va[label] + rng.normal(0, cfg.va_spread, (n, 2)), -1, 1)
        topic = rng.integers(cfg.topics, size=n)
        noise = rng.normal(size=(n, cfg.dim)) * (cfg.semantic_noise / np.sqrt(cfg.dim))
        vectors = topics[topic] + noise + cfg.emotion_leak * (true_va @ va_dirs)
        seen_va = np.clip(true_va + rng.normal(0, cfg.affect_noise, (n, 2)), -1, 1)
        probs = va_weights(seen_va, tax.va)
        items = ItemSet(
            tuple(f"{prefix}{k:06d}" for k in range(n)), vectors.astype(np.float32), SPACE, tax.name,
            probs, seen_va, tuple(tax.names[j] for j in label),
        )
        return items, topic, true_va

    music, m_topic, m_va = side(cfg.n_music, "emid13", "music-")
    images, i_topic, i_va = side(cfg.n_images, "mikels8", "image-")

    sem = topics[m_topic] @ topics[i_topic].T  # cosine of the hidden topics
    mu = m_va / np.clip(np.linalg.norm(m_va, axis=1, keepdims=True), 1e-12, None)
    iu = i_va / np.clip(np.linalg.norm(i_va, axis=1, keepdims=True), 1e-12, None)
    e_true = (1.0 + mu @ iu.T) / 2.0
    compat = cfg.w_semantic * sem + cfg.w_emotion * e_true + rng.normal(0, cfg.judge_noise, sem.shape)
    best = np.argpartition(-compat, cfg.keep - 1, axis=1)[:, : cfg.keep]
    pairs = np.stack([np.repeat(np.arange(cfg.n_music), cfg.keep), best.ravel()], axis=1)
    return PairData(music, images, pairs, description={"generator": "emoalign.learn.adapter_synth", **asdict(cfg)})
