"""The training objective: reconstruction from a bag, swap loss, known-transform augmentation.

Written as plain functions over :class:`~symae_seis.models.SymAE` so the LightningModule,
the benchmarks and the tests share one definition.

* **Bag reconstruction.** The coherent part is pooled over the first ``bag`` instances of
  each datapoint (``bag`` drawn anew every step), and *every* instance is rebuilt from it
  with its own nuisance code: instances outside the bag are predicted, not copied, which
  is what redatuming asks of the model.
* **Swap loss.** For a datapoint whose key exists in another survey (its *partner*), the
  coherent part of one survey with the nuisance codes of the other survey's instances
  must rebuild those instances inside the no-change design window, and the reverse.
* **Augmentation** (filter decoder): each instance is passed through a random filter of
  the family with known static, phase, gain and spectral tilt; the nuisance encoder must
  report the transformed instance's parameters moved by exactly that transform
  (consistency), and the datapoint's coherent gather must rebuild the transformed
  instance through its estimated filter. With ``warp_terms`` the instance is also warped
  along the model's field (held fixed) by a known coordinate, which its code must report
  (:data:`WARP_AUG`): this, not the reconstruction alone, ties the coordinate to the
  event-by-event moves the field describes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..models import SymAE
from ..models import filters as FF
from ..models.warp import warp as warp_instances

__all__ = ["LossWeights", "objective", "random_transforms", "aug_params", "AUG_PARAMS"]

#: Filter parameters moved by the augmentation: (name, index offset after the cosine
#: terms or -1 for the first cosine term = spectral tilt, half-range in parameter units).
AUG_PARAMS = (("tilt", -1, 0.5), ("phase", 0, 0.6), ("static", 1, 0.5), ("gain", 2, 0.3))

#: Half-range of the augmentation's known warp coordinate (``warp_terms``).
WARP_AUG = 0.5


@dataclass(frozen=True)
class LossWeights:
    """Weights of the terms added to the reconstruction loss."""

    swap: float = 1.0
    augment: float = 0.5
    consistency: float = 1.0


def random_transforms(
    n: int, terms: int, device, generator: torch.Generator | None = None, params: tuple = AUG_PARAMS
) -> torch.Tensor:
    """Filter parameters ``(n, P)`` of random known transforms (``params``: by default
    static, phase, gain and tilt)."""
    theta = torch.zeros(n, FF.n_params(terms), device=device)
    for _, off, half in params:
        col = 0 if off < 0 else terms + off
        r = torch.rand(n, generator=generator).to(device)
        theta[:, col] = (2 * r - 1) * half
    return theta


def aug_params(model: SymAE) -> tuple:
    """The known transforms a model's family can follow: without time terms, no static
    or phase rotation."""
    if model.config.get("time_terms", True):
        return AUG_PARAMS
    return tuple(a for a in AUG_PARAMS if a[0] not in FF.TIME_PARAMS)


def _aug_columns(terms: int, params: tuple = AUG_PARAMS) -> list[int]:
    return [0 if off < 0 else terms + off for _, off, _ in params]


def _mse(
    a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared misfit of ``a`` to ``b`` ``(..., C, T)`` in the data's scale, each
    trace weighted by ``weight (..., C)`` where given (0 for a dead channel, which
    records nothing to fit; the robust weights)."""
    if weight is None:
        return F.mse_loss(a.float() / scale, b.float() / scale)
    w = weight[..., None].to(torch.float32)
    sq = ((a.float() - b.float()) / scale).pow(2) * w
    return sq.sum() / (w.sum() * a.shape[-1]).clamp_min(1.0)


def robust_weights(
    pred: torch.Tensor, target: torch.Tensor, live: torch.Tensor | None = None
) -> torch.Tensor:
    """Trace weights ``(B, I, C)`` in [0, 1], without gradient: the robust pooling's
    (:func:`~symae_seis.models.pooling.cauchy_weights`) of each trace's misfit; 0 for
    dead traces."""
    from ..models.pooling import cauchy_weights

    with torch.no_grad():
        live = _live(target) if live is None else live > 0
        return cauchy_weights((pred.float() - target.float()).pow(2).mean(dim=-1), live)


def _live(x: torch.Tensor) -> torch.Tensor:
    """Traces ``(..., C)`` that recorded something (dead channels are all zero)."""
    return x.abs().amax(dim=-1) > 0


