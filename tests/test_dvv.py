"""Passive monitoring: the synthetic passive survey (miniSEED, truth) and the conventional
anchor (noise cross-correlation, daily stacks, stretching) against the known dv/v."""

from __future__ import annotations

import h5py
import numpy as np
import obspy
import pytest

from symae_seis.ingest import build_store
from symae_seis.io import MseedError, StoreReader
from symae_seis.qc.dvv import correlate, dvv_by_stretching, moving_stack, stretch
from symae_seis.synth.passive import PassiveParams, make_passive_survey, station_pairs

from .conftest import entry

P = PassiveParams(stations=5, days=12, drop_day=7, windows_per_day=48, seed=3)


@pytest.fixture(scope="module")
def passive(tmp_path_factory):
    return make_passive_survey(tmp_path_factory.mktemp("passive"), P)


def test_stretch_recovers_an_exact_stretch():
    rng = np.random.default_rng(0)
    sr, n = 20.0, 801
    lags = (np.arange(n) - n // 2) / sr
    spec = np.fft.rfft(rng.normal(size=4 * n))
    f = np.fft.rfftfreq(4 * n, 1 / sr)
    spec[(f < 0.5) | (f > 4)] = 0
    coda = np.fft.irfft(spec)[:n] * np.exp(-np.abs(lags) / 15)
    for eps in (0.004, -0.0025):
        cur = np.interp(lags * (1 + eps), lags, coda)           # cur(t) = ref(t (1+eps))
        got, cc, err = stretch(cur, coda, lags, coda_s=(2, 18), band_hz=(0.5, 4))
        assert got == pytest.approx(eps, abs=1e-4) and cc > 0.99
        assert 0 < err < 1e-3


def test_survey_files_truth_and_days_as_datapoints(passive, tmp_path):
    files = passive["mseed"]
    assert len(files) == P.stations * P.days
    tr = obspy.read(str(files[0]))[0]
    assert tr.stats.mseed.encoding == "STEIM2" and tr.stats.sampling_rate == P.sampling_rate
    assert tr.stats.npts == int(P.window_s * P.sampling_rate) * P.windows_per_day
    with h5py.File(passive["truth"], "r") as h5:
        dvv, drop = h5["dvv"][:], int(h5.attrs["drop_day"])
    assert dvv.shape == (P.days,) and drop == P.drop_day
    assert np.argmin(np.diff(dvv)) + 1 == P.drop_day        # the sudden drop
    e = entry(tmp_path, "pas", format="mseed", surveys={"days": [str(f) for f in files]},
              window_s=P.window_s, datapoint_by="day")
    r = StoreReader(build_store(e))
    assert r.shape == (P.days * P.windows_per_day, P.stations,
                       int(P.window_s * P.sampling_rate))
    assert len(r.members) == P.days and all(len(m) == P.windows_per_day for m in r.members)


def test_truth_greens_carry_the_dvv(passive):
    """Stretching the true inter-station Green's functions gives back the dv/v history."""
    with h5py.File(passive["truth"], "r") as h5:
        g, dvv = h5["greens"][:], h5["dvv"][:]
    lag = (g.shape[-1] - 1) // 2
    lags = np.arange(-lag, lag + 1) / P.sampling_rate
    got = dvv_by_stretching(g, g[0], lags, coda_s=(1, 15))["dvv"]
    np.testing.assert_allclose(got, dvv - dvv[0], atol=0.15 * np.abs(dvv).max())


def test_noise_interferometry_anchor_tracks_dvv(passive):
    """The conventional anchor: whitened cross-correlations of every pair, daily stacks,
    stretching against the mean stack. It must follow the truth and place the drop."""
    n = int(P.window_s * P.sampling_rate)
    folder = passive["mseed"][0].parent
    pairs = station_pairs(P.stations)
    stacks = []
    for d in range(P.days):
        data = np.stack([obspy.read(str(folder / f"XX.P{s}..HHZ.{d + 1:03d}.mseed"))[0]
                         .data.astype(float) for s in range(P.stations)])
        win = data.reshape(P.stations, P.windows_per_day, n).transpose(1, 0, 2)
        stacks.append(correlate(win, pairs, max_lag=n // 2).mean(axis=0))
    stacks = np.asarray(stacks)
    lags = (np.arange(stacks.shape[-1]) - n // 2) / P.sampling_rate
    with h5py.File(passive["truth"], "r") as h5:
        truth = h5["dvv"][:]
    res = dvv_by_stretching(stacks, stacks.mean(axis=0), lags, coda_s=(2, 12),
                            band_hz=P.band_hz)
    est = res["dvv"] - res["dvv"].mean() + truth.mean()      # relative to the mean day
    rms = np.sqrt(np.mean((est - truth) ** 2))
    assert rms < 0.5 * truth.std()
    assert abs(int(np.argmin(np.diff(est))) + 1 - P.drop_day) <= 1
    assert np.isfinite(res["err"]).all() and (res["err"] > 0).all()
    five = dvv_by_stretching(moving_stack(stacks, 5), stacks.mean(axis=0), lags,
                             coda_s=(2, 12))
    assert np.isfinite(five["dvv"]).all()


def test_symae_synth_passive_from_the_catalog(tmp_path):
    """`symae-synth` writes a passive survey from a catalog `generate: {kind: passive}`."""
    import yaml

    from symae_seis.cli.synth import main

    cat = tmp_path / "data_catalog.yaml"
    cat.write_text(yaml.safe_dump({"datasets": {"p": {
        "format": "mseed", "generate": {"kind": "passive", "stations": 3, "days": 2,
                                        "windows_per_day": 2, "drop_day": 1},
        "surveys": {"days": "data/*.mseed"}, "window_s": 40, "datapoint_by": "day"}}}))
    (tmp_path / "data").mkdir()
    assert main(["p", "--catalog", str(cat)]) == 0
    assert len(list((tmp_path / "data").glob("*.mseed"))) == 6
    assert (tmp_path / "data" / "truth.h5").is_file()
    assert main(["p", "--catalog", str(cat)]) == 2            # never overwritten silently


def test_correlation_instances_in_the_store(passive, tmp_path):
    """`correlate: {max_lag_s}` stores each window's pair correlations: the day means of
    the store are the anchor's daily stacks, on a lag axis from -max_lag_s."""
    from symae_seis.catalog import CatalogError

    files = [str(f) for f in passive["mseed"]]
    e = entry(tmp_path, "cc", format="mseed", surveys={"days": files}, window_s=P.window_s,
              datapoint_by="day", correlate={"max_lag_s": 10})
    r = StoreReader(build_store(e))
    lag = int(10 * P.sampling_rate)
    pairs = station_pairs(P.stations)
    assert r.shape == (P.days * P.windows_per_day, len(pairs), 2 * lag + 1)
    assert r.t0_ms == pytest.approx(-10_000.0) and r.dt_ms == pytest.approx(50.0)
    n = int(P.window_s * P.sampling_rate)
    folder = passive["mseed"][0].parent
    d = 3
    data = np.stack([obspy.read(str(folder / f"XX.P{s}..HHZ.{d + 1:03d}.mseed"))[0]
                     .data.astype(float) for s in range(P.stations)])
    win = data.reshape(P.stations, P.windows_per_day, n).transpose(1, 0, 2)
    expected = correlate(win, pairs, max_lag=lag).mean(axis=0)
    got = r.read(r.members[d]).mean(axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    for bad, words in (({"max_lag": 10}, "max_lag_s"),
                       ({"max_lag_s": 10, "whitening": True}, "unknown key"),
                       ({"max_lag_s": 100}, "shorter than window_s")):
        with pytest.raises((CatalogError, MseedError)) as err:
            build_store(entry(tmp_path, "x", format="mseed",
                              surveys={"days": [f for f in files if ".001." in f]},
                              window_s=P.window_s, correlate=bad, store="x.h5"))
        assert words in str(err.value) and "'x'" in str(err.value)


def test_symae_redatumed_days_track_dvv(passive, tmp_path):
    """The SymAE path on a small passive survey: train on the correlation windows
    (datapoint = day, one epoch), redatum every window onto the mean nuisance code, stretch
    the day's mean virtual gather. It must follow the truth and place the drop."""
    import lightning.pytorch as pl

    from symae_seis.redatum import redatum
    from symae_seis.training import SymAEDataModule, SymAELit

    from .conftest import write_catalog

    cat = write_catalog(tmp_path, {"cc": {
        "format": "mseed", "surveys": {"days": [str(f) for f in passive["mseed"]]},
        "window_s": P.window_s, "datapoint_by": "day", "correlate": {"max_lag_s": 20}}})
    pl.seed_everything(0)
    dm = SymAEDataModule("cc", str(cat), instances=8, batch_size=8, val_fraction=0.1)
    lit = SymAELit(dm.channels, dm.samples, dm.scale, dm.schema)
    pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
               enable_progress_bar=False, enable_model_summary=False).fit(lit, dm)
    with StoreReader(dm.store_path) as reader:
        res = redatum(lit.model, reader, tmp_path / "out", mode="reference",
                      reference="mean", write_segy=False)
        with h5py.File(res.files["netcdf"], "r") as h5:
            virtual, rows = h5["virtual"][:], h5["recorded_instance"][:]
        assert (rows == np.arange(reader.shape[0])).all()
        stacks = np.stack([virtual[m].mean(axis=0) for m in reader.members])
        lags = reader.t0_ms / 1000 + reader.dt_ms / 1000 * np.arange(reader.shape[-1])
    with h5py.File(passive["truth"], "r") as h5:
        truth = h5["dvv"][:]
    r = dvv_by_stretching(stacks, stacks.mean(axis=0), lags, coda_s=(2, 12))
    est = r["dvv"] - r["dvv"].mean() + truth.mean()
    assert r["cc"].mean() < 0.999                        # not one gather for every day
    assert np.sqrt(np.mean((est - truth) ** 2)) < 0.6 * truth.std()
    assert abs(int(np.argmin(np.diff(est))) + 1 - P.drop_day) <= 1
