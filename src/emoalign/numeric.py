"""Small numeric helpers every layer uses: unit-length rows and a stable softmax.

Both work along the last axis, keep the input's floating dtype (or take ``dtype``), and never
divide by zero: a zero row stays zero, the largest logit is subtracted before ``exp``.

>>> unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
[[0.6, 0.8], [0.0, 0.0]]
>>> softmax(np.array([[0.0, 0.0], [1000.0, 0.0]])).round(3).tolist()
[[0.5, 0.5], [1.0, 0.0]]
"""

from __future__ import annotations

import numpy as np

#: Rows shorter than this are treated as zero (they have no direction).
MIN_NORM = 1e-12


def _floating(a, dtype) -> np.ndarray:
    a = np.asarray(a, dtype=dtype)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def unit_rows(a, dtype=None) -> np.ndarray:
    """Each row (last axis) scaled to unit L2 length; a zero row stays zero.

    >>> unit_rows(np.array([1, 1]), dtype=np.float32).dtype
    dtype('float32')
    """
    a = _floating(a, dtype)
    norm = np.linalg.norm(a, axis=-1, keepdims=True)
    return np.divide(a, norm, out=np.zeros_like(a), where=norm > MIN_NORM)


def softmax(logits, axis: int = -1, dtype=None) -> np.ndarray:
    """``exp(z) / Σ exp(z)`` along ``axis``, with the maximum subtracted first (no overflow).

    >>> softmax(np.array([1.0, 1.0, 1.0, 1.0])).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    z = _floating(logits, dtype)
    z = z - z.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z
