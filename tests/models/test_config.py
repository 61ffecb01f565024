"""SymAEConfig: one default per option, checks, and files of older releases.

``tests/data/legacy`` holds model files, a training checkpoint and their outputs on a
fixed input, saved by the release before the config (commit cd49dbf, model format 1):
they must load, decode bit for bit the same, and the checkpoint must resume training."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from symae_seis.errors import OptionError
from symae_seis.models import ModelFileError, SymAE, SymAEConfig
from symae_seis.models.serialization import FORMAT_VERSION
from symae_seis.training import SymAELit

from ..conftest import TINY, write_catalog

LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy"
FILES = {
    "filter": "filter.pt",
    "generic": "generic.pt",
    "split_shift": "split_shift.pt",
    "tiny_last": "tiny_last.ckpt",
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_files_of_the_previous_release_load_and_decode_the_same(name, tmp_path):
    x = torch.from_numpy(np.load(LEGACY / "input.npy"))
    model = SymAE.load(LEGACY / FILES[name]).double()
    with torch.no_grad():
        out = model(x).numpy()
    # the same to round-off: the reference was recorded on another CPU, whose BLAS kernels
    # sum in another order (1e-14 apart in float64); any change of the model is far larger
    ref = np.load(LEGACY / f"{name}_out.npy")
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    # saved again, in today's format, nothing changes
    again = SymAE.load(model.save(tmp_path / "again.pt")).double()
    assert torch.load(tmp_path / "again.pt")["format_version"] == FORMAT_VERSION
    with torch.no_grad():
        assert np.array_equal(again(x).numpy(), out)


def _tiny_catalog(folder: Path) -> Path:
    from symae_seis.synth import make_conv4d_survey

    s = make_conv4d_survey(folder / "s", TINY)
    return write_catalog(
        folder,
        {
            "tiny": {
                "surveys": {"baseline": str(s["baseline"]), "monitor": str(s["monitor"])},
                "datapoint_key": ["CDP"],
                "design_window_ms": [0, 100],
            }
        },
    )


TINY_FIT = [
    "--data.dataset",
    "tiny",
    "--data.instances",
    "2",
    "--data.batch_size",
    "2",
    "--data.val_fraction",
    "0.34",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
]


@pytest.mark.parametrize("name, shift", [("tiny_last", "false"), ("tiny_shift_last", "true")])
def test_checkpoint_of_the_previous_release_resumes(tmp_path, name, shift):
    """``--ckpt_path`` on a checkpoint written before the model's parts were renamed:
    its weights load into today's module, the optimiser's state follows its parameters
    (the channel shift's phase field moved), and training goes on."""
    from symae_seis.cli.train import cli

    cat = _tiny_catalog(tmp_path)
    c = cli(
        [
            "fit",
            *TINY_FIT,
            "--data.catalog",
            str(cat),
            "--run_dir",
            str(tmp_path / "run"),
            "--model.config.width",
            "4",
            "--model.config.hidden",
            "8",
            "--model.config.nuisance_dim",
            "4",
            "--model.config.filter_shift",
            shift,
            "--trainer.max_epochs",
            "2",
            "--ckpt_path",
            str(LEGACY / f"{name}.ckpt"),
        ]
    )
    assert c.trainer.current_epoch == 2
    old = SymAE.load(LEGACY / f"{name}.ckpt")
    moved = [
        k
        for k, v in c.model.model.state_dict().items()
        if not torch.equal(v.cpu(), old.state_dict()[k])
    ]
    assert moved, "resumed training changed no weight"
    # the same checkpoint through Lightning's own loader, without a Trainer
    lit = SymAELit.load_from_checkpoint(LEGACY / f"{name}.ckpt")
    x = torch.from_numpy(np.load(LEGACY / "input.npy"))
    with torch.no_grad():
        out = lit.model.double()(x).numpy()
    ref = np.load(LEGACY / f"{name}_out.npy")  # to round-off, as above
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_config_file_of_the_previous_release_is_upgraded(tmp_path):
    """An old config file (the model's options flat under ``model``) still trains, with
    its options, and says it was rewritten."""
    import yaml

    from symae_seis.cli.train import cli
    from symae_seis.errors import SymaeWarning

    doc = yaml.safe_load((LEGACY / "demo4d_config.yaml").read_text())
    doc["model"].update(width=4, hidden=8, nuisance_dim=4)
    doc["trainer"]["max_epochs"] = 1
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump(doc))
    cat = _tiny_catalog(tmp_path)
    with pytest.warns(SymaeWarning, match="model section of"):
        c = cli(
            [
                "fit",
                "--config",
                str(old),
                *TINY_FIT,
                "--data.catalog",
                str(cat),
                "--run_dir",
                str(tmp_path / "run"),
            ]
        )
    cfg = c.model.model.config
    assert (cfg["width"], cfg["hidden"], cfg["nuisance_dim"]) == (4, 8, 4)
    assert c.model.hparams_initial["config"]["width"] == 4  # what the loggers record
    assert "width: 4" in (tmp_path / "run" / "hparams.yaml").read_text()


def test_one_default_per_option():
    """SymAELit declares none of the model's options: its model is built from SymAEConfig's
    defaults, and LightningCLI shows each option once (under model.config)."""
    import inspect

    lit = SymAELit(8, 64)
    direct = SymAE(8, 64)
    assert lit.model.config == direct.config
    model_opts = {f.name for f in dataclasses.fields(SymAEConfig)}
    assert not model_opts & set(inspect.signature(SymAELit).parameters)
    assert lit.hparams["config"] == dataclasses.asdict(SymAEConfig())


