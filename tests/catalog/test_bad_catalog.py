"""Malformed catalogs: one CatalogError naming the dataset and the key."""

from __future__ import annotations

import pytest

from symae_seis.catalog import CatalogError, load_catalog
from symae_seis.ingest import build_store

from ..conftest import write_catalog

CATALOG_CASES = {
    "typo": ({"surveys": {"s": "a.sgy"}, "chanel_key": "offset"}, ["unknown key 'chanel_key'"]),
    "wrong_type": (
        {"format": "mseed", "surveys": {"s": "a.mseed"}, "window_s": "ten"},
        ["window_s must be a positive number"],
    ),
    "not_a_header": (
        {"surveys": {"s": "a.sgy"}, "instance_key": "ShotID"},
        ["'ShotID' is not a SEG-Y trace header field"],
    ),
    "bad_window": ({"surveys": {"s": "a.sgy"}, "window_ms": [0]}, ["window_ms"]),
    "bad_low_cut": (
        {"surveys": {"s": "a.sgy"}, "low_cut_hz": -8},
        ["low_cut_hz must be a positive number"],
    ),
    "nan_low_cut": (
        {"surveys": {"s": "a.sgy"}, "low_cut_hz": float("nan")},
        ["low_cut_hz must be a positive number"],
    ),
    "low_cut_on_mseed": (
        {"format": "mseed", "surveys": {"s": "a.mseed"}, "low_cut_hz": 8},
        ["unknown key 'low_cut_hz'"],
    ),
}


@pytest.mark.parametrize("case", sorted(CATALOG_CASES))
def test_malformed_catalogs(case, tmp_path):
    raw, parts = CATALOG_CASES[case]
    path = write_catalog(tmp_path, {"ds": raw})
    with pytest.raises(CatalogError) as err:
        load_catalog(path, strict=True)
    for p in [str(path), "'ds'", *parts]:
        assert p in str(err.value)


@pytest.mark.parametrize(
    "surveys, parts",
    [
        ({"s": "missing.sgy"}, ["missing.sgy", "does not exist"]),
        ({"s": "nothing_*.sgy"}, ["nothing_*.sgy", "matches no file"]),
    ],
)
def test_catalog_files_missing(tmp_path, surveys, parts):
    e = load_catalog(write_catalog(tmp_path, {"ds": {"surveys": surveys}}))["ds"]
    with pytest.raises(CatalogError) as err:
        build_store(e)
    for p in ["'ds'", *parts]:
        assert p in str(err.value)
    assert not e.store.exists()


def test_invalid_yaml(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("datasets:\n  ds: {surveys: [\n")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(p)


# ---------------------------------------------------------------- stores and checkpoints
