"""The design window (the no-change window of the swap loss and the conventional
methods) in samples of a record."""

from __future__ import annotations

import numpy as np

from .entries import CatalogError, DatasetEntry

__all__ = ["DesignWindowError", "design_window_samples"]


class DesignWindowError(CatalogError):
    """The design window or the swap loss cannot be used on this dataset."""


def design_window_samples(
    entry: DatasetEntry, t0_ms: float, dt_ms: float, samples: int
) -> tuple[int, int] | None:
    """``entry.design_window_ms`` as ``(start, stop)`` sample indices of a record that
    starts at ``t0_ms`` with ``samples`` samples every ``dt_ms``; None without a window.

    Raises
    ------
    DesignWindowError
        If the window lies outside the record or holds fewer than two samples.
    """
    win = entry.design_window_ms
    if win is None:
        return None
    if win == "all":
        return (0, samples)
    t_end = t0_ms + dt_ms * (samples - 1)
    a = max(int(np.ceil((win[0] - t0_ms) / dt_ms - 1e-9)), 0)
    b = min(int(np.floor((win[1] - t0_ms) / dt_ms + 1e-9)) + 1, samples)
    if b - a < 2:
        raise DesignWindowError(
            f"dataset {entry.name!r}: design_window_ms {list(win)} holds {max(b - a, 0)} "
            f"samples of the record ({t0_ms:g} to {t_end:g} ms every {dt_ms:g} ms); set "
            "design_window_ms inside the record (e.g. above the reservoir), 'all', or "
            "remove it to train without the swap loss"
        )
    return (a, b)
