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
        low_cut_hz: 8                # zero-phase low-cut at ingest (swell attenuation)
        store: stores/demo4d.h5      # HDF5 instance store (default: stores/<name>.h5)

Spatial binning of the datapoint key: ``datapoint_bin: {SourceX: 50, SourceY: 50}``
(header units) puts every instance into the bin ``floor(value / size)`` of each field.

miniSEED entries use ``streams`` (list of NET.STA.LOC.CHA patterns), ``window_s``,
``step_s``, ``resample_hz``, ``gaps`` (reject | zero | interpolate | skip) and ``datapoint_by``
(survey | day | hour) instead of the header keys.

Relative paths are relative to the catalog file. Every problem raises
:class:`CatalogError` naming the dataset and the key. Entries are typed by format
(:class:`SegyEntry`, :class:`MseedEntry`, in ``entries``); each rule has its validator
(``validate``); the design window's samples are in ``design``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..typing import PathLike
from .design import DesignWindowError, design_window_samples
from .entries import Catalog, CatalogError, DatasetEntry, MseedEntry, SegyEntry
from .validate import parse_entry

__all__ = [
    "CatalogError",
    "DatasetEntry",
    "SegyEntry",
    "MseedEntry",
    "Catalog",
    "load_catalog",
    "DesignWindowError",
    "design_window_samples",
]


def load_catalog(path: PathLike = "data_catalog.yaml", *, strict: bool = False) -> Catalog:
    """Read and validate a catalog file.

    A malformed entry does not block the others: its error is kept and raised when that
    dataset is asked for (``catalog[name]``), unless ``strict``.

    Parameters
    ----------
    path
        The YAML file. Relative paths inside it are taken relative to its folder.
    strict
        Raise the first malformed entry's error at once (a catalog check).

    Returns
    -------
    Catalog

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    CatalogError
        If the YAML is invalid, or (``strict``) an entry has an unknown key, a wrong type or
        a header field that SEG-Y does not have.

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
    datasets, broken = {}, {}
    for name, raw in doc["datasets"].items():
        try:
            datasets[str(name)] = parse_entry(str(name), raw, root)
        except CatalogError as err:
            if strict:
                raise CatalogError(f"{path}: {err}") from None
            broken[str(name)] = f"{path}: {err}"
    return Catalog(path=path.resolve(), datasets=datasets, broken=broken)
