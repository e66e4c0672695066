"""The store: the feature table (Parquet shards), resumable batch extraction, the vector index.

>>> from emoalign.data import open_source
>>> from emoalign.media.synth import synth_clip, write_clip
>>> from emoalign.store import FeatureTable, extract
>>> for k, mood in enumerate(["sad", "calm", "happy"]):
...     _ = write_clip(f"clips/{mood}/clip-{k}.wav", synth_clip(0.6 * k - 0.6, 0.2, seconds=1.0, seed=k))
>>> records = list(open_source("folder", "clips", modality="music").records())
>>> summary = extract(records, "music-acoustic", "feats", workers=1, progress=False)
>>> summary.computed, summary.failed
(3, 0)
>>> FeatureTable("feats").vectors(encoder="music-acoustic").ids
('calm/clip-1.wav', 'happy/clip-2.wav', 'sad/clip-0.wav')
"""

from emoalign.store.extract import ExtractSummary, extract
from emoalign.store.features import FEATURES, FeatureRow, FeatureTable, feature_schema

__all__ = ["ExtractSummary", "FEATURES", "FeatureRow", "FeatureTable", "extract", "feature_schema"]
