"""The dv/v anchor's options (SVD denoising, sides apart, coda, reference) and their
choice on a held-out noise field (symae_seis.qc.anchor)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from symae_seis.bench.passive import stacks_in_memory
from symae_seis.qc.anchor import AnchorSettings, anchor_dvv, choose_anchor, svd_denoise
from symae_seis.qc.dvv import DvvError, daily_dvv
from symae_seis.synth.passive import PassiveParams

TINY = PassiveParams(
    stations=3, days=5, drop_day=3, windows_per_day=4, window_s=20.0, scatterers=12, sources=8
)


@pytest.fixture(scope="module")
def tiny_stacks():
    return stacks_in_memory(replace(TINY, azimuth_kappa=4.0, azimuth_turn_deg=180.0), 8.0)


def test_svd_keeps_what_the_days_share_and_drops_what_one_day_has():
    rng = np.random.default_rng(0)
    shared = np.sin(np.linspace(0, 20, 101))
    clean = np.stack([np.outer(1 + 0.1 * rng.normal(size=6), shared)] * 2, axis=1)
    noisy = clean + 0.3 * rng.normal(size=clean.shape)
    kept = svd_denoise(noisy, 1)
    assert np.linalg.norm(kept - clean) < 0.5 * np.linalg.norm(noisy - clean)
    np.testing.assert_allclose(svd_denoise(noisy, 6), noisy, atol=1e-10)


def test_the_default_is_the_benchmarks_anchor_and_sides_apart_average(tiny_stacks):
    (stacks, _, lags), coda = tiny_stacks, (1.0, 6.0)
    s = AnchorSettings(coda_s=coda)
    np.testing.assert_array_equal(
        anchor_dvv(stacks["anchor"], lags, s),
        daily_dvv(stacks["anchor"], lags, coda_s=coda)["dvv"],
    )
    causal = np.where(lags > 0, stacks["anchor"], 0.0)
    acausal = np.where(lags < 0, stacks["anchor"], 0.0)
    both = [daily_dvv(x, lags, coda_s=coda)["dvv"] for x in (causal, acausal)]
    np.testing.assert_allclose(
        anchor_dvv(stacks["anchor"], lags, replace(s, sides="separate")), np.mean(both, axis=0)
    )


def test_the_choice_is_scored_against_the_truth_best_first(tiny_stacks):
    stacks, truth, lags = tiny_stacks
    grid = (AnchorSettings((1.0, 6.0)), AnchorSettings((1.0, 6.0), sides="separate"))
    ranked = choose_anchor(stacks["anchor"], lags, truth, grid=grid)
    assert [e for _, e in ranked] == sorted(e for _, e in ranked)
    for s, err in ranked:
        est = anchor_dvv(stacks["anchor"], lags, s)
        est = est - est.mean() + truth.mean()
        assert err == pytest.approx(np.sqrt(np.mean((est - truth) ** 2)))


@pytest.mark.parametrize(
    "bad, name",
    [({"reference": "median"}, "reference"), ({"sides": "left"}, "sides"),
     ({"svd_rank": 0}, "svd_rank")],
)  # fmt: skip
def test_impossible_settings_are_named(bad, name):
    with pytest.raises(DvvError, match=name):
        AnchorSettings(**bad)


def test_sides_apart_recover_a_known_stretch_on_each_side():
    rng = np.random.default_rng(1)
    lags = np.arange(-400, 401) / 20.0  # 20 Hz, +-20 s
    t = np.linspace(0, 20, 2001)
    coda = np.interp(np.abs(lags), t, np.convolve(rng.normal(size=2001), np.hanning(9), "same"))
    coda *= np.exp(-np.abs(lags) / 8)
    eps = np.array([0.0, 2e-3, -1e-3, 3e-3, 1e-3])  # dv/v of each day
    days = np.stack([np.interp(lags * (1 + e), lags, coda) for e in eps])[:, None]
    est = {
        sides: anchor_dvv(days, lags, AnchorSettings((2.0, 12.0), sides=sides))
        for sides in ("both", "separate")
    }
    for e in est.values():  # against the other days' (blurred) mean: a slope below 1
        assert np.corrcoef(e, eps)[0, 1] > 0.98
        assert 0.6 < np.polyfit(eps, e, 1)[0] < 1.1
    np.testing.assert_allclose(est["separate"], est["both"], atol=1e-4)  # alike on both sides
