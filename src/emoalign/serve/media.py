"""Serve index items' media without exposing anything else on the server.

A request names a path *relative to the index's media root*. `MediaRoot.resolve` answers with a
real file only when every one of these holds, and raises `MediaNotFound` otherwise (the service
answers 404 either way, so a probe learns nothing about what exists outside):

* the path is relative, has no ``..``, empty or NUL components and no backslashes;
* after following symlinks, the file is still inside the media root (a link pointing out is refused);
* it is a regular file;
* when the root was given the index's item paths, the file is one of them.

>>> root = MediaRoot("/srv/media")  # doctest: +SKIP
>>> root.resolve("images/cat.jpg")  # doctest: +SKIP
PosixPath('/srv/media/images/cat.jpg')
>>> root.resolve("../etc/passwd")  # doctest: +SKIP
Traceback (most recent call last):
MediaNotFound: ...
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Iterable


class MediaNotFound(LookupError):
    """The requested media path is not a servable file of the index (reason in the message)."""


class MediaRoot:
    """A folder whose files (optionally only a listed subset) may be served."""

    def __init__(self, root: str | Path, allowed: Iterable[str | Path] | None = None) -> None:
        self.root = Path(root).resolve(strict=True)
        if not self.root.is_dir():
            raise NotADirectoryError(f"media root {self.root} is not a folder")
        self.allowed: frozenset[Path] | None = None
        if allowed is not None:
            resolved = set()
            for p in allowed:
                full = (self.root / p) if not Path(p).is_absolute() else Path(p)
                try:
                    full = full.resolve(strict=True)
                except OSError:
                    continue  # a missing item file is simply not servable
                if full.is_relative_to(self.root):
                    resolved.add(full)
            self.allowed = frozenset(resolved)

    def relative(self, path: str | Path) -> str | None:
        """The URL path of a file under the root (POSIX separators), or None if it lies outside."""
        try:
            full = Path(path).resolve(strict=True)
        except OSError:
            return None
        if not full.is_relative_to(self.root):
            return None
        return full.relative_to(self.root).as_posix()

    def resolve(self, rel: str) -> Path:
        """The real file for ``rel``; `MediaNotFound` for anything that is not one of ours."""
        if not rel or "\x00" in rel or "\\" in rel:
            raise MediaNotFound("empty path, NUL byte or backslash")
        if rel.startswith("/") or os.path.isabs(rel):
            raise MediaNotFound("absolute path")
        parts = PurePosixPath(rel).parts
        if any(part in ("..", ".", "") for part in rel.split("/")) or not parts:
            raise MediaNotFound("path with '..', '.' or empty components")
        try:
            full = (self.root / PurePosixPath(*parts)).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, or a symlink loop
            raise MediaNotFound("no such file") from None
        if not full.is_relative_to(self.root):
            raise MediaNotFound("resolves outside the media root")
        if not full.is_file():
            raise MediaNotFound("not a regular file")
        if self.allowed is not None and full not in self.allowed:
            raise MediaNotFound("not an item of the index")
        return full


def common_root(paths: Iterable[str | Path]) -> Path | None:
    """The deepest folder containing every path (None for no paths)."""
    folders = [str(Path(p).resolve().parent) for p in paths]
    if not folders:
        return None
    return Path(os.path.commonpath(folders))
