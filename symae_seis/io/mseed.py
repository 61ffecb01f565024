"""miniSEED windows in, through ObsPy.

Each survey's files are read (one survey in memory at a time), the selected streams
(``NET.STA.LOC.CHA`` patterns) are merged, resampled to ``resample_hz`` when asked, and
cut into windows of ``window_s`` seconds every ``step_s``: each window is one instance
``(channels, samples)`` with channels in sorted stream-id order, the same in every survey.

Gaps inside a window follow the catalog's ``gaps`` policy: ``reject`` (raise, naming the
stream and time), ``zero`` (fill with zeros; a stream absent for the whole window becomes
a dead trace) or ``interpolate`` (linear across the gap). Mixed sampling rates raise
unless ``resample_hz`` is given.
"""

from __future__ import annotations

import fnmatch
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import DatasetEntry

__all__ = ["MseedError", "read_mseed", "plan_windows", "mseed_windows", "ingest_mseed"]

log = logging.getLogger(__name__)


#: Fewest samples in a window (the encoders need a few to convolve).
MIN_WINDOW_SAMPLES = 8


class MseedError(ValueError):
    """A miniSEED file is unreadable, or its streams cannot be cut into windows."""


def read_mseed(files: list[Path], patterns: tuple[str, ...] = ("*",), *,
               headonly: bool = False):
    """Read and select streams from miniSEED files.

    Raises
    ------
    FileNotFoundError, MseedError
        Missing, unreadable or empty files, or no stream matching ``patterns``.
    """
    import obspy

    st = obspy.Stream()
    for f in files:
        f = Path(f)
        if not f.is_file():
            raise FileNotFoundError(f"miniSEED file {f} does not exist")
        if f.stat().st_size == 0:
            raise MseedError(f"{f}: empty file (0 bytes)")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                part = obspy.read(str(f), format="MSEED", headonly=headonly)
        except Exception as err:  # noqa: BLE001 - obspy raises many types; one message
            raise MseedError(f"{f}: not readable as miniSEED: {err}") from None
        if not headonly:              # the same file is read headonly first: say it once
            _summarise_warnings(f, caught)
        if len(part) == 0:
            raise MseedError(f"{f}: holds no records")
        for tr in part:
            tr.stats._source = str(f)
            _check_trace(f, tr, headonly)
        st += part
    sel = type(st)([tr for tr in st if any(fnmatch.fnmatch(tr.id, p) for p in patterns)])
    if len(sel) == 0:
        ids = sorted({tr.id for tr in st})
        raise MseedError(f"{', '.join(map(str, files))}: no stream matches {list(patterns)} "
                         f"(streams present: {ids})")
    return sel


def _summarise_warnings(path: Path, caught: list) -> None:
    """ObsPy's warnings on one file as one log line (not one per record)."""
    if not caught:
        return
    import re

    texts = [str(w.message).splitlines()[0][:160] for w in caught]
    kinds = {re.sub(r"\d+", "N", t) for t in texts}
    more = f" (and {len(kinds) - 1} other kinds)" if len(kinds) > 1 else ""
    log.warning("%s: ObsPy warned %d times while reading, e.g. %s%s", path, len(caught),
                texts[0], more)


def _check_trace(path: Path, tr, headonly: bool) -> None:
    """Refuse records that hold no usable samples: a zero sampling rate, text records."""
    if not float(tr.stats.sampling_rate) > 0:
        raise MseedError(f"{path}: stream {tr.id} has a sampling rate of "
                         f"{tr.stats.sampling_rate} Hz; its records do not say when samples "
                         "were taken: fix the record headers or leave the file out")
    if not headonly and np.asarray(tr.data).dtype.kind not in "iuf":
        raise MseedError(f"{path}: stream {tr.id} holds {np.asarray(tr.data).dtype} data "
                         "(ASCII/text records, e.g. log channels), not samples; leave it out "
                         "with the catalog's `streams` patterns")


def _sampling_rate(st, entry_name: str, resample_hz: float | None) -> float:
    rates = {}
    for tr in st:
        rates.setdefault(float(tr.stats.sampling_rate), []).append(
            f"{tr.id} in {tr.stats._source}")
    if resample_hz is not None:
        return resample_hz
    if len(rates) > 1:
        desc = "; ".join(f"{r:g} Hz: {v[0]}" for r, v in sorted(rates.items()))
        raise MseedError(f"dataset {entry_name!r}: mixed sampling rates ({desc}); set "
                         "`resample_hz` in the catalog to resample to one rate")
    return next(iter(rates))


