"""The quality benchmark's fast version: tiny convolutional survey, a short training,
SymAE's virtual gathers must beat the raw monitor against the truth."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench" / "quality.py"


def _load():
    spec = importlib.util.spec_from_file_location("quality_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fast_quality_benchmark_beats_raw_monitor(tmp_path):
    q = _load()
    rows = q.run_4d("conv4d", tmp_path, epochs=30, small=True, seed=0)

    def get(method, zone):
        return next(r for r in rows if r["method"] == method and r["zone"] == zone
                    and r["window"] == "whole")

    for zone in ("outside", "inside"):
        assert get("SymAE virtual", zone)["nrms_median"] < get("raw monitor", zone)["nrms_median"]
    # every conventional method was run and scored on the same traces
    methods = {r["method"] for r in rows}
    assert {"(a) static + scalar", "(b) global matching filter", "(c) trace matching filters",
            "(d) DTW + (c)"} <= methods
    assert "rel_l2_4d" in get("SymAE virtual", "inside")
