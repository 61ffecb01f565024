"""Short real trainings of small models on toy bags, shared by the model tests."""

from __future__ import annotations

import torch

from symae_seis.models import SymAE


def recon_error_after_training(x: torch.Tensor, steps: int = 200, **options) -> float:
    """Relative reconstruction error of bags ``x (B, I, C, T)`` by a small SymAE with
    ``options``, after ``steps`` Adam steps (lr 3e-3) on the reconstruction term alone,
    from seed 1."""
    from symae_seis.training.objective import objective

    torch.manual_seed(1)
    m = SymAE(x.shape[-2], x.shape[-1], width=4, hidden=16, **options)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(steps):
        opt.zero_grad()
        objective(m, x, augment=False)["recon"].backward()
        opt.step()
    with torch.no_grad():
        return float((m.eval()(x) - x).norm() / x.norm())
