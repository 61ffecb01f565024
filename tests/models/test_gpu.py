"""GPU checks: skipped, with the reason, where no CUDA device is present."""

from __future__ import annotations

import pytest
import torch

from symae_seis.cli.train import cli
from symae_seis.models import SymAE, check_permutation_invariance

from ..conftest import fit_args

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine"),
]


def test_gpu_training_uses_bf16_mixed(small_catalog, tmp_path):
    c = cli(
        fit_args(
            small_catalog,
            tmp_path / "gpu",
            "--trainer.max_epochs",
            "2",
            "--trainer.accelerator",
            "gpu",
            "--trainer.devices",
            "1",
        )
    )
    assert c.trainer.precision == "bf16-mixed"
    assert c.trainer.state.finished
    m = SymAE.load(tmp_path / "gpu" / "model.pt")
    assert m.config["channels"] == 8


def test_permutation_invariance_on_gpu():
    # exact in float64 (the pooling's logic); in float32 the least-squares pooling
    # amplifies rounding to a few 1e-4 of the code's RMS, on CPU too (4.7e-4 here), and
    # cuDNN's default TF32 convolutions round further, so they are switched off
    x = torch.randn(2, 6, 8, 64, device="cuda")
    m = SymAE(8, 64, width=4, hidden=16).cuda()
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        assert check_permutation_invariance(m, x, atol=2e-3) < 2e-3
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    assert check_permutation_invariance(m.double(), x.double(), atol=1e-10) < 1e-10


def test_workers_feed_the_gpu_and_not_the_cpu(small_catalog, tmp_path):
    c = cli(
        fit_args(
            small_catalog,
            tmp_path / "w",
            "--trainer.max_epochs",
            "1",
            "--trainer.accelerator",
            "gpu",
            "--trainer.devices",
            "1",
        )
    )
    assert c.datamodule.workers() >= 1
    assert c.trainer.train_dataloader.num_workers == c.datamodule.workers()
