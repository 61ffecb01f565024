"""Symmetric pooling of a bag of instances into one coherent gather (filter decoder).

* :func:`canonical`: bags in one order of their instances (by energy), so that pooling is
  bit for bit the same under any permutation;
* :func:`default_coherent_pad`: the samples below the record, padded to a fast FFT length;
* :func:`wiener_pool`: the damped least-squares gather of a bag seen through its
  instances' filters (Wiener estimate, then preconditioned conjugate gradients);
* :func:`mean_pool`: the mean of the inversely filtered instances (the older models').
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from . import filters

__all__ = [
    "canonical",
    "default_coherent_pad",
    "wiener_pool",
    "mean_pool",
    "instance_earth",
    "cauchy_weights",
]


def _smooth(n: int) -> bool:
    """Whether ``n`` has no prime factor above 5 (a fast FFT length)."""
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    return n == 1


def default_coherent_pad(samples: int) -> int:
    """Samples of the coherent gather below the record (Wiener pooling): at least an
    eighth of the record (and 8), raised until the record plus the pad has no prime
    factor above 5, so the pooling's and the decoder's FFTs (length twice that) are fast
    (375 + 47 = 422 = 2 x 211 ran 3x slower than 432)."""
    pad = max(8, math.ceil(samples / 8))
    while not _smooth(samples + pad):
        pad += 1
    return pad


def canonical(x: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Bags ``x (B, I, C, T)`` (and tensors ``(B, I, ...)`` that go with them) in a
    canonical order of their instances, by energy. Pooling a bag in that order gives the
    same result bit for bit under any permutation of its instances, however much the
    least-squares pooling's conjugate-gradient steps amplify the round-off of sums over
    I (a random model after 20-40 steps: up to 1e-3 apart otherwise, in float64)."""
    order = torch.argsort(x.detach().float().pow(2).sum(dim=(-2, -1)), dim=1, stable=True)
    return tuple(
        torch.take_along_dim(v, order.view(*order.shape, *[1] * (v.dim() - 2)), dim=1)
        for v in (x, *others)
    )


