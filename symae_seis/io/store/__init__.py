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
