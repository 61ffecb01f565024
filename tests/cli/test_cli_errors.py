"""Commands that never surprise: every user error is one line and exit status 2, the
cheap checks come before the expensive ones, options that would do nothing are errors,
and progress in a log is plain lines. Each command runs as a subprocess, as a user runs
it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import symae_seis


def _run(module: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"symae_seis.cli.{module}", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def _one_error_line(res: subprocess.CompletedProcess, prog: str, *parts: str) -> str:
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(f"{prog}: error:")]
    assert len(errors) == 1 and "Traceback" not in res.stderr, res.stderr
    for part in parts:
        assert part in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    from symae_seis.models import SymAE

    return SymAE(4, 32, width=4, hidden=8).save(tmp_path_factory.mktemp("m") / "model.pt")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_one_line(tmp_path, model_file):
    res = _run("redatum", str(model_file), "--store", "nowhere.h5", "--device", "cuda")
    _one_error_line(res, "symae-redatum", "'cuda'", "--device cpu")
    res = _run("infill", str(model_file), "--store", "nowhere.h5", "--device", "cuda:3")
    _one_error_line(res, "symae-infill", "'cuda:3'")
    res = _run("redatum", str(model_file), "--store", "nowhere.h5", "--device", "gpu9")
    _one_error_line(res, "symae-redatum", "'gpu9' is not a device")


def test_non_model_files_named_plainly(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")
    res = _run("redatum", str(text), "--store", "nowhere.h5", "--device", "cpu")
    line = _one_error_line(res, "symae-redatum", "notes.txt", "not a model file")
    assert "weights_only" not in res.stderr and "Weights only" not in line
    # a PyTorch file holding arbitrary objects: not loaded, said so
    import torch

    odd = tmp_path / "odd.pt"
    torch.save({"obj": Path("x")}, odd)
    res = _run("redatum", str(odd), "--store", "nowhere.h5", "--device", "cpu")
    _one_error_line(res, "symae-redatum", "odd.pt", "more than a symae-seis model")
    assert "weights_only" not in res.stderr


def test_missing_model_reported_before_the_store_is_built(tmp_path):
    """The catalog here does not even exist: the missing model is the first thing said."""
    res = _run(
        "redatum", "missing.pt", "--dataset", "demo4d", "--catalog", "none.yaml", cwd=tmp_path
    )
    _one_error_line(res, "symae-redatum", "missing.pt", "does not exist")
    assert not (tmp_path / "data").exists()


def test_options_that_would_do_nothing_and_abbreviations_are_errors(model_file):
    res = _run("redatum", str(model_file), "--store", "s.h5", "--surveys", "monitor")
    _one_error_line(res, "symae-redatum", "--surveys", "--reference")
    res = _run("redatum", str(model_file), "--store", "s.h5", "--overwrit")
    _one_error_line(res, "symae-redatum", "unrecognized arguments: --overwrit")
    res = _run("ingest", "demo4d", "--rebuil")
    _one_error_line(res, "symae-ingest", "--rebuil")


@pytest.mark.parametrize("module", ["redatum", "infill", "ingest", "synth", "demo", "qc", "train"])
def test_version(module):
    res = _run(module, "--version")
    assert res.returncode == 0 and res.stdout.strip().endswith(symae_seis.__version__)


def test_quiet_and_log_file_and_plain_progress(tmp_path, small_catalog):
    """Not a terminal: progress as plain lines (no carriage returns) in the log file;
    ``--quiet``: no progress and no info at all."""
    log = tmp_path / "ingest.log"
    res = _run(
        "ingest", "small", "--catalog", str(small_catalog), "--rebuild", "--log-file", str(log)
    )
    assert res.returncode == 0, res.stderr
    assert "\r" not in res.stderr and "ingest: " in res.stderr
    text = log.read_text()
    assert "\r" not in text and "INFO symae_seis.progress: ingest:" in text and "done" in text
    res = _run("ingest", "small", "--catalog", str(small_catalog), "--rebuild", "--quiet")
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr
    res = _run("ingest", "small", "--catalog", str(small_catalog), "-q", "-v")
    _one_error_line(res, "symae-ingest", "not allowed with argument")
