"""SEG-Y (and Seismic Unix) traces in, through segyio's bulk paths (writing:
:mod:`symae_seis.io.segy_write`).

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
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import segyio

from ..errors import SymaeError, SymaeWarning
from ..typing import PathLike
from .segy_spec import apply_scalar, revision, trace_extensions

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
    "delay_ms",
]

log = logging.getLogger(__name__)

#: Every standard trace header field, in byte order; the store keeps all of them.
HEADER_FIELDS: tuple[str, ...] = tuple(str(f) for f in segyio.TraceField.enums())
_FIELD_IDS: tuple[int, ...] = tuple(int(f) for f in segyio.TraceField.enums())

# sample format code -> bytes per sample (formats segyio reads)
_FORMAT_SIZE = {1: 4, 2: 4, 3: 2, 5: 4, 6: 8, 8: 1, 9: 8, 10: 4, 11: 2, 12: 8, 16: 1}
_FORMAT_NAME = {
    1: "4-byte IBM float",
    2: "4-byte int",
    3: "2-byte int",
    4: "fixed-point with gain",
    5: "4-byte IEEE float",
    6: "8-byte IEEE float",
    7: "3-byte int",
    8: "1-byte int",
    9: "8-byte int",
    10: "4-byte uint",
    11: "2-byte uint",
    12: "8-byte uint",
    15: "3-byte uint",
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
    return int.from_bytes(
        buf[offset : offset + 2], "big" if endian == "big" else "little", signed=False
    )


def _i16(buf: bytes, offset: int, endian: str) -> int:
    return int.from_bytes(
        buf[offset : offset + 2], "big" if endian == "big" else "little", signed=True
    )


def delay_ms(delay: int | np.ndarray, scalar: int | np.ndarray) -> float | np.ndarray:
    """Recording delay in ms from DelayRecordingTime (bytes 109-110) and its scalar (bytes
    215-216), as segyio applies it: a scalar of 0 means 1, a negative one divides."""
    out = apply_scalar(delay, scalar)
    return float(out) if out.ndim == 0 else out


def _resolve_dt(path: Path, bin_dt: int, tr_dt: int, dt_us: int | None) -> int:
    """The sample interval (us) as segyio reads it (trace header preferred where the two
    headers disagree), or ``dt_us`` from the catalog."""
    if dt_us is not None:
        if tr_dt > 0 and tr_dt != dt_us:
            warnings.warn(
                f"{path}: headers say a sample interval of {tr_dt} us; using "
                f"dt_ms = {dt_us / 1000:g} from the catalog",
                SymaeWarning,
                stacklevel=2,
            )
        return int(dt_us)
    if tr_dt > 0:
        if bin_dt > 0 and bin_dt != tr_dt:
            warnings.warn(
                f"{path}: binary header says a sample interval of {bin_dt} us, the "
                f"trace headers {tr_dt} us; using {tr_dt} us as segyio does",
                SymaeWarning,
                stacklevel=2,
            )
        elif bin_dt < 0:
            warnings.warn(
                f"{path}: binary header sample interval is negative ({bin_dt}); "
                f"using the trace headers' {tr_dt} us",
                SymaeWarning,
                stacklevel=2,
            )
        return tr_dt
    if bin_dt > 0:
        return bin_dt
    raise SegyError(
        f"{path}: no sample interval in the binary or the first trace header "
        f"(binary {bin_dt}, trace {tr_dt}); set dt_ms for the dataset in the "
        "catalog"
    )


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


def _segy_layout(
    path: Path, head: bytes, endian: str, size: int
) -> tuple[int, int, int, int, bytes]:
    """Sample format, first trace's offset, sample count (binary header, else the first
    trace's), the first trace's count and its header, checked against what segyio reads."""
    fmt = _u16(head, 3224, endian)
    if fmt not in _FORMAT_SIZE:
        name = _FORMAT_NAME.get(fmt, "unknown")
        raise SegyError(
            f"{path}: sample format code {fmt} ({name}) is not supported; "
            "convert the file to IEEE float (format 5)"
        )
    ext = int.from_bytes(head[3504:3506], endian, signed=True)
    if ext < 0:
        raise SegyError(
            f"{path}: binary header declares {ext} extended textual headers "
            "(variable count, -1) which segyio cannot read; rewrite the file "
            "with a fixed count"
        )
    tr0 = 3600 + 3200 * ext
    if size <= tr0:
        raise SegyError(f"{path}: holds no traces ({size} bytes of file headers only)")
    with open(path, "rb") as fh:
        fh.seek(tr0)
        th = fh.read(240)
    if len(th) < 240:
        raise SegyError(f"{path}: truncated inside the first trace header")
    tr_ns = _u16(th, 114, endian)
    ns = _u16(head, 3220, endian) or tr_ns
    extra = trace_extensions(head, endian, size - tr0, ns * _FORMAT_SIZE[fmt])
    if extra:
        raise SegyError(
            f"{path}: SEG-Y revision {revision(head, endian)} file with {extra} trace "
            "header extension(s) (240-byte headers after each trace header; binary bytes "
            "3507-3510 in rev 2.0, 3507-3508 in rev 2.1); trace header extensions are not "
            "supported: rewrite the file without them"
        )
    return fmt, tr0, ns, tr_ns, th


def _trace_count(path: Path, size: int, tr0: int, ns: int, fmt: int, tr_ns: int) -> int:
    """Traces in the file; the size must be a whole number of them."""
    trace_bytes = 240 + ns * _FORMAT_SIZE[fmt]
    body = size - tr0
    if body <= 0:
        raise SegyError(f"{path}: holds no traces")
    if body % trace_bytes:
        if tr_ns and tr_ns != ns and (body % (240 + tr_ns * _FORMAT_SIZE[fmt])) == 0:
            raise SegyError(
                f"{path}: binary header says {ns} samples per trace but the trace headers say "
                f"{tr_ns}, and the file size fits {tr_ns}; the file is inconsistent: fix the "
                "binary header (bytes 3221-3222)"
            )
        raise SegyError(
            f"{path}: file size {size} is not a whole number of traces of {ns} samples "
            f"({_FORMAT_NAME[fmt]}): {body / trace_bytes:.3f} traces; the file is truncated "
            "or its sample count disagrees with its headers"
        )
    return body // trace_bytes


def segy_info(
    path: PathLike, *, endian: str = "auto", su: bool | None = None, dt_us: int | None = None
) -> SegyInfo:
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
        raise SegyError(
            f"{path}: {size} bytes, too short for a {'SU' if su else 'SEG-Y'} file "
            f"(at least {minimum} bytes of headers)"
        )
    if endian == "auto":
        endian = _detect_endian(path, head, su)
    if su:
        fmt, tr0, ns, tr_ns, th = 5, 0, _u16(head, 114, endian), 0, head[:240]
        dt = _resolve_dt(path, 0, _u16(head, 116, endian), dt_us)
    else:
        fmt, tr0, ns, tr_ns, th = _segy_layout(path, head, endian, size)
        dt = _resolve_dt(path, _i16(head, 3216, endian), _u16(th, 116, endian), dt_us)
    if ns == 0:
        raise SegyError(f"{path}: sample count is 0 in every header")
    ntr = _trace_count(path, size, tr0, ns, fmt, tr_ns)
    if not su and tr_ns not in (0, ns):
        log.warning(
            "%s: first trace header says %d samples, the binary header and the file "
            "size say %d; using %d",
            path,
            tr_ns,
            ns,
            ns,
        )
    # SU headers keep no delay scalar (segyio's SU reader ignores it too)
    t0 = delay_ms(_i16(th, 108, endian), 0 if su else _i16(th, 214, endian))
    return SegyInfo(
        path=path,
        tracecount=ntr,
        samples=ns,
        dt_us=dt,
        delay_ms=t0,
        format=fmt,
        endian=endian,
        su=su,
    )


@contextlib.contextmanager
def open_segy(
    path: PathLike,
    *,
    endian: str = "auto",
    su: bool | None = None,
    mmap: bool = True,
    dt_us: int | None = None,
    info: SegyInfo | None = None,
) -> Iterator[tuple[segyio.SegyFile, SegyInfo]]:
    """Open a checked SEG-Y or SU file as an unstructured trace list.

    ``mmap`` maps the file (fastest random access); streaming readers pass ``False`` so
    that pages already read do not count towards the process's resident memory. ``info``
    from an earlier :func:`segy_info` of the same file skips checking its headers again
    (readers that re-open a file block by block).

    Yields
    ------
    (segyio.SegyFile, SegyInfo)

    Raises
    ------
    SegyError, FileNotFoundError
        As :func:`segy_info`, or when segyio itself refuses the file.
    """
    if info is None:
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


def read_headers(
    fh: segyio.SegyFile, fields: tuple[str, ...], start: int = 0, stop: int | None = None
) -> dict[str, np.ndarray]:
    """Header fields of traces ``start:stop`` as int64 arrays (one bulk read per field)."""
    stop = fh.tracecount if stop is None else stop
    return {
        name: np.asarray(
            fh.attributes(int(getattr(segyio.TraceField, name)))[start:stop], dtype=np.int64
        )
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


def read_segy(
    path: PathLike, *, endian: str = "auto", su: bool | None = None
) -> tuple[np.ndarray, np.ndarray, SegyInfo]:
    """Read a whole (small) file: traces ``(n, samples)``, headers ``(n, fields)``, info."""
    with open_segy(path, endian=endian, su=su) as (fh, info):
        return read_traces(fh), read_all_headers(fh), info
