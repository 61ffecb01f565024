"""The results layout: a run recorded with its provenance, read back, rendered into the
documentation's tables and the README's headline; the repository's own results are all
well-formed and the README's headline table is the one they generate."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from symae_seis.bench.results import ResultsError, record, scan
from symae_seis.bench.tables import headline, readme_with_headline, render

REPO = Path(__file__).resolve().parents[2]


def _quality_csv(path: Path, symae: float, best: float) -> Path:
    rows = []
    for method, out in (
        ("SymAE virtual", symae),
        ("(e) equalise + stack", best),
        ("raw monitor", 100.0),
    ):
        for zone, value in (("outside", out), ("inside", out + 1)):
            rows.append(
                {
                    "survey": "conv4d",
                    "method": method,
                    "zone": zone,
                    "metric": "gather",
                    "value": value,
                    "seed": 0,
                    "design_window_ms": "0-216",
                }
            )
    rows.append(
        {
            "survey": "conv4d",
            "method": "SymAE virtual",
            "zone": "inside",
            "metric": "rel_l2_4d",
            "value": 0.05,
            "seed": 0,
            "design_window_ms": "0-216",
        }
    )
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_record_scan_render(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("median NRMS ...\n")
    folder = record(
        "quality",
        command="python scripts/bench/quality.py --surveys conv4d",
        root=tmp_path / "results",
        metrics=_quality_csv(tmp_path / "q.csv", 2.1, 8.3),
        log=log,
        tag="conv4d",
    )
    meta = json.loads((folder / "meta.json").read_text())
    assert folder.name.startswith(meta["date"]) and folder.name.endswith("_cpu_conv4d")
    assert meta["environment"]["torch"] and meta["command"].startswith("python scripts")
    assert (folder / "metrics.csv").is_file() and (folder / "log.txt").is_file()
    results = scan(tmp_path / "results")
    assert [r.path for r in results] == [folder]
    page = render("quality", results)
    assert "| SymAE virtual | 2.1 | 3.1 |" in page and meta["commit"] in page
    table = headline(results)
    assert "| conv4d | 2.1 | 3.1 | (e) equalise + stack | 8.3 | 9.3 | 0.05 |" in table
    with pytest.raises(ResultsError, match="exists already"):
        record(
            "quality",
            command="x",
            root=tmp_path / "results",
            tag="conv4d",
            meta={"date": meta["date"], "commit": meta["commit"]},
        )
    with pytest.raises(ResultsError, match="does not exist"):
        record("quality", command="x", root=tmp_path / "results", log=tmp_path / "no.txt")
    with pytest.raises(ResultsError, match="unknown benchmark"):
        record("qualty", command="x", root=tmp_path / "results")
    assert not list((tmp_path / "results" / "quality").glob(".*tmp*"))


def test_a_folder_without_provenance_is_refused(tmp_path):
    (tmp_path / "quality" / "2026-01-01_abc_cpu").mkdir(parents=True)
    with pytest.raises(ResultsError, match="no meta.json"):
        scan(tmp_path)


def test_the_repository_results_are_well_formed_and_the_readme_is_up_to_date():
    results = scan(REPO / "benchmarks" / "results")
    assert {r.bench for r in results} >= {"quality", "passive", "infill"}
    for r in results:
        assert r.path.name.startswith(f"{r.meta['date']}_"), r.path
        assert any(r.file(role) for role in ("metrics", "log", "figure")), r.path
    readme = (REPO / "README.md").read_text()
    assert readme_with_headline(readme, headline(results)) == readme, (
        "README headline table is stale: run python scripts/bench/record.py --readme"
    )
