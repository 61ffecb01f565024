"""SEG-Y/SU ingest: plan instances, channels and datapoints from the headers, check
every file's time axis and headers, then stream the traces into a store.

Two passes over each file, both in blocks of about 64 MB through fresh memory maps (so
memory stays flat as files grow): the first reads the header fields that group and sort
(and those that say when samples were taken), the second the samples and all headers.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import SegyEntry
from ..errors import SymaeWarning
from ..io.checks import first_nonfinite
from ..io.segy import (
    HEADER_FIELDS,
    SegyError,
    delay_ms,
    open_segy,
    read_all_headers,
    read_headers,
    read_traces,
    segy_info,
)
from ..io.store import StoreWriter

__all__ = ["ingest_segy"]

log = logging.getLogger(__name__)

_BLOCK_BYTES = 64 << 20


@dataclass
class _FilePlan:
    path: Path
    survey: int
    su: bool
    endian: str
    ntr: int
    row: np.ndarray  # (ntr,) store row of each trace
    chan: np.ndarray  # (ntr,) channel slot of each trace
    first_row: int
    n_inst: int
    grouped: bool  # traces of each instance contiguous, instances in row order
    starts: np.ndarray  # (n_inst + 1,) trace index where each instance starts (grouped)
    t0_ms: float = 0.0  # time of the file's first sample
    samples: int = 0  # samples per trace in the file
    shift: int = 0  # samples of this file before the common time axis starts
    dt_us: int | None = None  # catalog override of the sample interval


#: Header fields read for every trace to check the time axis and that headers are headers.
_TIME_FIELDS = (
    "DelayRecordingTime",
    "ScalarTraceHeader",
    "TRACE_SAMPLE_COUNT",
    "TRACE_SAMPLE_INTERVAL",
)
#: Key values beyond this are not plausible header values (sample bytes read as headers).
_KEY_LIMIT = 10**9


def _scan_headers(
    path: Path, keys: tuple[str, ...], endian: str, su: bool, dt_us: int | None = None
):
    """Header fields of every trace, read in blocks, each through a fresh memory map (so
    resident memory does not grow with the file)."""
    info = segy_info(path, endian=endian, su=su, dt_us=dt_us)
    block = max(1, _BLOCK_BYTES // (240 + 4 * info.samples))
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for a in range(0, info.tracecount, block):
        with open_segy(path, info=info) as (fh, _):
            got = read_headers(fh, keys, a, min(a + block, info.tracecount))
        for k in keys:
            parts[k].append(got[k])
    return {k: np.concatenate(v) for k, v in parts.items()}, info


def _check_trace_headers(path: Path, hdr: dict[str, np.ndarray], info, entry: SegyEntry) -> None:
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
            raise SegyError(
                f"{path}: trace {k} header says a sample interval of {dt[k]} us, "
                f"the first trace {info.dt_us} us ({int(bad.sum())} traces "
                "disagree); one file has one sample interval, so these trace "
                "headers are not plausible (sample bytes where headers belong?)"
            )
    for key in entry.header_keys:
        big = np.abs(hdr[key]) >= _KEY_LIMIT
        if big.any():
            k = first(big)
            raise SegyError(
                f"{path}: trace {k} has {key}={hdr[key][k]}, not a plausible "
                f"header value (|value| >= {_KEY_LIMIT}); the trace headers hold "
                "something else (sample bytes?) or the byte order is wrong"
            )
    scalar = np.zeros_like(hdr["ScalarTraceHeader"]) if info.su else hdr["ScalarTraceHeader"]
    t0 = delay_ms(hdr["DelayRecordingTime"], scalar)
    bad = np.abs(t0 - t0[0]) > 1e-9
    if bad.any():
        k = first(bad)
        raise SegyError(
            f"{path}: trace {k} starts at {t0[k]:g} ms (delay recording time), "
            f"trace 0 at {t0[0]:g} ms; every trace of a file must share one time "
            "axis"
        )
    ikey = hdr[entry.instance_key]
    if ikey.size > 1 and np.all(ikey == ikey[0]):
        warnings.warn(
            f"{path}: every one of its {ikey.size} traces has "
            f"{entry.instance_key}={ikey[0]}, so the whole file is one gather; if "
            "that is not meant, choose another instance_key",
            SymaeWarning,
            stacklevel=2,
        )


def _common_time_axis(entry: SegyEntry, plans: list[_FilePlan], dt_us: int) -> tuple[float, int]:
    """First-sample time and sample count shared by every file, setting each plan's
    ``shift``; under ``time_axes: strict`` any difference is an error naming both files."""
    ref = plans[0]
    dt_ms = dt_us / 1000.0
    for p in plans[1:]:
        if entry.time_axes == "strict" and (
            abs(p.t0_ms - ref.t0_ms) > 1e-9 or p.samples != ref.samples
        ):
            raise SegyError(
                f"{p.path}: time axis {p.t0_ms:g} ms + {p.samples} samples differs from "
                f"{ref.path} ({ref.t0_ms:g} ms + {ref.samples} samples) in dataset "
                f"{entry.name!r}; set `time_axes: align` in the catalog to keep the time range "
                "common to all files, or make the files agree"
            )
    for p in plans[1:]:
        lag = (p.t0_ms - ref.t0_ms) / dt_ms
        if abs(lag - round(lag)) > 1e-6:
            raise SegyError(
                f"{p.path}: first sample at {p.t0_ms:g} ms is not on the sample "
                f"grid of {ref.path} ({ref.t0_ms:g} ms, {dt_ms:g} ms interval); "
                "time_axes: align needs delays that differ by whole samples"
            )
    start = max(p.t0_ms for p in plans)
    stop = min(p.t0_ms + p.samples * dt_ms for p in plans)
    for p in plans:
        p.shift = int(round((start - p.t0_ms) / dt_ms))
    n = int(round((stop - start) / dt_ms))
    if n < 1:
        raise SegyError(
            f"dataset {entry.name!r}: the files share no time range "
            f"({ref.path}: {ref.t0_ms:g} ms on; latest start {start:g} ms)"
        )
    if any(p.shift or p.samples != n for p in plans):
        warnings.warn(
            f"dataset {entry.name!r}: time_axes: align keeps {start:g}-"
            f"{start + (n - 1) * dt_ms:g} ms ({n} samples) common to all files",
            SymaeWarning,
            stacklevel=2,
        )
    return start, n


def _window_samples(entry: SegyEntry, path: Path, ns: int, dt_ms: float) -> tuple[int, int]:
    if entry.window_ms is None:
        return 0, ns
    i0 = int(round(entry.window_ms[0] / dt_ms))
    i1 = int(round(entry.window_ms[1] / dt_ms))
    if i1 > ns:
        raise SegyError(
            f"{path}: window_ms {list(entry.window_ms)} of dataset {entry.name!r} "
            f"ends after the last sample ({(ns - 1) * dt_ms:g} ms)"
        )
    return i0, i1


def _instances(ikey: np.ndarray, ck: np.ndarray):
    """Instances of one file in order of first appearance: unique keys, local instance
    index of each trace, traces per instance, each trace's channel slot (rank by channel
    key, then trace order), and where each instance starts in the sorted order."""
    uniq, first, inverse = np.unique(ikey, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    local = rank[inverse]
    srt = np.lexsort((np.arange(ikey.size), ck, local))
    cnt = np.bincount(local, minlength=uniq.size)
    starts = np.concatenate([[0], np.cumsum(cnt)])
    chan = np.empty(ikey.size, dtype=np.int64)
    chan[srt] = np.arange(ikey.size) - starts[local[srt]]
    return uniq[order], local, cnt, chan, starts


def _datapoint_values(
    path: Path, entry: SegyEntry, hdr: dict, keys: np.ndarray, local: np.ndarray
) -> np.ndarray:
    """Datapoint key of each instance ``(n_inst, K)``, checked constant inside it."""
    fields = (*entry.datapoint_key, *entry.datapoint_bin)
    out = np.zeros((keys.size, len(fields)), dtype=np.int64)
    for j, fld in enumerate(fields):
        v = hdr[fld]
        if fld in entry.datapoint_bin:
            v = np.floor(v / entry.datapoint_bin[fld]).astype(np.int64)
        lo = np.full(keys.size, np.iinfo(np.int64).max)
        hi = np.full(keys.size, np.iinfo(np.int64).min)
        np.minimum.at(lo, local, v)
        np.maximum.at(hi, local, v)
        if np.any(lo != hi):
            bad = int(np.flatnonzero(lo != hi)[0])
            raise SegyError(
                f"{path}: datapoint key {fld} varies inside instance "
                f"{entry.instance_key}={keys[bad]} ({lo[bad]}..{hi[bad]}); every trace of a "
                "gather must belong to one datapoint: choose another instance_key or "
                "datapoint_key"
            )
        out[:, j] = lo
    return out


def _plan_file(entry: SegyEntry, path: Path, survey: int, row0: int):
    """One file's plan and its instances' keys, datapoint values and trace counts."""
    hdr, info = _scan_headers(
        path, (*entry.header_keys, *_TIME_FIELDS), entry.endian, entry.format == "su", entry.dt_us
    )
    _check_trace_headers(path, hdr, info, entry)
    ikey = hdr[entry.instance_key]
    ck = hdr[entry.channel_key] if entry.channel_key else np.zeros_like(ikey)
    keys, local, cnt, chan, starts = _instances(ikey, ck)
    grouped = bool(np.all(np.diff(local) >= 0))
    plan = _FilePlan(
        path=path,
        survey=survey,
        su=entry.format == "su",
        endian=info.endian,
        ntr=info.tracecount,
        row=row0 + local,
        chan=chan,
        first_row=row0,
        n_inst=keys.size,
        grouped=grouped,
        starts=starts if grouped else np.zeros(1, dtype=np.int64),
        t0_ms=info.delay_ms,
        samples=info.samples,
        dt_us=entry.dt_us,
    )
    return plan, info, keys, _datapoint_values(path, entry, hdr, keys, local), cnt


def _plan_segy(entry: SegyEntry, files: dict[str, list[Path]], progress: bool):
    """First pass over the headers: instances, channels, datapoints, the time axis."""
    from tqdm.auto import tqdm

    surveys = list(files)
    all_files = [(s, p) for s, lst in files.items() for p in lst]
    plans, keys, surv, src, dps, counts = [], [], [], [], [], []
    seen: dict[tuple[int, int], Path] = {}
    dt_us, row0 = None, 0
    for fi, (label, path) in enumerate(
        tqdm(all_files, desc="scan headers", unit="file", disable=not progress)
    ):
        sidx = surveys.index(label)
        plan, info, k, dp, cnt = _plan_file(entry, path, sidx, row0)
        dt_us = info.dt_us if dt_us is None else dt_us
        if info.dt_us != dt_us:
            raise SegyError(
                f"{path}: sample interval {info.dt_us} us differs from "
                f"{dt_us} us in {all_files[0][1]}; resample the surveys to one "
                "interval"
            )
        for key in k.tolist():
            if (sidx, key) in seen:
                raise SegyError(
                    f"{path}: instance {entry.instance_key}={key} of survey "
                    f"{label!r} also appears in {seen[(sidx, key)]}; instance keys "
                    "must be unique within a survey"
                )
            seen[(sidx, key)] = path
        plans.append(plan)
        keys.append(k)
        surv.append(np.full(k.size, sidx, dtype=np.int16))
        src.append(np.full(k.size, fi, dtype=np.int16))
        dps.append(dp)
        counts.append(cnt)
        row0 += k.size
    t0_ms, ns = _common_time_axis(entry, plans, dt_us)
    c = _channels(entry, plans, np.concatenate(keys), np.concatenate(counts))
    return plans, {
        "textual": "" if entry.format == "su" else _textual(plans[0], entry.dt_us),
        "surveys": surveys,
        "instance_key": np.concatenate(keys),
        "survey": np.concatenate(surv),
        "source_file": np.concatenate(src),
        "dp_vals": np.concatenate(dps),
        "dp_fields": [*entry.datapoint_key, *entry.datapoint_bin],
        "channels": c,
        "dt_ms": dt_us / 1000.0,
        "delay_ms": t0_ms,
        "ns": ns,
        "files": [p for _, p in all_files],
    }


def _channels(
    entry: SegyEntry, plans: list[_FilePlan], keys: np.ndarray, counts: np.ndarray
) -> int:
    """Traces per gather of the store (the largest); unequal gathers follow the policy."""
    c = int(counts.max())
    if entry.unequal_gathers == "reject" and np.any(counts != c):
        bad = int(np.flatnonzero(counts != c)[0])
        fplan = next(p for p in plans if p.first_row <= bad < p.first_row + p.n_inst)
        raise SegyError(
            f"{fplan.path}: gather {entry.instance_key}={keys[bad]} has {counts[bad]} traces, "
            f"other gathers of dataset {entry.name!r} have {c}; set `unequal_gathers: pad` in "
            "the catalog to pad short gathers with dead traces"
        )
    return c


def _textual(plan: _FilePlan, dt_us: int | None) -> str:
    """The first file's textual header (copied into SEG-Y outputs)."""
    with open_segy(plan.path, endian=plan.endian, su=False, dt_us=dt_us) as (fh, _):
        return bytes(fh.text[0]).decode("ascii", errors="replace")


