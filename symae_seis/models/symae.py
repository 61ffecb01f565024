"""SymAE: symmetric autoencoder for gathers, as a plain ``torch.nn.Module``.

Input ``x`` is ``(B, I, C, T)``: B datapoints, I instances (gathers) each, C channels,
T samples, in the data's own units. Internally gathers are divided by ``scale`` (the
store's RMS), so codes and the loss live on a unit scale and outputs come back in the
input's units.

* Coherent encoder: a 2-D convolutional trunk over (channel, time) per instance, a
  **mean over the instance axis on the feature maps** (symmetric: any permutation of I
  gives the same code; any I >= 1 works), more convolutions, an MLP -> ``(B, Dc)``.
* Nuisance encoder: its own trunk per instance, an MLP -> ``(B, I, Dn)``. During
  training the code gets multiplicative Gaussian noise (Gaussian dropout of rate ``p``:
  ``z * (1 + sqrt(p / (1 - p)) * N(0, 1))``), the bottleneck that keeps coherent
  information out of it (as in the authors' recipe).
* Decoder: ``(Dc + Dn)`` -> MLP -> feature maps -> upsampling convolutions -> ``(C, T)``.

Why 2-D convolutions over channel x time rather than 1-D over time with channels as
features: reflections are coherent across neighbouring offsets (moveout), so 2-D kernels
share weights along the channel axis and the convolution weights do not grow with C (a
1-D model's first layer has C x width weights per tap and sees no moveout). Gathers of
tens to hundreds of channels and hundreds to thousands of samples are handled by more
down-sampling levels (``levels``); see ``scripts/bench/train.py`` for measured speed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "SymAE",
    "ModelFileError",
    "check_permutation_invariance",
    "check_save_load",
]

_FORMAT = "symae-seis-model"
_FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model or checkpoint file is unreadable, truncated or of another model."""


def _block(cin: int, cout: int, stride: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.GroupNorm(1, cout),
        nn.GELU(),
        nn.Conv2d(cout, cout, 3, stride=stride, padding=1),
        nn.GELU(),
    )


