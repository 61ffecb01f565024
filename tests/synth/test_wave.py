"""Wave-equation synthetic surveys (deepwave): headers, truth, the physics they promise."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from symae_seis.io import read_segy
from symae_seis.io.segy import HEADER_FIELDS
from symae_seis.qc import nrms, time_shift

pytest.importorskip("deepwave", reason="deepwave not installed (pip install symae-seis[physics])")

from symae_seis.synth.wave import (  # noqa: E402
    Wave4DParams,
    make_statics_survey,
    make_wave4d_survey,
    velocity_models,
)

SMALL = Wave4DParams(
    nz=60,
    nx=130,
    nt=1200,
    n_loc=5,
    shots_per_loc=3,
    channels=8,
    rec_spacing=4,
    loc_spacing=12,
    first_loc=20,
    lens=(1, 3),
    seed=3,
)


@pytest.fixture(scope="module")
def wave4d(tmp_path_factory):
    return make_wave4d_survey(tmp_path_factory.mktemp("wave4d"), SMALL)


def test_models_differ_only_in_the_lens():
    base, mon = velocity_models(SMALL)
    diff = mon != base
    assert diff.any() and np.allclose(mon[diff] / base[diff], 1 + SMALL.dv)
    assert diff.sum() < 0.05 * diff.size


def test_wave4d_files_and_truth(wave4d):
    x, h, info = read_segy(wave4d["baseline"])
    n = SMALL.n_loc * SMALL.shots_per_loc
    assert x.shape == (n * SMALL.channels, SMALL.nt // SMALL.record_every)
    assert info.dt_us == 4000 and np.isfinite(x).all() and np.abs(x).max() > 0
    cdp = h[:, HEADER_FIELDS.index("CDP")]
    assert sorted(set(cdp)) == list(range(1, SMALL.n_loc + 1))
    assert (h[:, HEADER_FIELDS.index("offset")] >= -SMALL.jitter_cells * SMALL.dx).all()
    with h5py.File(wave4d["truth"], "r") as t:
        virtual, base = t["virtual"][:], t["baseline_clean"][:]
        mon = t["monitor_clean"][:]
        changed, four_d = t["changed"][:], t["four_d_nrms"][:]
    # the 4D signal (same acquisition, other earth) is small and where the lens is;
    # non-repeatable acquisition is much larger: the problem redatuming solves
    assert changed.any() and not changed.all()
    assert four_d[changed].min() > four_d[~changed].max()
    assert np.median(nrms(mon, virtual)) > 5 * four_d.max()
    np.testing.assert_allclose(base.reshape(-1, base.shape[-1]), x, rtol=1e-5, atol=1e-5)


def test_statics_survey_has_water_velocity_time_shifts(tmp_path):
    p = Wave4DParams(**{**SMALL.__dict__, "n_loc": 2, "water_cells": 20})
    paths = make_statics_survey(tmp_path, p)
    with h5py.File(paths["truth"], "r") as t:
        virtual, base = t["virtual"][:], t["baseline_clean"][:]
        wv = t["nuisance/baseline/water_velocity"][:]
    shift = time_shift(base, virtual, 4.0)  # ms, per shot and channel
    far = shift[:, -1]
    # slower water than the reference (1500 m/s) -> later arrivals, and vice versa
    assert np.all(np.sign(far[np.abs(wv - 1500) > 8]) == np.sign(1500 - wv[np.abs(wv - 1500) > 8]))
    assert np.abs(far).max() > 1.0  # several ms at far offset
    assert (np.abs(shift[:, -1]) >= np.abs(shift[:, 0]) - 0.2).all()  # grows with offset


def test_moved_source_needs_a_static_and_gain_per_trace():
    """Why the filter family has per-trace terms (``trace_terms``): a source moved by one
    cell (a quarter of a receiver interval here) changes its shot by about 100 %; the best
    filter of the family with statics and gains as quadratics along the gather leaves a
    third of it, a free static and gain per trace leave a few per cent (the first traces,
    which the source moves past, move the other way)."""
    import torch

    from symae_seis.models import filters as FF
    from symae_seis.synth.wave import _decimate, _shoot, _wavelets

    torch.manual_seed(0)
    v, _ = velocity_models(SMALL)
    base = SMALL.first_loc + 2 * SMALL.loc_spacing
    src = np.array([base, base + 1])
    rec = np.tile(base + SMALL.rec_spacing * np.arange(SMALL.channels), (2, 1))
    w = _wavelets(SMALL, np.full(2, 25.0), np.zeros(2), np.zeros(2))
    shots = _decimate(_shoot(v, SMALL, src, w, rec), SMALL.record_every)
    ref, moved = torch.from_numpy(shots.astype(np.float64)).split(1)
    c, t = ref.shape[1:]

    def best_fit(trace: bool) -> float:
        theta = torch.zeros(
            1,
            FF.n_params(4, trace_channels=c if trace else 0),
            dtype=torch.float64,
            requires_grad=True,
        )
        opt = torch.optim.Adam([theta], lr=0.05)
        for _ in range(300):
            y = FF.apply(ref, FF.response(theta, c, t, 4, trace=trace))
            loss = (y - moved).pow(2).sum() / moved.pow(2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item() ** 0.5

    raw = ((ref - moved).norm() / moved.norm()).item()
    smooth, per_trace = best_fit(False), best_fit(True)
    assert raw > 0.8
    assert smooth > 0.2
    assert per_trace < 0.1 and per_trace < smooth / 4, (raw, smooth, per_trace)


def test_channel_shift_turns_on_where_sources_move(wave4d, tmp_path, small_catalog):
    """The store measures how far sources move between a datapoint's shots (receiver
    intervals); the model's default channel shift follows it: on for wave4d's jittered
    sources, off for the convolutional survey (headers jittered by +-5 m, data not)."""
    from symae_seis.catalog import load_catalog
    from symae_seis.ingest import build_store
    from symae_seis.models import SymAE
    from symae_seis.models.config import SHIFT_FROM
    from symae_seis.training import SymAEDataModule

    from ..conftest import write_catalog

    cat = write_catalog(
        tmp_path,
        {
            "w": {
                "surveys": {"baseline": str(wave4d["baseline"]), "monitor": str(wave4d["monitor"])},
                "datapoint_key": ["CDP"],
                "store": str(tmp_path / "w.h5"),
            }
        },
    )
    build_store(load_catalog(cat)["w"])
    src = {}
    for name, c in (("w", cat), ("small", small_catalog)):
        dm = SymAEDataModule(name, str(c), instances=2, val_fraction=0.0)
        src[name] = dm.schema["source_move"]
        model = SymAE(dm.channels, dm.samples, schema=dm.schema)
        assert model.config["filter_shift"] == (name == "w")
    # SMALL: sources jittered by +-1 cell (10 m) against receivers every 4 cells
    assert SHIFT_FROM <= src["w"] <= 0.5 and src["small"] < 0.1
    assert not SymAE(8, 64, schema={"source_move": 0.7}, pool="mean").config["filter_shift"]
