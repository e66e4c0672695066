"""Emotion-aware cross-modal retrieval: build an index of music and images, match a file against it.

The query logic shared by the CLI (``emoalign index …``, ``emoalign match``) and the HTTP service.

>>> from emoalign.retrieve import match
>>> res = match("photo.jpg", "out/index", top=5, alpha=0.6, emotion=None)  # doctest: +SKIP
>>> [(h.id, round(h.total, 2), h.reason) for h in res.hits]  # doctest: +SKIP
"""

from emoalign.errors import QueryError
from emoalign.retrieve.build import add_to_index, build_index, load_adapter
from emoalign.retrieve.match import Matcher, MatchHit, MatchResult, match

__all__ = ["Matcher", "MatchHit", "MatchResult", "QueryError", "add_to_index", "build_index", "load_adapter", "match"]
