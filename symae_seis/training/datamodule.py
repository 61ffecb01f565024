"""Lightning DataModule over an instance store: datapoints -> batches ``(B, I, C, T)``."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..catalog import load_catalog
from ..io.store import StoreReader, ensure_store, store_is_fresh, store_schema

__all__ = ["SymAEDataModule", "DatapointDataset", "EpochSampler", "InstancesError"]

log = logging.getLogger(__name__)


class InstancesError(ValueError):
    """A datapoint has fewer instances than a batch asks for."""


class DatapointDataset(Dataset):
    """Item ``k`` is datapoint ``datapoints[k % D]``: I of its instances, ``(I, C, T)``.

    Indices at or above ``len(self)`` encode an epoch (``index = epoch * len + k``, as
    :class:`EpochSampler` yields them): the subset drawn for item ``k`` in epoch ``e`` is
    a function of ``(seed, e, k)`` alone, new every epoch, identical in a resumed run and
    independent of workers. Validation (``fixed=True``) draws the same subset every epoch.
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

    def rows(self, index: int) -> np.ndarray:
        epoch, k = divmod(int(index), len(self))
        d = int(self.datapoints[k % len(self.datapoints)])
        members = self.reader.members[d]
        key = [self.seed, k] if self.fixed else [self.seed, epoch, k, 1]
        pick = np.random.default_rng(key).permutation(len(members))[: self.instances]
        return members[pick]

    def __getitem__(self, index: int) -> torch.Tensor:
        rows = self.rows(index)
        x = self.data[rows] if self.data is not None else self.reader.read(rows)
        return torch.from_numpy(np.ascontiguousarray(x))


class EpochSampler(DistributedSampler):
    """Shuffles by ``(seed, epoch)`` and shards across DDP ranks (one rank without a
    process group); yields ``epoch * len(dataset) + k`` so the dataset knows the epoch.

    Lightning calls ``set_epoch`` every epoch, also on a resumed run, and leaves a
    ``DistributedSampler`` in place: each rank reads only its own share of datapoints.
    """

    def __init__(self, dataset: Dataset, *, seed: int = 0, shuffle: bool = True):
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            replicas, rank = dist.get_world_size(), dist.get_rank()
        else:
            replicas, rank = 1, 0
        super().__init__(dataset, num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed)

    def __iter__(self):
        n = len(self.dataset)
        return iter([self.epoch * n + int(i) for i in super().__iter__()])


def _wait_for_store(entry, timeout: float = 3600.0) -> None:
    """Non-zero ranks wait until rank 0 has built or refreshed the store."""
    t0 = time.monotonic()
    while not store_is_fresh(entry)[0]:
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"waited {timeout:.0f} s for rank 0 to build {entry.store}")
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
            _wait_for_store(entry)
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
        sampler = EpochSampler(ds, seed=self.hparams.seed, shuffle=train)
        return DataLoader(ds, batch_size=self.hparams.batch_size, sampler=sampler,
                          num_workers=self.hparams.num_workers, drop_last=False,
                          persistent_workers=False,
                          pin_memory=torch.cuda.is_available())

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_datapoints, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_datapoints, train=False)

    def state_dict(self) -> dict[str, Any]:
        return {"store": str(self.store_path), "schema": self.schema}
