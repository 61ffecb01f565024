"""miniSEED ingest: a fixed grid of windows per survey (``window_s`` every ``step_s``),
each window of all selected streams one instance, datapoints by survey, day or hour.

With ``correlate: {max_lag_s: L}`` in the catalog an instance is instead the window's
whitened cross-correlations of every station pair ``(pairs, 2L+1)``: the form in which a
day's Green's functions are shared by its windows (passive monitoring)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import MseedEntry
from ..io.checks import first_nonfinite
from ..io.mseed import (
    MIN_WINDOW_SAMPLES,
    MseedError,
    mseed_windows,
    prepare,
    read_mseed,
    sampling_rate,
)
from ..io.store import StoreWriter
from ..qc.correlation import all_pairs, band_window, correlate, correlation_nfft
from ..qc.stacking import amplitude_live

__all__ = ["ingest_mseed", "plan_windows"]


def _datapoint_of(t_ns: int, by: str) -> int:
    if by == "day":
        return t_ns // (86400 * 10**9)
    if by == "hour":
        return t_ns // (3600 * 10**9)
    return 0


def _merged_spans(st, sr: float) -> dict[str, list]:
    """Recorded time spans of each stream, records that follow each other joined."""
    out: dict[str, list] = {}
    for tr in sorted(st, key=lambda tr: (tr.id, tr.stats.starttime)):
        spans = out.setdefault(tr.id, [])
        a, b = tr.stats.starttime, tr.stats.endtime
        if spans and a <= spans[-1][1] + 1.5 / sr:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    return out


def plan_windows(
    st,
    sr: float,
    window_s: float,
    step_s: float,
    *,
    complete_only: bool = False,
    ids: list[str] | None = None,
) -> tuple[list, list]:
    """Window start times: a fixed grid from the survey's first sample, every ``step_s``.

    Windows in which no selected stream recorded a single sample (a recorder off for the
    night, the time between two days' files) are left out; any other window with missing
    samples goes to the gap policy. With ``complete_only`` (``gaps: skip``) a window is
    kept only if every stream of ``ids`` recorded all of its samples.

    Returns
    -------
    (kept start times, start times left out by ``complete_only``)
    """
    spans = sorted((tr.stats.starttime, tr.stats.endtime) for tr in st)
    start = spans[0][0]
    end = max(b for _, b in spans)
    merged = _merged_spans(st, sr)
    nsamp = int(round(window_s * sr))
    starts, skipped = [], []
    k = 0
    while True:
        t = start + k * step_s
        t_end = t + (nsamp - 1) / sr
        if t_end > end + 0.5 / sr:
            break
        if any(a <= t_end and b >= t for a, b in spans):
            whole = all(
                any(a <= t + 0.5 / sr and b >= t_end - 0.5 / sr for a, b in merged.get(i, []))
                for i in (ids or merged)
            )
            (starts if whole or not complete_only else skipped).append(t)
        k += 1
    return starts, skipped


def _report_skipped(entry: MseedEntry, survey: str, skipped: list, kept: list) -> None:
    if not skipped:
        return
    import warnings

    from ..errors import SymaeWarning

    days = sorted({str(t.date) for t in skipped})
    shown = ", ".join(days[:6]) + (f" and {len(days) - 6} more" if len(days) > 6 else "")
    warnings.warn(
        f"dataset {entry.name!r}, survey {survey!r}: {len(skipped)} of "
        f"{len(skipped) + len(kept)} windows left out for missing samples "
        f"(gaps: skip), on {shown}",
        SymaeWarning,
        stacklevel=3,
    )


class _Correlator:
    """Turns a window's records ``(C, T)`` into its station-pair cross-correlations
    ``(pairs, 2L+1)`` (lags -L..L samples; the store's time axis starts at -L dt)."""

    def __init__(self, entry: MseedEntry, ids: list[str], sr: float):
        self.pairs = all_pairs(len(ids))
        if len(self.pairs) == 0:
            raise MseedError(
                f"dataset {entry.name!r}: correlate needs at least two streams, got {ids}"
            )
        self.lag = int(round(entry.correlate["max_lag_s"] * sr))
        if self.lag >= int(round(entry.window_s * sr)):
            raise MseedError(
                f"dataset {entry.name!r}: correlate.max_lag_s = "
                f"{entry.correlate['max_lag_s']:g} s must be shorter than "
                f"window_s = {entry.window_s:g} s"
            )
        self.whiten = entry.correlate["whiten"]
        band = entry.correlate.get("band_hz")
        if band is not None and band[1] > sr / 2:
            raise MseedError(
                f"dataset {entry.name!r}: correlate.band_hz {band[0]:g}-{band[1]:g} Hz "
                f"reaches above the Nyquist frequency {sr / 2:g} Hz of the records"
                + ("" if entry.resample_hz is None else " after resample_hz")
            )
        self.band = None if band is None else (band, 1.0 / sr)
        if band is not None:
            nfft = correlation_nfft(int(round(entry.window_s * sr)), self.lag)
            try:
                band_window(nfft, 1.0 / sr, band)
            except ValueError as err:
                raise MseedError(f"dataset {entry.name!r}: correlate.band_hz: {err}") from None
        self.names = [f"{ids[i]}|{ids[j]}" for i, j in self.pairs]
        self.samples = 2 * self.lag + 1

    def __call__(self, data: np.ndarray, live: np.ndarray):
        cc = correlate(
            data[None].astype(np.float64),
            self.pairs,
            self.lag,
            whiten=self.whiten,
            live=live[None],
            band=self.band,
        )[0]
        return cc.astype(np.float32), live[self.pairs[:, 0]] & live[self.pairs[:, 1]]


def _rms_keep(windows, reject: float) -> np.ndarray:
    """Amplitude-based rejection (catalog ``correlate.reject_rms``): the stations kept in
    each window ``(windows, C)`` of a survey, from a first pass over its windows. The RMS is
    taken about the window's mean (a recorder's offset in counts would hide a transient)."""
    rms = np.array(
        [np.where(live, np.std(d, axis=-1, dtype=np.float64), np.nan) for _, d, live in windows]
    )
    return amplitude_live(rms, reject)


def ingest_mseed(
    entry: MseedEntry, files: dict[str, list[Path]], h5, *, progress: bool = False
) -> dict[str, Any]:
    """Write every window of every survey into an open store file (used by build_store)."""
    from ..progress import progress_bar

    surveys = list(files)
    heads = {s: read_mseed(files[s], entry.streams, headonly=True) for s in surveys}
    ids = sorted({tr.id for st in heads.values() for tr in st})
    sr = sampling_rate(
        sum(heads.values(), type(heads[surveys[0]])()), entry.name, entry.resample_hz
    )
    nsamp = int(round(entry.window_s * sr))
    if nsamp < MIN_WINDOW_SAMPLES:
        raise MseedError(
            f"{', '.join(str(p) for s in surveys for p in files[s][:1])}: "
            f"window_s = {entry.window_s:g} s of dataset {entry.name!r} is {nsamp} "
            f"samples at {sr:g} Hz; a window needs at least {MIN_WINDOW_SAMPLES}: "
            "raise window_s in the catalog"
        )
    plans = {}
    for s in surveys:
        plans[s], skipped = plan_windows(
            heads[s], sr, entry.window_s, entry.step_s, complete_only=entry.gaps == "skip", ids=ids
        )
        if not plans[s]:
            what = "every stream recorded in full" if skipped else "recorded"
            raise MseedError(
                f"{', '.join(map(str, files[s]))}: survey {s!r} has no segment "
                f"{what} as long as one window of {entry.window_s:g} s"
                + (" (gaps: skip)" if skipped else "")
            )
        _report_skipped(entry, s, skipped, plans[s])
    corr = _Correlator(entry, ids, sr) if entry.correlate else None
    shape = (len(corr.names), corr.samples) if corr else (len(ids), nsamp)
    writer = StoreWriter(h5, sum(len(v) for v in plans.values()), *shape, 0)
    keys, surv, fidx, dps = [], [], [], []
    row = 0
    file_index = {str(p): i for i, p in enumerate(p for s in surveys for p in files[s])}
    bar = progress_bar(total=writer.x.shape[0], desc="ingest", unit="win", disable=not progress)
    try:
        for si, s in enumerate(surveys):
            st = prepare(read_mseed(files[s], entry.streams), sr, entry.resample_hz is not None)
            for tr in st:
                if first_nonfinite(np.ma.compressed(np.ma.asarray(tr.data))) is not None:
                    raise MseedError(f"{tr.stats._source}: stream {tr.id} has NaN or Inf samples")
            cut = dict(survey=s, files=files[s])
            reject = entry.correlate.get("reject_rms") if entry.correlate else None
            keep = None
            if reject is not None:
                keep = _rms_keep(
                    mseed_windows(st, ids, sr, entry.window_s, plans[s], entry.gaps, **cut), reject
                )
            for w, (t, data, live) in enumerate(
                mseed_windows(st, ids, sr, entry.window_s, plans[s], entry.gaps, **cut)
            ):
                if keep is not None:
                    live = live & keep[w]
                if corr is not None:
                    data, live = corr(data, live)
                writer.write_slab(row, data[None], live[None], None)
                t_ns = int(round(t.timestamp * 1e9))
                keys.append(t_ns)
                surv.append(si)
                fidx.append(file_index[str(files[s][0])])
                dps.append(_datapoint_of(t_ns, entry.datapoint_by))
                row += 1
                bar.update(1)
    finally:
        bar.close()
        writer.close()
    return {
        "surveys": surveys,
        "instance_key": np.array(keys, dtype=np.int64),
        "survey": np.array(surv, dtype=np.int16),
        "source_file": np.array(fidx, dtype=np.int16),
        "dp_vals": np.array(dps, dtype=np.int64)[:, None]
        if entry.datapoint_by != "survey"
        else np.zeros((row, 0), dtype=np.int64),
        "dp_fields": [entry.datapoint_by] if entry.datapoint_by != "survey" else [],
        "channels": shape[0],
        "channel_names": corr.names if corr else ids,
        "dt_ms": 1000.0 / sr,
        "t0_ms": -corr.lag * 1000.0 / sr if corr else 0.0,
        "rms": writer.rms,
    }
