"""symae-train for a newcomer: every model and data option explained, sane defaults."""

from __future__ import annotations

import re
import subprocess
import sys


def test_every_model_and_data_option_has_help():
    out = subprocess.run(
        [sys.executable, "-m", "symae_seis.cli.train", "fit", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env=None,
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
