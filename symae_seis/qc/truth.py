"""Scoring redatuming against the ground truth of a synthetic survey.

Three NRMS metrics, each a median in percent (Kragh & Christie NRMS):

``gather``      NRMS over the whole gather at once (channels x samples): dominated by
                the strong events, blind to empty traces;
``live_trace``  per-trace NRMS over the traces with signal: truth RMS above 5 % of the
                gather's largest trace RMS (far offsets beyond the record hold none);
``trace``       the mean of per-trace NRMS of each gather, every trace included (the
                toolkit's earlier headline; traces without signal score ~120-140 % for
                any method and put a floor under it).

Zones: ``all``, ``outside`` and ``inside`` the changed zone of the survey's truth.
"""

from __future__ import annotations

import json

import h5py
import numpy as np

from ..typing import PathLike
from .conventional import conventional_estimates, real_gathers_for_truth
from .metrics import gather_nrms, nrms

__all__ = [
    "score_4d_against_truth",
    "load_truth",
    "live_traces",
    "score_methods",
    "truth_scores",
    "truth_matches",
    "real_gathers_for_truth",
    "conventional_estimates",
    "virtual_for_truth",
    "write_truth_scores",
    "TRUTH_SCORE_COLUMNS",
    "LIVE_FRACTION",
    "coverage",
]

#: Traces whose truth RMS is below this fraction of their gather's largest hold no signal.
LIVE_FRACTION = 0.05
#: Columns of ``truth_scores.csv``.
TRUTH_SCORE_COLUMNS = (
    "zone",
    "metric",
    "virtual",
    "raw_monitor",
    "best_baseline",
    "best_baseline_name",
)


def score_4d_against_truth(
    redatum_nc: PathLike, truth_h5: PathLike, monitor_gathers: dict[int, np.ndarray] | None = None
) -> dict:
    """NRMS of virtual gathers and of raw monitor gathers against the truth.

    For baseline shot j at CDP k the truth is the monitor earth recorded with j's exact
    acquisition. The raw-monitor reference is every real monitor shot at CDP k compared
    with that truth (what a geophysicist would difference without redatuming).

    Parameters
    ----------
    redatum_nc
        ``redatum.nc`` of a ``4d`` run (coherent monitor, nuisance baseline).
    truth_h5
        ``truth.h5`` written by :func:`symae_seis.synth.make_conv4d_survey`.
    monitor_gathers
        Optional map CDP -> real monitor gathers ``(shots, C, T)``; default: the noise-free
        monitor gathers in the truth file.

    Returns
    -------
    dict with per-pair arrays ``nrms_virtual``, ``nrms_raw_monitor``, ``changed`` and
    medians (overall, inside and outside the changed zone).
    """
    import xarray as xr

    ds = xr.open_dataset(redatum_nc, engine="h5netcdf")
    with h5py.File(truth_h5, "r") as h5:
        fr_truth = h5["virtual_fieldrecord"][:]
        truth = h5["virtual"][:]
        cdp_truth = h5["virtual_cdp"][:]
        changed = h5["changed"][:]
        pos = changed_index(h5["changed_key"][:] if "changed_key" in h5 else None, len(changed))
        params = json.loads(h5.attrs["params"])
        mon = h5["monitor_clean"][:]
    spc = params["shots_per_cdp"]
    mon_by_cdp = monitor_gathers or {
        k + 1: mon[k * spc : (k + 1) * spc] for k in range(params["n_cdp"])
    }
    index = {int(f): i for i, f in enumerate(fr_truth)}
    keys = ds["recorded_instance_key"].values
    virtual = ds["virtual"].values
    nv, nr, ch = [], [], []
    for p, key in enumerate(keys):
        i = index[int(key)]
        tr = truth[i]
        cdp = int(cdp_truth[i])
        nv.append(float(nrms(virtual[p], tr).mean()))
        nr.append(float(np.median([nrms(m, tr).mean() for m in mon_by_cdp[cdp]])))
        ch.append(bool(changed[pos[cdp]]))
    nv, nr, ch = np.array(nv), np.array(nr), np.array(ch)
    ds.close()

    def med(a, m):
        return float(np.median(a[m])) if m.any() else float("nan")

    return {
        "nrms_virtual": nv,
        "nrms_raw_monitor": nr,
        "changed": ch,
        "median_virtual": med(nv, np.ones_like(ch)),
        "median_raw_monitor": med(nr, np.ones_like(ch)),
        "median_virtual_outside": med(nv, ~ch),
        "median_raw_monitor_outside": med(nr, ~ch),
        "median_virtual_inside": med(nv, ch),
        "median_raw_monitor_inside": med(nr, ch),
    }


