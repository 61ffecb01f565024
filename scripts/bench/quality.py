"""Benchmark: redatuming quality against ground truth, SymAE vs conventional 4D processing.

For each synthetic survey (convolutional ``conv4d``, wave-equation ``wave4d``; and the
deepwater-statics survey) the script generates the survey, ingests it, trains SymAE for a
fixed budget, redatums, and compares against the truth (the monitor earth recorded with
each baseline shot's exact acquisition):

* raw monitor (a monitor shot at the same location, no correction);
* (a) static + RMS scalar, (b) global Wiener matching filter, (c) trace-by-trace
  matching filters smoothed along the key, (d) DTW then (c) — each matching the monitor
  shot to the baseline shot in a design window where nothing changes;
* SymAE virtual gathers (coherent monitor code + nuisance code of the baseline shot).

Printed per method: median and P90 NRMS, median PRED (lags within one dominant period) in
the no-change window, the reservoir window and the whole trace, inside and outside the
changed zone; the relative L2 error of the recovered 4D difference inside the zone;
residual time shift (ms and samples); wall time; the seed. For the statics survey:
residual time shifts of every shot against the truth (the shot recorded with the
reference water velocity), raw, after (a) and after SymAE's common-reference redatuming.
Results go to ``quality.csv`` and ``quality.png`` in ``--out``.

    python scripts/bench/quality.py                   # default sizes and budget (CPU)
    python scripts/bench/quality.py --epochs 3 --surveys conv4d --small   # quick look
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import h5py
import lightning.pytorch as pl
import numpy as np
import torch
import yaml

from symae_seis import baselines as B
from symae_seis.catalog import load_catalog
from symae_seis.io.store import StoreReader, build_store
from symae_seis.qc.metrics import nrms, predictability, time_shift
from symae_seis.redatum import redatum
from symae_seis.training import SymAEDataModule, SymAELit


def make_survey(kind: str, folder: Path, small: bool, seed: int) -> dict[str, Path]:
    if kind == "conv4d":
        from symae_seis.synth import Conv4DParams, make_conv4d_survey

        p = Conv4DParams(n_cdp=16, shots_per_cdp=6, seed=seed) if small else \
            Conv4DParams(seed=seed)
        return make_conv4d_survey(folder, p, overwrite=True)
    from symae_seis.synth.wave import Wave4DParams, make_statics_survey, make_wave4d_survey

    p = Wave4DParams(seed=seed)
    if small:
        p = Wave4DParams(nz=60, nx=130, nt=1200, n_loc=5, shots_per_loc=4, channels=8,
                         rec_spacing=4, loc_spacing=12, first_loc=20, lens=(1, 3), seed=seed)
    make = make_wave4d_survey if kind == "wave4d" else make_statics_survey
    return make(folder, p, overwrite=True)


def train(cat: Path, name: str, epochs: int, seed: int) -> tuple[SymAELit, float]:
    pl.seed_everything(seed)
    dm = SymAEDataModule(name, str(cat), instances=4, batch_size=8, repeats=4,
                         val_fraction=0.1)
    lit = SymAELit(dm.channels, dm.samples, dm.scale, dm.schema, width=16, hidden=256,
                   lr=2e-3)
    t0 = time.perf_counter()
    pl.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False,
               enable_progress_bar=False, enable_model_summary=False).fit(lit, dm)
    return lit, time.perf_counter() - t0


def windows(t: int, dt_ms: float, truth: dict) -> dict[str, slice]:
    d4 = np.abs(truth["virtual"] - truth["baseline_clean"]).mean(axis=(0, 1))
    live = np.flatnonzero(d4 > 0.05 * d4.max()) if d4.max() > 0 else np.array([t // 2])
    top = int(live[0])
    return {"no_change": slice(0, max(top, 8)), "reservoir": slice(top, t), "whole": slice(0, t)}


def score(name: str, est: np.ndarray, truth: dict, changed: np.ndarray, win: dict,
          dt_ms: float, seconds: float, max_lag: int) -> list[dict]:
    rows = []
    tv, base = truth["virtual"], truth["baseline_clean"]
    d_true = tv - base
    # traces with signal in the truth (far offsets beyond the record hold none; NRMS of
    # empty traces measures noise, not redatuming)
    trace_rms = np.sqrt(np.mean(tv ** 2, axis=-1))
    live = trace_rms > 0.05 * trace_rms.max()
    for zone, mask in (("inside", changed), ("outside", ~changed)):
        if not mask.any():
            continue
        for wname, w in win.items():
            a, b = est[mask][..., w], tv[mask][..., w]
            wl = live[mask] & (np.sqrt(np.mean(b ** 2, axis=-1)) > 0.05 * trace_rms.max())
            if not wl.any():
                continue
            n = nrms(a, b)[wl]
            p = predictability(a, b, min(max_lag, a.shape[-1] - 1))[wl]
            rows.append({"method": name, "zone": zone, "window": wname,
                         "nrms_median": float(np.median(n)),
                         "nrms_p90": float(np.percentile(n, 90)),
                         "pred_median": float(np.median(p)), "seconds": seconds})
        sh = time_shift(est[mask], tv[mask], dt_ms, max_lag=max_lag)[live[mask]]
        rows[-1]["shift_ms"] = float(np.mean(np.abs(sh)))
        rows[-1]["shift_samples"] = float(np.mean(np.abs(sh)) / dt_ms)
        if zone == "inside":
            d_est = est[mask] - base[mask]
            rows[-1]["rel_l2_4d"] = float(np.linalg.norm(d_est - d_true[mask]) /
                                          max(np.linalg.norm(d_true[mask]), 1e-30))
    return rows


def run_4d(kind: str, out: Path, epochs: int, small: bool, seed: int) -> list[dict]:
    folder = out / kind
    paths = make_survey(kind, folder, small, seed)
    cat = folder / "catalog.yaml"
    cat.write_text(yaml.safe_dump({"datasets": {kind: {
        "surveys": {"baseline": str(paths["baseline"]), "monitor": str(paths["monitor"])},
        "datapoint_key": ["CDP"], "store": str(folder / "store.h5")}}}))
    store = build_store(load_catalog(cat)[kind])
    with h5py.File(paths["truth"], "r") as h5:
        truth = {k: h5[k][:] for k in ("virtual", "baseline_clean", "monitor_clean",
                                       "virtual_fieldrecord", "virtual_cdp", "changed")}
    reader = StoreReader(store)
    t = reader.shape[-1]
    dt = reader.dt_ms
    max_lag = max(1, int(round(40.0 / dt)))
    win = windows(t, dt, truth)
    # real gathers in truth order: baseline shot j and one monitor shot at the same CDP
    key_row = {(int(s), int(k)): i for i, (s, k) in
               enumerate(zip(reader.survey, reader.instance_key))}
    sb, sm = reader.surveys.index("baseline"), reader.surveys.index("monitor")
    b_rows = np.array([key_row[(sb, int(f))] for f in truth["virtual_fieldrecord"]])
    base_real = reader.read(b_rows).astype(np.float64)
    cdp = truth["virtual_cdp"]
    mon_by_cdp = {}
    for d in range(len(reader.dp_survey)):
        if reader.dp_survey[d] == sm:
            mon_by_cdp[int(reader.dp_key[d, 0])] = reader.members[d]
    spc = np.bincount(cdp).max()
    mon_rows = np.array([mon_by_cdp[int(c)][j % len(mon_by_cdp[int(c)])]
                         for j, c in enumerate(cdp)])
    mon_real = reader.read(mon_rows).astype(np.float64)
    changed = truth["changed"][cdp - 1]
    rows = score("raw monitor", mon_real, truth, changed, win, dt, 0.0, max_lag)
    design = win["no_change"]
    methods = {
        "(a) static + scalar": lambda a, r: B.static_and_scalar(a, r, window=design,
                                                                max_lag=max_lag // 2)[0],
        "(b) global matching filter": lambda a, r: B.global_matching_filter(
            a, r, length=max_lag, window=design)[0],
        "(c) trace matching filters": lambda a, r: B.trace_matching_filters(
            a, r, length=max_lag, window=design, smooth=3)[0],
        "(d) DTW + (c)": lambda a, r: B.warp_then_match(
            a, r, max_shift=max_lag // 2, length=max_lag, window=design, smooth=3)[0],
    }
    for name, fn in methods.items():
        t0 = time.perf_counter()
        est = fn(mon_real, base_real)
        rows += score(name, est, truth, changed, win, dt, time.perf_counter() - t0, max_lag)
    lit, t_train = train(cat, kind, epochs, seed)
    t0 = time.perf_counter()
    res = redatum(lit.model, store, folder / "redatum", overwrite=True, write_segy=False)
    import xarray as xr

    ds = xr.load_dataset(res.files["netcdf"], engine="h5netcdf")
    order = {int(k): i for i, k in enumerate(ds["real_instance_key"].values)}
    virt = ds["virtual"].values[[order[int(f)] for f in truth["virtual_fieldrecord"]]]
    rows += score("SymAE virtual", virt.astype(np.float64), truth, changed, win, dt,
                  t_train + time.perf_counter() - t0, max_lag)
    for r in rows:
        r.update({"survey": kind, "seed": seed, "epochs": epochs, "shots_per_cdp": int(spc)})
    return rows


def run_statics(out: Path, epochs: int, small: bool, seed: int) -> list[dict]:
    folder = out / "statics"
    paths = make_survey("statics", folder, small, seed)
    cat = folder / "catalog.yaml"
    cat.write_text(yaml.safe_dump({"datasets": {"statics": {
        "surveys": {"baseline": str(paths["baseline"]), "monitor": str(paths["monitor"])},
        "datapoint_key": ["CDP"], "store": str(folder / "store.h5")}}}))
    store = build_store(load_catalog(cat)["statics"])
    with h5py.File(paths["truth"], "r") as h5:
        tv, fr = h5["virtual"][:], h5["virtual_fieldrecord"][:]
    reader = StoreReader(store)
    dt = reader.dt_ms
    lag = max(1, int(round(40.0 / dt)))
    rows = {int(k): i for i, k in enumerate(reader.instance_key)}
    real = reader.read(np.array([rows[int(f)] for f in fr])).astype(np.float64)
    out_rows = []

    def add(name, est, seconds):
        sh = time_shift(est, tv, dt, max_lag=lag)
        out_rows.append({"survey": "statics", "method": name, "zone": "all", "window": "whole",
                         "shift_ms": float(np.mean(np.abs(sh))),
                         "shift_samples": float(np.mean(np.abs(sh)) / dt),
                         "nrms_median": float(np.median(nrms(est, tv))),
                         "seconds": seconds, "seed": seed, "epochs": epochs})

    add("raw shots", real, 0.0)
    t0 = time.perf_counter()
    with h5py.File(paths["truth"], "r") as h5:
        cdp = h5["virtual_cdp"][:]
    stack = np.stack([real[cdp == c].mean(axis=0) for c in cdp])   # each location's mean shot
    add("(a) static to the location's mean shot", B.static_and_scalar(real, stack)[0],
        time.perf_counter() - t0)
    lit, t_train = train(cat, "statics", epochs, seed)
    t0 = time.perf_counter()
    res = redatum(lit.model, store, folder / "redatum", mode="reference", reference="mean",
                  surveys=["baseline"], overwrite=True, write_segy=False)
    import xarray as xr

    ds = xr.load_dataset(res.files["netcdf"], engine="h5netcdf")
    order = {int(k): i for i, k in enumerate(ds["real_instance_key"].values)}
    virt = ds["virtual"].values[[order[int(f)] for f in fr]].astype(np.float64)
    add("SymAE common reference (mean code)", virt, t_train + time.perf_counter() - t0)
    return out_rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel = [r for r in rows if r.get("window") == "whole" and r.get("zone") in ("inside",
                                                                                "outside")]
    surveys = sorted({r["survey"] for r in sel})
    fig, axes = plt.subplots(1, max(1, len(surveys)), figsize=(6 * max(1, len(surveys)), 4),
                             squeeze=False)
    for ax, s in zip(axes[0], surveys):
        methods = list(dict.fromkeys(r["method"] for r in sel if r["survey"] == s))
        for k, zone in enumerate(("outside", "inside")):
            vals = [next((r["nrms_median"] for r in sel if r["survey"] == s and
                          r["method"] == m and r["zone"] == zone), np.nan) for m in methods]
            ax.bar(np.arange(len(methods)) + 0.4 * k, vals, 0.4, label=f"{zone} changed zone")
        ax.set_xticks(np.arange(len(methods)) + 0.2, methods, rotation=30, ha="right",
                      fontsize=8)
        ax.set_ylabel("median NRMS vs truth (%)")
        ax.set_title(s)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--surveys", nargs="+", default=["conv4d", "wave4d", "statics"])
    ap.add_argument("--epochs", type=int, default=20, help="SymAE training budget per survey")
    ap.add_argument("--small", action="store_true", help="tiny surveys (a quick look)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("out/bench_quality"))
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in args.surveys:
        rows += run_statics(args.out, args.epochs, args.small, args.seed) if s == "statics" \
            else run_4d(s, args.out, args.epochs, args.small, args.seed)
    cols = ["survey", "method", "zone", "window", "nrms_median", "nrms_p90", "pred_median",
            "rel_l2_4d", "shift_ms", "shift_samples", "seconds", "seed", "epochs"]
    with open(args.out / "quality.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    print("NRMS/PRED: median over live traces (truth RMS > 5 % of the largest), %; "
          "relL2 4D: ||estimated - true 4D difference|| / ||true||, inside the changed zone")
    print(f"{'survey':8} {'method':36} {'zone':8} {'window':10} {'NRMS med':>8} {'P90':>6} "
          f"{'PRED':>6} {'relL2 4D':>8} {'shift ms':>8} {'samples':>7} {'s':>6}")
    def f(r, k, fmt):
        return format(r[k], fmt) if k in r else ""

    for r in rows:
        print(f"{r['survey']:8} {r['method']:36} {r['zone']:8} {r['window']:10} "
              f"{f(r, 'nrms_median', '8.1f'):>8} {f(r, 'nrms_p90', '6.1f'):>6} "
              f"{f(r, 'pred_median', '6.1f'):>6} {f(r, 'rel_l2_4d', '8.2f'):>8} "
              f"{f(r, 'shift_ms', '8.2f'):>8} {f(r, 'shift_samples', '7.2f'):>7} "
              f"{f(r, 'seconds', '6.1f'):>6}")
    plot(rows, args.out / "quality.png")
    print(f"seed {args.seed}; wrote {args.out / 'quality.csv'} and {args.out / 'quality.png'}")
    print(json.dumps({"surveys": args.surveys, "epochs": args.epochs, "small": args.small}))


if __name__ == "__main__":
    main()