def objective(
    model: SymAE,
    x: torch.Tensor,
    *,
    bag: int | None = None,
    partner: torch.Tensor | None = None,
    has_partner: torch.Tensor | None = None,
    window: tuple[int, int] | None = None,
    weights: LossWeights = LossWeights(),
    augment: bool = True,
    generator: torch.Generator | None = None,
    geometry: torch.Tensor | None = None,
    partner_geometry: torch.Tensor | None = None,
    masked: bool = False,
) -> dict[str, torch.Tensor]:
    """Loss terms for one batch.

    Parameters
    ----------
    model
        The SymAE being trained.
    x
        Bags ``(B, I, C, T)``.
    bag
        Instances pooled into the coherent part (the first ``bag``; default all).
    partner, has_partner
        Bags ``(B, I, C, T)`` of the same key in another survey, and which rows have one
        (a boolean mask, best kept on the host: it decides shapes).
    window
        Design window ``(start, stop)`` in samples for the swap loss; None disables it.
    weights
        Weights of the swap, augmentation and consistency terms.
    augment
        Add the known-transform terms (filter decoder only).
    geometry, partner_geometry
        Known geometry ``(B, I, K)`` of the bags' and the partners' instances (models
        with ``geometry_terms``).
    masked
        Leave dead traces (all zero) out of the misfits (a store with dead channels).

    Returns
    -------
    dict with ``loss`` (the total) and each term (``recon``, ``swap``, ``augment``,
    ``consistency``, ``shift_gauge``, ``trace_gauge`` where computed).
    """
    scale = model.scale
    use_swap = (
        partner is not None
        and window is not None
        and has_partner is not None
        and weights.swap > 0
        and bool(has_partner.any())
    )
    if use_swap:
        # rows with a partner, from the mask on the host (no wait for the device when the
        # caller passes it there, as SymAELit does)
        idx = torch.nonzero(has_partner.cpu()).flatten().to(x.device)
        bags = torch.cat([x, partner.index_select(0, idx)], dim=0)
        if geometry is not None:
            geometry = torch.cat([geometry, partner_geometry.index_select(0, idx)], dim=0)
    else:
        bags = x
    coh, z = model.encode(bags, bag, geometry)
    theta = model.filter_params(z) if model.is_filter else None  # once, for every term
    live = _live(bags) if masked else None
    recon = model.decode(coh, z)
    if model.config.get("robust", False):  # noise bursts weigh little (see robust_weights)
        live = robust_weights(recon, bags, live)
    terms = {"recon": _mse(recon, bags, scale, live)}
    total = terms["recon"]
    if use_swap:
        b = x.shape[0]
        own_coh, own_z = coh[idx], z[idx]
        par_coh, par_z = coh[b:], z[b:]
        a, e = window
        swap_a = model.decode(own_coh, par_z)[..., a:e]  # survey A earth, B shots
        swap_b = model.decode(par_coh, own_z)[..., a:e]  # and the reverse
        terms["swap"] = 0.5 * (
            _mse(swap_a, bags[b:][..., a:e], scale, None if live is None else live[b:])
            + _mse(swap_b, x[idx][..., a:e], scale, None if live is None else live[idx])
        )
        total = total + weights.swap * terms["swap"]
    if augment and model.is_filter and (weights.augment > 0 or weights.consistency > 0):
        n, i, c, t = bags.shape
        terms_k = model.config["filter_terms"]
        aug = aug_params(model)
        delta = random_transforms(n * i, terms_k, bags.device, generator, aug).reshape(n, i, -1)
        min_phase = model.config.get("min_phase", False)  # known transforms of the family
        xa = FF.apply(bags, FF.response(delta, c, t, terms_k, min_phase=min_phase))
        warp = getattr(model.decoder, "warp", None)
        if warp is not None:  # a known move along the field, which the code must report
            r = torch.rand(n, i, generator=generator).to(bags.device)
            de = (2 * r - 1) * WARP_AUG
            xa = warp_instances(xa, de[..., None, None] * warp.shift_unit(t).detach())
        za = model.encode_nuisance(xa, geometry=geometry)
        tha = model.filter_params(za)
        cols = _aug_columns(terms_k, aug)
        moved, known = tha[..., cols] - theta[..., cols], delta[..., cols]
        if warp is not None:
            coord = model.decoder.warp_coordinate
            moved = torch.cat([moved, (coord(za) - coord(z))[..., None]], dim=-1)
            known = torch.cat([known, de[..., None]], dim=-1)
        terms["consistency"] = F.mse_loss(moved, known)
        terms["augment"] = _mse(model.decode(coh, za), xa, scale, live)
        total = (
            total + weights.consistency * terms["consistency"] + weights.augment * terms["augment"]
        )
    if model.config["filter_shift"]:
        # a shift common to every instance is the coherent gather's own position (any
        # value fits equally well): hold it at zero, where the record is
        terms["shift_gauge"] = theta[..., -1].float().mean() ** 2
        total = total + terms["shift_gauge"]
    per = model.trace_params(theta) if theta is not None else None
    if per is not None:
        # likewise a per-trace static or gain shared by a datapoint's instances belongs to
        # its coherent gather: hold each datapoint's mean at zero
        terms["trace_gauge"] = per.float().mean(dim=1).pow(2).mean()
        total = total + terms["trace_gauge"]
    terms["loss"] = total
    return terms
