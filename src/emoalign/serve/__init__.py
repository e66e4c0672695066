"""The HTTP service and web page: analysis and emotion-aware matching over HTTP (``emoalign serve``).

>>> from emoalign.serve import create_app
>>> app = create_app(index_dir="my-index")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any):
    """See `emoalign.serve.app.create_app` (imported lazily: FastAPI is an optional extra)."""
    from emoalign.serve.app import create_app as _create

    return _create(*args, **kwargs)


__all__ = ["create_app"]
