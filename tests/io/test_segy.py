"""SEG-Y/SU reading and writing: round trips, independent writers, real files, bad files."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import segyio

from symae_seis.io.segy import HEADER_FIELDS, SegyError, read_segy, segy_info
from symae_seis.io.segy_write import write_segy

from ..conftest import assert_message, leftovers


def _traces(n=12, ns=50, seed=0):
    return np.random.default_rng(seed).normal(size=(n, ns)).astype(np.float32)


def _headers(n):
    return {
        "FieldRecord": np.repeat([7, 8, 9], n // 3),
        "offset": np.tile([100, 200, 300, 400], n // 4),
        "CDP": 5,
        "SourceX": np.arange(n) * 25,
        "TraceNumber": np.arange(1, n + 1),
    }


def test_write_read_round_trip_is_identical(tmp_path):
    x = _traces()
    p1 = write_segy(tmp_path / "a.sgy", x, _headers(12), 2000)
    y, h, info = read_segy(p1)
    np.testing.assert_array_equal(y, x)
    assert info.dt_us == 2000 and info.tracecount == 12 and info.samples == 50
    col = {f: h[:, i] for i, f in enumerate(HEADER_FIELDS)}
    np.testing.assert_array_equal(col["FieldRecord"], np.repeat([7, 8, 9], 4))
    np.testing.assert_array_equal(col["SourceX"], np.arange(12) * 25)
    assert (col["TRACE_SAMPLE_COUNT"] == 50).all()
    # read -> write -> read: every header field and sample identical
    p2 = write_segy(tmp_path / "b.sgy", y, h, info.dt_us)
    y2, h2, _ = read_segy(p2)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(h2, h)


def test_writer_refuses_to_overwrite_and_is_atomic(tmp_path):
    p = write_segy(tmp_path / "a.sgy", _traces(), _headers(12), 2000)
    before = p.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        write_segy(p, _traces(seed=1), _headers(12), 2000)
    bad = _traces()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="trace 3 has NaN"):
        write_segy(p, bad, _headers(12), 2000, overwrite=True)
    assert p.read_bytes() == before and leftovers(tmp_path) == []


def test_reads_segy_written_by_obspy_ibm_and_ieee(tmp_path):
    from obspy import Stream, Trace
    from obspy.core import AttribDict
    from obspy.io.segy.segy import SEGYBinaryFileHeader, SEGYTraceHeader

    x = _traces(6, 40) * 100
    for enc in (1, 5):  # IBM float, IEEE float
        st = Stream()
        for i in range(6):
            tr = Trace(data=x[i].copy())
            tr.stats.delta = 0.004
            tr.stats.segy = AttribDict()
            th = SEGYTraceHeader()
            th.original_field_record_number = 40 + i // 3
            th.ensemble_number = 900 + i
            th.distance_from_center_of_the_source_point_to_the_center_of_the_receiver_group = 50 * (
                i % 3
            )
            tr.stats.segy.trace_header = th
            st.append(tr)
        st.stats = AttribDict()
        st.stats.textual_file_header = b"C 1 written by obspy".ljust(3200)
        st.stats.binary_file_header = SEGYBinaryFileHeader()
        path = tmp_path / f"obspy_{enc}.sgy"
        st.write(str(path), format="SEGY", data_encoding=enc)
        y, h, info = read_segy(path)
        assert info.format == enc and info.dt_us == 4000
        tol = 1e-6 if enc == 5 else 1e-5  # IBM keeps 24 bits of mantissa
        np.testing.assert_allclose(y, x, rtol=tol, atol=tol * 100)
        col = {f: h[:, i] for i, f in enumerate(HEADER_FIELDS)}
        np.testing.assert_array_equal(col["FieldRecord"], [40, 40, 40, 41, 41, 41])
        np.testing.assert_array_equal(col["CDP"], 900 + np.arange(6))
        np.testing.assert_array_equal(col["offset"], [0, 50, 100] * 2)


def test_reads_real_structured_f3_like_segyio(real_data):
    path = real_data / "f3.sgy"
    y, h, info = read_segy(path)
    with segyio.open(path) as f:  # structured read, straight segyio
        ref = segyio.tools.collect(f.trace[:])
        il = f.attributes(segyio.TraceField.INLINE_3D)[:]
    assert info.format == 3 and info.tracecount == 414 and info.samples == 75
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(h[:, HEADER_FIELDS.index("INLINE_3D")], il)


def test_reads_real_su_files(real_data):
    y, h, info = read_segy(real_data / "gom_cdp_nmo.su")
    assert info.su and (info.tracecount, info.samples, info.dt_us) == (92, 1751, 4000)
    assert np.isfinite(y).all() and np.abs(y).max() > 0
    y2, _, info2 = read_segy(real_data / "cdp700.su")
    assert (info2.tracecount, info2.samples, info2.dt_us) == (24, 1100, 2000)
    offs = _[:, HEADER_FIELDS.index("offset")]
    assert (offs < 0).any() and (offs > 0).any()  # split spread


def test_reads_obspy_shipped_segy_fragment():
    import obspy

    folder = Path(obspy.__file__).parent / "io" / "segy" / "tests" / "data"
    path = folder / "one_trace_year_11.sgy"
    y, _, info = read_segy(path)
    ref = np.load(str(path) + ".npy")
    np.testing.assert_allclose(y[0], ref.reshape(-1).astype(np.float32), rtol=1e-6)


def test_little_endian_detected(tmp_path):
    x = _traces(4, 30)
    spec = segyio.spec()
    spec.samples, spec.tracecount, spec.format, spec.endian = np.arange(30) * 2.0, 4, 5, "little"
    p = tmp_path / "le.sgy"
    with segyio.create(str(p), spec) as f:
        f.trace.raw[:] = x
        f.bin.update(hdt=2000, hns=30)
    y, _, info = read_segy(p)
    assert info.endian == "little"
    np.testing.assert_array_equal(y, x)


def _good_file(tmp_path, n=6, ns=20):
    return write_segy(
        tmp_path / "g.sgy",
        _traces(n, ns),
        _headers(n if n % 12 == 0 else 12) if n == 12 else {"FieldRecord": 1},
        4000,
    )


def test_truncated_file(tmp_path):
    p = _good_file(tmp_path)
    data = p.read_bytes()
    p.write_bytes(data[:-17])
    with pytest.raises(SegyError) as err:
        read_segy(p)
    assert_message(err, str(p), "not a whole number of traces", "truncated")


def test_binary_and_trace_sample_counts_disagree(tmp_path):
    p = _good_file(tmp_path)
    raw = bytearray(p.read_bytes())
    raw[3220:3222] = struct.pack(">H", 21)  # binary header: 21 samples, traces say 20
    p.write_bytes(bytes(raw))
    with pytest.raises(SegyError) as err:
        read_segy(p)
    assert_message(err, str(p), "says 21 samples", "say 20", "inconsistent")


def test_unsupported_format_and_not_segy(tmp_path):
    p = _good_file(tmp_path)
    raw = bytearray(p.read_bytes())
    raw[3224:3226] = struct.pack(">H", 4)
    p.write_bytes(bytes(raw))
    with pytest.raises(SegyError) as err:
        read_segy(p)
    assert_message(err, str(p), "format code 4", "not supported")
    q = tmp_path / "text.sgy"
    q.write_bytes(b"hello" * 1000)
    with pytest.raises(SegyError) as err:
        read_segy(q)
    assert_message(err, str(q), "not a SEG-Y format")


def test_headers_only_and_tiny_files(tmp_path):
    p = _good_file(tmp_path)
    q = tmp_path / "empty.sgy"
    q.write_bytes(p.read_bytes()[:3600])
    with pytest.raises(SegyError) as err:
        segy_info(q)
    assert_message(err, str(q), "no traces")
    r = tmp_path / "short.sgy"
    r.write_bytes(b"\0" * 100)
    with pytest.raises(SegyError) as err:
        segy_info(r)
    assert_message(err, str(r), "too short")
    with pytest.raises(FileNotFoundError):
        segy_info(tmp_path / "absent.sgy")


def test_extended_textual_headers_are_skipped(tmp_path):
    x = _traces(3, 16)
    spec = segyio.spec()
    spec.samples, spec.tracecount, spec.format, spec.ext_headers = np.arange(16) * 4.0, 3, 5, 1
    p = tmp_path / "ext.sgy"
    with segyio.create(str(p), spec) as f:
        f.trace.raw[:] = x
        f.bin.update(hdt=4000, hns=16, exth=1)
    assert os.path.getsize(p) == 3600 + 3200 + 3 * (240 + 64)
    y, _, info = read_segy(p)
    np.testing.assert_array_equal(y, x)
