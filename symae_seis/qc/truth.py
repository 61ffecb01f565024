"""Scoring redatuming against the ground truth of a synthetic survey."""

from __future__ import annotations

import json

import h5py
import numpy as np

from ..typing import PathLike
from .metrics import nrms

__all__ = ["score_4d_against_truth"]


def score_4d_against_truth(redatum_nc: PathLike, truth_h5: PathLike,
                           monitor_gathers: dict[int, np.ndarray] | None = None) -> dict:
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
        params = json.loads(h5.attrs["params"])
        mon = h5["monitor_clean"][:]
    spc = params["shots_per_cdp"]
    mon_by_cdp = monitor_gathers or {k + 1: mon[k * spc:(k + 1) * spc]
                                     for k in range(params["n_cdp"])}
    index = {int(f): i for i, f in enumerate(fr_truth)}
    keys = ds["real_instance_key"].values
    virtual = ds["virtual"].values
    nv, nr, ch = [], [], []
    for p, key in enumerate(keys):
        i = index[int(key)]
        tr = truth[i]
        cdp = int(cdp_truth[i])
        nv.append(float(nrms(virtual[p], tr).mean()))
        nr.append(float(np.median([nrms(m, tr).mean() for m in mon_by_cdp[cdp]])))
        ch.append(bool(changed[cdp - 1]))
    nv, nr, ch = np.array(nv), np.array(nr), np.array(ch)
    ds.close()

    def med(a, m):
        return float(np.median(a[m])) if m.any() else float("nan")

    return {
        "nrms_virtual": nv, "nrms_raw_monitor": nr, "changed": ch,
        "median_virtual": med(nv, np.ones_like(ch)),
        "median_raw_monitor": med(nr, np.ones_like(ch)),
        "median_virtual_outside": med(nv, ~ch), "median_raw_monitor_outside": med(nr, ~ch),
        "median_virtual_inside": med(nv, ch), "median_raw_monitor_inside": med(nr, ch),
    }
