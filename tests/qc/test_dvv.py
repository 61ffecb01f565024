"""Passive monitoring: the synthetic passive survey (miniSEED, truth) and the conventional
anchor (noise cross-correlation, daily stacks, stretching) against the known dv/v."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import obspy
import pytest

from symae_seis.ingest import build_store
from symae_seis.io import MseedError, StoreReader
from symae_seis.qc.dvv import (
    correlate,
    daily_dvv,
    dvv_by_stretching,
    pairwise_dvv,
    stretch,
)
from symae_seis.synth.passive import PassiveParams, make_passive_survey, station_pairs

from ..conftest import entry

P = PassiveParams(stations=5, days=12, drop_day=7, windows_per_day=48, seed=3)


@pytest.fixture(scope="module")
def passive(tmp_path_factory):
    return make_passive_survey(tmp_path_factory.mktemp("passive"), P)


def _coda(seed: int = 0):
    """A band-limited (0.5-4 Hz) coda decaying over 15 s, on lags of +-20 s at 20 Hz."""
    rng = np.random.default_rng(seed)
    sr, n = 20.0, 801
    lags = (np.arange(n) - n // 2) / sr
    spec = np.fft.rfft(rng.normal(size=4 * n))
    f = np.fft.rfftfreq(4 * n, 1 / sr)
    spec[(f < 0.5) | (f > 4)] = 0
    coda = np.fft.irfft(spec)[:n] * np.exp(-np.abs(lags) / 15)
    return coda, lags


def test_stretch_recovers_an_exact_stretch():
    coda, lags = _coda()
    for eps in (0.004, -0.0025):
        cur = np.interp(lags * (1 + eps), lags, coda)  # cur(t) = ref(t (1+eps))
        got, cc, err = stretch(cur, coda, lags, coda_s=(2, 18), band_hz=(0.5, 4))
        assert got == pytest.approx(eps, abs=1e-4) and cc > 0.99
        assert 0 < err < 1e-3


def test_reference_without_the_day_is_unbiased():
    """Days that are exact stretches of one coda plus noise of their own: stretched
    against the mean of all days, each day's noise finds itself in the reference at zero
    stretch and the dv/v shrinks towards 0; against the other days it does not."""
    coda, lags = _coda()
    truth = 0.003 * np.sin(np.linspace(0, 2 * np.pi, 20, endpoint=False))
    days = np.stack(
        [np.interp(lags * (1 + e), lags, coda) + 1.5 * _coda(1 + k)[0] for k, e in enumerate(truth)]
    )[:, None]  # (days, 1 pair, lags)

    def slope(reference):
        got = daily_dvv(days, lags, coda_s=(2, 18), reference=reference)["dvv"]
        return np.polyfit(truth - truth.mean(), got - got.mean(), 1)[0]

    assert slope("mean") < 0.9
    assert slope("others") == pytest.approx(1.0, abs=0.05)
    assert slope("pairs") == pytest.approx(1.0, abs=0.05)
    five = daily_dvv(days, lags, coda_s=(2, 18), days=5)["dvv"]
    assert np.corrcoef(five[4:], truth[2:-2])[0, 1] > 0.9  # lags by 2 days, as it should
    with pytest.raises(ValueError, match="more than 20"):
        daily_dvv(days, lags, coda_s=(2, 18), days=20)


def test_all_pairs_inversion_recovers_exact_stretches():
    """Days that are exact stretches of one coda: every two days stretched against each
    other and inverted (Brenguier et al. 2014) give the history up to its mean, also with
    only neighbouring days paired; days no pair connects are an error, not a guess."""
    coda, lags = _coda()
    truth = np.array([0.0, 0.001, 0.0025, -0.0015, -0.003, 0.0005, 0.002])
    days = np.stack([np.interp(lags * (1 + e), lags, coda) for e in truth])[:, None]
    for sep in (None, 2):
        r = pairwise_dvv(days, lags, coda_s=(2, 18), band_hz=(0.5, 4), max_separation=sep)
        np.testing.assert_allclose(r["dvv"], truth - truth.mean(), atol=1e-4)
        assert np.all(r["cc"] > 0.99) and np.all((r["err"] > 0) & (r["err"] < 1e-3))
    same = daily_dvv(days, lags, coda_s=(2, 18), reference="pairs")
    np.testing.assert_allclose(same["dvv"], r["dvv"], atol=1e-4)
    assert np.isnan(same["err"]).all()  # no band, no Weaver error
    dead = days.copy()
    dead[3] = 0  # a day with no record at all
    r = pairwise_dvv(dead, lags, coda_s=(2, 18))
    live = np.arange(len(truth)) != 3
    assert np.isnan(r["dvv"][3]) and np.isnan(r["cc"][3])
    np.testing.assert_allclose(r["dvv"][live], truth[live] - truth[live].mean(), atol=1e-4)
    with pytest.raises(ValueError, match=r"do not connect every live day.*dead days \[3\]"):
        pairwise_dvv(dead, lags, coda_s=(2, 18), max_separation=1)
    with pytest.raises(ValueError, match="separation of 1 or more"):
        pairwise_dvv(days, lags, coda_s=(2, 18), max_separation=0)


def test_survey_files_truth_and_days_as_datapoints(passive, tmp_path):
    files = passive["mseed"]
    assert len(files) == P.stations * P.days
    tr = obspy.read(str(files[0]))[0]
    assert tr.stats.mseed.encoding == "STEIM2" and tr.stats.sampling_rate == P.sampling_rate
    assert tr.stats.npts == int(P.window_s * P.sampling_rate) * P.windows_per_day
    with h5py.File(passive["truth"], "r") as h5:
        dvv, drop = h5["dvv"][:], int(h5.attrs["drop_day"])
    assert dvv.shape == (P.days,) and drop == P.drop_day
    assert np.argmin(np.diff(dvv)) + 1 == P.drop_day  # the sudden drop
    e = entry(
        tmp_path,
        "pas",
        format="mseed",
        surveys={"days": [str(f) for f in files]},
        window_s=P.window_s,
        datapoint_by="day",
    )
    r = StoreReader(build_store(e))
    assert r.shape == (P.days * P.windows_per_day, P.stations, int(P.window_s * P.sampling_rate))
    assert len(r.members) == P.days and all(len(m) == P.windows_per_day for m in r.members)


def test_truth_greens_carry_the_dvv(passive):
    """Stretching the true inter-station Green's functions gives back the dv/v history."""
    with h5py.File(passive["truth"], "r") as h5:
        g, dvv = h5["greens"][:], h5["dvv"][:]
    lag = (g.shape[-1] - 1) // 2
    lags = np.arange(-lag, lag + 1) / P.sampling_rate
    got = dvv_by_stretching(g, g[0], lags, coda_s=(1, 15))["dvv"]
    np.testing.assert_allclose(got, dvv - dvv[0], atol=0.15 * np.abs(dvv).max())


