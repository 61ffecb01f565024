"""4D repeatability metrics: NRMS, predictability, time shift.

All functions work on the last axis (time) and broadcast over the others.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = ["rms", "nrms", "gather_nrms", "predictability", "time_shift", "PRED_LAG_MS", "pred_lag"]

#: Lag window of predictability: about one period of a 25 Hz wavelet.
PRED_LAG_MS = 40.0


def pred_lag(dt_ms: float, lag_ms: float = PRED_LAG_MS) -> int:
    """Predictability's ``max_lag`` in samples for a sample interval (at least 1)."""
    return max(1, int(round(lag_ms / dt_ms)))


def rms(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """Root-mean-square along ``axis`` (float64)."""
    a = np.asarray(a, dtype=np.float64)
    return np.sqrt(np.mean(a * a, axis=axis))


def nrms(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """Normalised RMS difference in percent (Kragh & Christie, 2002).

    ``NRMS = 200 * RMS(a - b) / (RMS(a) + RMS(b))``: 0 for identical traces, about 141
    for two uncorrelated traces of equal energy, 200 for a polarity flip. Where both
    traces are zero the result is 0.

    Examples
    --------
    >>> float(nrms(np.array([1.0, -1.0]), np.array([-1.0, 1.0])))
    200.0
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    den = rms(a, axis) + rms(b, axis)
    num = 200.0 * rms(a - b, axis)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def gather_nrms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NRMS (%) over whole gathers: the last two axes (channels, samples) taken as one
    series, so strong events weigh as they do in the data and empty traces add nothing.

    Examples
    --------
    >>> g = np.ones((3, 4))
    >>> float(gather_nrms(g, -g))
    200.0
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    flat = a.shape[:-2] + (-1,)
    return nrms(a.reshape(flat), np.broadcast_to(b, a.shape).reshape(flat))


def _xcorr(a: np.ndarray, b: np.ndarray, max_lag: int) -> np.ndarray:
    """Cross-correlation sum_t a[t + tau] b[t] for tau in [-max_lag, max_lag]."""
    a, b = np.broadcast_arrays(a, b)
    n = a.shape[-1]
    full = signal.fftconvolve(a, b[..., ::-1], mode="full", axes=-1)  # lags -(n-1)..n-1
    mid = n - 1
    return full[..., mid - max_lag : mid + max_lag + 1]


def predictability(a: np.ndarray, b: np.ndarray, max_lag: int) -> np.ndarray:
    """Predictability PRED in percent (Kragh & Christie, 2002).

    ``PRED = 100 * sum_tau phi_ab(tau)^2 / sum_tau phi_aa(tau) phi_bb(tau)``, summed over
    lags ``|tau| <= max_lag`` samples (choose about one dominant period). 100 for traces
    that differ by a scalar, near 0 for unrelated ones. (The industry also calls the
    maximum of the normalised cross-correlation "predictability"; this is not that.)

    Examples
    --------
    >>> x = np.sin(np.linspace(0, 20, 200))
    >>> round(float(predictability(x, 3 * x, 10)), 6)
    100.0
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if max_lag < 0 or max_lag >= a.shape[-1]:
        raise ValueError(f"max_lag must be in [0, {a.shape[-1] - 1}], got {max_lag}")
    ab = _xcorr(a, b, max_lag)
    aa = _xcorr(a, a, max_lag)
    bb = _xcorr(b, b, max_lag)
    num = 100.0 * np.sum(ab * ab, axis=-1)
    den = np.sum(aa * bb, axis=-1)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def time_shift(
    a: np.ndarray, b: np.ndarray, dt: float = 1.0, max_lag: int | None = None
) -> np.ndarray:
    """Time shift of ``a`` relative to ``b`` (positive: ``a`` is later), in units of ``dt``.

    The cross-correlation peak within ``|lag| <= max_lag`` samples (default: a quarter of
    the trace) is refined by fitting a parabola through it and its two neighbours.

    Examples
    --------
    >>> t = np.arange(200.0)
    >>> w = lambda s: np.exp(-((t - 100 - s) / 6) ** 2)
    >>> round(float(time_shift(w(2.5), w(0.0))), 2)
    2.5
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n = a.shape[-1]
    max_lag = n // 4 if max_lag is None else int(max_lag)
    c = _xcorr(a, b, max_lag)
    k = np.argmax(c, axis=-1)
    k = np.clip(k, 1, c.shape[-1] - 2)
    y0 = np.take_along_axis(c, (k - 1)[..., None], -1)[..., 0]
    y1 = np.take_along_axis(c, k[..., None], -1)[..., 0]
    y2 = np.take_along_axis(c, (k + 1)[..., None], -1)[..., 0]
    den = y0 - 2 * y1 + y2
    frac = np.divide(0.5 * (y0 - y2), den, out=np.zeros_like(den), where=den != 0)
    frac = np.clip(frac, -0.5, 0.5)
    return (k - max_lag + frac) * dt
