"""Redatuming with a model trained on the SMALL synthetic survey (known truth)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import segyio
import xarray as xr

from symae_seis.catalog import load_catalog
from symae_seis.cli.redatum import main as redatum_main
from symae_seis.ingest import ensure_store
from symae_seis.io import read_segy
from symae_seis.io.segy import HEADER_FIELDS
from symae_seis.io.store import StoreReader
from symae_seis.models import SymAE
from symae_seis.qc import nrms
from symae_seis.qc.truth import score_4d_against_truth
from symae_seis.redatum import RedatumError, redatum

from ..conftest import SMALL, assert_message, leftovers


@pytest.fixture(scope="module")
def store(small_catalog):
    return ensure_store(load_catalog(small_catalog)["small"])


@pytest.fixture(scope="module")
def out4d(tmp_path_factory, trained_run, store):
    out = tmp_path_factory.mktemp("redatum") / "out"
    return redatum(trained_run / "model.pt", store, out)


def test_virtual_gathers_beat_raw_monitor_against_truth(out4d, small_survey):
    sc = score_4d_against_truth(out4d.files["netcdf"], small_survey["truth"])
    n_pairs = SMALL.n_cdp * SMALL.shots_per_cdp
    assert len(sc["nrms_virtual"]) == n_pairs
    # pairs that no recording contains are closer to the truth than the raw monitor is
    assert sc["median_virtual"] < 0.85 * sc["median_raw_monitor"], sc
    assert sc["median_virtual_outside"] < sc["median_raw_monitor_outside"]


def test_residuals_small_outside_changed_zone(out4d, small_survey, store):
    """Outside the reservoir lens the earth did not change: what is left after
    redatuming must be far smaller than the raw monitor - baseline difference there."""
    import h5py

    reader = StoreReader(store)
    ds = xr.load_dataset(out4d.files["netcdf"], engine="h5netcdf")
    with h5py.File(small_survey["truth"], "r") as h5:
        changed = h5["changed"][:]
    cdp = ds["cdp"].values
    outside = ~changed[cdp - 1]
    resid = np.sqrt((ds["residual"].values ** 2).mean(axis=(1, 2)))
    raw = []
    for k, d in enumerate(ds["coherent_datapoint"].values):
        mon = reader.read(reader.members[int(d)])
        raw.append(np.sqrt(((mon - ds["recorded"].values[k]) ** 2).mean()))
    raw = np.array(raw)
    assert np.median(resid[outside]) < 0.7 * np.median(raw[outside])
    np.testing.assert_allclose(
        ds["residual"].values, ds["virtual"].values - ds["recorded"].values, atol=1e-5
    )


def test_segy_outputs_carry_donor_headers(out4d, small_survey, store):
    reader = StoreReader(store)
    x, h, _ = read_segy(out4d.files["virtual"])
    ds = xr.load_dataset(out4d.files["netcdf"], engine="h5netcdf")
    n, c, t = ds["virtual"].shape
    assert x.shape == (n * c, t)
    np.testing.assert_allclose(x.reshape(n, c, t), ds["virtual"].values, rtol=1e-6)
    donor = reader.headers(ds["recorded_instance"].values).reshape(n * c, -1)
    for name in ("FieldRecord", "offset", "CDP", "SourceX", "GroupX", "TraceNumber"):
        j = HEADER_FIELDS.index(name)
        np.testing.assert_array_equal(h[:, j], donor[:, j], err_msg=name)
    # bytes 233-240 (SEG-Y rev 2: the header's name) stay as recorded; the coherent
    # donor is in the NetCDF
    for name in ("UnassignedInt1", "UnassignedInt2"):
        j = HEADER_FIELDS.index(name)
        np.testing.assert_array_equal(h[:, j], donor[:, j], err_msg=name)
    assert set(ds["coherent_survey"].values) == {"monitor"}
    # the same file through segyio directly and through ObsPy's independent reader
    with segyio.open(out4d.files["residual"], ignore_geometry=True) as f:
        assert f.tracecount == n * c
        np.testing.assert_array_equal(
            f.attributes(segyio.TraceField.FieldRecord)[:],
            donor[:, HEADER_FIELDS.index("FieldRecord")],
        )
    import obspy

    # the decoder-cancelled residual in SEG-Y holds the NetCDF's, trace for trace (ObsPy)
    st = obspy.read(str(out4d.files["residual_decoder"]), format="SEGY")
    np.testing.assert_allclose(
        np.stack([tr.data for tr in st]).reshape(n, c, t),
        ds["residual_decoder"].values,
        rtol=1e-6,
        atol=1e-7,
    )
    st = obspy.read(str(out4d.files["virtual"]), format="SEGY")
    assert len(st) == n * c
    th = st[5].stats.segy.trace_header
    assert th.original_field_record_number == donor[5, HEADER_FIELDS.index("FieldRecord")]
    np.testing.assert_allclose(st[5].data, x[5], rtol=1e-6)


def test_outputs_never_overwritten_without_flag(out4d, trained_run, store):
    before = {k: p.stat().st_mtime_ns for k, p in out4d.files.items()}
    with pytest.raises(FileExistsError) as err:
        redatum(trained_run / "model.pt", store, out4d.out_dir)
    assert_message(err, "output exists", "--overwrite")
    assert {k: p.stat().st_mtime_ns for k, p in out4d.files.items()} == before
    assert leftovers(out4d.out_dir) == []


def test_reference_mode_removes_shot_to_shot_nuisance(trained_run, store, tmp_path):
    reader = StoreReader(store)
    res = redatum(
        trained_run / "model.pt",
        store,
        tmp_path / "ref",
        mode="reference",
        reference="mean",
        surveys=["baseline"],
        write_segy=False,
    )
    ds = xr.load_dataset(res.files["netcdf"], engine="h5netcdf")
    assert ds.attrs["reference"] == "mean nuisance code"
    coh = ds["coherent_datapoint"].values
    spread_real, spread_virtual = [], []
    for d in np.unique(coh):
        sel = np.flatnonzero(coh == d)
        r, v = ds["recorded"].values[sel], ds["virtual"].values[sel]
        spread_real.append(
            np.mean([nrms(r[i], r[j]).mean() for i in range(len(sel)) for j in range(i)])
        )
        spread_virtual.append(
            np.mean([nrms(v[i], v[j]).mean() for i in range(len(sel)) for j in range(i)])
        )
    # shots of one datapoint agree far better once redatumed to one acquisition
    assert np.median(spread_virtual) < 0.25 * np.median(spread_real)
    key = int(reader.instance_key[0])
    res = redatum(
        trained_run / "model.pt",
        store,
        tmp_path / "ref1",
        mode="reference",
        reference=str(key),
    )
    assert (
        xr.load_dataset(res.files["netcdf"], engine="h5netcdf").attrs["reference"]
        == f"instance {key}"
    )
    # each gather's virtual and its own rebuild are one decode here: no residual_decoder.sgy
    assert {"virtual", "residual"} <= set(res.files) and "residual_decoder" not in res.files
    assert not (tmp_path / "ref1" / "residual_decoder.sgy").exists()


def test_bad_requests(trained_run, store, tmp_path, tiny_entry):
    with pytest.raises(RedatumError) as err:
        redatum(trained_run / "model.pt", store, tmp_path / "a", coherent_from="monitr")
    assert_message(err, "no survey 'monitr'", "baseline")
    with pytest.raises(RedatumError) as err:
        redatum(
            trained_run / "model.pt", store, tmp_path / "b", mode="reference", reference="999999"
        )
    assert_message(err, "no instance with key 999999")
    other = ensure_store(tiny_entry)  # 4 CDPs, same gather size: keys match, schema checked
    m = SymAE.load(trained_run / "model.pt")
    m.schema["dt_ms"] = 2.0
    with pytest.raises(RedatumError) as err:
        redatum(m, other, tmp_path / "c")
    assert_message(err, "model does not match store", "dt_ms")
    small = SymAE(8, 32, width=4, hidden=8)
    with pytest.raises(RedatumError) as err:
        redatum(small, store, tmp_path / "d")
    assert_message(err, "samples: model 32, store 64")
    assert not (tmp_path / "d").exists() or leftovers(tmp_path / "d") == []


def test_pairing_that_matches_nothing(trained_run, tmp_path, small_survey):
    from symae_seis.ingest import build_store
    from symae_seis.io import write_segy

    from ..conftest import entry

    x, h, info = read_segy(small_survey["monitor"])
    h2 = h.copy()
    h2[:, HEADER_FIELDS.index("CDP")] += 1000  # monitor at other CDPs
    write_segy(tmp_path / "m.sgy", x, h2, info.dt_us)
    e = entry(
        tmp_path,
        surveys={"baseline": str(small_survey["baseline"]), "monitor": str(tmp_path / "m.sgy")},
        datapoint_key=["CDP"],
    )
    with pytest.raises(RedatumError) as err:
        redatum(trained_run / "model.pt", build_store(e), tmp_path / "o")
    assert_message(err, "no datapoint key of survey 'baseline'", "'monitor'")


def test_cli_end_to_end(trained_run, small_catalog, tmp_path, capsys):
    out = tmp_path / "cli"
    code = redatum_main(
        [
            str(trained_run / "model.pt"),
            "--dataset",
            "small",
            "--catalog",
            str(small_catalog),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    for name in (
        "virtual.sgy",
        "residual.sgy",
        "residual_decoder.sgy",
        "redatum.nc",
        "qc.csv",
        "nrms_along_key.png",
        "qc_before_after.csv",
    ):
        assert (out / name).is_file() and name in printed
    assert len(list(out.glob("gathers_*.png"))) == 2
    code = redatum_main(
        [
            str(trained_run / "model.pt"),
            "--dataset",
            "small",
            "--catalog",
            str(small_catalog),
            "--out",
            str(out),
        ]
    )
    assert code == 2 and "--overwrite" in capsys.readouterr().err
    code = redatum_main(
        [
            str(tmp_path / "nomodel.pt"),
            "--dataset",
            "small",
            "--catalog",
            str(small_catalog),
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert code == 2 and "nomodel.pt does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("extra", [[], ["--reference", "mean"]])
def test_cli_opens_the_store_at_most_twice(
    trained_run, small_catalog, store, tmp_path, monkeypatch, extra
):
    """One freshness check and one reader for the whole command (redatum and QC), in 4D
    and mean-reference mode: count the HDF5 opens of the store file."""
    import h5py

    opened = []
    real_file = h5py.File

    class CountingFile(real_file):
        def __init__(self, name, *args, **kwargs):
            if isinstance(name, (str, os.PathLike)) and os.path.realpath(name) == os.path.realpath(
                store
            ):
                opened.append(name)
            super().__init__(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", CountingFile)
    code = redatum_main(
        [
            str(trained_run / "model.pt"),
            "--dataset",
            "small",
            "--catalog",
            str(small_catalog),
            "--out",
            str(tmp_path / "o"),
            *extra,
        ]
    )
    assert code == 0
    assert 1 <= len(opened) <= 2, opened


def test_codes_fitted_by_default_on_gathers(store):
    """SEG-Y gathers (channels are receivers) get the code fit by default; miniSEED stores
    do not (``tests/qc/test_dvv.py``)."""
    from symae_seis.io.store import StoreReader
    from symae_seis.redatum import DEFAULT_REFINE_STEPS, default_refine_steps

    with StoreReader(store) as reader:
        assert default_refine_steps(reader) == DEFAULT_REFINE_STEPS > 0


def test_model_error_var_is_the_local_misfit():
    """The model-error part of virtual_std: the local mean of the squared misfit, the
    gather's live mean on dead traces, nothing where the rebuild is exact."""
    from symae_seis.redatum.core import model_error_var

    rng = np.random.default_rng(0)
    rec = rng.standard_normal((2, 6, 200))
    recon = rec.copy()
    recon[0, :, 100:] += 0.5 * rng.standard_normal((6, 100))  # misfit sigma 0.5, late
    live = np.ones((2, 6), bool)
    live[0, 2] = False
    var = model_error_var(rec, recon, live)
    assert np.allclose(var[1], 0) and np.allclose(var[0, :, :90], 0)
    assert np.median(var[0, :, 110:]) == pytest.approx(0.25, rel=0.2)
    assert np.median(var[0, 2, 110:]) == pytest.approx(0.25, rel=0.2)  # dead: filled


