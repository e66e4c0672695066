"""One way to name a data source everywhere: ``NAME:PATH``, optionally ``?key=value&key=value``.

The same string works for every command and in the Python API (`emoalign.load_source`):

* ``emid:/data/EMID`` — adapter ``emid`` on a local copy;
* ``emotiontalk:/data/EmotionTalk?modality=speech`` — adapter options after ``?``
  (values ``true``/``false``/``none`` and numbers are converted);
* ``emotiontalk:/data/EmotionTalk?modality=text&split=test`` — ``split`` is not an adapter option
  but the split to read; it is kept apart in `SourceSpec.split`;
* a bare path — recognised by its layout where that is unambiguous (an EMID release, an EMID hub
  copy, a built pairs folder).

>>> spec = parse_source_spec("emotiontalk:/data/ET?modality=speech&split=test")
>>> spec.name, spec.path.as_posix(), spec.options, spec.split
('emotiontalk', '/data/ET', {'modality': 'speech'}, 'test')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emoalign.errors import BadInputError


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source string: adapter name, path, adapter options, and the split to read (or None)."""

    name: str
    path: Path
    options: dict[str, Any] = field(default_factory=dict)
    split: str | None = None

    def open(self):
        """Open the adapter (`emoalign.data.open_source`)."""
        from emoalign.data import open_source

        return open_source(self.name, self.path, **self.options)

    def __str__(self) -> str:
        opts = dict(self.options)
        if self.split:
            opts["split"] = self.split
        query = "&".join(f"{k}={v}" for k, v in opts.items())
        return f"{self.name}:{self.path}" + (f"?{query}" if query else "")


def parse_value(value: str) -> Any:
    """``"true"``/``"yes"`` → True, ``"false"``/``"no"`` → False, ``"none"`` → None, numbers → int/float."""
    low = value.strip().lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if low == "none":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_options(items) -> dict[str, Any]:
    """``["key=value", ...]`` → a dict of adapter options (``-`` in keys becomes ``_``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInputError(f"{item!r}: an option is key=value")
        out[key.strip().replace("-", "_")] = parse_value(value)
    return out


def guess_source(path: Path) -> str | None:
    """The source a bare path holds, when its layout says so unambiguously; else None."""
    if (path / "pairs.parquet").is_file() and (path / "records.parquet").is_file():
        return "pairs"
    if (path / "EMID_data.csv").is_file() or path.name == "EMID_data.csv":
        return "emid"
    if path.is_dir() and any(path.glob("data/train-*.parquet")):
        return "emid-hub"
    return None


def parse_source_spec(spec: str, **extra_options: Any) -> SourceSpec:
    """Parse ``NAME:PATH[?key=value&...]`` (or a bare path with a recognisable layout).

    ``extra_options`` (e.g. from ``-o KEY=VALUE`` flags) are merged over the string's own options.
    """
    from emoalign.data import SOURCES

    text, _, query = str(spec).partition("?")
    options = parse_options([q for q in query.split("&") if q]) if query else {}
    options.update(extra_options)
    split = options.pop("split", None)
    name, sep, rest = text.partition(":")
    if sep and name in SOURCES:
        return SourceSpec(name, Path(rest), options, None if split is None else str(split))
    if sep and name and "/" not in name and "\\" not in name and not Path(text).exists():
        raise BadInputError(f"{spec}: unknown source {name!r}; write NAME:PATH with NAME one of {', '.join(sorted(SOURCES))}")
    guessed = guess_source(Path(text))
    if guessed is None:
        raise BadInputError(
            f"{spec}: cannot tell which source this is; write NAME:PATH with NAME one of {', '.join(sorted(SOURCES))}"
        )
    return SourceSpec(guessed, Path(text), options, None if split is None else str(split))
