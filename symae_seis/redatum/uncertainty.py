"""Uncertainty of the virtual gathers (``symae-redatum --uncertainty N``): the spread of
the coherent part over bootstrap bags of a datapoint's instances, and the model's own
error, the recorded gathers' local misfit to their reconstruction."""

from __future__ import annotations

import numpy as np
import torch

from ..io.store import StoreReader
from ..models import SymAE
from .codes import known_geometry

__all__ = ["MISFIT_WINDOW", "model_error_var", "Bootstrap"]


#: Window (channels, samples) over which the recorded gather's misfit to its own
#: reconstruction is averaged into the model-error variance of ``virtual_std`` (about one
#: wavelet long, one trace either side).
MISFIT_WINDOW = (3, 9)


def model_error_var(
    recorded: np.ndarray,
    recon: np.ndarray,
    live: np.ndarray,
    window: tuple[int, int] = MISFIT_WINDOW,
) -> np.ndarray:
    """Local variance of the model's own error ``(N, C, T)``: the squared misfit between
    recorded gathers and their reconstructions, averaged over a ``window`` of (channels,
    samples). Dead traces (no recording to compare with) take the mean over the gather's
    live traces at each time."""
    from scipy.ndimage import uniform_filter

    r2 = (recorded.astype(np.float64) - recon) ** 2
    dead = ~live.astype(bool)
    n_live = np.maximum(live.sum(axis=1), 1)[:, None]
    fill = np.where(dead[..., None], 0.0, r2).sum(axis=1) / n_live  # (N, T)
    r2 = np.where(dead[..., None], fill[:, None, :], r2)
    return uniform_filter(r2, size=(1, *window), mode="nearest")


class Bootstrap:
    """Coherent parts of bootstrap bags (instances drawn with replacement), per datapoint,
    cached for the datapoints of the current batch only (memory stays one batch's)."""

    def __init__(
        self,
        model: SymAE,
        reader: StoreReader,
        codes,
        n: int,
        seed: int,
        device: torch.device,
    ):
        self.model, self.reader, self.codes, self.n = model, reader, codes, n
        self.seed, self.dev = seed, device
        self.cache: dict[int, torch.Tensor] = {}

    def _draws(self, d: int) -> torch.Tensor:
        if d not in self.cache:
            if len(self.cache) > 256:
                self.cache.clear()
            rows = self.reader.members[d]
            x = torch.from_numpy(self.reader.read(rows)).to(self.dev)
            if self.codes.nuisance is not None:
                z = torch.from_numpy(self.codes.nuisance_of(rows)).to(self.dev)
            else:
                geo = known_geometry(self.model, self.reader, rows, self.dev)
                z = self.model.encode_nuisance(x[None], noise=False, geometry=geo)[0]
            rng = np.random.default_rng([self.seed, d])
            pick = torch.from_numpy(rng.integers(0, len(rows), (self.n, len(rows))))
            pick = pick.to(self.dev)
            self.cache[d] = self.model.pool(x[pick], z[pick])
        return self.cache[d]

    def __call__(self, datapoints: np.ndarray, k: int) -> torch.Tensor:
        return torch.stack([self._draws(int(d))[k] for d in datapoints])
