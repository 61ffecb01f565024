"""symae-train for a newcomer: every model and data option explained, sane defaults."""

from __future__ import annotations

import re
import subprocess
import sys


def test_every_model_and_data_option_has_help():
    out = subprocess.run([sys.executable, "-m", "symae_seis.cli.train", "fit", "--help"],
                         capture_output=True, text=True, timeout=120, env=None)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    # option lines of the model and data groups, each with the text that follows it
    blocks = re.findall(r"^  (--(?:model|data)\.\w+)[^\n]*\n((?:\s{20,}[^\n]*\n)*)", text,
                        flags=re.M)
    assert len(blocks) >= 25
    undocumented = []
    for opt, rest in blocks:
        line = text[text.index("  " + opt):].split("\n", 1)[0]
        helptext = (line.split(opt, 1)[1] + rest)
        helptext = re.sub(r"\(type:.*?\)", "", helptext.replace("\n", " "), flags=re.S)
        if not re.search(r"[A-Za-z]{3,}", re.sub(r"^\s*[A-Z_]+\s", "", helptext)):
            undocumented.append(opt)
    assert undocumented == []
    assert "default: 10)" in re.sub(r"\s+", " ", text[text.rindex("--trainer.max_epochs"):][:600])


def test_no_lightning_args_warning_from_the_command_line(tmp_path):
    """Run as a user does (argv only): Lightning must not warn about ``args``."""
    out = subprocess.run([sys.executable, "-m", "symae_seis.cli.train", "fit",
                          "--print_config"], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert "LightningCLI's args parameter" not in out.stderr + out.stdout
    assert "max_epochs: 10" in out.stdout


def test_gpu_overlay_config_trains_longer_and_keeps_the_survey_config():
    """``--config demo4d.yaml --config gpu.yaml``: the shipped GPU overlay (package data)
    changes the trainer's device and epochs and nothing of the model or the data."""
    from importlib import resources

    import yaml

    configs = resources.files("symae_seis.configs")
    base, gpu = str(configs / "demo4d.yaml"), str(configs / "gpu.yaml")

    def printed(*files):
        args = [a for f in files for a in ("--config", f)]
        out = subprocess.run([sys.executable, "-m", "symae_seis.cli.train", "fit", *args,
                              "--print_config"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return yaml.safe_load(out.stdout)

    plain, both = printed(base), printed(base, gpu)
    assert plain["trainer"]["max_epochs"] == 10
    assert both["trainer"]["max_epochs"] == 40 and both["trainer"]["accelerator"] == "gpu"
    assert both["model"] == plain["model"] and both["data"] == plain["data"]
