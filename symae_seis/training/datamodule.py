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

from ..catalog import DesignWindowError, design_window_samples, load_catalog
from ..errors import OptionError, SymaeError
from ..ingest import ensure_store, store_is_fresh
from ..io.store import StoreError, StoreReader
from .bags import bag_rows, bag_size, hold_out

__all__ = [
    "SymAEDataModule",
    "DatapointDataset",
    "EpochSampler",
    "InstancesError",
    "partner_datapoints",
]

log = logging.getLogger(__name__)

#: Datapoint draws per training epoch when ``repeats`` is not given.
DRAWS_PER_EPOCH = 256


class InstancesError(SymaeError):
    """A datapoint has fewer instances than a batch asks for."""


class DatapointDataset(Dataset):
    """Item ``k`` is datapoint ``datapoints[k % D]``.

    Training items (``fixed=False``) are dicts: ``x`` = I instances of the datapoint
    ``(I, C, T)`` drawn from its training instances, ``partner`` = I instances of the
    datapoint with the same key in another survey (or a copy of ``x``) and
    ``has_partner``; with a ``geometry`` table, also ``geometry`` and
    ``partner_geometry`` ``(I, K)``. Validation items (``fixed=True``) are ``(I + H, C,
    T)``: the first I are a fixed bag of training instances, the last H the datapoint's
    held-out instances (with a ``geometry`` table, a dict of ``x`` and ``geometry``).

    Indices at or above ``len(self)`` encode an epoch (``index = epoch * len + k``, as
    :class:`EpochSampler` yields them): the draw for item ``k`` in epoch ``e`` is a
    function of ``(seed, e, k)`` alone, new every epoch, identical in a resumed run and
    independent of workers.
    """

    def __init__(
        self,
        reader: StoreReader,
        datapoints: np.ndarray,
        instances: int,
        *,
        train_members: list[np.ndarray],
        held_members: list[np.ndarray] | None = None,
        partners: list[np.ndarray] | None = None,
        repeats: int = 1,
        fixed: bool = False,
        data: np.ndarray | None = None,
        seed: int = 0,
        geometry: np.ndarray | None = None,
    ):
        self.reader = reader
        self.geometry = geometry  # (N, K) known geometry of every store row, or None
        self.datapoints = np.asarray(datapoints)
        self.instances = instances
        self.train_members = train_members
        self.held_members = held_members
        self.partners = partners
        self.repeats = repeats
        self.fixed = fixed
        self.data = data
        self.seed = seed

    def __len__(self) -> int:
        return len(self.datapoints) * self.repeats

    def _read(self, rows: np.ndarray) -> torch.Tensor:
        x = self.data[rows] if self.data is not None else self.reader.read(rows)
        return torch.from_numpy(np.ascontiguousarray(x))

    def rows(self, index: int) -> np.ndarray:
        """Store rows of item ``index`` (the bag, then held-out rows for validation)."""
        epoch, k = divmod(int(index), len(self))
        d = int(self.datapoints[k % len(self.datapoints)])
        members = self.train_members[d]
        if self.fixed:
            pick = bag_rows(np.random.default_rng([self.seed, k]), len(members), self.instances)
            return np.concatenate([members[pick], self.held_members[d]])
        pick = bag_rows(
            np.random.default_rng([self.seed, epoch, k, 1]), len(members), self.instances
        )
        return members[pick]

    def partner_rows(self, index: int) -> np.ndarray | None:
        epoch, k = divmod(int(index), len(self))
        d = int(self.datapoints[k % len(self.datapoints)])
        options = self.partners[d] if self.partners is not None else np.array([], int)
        if options.size == 0:
            return None
        rng = np.random.default_rng([self.seed, epoch, k, 2])
        p = int(options[rng.integers(options.size)])
        members = self.train_members[p]
        return members[bag_rows(rng, len(members), self.instances)]

    def _geometry(self, rows: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.geometry[rows]))

    def __getitem__(self, index: int):
        rows = self.rows(index)
        x = self._read(rows)
        if self.fixed:
            return x if self.geometry is None else {"x": x, "geometry": self._geometry(rows)}
        prow = self.partner_rows(index)
        partner = x if prow is None else self._read(prow)
        item = {"x": x, "partner": partner, "has_partner": torch.tensor(prow is not None)}
        if self.geometry is not None:
            item["geometry"] = self._geometry(rows)
            item["partner_geometry"] = self._geometry(rows if prow is None else prow)
        return item


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


