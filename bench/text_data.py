"""Shared loaders for the text benchmarks: EmotionTalk, GoEmotions, EmoBank, plus a USE embedding cache.

Used by ``bench/train_text_heads.py`` and ``bench/text_emotiontalk.py``. Data is read from
``$EMOALIGN_SHARED_DATA`` (default ``<repo>/../shared/data``); embeddings are cached in
``<repo>/.emoalign-cache/text/`` (git-ignored) keyed by a hash of the texts, so reruns are fast.

    python -c "import bench.text_data as d; print(d.emotiontalk().shape)"
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".emoalign-cache" / "text"


def shared_data() -> Path:
    root = Path(os.environ.get("EMOALIGN_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not root.is_dir():
        raise SystemExit(f"shared data folder not found: {root} (set EMOALIGN_SHARED_DATA)")
    return root


def emotiontalk(root: Path | None = None) -> pd.DataFrame:
    """One row per utterance of the official split, sorted by conversation, speaker and turn.

    Columns: utterance, split, label (multimodal), text_label (text-only annotation), sentiment
    (multimodal, −2..2), text (raw transcript), group (recording group, e.g. G00009),
    conversation (G00009_42), speaker (its two-digit code), turn (index in the conversation) and
    thread (conversation + speaker: one speaker's turns, the unit of context of the text head).
    Names read G00009_42_14_024 = group, conversation 42, speaker 14, turn 24 (as in
    emoalign.data.emotiontalk). Reads the release's transcription.csv and splits.csv directly.
    """
    root = (root or shared_data()) / "emotiontalk"
    tr = pd.read_csv(root / "transcription.csv", dtype=str, keep_default_na=False)
    sp = pd.read_csv(root / "splits.csv", dtype={"utterance": str, "split": str, "emotion_mm": str}, keep_default_na=False)
    tr["utterance"] = tr["name"].str.rsplit("/", n=1).str[-1]
    df = sp.merge(tr[["utterance", "emotion", "chinese"]], on="utterance", how="left", validate="one_to_one")
    missing = df["chinese"].isna()
    if missing.any():
        raise SystemExit(f"{root}/transcription.csv: no transcript for {int(missing.sum())} utterances of splits.csv, "
                         f"e.g. {df.loc[missing, 'utterance'].iloc[0]}")
    df = df.rename(columns={"emotion_mm": "label", "emotion": "text_label", "chinese": "text", "sentiment_mm": "sentiment"})
    parts = df["utterance"].str.split("_")
    df["group"] = parts.str[0]
    df["conversation"] = parts.str[0] + "_" + parts.str[1]
    df["speaker"] = parts.str[2]
    df["thread"] = df["conversation"] + "_" + df["speaker"]
    df["turn"] = parts.str[3].astype(int)
    df["sentiment"] = df["sentiment"].astype(float)
    return df.sort_values(["conversation", "speaker", "turn"]).reset_index(drop=True)


def goemotions(split: str, root: Path | None = None) -> pd.DataFrame:
    """GoEmotions single-label (text, label); split is "train" or "dev"."""
    path = (root or shared_data()) / "goemotions" / f"{split}.tsv"
    return pd.read_csv(path, sep="\t", quoting=3, dtype=str, keep_default_na=False)


def emobank(root: Path | None = None) -> pd.DataFrame:
    """EmoBank (id, split, V, A, D, text) with valence/arousal mapped from 1..5 to [-1, 1] as ``v``/``a``."""
    df = pd.read_csv((root or shared_data()) / "emobank" / "emobank_train_dev.csv", keep_default_na=False)
    df = df[df["text"].str.strip() != ""].reset_index(drop=True)
    df["v"] = (df["V"].astype(float) - 3.0) / 2.0
    df["a"] = (df["A"].astype(float) - 3.0) / 2.0
    return df


def use_embeddings(texts: list[str], tag: str) -> np.ndarray:
    """USE multilingual v3 vectors (n, 512) of ``texts`` as the text encoder embeds them, cached on disk."""
    from emoalign.encode.text_features import clean_text

    cleaned = [clean_text(t) for t in texts]
    key = hashlib.sha1("\x1e".join(cleaned).encode("utf-8")).hexdigest()[:16]
    path = CACHE / f"use_{tag}_{key}.npy"
    if path.is_file():
        return np.load(path)
    from emoalign.encode.text import load_use

    vectors = load_use().encode(cleaned).astype(np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors
