"""miniSEED windows: ObsPy's real records, gaps, rates, missing streams, synthetic days."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import obspy
import pytest

from symae_seis.ingest import build_store
from symae_seis.io import MseedError, open_store
from symae_seis.synth import make_mseed_survey

from ..conftest import assert_message, entry

MSEED_DATA = Path(obspy.__file__).parent / "io" / "mseed" / "tests" / "data"


@pytest.fixture()
def rjob(tmp_path):
    """ObsPy's real example record (BW.RJOB, 3 components, 100 Hz, 30 s) as miniSEED."""
    st = obspy.read()
    for tr in st:
        tr.data = tr.data.astype(np.float32)
    p = tmp_path / "rjob.mseed"
    st.write(str(p), format="MSEED")
    return p, st


def test_real_record_cut_into_windows(tmp_path, rjob):
    p, st = rjob
    e = entry(tmp_path, format="mseed", surveys={"day": str(p)}, window_s=10)
    ds = open_store(build_store(e))
    assert ds.gathers.shape == (3, 3, 1000)
    assert list(ds.stream.values) == ["BW.RJOB..EHE", "BW.RJOB..EHN", "BW.RJOB..EHZ"]
    ehz = st.select(channel="EHZ")[0].data
    np.testing.assert_array_equal(ds.gathers.values[1, 2], ehz[1000:2000])
    t0 = st[0].stats.starttime
    assert ds.instance_key.values[0] == int(round(t0.timestamp * 1e9))
    from symae_seis.io.store import StoreReader

    with StoreReader(ds.attrs["path"]) as reader:  # no source coordinates: no move
        assert reader.source_move() == 0.0


def test_stream_selection_and_step(tmp_path, rjob):
    p, _ = rjob
    e = entry(
        tmp_path, format="mseed", surveys={"d": str(p)}, streams=["*.EHZ"], window_s=10, step_s=5
    )
    ds = open_store(build_store(e))
    assert ds.gathers.shape == (5, 1, 1000)
    e = entry(tmp_path, format="mseed", surveys={"d": str(p)}, streams=["*.HHZ"], window_s=10)
    with pytest.raises(MseedError) as err:
        build_store(e)
    assert_message(err, "rjob.mseed", "no stream matches", "BW.RJOB..EHZ")


def test_real_file_with_gaps(tmp_path):
    src = MSEED_DATA / "gaps.mseed"
    st = obspy.read(str(src))
    assert len(st) > 1  # the file really has gaps
    sr = st[0].stats.sampling_rate
    span = st[-1].stats.endtime - st[0].stats.starttime
    win = round(span / 2 / sr * sr) / sr
    e = entry(tmp_path, format="mseed", surveys={"d": str(src)}, window_s=win)
    with pytest.raises(MseedError) as err:
        build_store(e)
    assert_message(err, "gaps.mseed", "has a gap of", "gaps: zero")
    for policy in ("zero", "interpolate"):
        e = entry(
            tmp_path,
            policy,
            format="mseed",
            surveys={"d": str(src)},
            window_s=win,
            gaps=policy,
            store=f"{policy}.h5",
        )
        ds = open_store(build_store(e))
        assert np.isfinite(ds.gathers.values).all() and ds.live.values.all()


def _gap_stream(tmp_path, name="g.mseed"):
    tr = obspy.Trace(
        np.arange(400, dtype=np.float32), header={"sampling_rate": 10.0, "station": "A"}
    )
    a, b = tr.copy(), tr.copy()
    a.data = a.data[:150]
    b.data = b.data[200:]
    b.stats.starttime += 20.0
    p = tmp_path / name
    obspy.Stream([a, b]).write(str(p), format="MSEED")
    return p


def test_gap_policies_fill_exactly(tmp_path):
    p = _gap_stream(tmp_path)
    z = open_store(
        build_store(
            entry(
                tmp_path,
                "z",
                format="mseed",
                surveys={"d": str(p)},
                window_s=40,
                gaps="zero",
                store="z.h5",
            )
        )
    )
    i = open_store(
        build_store(
            entry(
                tmp_path,
                "i",
                format="mseed",
                surveys={"d": str(p)},
                window_s=40,
                gaps="interpolate",
                store="i.h5",
            )
        )
    )
    zz, ii = z.gathers.values[0, 0], i.gathers.values[0, 0]
    assert (zz[150:200] == 0).all() and zz[149] == 149 and zz[200] == 200
    np.testing.assert_allclose(ii, np.arange(400))  # linear ramp restored


def test_mixed_rates_rejected_or_resampled(tmp_path):
    t1 = obspy.Trace(
        np.sin(np.arange(1000) / 10).astype(np.float32),
        header={"sampling_rate": 50.0, "station": "A"},
    )
    t2 = obspy.Trace(
        np.sin(np.arange(2000) / 20).astype(np.float32),
        header={"sampling_rate": 100.0, "station": "B"},
    )
    p = tmp_path / "mix.mseed"
    obspy.Stream([t1, t2]).write(str(p), format="MSEED")
    with pytest.raises(MseedError) as err:
        build_store(entry(tmp_path, format="mseed", surveys={"d": str(p)}, window_s=5))
    assert_message(err, "mixed sampling rates", "50 Hz", "100 Hz", "mix.mseed", "resample_hz")
    ds = open_store(
        build_store(
            entry(tmp_path, format="mseed", surveys={"d": str(p)}, window_s=5, resample_hz=50)
        )
    )
    assert ds.gathers.shape == (4, 2, 250) and ds.attrs["dt_ms"] == 20.0


