"""The decoder as a prior (symae_seis.prior): fitting codes to what was recorded, filling
missing traces, and its bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symae_seis.prior import InfillError, fit_nuisance, infill

from .models.test_model import _known_filter_bag, _KnownFilters


class _Encoded(_KnownFilters):
    """Known filter physics with an 'encoder' that reports the true parameters plus a
    fixed error: what the fit has to remove."""

    theta: torch.Tensor | None = None

    def encode_nuisance(self, x, *, noise=True):
        return self.theta[None, : x.shape[1]].to(x.dtype)


def _setup(seed=1, err=0.15, c=4, below=True):
    rng = np.random.default_rng(seed)
    g, theta, full = _known_filter_bag(rng, n_inst=6, c=c, below=below)
    m = (
        _Encoded(
            c,
            64,
            width=4,
            hidden=8,
            nuisance_dim=theta.shape[1],
            filter_terms=3,
            coherent_pad=16,
            pool_iters=40 if below else 5,
            pool_eps=1e-6 if below else 1e-3,
        )
        .double()
        .eval()
    )
    noisy = theta.clone()
    noisy[:, 1:] += torch.from_numpy(rng.normal(0, err, noisy[:, 1:].shape))
    m.theta = noisy[:-1]
    return m, theta[:-1], full[:-1]


def test_fitting_codes_removes_the_encoders_error():
    """Against the true coherent gather, fitting each instance's code to its own record
    brings the misfit down by orders of magnitude and the parameters to the truth."""
    m, theta, x = _setup()
    rng = np.random.default_rng(1)
    g, _, _ = _known_filter_bag(rng, n_inst=6)
    res = fit_nuisance(m, g[None].expand(6, *g.shape), x, m.theta, steps=300, lr=0.02, penalty=0.0)
    assert (res.misfit < 0.01 * res.misfit_start).all()
    assert (res.nuisance[:, 3:] - theta[:, 3:]).abs().max() < 0.02  # phase, static, gain
    again = fit_nuisance(
        m, g[None].expand(6, *g.shape), x, m.theta, steps=300, lr=0.02, penalty=0.0
    )
    assert torch.equal(again.nuisance, res.nuisance)  # deterministic


def test_gap_recorded_by_one_instance_is_filled_from_it():
    """Two channels missing in every instance but one: the coherent gather takes them from
    the one that recorded them, and each instance's fitted filter puts them back in its
    own acquisition. The fit does better than the encoder's codes alone."""
    m, theta, x = _setup(c=16, below=False)
    known = torch.ones(1, 6, 16, dtype=torch.bool)
    known[0, 1:, 6:10] = False
    fitted = infill(m, x[None], known, rounds=2, steps=150)
    alone = infill(m, x[None], known, rounds=1, steps=0)
    miss = ~known[0]

    def err(r):
        d = (r.filled[0] - x)[miss]
        return (d.norm() / x[miss].norm()).item()

    assert err(fitted) < 0.35 and err(fitted) < 0.5 * err(alone)
    assert torch.equal(fitted.filled[0][known[0]], x[known[0]])  # recorded kept
    assert not fitted.from_prior.any()
    # every instance misses those channels: from the prior, or interpolated between
    # channels 5 and 10 when there is none
    known[0, 0, 6:10] = False
    res = infill(m, x[None], known, rounds=1, steps=50)
    assert torch.nonzero(res.from_prior[0]).flatten().tolist() == [6, 7, 8, 9]
    with torch.no_grad():
        g = m.pool(x[None], theta[None])
    prior = infill(m, x[None], known, rounds=1, steps=50, coherent_prior=g)
    assert err(prior) < err(res)


def test_bad_observations_named():
    m, theta, x = _setup()
    known = torch.ones(1, 6, 4, dtype=torch.bool)
    with pytest.raises(InfillError, match="have no known trace"):
        infill(m, x[None], torch.zeros_like(known))
    bad = x.clone()[None]
    bad[0, 2, 3, 10] = float("nan")
    with pytest.raises(InfillError, match="trace 3 of instance 2 .* NaN"):
        infill(m, bad, known)
    known[0, 2, 3] = False  # a NaN in a missing trace is ignored
    assert torch.isfinite(infill(m, bad, known, steps=5).filled).all()
    with pytest.raises(InfillError, match=r"\(B, I, C\)"):
        infill(m, x[None], known[0])


