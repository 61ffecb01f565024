"""How much a store's source signatures differ beyond a smooth spectrum: the measure
behind the model's automatic minimum-phase signature terms.

Shots of one datapoint see one earth, so the ratio of two shots' amplitude spectra,
averaged over the gather's traces (which removes the statics, phase only), is the ratio
of their acquisitions' spectra. Wavelets that differ in peak frequency, bandwidth and
gain give a ratio that is smooth in frequency, which the filter family's few cosine terms
express. A source whose signature carries echoes that change from shot to shot (an air
gun's bubble train, whose period varies by a few percent; a ghost whose depth varies)
ripples the ratio every ``1 / period`` hertz, which they cannot.

:func:`signature_ripple` measures that ripple: for up to ``max_datapoints`` datapoints
(spread over the store), each shot's log amplitude spectrum (power averaged over its
live traces) less the datapoint's mean, inside the band where the median shot has at
least 1 % of its peak power; a least-squares fit of ``terms`` cosine terms and a
constant is removed, and what is left is the RMS in nats (0.1: about 10 % of amplitude).
The median over the datapoints is the store's value. One datapoint is read at a time.

On the survey zoo's 24 first draws and the project's surveys (``conv4d``, ``deep4d``,
``wave4d``, ``statics``) it reads 0.002-0.017 without a bubble and 0.094-0.135 with one
(``docs/decisions/far-offsets.md``).
"""

from __future__ import annotations

import h5py
import numpy as np

__all__ = ["signature_ripple", "SMOOTH_TERMS"]

#: Cosine terms of the smooth part removed before the ripple is measured (the shipped
#: filter family's log-amplitude terms).
SMOOTH_TERMS = 6
#: Part of the median shot's peak power that bounds the band measured.
BAND_FLOOR = 1e-2


def signature_ripple(h5: h5py.File, max_datapoints: int = 32, terms: int = SMOOTH_TERMS) -> float:
    """The store's signature ripple in nats (module docstring); 0.0 where no datapoint
    has two live instances."""
    x, live, dp = h5["instances"], h5["live"], h5["datapoint"][:]
    ids, counts = np.unique(dp, return_counts=True)
    ids = ids[counts >= 2]
    if ids.size == 0:
        return 0.0
    pick = ids[np.unique(np.linspace(0, ids.size - 1, min(max_datapoints, ids.size)).astype(int))]
    values = []
    for d in pick:
        rows = np.flatnonzero(dp == d)  # increasing: one h5py read
        value = _ripple(x[rows].astype(np.float64), live[rows], terms)
        if value is not None:
            values.append(value)
    return float(np.median(values)) if values else 0.0


def _ripple(gathers: np.ndarray, live: np.ndarray, terms: int) -> float | None:
    """RMS (nats) of the shots' log amplitude spectra about their mean, less a smooth
    fit; None where fewer than two shots have live traces or the band is too narrow."""
    t = gathers.shape[-1]
    power = np.abs(np.fft.rfft(gathers, n=2 * t, axis=-1)) ** 2  # (I, C, F)
    n_live = live.sum(axis=1)
    keep = n_live > 0
    if keep.sum() < 2:
        return None
    power = (power * live[..., None]).sum(axis=1)[keep] / n_live[keep, None]  # (I, F)
    median = np.median(power, axis=0)
    if not median.max() > 0:
        return None
    band = np.flatnonzero(median >= BAND_FLOOR * median.max())
    lo, hi = band[0], band[-1] + 1
    if hi - lo < 2 * (terms + 1):
        return None
    tiny = 1e-12 * median.max()
    logamp = 0.5 * np.log(power[:, lo:hi] + tiny)
    logamp -= logamp.mean(axis=0)
    fn = np.linspace(0.0, 1.0, power.shape[-1])[lo:hi]
    basis = np.cos(np.pi * np.arange(terms + 1)[None, :] * fn[:, None])  # (F, K + 1)
    coef, *_ = np.linalg.lstsq(basis, logamp.T, rcond=None)
    return float(np.sqrt(np.mean((logamp.T - basis @ coef) ** 2)))
