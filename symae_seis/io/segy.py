"""SEG-Y (and Seismic Unix) traces in and out, through segyio's bulk paths.

Reading is strict: before segyio maps a file, :func:`open_segy` checks that its size is a
whole number of traces for the sample count and format the headers declare, that the
binary and trace headers agree on the sample count, and that the sample format is one we
read. Every problem raises :class:`SegyError` naming the file and what is wrong.

Samples are read with ``f.trace.raw[a:b]`` on a memory-mapped file and headers with
``f.attributes(field)[a:b]``: no per-trace Python loops.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import segyio

from ..errors import SymaeError, SymaeWarning
from ..typing import PathLike
from .atomic import atomic_path
from .checks import first_nonfinite

__all__ = [
    "SegyError",
    "SegyInfo",
    "HEADER_FIELDS",
    "open_segy",
    "segy_info",
    "read_headers",
    "read_all_headers",
    "read_traces",
    "read_segy",
    "write_segy",
    "SegyWriter",
]

log = logging.getLogger(__name__)

#: Every standard trace header field, in byte order; the store keeps all of them.
HEADER_FIELDS: tuple[str, ...] = tuple(str(f) for f in segyio.TraceField.enums())
_FIELD_IDS: tuple[int, ...] = tuple(int(f) for f in segyio.TraceField.enums())

# sample format code -> bytes per sample (formats segyio reads)
_FORMAT_SIZE = {1: 4, 2: 4, 3: 2, 5: 4, 6: 8, 8: 1, 9: 8, 10: 4, 11: 2, 12: 8, 16: 1}
_FORMAT_NAME = {
    1: "4-byte IBM float", 2: "4-byte int", 3: "2-byte int", 4: "fixed-point with gain",
    5: "4-byte IEEE float", 6: "8-byte IEEE float", 7: "3-byte int", 8: "1-byte int",
    9: "8-byte int", 10: "4-byte uint", 11: "2-byte uint", 12: "8-byte uint", 15: "3-byte uint",
    16: "1-byte uint",
}


class SegyError(SymaeError):
    """A SEG-Y file is malformed or inconsistent with what was asked of it."""


@dataclass(frozen=True)
class SegyInfo:
    """What a file's headers declare.

    Attributes
    ----------
    path, tracecount, samples (count), dt_us (sample interval in microseconds),
    delay_ms (recording delay of the first trace, its scalar in bytes 215-216 applied as
    segyio does: 0 means 1, negative divides), format (sample format code),
    endian ('big' or 'little'), su (Seismic Unix file, no file headers).
    """

    path: Path
    tracecount: int
    samples: int
    dt_us: int
    delay_ms: float
    format: int
    endian: str
    su: bool


def _u16(buf: bytes, offset: int, endian: str) -> int:
    return int.from_bytes(buf[offset : offset + 2], "big" if endian == "big" else "little",
                          signed=False)


def _i16(buf: bytes, offset: int, endian: str) -> int:
    return int.from_bytes(buf[offset : offset + 2], "big" if endian == "big" else "little",
                          signed=True)


def delay_ms(delay: int | np.ndarray, scalar: int | np.ndarray) -> float | np.ndarray:
    """Recording delay in ms from DelayRecordingTime (bytes 109-110) and its scalar (bytes
    215-216), as segyio applies it: a scalar of 0 means 1, a negative one divides."""
    scalar = np.asarray(scalar, dtype=np.float64)
    scalar = np.where(scalar == 0, 1.0, scalar)
    factor = np.where(scalar < 0, 1.0 / np.abs(scalar), scalar)
    out = np.asarray(delay, dtype=np.float64) * factor
    return float(out) if out.ndim == 0 else out


def delay_fields(t0_ms: float) -> tuple[int, int]:
    """(DelayRecordingTime, scalar) that write ``t0_ms`` exactly in the 16-bit delay field:
    scalar 1 for whole milliseconds, else -10, -100 or -1000."""
    for scalar in (1, -10, -100, -1000):
        value = t0_ms * (1 if scalar == 1 else -scalar)
        if abs(value - round(value)) < 1e-6 and abs(round(value)) <= 32767:
            return int(round(value)), scalar
    raise SegyError(f"a recording delay of {t0_ms!r} ms cannot be written in SEG-Y "
                     "(16-bit delay with a scalar of at most 1/1000)")


def _resolve_dt(path: Path, bin_dt: int, tr_dt: int, dt_us: int | None) -> int:
    """The sample interval (us) as segyio reads it (trace header preferred where the two
    headers disagree), or ``dt_us`` from the catalog."""
    if dt_us is not None:
        if tr_dt > 0 and tr_dt != dt_us:
            warnings.warn(f"{path}: headers say a sample interval of {tr_dt} us; using "
                          f"dt_ms = {dt_us / 1000:g} from the catalog", SymaeWarning,
                          stacklevel=2)
        return int(dt_us)
    if tr_dt > 0:
        if bin_dt > 0 and bin_dt != tr_dt:
            warnings.warn(f"{path}: binary header says a sample interval of {bin_dt} us, the "
                          f"trace headers {tr_dt} us; using {tr_dt} us as segyio does",
                          SymaeWarning, stacklevel=2)
        elif bin_dt < 0:
            warnings.warn(f"{path}: binary header sample interval is negative ({bin_dt}); "
                          f"using the trace headers' {tr_dt} us", SymaeWarning, stacklevel=2)
        return tr_dt
    if bin_dt > 0:
        return bin_dt
    raise SegyError(f"{path}: no sample interval in the binary or the first trace header "
                    f"(binary {bin_dt}, trace {tr_dt}); set dt_ms for the dataset in the "
                    "catalog")


def _detect_endian(path: Path, head: bytes, su: bool) -> str:
    """Guess byte order from the binary header's format code (SEG-Y) or the trace
    header's sample count (SU)."""
    if su:
        # SU: bytes 115-116 of the first trace header hold the sample count.
        big, little = _u16(head, 114, "big"), _u16(head, 114, "little")
        ok_big, ok_little = 0 < big < 65535, 0 < little < 65535
        if ok_big and (not ok_little or big <= little):
            return "big"
        if ok_little:
            return "little"
        raise SegyError(f"{path}: first trace header has no sample count; not a SU file?")
    big, little = _u16(head, 3224, "big"), _u16(head, 3224, "little")
    if big in _FORMAT_NAME:
        return "big"
    if little in _FORMAT_NAME:
        return "little"
    raise SegyError(
        f"{path}: binary header sample format code is {big} (or {little} byte-swapped), "
        "not a SEG-Y format; is this a SEG-Y file?"
    )


