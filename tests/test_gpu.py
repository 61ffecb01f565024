"""GPU checks: skipped, with the reason, where no CUDA device is present."""

from __future__ import annotations

import pytest
import torch

from symae_seis.cli.train import cli
from symae_seis.models import SymAE, check_permutation_invariance

from .conftest import fit_args

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine"),
]


def test_gpu_training_uses_bf16_mixed(small_catalog, tmp_path):
    c = cli(fit_args(small_catalog, tmp_path / "gpu", "--trainer.max_epochs", "2",
                     "--trainer.accelerator", "gpu", "--trainer.devices", "1"))
    assert c.trainer.precision == "bf16-mixed"
    assert c.trainer.state.finished
    m = SymAE.load(tmp_path / "gpu" / "model.pt")
    assert m.config["channels"] == 8


def test_permutation_invariance_on_gpu():
    m = SymAE(8, 64, width=4, hidden=16).cuda()
    x = torch.randn(2, 6, 8, 64, device="cuda")
    assert check_permutation_invariance(m, x, atol=1e-4) < 1e-4
