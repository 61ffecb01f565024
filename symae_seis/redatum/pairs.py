"""Pairings: which coherent datapoint goes with which nuisance instance."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import SymaeError
from ..io.store import StoreReader

__all__ = ["RedatumError", "Pairs", "pair_4d", "pair_reference"]


class RedatumError(SymaeError):
    """Model and store do not match, or a pairing selects nothing."""


@dataclass
class Pairs:
    """What to decode: pair k = coherent code of datapoint ``coherent[k]`` with the
    nuisance code of store row ``nuisance[k]`` (or of the reference when ``nuisance[k]``
    is -1 and ``reference_code`` is set). ``real[k]`` is the store row compared with."""

    coherent: np.ndarray
    nuisance: np.ndarray
    real: np.ndarray
    mode: str
    reference_code: np.ndarray | None = None
    reference_label: str = ""
    real_codes: np.ndarray | None = None  # nuisance codes of ``real``, when known
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.coherent)


def _survey_index(reader: StoreReader, label: str) -> int:
    if label not in reader.surveys:
        raise RedatumError(f"{reader.path}: no survey {label!r}; surveys are {reader.surveys}")
    return reader.surveys.index(label)


def pair_4d(
    reader: StoreReader, coherent_from: str = "monitor", nuisance_from: str = "baseline"
) -> Pairs:
    """Coherent code of each ``coherent_from`` datapoint with the nuisance of every
    ``nuisance_from`` instance of the datapoint with the same key."""
    sc, sn = _survey_index(reader, coherent_from), _survey_index(reader, nuisance_from)
    by_key = {tuple(reader.dp_key[d]): d for d in np.flatnonzero(reader.dp_survey == sc)}
    coh, nui = [], []
    for d in np.flatnonzero(reader.dp_survey == sn):
        target = by_key.get(tuple(reader.dp_key[d]))
        if target is None:
            continue
        rows = reader.members[d]
        nui.append(rows)
        coh.append(np.full(len(rows), target))
    if not nui:
        raise RedatumError(
            f"{reader.path}: no datapoint key of survey {nuisance_from!r} is "
            f"present in survey {coherent_from!r} (keys {reader.dp_names}); "
            "nothing to redatum"
        )
    nui_rows = np.concatenate(nui)
    return Pairs(
        coherent=np.concatenate(coh),
        nuisance=nui_rows,
        real=nui_rows,
        mode="4d",
        meta={"coherent_from": coherent_from, "nuisance_from": nuisance_from},
    )


def pair_reference(reader: StoreReader, surveys: list[str] | None = None) -> Pairs:
    """Every instance of ``surveys`` (default all) with its own datapoint's coherent code;
    the nuisance is the reference (set by :func:`redatum`)."""
    rows = np.arange(reader.shape[0])
    if surveys:
        keep = np.isin(reader.survey, [_survey_index(reader, s) for s in surveys])
        rows = rows[keep]
    return Pairs(
        coherent=reader.datapoint[rows],
        nuisance=np.full(len(rows), -1),
        real=rows,
        mode="reference",
    )
