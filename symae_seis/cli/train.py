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
from pathlib import Path
from typing import TYPE_CHECKING

from ._common import run_main, setup_logging

if TYPE_CHECKING:  # imported on first use (module __getattr__)
    from ..training.cli import SymAECLI, cli

__all__ = ["SymAECLI", "cli", "main"]


def __getattr__(name: str):
    """``SymAECLI`` and ``cli`` from :mod:`symae_seis.training.cli`, imported on first use
    (Lightning takes seconds to import; ``--help`` and ``--version`` do without it)."""
    if name in ("SymAECLI", "cli"):
        from ..training import cli as _cli

        return getattr(_cli, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Help requests answered from a cache (LightningCLI's help needs torch and Lightning
#: imported and every class introspected: about 7 s; the cached text prints at once).
_HELP_ARGS = (["--help"], ["-h"], ["fit", "--help"], ["fit", "-h"])


def _help_cache(args: list[str]) -> Path:
    """Where the help text of ``args`` is cached: keyed by the versions of symae-seis,
    Lightning, jsonargparse and torch and by the modification times of the modules and
    configs the help is built from, so an upgrade or an edit makes a new one."""
    import hashlib
    import os
    from importlib import metadata

    pkg = Path(__file__).resolve().parents[1]
    key = [" ".join(args)]
    for dist in ("symae-seis", "lightning", "jsonargparse", "torch"):
        try:
            key.append(metadata.version(dist))
        except metadata.PackageNotFoundError:
            key.append("-")
    for sub in ("training", "models", "configs"):
        for f in sorted((pkg / sub).glob("*.*")):
            key.append(f"{f.name}:{f.stat().st_mtime_ns}")
    digest = hashlib.sha256("|".join(key).encode()).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "symae-seis" / f"train-help-{digest}.txt"


def _cached_help(args: list[str]) -> int:
    """Print the help of ``args`` from the cache, building it once (atomically)."""
    import contextlib
    import io

    path = _help_cache(args)
    if path.is_file():
        sys.stdout.write(path.read_text())
        return 0
    from ..training.cli import cli

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        cli(None if args == sys.argv[1:] else args)  # argv as typed: no Lightning warning
    text = buf.getvalue()
    sys.stdout.write(text)
    if text.strip():
        from ..io.atomic import atomic_path

        with contextlib.suppress(OSError), atomic_path(path, overwrite=True) as tmp:
            tmp.write_text(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:  # as every command (LightningCLI has no such option)
        from .. import __version__

        print(f"symae-train {__version__}")
        return 0
    if args in _HELP_ARGS:
        return _cached_help(args)
    setup_logging()

    def run() -> int:
        from ..training.cli import cli

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
