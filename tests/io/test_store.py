"""Ingest into the HDF5 store: grouping, sorting, windowing, policies, staleness, xarray."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from symae_seis.catalog import CatalogError
from symae_seis.ingest import build_store, ensure_store, store_is_fresh
from symae_seis.io import (
    SegyError,
    StoreError,
    StoreReader,
    open_store,
    read_segy,
    write_segy,
)
from symae_seis.io.segy import HEADER_FIELDS

from ..conftest import TINY, assert_message, entry, leftovers


def _col(h, name):
    return h[..., HEADER_FIELDS.index(name)]


def test_store_groups_instances_and_datapoints(tiny_entry, tiny_survey):
    path = build_store(tiny_entry)
    ds = open_store(path)
    n_inst = 2 * TINY.n_cdp * TINY.shots_per_cdp
    assert ds.gathers.shape == (n_inst, TINY.channels, TINY.samples)
    assert sorted(set(ds.survey.values)) == ["baseline", "monitor"]
    # one datapoint per (survey, CDP), each with shots_per_cdp instances
    assert int(ds.datapoint.max()) + 1 == 2 * TINY.n_cdp
    assert (np.bincount(ds.datapoint.values) == TINY.shots_per_cdp).all()
    # samples equal the SEG-Y traces of that FieldRecord, in offset order
    x, h, _ = read_segy(tiny_survey["monitor"])
    fr = 100001 + 5
    rows = _col(h, "FieldRecord") == fr
    sel = ds.sel(instance=ds.instance_key == fr)
    np.testing.assert_array_equal(sel.gathers.values[0], x[rows])
    np.testing.assert_array_equal(sel.offset.values[0], np.sort(_col(h, "offset")[rows]))
    assert sel.CDP.item() == _col(h, "CDP")[rows][0]
    np.testing.assert_array_equal(ds.time.values, np.arange(TINY.samples) * TINY.dt_ms)
    # headers kept for every trace
    np.testing.assert_array_equal(sel.headers.values[0], h[rows])


def test_channels_sorted_and_unsorted_files_give_same_store(tmp_path):
    rng = np.random.default_rng(3)
    n_shot, c, ns = 5, 6, 30
    x = rng.normal(size=(n_shot, c, ns)).astype(np.float32)
    offs = np.array([600, 100, 300, 200, 500, 400])
    fr = np.repeat(np.arange(10, 10 + n_shot), c)
    hdr = {"FieldRecord": fr, "offset": np.tile(offs, n_shot), "CDP": fr // 2}
    write_segy(tmp_path / "grouped.sgy", x.reshape(-1, ns), hdr, 4000)
    perm = rng.permutation(n_shot * c)  # traces of a gather scattered over the file
    write_segy(
        tmp_path / "scattered.sgy",
        x.reshape(-1, ns)[perm],
        {k: v[perm] for k, v in hdr.items()},
        4000,
    )
    out = {}
    for name in ("grouped", "scattered"):
        e = entry(
            tmp_path, name, surveys={"s": f"{name}.sgy"}, datapoint_key=["CDP"], store=f"{name}.h5"
        )
        ds = open_store(build_store(e))
        ds = ds.sortby("instance_key")
        out[name] = ds
        assert (np.diff(ds.offset.values, axis=1) > 0).all()
    order = np.argsort(offs)
    np.testing.assert_array_equal(out["grouped"].gathers.values, x[:, order])
    np.testing.assert_array_equal(out["scattered"].gathers.values, x[:, order])
    np.testing.assert_array_equal(out["grouped"].CDP.values, np.arange(10, 15) // 2)


def test_time_window(tmp_path, tiny_survey):
    e = entry(
        tmp_path,
        surveys={"b": str(tiny_survey["baseline"])},
        datapoint_key=["CDP"],
        window_ms=[40, 200],
    )
    ds = open_store(build_store(e))
    assert ds.gathers.shape[-1] == 40
    assert ds.time.values[0] == 40.0 and ds.time.values[-1] == 196.0
    x, h, _ = read_segy(tiny_survey["baseline"])
    np.testing.assert_array_equal(ds.gathers.values[0], x[: TINY.channels, 10:50])
    e2 = entry(tmp_path, "w2", surveys={"b": str(tiny_survey["baseline"])}, window_ms=[0, 900])
    with pytest.raises(SegyError) as err:
        build_store(e2)
    assert_message(err, "baseline.sgy", "window_ms", "ends after the last sample")


def test_unequal_gathers_reject_or_pad(tmp_path):
    x = np.ones((7, 10), dtype=np.float32)
    hdr = {"FieldRecord": [1, 1, 1, 1, 2, 2, 2], "offset": [1, 2, 3, 4, 1, 2, 3]}
    write_segy(tmp_path / "u.sgy", x, hdr, 4000)
    e = entry(tmp_path, surveys={"s": "u.sgy"})
    with pytest.raises(SegyError) as err:
        build_store(e)
    assert_message(err, "u.sgy", "FieldRecord=2 has 3 traces", "have 4", "unequal_gathers: pad")
    assert not e.store.exists() and leftovers(e.store.parent) == []
    e = entry(tmp_path, surveys={"s": "u.sgy"}, unequal_gathers="pad")
    ds = open_store(build_store(e))
    np.testing.assert_array_equal(ds.live.values, [[1, 1, 1, 1], [1, 1, 1, 0]])
    assert ds.gathers.values[1, 3].sum() == 0


def test_datapoint_key_must_be_constant_in_gather(tmp_path):
    x = np.ones((4, 10), dtype=np.float32)
    write_segy(tmp_path / "d.sgy", x, {"FieldRecord": [1, 1, 2, 2], "CDP": [5, 6, 7, 7]}, 4000)
    e = entry(tmp_path, surveys={"s": "d.sgy"}, datapoint_key=["CDP"])
    with pytest.raises(SegyError) as err:
        build_store(e)
    assert_message(err, "d.sgy", "datapoint key CDP varies inside instance FieldRecord=1")


def test_spatial_binning(tmp_path):
    x = np.ones((6, 10), dtype=np.float32)
    sx = np.repeat([0, 40, 120], 2)
    write_segy(
        tmp_path / "b.sgy",
        x,
        {"FieldRecord": np.repeat([1, 2, 3], 2), "SourceX": sx, "offset": [1, 2] * 3},
        4000,
    )
    ds = open_store(
        build_store(entry(tmp_path, surveys={"s": "b.sgy"}, datapoint_bin={"SourceX": 50}))
    )
    np.testing.assert_array_equal(ds.SourceX.values, [0, 0, 2])
    np.testing.assert_array_equal(ds.datapoint.values, [0, 0, 1])


def test_duplicate_instance_keys_across_files(tmp_path, tiny_survey):
    e = entry(tmp_path, surveys={"b": [str(tiny_survey["baseline"])] * 2})
    with pytest.raises(SegyError) as err:
        build_store(e)
    assert_message(err, "baseline.sgy", "FieldRecord=1", "also appears in")


def test_nan_trace_fails_cleanly_keeping_old_store(tmp_path, tiny_survey):
    x, h, info = read_segy(tiny_survey["baseline"])
    write_segy(tmp_path / "n.sgy", x, h, info.dt_us)
    e = entry(tmp_path, surveys={"s": "n.sgy"})
    path = build_store(e)
    before = h5py.File(path, "r")["instances"][:]
    x[17, 3] = np.inf
    import segyio

    with segyio.open(tmp_path / "n.sgy", "r+", ignore_geometry=True) as f:
        f.trace[17] = x[17]
    with pytest.raises(SegyError) as err:
        build_store(e)
    assert_message(err, "n.sgy", "trace 17 has NaN or Inf")
    np.testing.assert_array_equal(h5py.File(path, "r")["instances"][:], before)
    assert leftovers(path.parent) == []


def test_stale_store_detected_and_rebuilt(tmp_path, tiny_survey):
    x, h, info = read_segy(tiny_survey["baseline"])
    write_segy(tmp_path / "s.sgy", x, h, info.dt_us)
    e = entry(tmp_path, surveys={"s": "s.sgy"})
    assert store_is_fresh(e) == (False, f"{e.store} does not exist")
    ensure_store(e)
    assert store_is_fresh(e) == (True, "fresh")
    os.utime(tmp_path / "s.sgy")  # touched, same bytes: still fresh
    assert store_is_fresh(e)[0]
    write_segy(tmp_path / "s.sgy", x * 2, h, info.dt_us, overwrite=True)
    fresh, why = store_is_fresh(e)
    assert not fresh and "changed" in why
    ensure_store(e)
    np.testing.assert_allclose(open_store(e.store).gathers.values[0], 2 * x[: TINY.channels])
    e2 = entry(tmp_path, surveys={"s": "s.sgy"}, channel_key="TraceNumber")
    assert "catalog entry" in store_is_fresh(e2)[1]


def test_truncated_and_foreign_stores(tmp_path, tiny_entry):
    path = build_store(tiny_entry)
    data = path.read_bytes()
    bad = tmp_path / "trunc.h5"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(StoreError) as err:
        open_store(bad)
    assert_message(err, str(bad), "truncated or corrupt")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5.attrs["schema_version"] = 99
    with pytest.raises(StoreError) as err:
        StoreReader(other)
    assert_message(err, str(other), "schema 99")
    with pytest.raises(FileNotFoundError, match="symae-ingest"):
        open_store(tmp_path / "absent.h5")


def test_missing_survey_file_names_entry(tmp_path):
    e = entry(tmp_path, surveys={"s": "absent.sgy"})
    with pytest.raises(CatalogError) as err:
        build_store(e)
    assert_message(err, "'ds'", "absent.sgy", "does not exist")


def test_store_reader_random_access(tiny_entry):
    r = StoreReader(build_store(tiny_entry))
    full = r.read_all()
    rows = np.array([5, 2, 5, 9])
    np.testing.assert_array_equal(r.read(rows), full[rows])
    assert len(r.members) == 2 * TINY.n_cdp
    assert all(len(m) == TINY.shots_per_cdp for m in r.members)
    assert r.datapoint_label(0) == "baseline:CDP=1"
    assert r.rms == pytest.approx(float(np.sqrt(np.mean(full.astype(np.float64) ** 2))), rel=1e-5)


def test_real_su_gather_ingests(tmp_path, real_data):
    e = entry(
        tmp_path,
        format="su",
        surveys={"gom": str(real_data / "gom_cdp_nmo.su")},
        instance_key="CDP",
        channel_key="offset",
        window_ms=[0, 2000],
    )
    ds = open_store(build_store(e))
    assert ds.gathers.shape == (1, 92, 500)
    assert (np.diff(ds.offset.values[0]) >= 0).all()


def test_low_cut_at_ingest_filters_whole_traces_then_windows(tmp_path, real_data):
    """``low_cut_hz`` on the real Gulf of Mexico gather: the store holds the zero-phase
    low-cut of each whole trace (scipy's Butterworth, run both ways), then the window;
    the time axis is the unfiltered store's; a change of ``low_cut_hz`` makes it stale."""
    from scipy.signal import butter, sosfiltfilt

    raw = dict(
        format="su",
        surveys={"gom": str(real_data / "gom_cdp_nmo.su")},
        instance_key="CDP",
        channel_key="offset",
        window_ms=[400, 2400],
    )
    plain = open_store(build_store(entry(tmp_path, "plain", **raw)))
    e = entry(tmp_path, "cut", low_cut_hz=12, **raw)
    cut = open_store(build_store(e))
    np.testing.assert_array_equal(cut.time.values, plain.time.values)
    assert cut.time.values[0] == 400.0
    x, h, _ = read_segy(real_data / "gom_cdp_nmo.su")
    order = np.argsort(h[:, HEADER_FIELDS.index("offset")], kind="stable")
    sos = butter(4, 12, "highpass", fs=250.0, output="sos")
    want = sosfiltfilt(sos, x[order].astype(np.float64), axis=-1)[:, 100:600]
    got = cut.gathers.values[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    assert not np.allclose(got, plain.gathers.values[0], atol=1e-3 * np.abs(want).max())
    # what the filter removes is the low band: below 6 Hz almost nothing is left
    f = np.fft.rfftfreq(500, 0.004)
    low = f < 6
    ratio = (
        np.abs(np.fft.rfft(got, axis=-1))[:, low].sum()
        / np.abs(np.fft.rfft(plain.gathers.values[0], axis=-1))[:, low].sum()
    )
    assert ratio < 0.1
    assert store_is_fresh(e)[0]
    e2 = entry(tmp_path, "cut", low_cut_hz=10, **raw)
    fresh, why = store_is_fresh(e2)
    assert not fresh and "catalog entry 'cut' changed" in why


def test_ingest_command_says_the_store_is_low_cut(tmp_path, tiny_survey, capsys):
    from symae_seis.cli.ingest import main as ingest_main

    from ..conftest import write_catalog

    raw = {"surveys": {"b": str(tiny_survey["baseline"])}, "low_cut_hz": 10}
    cat = write_catalog(tmp_path, {"lc": raw})
    assert ingest_main(["lc", "--catalog", str(cat)]) == 0
    assert "low-cut at 10 Hz" in capsys.readouterr().out


def test_low_cut_above_nyquist_is_refused(tmp_path, tiny_survey):
    e = entry(tmp_path, surveys={"b": str(tiny_survey["baseline"])}, low_cut_hz=200)
    with pytest.raises(CatalogError) as err:
        build_store(e)
    assert_message(err, "'ds'", "low_cut_hz 200", "Nyquist", "125 Hz")
    assert not e.store.exists() and leftovers(e.store.parent) == []
    with StoreReader(build_store(entry(tmp_path, "ok", surveys=e.surveys, low_cut_hz=20))) as r:
        assert r.low_cut_hz == 20  # what redatuming records in its provenance


def test_low_cut_needs_long_enough_traces_and_finite_samples_everywhere(tmp_path):
    from ..conftest import small_segy

    small_segy(tmp_path / "short.sgy", ns=10)
    e = entry(tmp_path, surveys={"s": "short.sgy"}, low_cut_hz=10)
    with pytest.raises(CatalogError) as err:
        build_store(e)
    assert_message(err, "'ds'", "low_cut_hz", "16 samples", "have 10")
    # a NaN outside window_ms is harmless without the low-cut, not with it (the filter
    # would carry it into the window)
    import segyio

    x = np.random.default_rng(1).normal(size=(4, 40)).astype(np.float32)
    write_segy(tmp_path / "nan.sgy", x, {"FieldRecord": [1] * 4, "offset": [1, 2, 3, 4]}, 4000)
    with segyio.open(tmp_path / "nan.sgy", "r+", ignore_geometry=True) as f:  # ours refuses
        x[2, 35] = np.nan
        f.trace[2] = x[2]
    raw = dict(surveys={"s": "nan.sgy"}, window_ms=[0, 100])
    build_store(entry(tmp_path, "plain", **raw))
    with pytest.raises(SegyError) as err:
        build_store(entry(tmp_path, "cut", low_cut_hz=10, **raw))
    assert_message(err, "nan.sgy", "trace 2 has NaN", "low_cut_hz filters whole traces")


def test_synth_and_ingest_commands(tmp_path, capsys):
    from symae_seis.cli.ingest import main as ingest_main
    from symae_seis.cli.synth import main as synth_main

    from ..conftest import write_catalog

    cat = write_catalog(
        tmp_path,
        {
            "v": {
                "format": "mseed",
                "generate": {"kind": "mseed", "stations": 2, "days": 1},
                "surveys": {"d": "v/*.mseed"},
                "window_s": 20,
            }
        },
    )
    assert synth_main(["v", "--catalog", str(cat)]) == 0
    assert len(list((tmp_path / "v").glob("*.mseed"))) == 2
    assert synth_main(["v", "--catalog", str(cat)]) == 2  # never overwritten silently
    assert "--overwrite" in capsys.readouterr().err
    assert synth_main(["v", "--catalog", str(cat), "--overwrite"]) == 0
    assert ingest_main(["v", "--catalog", str(cat)]) == 0
    assert "6 instances x 2 channels x 400 samples" in capsys.readouterr().out
    assert ingest_main(["v", "--catalog", str(cat)]) == 0
    assert "is up to date" in capsys.readouterr().out
    assert ingest_main(["w", "--catalog", str(cat)]) == 2
    assert "no dataset named 'w'" in capsys.readouterr().err
    bad = write_catalog(
        tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path,
        {"s": {"generate": {"kind": "conv4d", "n_cdps": 3}, "surveys": {"b": "a.sgy"}}},
    )
    assert synth_main(["s", "--catalog", str(bad)]) == 2
    assert "n_cdps" in capsys.readouterr().err


def _shot_gathers_spanning_cdps(path, scalar: int, writer: str = "segyio"):
    """Three shots at 0, 60 and 170 m, 4 channels each (every trace its own CDP), the
    source positions stored in units of the coordinate scalar (bytes 71-72)."""
    x = np.arange(12 * 10, dtype=np.float32).reshape(12, 10)
    sx_m = np.repeat([0.0, 60.0, 170.0], 4)
    stored = sx_m * (abs(scalar) if scalar < 0 else 1.0 / max(scalar, 1))
    hdr = {
        "FieldRecord": np.repeat([1, 2, 3], 4),
        "offset": np.tile([100, 200, 300, 400], 3),
        "CDP": np.arange(12) + 1,
        "SourceX": stored.astype(np.int64),
        "SourceGroupScalar": np.full(12, scalar),
    }
    if writer == "segyio":
        return write_segy(path, x, hdr, 4000), x
    from obspy import Stream, Trace
    from obspy.core import AttribDict
    from obspy.io.segy.segy import SEGYBinaryFileHeader, SEGYTraceHeader

    st = Stream()
    for i in range(12):
        tr = Trace(x[i].copy())
        tr.stats.delta = 0.004
        th = SEGYTraceHeader()
        th.original_field_record_number = int(hdr["FieldRecord"][i])
        th.distance_from_center_of_the_source_point_to_the_center_of_the_receiver_group = int(
            hdr["offset"][i]
        )
        th.ensemble_number = int(hdr["CDP"][i])
        th.source_coordinate_x = int(hdr["SourceX"][i])
        th.scalar_to_be_applied_to_all_coordinates = scalar
        th.number_of_samples_in_this_trace = 10
        th.sample_interval_in_ms_for_this_trace = 4000
        tr.stats.segy = AttribDict(trace_header=th)
        st.append(tr)
    st.stats = AttribDict(
        textual_file_header=b"C 1 OBSPY".ljust(3200), binary_file_header=SEGYBinaryFileHeader()
    )
    st.stats.binary_file_header.number_of_samples_per_data_trace = 10
    st.stats.binary_file_header.sample_interval_in_microseconds = 4000
    st.write(str(path), format="SEGY", data_encoding=5)
    return path, x


@pytest.mark.parametrize("writer", ["segyio", "obspy"])
@pytest.mark.parametrize("scalar", [-100, 1, 0])
def test_datapoint_bin_in_metres_applies_the_coordinate_scalar(tmp_path, writer, scalar):
    """A shot gather spans many CDPs: datapoints are bins of the source position in
    metres, whatever unit the file stores it in (SourceGroupScalar applied), with the
    Seismic Unix name of the field."""
    p, x = _shot_gathers_spanning_cdps(tmp_path / "shots.sgy", scalar, writer)
    e = entry(tmp_path, surveys={"s": str(p)}, datapoint_bin={"sx": 80})
    assert e.datapoint_bin == {"SourceX": 80.0}
    ds = open_store(build_store(e))
    np.testing.assert_array_equal(ds.SourceX.values, [0, 0, 2])  # 0 and 60 m: one bin
    np.testing.assert_array_equal(ds.datapoint.values, [0, 0, 1])
    np.testing.assert_array_equal(ds.gathers.values.reshape(12, 10), x)


@pytest.mark.parametrize(
    "alias, field",
    [
        ("fldr", "FieldRecord"),
        ("cdp", "CDP"),
        ("gx", "GroupX"),
        ("original_field_record_number", "FieldRecord"),
        ("ensemble_number", "CDP"),
        (9, "FieldRecord"),
        ("21", "CDP"),
        ("fieldrecord", "FieldRecord"),
    ],
)
def test_header_field_aliases(tmp_path, alias, field):
    e = entry(tmp_path, surveys={"s": "a.sgy"}, instance_key=alias, datapoint_key=[alias])
    assert e.instance_key == field and e.datapoint_key == (field,)


def test_unknown_header_field_lists_the_kinds_of_names(tmp_path):
    with pytest.raises(CatalogError) as err:
        entry(tmp_path, surveys={"s": "a.sgy"}, channel_key="ofset")
    assert_message(err, "'ofset'", "did you mean 'offset'", "Seismic Unix", "ObsPy", "first byte")
