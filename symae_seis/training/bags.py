"""How a datapoint's instances become bags: validation's hold-out and the bag size,
for datapoints that hold different numbers of shots (bins of a towed-streamer survey)."""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import SymaeWarning
from ..io.store import StoreReader

__all__ = ["bag_rows", "hold_out", "bag_size"]


def bag_rows(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """``size`` of ``n`` members in random order: each once, and where ``n < size`` (a
    datapoint with few shots) again in that order until the bag is full."""
    return np.resize(rng.permutation(n), size)


def hold_out(counts: np.ndarray, val_fraction: float) -> tuple[int, np.ndarray]:
    """Instances held out for validation per datapoint and which datapoints hold them:
    ``val_fraction`` of the median datapoint's (at least 1), from every datapoint that
    keeps one to train."""
    if val_fraction <= 0:
        return 0, np.zeros(counts.size, bool)
    n_hold = max(1, int(round(val_fraction * float(np.median(counts)))))
    return n_hold, counts - n_hold >= 1


def bag_size(dataset: str, reader: StoreReader, train: np.ndarray, instances: int) -> int:
    """Instances per bag: ``instances``, at most the median datapoint's training
    instances (larger datapoints give a new draw of their shots each time, smaller ones
    repeat theirs); warns, naming them, about datapoints whose bags repeat shots."""
    size = int(min(instances, np.ceil(np.median(train))))
    if size < instances:
        warnings.warn(
            f"dataset {dataset!r}: the median datapoint has {size} training instances; "
            f"drawing {size} per datapoint instead of instances={instances}",
            SymaeWarning,
            stacklevel=3,
        )
    few = np.flatnonzero(train < size)
    if few.size:
        names = ", ".join(reader.datapoint_label(int(d)) for d in few[:5])
        warnings.warn(
            f"dataset {dataset!r}: {few.size} datapoint(s) have fewer than {size} training "
            f"instances ({names}{', ...' if few.size > 5 else ''}; the fewest "
            f"{int(train.min())}): their bags repeat shots",
            SymaeWarning,
            stacklevel=3,
        )
    return size
