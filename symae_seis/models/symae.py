"""SymAE: symmetric autoencoder for gathers, as a plain ``torch.nn.Module``.

Input ``x`` is ``(B, I, C, T)``: B datapoints, I instances (gathers) each, C channels,
T samples, in the data's own units. Internally gathers are divided by ``scale`` (the
store's RMS), so codes and the loss live on a unit scale and outputs come back in the
input's units.

The model is three parts, each in its own module:

* the nuisance encoder (:mod:`~symae_seis.models.encoders`): a 2-D convolutional trunk
  over (channel, time) per instance and an MLP -> ``(B, I, Dn)``. During training the
  code gets multiplicative Gaussian noise (Gaussian dropout of rate ``p``:
  ``z * (1 + sqrt(p / (1 - p)) * N(0, 1))``), the bottleneck of the authors' recipe;
* the decoder (:mod:`~symae_seis.models.decoders`), which also pools a bag into its
  datapoint's coherent representation, symmetric in the bag's instances (any I >= 1):
  a coherent gather seen through per-instance physical filters (``"filter"``, default)
  or a learned decoder of two codes (``"generic"``);
* the options (:class:`~symae_seis.models.SymAEConfig`), one default each.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import serialization
from .config import SymAEConfig
from .decoders import build_decoder
from .encoders import NuisanceEncoder
from .pooling import canonical
from .serialization import ModelFileError

__all__ = ["SymAE", "ModelFileError"]


class SymAE(nn.Module):
    """Symmetric autoencoder for seismic gathers.

    Parameters
    ----------
    channels, samples
        Gather size ``(C, T)`` the model is built for.
    config
        The model's options (:class:`~symae_seis.models.SymAEConfig`; default: its
        defaults).
    scale
        Data scale (RMS of the store); gathers are divided by it inside.
    schema
        Description of the store the model is trained on (saved, checked by redatum; it
        decides the auto options).
    **options
        Options of :class:`~symae_seis.models.SymAEConfig` that replace the config's.

    Raises
    ------
    OptionError
        If an option is out of range or does not fit the gathers.

    Examples
    --------
    >>> m = SymAE(24, 128, width=8)
    >>> x = torch.randn(2, 5, 24, 128)
    >>> m(x).shape
    torch.Size([2, 5, 24, 128])
    """

    def __init__(
        self,
        channels: int,
        samples: int,
        config: SymAEConfig | None = None,
        *,
        scale: float = 1.0,
        schema: dict[str, Any] | None = None,
        **options: Any,
    ):
        super().__init__()
        cfg = (config or SymAEConfig()).replace(**options) if options else (config or SymAEConfig())
        self.options = cfg
        #: The resolved description (auto options filled in): what a model file saves.
        self.config = cfg.resolve(channels, samples, scale=scale, schema=schema)
        self.schema = dict(schema or {})
        self.register_buffer("scale", torch.tensor(float(scale)))
        self.nuisance = NuisanceEncoder(self.config)
        self.decoder = build_decoder(self.config, self.code_dim)

    # ------------------------------------------------------------------ properties
    @property
    def code_dim(self) -> int:
        """Size of one instance's nuisance code (twice ``nuisance_dim`` when split), its
        known geometry included (:attr:`geometry_dim`)."""
        learned = self.config["nuisance_dim"] * (2 if self.config["nuisance_split"] else 1)
        return learned + self.geometry_dim

    @property
    def geometry_dim(self) -> int:
        """Known geometry coordinates at the end of each nuisance code (``geometry_terms``:
        the shot's position in its bin), 0 without."""
        return int(bool(self.config.get("geometry_terms", False)))

    @property
    def is_filter(self) -> bool:
        """Whether the decoder is the filter family (filter parameters, code fitting)."""
        return self.decoder.structured

    @property
    def coherent_shape(self) -> tuple[int, ...]:
        """Shape of one datapoint's coherent representation."""
        return self.decoder.coherent_shape

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        c, t = self.config["channels"], self.config["samples"]
        if x.ndim != 4 or x.shape[-2:] != (c, t):
            raise ValueError(f"expected gathers of shape (B, I, {c}, {t}), got {tuple(x.shape)}")
        return x

    # ------------------------------------------------------------------ codes
    def encode_nuisance(
        self, x: torch.Tensor, *, noise: bool = True, geometry: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Nuisance code ``(B, I, Dn)`` of each instance; in training the Gaussian
        dropout noise is added unless ``noise`` is false. A model with ``geometry_terms``
        appends each instance's known geometry ``(B, I, 1)`` (its position in its bin,
        :meth:`~symae_seis.io.store.StoreReader.geometry`), which it needs."""
        z = self.nuisance(self._check(x), self.scale)
        z = self._noisy(z) if noise else z
        if not self.geometry_dim:
            return z
        if geometry is None or tuple(geometry.shape) != (*z.shape[:-1], self.geometry_dim):
            got = None if geometry is None else tuple(geometry.shape)
            raise ValueError(
                f"this model reads each shot's position in its bin (geometry_terms): pass "
                f"geometry of shape {(*z.shape[:-1], self.geometry_dim)}, got {got}"
            )
        return torch.cat([z, geometry.to(z.dtype)], dim=-1)

    def _noisy(self, z: torch.Tensor) -> torch.Tensor:
        p = self.config["nuisance_dropout"]
        if self.training and p > 0:
            z = z * (1 + math.sqrt(p / (1 - p)) * torch.randn_like(z))
        return z

    def pool(
        self,
        x: torch.Tensor,
        nuisance: torch.Tensor | None = None,
        geometry: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Coherent representation of bags ``x (B, I, C, T)`` whose noise-free nuisance
        codes ``(B, I, Dn)`` are known (the filter decoder pools through their filters;
        the generic one does not read them). Symmetric in the I axis."""
        if nuisance is None and self.decoder.needs_nuisance:
            if geometry is None:
                (x,) = canonical(self._check(x))  # the codes, too, from one order of the bag
            else:
                x, geometry = canonical(self._check(x), geometry)
            nuisance = self.encode_nuisance(x, noise=False, geometry=geometry)
        return self.decoder.coherent(x, nuisance, self.scale)

    def encode(
        self, x: torch.Tensor, bag: int | None = None, geometry: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Coherent part pooled over the first ``bag`` instances (default all) and the
        nuisance codes of every instance, encoding each instance once."""
        k = x.shape[1] if bag is None else int(bag)
        z = self.encode_nuisance(x, noise=False, geometry=geometry)
        if not self.geometry_dim:
            return self.pool(x[:, :k], z[:, :k]), self._noisy(z)
        d = z.shape[-1] - self.geometry_dim  # the known geometry gets no dropout noise
        noisy = torch.cat([self._noisy(z[..., :d]), z[..., d:]], dim=-1)
        return self.pool(x[:, :k], z[:, :k]), noisy

    def encode_coherent(
        self, x: torch.Tensor, geometry: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Coherent representation of each datapoint, symmetric in the I axis: the
        coherent gather ``(B, C, L)`` in the data's units (filter decoder; ``(B, 2, C,
        L)`` with ``geometry_terms``) or the coherent code ``(B, Dc)`` (generic decoder)."""
        return self.pool(self._check(x), geometry=geometry)

    def decode(self, coherent: torch.Tensor, nuisance: torch.Tensor) -> torch.Tensor:
        """Gathers ``(B, I, C, T)`` from coherent representations and nuisance codes
        ``(B, I, Dn)``. Swapping codes here is redatuming: the coherent representation of
        one datapoint with the nuisance codes of another's instances."""
        if coherent.shape[0] != nuisance.shape[0]:
            raise ValueError(
                f"coherent codes for {coherent.shape[0]} datapoints, nuisance "
                f"codes for {nuisance.shape[0]}"
            )
        return self.decoder.decode(coherent, nuisance, self.scale)

    def forward(
        self, x: torch.Tensor, bag: int | None = None, geometry: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Reconstruct ``x`` ``(B, I, C, T)`` from its own codes; the coherent part is
        pooled over the first ``bag`` instances (default all)."""
        return self.decode(*self.encode(x, bag, geometry))

    # ------------------------------------------------------------------ filter decoder
    def _filter(self):
        if not self.decoder.structured:
            raise ValueError("filter_params needs a model with decoder='filter'")
        return self.decoder

    def filter_params(self, nuisance: torch.Tensor) -> torch.Tensor:
        """Filter parameters ``(..., P)`` of nuisance codes ``(..., Dn)`` (filter decoder;
        layout in :mod:`symae_seis.models.filters`), in full precision."""
        return self._filter().params(nuisance)

    def filter_response(
        self, nuisance: torch.Tensor, inverse: bool = False, samples: int | None = None
    ) -> torch.Tensor:
        """Complex responses ``(..., C, F)`` of the instances' filters (filter decoder)."""
        return self._filter().response(nuisance, inverse, samples)

    def trace_params(self, theta: torch.Tensor) -> torch.Tensor | None:
        """Per-trace statics and gains ``(..., 2 C)`` of filter parameters ``theta``
        (``trace_terms``), else None."""
        return self._filter().trace_params(theta)

    @contextlib.contextmanager
    def training_pool(self):
        """Pool with the training's solver settings in evaluation mode too (validation:
        a cheap monitoring signal on the training loss's footing)."""
        dec = self.decoder
        before = getattr(dec, "training_pool", False)
        dec.training_pool = True
        try:
            yield self
        finally:
            dec.training_pool = before

    # ------------------------------------------------------------------ save/load
    def export(self) -> dict[str, Any]:
        """Everything needed to rebuild the model without Lightning (plain types)."""
        return serialization.export(self)

    def save(self, path: str | Path) -> Path:
        """Save weights, the model description, normalisation and schema (atomically)."""
        return serialization.save(self, path)

    @classmethod
    def from_export(cls, blob: dict[str, Any], source: str = "<memory>") -> SymAE:
        """Rebuild a model from :meth:`export`'s record (any format version)."""
        blob = serialization.check_blob(blob, source)
        config, data = SymAEConfig.from_saved(blob["config"])
        model = cls(
            data.pop("channels"), data.pop("samples"), config, schema=blob.get("schema"), **data
        )
        try:
            model.load_state_dict(blob["state_dict"])
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise ModelFileError(
                f"{source}: weights do not fit the model they declare: {first}"
            ) from None
        return model

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> SymAE:
        """Load a model saved by :meth:`save`, or from a training checkpoint (``.ckpt``),
        in evaluation mode.

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        ModelFileError
            If it is truncated, corrupt, or holds another kind of model.
        """
        model = cls.from_export(serialization.read_blob(path, map_location), str(path))
        model.source_path = Path(path)  # where it was read from (outputs' provenance)
        model.eval()
        return model
