"""The quality benchmark: redatuming against the truth, SymAE against conventional 4D
processing (:mod:`symae_seis.baselines`) on the surveys of :mod:`.surveys`.

:func:`run_4d` generates a 4D survey, ingests it, runs the conventional methods, trains
SymAE with the shipped defaults (only the dataset changed, :func:`.training.train`),
redatums and scores everything; :func:`run_statics` does the deepwater-statics survey.
Rows are long format: survey, method, zone, metric, value.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import h5py
import numpy as np

from .. import baselines as B
from ..catalog import design_window_samples, load_catalog
from ..ingest import build_store
from ..io.store import StoreReader
from ..qc.disentangle import overburden_shift
from ..qc.metrics import nrms, time_shift
from ..qc.truth import (
    coverage,
    load_truth,
    real_gathers_for_truth,
    score_methods,
    virtual_for_truth,
)
from ..redatum import redatum
from .difference4d import (
    DECODER_4D,
    conventional_low_cut,
    d4_row,
    decoder_4d_row,
    equalised_both_ways,
    max_lag_samples,
    parallel_4d_rows,
    rel_l2_4d,
)
from .probes import disentanglement
from .surveys import SWELL_LOW_CUT_HZ, make_survey, no_change_top, survey_catalog
from .training import train

__all__ = [
    "run_4d",
    "run_statics",
    "rel_l2_4d",
    "decoder_4d_row",
    "DECODER_4D",
    "reconstruction_scores",
    "plot",
    "table",
    "UNCERTAINTY_BAGS",
    "SWELL_LOW_CUT_HZ",
]

#: Bootstrap bags of the SymAE redatuming (``virtual_std``; calibration of +-2 sigma).
UNCERTAINTY_BAGS = 16


def run_4d(
    kind: str,
    out: Path,
    epochs: int | None,
    small: bool,
    seed: int,
    *,
    model: dict | None = None,
    precision: str = "32-true",
    bags: int = UNCERTAINTY_BAGS,
    survey_options: dict | None = None,
) -> list[dict]:
    """Survey ``kind`` generated into ``out/kind``, every method scored against its truth
    (rows); SymAE trained ``epochs`` (default: the shipped config's) with the shipped
    options and ``model``'s overrides, redatumed with ``bags`` bootstrap bags;
    ``survey_options`` replace the marine survey's parameters."""
    folder = out / kind
    paths = make_survey(kind, folder, small, seed, survey_options)
    truth = load_truth(paths["truth"])
    with h5py.File(paths["truth"], "r") as h5:
        params = json.loads(h5.attrs["params"]) if "params" in h5.attrs else {}
    dt_ms = float(params.get("dt_ms", 4.0))
    # the zoo's design window follows the draw's reservoir depth; the others', the truth's
    design = params.get("design_window_ms") or [0.0, (no_change_top(truth) - 1) * dt_ms]
    cat = survey_catalog(folder, kind, paths, [float(design[0]), float(design[1])])
    entry = load_catalog(cat)[kind]
    store = build_store(entry)
    with StoreReader(store) as reader:  # opened here, closed here
        t, dt = reader.shape[-1], reader.dt_ms
        win = slice(*design_window_samples(entry, reader.t0_ms, dt, t))
        max_lag = max_lag_samples(dt)
        gathers = real_gathers_for_truth(reader, truth)
        base_real, mon_real = gathers[0].astype(np.float64), gathers[1].astype(np.float64)
        estimates, seconds = {"raw monitor": mon_real}, {"raw monitor": 0.0}
        methods = {
            "(a) static + scalar": lambda a, r: B.static_and_scalar(
                a, r, window=win, max_lag=max_lag
            )[0],
            "(b) global matching filter": lambda a, r: B.global_matching_filter(
                a, r, length=4 * max_lag + 1, window=win
            )[0],
            "(c) trace matching filters": lambda a, r: B.trace_matching_filters(
                a, r, length=4 * max_lag + 1, window=win, smooth=3
            )[0],
            "(d) DTW + (c)": lambda a, r: B.warp_then_match(
                a, r, max_shift=max_lag, length=4 * max_lag + 1, window=win, smooth=3
            )[0],
        }
        for name, fn in methods.items():
            t0 = time.perf_counter()
            estimates[name] = fn(mon_real, base_real)
            seconds[name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # with swell noise, its attenuation comes first; both vintages, for the
        # parallel differences
        eq, eq_base = equalised_both_ways(
            reader,
            truth,
            low_cut_hz=conventional_low_cut(entry, truth, SWELL_LOW_CUT_HZ),
            window=win,
            max_lag=max_lag,
            methods=("e", "e_whole", "f"),
            gathers=gathers,
        )
        for name, est in eq.items():
            estimates[name] = est
            seconds[name] = (time.perf_counter() - t0) / ((1 + len(eq_base)) * len(eq))
        lit, t_train = train(
            cat,
            kind,
            epochs=epochs,
            seed=seed,
            run_dir=folder / "run",
            model=model,
            precision=precision,
        )
        lit.model.save(folder / "model.pt")  # for a look with symae-redatum / notebook
        t0 = time.perf_counter()
        res = redatum(
            lit.model, store, folder / "redatum", overwrite=True, write_segy=False, uncertainty=bags
        )
        estimates["SymAE virtual"] = virtual_for_truth(res.files["netcdf"], truth)
        std = virtual_for_truth(res.files["netcdf"], truth, variable="virtual_std")
        seconds["SymAE virtual"] = t_train + time.perf_counter() - t0
        import xarray as xr

        with xr.open_dataset(res.files["netcdf"], engine="h5netcdf") as ds:
            order = {int(k): i for i, k in enumerate(ds["recorded_instance_key"].values)}
            recon = ds["reconstruction"].values[
                [order[int(f)] for f in truth["virtual_fieldrecord"]]
            ]
        m = truth["changed_pair"]
        rows = []
        scored = ~truth["dead"] if "dead" in truth else None  # not the dead baseline channels
        for r in score_methods(estimates, truth["virtual"], m, scored):
            rows.append(
                {
                    "survey": kind,
                    "method": r["method"],
                    "zone": r["zone"],
                    "metric": r["metric"],
                    "value": r["value"],
                }
            )
        for name, est in estimates.items():
            rows.append(d4_row(kind, name, est, truth))
            if m.any():
                rows.append(
                    {
                        "survey": kind,
                        "method": name,
                        "zone": "inside",
                        "metric": "overburden_shift_samples",
                        "value": overburden_shift(est[m], truth["virtual"][m], win),
                    }
                )
            rows.append(
                {
                    "survey": kind,
                    "method": name,
                    "zone": "all",
                    "metric": "seconds",
                    "value": seconds[name],
                }
            )
        rows.append(decoder_4d_row(res.files["netcdf"], truth, kind))
        rows += parallel_4d_rows(eq, eq_base, truth, kind)
        dis = disentanglement(
            lit.model,
            reader,
            paths["truth"],
            estimates["SymAE virtual"],
            recon,
            base_real,
            truth,
            win,
        )
        dis["calib_2sigma_pct"] = coverage(estimates["SymAE virtual"], std, truth["virtual"])
        dis["train_seconds"] = t_train  # the budget is for training alone
        rows += [
            {"survey": kind, "method": "SymAE virtual", "zone": "all", "metric": k, "value": v}
            for k, v in dis.items()
        ]
        rows += [
            {
                "survey": kind,
                "method": "SymAE virtual",
                "zone": zone,
                "metric": metric,
                "value": value,
            }
            for zone, metric, value in reconstruction_scores(recon, base_real)
        ]
        for r in rows:
            r.update({"seed": seed, "design_window_ms": f"{design[0]:g}-{design[1]:g}"})
        return rows


def reconstruction_scores(recon: np.ndarray, recorded: np.ndarray) -> list[tuple]:
    """How well the model rebuilds the recorded shots it redatums from: median
    whole-gather NRMS (%), of every gather (``recon_gather``) and of each quarter of its
    channels (``recon_q1`` .. ``recon_q4``, the far offsets last) and half of its samples
    (``recon_early``, ``recon_late``); as ``(zone, metric, value)``."""
    from ..qc.metrics import gather_nrms
    from .zoo import gather_parts

    return [
        (
            "all",
            "recon_gather" if name == "whole" else f"recon_{name}",
            float(np.median(gather_nrms(recon[:, ch, ts], recorded[:, ch, ts]))),
        )
        for name, (ch, ts) in gather_parts(*recorded.shape[1:]).items()
    ]


def run_statics(
    out: Path,
    epochs: int | None,
    small: bool,
    seed: int,
    *,
    model: dict | None = None,
    precision: str = "32-true",
) -> list[dict]:
    """The deepwater-statics survey: residual time shifts against the truth, raw, after
    a static to the location's mean shot and after SymAE's common-reference redatuming."""
    folder = out / "statics"
    paths = make_survey("statics", folder, small, seed)
    cat = survey_catalog(folder, "statics", paths, "all")
    store = build_store(load_catalog(cat)["statics"])
    with h5py.File(paths["truth"], "r") as h5:
        tv, fr, cdp = h5["virtual"][:], h5["virtual_fieldrecord"][:], h5["virtual_cdp"][:]
    with StoreReader(store) as reader:  # opened here, closed here
        dt = reader.dt_ms
        lag = max(1, int(round(40.0 / dt)))
        rows = {int(k): i for i, k in enumerate(reader.instance_key)}
        real = reader.read(np.array([rows[int(f)] for f in fr])).astype(np.float64)
        out_rows = []

        def add(name, est, seconds):
            sh = time_shift(est, tv, dt, max_lag=lag)
            for metric, value in (
                ("shift_ms", float(np.mean(np.abs(sh)))),
                ("shift_samples", float(np.mean(np.abs(sh)) / dt)),
                ("trace", float(np.median(nrms(est, tv)))),
                ("seconds", seconds),
            ):
                out_rows.append(
                    {
                        "survey": "statics",
                        "method": name,
                        "zone": "all",
                        "metric": metric,
                        "value": value,
                        "seed": seed,
                    }
                )

        add("raw shots", real, 0.0)
        t0 = time.perf_counter()
        stack = np.stack([real[cdp == c].mean(axis=0) for c in cdp])  # each location's mean shot
        add(
            "(a) static to the location's mean shot",
            B.static_and_scalar(real, stack)[0],
            time.perf_counter() - t0,
        )
        lit, t_train = train(
            cat,
            "statics",
            epochs=epochs,
            seed=seed,
            run_dir=folder / "run",
            model=model,
            precision=precision,
        )
        t0 = time.perf_counter()
        res = redatum(
            lit.model,
            store,
            folder / "redatum",
            mode="reference",
            reference="mean",
            surveys=["baseline"],
            overwrite=True,
            write_segy=False,
        )
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
    fig, axes = plt.subplots(
        1, max(1, len(surveys)), figsize=(6 * max(1, len(surveys)), 4), squeeze=False
    )
    for ax, s in zip(axes[0], surveys):
        methods = list(dict.fromkeys(r["method"] for r in sel if r["survey"] == s))
        for k, zone in enumerate(("outside", "inside")):
            vals = [
                next(
                    (
                        r["value"]
                        for r in sel
                        if r["survey"] == s and r["method"] == m and r["zone"] == zone
                    ),
                    np.nan,
                )
                for m in methods
            ]
            ax.bar(np.arange(len(methods)) + 0.4 * k, vals, 0.4, label=f"{zone} changed zone")
        ax.set_xticks(np.arange(len(methods)) + 0.2, methods, rotation=30, ha="right", fontsize=7)
        ax.set_ylabel("median whole-gather NRMS vs truth (%)")
        ax.set_yscale("log")
        ax.set_title(s)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


#: The columns of :func:`table`: (zone, metric).
TABLE_KEYS = (
    ("outside", "gather"),
    ("inside", "gather"),
    ("outside", "live_trace"),
    ("inside", "live_trace"),
    ("inside", "rel_l2_4d"),
    ("inside", "overburden_shift_samples"),
    ("all", "shift_samples"),
    ("all", "seconds"),
)


def table(rows: list[dict]) -> str:
    """The rows as a text table (one line per survey and method) and SymAE's
    disentanglement checks as JSON lines."""
    by: dict[tuple, dict] = {}
    for r in rows:
        by.setdefault((r["survey"], r["method"]), {})[(r["zone"], r["metric"])] = r["value"]
    lines = [
        "median NRMS (%) against truth: gather = whole gather, live_trace = traces "
        "with signal; rel_l2_4d: ||estimated - true 4D difference|| / ||true|| "
        "inside the zone",
        f"{'survey':8} {'method':42} " + " ".join(f"{z[:3]}:{m[:10]:>10}" for z, m in TABLE_KEYS),
    ]
    for (sv, meth), vals in by.items():
        lines.append(
            f"{sv:8} {meth:42} "
            + " ".join(f"{vals[k]:14.3g}" if k in vals else " " * 14 for k in TABLE_KEYS)
        )
    for (sv, meth), vals in by.items():
        if meth == "SymAE virtual":
            extra = {
                m: v
                for (z, m), v in vals.items()
                if m.startswith(("probe", "bag", "swap", "calib", "train", "recon"))
            }
            lines.append(
                f"{sv} disentanglement: " + json.dumps({k: round(v, 3) for k, v in extra.items()})
            )
    return "\n".join(lines)
