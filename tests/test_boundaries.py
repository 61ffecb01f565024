"""Package boundaries (DESIGN.md): who may import whom, and nothing happens at import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "symae_seis"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                parts = path.relative_to(PKG.parent).with_suffix("").parts[: -node.level]
                mod = ".".join([*parts, mod] if mod else parts)
            out.add(mod)
    return out


def _files(sub: str):
    return sorted((PKG / sub).rglob("*.py"))


def test_models_import_only_torch():
    for f in _files("models"):
        for m in _imports(f):
            top = m.split(".")[0]
            # symae_seis.errors is a leaf (no imports): the one base of user errors;
            # symae_seis.io.atomic (stdlib only) writes model files atomically
            stdlib = {"__future__", "contextlib", "dataclasses", "math", "os", "pathlib", "typing"}
            assert (
                top in stdlib | {"torch"}
                or m.startswith("symae_seis.models")
                or m in ("symae_seis.errors", "symae_seis.io.atomic")
            ), f"{f.name} imports {m}"


def test_models_load_without_the_data_libraries():
    """Importing the models (and writing model files) loads none of segyio, ObsPy, h5py."""
    code = (
        "import sys, symae_seis.models, symae_seis.models.serialization;"
        "bad = {'segyio', 'obspy', 'h5py', 'lightning'} & set(sys.modules);"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_io_never_imports_models_training_or_the_catalog():
    for f in _files("io"):
        for m in _imports(f):
            assert not m.startswith(
                (
                    "symae_seis.models",
                    "symae_seis.training",
                    "torch",
                    "lightning",
                    "symae_seis.catalog",
                    "symae_seis.ingest",
                    "symae_seis.redatum",
                )
            ), f"{f.name} imports {m}"


def test_no_cli_imports_another_and_library_never_imports_cli():
    for f in PKG.rglob("*.py"):
        for m in _imports(f):
            if "cli" in f.relative_to(PKG).parts:
                assert (
                    not m.startswith("symae_seis.cli")
                    or m == "symae_seis.cli._common"
                    or f.name == "__init__.py"
                ), f"{f} imports {m}"
            else:
                assert not m.startswith("symae_seis.cli"), f"{f} imports {m}"


def test_user_errors_share_one_base():
    from symae_seis.catalog import CatalogError, DesignWindowError
    from symae_seis.errors import SymaeError
    from symae_seis.io import MseedError, SegyError, StoreError
    from symae_seis.models import ModelFileError
    from symae_seis.redatum import RedatumError
    from symae_seis.training import InstancesError, NonFiniteLossError

    for cls in (
        CatalogError,
        DesignWindowError,
        MseedError,
        SegyError,
        StoreError,
        ModelFileError,
        RedatumError,
        InstancesError,
        NonFiniteLossError,
    ):
        assert issubclass(cls, SymaeError), cls
    from symae_seis.cli._common import KNOWN_ERRORS

    assert ValueError not in KNOWN_ERRORS and SymaeError in KNOWN_ERRORS


def test_only_cli_configures_logging_or_prints():
    for f in PKG.rglob("*.py"):
        if "cli" in f.parts:
            continue
        src = f.read_text()
        assert "basicConfig" not in src and "addHandler(logging.StreamHandler" not in src, f
        tree = ast.parse(src)
        calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]
        assert not calls, f"print() in library module {f}"


def test_import_has_no_side_effects(tmp_path):
    code = (
        "import logging, symae_seis, symae_seis.io, symae_seis.models, "
        "symae_seis.training, symae_seis.redatum, symae_seis.qc;"
        "h = logging.getLogger('symae_seis').handlers;"
        "assert all(type(x).__name__ == 'NullHandler' for x in h), h"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    assert list(tmp_path.iterdir()) == []
