"""Readers and writers: SEG-Y/SU (segyio), miniSEED (ObsPy), the HDF5 instance store."""

from .mseed import MseedError, read_mseed
from .segy import HEADER_FIELDS, SegyError, open_segy, read_segy, segy_info, write_segy
from .store import (
    StoreError,
    StoreReader,
    build_store,
    ensure_store,
    open_store,
    store_is_fresh,
    store_schema,
)

__all__ = [
    "HEADER_FIELDS", "SegyError", "open_segy", "read_segy", "segy_info", "write_segy",
    "MseedError", "read_mseed",
    "StoreError", "StoreReader", "build_store", "ensure_store", "open_store",
    "store_is_fresh", "store_schema",
]
