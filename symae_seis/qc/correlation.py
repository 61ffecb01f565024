"""Noise cross-correlation between station pairs, the conventional anchor of passive
monitoring: spectral whitening, the FFT layout of the lags, and :func:`correlate`."""

from __future__ import annotations

import numpy as np

__all__ = [
    "all_pairs",
    "whitening_amplitude",
    "band_window",
    "correlation_nfft",
    "correlation_lags",
    "correlate",
]


def all_pairs(n: int) -> np.ndarray:
    """All station pairs ``(i, j)``, ``i < j``, as an ``(n(n-1)/2, 2)`` array."""
    return np.array([(i, j) for i in range(n) for j in range(i + 1, n)], dtype=np.int64).reshape(
        -1, 2
    )


def whitening_amplitude(spec: np.ndarray, smooth: int = 5) -> np.ndarray:
    """The amplitude spectrum that spectral whitening divides by: ``|spec|`` smoothed over
    ``smooth`` frequencies, floored at 1e-12 of its largest value."""
    amp = np.abs(spec)
    if smooth > 1:
        kernel = np.ones(smooth) / smooth
        amp = np.apply_along_axis(lambda a: np.convolve(a, kernel, mode="same"), -1, amp)
    return np.maximum(amp, 1e-12 * amp.max(initial=1.0))


def _whiten(spec: np.ndarray, smooth: int = 5) -> np.ndarray:
    return spec / whitening_amplitude(spec, smooth)


def band_window(nfft: int, dt_s: float, band_hz: tuple[float, float], taper: float = 0.1):
    """Weights ``(nfft // 2 + 1,)`` of the rfft frequencies that keep ``band_hz``: 1 inside,
    0 outside, with cosine flanks of ``taper`` times the band's width on each side, inside
    the band (MSNoise puts its flanks outside), so that a whitened spectrum holds only the
    band."""
    f1, f2 = (float(b) for b in band_hz)
    nyquist = 0.5 / dt_s
    if not 0.0 <= f1 < f2 <= nyquist:
        raise ValueError(f"band {f1:g}-{f2:g} Hz must satisfy 0 <= low < high <= {nyquist:g} Hz")
    freq = np.fft.rfftfreq(nfft, dt_s)
    width = taper * (f2 - f1)
    w = ((freq >= f1) & (freq <= f2)).astype(np.float64)
    if width > 0:
        lo = (freq >= f1) & (freq < f1 + width)
        hi = (freq > f2 - width) & (freq <= f2)
        w[lo] = 0.5 - 0.5 * np.cos(np.pi * (freq[lo] - f1) / width)
        w[hi] = 0.5 - 0.5 * np.cos(np.pi * (f2 - freq[hi]) / width)
    if not w.any():
        raise ValueError(
            f"band {f1:g}-{f2:g} Hz holds no frequency of a {nfft}-point FFT at {dt_s:g} s"
        )
    return w


def correlation_nfft(samples: int, max_lag: int) -> int:
    """FFT length of :func:`correlate`: a power of two holding ``samples + max_lag`` (no
    wrap-around within the lags kept)."""
    return 1 << int(np.ceil(np.log2(samples + max_lag + 1)))


def correlation_lags(cross: np.ndarray, norm: np.ndarray, nfft: int, max_lag: int) -> np.ndarray:
    """Cross-spectra ``cross (..., nfft // 2 + 1)`` as correlations on lags
    ``-max_lag..max_lag`` (index ``max_lag + k`` for lag k), divided by ``norm (...)``:
    the layout and scaling of :func:`correlate`."""
    cc = np.fft.irfft(cross, nfft, axis=-1)
    cc = np.concatenate([cc[..., -max_lag:], cc[..., : max_lag + 1]], axis=-1)
    return cc * nfft / np.maximum(norm, 1e-30)[..., None]


def correlate(
    windows: np.ndarray,
    pairs: np.ndarray,
    max_lag: int,
    *,
    whiten: bool = True,
    live: np.ndarray | None = None,
    band: tuple[tuple[float, float], float] | None = None,
) -> np.ndarray:
    """Cross-correlations ``(W, len(pairs), 2 max_lag + 1)`` of windows ``(W, C, T)``.

    Lag ``k`` (index ``max_lag + k``) is ``sum_t a_i(t) a_j(t + k)``: energy travelling
    from station i to station j shows at positive lags. Each correlation is normalised by
    the RMS of its two traces; a pair with a dead trace (``live`` False) is zero. With
    ``band = ((f1, f2), dt_s)`` the (whitened) spectra keep only ``f1..f2`` Hz
    (:func:`band_window`): band-limited whitening, which leaves out the frequencies where a
    real record holds instrument noise rather than coherent waves.
    """
    w, c, t = windows.shape
    nfft = correlation_nfft(t, max_lag)
    spec = np.fft.rfft(windows - windows.mean(axis=-1, keepdims=True), nfft, axis=-1)
    if whiten:
        spec = _whiten(spec)
    if band is not None:
        spec = spec * band_window(nfft, band[1], band[0])
    i, j = pairs[:, 0], pairs[:, 1]
    norm = np.sqrt(np.sum(np.abs(spec[:, i]) ** 2, -1) * np.sum(np.abs(spec[:, j]) ** 2, -1))
    cc = correlation_lags(np.conj(spec[:, i]) * spec[:, j], norm, nfft, max_lag)
    if live is not None:
        cc *= (live[:, i] & live[:, j])[..., None]
    return cc
