"""How a store's source signatures differ from shot to shot beyond a smooth zero-phase
spectrum: the two measures behind the model's automatic minimum-phase signature terms.

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

:func:`signature_min_phase` asks whether the signatures are minimum phase: then two
shots' spectra differ in phase by the minimum phase of their amplitude ratio (an air
gun's or a dynamite shot's wavelet whose frequency changes), where zero-phase ones (a
Ricker, a vibroseis correlation) differ only by a rotation and a delay. On the same
datapoints, each trace is aligned on the datapoint's mean (its static: the peak of their
cross-correlation, to a quarter sample; three passes), and the traces' cross-spectra with
the mean are summed into each shot's phase difference, less the shots' mean. Each shot's
log amplitude ratio to the datapoint's mean (inside the band, its edges held outside)
gives the minimum phase it predicts (a causal cepstrum); the least-squares slope of the
phase on that prediction, beside a rotation and a delay and weighted by the
cross-spectrum's amplitude, is the shot's; the median over shots is the datapoint's, over
datapoints the store's. It reads 3.4-4.1 on the zoo's minimum-phase draws (the band alone
predicts about a quarter of their phase), 0.8-1.1 with bubble trains, -0.4-0.5 with Ricker
or ghosted wavelets, and -0.2-0.0 on conv4d, deep4d, wave4d, statics and marine4d (noise,
swell, sources that move).
"""

from __future__ import annotations

import h5py
import numpy as np
from scipy.ndimage import uniform_filter1d

__all__ = ["signature_ripple", "signature_min_phase", "SMOOTH_TERMS"]

#: Cosine terms of the smooth part removed before the ripple is measured (the shipped
#: filter family's log-amplitude terms).
SMOOTH_TERMS = 6
#: Part of the median shot's peak power that bounds the band measured.
BAND_FLOOR = 1e-2
#: Shots read per datapoint (memory stays a few gathers').
MAX_SHOTS = 32
#: Passes of the per-trace alignment on the datapoint's aligned mean.
ALIGN_PASSES = 3
#: Predicted minimum phase (radians RMS, beyond a rotation and a delay) under which a
#: shot's amplitude ratio counts as flat: its slope is not measured.
FLAT_PHASE = 0.01
#: Frequency bins of the running mean on each trace's power spectrum (the FFT is of twice
#: the record: a bubble's ripple, every 1 / period hertz, spans tens of bins).
SMOOTH_BINS = 5


def signature_ripple(h5: h5py.File, max_datapoints: int = 32, terms: int = SMOOTH_TERMS) -> float:
    """The store's signature ripple in nats (module docstring); 0.0 where no datapoint
    has two live instances."""
    values = [_ripple(g, live, terms) for g, live in _datapoints(h5, max_datapoints)]
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else 0.0


def signature_min_phase(h5: h5py.File, max_datapoints: int = 32) -> float:
    """How far the shots' phase differences follow the minimum phase of their amplitude
    ratios (0 for zero-phase signatures; module docstring); 0.0 where no datapoint has
    two live instances."""
    values = [_min_phase(g, live) for g, live in _datapoints(h5, max_datapoints)]
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else 0.0


def _datapoints(h5: h5py.File, max_datapoints: int):
    """``(gathers, live)`` of up to ``max_datapoints`` datapoints with two instances or
    more, spread over the store, one at a time (at most :data:`MAX_SHOTS` shots)."""
    x, live, dp = h5["instances"], h5["live"], h5["datapoint"][:]
    ids, counts = np.unique(dp, return_counts=True)
    ids = ids[counts >= 2]
    if ids.size == 0:
        return
    pick = ids[np.unique(np.linspace(0, ids.size - 1, min(max_datapoints, ids.size)).astype(int))]
    for d in pick:
        rows = np.flatnonzero(dp == d)[:MAX_SHOTS]  # increasing: one h5py read
        yield x[rows].astype(np.float64), live[rows]


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


def _min_phase(gathers: np.ndarray, live: np.ndarray) -> float | None:
    """The median over a datapoint's shots of the slope of their phase against the
    datapoint's mean (statics, a constant rotation and a bulk delay removed) on the
    minimum phase of their amplitude ratio to it; None where fewer than two shots or
    channels are live on every shot, or the amplitude ratios are flat (no phase to
    predict)."""
    shared = live.all(axis=0)
    if gathers.shape[0] < 2 or shared.sum() < 2:
        return None
    g = gathers[:, shared]
    n = 2 * g.shape[-1]
    spec = np.fft.rfft(g, n=n, axis=-1)  # (I, C, F)
    f = np.arange(spec.shape[-1]) / n  # cycles per sample
    lag = np.zeros(spec.shape[:2])
    for _ in range(ALIGN_PASSES):  # each trace's static against the aligned mean
        mean = (spec * np.exp(2j * np.pi * f * lag[..., None])).mean(axis=0)
        cross = spec * np.conj(mean)
        peak = np.argmax(np.fft.irfft(cross, n=4 * n, axis=-1), axis=-1)
        lag = np.where(peak > 2 * n, peak - 4 * n, peak) / 4.0
    common = (cross * np.exp(-2j * np.pi * f * lag[..., None])).sum(axis=1)  # (I, F)
    power = uniform_filter1d((np.abs(spec) ** 2).sum(axis=1), SMOOTH_BINS, axis=-1)
    band = np.flatnonzero(power.mean(axis=0) >= BAND_FLOOR * power.mean(axis=0).max())
    lo, hi = band[0], band[-1] + 1
    if hi - lo < 8:
        return None
    weight = np.abs(common[:, lo:hi])
    phase = np.unwrap(np.angle(common[:, lo:hi]), axis=-1)
    phase -= np.average(phase, axis=0, weights=weight + 1e-30)
    log_ratio = 0.5 * np.log(power + 1e-30 * power.max())
    log_ratio -= log_ratio.mean(axis=0)
    log_ratio[:, :lo], log_ratio[:, hi:] = log_ratio[:, lo : lo + 1], log_ratio[:, hi - 1 : hi]
    ceps = np.fft.irfft(log_ratio, n=n, axis=-1)  # the causal cepstrum's phase
    ceps[:, 1 : n // 2] *= 2.0
    ceps[:, n // 2 + 1 :] = 0.0
    predicted = np.imag(np.fft.rfft(ceps, axis=-1))[:, lo:hi]
    basis = np.stack([np.ones(hi - lo), f[lo:hi]], axis=1)  # a rotation and a bulk delay
    slopes = []
    for y, p, w in zip(phase, predicted, weight, strict=True):
        sw = np.sqrt(w / w.sum())
        design = np.column_stack([basis, p]) * sw[:, None]
        fit = np.linalg.lstsq(design, y * sw, rcond=None)[0]
        spread = p - basis @ np.linalg.lstsq(basis * sw[:, None], p * sw, rcond=None)[0]
        if np.sqrt(np.sum(sw**2 * spread**2)) >= FLAT_PHASE:
            slopes.append(fit[-1])
    return float(np.median(slopes)) if slopes else None
