"""A time warp per instance along one learned field (filter decoder, ``warp_terms``).

A water-velocity change between shots moves every event by the time its ray spends in
the water: ``dt = e * t_w(p)``, with ``e = -dv / v`` the shot's relative change and
``t_w(p) = t_wb / cos(theta_w)`` the two water legs of the ray with slowness ``p``. At one
offset a shallow event (oblique ray) moves more than a deep one (near vertical ray), so no
static of a trace, however free, describes it (a per-trace static leaves 13-18 % of the
gather on the zoo's water-statics draws, ``scripts/bench/zoo_statics.py``).

The move is a product: a field of the earth, the same for every shot of a survey whose
water layer changes little along it (``W (C, L)``, learned, in :data:`WARP_SCALE`
samples, linear between knots every :data:`KNOT` samples), times a coordinate of the
shot (``e``, from its nuisance code). The decoder warps the instance's earth, ``G(c, t -
e W(c, t))``, before the instance's filter; the pooling warps each recorded instance
back, ``x(c, t + e W(c, t))``, before the least-squares fit (exact to first order in
the field's slope ``e dW/dt``, a few thousandths here).

Interpolation is exact to half the sample interval (Fourier), then cubic convolution
(Keys, ``a = -1/2``).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["KNOT", "WARP_SCALE", "WarpField", "warp"]

#: Knot spacing of the learned field (samples): the water legs' time changes slowly with
#: time at one offset except where events of different slowness cross.
KNOT = 8
#: The field's unit (samples): a coordinate of 1 and a field of 1 move events this far.
WARP_SCALE = 4.0
#: The field is ``start + FIELD_GAIN * raw`` with ``raw`` the parameter (0 at first): an
#: optimiser's steps of a given size move the field this many times further (Adam at
#: 1e-3 moved the plain field by 0.1 in the zoo's 320 steps, where the water legs'
#: field spans 1 to 3).
FIELD_GAIN = 10.0


def _keys(f: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Keys' cubic-convolution weights of the four samples around ``i + f`` (``f`` in
    [0, 1)), from ``i - 1`` to ``i + 2``."""
    f2, f3 = f * f, f * f * f
    return (
        -0.5 * f3 + f2 - 0.5 * f,
        1.5 * f3 - 2.5 * f2 + 1.0,
        -1.5 * f3 + 2.0 * f2 + 0.5 * f,
        0.5 * f3 - 0.5 * f2,
    )


def _cubic(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Traces ``x (..., M)`` read at fractional sample positions ``pos (..., N)`` (Keys);
    0 outside the trace."""
    m = x.shape[-1]
    base = torch.floor(pos)
    frac = (pos - base).to(x.dtype)
    base = base.long()
    out = torch.zeros(pos.shape, dtype=x.dtype, device=x.device)
    for k, w in zip(range(-1, 3), _keys(frac), strict=True):
        idx = base + k
        inside = (idx >= 0) & (idx < m)
        vals = torch.gather(x, -1, idx.clamp(0, m - 1))
        out = out + torch.where(inside, vals * w, torch.zeros_like(vals))
    return out


def warp(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Traces ``x (..., N)`` read at ``t - shift`` (samples; ``shift`` broadcast to
    ``x``'s shape): events move later by ``shift``. Samples outside the record read 0.

    The traces are first interpolated to half their sample interval exactly (zero-padded
    spectrum of the zero-padded trace), then read by cubic convolution: the cubic's error
    on a 30 Hz Ricker wavelet at 4 ms falls from 2.2 % to 0.2 %."""
    n = x.shape[-1]
    shape = torch.broadcast_shapes(x.shape, shift.shape)
    spec = torch.fft.rfft(x, n=2 * n, dim=-1)
    fine = torch.fft.irfft(spec, n=4 * n, dim=-1)[..., : 2 * n + 2] * 2.0
    pos = torch.arange(n, device=x.device, dtype=shift.dtype) - shift.expand(shape)
    return _cubic(fine.expand(*shape[:-1], fine.shape[-1]), 2.0 * pos)


class WarpField(nn.Module):
    """The learned field ``W (C, L)`` of :func:`warp`'s moves and the coordinate head.

    An instance's move ``(..., C, L)`` in samples is ``coordinate(code) * shift_unit()``,
    ``WARP_SCALE * e * W`` with ``e`` from its code.

    The field has zero mean along time on every channel: what moves a whole trace is the
    filter's statics' (the tide, a trace's bulk water delay), the field carries only
    what differs from event to event. Without it the coordinate learned the bulk static
    (correlation 0.69 with the zoo's tide static, -0.10 with its water velocity) and the
    field stayed flat. It starts non-zero, so that the coordinate has a gradient at once,
    with the water legs' shape: growing towards the gather's ends (far offsets), falling
    with time (deep events' rays are nearer vertical). The coordinate head starts small."""

    def __init__(self, channels: int, samples: int, code_dim: int, hidden: int):
        super().__init__()
        self.samples = samples
        knots = math.ceil((samples - 1) / KNOT) + 1
        self.field = nn.Parameter(torch.zeros(channels, knots))
        u = torch.linspace(-1.0, 1.0, channels) if channels > 1 else torch.ones(1)
        fall = torch.linspace(1.0, -1.0, knots) if knots > 1 else torch.zeros(1)
        self.register_buffer("start", u[:, None] ** 2 * fall[None], persistent=False)
        self.head = nn.Sequential(nn.Linear(code_dim, hidden), nn.GELU(), nn.Linear(hidden, 1))
        with torch.no_grad():
            self.head[-1].weight.mul_(0.1)
            self.head[-1].bias.zero_()

    def full(self, samples: int | None = None) -> torch.Tensor:
        """The field ``(C, samples)`` at every sample (linear between knots)."""
        n = self.samples if samples is None else samples
        knots = self.field.shape[-1]
        field = self.start + FIELD_GAIN * self.field
        field = field - field.mean(dim=-1, keepdim=True)
        grid = F.interpolate(
            field[None], size=(knots - 1) * KNOT + 1, mode="linear", align_corners=True
        )[0]
        if grid.shape[-1] < n:
            grid = F.pad(grid, (0, n - grid.shape[-1]), mode="replicate")
        return grid[..., :n]

    def coordinate(self, code: torch.Tensor) -> torch.Tensor:
        """The coordinate ``e (...)`` of each instance's code ``(..., Dn)``."""
        return self.head(code)[..., 0]

    def shift_unit(self, samples: int | None = None) -> torch.Tensor:
        """The move ``(C, samples)`` of a coordinate of 1, in samples."""
        return WARP_SCALE * self.full(samples)
