"""The two decoders of :class:`~symae_seis.models.SymAE`, behind one interface.

Both turn a bag of instances into the coherent representation of its datapoint
(:meth:`Decoder.coherent`, symmetric in the bag's instances) and decode a coherent
representation with nuisance codes (:meth:`Decoder.decode`); swapping codes between
the two calls is redatuming.

* :class:`FilterDecoder` (default for seismic gathers): the nuisance code goes through a
  small MLP to the parameters of a per-instance physical filter (smooth log-amplitude
  spectrum, constant phase, bulk static and gain, per-trace static and gain; see
  :mod:`symae_seis.models.filters`). The coherent representation of a datapoint is its
  **coherent gather** ``(B, C, L)`` (the record and ``coherent_pad`` samples below it):
  the bag pooled through its instances' filters (:mod:`symae_seis.models.pooling`), then
  refined by a small convolutional network (zero at initialisation). Decoding applies an
  instance's filter to a coherent gather by zero-padded FFT. Nothing but the filter's few
  parameters can pass from an instance to its reconstruction, which keeps the earth out
  of the nuisance code by construction.
* :class:`GenericDecoder` (the authors' recipe): ``(Dc + Dn)`` -> MLP -> feature maps ->
  upsampling convolutions -> ``(C, T)`` per instance, for nuisances outside the filter
  family (additive noise, illumination changes). Its coherent code is a vector
  ``(B, Dc)`` from a per-instance trunk averaged over the bag on the feature maps.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from . import filters
from .encoders import Trunk, code_head
from .pooling import canonical, instance_earth, mean_pool, wiener_pool
from .warp import WarpField, warp

__all__ = ["Decoder", "FilterDecoder", "GenericDecoder", "build_decoder"]


class Decoder(nn.Module):
    """What every decoder offers the model.

    Attributes
    ----------
    structured
        Whether the decoder is the filter family (filter parameters, code fitting).
    needs_nuisance
        Whether :meth:`coherent` reads the bag's own nuisance codes.
    """

    structured = False
    needs_nuisance = False

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.cfg = cfg

    @property
    def coherent_shape(self) -> tuple[int, ...]:
        """Shape of one datapoint's coherent representation."""
        raise NotImplementedError

    def coherent(
        self, x: torch.Tensor, nuisance: torch.Tensor | None, scale: torch.Tensor
    ) -> torch.Tensor:
        """Coherent representation of bags ``x (B, I, C, T)`` whose noise-free nuisance
        codes are ``nuisance (B, I, Dn)`` (read only where :attr:`needs_nuisance`)."""
        raise NotImplementedError

    def decode(
        self, coherent: torch.Tensor, nuisance: torch.Tensor, scale: torch.Tensor
    ) -> torch.Tensor:
        """Gathers ``(B, I, C, T)`` from coherent representations and nuisance codes."""
        raise NotImplementedError


