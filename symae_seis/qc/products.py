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

import numpy as np

from ..errors import SymaeError
from ..io.store import StoreReader
from .metrics import gather_nrms, pred_lag, predictability

__all__ = [
    "QCError",
    "QCWindows",
    "qc_windows",
    "repeatability_table",
    "shift_strain",
    "disentangle_probe",
    "TABLE_COLUMNS",
    "channel_values",
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
    return float(gather_nrms(a[live], b[live]))


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


def channel_values(ds, var: str, sel) -> np.ndarray:
    """The channel key's values ``(len(sel), C)`` of pairs ``sel``: the channel
    dimension's index where every gather shares them, else the per-trace coordinate."""
    v = ds[var]
    if v.ndim == 1:
        return np.broadcast_to(v.values.astype(np.float64), (len(sel), v.size))
    return v[np.asarray(sel)].values.astype(np.float64)
