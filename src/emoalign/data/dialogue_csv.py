"""Read a dialogue CSV: one row per turn, columns ``dialogue``, ``speaker``, ``text`` (+ optional ``id``).

Rows are in the order spoken (a dialogue's turns need not be contiguous, but their order in the
file is their order in time). This is the input of ``emoalign analyze --dialogue FILE.csv`` and
of `emoalign.encode.dialogue.analyze_dialogue`. Problems that make the whole file unusable
(not UTF-8, no header, a required column missing, no rows) raise `BadInputError` naming the
file; a row with an empty ``dialogue`` or ``speaker`` cell raises it naming the row, because
the turn cannot be placed. An empty ``text`` is not fatal: that turn gets an error of its own.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
>>> _ = p.write_text("dialogue,speaker,text\\nd1,A,你好\\nd1,B,你好啊\\n", "utf-8")
>>> [(t.dialogue, t.speaker, t.text, t.id) for t in read_dialogue_csv(p)]
[('d1', 'A', '你好', 'd1:1'), ('d1', 'B', '你好啊', 'd1:2')]
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from emoalign.errors import BadInputError

REQUIRED_COLUMNS = ("dialogue", "speaker", "text")
OPTIONAL_COLUMNS = ("id",)
#: Larger files are refused before reading (a dialogue CSV is text; this is ~ a million turns).
MAX_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class DialogueTurn:
    """One turn: its dialogue, speaker, text and id (the CSV's ``id``, else ``<dialogue>:<n>``)."""

    dialogue: str
    speaker: str
    text: str
    id: str


def read_dialogue_csv(path: str | Path) -> list[DialogueTurn]:
    """The turns of a dialogue CSV file, in file order (see the module docstring for the rules)."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such file")
    if path.stat().st_size > MAX_BYTES:
        raise BadInputError(f"{path}: {path.stat().st_size} bytes is larger than the {MAX_BYTES}-byte limit for a dialogue CSV")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # a BOM from spreadsheet exports is fine
    except UnicodeDecodeError as exc:
        raise BadInputError(
            f"{path}: not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r} cannot be decoded); "
            f"save the CSV as UTF-8"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise BadInputError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    return parse_dialogue_rows(rows, reader.fieldnames or [], where=str(path))


def parse_dialogue_rows(rows: Sequence[Mapping[str, str | None]], columns: Sequence[str],
                        where: str = "<dialogue>") -> list[DialogueTurn]:
    """Turns from CSV-like rows (dicts keyed by ``columns``: ``dialogue``, ``speaker``, ``text``, optional ``id``).

    ``where`` names the input in error messages. Used for files and for the service's JSON batches alike.

    >>> parse_dialogue_rows([{"dialogue": "d", "speaker": "A", "text": "hi", "id": "t1"}], ["dialogue", "speaker", "text", "id"])[0].id
    't1'
    """
    names = [n for n in columns if n is not None]
    if not names and not rows:
        raise BadInputError(f"{where}: empty file (expected a header with columns {', '.join(REQUIRED_COLUMNS)})")
    clean = {n.strip().lower(): n for n in names if n is not None}
    missing = [c for c in REQUIRED_COLUMNS if c not in clean]
    if missing:
        raise BadInputError(
            f"{where}: missing column{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} "
            f"(found {', '.join(repr(n) for n in names) or 'no columns'}; required: {', '.join(REQUIRED_COLUMNS)})"
        )
    if not rows:
        raise BadInputError(f"{where}: no turns (the dialogue is empty: a header but no rows)")
    turns: list[DialogueTurn] = []
    counts: dict[str, int] = {}
    seen_ids: set[str] = set()
    for n, row in enumerate(rows, start=1):
        line = f"{where}: row {n}"

        def cell(col: str) -> str:
            value = row.get(clean[col]) if col in clean else None
            return "" if value is None else str(value).strip()

        dialogue, speaker = cell("dialogue"), cell("speaker")
        if not dialogue:
            raise BadInputError(f"{line}: empty 'dialogue' cell (every turn needs the dialogue it belongs to)")
        if not speaker:
            raise BadInputError(f"{line}: empty 'speaker' cell (context is read from a speaker's own turns)")
        counts[dialogue] = counts.get(dialogue, 0) + 1
        turn_id = cell("id") or f"{dialogue}:{counts[dialogue]}"
        if turn_id in seen_ids:
            raise BadInputError(f"{line}: id {turn_id!r} appears twice")
        seen_ids.add(turn_id)
        text = row.get(clean["text"])
        turns.append(DialogueTurn(dialogue, speaker, "" if text is None else str(text), turn_id))
    return turns
