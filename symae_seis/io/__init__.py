"""Formats and the store: SEG-Y/SU (segyio) read and write, miniSEED read (ObsPy), the
HDF5 instance store's schema, writer and readers, atomic writes. Building a store from
a catalog dataset is :mod:`symae_seis.ingest`'s job; ``io`` never imports the catalog.

Names are imported on first use (PEP 562), so that ``symae_seis.io.atomic`` (used by the
model files) does not load segyio, ObsPy and h5py.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "atomic_path": "atomic",
    "MseedError": "mseed",
    "read_mseed": "mseed",
    "HEADER_FIELDS": "segy",
    "SegyError": "segy",
    "open_segy": "segy",
    "read_segy": "segy",
    "segy_info": "segy",
    "SegyWriter": "segy_write",
    "write_segy": "segy_write",
    "StoreError": "store",
    "StoreReader": "store",
    "open_store": "store",
    "schema_mismatches": "store",
    "store_schema": "store",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))
