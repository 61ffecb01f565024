"""Parse and validate ``data_catalog.yaml``.

A catalog names datasets. Each dataset entry says which files make up which survey and
how traces become instances (gathers) and datapoints::

    datasets:
      demo4d:
        format: segy                 # segy | su | mseed
        surveys:                     # label -> file, glob, or list of them
          baseline: data/demo4d/baseline.sgy
          monitor: data/demo4d/monitor.sgy
        instance_key: FieldRecord    # SEG-Y trace header field: one gather per value
        channel_key: offset          # traces of a gather are sorted by this field
        datapoint_key: [CDP]         # survey + these fields = one datapoint
        window_ms: [0, 508]          # time window, ms after the first sample
        design_window_ms: [0, 180]   # no-change window (record time, ms) of the swap
                                     # loss, above the reservoir; "all" where nothing
                                     # changes (deepwater statics); absent: no swap loss
        unequal_gathers: reject      # reject | pad (zero traces appended, marked dead)
        time_axes: strict            # strict: every file has one t0 and sample count;
                                     # align: keep the time range common to all files
        dt_ms: 4                     # only where the headers hold no sample interval
        store: stores/demo4d.h5      # HDF5 instance store (default: stores/<name>.h5)

Spatial binning of the datapoint key: ``datapoint_bin: {SourceX: 50, SourceY: 50}``
(header units) puts every instance into the bin ``floor(value / size)`` of each field.

miniSEED entries use ``streams`` (list of NET.STA.LOC.CHA patterns), ``window_s``,
``step_s``, ``resample_hz``, ``gaps`` (reject | zero | interpolate | skip) and ``datapoint_by``
(survey | day | hour) instead of the header keys.

Relative paths are relative to the catalog file. Every problem raises
:class:`CatalogError` naming the dataset and the key.
"""

from __future__ import annotations

import difflib
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import SymaeError
from .io.segy import HEADER_FIELDS
from .typing import DataFormat, DatapointBy, GapPolicy, PathLike, TimeAxes, UnequalPolicy

__all__ = [
    "CatalogError",
    "DatasetEntry",
    "Catalog",
    "load_catalog",
    "SEGY_HEADER_FIELDS",
    "DesignWindowError",
    "design_window_samples",
]


#: Every standard SEG-Y trace header field (one home: :data:`symae_seis.io.segy.HEADER_FIELDS`).
SEGY_HEADER_FIELDS: tuple[str, ...] = HEADER_FIELDS

_COMMON_KEYS = {"format", "surveys", "store", "description", "generate", "design_window_ms"}
_SEGY_KEYS = {
    "instance_key",
    "channel_key",
    "datapoint_key",
    "datapoint_bin",
    "window_ms",
    "unequal_gathers",
    "endian",
    "time_axes",
    "dt_ms",
}
_MSEED_KEYS = {"streams", "window_s", "step_s", "resample_hz", "gaps", "datapoint_by",
               "correlate"}


class CatalogError(SymaeError):
    """A data catalog entry is malformed or names files that do not exist."""


