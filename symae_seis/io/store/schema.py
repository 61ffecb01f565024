"""The HDF5 instance store's schema: its layout, what a model depends on, and checks.

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
           textual_header (SEG-Y), schema_version, toolkit_version, model_schema (JSON)

Instances are stored in the order their first trace appears in the files, so a file
sorted by instance is written in large contiguous slabs. The contiguous layout (not one
chunk per instance as first designed) was measured faster to write and reads an instance
as one contiguous byte range; the store is not compressed.

The model schema (:func:`model_schema`) is what a model trained on the store depends on;
:func:`schema_mismatches` compares two of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ...errors import SymaeError
from ...typing import PathLike
from .geometry import position_binned
from .signature import signature_ripple

__all__ = [
    "SCHEMA_VERSION",
    "SCHEMA_KEYS",
    "StoreError",
    "open_h5",
    "schema_mismatches",
    "model_schema",
    "source_move",
]

SCHEMA_VERSION = 1


class StoreError(SymaeError):
    """An instance store is missing, truncated, stale or of another schema."""


def open_h5(path: PathLike) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"instance store {path} does not exist; build it with `symae-ingest DATASET`"
        )
    try:
        h5 = h5py.File(path, "r")
    except OSError as err:
        raise StoreError(
            f"{path}: not a readable HDF5 store (truncated or corrupt?): {err}"
        ) from None
    ver = h5.attrs.get("schema_version")
    if ver != SCHEMA_VERSION or "instances" not in h5:
        h5.close()
        raise StoreError(
            f"{path}: store schema {ver} is not {SCHEMA_VERSION}, or the store "
            "is incomplete; rebuild it with `symae-ingest DATASET --rebuild`"
        )
    return h5


#: Schema entries a model depends on: gather shape, sampling and how gathers were made.
SCHEMA_KEYS = ("channels", "samples", "dt_ms", "instance_key", "channel_key", "datapoint_key")


def schema_mismatches(
    expected: dict[str, Any],
    actual: dict[str, Any],
    *,
    labels: tuple[str, str] = ("expected", "actual"),
) -> list[str]:
    """``"key: <label0> X, <label1> Y"`` for every :data:`SCHEMA_KEYS` entry present in both
    that differs (an empty list: compatible). One rule for redatuming with a model and for
    resuming a checkpoint."""
    a, b = labels
    return [
        f"{k}: {a} {expected[k]}, {b} {actual[k]}"
        for k in SCHEMA_KEYS
        if k in expected and k in actual and expected[k] != actual[k]
    ]


def model_schema(h5: h5py.File) -> dict[str, Any]:
    """What a model trained on the open store ``h5`` depends on: gather shape, sampling,
    how gathers were made, how far sources move (``source_move``) and how much the
    source signatures ripple (``signature_ripple``,
    :func:`~symae_seis.io.store.signature.signature_ripple`). Written as the
    ``model_schema`` attribute at ingest; stores built before get it (or the entries
    they lack) computed here."""
    if "model_schema" in h5.attrs:
        schema = json.loads(h5.attrs["model_schema"])
        if "signature_ripple" not in schema:  # stores built before the entry
            schema["signature_ripple"] = _ripple(h5, schema.get("channel_key"))
        schema.setdefault("position_bin", position_binned(h5.attrs.get("catalog_entry")))
        return schema
    n, c, t = h5["instances"].shape
    fields = tuple(json.loads(h5["headers"].attrs.get("fields", "[]")))
    return {
        "dataset": str(h5.attrs["dataset"]),
        "channels": int(c),
        "samples": int(t),
        "dt_ms": float(h5.attrs["dt_ms"]),
        "instance_key": str(h5.attrs["instance_key_name"]),
        "channel_key": str(h5.attrs["channel_key_name"]),
        "datapoint_key": list(json.loads(h5["datapoints"].attrs["names"])),
        "source_move": round(
            source_move(h5["headers"], fields, h5["datapoint"][:], len(h5["datapoints/survey"])), 3
        ),
        "signature_ripple": _ripple(h5, str(h5.attrs["channel_key_name"])),
        "position_bin": position_binned(h5.attrs.get("catalog_entry")),
    }


def _ripple(h5: h5py.File, channel_key: str | None) -> float:
    """The store's signature ripple, 0.0 for miniSEED stores (no channel key: station
    pairs, whose models have no time terms and so never the signature terms)."""
    return round(signature_ripple(h5), 4) if channel_key else 0.0


def source_move(
    headers: h5py.Dataset,
    fields: tuple[str, ...],
    datapoint: np.ndarray,
    n_dp: int,
    block: int = 4096,
) -> float:
    """How far sources move past the receivers between the instances of a datapoint, in
    receiver intervals: for each datapoint and channel the spread (max - min) of
    ``SourceX - GroupX`` over the datapoint's instances; per datapoint the 10th percentile
    over channels (a source moving past fixed receivers moves every channel's offset
    alike; a towed streamer moves with its source, and feathering changes the far
    channels' offsets only); the median over datapoints with two instances or more,
    divided by the median spacing of ``GroupX`` along the channels. 0 where the store has
    no source and receiver coordinates (miniSEED, headers without coordinates) or the
    receivers do not move along the gather. Headers ``(N, C, F)`` are read in blocks of
    instances (memory bounded by the datapoints)."""
    c = headers.shape[1]
    if "SourceX" not in fields or "GroupX" not in fields or c < 2:
        return 0.0
    cols = sorted((fields.index("SourceX"), fields.index("GroupX")))
    js, jg = cols.index(fields.index("SourceX")), cols.index(fields.index("GroupX"))
    lo = np.full((n_dp, c), np.inf)
    hi = np.full((n_dp, c), -np.inf)
    spacing = []
    for a in range(0, headers.shape[0], block):
        h = headers[a : a + block, :, cols].astype(np.float64)  # the two fields alone
        dp = datapoint[a : a + block]
        rel = h[:, :, js] - h[:, :, jg]  # the source's position from the channel's receiver
        np.minimum.at(lo, dp, rel)
        np.maximum.at(hi, dp, rel)
        spacing.append(np.median(np.abs(np.diff(h[:, :, jg], axis=1)), axis=1))
    step = float(np.median(np.concatenate(spacing)))
    counts = np.bincount(datapoint, minlength=n_dp)
    spread = np.percentile(hi - lo, 10, axis=1)[counts >= 2]
    if step <= 0 or spread.size == 0:
        return 0.0
    return float(np.median(spread) / step)
