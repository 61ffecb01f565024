"""Conventional 4D cross-equalization, the baseline SymAE is measured against.

Each function matches traces ``a`` (e.g. the monitor) to reference traces ``ref`` (e.g.
the baseline) the way a 4D processor would, designing the correction in a window where
the earth did not change (``window``: a ``slice`` of samples, e.g. above the reservoir)
and applying it to whole traces. Arrays are ``(..., T)``; the leading axes are traces
(for :func:`trace_matching_filters` the first axis is the datapoint key along which
filters are smoothed).

(a) :func:`static_and_scalar`: per-trace static by cross-correlation with parabolic
    sub-sample interpolation, applied as an exact Fourier phase shift, and an RMS scalar.
(b) :func:`global_matching_filter`: one least-squares (Wiener) filter for all traces.
(c) :func:`trace_matching_filters`: one filter per trace, smoothed along the key.
(d) :func:`dynamic_warp`: dynamic time warping (Hale, 2013) with a strain limit, whose
    time-variant shifts are removed before (c) (:func:`warp_then_match`).
(e) :func:`equalize_and_stack`: the strongest of them, as a 4D processor runs it: every
    monitor shot of a location is equalised to the baseline shot (per-trace static and
    scalar, then one least-squares matching filter per shot pair) and the equalised
    shots are stacked.
(f) :func:`bin_4d`: 4D binning, the monitor shots nearest in position to a baseline shot
    (whatever their datapoint), equalised and stacked as in (e): what a processor does
    when the vintages' shots did not land on the same positions.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, ndimage, signal

from .qc.metrics import time_shift

__all__ = [
    "low_cut",
    "shift_traces",
    "static_and_scalar",
    "design_filter",
    "apply_filter",
    "global_matching_filter",
    "trace_matching_filters",
    "dynamic_warp",
    "warp_then_match",
    "equalize_and_stack",
    "bin_4d",
]


def _window(t: int, window: slice | None) -> slice:
    return slice(0, t) if window is None else window


def shift_traces(x: np.ndarray, shift: np.ndarray | float) -> np.ndarray:
    """Delay traces by ``shift`` samples (sub-sample, Fourier phase shift; positive =
    later). Traces are zero-padded to twice their length to avoid wrap-around."""
    x = np.asarray(x, dtype=np.float64)
    t = x.shape[-1]
    n = 2 * t
    f = np.fft.rfftfreq(n)
    spec = np.fft.rfft(x, n=n, axis=-1)
    phase = np.exp(-2j * np.pi * f * np.asarray(shift, dtype=np.float64)[..., None])
    return np.fft.irfft(spec * phase, n=n, axis=-1)[..., :t]


def static_and_scalar(
    a: np.ndarray, ref: np.ndarray, *, window: slice | None = None, max_lag: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a) Per-trace static and RMS scalar matching ``a`` to ``ref``.

    Returns
    -------
    matched, shifts (samples applied to ``a``), scalars.
    """
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    w = _window(a.shape[-1], window)
    shifts = -time_shift(a[..., w], ref[..., w], 1.0, max_lag)
    moved = shift_traces(a, shifts)
    rms_a = np.sqrt(np.mean(moved[..., w] ** 2, axis=-1))
    rms_r = np.sqrt(np.mean(ref[..., w] ** 2, axis=-1))
    scal = np.divide(rms_r, rms_a, out=np.ones_like(rms_a), where=rms_a > 0)
    return moved * scal[..., None], shifts, scal


def _conv_matrix(x: np.ndarray, length: int) -> np.ndarray:
    """Rows t of traces ``x (..., T)``: x[t - k + half] for k in 0..length-1 (a centred,
    zero-padded filter), shape ``(..., T, length)``."""
    half = length // 2
    t = x.shape[-1]
    pad = np.zeros(x.shape[:-1] + (t + 2 * length,))
    pad[..., length : length + t] = x
    idx = np.arange(t)[:, None] - np.arange(length)[None, :] + half + length
    return pad[..., idx]


def design_filter(
    a: np.ndarray, ref: np.ndarray, length: int, *, window: slice | None = None, eps: float = 1e-3
) -> np.ndarray:
    """Least-squares filter ``f`` (centred, ``length`` taps) minimising
    ``sum ||(f * a - ref)[window]||^2`` over all traces given, with prewhitening ``eps``
    (fraction of the zero-lag autocorrelation added to the diagonal)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, np.shape(a)[-1])
    ref = np.asarray(ref, dtype=np.float64).reshape(-1, np.shape(ref)[-1])
    w = _window(a.shape[-1], window)
    m = _conv_matrix(a, length)[:, w]  # (traces, window, length)
    ata = np.einsum("ntk,ntl->kl", m, m)
    atb = np.einsum("ntk,nt->k", m, ref[:, w])
    ata[np.diag_indices(length)] += eps * max(np.trace(ata) / length, 1e-30)
    return linalg.solve(ata, atb, assume_a="pos")


def apply_filter(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Convolve traces with a centred filter ``f`` (same length out)."""
    x = np.asarray(x, dtype=np.float64)
    half = len(f) // 2
    full = signal.fftconvolve(x, np.broadcast_to(f, (*x.shape[:-1], len(f))), mode="full", axes=-1)
    return full[..., half : half + x.shape[-1]]


