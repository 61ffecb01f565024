"""The README's main job on the embedded default (short training), then the QC notebook
executed headless on its output."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient

from symae_seis.cli.demo import main as demo_main

REPO = Path(__file__).resolve().parents[1]


def _with_paths(redatum_dir, store, truth):
    """The QC notebook with its one paths cell (tagged ``parameters``) set, as a user (or
    papermill) sets it."""
    nb = nbformat.read(REPO / "notebooks" / "residual_qc.ipynb", as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1 and "redatum_dir =" in cells[0].source
    cells[0].source = f"redatum_dir = {str(redatum_dir)!r}\nstore = {str(store)!r}\n" + (
        f"truth = {str(truth)!r}" if truth is not None else "truth = None"
    )
    return nb


def test_demo_then_notebook(tmp_path, capsys, monkeypatch):
    # the repo's own demo4d entry, with its files and store under tmp_path
    repo_cat = yaml.safe_load((REPO / "data_catalog.yaml").read_text())
    cat = tmp_path / "data_catalog.yaml"
    cat.write_text(yaml.safe_dump({"datasets": {"demo4d": repo_cat["datasets"]["demo4d"]}}))
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    # a path test: one epoch and a short code fit (the demo's quality is benchmarked)
    assert (
        demo_main(
            ["--catalog", str(cat), "--out", str(out), "--epochs", "1", "--refine-steps", "10"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "NRMS against truth" in printed
    for rel in (
        "run/loss.png",
        "run/model.pt",
        "run/config.yaml",
        "redatum/virtual.sgy",
        "redatum/residual.sgy",
        "redatum/redatum.nc",
        "redatum/qc.csv",
        "redatum/nrms_along_key.png",
        "redatum/truth_scores.csv",
        "redatum/qc/repeatability.csv",  # symae-qc's products, made without truth
        "redatum/qc/qc4d.nc",
        "redatum/qc/residual_section.png",
        "redatum/qc/time_shift_strain.png",
    ):
        assert (out / rel).is_file(), rel
    with open(out / "redatum" / "truth_scores.csv") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == [
        "zone",
        "metric",
        "virtual",
        "raw_monitor",
        "best_baseline",
        "best_baseline_name",
    ]
    assert [(r["zone"], r["metric"]) for r in rows] == [
        (z, m) for z in ("all", "outside", "inside") for m in ("gather", "live_trace", "trace")
    ]
    for r in rows:  # every value a percentage, the best baseline named
        assert 0 <= float(r["virtual"]) < 250 and 0 <= float(r["raw_monitor"]) < 250
        assert r["best_baseline_name"].startswith(("(a)", "(e)"))
    # a second run does not clobber the first without --overwrite
    assert demo_main(["--catalog", str(cat), "--out", str(out), "--epochs", "1"]) == 2
    assert "--overwrite" in capsys.readouterr().err

    nb = _with_paths(
        out / "redatum", tmp_path / "stores" / "demo4d.h5", tmp_path / "data/demo4d/truth.h5"
    )
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "median NRMS before" in text and "NRMS(virtual, truth)" in text
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert len(images) == 3

    # the same notebook run from notebooks/ (as nbconvert does) with a truth file of
    # another survey: it must refuse to score rather than compare against the wrong truth
    from symae_seis.synth import Conv4DParams, make_conv4d_survey

    other = make_conv4d_survey(
        tmp_path / "other", Conv4DParams(n_cdp=3, shots_per_cdp=2, channels=6, samples=40)
    )
    nb = _with_paths(out / "redatum", tmp_path / "stores" / "demo4d.h5", other["truth"])
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO / "notebooks")}},
    ).execute()
    text = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "not scored against truth" in text and "another dataset" in text
    assert "NRMS(virtual, truth)" not in text
