"""Output folders written atomically, marked complete last, never clobbered by surprise.

A command that writes a folder of results (``pairs build``, ``matching build``) goes through a
`RunWriter`:

1. **Refuse to clobber.** A folder holding a finished run (its marker, ``summary.json``) or any
   file the run would write is refused unless ``overwrite``; a folder written by *another*
   command is refused even then (``matching build`` must not replace a ``pairs build``
   folder's summary). With ``overwrite``, a sub-folder is replaced only if every file in it was
   written by the previous run (listed in its marker): files a user put there are never deleted.
2. **Temp sibling, then rename.** Every file or sub-folder is written to a hidden temporary
   sibling (``.NAME.<run>.tmp``) and renamed into place only after all of them are written.
3. **Completion marker last.** The marker is written last, atomically, with each file's size and
   SHA-256 (the run id is a digest of them, so equal inputs give an equal marker). Readers call
   `check_complete`: a folder whose marker is missing, or whose files are not the ones the
   marker describes (a run killed between renames), is refused with what to do.

A journal (``.emoalign-run.json``) marks a run in progress, so re-running an interrupted
command resumes (its own checkpoints, temporary files) instead of asking for ``overwrite``.

>>> w = RunWriter("out/pairs", kind="pairs build", files=["pairs.parquet"])  # doctest: +SKIP
>>> with w:  # doctest: +SKIP
...     w.write_parquet("pairs.parquet", table)
...     w.finish({"counts": {...}})
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

from emoalign.errors import EmoalignError

MARKER = "summary.json"
JOURNAL = ".emoalign-run.json"
#: Files up to this size are checked by content (SHA-256) when a reader opens the folder; larger
#: ones by size only (reading gigabytes to open a folder would cost more than it protects).
HASH_CHECK_BYTES = 256 * 2**20


class OutputError(EmoalignError, ValueError):
    """An output folder cannot be used as asked (exists, belongs to another command, incomplete)."""


class OutputExistsError(OutputError):
    """The output folder already holds results; pass ``--overwrite`` (or choose another folder)."""


class IncompleteOutputError(OutputError):
    """A folder whose run did not finish (no completion marker, or files from another run)."""


# -- file-system primitives (also used by the feature store and the index) -------------------------
def write_atomic(path: Path, write) -> None:
    """Write a file so readers see either nothing or all of it: temp file, fsync, rename, fsync dir.

    ``write`` receives a binary file object. The temp file is hidden (leading dot) and lives in the
    same folder, so the rename never crosses a filesystem and shard listings never include it.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def swap_folder(new: Path, final: Path, old: Path) -> None:
    """Put the finished folder ``new`` where ``final`` is: two renames (never a moment without a
    complete folder at ``final``), then the replaced one, parked at ``old``, is removed."""
    os.replace(final, old)
    os.replace(new, final)
    shutil.rmtree(old, ignore_errors=True)


class FolderBusyError(EmoalignError, RuntimeError):
    """Another process is writing to this folder (one writer at a time)."""


class WriterLock:
    """One writer per folder: an OS file lock (``filelock``) on ``FOLDER/.lock``.

    The operating system releases the lock when its holder exits, however it exits (Ctrl-C,
    SIGKILL, a crash), so a killed run never leaves a stale lock behind. A second writer is
    refused at once with `FolderBusyError` naming the folder.
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / ".lock"
        self._lock = None

    def __enter__(self) -> "WriterLock":
        from filelock import FileLock, Timeout

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.path), timeout=0)
        try:
            self._lock.acquire()
        except Timeout:
            raise FolderBusyError(
                f"{self.path.parent} is being written by another emoalign process; wait for it to finish "
                "(or stop it) and run this command again"
            ) from None
        return self

    @property
    def held(self) -> bool:
        return bool(self._lock and self._lock.is_locked)

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            self._lock.release()


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _kind_of(summary: dict) -> str | None:
    """The command that wrote a marker: its run info, or for folders written before run info
    existed, recognised by their summary's fields."""
    run = summary.get("run")
    if isinstance(run, dict) and run.get("kind"):
        return run["kind"]
    if "comparison" in summary and "semantic" in summary:
        return "pairs build"
    if "rows_used" in summary and "counts" in summary:
        return "matching build"
    return None


def _files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


