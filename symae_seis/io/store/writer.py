"""Writing a store: the gathers (:class:`StoreWriter`), then the tables, attributes and
the model schema (:func:`write_tables`). Called by :mod:`symae_seis.ingest`."""

from __future__ import annotations

import concurrent.futures
import json
import os
from typing import Any

import h5py
import numpy as np

from ... import __version__
from .schema import SCHEMA_VERSION, model_schema

__all__ = ["StoreWriter", "write_tables"]


class StoreWriter:
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

    def write_slab(
        self, r0: int, data: np.ndarray, live: np.ndarray, headers: np.ndarray | None
    ) -> None:
        """Whole instances ``r0:r0+len(data)``; at most one slab is in flight."""
        self._wait()
        self._pending = self._pool.submit(self._pwrite, data, self._offset + r0 * self._row_bytes)
        r1 = r0 + data.shape[0]
        self.live[r0:r1] = live
        if headers is not None:
            self.headers[r0:r1] = headers
        self._accumulate(data, live)

    def write_traces(
        self, rows: np.ndarray, chans: np.ndarray, data: np.ndarray, headers: np.ndarray
    ) -> None:
        """Scattered traces (files whose gathers are not contiguous)."""
        self._wait()
        tbytes = data.shape[-1] * 4
        for r, c, d in zip(rows.tolist(), chans.tolist(), data):
            self._pwrite(d, self._offset + r * self._row_bytes + c * tbytes)
        live = np.any(data != 0, axis=-1)
        order = np.lexsort((chans, rows))
        for r, c, h, lv in zip(
            rows[order].tolist(), chans[order].tolist(), headers[order], live[order]
        ):
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


def _datapoint_table(survey: np.ndarray, dp_vals: np.ndarray):
    table = np.concatenate([survey[:, None].astype(np.int64), dp_vals], axis=1)
    uniq, inverse = np.unique(table, axis=0, return_inverse=True)
    return uniq[:, 0].astype(np.int16), uniq[:, 1:], inverse.reshape(-1)


def write_tables(h5: h5py.File, meta: dict[str, Any], attrs: dict[str, Any]) -> None:
    """Write the per-instance and datapoint tables of a store whose gathers are written,
    and its attributes.

    ``meta`` holds the ingest's arrays (``instance_key``, ``survey``, ``source_file``,
    ``dp_vals``, ``dp_fields``) and facts (``surveys``, ``channel_names``, ``dt_ms``,
    ``t0_ms``, ``rms``, ``textual``); ``attrs`` the provenance (dataset, format, catalog
    entry, sources, key names).
    """
    dp_survey, dp_key, dp_index = _datapoint_table(meta["survey"], meta["dp_vals"])
    h5.create_dataset("instance_key", data=meta["instance_key"].astype(np.int64))
    h5.create_dataset("survey", data=meta["survey"].astype(np.int16))
    h5.create_dataset("source_file", data=meta["source_file"].astype(np.int16))
    h5.create_dataset("datapoint", data=dp_index.astype(np.int64))
    g = h5.create_group("datapoints")
    g.create_dataset("survey", data=dp_survey)
    g.create_dataset("key", data=dp_key.reshape(len(dp_survey), -1))
    g.attrs["names"] = json.dumps(meta["dp_fields"])
    h5.attrs.update(
        {
            "schema_version": SCHEMA_VERSION,
            "toolkit_version": __version__,
            **attrs,
            "surveys": json.dumps(meta["surveys"]),
            "channels": json.dumps(meta["channel_names"]),
            "dt_ms": float(meta["dt_ms"]),
            "t0_ms": float(meta["t0_ms"]),
            "rms": float(meta["rms"]),
            "textual_header": meta.get("textual", ""),
        }
    )
    h5.attrs["model_schema"] = json.dumps(model_schema(h5))  # once, at ingest
