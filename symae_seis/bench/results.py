"""Benchmark results as files with their provenance, and the tables made from them.

Layout: ``benchmarks/results/<bench>/<date>_<commit>_<device>[_<tag>]/`` holding
``meta.json`` (bench, tag, date, commit, device, command, environment, note), the metrics
(``metrics.csv``: the long format ``survey, method, zone, metric, value, ...`` of the
quality benchmark; or ``metrics.json``), the run's ``log.txt`` and ``figure.png``.
:func:`record` writes such a folder; :func:`scan` reads them back;
:mod:`symae_seis.bench.tables` turns them into the Markdown of the documentation's pages
(tables are generated, never typed).
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import SymaeError

__all__ = ["Result", "ResultsError", "environment", "record", "scan", "ROLES", "BENCHES"]

#: The files a result folder may hold, by role.
ROLES = {"metrics": ("metrics.csv", "metrics.json"), "log": ("log.txt",), "figure": ("figure.png",)}
#: The benchmarks with a page, and their titles.
BENCHES = {
    "quality": "Quality against the truth",
    "passive": "Passive dv/v",
    "passive_floor": "Passive floor",
    "passive_estimators": "Passive dv/v estimators",
    "passive_real": "Passive dv/v on real noise with an injected change",
    "infill": "Infill",
    "train": "Training throughput",
    "demo": "Demo runs",
    "zoo_statics": "Zoo: what per-trace statics leave of water-velocity changes",
    "marine_geometry": "Marine: what position terms explain within a bin",
    "marine_acquisition": "Marine: what a matching filter leaves at one place",
    "ingest": "Ingest speed",
    "scale": "Scale",
}


class ResultsError(SymaeError):
    """A results folder is malformed or a result cannot be recorded."""


@dataclass(frozen=True)
class Result:
    """One recorded run: its folder and ``meta.json``."""

    path: Path
    meta: dict[str, Any]

    @property
    def bench(self) -> str:
        return self.meta["bench"]

    def file(self, role: str) -> Path | None:
        """The folder's file of ``role`` (:data:`ROLES`), or None."""
        for name in ROLES[role]:
            if (self.path / name).is_file():
                return self.path / name
        return None

    def rows(self) -> list[dict[str, str]]:
        """The long-format rows of ``metrics.csv`` (empty without one)."""
        f = self.path / "metrics.csv"
        if not f.is_file():
            return []
        with open(f, newline="") as fh:
            return list(csv.DictReader(fh))

    def json(self) -> Any:
        f = self.path / "metrics.json"
        return json.loads(f.read_text()) if f.is_file() else None


def _git(*args: str, cwd: Path | None = None) -> str:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=cwd
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def environment() -> dict[str, Any]:
    """Versions, CPU and GPU of this machine (what a timing or a figure depends on)."""
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    for pkg in (
        "symae-seis",
        "torch",
        "lightning",
        "numpy",
        "scipy",
        "segyio",
        "obspy",
        "h5py",
        "xarray",
    ):
        try:
            env[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            env[pkg] = None
    try:
        import torch

        env["torch_threads"] = torch.get_num_threads()
        env["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        env["gpu"] = None
    return env


def _device_slug(env: dict[str, Any]) -> str:
    gpu = env.get("gpu")
    if not gpu:
        return "cpu"
    for word in gpu.replace("-", " ").split():
        if any(c.isdigit() for c in word) and word[0].isalpha():
            return word.lower()
    return "gpu"


def record(
    bench: str,
    *,
    command: str,
    root: Path,
    metrics: Path | None = None,
    log: Path | None = None,
    figure: Path | None = None,
    tag: str = "",
    note: str = "",
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write a result folder under ``root/bench`` for files of a run on this machine:
    ``meta.json`` with the command, the commit (``+dirty`` with uncommitted changes), the
    date, the device and :func:`environment`; the files copied under their role's name.
    ``meta`` replaces any of those fields (results recorded before this layout).

    Raises
    ------
    ResultsError
        For an unknown benchmark, a missing file, or a folder that exists already.
    """
    if bench not in BENCHES:
        raise ResultsError(f"unknown benchmark {bench!r}; one of {sorted(BENCHES)}")
    here = Path(__file__).resolve().parent
    commit = _git("rev-parse", "--short", "HEAD", cwd=here)
    if commit and _git("status", "--porcelain", "--untracked-files=no", cwd=here):
        commit += "+dirty"
    env = environment()
    info = {
        "bench": bench,
        "tag": tag,
        "date": _dt.date.today().isoformat(),
        "commit": commit or "unknown",
        "device": _device_slug(env),
        "command": command,
        "environment": env,
        "note": note,
        **(meta or {}),
    }
    name = "_".join(
        x for x in (info["date"], info["commit"].replace("+", "-"), info["device"], tag) if x
    )
    folder = Path(root) / bench / name
    if folder.exists():
        raise ResultsError(f"{folder} exists already; choose another --tag")
    files = {"metrics": metrics, "log": log, "figure": figure}
    for role, src in files.items():
        if src is not None and not Path(src).is_file():
            raise ResultsError(f"{role} file {src} does not exist")
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True)
    try:
        for role, src in files.items():
            if src is None:
                continue
            suffix = Path(src).suffix
            names = [n for n in ROLES[role] if n.endswith(suffix)]
            if not names:
                raise ResultsError(f"{role} file {src}: expected one of {ROLES[role]}")
            shutil.copyfile(src, tmp / names[0])
        (tmp / "meta.json").write_text(json.dumps(info, indent=1) + "\n")
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def scan(root: Path) -> list[Result]:
    """Every result under ``root`` (``<bench>/<run>/meta.json``), newest first within a
    benchmark.

    Raises
    ------
    ResultsError
        If a folder has no ``meta.json`` or one that lacks a field.
    """
    out = []
    for folder in sorted(Path(root).glob("*/*")):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        meta_file = folder / "meta.json"
        if not meta_file.is_file():
            raise ResultsError(
                f"{folder}: no meta.json (record results with scripts/bench/record.py)"
            )
        meta = json.loads(meta_file.read_text())
        missing = {"bench", "date", "commit", "device", "command"} - set(meta)
        if missing:
            raise ResultsError(f"{meta_file}: missing {sorted(missing)}")
        out.append(Result(folder, meta))
    return sorted(out, key=lambda r: (r.bench, r.meta["date"], r.path.name), reverse=True)
