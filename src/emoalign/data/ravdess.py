"""RAVDESS-style folders: labels parsed from the file names.

File names have seven dash-separated fields,
``modality-channel-emotion-intensity-statement-repetition-actor`` (e.g. ``03-01-06-01-02-01-12.wav``):
emotion 01 neutral … 08 surprised (the ``ravdess8`` taxonomy's codes), intensity 01 normal /
02 strong, odd actor numbers are male. The actor is the record's ``group``, so speaker-independent
splits hold actors out. Livingstone & Russo (2018), PLoS ONE 13(5):e0196391.
"""

from __future__ import annotations

from typing import Iterator

from emoalign.affect import get_taxonomy
from emoalign.affect.taxonomy import UnknownLabelError
from emoalign.data.base import Source
from emoalign.types import Record

AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg"}


class RavdessSource(Source):
    """Every audio file under ``root`` whose name follows the RAVDESS convention.

    ``split`` selects actors: ``"actors:1-16"`` style ranges, or ``None`` for all.
    """

    name = "ravdess"
    taxonomy = "ravdess8"

    def records(self, split: str | None = None) -> Iterator[Record]:
        actors = parse_actor_range(split) if split else None
        return self._count(self._records(actors))

    def _records(self, actors: set[int] | None) -> Iterator[Record]:
        tax = get_taxonomy(self.taxonomy)
        files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            self.problem(self.root, "no audio files: expected RAVDESS files like 03-01-06-01-02-01-12.wav")
        for path in files:
            fields = path.stem.split("-")
            if len(fields) != 7 or not all(f.isdigit() for f in fields):
                self.problem(path, "bad file name: expected 7 numeric fields modality-channel-emotion-intensity-statement-repetition-actor")
                continue
            try:
                emotion = tax.label(fields[2]).name
            except UnknownLabelError:
                self.problem(path, f"unknown label: emotion code {fields[2]} (expected 01-08)")
                continue
            actor = int(fields[6])
            if actors is not None and actor not in actors:
                continue
            yield Record(
                id=path.stem,
                modality="speech",
                source=self.name,
                path=str(path),
                labels={self.taxonomy: emotion},
                group=f"actor{actor:02d}",
                split=None,
                meta={
                    "intensity": "strong" if fields[3] == "02" else "normal",
                    "statement": int(fields[4]),
                    "repetition": int(fields[5]),
                    "sex": "male" if actor % 2 else "female",
                    "vocal_channel": "speech" if fields[1] == "01" else "song",
                },
            )


def parse_actor_range(spec: str) -> set[int]:
    """``"actors:1-16,18"`` → {1..16, 18}.

    >>> sorted(parse_actor_range("actors:1-3,7"))
    [1, 2, 3, 7]
    """
    body = spec.split(":", 1)[1] if spec.startswith("actors:") else spec
    out: set[int] = set()
    for part in body.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            out.update(range(int(lo), int(hi) + 1))
        else:
            out.add(int(part))
    if not out:
        raise ValueError(f"empty actor range {spec!r}")
    return out
