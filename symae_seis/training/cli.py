"""The LightningCLI behind ``symae-train`` (and the demo's training step): data-to-model
links, run folders that are never overwritten, loggers, GPU precision defaults."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from .callbacks import ExportModel, LossCurvePlot
from .datamodule import SymAEDataModule
from .module import SymAELit

__all__ = ["SymAECLI", "RunFolderError", "cli"]


class RunFolderError(FileExistsError):
    """The run folder already holds a run and no resume was asked for."""


class SymAECLI(LightningCLI):
    """LightningCLI with the data-to-model links, run folders and GPU defaults."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--run_dir", type=str | None, default=None,
                            help="run folder (default: runs/<dataset>)")
        for key in ("channels", "samples", "scale", "schema", "design_window"):
            parser.link_arguments(f"data.{key}", f"model.{key}", apply_on="instantiate")

    def instantiate_trainer(self, **kwargs):
        cfg = self.config[self.subcommand] if self.subcommand else self.config
        run_dir = Path(cfg.get("run_dir") or Path("runs") / cfg["data"]["dataset"])
        ckpt = cfg.get("ckpt_path")
        if self.subcommand == "fit":
            existing = run_dir / "checkpoints"
            if ckpt is None and existing.is_dir() and any(existing.iterdir()):
                raise RunFolderError(
                    f"run folder {run_dir} already holds a run ({existing}); resume it with "
                    "--ckpt_path last, or choose another --run_dir"
                )
            if ckpt is not None:
                self.save_config_kwargs["overwrite"] = True
                # CSVLogger starts metrics.csv afresh: keep the interrupted part beside it
                old = run_dir / "metrics.csv"
                if old.is_file():
                    k = len(list(run_dir.glob("metrics.part-*.csv")))
                    old.rename(run_dir / f"metrics.part-{k:02d}.csv")
        trainer_cfg = self._get(self.config_init, "trainer", default={})
        if trainer_cfg.get("logger") in (None, True):
            kwargs["logger"] = [
                CSVLogger(save_dir=str(run_dir), name="", version=""),
                TensorBoardLogger(save_dir=str(run_dir), name="", version="",
                                  default_hp_metric=False),
            ]
        if trainer_cfg.get("precision") is None:
            accel = str(trainer_cfg.get("accelerator", "auto"))
            if torch.cuda.is_available() and accel in ("auto", "gpu", "cuda"):
                kwargs["precision"] = "bf16-mixed"
        kwargs.setdefault("default_root_dir", str(run_dir))
        return super().instantiate_trainer(**kwargs)


def _trainer_defaults() -> dict:
    return {
        "max_epochs": 10,
        "log_every_n_steps": 1,
        "callbacks": [
            ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=1, save_last=True,
                            filename="best-{epoch:03d}-{val_loss:.5f}"),
            LossCurvePlot(),
            ExportModel(),
        ],
    }


def cli(args: list[str] | None = None, run: bool = True) -> SymAECLI:
    """Build (and by default run) the CLI; ``args`` as on the command line."""
    return SymAECLI(SymAELit, SymAEDataModule, trainer_defaults=_trainer_defaults(),
                    seed_everything_default=0, save_config_kwargs={"overwrite": False},
                    args=args, run=run)
