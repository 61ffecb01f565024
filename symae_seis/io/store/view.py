"""The store as a lazy ``xarray.Dataset`` (:func:`open_store`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from ...typing import PathLike
from .schema import open_h5

__all__ = ["open_store"]


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
    with open_h5(path) as h5:
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
    gathers = xr.Variable(
        ("instance", "channel", "time"),
        indexing.LazilyIndexedArray(_H5Array(path, "instances", (n, c, t), np.dtype("f4"))),
    )
    data_vars = {"gathers": gathers}
    if hshape[-1]:
        data_vars["headers"] = xr.Variable(
            ("instance", "channel", "field"),
            indexing.LazilyIndexedArray(_H5Array(path, "headers", hshape, np.dtype("i4"))),
        )
        coords["field"] = ("field", np.array(fields))
    attrs["path"] = str(path)
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
