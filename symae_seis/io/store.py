"""The HDF5 instance store: one file per catalog dataset, and its xarray view.

Layout (``SCHEMA_VERSION`` 1)::

    /instances     float32 (N, C, T)   gathers; contiguous, so one instance is one read
    /live          bool    (N, C)      False for padded (absent) or all-zero traces
    /headers       int32   (N, C, F)   SEG-Y trace headers (attr ``fields``); F=0 for mseed
    /instance_key  int64   (N,)        FieldRecord (SEG-Y) or window start in ns (mseed)
    /survey        int16   (N,)        index into attr ``surveys``
    /datapoint     int64   (N,)        row of the datapoint table
    /source_file   int16   (N,)        index into attr ``sources``
    /datapoints/survey int16 (D,), /datapoints/key int64 (D, K) (attr ``names``)
    attrs: dt_ms, t0_ms, rms, surveys, channels (mseed), sources (path, size, mtime,
           sha256), catalog_entry, dataset, format, instance/channel/datapoint key names,
           schema_version, toolkit_version

Instances are stored in the order their first trace appears in the files, so a file
sorted by instance is written in large contiguous slabs. The contiguous layout (not one
chunk per instance as first designed) was measured faster to write and reads an instance
as one contiguous byte range; the store is not compressed.

Build with :func:`build_store` (atomic: temp file, then rename), check with
:func:`store_is_fresh`, read with :func:`open_store` (a lazy ``xarray.Dataset``) or
:class:`StoreReader` (what the DataLoader uses; opens HDF5 lazily per worker).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from .. import __version__
from ..catalog import DatasetEntry
from ..typing import PathLike
from ._atomic import atomic_path
from .segy import (
    HEADER_FIELDS,
    SegyError,
    delay_ms,
    open_segy,
    read_all_headers,
    read_headers,
    read_traces,
    segy_info,
)

__all__ = [
    "SCHEMA_VERSION",
    "StoreError",
    "build_store",
    "ensure_store",
    "store_is_fresh",
    "open_store",
    "store_schema",
    "StoreReader",
    "file_sha256",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_BLOCK_BYTES = 64 << 20


class StoreError(ValueError):
    """An instance store is missing, truncated, stale or of another schema."""


def file_sha256(path: PathLike, bufsize: int = 8 << 20) -> str:
    """SHA-256 of a file, read in blocks (memory stays bounded)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def _source_record(path: Path, sha: str) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sha256": sha}


#: Catalog keys that do not change what the store holds (training options, prose).
_NOT_STORED = ("design_window_ms", "description")


def _entry_json(entry: DatasetEntry) -> str:
    raw = {k: v for k, v in entry.raw.items() if k not in _NOT_STORED}
    return json.dumps(raw, sort_keys=True, default=str)


# --------------------------------------------------------------------------- writer


