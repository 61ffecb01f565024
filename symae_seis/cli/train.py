"""``symae-train``: a LightningCLI over :class:`SymAELit` and :class:`SymAEDataModule`.

Examples
--------
Train on the embedded default (CPU here; bf16 mixed precision on a GPU)::

    symae-train fit --data.dataset demo4d            # defaults: 10 epochs, minutes on a CPU
    symae-train fit --config configs/demo4d.yaml --trainer.max_epochs 5
    symae-train fit --config configs/demo4d.yaml --print_config      # every option

Each run writes into ``--run_dir`` (default ``runs/<dataset>``): ``config.yaml`` (the
resolved config), ``metrics.csv`` and TensorBoard events, ``checkpoints/`` (best and
last), ``loss.png`` and ``model.pt`` (the plain model for ``symae-redatum``). A killed run
resumes with ``--ckpt_path last`` and the same ``--run_dir``.
"""

from __future__ import annotations

import argparse
import sys

from ..training.cli import SymAECLI, cli
from ._common import run_main, setup_logging

__all__ = ["SymAECLI", "cli", "main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:  # as every command (LightningCLI has no such option)
        from .. import __version__

        print(f"symae-train {__version__}")
        return 0
    setup_logging()

    def run() -> int:
        # args=None lets LightningCLI read sys.argv itself (passing it warns on every call)
        try:
            cli(argv)
        except argparse.ArgumentError as err:  # one line, then where the options are
            msg = " ".join(str(err).split()) or "bad arguments"
            print(f"symae-train: error: {msg}", file=sys.stderr)
            print("symae-train: the options: symae-train fit --help", file=sys.stderr)
            return 2
        return 0

    return run_main("symae-train", run)


if __name__ == "__main__":
    sys.exit(main())