def test_noise_seed_and_repeated_sources():
    """``noise_seed`` draws another noise field through the same medium; with
    ``repeat_sources`` window w of every day has the same source strengths and spectra
    (its energy repeats from day to day), without it the sources are drawn anew;
    ``per_source`` gives each source's share of the records."""
    from dataclasses import replace

    from symae_seis.synth.passive import passive_days

    p = PassiveParams(stations=3, days=3, windows_per_day=16, scatterers=10, seed=5)
    n = int(p.window_s * p.sampling_rate)

    def run(q):
        days = list(passive_days(q))
        log_energy = np.stack(
            [
                np.log(np.mean(data.reshape(q.stations, -1, n) ** 2, axis=(0, 2)))
                for _, _, data, _ in days
            ]
        )
        return days, log_energy

    def day_to_day(log_energy):  # correlation of the windows' energies
        return min(np.corrcoef(log_energy[0], log_energy[d])[0, 1] for d in (1, 2))

    base, e_base = run(p)
    other, e_other = run(replace(p, noise_seed=1))
    rep, e_rep = run(replace(p, noise_seed=1, repeat_sources=True))
    for (_, dvv_a, data_a, g_a), (_, dvv_b, data_b, g_b) in zip(base, other):
        assert dvv_a == dvv_b and np.array_equal(g_a, g_b)  # the same medium
        assert np.corrcoef(data_a.ravel(), data_b.ravel())[0, 1] < 0.2  # another noise
    assert day_to_day(e_rep) > 0.9
    assert day_to_day(e_base) < 0.6 and day_to_day(e_other) < 0.6
    parts = next(passive_days(p, per_source=True))[2]  # each source's share
    assert parts.shape == (p.sources, *base[0][2].shape)
    np.testing.assert_allclose(parts.sum(axis=0), base[0][2], atol=1e-9 * np.abs(parts).max())