class _StoreWriter:
    """Creates the datasets of a store in an open HDF5 file and fills them.

    ``instances`` is contiguous and allocated at creation, so its bytes sit at a fixed
    offset of the file (``H5Dget_offset``); samples are written there with ``os.pwrite``
    on a background thread, which releases the GIL and overlaps with reading the next
    block. Headers and the live mask (small) go through h5py.
    """

    def __init__(self, h5: h5py.File, n: int, c: int, t: int, n_fields: int):
        self.h5 = h5
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.CONTIGUOUS)
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
        space = h5py.h5s.create_simple((n, c, t))
        dsid = h5py.h5d.create(h5.id, b"instances", h5py.h5t.IEEE_F32LE, space, dcpl=dcpl)
        self.x = h5["instances"]
        self.shape = (n, c, t)
        self._offset = dsid.get_offset()
        self._row_bytes = c * t * 4
        h5.flush()
        self._fd = os.open(h5.filename, os.O_WRONLY)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._pending: concurrent.futures.Future | None = None
        self.live = h5.create_dataset("live", shape=(n, c), dtype=bool)
        self.headers = h5.create_dataset("headers", shape=(n, c, n_fields), dtype="i4")
        self.sumsq = 0.0
        self.count = 0

    def _pwrite(self, data: np.ndarray, offset: int) -> None:
        view = memoryview(np.ascontiguousarray(data, dtype="<f4")).cast("B")
        while view:
            done = os.pwrite(self._fd, view, offset)
            view, offset = view[done:], offset + done

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def write_slab(self, r0: int, data: np.ndarray, live: np.ndarray,
                   headers: np.ndarray | None) -> None:
        """Whole instances ``r0:r0+len(data)``; at most one slab is in flight."""
        self._wait()
        self._pending = self._pool.submit(self._pwrite, data, self._offset + r0 * self._row_bytes)
        r1 = r0 + data.shape[0]
        self.live[r0:r1] = live
        if headers is not None:
            self.headers[r0:r1] = headers
        self._accumulate(data, live)

    def write_traces(self, rows: np.ndarray, chans: np.ndarray, data: np.ndarray,
                     headers: np.ndarray) -> None:
        """Scattered traces (files whose gathers are not contiguous)."""
        self._wait()
        tbytes = data.shape[-1] * 4
        for r, c, d in zip(rows.tolist(), chans.tolist(), data):
            self._pwrite(d, self._offset + r * self._row_bytes + c * tbytes)
        live = np.any(data != 0, axis=-1)
        order = np.lexsort((chans, rows))
        for r, c, h, lv in zip(rows[order].tolist(), chans[order].tolist(), headers[order],
                               live[order]):
            self.headers[r, c] = h
            self.live[r, c] = lv
        self._accumulate(data, live)

    def close(self) -> None:
        """Finish pending writes and release the file descriptor."""
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
            os.close(self._fd)

    def _accumulate(self, data: np.ndarray, live: np.ndarray) -> None:
        flat = data.reshape(-1)
        self.sumsq += float(np.einsum("i,i->", flat, flat, dtype=np.float64))
        self.count += int(live.sum()) * data.shape[-1]

    @property
    def rms(self) -> float:
        return float(np.sqrt(self.sumsq / self.count)) if self.count else 0.0


def _sha256_files(files: list[str]) -> list[str]:
    return [file_sha256(f) for f in files]


def _hash_files(files: list[Path]) -> concurrent.futures.Future:
    """Checksum the source files in a child process, overlapping with the ingest (a
    thread would fight the ingest for the GIL)."""
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else "spawn")
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx)
    fut = pool.submit(_sha256_files, [str(f) for f in files])
    pool.shutdown(wait=False)
    return fut


# --------------------------------------------------------------------------- SEG-Y plan


@dataclass
class _FilePlan:
    path: Path
    survey: int
    su: bool
    endian: str
    ntr: int
    row: np.ndarray       # (ntr,) store row of each trace
    chan: np.ndarray      # (ntr,) channel slot of each trace
    first_row: int
    n_inst: int
    grouped: bool         # traces of each instance contiguous, instances in row order
    starts: np.ndarray    # (n_inst + 1,) trace index where each instance starts (grouped)
    t0_ms: float = 0.0    # time of the file's first sample
    samples: int = 0      # samples per trace in the file
    shift: int = 0        # samples of this file before the common time axis starts
    dt_us: int | None = None   # catalog override of the sample interval


#: Header fields read for every trace to check the time axis and that headers are headers.
_TIME_FIELDS = ("DelayRecordingTime", "ScalarTraceHeader", "TRACE_SAMPLE_COUNT",
                "TRACE_SAMPLE_INTERVAL")
#: Key values beyond this are not plausible header values (sample bytes read as headers).
_KEY_LIMIT = 10**9