def segy_info(path: PathLike, *, endian: str = "auto", su: bool | None = None,
              dt_us: int | None = None) -> SegyInfo:
    """Read and check a file's declared layout without mapping it with segyio.

    Parameters
    ----------
    path
        SEG-Y or SU file.
    endian
        'auto' (detect from the headers), 'big' or 'little'.
    su
        Seismic Unix layout (no textual/binary header). Default: true for ``.su`` files.
    dt_us
        Sample interval that overrides (or supplies) the headers' (catalog ``dt_ms``).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    SegyError
        Unsupported sample format, a size that is not a whole number of traces
        (truncated file, or sample count disagreeing with headers), zero traces.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SEG-Y file {path} does not exist")
    if su is None:
        su = path.suffix.lower() == ".su"
    size = path.stat().st_size
    minimum = 240 if su else 3600
    with open(path, "rb") as fh:
        head = fh.read(3600 + 240)
    if len(head) < minimum:
        raise SegyError(f"{path}: {size} bytes, too short for a {'SU' if su else 'SEG-Y'} file "
                        f"(at least {minimum} bytes of headers)")
    if endian == "auto":
        endian = _detect_endian(path, head, su)
    if su:
        fmt, ext, tr0, ns = 5, 0, 0, _u16(head, 114, endian)
        dt = _resolve_dt(path, 0, _u16(head, 116, endian), dt_us)
        bin_ns = ns
        th = head[:240]
    else:
        fmt = _u16(head, 3224, endian)
        if fmt not in _FORMAT_SIZE:
            name = _FORMAT_NAME.get(fmt, "unknown")
            raise SegyError(f"{path}: sample format code {fmt} ({name}) is not supported; "
                            "convert the file to IEEE float (format 5)")
        ext = int.from_bytes(head[3504:3506], endian, signed=True)
        if ext < 0:
            raise SegyError(f"{path}: binary header declares {ext} extended textual headers "
                            "(variable count, -1) which segyio cannot read; rewrite the file "
                            "with a fixed count")
        tr0 = 3600 + 3200 * ext
        bin_ns = _u16(head, 3220, endian)
        extra = int.from_bytes(head[3506:3510], endian, signed=True)
        if head[3500] >= 2 and extra > 0:
            raise SegyError(f"{path}: SEG-Y revision {head[3500]} file with {extra} trace "
                            "header extension(s) (240-byte headers after each trace header, "
                            "binary bytes 3507-3510); trace header extensions are not "
                            "supported: rewrite the file without them")
        if size <= tr0:
            raise SegyError(f"{path}: holds no traces ({size} bytes of file headers only)")
        with open(path, "rb") as fh:
            fh.seek(tr0)
            th = fh.read(240)
        if len(th) < 240:
            raise SegyError(f"{path}: truncated inside the first trace header")
        tr_ns = _u16(th, 114, endian)
        if bin_ns == 0:
            bin_ns = tr_ns
        ns = bin_ns
        dt = _resolve_dt(path, _i16(head, 3216, endian), _u16(th, 116, endian), dt_us)
    if ns == 0:
        raise SegyError(f"{path}: sample count is 0 in every header")
    trace_bytes = 240 + ns * _FORMAT_SIZE[fmt]
    body = size - tr0
    if body <= 0:
        raise SegyError(f"{path}: holds no traces")
    if body % trace_bytes:
        ntr = body / trace_bytes
        other = 0 if su else tr_ns
        if other and other != ns and (body % (240 + other * _FORMAT_SIZE[fmt])) == 0:
            raise SegyError(
                f"{path}: binary header says {ns} samples per trace but the trace headers say "
                f"{other}, and the file size fits {other}; the file is inconsistent: fix the "
                "binary header (bytes 3221-3222)"
            )
        raise SegyError(
            f"{path}: file size {size} is not a whole number of traces of {ns} samples "
            f"({_FORMAT_NAME[fmt]}): {ntr:.3f} traces; the file is truncated or its sample "
            "count disagrees with its headers"
        )
    if not su and tr_ns not in (0, ns):
        log.warning("%s: first trace header says %d samples, the binary header and the file "
                    "size say %d; using %d", path, tr_ns, ns, ns)
    # SU headers keep no delay scalar (segyio's SU reader ignores it too)
    t0 = delay_ms(_i16(th, 108, endian), 0 if su else _i16(th, 214, endian))
    return SegyInfo(path=path, tracecount=body // trace_bytes, samples=ns, dt_us=dt,
                    delay_ms=t0, format=fmt, endian=endian, su=su)


@contextlib.contextmanager
def open_segy(path: PathLike, *, endian: str = "auto", su: bool | None = None,
              mmap: bool = True, dt_us: int | None = None
              ) -> Iterator[tuple[segyio.SegyFile, SegyInfo]]:
    """Open a checked SEG-Y or SU file as an unstructured trace list.

    ``mmap`` maps the file (fastest random access); streaming readers pass ``False`` so
    that pages already read do not count towards the process's resident memory.

    Yields
    ------
    (segyio.SegyFile, SegyInfo)

    Raises
    ------
    SegyError, FileNotFoundError
        As :func:`segy_info`, or when segyio itself refuses the file.
    """
    info = segy_info(path, endian=endian, su=su, dt_us=dt_us)
    try:
        if info.su:
            fh = segyio.su.open(str(info.path), ignore_geometry=True, endian=info.endian)
        else:
            fh = segyio.open(str(info.path), ignore_geometry=True, endian=info.endian)
    except (RuntimeError, OSError, ValueError, IndexError) as err:
        raise SegyError(f"{info.path}: segyio cannot open it: {err}") from None
    with fh:
        if fh.tracecount != info.tracecount or len(fh.samples) != info.samples:
            raise SegyError(
                f"{info.path}: segyio sees {fh.tracecount} traces of {len(fh.samples)} "
                f"samples, the headers declare {info.tracecount} of {info.samples}"
            )
        if mmap:
            fh.mmap()
        yield fh, info


def read_headers(fh: segyio.SegyFile, fields: tuple[str, ...], start: int = 0,
                 stop: int | None = None) -> dict[str, np.ndarray]:
    """Header fields of traces ``start:stop`` as int64 arrays (one bulk read per field)."""
    stop = fh.tracecount if stop is None else stop
    return {
        name: np.asarray(fh.attributes(int(getattr(segyio.TraceField, name)))[start:stop],
                         dtype=np.int64)
        for name in fields
    }


def read_all_headers(fh: segyio.SegyFile, start: int = 0, stop: int | None = None) -> np.ndarray:
    """All standard header fields of traces ``start:stop`` as ``(n, len(HEADER_FIELDS))``
    int32, columns in :data:`HEADER_FIELDS` order."""
    stop = fh.tracecount if stop is None else stop
    out = np.empty((stop - start, len(_FIELD_IDS)), dtype=np.int32)
    for j, fid in enumerate(_FIELD_IDS):
        out[:, j] = fh.attributes(fid)[start:stop]
    return out


def read_traces(fh: segyio.SegyFile, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Samples of traces ``start:stop`` as a float32 ``(n, samples)`` array."""
    stop = fh.tracecount if stop is None else stop
    if stop <= start:
        return np.empty((0, len(fh.samples)), dtype=np.float32)
    data = fh.trace.raw[start:stop]
    return np.asarray(data, dtype=np.float32).reshape(stop - start, len(fh.samples))


