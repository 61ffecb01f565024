"""The towed-streamer 4D survey (``symae-synth marine4d``): geometry and time as segyio
reads them back, a free surface, noise where it was put, and a truth that lines up with
the store the catalog builds."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest
import segyio
from scipy.signal import hilbert

from symae_seis.catalog import CatalogError, load_catalog
from symae_seis.errors import OptionError
from symae_seis.ingest import build_store
from symae_seis.io import StoreReader
from symae_seis.models.config import RIPPLE_FROM, SHIFT_FROM
from symae_seis.qc.conventional import real_gathers_for_truth
from symae_seis.qc.truth import load_truth

from ..conftest import write_catalog

deepwave = pytest.importorskip("deepwave")

from symae_seis.synth.marine import Marine4DParams, make_marine4d_survey  # noqa: E402

SMALL = Marine4DParams(n_bins=6, shots_per_bin=2, channels=12, samples=300, lens_bins=(2, 4))


@pytest.fixture(scope="module")
def marine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("marine4d")
    return folder, make_marine4d_survey(folder, SMALL)


def _read(path):
    with segyio.open(path, ignore_geometry=True) as f:
        h = {
            k: f.attributes(getattr(segyio.TraceField, k))[:]
            for k in (
                "FieldRecord",
                "EnergySourcePoint",
                "SourceX",
                "GroupX",
                "offset",
                "SourceGroupScalar",
            )
        }
        return f.trace.raw[:].reshape(-1, SMALL.channels, SMALL.samples), h, f.bin


def test_streamer_geometry_in_the_headers(marine):
    folder, paths = marine
    x, h, binary = _read(paths["baseline"])
    xm, hm, _ = _read(paths["monitor"])
    assert binary[segyio.BinField.Interval] == 4000 and x.shape[0] == 12
    assert (h["SourceGroupScalar"] == -10).all()
    src, grp = h["SourceX"] / 10.0, h["GroupX"] / 10.0
    assert np.abs(h["offset"] - (src - grp)).max() <= 0.5 + 1e-6  # whole metres
    # the streamer trails the source and moves with it: near offset ~100 m on every shot
    near = (src - grp).reshape(-1, SMALL.channels)[:, 0]
    assert np.all((near <= 100.0) & (near >= 100.0 * (1 - SMALL.feather) - 0.1))
    assert np.ptp(grp.reshape(-1, SMALL.channels)[:, 0]) > 300.0
    # monitor shots land positioning_m off the baseline shot of the same nominal position
    sb = dict(zip(h["EnergySourcePoint"], src))
    moved = [abs(s / 10.0 - sb[e]) for e, s in zip(hm["EnergySourcePoint"], hm["SourceX"])]
    assert 8.0 <= min(moved) and max(moved) <= 22.0


def test_free_surface_and_time_of_the_water_bottom(marine):
    """The clean near trace's water-bottom reflection arrives when geometry, the shot's
    water velocity and timing say, delayed by its ghosts (a free surface: both legs reflect
    with inverted polarity from 10 m above source and receiver)."""
    folder, paths = marine
    with h5py.File(paths["truth"], "r") as h5:
        clean = h5["baseline_clean"][:]
        acq = {
            k: h5[f"nuisance/baseline/{k}"][:]
            for k in ("source_x", "feather", "water_v", "timing", "freq")
        }
        vel = h5["velocity/baseline"][:]
    dt = SMALL.dt_ms / 1000
    for i in range(0, len(clean), 3):
        h = SMALL.near_offset_m * (1 - acq["feather"][i])
        xm = acq["source_x"][i] - h / 2
        col = int(round(xm / SMALL.dx))
        depth = np.argmax(vel[:, col] > SMALL.water_v + 50) * SMALL.dx  # the sea bed
        v = acq["water_v"][i]
        t = np.sqrt((2 * depth / v) ** 2 + (h / v) ** 2) + 1.5 / acq["freq"][i] + acq["timing"][i]
        ghost = 2 * SMALL.dx / v  # source and receiver ghosts centre the pulse one delay on
        env = np.abs(hilbert(clean[i, 0]))
        lo = int((t - 0.1) / dt)
        peak = (lo + np.argmax(env[lo : lo + int(0.2 / dt)])) * dt
        assert abs(peak - (t + ghost)) < 1.5 * dt, (i, peak, t + ghost)


def test_noise_where_it_was_put(marine):
    folder, paths = marine
    x, _, _ = _read(paths["baseline"])
    with h5py.File(paths["truth"], "r") as h5:
        clean, dead, swell = (
            h5[k][:] for k in ("baseline_clean", "dead/baseline", "swell/baseline")
        )
    assert (x[dead] == 0).all()
    rms = np.sqrt((clean.astype(np.float64) ** 2).mean(axis=(1, 2)))
    noise = np.sqrt(((x - clean) ** 2).mean(axis=-1)) / rms[:, None]  # (N, C)
    quiet = ~dead & ~swell
    np.testing.assert_allclose(np.median(noise[quiet]), SMALL.noise, rtol=0.2)
    if swell.any():
        assert np.median(noise[swell & ~dead]) > 1.0


def _catalog(tmp_path, paths, **extra):
    """A catalog of the marine survey as its users enter it: streamer channels by
    TraceNumber, shots binned by SourceX."""
    entry = {
        "surveys": {"baseline": str(paths["baseline"]), "monitor": str(paths["monitor"])},
        "channel_key": "TraceNumber",
        "datapoint_bin": {"SourceX": SMALL.bin_m},
        "store": str(tmp_path / "m.h5"),
        **extra,
    }
    return write_catalog(tmp_path, {"m": entry})


def test_truth_lines_up_with_the_catalog_store(marine, tmp_path):
    folder, paths = marine
    cat = _catalog(tmp_path, paths)
    store = build_store(load_catalog(cat)["m"])
    truth = load_truth(paths["truth"])
    assert truth["changed_pair"].shape == (len(truth["virtual"]),)
    with StoreReader(store) as r:
        base, mon, sets = real_gathers_for_truth(r, truth)
        x, _, _ = _read(paths["baseline"])
        np.testing.assert_array_equal(base, x)
        sb = r.surveys.index("baseline")
        keys = {int(k) for k, s in zip(r.dp_key[:, 0], r.dp_survey) if s == sb}
        # noise, swell and shots binned by position are no bubble train, and a streamer
        # moving with its source moves no source past its receivers: no channel shift
        assert r.schema["signature_ripple"] < RIPPLE_FROM
        assert r.schema["source_move"] < SHIFT_FROM
    assert keys == set(truth["virtual_cdp"].tolist())


def test_options_out_of_range_are_named(tmp_path):
    with pytest.raises(OptionError, match="shots_per_bin"):
        dataclasses.replace(SMALL, shots_per_bin=0)
    with pytest.raises(OptionError, match="lens_bins"):
        dataclasses.replace(SMALL, lens_bins=(4, 9))
    from symae_seis.synth.generate import generate

    cat = write_catalog(
        tmp_path,
        {
            "m": {
                "surveys": {"baseline": "b.sgy", "monitor": "m.sgy"},
                "generate": {"kind": "marine4d", "shots_per_bn": 2},
                "store": "m.h5",
            }
        },
    )
    with pytest.raises(CatalogError, match="shots_per_bn"):
        generate(load_catalog(cat)["m"])


def test_symae_synth_writes_a_marine_survey_from_the_catalog(tmp_path, capsys):
    from symae_seis.cli.synth import main

    spec = {"kind": "marine4d", "n_bins": 4, "shots_per_bin": 2, "channels": 8}
    spec.update(samples=200, lens_bins=[1, 3], seed=3)
    cat = write_catalog(
        tmp_path,
        {
            "m": {
                "surveys": {"baseline": "m/baseline.sgy", "monitor": "m/monitor.sgy"},
                "generate": spec,
                "channel_key": "TraceNumber",
                "datapoint_bin": {"SourceX": 80},
                "store": "m.h5",
            }
        },
    )
    assert main(["m", "--catalog", str(cat)]) == 0
    written = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[-1] for p in written] == ["baseline.sgy", "monitor.sgy", "truth.h5"]
    with segyio.open(tmp_path / "m" / "monitor.sgy", ignore_geometry=True) as f:
        assert f.tracecount == 4 * 2 * 8 and len(f.samples) == 200
    assert main(["m", "--catalog", str(cat)]) != 0  # files exist: not overwritten
    assert "--overwrite" in capsys.readouterr().err


def test_geometry_model_trains_and_redatums_on_the_marine_survey(marine, tmp_path):
    """On bins of source position a model with geometry terms reads each shot's position
    in its bin: one real epoch trains, the symae-train CLI and symae-redatum write
    virtual gathers, and the baseline shot's position is what places the monitor earth."""
    import torch
    import xarray as xr

    from symae_seis.cli.train import cli
    from symae_seis.models import SymAE
    from symae_seis.redatum import redatum

    from ..conftest import fit_args

    folder, paths = marine
    cat = _catalog(tmp_path, paths, design_window_ms=[0, 600])
    run = tmp_path / "run"
    cli(
        fit_args(
            cat,
            run,
            "--trainer.max_epochs",
            "1",
            "--data.val_fraction",
            "0",
            "--model.config.geometry_terms",
            "true",
            dataset="m",
        )
    )
    model = SymAE.load(run / "model.pt")
    assert model.config["geometry_terms"] and model.coherent_shape[0] == 2
    res = redatum(model, tmp_path / "m.h5", tmp_path / "red", write_segy=False)
    with xr.open_dataset(res.files["netcdf"], engine="h5netcdf") as ds:
        virtual = ds["virtual"].values
    assert np.isfinite(virtual).all() and np.abs(virtual).max() > 0
    with StoreReader(tmp_path / "m.h5") as r:
        rows = r.members[0]
        x = torch.from_numpy(r.read(rows))[None]
        geo = torch.from_numpy(r.geometry(rows))[None]
    with torch.no_grad():
        coh, z = model.encode(x, geometry=geo)
        moved = z.clone()
        moved[..., -1] += 0.5  # the same shots, fired a quarter bin further on
        assert not torch.allclose(model.decode(coh, z), model.decode(coh, moved))


