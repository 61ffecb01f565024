"""The survey zoo: seeded draws over a processor's ranges, exact rendering, truth beside
the surveys, water-velocity statics of their true (hyperbolic) shape, and draws that
cannot be generated refused by name."""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pytest
import segyio

from symae_seis.errors import OptionError
from symae_seis.synth.zoo import AVO_CLASSES, V_WATER, WAVELETS, draw_zoo, make_zoo_survey
from symae_seis.synth.zoo import render_zoo_gather as render


def test_draws_are_seeded_and_span_the_ranges():
    draws = [draw_zoo(k) for k in range(24)]
    assert draw_zoo(3) == draws[3]
    depths = [d.water_depth_m for d in draws]
    assert min(depths) < 100 and max(depths) > 600  # shallow to deep water
    assert {d.wavelet for d in draws} == set(WAVELETS)
    assert len({d.avo_class for d in draws}) >= 4 and {d.avo_class for d in draws} <= set(
        AVO_CLASSES
    )
    assert {d.shots_per_cdp for d in draws} <= set(range(6, 25))
    assert max(d.static_range_ms[1] for d in draws) > 12
    for d in draws:  # the design window closes above the reservoir, inside the record
        assert d.delay_rec_ms <= d.design_window_ms[0] < d.design_window_ms[1]
        assert d.design_window_ms[1] < d.t0_s[d.reservoir] * 1000


def test_survey_and_truth(tmp_path):
    d = dataclasses.replace(draw_zoo(0), n_cdp=6, shots_per_cdp=3)
    paths = make_zoo_survey(tmp_path, d)
    with segyio.open(paths["baseline"], ignore_geometry=True) as f:
        assert f.tracecount == 6 * 3 * d.channels and len(f.samples) == d.samples
        assert f.samples[0] == pytest.approx(d.delay_rec_ms)  # the recording delay
    with h5py.File(paths["truth"], "r") as h5:
        assert json.loads(h5.attrs["params"])["seed"] == 0
        virtual, base = h5["virtual"][:], h5["baseline_clean"][:]
        changed, cdp = h5["changed"][:], h5["virtual_cdp"][:]
    outside = ~changed[cdp - 1]
    assert outside.any() and (~outside).any()
    # outside the lens the monitor earth is the baseline's: the truth is the recording
    np.testing.assert_array_equal(virtual[outside], base[outside])
    assert np.abs(virtual[~outside] - base[~outside]).max() > 0.01 * np.abs(base).max()


def test_water_velocity_static_is_hyperbolic():
    """A shot's water velocity moves the water-bottom event by its water path: in
    proportion to its travel time at each offset, t(h) / t(0) = 1 / cos(theta), which no
    quadratic in offset over the gather follows."""
    d = dataclasses.replace(
        draw_zoo(0), wavelet="ricker", t0_s=(), wb_refl=1.0, samples=320, delay_rec_ms=1000.0
    )
    offsets = np.linspace(0.0, 2400.0, 7)
    shot = {
        "freq": 25.0,
        "phase_deg": 0.0,
        "static_ms": 0.0,
        "gain": 1.0,
        "water_dv": 0.0,
        "ghost_m": 6.0,
        "bubble_s": 0.1,
    }
    up = 32

    def peak_ms(x):  # the event's peak, band-limited interpolation by 32
        return np.argmax(np.abs(np.fft.irfft(np.fft.rfft(x), up * len(x)))) * d.dt_ms / up

    plain = render(d, offsets, shot)
    moved = render(d, offsets, {**shot, "water_dv": -15.0})
    lags = np.array([peak_ms(b) - peak_ms(a) for a, b in zip(plain, moved)])
    t = np.sqrt(d.t_wb**2 + (offsets / V_WATER) ** 2)
    expected = t * (V_WATER / (V_WATER - 15.0) - 1.0) * 1000
    np.testing.assert_allclose(lags, expected, atol=0.15)
    quad = np.polyval(np.polyfit(offsets, expected, 2), offsets)
    assert np.abs(quad - expected).max() > 0.1  # not a quadratic in offset


def test_draws_that_cannot_be_generated_are_refused():
    d = draw_zoo(1)
    with pytest.raises(OptionError, match=r"zoo draw 1: samples=60 .*offset_max"):
        dataclasses.replace(d, samples=60)
    with pytest.raises(OptionError, match=r"zoo draw 1: design_window_ms .* holds no event"):
        dataclasses.replace(d, design_window_ms=(5000.0, 6000.0))
