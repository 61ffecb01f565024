"""Benchmark: redatuming quality against ground truth, SymAE vs conventional 4D processing.

For each synthetic survey (convolutional ``conv4d``, wave-equation ``wave4d``; and the
deepwater-statics survey) the script generates the survey, ingests it, trains SymAE for a
fixed budget, redatums, and compares against the truth (the monitor earth recorded with
each baseline shot's exact acquisition):

* raw monitor (a monitor shot at the same location, no correction);
* (a) static + RMS scalar, (b) global Wiener matching filter, (c) trace-by-trace
  matching filters smoothed along the key, (d) DTW then (c) - each matching one monitor
  shot to the baseline shot in the no-change design window (above the first sample
  where the truth's 4D difference exceeds 5 % of its largest);
* (e) every monitor shot of the location equalised to the baseline shot (per-trace
  static + scalar, one least-squares matching filter per shot pair) and stacked: the
  strongest conventional method; also designed on the whole trace (best outside the
  changed zone, where nothing changes);
* SymAE virtual gathers (coherent monitor gather + nuisance code of the baseline shot),
  trained with the shipped defaults (``symae_seis/configs/demo4d.yaml``), only the
  dataset changed, redatumed with the shipped defaults (codes fitted to the recorded
  gathers), with 16 bootstrap bags for ``virtual_std`` (its calibration: the percentage
  of truth samples within +-2 sigma, ``calib_2sigma_pct``).

Printed and written to ``quality.csv`` (long format: survey, method, zone, metric,
value): median whole-gather and live-trace NRMS inside and outside the changed zone,
relative L2 error of the 4D difference inside, the mean time shift of the unchanged
overburden inside the zone (samples), wall time; for SymAE the disentanglement checks
of :mod:`symae_seis.qc.disentangle` (swap gap, linear probes of the nuisance code,
survey-label probe inside the zone, bag invariance). For the statics survey: residual
time shifts against the truth (the shot recorded with the reference water velocity),
raw, after (a) and after SymAE's common-reference redatuming. ``quality.png``: whole-
gather NRMS per method.

    python scripts/bench/quality.py                   # default sizes and budget (CPU)
    python scripts/bench/quality.py --surveys conv4d          # one survey
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import h5py
import lightning.pytorch as pl
import numpy as np
import torch
import yaml

from symae_seis import baselines as B
from symae_seis.catalog import design_window_samples, load_catalog
from symae_seis.ingest import build_store
from symae_seis.io.store import StoreReader
from symae_seis.qc.metrics import nrms, time_shift
from symae_seis.qc.truth import (
    conventional_estimates,
    coverage,
    load_truth,
    real_gathers_for_truth,
    score_methods,
    virtual_for_truth,
)
from symae_seis.redatum import redatum
from symae_seis.training import SymAEDataModule, SymAELit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _options import add_model_option, model_options  # noqa: E402

#: A survey the defaults were never tuned on (issue 9, "defaults that travel"): more and
#: longer traces, 600 ms of silent water on top, a deeper and weaker 4D change, and
#: water-velocity statics that grow with offset besides the demo's nuisances.
DEEP4D = dict(n_cdp=48, shots_per_cdp=12, channels=32, samples=375, offset_min=150.0,
              offset_max=3200.0, first_reflector_ms=600.0, n_layers=6, reservoir_layer=3,
              delta_r=-0.08, delay_ms=4.0, freq_range=(15.0, 35.0),
              phase_range_deg=(-45.0, 45.0), static_range_ms=(-6.0, 6.0),
              water_static_range_ms=(-4.0, 4.0))


#: Bootstrap bags of the SymAE redatuming (``virtual_std``; calibration of +-2 sigma).
UNCERTAINTY_BAGS = 16


def make_survey(kind: str, folder: Path, small: bool, seed: int) -> dict[str, Path]:
    if kind == "deep4d":
        from symae_seis.synth import Conv4DParams, make_conv4d_survey

        kw = {**DEEP4D, **({"n_cdp": 12, "shots_per_cdp": 6} if small else {})}
        return make_conv4d_survey(folder, Conv4DParams(seed=seed + 101, **kw), overwrite=True)
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


def _defaults() -> dict:
    """The shipped training defaults (symae_seis/configs/demo4d.yaml): only the dataset
    changes from survey to survey."""
    from importlib import resources

    cfg = yaml.safe_load(resources.files("symae_seis.configs").joinpath("demo4d.yaml")
                         .read_text())
    return cfg


#: ``--model key=value`` overrides of the shipped model options (an ablation, e.g.
#: ``filter_shift=true``), set by ``main``.
MODEL_OVERRIDES: dict = {}
TRAINER_OPTIONS: dict = {}


def _device_name() -> str:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def train(cat: Path, name: str, epochs: int | None, seed: int) -> tuple[SymAELit, float]:
    cfg = _defaults()
    cfg["model"] = {**cfg["model"], **MODEL_OVERRIDES}
    pl.seed_everything(seed)
    data = {k: v for k, v in cfg["data"].items() if k not in ("dataset", "catalog")}
    dm = SymAEDataModule(name, str(cat), **data)
    lit = SymAELit(dm.channels, dm.samples, dm.scale, dm.schema,
                   design_window=dm.design_window, **cfg["model"])
    t0 = time.perf_counter()
    pl.Trainer(max_epochs=epochs or cfg["trainer"]["max_epochs"], logger=False,
               enable_checkpointing=False, enable_progress_bar=False,
               enable_model_summary=False, **TRAINER_OPTIONS).fit(lit, dm)
    return lit, time.perf_counter() - t0


def no_change_top(truth: dict) -> int:
    """First sample where the 4D difference of the truth exceeds 5 % of its largest
    (mean over gathers and channels): the end of the no-change design window."""
    d4 = np.abs(truth["virtual"] - truth["baseline_clean"]).mean(axis=(0, 1))
    if d4.max() == 0:
        return d4.size
    return int(np.flatnonzero(d4 > 0.05 * d4.max())[0])


def rel_l2_4d(est: np.ndarray, base: np.ndarray, truth: np.ndarray, m: np.ndarray) -> float:
    d_true = truth[m] - base[m]
    return float(np.linalg.norm(est[m] - base[m] - d_true) / max(np.linalg.norm(d_true),
                                                                  1e-30))


def nuisance_targets(truth_h5: Path, reader: StoreReader) -> dict[str, np.ndarray]:
    """Known acquisition parameters of every store instance (NaN where unknown)."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(truth_h5, "r") as h5:
        if "nuisance" not in h5:
            return out
        for s, label in enumerate(reader.surveys):
            if label not in h5["nuisance"]:
                continue
            g = h5["nuisance"][label]
            fr = g["fieldrecord"][:] if "fieldrecord" in g else None
            for name in g:
                if name == "fieldrecord":
                    continue
                vals = g[name][:]
                arr = out.setdefault(name, np.full(reader.shape[0], np.nan))
                rows = np.flatnonzero(reader.survey == s)
                if fr is not None:
                    pos = {int(f): i for i, f in enumerate(fr)}
                    for r in rows:
                        arr[r] = vals[pos[int(reader.instance_key[r])]]
                elif len(vals) == rows.size:
                    arr[rows] = vals
        offsets = h5["offsets"][:] if "offsets" in h5 else None
    if "amp" in out:
        out["log_amp"] = np.log(out.pop("amp"))
    if "water_static_ms" in out and offsets is not None and offsets.max() > 0:
        # what a gather shows as its bulk static: the shot static plus the water static's
        # mean over the gather's offsets (0.5 (1 + (h / h_max)^2) of it at offset h)
        share = float(np.mean(0.5 * (1 + (offsets / offsets.max()) ** 2)))
        out["bulk_static_ms"] = out["static_ms"] + share * out["water_static_ms"]
    if "source_x_m" in out:
        # the location is the datapoint; the nuisance is where a shot stood around it
        out["source_jitter_m"] = _within(out.pop("source_x_m"),
                                         reader.dp_key[reader.datapoint][:, 0])
    return out