def _scan_headers(path: Path, keys: tuple[str, ...], endian: str, su: bool,
                  dt_us: int | None = None):
    """Header fields of every trace, read in blocks, each through a fresh memory map (so
    resident memory does not grow with the file)."""
    info = segy_info(path, endian=endian, su=su, dt_us=dt_us)
    block = max(1, _BLOCK_BYTES // (240 + 4 * info.samples))
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for a in range(0, info.tracecount, block):
        with open_segy(path, endian=endian, su=su, dt_us=dt_us) as (fh, _):
            got = read_headers(fh, keys, a, min(a + block, info.tracecount))
        for k in keys:
            parts[k].append(got[k])
    return {k: np.concatenate(v) for k, v in parts.items()}, info


def _check_trace_headers(path: Path, hdr: dict[str, np.ndarray], info, entry: DatasetEntry
                         ) -> None:
    """Refuse trace headers that are not headers, or whose time axis varies in the file."""
    def first(bad: np.ndarray) -> int:
        return int(np.flatnonzero(bad)[0])

    # A stale count repeated in every trace header (real files have them; the binary
    # header and the file size decide) is tolerated; counts that vary are not headers.
    ns = hdr["TRACE_SAMPLE_COUNT"]
    ref = ns[ns != 0][0] if (ns != 0).any() else 0
    bad = (ns != 0) & (ns != ref)
    if bad.any():
        k = first(bad)
        raise SegyError(
            f"{path}: trace {k} header says {ns[k]} samples, trace {first(ns == ref)} says "
            f"{ref} and the file holds {info.samples} per trace ({int(bad.sum())} traces "
            "disagree); these trace headers are not plausible (sample bytes where headers "
            "belong?): the file is corrupt or not SEG-Y"
        )
    if entry.dt_us is None:
        dt = hdr["TRACE_SAMPLE_INTERVAL"]
        bad = (dt != 0) & (dt != info.dt_us)
        if bad.any():
            k = first(bad)
            raise SegyError(f"{path}: trace {k} header says a sample interval of {dt[k]} us, "
                            f"the first trace {info.dt_us} us ({int(bad.sum())} traces "
                            "disagree); one file has one sample interval, so these trace "
                            "headers are not plausible (sample bytes where headers belong?)")
    for key in entry.header_keys:
        big = np.abs(hdr[key]) >= _KEY_LIMIT
        if big.any():
            k = first(big)
            raise SegyError(f"{path}: trace {k} has {key}={hdr[key][k]}, not a plausible "
                            f"header value (|value| >= {_KEY_LIMIT}); the trace headers hold "
                            "something else (sample bytes?) or the byte order is wrong")
    scalar = np.zeros_like(hdr["ScalarTraceHeader"]) if info.su else hdr["ScalarTraceHeader"]
    t0 = delay_ms(hdr["DelayRecordingTime"], scalar)
    bad = np.abs(t0 - t0[0]) > 1e-9
    if bad.any():
        k = first(bad)
        raise SegyError(f"{path}: trace {k} starts at {t0[k]:g} ms (delay recording time), "
                        f"trace 0 at {t0[0]:g} ms; every trace of a file must share one time "
                        "axis")
    ikey = hdr[entry.instance_key]
    if ikey.size > 1 and np.all(ikey == ikey[0]):
        log.warning("%s: every one of its %d traces has %s=%d, so the whole file is one "
                    "gather; if that is not meant, choose another instance_key", path,
                    ikey.size, entry.instance_key, ikey[0])


def _common_time_axis(entry: DatasetEntry, plans: list[_FilePlan], dt_us: int
                      ) -> tuple[float, int]:
    """First-sample time and sample count shared by every file, setting each plan's
    ``shift``; under ``time_axes: strict`` any difference is an error naming both files."""
    ref = plans[0]
    dt_ms = dt_us / 1000.0
    for p in plans[1:]:
        if entry.time_axes == "strict" and (abs(p.t0_ms - ref.t0_ms) > 1e-9
                                            or p.samples != ref.samples):
            raise SegyError(
                f"{p.path}: time axis {p.t0_ms:g} ms + {p.samples} samples differs from "
                f"{ref.path} ({ref.t0_ms:g} ms + {ref.samples} samples) in dataset "
                f"{entry.name!r}; set `time_axes: align` in the catalog to keep the time range "
                "common to all files, or make the files agree"
            )
    for p in plans[1:]:
        lag = (p.t0_ms - ref.t0_ms) / dt_ms
        if abs(lag - round(lag)) > 1e-6:
            raise SegyError(f"{p.path}: first sample at {p.t0_ms:g} ms is not on the sample "
                            f"grid of {ref.path} ({ref.t0_ms:g} ms, {dt_ms:g} ms interval); "
                            "time_axes: align needs delays that differ by whole samples")
    start = max(p.t0_ms for p in plans)
    stop = min(p.t0_ms + p.samples * dt_ms for p in plans)
    for p in plans:
        p.shift = int(round((start - p.t0_ms) / dt_ms))
    n = int(round((stop - start) / dt_ms))
    if n < 1:
        raise SegyError(f"dataset {entry.name!r}: the files share no time range "
                        f"({ref.path}: {ref.t0_ms:g} ms on; latest start {start:g} ms)")
    if any(p.shift or p.samples != n for p in plans):
        log.warning("dataset %r: time_axes: align keeps %g-%g ms (%d samples) common to "
                    "all files", entry.name, start, start + (n - 1) * dt_ms, n)
    return start, n


def _window_samples(entry: DatasetEntry, path: Path, ns: int, dt_ms: float) -> tuple[int, int]:
    if entry.window_ms is None:
        return 0, ns
    i0 = int(round(entry.window_ms[0] / dt_ms))
    i1 = int(round(entry.window_ms[1] / dt_ms))
    if i1 > ns:
        raise SegyError(f"{path}: window_ms {list(entry.window_ms)} of dataset {entry.name!r} "
                        f"ends after the last sample ({(ns - 1) * dt_ms:g} ms)")
    return i0, i1


def _plan_segy(entry: DatasetEntry, files: dict[str, list[Path]], progress: bool):
    """First pass over the headers: instances, channels, datapoints."""
    from tqdm.auto import tqdm

    surveys = list(files)
    plans: list[_FilePlan] = []
    inst_keys, inst_survey, inst_file, inst_dp_vals, counts = [], [], [], [], []
    dt_us = None
    row0 = 0
    seen: dict[tuple[int, int], Path] = {}
    all_files = [(s, p) for s, lst in files.items() for p in lst]
    fmt_su = entry.format == "su"
    dp_fields = (*entry.datapoint_key, *entry.datapoint_bin)
    for fi, (label, path) in enumerate(tqdm(all_files, desc="scan headers", unit="file",
                                            disable=not progress)):
        hdr, info = _scan_headers(path, (*entry.header_keys, *_TIME_FIELDS), entry.endian,
                                  fmt_su, entry.dt_us)
        _check_trace_headers(path, hdr, info, entry)
        if dt_us is None:
            dt_us = info.dt_us
        elif info.dt_us != dt_us:
            raise SegyError(f"{path}: sample interval {info.dt_us} us differs from "
                            f"{dt_us} us in {all_files[0][1]}; resample the surveys to one "
                            "interval")
        ikey = hdr[entry.instance_key]
        uniq, first, inverse = np.unique(ikey, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")        # instances by first appearance
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        local = rank[inverse]                           # local instance index per trace
        n_inst = uniq.size
        sidx = surveys.index(label)
        for k in uniq[order].tolist():
            other = seen.get((sidx, k))
            if other is not None:
                raise SegyError(f"{path}: instance {entry.instance_key}={k} of survey "
                                f"{label!r} also appears in {other}; instance keys must be "
                                "unique within a survey")
            seen[(sidx, k)] = path
        # channel slot: rank inside the instance by channel key, then trace order
        ck = hdr[entry.channel_key] if entry.channel_key else np.zeros_like(ikey)
        srt = np.lexsort((np.arange(ikey.size), ck, local))
        cnt = np.bincount(local, minlength=n_inst)
        starts_sorted = np.concatenate([[0], np.cumsum(cnt)])
        chan = np.empty(ikey.size, dtype=np.int64)
        chan[srt] = np.arange(ikey.size) - starts_sorted[local[srt]]
        # datapoint key of each instance, checked constant inside the instance
        dp_vals = np.zeros((n_inst, len(dp_fields)), dtype=np.int64)
        for j, fld in enumerate(dp_fields):
            v = hdr[fld]
            if fld in entry.datapoint_bin:
                v = np.floor(v / entry.datapoint_bin[fld]).astype(np.int64)
            lo = np.full(n_inst, np.iinfo(np.int64).max)
            hi = np.full(n_inst, np.iinfo(np.int64).min)
            np.minimum.at(lo, local, v)
            np.maximum.at(hi, local, v)
            if np.any(lo != hi):
                bad = int(np.flatnonzero(lo != hi)[0])
                raise SegyError(
                    f"{path}: datapoint key {fld} varies inside instance "
                    f"{entry.instance_key}={uniq[order][bad]} ({lo[bad]}..{hi[bad]}); every "
                    "trace of a gather must belong to one datapoint: choose another "
                    "instance_key or datapoint_key"
                )
            dp_vals[:, j] = lo
        grouped = bool(np.all(np.diff(local) >= 0))
        starts = starts_sorted if grouped else np.zeros(1, dtype=np.int64)
        plans.append(_FilePlan(path=path, survey=sidx, su=fmt_su, endian=info.endian,
                               ntr=info.tracecount, row=row0 + local, chan=chan,
                               first_row=row0, n_inst=n_inst, grouped=grouped, starts=starts,
                               t0_ms=info.delay_ms, samples=info.samples,
                               dt_us=entry.dt_us))
        inst_keys.append(uniq[order])
        inst_survey.append(np.full(n_inst, sidx, dtype=np.int16))
        inst_file.append(np.full(n_inst, fi, dtype=np.int16))
        inst_dp_vals.append(dp_vals)
        counts.append(cnt)
        row0 += n_inst
    t0_ms, ns = _common_time_axis(entry, plans, dt_us)
    counts_all = np.concatenate(counts)
    c = int(counts_all.max())
    if entry.unequal_gathers == "reject" and np.any(counts_all != c):
        bad = int(np.flatnonzero(counts_all != c)[0])
        fplan = next(p for p in plans if p.first_row <= bad < p.first_row + p.n_inst)
        raise SegyError(
            f"{fplan.path}: gather {entry.instance_key}={np.concatenate(inst_keys)[bad]} has "
            f"{counts_all[bad]} traces, other gathers of dataset {entry.name!r} have {c}; set "
            "`unequal_gathers: pad` in the catalog to pad short gathers with dead traces"
        )
    textual = ""
    if not fmt_su:
        with open_segy(plans[0].path, endian=plans[0].endian, su=False,
                       dt_us=entry.dt_us) as (fh, _):
            textual = bytes(fh.text[0]).decode("ascii", errors="replace")
    meta = {
        "textual": textual,
        "surveys": surveys,
        "instance_key": np.concatenate(inst_keys),
        "survey": np.concatenate(inst_survey),
        "source_file": np.concatenate(inst_file),
        "dp_vals": np.concatenate(inst_dp_vals),
        "dp_fields": list(dp_fields),
        "channels": c,
        "dt_ms": dt_us / 1000.0,
        "delay_ms": t0_ms,
        "ns": ns,
        "files": [p for _, p in all_files],
    }
    return plans, meta


def _datapoint_table(survey: np.ndarray, dp_vals: np.ndarray):
    table = np.concatenate([survey[:, None].astype(np.int64), dp_vals], axis=1)
    uniq, inverse = np.unique(table, axis=0, return_inverse=True)
    return uniq[:, 0].astype(np.int16), uniq[:, 1:], inverse.reshape(-1)


def _ingest_segy(writer: _StoreWriter, plans: list[_FilePlan], i0: int, i1: int, c: int,
                 progress: bool) -> None:
    from tqdm.auto import tqdm

    total = sum(p.ntr for p in plans)
    bar = tqdm(total=total, desc="ingest", unit="tr", disable=not progress)
    t = i1 - i0
    for plan in plans:
        info = segy_info(plan.path, endian=plan.endian, su=plan.su, dt_us=plan.dt_us)
        per_block = max(1, _BLOCK_BYTES // (4 * info.samples + 4 * len(HEADER_FIELDS)))
        if not plan.grouped:
            log.warning("%s: traces of a gather are not contiguous; ingest writes trace by "
                        "trace (slow). Sort the file by instance key to speed it up", plan.path)
            bounds = list(range(0, plan.ntr, per_block)) + [plan.ntr]
        else:
            # block boundaries on instance boundaries
            bounds, last = [0], 0
            for s in plan.starts[1:].tolist():
                if s - last >= per_block:
                    bounds.append(s)
                    last = s
            if bounds[-1] != plan.ntr:
                bounds.append(plan.ntr)
        for a, b in zip(bounds[:-1], bounds[1:]):
            # Re-open (memory-mapped) for each block: mapped pages leave the process's
            # resident set when the map closes, so memory stays flat as files grow.
            with open_segy(plan.path, endian=plan.endian, su=plan.su,
                           dt_us=plan.dt_us) as (fh, _):
                data = read_traces(fh, a, b)[:, plan.shift + i0:plan.shift + i1]
                heads = read_all_headers(fh, a, b)
            finite = np.isfinite(data).all(axis=1)
            if not finite.all():
                k = a + int(np.flatnonzero(~finite)[0])
                raise SegyError(f"{plan.path}: trace {k} has NaN or Inf samples; mute or "
                                "remove it before ingest")
            rows, chans = plan.row[a:b], plan.chan[a:b]
            if plan.grouped:
                r0 = int(rows[0])
                n = int(rows[-1]) - r0 + 1
                buf = np.zeros((n, c, t), dtype=np.float32)
                hbuf = np.zeros((n, c, heads.shape[1]), dtype=np.int32)
                live = np.zeros((n, c), dtype=bool)
                buf[rows - r0, chans] = data
                hbuf[rows - r0, chans] = heads
                live[rows - r0, chans] = np.any(data != 0, axis=1)
                writer.write_slab(r0, buf, live, hbuf)
            else:
                writer.write_traces(rows, chans, data, heads)
            bar.update(b - a)
    bar.close()


# --------------------------------------------------------------------------- build


def build_store(entry: DatasetEntry, path: PathLike | None = None, *, overwrite: bool = True,
                progress: bool = False) -> Path:
    """Ingest a catalog dataset into an HDF5 instance store.

    Streams the files in blocks of about 64 MB, so memory stays bounded whatever the
    survey size; the store is written under a temporary name and renamed when complete.

    Parameters
    ----------
    entry
        The validated catalog entry.
    path
        Output store (default ``entry.store``).
    overwrite
        Replace an existing store (stores are derived data; default true).
    progress
        Show progress bars.

    Returns
    -------
    Path of the store.

    Raises
    ------
    CatalogError, SegyError, MseedError, FileNotFoundError
        With the file and the problem named.
    """
    path = Path(path) if path is not None else entry.store
    files = entry.survey_files()
    all_files = [p for lst in files.values() for p in lst]
    hashes = _hash_files(all_files)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as h5:
            if entry.format == "mseed":
                from .mseed import ingest_mseed

                meta = ingest_mseed(entry, files, h5, _StoreWriter, progress=progress)
            else:
                plans, meta = _plan_segy(entry, files, progress)
                i0, i1 = _window_samples(entry, plans[0].path, meta["ns"], meta["dt_ms"])
                n = int(meta["instance_key"].size)
                writer = _StoreWriter(h5, n, meta["channels"], i1 - i0, len(HEADER_FIELDS))
                writer.headers.attrs["fields"] = json.dumps(HEADER_FIELDS)
                try:
                    _ingest_segy(writer, plans, i0, i1, meta["channels"], progress)
                finally:
                    writer.close()
                meta["rms"] = writer.rms
                meta["t0_ms"] = meta["delay_ms"] + i0 * meta["dt_ms"]
                meta["channel_names"] = []
            dp_survey, dp_key, dp_index = _datapoint_table(meta["survey"], meta["dp_vals"])
            h5.create_dataset("instance_key", data=meta["instance_key"].astype(np.int64))
            h5.create_dataset("survey", data=meta["survey"].astype(np.int16))
            h5.create_dataset("source_file", data=meta["source_file"].astype(np.int16))
            h5.create_dataset("datapoint", data=dp_index.astype(np.int64))
            g = h5.create_group("datapoints")
            g.create_dataset("survey", data=dp_survey)
            g.create_dataset("key", data=dp_key.reshape(len(dp_survey), -1))
            g.attrs["names"] = json.dumps(meta["dp_fields"])
            shas = hashes.result()
            h5.attrs.update({
                "schema_version": SCHEMA_VERSION,
                "toolkit_version": __version__,
                "dataset": entry.name,
                "format": entry.format,
                "catalog_entry": _entry_json(entry),
                "sources": json.dumps([_source_record(p, s) for p, s in zip(all_files, shas)]),
                "surveys": json.dumps(meta["surveys"]),
                "channels": json.dumps(meta["channel_names"]),
                "instance_key_name": entry.instance_key,
                "channel_key_name": entry.channel_key or "",
                "dt_ms": float(meta["dt_ms"]),
                "t0_ms": float(meta["t0_ms"]),
                "rms": float(meta["rms"]),
                "textual_header": meta.get("textual", ""),
            })
            if meta["rms"] == 0.0:
                raise StoreError(f"dataset {entry.name!r}: every sample is zero; nothing to "
                                 "learn from")
    log.info("built store %s for dataset %r", path, entry.name)
    return path


def store_is_fresh(entry: DatasetEntry, path: PathLike | None = None) -> tuple[bool, str]:
    """Whether the store exists and was built from the same catalog entry and files.

    Files are compared by size and modification time; where the time differs, by SHA-256.

    Returns
    -------
    (fresh, reason)
    """
    path = Path(path) if path is not None else entry.store
    if not path.is_file():
        return False, f"{path} does not exist"
    try:
        with h5py.File(path, "r") as h5:
            attrs = dict(h5.attrs)
    except OSError as err:
        return False, f"{path} is not a readable HDF5 file ({err})"
    if attrs.get("schema_version") != SCHEMA_VERSION:
        return False, f"{path} has schema {attrs.get('schema_version')}, not {SCHEMA_VERSION}"
    if attrs.get("catalog_entry") != _entry_json(entry):
        return False, f"catalog entry {entry.name!r} changed since {path} was built"
    try:
        files = [p for lst in entry.survey_files().values() for p in lst]
    except Exception as err:  # noqa: BLE001 - reported as a reason, re-raised on build
        return False, str(err)
    sources = json.loads(attrs["sources"])
    if [str(p.resolve()) for p in files] != [s["path"] for s in sources]:
        return False, "the dataset's file list changed"
    for p, s in zip(files, sources):
        st = p.stat()
        if st.st_size != s["size"]:
            return False, f"{p} changed size"
        if st.st_mtime_ns != s["mtime_ns"] and file_sha256(p) != s["sha256"]:
            return False, f"{p} changed content"
    return True, "fresh"


def ensure_store(entry: DatasetEntry, *, progress: bool = False) -> Path:
    """Build the store of ``entry`` if it is missing or stale; return its path."""
    fresh, reason = store_is_fresh(entry)
    if not fresh:
        log.info("building store for %r: %s", entry.name, reason)
        build_store(entry, overwrite=True, progress=progress)
    return entry.store


# --------------------------------------------------------------------------- readers


def _open_h5(path: PathLike) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"instance store {path} does not exist; build it with "
                                "`symae-ingest DATASET`")
    try:
        h5 = h5py.File(path, "r")
    except OSError as err:
        raise StoreError(f"{path}: not a readable HDF5 store (truncated or corrupt?): "
                         f"{err}") from None
    ver = h5.attrs.get("schema_version")
    if ver != SCHEMA_VERSION or "instances" not in h5:
        h5.close()
        raise StoreError(f"{path}: store schema {ver} is not {SCHEMA_VERSION}, or the store "
                         "is incomplete; rebuild it with `symae-ingest DATASET --rebuild`")
    return h5


def store_schema(path: PathLike) -> dict[str, Any]:
    """What a model trained on this store depends on (compared at redatum time)."""
    with _open_h5(path) as h5:
        n, c, t = h5["instances"].shape
        return {
            "dataset": str(h5.attrs["dataset"]),
            "channels": int(c),
            "samples": int(t),
            "dt_ms": float(h5.attrs["dt_ms"]),
            "instance_key": str(h5.attrs["instance_key_name"]),
            "channel_key": str(h5.attrs["channel_key_name"]),
            "datapoint_key": json.loads(h5["datapoints"].attrs["names"]),
        }


class StoreReader:
    """Random access to instances; the HDF5 handle opens on first use in each process.

    Safe to pickle into DataLoader workers: each worker opens its own handle.
    """

    def __init__(self, path: PathLike):
        self.path = Path(path)
        with _open_h5(self.path) as h5:
            self.shape = tuple(h5["instances"].shape)
            self.datapoint = h5["datapoint"][:]
            self.survey = h5["survey"][:]
            self.instance_key = h5["instance_key"][:]
            self.dp_survey = h5["datapoints/survey"][:]
            self.dp_key = h5["datapoints/key"][:]
            self.dp_names = json.loads(h5["datapoints"].attrs["names"])
            self.surveys = json.loads(h5.attrs["surveys"])
            self.dt_ms = float(h5.attrs["dt_ms"])
            self.t0_ms = float(h5.attrs["t0_ms"])
            self.rms = float(h5.attrs["rms"])
            self.textual_header = str(h5.attrs.get("textual_header", ""))
            self.instance_key_name = str(h5.attrs["instance_key_name"])
            self.channel_key_name = str(h5.attrs["channel_key_name"])
            self.n_header_fields = int(h5["headers"].shape[-1])
            self.header_fields = tuple(json.loads(h5["headers"].attrs.get("fields", "[]")))
        self._h5: h5py.File | None = None
        self._pid: int | None = None
        order = np.argsort(self.datapoint, kind="stable")
        bounds = np.searchsorted(self.datapoint[order], np.arange(len(self.dp_survey) + 1))
        self.members = [order[bounds[d]:bounds[d + 1]] for d in range(len(self.dp_survey))]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_h5"] = None
        return state

    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = _open_h5(self.path)
            self._pid = os.getpid()
        return self._h5

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Instances at ``rows`` (any order, repeats allowed) as ``(len(rows), C, T)``."""
        rows = np.asarray(rows)
        uniq, inv = np.unique(rows, return_inverse=True)
        ds = self._file()["instances"]
        if uniq.size and uniq[-1] - uniq[0] + 1 == uniq.size:
            data = ds[int(uniq[0]):int(uniq[-1]) + 1]
        else:
            data = ds[uniq]
        return data[inv.reshape(-1)]

    def read_all(self) -> np.ndarray:
        return self._file()["instances"][:]

    def headers(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        uniq, inv = np.unique(rows, return_inverse=True)
        return self._file()["headers"][uniq][inv.reshape(-1)]

    def live(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        uniq, inv = np.unique(rows, return_inverse=True)
        return self._file()["live"][uniq][inv.reshape(-1)]

    def datapoint_label(self, d: int) -> str:
        key = ",".join(f"{n}={v}" for n, v in zip(self.dp_names, self.dp_key[d].tolist()))
        return f"{self.surveys[self.dp_survey[d]]}" + (f":{key}" if key else "")

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None


class _H5Array(BackendArray):
    """Lazy xarray backend array over one HDF5 dataset."""

    def __init__(self, path: Path, name: str, shape: tuple[int, ...], dtype: np.dtype):
        self.path, self.name, self.shape, self.dtype = path, name, shape, dtype

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER_1VECTOR, self._raw_getitem
        )

    def _raw_getitem(self, key):
        with h5py.File(self.path, "r") as h5:
            return np.asarray(h5[self.name][key])


def open_store(path: PathLike) -> xr.Dataset:
    """The store as a lazy ``xarray.Dataset``.

    Dims ``(instance, channel, time)``; ``gathers`` and ``headers`` load on indexing.
    Coordinates: ``time`` (ms), ``survey``, ``instance_key``, ``datapoint``, the
    datapoint key fields, and for SEG-Y the channel key as a 2-D ``(instance, channel)``
    coordinate.

    Examples
    --------
    >>> ds = open_store("stores/demo4d.h5")                      # doctest: +SKIP
    >>> ds.gathers.sel(instance=ds.survey == "monitor").mean("instance")  # doctest: +SKIP
    """
    path = Path(path)
    with _open_h5(path) as h5:
        n, c, t = h5["instances"].shape
        attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in h5.attrs.items()}
        surveys = json.loads(attrs["surveys"])
        survey = np.array(surveys, dtype=object)[h5["survey"][:]].astype(str)
        dp = h5["datapoint"][:]
        dp_key = h5["datapoints/key"][:]
        dp_names = json.loads(h5["datapoints"].attrs["names"])
        fields = json.loads(h5["headers"].attrs.get("fields", "[]"))
        coords: dict[str, Any] = {
            "time": ("time", attrs["t0_ms"] + attrs["dt_ms"] * np.arange(t)),
            "channel": ("channel", np.arange(c)),
            "survey": ("instance", survey),
            "instance_key": ("instance", h5["instance_key"][:]),
            "datapoint": ("instance", dp),
            "live": (("instance", "channel"), h5["live"][:]),
        }
        for j, name in enumerate(dp_names):
            coords[name] = ("instance", dp_key[dp, j])
        ck = attrs.get("channel_key_name")
        if ck and ck in fields:
            coords[ck] = (("instance", "channel"), h5["headers"][:, :, fields.index(ck)])
        chans = json.loads(attrs.get("channels", "[]"))
        if chans:
            coords["stream"] = ("channel", np.array(chans))
        hshape = h5["headers"].shape
    gathers = xr.Variable(("instance", "channel", "time"), indexing.LazilyIndexedArray(
        _H5Array(path, "instances", (n, c, t), np.dtype("f4"))))
    data_vars = {"gathers": gathers}
    if hshape[-1]:
        data_vars["headers"] = xr.Variable(("instance", "channel", "field"),
                                           indexing.LazilyIndexedArray(
            _H5Array(path, "headers", hshape, np.dtype("i4"))))
        coords["field"] = ("field", np.array(fields))
    attrs["path"] = str(path)
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
