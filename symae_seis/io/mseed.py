"""miniSEED windows in, through ObsPy.

Each survey's files are read (one survey in memory at a time), the selected streams
(``NET.STA.LOC.CHA`` patterns) are merged, resampled to ``resample_hz`` when asked, and
cut into windows of ``window_s`` seconds every ``step_s``: each window is one instance
``(channels, samples)`` with channels in sorted stream-id order, the same in every survey.

Gaps inside a window follow the catalog's ``gaps`` policy: ``reject`` (raise, naming the
stream and time), ``zero`` (fill with zeros; a stream absent for the whole window becomes
a dead trace), ``interpolate`` (linear across the gap) or ``skip`` (leave out every window
in which a selected stream misses a sample: a day's datapoint then holds only its complete
windows, and a station absent for a day leaves out that day). Mixed sampling rates raise
unless ``resample_hz`` is given. A record whose samples fall between the window grid's
samples (its start is off the grid by more than :data:`GRID_TOLERANCE` of a sample) is
refused: cutting it would shift it in time.
"""

from __future__ import annotations

import fnmatch
import logging
import warnings
from pathlib import Path

import numpy as np

from ..errors import SymaeError
from .checks import first_nonfinite

__all__ = [
    "MseedError",
    "read_mseed",
    "mseed_windows",
    "sampling_rate",
    "prepare",
    "MIN_WINDOW_SAMPLES",
]

log = logging.getLogger(__name__)


#: Fewest samples in a window (the encoders need a few to convolve).
MIN_WINDOW_SAMPLES = 8
#: Largest offset (fraction of a sample) between a record's samples and the window grid.
GRID_TOLERANCE = 0.01


class MseedError(SymaeError):
    """A miniSEED file is unreadable, or its streams cannot be cut into windows."""


def read_mseed(files: list[Path], patterns: tuple[str, ...] = ("*",), *, headonly: bool = False):
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
        if not headonly:  # the same file is read headonly first: say it once
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
        raise MseedError(
            f"{', '.join(map(str, files))}: no stream matches {list(patterns)} "
            f"(streams present: {ids})"
        )
    return sel


def _summarise_warnings(path: Path, caught: list) -> None:
    """ObsPy's warnings on one file as one log line (not one per record)."""
    if not caught:
        return
    import re

    texts = [str(w.message).splitlines()[0][:160] for w in caught]
    kinds = {re.sub(r"\d+", "N", t) for t in texts}
    more = f" (and {len(kinds) - 1} other kinds)" if len(kinds) > 1 else ""
    log.warning(
        "%s: ObsPy warned %d times while reading, e.g. %s%s", path, len(caught), texts[0], more
    )


def _check_trace(path: Path, tr, headonly: bool) -> None:
    """Refuse records that hold no usable samples: a zero sampling rate, text records."""
    if not float(tr.stats.sampling_rate) > 0:
        raise MseedError(
            f"{path}: stream {tr.id} has a sampling rate of "
            f"{tr.stats.sampling_rate} Hz; its records do not say when samples "
            "were taken: fix the record headers or leave the file out"
        )
    if not headonly and np.asarray(tr.data).dtype.kind not in "iuf":
        raise MseedError(
            f"{path}: stream {tr.id} holds {np.asarray(tr.data).dtype} data "
            "(ASCII/text records, e.g. log channels), not samples; leave it out "
            "with the catalog's `streams` patterns"
        )


def sampling_rate(st, entry_name: str, resample_hz: float | None) -> float:
    rates = {}
    for tr in st:
        rates.setdefault(float(tr.stats.sampling_rate), []).append(f"{tr.id} in {tr.stats._source}")
    if resample_hz is not None:
        return resample_hz
    if len(rates) > 1:
        desc = "; ".join(f"{r:g} Hz: {v[0]}" for r, v in sorted(rates.items()))
        raise MseedError(
            f"dataset {entry_name!r}: mixed sampling rates ({desc}); set "
            "`resample_hz` in the catalog to resample to one rate"
        )
    return next(iter(rates))


def mseed_windows(
    st,
    ids: list[str],
    sr: float,
    window_s: float,
    starts: list,
    gaps: str,
    *,
    survey: str = "",
    files: list | None = None,
):
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
                pos = (t - tr.stats.starttime) * sr
                i0 = int(round(pos))
                if abs(pos - i0) > GRID_TOLERANCE:
                    raise MseedError(
                        f"{tr.stats._source}: stream {sid} of survey {survey!r} starts "
                        f"{tr.stats.starttime}, {abs(pos - i0):.3f} of a sample off the "
                        f"window grid (windows from {starts[0]} every 1/{sr:g} s); cutting "
                        "it would shift it in time. Align the records on one sample grid "
                        "first (e.g. ObsPy Trace.interpolate with a starttime on the grid)"
                    )
                if i0 < 0 or i0 + nsamp > tr.stats.npts:
                    continue
                got = tr.data[i0 : i0 + nsamp]
                break
            if got is None:
                # partially covered: take what overlaps and mask the rest
                got = np.ma.masked_all(nsamp, dtype=np.float64)
                for tr in by_id.get(sid, []):
                    i0 = int(round((t - tr.stats.starttime) * sr))
                    a, b = max(i0, 0), min(i0 + nsamp, tr.stats.npts)
                    if b > a:
                        got[a - i0 : b - i0] = tr.data[a:b]
            masked = np.ma.getmaskarray(got)
            if masked.any():
                where = f"stream {sid} of survey {survey!r}, window starting {t}"
                src = ", ".join(sorted({tr.stats._source for tr in by_id.get(sid, [])}))
                if gaps in ("reject", "skip"):
                    what = "is missing" if masked.all() else f"has a gap of {masked.sum()} samples"
                    src = src or ", ".join(map(str, files or [])) or "no file"
                    raise MseedError(
                        f"{src}: {where} {what}; set `gaps: zero` or "
                        "`gaps: interpolate` in the catalog to fill gaps, or "
                        "`gaps: skip` to leave out windows with gaps"
                    )
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
            if n > 0 and not np.allclose(a.data[i0 : i0 + n], b.data[:n]):
                raise MseedError(
                    f"{a.stats._source}, {b.stats._source}: stream {sid} has overlapping "
                    f"records with different samples ({b.stats.starttime} to "
                    f"{a.stats.endtime}); remove the duplicate data before ingest"
                )


def prepare(st, sr: float, resample: bool):
    st = st.copy()
    for tr in st:
        tr.data = tr.data.astype(np.float64)
        if resample and float(tr.stats.sampling_rate) != sr:
            rate = float(tr.stats.sampling_rate)
            if first_nonfinite(tr.data) is not None:
                raise MseedError(
                    f"{tr.stats._source}: stream {tr.id} has NaN or Inf samples; "
                    f"cannot resample it from {rate:g} Hz to {sr:g} Hz"
                )
            try:
                tr.resample(sr, no_filter=False)
            except (ValueError, ZeroDivisionError, FloatingPointError) as err:
                raise MseedError(
                    f"{tr.stats._source}: stream {tr.id}: resampling from "
                    f"{rate:g} Hz to {sr:g} Hz failed ({err})"
                ) from None
            if first_nonfinite(tr.data) is not None:
                raise MseedError(
                    f"{tr.stats._source}: stream {tr.id}: resampling from "
                    f"{rate:g} Hz to {sr:g} Hz gave NaN or Inf samples (too few "
                    "samples in a record?); choose another resample_hz or leave "
                    "the stream out"
                )
    _check_overlaps(st, sr)
    st.merge(method=1, fill_value=None)
    return st