def global_matching_filter(
    a: np.ndarray,
    ref: np.ndarray,
    *,
    length: int = 21,
    window: slice | None = None,
    eps: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray]:
    """(b) One Wiener matching filter for all traces, designed in ``window``, applied to
    whole traces. Returns ``(matched, filter)``."""
    f = design_filter(a, ref, length, window=window, eps=eps)
    return apply_filter(a, f), f


def trace_matching_filters(
    a: np.ndarray,
    ref: np.ndarray,
    *,
    length: int = 21,
    window: slice | None = None,
    eps: float = 1e-3,
    smooth: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """(c) One filter per trace, smoothed with a running mean of ``smooth`` filters along
    the first axis (the datapoint key). Returns ``(matched, filters)``."""
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    flat_a = a.reshape(-1, a.shape[-1])
    flat_r = ref.reshape(-1, ref.shape[-1])
    filt = np.stack(
        [design_filter(x, y, length, window=window, eps=eps) for x, y in zip(flat_a, flat_r)]
    ).reshape(*a.shape[:-1], length)
    if smooth > 1:
        filt = ndimage.uniform_filter1d(filt, size=smooth, axis=0, mode="nearest")
    matched = np.stack(
        [apply_filter(x, f) for x, f in zip(flat_a, filt.reshape(-1, length))]
    ).reshape(a.shape)
    return matched, filt


def dynamic_warp(
    a: np.ndarray, ref: np.ndarray, *, max_shift: int = 10, strain: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """(d) Dynamic time warping (Hale, 2013) of traces ``a`` onto ``ref``.

    Alignment errors ``e[i, l] = (a[i + l] - ref[i])^2`` for integer lags ``|l| <=
    max_shift`` are accumulated forwards and backwards with the strain limit
    ``|l[i] - l[i - b]| <= 1`` (``b = ceil(1 / strain)``), the summed distances are
    minimised per sample (Hale's smooth dynamic warping), and the lags are smoothed and
    applied by linear interpolation. Returns ``(warped a, shifts in samples)``.
    """
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    shape = a.shape
    a2 = a.reshape(-1, shape[-1])
    r2 = ref.reshape(-1, shape[-1])
    b = max(1, int(np.ceil(1.0 / strain)))
    lags = np.arange(-max_shift, max_shift + 1)
    t = shape[-1]
    out = np.empty_like(a2)
    shifts = np.empty_like(a2)
    idx = np.arange(t)
    for k in range(a2.shape[0]):
        pos = np.clip(idx[:, None] + lags[None, :], 0, t - 1)
        e = (a2[k][pos] - r2[k][:, None]) ** 2  # (t, L)
        fwd = _accumulate(e, b)
        bwd = _accumulate(e[::-1], b)[::-1]
        best = np.argmin(fwd + bwd - e, axis=1)
        u = ndimage.uniform_filter1d(lags[best].astype(np.float64), size=2 * b + 1, mode="nearest")
        shifts[k] = u
        out[k] = np.interp(idx + u, idx, a2[k])
    return out.reshape(shape), shifts.reshape(shape)


def _accumulate(e: np.ndarray, b: int) -> np.ndarray:
    """Accumulated alignment error with lag changes of at most 1 every ``b`` samples."""
    t, nl = e.shape
    d = np.empty_like(e)
    d[:b] = np.cumsum(e[:b], axis=0)
    for i in range(b, t):
        prev = d[i - b]
        lo = np.concatenate([[np.inf], prev[:-1]])
        hi = np.concatenate([prev[1:], [np.inf]])
        run = e[i - b + 1 : i + 1].sum(axis=0)
        d[i] = np.minimum(np.minimum(lo, hi), prev) + run
        # samples between i-b and i keep the lag of sample i
    return d


def warp_then_match(
    a: np.ndarray,
    ref: np.ndarray,
    *,
    max_shift: int = 10,
    strain: float = 0.25,
    length: int = 21,
    window: slice | None = None,
    eps: float = 1e-3,
    smooth: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """(d) then (c): remove time-variant shifts by DTW, then trace-by-trace matching
    filters. Returns ``(matched, shifts)``."""
    warped, shifts = dynamic_warp(a, ref, max_shift=max_shift, strain=strain)
    matched, _ = trace_matching_filters(
        warped, ref, length=length, window=window, eps=eps, smooth=smooth
    )
    return matched, shifts


def equalize_and_stack(
    shots: np.ndarray,
    ref: np.ndarray,
    *,
    length: int = 21,
    window: slice | None = None,
    max_lag: int | None = None,
    eps: float = 1e-3,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """(e) Cross-equalise every shot of a location to ``ref`` and stack them.

    Each shot ``(C, T)`` of ``shots (S, C, T)`` gets a per-trace cross-correlation static
    and RMS scalar (a), then one least-squares matching filter designed over all its
    traces against ``ref`` in ``window`` (one filter per shot pair); the ``S`` equalised
    shots are averaged (with ``weights`` where given, e.g. :func:`bin_4d`'s), which also
    averages out what the filters cannot match.

    Returns
    -------
    The stacked, equalised gather ``(C, T)``.
    """
    shots = np.asarray(shots, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if shots.ndim != 3 or shots.shape[1:] != ref.shape:
        raise ValueError(
            f"shots must be (S, C, T) with (C, T) = ref.shape {ref.shape}, got {shots.shape}"
        )
    w = _window(ref.shape[-1], window)
    # traces with no signal in the window get no static or scalar of their own (a
    # cross-correlation of noise would move them at random); the shot's filter still acts
    energy = np.sqrt(np.mean(ref[:, w] ** 2, axis=-1))
    live = energy > 0.05 * max(float(energy.max()), 1e-30)
    w_shot = np.ones(len(shots)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w_shot.shape != (len(shots),) or not np.all(w_shot >= 0) or w_shot.sum() <= 0:
        raise ValueError(f"weights must be {len(shots)} non-negative numbers, not all 0")
    out = np.zeros_like(ref)
    for shot, ws in zip(shots, w_shot):
        if ws == 0:
            continue
        moved = shot.copy()
        if live.any():
            moved[live] = static_and_scalar(shot[live], ref[live], window=window, max_lag=max_lag)[
                0
            ]
        f = design_filter(
            moved[live] if live.any() else moved,
            ref[live] if live.any() else ref,
            length,
            window=window,
            eps=eps,
        )
        out += ws * apply_filter(moved, f)
    return out / w_shot.sum()


def bin_4d(
    ref_position: np.ndarray, positions: np.ndarray, *, nearest: int = 2, soft: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(f) 4D binning: the monitor shots a 4D processor pairs with a baseline shot, those
    nearest in position, and their weights.

    ``ref_position`` ``(D,)`` is the baseline shot's position (source x, y, and any other
    coordinate that should match: a receiver's, the midpoint's; metres), ``positions``
    ``(S, D)`` the candidate monitor shots'. Returns the indices of the ``nearest`` closest
    and their weights: equal (``soft`` 0), or ``1 / (distance + soft)`` (``soft`` in
    metres: how close counts as the same position).

    Examples
    --------
    >>> idx, w = bin_4d(np.array([100.0]), np.array([[90.0], [300.0], [104.0]]))
    >>> idx.tolist(), w.tolist()
    ([2, 0], [1.0, 1.0])
    """
    ref_position = np.atleast_1d(np.asarray(ref_position, dtype=np.float64))
    positions = np.asarray(positions, dtype=np.float64).reshape(len(positions), -1)
    if positions.shape[1] != ref_position.size or len(positions) == 0:
        raise ValueError(f"positions must be (S >= 1, {ref_position.size}), got {positions.shape}")
    if nearest < 1:
        raise ValueError(f"nearest must be >= 1, got {nearest}")
    dist = np.sqrt(((positions - ref_position) ** 2).sum(axis=1))
    idx = np.argsort(dist, kind="stable")[:nearest]
    w = np.ones(len(idx)) if soft <= 0 else 1.0 / (dist[idx] + soft)
    return idx, w


def low_cut(x: np.ndarray, dt_ms: float, hz: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-cut of traces ``x (..., T)`` at ``hz``: the swell-noise
    attenuation a marine processor applies before matching (swell lives below a few
    hertz, the reflections above). Zero phase: no event moves."""
    from scipy.signal import butter, sosfiltfilt

    nyquist = 500.0 / dt_ms
    if not 0 < hz < nyquist:
        raise ValueError(f"low-cut at {hz} Hz must be inside (0, {nyquist:g}) Hz")
    sos = butter(order, hz, "highpass", fs=2 * nyquist, output="sos")
    return sosfiltfilt(sos, np.asarray(x, dtype=np.float64), axis=-1)
