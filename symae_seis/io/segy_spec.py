"""What the SEG-Y standard says, apart from reading files (:mod:`symae_seis.io.segy`):
the names a trace header field goes by (segyio's, Seismic Unix's, ObsPy's, its byte), the
fields stored times a scalar and how the scalar applies, and the binary header's revision
and trace-header-extension count."""

from __future__ import annotations

import functools

import numpy as np
import segyio

__all__ = [
    "SCALED_BY",
    "apply_scalar",
    "header_aliases",
    "canonical_header_field",
    "revision",
    "trace_extensions",
    "first_trace_values",
]


#: Trace header fields stored as integers times a scalar, and the field of that scalar
#: (SEG-Y rev 1: coordinates by bytes 71-72, elevations and depths by bytes 69-70).
SCALED_BY = {
    **dict.fromkeys(
        ("SourceX", "SourceY", "GroupX", "GroupY", "CDP_X", "CDP_Y"), "SourceGroupScalar"
    ),
    **dict.fromkeys(
        (
            "ReceiverGroupElevation",
            "SourceSurfaceElevation",
            "SourceDepth",
            "ReceiverDatumElevation",
            "SourceDatumElevation",
            "SourceWaterDepth",
            "GroupWaterDepth",
        ),
        "ElevationScalar",
    ),
}


def apply_scalar(values: np.ndarray, scalar: np.ndarray) -> np.ndarray:
    """``values`` with their SEG-Y scalar applied, as the standard says and segyio users
    apply it (coordinates, elevations, the delay's scalar of bytes 215-216): a positive
    scalar multiplies, a negative one divides, 0 means 1. float64."""
    scalar = np.asarray(scalar, dtype=np.float64)
    scalar = np.where(scalar == 0, 1.0, scalar)
    factor = np.where(scalar < 0, 1.0 / np.abs(scalar), scalar)
    return np.asarray(values, dtype=np.float64) * factor


@functools.cache
def header_aliases() -> dict[str, str]:
    """Every name a trace header field goes by, mapped to segyio's: segyio's own
    (``FieldRecord``), Seismic Unix's (``fldr``, ``cdp``, ``sx``, ``gx``, ``scalco``, ...),
    ObsPy's (``original_field_record_number``) and the first byte's position (``"9"``).
    Keys are lower case (segyio's names are matched without case too)."""
    from segyio.su import words

    by_byte = {int(f): str(f) for f in segyio.TraceField.enums()}
    out = {str(b): name for b, name in by_byte.items()}
    for name in dir(words):
        byte = getattr(words, name)
        if not name.startswith("_") and isinstance(byte, int) and byte in by_byte:
            out[name.lower()] = by_byte[byte]
    try:
        from obspy.io.segy.header import TRACE_HEADER_FORMAT
    except ImportError:  # pragma: no cover - obspy is a dependency
        TRACE_HEADER_FORMAT = []
    for _, name, _, start in TRACE_HEADER_FORMAT:
        if start + 1 in by_byte:
            out[name.lower()] = by_byte[start + 1]
    out.update({name.lower(): name for name in by_byte.values()})
    return out


def canonical_header_field(name: str | int) -> str | None:
    """segyio's name of the trace header field ``name`` (any of :func:`header_aliases`,
    or a byte position as an int), None if no field goes by it."""
    return header_aliases().get(str(name).strip().lower())


def revision(head: bytes, endian: str) -> str | None:
    """The binary header's SEG-Y revision (bytes 3501-3502) where it names one (1.0, 2.0,
    2.1), else None: a word that is not a revision says the bytes after it are not
    revision-2 fields either. Rev 2 gives each of the two bytes its own meaning (major,
    minor); older writers wrote one 2-byte word, byte-swapped in little-endian files."""
    major, minor = head[3500], head[3501]
    if endian == "little" and major in (0, 1) and minor in (1, 2):
        major, minor = minor, major  # a little-endian 2-byte word 0x0100 / 0x0200
    if (major, minor) in ((1, 0), (2, 0), (2, 1)):
        return f"{major}.{minor}"
    return None


def trace_extensions(head: bytes, endian: str, body: int, sample_bytes: int) -> int:
    """Trace header extensions per trace a revision-2 file declares (0 for others, as
    segyio reads them). Rev 2.1 gives the count 2 bytes (3507-3508), rev 2.0 4 bytes
    (3507-3510), and writers of either kind exist; the reading the file's size agrees
    with wins (``body``: the bytes after the file headers; ``sample_bytes``: one trace's
    samples), so a count written 2 bytes wide is not read as 65536."""
    rev = revision(head, endian)
    if rev is None or not rev.startswith("2"):
        return 0
    narrow = int.from_bytes(head[3506:3508], endian, signed=True)
    wide = int.from_bytes(head[3506:3510], endian, signed=True)
    counts = [n for n in dict.fromkeys((narrow, wide) if rev == "2.1" else (wide, narrow)) if n > 0]
    size = sample_bytes
    for n in counts:
        if size and body % (240 * (1 + n) + size) == 0:
            return n
    if size and body % (240 + size) == 0:
        return 0  # the size fits traces without extensions: what segyio reads
    return counts[0] if counts else 0


def first_trace_values(
    headers: np.ndarray, header_fields: tuple[str, ...] | list[str], names: tuple[str, ...]
) -> np.ndarray:
    """Header fields ``names`` of each gather's first recorded trace (the first whose
    header is not all zero) in their units, the scalar of :data:`SCALED_BY` applied:
    ``(n, len(names))`` float64 from stored headers ``(n, C, F)`` whose columns are
    ``header_fields``."""
    headers = np.asarray(headers)
    first = np.argmax(np.any(headers != 0, axis=-1), axis=1)
    row = headers[np.arange(len(headers)), first]  # (n, F)
    out = np.empty((len(headers), len(names)))
    for j, name in enumerate(names):
        v = row[:, header_fields.index(name)]
        scale = SCALED_BY.get(name)
        out[:, j] = apply_scalar(v, row[:, header_fields.index(scale)] if scale else 0)
    return out
