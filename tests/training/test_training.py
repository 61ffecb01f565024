"""Lightning training through the symae-train CLI on a tiny synthetic survey (CPU)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from symae_seis.cli.train import cli, main
from symae_seis.models import SymAE, SymAEConfig

from ..conftest import fit_args

REPO = Path(__file__).resolve().parents[2]


def _fit(catalog, run_dir, *extra):
    return fit_args(catalog, run_dir, *extra)


def _metrics(run_dir):
    with open(Path(run_dir) / "metrics.csv") as fh:
        return [r for r in csv.DictReader(fh)]


def test_fast_dev_run(small_catalog, tmp_path):
    c = cli(_fit(small_catalog, tmp_path / "run", "--trainer.fast_dev_run", "true"))
    assert c.trainer.state.finished
    assert c.model.model.config["channels"] == 8 and c.model.model.config["samples"] == 64


def test_short_training_beats_mean_gather(small_catalog, trained_run):
    run = trained_run
    rows = [r for r in _metrics(run) if r.get("val_loss")]
    last = rows[-1]
    val, base = float(last["val_loss"]), float(last["val_mean_gather_loss"])
    assert val < 0.6 * base, (val, base)
    assert float(rows[0]["val_loss"]) > val
    # run folder: resolved config, checkpoints, loss curve, TensorBoard, plain model
    assert (run / "config.yaml").is_file() and (run / "loss.png").stat().st_size > 10_000
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert any(p.name.startswith("events.out.tfevents") for p in run.iterdir())
    best = next((run / "checkpoints").glob("best-*.ckpt"))
    m1, m2 = SymAE.load(run / "model.pt"), SymAE.load(best)  # no Lightning needed
    x = torch.randn(1, 3, 8, 64)
    with torch.no_grad():
        assert torch.equal(m1(x), m2(x))
    assert m1.schema["channels"] == 8 and m1.schema["dataset"] == "small"
    # a second fit into the same folder is refused, nothing overwritten
    mtime = (run / "config.yaml").stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="--ckpt_path last"):
        cli(_fit(small_catalog, run, "--trainer.max_epochs", "1"))
    assert (run / "config.yaml").stat().st_mtime_ns == mtime


def _run_cli(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "symae_seis.cli.train", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        **kw,
    )


def test_resume_after_sigkill_matches_uninterrupted(small_catalog, tmp_path):
    args = ["--trainer.max_epochs", "3", "--data.repeats", "1"]
    ref = tmp_path / "ref"
    cli(_fit(small_catalog, ref, *args))
    run = tmp_path / "killed"
    killed = _run_cli(
        _fit(
            small_catalog,
            run,
            *args,
            "--trainer.callbacks+=tests.helpers.KillAt",
            "--trainer.callbacks.epoch",
            "1",
            "--trainer.callbacks.batch",
            "1",
        )
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (run / "checkpoints" / "last.ckpt").is_file() and not (run / "model.pt").exists()
    cli(_fit(small_catalog, run, *args, "--ckpt_path", "last"))
    assert (run / "metrics.part-00.csv").is_file()  # history of the killed part kept
    assert (run / "model.pt").is_file() and (run / "loss.png").is_file()
    a = torch.load(ref / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)


def _last_val(run):
    rows = [r for r in _metrics(run) if r.get("val_loss")]
    return float(rows[-1]["val_loss"]), float(rows[-1]["val_mean_gather_loss"])


def test_ddp_two_cpu_processes_reaches_single_process_band(small_catalog, tmp_path):
    args = ["--trainer.max_epochs", "8", "--data.repeats", "4", "--model.lr", "0.003"]
    single = tmp_path / "single"
    cli(_fit(small_catalog, single, *args))
    run = tmp_path / "ddp"
    # same effective batch (2 ranks x 4 datapoints) and optimiser steps as the single run
    res = _run_cli(
        _fit(
            small_catalog,
            run,
            *args,
            "--trainer.strategy",
            "ddp",
            "--trainer.devices",
            "2",
            "--trainer.accelerator",
            "cpu",
            "--data.batch_size",
            "4",
        ),
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    ckpt = run / "checkpoints" / "last.ckpt"
    blob = torch.load(ckpt, weights_only=False)
    assert blob["symae"]["config"]["channels"] == 8  # the same kind of checkpoint
    assert SymAE.load(ckpt).config == SymAE.load(run / "model.pt").config
    v1, base = _last_val(single)
    v2, _ = _last_val(run)
    assert v1 < 0.8 * base and v2 < 0.8 * base, (v1, v2, base)
    assert 0.67 < v2 / v1 < 1.5, (v1, v2)


def _cli_error(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr().err


def test_config_typo_and_unknown_dataset(small_catalog, tmp_path, capsys):
    code, err = _cli_error(_fit(small_catalog, tmp_path / "r", "--model.widht", "3"), capsys)
    assert code == 2 and "widht" in err
    ours = [line for line in err.splitlines() if line.startswith("symae-train:")]
    assert ours[0].startswith("symae-train: error:") and len(ours) == 2 and "usage:" not in err
    # an abbreviated option is a typo, not a guess
    code, err = _cli_error(_fit(small_catalog, tmp_path / "r", "--trainer.max_epoch", "1"), capsys)
    assert code == 2 and "unrecognized arguments: --trainer.max_epoch" in err
    assert not (tmp_path / "r").exists()
    code, err = _cli_error(
        [
            "fit",
            "--data.dataset",
            "smal",
            "--data.catalog",
            str(small_catalog),
            "--run_dir",
            str(tmp_path / "r"),
        ],
        capsys,
    )
    assert code == 2 and "no dataset named 'smal'" in err and "did you mean 'small'" in err


def test_too_many_instances(small_catalog, tmp_path, capsys):
    from symae_seis.errors import SymaeWarning
    from symae_seis.training import SymAEDataModule

    with pytest.warns(SymaeWarning, match="drawing 3 per datapoint instead of instances=5"):
        dm = SymAEDataModule("small", str(small_catalog), instances=5, val_fraction=0.25)
    assert dm.instances == 3
    code, err = _cli_error(
        _fit(small_catalog, tmp_path / "r", "--data.val_fraction", "0.99"), capsys
    )
    assert code == 2
    assert "validation needs" in err and "--data.val_fraction" in err


def test_datapoints_with_few_shots_train_with_repeated_shots(tmp_path):
    """Bins of a towed-streamer survey hold different numbers of shots (1 to 5 here):
    every datapoint trains, bags of the small ones repeat their shots (named in a
    warning), and validation holds out shots only where some are left to train."""
    from symae_seis.errors import SymaeWarning
    from symae_seis.io import write_segy
    from symae_seis.training import SymAEDataModule

    from ..conftest import write_catalog

    counts = {1: 1, 2: 2, 3: 5, 4: 5}  # CDP: shots
    cdp = np.repeat(list(counts), list(counts.values()))
    c, t = 4, 32
    x = np.random.default_rng(0).normal(size=(cdp.size * c, t)).astype(np.float32)
    hdr = {
        "FieldRecord": np.repeat(np.arange(1, cdp.size + 1), c),
        "offset": np.tile(100 * np.arange(1, c + 1), cdp.size),
        "CDP": np.repeat(cdp, c),
    }
    write_segy(tmp_path / "s.sgy", x, hdr, 4000)
    cat = write_catalog(
        tmp_path,
        {"few": {"surveys": {"s": "s.sgy"}, "datapoint_key": ["CDP"], "store": "few.h5"}},
    )
    with pytest.warns(SymaeWarning, match=r"2 datapoint\(s\) have fewer than 3 .*CDP=1, s:CDP=2"):
        dm = SymAEDataModule("few", str(cat), instances=4, batch_size=4, val_fraction=0.2)
    # bags of the median datapoint's training shots (1, 1, 4, 4 -> 3)
    assert dm.instances == 3 and dm.n_held == 1
    assert [len(m) for m in dm.held_members] == [0, 1, 1, 1]
    assert list(dm.validated) == [1, 2, 3]
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape == (4, 3, c, t)
    ds = dm._loader(train=True).dataset
    assert (ds.rows(0) == dm.train_members[0][0]).all()  # one shot, three times
    assert len(set(ds.rows(2).tolist())) == 3  # 3 of the 4 shots, none twice
    val = next(iter(dm.val_dataloader()))
    assert val.shape == (3, 4, c, t)


def test_every_datapoint_trains_and_validation_holds_out_shots(small_catalog):
    from symae_seis.training import SymAEDataModule

    dm = SymAEDataModule("small", str(small_catalog), instances=3, batch_size=4, val_fraction=0.25)
    assert dm.n_held == 1 and dm.design_window == (0, 26)  # [0, 100] ms at 4 ms
    for tr, held in zip(dm.train_members, dm.held_members):
        assert len(held) == 1 and len(tr) == 3 and not set(tr) & set(held)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape == (4, 3, 8, 64) and batch["has_partner"].all()
    # the partner is the other survey's datapoint at the same CDP
    ds = dm.train_dataloader().dataset
    rows, prow = ds.rows(0), ds.partner_rows(0)
    r = dm.reader
    d, p = r.datapoint[rows[0]], r.datapoint[prow[0]]
    assert r.dp_survey[d] != r.dp_survey[p] and (r.dp_key[d] == r.dp_key[p]).all()
    val = next(iter(dm.val_dataloader()))
    assert val.shape == (4, 4, 8, 64)  # 3 bag + 1 held out
    seen = {int(r.datapoint[x]) for i in range(len(ds)) for x in ds.rows(i)}
    assert seen == set(range(len(r.dp_survey)))  # every datapoint trains


def test_worker_processes_draw_the_same_batches(small_catalog):
    from symae_seis.errors import OptionError
    from symae_seis.training import SymAEDataModule

    def first_batches(**kw):
        dm = SymAEDataModule(
            "small", str(small_catalog), instances=3, batch_size=4, val_fraction=0.25, **kw
        )
        dm.setup("fit")
        loader = dm.train_dataloader()
        return dm.workers(), loader.persistent_workers, [b["x"] for b, _ in zip(loader, range(3))]

    n0, keep0, b0 = first_batches()  # default, no trainer: CPU rule
    n2, keep2, b2 = first_batches(num_workers=2)
    assert (n0, keep0) == (0, False) and (n2, keep2) == (2, True)
    for a, b in zip(b0, b2):
        assert torch.equal(a, b)
    with pytest.raises(OptionError, match="num_workers must be >= 0"):
        SymAEDataModule("small", str(small_catalog), num_workers=-1)


def test_nuisance_encoder_sees_the_design_window():
    """nuisance_view='design' shows the nuisance encoder the no-change design window (not
    when it is the whole record); by default ('record') it reads everything."""
    from symae_seis.errors import OptionError
    from symae_seis.models import SymAEConfig
    from symae_seis.training import SymAELit

    kw = {"channels": 8, "samples": 64, "config": SymAEConfig(width=4, hidden=16)}
    design = {"nuisance_view": "design"}
    assert SymAELit(design_window=(0, 26), **design, **kw).model.config["nuisance_window"] == [
        0,
        26,
    ]
    for other in (
        {"design_window": (0, 64), **design},
        {"design_window": None, **design},
        {"design_window": (0, 26)},
    ):
        assert SymAELit(**other, **kw).model.config["nuisance_window"] is None
    split = SymAELit(design_window=(0, 26), nuisance_view="split", **kw).model.config
    assert split["nuisance_window"] == [0, 26] and split["nuisance_split"]
    with pytest.raises(OptionError, match="nuisance_view must be"):
        SymAELit(nuisance_view="window", **kw)


def test_design_window_and_swap_errors(small_survey, tmp_path):
    from symae_seis.catalog import DesignWindowError
    from symae_seis.training import SymAEDataModule

    from ..conftest import write_catalog

    both = {"baseline": str(small_survey["baseline"]), "monitor": str(small_survey["monitor"])}
    cat = write_catalog(
        tmp_path,
        {
            "late": {
                "surveys": both,
                "datapoint_key": ["CDP"],
                "design_window_ms": [900, 1000],
                "store": str(tmp_path / "late.h5"),
            },
            "one": {
                "surveys": {"baseline": both["baseline"]},
                "datapoint_key": ["CDP"],
                "design_window_ms": [0, 100],
                "store": str(tmp_path / "one.h5"),
            },
            "none": {"surveys": both, "datapoint_key": ["CDP"], "store": str(tmp_path / "n.h5")},
            "nokey": {
                "surveys": both,
                "datapoint_key": ["FieldRecord"],
                "design_window_ms": "all",
                "store": str(tmp_path / "k.h5"),
            },
        },
    )
    cases = {
        "late": ("design_window_ms [900.0, 1000.0] holds 0 samples", None),
        "one": ("has one survey", None),
        "none": ("--data.swap true", True),
        "nokey": ("no datapoint key is common", None),
    }
    for name, (msg, swap) in cases.items():
        n, val = (1, 0.0) if name == "nokey" else (3, 0.2)  # one shot per FieldRecord
        with pytest.raises(DesignWindowError) as err:
            SymAEDataModule(name, str(cat), instances=n, val_fraction=val, swap=swap)
        assert name in str(err.value) and msg in str(err.value), str(err.value)
    assert SymAEDataModule("none", str(cat), instances=3).design_window is None
    assert SymAEDataModule("late", str(cat), instances=3, swap=False).design_window is None


def test_incompatible_checkpoint_refused(small_catalog, tmp_path, capsys):
    run = tmp_path / "r"
    cli(_fit(small_catalog, run, "--trainer.max_epochs", "1"))
    code, err = _cli_error(
        _fit(
            small_catalog,
            run,
            "--trainer.max_epochs",
            "2",
            "--ckpt_path",
            "last",
            "--model.config.width",
            "4",
        ),
        capsys,
    )
    assert code == 2 and "incompatible model" in err and "width: checkpoint 8 vs now 4" in err


def test_nan_loss_stops_with_clear_error(small_catalog, tmp_path, capsys):
    code, err = _cli_error(
        _fit(
            small_catalog,
            tmp_path / "r",
            "--trainer.max_epochs",
            "3",
            "--model.lr",
            "1e30",
            "--model.warmup_epochs",
            "0",
        ),
        capsys,
    )
    assert code == 2 and "training loss is nan" in err.lower() and "lower --model.lr" in err


def test_trace_terms_default_follows_the_channels():
    """Per-trace static and gain by default for receiver gathers keyed by a trace header,
    not for miniSEED stores (stations, station pairs) nor the generic decoder."""
    from symae_seis.training import SymAELit

    gathers = {"channels": 8, "samples": 64, "channel_key": "offset"}
    pairs = {"channels": 8, "samples": 64, "channel_key": ""}
    assert SymAELit(8, 64, schema=gathers).model.config["trace_terms"] is True
    assert SymAELit(8, 64, schema=pairs).model.config["trace_terms"] is False
    assert (
        SymAELit(8, 64, schema=gathers, config=SymAEConfig(decoder="generic")).model.config[
            "trace_terms"
        ]
        is False
    )
    assert (
        SymAELit(8, 64, schema=pairs, config=SymAEConfig(trace_terms=True)).model.config[
            "trace_terms"
        ]
        is True
    )


def test_time_terms_off_for_mseed_stores_hold_statics_and_phase_at_zero(tmp_path):
    """miniSEED stores (stations, station-pair correlations) get no phase rotation or
    statics by default: those parameters stay at zero whatever the code, the known-transform
    augmentation leaves them out, and a saved model keeps the rule."""
    from symae_seis.models import filters as FF
    from symae_seis.training import SymAELit
    from symae_seis.training.objective import aug_params, objective

    gathers = {"channels": 8, "samples": 64, "channel_key": "offset"}
    pairs = {"channels": 8, "samples": 64, "channel_key": ""}
    assert SymAELit(8, 64, schema=gathers).model.config["time_terms"] is True
    lit = SymAELit(8, 64, schema=pairs, config=SymAEConfig(trace_terms=True))
    m = lit.model
    assert m.config["time_terms"] is False
    torch.manual_seed(0)
    torch.nn.init.normal_(m.decoder.filter_head[-1].weight)  # every output non-zero
    theta = m.filter_params(torch.randn(5, m.config["nuisance_dim"]))
    k = m.config["filter_terms"]
    time_cols = [k + FF.PARAM_NAMES.index(n) for n in FF.TIME_PARAMS]
    per = FF.trace_slice(k, 8)
    assert (theta[:, time_cols] == 0).all() and (theta[:, per.start : per.start + 8] == 0).all()
    assert (theta[:, :k] != 0).all() and (theta[:, per.start + 8 : per.stop] != 0).all()
    assert {a[0] for a in aug_params(m)} == {"tilt", "gain"}
    terms = objective(m, torch.randn(2, 4, 8, 64))
    assert torch.isfinite(terms["loss"]) and torch.isfinite(terms["consistency"])
    m.save(tmp_path / "m.pt")
    back = type(m).load(tmp_path / "m.pt")
    assert back.config["time_terms"] is False
    assert torch.equal(
        back.filter_params(torch.ones(1, m.config["nuisance_dim"])),
        m.filter_params(torch.ones(1, m.config["nuisance_dim"])),
    )
    with pytest.raises(Exception, match="time_terms=False needs decoder='filter'"):
        SymAELit(8, 64, schema=pairs, config=SymAEConfig(decoder="generic", time_terms=False))


def test_dead_traces_are_left_out_of_the_misfit():
    """A dead channel records nothing: with ``masked`` the reconstruction misfit is the
    mean over the live traces only, so what the model predicts there costs nothing;
    without it (stores with no dead trace) the plain mean."""
    from symae_seis.training.objective import objective

    torch.manual_seed(0)
    m = SymAE(4, 32, width=4, hidden=8)
    x = torch.randn(2, 3, 4, 32)
    x[0, 1, 2] = 0.0  # one dead trace
    plain = objective(m, x, augment=False)["recon"]
    masked = objective(m, x, augment=False, masked=True)["recon"]
    with torch.no_grad():
        pred = m(x)
    live = (x.abs().amax(-1) > 0)[..., None].float()
    expect = (((pred - x) / m.scale) ** 2 * live).sum() / (live.sum() * 32)
    torch.testing.assert_close(masked, expect)
    assert not torch.isclose(plain, masked)
