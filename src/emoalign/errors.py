"""The library's exceptions: one base, `EmoalignError`, so callers can catch everything emoalign
raises on purpose (and nothing it did not) with one ``except``.

Each is also a `ValueError`, as the inputs it rejects are bad values, so code written before the
base existed keeps working. Messages name the file (and row) and the problem, and say what to do.

>>> from emoalign.errors import DecodeError, EmoalignError
>>> issubclass(DecodeError, EmoalignError)
True
"""

from __future__ import annotations


class EmoalignError(Exception):
    """Base of every error emoalign raises on purpose."""


class DecodeError(EmoalignError, ValueError):
    """An input that cannot be decoded or is unfit for the model (names the input and the problem)."""


class BadInputError(EmoalignError, ValueError):
    """A data-source problem no adapter can skip (or any problem in strict mode): names the file, row and problem."""


class SpaceMismatchError(EmoalignError, ValueError):
    """Vectors from another embedding space than the one a model (or index) was built on."""


class QueryError(EmoalignError, ValueError):
    """A query input that cannot be used (unknown kind, undecodable, no vector/affect)."""


__all__ = ["BadInputError", "DecodeError", "EmoalignError", "QueryError", "SpaceMismatchError"]