def load_truth(truth_h5: PathLike) -> dict[str, np.ndarray]:
    """The arrays of a synthetic survey's ``truth.h5`` used for scoring: ``virtual``
    ``(N, C, T)``, ``virtual_fieldrecord``, ``virtual_cdp``, ``changed`` (per CDP, and
    ``changed_pair`` per truth gather), ``baseline_clean`` and, where the survey has
    dead channels, ``dead`` ``(N, C)``: the baseline's."""
    with h5py.File(truth_h5, "r") as h5:
        out = {
            k: h5[k][:]
            for k in ("virtual", "virtual_fieldrecord", "virtual_cdp", "changed", "baseline_clean")
        }
        keys = h5["changed_key"][:] if "changed_key" in h5 else None
        if "dead/baseline" in h5:  # the baseline's dead channels
            out["dead"] = h5["dead/baseline"][:]
        if "swell/baseline" in h5:  # the baseline's channels hit by swell bursts
            out["swell"] = h5["swell/baseline"][:]
    pos = changed_index(keys, len(out["changed"]))
    out["changed_pair"] = np.array([out["changed"][pos[int(k)]] for k in out["virtual_cdp"]], bool)
    return out


def changed_index(keys: np.ndarray | None, n: int) -> dict[int, int]:
    """Row of a truth's ``changed`` array for each datapoint key: its ``changed_key``
    array where it has one (surveys binned by position), else CDP ``k`` at row ``k - 1``."""
    keys = np.arange(1, n + 1) if keys is None else keys
    return {int(k): i for i, k in enumerate(keys)}


def live_traces(truth: np.ndarray, fraction: float = LIVE_FRACTION) -> np.ndarray:
    """Boolean ``(N, C)``: traces whose RMS exceeds ``fraction`` of their gather's
    largest trace RMS."""
    r = np.sqrt(np.mean(np.asarray(truth, dtype=np.float64) ** 2, axis=-1))
    return r > fraction * r.max(axis=-1, keepdims=True)


def score_methods(
    estimates: dict[str, np.ndarray],
    truth: np.ndarray,
    changed: np.ndarray,
    scored: np.ndarray | None = None,
) -> list[dict]:
    """Median NRMS (%) of each estimate against the truth, per zone and metric.

    Parameters
    ----------
    estimates
        Method name -> gathers ``(N, C, T)`` in the truth's order.
    truth
        True gathers ``(N, C, T)``.
    changed
        ``(N,)`` bool: gathers inside the changed zone.
    scored
        ``(N, C)`` bool: the traces scored (None: all); e.g. not the baseline's dead
        channels, where a processor has no recording to compare with.

    Returns
    -------
    Rows ``{"method", "zone", "metric", "value"}``.
    """
    truth = np.asarray(truth, dtype=np.float64)
    changed = np.asarray(changed, dtype=bool)
    scored = np.ones(truth.shape[:2], bool) if scored is None else np.asarray(scored, bool)
    truth = truth * scored[..., None]
    live = live_traces(truth) & scored
    zones = {"all": np.ones(len(truth), bool), "outside": ~changed, "inside": changed}
    rows = []
    for name, est in estimates.items():
        est = np.asarray(est, dtype=np.float64) * scored[..., None]
        per_trace = np.where(scored, nrms(est, truth), np.nan)  # (N, C)
        per_gather = gather_nrms(est, truth)
        for zone, m in zones.items():
            if not m.any():
                continue
            vals = {
                "gather": np.median(per_gather[m]),
                "live_trace": np.median(per_trace[m][live[m]]),
                "trace": np.median(np.nanmean(per_trace[m], axis=-1)),
            }
            rows += [
                {"method": name, "zone": zone, "metric": k, "value": float(v)}
                for k, v in vals.items()
            ]
    return rows


def truth_scores(
    virtual: np.ndarray,
    raw_monitor: np.ndarray,
    baselines: dict[str, np.ndarray],
    truth: np.ndarray,
    changed: np.ndarray,
) -> list[dict]:
    """Rows of ``truth_scores.csv`` (:data:`TRUTH_SCORE_COLUMNS`): per zone and metric,
    the virtual gathers, the raw monitor and the best of ``baselines`` (lowest value)."""
    rows = score_methods(
        {"virtual": virtual, "raw_monitor": raw_monitor, **baselines}, truth, changed
    )
    table = {(r["method"], r["zone"], r["metric"]): r["value"] for r in rows}
    out = []
    for zone in ("all", "outside", "inside"):
        for metric in ("gather", "live_trace", "trace"):
            if ("virtual", zone, metric) not in table:
                continue
            best = min(baselines, key=lambda b: table[(b, zone, metric)]) if baselines else None
            out.append(
                {
                    "zone": zone,
                    "metric": metric,
                    "virtual": table[("virtual", zone, metric)],
                    "raw_monitor": table[("raw_monitor", zone, metric)],
                    "best_baseline": table[(best, zone, metric)] if best else np.nan,
                    "best_baseline_name": best or "",
                }
            )
    return out


