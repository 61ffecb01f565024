"""Progress bars that suit where they are written: a live bar (tqdm) on a terminal or in
a notebook, plain lines (every tenth of the work, through logging) in a log file or a
pipe, nothing with ``--quiet`` (environment ``SYMAE_PROGRESS=0``)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["progress_bar"]

log = logging.getLogger("symae_seis.progress")


class _Lines:
    """A progress counter that logs ``desc: k/n unit`` at every tenth of ``total`` (and
    at the end), with no carriage returns."""

    def __init__(self, iterable: Iterable | None, total: int | None, desc: str, unit: str):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.desc, self.unit, self.n, self._next = total, desc, unit, 0, 0.1
        self._closed = False

    def __iter__(self) -> Iterator:
        for item in () if self.iterable is None else self.iterable:
            yield item
            self.update(1)
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.total and self.n < self.total and self.n >= self._next * self.total:
            log.info("%s: %d/%d %s", self.desc, self.n, self.total, self.unit)
            while self._next * self.total <= self.n:
                self._next += 0.1

    def set_postfix_str(self, *_: Any, **__: Any) -> None:
        """tqdm's postfix: not shown in plain lines."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            total = f"/{self.total}" if self.total else ""
            log.info("%s: %d%s %s done", self.desc, self.n, total, self.unit)

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(
    iterable: Iterable | None = None,
    *,
    desc: str = "",
    unit: str = "it",
    total: int | None = None,
    disable: bool = False,
) -> Any:
    """A progress bar over ``iterable`` (or one updated by hand, ``total`` steps): tqdm
    on a terminal, plain log lines elsewhere, off when ``disable`` or ``SYMAE_PROGRESS=0``."""
    off = disable or os.environ.get("SYMAE_PROGRESS", "1") == "0"
    notebook = "ipykernel" in sys.modules  # Jupyter: tqdm's widget, not log lines
    if not off and not notebook and not sys.stderr.isatty():
        return _Lines(iterable, total, desc, unit)
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit=unit, total=total, disable=off)
