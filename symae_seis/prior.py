"""The trained decoder as a prior: fit latent codes to what was recorded (torch only).

A trained SymAE maps (coherent part, nuisance code) to a gather. Given recorded samples,
possibly incomplete (a mask of known traces or samples), the codes that explain them
best are found by searching the decoder's input, as in compressed sensing with
generative models (Bora et al. 2017): minimise

``sum_known (decode(c, z) - x)^2 / sum_known x^2 + penalty * ||z - z0||^2 / Dn``

over the nuisance codes ``z`` of each instance, from the encoder's codes ``z0``.

With the filter decoder the coherent gather of a datapoint is itself a least-squares
function of its instances and their filters, so :func:`refine_codes` alternates: pool
the coherent gathers with the current codes, fit every instance's code to its own
gather against them, pool again. The encoder gives the start; the fit removes what it
got wrong (a static off by a fraction of a sample, a slightly wrong spectrum), which is
what limits the virtual gathers of an encoder alone.

Deterministic for a given input (no random draws); runs on the model's device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import SymaeError
from .models import SymAE


class InfillError(SymaeError):
    """The observation cannot be infilled as asked (nothing known, NaN, wrong shapes)."""


__all__ = ["FitResult", "InfillResult", "fit_nuisance", "refine_codes", "infill", "InfillError"]


@dataclass
class FitResult:
    """Codes fitted to partial observations: ``nuisance`` ``(N, Dn)``, the decoded
    gathers ``fitted`` ``(N, C, T)`` and the relative misfit on the known samples of each
    instance, before and after (``misfit_start``, ``misfit``; ``(N,)``)."""

    nuisance: torch.Tensor
    fitted: torch.Tensor
    misfit_start: torch.Tensor
    misfit: torch.Tensor


def _expand_mask(mask: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones_like(x)
    mask = mask.to(x.device, x.dtype)
    return mask[..., None].expand_as(x) if mask.ndim == x.ndim - 1 else mask.expand_as(x)


def _misfit(pred: torch.Tensor, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    num = ((pred - x) * m).pow(2).flatten(1).sum(1)
    den = (x * m).pow(2).flatten(1).sum(1).clamp_min(1e-12)
    return num / den


def fit_nuisance(
    model: SymAE,
    coherent: torch.Tensor,
    x: torch.Tensor,
    z0: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    steps: int = 60,
    lr: float = 0.02,
    penalty: float = 1e-4,
) -> FitResult:
    """Nuisance codes that make ``decode(coherent[n], z[n])`` match ``x[n]`` on its known
    samples.

    Parameters
    ----------
    model
        A trained :class:`SymAE` (kept in eval mode, weights untouched).
    coherent
        Each instance's coherent part: ``(N, C, T)`` gathers (filter decoder) or
        ``(N, Dc)`` codes (generic decoder).
    x
        Recorded gathers ``(N, C, T)`` in the data's units.
    z0
        Start codes ``(N, Dn)``, usually the encoder's; the penalty pulls towards them.
    mask
        Known traces ``(N, C)`` or samples ``(N, C, T)`` (true = known); None: all.
    steps, lr
        Adam iterations and step size on the codes.
    penalty
        Weight of ``||z - z0||^2 / Dn`` against the relative misfit.
    """
    model.eval()
    coherent, z0 = coherent.detach(), z0.detach()
    x = x.detach().to(z0.device, torch.float32)
    m = _expand_mask(mask, x)
    d = z0.shape[1] - model.geometry_dim  # the known geometry at the end is not fitted
    known = z0[:, d:]
    z = z0[:, :d].clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)

    def codes() -> torch.Tensor:
        return torch.cat([z, known], dim=1) if known.shape[1] else z

    try:
        with torch.no_grad():
            start = _misfit(model.decode(coherent, z0[:, None])[:, 0], x, m)
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            pred = model.decode(coherent, codes()[:, None])[:, 0]
            loss = _misfit(pred, x, m) + penalty * (z - z0[:, :d]).pow(2).mean(1)
            loss.sum().backward()
            opt.step()
        with torch.no_grad():
            fitted = model.decode(coherent, codes()[:, None])[:, 0]
            final = _misfit(fitted, x, m)
    finally:
        for p in params:
            p.requires_grad_(True)
    return FitResult(codes().detach(), fitted, start, final)


@torch.no_grad()
def _pool(model: SymAE, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return model.pool(x, z)


def refine_codes(
    model: SymAE,
    x: torch.Tensor,
    *,
    live: torch.Tensor | None = None,
    rounds: int = 2,
    steps: int = 60,
    lr: float = 0.02,
    penalty: float = 1e-4,
    geometry: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Coherent parts and nuisance codes of bags ``x`` ``(B, I, C, T)``, the encoder's
    codes refined by fitting every instance to its own gather (``rounds`` alternations
    of pooling and :func:`fit_nuisance`; ``live`` ``(B, I, C)`` masks dead traces;
    ``geometry`` ``(B, I, K)``: the instances' known geometry, for models that read it).

    Returns ``(coherent (B, C, T) or (B, Dc), nuisance (B, I, Dn))``.
    """
    b, i, c, t = x.shape
    with torch.no_grad():
        z = model.encode_nuisance(x, noise=False, geometry=geometry)
    flat_mask = None if live is None else live.reshape(b * i, c)
    coherent = _pool(model, x, z)
    for _ in range(rounds):
        per_inst = (
            coherent[:, None].expand(b, i, *coherent.shape[1:]).reshape(b * i, *coherent.shape[1:])
        )
        fit = fit_nuisance(
            model,
            per_inst,
            x.reshape(b * i, c, t),
            z.reshape(b * i, -1),
            mask=flat_mask,
            steps=steps,
            lr=lr,
            penalty=penalty,
        )
        z = fit.nuisance.reshape(b, i, -1)
        coherent = _pool(model, x, z)
    return coherent, z


