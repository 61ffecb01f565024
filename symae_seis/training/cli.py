"""The LightningCLI behind ``symae-train`` (and the demo's training step): data-to-model
links, run folders that are never overwritten, loggers, GPU precision defaults."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from ..errors import SymaeWarning
from ..models.config import OPTION_NAMES
from .callbacks import EpochLines, ExportModel, LossCurvePlot
from .datamodule import SymAEDataModule
from .module import SymAELit
from .upgrade import pin_auto_options, upgrade_hparams

__all__ = ["SymAECLI", "RunFolderError", "cli"]


class RunFolderError(FileExistsError):
    """The run folder already holds a run and no resume was asked for."""


class SymAECLI(LightningCLI):
    """LightningCLI with the data-to-model links, run folders and GPU defaults."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--run_dir", type=str | None, default=None, help="run folder (default: runs/<dataset>)"
        )
        for key in ("channels", "samples", "scale", "schema", "design_window"):
            parser.link_arguments(f"data.{key}", f"model.{key}", apply_on="instantiate")

    def _parse_ckpt_path(self) -> None:
        """Lightning's reading of a checkpoint's hyperparameters into the config, with
        those of older checkpoints upgraded (model options under ``config``)."""
        sub = self.config.get("subcommand")
        ckpt_path = self.config[sub].get("ckpt_path") if sub else None
        if not ckpt_path or not Path(ckpt_path).is_file():
            return
        ckpt = torch.load(ckpt_path, weights_only=True, map_location="cpu")
        hparams = ckpt.get("hyper_parameters", {})
        hparams.pop("_instantiator", None)
        if not hparams:
            return
        hparams = pin_auto_options(
            upgrade_hparams(hparams), (ckpt.get("symae") or {}).get("config")
        )
        try:
            self.config = self.parser.parse_object({sub: {"model": hparams}}, self.config)
        except argparse.ArgumentError as err:
            raise argparse.ArgumentError(
                None, f"{ckpt_path}: its hyperparameters do not fit this release's options: {err}"
            ) from None

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
                TensorBoardLogger(
                    save_dir=str(run_dir), name="", version="", default_hp_metric=False
                ),
            ]
        if trainer_cfg.get("precision") is None:
            accel = str(trainer_cfg.get("accelerator", "auto"))
            if torch.cuda.is_available() and accel in ("auto", "gpu", "cuda"):
                kwargs["precision"] = "bf16-mixed"
        notebook = "ipykernel" in sys.modules
        if trainer_cfg.get("enable_progress_bar") is None and not (sys.stderr.isatty() or notebook):
            kwargs["enable_progress_bar"] = False  # EpochLines logs a line per epoch
        kwargs.setdefault("default_root_dir", str(run_dir))
        return super().instantiate_trainer(**kwargs)


def _trainer_defaults() -> dict:
    return {
        "max_epochs": 10,
        "log_every_n_steps": 1,
        "callbacks": [
            ModelCheckpoint(
                monitor="val_loss",
                mode="min",
                save_top_k=1,
                save_last=True,
                filename="best-{epoch:03d}-{val_loss:.5f}",
            ),
            LossCurvePlot(),
            ExportModel(),
            EpochLines(),
        ],
    }


def _upgrade_config_file(value: str) -> str | None:
    """The YAML of config file ``value`` with a ``model`` section of releases before
    :class:`SymAEConfig` (the model's options flat in it) upgraded; None when nothing
    needs it (or ``value`` is not a readable YAML file)."""
    path = Path(value)
    if not path.is_file():
        return None
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return None  # LightningCLI reports it
    model = doc.get("model") if isinstance(doc, dict) else None
    if not isinstance(model, dict) or not OPTION_NAMES & set(model):
        return None
    return yaml.safe_dump({**doc, "model": upgrade_hparams(model)}, sort_keys=False)


def upgrade_arguments(args: list[str]) -> list[str]:
    """Command lines and config files of releases before :class:`SymAEConfig` named the
    model's options ``--model.width`` (``model: {width: ...}``); they are
    ``--model.config.width`` (``model: {config: {width: ...}}``) now. Rewrites the old
    names, with a warning; an old config file is passed on as its upgraded YAML."""
    out, old = [], []
    for k, a in enumerate(args):
        key, sep, value = a.partition("=")
        name = key[len("--model.") :] if key.startswith("--model.") else None
        if name in OPTION_NAMES:
            old.append(key)
            a = f"--model.config.{name}{sep}{value}"
        elif k and args[k - 1] in ("--config", "-c") or key == "--config" and sep:
            text = _upgrade_config_file(value if sep else a)
            if text is not None:
                old.append(f"the model section of {value if sep else a}")
                a = f"{key}={text}" if sep else text
        out.append(a)
    if old:
        warnings.warn(
            f"{', '.join(old)}: the model's options are --model.config.<name> "
            "(model: {config: {...}} in a config file) since the model config "
            "(SymAEConfig); rewritten",
            SymaeWarning,
            stacklevel=3,
        )
    return out


def cli(args: list[str] | None = None, run: bool = True) -> SymAECLI:
    """Build (and by default run) the CLI; ``args`` as on the command line (default: the
    process's own)."""
    if args is not None or any(a.startswith(("--model.", "--config", "-c")) for a in sys.argv[1:]):
        upgraded = upgrade_arguments(sys.argv[1:] if args is None else list(args))
        if args is not None or upgraded != sys.argv[1:]:
            args = upgraded
    return SymAECLI(
        SymAELit,
        SymAEDataModule,
        trainer_defaults=_trainer_defaults(),
        seed_everything_default=0,
        save_config_kwargs={"overwrite": False},
        # no abbreviated options (--trainer.max_epoch is a typo, not max_epochs), and a
        # bad argument raised to symae-train, which prints it as one line
        parser_kwargs={"allow_abbrev": False, "exit_on_error": False},
        args=args,
        run=run,
    )
