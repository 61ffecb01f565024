"""Truncated and foreign stores: one StoreError naming the file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from symae_seis.catalog import load_catalog
from symae_seis.ingest import build_store
from symae_seis.io import StoreError, open_store

from ..conftest import small_segy as _sgy
from ..conftest import write_catalog


def test_truncated_and_foreign_store(tmp_path):
    p = _sgy(tmp_path / "f.sgy")
    e = load_catalog(write_catalog(tmp_path, {"ds": {"surveys": {"s": str(p)}}}))["ds"]
    store = build_store(e)
    data = store.read_bytes()
    bad = tmp_path / "trunc.h5"
    bad.write_bytes(data[:4000])
    with pytest.raises(StoreError) as err:
        open_store(bad)
    assert str(bad) in str(err.value) and "truncated or corrupt" in str(err.value)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as h5:
        h5["x"] = np.zeros(3)
    with pytest.raises(StoreError) as err:
        open_store(foreign)
    assert str(foreign) in str(err.value) and "schema" in str(err.value)
