"""Diagnostic: where SymAE's error on a towed-streamer survey comes from, split into what
the model cannot rebuild of the baseline shot itself and what the swap of coherent codes
adds, with the time shifts of each by record time and channel quarter.

Reads a quality run's survey folder (``quality.py --surveys marine4d --out RUN`` leaves
``RUN/marine4d`` with ``truth.h5`` and ``redatum/redatum.nc``), outside the changed zone:

* virtual gather against the truth (the score of the benchmark);
* reconstruction of the baseline shot (its own coherent and nuisance codes) against the
  clean baseline shot (noise free): what the model cannot express of one shot;
* virtual against that reconstruction: what swapping the coherent code adds (outside the
  zone the two earths are one, so an exact model gives zero);
* recorded against clean: the noise left after ingest and, where the store was low-cut
  (``low_cut_hz``), what the filter took of the signal;
* the low-cut truth against the truth: that loss alone, a floor for every method scored
  against a full-band truth.

Time shifts (ms, positive: the first gather is later) are the median of the
cross-correlation lag over the traces with signal in each window of record time, by
quarter of the channels (the far offsets last); dead baseline channels are left out.
``docs/decisions/field-geometry.md`` reads them.

    python scripts/bench/marine_budget.py RUN/marine4d
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import xarray as xr

from symae_seis.baselines import low_cut
from symae_seis.catalog import load_catalog
from symae_seis.qc.metrics import gather_nrms, time_shift
from symae_seis.qc.truth import live_traces, load_truth, virtual_for_truth

#: Windows of record time (ms) the shifts are measured in (those before the record's
#: first sample are skipped).
WINDOWS_MS = ((0, 400), (400, 600), (600, 1000), (1000, 1500))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="a quality run's survey folder")
    ap.add_argument("--max-lag-ms", type=float, default=20.0)
    args = ap.parse_args()
    truth = load_truth(args.folder / "truth.h5")
    nc = args.folder / "redatum" / "redatum.nc"
    with xr.open_dataset(nc, engine="h5netcdf") as ds:  # the record's time axis
        twt = ds["twt"].values
        low_cut_hz = json.loads(ds.attrs.get("symae_options", "{}")).get("store_low_cut_hz")
    t0_ms, dt_ms = float(twt[0]), float(twt[1] - twt[0])
    if low_cut_hz is None and (args.folder / "catalog.yaml").is_file():  # older runs
        entries = load_catalog(args.folder / "catalog.yaml")
        low_cut_hz = getattr(entries[next(iter(entries))], "low_cut_hz", None)
    virtual = virtual_for_truth(nc, truth).astype(np.float64)
    recon = virtual_for_truth(nc, truth, variable="reconstruction").astype(np.float64)
    recorded = virtual_for_truth(nc, truth, variable="recorded").astype(np.float64)
    out = ~truth["changed_pair"]
    # the baseline's dead channels are not scored (as in the benchmark)
    scored = (~truth["dead"] if "dead" in truth else np.ones(virtual.shape[:2], bool))[out]
    keep = scored[..., None]
    tv, clean = truth["virtual"][out] * keep, truth["baseline_clean"][out] * keep
    virtual, recon, recorded = virtual[out] * keep, recon[out] * keep, recorded[out] * keep
    pairs = {
        "virtual - truth": (virtual, tv),
        "reconstruction - clean baseline": (recon, clean),
        "virtual - reconstruction": (virtual, recon),
        "recorded - clean baseline": (recorded, clean),
    }
    if low_cut_hz:  # what the low-cut at ingest takes of the signal: every method's floor
        pairs["low-cut truth - truth"] = (low_cut(tv, dt_ms, low_cut_hz) * keep, tv)
    lag = max(1, int(round(args.max_lag_ms / dt_ms)))
    print(f"outside the changed zone, {int(out.sum())} gathers; median NRMS (%)")
    quarters = np.array_split(np.arange(virtual.shape[1]), 4)
    print(f"  {'':34s} {'gather':>6s} {'q1':>6s} {'q2':>6s} {'q3':>6s} {'q4':>6s}")
    for name, (a, b) in pairs.items():
        parts = [np.median(gather_nrms(a, b))]
        parts += [np.median(gather_nrms(a[:, q], b[:, q])) for q in quarters]
        print(f"  {name:34s} " + " ".join(f"{v:6.1f}" for v in parts))
    for name in ("virtual - truth", "reconstruction - clean baseline", "virtual - reconstruction"):
        a, b = pairs[name]
        print(f"time shift of {name} (ms), median by window x channel quarter (q1 near)")
        for lo, hi in WINDOWS_MS:
            s = slice(max(0, int((lo - t0_ms) / dt_ms)), max(0, int((hi - t0_ms) / dt_ms)))
            if s.stop <= s.start:
                continue
            shift = time_shift(a[..., s], b[..., s], dt_ms, max_lag=lag)
            # traces with signal in the window only (none before the direct wave)
            live = live_traces(b[..., s]) & scored
            cells = " ".join(
                f"{np.median(shift[:, q][live[:, q]]):6.2f}" if live[:, q].any() else "     -"
                for q in quarters
            )
            print(f"  {lo:5d}-{hi:5d} ms  {cells}")


if __name__ == "__main__":
    main()