def read_segy(path: PathLike, *, endian: str = "auto", su: bool | None = None
              ) -> tuple[np.ndarray, np.ndarray, SegyInfo]:
    """Read a whole (small) file: traces ``(n, samples)``, headers ``(n, fields)``, info."""
    with open_segy(path, endian=endian, su=su) as (fh, info):
        return read_traces(fh), read_all_headers(fh), info


def _header_rows(headers: np.ndarray | Mapping[str, np.ndarray], n: int) -> np.ndarray:
    if isinstance(headers, Mapping):
        out = np.zeros((n, len(HEADER_FIELDS)), dtype=np.int64)
        for name, values in headers.items():
            if name not in HEADER_FIELDS:
                raise ValueError(f"{name!r} is not a SEG-Y trace header field")
            out[:, HEADER_FIELDS.index(name)] = np.broadcast_to(np.asarray(values), (n,))
        return out
    headers = np.asarray(headers)
    if headers.shape != (n, len(HEADER_FIELDS)):
        raise ValueError(f"headers must have shape ({n}, {len(HEADER_FIELDS)}), got "
                         f"{headers.shape}")
    return headers


#: Trace header fields in bytes 95-114: times (ms) that the scalar of bytes 215-216 scales.
_TIME_SCALED = tuple(n for n, b in zip(HEADER_FIELDS, _FIELD_IDS) if 95 <= b <= 113)
_SCALAR_COL = HEADER_FIELDS.index("ScalarTraceHeader")
_DELAY_COL = HEADER_FIELDS.index("DelayRecordingTime")


