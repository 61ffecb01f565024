"""The LightningModule: wraps :class:`~symae_seis.models.SymAE`, owns loss and optimiser.

The loss is :func:`symae_seis.training.objective.objective`: bag reconstruction with a
bag size drawn every step, the swap loss in the dataset's design window, and the
known-transform augmentation of the filter decoder.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from torch.nn import functional as F

from ..errors import OptionError, SymaeError
from ..io.store import schema_mismatches
from ..models import ModelFileError, SymAE, SymAEConfig
from ..models.config import with_legacy_defaults
from ..models.serialization import upgrade_state_dict
from .objective import LossWeights, objective
from .upgrade import (
    as_config,
    pin_auto_options,
    upgrade_hparams,
    upgrade_optimizer_state,
    upgrade_scheduler_state,
    warmup_cosine,
)

__all__ = ["SymAELit", "NonFiniteLossError"]


class NonFiniteLossError(SymaeError, FloatingPointError):
    """Training produced a NaN or infinite loss."""


class SymAELit(pl.LightningModule):
    """SymAE training: MSE on normalised gathers, AdamW, cosine schedule with warm-up.

    ``channels``, ``samples``, ``scale``, ``schema`` and ``design_window`` come from the
    DataModule (the CLI links them); ``config`` holds the model's options (each declared
    once, in :class:`~symae_seis.models.SymAEConfig`); the rest are the training's.
    :meth:`from_model` wraps a model that already exists.

    Parameters
    ----------
    channels
        Traces per gather (from the data).
    samples
        Samples per trace (from the data).
    scale
        RMS of the store's samples; gathers are divided by it (from the data).
    schema
        Store description kept with the model (from the data).
    design_window
        ``(start, stop)`` samples of the swap loss (from the catalog's
        ``design_window_ms``); None trains without it.
    config
        The model's options (``--model.config.width 8`` on the command line).
    nuisance_view
        What the nuisance encoder sees: ``"record"`` (default) the whole record;
        ``"design"`` only the design window when the dataset has one that is not the whole
        record (sets the config's ``nuisance_window``). The acquisition filter acts on the
        whole record, so it can be read where the surveys' earths agree, and a code that
        never sees the changed part cannot learn which earth a shot saw; but a window with
        little signal may not tell a phase rotation from a static (conv4d seed 1: 2.0 ->
        9.6 % NRMS outside the zone), hence not the default. ``"split"``: the spectrum,
        phase, bulk static and gain from the whole record, the per-trace statics and gains
        from the window (``nuisance_split``).
    min_bag
        Smallest bag pooled into the coherent part; each step draws a size between it
        and the batch's I.
    swap_weight
        Weight of the swap loss in the design window (0 disables it).
    augment_weight
        Weight of rebuilding known-transform augmented instances (filter decoder).
    consistency_weight
        Weight of the augmentation's filter-parameter consistency (filter decoder).
    lr
        AdamW learning rate.
    weight_decay
        AdamW weight decay.
    warmup_epochs
        Linear warm-up before the cosine decay to ``lr * min_lr_ratio`` at max_epochs.
    min_lr_ratio
        Final learning rate as a fraction of ``lr``.

    Raises
    ------
    OptionError
        If an option is out of range (the model's, from :class:`SymAEConfig`, included).
    """

    def __init__(
        self,
        channels: int = 0,
        samples: int = 0,
        scale: float = 1.0,
        schema: dict[str, Any] | None = None,
        design_window: tuple[int, int] | None = None,
        config: SymAEConfig = SymAEConfig(),  # noqa: B008 - frozen, immutable
        min_bag: int = 3,
        nuisance_view: Literal["design", "split", "record"] = "record",
        swap_weight: float = 1.0,
        augment_weight: float = 0.5,
        consistency_weight: float = 1.0,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        warmup_epochs: int = 1,
        min_lr_ratio: float = 0.02,
    ):
        super().__init__()
        config = as_config(config)
        if min_bag < 1:
            raise OptionError(f"min_bag must be >= 1, got {min_bag}")
        if nuisance_view not in ("design", "split", "record"):
            raise OptionError(
                f"nuisance_view must be 'design', 'split' or 'record', got {nuisance_view!r}"
            )
        # plain types only (a checkpoint must load with torch.load(weights_only=True)), the
        # model's options included, so that the loggers record them too
        self.save_hyperparameters(
            {
                "channels": channels,
                "samples": samples,
                "scale": scale,
                "schema": schema,
                "design_window": design_window,
                "config": dataclasses.asdict(config),
                "min_bag": min_bag,
                "nuisance_view": nuisance_view,
                "swap_weight": swap_weight,
                "augment_weight": augment_weight,
                "consistency_weight": consistency_weight,
                "lr": lr,
                "weight_decay": weight_decay,
                "warmup_epochs": warmup_epochs,
                "min_lr_ratio": min_lr_ratio,
            }
        )
        window = None
        if (
            nuisance_view != "record"
            and design_window is not None
            and tuple(design_window) != (0, samples)
        ):
            window = tuple(design_window)
        if window is not None:
            if config.nuisance_window is not None or config.nuisance_split:
                raise OptionError(
                    f"nuisance_view={nuisance_view!r} sets the nuisance window (and split) "
                    "from the design window; leave config.nuisance_window and "
                    "config.nuisance_split unset"
                )
            config = config.replace(nuisance_window=window, nuisance_split=nuisance_view == "split")
        self.model = SymAE(channels, samples, config, scale=scale, schema=schema)
        self.weights = LossWeights(
            swap=swap_weight, augment=augment_weight, consistency=consistency_weight
        )
        self.design_window = None if design_window is None else tuple(design_window)
        #: this step's loss (checked in on_before_optimizer_step) and the epoch's sums of
        #: the loss terms per set of terms (logged in on_train_epoch_end)
        self._step_loss: tuple[torch.Tensor, int] | None = None
        self._term_sums: dict[tuple, list] = {}

    @classmethod
    def from_model(
        cls, model: SymAE, *, design_window: tuple[int, int] | None = None, **training: Any
    ) -> SymAELit:
        """Train an existing model (its weights, options, scale and schema) with the
        training options ``training`` (``min_bag``, ``lr``, ...)."""
        lit = cls(
            model.config["channels"],
            model.config["samples"],
            float(model.scale),
            model.schema,
            design_window,
            config=model.options,
            **training,
        )
        lit.model = model
        return lit

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, map_location=None, **overrides: Any) -> SymAELit:
        """The LightningModule of a training checkpoint (any release), its options from the
        checkpoint's hyperparameters (those of older releases upgraded) unless
        ``overrides`` replace them; in evaluation mode.

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        ModelFileError
            If it is not a symae-seis checkpoint, or holds another model.
        """
        from pathlib import Path

        path = Path(checkpoint_path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist")
        ckpt = torch.load(path, map_location=map_location or "cpu", weights_only=True)
        hparams = pin_auto_options(
            upgrade_hparams(dict(ckpt.get("hyper_parameters") or {})),
            (ckpt.get("symae") or {}).get("config"),
        )
        hparams.pop("_instantiator", None)
        lit = cls(**{**hparams, **overrides})
        lit.on_load_checkpoint(ckpt)  # upgrades older weights' names, checks the model
        lit.load_state_dict(ckpt["state_dict"])
        return lit.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def on_fit_start(self) -> None:
        """A model that reads each shot's position needs a store that records it."""
        dm = getattr(self._trainer, "datamodule", None)
        if self.model.geometry_dim and dm is not None and getattr(dm, "geometry", 0) is None:
            from ..io.store import StoreError

            raise StoreError(
                getattr(dm, "geometry_error", "")
                or f"{dm.store_path}: geometry_terms needs datapoints binned by source "
                "position (the catalog's datapoint_bin: {SourceX: size})"
            )

    def _bag_size(self, instances: int) -> int:
        lo = min(self.hparams.min_bag, instances)
        return int(torch.randint(lo, instances + 1, ()).item())

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        # The nuisance noise of step s depends only on (seed, s), so a run resumed from a
        # checkpoint continues exactly as an uninterrupted one (the data draws are keyed
        # the same way by the DataModule's EpochSampler).
        base = int(os.environ.get("PL_GLOBAL_SEED", "0"))
        x = batch["x"]
        _reseed(base * 1_000_003 + self.global_step, x.device)
        host = batch.get("has_partner_host")  # SymAEDataModule.on_before_batch_transfer
        terms = objective(
            self.model,
            x,
            bag=self._bag_size(x.shape[1]),
            partner=batch["partner"],
            has_partner=batch["has_partner"] if host is None else torch.from_numpy(host),
            window=self.design_window,
            weights=self.weights,
            geometry=batch.get("geometry"),
            partner_geometry=batch.get("partner_geometry"),
            masked=bool(getattr(getattr(self._trainer, "datamodule", None), "has_dead", False)),
        )
        loss = terms["loss"]
        # checked after the backward pass is queued (on_before_optimizer_step): a check
        # here would make the host wait for the forward pass before queuing the backward
        self._step_loss = (loss.detach(), batch_idx)
        self._accumulate(terms, x.shape[0])
        return loss

    def _accumulate(self, terms: dict[str, torch.Tensor], n: int) -> None:
        # the epoch means of the loss terms, summed on the device in one stacked tensor
        # per set of terms: logging each term every step costs the host more than a
        # step of a small model on a GPU
        keys = tuple(terms)
        vals = torch.stack([terms[k].detach().float() for k in keys]) * n
        sums = self._term_sums
        if keys in sums:
            sums[keys][0].add_(vals)
            sums[keys][1] += n
        else:
            sums[keys] = [vals, n]

    def on_train_epoch_end(self) -> None:
        total: dict[str, list] = {}
        for keys, (vals, n) in self._term_sums.items():
            for k, v in zip(keys, vals):
                acc = total.setdefault(k, [0.0, 0])
                acc[0], acc[1] = acc[0] + v, acc[1] + n
        for k, (v, n) in total.items():
            self.log(
                f"train_{k}",
                v / n,
                on_step=False,
                on_epoch=True,
                prog_bar=k == "loss",
                sync_dist=True,
            )
        self._term_sums = {}

    def on_before_optimizer_step(self, optimizer) -> None:
        """Stop before a non-finite loss reaches the weights."""
        if self._step_loss is None:
            return
        loss, batch_idx = self._step_loss
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"training loss is {loss.item()} at epoch {self.current_epoch}, batch "
                f"{batch_idx}; stopping. The last good checkpoint is kept in the run's "
                "checkpoints/ folder; lower --model.lr or check the data for outliers"
            )

    def validation_step(self, batch: torch.Tensor | dict, batch_idx: int) -> None:
        """Predict each datapoint's held-out instances from a bag of its training
        instances (coherent part) and their own nuisance codes."""
        held = self.trainer.datamodule.n_held if self.trainer.datamodule is not None else 1
        geo = None
        if isinstance(batch, dict):  # with the instances' known geometry
            batch, geo = batch["x"], batch["geometry"]
        bag, target = batch[:, :-held], batch[:, -held:]
        geo_bag, geo_target = (None, None) if geo is None else (geo[:, :-held], geo[:, -held:])
        model, scale = self.model, self.model.scale
        with model.training_pool():  # cheap: the evaluation pooling is for outputs
            coh = model.encode_coherent(bag, geometry=geo_bag)
        pred = model.decode(coh, model.encode_nuisance(target, geometry=geo_target))
        loss = F.mse_loss(pred.float() / scale, target.float() / scale)
        mean = bag.mean(dim=1, keepdim=True).expand_as(target)
        baseline = F.mse_loss(mean.float() / scale, target.float() / scale)
        self.log("val_loss", loss, prog_bar=True, batch_size=batch.shape[0], sync_dist=True)
        self.log("val_mean_gather_loss", baseline, batch_size=batch.shape[0], sync_dist=True)

    def configure_optimizers(self):
        hp = self.hparams
        opt = torch.optim.AdamW(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        max_epochs = self.trainer.max_epochs if self.trainer is not None else None
        if not max_epochs or max_epochs < 0:
            return opt
        return {
            "optimizer": opt,
            "lr_scheduler": {
                "scheduler": warmup_cosine(opt, max_epochs, hp.warmup_epochs, hp.min_lr_ratio),
                "interval": "epoch",
            },
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # called before the weights are loaded: refuse a checkpoint of another model/store
        # and name the weights of older checkpoints as this release does
        if "state_dict" in checkpoint:
            v1_shift = "model.shift_field" in checkpoint["state_dict"]
            checkpoint["state_dict"] = upgrade_state_dict(checkpoint["state_dict"], "model.")
            if v1_shift:
                upgrade_optimizer_state(checkpoint, [n for n, _ in self.named_parameters()])
        if self._trainer is not None:
            hp = self.hparams
            upgrade_scheduler_state(
                checkpoint,
                lambda opt: warmup_cosine(
                    opt, self.trainer.max_epochs, hp.warmup_epochs, hp.min_lr_ratio
                ),
                hp.lr,
            )
        blob = checkpoint.get("symae")
        if blob is None:
            raise ModelFileError(
                "checkpoint was not written by symae-seis (no 'symae' "
                "record); start a new run or pass another --ckpt_path"
            )
        ours = self.model.config
        theirs = with_legacy_defaults(blob.get("config", {}))
        theirs.setdefault("filter_terms", ours["filter_terms"])
        theirs.setdefault("pool_eps", ours["pool_eps"])
        # the scale is the store's; the evaluation-time pooling does not touch the weights
        free = {"scale", "eval_pool_iters", "eval_pool_eps"}
        diff = {
            k: (theirs.get(k), ours[k]) for k in ours if k not in free and theirs.get(k) != ours[k]
        }
        if diff:
            desc = ", ".join(f"{k}: checkpoint {a} vs now {b}" for k, (a, b) in diff.items())
            raise ModelFileError(
                f"checkpoint holds an incompatible model ({desc}); resume with "
                "the same model options or start a new run"
            )
        bad = schema_mismatches(
            blob.get("schema") or {}, self.model.schema or {}, labels=("checkpoint", "this run")
        )
        if bad:
            raise ModelFileError(
                f"checkpoint was trained on a store of another layout "
                f"({'; '.join(bad)}); resume on the same dataset"
            )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # a plain-model record, so SymAE.load() reads any checkpoint without Lightning
        checkpoint["symae"] = self.model.export()


def _reseed(seed: int, device: torch.device) -> None:
    """Seed the CPU generator and the training device's (``torch.manual_seed`` seeds
    every device type's generators and costs milliseconds a step)."""
    torch.random.default_generator.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.manual_seed(seed)
