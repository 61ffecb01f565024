"""symae-qc: the 4D processor's QC of a redatum run without truth (and with it), run as
a user runs it, its products read back with xarray, csv and matplotlib's PNG reader."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from symae_seis.qc.products import disentangle_probe, qc_windows, shift_strain
from symae_seis.qc.write4d import QC_FILES


@pytest.fixture(scope="module")
def run4d(tmp_path_factory, trained_run, small_catalog):
    from symae_seis.catalog import load_catalog
    from symae_seis.ingest import ensure_store
    from symae_seis.redatum import redatum

    store = ensure_store(load_catalog(small_catalog)["small"])
    out = tmp_path_factory.mktemp("qc") / "redatum"
    redatum(trained_run / "model.pt", store, out)
    return out, store


def _qc(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "symae_seis.cli.qc", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


def test_symae_qc_without_truth(run4d, small_catalog):
    out, _ = run4d
    res = _qc(str(out), "--dataset", "small", "--catalog", str(small_catalog))
    assert res.returncode == 0, res.stderr
    qc = out / "qc"
    for name in QC_FILES.values():  # the run's own model is named in redatum.nc: probed
        assert (qc / name).is_file(), name
    with open(qc / "repeatability.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 16 and {r["survey"] for r in rows} == {"monitor"}
    before = np.array([float(r["nrms_before_window"]) for r in rows])
    after = np.array([float(r["nrms_after_window"]) for r in rows])
    # where nothing changed, the virtual repeats the baseline far better than the monitor
    assert np.median(after) < 0.6 * np.median(before)
    assert all(r["nrms_truth_window"] == "nan" for r in rows)  # no truth given
    meta = json.loads((qc / "repeatability.json").read_text())
    assert meta["options"]["design_ms"] == [0.0, 100.0]  # the catalog's design window
    assert "PRED" in meta["pred"] and set(meta["columns"]) >= {"signal_4d", "nrms_recon"}
    ds = xr.load_dataset(qc / "qc4d.nc", engine="h5netcdf")
    assert ds["time_shift"].dims == ("datapoint", "twt_window")
    assert ds["twt_window"].attrs["units"] == "ms" and "history" in ds.attrs
    np.testing.assert_allclose(ds["nrms_after_window"].values, after, rtol=1e-3, atol=1e-3)
    with open(qc / "disentangle.csv") as fh:
        probe = list(csv.DictReader(fh))
    assert [p["zone"] for p in probe] == ["inside", "outside"]
    assert all(40.0 <= float(p["chance"]) <= 100.0 for p in probe)
    import matplotlib.image as mpimg

    for png in ("repeatability.png", "signal_4d.png", "residual_section.png"):
        assert mpimg.imread(qc / png).shape[0] > 200
    # outputs are not replaced without --overwrite; with it, they are
    res = _qc(str(out), "--dataset", "small", "--catalog", str(small_catalog))
    assert res.returncode == 2 and "--overwrite" in res.stderr
    res = _qc(str(out), "--dataset", "small", "--catalog", str(small_catalog), "--overwrite")
    assert res.returncode == 0, res.stderr


def test_symae_qc_with_truth_and_zone(run4d, small_survey, tmp_path):
    out, store = run4d
    res = _qc(
        str(out),
        "--store",
        str(store),
        "--design-window",
        "0",
        "100",
        "--truth",
        str(small_survey["truth"]),
        "--out",
        str(tmp_path / "qc"),
    )
    assert res.returncode == 0, res.stderr
    with open(tmp_path / "qc" / "repeatability.csv") as fh:
        rows = list(csv.DictReader(fh))
    truth = np.array([float(r["nrms_truth_window"]) for r in rows])
    assert np.isfinite(truth).all() and np.median(truth) < 60
    zone = np.array([r["changed_zone"] == "1" for r in rows])
    assert zone.any() and not zone.all()
    signal = np.array([float(r["signal_4d"]) for r in rows])
    # the 4D signal is larger where the earth changed
    assert np.median(signal[zone]) > np.median(signal[~zone])


def test_bad_qc_input_is_one_line(run4d, tmp_path):
    out, store = run4d
    res = _qc(str(tmp_path), "--store", str(store))
    assert res.returncode == 2 and "redatum.nc does not exist" in res.stderr
    res = _qc(
        str(out), "--store", str(store), "--design-window", "900", "1000", "--out", str(tmp_path)
    )
    assert res.returncode == 2 and "design window [900.0, 1000.0] ms holds 0 samples" in res.stderr
    res = _qc(str(out), "--store", str(store), "--coherence", "2")
    assert res.returncode == 2 and "--coherence" in res.stderr
    assert "Traceback" not in res.stderr


def test_shift_strain_finds_a_known_shift():
    rng = np.random.default_rng(0)
    t = np.arange(300)
    wav = np.exp(-0.5 * ((np.arange(-20, 21)) / 3.0) ** 2) * np.cos(np.arange(-20, 21) / 2.0)
    refl = rng.normal(size=(2, 4, 300)) * (rng.random((2, 4, 300)) < 0.08)
    base = np.apply_along_axis(lambda r: np.convolve(r, wav, mode="same"), -1, refl)
    # the virtual is late by a shift that grows with time: 0 at the top, 2 samples at the end
    shifted = np.array([[np.interp(t - 2.0 * t / 299, t, tr) for tr in g] for g in base])
    live = np.ones((2, 4), dtype=bool)
    centre, shift, coef = shift_strain(shifted, base, live, dt_ms=4.0, window_ms=160.0)
    ok = coef > 0.9
    assert ok.sum() >= 3
    np.testing.assert_allclose(shift[ok], 8.0 * centre[ok] / 299, atol=1.0)


def test_windows_and_probe_chance():
    w = qc_windows(np.arange(0, 400, 4.0), (0, 100))
    assert w.design == (0, 26) and w.reservoir == (25, 100)
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(80, 4))
    survey = np.repeat(["baseline", "monitor"], 40)
    inside = np.tile([True, False], 40)
    rows = disentangle_probe(codes, survey, inside)
    assert [r["chance"] for r in rows] == [50.0, 50.0]
    assert all(abs(r["accuracy"] - 50) < 25 for r in rows)  # random codes: near chance
    codes[:40, 0] += 6.0  # the surveys' codes differ: the probe sees it
    assert all(r["accuracy"] > 90 for r in disentangle_probe(codes, survey, inside))


def test_shift_strain_on_short_records_and_empty_windows():
    """A record shorter than the window is one window; a window with nothing recorded
    gives no shift (NaN), not the lag's edge."""
    g = np.zeros((1, 2, 10))
    g[0, :, 4] = 1.0
    centre, shift, coef = shift_strain(g, g, np.ones((1, 2), bool), dt_ms=4.0)
    assert len(centre) == 1 and abs(shift[0]) < 1e-9 and coef[0] == pytest.approx(1.0)
    quiet = np.zeros((1, 2, 60))
    centre, shift, coef = shift_strain(quiet, quiet, np.ones((1, 2), bool), dt_ms=4.0)
    assert np.isnan(shift).all() and np.isnan(coef).all()
