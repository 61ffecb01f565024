"""Window-level options of the dv/v anchor: how a day's correlation windows become its
stack, and which windows are left out before (issue 30 item 2).

* ``mean``: every live window weighs the same (the benchmark's anchor, and
  :func:`symae_seis.qc.dvv.day_stacks`);
* ``selective``: per pair, only the fraction ``keep`` of the day's live windows that
  correlate best with a reference (by default the whole record's mean of that pair) is
  averaged. Windows when the sources were unlike their usual state (a local source, an
  unusual azimuth) correlate worse with the long-term mean and are dropped (selective
  stacking);
* ``robust``: the stack of Pavlis & Vernon (2010): windows weighted by how much of each
  lies along the current stack against how much does not, iterated to convergence. No
  threshold to choose, and a window unlike the others weighs little.

Amplitude-based rejection (:func:`amplitude_live`) acts earlier, on each station's record:
a station whose window RMS (about the window's mean) exceeds ``k`` times its median window
RMS is left out of that window; so is a window without signal (RMS zero). It is the same
rule at ingest (catalog ``correlate.reject_rms``; the median over each survey) and in
memory (the benchmark's held-out noise field; the median over the record, one survey).
"""

from __future__ import annotations

import numpy as np

__all__ = ["STACKINGS", "amplitude_live", "pair_live", "stack_windows", "record_mean"]

#: The stacking methods :func:`stack_windows` knows.
STACKINGS = ("mean", "selective", "robust")


def amplitude_live(rms: np.ndarray, k: float) -> np.ndarray:
    """Live mask ``(windows, stations)`` from each station's window RMS ``rms (windows,
    stations)``: live when the RMS is finite, above zero and at most ``k`` times the
    station's median over the windows where it recorded."""
    rms = np.asarray(rms, dtype=np.float64)
    if rms.ndim != 2:
        raise ValueError(f"rms must be (windows, stations), got shape {rms.shape}")
    if not k > 1:
        raise ValueError(f"the rejection factor must be above 1, got {k!r}")
    ok = np.isfinite(rms) & (rms > 0)
    med = np.array(
        [np.median(rms[ok[:, c], c]) if ok[:, c].any() else np.inf for c in range(rms.shape[1])]
    )
    return ok & (rms <= k * med)


def pair_live(rms: np.ndarray, pairs: np.ndarray, k: float | None) -> np.ndarray:
    """Live mask ``(days, windows, pairs)`` of station pairs from the stations' window RMS
    ``(days, windows, stations)``: both stations kept by :func:`amplitude_live` over the
    whole record (every station live with ``k`` None)."""
    rms = np.asarray(rms)
    d, w, c = rms.shape
    live = np.ones((d, w, c), bool) if k is None else amplitude_live(rms.reshape(-1, c), k)
    live = live.reshape(d, w, c)
    return live[..., pairs[:, 0]] & live[..., pairs[:, 1]]


def _live_mean(x: np.ndarray, live: np.ndarray) -> np.ndarray:
    n = live.sum(axis=0)[..., None].astype(np.float64)
    return np.where(live[..., None], x, 0.0).sum(axis=0) / np.maximum(n, 1.0)


def _cosine(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Correlation coefficient of every window ``(W, P, L)`` with ``ref (P, L)``."""
    num = np.einsum("wpl,pl->wp", x, ref)
    den = np.linalg.norm(x, axis=-1) * np.linalg.norm(ref, axis=-1)[None]
    return np.where(den > 0, num / np.maximum(den, 1e-300), 0.0)


def _selective(x, live, keep, reference):
    cc = np.where(live, _cosine(x, reference), -np.inf)
    n = np.ceil(keep * live.sum(axis=0)).astype(int)  # per pair
    rank = np.argsort(np.argsort(-cc, axis=0, kind="stable"), axis=0)
    return _live_mean(x, live & (rank < n[None]))


def _robust(x, live, iterations, tol):
    s = _live_mean(x, live)
    for _ in range(iterations):
        norm = np.linalg.norm(s, axis=-1, keepdims=True)
        unit = np.where(norm > 0, s / np.maximum(norm, 1e-300), 0.0)
        a = np.einsum("wpl,pl->wp", x, unit)
        size = np.linalg.norm(x, axis=-1)
        resid = np.linalg.norm(x - a[..., None] * unit[None], axis=-1)
        resid = np.maximum(resid, 1e-6 * size)  # a window along the stack: weight 1e6, finite
        w = np.where(live & (size > 0), np.abs(a) / np.maximum(size * resid, 1e-300), 0.0)
        total = w.sum(axis=0)
        new = np.where(
            total[:, None] > 0,
            np.einsum("wp,wpl->pl", w, x) / np.maximum(total, 1e-300)[:, None],
            0.0,
        )
        scale = np.maximum(np.linalg.norm(new, axis=-1), 1e-300)
        change = np.linalg.norm(new / scale[:, None] - unit, axis=-1).max(initial=0.0)
        s = new
        if change < tol:
            break
    return s


def stack_windows(
    windows: np.ndarray,
    live: np.ndarray | None = None,
    stacking: str = "mean",
    *,
    keep: float = 0.5,
    reference: np.ndarray | None = None,
    iterations: int = 20,
    tol: float = 1e-6,
) -> np.ndarray:
    """One day's stack ``(pairs, lags)`` from its windows ``(W, pairs, lags)``, with the
    ``stacking`` of the module docstring over the windows where each pair is ``live``
    (``(W, pairs)``; all by default). ``keep``: the fraction of live windows selective
    stacking averages; ``reference``: what it compares them with (default: the day's
    mean). A pair dead all day stays zero."""
    if stacking not in STACKINGS:
        raise ValueError(f"stacking must be one of {STACKINGS}, got {stacking!r}")
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep!r}")
    x = np.asarray(windows, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"windows must be (windows, pairs, lags), got shape {x.shape}")
    live = np.ones(x.shape[:2], dtype=bool) if live is None else np.asarray(live, dtype=bool)
    if live.shape != x.shape[:2]:
        raise ValueError(f"live must be {x.shape[:2]} (windows, pairs), got {live.shape}")
    x = np.where(live[..., None], x, 0.0)  # whatever a dead window holds (NaN too) weighs 0
    if stacking == "mean":
        return _live_mean(x, live)
    if stacking == "selective":
        ref = _live_mean(x, live) if reference is None else np.asarray(reference, np.float64)
        if ref.shape != x.shape[1:]:
            raise ValueError(f"reference must be {x.shape[1:]} (pairs, lags), got {ref.shape}")
        return _selective(x, live, keep, ref)
    return _robust(x, live, iterations, tol)


def record_mean(days) -> np.ndarray:
    """The mean ``(pairs, lags)`` of every live window of a record given as ``(windows,
    live)`` per day (selective stacking's reference)."""
    total, count = None, None
    for x, live in days:
        live = np.asarray(live, dtype=bool)[..., None]
        part = np.where(live, np.asarray(x, np.float64), 0.0).sum(axis=0)
        n = live.sum(axis=0).astype(np.float64)
        total = part if total is None else total + part
        count = n if count is None else count + n
    if total is None:
        raise ValueError("record_mean needs at least one day")
    return total / np.maximum(count, 1.0)
