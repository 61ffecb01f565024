"""Noise cross-correlation between station pairs, the conventional anchor of passive
monitoring: spectral whitening, the FFT layout of the lags, and :func:`correlate`."""

from __future__ import annotations

import numpy as np

__all__ = ["all_pairs", "whitening_amplitude", "correlation_nfft", "correlation_lags", "correlate"]


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
) -> np.ndarray:
    """Cross-correlations ``(W, len(pairs), 2 max_lag + 1)`` of windows ``(W, C, T)``.

    Lag ``k`` (index ``max_lag + k``) is ``sum_t a_i(t) a_j(t + k)``: energy travelling
    from station i to station j shows at positive lags. Each correlation is normalised by
    the RMS of its two traces; a pair with a dead trace (``live`` False) is zero.
    """
    w, c, t = windows.shape
    nfft = correlation_nfft(t, max_lag)
    spec = np.fft.rfft(windows - windows.mean(axis=-1, keepdims=True), nfft, axis=-1)
    if whiten:
        spec = _whiten(spec)
    i, j = pairs[:, 0], pairs[:, 1]
    norm = np.sqrt(np.sum(np.abs(spec[:, i]) ** 2, -1) * np.sum(np.abs(spec[:, j]) ** 2, -1))
    cc = correlation_lags(np.conj(spec[:, i]) * spec[:, j], norm, nfft, max_lag)
    if live is not None:
        cc *= (live[:, i] & live[:, j])[..., None]
    return cc
