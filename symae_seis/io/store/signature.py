"""How much a store's source signatures differ beyond a smooth spectrum: the measure
behind the model's automatic minimum-phase signature terms.

Shots of one datapoint see one earth, so the ratio of two shots' amplitude spectra,
averaged over the gather's traces (which removes the statics, phase only), is the ratio
of their acquisitions' spectra. Wavelets that differ in peak frequency, bandwidth and
gain give a ratio that is smooth in frequency, which the filter family's few cosine terms
express. A source whose signature carries echoes that change from shot to shot (an air
gun's bubble train, whose period varies by a few percent; a ghost whose depth varies)
ripples the ratio every ``1 / period`` hertz, which they cannot.

:func:`signature_ripple` measures that ripple where it is common to a shot's traces,
as a signature is (a trace's own ripple, from noise or from shots that see slightly
different earths, is not). For up to ``max_datapoints`` datapoints spread over the store,
on the channels live on every shot: each trace's log amplitude spectrum (a running mean of
``SMOOTH_BINS`` bins), inside the band where the median shot has at least 1 % of its peak
power, less the datapoint's mean over shots and less a least-squares fit of ``terms``
cosine terms and a constant; the median over a shot's traces is its signature's ripple
(a median: swell bursts hit a few channels), whose mean square, less what the traces'
scatter leaves in that median by chance, is the datapoint's (RMS, nats; 0.1 is about 10 %
of amplitude). The median over the datapoints is the store's. One datapoint is read at a
time.

On the survey zoo's draws and the project's surveys (``conv4d``, ``deep4d``, ``wave4d``,
``statics``) it reads 0.000 without a bubble and 0.085-0.120 with one; on the
towed-streamer survey (``marine4d``: white noise, swell bursts, dead channels, shots
binned by position) 0.000, and 0.028 on a tiny one of 12 channels and 2 shots per bin
(``docs/decisions/far-offsets.md``).
"""

from __future__ import annotations

import h5py
import numpy as np
from scipy.ndimage import uniform_filter1d

__all__ = ["signature_ripple", "SMOOTH_TERMS"]

#: Cosine terms of the smooth part removed before the ripple is measured (the shipped
#: filter family's log-amplitude terms).
SMOOTH_TERMS = 6
#: Part of the median shot's peak power that bounds the band measured.
BAND_FLOOR = 1e-2
#: Shots read per datapoint (memory stays a few gathers').
MAX_SHOTS = 32
#: Frequency bins of the running mean on each trace's power spectrum (the FFT is of twice
#: the record: a bubble's ripple, every 1 / period hertz, spans tens of bins).
SMOOTH_BINS = 5


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
        rows = np.flatnonzero(dp == d)[:MAX_SHOTS]  # increasing: one h5py read
        value = _ripple(x[rows].astype(np.float64), live[rows], terms)
        if value is not None:
            values.append(value)
    return float(np.median(values)) if values else 0.0


def _ripple(gathers: np.ndarray, live: np.ndarray, terms: int) -> float | None:
    """The datapoint's coherent signature ripple (nats), or None where fewer than two
    shots or channels are live on every shot, or the band is too narrow."""
    shared = live.all(axis=0)  # channels live on every shot
    if gathers.shape[0] < 2 or shared.sum() < 2:
        return None
    g = gathers[:, shared]
    t = g.shape[-1]
    power = uniform_filter1d(np.abs(np.fft.rfft(g, n=2 * t, axis=-1)) ** 2, SMOOTH_BINS, axis=-1)
    median = np.median(power.mean(axis=1), axis=0)
    if not median.max() > 0:
        return None
    band = np.flatnonzero(median >= BAND_FLOOR * median.max())
    lo, hi = band[0], band[-1] + 1
    if hi - lo < 2 * (terms + 1):
        return None
    logamp = 0.5 * np.log(power[..., lo:hi] + 1e-12 * median.max())  # (I, C, F)
    logamp -= logamp.mean(axis=0)  # each shot against the datapoint's mean
    fn = np.linspace(0.0, 1.0, power.shape[-1])[lo:hi]
    basis = np.cos(np.pi * np.arange(terms + 1)[None, :] * fn[:, None])  # (F, K + 1)
    rough = logamp - logamp @ (basis @ np.linalg.pinv(basis)).T  # the smooth part removed
    # what a shot's traces share (its signature): their median, which a swell burst on a
    # few channels does not move; less what the traces' own scatter leaves in a median
    # by chance (pi / 2 times the mean's)
    common = np.median(rough, axis=1)
    chance = 0.5 * np.pi * rough.var(axis=1, ddof=1).mean() / rough.shape[1]
    return float(np.sqrt(max(0.0, float(np.mean(common**2)) - chance)))
