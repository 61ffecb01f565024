"""Lightning DataModule over an instance store: datapoints -> batches ``(B, I, C, T)``."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..catalog import load_catalog
from ..io.store import StoreReader, ensure_store, store_schema

__all__ = ["SymAEDataModule", "DatapointDataset", "InstancesError"]

log = logging.getLogger(__name__)


class InstancesError(ValueError):
    """A datapoint has fewer instances than a batch asks for."""


class DatapointDataset(Dataset):
    """Item ``k`` is datapoint ``datapoints[k % len]``: I of its instances, ``(I, C, T)``.

    Training draws a new random subset every time (from torch's RNG, which Lightning
    seeds per worker; the LightningModule reseeds it at each epoch start so that a resumed
    run draws what an uninterrupted one would). Validation (``fixed=True``) draws the same
    subset every epoch.
    """

    def __init__(self, reader: StoreReader, datapoints: np.ndarray, instances: int, *,
                 repeats: int = 1, fixed: bool = False, data: np.ndarray | None = None,
                 seed: int = 0):
        self.reader = reader
        self.datapoints = np.asarray(datapoints)
        self.instances = instances
        self.repeats = repeats
        self.fixed = fixed
        self.data = data
        self.seed = seed

    def __len__(self) -> int:
        return len(self.datapoints) * self.repeats

    def rows(self, k: int) -> np.ndarray:
        d = int(self.datapoints[k % len(self.datapoints)])
        members = self.reader.members[d]
        if self.fixed:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + k)
            pick = torch.randperm(len(members), generator=g)[: self.instances]
        else:
            pick = torch.randperm(len(members))[: self.instances]
        return members[pick.numpy()]

    def __getitem__(self, k: int) -> torch.Tensor:
        rows = self.rows(k)
        x = self.data[rows] if self.data is not None else self.reader.read(rows)
        return torch.from_numpy(np.ascontiguousarray(x))


def _wait_for_store(path: Path, timeout: float = 3600.0) -> None:
    t0 = time.monotonic()
    while not path.exists():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"waited {timeout:.0f} s for rank 0 to build {path}")
        time.sleep(1.0)


class SymAEDataModule(pl.LightningDataModule):
    """Batches of datapoints from a catalog dataset's instance store.

    Parameters
    ----------
    dataset
        Name of the dataset in the catalog. Its store is built or refreshed when needed.
    catalog
        Path of ``data_catalog.yaml``.
    instances
        Instances drawn per datapoint (I); a fresh random subset each epoch.
    batch_size
        Datapoints per batch (B).
    repeats
        Times each training datapoint is drawn per epoch (with a new subset each time).
    val_fraction
        Fraction of datapoints (not instances) held out for validation.
    num_workers
        DataLoader worker processes (each opens the HDF5 store on its own).
    in_memory_mb
        Load the whole store into memory when it is at most this size (MB); larger
        stores are read instance by instance. 0 always streams.
    seed
        Seed of the train/validation split and of the validation draws.
    progress
        Show a progress bar while building the store.
    """

    def __init__(self, dataset: str = "demo4d", catalog: str = "data_catalog.yaml",
                 instances: int = 8, batch_size: int = 8, repeats: int = 4,
                 val_fraction: float = 0.2, num_workers: int = 0, in_memory_mb: float = 2048,
                 seed: int = 0, progress: bool = False):
        super().__init__()
        if instances < 1:
            raise ValueError(f"instances must be >= 1, got {instances}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.save_hyperparameters(ignore=["progress"])
        entry = load_catalog(catalog)[dataset]
        rank = int(os.environ.get("LOCAL_RANK", os.environ.get("SLURM_LOCALID", "0")))
        if rank == 0:
            self.store_path = ensure_store(entry, progress=progress)
        else:
            self.store_path = entry.store
            _wait_for_store(self.store_path)
        self.reader = StoreReader(self.store_path)
        counts = np.array([len(m) for m in self.reader.members])
        short = np.flatnonzero(counts < instances)
        if short.size:
            raise InstancesError(
                f"dataset {dataset!r}: {short.size} of {counts.size} datapoints have fewer "
                f"than instances={instances} instances (smallest: "
                f"{self.reader.datapoint_label(int(short[0]))} with {counts[short[0]]}); "
                f"lower --data.instances to at most {counts.min()}"
            )
        _, self.channels, self.samples = self.reader.shape
        self.scale = self.reader.rms
        self.schema = store_schema(self.store_path)
        n_dp = counts.size
        perm = np.random.default_rng(seed).permutation(n_dp)
        n_val = int(round(val_fraction * n_dp))
        if val_fraction > 0 and n_val == 0 and n_dp > 1:
            n_val = 1
        self.val_datapoints = np.sort(perm[:n_val])
        self.train_datapoints = np.sort(perm[n_val:])
        self._data: np.ndarray | None = None

    def setup(self, stage: str | None = None) -> None:
        nbytes = int(np.prod(self.reader.shape)) * 4
        if self._data is None and nbytes <= self.hparams.in_memory_mb * 1e6:
            self._data = self.reader.read_all()
            log.info("loaded store %s into memory (%.0f MB)", self.store_path, nbytes / 1e6)

    def _loader(self, datapoints: np.ndarray, train: bool) -> DataLoader:
        ds = DatapointDataset(self.reader, datapoints, self.hparams.instances,
                              repeats=self.hparams.repeats if train else 1, fixed=not train,
                              data=self._data, seed=self.hparams.seed)
        return DataLoader(ds, batch_size=self.hparams.batch_size, shuffle=train,
                          num_workers=self.hparams.num_workers, drop_last=False,
                          persistent_workers=False,
                          pin_memory=torch.cuda.is_available())

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_datapoints, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_datapoints, train=False)

    def state_dict(self) -> dict[str, Any]:
        return {"store": str(self.store_path), "schema": self.schema}