def test_bootstrap_uncertainty(trained_run, store, small_survey, tmp_path):
    """--uncertainty N: virtual_std beside virtual (zero on dead traces, positive where
    there is signal), the same from run to run, calibrated against the truth, and a
    figure of the residual in its units."""
    import xarray as xr

    from symae_seis.cli.redatum import main
    from symae_seis.qc.truth import coverage, load_truth, virtual_for_truth

    outs = []
    for k in range(2):
        out = tmp_path / f"u{k}"
        assert (
            main(
                [
                    str(trained_run / "model.pt"),
                    "--store",
                    str(store),
                    "--out",
                    str(out),
                    "--uncertainty",
                    "6",
                    "--no-segy",
                    "--refine-steps",
                    "5",
                ]
            )
            == 0
        )
        outs.append(xr.load_dataset(out / "redatum.nc", engine="h5netcdf"))
    a, b = outs
    std, live = a["virtual_std"].values, a["live"].values.astype(bool)
    assert a["virtual_std"].attrs["long_name"].startswith("standard deviation")
    assert (std[~live] == 0).all() and np.median(std[live].max(axis=-1)) > 0
    assert std.mean() < np.abs(a["virtual"].values).mean()  # a spread, not noise
    np.testing.assert_array_equal(std, b["virtual_std"].values)
    truth = load_truth(small_survey["truth"])
    nc = tmp_path / "u0" / "redatum.nc"
    cover = coverage(
        virtual_for_truth(nc, truth),
        virtual_for_truth(nc, truth, variable="virtual_std"),
        truth["virtual"],
    )
    assert 80 <= cover < 99.9, cover  # +-2 sigma holds about 95 % of the truth
    assert (tmp_path / "u0" / "residual_over_std.png").stat().st_size > 10_000
    assert (
        main(
            [
                str(trained_run / "model.pt"),
                "--store",
                str(store),
                "--out",
                str(tmp_path / "bad"),
                "--uncertainty",
                "1",
            ]
        )
        == 2
    )


