"""4D QC without truth: what a 4D processor reads from a redatum run (``symae-qc``).

Per coherent datapoint of a ``4d`` redatum run (``redatum.nc``) and the store it came from:

* **repeatability where nothing changed**: NRMS and PRED (over the live traces of the
  window as one series: weak traces weigh as little as they hold) in the *design window*
  (above the reservoir), before (every real monitor shot of the datapoint against every
  real baseline shot, at most 8 of each) and after (each virtual gather against its
  real baseline), and the same over the whole trace, named as such (there the 4D signal
  counts as non-repeatability);
* **the 4D signal**: RMS of the residual (virtual - baseline) in the *reservoir window*, in
  percent of the baseline's RMS there;
* **time shift and time strain** of the virtual against the baseline along two-way time,
  from windowed cross-correlation over the datapoint's traces, blanked where the
  correlation coefficient is below a threshold;
* **the model's own fit**: NRMS of its reconstruction of the recorded shots, so that a 4D
  anomaly can be told from a place the model does not explain;
* **disentanglement**: a linear probe trying to tell baseline shots from monitor shots by
  their nuisance codes, inside and outside the zone where the earth changed, against the
  chance level (:func:`disentangle_probe`).

Reading PRED: predictability (Kragh & Christie, 2002) is the sum of the squared
cross-correlation over lags within about a period, divided by the sum of the products of
the two autocorrelations there (:func:`symae_seis.qc.metrics.predictability`). It forgives
any gain and, largely, a time shift within that lag, so two traces that differ by a
static and an amplitude stay highly predictable while their NRMS is large; it drops when
the waveforms differ. It is reported here in the design window, as the field computes it.

Every array is read one datapoint at a time (memory does not grow with the survey).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SymaeError
from ..io.store import StoreReader
from ..typing import PathLike
from .metrics import nrms, pred_lag, predictability

__all__ = [
    "QCError",
    "QCWindows",
    "qc_windows",
    "repeatability_table",
    "shift_strain",
    "disentangle_probe",
    "TABLE_COLUMNS",
    "channel_values",
    "write_qc",
]

#: Columns of ``repeatability.csv`` after the datapoint's survey and key fields.
TABLE_COLUMNS = {
    "pairs": "virtual gathers of the datapoint",
    "nrms_before_window": "NRMS (%) real monitor vs real baseline, design window, median",
    "pred_before_window": "PRED (%) real monitor vs real baseline, design window, median",
    "nrms_after_window": "NRMS (%) virtual vs real baseline, design window, median",
    "pred_after_window": "PRED (%) virtual vs real baseline, design window, median",
    "nrms_before_whole": "NRMS (%) real monitor vs real baseline, whole trace (4D signal "
    "counts as non-repeatability)",
    "nrms_after_whole": "NRMS (%) virtual vs real baseline, whole trace",
    "signal_4d": "RMS of the residual (virtual - baseline) in the reservoir window, % of "
    "the baseline's RMS there",
    "nrms_recon": "NRMS (%) of the model's reconstruction of the recorded shots (its fit)",
    "nrms_truth_window": "NRMS (%) virtual vs truth, design window (with --truth)",
    "nrms_truth_whole": "NRMS (%) virtual vs truth, whole trace (with --truth)",
}


class QCError(SymaeError):
    """A QC product cannot be made from the given run (wrong mode, windows, inputs)."""


@dataclass(frozen=True)
class QCWindows:
    """Sample ranges ``[start, stop)`` of the design (no change expected) and reservoir
    windows, and the times they were given in."""

    design: tuple[int, int]
    reservoir: tuple[int, int]
    design_ms: tuple[float, float]
    reservoir_ms: tuple[float, float]


def _samples(name: str, ms: tuple[float, float], time_ms: np.ndarray) -> tuple[int, int]:
    a = int(np.searchsorted(time_ms, ms[0] - 1e-6))
    b = int(np.searchsorted(time_ms, ms[1] + 1e-6))
    if b - a < 4:
        raise QCError(
            f"{name} window {list(ms)} ms holds {max(b - a, 0)} samples of the record "
            f"({time_ms[0]:g} to {time_ms[-1]:g} ms); give one inside the record"
        )
    return a, b


def qc_windows(
    time_ms: np.ndarray,
    design_ms: tuple[float, float] | None,
    reservoir_ms: tuple[float, float] | None = None,
) -> QCWindows:
    """The design window (default: the whole record, then nothing is told apart) and the
    reservoir window (default: from the design window's end to the record's end)."""
    t = np.asarray(time_ms, dtype=np.float64)
    design_ms = (float(t[0]), float(t[-1])) if design_ms is None else tuple(map(float, design_ms))
    if reservoir_ms is None:
        if design_ms[1] < t[-1] - 4 * (t[1] - t[0]):
            reservoir_ms = (design_ms[1], float(t[-1]))
        else:
            import logging

            logging.getLogger(__name__).warning(
                "the design window reaches the record's end: the 4D signal is measured "
                "over the whole record (give --reservoir-window)"
            )
            reservoir_ms = (float(t[0]), float(t[-1]))
    reservoir_ms = tuple(map(float, reservoir_ms))
    return QCWindows(
        _samples("design", design_ms, t),
        _samples("reservoir", reservoir_ms, t),
        design_ms,
        reservoir_ms,
    )


def _trace_nrms(a: np.ndarray, b: np.ndarray, live: np.ndarray) -> float:
    """NRMS (%) of gathers ``a``, ``b`` ``(C, T)`` over their live traces taken as one
    series: a trace or a window with little energy weighs as little as it holds (trace by
    trace, a far trace whose event has moved out of the window reads as a misfit of
    100 % or more however well the rest repeats)."""
    if not live.any():
        return float("nan")
    return float(nrms(np.ravel(a[live]), np.ravel(b[live])))


def _trace_pred(a: np.ndarray, b: np.ndarray, live: np.ndarray, lag: int) -> float:
    """PRED (%) of gathers ``a``, ``b`` over their live traces as one: the traces end to
    end, ``lag`` zeros apart (no correlation across traces), so each trace's
    cross-correlation counts by its energy, as the NRMS does (trace by trace, a window
    holding only round-off scores as unpredictable as noise)."""
    if not live.any():
        return float("nan")
    gap = np.zeros((int(live.sum()), lag))
    a1 = np.concatenate([a[live], gap], axis=-1).ravel()
    b1 = np.concatenate([b[live], gap], axis=-1).ravel()
    return float(predictability(a1, b1, lag))


def repeatability_table(
    ds,
    reader: StoreReader,
    windows: QCWindows,
    *,
    truth: dict | None = None,
    max_pairs: int = 8,
) -> dict[str, np.ndarray]:
    """The per-datapoint table of :data:`TABLE_COLUMNS` (and ``datapoint`` and the key
    fields) of a ``4d`` run. Before-values compare at most ``max_pairs`` monitor shots
    with ``max_pairs`` baseline shots per datapoint."""
    if ds.attrs.get("mode", "4d") != "4d":
        raise QCError("symae-qc's 4D products need a 4d redatum run (not --reference)")
    lag = pred_lag(reader.dt_ms)
    da, db = windows.design
    ra, rb = windows.reservoir
    coh = ds["coherent_datapoint"].values
    keys = ds["recorded_instance_key"].values
    truth_of = {}
    if truth is not None:
        truth_of = {int(k): i for i, k in enumerate(truth["virtual_fieldrecord"])}
    rows: dict[str, list] = {"datapoint": [], **{n: [] for n in reader.dp_names}}
    rows.update({c: [] for c in TABLE_COLUMNS})
    for d in np.unique(coh):
        sel = np.flatnonzero(coh == d)
        real = ds["recorded"][sel].values.astype(np.float64)
        virt = ds["virtual"][sel].values.astype(np.float64)
        recon = ds["reconstruction"][sel].values.astype(np.float64)
        live = ds["live"][sel].values.astype(bool)
        mon = reader.read(reader.members[int(d)][:max_pairs]).astype(np.float64)
        mon_live = reader.live(reader.members[int(d)][:max_pairs])
        both = [
            (r, m, lr & lm) for r, lr in zip(real[:max_pairs], live) for m, lm in zip(mon, mon_live)
        ]
        w = slice(da, db)
        rows["datapoint"].append(int(d))
        for j, name in enumerate(reader.dp_names):
            rows[name].append(int(reader.dp_key[int(d), j]))
        rows["pairs"].append(len(sel))
        rows["nrms_before_window"].append(
            np.nanmedian([_trace_nrms(m[:, w], r[:, w], lv) for r, m, lv in both])
        )
        rows["pred_before_window"].append(
            np.nanmedian([_trace_pred(m[:, w], r[:, w], lv, lag) for r, m, lv in both])
        )
        rows["nrms_before_whole"].append(np.nanmedian([_trace_nrms(m, r, lv) for r, m, lv in both]))
        rows["nrms_after_window"].append(
            np.nanmedian([_trace_nrms(v[:, w], r[:, w], lv) for v, r, lv in zip(virt, real, live)])
        )
        rows["pred_after_window"].append(
            np.nanmedian(
                [_trace_pred(v[:, w], r[:, w], lv, lag) for v, r, lv in zip(virt, real, live)]
            )
        )
        rows["nrms_after_whole"].append(
            np.nanmedian([_trace_nrms(v, r, lv) for v, r, lv in zip(virt, real, live)])
        )
        res = (virt - real)[..., ra:rb]
        base = real[..., ra:rb]
        rows["signal_4d"].append(
            float(
                100.0
                * np.sqrt((res[live] ** 2).mean())
                / max(np.sqrt((base[live] ** 2).mean()), 1e-30)
            )
        )
        rows["nrms_recon"].append(
            np.nanmedian([_trace_nrms(c, r, lv) for c, r, lv in zip(recon, real, live)])
        )
        tw, tt = [], []
        for k, v, lv in zip(keys[sel], virt, live):
            i = truth_of.get(int(k))
            if i is not None:
                gt = np.asarray(truth["virtual"][i], dtype=np.float64)
                tw.append(_trace_nrms(v[:, w], gt[:, w], lv))
                tt.append(_trace_nrms(v, gt, lv))
        rows["nrms_truth_window"].append(np.nanmedian(tw) if tw else np.nan)
        rows["nrms_truth_whole"].append(np.nanmedian(tt) if tt else np.nan)
    return {
        k: np.asarray(v, dtype=np.float64 if k in TABLE_COLUMNS else np.int64)
        for k, v in rows.items()
    }


def shift_strain(
    virtual: np.ndarray,
    baseline: np.ndarray,
    live: np.ndarray,
    dt_ms: float,
    *,
    window_ms: float = 80.0,
    max_shift_ms: float = 12.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time shift (ms, positive: the virtual is later) of gathers ``virtual`` against
    ``baseline`` ``(N, C, T)`` along two-way time, from cross-correlations in windows of
    ``window_ms`` (half overlapping) summed over every live trace (one coefficient per
    window, as a stack would give), with parabolic interpolation of the peak.

    Returns ``(centre sample of each window, shift_ms, coefficient)``; the coefficient is
    the peak of the normalised cross-correlation (1: identical up to the shift); both NaN
    in a window where nothing was recorded."""
    t = virtual.shape[-1]
    n = min(t, max(8, int(round(window_ms / dt_ms))))
    step = max(1, n // 2)
    lag = max(1, min(int(round(max_shift_ms / dt_ms)), n - 1))
    taper = np.hanning(n + 2)[1:-1]
    v = np.asarray(virtual, dtype=np.float64)[live]
    b = np.asarray(baseline, dtype=np.float64)[live]
    centres, shifts, coefs = [], [], []
    for a in range(0, max(t - n, 0) + 1, step):
        vw, bw = v[:, a : a + n] * taper, b[:, a : a + n] * taper
        norm = np.sqrt((vw**2).sum() * (bw**2).sum())
        cc = np.array(
            [
                (vw[:, max(0, k) : n + min(0, k)] * bw[:, max(0, -k) : n + min(0, -k)]).sum()
                for k in range(-lag, lag + 1)
            ]
        )
        centres.append(a + n // 2)
        if not norm > 0:  # nothing recorded in the window: no shift to measure
            shifts.append(np.nan)
            coefs.append(np.nan)
            continue
        cc = cc / norm
        j = int(np.argmax(cc))
        frac = 0.0
        if 0 < j < len(cc) - 1:
            den = cc[j - 1] - 2 * cc[j] + cc[j + 1]
            frac = 0.5 * (cc[j - 1] - cc[j + 1]) / den if den < 0 else 0.0
        shifts.append((j - lag + frac) * dt_ms)
        coefs.append(cc[j])
    return np.asarray(centres), np.asarray(shifts), np.asarray(coefs)


def disentangle_probe(
    codes: np.ndarray, survey: np.ndarray, inside: np.ndarray, *, seed: int = 0
) -> list[dict]:
    """How well a linear probe tells the surveys apart from the nuisance codes ``(N, D)``
    of shots of two surveys (``survey``: label per shot), among the shots inside the
    changed zone (``inside`` per shot) and outside it, against the chance level (the
    larger survey's share). A nuisance code that carries no earth tells them apart no
    better inside the zone than outside it; well above chance inside only says the
    earth's change leaked into the codes (where the surveys' acquisitions themselves
    differ, it is above chance everywhere)."""
    from .disentangle import probe_accuracy

    out = []
    for zone, mask in (("inside", inside), ("outside", ~inside)):
        labels = np.asarray(survey)[mask]
        classes, counts = np.unique(labels, return_counts=True)
        row = {"zone": zone, "shots": int(mask.sum())}
        if classes.size == 2 and counts.min() >= 3:
            row["accuracy"] = probe_accuracy(codes[mask], labels, seed=seed)
            row["chance"] = float(100.0 * counts.max() / counts.sum())
        else:
            row["accuracy"] = row["chance"] = float("nan")
        out.append(row)
    return out


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


def channel_values(ds, var: str, sel) -> np.ndarray:
    """The channel key's values ``(len(sel), C)`` of pairs ``sel``: the channel
    dimension's index where every gather shares them, else the per-trace coordinate."""
    v = ds[var]
    if v.ndim == 1:
        return np.broadcast_to(v.values.astype(np.float64), (len(sel), v.size))
    return v[np.asarray(sel)].values.astype(np.float64)


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
