"""Shared fixtures: tiny surveys built in code, catalogs written to tmp folders."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from symae_seis.catalog import load_catalog
from symae_seis.io import write_segy
from symae_seis.synth import Conv4DParams, make_conv4d_survey

REAL_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"

TINY = Conv4DParams(n_cdp=4, shots_per_cdp=3, channels=8, samples=64, seed=1)
# enough datapoints (2 x 16) for a model to generalise to held-out datapoints
SMALL = Conv4DParams(n_cdp=16, shots_per_cdp=4, channels=8, samples=64, seed=1)


def small_segy(path: Path, n: int = 8, ns: int = 20, fr=None, **extra) -> Path:
    """A small SEG-Y of random traces, 4 offsets per FieldRecord, 4 ms (segyio)."""
    x = np.random.default_rng(0).normal(size=(n, ns)).astype(np.float32)
    hdr = {
        "FieldRecord": np.repeat(np.arange(n // 4) + 1, 4) if fr is None else fr,
        "offset": np.tile([10, 20, 30, 40], n // 4),
        **extra,
    }
    return write_segy(path, x, hdr, 4000, overwrite=True)


def write_catalog(folder: Path, datasets: dict) -> Path:
    """Write ``data_catalog.yaml`` into ``folder`` and return its path."""
    path = Path(folder) / "data_catalog.yaml"
    path.write_text(yaml.safe_dump({"datasets": datasets}, sort_keys=False))
    return path


def entry(folder: Path, name: str = "ds", **raw):
    """Validated catalog entry for one dataset written into ``folder``."""
    return load_catalog(write_catalog(folder, {name: raw}))[name]


@pytest.fixture(scope="session")
def tiny_survey(tmp_path_factory) -> dict[str, Path]:
    """4 CDPs x 3 shots x 8 offsets x 64 samples, baseline and monitor SEG-Y + truth."""
    out = tmp_path_factory.mktemp("tiny")
    return make_conv4d_survey(out, TINY)


@pytest.fixture(scope="session")
def small_survey(tmp_path_factory) -> dict[str, Path]:
    """16 CDPs x 4 shots x 8 offsets x 64 samples, baseline and monitor SEG-Y + truth."""
    return make_conv4d_survey(tmp_path_factory.mktemp("small"), SMALL)


@pytest.fixture(scope="session")
def small_catalog(tmp_path_factory, small_survey) -> Path:
    return write_catalog(
        tmp_path_factory.mktemp("small_cat"),
        {
            "small": {
                "surveys": {
                    "baseline": str(small_survey["baseline"]),
                    "monitor": str(small_survey["monitor"]),
                },
                "datapoint_key": ["CDP"],
                "design_window_ms": [0, 100],
            }
        },
    )


# small model, fast epochs on the SMALL survey
FAST_TRAIN = [
    "--model.config.width",
    "8",
    "--model.config.hidden",
    "64",
    "--model.config.coherent_dim",
    "8",
    "--model.config.nuisance_dim",
    "8",
    "--data.instances",
    "3",
    "--data.batch_size",
    "8",
    "--data.val_fraction",
    "0.25",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
]


def fit_args(catalog: Path, run_dir: Path, *extra: str, dataset: str = "small") -> list[str]:
    return [
        "fit",
        "--data.dataset",
        dataset,
        "--data.catalog",
        str(catalog),
        "--run_dir",
        str(run_dir),
        *FAST_TRAIN,
        *extra,
    ]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, small_catalog) -> Path:
    """One real training run (20 epochs, about a minute on 2 cores), shared by tests."""
    from symae_seis.cli.train import cli

    run = tmp_path_factory.mktemp("trained") / "run"
    cli(
        fit_args(
            small_catalog,
            run,
            "--trainer.max_epochs",
            "20",
            "--data.repeats",
            "4",
            "--model.lr",
            "0.003",
        )
    )
    return run


@pytest.fixture()
def tiny_entry(tmp_path, tiny_survey):
    return entry(
        tmp_path,
        "tiny",
        surveys={"baseline": str(tiny_survey["baseline"]), "monitor": str(tiny_survey["monitor"])},
        instance_key="FieldRecord",
        channel_key="offset",
        datapoint_key=["CDP"],
    )


@pytest.fixture()
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"shared real data folder {REAL_DATA} not present")
    return REAL_DATA


def leftovers(folder: Path) -> list[str]:
    """Temporary files an atomic writer might have left behind."""
    return [f for f in os.listdir(folder) if ".tmp-" in f]


def assert_message(err: pytest.ExceptionInfo, *parts: str) -> None:
    msg = str(err.value)
    for p in parts:
        assert str(p) in msg, f"{p!r} not in error message {msg!r}"


rng = np.random.default_rng
