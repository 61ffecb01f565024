"""The demo reproduces its recorded figures (slow: the whole demo, about 4 minutes on one
thread; ``pytest -m slow``). Run as recorded, on one thread: another thread count sums in
another order and moves the figures by a few hundredths of a point."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import torch

from symae_seis.bench.results import scan

REPO = Path(__file__).resolve().parents[1]


def _scores(path: Path) -> dict[tuple[str, str], float]:
    with open(path, newline="") as fh:
        return {(r["zone"], r["metric"]): float(r["virtual"]) for r in csv.DictReader(fh)}


@pytest.mark.slow
def test_demo_reproduces_the_recorded_truth_scores(tmp_path, request):
    from symae_seis.cli.demo import main

    recorded = [
        r
        for r in scan(REPO / "benchmarks" / "results")
        if r.bench == "demo" and r.meta["device"] == "cpu" and r.file("metrics")
    ]
    assert recorded, "no CPU demo result recorded in benchmarks/results/demo"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as recorded (OMP_NUM_THREADS=1): sums in the same order
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    catalog = tmp_path / "data_catalog.yaml"  # the shipped catalog; its data and store here
    shutil.copyfile(REPO / "data_catalog.yaml", catalog)
    assert main(["--out", str(tmp_path / "demo"), "--catalog", str(catalog)]) == 0
    got = _scores(tmp_path / "demo" / "redatum" / "truth_scores.csv")
    want = _scores(recorded[0].file("metrics"))
    assert got.keys() == want.keys()
    for key, value in want.items():  # to the reported digit (0.1 NRMS point)
        assert round(got[key], 1) == round(value, 1), (key, got[key], value)
