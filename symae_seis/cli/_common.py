"""What every console script shares: logging set-up and turning known errors into one
clear line (CLIs are the only place that configures logging)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from ..errors import SymaeError

__all__ = [
    "setup_logging",
    "run_main",
    "dataset_parser",
    "KNOWN_ERRORS",
    "add_store_source",
    "store_from_args",
]

#: What a command reports as one line (exit status 2): the user's errors. Anything else
#: is a bug and keeps its traceback.
KNOWN_ERRORS: tuple[type[BaseException], ...] = (SymaeError, FileNotFoundError, FileExistsError)


class _CliHandler(logging.StreamHandler):
    """The one handler the commands put on the package's logger."""


def setup_logging(verbose: bool = False) -> None:
    """Log the package's messages to stderr (once: a second call, e.g. the demo calling
    the steps of other commands in one process, changes only the level)."""
    root = logging.getLogger("symae_seis")
    if not any(isinstance(h, _CliHandler) for h in root.handlers):
        handler = _CliHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def run_main(prog: str, fn: Callable[[], int | None]) -> int:
    """Run ``fn``; known errors print ``prog: error: message`` and exit with status 2."""
    try:
        return int(fn() or 0)
    except KNOWN_ERRORS as err:
        msg = str(err) or type(err).__name__
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def dataset_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """An argument parser for commands that act on one catalog dataset."""
    ap = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    ap.add_argument("dataset", help="dataset name in the catalog")
    ap.add_argument("--catalog", default="data_catalog.yaml", help="catalog file")
    return ap


def add_store_source(ap: argparse.ArgumentParser) -> None:
    """``--dataset NAME`` (a catalog dataset, store built if needed) or ``--store PATH``,
    and ``--catalog``: how commands that read a store are told which."""
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="dataset name in the catalog (store built if needed)")
    src.add_argument("--store", help="path of an instance store (HDF5)")
    ap.add_argument("--catalog", default="data_catalog.yaml")


def store_from_args(args: argparse.Namespace):
    """The store path :func:`add_store_source`'s options name (built if stale/missing)."""
    from pathlib import Path

    from ..catalog import load_catalog
    from ..ingest import ensure_store

    if args.dataset:
        return ensure_store(load_catalog(args.catalog)[args.dataset], progress=True)
    return Path(args.store)
