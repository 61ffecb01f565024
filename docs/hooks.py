"""MkDocs hook: the benchmark pages, generated from ``benchmarks/results/`` when the site is
built (tables are never typed by hand; see ``symae_seis.bench.results``)."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

from symae_seis.bench.results import BENCHES, scan
from symae_seis.bench.tables import render

ROOT = Path(__file__).resolve().parents[1]


def on_files(files: Files, config) -> Files:
    results = scan(ROOT / "benchmarks" / "results")
    figures = {}
    for r in results:
        fig = r.file("figure")
        if fig is not None:
            uri = f"benchmarks/figures/{r.bench}/{r.path.name}.png"
            files.append(File.generated(config, uri, abs_src_path=str(fig)))
            figures[r.path] = f"figures/{r.bench}/{r.path.name}.png"
    for bench in BENCHES:
        files.append(
            File.generated(
                config, f"benchmarks/{bench}.md", content=render(bench, results, figures)
            )
        )
    return files
