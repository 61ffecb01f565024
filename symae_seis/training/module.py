"""The LightningModule: wraps :class:`~symae_seis.models.SymAE`, owns loss and optimiser.

The loss is :func:`symae_seis.training.objective.objective`: bag reconstruction with a
bag size drawn every step, the swap loss in the dataset's design window, and the
known-transform augmentation of the filter decoder.
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from torch.nn import functional as F

from ..errors import OptionError, SymaeError
from ..io.store import schema_mismatches
from ..models import ModelFileError, SymAE
from ..models.symae import with_legacy_defaults
from .objective import LossWeights, objective

__all__ = ["SymAELit", "NonFiniteLossError"]


class NonFiniteLossError(SymaeError, FloatingPointError):
    """Training produced a NaN or infinite loss."""


class SymAELit(pl.LightningModule):
    """SymAE training: MSE on normalised gathers, AdamW, cosine schedule with warm-up.

    ``channels``, ``samples``, ``scale``, ``schema`` and ``design_window`` come from the
    DataModule (the CLI links them); the other arguments are the model's and the
    optimiser's.

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
    nuisance_view
        What the nuisance encoder sees: ``"record"`` (default) the whole record;
        ``"design"`` only the design window when the dataset has one that is not the whole
        record. The acquisition filter acts on the whole record, so it can be read where
        the surveys' earths agree, and a code that never sees the changed part cannot learn
        which earth a shot saw. But a window with little signal may not tell a phase
        rotation from a static: measured in :class:`~symae_seis.models.SymAE`.
        ``"split"``: the spectrum, phase, bulk static and gain from the whole record, the
        per-trace statics and gains from the window (``nuisance_split``).
    coherent_dim
        Coherent code size (generic decoder only; the filter decoder's coherent part is
        a gather).
    nuisance_dim
        Nuisance code size per instance (8-16 suits the filter decoder).
    width
        Channels of the first convolution of the encoders; deeper levels double it.
    levels
        Down-sampling levels of the encoders (default: from the gather size).
    hidden
        Width of the MLPs (nuisance head, filter parameters).
    nuisance_dropout
        Dropout on the nuisance code while training (default: 0 for the filter decoder,
        0.4 for the generic one).
    decoder
        ``filter``: coherent gather through a per-instance physical filter (wavelet,
        phase, statics, gain); ``generic``: a learned decoder for nuisances outside that
        family (additive noise, illumination).
    filter_terms
        Cosine terms of the filter's log-amplitude spectrum.
    pool
        How the filter decoder pools a bag into its coherent gather: ``wiener`` (least
        squares over the bag's filters, damped by ``pool_eps``) or ``mean`` (mean of the
        inversely filtered instances, the older models').
    pool_eps
        Damping of the Wiener pooling, relative to the bag's mean filter power.
    pool_iters
        Preconditioned least-squares steps after the Wiener estimate (the record's end,
        dead traces).
    eval_pool_iters
        Least-squares steps of the pooling in evaluation (redatuming, QC).
        ``None`` (default): 40 without the channel shift, ``pool_iters`` with it (why:
        :class:`~symae_seis.models.SymAE`).
    eval_pool_eps
        Damping of the pooling in evaluation. ``None`` (default): 1e-4 without the
        channel shift, ``pool_eps`` with it.
    coherent_pad
        Samples of the coherent gather below the record (default: an eighth of the
        record, at least 8, for the Wiener pooling).
    trace_terms
        Add a free static and gain per trace to the filter family (sources that move near
        the first receivers; see :mod:`symae_seis.models.filters`). Default: on with the
        filter decoder for gathers whose channels are receivers keyed by a trace header
        (SEG-Y, SU: the schema's ``channel_key``), off for miniSEED stores (the rule and
        why: :class:`~symae_seis.models.SymAE`).
    time_terms
        Keep the filter family's phase rotation and statics. ``None`` (default): on for
        SEG-Y/SU gathers, off for miniSEED stores (the rule and why:
        :class:`~symae_seis.models.SymAE`).
    time_fold
        Samples folded into channels at the encoders' input (default: 2 for traces of 256
        samples or more, else 1; see :class:`~symae_seis.models.SymAE`).
    filter_shift
        Add a per-instance channel shift to the filter family (a moved source samples the
        earth at moved offsets; see :mod:`symae_seis.models.filters`). ``None`` (default):
        on when the store's sources move by a quarter receiver interval or more between
        a datapoint's instances (the rule: :class:`~symae_seis.models.SymAE`).
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
    """

    def __init__(self, channels: int = 0, samples: int = 0, scale: float = 1.0,
                 schema: dict[str, Any] | None = None,
                 design_window: tuple[int, int] | None = None, coherent_dim: int = 32,
                 nuisance_dim: int = 16, width: int = 16, levels: int | None = None,
                 hidden: int = 128, nuisance_dropout: float | None = None,
                 decoder: Literal["filter", "generic"] = "filter", filter_terms: int = 6,
                 pool: Literal["wiener", "mean"] = "wiener", pool_eps: float = 1e-3,
                 pool_iters: int = 5, eval_pool_iters: int | None = None,
                 eval_pool_eps: float | None = None, coherent_pad: int | None = None,
                 filter_shift: bool | None = None, time_fold: int | None = None,
                 trace_terms: bool | None = None, time_terms: bool | None = None,
                 min_bag: int = 3, nuisance_view: Literal["design", "split", "record"] = "record",
                 swap_weight: float = 1.0,
                 augment_weight: float = 0.5, consistency_weight: float = 1.0, lr: float = 2e-3,
                 weight_decay: float = 1e-4, warmup_epochs: int = 1,
                 min_lr_ratio: float = 0.02):
        super().__init__()
        if min_bag < 1:
            raise OptionError(f"min_bag must be >= 1, got {min_bag}")
        if nuisance_view not in ("design", "split", "record"):
            raise OptionError(f"nuisance_view must be 'design', 'split' or 'record', got "
                              f"{nuisance_view!r}")
        self.save_hyperparameters()
        window = None
        if nuisance_view != "record" and design_window is not None and \
                tuple(design_window) != (0, samples):
            window = tuple(design_window)
        self.model = SymAE(channels, samples, coherent_dim=coherent_dim,
                           nuisance_dim=nuisance_dim, width=width, levels=levels,
                           hidden=hidden, nuisance_dropout=nuisance_dropout, scale=scale,
                           schema=schema, decoder=decoder, filter_terms=filter_terms,
                           pool=pool, pool_eps=pool_eps, pool_iters=pool_iters,
                           eval_pool_iters=eval_pool_iters, eval_pool_eps=eval_pool_eps,
                           coherent_pad=coherent_pad, filter_shift=filter_shift,
                           time_fold=time_fold, trace_terms=trace_terms,
                           time_terms=time_terms, nuisance_window=window,
                           nuisance_split=nuisance_view == "split" and window is not None)
        self.weights = LossWeights(swap=swap_weight, augment=augment_weight,
                                   consistency=consistency_weight)
        self.design_window = None if design_window is None else tuple(design_window)
        #: this step's loss (checked in on_before_optimizer_step) and the epoch's sums of
        #: the loss terms per set of terms (logged in on_train_epoch_end)
        self._step_loss: tuple[torch.Tensor, int] | None = None
        self._term_sums: dict[tuple, list] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _bag_size(self, instances: int) -> int:
        lo = min(self.hparams.min_bag, instances)
        return int(torch.randint(lo, instances + 1, ()).item())

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        # The nuisance noise of step s depends only on (seed, s), so a run resumed from a
        # checkpoint continues exactly as an uninterrupted one (the data draws are keyed
        # the same way by the DataModule's EpochSampler).
        base = int(os.environ.get("PL_GLOBAL_SEED", "0"))
        x = batch["x"]
        _reseed(base * 1_000_003 + self.global_step, x.device)
        host = batch.get("has_partner_host")      # SymAEDataModule.on_before_batch_transfer
        terms = objective(self.model, x, bag=self._bag_size(x.shape[1]),
                          partner=batch["partner"],
                          has_partner=batch["has_partner"] if host is None
                          else torch.from_numpy(host),
                          window=self.design_window, weights=self.weights)
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
            self.log(f"train_{k}", v / n, on_step=False, on_epoch=True, prog_bar=k == "loss",
                     sync_dist=True)
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

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        """Predict each datapoint's held-out instances from a bag of its training
        instances (coherent part) and their own nuisance codes."""
        held = self.trainer.datamodule.n_held if self.trainer.datamodule is not None else 1
        bag, target = batch[:, :-held], batch[:, -held:]
        model, scale = self.model, self.model.scale
        with model.training_pool():           # cheap: the evaluation pooling is for outputs
            coh = model.encode_coherent(bag)
        pred = model.decode(coh, model.encode_nuisance(target))
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
        warm = max(0, min(hp.warmup_epochs, max_epochs - 1))

        def factor(epoch: int) -> float:
            if epoch < warm:
                return (epoch + 1) / (warm + 1)
            span = max(1, max_epochs - warm)
            cos = 0.5 * (1 + math.cos(math.pi * min(1.0, (epoch - warm) / span)))
            return hp.min_lr_ratio + (1 - hp.min_lr_ratio) * cos

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # called before the weights are loaded: refuse a checkpoint of another model/store
        blob = checkpoint.get("symae")
        if blob is None:
            raise ModelFileError("checkpoint was not written by symae-seis (no 'symae' "
                                 "record); start a new run or pass another --ckpt_path")
        ours = self.model.config
        theirs = with_legacy_defaults(blob.get("config", {}))
        theirs.setdefault("filter_terms", ours["filter_terms"])
        theirs.setdefault("pool_eps", ours["pool_eps"])
        # the scale is the store's; the evaluation-time pooling does not touch the weights
        free = {"scale", "eval_pool_iters", "eval_pool_eps"}
        diff = {k: (theirs.get(k), ours[k]) for k in ours
                if k not in free and theirs.get(k) != ours[k]}
        if diff:
            desc = ", ".join(f"{k}: checkpoint {a} vs now {b}" for k, (a, b) in diff.items())
            raise ModelFileError(f"checkpoint holds an incompatible model ({desc}); resume with "
                                 "the same model options or start a new run")
        bad = schema_mismatches(blob.get("schema") or {}, self.model.schema or {},
                                labels=("checkpoint", "this run"))
        if bad:
            raise ModelFileError(f"checkpoint was trained on a store of another layout "
                                 f"({'; '.join(bad)}); resume on the same dataset")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # a plain-model record, so SymAE.load() reads any checkpoint without Lightning
        checkpoint["symae"] = self.model.export()


def _reseed(seed: int, device: torch.device) -> None:
    """Seed the CPU generator and the training device's (``torch.manual_seed`` seeds
    every device type's generators and costs milliseconds a step)."""
    torch.random.default_generator.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.manual_seed(seed)
