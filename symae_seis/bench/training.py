"""Training for the benchmarks, as a user runs it: ``symae-train``'s own parser
(:class:`~symae_seis.training.cli.SymAECLI` with ``run=False``) on the shipped config,
only the dataset changed (and the options a benchmark names)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

from ..training import SymAELit
from ..training.cli import cli
from .options import MODEL_KEYS

__all__ = ["shipped_config", "train"]


def shipped_config() -> Path:
    """The shipped training config (``symae_seis/configs/demo4d.yaml``)."""
    return Path(str(resources.files("symae_seis.configs").joinpath("demo4d.yaml")))


def _value(v: Any) -> str:
    # a string goes as it is: JSON quotes would reach a Literal option as part of its value
    return v if isinstance(v, str) else json.dumps(v)


def train(
    catalog: Path,
    dataset: str,
    *,
    epochs: int | None = None,
    seed: int = 0,
    run_dir: Path | None = None,
    model: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    precision: str = "32-true",
    config: Path | None = None,
) -> tuple[SymAELit, float]:
    """Train on ``dataset`` of ``catalog`` with the shipped config (or ``config``; None
    and ``False`` for no config file), the shipped epochs unless ``epochs``; ``model``
    overrides model or training options by name, ``data`` the DataModule's. The run
    folder (default: ``<catalog folder>/run``) is replaced. Returns the trained
    LightningModule and the seconds ``fit`` took."""
    run_dir = Path(run_dir or Path(catalog).parent / "run")
    shutil.rmtree(run_dir, ignore_errors=True)
    args = [] if config is False else ["--config", str(config or shipped_config())]
    args += [
        "--data.dataset",
        dataset,
        "--data.catalog",
        str(catalog),
        "--run_dir",
        str(run_dir),
        "--seed_everything",
        str(seed),
        "--trainer.precision",
        precision,
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.enable_model_summary",
        "false",
    ]
    if epochs is not None:
        args += ["--trainer.max_epochs", str(epochs)]
    for key, value in (model or {}).items():
        group = "model.config" if key in MODEL_KEYS else "model"
        args += [f"--{group}.{key}", _value(value)]
    for key, value in (data or {}).items():
        args += [f"--data.{key}", _value(value)]
    argv, sys.argv = sys.argv, sys.argv[:1]  # the benchmark's own arguments are not ours
    try:
        c = cli(args, run=False)
    finally:
        sys.argv = argv
    t0 = time.perf_counter()
    c.trainer.fit(c.model, c.datamodule)
    return c.model, time.perf_counter() - t0