def _ingest_segy(
    writer: StoreWriter, plans: list[_FilePlan], i0: int, i1: int, c: int, progress: bool
) -> None:
    from tqdm.auto import tqdm

    total = sum(p.ntr for p in plans)
    bar = tqdm(total=total, desc="ingest", unit="tr", disable=not progress)
    t = i1 - i0
    for plan in plans:
        info = segy_info(plan.path, endian=plan.endian, su=plan.su, dt_us=plan.dt_us)
        per_block = max(1, _BLOCK_BYTES // (4 * info.samples + 4 * len(HEADER_FIELDS)))
        if not plan.grouped:
            warnings.warn(
                f"{plan.path}: traces of a gather are not contiguous; ingest writes "
                "trace by trace (slow). Sort the file by instance key to speed it up",
                SymaeWarning,
                stacklevel=2,
            )
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
            with open_segy(plan.path, info=info) as (fh, _):
                data = read_traces(fh, a, b)[:, plan.shift + i0 : plan.shift + i1]
                heads = read_all_headers(fh, a, b)
            bad = first_nonfinite(data)
            if bad is not None:
                k = a + bad
                raise SegyError(
                    f"{plan.path}: trace {k} has NaN or Inf samples; mute or "
                    "remove it before ingest"
                )
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


def ingest_segy(
    entry: SegyEntry, files: dict[str, list[Path]], h5, *, progress: bool = False
) -> dict[str, Any]:
    """Write every gather of every survey into an open store file; return the tables and
    facts :func:`~symae_seis.io.store.write_tables` records."""
    import json

    plans, meta = _plan_segy(entry, files, progress)
    i0, i1 = _window_samples(entry, plans[0].path, meta["ns"], meta["dt_ms"])
    n = int(meta["instance_key"].size)
    writer = StoreWriter(h5, n, meta["channels"], i1 - i0, len(HEADER_FIELDS))
    writer.headers.attrs["fields"] = json.dumps(HEADER_FIELDS)
    try:
        _ingest_segy(writer, plans, i0, i1, meta["channels"], progress)
    finally:
        writer.close()
    meta["rms"] = writer.rms
    meta["t0_ms"] = meta["delay_ms"] + i0 * meta["dt_ms"]
    meta["channel_names"] = []
    return meta
