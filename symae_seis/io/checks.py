"""Checks shared by the readers and writers."""

from __future__ import annotations

import numpy as np

__all__ = ["first_nonfinite"]


def first_nonfinite(rows: np.ndarray) -> int | None:
    """Index along the first axis of the first row (trace, or sample of a 1-D array)
    holding NaN or Inf; None when every value is finite."""
    bad = ~np.isfinite(np.asarray(rows))
    if bad.ndim > 1:
        bad = bad.reshape(bad.shape[0], -1).any(axis=1)
    hit = np.flatnonzero(bad)
    return int(hit[0]) if hit.size else None
