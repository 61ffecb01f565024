"""Standard QC of a redatum output folder: NRMS before/after along the key, gather panels."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from ..io.store import StoreReader
from ..typing import PathLike
from .metrics import nrms, pred_lag, predictability, time_shift
from .plots import plot_nrms_along_key, plot_nrms_map, plot_redatum_panels, plot_uncertainty
from .products import channel_values

__all__ = ["load_redatum", "nrms_before_after", "qc_report"]


def load_redatum(out_dir: PathLike):
    """Open ``redatum.nc`` of a redatum output folder as a lazy ``xarray.Dataset``
    (arrays load on indexing, so reports stay within one datapoint's memory), with the
    datapoint key's coordinates (e.g. ``cdp``) indexed along ``pair``, so that
    ``ds.sel(cdp=12)`` selects that datapoint's gathers (and, where every gather shares
    the channel key's values, ``ds.sel(offset=1200)`` one offset plane)."""
    import xarray as xr

    path = Path(out_dir) / "redatum.nc"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; run symae-redatum first")
    raw = xr.open_dataset(path, engine="h5netcdf")
    keys = [
        k
        for k in json.loads(raw.attrs.get("datapoint_keys", "[]"))
        if k in raw.coords and raw[k].dims == ("pair",)
    ]
    if not keys:
        return raw
    if len(keys) == 1:
        ds = raw.set_xindex(keys[0])
    else:  # one index over every key: ds.sel(iline=.., xline=..)
        from xarray.indexes import PandasMultiIndex

        ds = raw.set_xindex(keys, PandasMultiIndex)
    ds.set_close(raw.close)  # closing the indexed view closes the file
    return ds


def nrms_before_after(ds, reader: StoreReader) -> dict[str, np.ndarray]:
    """Per coherent datapoint (4D mode): median NRMS of real baseline vs real monitor
    ("before", what differencing the surveys gives) and of real baseline vs virtual
    ("after"), plus the median residual time shift (ms) and the datapoint key values."""
    coh = ds["coherent_datapoint"].values
    out: dict[str, list] = {
        "datapoint": [],
        "before": [],
        "after": [],
        "pred_before": [],
        "pred_after": [],
        "shift_before_ms": [],
        "shift_after_ms": [],
    }
    max_lag = pred_lag(reader.dt_ms)
    key_names = reader.dp_names
    for name in key_names:
        out[name] = []
    for d in np.unique(coh):
        sel = np.flatnonzero(coh == d)
        real = ds["recorded"][sel].values
        virt = ds["virtual"][sel].values
        mon = reader.read(reader.members[int(d)])
        before = [nrms(m, r).mean() for r in real for m in mon]
        out["pred_before"].append(
            float(np.median([predictability(m, r, max_lag).mean() for r in real for m in mon]))
        )
        out["pred_after"].append(
            float(np.median(predictability(virt, real, max_lag).mean(axis=-1)))
        )
        shifts_b = [np.median(time_shift(m, r, reader.dt_ms)) for r in real[:4] for m in mon[:4]]
        out["datapoint"].append(int(d))
        out["before"].append(float(np.median(before)))
        out["after"].append(float(np.median(nrms(virt, real).mean(axis=-1))))
        out["shift_before_ms"].append(float(np.median(np.abs(shifts_b))))
        out["shift_after_ms"].append(float(np.median(np.abs(time_shift(virt, real, reader.dt_ms)))))
        for j, name in enumerate(key_names):
            out[name].append(int(reader.dp_key[int(d), j]))
    return {k: np.asarray(v) for k, v in out.items()}


def _report_4d(
    ds,
    reader: StoreReader,
    out_dir: Path,
    surveys: list[str],
    time_ms: np.ndarray,
    changed: np.ndarray | None,
    n_examples: int,
) -> dict[str, Path]:
    """4D mode: qc_before_after.csv, NRMS along the key (or a map), example gathers."""
    files: dict[str, Path] = {}
    ba = nrms_before_after(ds, reader)
    with (
        atomic_path(out_dir / "qc_before_after.csv", overwrite=True) as tmp,
        open(tmp, "w", newline="") as fh,
    ):
        w = csv.writer(fh)
        cols = [
            "survey",
            *reader.dp_names,
            "nrms_before",
            "pred_before",
            "nrms_after",
            "pred_after",
            "abs_shift_before_ms",
            "abs_shift_after_ms",
        ]
        w.writerow(cols)
        for k in range(len(ba["datapoint"])):
            d = int(ba["datapoint"][k])
            w.writerow(
                [
                    reader.surveys[reader.dp_survey[d]],
                    *(ba[n][k] for n in reader.dp_names),
                    f"{ba['before'][k]:.2f}",
                    f"{ba['pred_before'][k]:.2f}",
                    f"{ba['after'][k]:.2f}",
                    f"{ba['pred_after'][k]:.2f}",
                    f"{ba['shift_before_ms'][k]:.3f}",
                    f"{ba['shift_after_ms'][k]:.3f}",
                ]
            )
    files["qc_before_after"] = out_dir / "qc_before_after.csv"
    series = {
        "before: real monitor vs real baseline": ba["before"],
        "after: virtual (monitor earth, baseline acquisition) vs real baseline": ba["after"],
    }
    if len(reader.dp_names) == 1:
        files["nrms"] = plot_nrms_along_key(
            ba[reader.dp_names[0]],
            series,
            out_dir / "nrms_along_key.png",
            key_name=reader.dp_names[0],
            shade=changed,
        )
    elif len(reader.dp_names) >= 2:
        a, b = reader.dp_names[:2]
        files["nrms"] = plot_nrms_map(
            ba[a],
            ba[b],
            ba["after"],
            out_dir / "nrms_map.png",
            labels=(a, b),
            title="NRMS after redatuming (%)",
        )
    order = np.argsort(ba["after"])
    picks = [order[-1], order[0]][:n_examples]
    for rank, k in enumerate(picks):
        d = int(ba["datapoint"][k])
        sel = np.flatnonzero(ds["coherent_datapoint"].values == d)[0]
        mon = reader.read(reader.members[d][:1])[0]
        panels = {
            "real baseline": ds["recorded"][sel].values,
            f"real {surveys[reader.dp_survey[d]] if surveys else 'monitor'}": mon,
            "virtual": ds["virtual"][sel].values,
            "residual (virtual - real)": ds["residual"][sel].values,
            "residual (decoder-cancelled)": ds["residual_decoder"][sel].values,
        }
        label = reader.datapoint_label(d).replace(":", "_").replace("=", "").replace(",", "_")
        name = f"gathers_{'highest' if rank == 0 else 'lowest'}_nrms_{label}.png"
        ck = reader.channel_key_name
        x = channel_values(ds, ck.lower(), [sel])[0] if ck and ck.lower() in ds else None
        files[name] = plot_redatum_panels(
            panels,
            time_ms,
            out_dir / name,
            x=x,
            xlabel=(f"{ck} (m)" if ck == "offset" else ck) if x is not None else "channel",
            title=f"{reader.datapoint_label(d)}: NRMS after {ba['after'][k]:.1f}%",
        )
        if rank == 0 and "virtual_std" in ds:
            files["uncertainty"] = plot_uncertainty(
                ds["residual"][sel].values,
                ds["virtual_std"][sel].values,
                time_ms,
                out_dir / "residual_over_std.png",
                title=f"{reader.datapoint_label(d)}: residual in units of the bootstrap std",
            )
    return files


def qc_report(
    out_dir: PathLike,
    store: StoreReader | PathLike,
    *,
    changed: np.ndarray | None = None,
    n_examples: int = 2,
) -> dict[str, Path]:
    """Write the QC figures and ``qc_before_after.csv`` into ``out_dir``.

    Parameters
    ----------
    out_dir
        A ``symae-redatum`` output folder.
    store
        The store it was made from (a path, or an open :class:`StoreReader`).
    changed
        Optional boolean per datapoint-key value (1-D keys) to shade the changed zone.
    """
    if not isinstance(store, StoreReader):
        with StoreReader(store) as reader:  # opened here, closed here
            return qc_report(out_dir, reader, changed=changed, n_examples=n_examples)
    out_dir = Path(out_dir)
    ds = load_redatum(out_dir)
    reader = store
    files: dict[str, Path] = {}
    time_ms = ds["twt"].values
    mode = ds.attrs.get("mode", "4d")
    surveys = json.loads(ds.attrs.get("surveys", "[]"))
    if mode == "4d":
        try:
            files.update(_report_4d(ds, reader, out_dir, surveys, time_ms, changed, n_examples))
        finally:
            ds.close()
        return files
    else:
        k = 0
        panels = {
            "real": ds["recorded"][k].values,
            "virtual (reference acquisition)": ds["virtual"][k].values,
            "residual": ds["residual"][k].values,
        }
        files["gathers"] = plot_redatum_panels(
            panels,
            time_ms,
            out_dir / "gathers_reference.png",
            title=f"redatumed to {ds.attrs.get('reference')}",
        )
    ds.close()
    return files
