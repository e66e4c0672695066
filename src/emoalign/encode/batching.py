"""Decode every input, then run the model on those that decoded: the loop batch encoders share.

A media encoder decodes each input on its own (a bad file becomes that input's error, never the
batch's), stacks what decoded, runs the model once per batch and puts the answers back in input
order. `decode_each` is the first half; `Decoded.results` starts the answer list with the errors
in place; `batches` slices the decoded items for the model.

>>> d = decode_each([b"1", b"x", b"3"], lambda b: int(b))
>>> d.items, d.where, sorted(d.errors)
([1, 3], [0, 2], [1])
>>> [r is None for r in d.results()], list(batches(d.items, 1))
([True, False, True], [[1], [3]])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Generic, Iterator, Sequence, TypeVar

from emoalign.encode.base import EncodeResult
from emoalign.errors import DecodeError

T = TypeVar("T")

#: What a bad input raises while being decoded (anything else is a bug and propagates).
DECODE_ERRORS = (DecodeError, ValueError, OSError)


@dataclass
class Decoded(Generic[T]):
    """The decoded inputs (in order), their positions among the inputs, and the others' errors."""

    n_inputs: int
    items: list[T] = field(default_factory=list)
    where: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)

    def results(self) -> list[EncodeResult | None]:
        """One slot per input: an error result where decoding failed, None where the model answers."""
        out: list[EncodeResult | None] = [None] * self.n_inputs
        for i, message in self.errors.items():
            out[i] = EncodeResult(error=message)
        return out


def decode_each(inputs: Sequence, decode: Callable[..., T]) -> Decoded[T]:
    """``decode(item)`` for every input; a `DECODE_ERRORS` exception becomes that input's error."""
    out: Decoded[T] = Decoded(len(inputs))
    for i, item in enumerate(inputs):
        try:
            out.items.append(decode(item))
            out.where.append(i)
        except DECODE_ERRORS as exc:
            out.errors[i] = f"{type(exc).__name__}: {exc}"
    return out


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
