"""Benchmark: training throughput of the full Lightning + DataModule path vs a bare loop.

Both train the same SymAE on the same survey for the same number of optimiser steps:

* bare: a plain PyTorch loop over in-memory tensors (batches drawn by index) calling the
  same :func:`~symae_seis.training.objective.objective`, no Lightning, no DataLoader;
* lightning: ``Trainer.fit`` with :class:`SymAEDataModule` (store -> DataLoader) and
  :class:`SymAELit`, as ``symae-train`` runs it (no logger/checkpoint I/O in the timing).

Prints instances/s of each, their ratio (target >= 0.85 on CPU), and the fraction of
step time the Lightning path spent waiting for data. On a GPU (``--accelerator gpu``)
the same script reports GPU throughput and the data-wait fraction.

    python scripts/bench/train.py                       # demo4d-sized survey, CPU
    python scripts/bench/train.py --steps 200 --accelerator gpu --precision bf16-mixed
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
import yaml

from symae_seis.catalog import load_catalog
from symae_seis.ingest import build_store
from symae_seis.io.store import StoreReader
from symae_seis.models import SymAEConfig
from symae_seis.synth import Conv4DParams, make_conv4d_survey
from symae_seis.training import SymAEDataModule, SymAELit
from symae_seis.training.objective import objective


class _Clock(pl.Callback):
    """Times the steps after ``skip`` and the host time spent fetching their batches.

    The GPU is synchronised only where the clock starts and stops, as in the bare loop:
    a synchronisation per step would itself stall the queue of kernels being timed."""

    def __init__(self, skip: int, total: int):
        self.skip, self.total = skip, total
        self.t0, self.t_end, self.wait, self.n, self.last_end = None, None, 0.0, 0, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.skip:
            _sync()
            self.t0 = time.perf_counter()
        elif self.t0 is not None and self.last_end is not None:
            self.wait += time.perf_counter() - self.last_end

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.t0 is None:
            return
        x = batch["x"] if isinstance(batch, dict) else batch
        self.n += x.shape[0] * x.shape[1]
        if trainer.global_step >= self.total:
            _sync()
            self.t_end = time.perf_counter()
        self.last_end = time.perf_counter()


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def bare_loop(model_kw, data, members, steps, skip, batch, inst, device, precision):
    torch.manual_seed(0)
    lit = SymAELit(**model_kw).to(device)
    model = lit.model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    x_all = torch.from_numpy(data).to(device)
    rng = np.random.default_rng(0)
    n = 0
    t0 = None
    for step in range(steps + skip):
        if step == skip:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        dps = rng.integers(0, len(members), batch)
        rows = np.stack([rng.permutation(members[d])[:inst] for d in dps])
        x = x_all[torch.from_numpy(rows).to(device)]
        torch.manual_seed(step)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
            loss = objective(model, x, bag=lit._bag_size(inst))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= skip:
            n += x.shape[0] * x.shape[1]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60, help="timed optimiser steps")
    ap.add_argument("--skip", type=int, default=5, help="warm-up steps not timed")
    ap.add_argument("--accelerator", default="cpu")
    ap.add_argument("--precision", default="32-true")
    ap.add_argument(
        "--num-workers",
        type=int,
        default=None,
        help="DataLoader workers (default: the DataModule's rule, 0 on CPU)",
    )
    ap.add_argument(
        "--in-memory-mb", type=float, default=2048, help="0 streams every batch from HDF5"
    )
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--decoder", default="filter", choices=["filter", "generic"])
    ap.add_argument("--n-cdp", type=int, default=32)
    ap.add_argument("--batch", type=int, default=8, help="datapoints per batch")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="symae-bench-train-"))
    make_conv4d_survey(tmp, Conv4DParams(n_cdp=args.n_cdp))
    cat = tmp / "c.yaml"
    cat.write_text(
        yaml.safe_dump(
            {
                "datasets": {
                    "b": {
                        "surveys": {
                            "baseline": str(tmp / "baseline.sgy"),
                            "monitor": str(tmp / "monitor.sgy"),
                        },
                        "datapoint_key": ["CDP"],
                        "store": str(tmp / "b.h5"),
                    }
                }
            }
        )
    )
    build_store(load_catalog(cat)["b"])
    batch, inst = args.batch, 8
    dm = SymAEDataModule(
        "b",
        str(cat),
        instances=inst,
        batch_size=batch,
        repeats=1000,
        val_fraction=0.0,
        num_workers=args.num_workers,
        in_memory_mb=args.in_memory_mb,
    )
    model_kw = dict(
        channels=dm.channels,
        samples=dm.samples,
        scale=dm.scale,
        schema=dm.schema,
        config=SymAEConfig(width=args.width, hidden=args.hidden, decoder=args.decoder),
    )
    device = torch.device("cuda" if args.accelerator in ("gpu", "cuda") else "cpu")
    reader = StoreReader(dm.store_path)
    data = reader.read_all()
    bare = bare_loop(
        model_kw, data, reader.members, args.steps, args.skip, batch, inst, device, args.precision
    )
    clock = _Clock(args.skip, args.steps + args.skip)
    torch.manual_seed(0)
    trainer = pl.Trainer(
        max_steps=args.steps + args.skip,
        accelerator=args.accelerator,
        devices=1,
        precision=args.precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=[clock],
    )
    trainer.fit(SymAELit(**model_kw), dm)
    elapsed = clock.t_end - clock.t0
    light = clock.n / elapsed
    print(f"decoder {args.decoder}, precision {args.precision}")
    print(
        f"device {device}, threads {torch.get_num_threads()}, gathers {dm.channels}x"
        f"{dm.samples}, batch {batch} datapoints x {inst} instances, {args.steps} timed steps, "
        f"{dm.workers()} DataLoader workers"
    )
    print(f"bare PyTorch loop (in-memory tensors): {bare:8.1f} instances/s")
    print(f"Lightning + DataModule (store):        {light:8.1f} instances/s")
    print(f"ratio lightning / bare:                {light / bare:8.3f}   (target >= 0.85)")
    print(
        f"data wait fraction of step time:       {clock.wait / elapsed:8.3f}   "
        "(host time fetching batches)"
    )


if __name__ == "__main__":
    main()
