"""The 4D difference against the truth: dead channels left out, SymAE's residual_decoder
read from a redatum.nc in the truth's order, and the conventional parallel difference,
in which what the equalisation cannot match of the baseline shot cancels."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from symae_seis.bench.difference4d import (
    DECODER_4D,
    PARALLEL,
    decoder_4d_row,
    parallel_4d_rows,
    rel_l2_4d,
)


def _truth(rng, n=6, c=4, t=32):
    base = rng.normal(size=(n, c, t))
    d4 = np.zeros_like(base)
    d4[:3, :, 10:20] = rng.normal(size=(3, c, 10))  # the first three pairs changed
    return {
        "virtual": base + d4,
        "baseline_clean": base,
        "changed_pair": np.array([True] * 3 + [False] * 3),
        "virtual_fieldrecord": np.arange(101, 101 + n),
        "virtual_cdp": np.arange(1, n + 1),
    }, d4


def test_rel_l2_4d_leaves_dead_channels_out():
    rng = np.random.default_rng(0)
    truth, d4 = _truth(rng)
    base, m = truth["baseline_clean"], truth["changed_pair"]
    assert rel_l2_4d(base + d4, base, truth["virtual"], m) == 0.0
    assert rel_l2_4d(base, base, truth["virtual"], m) == pytest.approx(1.0)
    est = base + d4
    est[:, 1] = 0.0  # a dead channel, zeroed in the estimate
    assert rel_l2_4d(est, base, truth["virtual"], m) > 0.5
    scored = np.ones(est.shape[:2], bool)
    scored[:, 1] = False
    assert rel_l2_4d(est, base, truth["virtual"], m, scored) == 0.0


def test_decoder_row_reads_the_netcdf_in_the_truths_order(tmp_path):
    rng = np.random.default_rng(1)
    truth, d4 = _truth(rng)
    order = rng.permutation(len(d4))  # the run wrote its pairs in another order
    noisy = d4 + 0.1 * rng.normal(size=d4.shape) * (np.abs(d4) > 0)
    ds = xr.Dataset(
        {
            "residual_decoder": (("pair", "channel", "twt"), noisy[order]),
            "recorded_instance_key": (("pair",), truth["virtual_fieldrecord"][order]),
        }
    )
    nc = tmp_path / "redatum.nc"
    ds.to_netcdf(nc, engine="h5netcdf")
    row = decoder_4d_row(nc, truth, "zooX")
    assert (row["survey"], row["method"], row["metric"]) == ("zooX", DECODER_4D, "rel_l2_4d")
    m = truth["changed_pair"]
    expected = np.linalg.norm((noisy - d4)[m]) / np.linalg.norm(d4[m])
    assert row["value"] == pytest.approx(expected)
    assert 0.05 < row["value"] < 0.2


def test_parallel_difference_cancels_what_both_terms_share():
    rng = np.random.default_rng(2)
    truth, d4 = _truth(rng)
    base = truth["baseline_clean"]
    common = 0.5 * rng.normal(size=base.shape)  # what the equalisation cannot match
    monitor = {"(e) equalise + stack": base + d4 + common, "(x) monitor only": base}
    baselines = {
        "baseline": {"(e) equalise + stack": base + common},
        "baseline_all": {"(e) equalise + stack": base + 0.75 * common},  # 1 of 4: itself
    }
    rows = parallel_4d_rows(monitor, baselines, truth, "zooX")
    assert [r["method"] for r in rows] == [
        "(e) equalise + stack" + PARALLEL,
        "(e) equalise + stack" + PARALLEL + " (shot included)",
    ]
    assert rows[0]["value"] == pytest.approx(0.0, abs=1e-12)
    assert 0.1 < rows[1]["value"] < 0.5  # a quarter of the common error left
    # the same monitor estimate against the recorded baseline keeps the error
    m = truth["changed_pair"]
    assert rel_l2_4d(monitor["(e) equalise + stack"], base, truth["virtual"], m) > 0.5
    assert parallel_4d_rows(monitor, baselines, {**truth, "changed_pair": ~m & m}, "z") == []


def test_baseline_pool_equalises_the_other_shots_of_the_location(small_catalog, small_survey):
    """The conventional parallel difference's second term, on a real SEG-Y store: the
    baseline's other shots of the location (never the shot itself, which would come back
    as it is), under the monitor pool's names; (a) has no baseline counterpart."""
    from symae_seis.bench.difference4d import equalised_both_ways
    from symae_seis.catalog import load_catalog
    from symae_seis.ingest import build_store
    from symae_seis.io.store import StoreReader
    from symae_seis.qc.conventional import conventional_estimates, real_gathers_for_truth
    from symae_seis.qc.metrics import nrms
    from symae_seis.qc.truth import load_truth

    truth = load_truth(small_survey["truth"])
    with StoreReader(build_store(load_catalog(small_catalog)["small"])) as reader:
        gathers = real_gathers_for_truth(reader, truth)
        kw = dict(window=slice(0, 25), max_lag=3, methods=("a", "e", "e_whole"), gathers=gathers)
        mon, pools = equalised_both_ways(reader, truth, low_cut_hz=None, **kw)
        with pytest.raises(ValueError, match="pool"):
            conventional_estimates(reader, truth, pool="vintage", **kw)
    assert set(pools) == {"baseline", "baseline_all"}
    bas, incl = pools["baseline"], pools["baseline_all"]
    assert set(bas) == set(incl) == set(mon) - {"(a) static + scalar"}
    base = gathers[0]
    errs = {name: np.median(nrms(est, base)) for name, est in bas.items()}
    assert min(errs.values()) > 1.0, errs  # never a copy of the shot itself
    # with the shot itself in the stack (4 shots a location), nearer to it
    e = "(e) equalise + stack, whole-trace design"
    assert np.median(nrms(incl[e], base)) < errs[e]
    assert errs["(e) equalise + stack, whole-trace design"] < 30.0, errs  # the same earth
    # one flow for both vintages: outside the changed zone (no 4D signal) the whole-trace
    # design's difference shrinks
    out = ~truth["changed_pair"]
    plain = np.linalg.norm(mon[e][out] - base[out])
    parallel = np.linalg.norm(mon[e][out] - bas[e][out])
    assert parallel < plain, (parallel, plain)