def mean_pool(x: torch.Tensor, h_inv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(B, C, T)`` of bags ``x`` equalised by their exact inverse filters
    ``h_inv (B, I, C, F)``, and the spread of the equalised instances about it."""
    eq = filters.apply(x, h_inv)  # (B, I, C, T)
    mean = eq.mean(dim=1)  # symmetric
    spread = eq.std(dim=1, correction=0) if x.shape[1] > 1 else torch.zeros_like(mean)
    return mean, spread


def _ratio(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """CG step sizes ``a / b`` (0 where b = 0), differentiated through, in float64: the
    1 / b^2 of the gradient of a near-dead trace's tiny b stays finite."""
    ok = b > 0
    q = a.double() / torch.where(ok, b, torch.ones_like(b)).double()
    return torch.where(ok, q, torch.zeros_like(q)).to(a.dtype)


#: Cauchy scale of the robust pooling's trace weights, in units of the median trace misfit
#: of the bag at that channel: a trace whose misfit is k^2 times the median counts half.
ROBUST_K = 3.0
#: Reweighted least-squares passes of the robust pooling after the plain one.
ROBUST_PASSES = 2


def wiener_pool(
    x: torch.Tensor,
    h: torch.Tensor,
    *,
    iters: int,
    eps: float,
    sigma: torch.Tensor | None = None,
    field: torch.Tensor | None = None,
    basis: torch.Tensor | None = None,
    robust: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares coherent gathers ``(B, C, L)`` of bags ``x (B, I, C, T)`` seen through
    filters ``h (B, I, C, L + 1)`` (responses for ``L`` samples, ``L >= T``), and the RMS
    misfit of the bag's live traces ``(B, C, L)`` (zero below the record).

    With ``basis (B, I, K)`` (known coefficients of each instance: the geometry terms,
    first column ones) the coherent part is ``K`` gathers ``(B, K, C, L)`` and instance
    ``i`` sees ``sum_k basis[i, k] G_k`` through its filter.

    Fits ``crop_T(H_i G) = x_i`` on the live traces of every instance (all-zero traces are
    left out). The first estimate is the Wiener solution ``G(f) = sum_i conj(H_i) X_i /
    (sum_i |H_i|^2 + eps')`` (``eps'`` = ``eps`` times the mean of ``sum_i |H_i|^2`` over
    frequency, trace by trace): each instance counts by its own filter's power, so where a
    wavelet is weak it does not come back amplified. ``iters`` steps of conjugate
    gradients preconditioned by it, on the same damped problem, then account for the
    record's end (what a filter shifts or smears across it) and for dead traces. Every
    (datapoint, channel) is its own small system, solved in parallel; a channel shift
    ``sigma (B, I)`` with its phase ``field`` couples a datapoint's channels into one.

    ``robust``: the fit is done again with each trace weighted by ``1 / (1 + m / (k^2
    m_0))``, ``m`` its misfit, ``m_0`` the median misfit of the bag's traces at that
    channel and ``k`` :data:`ROBUST_K` (Cauchy): a burst of noise on a few channels of
    one shot (swell) does not bend the coherent gather.
    """
    t = x.shape[-1]
    n = h.shape[-1] - 1  # rfft bins of 2 L samples
    live = (x.abs().amax(dim=-1) > 0).to(x.dtype)[..., None]  # (B, I, C, 1)
    if basis is not None:  # the terms' sums in full precision (einsum is a bf16 matmul)
        basis = basis.float() if x.dtype != torch.float64 else basis.double()
    g, resid = _weighted_solve(x, h, live, iters, eps, sigma, field, basis, binary=True)
    for _ in range(ROBUST_PASSES if robust else 0):  # reweighted least squares
        misfit = resid.detach().pow(2).mean(dim=-1)  # (B, I, C)
        weight = cauchy_weights(misfit, live[..., 0] > 0).to(x.dtype)[..., None]
        g, resid = _weighted_solve(x, h, weight, iters, eps, sigma, field, basis, binary=False)
    spread = F.pad((resid.pow(2).mean(dim=1) + 1e-20).sqrt(), (0, n - t))  # finite grad at 0
    return g, spread


def cauchy_weights(misfit: torch.Tensor, live: torch.Tensor) -> torch.Tensor:
    """Trace weights ``(B, I, C)`` in [0, 1] of misfits ``(B, I, C)``: ``1 / (1 + m / (k^2
    m_0))`` with ``m_0`` the median misfit of the bag's ``live`` traces at that channel
    and ``k`` :data:`ROBUST_K` (Cauchy); 0 for traces that are not live."""
    ref = torch.where(live, misfit, torch.full_like(misfit, float("nan"))).nanquantile(0.5, dim=1)
    ref = torch.nan_to_num(ref, nan=0.0)[:, None].clamp_min(1e-30)
    return live.to(misfit.dtype) / (1.0 + misfit / (ROBUST_K**2 * ref))


def instance_earth(basis: torch.Tensor | None, g: torch.Tensor) -> torch.Tensor:
    """What each instance sees before its filter: the coherent gather ``g (B, C, L)``
    (as ``(B, 1, C, L)``), or with ``basis (B, I, K)`` the sum ``sum_k basis[i, k]
    g[k]`` of the coherent gathers ``g (B, K, C, L)``, ``(B, I, C, L)``."""
    if basis is None:
        return g[:, None]
    return torch.einsum("bik,bkcl->bicl", basis.to(g.dtype), g)


def _weighted_solve(x, h, weight, iters, eps, sigma, field, basis, *, binary: bool):
    """The damped least-squares gathers of :func:`wiener_pool` (full precision)."""
    with torch.autocast(x.device.type, enabled=False):
        return _solve(x, h, weight, iters, eps, sigma, field, basis, binary=binary)


def _solve(x, h, weight, iters, eps, sigma, field, basis, *, binary: bool):
    """The damped least-squares gathers of :func:`wiener_pool` with trace weights
    ``weight (B, I, C, 1)`` (0 for dead traces; ``binary``: only 0 and 1, the live
    mask), and the residual of the live traces (not weighted)."""
    t = x.shape[-1]
    n = h.shape[-1] - 1  # rfft bins of 2 L samples
    nfft = 2 * n
    root = weight if binary else weight.sqrt()
    power = (h.real**2 + h.imag**2) * weight
    den = power.sum(dim=1)  # symmetric in I
    lam = eps * den.mean(dim=-1, keepdim=True).clamp_min(1e-12)
    if basis is not None:  # each geometry term by its own coefficients' power
        basis = basis.to(x.dtype)
        den = torch.einsum("bik,bicf->bkcf", basis**2, power)
        lam = lam[:, None]
    inv = 1.0 / (den + lam)

    def adjoint(r: torch.Tensor) -> torch.Tensor:  # (B, I, C, T) -> (B, [K,] C, L)
        spec = h.conj() * torch.fft.rfft(r * root, n=nfft, dim=-1)
        if sigma is not None:  # the shift's adjoint: -sigma
            spec = filters.shift_spectra(spec, -sigma, field)
        if basis is None:
            return torch.fft.irfft(spec.sum(dim=1), n=nfft, dim=-1)[..., :n]
        spec = torch.einsum("bik,bicf->bkcf", basis.to(spec.dtype), spec)
        return torch.fft.irfft(spec, n=nfft, dim=-1)[..., :n]

    def forward(g: torch.Tensor) -> torch.Tensor:  # (B, [K,] C, L) -> (B, I, C, T)
        return filters.apply(instance_earth(basis, g), h, sigma, field)[..., :t] * root

    def precond(v: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft(torch.fft.rfft(v, n=nfft, dim=-1) * inv, n=nfft, dim=-1)[..., :n]

    def normal(g: torch.Tensor) -> torch.Tensor:  # damped normal operator
        return adjoint(forward(g)) + lam.mean(dim=-1, keepdim=True) * g

    axes = (-1,) if sigma is None else (-2, -1)
    if basis is not None:  # the K gathers of a (datapoint, channel) are one system
        axes = (-3, *axes)

    def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(dim=axes, keepdim=True)

    r = adjoint(x if binary else x * root)
    g = precond(r)  # the Wiener estimate
    r = r - normal(g)
    z = precond(r)
    p, rz = z, dot(r, z)
    for _ in range(iters):
        ap = normal(p)
        alpha = _ratio(rz, dot(p, ap))
        g = g + alpha * p
        r = r - alpha * ap
        z = precond(r)
        rz_new = dot(r, z)
        p = z + _ratio(rz_new, rz) * p
        rz = rz_new
    fit = filters.apply(instance_earth(basis, g), h, sigma, field)[..., :t]
    return g, (fit - x) * (weight > 0)
