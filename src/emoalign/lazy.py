"""Registries whose entries are imported on first use: name → ``"module:attribute"``.

Data sources and encoders are listed by name without importing them, so a source's or an
encoder's optional dependencies (``datasets``, ``torch``, ``transformers``…) load only when that
entry is used, and listing what exists costs nothing.

>>> reg = LazyRegistry("codec", {"json": "json:JSONDecoder"})
>>> reg.load("json").__name__, "json" in reg, sorted(reg)
('JSONDecoder', True, ['json'])
>>> reg.load("yaml")
Traceback (most recent call last):
...
ValueError: unknown codec 'yaml'; available: json
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Mapping


class LazyRegistry(dict):
    """A ``dict`` of name → ``"module:attribute"`` that imports an entry when it is loaded."""

    def __init__(self, kind: str, entries: Mapping[str, str]) -> None:
        super().__init__(entries)
        self.kind = kind

    def load(self, name: str) -> Any:
        """The entry's object; `ValueError` naming the known entries if ``name`` is not one."""
        if name not in self:
            raise ValueError(f"unknown {self.kind} {name!r}; available: {', '.join(sorted(self))}")
        module, _, attribute = self[name].partition(":")
        return getattr(import_module(module), attribute)

    def availability(self) -> dict[str, str | None]:
        """name → None if it imports here, else why not (usually a missing optional dependency)."""
        out: dict[str, str | None] = {}
        for name in self:
            try:
                self.load(name)
                out[name] = None
            except Exception as exc:
                out[name] = f"{type(exc).__name__}: {exc}"
        return out
