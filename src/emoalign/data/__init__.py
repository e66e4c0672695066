"""Data adapters: one per source, all yielding the same `Record`s (and `Pair`s for paired sources).

>>> from emoalign.data import SOURCES, open_source
>>> "emotiontalk" in SOURCES
True
"""

from __future__ import annotations

from pathlib import Path

from emoalign.data.base import LoadReport, Problem, Source
from emoalign.errors import BadInputError
from emoalign.lazy import LazyRegistry

#: Source name → "module:Class". Imported on demand so that a source's optional dependencies
#: (e.g. `datasets` for hub layouts) load only when that source is used.
SOURCES = LazyRegistry("source", {
    "emid": "emoalign.data.emid:EMIDSource",
    "emid-hub": "emoalign.data.emid:EMIDHubSource",
    "emid-matching": "emoalign.data.emid_matching:EMIDMatchingSource",
    "emotiontalk": "emoalign.data.emotiontalk:EmotionTalkSource",
    "emotiontalk-release": "emoalign.data.emotiontalk:EmotionTalkReleaseSource",
    "emonet-face-binary": "emoalign.data.emonet_face:EmoNetFaceBinarySource",
    "emonet-face-hq": "emoalign.data.emonet_face:EmoNetFaceHQSource",
    "emonet-face-big": "emoalign.data.emonet_face:EmoNetFaceBigSource",
    "ravdess": "emoalign.data.ravdess:RavdessSource",
    "folder": "emoalign.data.generic:FolderSource",
    "csv": "emoalign.data.generic:CSVSource",
    "pairs": "emoalign.data.built_pairs:BuiltPairsSource",
})


def source_class(name: str) -> type[Source]:
    return SOURCES.load(name)


def open_source(name: str, path: str | Path, **options) -> Source:
    """Open a source by name on a local path (a folder, file, or hub copy), e.g. ``open_source("emid", "EMID/")``."""
    return source_class(name)(path, **options)


__all__ = ["BadInputError", "LoadReport", "Problem", "SOURCES", "Source", "open_source", "source_class"]
