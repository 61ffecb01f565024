"""The HDF5 instance store: its schema, writer and readers (an xarray view too).

The layout of the file is in :mod:`symae_seis.io.store.schema`.

Stores are built by :mod:`symae_seis.ingest` (which knows the catalog) through
:class:`StoreWriter` and :func:`write_tables` (``writer``), which also store the model
schema (``schema``: what a model depends on, ``source_move`` included, computed once);
they are read with :class:`StoreReader` (``reader``: a context manager; what the
DataLoader uses, opening HDF5 lazily per worker) or :func:`open_store` (``view``: a lazy
``xarray.Dataset``).
"""

from .reader import StoreReader, store_schema
from .schema import SCHEMA_KEYS, SCHEMA_VERSION, StoreError, schema_mismatches
from .view import open_store
from .writer import StoreWriter, write_tables

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
