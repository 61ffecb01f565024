"""SEG-Y/SU ingest, first pass: the header fields every trace is checked on (a time axis
per file and across files, keys that are plausible header values) and the record window
in samples."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..catalog import SegyEntry
from ..errors import SymaeWarning
from ..io.segy import SegyError, delay_ms, open_segy, read_headers, segy_info

if TYPE_CHECKING:
    from .segy import _FilePlan

__all__ = [
    "TIME_FIELDS",
    "KEY_LIMIT",
    "scan_headers",
    "check_trace_headers",
    "common_time_axis",
    "window_samples",
]

log = logging.getLogger(__name__)

#: Bytes of SEG-Y read per block (headers and samples), through a fresh memory map.
BLOCK_BYTES = 64 << 20

#: Header fields read for every trace to check the time axis and that headers are headers.
TIME_FIELDS = (
    "DelayRecordingTime",
    "ScalarTraceHeader",
    "TRACE_SAMPLE_COUNT",
    "TRACE_SAMPLE_INTERVAL",
)
#: Key values beyond this are not plausible header values (sample bytes read as headers).
KEY_LIMIT = 10**9


def scan_headers(
    path: Path, keys: tuple[str, ...], endian: str, su: bool, dt_us: int | None = None
):
    """Header fields of every trace, read in blocks, each through a fresh memory map (so
    resident memory does not grow with the file)."""
    info = segy_info(path, endian=endian, su=su, dt_us=dt_us)
    block = max(1, BLOCK_BYTES // (240 + 4 * info.samples))
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for a in range(0, info.tracecount, block):
        with open_segy(path, info=info) as (fh, _):
            got = read_headers(fh, keys, a, min(a + block, info.tracecount))
        for k in keys:
            parts[k].append(got[k])
    return {k: np.concatenate(v) for k, v in parts.items()}, info


def check_trace_headers(path: Path, hdr: dict[str, np.ndarray], info, entry: SegyEntry) -> None:
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
        big = np.abs(hdr[key]) >= KEY_LIMIT
        if big.any():
            k = first(big)
            raise SegyError(
                f"{path}: trace {k} has {key}={hdr[key][k]}, not a plausible "
                f"header value (|value| >= {KEY_LIMIT}); the trace headers hold "
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


def common_time_axis(entry: SegyEntry, plans: list[_FilePlan], dt_us: int) -> tuple[float, int]:
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


def window_samples(entry: SegyEntry, path: Path, ns: int, dt_ms: float) -> tuple[int, int]:
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
