"""Formats and the store: SEG-Y/SU (segyio) read and write, miniSEED read (ObsPy), the
HDF5 instance store's schema, writer and readers, atomic writes. Building a store from
a catalog dataset is :mod:`symae_seis.ingest`'s job; ``io`` never imports the catalog."""

from .atomic import atomic_path
from .mseed import MseedError, read_mseed
from .segy import HEADER_FIELDS, SegyError, open_segy, read_segy, segy_info
from .segy_write import SegyWriter, write_segy
from .store import (
    StoreError,
    StoreReader,
    open_store,
    schema_mismatches,
    store_schema,
)

__all__ = [
    "HEADER_FIELDS", "SegyError", "open_segy", "read_segy", "segy_info", "write_segy",
    "SegyWriter",
    "MseedError", "read_mseed", "atomic_path",
    "StoreError", "StoreReader", "open_store", "schema_mismatches", "store_schema",
]
