"""Which speaker each audio file is: from its folder, or from an explicit ``path,speaker`` CSV.

Speaker-adapted speech emotion (`emoalign.encode.speech`) normalises a clip's acoustic features
with the statistics of the same speaker's clips in the call, so it needs a speaker id per file:

- ``"none"``: no grouping (each clip on its own);
- ``"folder"``: files in the same folder are one speaker (``Actor_01/*.wav``, ``alice/*.wav``).
  A folder that mixes speakers cannot be detected from the audio reliably: it is then treated
  as one speaker, which blurs the normalisation. Pass a CSV for such folders;
- ``"csv"``: a CSV file with columns ``path`` and ``speaker`` names each file's speaker.

A CSV also combines with ``"folder"``: files it lists take its speaker (explicit grouping wins
over folders), the others their folder. Paths in the CSV match the given files by their resolved
absolute path, or by the path exactly as written (relative paths in the CSV are read relative to
the CSV's folder first).

>>> speaker_ids(["a/1.wav", "a/2.wav", "b/3.wav"], "folder") == [str(Path("a").resolve())] * 2 + [str(Path("b").resolve())]
True
>>> speaker_ids(["a/1.wav"], "none") is None
True
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

from emoalign.errors import BadInputError

SPEAKER_NORM_MODES = ("none", "folder", "csv")


def read_speakers_csv(path: str | Path) -> dict[str, str]:
    """``{resolved file path: speaker}`` from a CSV with columns ``path`` and ``speaker``.

    Keys include both the resolved path (relative entries resolved against the CSV's folder) and
    the path as written, so callers can match either.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such speakers CSV")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded); save the CSV as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise BadInputError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    names = {(n or "").strip().lower(): n for n in (reader.fieldnames or [])}
    missing = [c for c in ("path", "speaker") if c not in names]
    if missing:
        raise BadInputError(f"{path}: missing column{'s' if len(missing) > 1 else ''} "
                            f"{', '.join(repr(m) for m in missing)} (a speakers CSV has columns path,speaker)")
    if not rows:
        raise BadInputError(f"{path}: no rows (a header but no files)")
    out: dict[str, str] = {}
    for n, row in enumerate(rows, start=1):
        file = (row.get(names["path"]) or "").strip()
        speaker = (row.get(names["speaker"]) or "").strip()
        if not file or not speaker:
            raise BadInputError(f"{path}: row {n}: empty {'path' if not file else 'speaker'} cell")
        full = Path(file) if Path(file).is_absolute() else path.parent / file
        for key in {str(full.resolve()), file}:
            if out.get(key, speaker) != speaker:
                raise BadInputError(f"{path}: row {n}: {file} is given two speakers ({out[key]!r} and {speaker!r})")
            out[key] = speaker
    return out


def speaker_ids(paths: Sequence[str | Path], mode: str = "none", speakers_csv: str | Path | None = None) -> list[str] | None:
    """One speaker id per path (see the module docstring), or None for ``mode="none"`` without a CSV."""
    if mode not in SPEAKER_NORM_MODES:
        raise ValueError(f"speaker norm must be one of {', '.join(SPEAKER_NORM_MODES)}, got {mode!r}")
    if mode == "csv" and speakers_csv is None:
        raise ValueError("speaker norm 'csv' needs a speakers CSV (columns path,speaker)")
    if mode == "none":
        if speakers_csv is not None:
            raise ValueError("a speakers CSV was given with speaker norm 'none'; use 'csv' (or 'folder')")
        return None
    table = read_speakers_csv(speakers_csv) if speakers_csv is not None else {}
    out: list[str] = []
    unlisted: list[str] = []
    for p in paths:
        if isinstance(p, (bytes, bytearray)):
            raise BadInputError("speaker grouping by folder or CSV needs file paths; pass speaker_ids for in-memory inputs")
        listed = table.get(str(Path(p).resolve())) or table.get(str(p))
        if listed is not None:
            out.append(listed)
        elif mode == "folder":
            out.append(str(Path(p).resolve().parent))
        else:
            unlisted.append(str(p))
            out.append("")
    if unlisted:
        more = f" and {len(unlisted) - 3} more" if len(unlisted) > 3 else ""
        raise BadInputError(f"{speakers_csv}: no speaker for {', '.join(unlisted[:3])}{more} "
                            f"(add them to the CSV, or use --speaker-norm folder to group the rest by folder)")
    return out