@dataclass
class InfillResult:
    """Gathers completed by the decoder: ``filled`` ``(B, I, C, T)`` (recorded traces
    kept, missing ones from the model), ``fitted`` (the model's gathers everywhere),
    ``misfit`` ``(B, I)`` (relative misfit on the known traces), and ``from_prior``
    ``(B, C)`` (channels no instance of the datapoint recorded, taken from the coherent
    prior or interpolated along the channel axis)."""

    filled: torch.Tensor
    fitted: torch.Tensor
    misfit: torch.Tensor
    from_prior: torch.Tensor


def _interp_channels(g: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Fill the channels of coherent gathers ``g (B, C, L)`` where ``known (B, C)`` is
    false by linear interpolation between the nearest known channels (constant beyond the
    outermost)."""
    out = g.clone()
    c = g.shape[1]
    pos = torch.arange(c, dtype=g.dtype, device=g.device)
    for b in range(g.shape[0]):
        k = torch.nonzero(known[b]).flatten()
        if k.numel() == 0 or k.numel() == c:
            continue
        miss = torch.nonzero(~known[b]).flatten()
        right = torch.searchsorted(k, miss).clamp(max=k.numel() - 1)
        left = (right - 1).clamp(min=0)
        right = torch.where(k[right] < miss, left, right)  # beyond the last known
        left = torch.where(k[left] > miss, right, left)  # before the first known
        span = (pos[k[right]] - pos[k[left]]).clamp_min(1.0)
        w = ((pos[miss] - pos[k[left]]) / span).clamp(0, 1)[:, None]
        out[b, miss] = (1 - w) * g[b, k[left]] + w * g[b, k[right]]
    return out


def infill(
    model: SymAE,
    x: torch.Tensor,
    known: torch.Tensor,
    *,
    coherent_prior: torch.Tensor | None = None,
    rounds: int = 2,
    steps: int = 60,
    lr: float = 0.02,
    penalty: float = 1e-4,
) -> InfillResult:
    """Complete bags ``x`` ``(B, I, C, T)`` whose traces ``known`` ``(B, I, C)`` were
    recorded (the others are ignored, whatever they hold).

    Filter decoder: the coherent gather of each datapoint is pooled from the known
    traces of all its instances (a trace one instance misses, another may hold), every
    instance's nuisance code is fitted to its own known traces (:func:`fit_nuisance`,
    ``rounds`` alternations), and the decoder fills the rest. Channels that no instance
    of a datapoint recorded (an obstruction over every shot) come from
    ``coherent_prior`` ``(B, C, L)`` when given (e.g. the same key's coherent gather in
    another survey: the earth barely changes between surveys), else by linear
    interpolation of the coherent gather along the channel axis.

    Generic decoder: the coherent code is pooled from the masked bag and the nuisance
    codes are fitted the same way.

    Raises
    ------
    InfillError
        If shapes disagree, a known sample is NaN/Inf, or a datapoint has no known trace.
    """
    if x.ndim != 4 or known.shape != x.shape[:3]:
        raise InfillError(
            f"gathers (B, I, C, T) and a known-trace mask (B, I, C) are needed, "
            f"got {tuple(x.shape)} and {tuple(known.shape)}"
        )
    if model.is_filter and len(model.coherent_shape) != 2:
        raise InfillError(
            "infill works with models whose coherent part is one gather; this one has "
            f"{model.coherent_shape[0]} (geometry_terms or coherent_terms)"
        )
    known = known.to(torch.bool)
    empty = ~known.flatten(1).any(dim=1)
    if empty.any():
        raise InfillError(
            f"datapoint(s) {torch.nonzero(empty).flatten().tolist()} of the "
            "batch have no known trace: nothing to fit"
        )
    bad = ~torch.isfinite(x) & known[..., None]
    if bad.any():
        b, i, c, _ = torch.nonzero(bad)[0].tolist()
        raise InfillError(
            f"known trace {c} of instance {i} (datapoint {b} of the batch) has "
            "NaN or Inf samples; mark it missing"
        )
    b, i, c, t = x.shape
    x0 = torch.where(known[..., None], x, torch.zeros((), dtype=x.dtype, device=x.device))
    model.eval()
    with torch.no_grad():
        z = model.encode_nuisance(x0, noise=False)
    seen = known.any(dim=1)  # (B, C)

    def pooled(z):
        with torch.no_grad():
            if not model.is_filter:
                return model.encode_coherent(x0)
            g = model.pool(x0, z)
            if bool((~seen).any()):
                g = (
                    _interp_channels(g, seen)
                    if coherent_prior is None
                    else torch.where(seen[..., None], g, coherent_prior.to(g))
                )
            return g

    coherent = pooled(z)
    flat_known = known.reshape(b * i, c)
    for _ in range(max(1, rounds)):
        per_inst = (
            coherent[:, None].expand(b, i, *coherent.shape[1:]).reshape(b * i, *coherent.shape[1:])
        )
        fit = fit_nuisance(
            model,
            per_inst,
            x0.reshape(b * i, c, t),
            z.reshape(b * i, -1),
            mask=flat_known,
            steps=steps,
            lr=lr,
            penalty=penalty,
        )
        z = fit.nuisance.reshape(b, i, -1)
        coherent = pooled(z)
    with torch.no_grad():
        fitted = model.decode(coherent, z)
        misfit = _misfit(
            fitted.reshape(b * i, c, t),
            x0.reshape(b * i, c, t),
            _expand_mask(flat_known, x0.reshape(b * i, c, t)),
        ).reshape(b, i)
    filled = torch.where(known[..., None], x0, fitted.to(x0.dtype))
    return InfillResult(filled, fitted, misfit, ~seen)
