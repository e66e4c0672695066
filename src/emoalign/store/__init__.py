"""The store: the feature table (Parquet shards), resumable batch extraction, the vector index.

>>> from emoalign.store import FeatureTable, extract
>>> summary = extract(records, "music-acoustic", "out/feats")  # doctest: +SKIP
>>> FeatureTable("out/feats").vectors(encoder="music-acoustic").vectors.shape  # doctest: +SKIP
"""

from emoalign.store.extract import ExtractSummary, extract
from emoalign.store.features import FEATURES, FeatureRow, FeatureTable, feature_schema

__all__ = ["ExtractSummary", "FEATURES", "FeatureRow", "FeatureTable", "extract", "feature_schema"]
