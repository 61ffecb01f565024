"""SEG-Y out: big-endian IEEE-float rev 1.0 files with every trace's time axis, written
atomically and streamed block by block."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import segyio

from ..typing import PathLike
from .atomic import atomic_path
from .checks import first_nonfinite
from .segy import _FIELD_IDS, HEADER_FIELDS, SegyError, delay_ms

__all__ = ["SegyWriter", "write_segy", "delay_fields", "textual_header"]

log = logging.getLogger(__name__)


def delay_fields(t0_ms: float) -> tuple[int, int]:
    """(DelayRecordingTime, scalar) that write ``t0_ms`` exactly in the 16-bit delay field:
    scalar 1 for whole milliseconds, else -10, -100 or -1000."""
    for scalar in (1, -10, -100, -1000):
        value = t0_ms * (1 if scalar == 1 else -scalar)
        if abs(value - round(value)) < 1e-6 and abs(round(value)) <= 32767:
            return int(round(value)), scalar
    raise SegyError(
        f"a recording delay of {t0_ms!r} ms cannot be written in SEG-Y "
        "(16-bit delay with a scalar of at most 1/1000)"
    )


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
        raise ValueError(
            f"headers must have shape ({n}, {len(HEADER_FIELDS)}), got {headers.shape}"
        )
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


def textual_header(source: str | bytes | None, note: str | list[str]) -> bytes:
    """3200-byte textual header: the source file's (``source``, 40 lines of 80
    characters) or a new one, with ``note`` (a line, or several: provenance) on the lines
    just above line 39, line 39 ``C39 SEG-Y REV1`` and line 40 ``C40 END TEXTUAL HEADER``
    as SEG-Y rev 1 asks. Every line starts with ``C`` and its number."""
    if isinstance(source, bytes):
        source = source.decode("ascii", errors="replace")
    if source and source.strip():
        text = source.ljust(3200)[:3200]
        lines = [text[i : i + 80] for i in range(0, 3200, 80)]
    else:
        lines = [f"C{i + 1:2d}".ljust(80) for i in range(40)]
    notes = [note] if isinstance(note, str) else list(note)
    notes = notes[:30]  # lines 9-38 at most, the first notes kept (what the file holds)
    for k, text in enumerate(notes):
        n = 39 - len(notes) + k  # 1-based line number
        lines[n - 1] = f"C{n:2d} {text}"[:80].ljust(80)
    lines[38] = "C39 SEG-Y REV1".ljust(80)
    lines[39] = "C40 END TEXTUAL HEADER".ljust(80)
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

    def __init__(
        self,
        path: PathLike,
        n: int,
        samples: int,
        dt_us: int,
        *,
        t0_ms: float = 0.0,
        textual: str | bytes | None = None,
        note: str | list[str] = "written by symae-seis",
        overwrite: bool = False,
    ):
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
            self._f.bin.update(
                {
                    segyio.BinField.SEGYRevision: 1,
                    segyio.BinField.SEGYRevisionMinor: 0,
                    segyio.BinField.TraceFlag: 1,
                }
            )
        except BaseException:
            self._ctx.__exit__(*sys.exc_info())
            raise
        self._written = np.zeros(n, dtype=bool)

    def write(
        self, start: int, traces: np.ndarray, headers: np.ndarray | Mapping[str, np.ndarray]
    ) -> None:
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
            raise SegyError(f"trace {bad} has NaN or Inf samples; refusing to write {self.path}")
        rows = _header_rows(headers, k).astype(np.int64)
        _set_times(rows, self._delay, self._scalar)
        rows[:, HEADER_FIELDS.index("TRACE_SAMPLE_COUNT")] = self.samples
        rows[:, HEADER_FIELDS.index("TRACE_SAMPLE_INTERVAL")] = self.dt_us
        self._f.trace.raw[start : start + k] = traces
        for i in range(k):
            self._f.header[start + i] = dict(zip(_FIELD_IDS, rows[i].tolist()))
        self._written[start : start + k] = True

    def close(self) -> Path:
        """Finish the file and move it into place (every trace must have been written)."""
        self._f.close()
        missing = np.flatnonzero(~self._written)
        if missing.size:
            err = ValueError(
                f"{self.path}: {missing.size} of {self.n} traces were never "
                f"written (first: {missing[0]}); file discarded"
            )
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


def write_segy(
    path: PathLike,
    traces: np.ndarray,
    headers: np.ndarray | Mapping[str, np.ndarray],
    dt_us: int,
    *,
    t0_ms: float = 0.0,
    textual: str | bytes | None = None,
    note: str = "written by symae-seis",
    overwrite: bool = False,
) -> Path:
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
    with SegyWriter(
        path,
        traces.shape[0],
        traces.shape[1],
        dt_us,
        t0_ms=t0_ms,
        textual=textual,
        note=note,
        overwrite=overwrite,
    ) as w:
        w.write(0, traces, headers)
    log.info("wrote %d traces to %s", traces.shape[0], path)
    return Path(path)
