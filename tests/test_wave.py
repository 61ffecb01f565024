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

SMALL = Wave4DParams(nz=60, nx=130, nt=1200, n_loc=5, shots_per_loc=3, channels=8,
                     rec_spacing=4, loc_spacing=12, first_loc=20, lens=(1, 3), seed=3)


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
    shift = time_shift(base, virtual, 4.0)                       # ms, per shot and channel
    far = shift[:, -1]
    # slower water than the reference (1500 m/s) -> later arrivals, and vice versa
    assert np.all(np.sign(far[np.abs(wv - 1500) > 8]) == np.sign(1500 - wv[np.abs(wv - 1500) > 8]))
    assert np.abs(far).max() > 1.0                              # several ms at far offset
    assert (np.abs(shift[:, -1]) >= np.abs(shift[:, 0]) - 0.2).all()   # grows with offset
