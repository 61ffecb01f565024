"""The time warp along a learned field (``warp_terms``): interpolation, training, options."""

from __future__ import annotations

import math

import pytest
import torch

from symae_seis.errors import OptionError
from symae_seis.models import SymAE, check_permutation_invariance, check_save_load
from symae_seis.models.warp import warp

from .toys import recon_error_after_training


def _ricker(t: torch.Tensor, t0: float, f: float = 30.0, dt: float = 0.004) -> torch.Tensor:
    a = (math.pi * f * (t * dt - t0)) ** 2
    return (1 - 2 * a) * torch.exp(-a)


def test_warp_moves_a_wavelet_by_fractional_samples_and_reads_zero_outside():
    t = torch.arange(300, dtype=torch.float64)
    x = _ricker(t, 0.6)[None]
    for s in (0.3, 2.7, -5.4):
        y = warp(x, torch.full((1, 1), s, dtype=torch.float64))
        ref = _ricker(t, 0.6 + s * 0.004)[None]
        assert float((y - ref).norm() / ref.norm()) < 5e-3, s
    # a move that varies along the trace moves each event by its own amount
    two = _ricker(t, 0.3) + _ricker(t, 0.9)
    shift = torch.where(t < 150, 2.0, -3.0).to(torch.float64)
    ref = _ricker(t, 0.3 + 0.008) + _ricker(t, 0.9 - 0.012)
    assert float((warp(two, shift) - ref).norm() / ref.norm()) < 5e-3
    # what comes in from beyond the record's ends is zero
    edge = warp(_ricker(t, 0.02), torch.full((1,), 40.0, dtype=torch.float64))
    assert float(edge[:30].abs().max()) < 1e-6


def test_warp_terms_learn_a_water_velocity_change():
    """Shots whose events move by ``a W(c, t)``: one coordinate ``a`` per shot times a
    field of the survey that grows with offset and falls with time (the water legs of
    oblique rays are long). The filter family (bulk static, statics along the gather)
    cannot express it; the warp can. Real training steps."""
    torch.manual_seed(0)
    c, t, n_dp, n_inst = 6, 64, 12, 6
    tt = torch.arange(t, dtype=torch.float32)
    u = torch.linspace(0, 1, c)
    t0 = 8 + 40 * torch.rand(n_dp, 3, 1)
    a = 2 * torch.rand(n_dp, n_inst) - 1
    x = 0
    for e in range(3):
        move = 1.0 + 4.0 * u**2 * (1 - t0[:, e] / t)  # (n_dp, c)
        at = (t0[:, e, None] + a[:, :, None] * move[:, None])[..., None]
        x = x + torch.exp(-0.5 * ((tt - at) / 2.5) ** 2) * torch.cos(0.9 * (tt - at))
    err = {
        on: recon_error_after_training(x, warp_terms=on, trace_terms=False) for on in (False, True)
    }
    assert err[True] < 0.1 and err[True] < 0.4 * err[False], err


def test_warp_terms_keep_the_models_guarantees(tmp_path):
    torch.manual_seed(0)
    m = SymAE(8, 64, width=4, hidden=16, warp_terms=True)
    with torch.no_grad():
        torch.nn.init.normal_(m.decoder.warp.field, std=0.05)
    check_permutation_invariance(m, torch.randn(2, 5, 8, 64))
    check_save_load(m, tmp_path / "m.pt", torch.randn(2, 4, 8, 64))
    assert not SymAE(8, 64, width=4, hidden=16).config["warp_terms"]
    with pytest.raises(OptionError, match="warp_terms needs time_terms"):
        SymAE(8, 64, warp_terms=True, time_terms=False)
    with pytest.raises(OptionError, match="warp_terms needs decoder='filter'"):
        SymAE(8, 64, warp_terms=True, decoder="generic")


def test_augmentation_teaches_the_coordinate_a_known_warp():
    """The training's augmentation warps instances along the field by known coordinates
    and asks the codes to report them: after real training steps, an instance warped by
    ``d`` along the field has its coordinate moved by about ``d``."""
    from symae_seis.training.objective import objective

    torch.manual_seed(0)
    c, t = 6, 64
    tt = torch.arange(t, dtype=torch.float32)
    t0 = 8 + 40 * torch.rand(10, 1, 3, 1, 1)
    x = (torch.exp(-0.5 * ((tt - t0) / 2.5) ** 2) * torch.cos(0.9 * (tt - t0))).sum(dim=2)
    x = x.expand(10, 4, c, t).contiguous()
    m = SymAE(c, t, width=4, hidden=16, warp_terms=True, trace_terms=False)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(150):
        opt.zero_grad()
        terms = objective(m, x, generator=torch.Generator().manual_seed(_))
        terms["loss"].backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        unit = m.decoder.warp.shift_unit(t)
        base = m.decoder.warp_coordinate(m.encode_nuisance(x[:, :1]))
        for d in (-0.4, 0.4):
            moved = m.decoder.warp_coordinate(m.encode_nuisance(warp(x[:, :1], d * unit)))
            assert abs(float((moved - base).mean()) - d) < 0.1, d
