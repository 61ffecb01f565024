"""The real-noise benchmark's injection (symae_seis.bench.real_noise): the clock, the
records it writes (read back by ObsPy) and the stretch their correlations carry, and the
extraction of the day from a wheel."""

from __future__ import annotations

import zipfile

import numpy as np
import obspy
import pytest

from symae_seis.bench.real_noise import (
    MEMBER,
    STATIONS,
    RealNoiseError,
    clock,
    fetch,
    inject,
    injected_curve,
)
from symae_seis.qc.anchor import dvv_fit
from symae_seis.qc.dvv import all_pairs, correlate, stretch


def test_injected_curves_and_the_clock():
    step, ramp = injected_curve("step"), injected_curve("ramp")
    assert step[:12].tolist() == [0.0] * 12 and step[12:].tolist() == [-1e-3] * 12
    assert ramp[0] == 0.0 and ramp[-1] == pytest.approx(-1e-3) and np.all(np.diff(ramp) < 0)
    with pytest.raises(RealNoiseError, match="'jump'"):
        injected_curve("jump")
    dvv = np.array([0.0, -0.01, -0.02])
    t = np.array([0.0, 3600.0, 3600.0 - 1e-6, 7200.0, 9000.0])
    got = clock(t, dvv)
    assert got[1] == pytest.approx(3600.0) and got[2] == pytest.approx(3600.0, abs=1e-5)
    assert got[3] == pytest.approx(3600.0 + 3600.0 * 0.99)
    assert got[4] == pytest.approx(3600.0 + 3564.0 + 1800.0 * 0.98)


def _station_day(tmp_path, delay_s: float, sr: float = 10.0, hours: int = 3):
    """Two stations recording one band-limited noise, the second ``delay_s`` later."""
    rng = np.random.default_rng(0)
    n, shift = int(hours * 3600 * sr), int(round(delay_s * sr))
    src = np.convolve(rng.normal(size=n + shift), np.hanning(7), mode="same")
    paths = []
    for name, data in (("A", src[shift:]), ("B", src[:n])):
        tr = obspy.Trace(data.astype(np.float32))
        tr.stats.update({"network": "XX", "station": name, "channel": "HHZ", "sampling_rate": sr})
        tr.stats.starttime = obspy.UTCDateTime(2010, 9, 1)
        paths.append(tmp_path / f"{name}.mseed")
        tr.write(str(paths[-1]), format="MSEED", encoding="FLOAT32")
    return paths


def test_inject_stretches_every_correlation_of_the_hour(tmp_path):
    """Hour 2 of the injected records correlates like hour 0 with its lags stretched by
    1 + dv/v: the delay between the stations reads 20 s / (1 - 0.02)."""
    dvv = np.array([0.0, -0.01, -0.02])
    src = _station_day(tmp_path, delay_s=20.0)
    out = [inject(p, tmp_path / "inj" / p.name, dvv) for p in src]
    st = [obspy.read(str(p))[0] for p in out]
    assert all(tr.stats.npts == 3 * 36000 and tr.stats.sampling_rate == 10.0 for tr in st)
    assert all(tr.stats.starttime == obspy.UTCDateTime(2010, 9, 1) for tr in st)
    records = np.stack([tr.data.astype(np.float64) for tr in st])
    hour0 = obspy.read(str(src[0]))[0].data[:36000]
    np.testing.assert_allclose(records[0, :36000], hour0, rtol=1e-5, atol=1e-5)

    def hour_cc(h):
        win = records[:, h * 36000 : (h + 1) * 36000].reshape(2, 30, 1200).transpose(1, 0, 2)
        return correlate(win, all_pairs(2), 400).mean(axis=0)

    lags = np.arange(-400, 401) / 10.0
    for h in (1, 2):
        eps, x, _ = stretch(hour_cc(h), hour_cc(0), lags, coda_s=(10.0, 30.0), max_eps=0.05)
        assert eps == pytest.approx(dvv[h], abs=1e-3) and x > 0.5
        peak = lags[np.argmax(hour_cc(h)[0])]
        assert peak == pytest.approx(20.0 / (1 + dvv[h]), abs=0.1)
    with pytest.raises(RealNoiseError, match="exists"):
        inject(src[0], out[0], dvv)
    with pytest.raises(RealNoiseError, match=r"\(-0.1, 0\]"):
        inject(src[0], tmp_path / "up.mseed", np.array([0.0, 1e-3, 0.0]))
    with pytest.raises(RealNoiseError, match="shorter than the 4 h"):
        inject(src[0], tmp_path / "long.mseed", np.zeros(4))
    late = obspy.read(str(src[0]))
    late[0].stats.starttime += 30
    late.write(str(tmp_path / "late.mseed"), format="MSEED", encoding="FLOAT32")
    with pytest.raises(RealNoiseError, match="late.mseed: the record starts at .* not on a UTC"):
        inject(tmp_path / "late.mseed", tmp_path / "late_out.mseed", np.zeros(2))


def test_fetch_extracts_the_day_once(tmp_path):
    """The three stations' files come out of a wheel with MSNoise's layout, atomically,
    and a second call reads the cache; a wheel without them is one clear error."""
    day = _station_day(tmp_path, delay_s=1.0, hours=1)[0].read_bytes()
    wheel = tmp_path / "msnoise.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for s in STATIONS:
            z.writestr(MEMBER.format(s=s), day)
    paths = fetch(tmp_path / "cache", wheel)
    assert [p.name for p in paths] == [f"YA.{s}.00.HHZ.D.2010.244" for s in STATIONS]
    assert all(p.read_bytes() == day for p in paths)
    wheel.unlink()
    assert fetch(tmp_path / "cache", wheel) == paths  # cached: the wheel is not opened
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("msnoise/__init__.py", "")
    with pytest.raises(RealNoiseError, match="bad.whl: not MSNoise"):
        fetch(tmp_path / "other", bad)


def test_dvv_fit_separates_gain_from_scatter():
    truth = injected_curve("step")
    rng = np.random.default_rng(1)
    noise = rng.normal(scale=1e-4, size=truth.size)
    noise -= np.polyfit(truth, noise, 1)[0] * (truth - truth.mean()) + noise.mean()
    f = dvv_fit(0.8 * truth + 5e-4 + noise, truth)
    assert f["slope"] == pytest.approx(0.8, abs=1e-9)
    assert f["residual"] == pytest.approx(np.sqrt(np.mean(noise**2)), rel=1e-9)
    assert f["drop_at"] == 12
    assert np.isnan(dvv_fit(noise, np.zeros(truth.size))["slope"])


def test_bench_script_names_a_bad_wheel(tmp_path):
    """`passive_real.py --wheel` with a file that is not MSNoise's wheel: exit status 2 and
    one line naming the file, no traceback."""
    import subprocess
    import sys
    from pathlib import Path

    bad = tmp_path / "msnoise.whl"
    bad.write_bytes(b"not a zip")
    script = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "passive_real.py"
    run = subprocess.run(
        [sys.executable, str(script), "--kinds", "none", "--wheel", str(bad)]
        + ["--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2, run.stderr
    assert f"error: {bad}: not MSNoise 1.6.5's wheel" in run.stderr
    assert "Traceback" not in run.stderr
