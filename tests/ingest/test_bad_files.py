"""Hostile SEG-Y and miniSEED files: each gets one clear error of the right type, naming
the file and the problem, and the ingest leaves no partial store behind."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import obspy
import pytest
import segyio

from symae_seis.catalog import load_catalog
from symae_seis.ingest import build_store
from symae_seis.io import MseedError, SegyError, open_store, write_segy

from ..conftest import leftovers, write_catalog
from ..conftest import small_segy as _sgy

MSEED_DATA = Path(obspy.__file__).parent / "io" / "mseed" / "tests" / "data"


def _patch(path: Path, offset: int, fmt: str, value) -> Path:
    raw = bytearray(path.read_bytes())
    raw[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
    path.write_bytes(bytes(raw))
    return path


def _mseed(path: Path, traces: list[obspy.Trace]) -> Path:
    obspy.Stream(traces).write(str(path), format="MSEED")
    return path


def _tr(station="A", channel="HHZ", n=400, sr=10.0, start=0.0, offset=0.0):
    tr = obspy.Trace(
        np.arange(n, dtype=np.float32) + offset,
        header={"sampling_rate": sr, "station": station, "channel": channel},
    )
    tr.stats.starttime += start
    return tr


# ---------------------------------------------------------------- SEG-Y cases
def seg_truncated(d):
    p = _sgy(d / "f.sgy")
    p.write_bytes(p.read_bytes()[:-30])
    return {"surveys": {"s": str(p)}}, p, ["not a whole number of traces", "truncated"]


def seg_samples_disagree(d):
    return (
        {"surveys": {"s": str(_patch(_sgy(d / "f.sgy"), 3220, ">H", 21))}},
        d / "f.sgy",
        ["binary header says 21", "trace headers say 20"],
    )


def seg_zero_traces(d):
    p = _sgy(d / "f.sgy")
    p.write_bytes(p.read_bytes()[:3600])
    return {"surveys": {"s": str(p)}}, p, ["no traces"]


def seg_format4(d):
    return (
        {"surveys": {"s": str(_patch(_sgy(d / "f.sgy"), 3224, ">H", 4))}},
        d / "f.sgy",
        ["format code 4", "not supported"],
    )


def seg_format_garbage(d):
    return (
        {"surveys": {"s": str(_patch(_sgy(d / "f.sgy"), 3224, ">H", 777))}},
        d / "f.sgy",
        ["format code is 777", "is this a SEG-Y file"],
    )


def seg_ext_headers_variable(d):
    return (
        {"surveys": {"s": str(_patch(_sgy(d / "f.sgy"), 3504, ">h", -1))}},
        d / "f.sgy",
        ["extended textual headers", "variable count"],
    )


def seg_not_segy(d):
    p = d / "f.sgy"
    p.write_bytes(b"#!/bin/sh\necho this is not seismic\n" * 200)
    return {"surveys": {"s": str(p)}}, p, ["not a SEG-Y format"]


def seg_tiny(d):
    p = d / "f.sgy"
    p.write_bytes(b"\x00" * 1000)
    return {"surveys": {"s": str(p)}}, p, ["too short"]


def seg_duplicate_instances(d):
    a, b = _sgy(d / "a.sgy"), _sgy(d / "b.sgy")
    return {"surveys": {"s": [str(a), str(b)]}}, b, ["FieldRecord=1", "also appears in"]


def seg_nan(d):
    p = _sgy(d / "f.sgy")
    with segyio.open(p, "r+", ignore_geometry=True) as f:
        t = f.trace[5]
        t[3] = np.nan
        f.trace[5] = t
    return {"surveys": {"s": str(p)}}, p, ["trace 5 has NaN or Inf"]


def seg_inf(d):
    p = _sgy(d / "f.sgy")
    with segyio.open(p, "r+", ignore_geometry=True) as f:
        t = f.trace[6]
        t[0] = -np.inf
        f.trace[6] = t
    return {"surveys": {"s": str(p)}}, p, ["trace 6 has NaN or Inf"]


def seg_unequal(d):
    p = _sgy(d / "f.sgy", fr=[1, 1, 1, 1, 2, 2, 2, 3])
    return {"surveys": {"s": str(p)}}, p, ["FieldRecord=2 has 3 traces", "unequal_gathers: pad"]


def seg_datapoint_varies(d):
    p = _sgy(d / "f.sgy", CDP=np.arange(8))
    return (
        {"surveys": {"s": str(p)}, "datapoint_key": ["CDP"]},
        p,
        ["datapoint key CDP varies inside instance FieldRecord=1"],
    )


def seg_window_too_long(d):
    p = _sgy(d / "f.sgy")
    return {"surveys": {"s": str(p)}, "window_ms": [0, 5000]}, p, ["ends after the last sample"]


def seg_mixed_intervals(d):
    a = _sgy(d / "a.sgy")
    x = np.zeros((4, 20), dtype=np.float32) + 1
    b = write_segy(d / "b.sgy", x, {"FieldRecord": 9, "offset": [10, 20, 30, 40]}, 2000)
    return {"surveys": {"s": [str(a), str(b)]}}, b, ["sample interval 2000 us differs"]


# ---------------------------------------------------------------- miniSEED cases
def ms_gap(d):
    a, b = _tr(n=150), _tr(n=200, start=20.0)
    p = _mseed(d / "g.mseed", [a, b])
    return {"format": "mseed", "surveys": {"s": str(p)}, "window_s": 40}, p, ["has a gap of"]


def ms_real_gaps(d):
    p = MSEED_DATA / "gaps.mseed"
    return {"format": "mseed", "surveys": {"s": str(p)}, "window_s": 4}, p, ["has a gap of"]


def ms_overlap(d):
    p = _mseed(d / "o.mseed", [_tr(n=100), _tr(n=100, start=5.0, offset=1000)])
    return (
        {"format": "mseed", "surveys": {"s": str(p)}, "window_s": 5},
        p,
        ["overlapping records with different samples"],
    )


def ms_mixed_rates(d):
    p = _mseed(d / "m.mseed", [_tr("A", sr=10.0), _tr("B", sr=20.0, n=800)])
    return (
        {"format": "mseed", "surveys": {"s": str(p)}, "window_s": 5},
        p,
        ["mixed sampling rates", "resample_hz"],
    )


def ms_missing_component(d):
    a = _mseed(d / "a.mseed", [_tr("A"), _tr("B")])
    b = _mseed(d / "b.mseed", [_tr("A", start=86400.0)])
    return (
        {"format": "mseed", "surveys": {"x": str(a), "y": str(b)}, "window_s": 10},
        b,
        ["stream .B..HHZ", "is missing"],
    )


def ms_empty(d):
    p = d / "e.mseed"
    p.write_bytes(b"")
    return {"format": "mseed", "surveys": {"s": str(p)}, "window_s": 5}, p, ["empty file"]


def ms_not_mseed(d):
    p = MSEED_DATA / "not.mseed"
    return (
        {"format": "mseed", "surveys": {"s": str(p)}, "window_s": 5},
        p,
        ["not readable as miniSEED"],
    )


def ms_nan(d):
    tr = _tr()
    tr.data[10] = np.nan
    p = _mseed(d / "n.mseed", [tr])
    return {"format": "mseed", "surveys": {"s": str(p)}, "window_s": 5}, p, ["NaN or Inf"]


def ms_no_stream(d):
    p = _mseed(d / "s.mseed", [_tr()])
    return (
        {"format": "mseed", "surveys": {"s": str(p)}, "window_s": 5, "streams": ["IU.*"]},
        p,
        ["no stream matches", "'.A..HHZ'"],
    )


INGEST_CASES = {
    f.__name__: f
    for f in [
        seg_truncated,
        seg_samples_disagree,
        seg_zero_traces,
        seg_format4,
        seg_format_garbage,
        seg_ext_headers_variable,
        seg_not_segy,
        seg_tiny,
        seg_duplicate_instances,
        seg_nan,
        seg_inf,
        seg_unequal,
        seg_datapoint_varies,
        seg_window_too_long,
        seg_mixed_intervals,
        ms_gap,
        ms_real_gaps,
        ms_overlap,
        ms_mixed_rates,
        ms_missing_component,
        ms_empty,
        ms_not_mseed,
        ms_nan,
        ms_no_stream,
    ]
}


@pytest.mark.parametrize("case", sorted(INGEST_CASES))
def test_malformed_files_fail_cleanly(case, tmp_path):
    raw, culprit, parts = INGEST_CASES[case](tmp_path)
    expected = SegyError if case.startswith("seg_") else MseedError
    store = tmp_path / "stores" / "ds.h5"
    e = load_catalog(write_catalog(tmp_path, {"ds": {**raw, "store": str(store)}}))["ds"]
    with pytest.raises(expected) as err:
        build_store(e)
    msg = str(err.value)
    assert str(culprit) in msg or culprit.name in msg, msg
    for p in parts:
        assert p in msg, (p, msg)
    assert type(err.value) is expected
    assert not store.exists()
    assert not store.parent.exists() or leftovers(store.parent) == []


# ---------------------------------------------------------------- accepted with a policy
def test_little_endian_and_dead_traces_are_accepted(tmp_path):
    x = np.random.default_rng(0).normal(size=(8, 16)).astype(np.float32)
    x[2] = 0.0  # a dead (all-zero) trace
    spec = segyio.spec()
    spec.samples, spec.tracecount, spec.format, spec.endian = np.arange(16) * 4.0, 8, 5, "little"
    p = tmp_path / "le.sgy"
    with segyio.create(str(p), spec) as f:
        f.trace.raw[:] = x
        f.bin.update(hdt=4000, hns=16)
        for i in range(8):
            f.header[i] = {
                segyio.TraceField.FieldRecord: 1 + i // 4,
                segyio.TraceField.offset: 10 * (i % 4),
            }
    e = load_catalog(write_catalog(tmp_path, {"ds": {"surveys": {"s": str(p)}}}))["ds"]
    ds = open_store(build_store(e))
    np.testing.assert_array_equal(ds.gathers.values.reshape(8, 16), x)
    assert ds.live.values.sum() == 7 and not ds.live.values[0, 2]


# ---------------------------------------------------------------- catalogs