def test_bins_of_source_position_without_coordinates_are_refused(tmp_path):
    """A catalog that bins shots by SourceX over files whose SourceX are all 0: the store's
    bins are meaningless, and the geometry the model would read with them is refused,
    naming the store and the header."""
    from symae_seis.io import StoreError, write_segy

    rng = np.random.default_rng(0)
    n, c, t = 6, 4, 32
    hdr = {
        "FieldRecord": np.repeat(np.arange(1, n + 1), c),
        "TraceNumber": np.tile(np.arange(1, c + 1), n),
        "SourceX": 0,
        "GroupX": 0,
    }
    write_segy(tmp_path / "s.sgy", rng.normal(size=(n * c, t)).astype(np.float32), hdr, 4000)
    cat = write_catalog(
        tmp_path,
        {
            "z": {
                "surveys": {"s": "s.sgy"},
                "channel_key": "TraceNumber",
                "datapoint_bin": {"SourceX": 80},
                "store": "z.h5",
            }
        },
    )
    store = build_store(load_catalog(cat)["z"])
    with StoreReader(store) as r, pytest.raises(StoreError, match="z.h5.*SourceX"):
        r.geometry(np.arange(n))
    # a model without geometry terms still trains on it; one with them is told why not
    from symae_seis.training import SymAEDataModule

    dm = SymAEDataModule("z", str(cat), instances=2, val_fraction=0.0)
    assert dm.geometry is None and "SourceX" in dm.geometry_error