class FilterDecoder(Decoder):
    """Coherent gathers seen through per-instance physical filters (module docstring)."""

    structured = True
    needs_nuisance = True

    def __init__(self, cfg: dict[str, Any], code_dim: int):
        super().__init__(cfg)
        c, width, hidden, terms = cfg["channels"], cfg["width"], cfg["hidden"], cfg["filter_terms"]
        self.support = cfg["samples"] + cfg["coherent_pad"]
        self.trace_channels = c if cfg["trace_terms"] else 0
        #: Known geometry coordinates at the end of each nuisance code (geometry_terms).
        self.geometry = int(bool(cfg.get("geometry_terms", False)))
        #: Learned coordinates of each instance along the coherent part's extra gathers
        #: (coherent_terms): a first-order expansion in a nuisance the filters do not
        #: express (a water-velocity change moves each event by its own water path).
        self.learned = int(cfg.get("coherent_terms", 0))
        self.training_pool = False  # SymAE.training_pool(): evaluate as in training
        #: A time warp per instance along one learned field (warp_terms): a water-velocity
        #: change moves each event by its own water path.
        self.warp = (
            WarpField(c, self.support, cfg["nuisance_dim"], hidden)
            if cfg.get("warp_terms", False)
            else None
        )
        n_out = filters.n_params(terms, cfg["filter_shift"], self.trace_channels)
        d = cfg["nuisance_dim"]
        if cfg["nuisance_split"]:  # per-trace terms from the window's code
            n_out -= 2 * self.trace_channels
            self.trace_head = nn.Sequential(
                nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, 2 * self.trace_channels)
            )
            nn.init.zeros_(self.trace_head[-1].weight)
            nn.init.zeros_(self.trace_head[-1].bias)
        self.filter_head = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, n_out))
        if self.learned:  # not zero at initialisation: a zero coordinate has no gradient
            self.term_head = nn.Sequential(
                nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, self.learned)
            )
            with torch.no_grad():
                self.term_head[-1].weight.mul_(0.1)
                self.term_head[-1].bias.zero_()
        if cfg["filter_shift"]:
            self.shift_field = nn.Parameter(filters.shift_field(c, self.support + 1))
        nn.init.zeros_(self.filter_head[-1].weight)  # identity filters at initialisation
        nn.init.zeros_(self.filter_head[-1].bias)
        if not cfg["time_terms"]:  # not saved: follows from config
            self.register_buffer(
                "time_mask",
                filters.time_mask(terms, cfg["filter_shift"], self.trace_channels),
                persistent=False,
            )
        self.refine = nn.Sequential(
            nn.Conv2d(2, width, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(width, 1, 3, padding=1),
        )
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)

    @property
    def coherent_shape(self) -> tuple[int, ...]:
        c, n = self.cfg["channels"], self.support
        k = self.geometry + self.learned
        return (1 + k, c, n) if k else (c, n)

    def split(self, nuisance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The learned part of nuisance codes and their known geometry ``(..., 1)``
        (None without ``geometry_terms``)."""
        if not self.geometry:
            return nuisance, None
        return nuisance[..., : -self.geometry], nuisance[..., -self.geometry :]

    def basis(self, nuisance: torch.Tensor) -> torch.Tensor | None:
        """Coefficients ``(B, I, 1 + K)`` of the coherent gathers for each instance: 1,
        its known geometry (``geometry_terms``), its learned coordinates
        (``coherent_terms``, in (-1, 1)); None without either."""
        if not (self.geometry or self.learned):
            return None
        learned, geo = self.split(nuisance)
        if learned.dtype not in (torch.float32, torch.float64):
            learned = learned.float()
        parts = [torch.ones_like(learned[..., :1])]
        if geo is not None:
            parts.append(geo.to(learned.dtype))
        if self.learned:
            with torch.autocast(learned.device.type, enabled=False):
                d = self.cfg["nuisance_dim"]
                parts.append(torch.tanh(self.term_head(learned[..., :d])))
        return torch.cat(parts, dim=-1)

    def warp_coordinate(self, nuisance: torch.Tensor) -> torch.Tensor | None:
        """Each instance's coordinate ``e (...)`` along the warp field (``warp_terms``),
        else None; always in full precision."""
        if self.warp is None:
            return None
        learned, _ = self.split(nuisance)
        if learned.dtype not in (torch.float32, torch.float64):
            learned = learned.float()
        with torch.autocast(learned.device.type, enabled=False):
            return self.warp.coordinate(learned[..., : self.cfg["nuisance_dim"]])

    def shift(self, nuisance: torch.Tensor, samples: int) -> torch.Tensor | None:
        """Each instance's warp ``(..., C, samples)`` in samples (``warp_terms``), else
        None."""
        e = self.warp_coordinate(nuisance)
        return None if e is None else e[..., None, None] * self.warp.shift_unit(samples)

    # -------------------------------------------------------------- filter parameters
    def params(self, nuisance: torch.Tensor) -> torch.Tensor:
        """Filter parameters ``(..., P)`` of nuisance codes ``(..., Dn)``, always in full
        precision (a static read to bf16's 3 digits would move the virtual gather by
        hundredths of a sample; these MLPs are a negligible share of a step)."""
        nuisance, _ = self.split(nuisance)
        if nuisance.dtype not in (torch.float32, torch.float64):
            nuisance = nuisance.float()
        with torch.autocast(nuisance.device.type, enabled=False):
            if self.cfg["nuisance_split"]:
                d = self.cfg["nuisance_dim"]
                g = self.filter_head(nuisance[..., :d])
                at = filters.trace_slice(self.cfg["filter_terms"], self.trace_channels).start
                theta = torch.cat(
                    [g[..., :at], self.trace_head(nuisance[..., d:]), g[..., at:]], dim=-1
                )
            else:
                theta = self.filter_head(nuisance)
            if not self.cfg["time_terms"]:
                theta = theta * self.time_mask.to(theta.dtype)
            return theta

    def response(
        self, nuisance: torch.Tensor, inverse: bool = False, samples: int | None = None
    ) -> torch.Tensor:
        """Complex responses ``(..., C, samples + 1)`` of the instances' filters."""
        t = self.cfg["samples"] if samples is None else samples
        return filters.response(
            self.params(nuisance),
            self.cfg["channels"],
            t,
            self.cfg["filter_terms"],
            inverse=inverse,
            trace=self.cfg["trace_terms"],
            min_phase=self.cfg.get("min_phase", False),
        )

    def trace_params(self, theta: torch.Tensor) -> torch.Tensor | None:
        """Per-trace statics and gains ``(..., 2 C)`` of filter parameters (``trace_terms``),
        else None."""
        if not self.trace_channels:
            return None
        return theta[..., filters.trace_slice(self.cfg["filter_terms"], self.trace_channels)]

    @property
    def field(self) -> torch.Tensor | None:
        """Learned phase field of the channel shift (``filter_shift``), else None."""
        return self.shift_field if self.cfg["filter_shift"] else None

    def sigma(self, nuisance: torch.Tensor) -> torch.Tensor | None:
        """Channel shift ``(B, I)`` of each instance (``filter_shift``), else None."""
        return self.params(nuisance)[..., -1] if self.cfg["filter_shift"] else None

    # -------------------------------------------------------------- pooling, decoding
    def solver(self) -> tuple[int, float]:
        """Conjugate-gradient steps and damping of the least-squares pooling: the training
        values in training (or inside ``SymAE.training_pool``), the ``eval_pool_*`` ones
        in evaluation."""
        c = self.cfg
        if not self.training and not self.training_pool:
            return c["eval_pool_iters"], c["eval_pool_eps"]
        return c["pool_iters"], c["pool_eps"]

    def coherent(
        self, x: torch.Tensor, nuisance: torch.Tensor | None, scale: torch.Tensor
    ) -> torch.Tensor:
        x, nuisance = canonical(x, nuisance)
        shift = self.shift(nuisance, x.shape[-1])
        if shift is not None:  # each instance's events back where the field puts them
            x = warp(x if x.dtype == torch.float64 else x.float(), -shift)
        if self.cfg["pool"] == "mean":
            mean, spread = mean_pool(x, self.response(nuisance, inverse=True))
        else:
            iters, eps = self.solver()
            mean, spread = wiener_pool(
                x if x.dtype == torch.float64 else x.float(),
                self.response(nuisance, samples=self.support),
                iters=iters,
                eps=eps,
                sigma=self.sigma(nuisance),
                field=self.field,
                basis=self.basis(nuisance),
                robust=self.cfg.get("robust", False),
            )
        extra = self.geometry + self.learned
        if extra:  # the earth (at the bin's centre), then its geometry and learned terms
            mean, rest = mean[:, 0], mean[:, 1:]
        feats = torch.stack([mean, spread], dim=1) / scale  # (B, 2, C, L)
        mean = mean + self.refine(feats)[:, 0] * scale
        return torch.cat([mean[:, None], rest], dim=1) if extra else mean

    def decode(
        self, coherent: torch.Tensor, nuisance: torch.Tensor, scale: torch.Tensor
    ) -> torch.Tensor:
        shape = self.coherent_shape
        if tuple(coherent.shape[1:]) != shape:
            raise ValueError(
                f"the filter decoder takes coherent gathers (B, {', '.join(map(str, shape))}), "
                f"got {tuple(coherent.shape)}"
            )
        n = shape[-1]
        basis = self.basis(nuisance)
        if basis is None:
            earth = instance_earth(None, coherent)
        else:  # each instance's earth where it was fired, in full precision
            with torch.autocast(coherent.device.type, enabled=False):
                coherent = coherent if coherent.dtype == torch.float64 else coherent.float()
                earth = instance_earth(basis, coherent)
        shift = self.shift(nuisance, n)
        if shift is not None:
            earth = warp(earth if earth.dtype == torch.float64 else earth.float(), shift)
        return filters.apply(
            earth, self.response(nuisance, samples=n), self.sigma(nuisance), self.field
        )[..., : self.cfg["samples"]]


class GenericDecoder(Decoder):
    """A learned decoder of (coherent code, nuisance code) (module docstring)."""

    def __init__(self, cfg: dict[str, Any], code_dim: int):
        super().__init__(cfg)
        c, t, width, levels, hidden = (
            cfg[k] for k in ("channels", "samples", "width", "levels", "hidden")
        )
        self.coh_trunk = Trunk(c, t, width, levels, cfg["time_fold"])
        feat = self.coh_trunk.out_features
        c_out, t_out = self.coh_trunk.shapes[-1]
        self.coh_post = nn.Sequential(nn.Conv2d(feat, feat, 3, padding=1), nn.GELU())
        self.coh_head = code_head(self.coh_trunk, hidden, cfg["coherent_dim"])
        self.dec_in = nn.Sequential(
            nn.Linear(cfg["coherent_dim"] + code_dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, feat * c_out * t_out),
            nn.GELU(),
        )
        self._dec_shape = (feat, c_out, t_out)
        ups = []
        widths = [width * 2 ** min(k, 2) for k in range(levels)]
        for k in reversed(range(levels)):
            cin = widths[k]
            cout = widths[k - 1] if k > 0 else width
            ups.append(
                nn.Sequential(
                    nn.Conv2d(cin, cout, 3, padding=1),
                    nn.GroupNorm(1, cout),
                    nn.GELU(),
                    nn.Conv2d(cout, cout, 3, padding=1),
                    nn.GELU(),
                )
            )
        self.ups = nn.ModuleList(ups)
        self.out = nn.Conv2d(width, 1, 3, padding=1)

    @property
    def coherent_shape(self) -> tuple[int, ...]:
        return (self.cfg["coherent_dim"],)

    def coherent(
        self, x: torch.Tensor, nuisance: torch.Tensor | None, scale: torch.Tensor
    ) -> torch.Tensor:
        b, i, c, t = x.shape
        h = self.coh_trunk((x / scale).reshape(b * i, 1, c, t))
        h = h.reshape(b, i, *h.shape[1:]).mean(dim=1)  # symmetric pooling over instances
        return self.coh_head(self.coh_post(h))

    def decode(
        self, coherent: torch.Tensor, nuisance: torch.Tensor, scale: torch.Tensor
    ) -> torch.Tensor:
        b, i, _ = nuisance.shape
        z = torch.cat([coherent[:, None, :].expand(b, i, -1), nuisance], dim=-1)
        h = self.dec_in(z.reshape(b * i, -1)).reshape(b * i, *self._dec_shape)
        shapes = self.coh_trunk.shapes
        for k, up in enumerate(self.ups):
            h = F.interpolate(h, size=shapes[-2 - k], mode="bilinear", align_corners=False)
            h = up(h)
        y = self.out(h) * scale
        return y.reshape(b, i, self.cfg["channels"], self.cfg["samples"])


def build_decoder(cfg: dict[str, Any], code_dim: int) -> Decoder:
    """The decoder a resolved model description names."""
    return {"filter": FilterDecoder, "generic": GenericDecoder}[cfg["decoder"]](cfg, code_dim)
