"""Invariant checks shipped with the model and used by the tests: the coherent part's
permutation invariance and the save/load round trip."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import SymaeError
from .symae import SymAE

__all__ = ["InvariantError", "check_permutation_invariance", "check_save_load"]


class InvariantError(SymaeError, AssertionError):
    """A model breaks one of its invariants (permutation invariance, save/load); an
    ``AssertionError`` too, as the checks raised before."""


def check_permutation_invariance(
    model: SymAE, x: torch.Tensor, *, trials: int = 3, atol: float = 1e-5, raise_error: bool = True
) -> float:
    """Largest change of the coherent part under random permutations of the I axis.

    Runs in eval mode (no nuisance noise), in the model's dtype. Returns the maximum
    absolute difference, relative to the coherent part's RMS.

    Raises
    ------
    InvariantError
        Above ``atol``, when ``raise_error``.
    """
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            ref = model.encode_coherent(x)
            worst = 0.0
            g = torch.Generator().manual_seed(0)
            for _ in range(trials):
                perm = torch.randperm(x.shape[1], generator=g)
                got = model.encode_coherent(x[:, perm])
                rel = (got - ref).abs().max() / ref.pow(2).mean().sqrt().clamp_min(1e-30)
                worst = max(worst, float(rel))
    finally:
        model.train(was)
    if raise_error and worst > atol:
        raise InvariantError(
            f"coherent code changes by {worst:.3g} (relative) under "
            f"permutation of instances; tolerance {atol:g}"
        )
    return worst


def check_save_load(
    model: SymAE, path: str | Path, x: torch.Tensor, *, raise_error: bool = True
) -> float:
    """Save, reload and compare outputs on ``x`` (eval mode). Returns max abs difference.

    Raises
    ------
    InvariantError
        If the reloaded model's output differs at all, when ``raise_error``.
    """
    model.save(path)
    other = SymAE.load(path)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            diff = float((model(x) - other(x)).abs().max())
    finally:
        model.train(was)
    if raise_error and diff != 0.0:
        raise InvariantError(f"{path}: reloaded model differs from the original by {diff:.3g}")
    return diff