def test_noise_interferometry_anchor_tracks_dvv(passive):
    """The conventional anchor: whitened cross-correlations of every pair, daily stacks,
    stretching against the other days. It must follow the truth and place the drop."""
    n = int(P.window_s * P.sampling_rate)
    folder = passive["mseed"][0].parent
    pairs = station_pairs(P.stations)
    stacks = []
    for d in range(P.days):
        data = np.stack(
            [
                obspy.read(str(folder / f"XX.P{s}..HHZ.{d + 1:03d}.mseed"))[0].data.astype(float)
                for s in range(P.stations)
            ]
        )
        win = data.reshape(P.stations, P.windows_per_day, n).transpose(1, 0, 2)
        stacks.append(correlate(win, pairs, max_lag=n // 2).mean(axis=0))
    stacks = np.asarray(stacks)
    lags = (np.arange(stacks.shape[-1]) - n // 2) / P.sampling_rate
    with h5py.File(passive["truth"], "r") as h5:
        truth = h5["dvv"][:]
    res = daily_dvv(stacks, lags, coda_s=(2, 12), band_hz=P.band_hz)
    est = res["dvv"] - res["dvv"].mean() + truth.mean()  # up to a constant
    rms = np.sqrt(np.mean((est - truth) ** 2))
    assert rms < 0.5 * truth.std()
    assert abs(int(np.argmin(np.diff(est))) + 1 - P.drop_day) <= 1
    assert np.isfinite(res["err"]).all() and (res["err"] > 0).all()
    five = daily_dvv(stacks, lags, coda_s=(2, 12), days=5)
    assert np.isfinite(five["dvv"]).all()


def test_symae_synth_passive_from_the_catalog(tmp_path):
    """`symae-synth` writes a passive survey from a catalog `generate: {kind: passive}`."""
    import yaml

    from symae_seis.cli.synth import main

    cat = tmp_path / "data_catalog.yaml"
    cat.write_text(
        yaml.safe_dump(
            {
                "datasets": {
                    "p": {
                        "format": "mseed",
                        "generate": {
                            "kind": "passive",
                            "stations": 3,
                            "days": 2,
                            "windows_per_day": 2,
                            "drop_day": 1,
                        },
                        "surveys": {"days": "data/*.mseed"},
                        "window_s": 40,
                        "datapoint_by": "day",
                    }
                }
            }
        )
    )
    (tmp_path / "data").mkdir()
    assert main(["p", "--catalog", str(cat)]) == 0
    assert len(list((tmp_path / "data").glob("*.mseed"))) == 6
    assert (tmp_path / "data" / "truth.h5").is_file()
    assert main(["p", "--catalog", str(cat)]) == 2  # never overwritten silently


def test_correlation_instances_in_the_store(passive, tmp_path):
    """`correlate: {max_lag_s}` stores each window's pair correlations: the day means of
    the store are the anchor's daily stacks, on a lag axis from -max_lag_s."""
    from symae_seis.catalog import CatalogError

    files = [str(f) for f in passive["mseed"]]
    e = entry(
        tmp_path,
        "cc",
        format="mseed",
        surveys={"days": files},
        window_s=P.window_s,
        datapoint_by="day",
        correlate={"max_lag_s": 10},
    )
    r = StoreReader(build_store(e))
    lag = int(10 * P.sampling_rate)
    pairs = station_pairs(P.stations)
    assert r.shape == (P.days * P.windows_per_day, len(pairs), 2 * lag + 1)
    assert r.t0_ms == pytest.approx(-10_000.0) and r.dt_ms == pytest.approx(50.0)
    n = int(P.window_s * P.sampling_rate)
    folder = passive["mseed"][0].parent
    d = 3
    data = np.stack(
        [
            obspy.read(str(folder / f"XX.P{s}..HHZ.{d + 1:03d}.mseed"))[0].data.astype(float)
            for s in range(P.stations)
        ]
    )
    win = data.reshape(P.stations, P.windows_per_day, n).transpose(1, 0, 2)
    expected = correlate(win, pairs, max_lag=lag).mean(axis=0)
    got = r.read(r.members[d]).mean(axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    for bad, words in (
        ({"max_lag": 10}, "max_lag_s"),
        ({"max_lag_s": 10, "whitening": True}, "unknown key"),
        ({"max_lag_s": 100}, "shorter than window_s"),
        ({"max_lag_s": 10, "band_hz": [2.0, 1.0]}, "low < high"),
        ({"max_lag_s": 10, "band_hz": "0.1-1"}, "band_hz"),
        ({"max_lag_s": 10, "band_hz": [1.0, 15.0]}, "Nyquist frequency 10 Hz"),
        ({"max_lag_s": 10, "band_hz": [1.0, 1.001]}, "holds no frequency"),
    ):
        with pytest.raises((CatalogError, MseedError)) as err:
            build_store(
                entry(
                    tmp_path,
                    "x",
                    format="mseed",
                    surveys={"days": [f for f in files if ".001." in f]},
                    window_s=P.window_s,
                    correlate=bad,
                    store="x.h5",
                )
            )
        assert words in str(err.value) and "'x'" in str(err.value)


def test_band_limited_whitening_keeps_the_band_and_the_lag():
    """`correlate(..., band=)`: the whitened correlation holds no energy outside the band,
    and a record that reaches station j 0.4 s after station i still peaks at +0.4 s."""
    from symae_seis.qc.correlation import band_window

    rng = np.random.default_rng(4)
    dt, n, shift, lag = 0.05, 2400, 8, 100
    src = rng.normal(size=(5, n + shift))
    win = np.stack([src[:, shift:], src[:, :n]], axis=1)  # j sees i's record 8 samples later
    band = ((0.5, 4.0), dt)
    cc = correlate(win, np.array([[0, 1]]), lag, band=band).mean(axis=0)[0]
    assert np.argmax(cc) - lag == shift
    spec = np.abs(np.fft.rfft(cc, 4096))
    freq = np.fft.rfftfreq(4096, dt)
    outside = (freq < 0.3) | (freq > 5.0)
    assert spec[outside].max() < 0.05 * spec.max()
    full = correlate(win, np.array([[0, 1]]), lag).mean(axis=0)[0]
    full_spec = np.abs(np.fft.rfft(full, 4096))
    assert full_spec[freq > 5.0].max() > 0.3 * full_spec.max()  # without the band: broadband
    w = band_window(512, dt, (0.5, 4.0))
    assert w.max() == 1.0 and w[np.fft.rfftfreq(512, dt) > 4.0].max() == 0.0
    with pytest.raises(ValueError, match="Nyquist|<= 10"):
        band_window(512, dt, (1.0, 12.0))


@pytest.fixture(scope="module")
def passive_run(passive, tmp_path_factory):
    """The SymAE path on the small passive survey: correlation store (datapoint = day),
    a short epoch of training, then `symae-redatum --reference mean` on every window."""
    import lightning.pytorch as pl

    from symae_seis.cli.redatum import main as redatum_main
    from symae_seis.training import SymAEDataModule, SymAELit

    from ..conftest import write_catalog

    tmp = tmp_path_factory.mktemp("passive_run")
    cat = write_catalog(
        tmp,
        {
            "cc": {
                "format": "mseed",
                "surveys": {"days": [str(f) for f in passive["mseed"]]},
                "window_s": P.window_s,
                "datapoint_by": "day",
                "correlate": {"max_lag_s": 20},
            }
        },
    )
    pl.seed_everything(0)
    # one short epoch (4 draws of each day) keeps this a path test
    dm = SymAEDataModule("cc", str(cat), instances=8, batch_size=8, val_fraction=0.1, repeats=4)
    lit = SymAELit(dm.channels, dm.samples, dm.scale, dm.schema)
    pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    ).fit(lit, dm)
    model = lit.model.save(tmp / "model.pt")
    out = tmp / "redatum"
    assert (
        redatum_main(
            [
                str(model),
                "--store",
                str(dm.store_path),
                "--reference",
                "mean",
                "--out",
                str(out),
                "--no-segy",
                "--no-plots",
            ]
        )
        == 0
    )
    return {"store": Path(dm.store_path), "redatum": out, "truth": passive["truth"], "model": model}


def test_codes_not_fitted_by_default_on_miniseed_stores(passive_run, tmp_path):
    """On a miniSEED store (station pairs, not receivers) redatuming decodes the encoder's
    codes as they are: the default run equals an explicit ``--refine-steps 0``, and a
    code fit (what gathers get by default) changes the virtual gathers."""
    from symae_seis.redatum import default_refine_steps, redatum

    with StoreReader(passive_run["store"]) as reader:
        assert default_refine_steps(reader) == 0
        runs = {
            n: redatum(
                passive_run["model"],
                reader,
                tmp_path / str(n),
                mode="reference",
                write_segy=False,
                refine_steps=n,
            )
            for n in (0, 5)
        }
    with h5py.File(passive_run["redatum"] / "redatum.nc", "r") as h5:
        default = h5["virtual"][:]
    virtual = {}
    for n, res in runs.items():
        with h5py.File(res.files["netcdf"], "r") as h5:
            virtual[n] = h5["virtual"][:]
    np.testing.assert_array_equal(default, virtual[0])
    assert np.abs(virtual[5] - virtual[0]).max() > 1e-3 * np.abs(virtual[0]).max()


def test_symae_redatumed_days_track_dvv(passive_run):
    """Every window redatumed onto the mean nuisance code, the day's virtual gathers
    stacked and stretched (`qc.dvv.redatum_dvv`): the dv/v follows the truth, places the
    drop, and the anchor from the same call reads the store's own day stacks."""
    from symae_seis.qc.dvv import redatum_dvv

    with h5py.File(passive_run["truth"], "r") as h5:
        truth = h5["dvv"][:]
    with StoreReader(passive_run["store"]) as reader:
        ds = redatum_dvv(
            passive_run["redatum"] / "redatum.nc", reader, coda_s=(2, 12), band_hz=P.band_hz
        )
        first = reader.read(reader.members[0]).mean(axis=0)
        day0 = int(reader.dp_key[0, 0])
    assert ds.sizes["day"] == P.days and ds["day"].values[0] == np.datetime64(day0 * 86400, "s")
    np.testing.assert_allclose(ds["recorded_stack"].values[0], first, rtol=1e-5, atol=1e-6)
    est = ds["dvv_virtual"].values
    est = est - est.mean() + truth.mean()
    assert ds["cc_virtual"].values.mean() < 0.999  # not one gather for every day
    assert np.sqrt(np.mean((est - truth) ** 2)) < 0.6 * truth.std()
    assert abs(int(np.argmin(np.diff(est))) + 1 - P.drop_day) <= 1
    assert np.isfinite(ds["err_virtual"].values).all() and (ds["err_virtual"] > 0).all()
    with StoreReader(passive_run["store"]) as reader:  # no reference at all
        pairs = redatum_dvv(
            passive_run["redatum"] / "redatum.nc",
            reader,
            coda_s=(2, 12),
            band_hz=P.band_hz,
            reference="pairs",
        )
    assert pairs.attrs["reference"] == "pairs"
    for kind in ("virtual", "recorded"):
        got = pairs[f"dvv_{kind}"].values
        assert abs(got.mean()) < 1e-12 and np.isfinite(pairs[f"err_{kind}"].values).all()
        assert np.sqrt(np.mean((got - truth + truth.mean()) ** 2)) < 0.6 * truth.std()


def test_passive_notebook(passive_run, tmp_path, monkeypatch):
    """notebooks/passive_qc.ipynb executed headless on the run: dv/v curves (truth, anchor,
    SymAE) and the daily stacks; with another survey's truth it says so and leaves it out."""

    import nbformat
    from nbclient import NotebookClient

    repo = Path(__file__).resolve().parents[2]

    def run(truth):
        nb = nbformat.read(repo / "notebooks" / "passive_qc.ipynb", as_version=4)
        cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1 and "redatum_dir =" in cells[0].source
        cells[0].source = (  # the one cell a user edits
            f"redatum_dir = {str(passive_run['redatum'])!r}\n"
            f"store = {str(passive_run['store'])!r}\ntruth = {str(truth)!r}\ncoda_s = (2, 12)"
        )
        NotebookClient(
            nb,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(repo / "notebooks")}},
        ).execute()
        outs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        text = "\n".join(o.get("text", "") for o in outs)
        return text, sum("image/png" in o.get("data", {}) for o in outs)

    text, images = run(passive_run["truth"])
    assert f"{P.days} days" in text and "RMS error vs truth" in text
    assert "SymAE virtual, 1-day" in text and "anchor, 5-day stacks" in text
    assert images == 3
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["dvv"] = np.zeros(P.days + 3)
    text, images = run(other)
    assert "is not this survey's truth" in text and "RMS error vs truth" not in text
    assert images == 3


# ------------------------------------------------------------------ bad passive input
def _days(passive, tmp_path, days=4, edit=None):
    """Copies of the first ``days`` days of the survey; ``edit(station, day, trace)``
    changes a day file (returns the trace to write, or None to leave the file out)."""
    folder = tmp_path / "days"
    folder.mkdir(exist_ok=True)
    out = []
    for d in range(days):
        for s in range(P.stations):
            name = f"XX.P{s}..HHZ.{d + 1:03d}.mseed"
            tr = obspy.read(str(passive["mseed"][0].parent / name))[0]
            tr = edit(s, d, tr) if edit else tr
            if tr is None:
                continue
            p = folder / name
            (tr if isinstance(tr, obspy.Stream) else obspy.Stream([tr])).write(
                str(p), format="MSEED"
            )
            out.append(str(p))
    return out


def test_station_missing_one_day(passive, tmp_path):
    """Station P2 has no file on day 2: an error naming the stream, the day and the policy;
    `gaps: skip` leaves that day out with a warning; `gaps: zero` keeps it with the
    station's pairs dead, and stretching that day ignores them."""
    from symae_seis.errors import SymaeWarning

    files = _days(passive, tmp_path, edit=lambda s, d, tr: None if (s, d) == (2, 1) else tr)
    kw = dict(
        format="mseed",
        surveys={"days": files},
        window_s=P.window_s,
        datapoint_by="day",
        correlate={"max_lag_s": 10},
    )
    with pytest.raises(MseedError) as err:
        build_store(entry(tmp_path, "rej", **kw))
    assert "XX.P2..HHZ" in str(err.value) and "is missing" in str(err.value)
    assert "2024-01-02" in str(err.value) and "gaps: skip" in str(err.value)
    with pytest.warns(SymaeWarning, match=r"48 of 192 windows left out .*2024-01-02"):
        r = StoreReader(build_store(entry(tmp_path, "skip", gaps="skip", **kw)))
    assert len(r.members) == 3 and r.shape[0] == 3 * P.windows_per_day
    assert 1 not in set(r.dp_key[:, 0] - r.dp_key[:, 0].min())
    r = StoreReader(build_store(entry(tmp_path, "zero", gaps="zero", **kw)))
    pairs = station_pairs(P.stations)
    with_p2 = (pairs == 2).any(axis=1)
    live = r.live(r.members[1])
    assert not live[:, with_p2].any() and live[:, ~with_p2].all()
    lags = (np.arange(r.shape[-1]) * r.dt_ms + r.t0_ms) / 1000.0
    stacks = np.stack([r.read(m).mean(axis=0) for m in r.members])
    got = dvv_by_stretching(stacks, stacks[0], lags, coda_s=(2.0, 9.0))["dvv"]
    full = dvv_by_stretching(stacks[:, ~with_p2], stacks[0, ~with_p2], lags, coda_s=(2.0, 9.0))[
        "dvv"
    ]
    np.testing.assert_allclose(got[1], full[1], atol=1e-6)  # dead pairs left out of the fit


def test_gap_in_a_day_keeps_every_window_in_time(passive, tmp_path):
    """100 s missing from one station's day: `gaps: skip` leaves out exactly the windows
    that touch the gap; every kept window holds the samples recorded at its own time."""
    n = int(P.window_s * P.sampling_rate)
    cut = (int(130 * P.sampling_rate), int(230 * P.sampling_rate))  # windows 3..5

    def edit(s, d, tr):
        if (s, d) != (1, 0):
            return tr
        a, b = tr.copy(), tr.copy()
        a.data, b.data = tr.data[: cut[0]], tr.data[cut[1] :]
        b.stats.starttime = tr.stats.starttime + cut[1] / P.sampling_rate
        return obspy.Stream([a, b])

    files = _days(passive, tmp_path, days=2, edit=edit)
    with pytest.warns(Warning, match="3 of 96 windows left out"):
        r = StoreReader(
            build_store(
                entry(
                    tmp_path,
                    "s",
                    format="mseed",
                    surveys={"days": files},
                    window_s=P.window_s,
                    datapoint_by="day",
                    gaps="skip",
                )
            )
        )
    t0 = obspy.read(files[0])[0].stats.starttime
    starts = (r.instance_key - int(round(t0.timestamp * 1e9))) / 1e9
    assert not np.isin(np.round(starts / P.window_s), [3, 4, 5]).any()
    original = obspy.read(str(passive["mseed"][0].parent / "XX.P1..HHZ.001.mseed"))[0].data
    for row in r.members[0]:
        k = int(round(starts[row] / P.window_s))
        np.testing.assert_array_equal(
            r.read(np.array([row]))[0, 1], original[k * n : (k + 1) * n].astype(np.float32)
        )


def test_mixed_rates_and_off_grid_records_named(passive, tmp_path):
    """One station recorded at another rate, or a day file starting between two samples
    of the grid: each is one error naming the file, never a silently shifted window."""

    def rate(s, d, tr):
        if (s, d) == (3, 0):
            tr = tr.copy()
            tr.resample(10.0)
            tr.stats.pop("mseed", None)  # float samples: ObsPy picks the encoding
        return tr

    files = _days(passive, tmp_path, days=1, edit=rate)
    with pytest.raises(MseedError) as err:
        build_store(
            entry(
                tmp_path,
                "r",
                format="mseed",
                surveys={"days": files},
                window_s=P.window_s,
                datapoint_by="day",
            )
        )
    assert "mixed sampling rates" in str(err.value) and "resample_hz" in str(err.value)

    def shift(s, d, tr):
        if (s, d) == (4, 0):
            tr.stats.starttime += 0.3 / P.sampling_rate
        return tr

    (tmp_path / "days").rename(tmp_path / "days_rate")
    files = _days(passive, tmp_path, days=1, edit=shift)
    with pytest.raises(MseedError) as err:
        build_store(
            entry(
                tmp_path,
                "g",
                format="mseed",
                surveys={"days": files},
                window_s=P.window_s,
                datapoint_by="day",
                gaps="zero",
            )
        )
    assert "XX.P4..HHZ.001.mseed" in str(err.value) and "off the" in str(err.value)
    assert "0.300 of a sample" in str(err.value)


def test_stretch_resamples_the_reference_accurately():
    """An exact stretch of a coda (300 sinusoids of 0.5-4 Hz at 20 Hz, evaluated at
    t (1 + eps), no noise) is recovered to 1e-5: the reference is resampled by cubic
    spline. Linear interpolation, as before, missed by about 3.5e-5 here, always low."""
    rng = np.random.default_rng(1)
    sr, n = 20.0, 801
    lags = (np.arange(n) - n // 2) / sr
    f = rng.uniform(0.5, 4.0, 300)
    ph = rng.uniform(0, 2 * np.pi, 300)

    def coda(t):
        return np.cos(2 * np.pi * f * t[:, None] + ph).sum(axis=1) * np.exp(-np.abs(t) / 15)

    ref = coda(lags)
    for eps in (0.004, -0.0025, 0.0003):
        got, cc, _ = stretch(coda(lags * (1 + eps)), ref, lags, coda_s=(2, 12))
        assert got == pytest.approx(eps, abs=1e-5) and cc > 0.999


def test_hourly_store_with_band_limited_correlations(tmp_path):
    """`datapoint_by: hour` with `correlate: {band_hz}`: one datapoint per hour, and
    `redatum_dvv` reads dv/v hour by hour (coordinate `hour` at each hour's start); a
    redatuming that returns the recorded windows unchanged reads as the anchor does."""
    import xarray as xr

    from symae_seis.qc.dvv import redatum_dvv

    rng = np.random.default_rng(2)
    sr, hours = 10.0, 3
    n = int(hours * 3600 * sr)
    src = np.convolve(rng.normal(size=n + 30), np.hanning(5), mode="same")
    files = []
    for k, name in enumerate(("A", "B")):
        tr = obspy.Trace(src[30 * k : 30 * k + n].astype(np.float32))
        tr.stats.update({"network": "XX", "station": name, "channel": "HHZ", "sampling_rate": sr})
        tr.stats.starttime = obspy.UTCDateTime(2010, 9, 1, 5)
        files.append(str(tmp_path / f"{name}.mseed"))
        tr.write(files[-1], format="MSEED", encoding="FLOAT32")
    e = entry(
        tmp_path,
        "hourly",
        format="mseed",
        surveys={"day": files},
        window_s=300,
        datapoint_by="hour",
        correlate={"max_lag_s": 20, "band_hz": [0.5, 3.0]},
    )
    with StoreReader(build_store(e)) as r:
        assert r.dp_names == ["hour"] and r.shape == (hours * 12, 1, 401)
        xr.Dataset(
            {
                "virtual": (("instance", "channel", "time"), r.read(np.arange(r.shape[0]))),
                "recorded_instance": ("instance", np.arange(r.shape[0])),
            }
        ).to_netcdf(tmp_path / "redatum.nc", engine="h5netcdf")
        ds = redatum_dvv(tmp_path / "redatum.nc", r, coda_s=(2.0, 15.0))
    starts = np.datetime64("2010-09-01T05:00:00") + np.arange(hours) * np.timedelta64(1, "h")
    np.testing.assert_array_equal(ds["hour"].values, starts.astype(ds["hour"].dtype))
    np.testing.assert_allclose(ds["dvv_virtual"], ds["dvv_recorded"])
    assert np.abs(ds["dvv_recorded"]).max() < 2e-3  # no change recorded
    spec = np.abs(np.fft.rfft(ds["recorded_stack"].values[0, 0], 2048))
    freq = np.fft.rfftfreq(2048, 0.1)
    assert spec[freq > 3.6].max() < 0.05 * spec.max()  # the band, kept
