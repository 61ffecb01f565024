"""Validated catalog entries, one type per format: :class:`SegyEntry` (SEG-Y and SU) and
:class:`MseedEntry` (miniSEED), both :class:`DatasetEntry`; and the :class:`Catalog`."""

from __future__ import annotations

import difflib
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SymaeError
from ..typing import DataFormat, DatapointBy, GapPolicy, TimeAxes, UnequalPolicy

__all__ = ["CatalogError", "DatasetEntry", "SegyEntry", "MseedEntry", "Catalog"]


class CatalogError(SymaeError):
    """A data catalog entry is malformed or names files that do not exist."""


@dataclass(frozen=True)
class DatasetEntry:
    """One validated dataset of the catalog: what every format has.

    Attributes are plain values; paths are absolute. ``raw`` keeps the entry as written
    (used to detect stale stores).
    """

    name: str
    format: DataFormat
    surveys: dict[str, tuple[str, ...]]
    store: Path
    root: Path
    raw: dict[str, Any] = field(repr=False)
    instance_key: str = "FieldRecord"
    channel_key: str | None = "offset"
    design_window_ms: tuple[float, float] | str | None = None
    generate: dict[str, Any] | None = None

    def survey_files(self, survey: str | None = None) -> dict[str, list[Path]]:
        """Expand the globs of each survey into existing files.

        Raises
        ------
        CatalogError
            If a survey label is unknown, a file is missing or a glob matches nothing.
        """
        labels = list(self.surveys) if survey is None else [survey]
        out: dict[str, list[Path]] = {}
        for label in labels:
            if label not in self.surveys:
                raise CatalogError(
                    f"dataset {self.name!r}: no survey {label!r}; surveys are "
                    f"{sorted(self.surveys)}"
                )
            out[label] = [
                f for pattern in self.surveys[label] for f in self._expand(label, pattern)
            ]
        return out

    def _expand(self, label: str, pattern: str) -> list[Path]:
        path = pattern if os.path.isabs(pattern) else str(self.root / pattern)
        if glob.has_magic(path):
            hits = sorted(glob.glob(path))
            if not hits:
                raise CatalogError(
                    f"dataset {self.name!r}, survey {label!r}: glob {pattern!r} matches no file"
                )
            return [Path(h) for h in hits]
        if not os.path.isfile(path):
            hint = f"; generate it with `symae-synth {self.name}`" if self.generate else ""
            raise CatalogError(
                f"dataset {self.name!r}, survey {label!r}: file {path} does not exist{hint}"
            )
        return [Path(path)]


@dataclass(frozen=True)
class SegyEntry(DatasetEntry):
    """A SEG-Y or SU dataset: gathers made from trace headers."""

    datapoint_key: tuple[str, ...] = ()
    datapoint_bin: dict[str, float] = field(default_factory=dict)
    window_ms: tuple[float, float] | None = None
    unequal_gathers: UnequalPolicy = "reject"
    endian: str = "auto"
    time_axes: TimeAxes = "strict"
    dt_ms: float | None = None
    #: Zero-phase low-cut (Hz) applied to every trace at ingest, before ``window_ms``
    #: cuts it: the swell-noise attenuation a marine processor runs first.
    low_cut_hz: float | None = None

    @property
    def dt_us(self) -> int | None:
        """``dt_ms`` in microseconds (None: read it from the headers)."""
        return None if self.dt_ms is None else int(round(self.dt_ms * 1000))

    @property
    def header_keys(self) -> tuple[str, ...]:
        """SEG-Y header fields this entry groups and sorts by."""
        from ..io.segy_spec import SCALED_BY

        keys = [self.instance_key, *self.datapoint_key, *self.datapoint_bin]
        keys += [SCALED_BY[k] for k in self.datapoint_bin if k in SCALED_BY]  # bins in m
        if self.channel_key:
            keys.append(self.channel_key)
        return tuple(dict.fromkeys(keys))


@dataclass(frozen=True)
class MseedEntry(DatasetEntry):
    """A miniSEED dataset: time windows of station records (or their correlations)."""

    instance_key: str = "window"
    channel_key: str | None = None
    streams: tuple[str, ...] = ("*",)
    window_s: float | None = None
    step_s: float | None = None
    resample_hz: float | None = None
    gaps: GapPolicy = "reject"
    datapoint_by: DatapointBy = "survey"
    correlate: dict[str, Any] | None = None


@dataclass(frozen=True)
class Catalog:
    """All datasets of one catalog file."""

    path: Path
    datasets: dict[str, DatasetEntry]
    #: Malformed entries: name -> the error raised when that dataset is asked for.
    broken: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> DatasetEntry:
        if name in self.broken:
            raise CatalogError(self.broken[name])
        if name not in self.datasets:
            close = difflib.get_close_matches(name, [*self.datasets, *self.broken], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise CatalogError(
                f"{self.path}: no dataset named {name!r}{hint} "
                f"(datasets: {', '.join(sorted(self.datasets)) or 'none'})"
            )
        return self.datasets[name]

    def __iter__(self):
        return iter(self.datasets)

    def __len__(self) -> int:
        return len(self.datasets)
