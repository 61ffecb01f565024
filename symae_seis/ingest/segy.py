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

from ..catalog import CatalogError, SegyEntry
from ..errors import SymaeWarning
from ..io.checks import first_nonfinite
from ..io.segy import (
    HEADER_FIELDS,
    SegyError,
    open_segy,
    read_all_headers,
    read_traces,
    segy_info,
)
from ..io.segy_spec import SCALED_BY, apply_scalar
from ..io.store import StoreWriter
from .segy_headers import (
    BLOCK_BYTES,
    TIME_FIELDS,
    check_trace_headers,
    common_time_axis,
    scan_headers,
    window_samples,
)

__all__ = ["ingest_segy"]

log = logging.getLogger(__name__)


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
        if fld in entry.datapoint_bin:  # in the field's units: coordinates in m
            if fld in SCALED_BY:
                v = apply_scalar(v, hdr[SCALED_BY[fld]])
            v = np.floor(v / entry.datapoint_bin[fld] + 1e-9).astype(np.int64)
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
    hdr, info = scan_headers(
        path, (*entry.header_keys, *TIME_FIELDS), entry.endian, entry.format == "su", entry.dt_us
    )
    check_trace_headers(path, hdr, info, entry)
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
    from ..progress import progress_bar

    surveys = list(files)
    all_files = [(s, p) for s, lst in files.items() for p in lst]
    plans, keys, surv, src, dps, counts = [], [], [], [], [], []
    seen: dict[tuple[int, int], Path] = {}
    dt_us, row0 = None, 0
    for fi, (label, path) in enumerate(
        progress_bar(all_files, desc="scan headers", unit="file", disable=not progress)
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
    t0_ms, ns = common_time_axis(entry, plans, dt_us)
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
    """The first file's textual header (copied into SEG-Y outputs), as printable text:
    NUL and other control bytes (some writers pad with them) become spaces, so the store's
    attribute and the outputs' headers hold 3200 printable characters."""
    del dt_us  # the header's bytes do not depend on it
    with open(plan.path, "rb") as fh:
        raw = fh.read(3200)
    return textual_text(raw)


def textual_text(raw: bytes) -> str:
    """A 3200-byte textual header as printable text, ASCII or EBCDIC (cp500), whichever
    reads as more printable characters (segyio guesses from the bytes and turns an ASCII
    header padded with NULs into EBCDIC noise); control bytes become spaces."""
    best = ""
    for codec in ("ascii", "cp500"):
        text = raw.decode(codec, errors="replace")
        if sum(ch.isprintable() and ch != "\ufffd" for ch in text) > sum(
            ch.isprintable() and ch != "\ufffd" for ch in best
        ):
            best = text
    return "".join(ch if ch.isprintable() and ch != "\ufffd" else " " for ch in best).ljust(
        len(raw)
    )


def _ingest_segy(
    writer: StoreWriter,
    plans: list[_FilePlan],
    i0: int,
    i1: int,
    c: int,
    progress: bool,
    low_cut=None,
) -> None:
    """Every plan's traces into ``writer``, block by block; ``low_cut(traces)`` filters
    whole traces before the window ``i0:i1`` is cut (no edge of the window is filtered
    as if the record stopped there)."""
    from ..progress import progress_bar

    total = sum(p.ntr for p in plans)
    bar = progress_bar(total=total, desc="ingest", unit="tr", disable=not progress)
    t = i1 - i0
    for plan in plans:
        info = segy_info(plan.path, endian=plan.endian, su=plan.su, dt_us=plan.dt_us)
        per_block = max(1, BLOCK_BYTES // (4 * info.samples + 4 * len(HEADER_FIELDS)))
        if low_cut is not None:  # float64 copies, padded, both ways: about 8x the block
            per_block = max(1, per_block // 8)
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
                data = read_traces(fh, a, b)
                heads = read_all_headers(fh, a, b)
            if low_cut is None:  # samples outside the window are not checked
                data = data[:, plan.shift + i0 : plan.shift + i1]
            bad = first_nonfinite(data)
            if bad is not None:
                k = a + bad
                why = (
                    ""
                    if low_cut is None
                    else " (low_cut_hz filters whole traces, so samples outside window_ms count)"
                )
                raise SegyError(
                    f"{plan.path}: trace {k} has NaN or Inf samples{why}; mute or "
                    "remove it before ingest"
                )
            if low_cut is not None:
                data = low_cut(data)[:, plan.shift + i0 : plan.shift + i1].astype(np.float32)
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


#: Fewest samples a trace needs for the low-cut (the forward-backward filter's padding).
LOW_CUT_MIN_SAMPLES = 16


def _low_cut(entry: SegyEntry, dt_ms: float, samples: int):
    """The entry's ``low_cut_hz`` as a function of traces, None without one."""
    hz = entry.low_cut_hz
    if hz is None:
        return None
    nyquist = 500.0 / dt_ms
    if not hz < nyquist:
        raise CatalogError(
            f"dataset {entry.name!r}: low_cut_hz {hz:g} is not below the Nyquist frequency "
            f"of its {dt_ms:g} ms sampling ({nyquist:g} Hz)"
        )
    if samples < LOW_CUT_MIN_SAMPLES:
        raise CatalogError(
            f"dataset {entry.name!r}: low_cut_hz needs traces of at least "
            f"{LOW_CUT_MIN_SAMPLES} samples; these have {samples}"
        )
    from ..baselines import low_cut

    return lambda traces: low_cut(traces, dt_ms, hz)


def ingest_segy(
    entry: SegyEntry, files: dict[str, list[Path]], h5, *, progress: bool = False
) -> dict[str, Any]:
    """Write every gather of every survey into an open store file; return the tables and
    facts :func:`~symae_seis.io.store.write_tables` records."""
    import json

    plans, meta = _plan_segy(entry, files, progress)
    i0, i1 = window_samples(entry, plans[0].path, meta["ns"], meta["dt_ms"])
    n = int(meta["instance_key"].size)
    writer = StoreWriter(h5, n, meta["channels"], i1 - i0, len(HEADER_FIELDS))
    writer.headers.attrs["fields"] = json.dumps(HEADER_FIELDS)
    try:
        low_cut = _low_cut(entry, meta["dt_ms"], meta["ns"])
        _ingest_segy(writer, plans, i0, i1, meta["channels"], progress, low_cut)
    finally:
        writer.close()
    meta["rms"] = writer.rms
    meta["t0_ms"] = meta["delay_ms"] + i0 * meta["dt_ms"]
    meta["channel_names"] = []
    return meta
