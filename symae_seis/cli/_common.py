"""What every console script shares: logging set-up and turning known errors into one
clear line (CLIs are the only place that configures logging)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import SymaeError

__all__ = [
    "command_parser",
    "setup_logging",
    "run_main",
    "dataset_parser",
    "progress_on",
    "KNOWN_ERRORS",
    "add_store_source",
    "store_from_args",
]

#: What a command reports as one line (exit status 2): the user's errors. Anything else
#: is a bug and keeps its traceback.
KNOWN_ERRORS: tuple[type[BaseException], ...] = (SymaeError, FileNotFoundError, FileExistsError)


class _CliHandler(logging.StreamHandler):
    """The one handler the commands put on the package's logger. It writes to the
    current ``sys.stderr``, not the one of its first call: a notebook or a test harness
    that replaces the stream between two commands in one process gets the messages, not
    a logging error on a closed stream."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler sets it; the current one is used
        pass


class _FileHandler(logging.FileHandler):
    """The ``--log-file`` handler (one per file, whatever the number of calls)."""


def _version() -> str:
    from .. import __version__

    return __version__


def command_parser(prog: str, doc: str, **kwargs) -> argparse.ArgumentParser:
    """The argument parser every command starts from: no abbreviated options (a typo
    such as ``--overwrit`` is an error, not a guess), ``--version``, ``-q/--quiet``,
    ``-v/--verbose`` and ``--log-file``. ``kwargs`` go to :class:`argparse.ArgumentParser`
    (``description`` defaults to the first line of ``doc``)."""
    kwargs.setdefault("description", doc.splitlines()[0])
    ap = argparse.ArgumentParser(prog=prog, allow_abbrev=False, **kwargs)
    ap.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    talk = ap.add_mutually_exclusive_group()
    talk.add_argument(
        "-q", "--quiet", action="store_true", help="print warnings and errors only, no progress"
    )
    talk.add_argument("-v", "--verbose", action="store_true", help="print debugging messages")
    ap.add_argument(
        "--log-file", metavar="PATH", help="also write the messages to PATH (appended, plain)"
    )
    return ap


def setup_logging(args: argparse.Namespace | bool | None = None) -> None:
    """Log the package's messages to stderr (once: a second call, e.g. the demo calling
    the steps of other commands in one process, changes only the level), at the level
    ``args.quiet`` / ``args.verbose`` ask for (a bool: verbose or not), and also into
    ``args.log_file`` where given."""
    verbose = bool(args) if isinstance(args, bool) else bool(getattr(args, "verbose", False))
    quiet = bool(getattr(args, "quiet", False))
    root = logging.getLogger("symae_seis")
    if not any(isinstance(h, _CliHandler) for h in root.handlers):
        handler = _CliHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    log_file = getattr(args, "log_file", None)
    if log_file and not any(
        isinstance(h, _FileHandler) and h.baseFilename == str(Path(log_file).resolve())
        for h in root.handlers
    ):
        try:
            handler = _FileHandler(log_file, mode="a", encoding="utf-8")
        except OSError as err:
            raise SystemExit(f"error: --log-file {log_file}: {err.strerror}") from None
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    if quiet:
        os.environ["SYMAE_PROGRESS"] = "0"  # progress bars off (symae_seis.progress)


def progress_on(args: argparse.Namespace) -> bool:
    """Whether a command shows progress (not with ``--quiet``)."""
    return not getattr(args, "quiet", False)


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
    ap = command_parser(prog, doc)
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


def store_from_args(args: argparse.Namespace, progress: bool = True):
    """The store path :func:`add_store_source`'s options name (built if stale/missing)."""
    from pathlib import Path

    from ..catalog import load_catalog
    from ..ingest import ensure_store

    if args.dataset:
        return ensure_store(load_catalog(args.catalog)[args.dataset], progress=progress)
    store = Path(args.store)
    if not store.is_file():
        raise FileNotFoundError(f"store {store} does not exist (build one with symae-ingest)")
    return store
