"""The conventional dv/v estimators compared on the passive benchmark's stacks
(``scripts/bench/passive_estimators.py``): a day against the other days, against their
mean, the same with every day re-aligned by its own estimate (iterated), and the all-pairs
inversion."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from ..qc.dvv import daily_dvv, stretch
from ..synth.passive import PassiveParams
from .passive import stacks_in_memory

__all__ = ["CODA", "MAX_LAG_S", "stacks_of", "slope", "iterated_reference"]

CODA, MAX_LAG_S = (2.0, 12.0), 20.0


def stacks_of(p: PassiveParams, oracle: bool):
    """Daily stacks ``(days, pairs, lags)``: recorded (whitened correlations), or with
    ``oracle`` each source's share correlated with itself alone; the truth; the lags."""
    stacks, truth, lags = stacks_in_memory(p, MAX_LAG_S, oracle=oracle)
    return stacks["no_cross_terms" if oracle else "anchor"], truth, lags


def slope(est: np.ndarray, truth: np.ndarray) -> float:
    return float(np.polyfit(truth - truth.mean(), est - est.mean(), 1)[0])


def _aligned(stack: np.ndarray, eps: float, lags: np.ndarray) -> np.ndarray:
    # stretch's convention: cur(t) ~ ref(t (1 + eps)), so ref(t) ~ cur(t / (1 + eps))
    pos = np.clip(lags / (1 + eps), lags[0], lags[-1])
    return CubicSpline(lags, stack, axis=-1)(pos)


def iterated_reference(stacks: np.ndarray, lags: np.ndarray, band, rounds: int = 4) -> np.ndarray:
    """Each day against the mean of the other days, each re-aligned by its own estimate;
    ``rounds`` times, starting from the plain mean of the other days."""
    est = daily_dvv(stacks, lags, coda_s=CODA, band_hz=band)["dvv"]
    for _ in range(rounds):
        aligned = np.stack([_aligned(s, e, lags) for s, e in zip(stacks, est)])
        total = aligned.sum(axis=0)
        est = np.array(
            [
                stretch(stacks[d], (total - aligned[d]) / (len(stacks) - 1), lags, coda_s=CODA)[0]
                for d in range(len(stacks))
            ]
        )
        est -= est.mean()
    return est