@dataclass(frozen=True)
class DatasetEntry:
    """One validated dataset of the catalog.

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
    datapoint_key: tuple[str, ...] = ()
    datapoint_bin: dict[str, float] = field(default_factory=dict)
    window_ms: tuple[float, float] | None = None
    design_window_ms: tuple[float, float] | str | None = None
    unequal_gathers: UnequalPolicy = "reject"
    endian: str = "auto"
    time_axes: TimeAxes = "strict"
    dt_ms: float | None = None
    streams: tuple[str, ...] = ("*",)
    window_s: float | None = None
    step_s: float | None = None
    resample_hz: float | None = None
    gaps: GapPolicy = "reject"
    datapoint_by: DatapointBy = "survey"
    generate: dict[str, Any] | None = None
    correlate: dict[str, Any] | None = None
    description: str = ""

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
            files: list[Path] = []
            for pattern in self.surveys[label]:
                path = pattern if os.path.isabs(pattern) else str(self.root / pattern)
                if glob.has_magic(path):
                    hits = sorted(glob.glob(path))
                    if not hits:
                        raise CatalogError(
                            f"dataset {self.name!r}, survey {label!r}: glob {pattern!r} "
                            "matches no file"
                        )
                    files.extend(Path(h) for h in hits)
                elif not os.path.isfile(path):
                    hint = ""
                    if self.generate:
                        hint = f"; generate it with `symae-synth {self.name}`"
                    raise CatalogError(
                        f"dataset {self.name!r}, survey {label!r}: file {path} does not "
                        f"exist{hint}"
                    )
                else:
                    files.append(Path(path))
            out[label] = files
        return out

    @property
    def dt_us(self) -> int | None:
        """``dt_ms`` in microseconds (None: read it from the headers)."""
        return None if self.dt_ms is None else int(round(self.dt_ms * 1000))

    @property
    def header_keys(self) -> tuple[str, ...]:
        """SEG-Y header fields this entry groups and sorts by."""
        keys = [self.instance_key, *self.datapoint_key, *self.datapoint_bin]
        if self.channel_key:
            keys.append(self.channel_key)
        return tuple(dict.fromkeys(keys))


@dataclass(frozen=True)
class Catalog:
    """All datasets of one catalog file."""

    path: Path
    datasets: dict[str, DatasetEntry]

    def __getitem__(self, name: str) -> DatasetEntry:
        if name not in self.datasets:
            close = difflib.get_close_matches(name, list(self.datasets), n=1)
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


def _fail(name: str, msg: str) -> CatalogError:
    return CatalogError(f"dataset {name!r}: {msg}")


def _unknown_key_error(name: str, key: str, allowed: set[str]) -> CatalogError:
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return _fail(name, f"unknown key {key!r}{hint} (allowed: {', '.join(sorted(allowed))})")


def _check_header_field(name: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(name, f"{key} must be a SEG-Y header field name, got {value!r}")
    if value not in SEGY_HEADER_FIELDS:
        close = difflib.get_close_matches(value, SEGY_HEADER_FIELDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise _fail(name, f"{key}: {value!r} is not a SEG-Y trace header field{hint}")
    return value


def _check_positive(name: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise _fail(name, f"{key} must be a positive number, got {value!r}")
    return float(value)


def _check_choice(name: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(name, f"{key} must be one of {list(choices)}, got {value!r}")
    return value


def _check_surveys(name: str, value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict) or not value:
        raise _fail(name, "surveys must be a mapping of survey label -> file(s), e.g. "
                    "{baseline: base.sgy, monitor: mon.sgy}")
    out = {}
    for label, files in value.items():
        if isinstance(files, str):
            files = [files]
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise _fail(name, f"survey {label!r} must name a file, a glob or a list of them, "
                        f"got {files!r}")
        out[str(label)] = tuple(files)
    return out


def _check_window(name: str, value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or not 0 <= value[0] < value[1]
    ):
        raise _fail(name, f"window_ms must be [start, end] with 0 <= start < end, got {value!r}")
    return float(value[0]), float(value[1])


class DesignWindowError(CatalogError):
    """The design window or the swap loss cannot be used on this dataset."""


def design_window_samples(entry: DatasetEntry, t0_ms: float, dt_ms: float, samples: int
                          ) -> tuple[int, int] | None:
    """``entry.design_window_ms`` as ``(start, stop)`` sample indices of a record that
    starts at ``t0_ms`` with ``samples`` samples every ``dt_ms``; None without a window.

    Raises
    ------
    DesignWindowError
        If the window lies outside the record or holds fewer than two samples.
    """
    win = entry.design_window_ms
    if win is None:
        return None
    if win == "all":
        return (0, samples)
    t_end = t0_ms + dt_ms * (samples - 1)
    a = max(int(np.ceil((win[0] - t0_ms) / dt_ms - 1e-9)), 0)
    b = min(int(np.floor((win[1] - t0_ms) / dt_ms + 1e-9)) + 1, samples)
    if b - a < 2:
        raise DesignWindowError(
            f"dataset {entry.name!r}: design_window_ms {list(win)} holds {max(b - a, 0)} "
            f"samples of the record ({t0_ms:g} to {t_end:g} ms every {dt_ms:g} ms); set "
            "design_window_ms inside the record (e.g. above the reservoir), 'all', or "
            "remove it to train without the swap loss")
    return (a, b)


def _check_design_window(name: str, value: Any) -> tuple[float, float] | str | None:
    if value is None or value == "all":
        return value
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or not value[0] < value[1]
    ):
        raise _fail(name, "design_window_ms must be [start, end] in ms of record time with "
                    f"start < end, or 'all', got {value!r}")
    return float(value[0]), float(value[1])


def _mseed_keys(name: str, raw: dict) -> dict[str, Any]:
    """The miniSEED options of an entry, checked."""
    kw: dict[str, Any] = {}
    streams = raw.get("streams", ["*"])
    if isinstance(streams, str):
        streams = [streams]
    if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
        raise _fail(name, "streams must be a list of NET.STA.LOC.CHA patterns, got "
                    f"{streams!r}")
    kw["streams"] = tuple(streams)
    if "window_s" not in raw:
        raise _fail(name, "missing required key 'window_s' (window length in seconds)")
    kw["window_s"] = _check_positive(name, "window_s", raw["window_s"])
    kw["step_s"] = _check_positive(name, "step_s", raw.get("step_s", kw["window_s"]))
    if raw.get("resample_hz") is not None:
        kw["resample_hz"] = _check_positive(name, "resample_hz", raw["resample_hz"])
    kw["gaps"] = _check_choice(name, "gaps", raw.get("gaps", "reject"),
                               ("reject", "zero", "interpolate", "skip"))
    kw["datapoint_by"] = _check_choice(name, "datapoint_by",
                                       raw.get("datapoint_by", "survey"),
                                       ("survey", "day", "hour"))
    kw["instance_key"] = "window"
    kw["channel_key"] = None
    kw["correlate"] = _check_correlate(name, raw.get("correlate"))
    return kw


def _check_correlate(name: str, value: Any) -> dict[str, Any] | None:
    """``correlate: {max_lag_s: 20, whiten: true}``: store each window's station-pair
    cross-correlations instead of its records."""
    if value is None:
        return None
    if not isinstance(value, dict) or "max_lag_s" not in value:
        raise _fail(name, "correlate must be a mapping with max_lag_s (and optionally "
                    f"whiten), e.g. {{max_lag_s: 20}}; got {value!r}")
    unknown = set(value) - {"max_lag_s", "whiten"}
    if unknown:
        raise _fail(name, f"correlate has unknown key(s) {sorted(unknown)}; allowed: "
                    "max_lag_s, whiten")
    whiten = value.get("whiten", True)
    if not isinstance(whiten, bool):
        raise _fail(name, f"correlate.whiten must be true or false, got {whiten!r}")
    return {"max_lag_s": _check_positive(name, "correlate.max_lag_s", value["max_lag_s"]),
            "whiten": whiten}


def _segy_keys(name: str, raw: dict) -> dict[str, Any]:
    """The SEG-Y/SU options of an entry, checked."""
    kw: dict[str, Any] = {}
    kw["instance_key"] = _check_header_field(name, "instance_key",
                                             raw.get("instance_key", "FieldRecord"))
    ck = raw.get("channel_key", "offset")
    kw["channel_key"] = None if ck is None else _check_header_field(name, "channel_key", ck)
    dk = raw.get("datapoint_key", [])
    if isinstance(dk, str):
        dk = [dk]
    if not isinstance(dk, list):
        raise _fail(name, f"datapoint_key must be a header field or a list of them, got {dk!r}")
    kw["datapoint_key"] = tuple(_check_header_field(name, "datapoint_key", k) for k in dk)
    bins = raw.get("datapoint_bin", {}) or {}
    if not isinstance(bins, dict):
        raise _fail(name, f"datapoint_bin must map header fields to bin sizes, got {bins!r}")
    kw["datapoint_bin"] = {
        _check_header_field(name, "datapoint_bin", k): _check_positive(
            name, f"datapoint_bin.{k}", v
        )
        for k, v in bins.items()
    }
    kw["window_ms"] = _check_window(name, raw.get("window_ms"))
    kw["unequal_gathers"] = _check_choice(name, "unequal_gathers",
                                          raw.get("unequal_gathers", "reject"),
                                          ("reject", "pad"))
    kw["endian"] = _check_choice(name, "endian", raw.get("endian", "auto"),
                                 ("auto", "big", "little"))
    kw["time_axes"] = _check_choice(name, "time_axes", raw.get("time_axes", "strict"),
                                    ("strict", "align"))
    if raw.get("dt_ms") is not None:
        dt = _check_positive(name, "dt_ms", raw["dt_ms"])
        if abs(dt * 1000 - round(dt * 1000)) > 1e-6:
            raise _fail(name, f"dt_ms must be a whole number of microseconds, got {dt!r}")
        kw["dt_ms"] = dt
    return kw


def _parse_entry(name: str, raw: Any, root: Path) -> DatasetEntry:
    if not isinstance(raw, dict):
        raise _fail(name, f"entry must be a mapping, got {type(raw).__name__}")
    fmt = _check_choice(name, "format", raw.get("format", "segy"), ("segy", "su", "mseed"))
    allowed = _COMMON_KEYS | (_MSEED_KEYS if fmt == "mseed" else _SEGY_KEYS)
    for key in raw:
        if key not in allowed:
            raise _unknown_key_error(name, key, allowed)
    if "surveys" not in raw:
        raise _fail(name, "missing required key 'surveys'")
    kw: dict[str, Any] = {
        "name": name,
        "format": fmt,
        "surveys": _check_surveys(name, raw["surveys"]),
        "root": root,
        "raw": raw,
        "description": str(raw.get("description", "")),
    }
    store = raw.get("store", f"stores/{name}.h5")
    if not isinstance(store, str):
        raise _fail(name, f"store must be a path, got {store!r}")
    kw["store"] = Path(store) if os.path.isabs(store) else root / store
    gen = raw.get("generate")
    if gen is not None and not isinstance(gen, dict):
        raise _fail(name, f"generate must be a mapping, got {gen!r}")
    kw["generate"] = gen
    kw["design_window_ms"] = _check_design_window(name, raw.get("design_window_ms"))
    kw.update(_mseed_keys(name, raw) if fmt == "mseed" else _segy_keys(name, raw))
    return DatasetEntry(**kw)


def load_catalog(path: PathLike = "data_catalog.yaml") -> Catalog:
    """Read and validate a catalog file.

    Parameters
    ----------
    path
        The YAML file. Relative paths inside it are taken relative to its folder.

    Returns
    -------
    Catalog

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    CatalogError
        If the YAML is invalid, or an entry has an unknown key, a wrong type or a header
        field that SEG-Y does not have.

    Examples
    --------
    >>> cat = load_catalog("data_catalog.yaml")   # doctest: +SKIP
    >>> cat["demo4d"].surveys                     # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data catalog {path} does not exist")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise CatalogError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("datasets"), dict):
        raise CatalogError(f"{path}: expected a top-level 'datasets:' mapping")
    extra = set(doc) - {"datasets"}
    if extra:
        raise CatalogError(f"{path}: unknown top-level key(s) {sorted(extra)}; only 'datasets'")
    root = path.resolve().parent
    datasets = {}
    for name, raw in doc["datasets"].items():
        try:
            datasets[str(name)] = _parse_entry(str(name), raw, root)
        except CatalogError as err:
            raise CatalogError(f"{path}: {err}") from None
    return Catalog(path=path.resolve(), datasets=datasets)
