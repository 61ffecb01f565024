"""The learned minimum-phase mix (``min_phase="learned"``): one number of the model sets
how much of the minimum-phase phase the filters get; real training steps on shots whose
wavelets are minimum phase, or zero phase, with a peak frequency of their own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symae_seis.errors import OptionError
from symae_seis.models import SymAE, check_save_load
from symae_seis.models.decoders import PHASE_MIX_GAIN

from .toys import trained_toy


def _wavelet(freq: float, t: int, minimum: bool, dt: float = 0.004) -> np.ndarray:
    """A Ricker's amplitude spectrum at ``freq`` Hz, zero phase (centred on sample 12)
    or minimum phase (its causal cepstrum)."""
    n = 2 * t
    f = np.fft.rfftfreq(n, dt)
    amp = f**2 / freq**3 * np.exp(-(f**2) / freq**2) + 1e-6
    if minimum:
        ceps = np.fft.irfft(np.log(amp), n)
        fold = np.zeros(n)
        fold[0], fold[1 : n // 2], fold[n // 2] = ceps[0], 2 * ceps[1 : n // 2], ceps[n // 2]
        spec = np.exp(np.fft.rfft(fold))
    else:
        spec = amp * np.exp(-2j * np.pi * f * 12 * dt)
    return spec


def _bags(minimum: bool, n_dp: int = 12, n_inst: int = 6, c: int = 6, t: int = 64):
    """Sparse reflectivity per datapoint (the same on every channel, moved out a little),
    each shot convolved with its own wavelet (peak 15-35 Hz)."""
    rng = np.random.default_rng(3)
    x = np.zeros((n_dp, n_inst, c, t))
    for d in range(n_dp):
        refl = np.zeros((c, t))
        for _ in range(4):
            t0, a = rng.integers(4, t - 20), rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0)
            for ch in range(c):
                refl[ch, t0 + ch // 3] += a
        spec = np.fft.rfft(refl, 2 * t, axis=-1)
        for i in range(n_inst):
            w = _wavelet(rng.uniform(15.0, 35.0), t, minimum)
            x[d, i] = np.fft.irfft(spec * w, 2 * t, axis=-1)[:, :t]
    return torch.from_numpy(x / x.std()).float()


@pytest.mark.parametrize("minimum", [True, False])
def test_the_mix_learns_whether_the_wavelets_are_minimum_phase(minimum):
    x = _bags(minimum)
    opts = dict(trace_terms=False, warp_terms=False)
    m, err = trained_toy(x, min_phase="learned", **opts)
    mix = float(PHASE_MIX_GAIN * m.decoder.phase_mix.detach())
    _, err_zero = trained_toy(x, min_phase=False, **opts)
    if minimum:  # (0.36 and 0.026 against 0.037 when written)
        assert mix > 0.25, mix
        assert err < 0.85 * err_zero, (err, err_zero)
    else:  # (0.00, and 0.013 as without the mix)
        assert abs(mix) < 0.1, mix
        assert err < 1.2 * err_zero, (err, err_zero)


def test_the_mix_is_saved_and_checked(tmp_path):
    m = SymAE(8, 64, width=4, hidden=16, min_phase="learned")
    with torch.no_grad():
        m.decoder.phase_mix.fill_(0.07)
    check_save_load(m, tmp_path / "m.pt", torch.randn(2, 4, 8, 64))
    assert SymAE.load(tmp_path / "m.pt").decoder.phase_mix.item() == pytest.approx(0.07)
    # auto: learned unless the signatures ripple (a bubble train: the full terms)
    assert SymAE(8, 64, width=4, hidden=16).config["min_phase"] == "learned"
    rippled = SymAE(8, 64, width=4, hidden=16, schema={"signature_ripple": 0.1}).config
    assert rippled["min_phase"] is True and rippled["filter_terms"] == 64
    assert SymAE(8, 64, width=4, hidden=16, time_terms=False).config["min_phase"] is False
    with pytest.raises(OptionError, match="min_phase must be"):
        SymAE(8, 64, min_phase="maybe")
