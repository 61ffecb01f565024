"""symae-select: candidate families trained on one dataset, the one that reconstructs the
recorded shots best kept (real trainings and redatumings on the small survey)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from symae_seis.cli.select import main
from symae_seis.models import SymAE
from tests.conftest import FAST_TRAIN

TRAIN = ["--", *FAST_TRAIN, "--trainer.max_epochs", "2"]


@pytest.fixture(scope="module")
def selection(tmp_path_factory, small_catalog):
    run = tmp_path_factory.mktemp("select") / "run"
    argv = ["small", "--catalog", str(small_catalog), "--run-dir", str(run), "-q"]
    assert main([*argv, "--families", "shipped", "min_phase", *TRAIN]) == 0
    return run, argv


def _rows(run):
    with open(run / "selection.csv") as f:
        return list(csv.DictReader(f))


def test_the_best_reconstruction_is_chosen_and_copied(selection):
    run, _ = selection
    rows = _rows(run)
    assert sorted(r["family"] for r in rows) == ["min_phase", "shipped"]
    recon = [float(r["nrms_recon_recorded"]) for r in rows]
    assert recon == sorted(recon) and 0 < recon[0] < 100
    assert [r["chosen"] for r in rows] == ["1", "0"]
    chosen = rows[0]["family"]
    assert (run / "model.pt").read_bytes() == (run / chosen / "model.pt").read_bytes()
    # each candidate is the family it says, and its score is its own qc.csv's median
    for r in rows:
        cfg = SymAE.load(run / r["family"] / "model.pt").config
        assert cfg["min_phase"] is (r["family"] == "min_phase")
        with open(run / r["family"] / "fit" / "qc.csv") as f:
            per_dp = [float(q["nrms_recon_recorded"]) for q in csv.DictReader(f)]
        assert float(r["nrms_recon_recorded"]) == pytest.approx(np.median(per_dp), abs=2e-3)


def test_a_second_selection_keeps_the_first_unless_told(selection, capsys):
    run, argv = selection
    before = {f: (run / f / "model.pt").stat().st_mtime_ns for f in ("shipped", "min_phase")}
    choice = (run / "model.pt").read_bytes()
    assert main([*argv, "--families", "shipped", "min_phase", *TRAIN]) == 2
    err = capsys.readouterr().err
    assert "selection.csv exists" in err and "--overwrite" in err
    assert (run / "model.pt").read_bytes() == choice
    # --overwrite scores the trained candidates again, without retraining them
    assert main([*argv, "--families", "shipped", "min_phase", "--overwrite", *TRAIN]) == 0
    after = {f: (run / f / "model.pt").stat().st_mtime_ns for f in before}
    assert after == before
    assert all(r["train_seconds"] == "nan" for r in _rows(run))


def test_an_unknown_family_is_named(small_catalog, tmp_path, capsys):
    argv = ["small", "--catalog", str(small_catalog), "--run-dir", str(tmp_path / "r")]
    assert main([*argv, "--families", "shipped", "minphase"]) == 2
    err = capsys.readouterr().err
    assert "minphase" in err and "min_phase" in err
    assert not (tmp_path / "r").exists()


def test_bad_input_is_one_line_before_anything_trains(small_catalog, tmp_path, capsys):
    run = tmp_path / "r"
    argv = ["small", "--catalog", str(small_catalog), "--run-dir", str(run)]
    assert main([*argv, "--coherent-from", "monitr", *TRAIN]) == 2
    assert "monitr" in capsys.readouterr().err and not run.exists()
    assert main([*argv, "--families", "shipped", "--", "--trainer.max_epoch", "2"]) == 2
    err = capsys.readouterr().err
    assert "max_epoch" in err and "Traceback" not in err
    # a candidate killed before its first checkpoint: named, not silently retrained
    (run / "warp").mkdir(parents=True, exist_ok=True)
    (run / "warp" / "config.yaml").write_text("data: {dataset: small}\n")
    assert main([*argv, "--families", "warp", *TRAIN]) == 2
    assert f"{run / 'warp'} holds an unfinished candidate" in capsys.readouterr().err