class RunWriter:
    """Writes one run of ``kind`` into ``folder``; see the module docstring for the protocol.

    ``files`` names every file or sub-folder the run may write (besides the marker); the
    ``overwrite_hint`` is what the refusal tells the user to pass (the CLI's ``--overwrite``).
    """

    def __init__(self, folder: str | Path, *, kind: str, files: Sequence[str], overwrite: bool = False,
                 overwrite_hint: str = "--overwrite", marker: str = MARKER) -> None:
        self.folder = Path(folder)
        self.kind = kind
        self.files = list(files)
        self.overwrite = overwrite
        self.hint = overwrite_hint
        self.marker = marker
        self.run_id = uuid.uuid4().hex
        self.previous: dict | None = None
        self._staged: dict[str, Path] = {}
        self._lock = None

    # -- start ----------------------------------------------------------------------------------
    def __enter__(self) -> "RunWriter":
        if self.folder.exists() and not self.folder.is_dir():
            raise OutputExistsError(f"{self.folder} is a file, not a folder; choose another output folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = WriterLock(self.folder)
        self._lock.__enter__()
        try:
            self._check_existing()
            journal = {"kind": self.kind, "run_id": self.run_id,
                       "previous_manifest": (self.previous or {}).get("run", {}).get("manifest", [])}
            (self.folder / JOURNAL).write_text(json.dumps(journal), "utf-8")
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def _check_existing(self) -> None:
        marker = self.folder / self.marker
        journal = _read_json(self.folder / JOURNAL)
        prev = _read_json(marker) if marker.is_file() else None
        prev_kind = _kind_of(prev) if prev else None
        if marker.exists() and prev is not None and prev_kind not in (None, self.kind):
            raise OutputExistsError(
                f"{self.folder} holds the output of `emoalign {prev_kind}`; `emoalign {self.kind}` would replace its "
                f"{self.marker} — choose another output folder")
        if journal and journal.get("kind") not in (None, self.kind):
            raise OutputExistsError(
                f"{self.folder} holds an unfinished `emoalign {journal.get('kind')}` run; choose another output folder")
        present = [n for n in [self.marker, *self.files] if (self.folder / n).exists()]
        resuming = journal is not None and not marker.exists()
        if present and not self.overwrite and not resuming:
            raise OutputExistsError(
                f"{self.folder} already holds results ({', '.join(present[:4])}); pass {self.hint} to replace them, "
                "or choose another output folder")
        if prev is None and resuming:  # the stopped run had removed the marker: its journal kept the list
            prev = {"run": {"manifest": journal.get("previous_manifest", [])}}
        self.previous = prev or {}
        self._remove_stale_staging()
        if marker.exists():
            marker.unlink()  # from here until `finish`, readers see the folder as incomplete

    def _remove_stale_staging(self) -> None:
        """Drop what a killed run of this command staged (hidden ``.tmp-<run>-NAME…`` entries only)."""
        import re

        names = "|".join(re.escape(n.replace("/", "_")) for n in self.files)
        pattern = re.compile(rf"^\.{{1,2}}(tmp|old)-[0-9a-f]{{12}}-({names})(\..*)?$")
        for p in self.folder.iterdir():
            if pattern.match(p.name):
                _remove(p)

    # -- writing --------------------------------------------------------------------------------
    def temp(self, name: str) -> Path:
        """The hidden temporary sibling to write ``name`` into (committed by `finish`)."""
        if name not in self.files:
            raise ValueError(f"{name!r} is not one of this run's files {self.files}")
        # hidden, and ending like the real name (writers such as matplotlib pick a format from it)
        tmp = self.folder / f".tmp-{self.run_id[:12]}-{name.replace('/', '_')}"
        self._staged[name] = tmp
        return tmp

    def write_bytes(self, name: str, data: bytes) -> None:
        self._write_file(name, lambda fh: fh.write(data))

    def write_text(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode("utf-8"))

    def write_parquet(self, name: str, table) -> None:
        """Write an Arrow table as Parquet (its SHA-256 goes into the marker)."""
        import pyarrow.parquet as pq

        self._write_file(name, lambda fh: pq.write_table(table, fh))

    def write_with(self, name: str, write: Callable[[Path], Any]) -> Any:
        """Let ``write(path)`` create a file or a folder at a temporary path; committed by `finish`."""
        tmp = self.temp(name)
        _remove(tmp)
        return write(tmp)

    def _write_file(self, name: str, write: Callable) -> None:
        tmp = self.temp(name)
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())

    # -- finish ---------------------------------------------------------------------------------
    def finish(self, summary: dict) -> dict:
        """Rename every staged file into place, then write the marker (``summary`` + run info) last."""
        prev_manifest = set((self.previous or {}).get("run", {}).get("manifest", []))
        for name, tmp in self._staged.items():  # refuse before touching anything
            final = self.folder / name
            if final.is_dir():
                foreign = [f for f in _files_under(final) if f"{name}/{f}" not in prev_manifest]
                if foreign:
                    raise OutputExistsError(
                        f"{final} holds files emoalign did not write ({', '.join(foreign[:3])}); move them away or "
                        "choose another output folder")
        for name, tmp in self._staged.items():
            final = self.folder / name
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.is_dir() and not tmp.is_dir():
                raise OutputExistsError(f"{final} is a folder; emoalign writes a file there — move it away")
            if final.is_dir():
                swap_folder(tmp, final, self.folder / f".old-{self.run_id[:12]}-{name.replace('/', '_')}")
            else:
                os.replace(tmp, final)
        fsync_dir(self.folder)
        files: dict[str, dict] = {}
        manifest: list[str] = []
        for name in self._staged:
            final = self.folder / name
            if final.is_dir():
                inner = _files_under(final)
                manifest += [f"{name}/{f}" for f in inner]
                files[name] = {"folder": True, "files": len(inner), "bytes": sum((final / f).stat().st_size for f in inner)}
            else:
                manifest.append(name)
                files[name] = {"bytes": final.stat().st_size, "sha256": _sha256(final)}
        out = dict(summary)
        # The run id is a digest of what the run wrote: the same inputs give the same marker, byte for byte.
        run_id = hashlib.sha256(json.dumps([self.kind, files], sort_keys=True).encode()).hexdigest()[:32]
        out["run"] = {"id": run_id, "kind": self.kind, "complete": True, "files": dict(sorted(files.items())),
                      "manifest": sorted(manifest)}
        data = (json.dumps(out, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        write_atomic(self.folder / self.marker, lambda fh: fh.write(data))
        (self.folder / JOURNAL).unlink(missing_ok=True)
        self._staged.clear()
        return out

    def __exit__(self, exc_type, exc, tb) -> None:
        # A failed or interrupted run drops what it staged; its journal stays, so re-running the
        # same command resumes (checkpoints, stored features) without asking for --overwrite.
        try:
            for tmp in self._staged.values():
                _remove(tmp)
        finally:
            if self._lock is not None:
                self._lock.__exit__(None, None, None)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def check_complete(folder: str | Path, *, kind: str, marker: str = MARKER, command: str | None = None) -> dict:
    """The marker of a finished run of ``kind`` in ``folder``; `IncompleteOutputError` otherwise.

    Checks that the marker exists and that each file it lists is the one the run wrote (its
    SHA-256, or its size above `HASH_CHECK_BYTES`): a folder half-replaced by a killed run is
    caught. Folders written before markers carried run info are accepted when their marker exists.
    """
    folder = Path(folder)
    redo = f"run `{command or 'emoalign ' + kind}` again (with --overwrite)"
    summary = _read_json(folder / marker)
    if summary is None:
        raise IncompleteOutputError(f"{folder}: no readable {marker} — the `emoalign {kind}` run that wrote it did not "
                                    f"finish (interrupted or failed); {redo}")
    run = summary.get("run")
    if not isinstance(run, dict):
        return summary  # written before run markers existed
    if run.get("kind") != kind:
        raise IncompleteOutputError(f"{folder} holds the output of `emoalign {run.get('kind')}`, not of `emoalign {kind}`")
    for name, info in (run.get("files") or {}).items():
        path = folder / name
        if not path.exists():
            raise IncompleteOutputError(f"{path}: missing, but {marker} lists it; {redo}")
        if info.get("folder") or not path.is_file():
            continue
        size = path.stat().st_size
        same = size == info.get("bytes", size)
        if same and "sha256" in info and size <= HASH_CHECK_BYTES:
            same = _sha256(path) == info["sha256"]
        if not same:
            raise IncompleteOutputError(f"{path} is not the file {marker} describes (from another, interrupted run, or "
                                        f"changed since); {redo}")
    return summary


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["FolderBusyError", "IncompleteOutputError", "MARKER", "OutputError", "OutputExistsError", "RunWriter", "WriterLock",
           "check_complete", "fsync_dir", "write_atomic"]
