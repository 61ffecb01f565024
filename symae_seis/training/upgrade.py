"""Training runs of older releases, read by this one: checkpoint hyperparameters with the
model's options flat (before :class:`SymAEConfig`), the optimiser's state in the old
parameter order, the learning-rate schedule's state of a ``LambdaLR``; and the schedule
itself (:func:`warmup_cosine`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..errors import OptionError
from ..models import SymAEConfig
from ..models.config import OPTION_NAMES, with_legacy_defaults

__all__ = [
    "as_config",
    "pin_auto_options",
    "upgrade_hparams",
    "upgrade_optimizer_state",
    "upgrade_scheduler_state",
    "warmup_cosine",
]


def as_config(config: Any) -> SymAEConfig:
    """A :class:`SymAEConfig`, from itself or from its fields as a mapping (a checkpoint's
    hyperparameters)."""
    if isinstance(config, SymAEConfig):
        return config
    if isinstance(config, dict):
        fields = dict(config)
        if fields.get("nuisance_window") is not None:
            fields["nuisance_window"] = tuple(fields["nuisance_window"])
        return SymAEConfig().replace(**fields)
    raise OptionError(f"config must be a SymAEConfig, got {type(config).__name__}")


def upgrade_hparams(hparams: dict) -> dict:
    """Hyperparameters of a checkpoint written before :class:`SymAEConfig`, with the
    model's options (then flat) moved under ``config``."""
    flat = {k: hparams[k] for k in hparams if k in OPTION_NAMES}
    if not flat:
        return hparams
    rest = {k: v for k, v in hparams.items() if k not in flat}
    return {**rest, "config": {**flat, **(rest.get("config") or {})}}


def pin_auto_options(hparams: dict, resolved: dict | None) -> dict:
    """Hyperparameters of a checkpoint to resume, with the model options it left *auto*
    (None) set to what they resolved to when it was written (``resolved``: the model's
    saved description, completed with the legacy defaults): a release whose auto rules
    changed resumes the run's model, not its own defaults'."""
    if not resolved:
        return hparams
    config = dict(hparams.get("config") or {})
    saved = with_legacy_defaults(resolved)
    # the training's nuisance view sets these itself (from the design window)
    by_view = {"nuisance_window", "nuisance_split"}
    view = hparams.get("nuisance_view", "record")
    for name in OPTION_NAMES:
        if name in by_view and view != "record":
            continue
        if config.get(name) is None and name in saved:
            config[name] = saved[name]
    return {**hparams, "config": config}


def warmup_cosine(
    opt: torch.optim.Optimizer, epochs: int, warmup: int, min_ratio: float
) -> torch.optim.lr_scheduler.LRScheduler:
    """Linear warm-up over ``warmup`` epochs (from ``lr / (warmup + 1)``), then a cosine
    decay to ``lr * min_ratio`` at ``epochs``, with torch's schedulers (stepped once per
    epoch)."""
    from torch.optim import lr_scheduler as S

    warm = max(0, min(warmup, epochs - 1))
    lr = opt.param_groups[0]["lr"]
    cosine = S.CosineAnnealingLR(opt, T_max=max(1, epochs - warm), eta_min=lr * min_ratio)
    if not warm:
        return cosine
    ramp = S.LinearLR(opt, start_factor=1 / (warm + 1), end_factor=1.0, total_iters=warm)
    return S.SequentialLR(opt, [ramp, cosine], milestones=[warm])


def upgrade_optimizer_state(checkpoint: dict[str, Any], names: list[str]) -> None:
    """Checkpoints written before the model's parts were named held the channel shift's
    phase field as the model's first parameter; it now comes after the nuisance
    encoder's (``names``: the LightningModule's parameter names, in order). The
    optimiser's per-parameter state follows it."""
    old = sorted(range(len(names)), key=lambda k: names[k] != "model.decoder.shift_field")
    for opt in checkpoint.get("optimizer_states") or []:
        state = opt.get("state", {})
        opt["state"] = {new: state[pos] for pos, new in enumerate(old) if pos in state}


def upgrade_scheduler_state(
    checkpoint: dict[str, Any],
    make: Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler],
    lr: float,
) -> None:
    """Checkpoints written before :func:`warmup_cosine` hold a ``LambdaLR``'s state
    (``lr_lambdas``): the state of the same schedule (``make``) at the same epoch
    replaces it."""
    states = checkpoint.get("lr_schedulers") or []
    if len(states) != 1 or "lr_lambdas" not in states[0]:
        return
    dummy = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make(dummy)
    for _ in range(int(states[0]["last_epoch"])):
        dummy.step()
        sched.step()
    checkpoint["lr_schedulers"] = [sched.state_dict()]
