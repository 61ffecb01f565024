"""symae-train for a newcomer: every model and data option explained, sane defaults."""

from __future__ import annotations

import os
import re
import subprocess
import sys


def test_every_model_and_data_option_has_help(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "symae_seis.cli.train", "fit", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    # option lines of the model and data groups, each with the text that follows it
    blocks = re.findall(
        r"^  (--(?:model|data)\.[\w.]+)[^\n]*\n((?:\s{20,}[^\n]*\n)*)", text, flags=re.M
    )
    assert len(blocks) >= 25
    undocumented = []
    for opt, rest in blocks:
        line = text[text.index("  " + opt) :].split("\n", 1)[0]
        helptext = line.split(opt, 1)[1] + rest
        helptext = re.sub(r"\(type:.*?\)", "", helptext.replace("\n", " "), flags=re.S)
        if not re.search(r"[A-Za-z]{3,}", re.sub(r"^\s*[A-Z_]+\s", "", helptext)):
            undocumented.append(opt)
    assert undocumented == []
    assert "default: 10)" in re.sub(r"\s+", " ", text[text.rindex("--trainer.max_epochs") :][:600])


def test_no_lightning_args_warning_from_the_command_line(tmp_path):
    """Run as a user does (argv only): Lightning must not warn about ``args``."""
    out = subprocess.run(
        [sys.executable, "-m", "symae_seis.cli.train", "fit", "--print_config"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert "LightningCLI's args parameter" not in out.stderr + out.stdout
    assert "max_epochs: 10" in out.stdout


def test_gpu_overlay_config_trains_longer_and_keeps_the_survey_config(tmp_path):
    """``--config demo4d.yaml --config gpu.yaml``: the shipped GPU overlay (package data)
    changes the trainer's device and epochs and nothing of the model or the data; the demo
    adds it on a GPU unless ``--epochs`` is given."""
    import yaml

    from symae_seis.cli.demo import train_arguments

    def printed(args):
        out = subprocess.run(
            [sys.executable, "-m", "symae_seis.cli.train", *args, "--print_config"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        return yaml.safe_load(out.stdout)

    run = tmp_path / "run"
    plain = printed(train_arguments("demo4d", "data_catalog.yaml", run, None, gpu=False))
    both = printed(train_arguments("demo4d", "data_catalog.yaml", run, None, gpu=True))
    asked = printed(train_arguments("demo4d", "data_catalog.yaml", run, 5, gpu=True))
    assert plain["trainer"]["max_epochs"] == 10 and plain["trainer"]["accelerator"] == "auto"
    assert both["trainer"]["max_epochs"] == 40 and both["trainer"]["accelerator"] == "gpu"
    assert both["model"] == plain["model"] and both["data"] == plain["data"]
    assert asked["trainer"]["max_epochs"] == 5 and asked["trainer"]["accelerator"] == "auto"


def test_help_is_cached_and_then_needs_no_lightning(tmp_path):
    """symae-train --help builds LightningCLI's help once (seconds: torch and Lightning
    imported, every class introspected) and prints the cached text after, the same,
    without importing Lightning."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    probe = (
        "import sys; from symae_seis.cli.train import main; main(['fit', '--help']); "
        "print('LIGHTNING', 'lightning' in sys.modules, file=sys.stderr)"
    )
    first = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env
    )
    again = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env
    )
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert "--model.config.width" in first.stdout and again.stdout == first.stdout
    assert "LIGHTNING True" in first.stderr and "LIGHTNING False" in again.stderr
    assert len(list((tmp_path / "symae-seis").glob("train-help-*.txt"))) == 1