class _Trunk(nn.Module):
    """Per-instance convolutions that halve time (and channels while > 4) per level."""

    def __init__(self, channels: int, samples: int, width: int, levels: int):
        super().__init__()
        blocks, shapes = [], [(channels, samples)]
        cin, c, t = 1, channels, samples
        for k in range(levels):
            cout = width * 2 ** min(k, 2)
            stride = (2 if c > 4 else 1, 2 if t > 4 else 1)
            blocks.append(_block(cin, cout, stride))
            c, t = (c + stride[0] - 1) // stride[0], (t + stride[1] - 1) // stride[1]
            shapes.append((c, t))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.out_features = cin
        self.shapes = shapes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class SymAE(nn.Module):
    """Symmetric autoencoder for seismic gathers.

    Parameters
    ----------
    channels, samples
        Gather size ``(C, T)`` the model is built for.
    coherent_dim
        Size of the coherent code (per datapoint).
    nuisance_dim
        Size of the nuisance code (per instance).
    width
        Convolution channels of the first level (doubling up to 4x).
    levels
        Down-sampling levels (default: until time is at most 16 samples, at most 7).
    hidden
        Width of the MLPs.
    nuisance_dropout
        Gaussian-dropout rate on the nuisance code during training (0 disables).
    scale
        Data scale (RMS of the store); gathers are divided by it inside.
    schema
        Description of the store the model is trained on (saved, checked by redatum).

    Examples
    --------
    >>> m = SymAE(channels=24, samples=128)
    >>> x = torch.randn(2, 5, 24, 128)
    >>> m(x).shape
    torch.Size([2, 5, 24, 128])
    """

    def __init__(self, channels: int, samples: int, *, coherent_dim: int = 32,
                 nuisance_dim: int = 32, width: int = 32, levels: int | None = None,
                 hidden: int = 256, nuisance_dropout: float = 0.4, scale: float = 1.0,
                 schema: dict[str, Any] | None = None):
        super().__init__()
        if channels < 1 or samples < 4:
            raise ValueError(f"gathers must have >= 1 channel and >= 4 samples, got "
                             f"({channels}, {samples})")
        if not 0.0 <= nuisance_dropout < 1.0:
            raise ValueError(f"nuisance_dropout must be in [0, 1), got {nuisance_dropout}")
        if not scale > 0 or not math.isfinite(scale):
            raise ValueError(f"scale must be a positive number, got {scale}")
        if levels is None:
            levels = max(1, min(7, math.ceil(math.log2(max(samples, 32) / 16))))
        self.config = {
            "channels": int(channels), "samples": int(samples),
            "coherent_dim": int(coherent_dim), "nuisance_dim": int(nuisance_dim),
            "width": int(width), "levels": int(levels), "hidden": int(hidden),
            "nuisance_dropout": float(nuisance_dropout), "scale": float(scale),
        }
        self.schema = dict(schema or {})
        self.register_buffer("scale", torch.tensor(float(scale)))
        self.coh_trunk = _Trunk(channels, samples, width, levels)
        self.nui_trunk = _Trunk(channels, samples, width, levels)
        feat = self.coh_trunk.out_features
        c_out, t_out = self.coh_trunk.shapes[-1]
        flat = feat * c_out * t_out
        self.coh_post = nn.Sequential(nn.Conv2d(feat, feat, 3, padding=1), nn.GELU())
        self.coh_head = nn.Sequential(nn.Flatten(), nn.Linear(flat, hidden), nn.GELU(),
                                      nn.Linear(hidden, coherent_dim))
        self.nui_head = nn.Sequential(nn.Flatten(), nn.Linear(flat, hidden), nn.GELU(),
                                      nn.Linear(hidden, nuisance_dim))
        self.dec_in = nn.Sequential(nn.Linear(coherent_dim + nuisance_dim, hidden), nn.GELU(),
                                    nn.Linear(hidden, flat), nn.GELU())
        self._dec_shape = (feat, c_out, t_out)
        ups = []
        widths = [width * 2 ** min(k, 2) for k in range(levels)]
        for k in reversed(range(levels)):
            cin = widths[k]
            cout = widths[k - 1] if k > 0 else width
            ups.append(nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(1, cout),
                                     nn.GELU(), nn.Conv2d(cout, cout, 3, padding=1), nn.GELU()))
        self.ups = nn.ModuleList(ups)
        self.out = nn.Conv2d(width, 1, 3, padding=1)

    # ------------------------------------------------------------------ codes
    def _check(self, x: torch.Tensor) -> torch.Tensor:
        c, t = self.config["channels"], self.config["samples"]
        if x.ndim != 4 or x.shape[-2:] != (c, t):
            raise ValueError(f"expected gathers of shape (B, I, {c}, {t}), got "
                             f"{tuple(x.shape)}")
        return x

    def encode_coherent(self, x: torch.Tensor) -> torch.Tensor:
        """Coherent code ``(B, Dc)`` of each datapoint; symmetric in the I axis."""
        b, i, c, t = self._check(x).shape
        h = self.coh_trunk((x / self.scale).reshape(b * i, 1, c, t))
        h = h.reshape(b, i, *h.shape[1:]).mean(dim=1)      # symmetric pooling over instances
        return self.coh_head(self.coh_post(h))

    def encode_nuisance(self, x: torch.Tensor) -> torch.Tensor:
        """Nuisance code ``(B, I, Dn)`` of each instance (noise added in training)."""
        b, i, c, t = self._check(x).shape
        h = self.nui_trunk((x / self.scale).reshape(b * i, 1, c, t))
        z = self.nui_head(h).reshape(b, i, -1)
        p = self.config["nuisance_dropout"]
        if self.training and p > 0:
            z = z * (1 + math.sqrt(p / (1 - p)) * torch.randn_like(z))
        return z

    def decode(self, coherent: torch.Tensor, nuisance: torch.Tensor) -> torch.Tensor:
        """Gathers ``(B, I, C, T)`` from coherent ``(B, Dc)`` and nuisance ``(B, I, Dn)``.

        Swapping codes here is redatuming: the coherent code of one datapoint with the
        nuisance codes of another's instances.
        """
        b, i, _ = nuisance.shape
        if coherent.shape[0] != b:
            raise ValueError(f"coherent codes for {coherent.shape[0]} datapoints, nuisance "
                             f"codes for {b}")
        z = torch.cat([coherent[:, None, :].expand(b, i, -1), nuisance], dim=-1)
        h = self.dec_in(z.reshape(b * i, -1)).reshape(b * i, *self._dec_shape)
        shapes = self.coh_trunk.shapes
        for k, up in enumerate(self.ups):
            h = F.interpolate(h, size=shapes[-2 - k], mode="bilinear", align_corners=False)
            h = up(h)
        y = self.out(h) * self.scale
        c, t = self.config["channels"], self.config["samples"]
        return y.reshape(b, i, c, t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``x`` ``(B, I, C, T)`` from its own codes."""
        return self.decode(self.encode_coherent(x), self.encode_nuisance(x))

    # ------------------------------------------------------------------ save/load
    def export(self) -> dict[str, Any]:
        """Everything needed to rebuild the model without Lightning (plain types)."""
        return {"format": _FORMAT, "format_version": _FORMAT_VERSION,
                "config": dict(self.config), "schema": dict(self.schema),
                "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()}}

    def save(self, path: str | Path) -> Path:
        """Save weights, constructor arguments, normalisation and schema (atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            torch.save(self.export(), tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def from_export(cls, blob: dict[str, Any], source: str = "<memory>") -> SymAE:
        if not isinstance(blob, dict) or blob.get("format") != _FORMAT:
            raise ModelFileError(f"{source}: not a symae-seis model (no '{_FORMAT}' record)")
        if blob.get("format_version") != _FORMAT_VERSION:
            raise ModelFileError(f"{source}: model format version {blob.get('format_version')}"
                                 f" is not {_FORMAT_VERSION}")
        cfg = dict(blob["config"])
        model = cls(cfg.pop("channels"), cfg.pop("samples"), schema=blob.get("schema"), **cfg)
        try:
            model.load_state_dict(blob["state_dict"])
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise ModelFileError(f"{source}: weights do not fit the model they declare: "
                                 f"{first}") from None
        return model

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> SymAE:
        """Load a model saved by :meth:`save`, or from a training checkpoint (``.ckpt``).

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        ModelFileError
            If it is truncated, corrupt, or holds another kind of model.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model file {path} does not exist")
        try:
            blob = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as err:  # noqa: BLE001 - torch raises many types for bad files
            raise ModelFileError(f"{path}: not a readable model file (truncated or corrupt?): "
                                 f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
                                 ) from None
        if isinstance(blob, dict) and "symae" in blob:      # Lightning checkpoint
            blob = blob["symae"]
        model = cls.from_export(blob, str(path))
        model.eval()
        return model

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def check_permutation_invariance(model: SymAE, x: torch.Tensor, *, trials: int = 3,
                                 atol: float = 1e-5, raise_error: bool = True) -> float:
    """Largest change of the coherent code under random permutations of the I axis.

    Runs in eval mode (no nuisance noise), in the model's dtype. Returns the maximum
    absolute difference, relative to the code's RMS; raises ``AssertionError`` above
    ``atol`` when ``raise_error``.
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
        raise AssertionError(f"coherent code changes by {worst:.3g} (relative) under "
                             f"permutation of instances; tolerance {atol:g}")
    return worst


def check_save_load(model: SymAE, path: str | Path, x: torch.Tensor, *,
                    raise_error: bool = True) -> float:
    """Save, reload and compare outputs on ``x`` (eval mode). Returns max abs difference."""
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
        raise AssertionError(f"reloaded model differs from the original by {diff:.3g}")
    return diff
