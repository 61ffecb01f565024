"""``symae-qc``'s outputs: the 4D products of :mod:`symae_seis.qc.products` for a redatum
run, written as a table with its JSON sidecar, a CF-1.8 NetCDF file and the figures of
:mod:`symae_seis.qc.figures4d` (nothing replaced without ``overwrite``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.store import StoreReader
from ..typing import PathLike
from .metrics import pred_lag
from .products import (
    TABLE_COLUMNS,
    QCError,
    channel_values,
    disentangle_probe,
    qc_windows,
    repeatability_table,
    shift_strain,
)

__all__ = ["QC_FILES", "write_qc"]


def _check_run(out_dir: Path) -> None:
    if not (out_dir / "redatum.nc").is_file():
        raise FileNotFoundError(
            f"{out_dir / 'redatum.nc'} does not exist; give a symae-redatum output folder"
        )


#: Files ``symae-qc`` writes into its output folder, by role.
QC_FILES = {
    "table": "repeatability.csv",
    "table_meta": "repeatability.json",
    "netcdf": "qc4d.nc",
    "repeatability": "repeatability.png",
    "signal": "signal_4d.png",
    "section": "residual_section.png",
    "shift": "time_shift_strain.png",
    "disentangle": "disentangle.csv",
    "gathers": "gathers_strongest_signal.png",
}


def _zone(ds, table, truth, zone, keys) -> tuple[np.ndarray | None, str]:
    """Changed zone per table row, and where it came from."""
    dps = table["datapoint"]
    if truth is not None:
        changed = {
            int(k): bool(c) for k, c in zip(truth["virtual_fieldrecord"], truth["changed_pair"])
        }
        coh, rec = ds["coherent_datapoint"].values, ds["recorded_instance_key"].values
        out = np.array([any(changed.get(int(k), False) for k in rec[coh == d]) for d in dps])
        return out, "truth"
    if zone is not None:
        lo, hi = sorted(zone)
        v = table[keys[0]]
        return (v >= lo) & (v <= hi), f"{keys[0]} {lo:g} to {hi:g}"
    return None, ""


def write_qc(
    run_dir: PathLike,
    store: StoreReader | PathLike,
    out_dir: PathLike | None = None,
    *,
    design_ms: tuple[float, float] | None = None,
    reservoir_ms: tuple[float, float] | None = None,
    truth: PathLike | None = None,
    model=None,
    zone: tuple[float, float] | None = None,
    coherence: float = 0.7,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Path]:
    """Write the 4D QC products of a ``4d`` redatum run (module docstring) into
    ``out_dir`` (default ``<run_dir>/qc``): ``repeatability.csv`` (and ``.json``: its
    columns and provenance), ``qc4d.nc`` (the table and the time shifts), the figures, and
    ``disentangle.csv`` where a model is given (a :class:`~symae_seis.models.SymAE` or its
    file; default: the run's own, named in ``redatum.nc``, if it still exists).

    Raises
    ------
    FileNotFoundError
        If the run, the store, the truth or a named model does not exist.
    FileExistsError
        If an output exists and ``overwrite`` is false (nothing is written then).
    QCError
        If the run is not a 4d run of this store, or a window lies outside the record.
    """
    from ..io.atomic import atomic_path
    from ..provenance import provenance, write_sidecar
    from .figures4d import (
        plot_repeatability,
        plot_residual_section,
        plot_shift_strain,
        plot_signal_and_fit,
    )
    from .report import load_redatum

    run_dir = Path(run_dir)
    _check_run(run_dir)
    if not isinstance(store, StoreReader):
        if not Path(store).is_file():
            raise FileNotFoundError(f"store {store} does not exist")
        with StoreReader(store) as reader:
            return write_qc(
                run_dir, reader, out_dir, design_ms=design_ms, reservoir_ms=reservoir_ms,
                truth=truth, model=model, zone=zone, coherence=coherence,
                overwrite=overwrite, progress=progress,
            )  # fmt: skip
    reader = store
    out_dir = run_dir / "qc" if out_dir is None else Path(out_dir)
    files = {k: out_dir / v for k, v in QC_FILES.items()}
    if not overwrite:
        taken = [str(p) for p in files.values() if p.exists()]
        if taken:
            raise FileExistsError(
                f"output exists: {', '.join(taken)}; pass --overwrite to replace, or --out"
            )
    ds = load_redatum(run_dir)
    try:
        if tuple(ds["virtual"].shape[1:]) != tuple(reader.shape[1:]):
            raise QCError(
                f"{run_dir}: gathers of {tuple(ds['virtual'].shape[1:])}, the store "
                f"{reader.path} holds {tuple(reader.shape[1:])}: another dataset"
            )
        if int(ds["coherent_datapoint"].max()) >= len(reader.dp_survey):
            raise QCError(f"{run_dir} names datapoints that {reader.path} does not have")
        row = int(ds["recorded_instance"].values[0])
        if row >= reader.shape[0] or not np.allclose(
            reader.read(np.array([row]))[0], ds["recorded"][0].values, rtol=1e-5, atol=0
        ):
            raise QCError(
                f"{run_dir} was not made from {reader.path}: its recorded gathers are not "
                "the store's (another dataset, or the store was rebuilt since)"
            )
        time_ms = ds["twt"].values
        windows = qc_windows(time_ms, design_ms, reservoir_ms)
        gt = None
        if truth is not None:
            from .truth import load_truth, truth_matches

            if not Path(truth).is_file():
                raise FileNotFoundError(f"truth file {truth} does not exist")
            ok, why = truth_matches(run_dir / "redatum.nc", truth)
            if not ok:
                raise QCError(f"{truth}: {why}")
            gt = load_truth(truth)
        table = repeatability_table(ds, reader, windows, truth=gt)
        keys = list(reader.dp_names) or ["datapoint"]
        changed, zone_from = _zone(ds, table, gt, zone, keys)
        section, shifts = _sections(ds, reader, table, windows, progress)
        probe, probe_model = _probe(ds, reader, table, changed, model, progress)
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_table(files, table, keys, reader, changed)
        rec = provenance(
            "qc",
            model=probe_model,
            store=reader.path,
            dataset=reader.dataset,
            options={
                "run": str(run_dir.resolve()),
                "design_ms": list(windows.design_ms),
                "reservoir_ms": list(windows.reservoir_ms),
                "truth": str(truth) if truth is not None else None,
                "coherence": coherence,
                "zone": zone_from or None,
            },
        )
        write_sidecar(
            files["table_meta"], rec, table=files["table"].name, columns=TABLE_COLUMNS,
            pred=(
                "PRED (Kragh & Christie 2002): sum of the squared cross-correlation over "
                "lags within +-" + f"{pred_lag(reader.dt_ms) * reader.dt_ms:g} ms over the "
                "sum of the products of the autocorrelations there, in %"
            ),
        )  # fmt: skip
        centre_ms = time_ms[shifts["centre"]]
        _write_netcdf(files["netcdf"], table, keys, centre_ms, shifts, rec, atomic_path)
        plot_repeatability(
            table, keys, files["repeatability"], window_ms=windows.design_ms, zone=changed
        )
        plot_signal_and_fit(
            table, keys, files["signal"], reservoir_ms=windows.reservoir_ms, zone=changed
        )
        plot_residual_section(
            table[keys[0]], section["baseline"], section["residual"], time_ms, files["section"],
            key_name=keys[0], plane=section["plane"],
        )  # fmt: skip
        plot_shift_strain(
            table[keys[0]], centre_ms, shifts["shift"], shifts["coef"], files["shift"],
            key_name=keys[0], threshold=coherence,
        )  # fmt: skip
        files["gathers"] = _strongest_gathers(ds, reader, table, files["gathers"])
        if probe is None:
            files.pop("disentangle")
        else:
            _write_probe(files["disentangle"], probe, zone_from or "4D signal above its median")
    finally:
        ds.close()
    return files


def _sections(ds, reader, table, windows, progress):
    """The near-offset plane of the baseline and the residual per datapoint, and the
    time shifts of the virtual gathers against the baseline."""
    from ..progress import progress_bar

    ck = reader.channel_key_name
    var = ck.lower() if ck else None
    coh = ds["coherent_datapoint"].values
    base, res, cen, sh, co = [], [], None, [], []
    plane = "channel 0"
    for d in progress_bar(table["datapoint"], desc="qc", unit="dp", disable=not progress):
        sel = np.flatnonzero(coh == d)
        real = ds["recorded"][sel].values.astype(np.float64)
        virt = ds["virtual"][sel].values.astype(np.float64)
        live = ds["live"][sel].values.astype(bool)
        ch = 0
        if var and var in ds.variables:
            vals = channel_values(ds, var, sel)
            ch = int(np.argmin(np.median(np.where(live, np.abs(vals), np.inf), axis=0)))
            plane = f"nearest {ck} (about {np.median(vals[:, ch]):g})"
        w = live[:, ch].astype(np.float64)
        n = max(w.sum(), 1.0)
        base.append((real[:, ch] * w[:, None]).sum(axis=0) / n)
        res.append(((virt - real)[:, ch] * w[:, None]).sum(axis=0) / n)
        c, s, k = shift_strain(virt, real, live, reader.dt_ms)
        cen, _ = c, sh.append(s)
        co.append(k)
    section = {"baseline": np.array(base), "residual": np.array(res), "plane": plane}
    return section, {"centre": cen, "shift": np.array(sh), "coef": np.array(co)}


def _write_table(files, table, keys, reader, changed) -> None:
    import csv

    from ..io.atomic import atomic_path

    with atomic_path(files["table"], overwrite=True) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["survey", *keys, *TABLE_COLUMNS, "changed_zone"])
        for k, d in enumerate(table["datapoint"]):
            w.writerow(
                [
                    reader.surveys[reader.dp_survey[int(d)]],
                    *(int(table[n][k]) for n in keys),
                    *(
                        f"{table[c][k]:.3f}" if c != "pairs" else int(table[c][k])
                        for c in TABLE_COLUMNS
                    ),
                    "" if changed is None else int(changed[k]),
                ]
            )


def _write_netcdf(path, table, keys, centre_ms, shifts, rec, atomic_path) -> None:
    import xarray as xr

    from ..provenance import netcdf_attrs

    dim = "datapoint"
    data = {
        c: ((dim,), table[c].astype(np.float64), {"long_name": TABLE_COLUMNS[c], "units": "%"})
        for c in TABLE_COLUMNS
        if c != "pairs"
    }
    data["time_shift"] = (
        (dim, "twt_window"),
        shifts["shift"],
        {"long_name": "time shift of the virtual against the baseline (+: later)", "units": "ms"},
    )
    data["correlation"] = (
        (dim, "twt_window"),
        shifts["coef"],
        {"long_name": "peak normalised cross-correlation of the window", "units": "1"},
    )
    coords = {k.lower(): ((dim,), table[k]) for k in keys if k in table}
    coords["twt_window"] = (
        "twt_window",
        np.asarray(centre_ms, dtype=np.float64),
        {"units": "ms", "long_name": "window centre, two-way time"},
    )
    coords["store_datapoint"] = ((dim,), table["datapoint"])
    ds = xr.Dataset(data, coords=coords, attrs={"Conventions": "CF-1.8", **netcdf_attrs(rec)})
    with atomic_path(path, overwrite=True) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")


def _strongest_gathers(ds, reader, table, out_png):
    """real baseline | real monitor | virtual | residual of the datapoint with the
    strongest 4D signal, the channel key's values across."""
    from .plots import plot_redatum_panels

    k = int(np.nanargmax(table["signal_4d"]))
    d = int(table["datapoint"][k])
    sel = int(np.flatnonzero(ds["coherent_datapoint"].values == d)[0])
    ck = reader.channel_key_name
    var = ck.lower() if ck else None
    x = channel_values(ds, var, [sel])[0] if var and var in ds.variables else None
    panels = {
        "real baseline": ds["recorded"][sel].values,
        "real monitor": reader.read(reader.members[d][:1])[0],
        "virtual": ds["virtual"][sel].values,
        "residual (virtual - baseline)": ds["residual"][sel].values,
    }
    return plot_redatum_panels(
        panels,
        ds["twt"].values,
        out_png,
        x=x,
        xlabel=f"{ck} (m)" if ck == "offset" else (ck or "channel"),
        title=f"{reader.datapoint_label(d)}: strongest 4D signal ({table['signal_4d'][k]:.0f} %)",
    )


def _probe(ds, reader, table, changed, model, progress):
    """Probe rows and the model file used, or ``(None, None)`` when no model is at hand:
    ``model`` (a SymAE or its file), else the run's own file if it still holds the model
    the run was made with (its SHA-256 in ``redatum.nc``)."""
    import logging

    from ..models import SymAE
    from ..provenance import file_sha256
    from ..redatum import check_compatible
    from ..redatum.codes import nuisance_codes

    log = logging.getLogger(__name__)
    path = None
    if model is None:
        path = ds.attrs.get("symae_model")
        if not path or path == "in memory" or not Path(path).is_file():
            log.info("no model file at hand (--model): the disentanglement probe is skipped")
            return None, None
        if file_sha256(path) != ds.attrs.get("symae_model_sha256"):
            log.warning(
                "%s changed since the run (SHA-256 differs): the disentanglement probe is "
                "skipped (give --model)",
                path,
            )
            return None, None
        model = path
    if not isinstance(model, SymAE):
        path = model
        model = SymAE.load(model)
    check_compatible(model, reader)
    if changed is None:  # the datapoints whose 4D signal is above the median
        changed = table["signal_4d"] > np.nanmedian(table["signal_4d"])
    names = set(ds["coherent_survey"].values.astype(str)) | set(
        ds["recorded_survey"].values.astype(str)
    )
    sid = [reader.surveys.index(s) for s in sorted(names) if s in reader.surveys]
    key_of = {tuple(reader.dp_key[int(d)]): bool(c) for d, c in zip(table["datapoint"], changed)}
    rows = np.flatnonzero(np.isin(reader.survey, sid))
    inside = np.array([key_of.get(tuple(reader.dp_key[reader.datapoint[r]]), False) for r in rows])
    codes = nuisance_codes(model, reader, rows, progress=progress)
    labels = np.array([reader.surveys[s] for s in reader.survey[rows]])
    return disentangle_probe(codes, labels, inside), path


def _write_probe(path, rows, zone_from) -> None:
    import csv

    from ..io.atomic import atomic_path

    with atomic_path(path, overwrite=True) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["zone", "shots", "accuracy", "chance", "zone_from"])
        for r in rows:
            w.writerow(
                [r["zone"], r["shots"], f"{r['accuracy']:.1f}", f"{r['chance']:.1f}", zone_from]
            )
