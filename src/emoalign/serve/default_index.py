"""The example index ``emoalign serve`` uses when no ``--index`` is given, built once and cached.

It indexes the project's own EMID-layout example data (`emoalign.data.fixtures.emid.make`: 26
synthetic music clips and 32 drawn images whose musical and visual cues follow their intended
emotion) in the offline ``xmodal`` space (`emoalign.encode.joint_xmodal`), which reads any
image or clip — an uploaded query has no caption for the text bridge to use. It is a demo
collection, not a model of anyone's taste.

Layout, under the user cache dir (``$EMOALIGN_CACHE`` or ``~/.cache/emoalign``; the folder itself
can be set with ``$EMOALIGN_SERVE_EXAMPLE``)::

    serve-example-v<emoalign>-i<index format>/data/emid/...   the example media
    serve-example-v<emoalign>-i<index format>/index/          the index
    serve-example-v<emoalign>-i<index format>/READY           written last

A folder without ``READY`` (a build that was interrupted) is rebuilt; concurrent starts wait on
a file lock, so only one of them builds.

>>> default_index()  # doctest: +SKIP
PosixPath('/root/.cache/emoalign/serve-example-v0.1.0-i1/index')
"""

from __future__ import annotations

import fcntl
import shutil
import time
from pathlib import Path
from typing import Callable

from emoalign import __version__

SEED = 0


def example_dir() -> Path:
    """Where the example index lives: ``$EMOALIGN_SERVE_EXAMPLE``, else a versioned folder in the cache."""
    import os

    from emoalign.encode.image import cache_dir
    from emoalign.store.index import FORMAT_VERSION

    if os.environ.get("EMOALIGN_SERVE_EXAMPLE"):
        return Path(os.environ["EMOALIGN_SERVE_EXAMPLE"])
    return cache_dir() / f"serve-example-v{__version__}-i{FORMAT_VERSION}"


def default_index(folder: str | Path | None = None, *, log: Callable[[str], None] = lambda msg: None) -> Path:
    """The example index folder, building it first if needed (a few tens of seconds, once)."""
    base = Path(folder) if folder is not None else example_dir()
    base.parent.mkdir(parents=True, exist_ok=True)
    lock_path = base.parent / f".{base.name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second `serve` starting now waits for the first build
        if (base / "READY").is_file() and (base / "index" / "manifest.json").is_file():
            return base / "index"
        if base.exists():
            shutil.rmtree(base)  # an interrupted build: start over
        t0 = time.perf_counter()
        log(f"building the example index in {base} (once) …")
        _build(base)
        (base / "READY").write_text(f"built in {time.perf_counter() - t0:.1f} s\n")
        log(f"example index ready ({time.perf_counter() - t0:.0f} s)")
        return base / "index"


def _build(base: Path) -> None:
    from emoalign.data.fixtures.emid import make
    from emoalign.retrieve import build_index
    from emoalign.store.featurize import Featurizer

    dirs = make(base / "data", seed=SEED)
    for extra in ("emid-hub", "emid-matching"):  # only the release layout is indexed
        shutil.rmtree(dirs[extra], ignore_errors=True)
    # workers=1: no process pool inside a server start (and 58 items need none).
    build_index(f"emid:{dirs['emid']}", base / "index", featurizer=Featurizer(backend="xmodal"), workers=1)