def _set_times(rows: np.ndarray, delay: int, scalar: int) -> None:
    """Give every row the output's delay and scalar; other times of bytes 95-114 copied
    from the donor are re-expressed under the new scalar."""
    old = rows[:, _SCALAR_COL].copy()
    for name in _TIME_SCALED:
        col = HEADER_FIELDS.index(name)
        ms = delay_ms(rows[:, col], old)
        rows[:, col] = np.round(ms / delay_ms(1, scalar)).astype(np.int64)
    rows[:, _DELAY_COL] = delay
    rows[:, _SCALAR_COL] = scalar


def textual_header(source: str | bytes | None, note: str) -> bytes:
    """3200-byte textual header: the source file's (``source``, 40 lines of 80 characters)
    with ``note`` on line 39, or a new header holding the note."""
    if isinstance(source, bytes):
        source = source.decode("ascii", errors="replace")
    if source and source.strip():
        text = source.ljust(3200)[:3200]
        lines = [text[i:i + 80] for i in range(0, 3200, 80)]
    else:
        lines = [f"C{i + 1:2d}".ljust(80) for i in range(40)]
        lines[39] = "C40 END TEXTUAL HEADER".ljust(80)
    lines[38] = f"C39 {note}"[:80].ljust(80)
    return "".join(lines).encode("ascii", errors="replace")


