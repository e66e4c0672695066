"""The service's view of a match index: `emoalign.retrieve.Matcher` plus what the web needs.

`IndexMatcher` opens the index once (featurizer, adapter, faiss segments), answers match
requests with the fields of ``emoalign match --json``, and makes the index's media servable:

* the *media root* is the deepest folder holding every item's file (for an EMID copy: the
  release folder, with ``musicData/`` and ``imageData/`` under it); only the index's own item
  files under it are served (`emoalign.serve.media.MediaRoot`);
* each hit gets a ``media_url`` (``/api/media/<path under the root>``), and its ``path`` — and the
  result's ``index`` — are given relative to the root and by folder name, so a response never
  reveals the server's directory layout.

>>> m = IndexMatcher("out/index")  # doctest: +SKIP
>>> m.match(open("photo.jpg", "rb").read(), kind="image", name="photo.jpg")["results"][0]["media_url"]  # doctest: +SKIP
'/api/media/musicData/1433.m4a___57.mp3'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from emoalign.serve.media import MediaRoot, common_root
from emoalign.serve.uploads import UploadError, tidy_message


class IndexMatcher:
    """An index loaded for serving (thread-safe for queries: faiss searches are read-only)."""

    def __init__(self, index_dir: str | Path) -> None:
        from emoalign.retrieve import Matcher

        self.folder = Path(index_dir)
        if not (self.folder / "manifest.json").is_file():
            raise FileNotFoundError(f"{self.folder}: not an index folder (no manifest.json); build one with `emoalign index build`")
        self.matcher = Matcher(self.folder)
        items = self.matcher.index.items()
        paths = [it["path"] for it in items if it.get("path")]
        existing = [p for p in paths if Path(p).is_file()]
        root = common_root(existing)
        self.media: MediaRoot | None = MediaRoot(root, allowed=existing) if root is not None else None
        self._summary = self.matcher.index.summary()
        self.missing_media = len(paths) - len(existing)

    @property
    def encoders(self) -> list[str]:
        """Encoders a query needs (loaded and serialised at startup by the app)."""
        return self.matcher.encoders

    def describe(self) -> dict[str, Any]:
        s = self._summary
        feat = s["info"].get("featurizer", {})
        return {
            "name": self.folder.name, "items": s["items"], "modalities": s["modalities"], "space": s["space"],
            "backend": feat.get("backend"), "adapter": bool(s["info"].get("adapter")),
            "score": self.matcher.score_kind, "default_alpha": self.matcher.default_alpha,
            "taxonomies": {"music": feat.get("music_taxonomy"), "image": feat.get("image_taxonomy")},
            "media": self.media is not None, "missing_media": self.missing_media,
        }

    def media_url(self, path: str | None) -> str | None:
        if not path or self.media is None:
            return None
        rel = self.media.relative(path)
        return None if rel is None else "/api/media/" + quote(rel)

    def match(self, data: bytes, *, kind: str, name: str, top: int = 10, alpha: float | None = None,
              emotion: str | None = None) -> dict[str, Any]:
        """The fields of ``emoalign match --json`` for an uploaded file, plus ``media_url`` per hit.

        Raises `UploadError` 422 for a file that does not decode or an unknown emotion label.
        An emotion filter that leaves no item gives an empty ``results`` list (not an error).
        """
        from emoalign.errors import QueryError
        from emoalign.store.index import EmptyIndexError

        try:
            res = self.matcher.match(data, top=top, alpha=alpha, emotion=emotion, name=name)
        except QueryError as exc:
            raise UploadError(422, tidy_message(str(exc), data, name)) from None
        except EmptyIndexError as exc:
            if emotion is None:
                raise UploadError(503, f"the index has no items to match against ({_short(exc)})") from None
            return self._empty(data, kind=kind, name=name, top=top, alpha=alpha, emotion=emotion)
        out = res.to_dict()
        out["index"] = self.folder.name
        for hit in out["results"]:
            hit["media_url"] = self.media_url(hit.get("path"))
            hit["path"] = self.media.relative(hit["path"]) if hit.get("path") and self.media else None
        return out

    def _empty(self, data: bytes, *, kind: str, name: str, top: int, alpha: float | None, emotion: str) -> dict[str, Any]:
        # Same query without the filter, only to report the query's own affect next to no hits.
        res = self.matcher.match(data, top=1, alpha=alpha, name=name)
        out = res.to_dict()
        out["results"] = []
        out["index"] = self.folder.name
        target = "image" if res.query["modality"] == "music" else "music"
        out["filters"] = {"emotion": self.matcher.normalise_emotion(emotion, target), "modality": target}
        return out


def _short(exc: Exception) -> str:
    """An index error without the server path it starts with."""
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text
