"""Where a hub backend's weights are on this machine, found without touching the network.

A hub encoder names its models by Hugging Face id or local folder (`Encoder.hub_models`). A model
is *here* when the id is an existing folder, or when the Hugging Face cache holds a downloaded
snapshot of it. `emoalign backends` uses this to say which hub backends would actually run.

>>> locate("/no/such/folder/or-repo")
>>> weights_status(["openai/clip-vit-base-patch32"])  # doctest: +SKIP
(False, 'missing: openai/clip-vit-base-patch32')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache (``$HF_HUB_CACHE``, ``$HF_HOME/hub`` or ~/.cache/huggingface/hub).

    Read from the environment on each call, not from ``huggingface_hub.constants`` (fixed when that
    module is first imported), so a variable set later in the process still counts — and listing
    backends does not import huggingface_hub at all.
    """
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def locate(model_id: str) -> Path | None:
    """The folder holding ``model_id`` here (itself, or its newest cached snapshot), else None."""
    path = Path(model_id).expanduser()
    if path.is_dir():
        return path
    if model_id.count("/") != 1 or path.is_absolute():
        return None
    snapshots = hub_cache_dir() / f"models--{model_id.replace('/', '--')}" / "snapshots"
    found = [p for p in snapshots.glob("*") if p.is_dir() and any(p.iterdir())] if snapshots.is_dir() else []
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def weights_status(model_ids: Sequence[str]) -> tuple[bool, str]:
    """(all present, a short description) for the models an encoder needs."""
    if not model_ids:
        return True, "in the package"
    where = [(m, locate(m)) for m in model_ids]
    present = all(p is not None for _, p in where)
    text = "; ".join(f"{m}: {'local folder' if p is not None and p == Path(m).expanduser() else 'cached' if p else 'missing'}"
                     for m, p in where)
    return present, text