def _datapoint_of(t_ns: int, by: str) -> int:
    if by == "day":
        return t_ns // (86400 * 10**9)
    if by == "hour":
        return t_ns // (3600 * 10**9)
    return 0


def plan_windows(st, sr: float, window_s: float, step_s: float) -> list:
    """Window start times: a fixed grid from the survey's first sample, every ``step_s``.

    Windows in which no selected stream recorded a single sample (a recorder off for the
    night, the time between two days' files) are skipped; any other window with missing
    samples goes to the gap policy.
    """
    spans = sorted((tr.stats.starttime, tr.stats.endtime) for tr in st)
    start = spans[0][0]
    end = max(b for _, b in spans)
    nsamp = int(round(window_s * sr))
    starts = []
    k = 0
    while True:
        t = start + k * step_s
        t_end = t + (nsamp - 1) / sr
        if t_end > end + 0.5 / sr:
            break
        if any(a <= t_end and b >= t for a, b in spans):
            starts.append(t)
        k += 1
    return starts


def mseed_windows(st, ids: list[str], sr: float, window_s: float, starts: list, gaps: str,
                  *, survey: str = "", files: list | None = None):
    """Cut a merged stream into ``(channels, samples)`` windows starting at ``starts``.

    Yields
    ------
    (window start as ``obspy.UTCDateTime``, data ``(C, T)`` float32, live ``(C,)`` bool)
    """
    nsamp = int(round(window_s * sr))
    by_id: dict[str, list] = {}
    for tr in st:
        by_id.setdefault(tr.id, []).append(tr)
    for t in starts:
        data = np.zeros((len(ids), nsamp), dtype=np.float32)
        live = np.zeros(len(ids), dtype=bool)
        for c, sid in enumerate(ids):
            got = None
            for tr in by_id.get(sid, []):
                i0 = int(round((t - tr.stats.starttime) * sr))
                if i0 < 0 or i0 + nsamp > tr.stats.npts:
                    continue
                got = tr.data[i0:i0 + nsamp]
                break
            if got is None:
                # partially covered: take what overlaps and mask the rest
                got = np.ma.masked_all(nsamp, dtype=np.float64)
                for tr in by_id.get(sid, []):
                    i0 = int(round((t - tr.stats.starttime) * sr))
                    a, b = max(i0, 0), min(i0 + nsamp, tr.stats.npts)
                    if b > a:
                        got[a - i0:b - i0] = tr.data[a:b]
            masked = np.ma.getmaskarray(got)
            if masked.any():
                where = f"stream {sid} of survey {survey!r}, window starting {t}"
                src = ", ".join(sorted({tr.stats._source for tr in by_id.get(sid, [])}))
                if gaps == "reject":
                    what = "is missing" if masked.all() else f"has a gap of {masked.sum()} samples"
                    src = src or ", ".join(map(str, files or [])) or "no file"
                    raise MseedError(f"{src}: {where} {what}; set `gaps: zero` or "
                                     "`gaps: interpolate` in the catalog to fill gaps")
                if masked.all():
                    continue  # dead trace
                if gaps == "zero":
                    got = np.ma.filled(got, 0.0)
                else:
                    idx = np.arange(nsamp)
                    good = ~masked
                    got = np.interp(idx, idx[good], np.ma.getdata(got)[good])
            data[c] = np.asarray(got, dtype=np.float32)
            live[c] = True
        yield t, data, live


def _check_overlaps(st, sr: float) -> None:
    """Overlapping records must agree sample for sample (duplicates are fine)."""
    by_id: dict[str, list] = {}
    for tr in st:
        by_id.setdefault(tr.id, []).append(tr)
    for sid, trs in by_id.items():
        trs.sort(key=lambda t: t.stats.starttime)
        for a, b in zip(trs, trs[1:]):
            if b.stats.starttime > a.stats.endtime:
                continue
            i0 = int(round((b.stats.starttime - a.stats.starttime) * sr))
            n = min(a.stats.npts - i0, b.stats.npts)
            if n > 0 and not np.allclose(a.data[i0:i0 + n], b.data[:n]):
                raise MseedError(
                    f"{a.stats._source}, {b.stats._source}: stream {sid} has overlapping "
                    f"records with different samples ({b.stats.starttime} to "
                    f"{a.stats.endtime}); remove the duplicate data before ingest"
                )


