"""``--model KEY=VALUE`` options of the benchmarks: model options of ``SymAELit``."""

from __future__ import annotations

import argparse
import inspect

import yaml

from symae_seis.training import SymAELit


def add_model_option(ap: argparse.ArgumentParser, help: str) -> None:
    ap.add_argument("--model", action="append", default=[], metavar="KEY=VALUE", help=help)


def model_options(ap: argparse.ArgumentParser, items: list[str]) -> dict:
    """``{KEY: value}`` of ``--model KEY=VALUE`` items (values read as YAML); an item
    that is not ``KEY=VALUE`` with KEY an option of ``SymAELit`` stops the parser."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in inspect.signature(SymAELit).parameters:
            ap.error(f"--model {item!r}: expected KEY=VALUE with KEY a model option")
        out[key] = yaml.safe_load(value)
    return out
