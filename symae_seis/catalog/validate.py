"""One validator per rule of a catalog entry, and the parsers of each format's keys.

Every validator takes the dataset's name, the key and the value as written, and returns
the cleaned value or raises :class:`CatalogError` naming the dataset and the key. The
choice lists are the ``Literal`` types of :mod:`symae_seis.typing`, in one place.
"""

from __future__ import annotations

import difflib
import math
import os
from pathlib import Path
from typing import Any, get_args

from ..io.segy import HEADER_FIELDS
from ..io.segy_spec import canonical_header_field, header_aliases
from ..typing import DataFormat, DatapointBy, Endian, GapPolicy, TimeAxes, UnequalPolicy
from .entries import CatalogError, DatasetEntry, MseedEntry, SegyEntry

__all__ = ["parse_entry"]

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
    "low_cut_hz",
}
_MSEED_KEYS = {"streams", "window_s", "step_s", "resample_hz", "gaps", "datapoint_by", "correlate"}


def _fail(name: str, msg: str) -> CatalogError:
    return CatalogError(f"dataset {name!r}: {msg}")


def _hint(value: str, choices) -> str:
    close = difflib.get_close_matches(value, sorted(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_keys(name: str, raw: dict, allowed: set[str]) -> None:
    for key in raw:
        if key not in allowed:
            raise _fail(
                name,
                f"unknown key {key!r}{_hint(key, allowed)} (allowed: {', '.join(sorted(allowed))})",
            )


def check_header_field(name: str, key: str, value: Any) -> str:
    """segyio's name of the header field ``value`` names: segyio's (``FieldRecord``), a
    Seismic Unix name (``fldr``), ObsPy's (``original_field_record_number``) or the
    field's first byte (``9``)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _fail(name, f"{key} must be a SEG-Y header field name, got {value!r}")
    field = canonical_header_field(value)
    if field is None:
        names = [*HEADER_FIELDS, *header_aliases()]
        hint = "" if str(value).isdigit() else _hint(str(value), names)
        raise _fail(
            name,
            f"{key}: {value!r} is not a SEG-Y trace header field{hint} (segyio names such "
            "as FieldRecord, CDP, offset, SourceX; Seismic Unix names such as fldr, cdp, "
            "offset, sx, gx; ObsPy names; or the first byte, e.g. 9)",
        )
    return field


def check_positive(name: str, key: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise _fail(name, f"{key} must be a positive number, got {value!r}")
    return float(value)


def check_choice(name: str, key: str, value: Any, choices) -> str:
    """``value`` one of ``choices`` (a tuple, or a ``Literal`` type)."""
    options = get_args(choices) or tuple(choices)
    if value not in options:
        raise _fail(name, f"{key} must be one of {list(options)}, got {value!r}")
    return value


def check_interval(
    name: str, key: str, value: Any, *, from_zero: bool, what: str
) -> tuple[float, float]:
    """``[start, end]`` of two numbers with ``start < end`` (and ``0 <= start`` where
    ``from_zero``)."""
    ok = (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and (0 <= value[0] or not from_zero)
        and value[0] < value[1]
    )
    if not ok:
        raise _fail(name, f"{key} must be [start, end] {what}, got {value!r}")
    return float(value[0]), float(value[1])


def check_design_window(name: str, value: Any) -> tuple[float, float] | str | None:
    if value is None or value == "all":
        return value
    return check_interval(
        name,
        "design_window_ms",
        value,
        from_zero=False,
        what="in ms of record time with start < end, or 'all'",
    )


def check_surveys(name: str, value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict) or not value:
        raise _fail(
            name,
            "surveys must be a mapping of survey label -> file(s), e.g. "
            "{baseline: base.sgy, monitor: mon.sgy}",
        )
    out = {}
    for label, files in value.items():
        if isinstance(files, str):
            files = [files]
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise _fail(
                name, f"survey {label!r} must name a file, a glob or a list of them, got {files!r}"
            )
        out[str(label)] = tuple(files)
    return out


def check_correlate(name: str, value: Any) -> dict[str, Any] | None:
    """``correlate: {max_lag_s: 20, whiten: true, band_hz: [0.1, 1.0], reject_rms: 3}``:
    store each window's station-pair cross-correlations instead of its records, whitened
    (by default) and, with ``band_hz``, kept to that band (band-limited whitening; the upper
    edge is checked against the Nyquist frequency at ingest); with ``reject_rms``, a
    station's window whose RMS exceeds that many times the station's median window RMS
    over the survey is left out (its pairs dead in that window: amplitude-based rejection
    of transients)."""
    if value is None:
        return None
    if not isinstance(value, dict) or "max_lag_s" not in value:
        raise _fail(
            name,
            "correlate must be a mapping with max_lag_s (and optionally "
            f"whiten, band_hz, reject_rms), e.g. {{max_lag_s: 20}}; got {value!r}",
        )
    unknown = set(value) - {"max_lag_s", "whiten", "band_hz", "reject_rms"}
    if unknown:
        raise _fail(
            name,
            f"correlate has unknown key(s) {sorted(unknown)}; allowed: max_lag_s, whiten, "
            "band_hz, reject_rms",
        )
    reject = value.get("reject_rms")
    if reject is not None and (
        not isinstance(reject, (int, float)) or isinstance(reject, bool) or not reject > 1
    ):
        raise _fail(
            name,
            "correlate.reject_rms must be a number above 1 (times the station's median "
            f"window RMS), got {reject!r}",
        )
    whiten = value.get("whiten", True)
    if not isinstance(whiten, bool):
        raise _fail(name, f"correlate.whiten must be true or false, got {whiten!r}")
    band = value.get("band_hz")
    if band is not None:
        ok = (
            isinstance(band, (list, tuple))
            and len(band) == 2
            and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in band)
            and 0 <= band[0] < band[1]
        )
        if not ok:
            raise _fail(
                name,
                f"correlate.band_hz must be [low, high] in Hz with 0 <= low < high, got {band!r}",
            )
        band = (float(band[0]), float(band[1]))
    out = {
        "max_lag_s": check_positive(name, "correlate.max_lag_s", value["max_lag_s"]),
        "whiten": whiten,
    }
    if band is not None:  # only when given: stores built without it stay current
        out["band_hz"] = band
    if reject is not None:  # likewise
        out["reject_rms"] = float(reject)
    return out


def check_dt(name: str, value: Any) -> float:
    dt = check_positive(name, "dt_ms", value)
    if abs(dt * 1000 - round(dt * 1000)) > 1e-6:
        raise _fail(name, f"dt_ms must be a whole number of microseconds, got {dt!r}")
    return dt


def _mseed_keys(name: str, raw: dict) -> dict[str, Any]:
    """The miniSEED options of an entry, checked."""
    streams = raw.get("streams", ["*"])
    if isinstance(streams, str):
        streams = [streams]
    if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
        raise _fail(name, f"streams must be a list of NET.STA.LOC.CHA patterns, got {streams!r}")
    if "window_s" not in raw:
        raise _fail(name, "missing required key 'window_s' (window length in seconds)")
    window = check_positive(name, "window_s", raw["window_s"])
    kw: dict[str, Any] = {
        "streams": tuple(streams),
        "window_s": window,
        "step_s": check_positive(name, "step_s", raw.get("step_s", window)),
        "gaps": check_choice(name, "gaps", raw.get("gaps", "reject"), GapPolicy),
        "datapoint_by": check_choice(
            name, "datapoint_by", raw.get("datapoint_by", "survey"), DatapointBy
        ),
        "correlate": check_correlate(name, raw.get("correlate")),
    }
    if raw.get("resample_hz") is not None:
        kw["resample_hz"] = check_positive(name, "resample_hz", raw["resample_hz"])
    return kw


def _segy_keys(name: str, raw: dict) -> dict[str, Any]:
    """The SEG-Y/SU options of an entry, checked."""
    ck = raw.get("channel_key", "offset")
    dk = raw.get("datapoint_key", [])
    if isinstance(dk, str):
        dk = [dk]
    if not isinstance(dk, list):
        raise _fail(name, f"datapoint_key must be a header field or a list of them, got {dk!r}")
    bins = raw.get("datapoint_bin", {}) or {}
    if not isinstance(bins, dict):
        raise _fail(name, f"datapoint_bin must map header fields to bin sizes, got {bins!r}")
    window = raw.get("window_ms")
    kw: dict[str, Any] = {
        "instance_key": check_header_field(
            name, "instance_key", raw.get("instance_key", "FieldRecord")
        ),
        "channel_key": None if ck is None else check_header_field(name, "channel_key", ck),
        "datapoint_key": tuple(check_header_field(name, "datapoint_key", k) for k in dk),
        "datapoint_bin": {
            check_header_field(name, "datapoint_bin", k): check_positive(
                name, f"datapoint_bin.{k}", v
            )
            for k, v in bins.items()
        },
        "window_ms": None
        if window is None
        else check_interval(
            name, "window_ms", window, from_zero=True, what="with 0 <= start < end"
        ),
        "unequal_gathers": check_choice(
            name, "unequal_gathers", raw.get("unequal_gathers", "reject"), UnequalPolicy
        ),
        "endian": check_choice(name, "endian", raw.get("endian", "auto"), Endian),
        "time_axes": check_choice(name, "time_axes", raw.get("time_axes", "strict"), TimeAxes),
    }
    if raw.get("dt_ms") is not None:
        kw["dt_ms"] = check_dt(name, raw["dt_ms"])
    if raw.get("low_cut_hz") is not None:  # against the Nyquist frequency at ingest
        kw["low_cut_hz"] = check_positive(name, "low_cut_hz", raw["low_cut_hz"])
    return kw


def parse_entry(name: str, raw: Any, root: Path) -> DatasetEntry:
    """The typed entry of one dataset (``raw`` as written, paths relative to ``root``)."""
    if not isinstance(raw, dict):
        raise _fail(name, f"entry must be a mapping, got {type(raw).__name__}")
    fmt = check_choice(name, "format", raw.get("format", "segy"), DataFormat)
    mseed = fmt == "mseed"
    check_keys(name, raw, _COMMON_KEYS | (_MSEED_KEYS if mseed else _SEGY_KEYS))
    if "surveys" not in raw:
        raise _fail(name, "missing required key 'surveys'")
    store = raw.get("store", f"stores/{name}.h5")
    if not isinstance(store, str):
        raise _fail(name, f"store must be a path, got {store!r}")
    gen = raw.get("generate")
    if gen is not None and not isinstance(gen, dict):
        raise _fail(name, f"generate must be a mapping, got {gen!r}")
    common = {
        "name": name,
        "format": fmt,
        "surveys": check_surveys(name, raw["surveys"]),
        "root": root,
        "raw": raw,
        "generate": gen,
        "store": Path(store) if os.path.isabs(store) else root / store,
        "design_window_ms": check_design_window(name, raw.get("design_window_ms")),
    }
    if mseed:
        return MseedEntry(**common, **_mseed_keys(name, raw))
    return SegyEntry(**common, **_segy_keys(name, raw))
