"""``--model KEY=VALUE`` options of the benchmarks: the model's options
(:class:`~symae_seis.models.SymAEConfig`) and the training's (:class:`SymAELit`)."""

from __future__ import annotations

import argparse
import dataclasses
import inspect

import yaml

from ..models.config import OPTION_NAMES
from ..training import SymAELit

__all__ = ["marine_options", "add_model_option", "model_options", "MODEL_KEYS", "TRAINING_KEYS"]

MODEL_KEYS = OPTION_NAMES
#: SymAELit's own options (the data links and the model's config excluded).
TRAINING_KEYS = frozenset(inspect.signature(SymAELit).parameters) - {
    "channels",
    "samples",
    "scale",
    "schema",
    "design_window",
    "config",
}


def add_model_option(ap: argparse.ArgumentParser, help: str) -> None:
    ap.add_argument("--model", action="append", default=[], metavar="KEY=VALUE", help=help)


def model_options(ap: argparse.ArgumentParser, items: list[str]) -> dict:
    """``{KEY: value}`` of ``--model KEY=VALUE`` items (values read as YAML); an item
    that is not ``KEY=VALUE`` with KEY a model or training option stops the parser."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in MODEL_KEYS | TRAINING_KEYS:
            ap.error(
                f"--model {item!r}: expected KEY=VALUE with KEY a model option "
                f"({', '.join(sorted(MODEL_KEYS | TRAINING_KEYS))})"
            )
        out[key] = yaml.safe_load(value)
    return out


def marine_options(ap: argparse.ArgumentParser, items: list[str]) -> dict:
    """``{KEY: value}`` of ``--marine KEY=VALUE`` items (values read as YAML, lists as
    tuples); an item that is not ``KEY=VALUE`` with KEY a field of
    :class:`~symae_seis.synth.marine.Marine4DParams` stops the parser."""
    from ..synth.marine import Marine4DParams

    fields = {f.name for f in dataclasses.fields(Marine4DParams)} - {"seed"}
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            ap.error(
                f"--marine {item!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(fields))}"
            )
        v = yaml.safe_load(value)
        out[key] = tuple(v) if isinstance(v, list) else v
    return out