def _prepare(st, sr: float, resample: bool):
    st = st.copy()
    for tr in st:
        tr.data = tr.data.astype(np.float64)
        if resample and float(tr.stats.sampling_rate) != sr:
            rate = float(tr.stats.sampling_rate)
            if not np.all(np.isfinite(tr.data)):
                raise MseedError(f"{tr.stats._source}: stream {tr.id} has NaN or Inf samples; "
                                 f"cannot resample it from {rate:g} Hz to {sr:g} Hz")
            try:
                tr.resample(sr, no_filter=False)
            except (ValueError, ZeroDivisionError, FloatingPointError) as err:
                raise MseedError(f"{tr.stats._source}: stream {tr.id}: resampling from "
                                 f"{rate:g} Hz to {sr:g} Hz failed ({err})") from None
            if not np.all(np.isfinite(tr.data)):
                raise MseedError(f"{tr.stats._source}: stream {tr.id}: resampling from "
                                 f"{rate:g} Hz to {sr:g} Hz gave NaN or Inf samples (too few "
                                 "samples in a record?); choose another resample_hz or leave "
                                 "the stream out")
    _check_overlaps(st, sr)
    st.merge(method=1, fill_value=None)
    return st


def ingest_mseed(entry: DatasetEntry, files: dict[str, list[Path]], h5, writer_cls,
                 *, progress: bool = False) -> dict[str, Any]:
    """Write every window of every survey into an open store file (used by build_store)."""
    from tqdm.auto import tqdm

    surveys = list(files)
    heads = {s: read_mseed(files[s], entry.streams, headonly=True) for s in surveys}
    ids = sorted({tr.id for st in heads.values() for tr in st})
    sr = _sampling_rate(sum(heads.values(), type(heads[surveys[0]])()), entry.name,
                        entry.resample_hz)
    nsamp = int(round(entry.window_s * sr))
    if nsamp < MIN_WINDOW_SAMPLES:
        raise MseedError(f"{', '.join(str(p) for s in surveys for p in files[s][:1])}: "
                         f"window_s = {entry.window_s:g} s of dataset {entry.name!r} is {nsamp} "
                         f"samples at {sr:g} Hz; a window needs at least {MIN_WINDOW_SAMPLES}: "
                         "raise window_s in the catalog")
    plans = {}
    for s in surveys:
        plans[s] = plan_windows(heads[s], sr, entry.window_s, entry.step_s)
        if not plans[s]:
            raise MseedError(f"{', '.join(map(str, files[s]))}: survey {s!r} has no recorded "
                             f"segment as long as one window of {entry.window_s:g} s")
    writer = writer_cls(h5, sum(len(v) for v in plans.values()), len(ids), nsamp, 0)
    keys, surv, fidx, dps = [], [], [], []
    row = 0
    file_index = {str(p): i for i, p in enumerate(p for s in surveys for p in files[s])}
    bar = tqdm(total=writer.x.shape[0], desc="ingest", unit="win", disable=not progress)
    try:
        for si, s in enumerate(surveys):
            st = _prepare(read_mseed(files[s], entry.streams), sr, entry.resample_hz is not None)
            for tr in st:
                if not np.all(np.isfinite(np.ma.compressed(np.ma.asarray(tr.data)))):
                    raise MseedError(f"{tr.stats._source}: stream {tr.id} has NaN or Inf samples")
            for t, data, live in mseed_windows(st, ids, sr, entry.window_s, plans[s], entry.gaps,
                                               survey=s, files=files[s]):
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
        "dp_vals": np.array(dps, dtype=np.int64)[:, None] if entry.datapoint_by != "survey"
        else np.zeros((row, 0), dtype=np.int64),
        "dp_fields": [entry.datapoint_by] if entry.datapoint_by != "survey" else [],
        "channels": len(ids),
        "channel_names": ids,
        "dt_ms": 1000.0 / sr,
        "t0_ms": 0.0,
        "rms": writer.rms,
    }
