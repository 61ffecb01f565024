"""QC metrics against hand-computed values, and the figures."""

from __future__ import annotations

import numpy as np
import pytest

from symae_seis.qc import nrms, predictability, time_shift
from symae_seis.qc.plots import plot_nrms_along_key, plot_nrms_map, plot_redatum_panels


def test_nrms_reference_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=200_000)
    b = rng.normal(size=200_000)
    assert nrms(a, a) == 0.0
    assert nrms(a, -a) == pytest.approx(200.0)
    assert nrms(a, b) == pytest.approx(200 / np.sqrt(2), rel=5e-3)  # ~141 %
    # hand-computed: a = [1, 0], b = [0, 1]: RMS(a-b) = 1, RMS(a) = RMS(b) = 1/sqrt(2)
    assert nrms(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(200 / np.sqrt(2))
    # a scaled copy: 200 * (1 - k) / (1 + k)
    assert nrms(a, 0.5 * a) == pytest.approx(200 * 0.5 / 1.5)
    assert nrms(np.zeros(5), np.zeros(5)) == 0.0
    assert nrms(np.ones((3, 4)), np.ones((3, 4))).shape == (3,)


def test_predictability_reference_values():
    rng = np.random.default_rng(1)
    t = np.arange(400)
    w = np.exp(-(((t - 200) / 8.0) ** 2)) * np.cos(2 * np.pi * (t - 200) / 25)
    assert predictability(w, 3.0 * w, 12) == pytest.approx(100.0)
    assert predictability(w, -w, 12) == pytest.approx(100.0)  # PRED ignores polarity
    noise = rng.normal(size=(200, 4000))
    other = rng.normal(size=(200, 4000))
    assert predictability(noise, other, 5).mean() < 2.0
    # hand-computed with max_lag 0: PRED = 100 * (a.b)^2 / (|a|^2 |b|^2)
    a, b = np.array([1.0, 2.0, 0.0]), np.array([1.0, 0.0, 1.0])
    assert predictability(a, b, 0) == pytest.approx(100 * 1 / (5 * 2))
    with pytest.raises(ValueError, match="max_lag"):
        predictability(a, b, 3)


def test_time_shift_subsample():
    t = np.arange(300.0)
    for s in (-3.3, 0.0, 0.25, 7.6):
        a = np.exp(-(((t - 150 - s) / 5.0) ** 2))
        b = np.exp(-(((t - 150) / 5.0) ** 2))
        assert time_shift(a, b, dt=4.0) == pytest.approx(4.0 * s, abs=4.0 * 0.05)
    # batched
    a = np.stack([np.roll(np.exp(-(((t - 150) / 5.0) ** 2)), k) for k in (0, 2, -4)])
    np.testing.assert_allclose(time_shift(a, a[0]), [0, 2, -4], atol=1e-6)


def test_figures_are_written(tmp_path):
    rng = np.random.default_rng(2)
    g = rng.normal(size=(12, 100))
    p = plot_redatum_panels(
        {"real": g, "virtual": g * 0.9, "residual": g * 0.1},
        np.arange(100) * 4.0,
        tmp_path / "p.png",
        title="t",
    )
    assert p.stat().st_size > 20_000
    p = plot_redatum_panels(
        {"real": g, "virtual": g}, np.arange(100) * 4.0, tmp_path / "w.png", kind="wiggle"
    )
    assert p.stat().st_size > 20_000
    k = np.arange(20)
    p = plot_nrms_along_key(
        k, {"before": k * 1.0, "after": k * 0.5}, tmp_path / "n.png", shade=k > 10
    )
    assert p.stat().st_size > 10_000
    p = plot_nrms_map(k % 5, k // 5, k * 1.0, tmp_path / "m.png")
    assert p.stat().st_size > 10_000


def test_bag_invariance_in_both_spaces():
    import torch

    from symae_seis.models import SymAE
    from symae_seis.qc.disentangle import bag_invariance

    torch.manual_seed(0)
    m = SymAE(8, 64, width=4, hidden=16).double()
    one = np.random.default_rng(0).standard_normal((8, 64))
    same = np.repeat(one[None], 6, axis=0)  # every half sees the same shots
    other = np.random.default_rng(1).standard_normal((6, 8, 64))
    for space in ("coherent", "data"):
        assert bag_invariance(m, same, space=space) < 1e-4
        assert bag_invariance(m, other, space=space) > 1.0
    with pytest.raises(ValueError, match="space must be"):
        bag_invariance(m, other, space="codes")
