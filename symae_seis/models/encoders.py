"""Per-instance encoders: the convolutional trunk, code heads and the nuisance encoder.

Why 2-D convolutions over channel x time rather than 1-D over time with channels as
features: reflections are coherent across neighbouring offsets (moveout), so 2-D kernels
share weights along the channel axis and the convolution weights do not grow with C (a
1-D model's first layer has C x width weights per tap and sees no moveout). Gathers of
tens to hundreds of channels and hundreds to thousands of samples are handled by more
down-sampling levels (``levels``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .config import default_fold, default_levels

__all__ = ["Trunk", "code_head", "window_taper", "NuisanceEncoder", "TAPER"]

#: Samples of the half-cosine ramps at the inner edges of the nuisance window.
TAPER = 8


def _block(cin: int, cout: int, stride: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.GroupNorm(1, cout),
        nn.GELU(),
        nn.Conv2d(cout, cout, 3, stride=stride, padding=1),
        nn.GELU(),
    )


class Trunk(nn.Module):
    """Per-instance convolutions that halve time (and channels while > 4) per level.

    With ``fold`` > 1 the trace is first folded: ``fold`` consecutive samples become
    ``fold`` input channels at ``1 / fold`` of the time resolution (a lossless
    rearrangement, unlike a strided convolution: no sample is dropped, nothing aliases),
    so the costliest level, the full-resolution one, runs on ``1 / fold`` of the samples.

    Weights and feature maps are channels-last (NHWC): the oneDNN convolutions of a CPU
    run about 1.7x faster so on these thin, long maps, and GPUs prefer it too."""

    def __init__(self, channels: int, samples: int, width: int, levels: int, fold: int = 1):
        super().__init__()
        self.fold = int(fold)
        blocks, shapes = [], [(channels, samples)]
        cin, c, t = self.fold, channels, -(-samples // self.fold)
        for k in range(levels):
            cout = width * 2 ** min(k, 2)
            stride = (2 if c > 4 else 1, 2 if t > 4 else 1)
            blocks.append(_block(cin, cout, stride))
            c, t = (c + stride[0] - 1) // stride[0], (t + stride[1] - 1) // stride[1]
            shapes.append((c, t))
            cin = cout
        self.blocks = nn.Sequential(*blocks).to(memory_format=torch.channels_last)
        self.out_features = cin
        self.shapes = shapes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.fold
        if f > 1:  # (N, 1, C, T) -> (N, f, C, T / f)
            n, _, c, t = x.shape
            x = F.pad(x, (0, -t % f))
            x = x.reshape(n, c, -1, f).permute(0, 3, 1, 2)
        return self.blocks(x.contiguous(memory_format=torch.channels_last))


def code_head(trunk: Trunk, hidden: int, out: int) -> nn.Sequential:
    """MLP from a trunk's last feature map to a code of ``out`` numbers."""
    c, t = trunk.shapes[-1]
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(trunk.out_features * c * t, hidden),
        nn.GELU(),
        nn.Linear(hidden, out),
    )


def window_taper(samples: int, start: int, stop: int) -> torch.Tensor:
    """Weights ``(samples,)``: 1 inside ``[start, stop)``, 0 outside, with half-cosine
    ramps of up to :data:`TAPER` samples inside the window at edges that are not the
    record's own."""
    w = torch.zeros(samples)
    w[start:stop] = 1.0
    n = min(TAPER, (stop - start) // 4)
    ramp = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(n) + 1) / (n + 1))
    if start > 0:
        w[start : start + n] = ramp
    if stop < samples:
        w[stop - n : stop] = ramp.flip(0)
    return w


class NuisanceEncoder(nn.Module):
    """Each instance's nuisance code ``(B, I, Dn)`` (``2 Dn`` when split), on gathers
    divided by the data scale.

    With a ``nuisance_window`` the encoder sees only that part of the record (tapered);
    with ``nuisance_split`` a second trunk reads the window and its code follows the
    whole record's. The Gaussian-dropout noise of training is the model's, not this
    encoder's."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        c, t, width, hidden = cfg["channels"], cfg["samples"], cfg["width"], cfg["hidden"]
        self.window = cfg["nuisance_window"]
        self.split = cfg["nuisance_split"]
        if self.window is not None:  # not saved: follows from config
            self.register_buffer("taper", window_taper(t, *self.window), persistent=False)
        self.trunk = Trunk(c, t, width, cfg["levels"], cfg["time_fold"])
        self.head = code_head(self.trunk, hidden, cfg["nuisance_dim"])
        if self.split:
            n = self.window[1] - self.window[0]
            fold = default_fold(n)
            self.win_trunk = Trunk(c, n, width, default_levels(n, fold), fold)
            self.win_head = code_head(self.win_trunk, hidden, cfg["nuisance_dim"])

    def forward(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        b, i, c, t = x.shape
        if self.window is not None and not self.split:
            x = x * self.taper
        z = self.head(self.trunk((x / scale).reshape(b * i, 1, c, t))).reshape(b, i, -1)
        if self.split:  # the window's own code, end to end
            a, e = self.window
            xw = x[..., a:e] * self.taper[a:e] / scale
            zw = self.win_head(self.win_trunk(xw.reshape(b * i, 1, c, e - a)))
            z = torch.cat([z, zw.reshape(b, i, -1)], dim=-1)
        return z