def test_missing_component_in_one_survey(tmp_path, rjob):
    p, st = rjob
    q = tmp_path / "two.mseed"
    st.select(channel="EH[ZN]").write(str(q), format="MSEED")
    e = entry(tmp_path, format="mseed", surveys={"a": str(p), "b": str(q)}, window_s=10)
    with pytest.raises(MseedError) as err:
        build_store(e)
    assert_message(err, "BW.RJOB..EHE", "survey 'b'", "is missing")
    e = entry(
        tmp_path,
        "z",
        format="mseed",
        surveys={"a": str(p), "b": str(q)},
        window_s=10,
        gaps="zero",
        store="z.h5",
    )
    ds = open_store(build_store(e))
    assert not ds.live.values[ds.survey.values == "b"][:, 0].any()
    assert ds.live.values[ds.survey.values == "a"].all()


def test_empty_and_corrupt_files(tmp_path):
    p = tmp_path / "empty.mseed"
    p.write_bytes(b"")
    with pytest.raises(MseedError) as err:
        build_store(entry(tmp_path, format="mseed", surveys={"d": str(p)}, window_s=1))
    assert_message(err, "empty.mseed", "empty file")
    with pytest.raises(MseedError) as err:
        build_store(
            entry(
                tmp_path, format="mseed", surveys={"d": str(MSEED_DATA / "not.mseed")}, window_s=1
            )
        )
    assert_message(err, "not.mseed", "not readable as miniSEED")


def test_synthetic_days_are_datapoints(tmp_path):
    files = make_mseed_survey(tmp_path / "v", stations=2, days=3, windows_per_day=4)
    assert len(files) == 6
    e = entry(
        tmp_path,
        format="mseed",
        surveys={"all": str(tmp_path / "v" / "*.mseed")},
        window_s=20,
        datapoint_by="day",
    )
    ds = open_store(build_store(e))
    assert ds.gathers.shape == (12, 2, 400)
    assert (np.bincount(ds.datapoint.values) == 4).all()
    assert len(set(ds.day.values)) == 3


def _one_stream(tmp_path, name, **kw):
    tr = obspy.Trace(
        np.sin(np.arange(2000) / 7).astype(np.float32),
        header={"sampling_rate": 100.0, "station": "A", **kw},
    )
    p = tmp_path / name
    obspy.Stream([tr]).write(str(p), format="MSEED", reclen=512)
    return p


def test_zero_sampling_rate_named(tmp_path):
    p = _one_stream(tmp_path, "zero.mseed")
    raw = bytearray(p.read_bytes())
    for rec in range(0, len(raw), 512):  # rate factor and multiplier: 0
        raw[rec + 32 : rec + 36] = b"\x00\x00\x00\x00"
    p.write_bytes(bytes(raw))
    with pytest.raises(MseedError) as err:
        build_store(entry(tmp_path, format="mseed", surveys={"d": str(p)}, window_s=5))
    assert_message(err, "zero.mseed", "A", "sampling rate of 0")


def test_window_of_too_few_samples_named(tmp_path):
    p = _one_stream(tmp_path, "short.mseed")
    with pytest.raises(MseedError) as err:
        build_store(entry(tmp_path, format="mseed", surveys={"d": str(p)}, window_s=0.03))
    assert_message(err, "short.mseed", "window_s", "3 samples", "at least 8")


def test_ascii_records_named(tmp_path):
    tr = obspy.Trace(
        np.frombuffer(b"station log: heater on" * 20, dtype="|S1"),
        header={"sampling_rate": 1.0, "station": "LOG"},
    )
    p = tmp_path / "log.mseed"
    obspy.Stream([tr]).write(str(p), format="MSEED", encoding="ASCII")
    with pytest.raises(MseedError) as err:
        build_store(entry(tmp_path, format="mseed", surveys={"d": str(p)}, window_s=100))
    assert_message(err, "log.mseed", "LOG", "ASCII/text records", "streams")


def test_resampling_to_nan_named(tmp_path):
    a = obspy.Trace(
        np.sin(np.arange(2000) / 7).astype(np.float32),
        header={"sampling_rate": 100.0, "station": "A"},
    )
    b = obspy.Trace(
        np.array([1.0, np.nan, 2.0, 3.0] * 250, dtype=np.float32),
        header={"sampling_rate": 50.0, "station": "B"},
    )
    p = tmp_path / "nanres.mseed"
    obspy.Stream([a, b]).write(str(p), format="MSEED")
    with pytest.raises(MseedError) as err:
        build_store(
            entry(tmp_path, format="mseed", surveys={"d": str(p)}, window_s=5, resample_hz=100)
        )
    assert_message(err, "nanres.mseed", "B", "NaN", "resample it from 50 Hz to 100 Hz")


def test_obspy_warnings_one_line_per_file(tmp_path, caplog):
    """ObsPy's real broken-record file makes libmseed warn 18 times: one line for us."""
    import logging

    p = MSEED_DATA / "brokenlastrecord.mseed"
    with caplog.at_level(logging.WARNING, logger="symae_seis"):
        build_store(entry(tmp_path, format="mseed", surveys={"d": str(p)}, window_s=5, gaps="zero"))
    lines = [r.getMessage() for r in caplog.records if "brokenlastrecord" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "ObsPy warned 18 times" in lines[0] and "Not a SEED record" in lines[0]