def partner_datapoints(reader: StoreReader) -> list[np.ndarray]:
    """For each datapoint, the datapoints of *other* surveys with the same key."""
    by_key: dict[tuple, list[int]] = {}
    for d in range(len(reader.dp_survey)):
        by_key.setdefault(tuple(reader.dp_key[d].tolist()), []).append(d)
    out = []
    for d in range(len(reader.dp_survey)):
        same = by_key[tuple(reader.dp_key[d].tolist())]
        out.append(
            np.array(
                [e for e in same if reader.dp_survey[e] != reader.dp_survey[d]], dtype=np.int64
            )
        )
    return out


class SymAEDataModule(pl.LightningDataModule):
    """Batches of datapoints from a catalog dataset's instance store.

    Every datapoint trains. Validation holds out instances (shots), never whole
    datapoints: a fraction of each datapoint's instances is predicted from a bag of its
    training instances, as redatuming will predict gathers it did not see.

    Parameters
    ----------
    dataset
        Name of the dataset in the catalog. Its store is built or refreshed when needed.
    catalog
        Path of ``data_catalog.yaml``.
    instances
        Instances drawn per datapoint (I); a fresh random subset each step. The model
        pools a random number of them (``min_bag`` to I) into the coherent part. Lowered
        (with a warning) to what the smallest datapoint has besides its held-out ones.
    batch_size
        Datapoints per batch (B).
    repeats
        Times each datapoint is drawn per epoch (with a new subset each time); default:
        enough for about :data:`DRAWS_PER_EPOCH` draws per epoch, so that an epoch means
        a similar number of steps on small and large surveys.
    val_fraction
        Fraction of each datapoint's instances held out for validation (at least one
        when > 0; the same count for every datapoint).
    swap
        Train with the swap loss: ``None`` (default) when the catalog entry has a
        ``design_window_ms``; ``True`` requires one; ``False`` never.
    num_workers
        DataLoader worker processes (each opens the HDF5 store on its own; kept alive
        across epochs). ``None`` (default): none when training on CPU, where workers
        would compete with the model for the cores; on a GPU up to 4 (at most half the
        CPUs), so that batches are drawn while the GPU runs the previous step.
    in_memory_mb
        Load the whole store into memory when it is at most this size (MB); larger
        stores are read instance by instance. 0 always streams.
    seed
        Seed of the held-out instances and of the draws.
    progress
        Show a progress bar while building the store.

    Raises
    ------
    InstancesError
        If no datapoint has enough instances to hold some out for validation.
    DesignWindowError
        If the swap loss is asked of a dataset without a usable design window, with one
        survey, or with no key common to two surveys.
    """

    def __init__(
        self,
        dataset: str = "demo4d",
        catalog: str = "data_catalog.yaml",
        instances: int = 8,
        batch_size: int = 8,
        repeats: int | None = None,
        val_fraction: float = 0.2,
        swap: bool | None = None,
        num_workers: int | None = None,
        in_memory_mb: float = 2048,
        seed: int = 0,
        progress: bool = False,
    ):
        super().__init__()
        if instances < 1:
            raise OptionError(f"instances must be >= 1, got {instances}")
        if batch_size < 1:
            raise OptionError(f"batch_size must be >= 1, got {batch_size}")
        if not 0.0 <= val_fraction < 1.0:
            raise OptionError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if num_workers is not None and num_workers < 0:
            raise OptionError(f"num_workers must be >= 0 or null (auto), got {num_workers}")
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
        n_hold, hold = hold_out(counts, val_fraction)
        if val_fraction > 0 and not hold.any():
            smallest = int(np.argmin(counts))
            raise InstancesError(
                f"dataset {dataset!r}: no datapoint has the {n_hold + 1} instances that "
                f"validation needs ({n_hold} held out, 1 to train; datapoint "
                f"{self.reader.datapoint_label(smallest)} has {counts[smallest]}); lower "
                "--data.val_fraction (0 holds none out)"
            )
        self.instances = bag_size(dataset, self.reader, counts - n_hold * hold, instances)
        if repeats is None:
            repeats = max(1, int(np.ceil(DRAWS_PER_EPOCH / counts.size)))
        self.repeats = int(repeats)
        rng = np.random.default_rng(seed)
        self.train_members, self.held_members = [], []
        for members, h in zip(self.reader.members, hold):
            perm = rng.permutation(len(members))
            k = n_hold if h else 0
            self.held_members.append(np.sort(members[perm[:k]]))
            self.train_members.append(np.sort(members[perm[k:]]))
        self.n_held = n_hold
        #: Datapoints validated (those with held-out instances).
        self.validated = np.flatnonzero(hold)
        _, self.channels, self.samples = self.reader.shape
        self.scale = self.reader.rms
        # how far sources move between a datapoint's shots (receiver intervals): the
        # model's default channel shift follows it
        self.schema = dict(self.reader.schema)
        self.datapoints = np.arange(counts.size)
        self.partners = partner_datapoints(self.reader)
        self.design_window = self._design_window(entry, swap)
        #: Whether some traces are dead (all zero): the misfits then leave them out.
        self.has_dead = not bool(self.reader.live(np.arange(self.reader.shape[0])).all())
        #: Known geometry ``(N, 1)`` of every instance (each shot's position in its bin)
        #: where datapoints are bins of source position, else None.
        self.geometry, self.geometry_error = None, ""
        try:  # read only by models with geometry_terms (SymAELit checks at fit start)
            self.geometry = self.reader.geometry(np.arange(self.reader.shape[0]))
        except StoreError as err:
            self.geometry_error = str(err)
        self._data: np.ndarray | None = None

    def _design_window(self, entry, swap: bool | None) -> tuple[int, int] | None:
        if swap is False:
            return None
        if entry.design_window_ms is None:
            if swap:
                raise DesignWindowError(
                    f"dataset {entry.name!r}: the swap loss (--data.swap true) needs a "
                    "no-change window; add design_window_ms: [start, end] (ms, above the "
                    "reservoir) or 'all' to its catalog entry"
                )
            return None
        r = self.reader
        win = design_window_samples(entry, r.t0_ms, r.dt_ms, r.shape[-1])
        if len(self.reader.surveys) < 2:
            raise DesignWindowError(
                f"dataset {entry.name!r} has one survey ({self.reader.surveys[0]!r}): the "
                "swap loss of design_window_ms needs two; remove design_window_ms or pass "
                "--data.swap false"
            )
        if not any(p.size for p in self.partners):
            raise DesignWindowError(
                f"dataset {entry.name!r}: no datapoint key is common to two surveys "
                f"({', '.join(self.reader.surveys)}; keys {self.reader.dp_names}), so the "
                "swap loss of design_window_ms has nothing to pair; check datapoint_key or "
                "pass --data.swap false"
            )
        return win

    def setup(self, stage: str | None = None) -> None:
        nbytes = int(np.prod(self.reader.shape)) * 4
        if self._data is None and nbytes <= self.hparams.in_memory_mb * 1e6:
            self._data = self.reader.read_all()
            log.info("loaded store %s into memory (%.0f MB)", self.store_path, nbytes / 1e6)

    def _loader(self, train: bool) -> DataLoader:
        ds = DatapointDataset(
            self.reader,
            self.datapoints if train else self.validated,
            self.instances,
            train_members=self.train_members,
            held_members=self.held_members,
            partners=self.partners if self.design_window else None,
            repeats=self.repeats if train else 1,
            fixed=not train,
            data=self._data,
            seed=self.hparams.seed,
            geometry=self.geometry,
        )
        sampler = EpochSampler(ds, seed=self.hparams.seed, shuffle=train)
        workers = self.workers()
        return DataLoader(
            ds,
            batch_size=self.hparams.batch_size,
            sampler=sampler,
            num_workers=workers,
            drop_last=False,
            persistent_workers=workers > 0,
            pin_memory=self._on_gpu(),
        )

    def _on_gpu(self) -> bool:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return False
        return trainer.strategy.root_device.type == "cuda"

    def workers(self) -> int:
        """DataLoader worker processes: ``num_workers``, or the default rule when it is
        ``None`` (0 on CPU; on a GPU up to 4, at most half the CPUs)."""
        if self.hparams.num_workers is not None:
            return int(self.hparams.num_workers)
        if not self._on_gpu():
            return 0
        return max(0, min(4, (os.cpu_count() or 2) // 2))

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        # a host copy of the partner mask travels beside the batch (numpy is not moved to
        # the device): the objective reads shapes from it without waiting for the device
        if isinstance(batch, dict) and "has_partner" in batch:
            batch = {**batch, "has_partner_host": batch["has_partner"].numpy().copy()}
        return batch

    def train_dataloader(self) -> DataLoader:
        return self._loader(train=True)

    def val_dataloader(self) -> DataLoader | list:
        if self.n_held == 0:
            return []
        return self._loader(train=False)

    def state_dict(self) -> dict[str, Any]:
        return {"store": str(self.store_path), "schema": self.schema}
