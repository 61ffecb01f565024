"""The base of every error a user can act on.

Each module raises its own subclass (``CatalogError``, ``SegyError``, ``StoreError``, ...)
with a message naming the file or option and what is wrong. The command-line tools catch
:class:`SymaeError` (and missing or existing files) and print that one line; anything else
is a bug and keeps its traceback. Advice goes through ``warnings.warn`` with
:class:`SymaeWarning`.
"""

from __future__ import annotations

__all__ = ["SymaeError", "OptionError", "SymaeWarning"]


class SymaeError(ValueError):
    """A problem with the user's data, catalog, options or files (not a bug)."""


class OptionError(SymaeError):
    """A model, data or command option out of its range."""


class SymaeWarning(UserWarning):
    """Advice the user can act on (a policy applied, a slow path taken, a suspicious
    header); facts and progress go to logging."""