def test_codes_fitted_in_batches_match_one_datapoint_at_a_time(trained_run, store):
    """refined_codes fits several datapoints at once: each code's fit sees only its own
    gather, so the codes and coherent gathers are those of one-at-a-time fitting (to the
    round-off that the pooling's conjugate gradients and Adam amplify: 3e-4 of the
    largest sample, in the padding below the record that no shot constrains; a code
    fitted to another datapoint's gather would be off by its whole size)."""
    from symae_seis.redatum import refined_codes

    model = SymAE.load(trained_run / "model.pt")
    reader = StoreReader(store)
    dps = np.arange(min(6, len(reader.dp_survey)))
    one = refined_codes(model, reader, dps, steps=10, batch_size=1)
    many = refined_codes(model, reader, dps, steps=10, batch_size=4)
    scale = np.abs(one[0]).max()
    np.testing.assert_allclose(many[0], one[0], rtol=0, atol=2e-3 * scale)
    assert many[1].keys() == one[1].keys()
    codes = np.stack(list(one[1].values()))
    again = np.stack([many[1][row] for row in one[1]])
    np.testing.assert_allclose(again, codes, rtol=0, atol=2e-3 * np.abs(codes).max())


def test_poorly_reconstructed_datapoints_are_named(store, tmp_path):
    """Without truth, qc.csv says how well the model rebuilds the recorded shots (whole
    gathers, channel quarters, record halves) and a warning names the datapoints it does
    not explain: an untrained model explains none."""
    import csv

    import torch

    from symae_seis.errors import SymaeWarning
    from symae_seis.io.store import StoreReader
    from symae_seis.redatum.fit import QC_COLUMNS

    torch.manual_seed(0)
    with StoreReader(store) as reader:
        raw = SymAE(8, 64, width=4, hidden=8, scale=reader.rms, schema=reader.schema)
    with pytest.warns(SymaeWarning, match=r"reconstructs the recorded shots of \d+ of \d+"):
        res = redatum(raw, store, tmp_path / "a", write_segy=False, refine_steps=0)
    assert res.poor and all(v > 30 for _, _, v in res.poor)
    labels = {label for label, _, _ in res.poor}
    assert any(label.startswith("monitor:CDP=") for label in labels)
    with open(res.files["qc"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert set(QC_COLUMNS) <= set(rows[0]) and len(rows) == len(res.qc)
    for row in rows:  # the parts are NRMS of the same reconstruction: finite, bounded
        for col in ("nrms_recon_q1", "nrms_recon_q4", "nrms_recon_early", "nrms_recon_late"):
            assert 0 <= float(row[col]) <= 200
    assert res.summary["nrms_recon_recorded"] == pytest.approx(
        float(np.median([float(r["nrms_recon_recorded"]) for r in rows]))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", SymaeWarning)
        quiet = redatum(
            raw, store, tmp_path / "b", write_segy=False, refine_steps=0, recon_warn=None
        )
    assert quiet.poor == []


def test_fit_qc_scores_each_part():
    """A reconstruction wrong only on the far quarter of the channels, late in the record,
    is reported there and not elsewhere."""
    from symae_seis.redatum.fit import FitQC

    class _Reader:
        surveys, dp_survey, dp_names = ["monitor"], np.array([0]), ["CDP"]
        dp_key = np.array([[7]])

        def datapoint_label(self, d):
            return "monitor:CDP=7"

    rng = np.random.default_rng(0)
    rec = rng.normal(size=(3, 8, 40))
    recon = rec.copy()
    recon[:, 6:, 20:] = rng.normal(size=(3, 2, 20))  # the far quarter, late half
    fit = FitQC(_Reader(), np.zeros(3, dtype=int), max_lag=3)
    fit.add(0, 3, rec, np.ones((3, 8), bool), rec, recon)
    (row,) = fit.rows()
    assert row["nrms_recon_q1"] == row["nrms_recon_early"] == 0.0
    assert row["nrms_recon_q4"] > 50 and row["nrms_recon_late"] > 10
    assert fit.poor(30.0) == [("monitor:CDP=7", "q4", pytest.approx(row["nrms_recon_q4"]))]
    assert fit.poor(150.0) == []
    # a part that holds little energy weighs as little as it holds: a quiet early half
    # and weak traces reconstructed to round-off-sized errors are not a misfit
    quiet = rec.copy()
    quiet[:, :, :20] *= 1e-4
    quiet[:, :4] *= 1e-3
    near = quiet + 1e-6 * rng.normal(size=quiet.shape)
    fit = FitQC(_Reader(), np.zeros(3, dtype=int), max_lag=3)
    fit.add(0, 3, quiet, np.ones((3, 8), bool), quiet, near)
    (row,) = fit.rows()
    assert row["nrms_recon_recorded"] < 0.1 and row["nrms_recon_late"] < 0.1
    assert fit.poor(30.0) == []


def test_outputs_record_their_provenance(out4d, trained_run, store):
    """redatum.nc's attributes, the SEG-Y textual header (a line each) and qc.json name
    the toolkit version, the model file and its SHA-256, the store, the dataset, every
    option and the date."""
    import hashlib
    import json

    import symae_seis

    model = trained_run / "model.pt"
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    ds = xr.open_dataset(out4d.files["netcdf"], engine="h5netcdf")
    a = ds.attrs
    ds.close()
    assert a["symae_model_sha256"] == sha and a["symae_model"] == str(model.resolve())
    assert a["symae_toolkit_version"] == symae_seis.__version__
    assert a["symae_store"] == str(Path(store).resolve()) and a["symae_dataset"] == "small"
    opts = json.loads(a["symae_options"])
    assert opts["mode"] == "4d" and opts["coherent_from"] == "monitor"
    assert opts["nuisance_from"] == "baseline" and "refine_steps" in opts
    assert opts["store_low_cut_hz"] is None  # this store was not low-cut at ingest
    assert "symae-seis" in a["history"] and a["history"].startswith(a["date_created"])
    with segyio.open(str(out4d.files["virtual"]), ignore_geometry=True) as f:
        text = bytes(f.text[0]).decode("ascii")
    assert f"SHA256 {sha}" in text and "DATASET small" in text
    meta = json.loads(out4d.files["qc_meta"].read_text())
    assert meta["model_sha256"] == sha and meta["table"] == "qc.csv"
    with open(out4d.files["qc"]) as fh:
        assert fh.readline().strip().split(",") == meta["columns"]