def test_swell_attenuated_at_ingest_as_the_benchmark_catalogs_it(marine, tmp_path):
    """The benchmark's catalog of a survey with swell carries ``low_cut_hz``; its store
    is much nearer the clean records than the raw one on the swell's traces, and no
    closer to zero where there is none (the reflections' band passes)."""
    from symae_seis.baselines import low_cut
    from symae_seis.bench.surveys import SWELL_LOW_CUT_HZ, survey_catalog

    folder, paths = marine
    sub = tmp_path / "bench"
    sub.mkdir()
    cat = survey_catalog(sub, "m", paths)
    entry = load_catalog(cat)["m"]
    assert entry.low_cut_hz == SWELL_LOW_CUT_HZ
    with h5py.File(paths["truth"], "r") as h5:
        clean, swell, dead = (
            h5[k][:] for k in ("baseline_clean", "swell/baseline", "dead/baseline")
        )
    if not swell.any():
        pytest.skip("this small draw has no swell burst")
    raw, _, _ = _read(paths["baseline"])
    with StoreReader(build_store(entry)) as r:
        truth = load_truth(paths["truth"])
        cut = real_gathers_for_truth(r, truth)[0]

    def err(x, mask):
        return np.sqrt(((x - clean)[mask] ** 2).mean()) / np.sqrt((clean[mask] ** 2).mean())

    hit, quiet = swell & ~dead, ~swell & ~dead
    assert err(cut, hit) < 0.3 * err(raw, hit)
    # on the quiet traces: the white noise and what the low-cut takes of the signal
    # (a 16 Hz Ricker still has half its peak amplitude at 8 Hz), not more
    low = low_cut(clean, float(SMALL.dt_ms), SWELL_LOW_CUT_HZ)
    assert err(cut, quiet) < np.sqrt(SMALL.noise**2 + err(low, quiet) ** 2) * 1.3
