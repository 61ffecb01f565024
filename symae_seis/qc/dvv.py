"""Relative velocity change (dv/v) from repeated records: noise cross-correlation between
station pairs (the conventional anchor of passive monitoring) and the stretching method.

No monitoring package (MSNoise, NoisePy, yam) installs here, so the two steps are written
out and tested against exact stretches (``tests/qc/test_dvv.py``):

* :func:`correlate`: per window, spectrally whitened cross-correlation of every station
  pair, ``(W, pairs, 2L+1)`` for lags ``-L..L`` samples;
* :func:`stretch`: the ``eps`` that best maps a reference onto a current trace,
  ``current(t) ~ reference(t (1 + eps))`` (the reference resampled by cubic spline),
  searched on a grid and refined by a parabola,
  over the coda lags ``t1 <= |t| <= t2``; when the medium's velocity rises by dv/v, travel
  times shrink by ``1 / (1 + dv/v)``, so ``eps = dv/v``. Its uncertainty follows Weaver et
  al. (2011): ``sqrt(1 - X^2) / (2 X) * sqrt(6 sqrt(pi/2) T / (wc^2 (t2^3 - t1^3)))``,
  with X the correlation after stretching, T the inverse bandwidth and wc the central
  angular frequency.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from ..errors import SymaeError
from .correlation import (
    all_pairs,
    correlate,
    correlation_lags,
    correlation_nfft,
    whitening_amplitude,
)

__all__ = [
    "correlate",
    "correlation_nfft",
    "correlation_lags",
    "whitening_amplitude",
    "stretch",
    "dvv_by_stretching",
    "moving_stack",
    "all_pairs",
    "day_stacks",
    "daily_dvv",
    "pairwise_dvv",
    "redatum_dvv",
    "DvvError",
]


class DvvError(SymaeError):
    """A dv/v measurement cannot be made on these stacks or this store (too few days, a
    store not by day, a redatuming of another store, pairs that cannot be connected)."""


def moving_stack(day_stacks: np.ndarray, days: int) -> np.ndarray:
    """Mean over the ``days`` days ending at each day (fewer at the start)."""
    out = np.empty_like(day_stacks)
    for d in range(len(day_stacks)):
        out[d] = day_stacks[max(0, d - days + 1) : d + 1].mean(axis=0)
    return out


def _coda_mask(lags_s: np.ndarray, t1: float, t2: float) -> np.ndarray:
    a = np.abs(lags_s)
    return (a >= t1) & (a <= t2)


def stretch(
    current: np.ndarray,
    reference: np.ndarray,
    lags_s: np.ndarray,
    *,
    coda_s: tuple[float, float],
    max_eps: float = 0.02,
    n_eps: int = 401,
    band_hz: tuple[float, float] | None = None,
) -> tuple[float, float, float]:
    """Stretching factor of ``current`` against ``reference`` (same lags, any leading
    axes: all traces are fitted jointly). Traces of ``current`` that are zero throughout
    (station pairs with a dead station that day) are left out of the fit.

    Returns
    -------
    (eps, cc, error): the stretch (``= dv/v``), the correlation coefficient after
    stretching, and its 1-sigma uncertainty (Weaver et al. 2011; NaN without ``band_hz``).
    """
    cur = np.asarray(current, dtype=np.float64).reshape(-1, lags_s.size)
    ref = np.asarray(reference, dtype=np.float64).reshape(-1, lags_s.size)
    keep = np.any(cur != 0, axis=-1)
    if not keep.any():
        return float("nan"), float("nan"), float("nan")
    cur, ref = cur[keep], ref[keep]
    mask = _coda_mask(lags_s, *coda_s)
    c = cur[:, mask]
    c = c - c.mean(axis=-1, keepdims=True)
    eps = np.linspace(-max_eps, max_eps, n_eps)
    # the reference at the stretched lags of each trial eps, by cubic spline (held at the
    # ends of the lag axis). Whitened correlations carry energy up to near Nyquist, where
    # linear interpolation smooths the stretched reference by a fraction that varies along
    # the lags: on the passive benchmark's daily stacks that cost a quarter of the error
    # (small survey, anchor 1-day: 4.74e-4 linear, 3.66e-4 cubic)
    spline = CubicSpline(lags_s, ref, axis=-1)
    pos = np.clip(lags_s[mask][None] * (1 + eps[:, None]), lags_s[0], lags_s[-1])  # (E, M)
    ccs = np.empty(n_eps)
    for k in range(n_eps):  # one eps at a time: memory stays (rows, M)
        r = spline(pos[k])
        r = r - r.mean(axis=-1, keepdims=True)
        ccs[k] = np.sum(c * r) / np.sqrt(np.sum(c * c) * np.sum(r * r) + 1e-300)
    k = int(np.argmax(ccs))
    best, x = eps[k], ccs[k]
    if 0 < k < n_eps - 1:  # parabolic refinement
        y0, y1, y2 = ccs[k - 1], ccs[k], ccs[k + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            off = 0.5 * (y0 - y2) / den
            best = eps[k] + off * (eps[1] - eps[0])
            x = y1 - 0.25 * (y0 - y2) * off
    err = float("nan")
    x = min(x, 1.0)
    if band_hz is not None and x > 0:
        t1, t2 = coda_s
        big_t = 1.0 / (band_hz[1] - band_hz[0])
        wc = np.pi * (band_hz[0] + band_hz[1])
        xx = min(x, 1 - 1e-9)  # a perfect fit: the error's floor, not 0
        err = float(
            np.sqrt(1 - xx * xx)
            / (2 * xx)
            * np.sqrt(6 * np.sqrt(np.pi / 2) * big_t / (wc**2 * (t2**3 - t1**3)))
        )
    return float(best), float(x), err


def dvv_by_stretching(
    stacks: np.ndarray,
    reference: np.ndarray,
    lags_s: np.ndarray,
    *,
    coda_s: tuple[float, float],
    max_eps: float = 0.02,
    band_hz: tuple[float, float] | None = None,
) -> dict[str, np.ndarray]:
    """dv/v of each stack ``(D, pairs, lags)`` against ``reference`` ``(pairs, lags)``,
    all pairs fitted jointly: arrays ``dvv``, ``cc`` and ``err`` of length D."""
    out = {"dvv": [], "cc": [], "err": []}
    for s in stacks:
        e, x, err = stretch(s, reference, lags_s, coda_s=coda_s, max_eps=max_eps, band_hz=band_hz)
        out["dvv"].append(e)
        out["cc"].append(x)
        out["err"].append(err)
    return {k: np.asarray(v) for k, v in out.items()}


def day_stacks(reader, data: np.ndarray | None = None) -> np.ndarray:
    """Mean over each datapoint's (day's) windows, ``(D, pairs, lags)``: of the store's
    correlations, or of ``data`` (rows in store order, e.g. virtual gathers). Each pair is
    averaged over the windows where it is live; a pair dead all day stays zero (and
    :func:`stretch` leaves it out)."""
    out = []
    for m in reader.members:
        x = reader.read(m) if data is None else np.asarray(data[m])
        live = reader.live(m)[..., None]
        out.append((x * live).sum(axis=0) / np.maximum(live.sum(axis=0), 1))
    return np.stack(out).astype(np.float64)


def pairwise_dvv(
    stacks: np.ndarray,
    lags_s: np.ndarray,
    *,
    coda_s: tuple[float, float],
    band_hz: tuple[float, float] | None = None,
    max_eps: float = 0.02,
    max_separation: int | None = None,
) -> dict[str, np.ndarray]:
    """dv/v of every stack ``(D, pairs, lags)`` by the all-pairs inversion (Brenguier et
    al. 2014): the stretch between every two days ``a < b`` (at most ``max_separation``
    days apart; None: all), ``eps_ab ~ dvv_b - dvv_a``, inverted by weighted least squares
    for one dv/v per day with their mean at zero. Each measurement is weighted by
    ``X^2 / (1 - X^2)`` (X its correlation after stretching), the inverse of its Weaver et
    al. variance up to a constant; no day is the reference, so no reference is smeared by
    the other days' changes. Costs ``D (D - 1) / 2`` stretches without ``max_separation``.

    Returns ``dvv``, ``cc`` (mean X of the day's measurements) and ``err`` (1 sigma from
    the measurements' Weaver errors; NaN without ``band_hz``), like :func:`daily_dvv`; NaN
    on dead days (stacks zero throughout). Live days that no measured pair connects (gaps
    wider than ``max_separation``) raise :class:`DvvError`.
    """
    n = len(stacks)
    sep = n - 1 if max_separation is None else int(max_separation)
    if n < 2 or sep < 1:
        raise DvvError(
            f"the all-pairs inversion needs 2 or more days and a separation of "
            f"1 or more, got {n} day(s) and max_separation={max_separation}"
        )
    live = np.any(np.reshape(stacks, (n, -1)) != 0, axis=1)
    rows, eps, xs, errs = [], [], [], []
    for a in np.flatnonzero(live):
        for b in np.flatnonzero(live[a + 1 : min(n, a + sep + 1)]) + a + 1:
            e, x, err = stretch(
                stacks[b], stacks[a], lags_s, coda_s=coda_s, max_eps=max_eps, band_hz=band_hz
            )
            if np.isfinite(e):
                rows.append((a, b))
                eps.append(e)
                xs.append(x)
                errs.append(err)
    rows, eps, xs, errs = map(np.asarray, (rows, eps, xs, errs))
    days = np.flatnonzero(live)  # the unknowns: live days only
    col = np.full(n, -1)
    col[days] = np.arange(days.size)
    design = np.zeros((len(rows), days.size))
    if len(rows):
        design[np.arange(len(rows)), col[rows[:, 1]]] = 1.0
        design[np.arange(len(rows)), col[rows[:, 0]]] = -1.0
    x = np.clip(xs, 1e-6, 1 - 1e-6)
    weight = x * x / (1 - x * x)
    normal = design.T @ (weight[:, None] * design)
    if days.size < 2 or np.linalg.matrix_rank(normal) < days.size - 1:
        raise DvvError(
            f"the day pairs measured do not connect every live day "
            f"(max_separation {max_separation}; dead days "
            f"{np.flatnonzero(~live).tolist()}); no all-pairs solution"
        )
    # design @ ones = 0: the minimum-norm solution of the normal equations has mean zero
    inv = np.linalg.pinv(normal)
    dvv, err, cc = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    dvv[days] = inv @ (design.T @ (weight * eps))
    if band_hz is not None and np.isfinite(errs).all():
        # weights w = c / err^2 for one constant c: cov = c inv, with c from the errors
        c = float(np.median(weight * errs**2))
        err[days] = np.sqrt(np.maximum(np.diag(inv) * c, 0.0))
    cc[days] = [xs[(rows == d).any(axis=1)].mean() for d in days]
    return {"dvv": dvv, "cc": cc, "err": err}


def daily_dvv(
    stacks: np.ndarray,
    lags_s: np.ndarray,
    *,
    coda_s: tuple[float, float],
    reference: int | str = "others",
    days: int = 1,
    band_hz: tuple[float, float] | None = None,
    max_eps: float = 0.02,
) -> dict[str, np.ndarray]:
    """dv/v of every day from its day stacks ``(D, pairs, lags)``, on ``days``-day moving
    stacks (:func:`moving_stack`; 1: each day alone), against a reference:

    * ``"others"`` (default): for each day, the mean of the ``D - n`` days its stack
      does not contain (``n = days`` at most). A reference that holds the current day
      correlates with that day's own noise at zero stretch and pulls every estimate
      towards 0: on the 30-day passive benchmark the mean of all days scales the dv/v by
      0.83 (0.63 on 12 days). The other days' reference sits at their own mean dv/v, so
      the stretch measured against it is scaled by ``(D - n) / D`` to read relative to
      the mean of all days, like the other references;
    * ``"mean"``: the mean of all days (MSNoise-like processing, for records long enough
      that one day's share of the reference is negligible);
    * ``"pairs"``: no reference, every two days stretched against each other and inverted
      (:func:`pairwise_dvv`); the better choice where the daily stacks are clean (long
      windows), the worse one on noisy stacks (``scripts/bench/passive_estimators.py``);
    * a day's index.

    Returns ``dvv``, ``cc`` and ``err`` (Weaver et al.; NaN without ``band_hz``), relative
    to the reference (a reference day reads 0): compare curves after removing their mean.
    """
    if days < 1:
        raise DvvError(f"days must be >= 1, got {days}")
    cur = stacks if days == 1 else moving_stack(stacks, days)
    if reference == "pairs":
        return pairwise_dvv(cur, lags_s, coda_s=coda_s, band_hz=band_hz, max_eps=max_eps)
    if reference != "others":
        ref = stacks.mean(axis=0) if reference == "mean" else stacks[int(reference)]
        return dvv_by_stretching(cur, ref, lags_s, coda_s=coda_s, max_eps=max_eps, band_hz=band_hz)
    n = len(stacks)
    if n <= days:
        raise DvvError(f"reference='others' needs more than {days} day(s) of stacks, got {n}")
    total = stacks.sum(axis=0)
    out = {"dvv": [], "cc": [], "err": []}
    for d in range(n):
        inside = stacks[max(0, d - days + 1) : d + 1]
        ref = (total - inside.sum(axis=0)) / (n - len(inside))
        e, x, err = stretch(cur[d], ref, lags_s, coda_s=coda_s, max_eps=max_eps, band_hz=band_hz)
        # e = (mean dv/v inside) - (the others'): relative to all days' mean, e (n - m) / n
        scale = (n - len(inside)) / n
        for k, v in zip(("dvv", "cc", "err"), (e * scale, x, err * scale)):
            out[k].append(v)
    return {k: np.asarray(v) for k, v in out.items()}


def redatum_dvv(
    redatum_nc,
    store,
    *,
    coda_s: tuple[float, float],
    reference: int | str = "others",
    band_hz: tuple[float, float] | None = None,
    max_eps: float = 0.02,
):
    """Day-by-day (or hour-by-hour) dv/v of a passive redatuming run (``symae-redatum
    --reference ...`` on a correlation store, datapoint = day or hour) beside the
    conventional anchor.

    ``virtual``: each day's virtual correlations (every window seen with one fixed
    nuisance code, a repeatable virtual source) averaged and stretched; ``recorded``: the
    same on the store's own correlations (noise interferometry's daily stacks). Both are
    stretched against ``reference`` as in :func:`daily_dvv` (default: for each day, the
    mean of the other days).

    Returns
    -------
    xarray.Dataset on ``day`` (``hour`` for an hourly store; datetime64 of its start):
    ``dvv_virtual``, ``err_virtual``, ``cc_virtual``, ``dvv_recorded``, ``err_recorded``,
    ``cc_recorded``, and the stacks ``virtual_stack`` / ``recorded_stack`` on (day or hour,
    pair, lag).
    """
    import xarray as xr

    from ..io.store import StoreReader

    if not isinstance(store, StoreReader):
        with StoreReader(store) as reader:  # opened here, closed here
            return redatum_dvv(
                redatum_nc,
                reader,
                coda_s=coda_s,
                reference=reference,
                band_hz=band_hz,
                max_eps=max_eps,
            )
    reader = store
    period = {"day": 86400, "hour": 3600}
    if len(reader.dp_names) != 1 or reader.dp_names[0] not in period:
        raise DvvError(
            f"{reader.path}: datapoints are by {reader.dp_names or 'survey'}, "
            "not by day or hour; ingest with `datapoint_by: day` (or hour)"
        )
    unit = reader.dp_names[0]
    with xr.open_dataset(redatum_nc, engine="h5netcdf") as ds:
        if "recorded_instance" not in ds or ds["virtual"].shape[1:] != reader.shape[1:]:
            raise DvvError(
                f"{redatum_nc}: not a redatuming of {reader.path} (another "
                f"layout); redatum the store the {unit}s come from"
            )
        rows = ds["recorded_instance"].values
        if rows.size != reader.shape[0] or set(rows.tolist()) != set(range(rows.size)):
            raise DvvError(
                f"{redatum_nc}: holds {rows.size} windows, the store "
                f"{reader.shape[0]}; run symae-redatum --reference on every "
                "window (all surveys)"
            )
        virtual = np.empty(reader.shape, dtype=np.float32)
        virtual[rows] = ds["virtual"].values
    lags = (reader.t0_ms + reader.dt_ms * np.arange(reader.shape[-1])) / 1000.0
    stacks = {"virtual": day_stacks(reader, virtual), "recorded": day_stacks(reader)}
    starts = reader.dp_key[:, 0].astype("int64") * period[unit]
    out = xr.Dataset(
        coords={
            unit: (unit, starts.astype("datetime64[s]")),
            "lag": ("lag", lags, {"units": "s", "long_name": "lag time"}),
        }
    )
    for name, st in stacks.items():
        r = daily_dvv(
            st, lags, coda_s=coda_s, reference=reference, band_hz=band_hz, max_eps=max_eps
        )
        out[f"dvv_{name}"] = (unit, r["dvv"], {"long_name": f"dv/v from {name} {unit} stacks"})
        out[f"err_{name}"] = (unit, r["err"], {"long_name": "1-sigma error (Weaver 2011)"})
        out[f"cc_{name}"] = (unit, r["cc"], {"long_name": "correlation after stretching"})
        out[f"{name}_stack"] = ((unit, "pair", "lag"), st)
    out.attrs.update({"coda_s": list(coda_s), "reference": str(reference)})
    return out