def test_config_checks_and_overrides():
    with pytest.raises(OptionError, match="decoder must be one of"):
        SymAEConfig(decoder="fliter")
    with pytest.raises(OptionError, match="unknown model option"):
        SymAEConfig().replace(widht=3)
    with pytest.raises(OptionError, match="width must be >= 1"):
        SymAEConfig(width=0)
    with pytest.raises(OptionError, match="nuisance_window"):
        SymAEConfig(nuisance_window=(60, 10)).resolve(8, 64)
    cfg = SymAEConfig(width=4, hidden=8)
    m = SymAE(8, 64, cfg, nuisance_dim=5)  # keyword options replace the config's
    assert m.options == cfg.replace(nuisance_dim=5) and m.config["nuisance_dim"] == 5
    assert SymAELit.from_model(m, lr=1e-3).model is m
    with pytest.raises(OptionError, match="leave config.nuisance_window and"):
        SymAELit(
            8,
            64,
            design_window=(0, 30),
            nuisance_view="design",
            config=SymAEConfig(nuisance_split=True),
        )
    x = torch.randn(2, 5, 8, 64)
    m.eval()
    with torch.no_grad():  # the public pooling is symmetric bit for bit
        assert torch.equal(m.pool(x), m.pool(x[:, torch.randperm(5)]))


def test_old_command_line_names_are_rewritten():
    from symae_seis.errors import SymaeWarning
    from symae_seis.training.cli import upgrade_arguments

    with pytest.warns(SymaeWarning, match="--model.width"):
        out = upgrade_arguments(
            ["fit", "--model.width", "4", "--model.hidden=8", "--model.lr", "0.1"]
        )
    assert out == [
        "fit",
        "--model.config.width",
        "4",
        "--model.config.hidden=8",
        "--model.lr",
        "0.1",
    ]


def test_a_file_of_an_unknown_format_version_is_refused(tmp_path):
    blob = SymAE(8, 64, width=4, hidden=8).export()
    blob["format_version"] = 99
    torch.save(blob, tmp_path / "future.pt")
    with pytest.raises(ModelFileError, match="format version 99"):
        SymAE.load(tmp_path / "future.pt")


def test_min_phase_terms_are_a_causal_cepstrum():
    """min_phase: the filter of a log-amplitude cosine series gets the phase of its
    minimum-phase filter, exp(sum a_k e^{-i k w}): causal, where the zero-phase filter of
    the same amplitude is symmetric about 0; a model with it trains (finite gradients);
    it needs the filter decoder's time terms."""
    from symae_seis.errors import OptionError
    from symae_seis.models import SymAEConfig, filters

    n, terms = 64, 12
    theta = torch.zeros(filters.n_params(terms), dtype=torch.float64)
    theta[:terms] = 0.3 * torch.randn(terms, generator=torch.Generator().manual_seed(0)).double()
    hm = filters.response(theta, 1, n, terms, min_phase=True)[0]
    hz = filters.response(theta, 1, n, terms)[0]
    w = torch.pi * torch.arange(n + 1, dtype=torch.float64) / n
    k = torch.arange(1, terms + 1, dtype=torch.float64)
    exact = torch.exp((theta[:terms, None] * torch.exp(-1j * k[:, None] * w[None])).sum(0))
    # the same up to the log-amplitude's soft bound (8 tanh(x / 8): 1.7 % at 1.47 nats)
    assert torch.allclose(hm, exact, rtol=3e-2, atol=0)
    assert torch.allclose(hm.angle(), exact.angle(), atol=1e-9)  # the phase exactly
    im, iz = torch.fft.irfft(hm, 2 * n), torch.fft.irfft(hz, 2 * n)
    assert im[n:].abs().max() < 5e-3 * im.abs().max()  # (almost) nothing before time 0
    assert iz[n + 1 :].abs().max() > 0.05 * iz.abs().max()  # zero phase: symmetric
    m = SymAE(8, 64, width=4, hidden=8, filter_terms=24, min_phase=True)
    assert m.config["min_phase"] is True
    x = torch.randn(2, 3, 8, 64)
    loss = (m(x) - x).pow(2).mean()
    loss.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in m.parameters())
    with pytest.raises(OptionError, match="min_phase needs"):
        SymAEConfig(min_phase=True, time_terms=False).resolve(8, 64)
    assert SymAEConfig.from_saved({"channels": 8, "samples": 64})[0].min_phase is False


def test_a_resumed_run_keeps_the_auto_options_it_resolved_to():
    """A checkpoint's options left auto (None) take the values its saved model resolved
    to, whatever today's rules say; options the run set stay; the window that the
    training's nuisance view sets is left to it."""
    from symae_seis.training.upgrade import pin_auto_options

    saved = {"filter_shift": True, "min_phase": False, "nuisance_window": [4, 40]}
    hp = {"nuisance_view": "record", "config": {"filter_shift": None, "width": 8}}
    cfg = pin_auto_options(hp, saved)["config"]
    assert cfg["filter_shift"] is True and cfg["min_phase"] is False and cfg["width"] == 8
    assert cfg["nuisance_window"] == [4, 40]
    design = pin_auto_options({"nuisance_view": "design", "config": {}}, saved)["config"]
    assert design.get("nuisance_window") is None and design["filter_shift"] is True
    assert pin_auto_options(hp, None) == hp  # checkpoints without a saved model
