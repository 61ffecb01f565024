"""Callbacks: the loss-curve PNG and the plain-model export of each run."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import lightning.pytorch as pl

from ..models import SymAE

__all__ = ["LossCurvePlot", "ExportModel", "EpochLines", "plot_loss_curve"]

log = logging.getLogger(__name__)


def plot_loss_curve(metrics_csv: str | Path, out_png: str | Path) -> Path | None:
    """Plot train/validation loss per epoch (log scale) from a CSVLogger file.

    Parts of a resumed run (``metrics.part-NN.csv`` beside it) are read first. The
    mean-gather baseline (predicting every instance by its datapoint's mean gather) is
    drawn for reference. Returns the PNG path, or None when there is nothing to plot.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics_csv = Path(metrics_csv)
    parts = sorted(metrics_csv.parent.glob("metrics.part-*.csv"))
    series: dict[str, dict[int, float]] = {}
    for part in [*parts, metrics_csv]:
        if not part.is_file():
            continue
        with open(part, newline="") as fh:
            for row in csv.DictReader(fh):
                ep = row.get("epoch")
                if not ep:
                    continue
                for key in ("train_loss", "val_loss", "val_mean_gather_loss"):
                    if row.get(key):
                        series.setdefault(key, {})[int(float(ep))] = float(row[key])
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    styles = {
        "train_loss": ("C0", "-", "train"),
        "val_loss": ("C1", "-", "validation"),
        "val_mean_gather_loss": ("0.5", "--", "validation: mean-gather baseline"),
    }
    for key, (color, ls, label) in styles.items():
        if key in series:
            ep = sorted(series[key])
            ax.plot(
                ep, [series[key][e] for e in ep], color=color, ls=ls, marker="o", ms=4, label=label
            )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (normalised gathers)")
    ax.set_title("SymAE training")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png)
    plt.close(fig)
    return out_png


class LossCurvePlot(pl.Callback):
    """Writes ``loss.png`` into the run folder after every validation and at the end."""

    def _plot(self, trainer: pl.Trainer) -> None:
        log_dir = trainer.log_dir  # a collective under DDP: every rank asks
        if not trainer.is_global_zero or log_dir is None:
            return
        for lg in trainer.loggers:
            save = getattr(lg, "save", None)
            if callable(save) and type(lg).__name__ == "CSVLogger":
                save()
        plot_loss_curve(Path(log_dir) / "metrics.csv", Path(log_dir) / "loss.png")

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._plot(trainer)

    def on_fit_end(self, trainer, pl_module) -> None:
        self._plot(trainer)


class EpochLines(pl.Callback):
    """One plain log line per epoch (losses, seconds) where the trainer shows no progress
    bar: ``symae-train`` turns the bar off when its output is not a terminal, so logs
    and pipes get lines instead of carriage-return spam. An epoch's line is written when
    its training loss is known (the module logs it after the epoch's validation)."""

    def __init__(self) -> None:
        self._pending: tuple[int, float] | None = None
        self._t0 = 0.0

    def _flush(self, trainer: pl.Trainer) -> None:
        import time

        if self._pending is None:
            return
        epoch, t0 = self._pending
        self._pending = None
        if trainer.progress_bar_callback is not None or not trainer.is_global_zero:
            return
        m = trainer.callback_metrics
        parts = [f"{k} {float(m[k]):.5g}" for k in ("train_loss", "val_loss") if k in m]
        total = trainer.max_epochs if (trainer.max_epochs or -1) > 0 else "?"
        log.info(
            "epoch %d/%s: %s (%.0f s)",
            epoch + 1,
            total,
            ", ".join(parts) or "no losses",
            time.perf_counter() - t0,
        )

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        import time

        self._flush(trainer)
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._pending = (trainer.current_epoch, self._t0)

    def on_fit_end(self, trainer, pl_module) -> None:
        self._flush(trainer)


class ExportModel(pl.Callback):
    """Saves the best checkpoint's model as ``model.pt`` in the run folder (plain SymAE:
    loads without Lightning, with its normalisation and store schema)."""

    def on_fit_end(self, trainer, pl_module) -> None:
        log_dir = trainer.log_dir  # a collective under DDP: every rank asks
        if not trainer.is_global_zero or log_dir is None:
            return
        out = Path(log_dir) / "model.pt"
        best = getattr(trainer.checkpoint_callback, "best_model_path", "")
        if best and Path(best).is_file():
            SymAE.load(best).save(out)
        else:
            pl_module.model.save(out)
        log.info("exported model to %s", out)
