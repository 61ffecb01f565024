"""Conventional cross-equalization, each on a case with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from symae_seis.baselines import (
    apply_filter,
    dynamic_warp,
    global_matching_filter,
    shift_traces,
    static_and_scalar,
    trace_matching_filters,
    warp_then_match,
)
from symae_seis.qc import nrms
from symae_seis.synth import Earth, Nuisance, render_gather

T = 256


def _traces(n=6, seed=0):
    rng = np.random.default_rng(seed)
    earth = Earth(
        t0=np.sort(rng.uniform(0.1, 0.9, 6)), vel=np.full(6, 2000.0), refl=rng.uniform(-0.3, 0.3, 6)
    )
    return render_gather(earth, Nuisance(freq=25.0), np.linspace(0, 600, n), T, 4.0)


def test_shift_traces_is_exact_subsample_delay():
    x = _traces(1)[0]
    np.testing.assert_allclose(shift_traces(shift_traces(x, 2.7), -2.7), x, atol=1e-6)
    np.testing.assert_allclose(shift_traces(x, 3.0)[3:-10], x[:-13], atol=1e-4)


def test_static_and_scalar_recovers_shift_and_amplitude():
    ref = _traces()
    a = 1.7 * shift_traces(ref, np.array([2.3, -1.2, 0.4, 3.0, -2.5, 0.0]))
    matched, shifts, scal = static_and_scalar(a, ref)
    np.testing.assert_allclose(shifts, [-2.3, 1.2, -0.4, -3.0, 2.5, 0.0], atol=0.1)
    np.testing.assert_allclose(scal, 1 / 1.7, rtol=0.02)
    assert np.median(nrms(matched, ref)) < 5.0


def _white(n=6, seed=1):
    # full-band input: a matching filter is then unique and must come back exactly
    return np.random.default_rng(seed).normal(size=(n, T))


def test_global_matching_filter_recovers_known_filter():
    ref_in = _white()
    h = np.zeros(11)
    h[[3, 5, 8]] = [0.3, 1.0, -0.4]  # a known phase/frequency change
    ref = apply_filter(ref_in, h)
    matched, f = global_matching_filter(ref_in, ref, length=11, eps=1e-6)
    np.testing.assert_allclose(f, h, atol=0.02)
    assert np.max(nrms(matched, ref)) < 2.0


def test_trace_matching_filters_per_trace_and_smoothing():
    a = _white()
    hs = []
    ref = np.empty_like(a)
    for k in range(a.shape[0]):
        h = np.zeros(9)
        h[4] = 1.0 + 0.1 * k  # amplitude drifting along the key
        h[5] = 0.2
        hs.append(h)
        ref[k] = apply_filter(a[k], h)
    matched, filt = trace_matching_filters(a, ref, length=9, eps=1e-6, smooth=1)
    np.testing.assert_allclose(filt, np.stack(hs), atol=0.02)
    assert np.max(nrms(matched, ref)) < 2.0
    _, smooth = trace_matching_filters(a, ref, length=9, eps=1e-6, smooth=3)
    assert smooth[2, 4] == pytest.approx(np.mean([hs[k][4] for k in (1, 2, 3)]), abs=0.03)


def test_dynamic_warp_recovers_time_variant_shift():
    ref = _traces(3)
    true = np.linspace(0.0, 4.0, T)  # shift growing with time (velocity change)
    idx = np.arange(T)
    a = np.stack([np.interp(idx - true, idx, r) for r in ref])  # a[i] = ref[i - u(i)]
    warped, shifts = dynamic_warp(a, ref, max_shift=8, strain=0.25)
    live = slice(40, T - 40)
    assert np.median(np.abs(shifts[:, live] - true[live])) < 0.75
    assert np.median(nrms(warped, ref)) < 0.5 * np.median(nrms(a, ref))
    matched, _ = warp_then_match(a, ref, max_shift=8, smooth=1)
    assert np.median(nrms(matched, ref)) < np.median(nrms(warped, ref)) + 5


def test_4d_binning_picks_the_shots_nearest_in_position():
    """Monitor shots fired along a line, each seeing the earth at its own position (an
    event whose time follows the position): the two nearest to a baseline shot, equalised
    and stacked, match it far better than every shot of the survey stacked (e), and the
    weights follow the distance."""
    from symae_seis.baselines import bin_4d, equalize_and_stack

    t = np.arange(200)
    pos = np.arange(0.0, 500.0, 25.0)[:, None]  # 20 monitor shots, 25 m apart

    def gather(x):  # 6 traces; a dipping event whose time moves 1 sample per 5 m
        return np.stack([np.exp(-0.5 * ((t - 40 - x / 5.0 - 3 * c) / 2.5) ** 2) for c in range(6)])

    shots = np.stack([gather(x) for x in pos[:, 0]])
    ref = gather(260.0)
    idx, w = bin_4d(np.array([260.0]), pos, nearest=2)
    assert sorted(idx.tolist()) == [10, 11] and w.tolist() == [1.0, 1.0]
    binned = equalize_and_stack(shots[idx], ref, length=21, max_lag=8, weights=w)
    every = equalize_and_stack(shots, ref, length=21, max_lag=8)
    assert nrms(binned, ref).mean() < 0.5 * nrms(every, ref).mean()
    _, soft = bin_4d(np.array([260.0]), pos, nearest=2, soft=5.0)
    assert soft[0] > soft[1]  # 10 m away weighs more than 15 m away
    with pytest.raises(ValueError, match="positions must be"):
        bin_4d(np.array([1.0, 2.0]), pos)
    with pytest.raises(ValueError, match="weights must be"):
        equalize_and_stack(shots[:2], ref, weights=np.array([0.0, 0.0]))
