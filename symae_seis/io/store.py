"""The HDF5 instance store: its schema, writer and readers (an xarray view too).

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
           textual_header (SEG-Y), schema_version, toolkit_version

Instances are stored in the order their first trace appears in the files, so a file
sorted by instance is written in large contiguous slabs. The contiguous layout (not one
chunk per instance as first designed) was measured faster to write and reads an instance
as one contiguous byte range; the store is not compressed.

Stores are built by :mod:`symae_seis.ingest` (which knows the catalog) through
:class:`StoreWriter` and :func:`write_tables`; they are read with :class:`StoreReader`
(a context manager; what the DataLoader uses, opening HDF5 lazily per worker) or
:func:`open_store` (a lazy ``xarray.Dataset``).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from .. import __version__
from ..errors import SymaeError
from ..typing import PathLike

__all__ = [
    "SCHEMA_VERSION",
    "StoreError",
    "StoreWriter",
    "write_tables",
    "open_store",
    "store_schema",
    "schema_mismatches",
    "SCHEMA_KEYS",
    "StoreReader",
]

SCHEMA_VERSION = 1


class StoreError(SymaeError):
    """An instance store is missing, truncated, stale or of another schema."""


# --------------------------------------------------------------------------- writer


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
    h5.attrs.update({
        "schema_version": SCHEMA_VERSION,
        "toolkit_version": __version__,
        **attrs,
        "surveys": json.dumps(meta["surveys"]),
        "channels": json.dumps(meta["channel_names"]),
        "dt_ms": float(meta["dt_ms"]),
        "t0_ms": float(meta["t0_ms"]),
        "rms": float(meta["rms"]),
        "textual_header": meta.get("textual", ""),
    })


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
    """What a model trained on this store depends on (see :func:`schema_mismatches`)."""
    with StoreReader(path) as reader:
        return reader.schema


#: Schema entries a model depends on: gather shape, sampling and how gathers were made.
SCHEMA_KEYS = ("channels", "samples", "dt_ms", "instance_key", "channel_key", "datapoint_key")


def schema_mismatches(expected: dict[str, Any], actual: dict[str, Any], *,
                      labels: tuple[str, str] = ("expected", "actual")) -> list[str]:
    """``"key: <label0> X, <label1> Y"`` for every :data:`SCHEMA_KEYS` entry present in both
    that differs (an empty list: compatible). One rule for redatuming with a model and for
    resuming a checkpoint."""
    a, b = labels
    return [f"{k}: {a} {expected[k]}, {b} {actual[k]}" for k in SCHEMA_KEYS
            if k in expected and k in actual and expected[k] != actual[k]]


class StoreReader:
    """Random access to instances and the store's tables, through one HDF5 handle per
    process (opened here, re-opened lazily in a DataLoader worker after pickling).

    A context manager: ``with StoreReader(path) as reader: ...`` closes the handle.
    ``schema`` is what a model trained on the store depends on.
    """

    def __init__(self, path: PathLike):
        self.path = Path(path)
        h5 = _open_h5(self.path)
        self._h5: h5py.File | None = h5
        self._pid: int | None = os.getpid()
        try:
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
            #: channel names of miniSEED stores (stream ids, or "a|b" station pairs)
            self.channel_names = tuple(json.loads(h5.attrs.get("channels", "[]")))
            self.schema = {
                "dataset": str(h5.attrs["dataset"]),
                "channels": int(self.shape[1]),
                "samples": int(self.shape[2]),
                "dt_ms": self.dt_ms,
                "instance_key": self.instance_key_name,
                "channel_key": self.channel_key_name,
                "datapoint_key": list(self.dp_names),
            }
        except BaseException:
            self.close()
            raise
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

    def source_move(self, block: int = 4096) -> float:
        """How far sources move between the instances of a datapoint, in receiver
        intervals: for each datapoint the largest spread (max - min) of a channel's
        ``SourceX`` over the datapoint's instances, median over datapoints with two
        instances or more, divided by the median spacing of ``GroupX`` along the
        channels. 0 where the store has no source and receiver coordinates (miniSEED,
        headers without coordinates) or the receivers do not move along the gather.
        Headers are read in blocks of instances (memory bounded by the datapoints)."""
        fields = self.header_fields
        if "SourceX" not in fields or "GroupX" not in fields or self.shape[1] < 2:
            return 0.0
        cols = sorted((fields.index("SourceX"), fields.index("GroupX")))
        js, jg = cols.index(fields.index("SourceX")), cols.index(fields.index("GroupX"))
        n_dp, c = len(self.dp_survey), self.shape[1]
        lo = np.full((n_dp, c), np.inf)
        hi = np.full((n_dp, c), -np.inf)
        spacing = []
        ds = self._file()["headers"]
        for a in range(0, self.shape[0], block):
            h = ds[a:a + block, :, cols].astype(np.float64)     # the two fields alone
            dp = self.datapoint[a:a + block]
            np.minimum.at(lo, dp, h[:, :, js])
            np.maximum.at(hi, dp, h[:, :, js])
            spacing.append(np.median(np.abs(np.diff(h[:, :, jg], axis=1)), axis=1))
        step = float(np.median(np.concatenate(spacing)))
        counts = np.bincount(self.datapoint, minlength=n_dp)
        spread = (hi - lo).max(axis=1)[counts >= 2]
        if step <= 0 or spread.size == 0:
            return 0.0
        return float(np.median(spread) / step)

    def datapoint_label(self, d: int) -> str:
        key = ",".join(f"{n}={v}" for n, v in zip(self.dp_names, self.dp_key[d].tolist()))
        return f"{self.surveys[self.dp_survey[d]]}" + (f":{key}" if key else "")

    def close(self) -> None:
        """Close this process's HDF5 handle (reads re-open it)."""
        if self._h5 is not None:
            if self._pid == os.getpid():
                self._h5.close()
            self._h5 = None

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