def test_symae_infill_cli_on_a_trained_run(trained_run, small_catalog, tmp_path, capsys):
    """symae-infill on a real store and training run: two channel slots named missing in
    the monitor survey. filled.sgy keeps every trace's headers and time axis (segyio and
    ObsPy read them back), flags exactly the filled traces in bytes 233-236, keeps the
    recorded traces as they were, and the filled slots beat linear interpolation between
    their neighbours against what was in fact recorded there."""
    import obspy
    import segyio
    import xarray as xr

    from symae_seis.catalog import load_catalog
    from symae_seis.cli.infill import main
    from symae_seis.infill import FILLED_FLAG_FIELD
    from symae_seis.ingest import ensure_store
    from symae_seis.io import StoreReader
    from symae_seis.qc.metrics import nrms

    store = ensure_store(load_catalog(small_catalog)["small"])
    out = tmp_path / "infill"
    args = [
        str(trained_run / "model.pt"),
        "--store",
        str(store),
        "--surveys",
        "monitor",
        "--missing-channels",
        "3-4",
        "--steps",
        "30",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert "filled" in capsys.readouterr().out
    ds = xr.load_dataset(out / "infill.nc", engine="h5netcdf")
    known = ds["known"].values.astype(bool)
    assert not known[:, 3:5].any() and known[:, [0, 1, 2, 5, 6, 7]].all()
    rec, fil = ds["recorded"].values, ds["filled"].values
    np.testing.assert_array_equal(fil[:, [0, 1, 2, 5, 6, 7]], rec[:, [0, 1, 2, 5, 6, 7]])
    lin = rec.copy()
    lin[:, 3] = rec[:, 2] + (rec[:, 5] - rec[:, 2]) / 3
    lin[:, 4] = rec[:, 2] + 2 * (rec[:, 5] - rec[:, 2]) / 3
    sym = np.median(nrms(fil[:, 3:5], rec[:, 3:5]))
    assert sym < np.median(nrms(lin[:, 3:5], rec[:, 3:5])), sym
    with StoreReader(store) as r:
        rows = ds["store_row"].values
        src = r.headers(rows)
        t0, dt = r.t0_ms, r.dt_ms
    with segyio.open(out / "filled.sgy", ignore_geometry=True) as f:
        assert f.tracecount == rows.size * 8
        flag = f.attributes(getattr(segyio.TraceField, FILLED_FLAG_FIELD))[:].reshape(-1, 8)
        assert getattr(segyio.TraceField, FILLED_FLAG_FIELD) == 233  # bytes 233-236
        assert (flag[:, 3:5] == 1).all() and (flag[:, [0, 1, 2, 5, 6, 7]] == 0).all()
        from symae_seis.io.segy import HEADER_FIELDS

        off = f.attributes(segyio.TraceField.offset)[:].reshape(-1, 8)
        np.testing.assert_array_equal(off, src[..., HEADER_FIELDS.index("offset")])
        np.testing.assert_allclose(f.samples, t0 + dt * np.arange(len(f.samples)))
        np.testing.assert_allclose(f.trace.raw[:].reshape(fil.shape), fil, rtol=1e-6)
    st = obspy.read(str(out / "filled.sgy"), format="SEGY", unpack_trace_headers=True)
    assert len(st) == rows.size * 8
    assert st[3].stats.segy.trace_header.trace_sequence_number_within_line >= 0
    assert (out / "infill_qc.png").stat().st_size > 10_000
    # never over the user's files; unknown names are one clear error
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert main([*args, "--missing-instances", "999999", "--overwrite"]) == 2
    assert "no instance with key 999999" in capsys.readouterr().err
    assert main([*args[:-4], "--missing-channels", "0-7", "--out", str(tmp_path / "x")]) == 2
    assert "no known trace left" in capsys.readouterr().err
