"""Where an output came from: the toolkit's version, the model file and its SHA-256,
the store and its catalog dataset, every option, the date, the command line. Written
into NetCDF attributes (CF ``history``), SEG-Y textual headers (a line each) and JSON
sidecars of CSV tables."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from .io.atomic import atomic_path
from .typing import PathLike

__all__ = ["file_sha256", "provenance", "textual_lines", "netcdf_attrs", "write_sidecar"]


def file_sha256(path: PathLike, block: int = 1 << 20) -> str:
    """SHA-256 of a file, read in blocks (memory does not grow with the file)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()


def provenance(
    action: str,
    *,
    model: PathLike | None = None,
    store: PathLike | None = None,
    dataset: str | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of one run of ``action`` (e.g. ``"redatum"``): plain JSON types.

    ``model`` is the model file (its SHA-256 is taken; None: a model built in memory),
    ``store`` the instance store, ``dataset`` its catalog dataset, ``options`` every
    option of the run."""
    from . import __version__

    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    command = " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]])
    rec: dict[str, Any] = {
        "action": action,
        "toolkit": "symae-seis",
        "toolkit_version": __version__,
        "date": now.isoformat().replace("+00:00", "Z"),
        "command": command,
        "model": str(Path(model).resolve()) if model is not None else "in memory",
        "model_sha256": file_sha256(model) if model is not None else "",
        "store": str(Path(store).resolve()) if store is not None else "",
        "dataset": dataset or "",
        "options": {k: _plain(v) for k, v in (options or {}).items()},
    }
    return rec


def _plain(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return str(v)


def netcdf_attrs(rec: dict[str, Any]) -> dict[str, str]:
    """Global attributes of a NetCDF output: CF ``history`` (date and command line) and
    one ``symae_*`` attribute per fact, the options as JSON."""
    return {
        "history": f"{rec['date']} {rec['command']} (symae-seis {rec['toolkit_version']})",
        "symae_toolkit_version": rec["toolkit_version"],
        "symae_action": rec["action"],
        "symae_model": rec["model"],
        "symae_model_sha256": rec["model_sha256"],
        "symae_store": rec["store"],
        "symae_dataset": rec["dataset"],
        "symae_options": json.dumps(rec["options"], sort_keys=True),
        "date_created": rec["date"],
    }


def textual_lines(rec: dict[str, Any], what: str) -> list[str]:
    """Lines (at most 76 characters each) of a SEG-Y textual header saying what the file
    holds and where it came from; long values are cut from the left (paths keep their
    end), the options wrap over as many lines as they need."""

    def tail(v: str, n: int) -> str:
        return v if len(v) <= n else "..." + v[-(n - 3) :]

    lines = [
        tail(what, 76),
        f"SYMAE-SEIS {rec['toolkit_version']} {rec['action'].upper()} {rec['date']}",
        "MODEL " + tail(rec["model"], 70),
        "SHA256 " + rec["model_sha256"],  # 64 hex digits: the whole hash, checkable
        "STORE " + tail(rec["store"], 70),
        "DATASET " + tail(rec["dataset"], 68),
    ]
    line = "OPTIONS"
    for word in (f"{k}={v}" for k, v in sorted(rec["options"].items())):
        if len(line) + 1 + len(word) > 76 and line.strip():
            lines.append(line)
            line = " "
        line = f"{line} {word}"[:76]
    lines.append(line)
    return lines


def write_sidecar(path: PathLike, rec: dict[str, Any], **extra: Any) -> Path:
    """Write ``rec`` (and ``extra``, e.g. the columns of the table it describes) as JSON
    to ``path`` atomically; returns the path."""
    path = Path(path)
    with atomic_path(path, overwrite=True) as tmp:
        Path(tmp).write_text(json.dumps({**rec, **extra}, indent=1, sort_keys=False) + "\n")
    return path
