"""Model files: weights, the resolved model description and the store schema, as plain
types (``torch.load(weights_only=True)`` reads them), written atomically.

Format version 2 names the weights by the model's parts (``nuisance.*``, ``decoder.*``);
files of version 1 (one flat module) are read by renaming their weights
(:func:`upgrade_state_dict`), and so are the ``symae`` records of older checkpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..errors import SymaeError
from ..io.atomic import atomic_path

if TYPE_CHECKING:
    from .symae import SymAE

__all__ = [
    "ModelFileError",
    "export",
    "save",
    "read_blob",
    "upgrade_state_dict",
    "FORMAT",
    "FORMAT_VERSION",
]

FORMAT = "symae-seis-model"
FORMAT_VERSION = 2

#: Version 1 names of the weights -> version 2 (a prefix each).
_V1_PREFIXES = {
    "nui_trunk.": "nuisance.trunk.",
    "nui_head.": "nuisance.head.",
    "win_trunk.": "nuisance.win_trunk.",
    "win_head.": "nuisance.win_head.",
    **{
        f"{k}.": f"decoder.{k}."
        for k in (
            "filter_head",
            "trace_head",
            "refine",
            "coh_trunk",
            "coh_post",
            "coh_head",
            "dec_in",
            "ups",
            "out",
        )
    },
    "shift_field": "decoder.shift_field",
}


class ModelFileError(SymaeError):
    """A model or checkpoint file is unreadable, truncated or of another model."""


def upgrade_state_dict(state: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Weights named as in format version 1 (under ``prefix``, e.g. ``"model."`` in a
    Lightning checkpoint) renamed to version 2; other names are left as they are."""
    out = {}
    for key, value in state.items():
        name = key[len(prefix) :] if key.startswith(prefix) else None
        if name is not None:
            for old, new in _V1_PREFIXES.items():
                if name.startswith(old):
                    key = prefix + new + name[len(old) :]
                    break
        out[key] = value
    return out


def export(model: SymAE) -> dict[str, Any]:
    """Everything needed to rebuild ``model`` without Lightning (plain types)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": dict(model.config),
        "schema": dict(model.schema),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }


def save(model: SymAE, path: str | Path, *, overwrite: bool = True) -> Path:
    """Write :func:`export` of ``model`` to ``path`` atomically (a reader never sees half a
    file; a failed write leaves the old file and no temporary)."""
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        torch.save(export(model), tmp)
    return path


def check_blob(blob: Any, source: str) -> dict[str, Any]:
    """A model record (``export``'s dict) checked, its weights in version 2 names."""
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ModelFileError(f"{source}: not a symae-seis model (no '{FORMAT}' record)")
    version = blob.get("format_version")
    if version not in (1, FORMAT_VERSION):
        raise ModelFileError(
            f"{source}: model format version {version} is not one this "
            f"release reads (1 or {FORMAT_VERSION})"
        )
    if version == 1:
        blob = {
            **blob,
            "state_dict": upgrade_state_dict(blob["state_dict"]),
            "format_version": FORMAT_VERSION,
        }
    return blob


def read_blob(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The model record of a model file or of a training checkpoint (``.ckpt``).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ModelFileError
        If it is truncated, corrupt, or holds no symae-seis model.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] != b"PK" and magic[:1] != b"\x80":  # a zip archive, or a legacy pickle
        raise ModelFileError(
            f"{path}: not a model file (a symae-seis model.pt or a training .ckpt is a "
            f"PyTorch archive; this file starts with {magic!r})"
        )
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for bad files
        objects = (
            type(err).__name__ == "UnpicklingError" and "unsupported global" in str(err).lower()
        )  # weights_only refused objects: no need to import pickle for its type
        if not objects:
            raise ModelFileError(
                f"{path}: not a readable model file (truncated or corrupt?): "
                f"{str(err).splitlines()[0][:200]}"
            ) from None
        raise ModelFileError(
            f"{path}: a PyTorch file that holds more than a symae-seis model (objects "
            "that are not loaded, for safety); give a model.pt or a training .ckpt"
        ) from None
    if isinstance(blob, dict) and "symae" in blob:  # Lightning checkpoint
        blob = blob["symae"]
    return check_blob(blob, str(path))
