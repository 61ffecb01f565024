"""Crash safety: SIGKILL in the middle of ingest and redatum writes, then rerun;
determinism of training."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import torch

from symae_seis.catalog import load_catalog
from symae_seis.cli.train import cli
from symae_seis.ingest import build_store, store_is_fresh
from symae_seis.io import open_store, write_segy

from .conftest import fit_args, write_catalog

REPO = Path(__file__).resolve().parents[1]


def _killed(script: str) -> subprocess.CompletedProcess:
    # the pipes close only when every process holding them is gone: an orphaned helper
    # of the killed process times this out
    res = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == -9, res.stderr[-2000:]
    return res


def test_ingest_killed_mid_write_leaves_no_store_and_rerun_completes(tmp_path):
    rng = np.random.default_rng(0)
    n_shot, c, ns = 400, 48, 500  # ~40 MB: several blocks
    x = rng.normal(size=(n_shot * c, ns)).astype(np.float32)
    write_segy(
        tmp_path / "big.sgy",
        x,
        {"FieldRecord": np.repeat(np.arange(n_shot), c), "offset": np.tile(np.arange(c), n_shot)},
        2000,
    )
    cat = write_catalog(tmp_path, {"big": {"surveys": {"s": "big.sgy"}, "store": "big.h5"}})
    _killed(f"""
        import os, signal, time
        import symae_seis.io.store as S
        import symae_seis.ingest.segy as G
        from symae_seis.catalog import load_catalog
        from symae_seis.ingest import build_store
        import symae_seis.ingest.build as B
        import symae_seis.ingest.segy_headers as H
        G.BLOCK_BYTES = H.BLOCK_BYTES = 4 << 20
        sha = B.file_sha256
        def slow_sha(*a, **k):      # the checksum child is still reading when we die
            time.sleep(5)
            return sha(*a, **k)
        B.file_sha256 = slow_sha
        orig = S.StoreWriter.write_slab
        calls = []
        def write_slab(self, *a, **k):
            orig(self, *a, **k)
            calls.append(1)
            if len(calls) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        S.StoreWriter.write_slab = write_slab
        build_store(load_catalog({str(cat)!r})["big"])
    """)
    store = tmp_path / "big.h5"
    assert not store.exists()  # no truncated store
    assert len(list(tmp_path.glob(".big.h5.tmp-*"))) == 1  # only the dead temporary
    e = load_catalog(cat)["big"]
    assert not store_is_fresh(e)[0]
    build_store(e)
    assert list(tmp_path.glob(".big.h5.tmp-*")) == []  # cleaned by the rerun
    np.testing.assert_array_equal(open_store(store).gathers.values.reshape(-1, ns), x)


def test_redatum_killed_mid_write_then_rerun(tmp_path, trained_run, small_catalog):
    store = load_catalog(small_catalog)["small"].store
    build_store(load_catalog(small_catalog)["small"]) if not store.exists() else None
    out = tmp_path / "out"
    _killed(f"""
        import os, signal
        import symae_seis.redatum as R
        import symae_seis.io.segy_write as W
        orig = W.SegyWriter.write
        def write(self, *a, **k):
            orig(self, *a, **k)
            os.kill(os.getpid(), signal.SIGKILL)
        W.SegyWriter.write = write
        R.redatum({str(trained_run / "model.pt")!r}, {str(store)!r}, {str(out)!r},
                  batch_size=8)
    """)
    finals = ["virtual.sgy", "residual.sgy", "residual_decoder.sgy", "redatum.nc", "qc.csv"]
    assert not any((out / f).exists() for f in finals)  # nothing truncated in place
    from symae_seis.redatum import redatum

    res = redatum(trained_run / "model.pt", store, out, batch_size=8)
    assert all((out / f).is_file() for f in finals)
    assert [p.name for p in out.iterdir() if ".tmp-" in p.name] == []
    assert res.files["virtual"].stat().st_size > 0


def test_same_seed_same_weights(small_catalog, tmp_path):
    args = ["--trainer.max_epochs", "1", "--data.repeats", "2"]
    cli(fit_args(small_catalog, tmp_path / "a", *args))
    cli(fit_args(small_catalog, tmp_path / "b", *args))
    a = torch.load(tmp_path / "a" / "checkpoints" / "last.ckpt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=False)
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k  # bitwise on CPU
    cli(fit_args(small_catalog, tmp_path / "c", *args, "--seed_everything", "1"))
    c = torch.load(tmp_path / "c" / "checkpoints" / "last.ckpt", weights_only=False)
    assert any(not torch.equal(a["state_dict"][k], c["state_dict"][k]) for k in a["state_dict"])
