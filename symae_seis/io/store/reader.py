"""Reading a store: :class:`StoreReader`, random access to instances and tables (what
the DataLoader uses, opening HDF5 lazily per worker)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ...typing import PathLike
from .geometry import bin_positions, position_binned
from .schema import model_schema, open_h5

__all__ = ["StoreReader", "store_schema"]


def store_schema(path: PathLike) -> dict[str, Any]:
    """What a model trained on this store depends on (see
    :func:`~symae_seis.io.store.schema_mismatches`)."""
    with StoreReader(path) as reader:
        return reader.schema


class StoreReader:
    """Random access to instances and the store's tables, through one HDF5 handle per
    process (opened here, re-opened lazily in a DataLoader worker after pickling).

    A context manager: ``with StoreReader(path) as reader: ...`` closes the handle.
    ``schema`` is what a model trained on the store depends on.
    """

    def __init__(self, path: PathLike):
        self.path = Path(path)
        h5 = open_h5(self.path)
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
            #: the catalog dataset the store was ingested from
            self.dataset = str(h5.attrs.get("dataset", ""))
            self.instance_key_name = str(h5.attrs["instance_key_name"])
            self.channel_key_name = str(h5.attrs["channel_key_name"])
            self.n_header_fields = int(h5["headers"].shape[-1])
            self.header_fields = tuple(json.loads(h5["headers"].attrs.get("fields", "[]")))
            #: channel names of miniSEED stores (stream ids, or "a|b" station pairs)
            self.channel_names = tuple(json.loads(h5.attrs.get("channels", "[]")))
            entry = json.loads(h5.attrs.get("catalog_entry", "{}") or "{}")
            #: SourceX bin size (m) where datapoints are bins of source position, else None
            self.position_bin = position_binned(entry)
            #: the zero-phase low-cut (Hz) applied to every trace at ingest, else None
            self.low_cut_hz = entry.get("low_cut_hz")
            self._schema: dict[str, Any] | None = None
        except BaseException:
            self.close()
            raise
        order = np.argsort(self.datapoint, kind="stable")
        bounds = np.searchsorted(self.datapoint[order], np.arange(len(self.dp_survey) + 1))
        self.members = [order[bounds[d] : bounds[d + 1]] for d in range(len(self.dp_survey))]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_h5"] = None
        return state

    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = open_h5(self.path)
            self._pid = os.getpid()
        return self._h5

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Instances at ``rows`` (any order, repeats allowed) as ``(len(rows), C, T)``."""
        rows = np.asarray(rows)
        uniq, inv = np.unique(rows, return_inverse=True)
        ds = self._file()["instances"]
        if uniq.size and uniq[-1] - uniq[0] + 1 == uniq.size:
            data = ds[int(uniq[0]) : int(uniq[-1]) + 1]
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

    @property
    def schema(self) -> dict[str, Any]:
        """What a model trained on the store depends on: stored at ingest; for stores
        built before, computed on first use (a pass over two header fields; rebuild the
        store with ``symae-ingest --rebuild`` to store it)."""
        if self._schema is None:
            self._schema = model_schema(self._file())
        return self._schema

    def source_move(self) -> float:
        """How far sources move between the instances of a datapoint, in receiver
        intervals (:func:`~symae_seis.io.store.schema.source_move`): stored at ingest,
        measured here for stores built before."""
        return float(self.schema["source_move"])

    def geometry(self, rows: np.ndarray) -> np.ndarray | None:
        """Known geometry ``(len(rows), 1)`` of the instances at ``rows``: each shot's
        position in its bin (:func:`~symae_seis.io.store.geometry.bin_positions`); None
        where datapoints are not bins of source position."""
        return bin_positions(self, rows)

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
