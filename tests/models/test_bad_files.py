"""Truncated, foreign and garbage model files and checkpoints: one ModelFileError."""

from __future__ import annotations

import pytest
import torch

from symae_seis.models import ModelFileError, SymAE


@pytest.mark.parametrize("kind", ["truncated", "foreign", "other_model", "garbage"])
def test_bad_checkpoints(kind, tmp_path):
    m = SymAE(8, 32, width=4, hidden=8)
    p = tmp_path / "m.pt"
    m.save(p)
    if kind == "truncated":
        p.write_bytes(p.read_bytes()[:2000])
        parts = ["truncated or corrupt"]
    elif kind == "foreign":
        torch.save({"state_dict": m.state_dict()}, p)
        parts = ["not a symae-seis model"]
    elif kind == "other_model":
        blob = m.export()
        blob["config"]["hidden"] = 16
        torch.save(blob, p)
        parts = ["weights do not fit"]
    else:
        p.write_bytes(b"\x80\x04garbage" * 50)
        parts = ["truncated or corrupt"]
    with pytest.raises(ModelFileError) as err:
        SymAE.load(p)
    for part in [str(p), *parts]:
        assert part in str(err.value)
