"""Time and geometry: every input time axis read right or refused, every output sample at
the time it was recorded (as segyio, ObsPy and the NetCDF read it back), field
conventions of the outputs. Each case is a file written for it by segyio or ObsPy."""

from __future__ import annotations

import csv
import struct

import numpy as np
import pytest
import segyio
import xarray as xr

from symae_seis.errors import SymaeWarning
from symae_seis.ingest import build_store
from symae_seis.io import SegyError, StoreReader, read_segy, segy_info
from symae_seis.io.segy import HEADER_FIELDS, delay_ms
from symae_seis.io.segy_write import delay_fields
from symae_seis.io.store import store_schema
from symae_seis.models import SymAE
from symae_seis.redatum import redatum

from ..conftest import assert_message, entry

C, NS = 4, 50


def _gathers(n_shot: int, ns: int = NS, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_shot * C, ns)).astype(np.float32)


def _segyio_file(path, x, *, dt_us=4000, delay=0, scalar=0, bin_dt=None, fr0=1, cdp=None, fmt=5):
    """A SEG-Y file written by segyio with exactly the time headers asked for."""
    n = x.shape[0] // C
    spec = segyio.spec()
    spec.samples = np.arange(x.shape[1])
    spec.tracecount = x.shape[0]
    spec.format = fmt
    with segyio.create(str(path), spec) as f:
        f.bin.update(hdt=dt_us if bin_dt is None else 0, hns=x.shape[1])
        for i in range(x.shape[0]):
            f.header[i] = {
                segyio.TraceField.FieldRecord: fr0 + i // C,
                segyio.TraceField.offset: 100 * (1 + i % C),
                segyio.TraceField.CDP: (fr0 + i // C) if cdp is None else cdp[i // C],
                segyio.TraceField.TRACE_SAMPLE_COUNT: x.shape[1],
                segyio.TraceField.TRACE_SAMPLE_INTERVAL: dt_us,
                segyio.TraceField.DelayRecordingTime: delay,
                segyio.TraceField.ScalarTraceHeader: scalar,
            }
            f.trace[i] = x[i]
    if bin_dt is not None:  # a value segyio's bin.update would not write
        b = bytearray(path.read_bytes())
        b[3216:3218] = struct.pack(">h", bin_dt)
        path.write_bytes(bytes(b))
    assert n >= 1
    return path


def _store(tmp_path, files: dict, **raw):
    e = entry(
        tmp_path, "t", surveys={k: str(v) for k, v in files.items()}, datapoint_key=["CDP"], **raw
    )
    return build_store(e), e


# --------------------------------------------------------------------------- input axes


def test_delay_scalar_applied_as_segyio_does(tmp_path):
    x = _gathers(3)
    p = _segyio_file(tmp_path / "s.sgy", x, delay=10000, scalar=-10)
    with segyio.open(str(p), ignore_geometry=True) as f:
        expected = f.samples[0]
    assert expected == 1000.0
    assert segy_info(p).delay_ms == 1000.0
    store, _ = _store(tmp_path, {"b": p})
    assert StoreReader(store).t0_ms == 1000.0
    # a positive scalar multiplies; 0 means 1
    assert delay_ms(25, 4) == 100.0 and delay_ms(25, 0) == 25.0


def test_obspy_written_delay_and_scalar_read_right(tmp_path):
    """ObsPy as an independent writer: delay 1005 with scalar -10 is 100.5 ms."""
    from obspy import Stream, Trace
    from obspy.core import AttribDict
    from obspy.io.segy.segy import SEGYBinaryFileHeader, SEGYTraceHeader

    x = _gathers(2)
    st = Stream()
    for i, row in enumerate(x):
        tr = Trace(row)
        tr.stats.delta = 0.002
        th = SEGYTraceHeader()
        th.original_field_record_number = 1 + i // C
        th.distance_from_center_of_the_source_point_to_the_center_of_the_receiver_group = 50 * (
            1 + i % C
        )
        th.ensemble_number = 7
        th.delay_recording_time = 1005
        th.scalar_to_be_applied_to_times = -10
        tr.stats.segy = AttribDict(trace_header=th)
        st.append(tr)
    st.stats = AttribDict(
        textual_file_header=b"C 1 written by ObsPy".ljust(3200),
        binary_file_header=SEGYBinaryFileHeader(),
        textual_file_header_encoding="ASCII",
    )
    st.stats.binary_file_header.number_of_samples_per_data_trace = NS
    st.stats.binary_file_header.sample_interval_in_microseconds = 2000
    p = tmp_path / "obspy.sgy"
    st.write(str(p), format="SEGY", data_encoding=5, byteorder=">")
    info = segy_info(p)
    assert (info.delay_ms, info.dt_us) == (100.5, 2000)
    store, _ = _store(tmp_path, {"b": p})
    r = StoreReader(store)
    assert r.t0_ms == 100.5 and r.dt_ms == 2.0


def test_different_delays_refused_or_aligned(tmp_path):
    xa, xb = _gathers(2, seed=1), _gathers(2, seed=2)
    a = _segyio_file(tmp_path / "a.sgy", xa, delay=0)
    b = _segyio_file(tmp_path / "b.sgy", xb, delay=20, fr0=11)  # starts 5 samples later
    with pytest.raises(SegyError) as err:
        _store(tmp_path, {"base": a, "mon": b})
    assert_message(err, "a.sgy", "b.sgy", "time_axes: align", "20 ms", "0 ms")
    store, _ = _store(tmp_path, {"base": a, "mon": b}, time_axes="align")
    r = StoreReader(store)
    assert r.t0_ms == 20.0 and r.shape[-1] == NS - 5
    # the same recording time holds the same file sample in both surveys
    got = r.read(np.arange(r.shape[0]))
    base_rows = np.flatnonzero(r.survey == r.surveys.index("base"))
    np.testing.assert_array_equal(got[base_rows[0]], xa[:C, 5:])
    mon_rows = np.flatnonzero(r.survey == r.surveys.index("mon"))
    np.testing.assert_array_equal(got[mon_rows[0]], xb[:C, : NS - 5])


def test_different_sample_counts_not_cropped_silently(tmp_path):
    a = _segyio_file(tmp_path / "a.sgy", _gathers(2, NS))
    b = _segyio_file(tmp_path / "b.sgy", _gathers(2, NS - 10), fr0=11)
    with pytest.raises(SegyError) as err:
        _store(tmp_path, {"base": a, "mon": b})
    assert_message(err, "a.sgy", "b.sgy", f"{NS} samples", f"{NS - 10} samples", "time_axes")
    with pytest.warns(SymaeWarning, match="time_axes: align keeps"):
        store, _ = _store(tmp_path, {"base": a, "mon": b}, time_axes="align")
    assert StoreReader(store).shape[-1] == NS - 10


def test_delay_off_the_sample_grid_refused(tmp_path):
    a = _segyio_file(tmp_path / "a.sgy", _gathers(2))
    b = _segyio_file(tmp_path / "b.sgy", _gathers(2), delay=3, fr0=11)
    with pytest.raises(SegyError) as err:
        _store(tmp_path, {"base": a, "mon": b}, time_axes="align")
    assert_message(err, "b.sgy", "sample grid")


def test_negative_binary_interval_uses_trace_headers(tmp_path):
    p = _segyio_file(tmp_path / "n.sgy", _gathers(2), dt_us=4000, bin_dt=-2)
    with segyio.open(str(p), ignore_geometry=True) as f:
        assert segyio.tools.dt(f) == 4000
    assert segy_info(p).dt_us == 4000
    store, _ = _store(tmp_path, {"b": p})
    assert StoreReader(store).dt_ms == 4.0


@pytest.mark.parametrize("dt_us", [250, 1500, 3125])
def test_odd_sample_intervals_read(tmp_path, dt_us):
    p = _segyio_file(tmp_path / "o.sgy", _gathers(2), dt_us=dt_us)
    store, _ = _store(tmp_path, {"b": p})
    assert StoreReader(store).dt_ms == dt_us / 1000


def test_delay_varying_inside_a_file_refused(tmp_path):
    p = _segyio_file(tmp_path / "v.sgy", _gathers(2))
    with segyio.open(str(p), "r+", ignore_geometry=True) as f:
        f.header[5] = {segyio.TraceField.DelayRecordingTime: 8}
    with pytest.raises(SegyError) as err:
        _store(tmp_path, {"b": p})
    assert_message(err, "v.sgy", "trace 5", "8 ms", "one time axis")


# --------------------------------------------------------------------------- headers


def test_headers_holding_samples_refused(tmp_path):
    """Trace headers overwritten with float sample bytes: refuse, with the reason."""
    x = _gathers(2)
    p = _segyio_file(tmp_path / "h.sgy", x)
    b = bytearray(p.read_bytes())
    trace_bytes = 240 + 4 * NS
    for i in range(1, x.shape[0]):
        o = 3600 + i * trace_bytes
        b[o : o + 240] = np.full(60, 3.0, dtype=">f4").tobytes()
    p.write_bytes(bytes(b))
    with pytest.raises(SegyError) as err:
        _store(tmp_path, {"b": p})
    assert_message(err, "h.sgy", "trace 1", "not plausible")


def test_implausible_key_values_refused(tmp_path):
    p = _segyio_file(tmp_path / "k.sgy", _gathers(2))
    with segyio.open(str(p), "r+", ignore_geometry=True) as f:
        f.header[2] = {segyio.TraceField.CDP: 1077936285}
    with pytest.raises(SegyError) as err:
        _store(tmp_path, {"b": p})
    assert_message(err, "k.sgy", "trace 2", "CDP=1077936285", "plausible")


def test_constant_instance_key_warns(tmp_path):
    x = _gathers(2)
    p = _segyio_file(tmp_path / "c.sgy", x, cdp=[3, 3])
    with segyio.open(str(p), "r+", ignore_geometry=True) as f:
        for i in range(f.tracecount):
            f.header[i] = {segyio.TraceField.FieldRecord: 42, segyio.TraceField.offset: 100 + i}
    with pytest.warns(SymaeWarning, match="FieldRecord=42, so the whole file is one gather"):
        _store(tmp_path, {"b": p})


# --------------------------------------------------------------------------- formats


def test_format_9_eight_byte_integers(tmp_path):
    x = np.round(_gathers(2) * 1000).astype(np.int64)
    p = _segyio_file(tmp_path / "i8.sgy", x, fmt=9)
    store, _ = _store(tmp_path, {"b": p})
    got = StoreReader(store).read_all().reshape(-1, NS)
    np.testing.assert_array_equal(got, x.astype(np.float32))


def test_su_without_interval_needs_dt_ms(tmp_path):
    x = _gathers(2)
    p = tmp_path / "a.su"
    spec = segyio.spec()
    spec.samples, spec.tracecount, spec.format = np.arange(NS), x.shape[0], 5
    with (
        segyio.su.create(str(p), spec)
        if hasattr(segyio.su, "create")
        else segyio.create(str(tmp_path / "tmp.sgy"), spec) as f
    ):
        for i in range(x.shape[0]):
            f.header[i] = {
                segyio.TraceField.FieldRecord: 1 + i // C,
                segyio.TraceField.offset: i % C,
                segyio.TraceField.CDP: 1,
                segyio.TraceField.TRACE_SAMPLE_COUNT: NS,
                segyio.TraceField.TRACE_SAMPLE_INTERVAL: 0,
            }
            f.trace[i] = x[i]
    if not p.exists():  # strip the 3600 file-header bytes: SU layout
        p.write_bytes((tmp_path / "tmp.sgy").read_bytes()[3600:])
    with pytest.raises(SegyError) as err:
        _store(tmp_path, {"b": p}, format="su")
    assert_message(err, "a.su", "no sample interval", "dt_ms")
    store, _ = _store(tmp_path, {"b": p}, format="su", dt_ms=2)
    r = StoreReader(store)
    assert r.dt_ms == 2.0
    np.testing.assert_array_equal(r.read_all().reshape(-1, NS), x)


def _with_extensions(p, x, fields: bytes):
    """The segyio file ``p`` rewritten as revision 2 with one 240-byte trace header
    extension after every trace header, ``fields`` in binary bytes 3501-3510."""
    raw = p.read_bytes()
    trace = 240 + 4 * x.shape[1]
    head = bytearray(raw[:3600])
    head[3500:3510] = fields
    body = b"".join(
        raw[3600 + k * trace : 3600 + k * trace + 240]
        + bytes(240)
        + raw[3600 + k * trace + 240 : 3600 + (k + 1) * trace]
        for k in range(x.shape[0])
    )
    p.write_bytes(bytes(head) + body)
    return p


@pytest.mark.parametrize(
    "fields",
    [
        bytes([2, 0, 0, 1, 0, 0]) + struct.pack(">i", 1),  # rev 2.0: 4 bytes wide
        bytes([2, 1, 0, 1, 0, 0]) + struct.pack(">h", 1) + bytes(2),  # rev 2.1: 2 bytes
        bytes([2, 0, 0, 1, 0, 0]) + struct.pack(">h", 1) + struct.pack(">h", 7),  # 2.0, 2 bytes
    ],
    ids=["rev2.0", "rev2.1", "rev2.0-written-2-bytes"],
)
def test_rev2_trace_header_extensions_named_with_their_count(tmp_path, fields):
    x = _gathers(2)
    p = _with_extensions(_segyio_file(tmp_path / "r2.sgy", x), x, fields)
    with pytest.raises(SegyError) as err:
        segy_info(p)
    assert_message(err, "r2.sgy", "with 1 trace header extension", "not supported")
    assert "65536" not in str(err.value)


@pytest.mark.parametrize("endian", ["big", "little"])
def test_revision_word_that_is_no_revision_ignores_rev2_fields(tmp_path, endian):
    """Bytes 3501-3502 holding 218 / 36 name no revision: 3507-3510 are not rev-2 fields
    there (32726 'extensions' is garbage) and the file reads as segyio reads it."""
    x = _gathers(2)
    p = tmp_path / f"odd_{endian}.sgy"
    spec = segyio.spec()
    spec.samples, spec.tracecount, spec.format, spec.endian = np.arange(NS) * 4.0, len(x), 5, endian
    with segyio.create(str(p), spec) as f:
        f.bin.update(hdt=4000, hns=NS)
        for i in range(len(x)):
            f.header[i] = {segyio.TraceField.FieldRecord: 1 + i // C, segyio.TraceField.CDP: 1}
            f.trace[i] = x[i]
    b = bytearray(p.read_bytes())
    order = ">" if endian == "big" else "<"
    b[3500:3502] = bytes([218, 36])
    b[3506:3510] = struct.pack(order + "i", 32726 << 16)
    p.write_bytes(bytes(b))
    info = segy_info(p)
    assert (info.endian, info.tracecount, info.samples) == (endian, len(x), NS)
    traces, _, _ = read_segy(p)
    with segyio.open(str(p), ignore_geometry=True, endian=endian) as f:
        np.testing.assert_array_equal(traces, f.trace.raw[:])
    np.testing.assert_array_equal(traces, x)


def test_textual_header_with_nul_bytes_ingests(tmp_path):
    """Some writers pad the textual header with NUL bytes: the ingest stores it as
    printable text (NULs as spaces) instead of failing inside h5py."""
    x = _gathers(2)
    p = _segyio_file(tmp_path / "nul.sgy", x)
    b = bytearray(p.read_bytes())
    text = b"C 1 CLIENT NUL PADDED" + b"\x00" * 59 + b"C 2 LINE 7".ljust(80)
    b[0:3200] = text.ljust(3200, b"\x00")
    p.write_bytes(bytes(b))
    store, _ = _store(tmp_path, {"b": p})
    r = StoreReader(store)
    assert r.textual_header.startswith("C 1 CLIENT NUL PADDED ")
    assert "\x00" not in r.textual_header and "C 2 LINE 7" in r.textual_header
    assert len(r.textual_header) == 3200
    np.testing.assert_array_equal(r.read_all().reshape(-1, NS), x)


# --------------------------------------------------------------------------- outputs


def test_delay_fields_round_trip():
    for t0 in (0.0, 100.0, 100.5, 12.25, 0.125, -40.0):
        d, s = delay_fields(t0)
        assert delay_ms(d, s) == pytest.approx(t0)
    with pytest.raises(ValueError):
        delay_fields(1e-4)


def _untrained(store) -> SymAE:
    r = StoreReader(store)
    return SymAE(
        r.shape[1],
        r.shape[2],
        coherent_dim=4,
        nuisance_dim=4,
        width=4,
        hidden=16,
        scale=r.rms,
        schema=store_schema(store),
    )


@pytest.fixture()
def windowed_out(tmp_path):
    """A two-survey dataset recorded with a 1000.5 ms delay, windowed from 100 ms on,
    redatumed by a (untrained) model: the output times must be 1100.5 ms on."""
    base = _segyio_file(
        tmp_path / "base.sgy",
        _gathers(4, seed=1),
        delay=10005,
        scalar=-10,
        dt_us=2000,
        cdp=[1, 1, 2, 2],
    )
    mon = _segyio_file(
        tmp_path / "mon.sgy",
        _gathers(4, seed=2),
        delay=10005,
        scalar=-10,
        dt_us=2000,
        fr0=11,
        cdp=[1, 1, 2, 2],
    )
    store, _ = _store(tmp_path, {"baseline": base, "monitor": mon}, window_ms=[20, 80])
    res = redatum(_untrained(store), store, tmp_path / "out")
    return store, res


def test_windowed_outputs_carry_their_time(windowed_out):
    store, res = windowed_out
    r = StoreReader(store)
    assert r.t0_ms == pytest.approx(1020.5)
    expected = 1020.5 + 2.0 * np.arange(r.shape[-1])
    ds = xr.load_dataset(res.files["netcdf"], engine="h5netcdf")
    np.testing.assert_allclose(ds["twt"].values, expected)
    for key in ("virtual", "residual", "residual_decoder"):
        with segyio.open(str(res.files[key]), ignore_geometry=True) as f:
            np.testing.assert_allclose(f.samples, expected)
            assert f.attributes(segyio.TraceField.DelayRecordingTime)[0] == 10205
            assert f.attributes(segyio.TraceField.ScalarTraceHeader)[0] == -10
    import obspy

    st = obspy.read(str(res.files["virtual"]), format="SEGY")
    th = st[0].stats.segy.trace_header
    assert delay_ms(th.delay_recording_time, th.scalar_to_be_applied_to_times) == 1020.5
    assert st[0].stats.delta == 0.002 and st[0].stats.npts == r.shape[-1]


def test_segy_out_textual_header_and_revision(windowed_out):
    _, res = windowed_out
    with segyio.open(str(res.files["virtual"]), ignore_geometry=True) as f:
        text = bytes(f.text[0]).decode("ascii")
        assert f.bin[segyio.BinField.SEGYRevision] == 1
        assert f.bin[segyio.BinField.SEGYRevisionMinor] == 0
    lines = [text[i : i + 80] for i in range(0, 3200, 80)]
    assert all(line.startswith(f"C{k + 1:2d}") for k, line in enumerate(lines))
    assert lines[38].rstrip() == "C39 SEG-Y REV1"
    assert lines[39].rstrip() == "C40 END TEXTUAL HEADER"  # as rev 1 asks
    body = "\n".join(lines)
    assert "symae-seis 4d redatum: virtual" in body and "MODEL in memory" in body
    assert "OPTIONS " in body and " mode=4d " in body and "coherent_from=monitor" in body
    import obspy

    st = obspy.read(str(res.files["virtual"]), format="SEGY")
    assert st.stats.binary_file_header.seg_y_format_revision_number == 0x0100


def test_textual_header_copied_from_source(tmp_path):
    x = _gathers(2)
    p = _segyio_file(tmp_path / "t.sgy", x, cdp=[1, 1])
    m = _segyio_file(tmp_path / "m.sgy", _gathers(2, seed=3), fr0=11, cdp=[1, 1])
    with segyio.open(str(p), "r+", ignore_geometry=True) as f:
        f.text[0] = segyio.tools.create_text_header(
            {1: "CLIENT ACME  AREA NORTH SEA", 2: "LINE 42"}
        )
    store, _ = _store(tmp_path, {"baseline": p, "monitor": m})
    res = redatum(_untrained(store), store, tmp_path / "out")
    with segyio.open(str(res.files["residual"]), ignore_geometry=True) as f:
        text = bytes(f.text[0]).decode("ascii")
    assert "CLIENT ACME  AREA NORTH SEA" in text[:80] and "LINE 42" in text[80:160]
    assert "symae-seis 4d redatum: residual" in text[28 * 80 : 38 * 80]


def test_redatum_netcdf_follows_cf(windowed_out):
    _, res = windowed_out
    ds = xr.load_dataset(res.files["netcdf"], engine="h5netcdf")
    assert ds.attrs["Conventions"] == "CF-1.8"
    assert "real" not in ds.variables and "recorded" in ds
    for name, v in ds.variables.items():
        assert "long_name" in v.attrs, name
    # every gather shares the offsets: the channel dimension is named and indexed by them
    for name in ("recorded", "virtual", "residual", "reconstruction", "residual_decoder"):
        assert ds[name].attrs["units"] == "1"
        assert ds[name].dims == ("pair", "offset", "twt")
    assert ds["twt"].attrs["units"] == "ms"
    assert ds["offset"].attrs["units"] == "m" and ds["offset"].dims == ("offset",)
    np.testing.assert_array_equal(ds["offset"].values, [100, 200, 300, 400])
    np.testing.assert_array_equal(ds["channel"].values, [0, 1, 2, 3])  # the trace slots
    plane = ds["virtual"].sel(offset=300)
    np.testing.assert_array_equal(plane.values, ds["virtual"].values[:, 2])
    assert {"cdp", "offset", "recorded_survey", "coherent_survey"} <= set(ds.coords)
    assert set(ds["coherent_survey"].values) == {"monitor"}
    assert set(ds["recorded_survey"].values) == {"baseline"}
    # load_redatum indexes the datapoint key along pair: ds.sel(cdp=...) as segysak users do
    from symae_seis.qc.report import load_redatum

    lazy = load_redatum(res.out_dir)
    one = lazy.sel(cdp=2)
    assert one.sizes["pair"] == int((ds["cdp"].values == 2).sum()) > 0
    np.testing.assert_array_equal(
        one["virtual"].values, ds["virtual"].values[ds["cdp"].values == 2]
    )
    lazy.close()


def test_qc_table_has_numeric_keys_and_pred(windowed_out):
    _, res = windowed_out
    with open(res.files["qc"]) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:3] == ["survey", "CDP", "pairs"]
    assert {r["survey"] for r in rows} == {"monitor"}
    assert sorted(int(r["CDP"]) for r in rows) == [1, 2]
    for r in rows:
        assert 0 <= float(r["pred_virtual_recorded"]) <= 100
        assert float(r["nrms_virtual_recorded"]) >= 0


def test_padded_slots_never_written_nor_scored(tmp_path):
    """Short gathers padded with dead slots: the SEG-Y outputs hold only recorded traces
    (no all-zero headers), a recorded dead trace is flagged code 2, QC ignores both."""
    xb = _gathers(4, seed=1)
    xb[2] = 0.0  # a dead recorded trace
    base = _segyio_file(tmp_path / "b.sgy", xb, cdp=[1, 1, 2, 2])
    xm = _gathers(4, seed=2)
    mon = _segyio_file(tmp_path / "m.sgy", xm, fr0=11, cdp=[1, 1, 2, 2])
    # drop the last trace of the baseline's first gather: that gather is one short
    raw = bytearray(base.read_bytes())
    tb = 240 + 4 * NS
    del raw[3600 + 3 * tb : 3600 + 4 * tb]
    base.write_bytes(bytes(raw))
    store, _ = _store(tmp_path, {"baseline": base, "monitor": mon}, unequal_gathers="pad")
    res = redatum(_untrained(store), store, tmp_path / "out")
    x, h, _ = read_segy(res.files["virtual"])
    ds = xr.load_dataset(res.files["netcdf"], engine="h5netcdf")
    n, c, _ = ds["virtual"].shape
    assert x.shape[0] == n * c - 1  # the padded slot is left out
    col = {name: HEADER_FIELDS.index(name) for name in ("FieldRecord", "TraceIdentifier", "offset")}
    assert (h[:, col["FieldRecord"]] != 0).all()
    dead = h[:, col["TraceIdentifier"]] == 2
    assert dead.sum() == 1 and not x[dead].any()
    assert (ds["live"].values == 0).sum() == 2
    with open(res.files["qc"]) as fh:
        for row in csv.DictReader(fh):
            assert float(row["nrms_virtual_recorded"]) < 199


def test_real_f3_with_stale_trace_sample_count_ingests(tmp_path, real_data):
    """f3.sgy's trace headers all say 462 samples, its binary header and size 75: segyio
    reads it, so must the ingest (a constant stale count is not an implausible header)."""
    e = entry(
        tmp_path,
        "f3",
        surveys={"f3": str(real_data / "f3.sgy")},
        instance_key="INLINE_3D",
        channel_key="CROSSLINE_3D",
    )
    r = StoreReader(build_store(e))
    with segyio.open(str(real_data / "f3.sgy"), ignore_geometry=True) as f:
        assert r.t0_ms == f.samples[0] and r.dt_ms == f.samples[1] - f.samples[0]
        assert r.shape[-1] == len(f.samples) == 75
        ref = segyio.tools.collect(f.trace[:])
    np.testing.assert_array_equal(
        np.sort(r.read_all().reshape(-1, 75), axis=0), np.sort(ref, axis=0)
    )


def test_binned_cdp_x_and_the_positions_do_not_clash(tmp_path):
    """Datapoints binned on CDP_X: the datapoint key is named cdp_x in redatum.nc, and the
    gathers' CDP_X position (also cdp_x) is not written twice."""
    n_shot = 4
    x = _gathers(n_shot)
    hdr_x = np.repeat([1000, 1000, 1030, 1030], C)  # two 25 m bins, two shots each
    files = {}
    for label, fr0, seed in (("baseline", 1, 0), ("monitor", 11, 5)):
        p = _segyio_file(tmp_path / f"{label}.sgy", _gathers(n_shot, seed=seed), fr0=fr0)
        with segyio.open(str(p), "r+", ignore_geometry=True) as f:
            for i in range(len(x)):
                f.header[i] = {segyio.TraceField.CDP_X: int(hdr_x[i])}
        files[label] = p
    e = entry(tmp_path, surveys={k: str(v) for k, v in files.items()}, datapoint_bin={"CDP_X": 25})
    store = build_store(e)
    res = redatum(_untrained(store), store, tmp_path / "out", write_segy=False)
    ds = xr.load_dataset(res.files["netcdf"], engine="h5netcdf")
    np.testing.assert_array_equal(np.unique(ds["cdp_x"].values), [40, 41])  # the bins
    from symae_seis.qc.report import load_redatum

    lazy = load_redatum(res.out_dir)
    assert lazy.sel(cdp_x=41).sizes["pair"] > 0
    lazy.close()
    import h5py

    with h5py.File(res.files["netcdf"], "r+"):  # closed: the file can be opened for writing
        pass