def _within(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``values`` less the mean of their group (rows; NaN, unknown, left out of it)."""
    out = np.array(values, dtype=np.float64, copy=True)
    for g in np.unique(groups):
        out[groups == g] -= np.nanmean(out[groups == g], axis=0)
    return out


def disentanglement(model, reader: StoreReader, truth_h5: Path, virtual: np.ndarray,
                    recon: np.ndarray, base_real: np.ndarray, truth: dict, win: slice
                    ) -> dict[str, float]:
    from symae_seis.qc import disentangle as Q
    from symae_seis.qc.metrics import gather_nrms
    from symae_seis.redatum import nuisance_codes

    m = truth["changed_pair"]
    out = {"swap_gap": Q.swap_gap(gather_nrms(virtual, truth["virtual"]),
                                  gather_nrms(recon, base_real))}
    if m.any():
        out["overburden_shift_samples"] = Q.overburden_shift(virtual[m], truth["virtual"][m],
                                                             win)
    codes = nuisance_codes(model, reader, np.arange(reader.shape[0]))
    # the filter decoder reads a code only through its filter parameters: probes of those
    # say what the decoder uses; dimensions it ignores may carry anything
    spaces = {"": codes}
    if model.is_filter:
        with torch.no_grad():
            dev = next(model.parameters()).device
            spaces["_params"] = model.filter_params(
                torch.from_numpy(codes).to(dev)).double().cpu().numpy()
    targets = nuisance_targets(truth_h5, reader)
    changed_dp = np.isin(reader.dp_key[:, 0], truth["virtual_cdp"][m])
    zones = {}
    if changed_dp.any() and not changed_dp.all():
        inside = changed_dp[reader.datapoint]
        zones = {"inside": inside, "outside": ~inside}
    for suffix, feats in spaces.items():
        for name, target in targets.items():
            ok = np.isfinite(target)
            if ok.sum() > 10 and np.std(target[ok]) > 0:
                out[f"probe_r2_{name}{suffix}"] = Q.probe_r2(feats[ok], target[ok])
                # within a location: a shot's parameter against the other shots of its
                # datapoint (one earth). One gather cannot tell a static from the earth's
                # own timing, so the absolute probe also scores how well the encoder
                # guesses each location's mean; this one scores the disentanglement
                dp = reader.datapoint[ok]
                out[f"probe_r2_{name}_within{suffix}"] = Q.probe_r2(
                    _within(feats[ok], dp), _within(target[ok], dp))
        for zone, sel in zones.items():
            out[f"probe_survey_{zone}{suffix}_pct"] = Q.probe_accuracy(feats[sel],
                                                                      reader.survey[sel])
    spaces_bag = {"coherent": "bag_invariance_pct", "data": "bag_invariance_data_pct"}
    bags: dict[str, list[float]] = {space: [] for space in spaces_bag}
    for mem in reader.members:
        if len(mem) >= 4:
            gathers = reader.read(mem)                  # once for both spaces
            for space in spaces_bag:
                bags[space].append(Q.bag_invariance(model, gathers, space=space))
    for space, key in spaces_bag.items():
        out[key] = float(np.median(bags[space]))
    return out


def run_4d(kind: str, out: Path, epochs: int | None, small: bool, seed: int) -> list[dict]:
    folder = out / kind
    paths = make_survey(kind, folder, small, seed)
    truth = load_truth(paths["truth"])
    with h5py.File(paths["truth"], "r") as h5:
        dt_ms = float(json.loads(h5.attrs["params"]).get("dt_ms", 4.0)) \
            if "params" in h5.attrs else 4.0
    top = no_change_top(truth)
    cat = folder / "catalog.yaml"
    cat.write_text(yaml.safe_dump({"datasets": {kind: {
        "surveys": {"baseline": str(paths["baseline"]), "monitor": str(paths["monitor"])},
        "datapoint_key": ["CDP"], "design_window_ms": [0.0, (top - 1) * dt_ms],
        "store": str(folder / "store.h5")}}}))
    entry = load_catalog(cat)[kind]
    store = build_store(entry)
    reader = StoreReader(store)
    t, dt = reader.shape[-1], reader.dt_ms
    win = slice(*design_window_samples(entry, reader.t0_ms, dt, t))
    max_lag = max(1, int(round(20.0 / dt)))
    gathers = real_gathers_for_truth(reader, truth)
    base_real, mon_real = gathers[0].astype(np.float64), gathers[1].astype(np.float64)
    estimates, seconds = {"raw monitor": mon_real}, {"raw monitor": 0.0}
    methods = {
        "(a) static + scalar": lambda a, r: B.static_and_scalar(a, r, window=win,
                                                                max_lag=max_lag)[0],
        "(b) global matching filter": lambda a, r: B.global_matching_filter(
            a, r, length=4 * max_lag + 1, window=win)[0],
        "(c) trace matching filters": lambda a, r: B.trace_matching_filters(
            a, r, length=4 * max_lag + 1, window=win, smooth=3)[0],
        "(d) DTW + (c)": lambda a, r: B.warp_then_match(
            a, r, max_shift=max_lag, length=4 * max_lag + 1, window=win, smooth=3)[0],
    }
    for name, fn in methods.items():
        t0 = time.perf_counter()
        estimates[name] = fn(mon_real, base_real)
        seconds[name] = time.perf_counter() - t0
    t0 = time.perf_counter()
    eq = conventional_estimates(reader, truth, window=win, max_lag=max_lag,
                                methods=("e", "e_whole"), gathers=gathers)
    for name, est in eq.items():
        estimates[name] = est
        seconds[name] = (time.perf_counter() - t0) / len(eq)
    lit, t_train = train(cat, kind, epochs, seed)
    lit.model.save(folder / "model.pt")            # for a look with symae-redatum / notebook
    t0 = time.perf_counter()
    res = redatum(lit.model, store, folder / "redatum", overwrite=True, write_segy=False,
                  uncertainty=UNCERTAINTY_BAGS)
    estimates["SymAE virtual"] = virtual_for_truth(res.files["netcdf"], truth)
    std = virtual_for_truth(res.files["netcdf"], truth, variable="virtual_std")
    seconds["SymAE virtual"] = t_train + time.perf_counter() - t0
    import xarray as xr

    with xr.open_dataset(res.files["netcdf"], engine="h5netcdf") as ds:
        order = {int(k): i for i, k in enumerate(ds["recorded_instance_key"].values)}
        recon = ds["reconstruction"].values[[order[int(f)] for f in
                                             truth["virtual_fieldrecord"]]]
    m = truth["changed_pair"]
    rows = []
    for r in score_methods(estimates, truth["virtual"], m):
        rows.append({"survey": kind, "method": r["method"], "zone": r["zone"],
                     "metric": r["metric"], "value": r["value"]})
    for name, est in estimates.items():
        extra = {"survey": kind, "method": name, "zone": "inside", "metric": "rel_l2_4d",
                 "value": rel_l2_4d(est, base_real, truth["virtual"], m) if m.any()
                 else np.nan}
        rows.append(extra)
        if m.any():
            from symae_seis.qc.disentangle import overburden_shift

            rows.append({"survey": kind, "method": name, "zone": "inside",
                         "metric": "overburden_shift_samples",
                         "value": overburden_shift(est[m], truth["virtual"][m], win)})
        rows.append({"survey": kind, "method": name, "zone": "all", "metric": "seconds",
                     "value": seconds[name]})
    dis = disentanglement(lit.model, reader, paths["truth"], estimates["SymAE virtual"],
                          recon, base_real, truth, win)
    dis["calib_2sigma_pct"] = coverage(estimates["SymAE virtual"], std, truth["virtual"])
    dis["train_seconds"] = t_train          # the budget is for training alone
    rows += [{"survey": kind, "method": "SymAE virtual", "zone": "all", "metric": k,
              "value": v} for k, v in dis.items()]
    for r in rows:
        r.update({"seed": seed, "design_window_ms": f"0-{(top - 1) * dt_ms:g}"})
    return rows


def run_statics(out: Path, epochs: int | None, small: bool, seed: int) -> list[dict]:
    folder = out / "statics"
    paths = make_survey("statics", folder, small, seed)
    cat = folder / "catalog.yaml"
    cat.write_text(yaml.safe_dump({"datasets": {"statics": {
        "surveys": {"baseline": str(paths["baseline"]), "monitor": str(paths["monitor"])},
        "datapoint_key": ["CDP"], "design_window_ms": "all",
        "store": str(folder / "store.h5")}}}))
    store = build_store(load_catalog(cat)["statics"])
    with h5py.File(paths["truth"], "r") as h5:
        tv, fr, cdp = h5["virtual"][:], h5["virtual_fieldrecord"][:], h5["virtual_cdp"][:]
    reader = StoreReader(store)
    dt = reader.dt_ms
    lag = max(1, int(round(40.0 / dt)))
    rows = {int(k): i for i, k in enumerate(reader.instance_key)}
    real = reader.read(np.array([rows[int(f)] for f in fr])).astype(np.float64)
    out_rows = []

    def add(name, est, seconds):
        sh = time_shift(est, tv, dt, max_lag=lag)
        for metric, value in (("shift_ms", float(np.mean(np.abs(sh)))),
                              ("shift_samples", float(np.mean(np.abs(sh)) / dt)),
                              ("trace", float(np.median(nrms(est, tv)))),
                              ("seconds", seconds)):
            out_rows.append({"survey": "statics", "method": name, "zone": "all",
                             "metric": metric, "value": value, "seed": seed})

    add("raw shots", real, 0.0)
    t0 = time.perf_counter()
    stack = np.stack([real[cdp == c].mean(axis=0) for c in cdp])   # each location's mean shot
    add("(a) static to the location's mean shot", B.static_and_scalar(real, stack)[0],
        time.perf_counter() - t0)
    lit, t_train = train(cat, "statics", epochs, seed)
    t0 = time.perf_counter()
    res = redatum(lit.model, store, folder / "redatum", mode="reference", reference="mean",
                  surveys=["baseline"], overwrite=True, write_segy=False)
    import xarray as xr

    ds = xr.load_dataset(res.files["netcdf"], engine="h5netcdf")
    order = {int(k): i for i, k in enumerate(ds["recorded_instance_key"].values)}
    virt = ds["virtual"].values[[order[int(f)] for f in fr]].astype(np.float64)
    add("SymAE common reference (mean code)", virt, t_train + time.perf_counter() - t0)
    return out_rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel = [r for r in rows if r["metric"] == "gather" and r["zone"] in ("inside", "outside")]
    surveys = sorted({r["survey"] for r in sel})
    fig, axes = plt.subplots(1, max(1, len(surveys)), figsize=(6 * max(1, len(surveys)), 4),
                             squeeze=False)
    for ax, s in zip(axes[0], surveys):
        methods = list(dict.fromkeys(r["method"] for r in sel if r["survey"] == s))
        for k, zone in enumerate(("outside", "inside")):
            vals = [next((r["value"] for r in sel if r["survey"] == s and
                          r["method"] == m and r["zone"] == zone), np.nan) for m in methods]
            ax.bar(np.arange(len(methods)) + 0.4 * k, vals, 0.4, label=f"{zone} changed zone")
        ax.set_xticks(np.arange(len(methods)) + 0.2, methods, rotation=30, ha="right",
                      fontsize=7)
        ax.set_ylabel("median whole-gather NRMS vs truth (%)")
        ax.set_yscale("log")
        ax.set_title(s)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--surveys", nargs="+", default=["conv4d", "deep4d", "wave4d", "statics"],
                    choices=["conv4d", "deep4d", "wave4d", "statics"])
    ap.add_argument("--epochs", type=int, default=None,
                    help="SymAE training epochs per survey (default: the shipped config's)")
    ap.add_argument("--small", action="store_true", help="tiny surveys (a quick look)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("out/bench_quality"))
    ap.add_argument("--precision", default=None,
                    help="Lightning precision for training, e.g. bf16-mixed on a GPU "
                         "(default: Lightning's, 32-true)")
    add_model_option(ap, "override a shipped model option (repeatable), e.g. "
                         "filter_shift=true")
    args = ap.parse_args()
    MODEL_OVERRIDES.update(model_options(ap, args.model))
    if args.precision:
        TRAINER_OPTIONS["precision"] = args.precision
    torch.set_num_threads(max(1, torch.get_num_threads()))
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    cols = ["survey", "method", "zone", "metric", "value", "seed", "design_window_ms"]
    for s in args.surveys:
        rows += run_statics(args.out, args.epochs, args.small, args.seed) if s == "statics" \
            else run_4d(s, args.out, args.epochs, args.small, args.seed)
        with open(args.out / "quality.csv", "w", newline="") as fh:   # after every survey
            w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    print("median NRMS (%) against truth: gather = whole gather, live_trace = traces with "
          "signal; rel_l2_4d: ||estimated - true 4D difference|| / ||true|| inside the zone")
    table: dict[tuple, dict] = {}
    for r in rows:
        table.setdefault((r["survey"], r["method"]), {})[(r["zone"], r["metric"])] = r["value"]
    keys = [("outside", "gather"), ("inside", "gather"), ("outside", "live_trace"),
            ("inside", "live_trace"), ("inside", "rel_l2_4d"),
            ("inside", "overburden_shift_samples"), ("all", "shift_samples"),
            ("all", "seconds")]
    print(f"{'survey':8} {'method':42} " + " ".join(f"{z[:3]}:{m[:10]:>10}" for z, m in keys))
    for (sv, meth), vals in table.items():
        print(f"{sv:8} {meth:42} " + " ".join(
            f"{vals[k]:14.3g}" if k in vals else " " * 14 for k in keys))
    for (sv, meth), vals in table.items():
        if meth == "SymAE virtual":
            extra = {m: v for (z, m), v in vals.items() if m.startswith(("probe", "bag",
                                                                            "swap", "calib",
                                                                            "train"))}
            print(sv, "disentanglement:", json.dumps({k: round(v, 3) for k, v in
                                                      extra.items()}))
    plot(rows, args.out / "quality.png")
    print(f"seed {args.seed}; wrote {args.out / 'quality.csv'} and {args.out / 'quality.png'}")
    print(json.dumps({"surveys": args.surveys, "epochs": args.epochs, "small": args.small,
                      "precision": args.precision, "device": _device_name()}))


if __name__ == "__main__":
    main()
