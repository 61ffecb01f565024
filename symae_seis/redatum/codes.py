"""Latent codes of a store's instances and datapoints, batched, on one device."""

from __future__ import annotations

import numpy as np
import torch

from ..io.store import StoreReader
from ..models import SymAE

__all__ = ["resolve_device", "coherent_codes", "nuisance_codes", "refined_codes"]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"``: the GPU when there is one, else the CPU."""
    if isinstance(device, torch.device):
        return device
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.no_grad()
def coherent_codes(model: SymAE, reader: StoreReader, datapoints: np.ndarray, *,
                   max_instances: int | None = None, device: str | None = None,
                   progress: bool = False) -> np.ndarray:
    """Coherent representation of each datapoint, pooled over its instances (all of
    them, or the first ``max_instances``): ``(len(datapoints), C, T)`` coherent gathers
    for the filter decoder, ``(len(datapoints), Dc)`` codes for the generic one."""
    from tqdm.auto import tqdm

    dev = resolve_device(device)
    model = model.to(dev).eval()
    out = np.zeros((len(datapoints), *model.coherent_shape), dtype=np.float32)
    for k, d in enumerate(tqdm(datapoints, desc="coherent codes", unit="dp",
                               disable=not progress)):
        rows = reader.members[int(d)]
        if max_instances:
            rows = rows[:max_instances]
        x = torch.from_numpy(reader.read(rows))[None].to(dev)
        out[k] = model.encode_coherent(x)[0].float().cpu().numpy()
    return out


@torch.no_grad()
def nuisance_codes(model: SymAE, reader: StoreReader, rows: np.ndarray, *,
                   batch_size: int = 64, device: str | None = None,
                   progress: bool = False) -> np.ndarray:
    """Nuisance code ``(len(rows), Dn)`` of each instance (eval mode: no noise)."""
    from tqdm.auto import tqdm

    dev = resolve_device(device)
    model = model.to(dev).eval()
    out = np.zeros((len(rows), model.config["nuisance_dim"]), dtype=np.float32)
    for a in tqdm(range(0, len(rows), batch_size), desc="nuisance codes", unit="batch",
                  disable=not progress):
        x = torch.from_numpy(reader.read(rows[a:a + batch_size]))[None].to(dev)
        out[a:a + batch_size] = model.encode_nuisance(x)[0].float().cpu().numpy()
    return out


def refined_codes(model: SymAE, reader: StoreReader, datapoints: np.ndarray, *,
                  steps: int, rounds: int = 2, device: str | None = None,
                  progress: bool = False) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Coherent representations of ``datapoints`` and nuisance codes of all their
    instances, the encoder's codes refined by fitting every instance to its own gather
    (:func:`symae_seis.prior.refine_codes`, ``rounds`` x ``steps`` Adam steps).

    Returns ``(coherent (len(datapoints), ...), {store row: nuisance code})``.
    """
    from tqdm.auto import tqdm

    from ..prior import refine_codes

    dev = resolve_device(device)
    model = model.to(dev).eval()
    coh = np.zeros((len(datapoints), *model.coherent_shape), dtype=np.float32)
    nui: dict[int, np.ndarray] = {}
    for k, d in enumerate(tqdm(datapoints, desc="fit codes", unit="dp",
                               disable=not progress)):
        rows = reader.members[int(d)]
        x = torch.from_numpy(reader.read(rows))[None].to(dev)
        g, z = refine_codes(model, x, rounds=rounds, steps=steps)
        coh[k] = g[0].float().cpu().numpy()
        for r, code in zip(rows.tolist(), z[0].float().cpu().numpy()):
            nui[r] = code
    return coh, nui