class SegyWriter:
    """Stream traces into a new big-endian IEEE-float (format 5) SEG-Y rev 1.0 file.

    Every trace carries the output's time axis: ``t0_ms`` as DelayRecordingTime with its
    scalar, the sample count and interval, whatever the donor headers said.

    The trace count is fixed up front; blocks of traces are written with :meth:`write`.
    The file is built under a temporary name and renamed into place by :meth:`close`
    only when every trace was written, so a crash never leaves a partial file.

    Examples
    --------
    >>> with SegyWriter("out.sgy", n=100, samples=500, dt_us=4000) as w:  # doctest: +SKIP
    ...     w.write(0, traces[:50], headers[:50])
    ...     w.write(50, traces[50:], headers[50:])
    """

    def __init__(self, path: PathLike, n: int, samples: int, dt_us: int, *,
                 t0_ms: float = 0.0, textual: str | bytes | None = None,
                 note: str = "written by symae-seis", overwrite: bool = False):
        if n < 1 or samples < 1:
            raise ValueError(f"need at least one trace and one sample, got {n} x {samples}")
        self.path, self.n, self.samples, self.dt_us = Path(path), n, samples, int(dt_us)
        self.t0_ms = float(t0_ms)
        self._delay, self._scalar = delay_fields(self.t0_ms)
        self._ctx = atomic_path(self.path, overwrite=overwrite)
        self._tmp = self._ctx.__enter__()
        spec = segyio.spec()
        spec.samples = self.t0_ms + np.arange(samples) * dt_us / 1000.0
        spec.tracecount = n
        spec.format = 5
        spec.endian = "big"
        try:
            self._f = segyio.create(str(self._tmp), spec)
            self._f.text[0] = textual_header(textual, note)
            self._f.bin.update(hdt=self.dt_us, hns=samples, format=5, mfeet=1, tsort=0)
            # SEG-Y rev 1.0 (bytes 3501-3502), every trace of one length (3503-3504)
            self._f.bin.update({segyio.BinField.SEGYRevision: 1,
                                segyio.BinField.SEGYRevisionMinor: 0,
                                segyio.BinField.TraceFlag: 1})
        except BaseException:
            self._ctx.__exit__(*sys.exc_info())
            raise
        self._written = np.zeros(n, dtype=bool)

    def write(self, start: int, traces: np.ndarray,
              headers: np.ndarray | Mapping[str, np.ndarray]) -> None:
        """Write ``traces`` ``(k, samples)`` and their headers at trace index ``start``.

        ``headers``: ``(k, len(HEADER_FIELDS))`` in :data:`HEADER_FIELDS` order, or a
        mapping field -> values (others 0). Sample count and interval are set here.
        """
        traces = np.asarray(traces, dtype=np.float32)
        k = traces.shape[0]
        if traces.ndim != 2 or traces.shape[1] != self.samples:
            raise ValueError(f"traces must be (k, {self.samples}), got {traces.shape}")
        if start < 0 or start + k > self.n:
            raise ValueError(f"traces {start}:{start + k} outside 0:{self.n} of {self.path}")
        bad = first_nonfinite(traces)
        if bad is not None:
            bad += start
            raise SegyError(f"trace {bad} has NaN or Inf samples; refusing to write "
                             f"{self.path}")
        rows = _header_rows(headers, k).astype(np.int64)
        _set_times(rows, self._delay, self._scalar)
        rows[:, HEADER_FIELDS.index("TRACE_SAMPLE_COUNT")] = self.samples
        rows[:, HEADER_FIELDS.index("TRACE_SAMPLE_INTERVAL")] = self.dt_us
        self._f.trace.raw[start:start + k] = traces
        for i in range(k):
            self._f.header[start + i] = dict(zip(_FIELD_IDS, rows[i].tolist()))
        self._written[start:start + k] = True

    def close(self) -> Path:
        """Finish the file and move it into place (every trace must have been written)."""
        self._f.close()
        missing = np.flatnonzero(~self._written)
        if missing.size:
            err = ValueError(f"{self.path}: {missing.size} of {self.n} traces were never "
                             f"written (first: {missing[0]}); file discarded")
            self._ctx.__exit__(ValueError, err, None)
            raise err
        self._ctx.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        """Discard the temporary file."""
        self._f.close()
        self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> SegyWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_segy(path: PathLike, traces: np.ndarray,
               headers: np.ndarray | Mapping[str, np.ndarray], dt_us: int, *,
               t0_ms: float = 0.0, textual: str | bytes | None = None,
               note: str = "written by symae-seis", overwrite: bool = False) -> Path:
    """Write traces and their headers as a big-endian IEEE-float (format 5) SEG-Y rev 1 file.

    Written under a temporary name and renamed into place (see :class:`SegyWriter`).

    Parameters
    ----------
    path
        Output file.
    traces
        ``(n, samples)`` array.
    headers
        ``(n, len(HEADER_FIELDS))`` integer array in :data:`HEADER_FIELDS` order (as
        :func:`read_all_headers` returns), or a mapping field name -> values (others 0).
        ``TRACE_SAMPLE_COUNT`` and ``TRACE_SAMPLE_INTERVAL`` are set from the data.
    dt_us
        Sample interval in microseconds.
    t0_ms
        Time of the first sample: written to every trace as DelayRecordingTime with its
        scalar (bytes 215-216; -10, -100 or -1000 for fractions of a millisecond).
    textual, note
        The source's 3200-byte textual header to copy (default: a new one) and the line
        (C39) that says what this file holds.
    overwrite
        Replace an existing file; without it an existing ``path`` raises.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    ValueError
        If shapes disagree or samples are not finite.
    """
    traces = np.asarray(traces, dtype=np.float32)
    if traces.ndim != 2 or traces.shape[0] == 0:
        raise ValueError(f"traces must be a non-empty (n, samples) array, got {traces.shape}")
    # SegyWriter.write rejects NaN/Inf traces and discards its temporary file
    with SegyWriter(path, traces.shape[0], traces.shape[1], dt_us, t0_ms=t0_ms,
                    textual=textual, note=note, overwrite=overwrite) as w:
        w.write(0, traces, headers)
    log.info("wrote %d traces to %s", traces.shape[0], path)
    return Path(path)