def write_truth_scores(
    reader,
    redatum_nc: PathLike,
    truth_h5: PathLike,
    out_csv: PathLike,
    *,
    window: slice | None = None,
    progress: bool = False,
) -> list[dict]:
    """Score a 4D redatum run against its survey's truth and write ``truth_scores.csv``
    (:data:`TRUTH_SCORE_COLUMNS`): the virtual gathers, the raw monitor and the best
    conventional method (static + scalar, or every monitor shot equalised to the baseline
    shot and stacked, designed in ``window``). Returns the rows."""
    import csv

    from ..io.atomic import atomic_path

    truth = load_truth(truth_h5)
    gathers = real_gathers_for_truth(reader, truth)
    base = conventional_estimates(
        reader,
        truth,
        window=window,
        max_lag=max(1, int(round(20.0 / reader.dt_ms))),
        progress=progress,
        gathers=gathers,
    )
    rows = truth_scores(
        virtual_for_truth(redatum_nc, truth),
        gathers[1],
        base,
        truth["virtual"],
        truth["changed_pair"],
    )
    with atomic_path(out_csv, overwrite=True) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=TRUTH_SCORE_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.2f}" if isinstance(v, float) else v) for k, v in r.items()})
    return rows


def truth_matches(redatum_nc: PathLike, truth_h5: PathLike) -> tuple[bool, str]:
    """Whether a truth file belongs to a redatum run: same gather shape, every truth
    gather's instance key among the run's recorded gathers, at the same CDP.

    Returns
    -------
    (matches, reason) - the reason says what differs.
    """
    import xarray as xr

    with h5py.File(truth_h5, "r") as h5:
        if not {"virtual", "virtual_fieldrecord", "virtual_cdp"} <= set(h5):
            return False, f"{truth_h5} is not a symae-seis truth file"
        shape = h5["virtual"].shape
        keys = h5["virtual_fieldrecord"][:]
        cdps = h5["virtual_cdp"][:]
    with xr.open_dataset(redatum_nc, engine="h5netcdf") as ds:
        run_shape = ds["virtual"].shape
        run_keys = ds["recorded_instance_key"].values
        run_cdp = ds["cdp"].values if "cdp" in ds.variables else None
    if tuple(shape[1:]) != tuple(run_shape[1:]):
        return False, (
            f"{truth_h5} holds gathers of {shape[1]} x {shape[2]}, the run "
            f"{run_shape[1]} x {run_shape[2]}: another dataset"
        )
    where = {int(k): i for i, k in enumerate(run_keys)}
    missing = [int(k) for k in keys if int(k) not in where]
    if missing:
        return False, (
            f"{len(missing)} of the {len(keys)} instance keys of {truth_h5} are "
            f"not in the run (e.g. {missing[0]}): another dataset"
        )
    if run_cdp is not None:
        got = run_cdp[[where[int(k)] for k in keys]]
        if np.any(got != cdps):
            return False, f"{truth_h5} places its gathers at other CDPs than the run"
    return True, "matches"


def virtual_for_truth(
    redatum_nc: PathLike, truth: dict[str, np.ndarray], *, variable: str = "virtual"
) -> np.ndarray:
    """Virtual gathers of a ``4d`` redatum run (or another of its (pair, channel, twt)
    variables, e.g. ``virtual_std``), in the truth's order ``(N, C, T)``."""
    import xarray as xr

    with xr.open_dataset(redatum_nc, engine="h5netcdf") as ds:
        order = {int(k): i for i, k in enumerate(ds["recorded_instance_key"].values)}
        idx = [order[int(f)] for f in truth["virtual_fieldrecord"]]
        return ds[variable].values[idx]


def coverage(
    virtual: np.ndarray,
    std: np.ndarray,
    truth: np.ndarray,
    *,
    k: float = 2.0,
    fraction: float = LIVE_FRACTION,
) -> float:
    """Calibration of ``virtual_std``: the percentage of truth samples within ``k``
    standard deviations of the virtual gather, over the traces with signal."""
    live = live_traces(truth, fraction)
    inside = np.abs(virtual - truth) <= k * std
    return float(100.0 * inside[live].mean()) if live.any() else float("nan")
