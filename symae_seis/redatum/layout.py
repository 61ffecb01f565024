"""The layout of ``redatum.nc``: its dimensions and CF-1.8 coordinates (datapoint keys,
the channel key's values, the recorded gathers' surveys, keys and positions, the live
mask), read from the recorded gathers' stored headers in one pass."""

from __future__ import annotations

import json

import numpy as np

from ..io.netcdf import cf_layout
from ..io.segy import HEADER_FIELDS
from ..io.segy_spec import first_trace_values
from ..io.store import StoreReader
from .pairs import Pairs

__all__ = ["POSITIONS", "scan_donor_headers", "netcdf_layout"]


def _cf_name(field: str) -> str:
    """NetCDF name of a header field, segysak-like: ``CDP`` -> ``cdp``."""
    return field.lower()


#: Units of the channel key's values where the SEG-Y standard fixes them.
_KEY_UNITS = {
    "offset": "m",
    "SourceX": "m",
    "SourceY": "m",
    "GroupX": "m",
    "GroupY": "m",
    "CDP_X": "m",
    "CDP_Y": "m",
}


#: Positions carried per redatumed gather (m, the coordinate scalar applied), from the
#: recorded gather's first recorded trace: NetCDF name -> header field.
POSITIONS = {
    "source_x": "SourceX",
    "source_y": "SourceY",
    "cdp_x": "CDP_X",
    "cdp_y": "CDP_Y",
}


def scan_donor_headers(
    reader: StoreReader, pairs: Pairs, c: int, block: int = 256
) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
    """One pass over the recorded gathers' stored headers: which slots hold a recorded
    trace (padded slots have all-zero headers), the channel key's value of each trace
    (None where the store keeps no SEG-Y headers or no channel key) and the gathers'
    positions (:data:`POSITIONS`; those all zero are left out)."""
    n = len(pairs)
    if reader.n_header_fields != len(HEADER_FIELDS):
        return np.ones((n, c), dtype=bool), None, {}
    ck = reader.channel_key_name
    col = reader.header_fields.index(ck) if ck else None
    fields = reader.header_fields
    present = np.zeros((n, c), dtype=bool)
    chan = np.zeros((n, c), dtype=np.int64) if col is not None else None
    pos = {k: np.zeros(n) for k in POSITIONS}
    for a in range(0, n, block):
        h = reader.headers(pairs.real[a : a + block])
        here = np.any(h != 0, axis=-1)
        present[a : a + block] = here
        if chan is not None:
            chan[a : a + block] = h[..., col]
        vals = first_trace_values(h, fields, tuple(POSITIONS.values()))
        for j, name in enumerate(POSITIONS):
            pos[name][a : a + block] = vals[:, j]
    return present, chan, {k: v for k, v in pos.items() if np.any(v != 0)}


def _shared_channel_values(present: np.ndarray, chan: np.ndarray | None) -> np.ndarray | None:
    """The channel key's values when every gather has them in every slot it recorded
    (then the channel dimension is indexed by them), else None."""
    if chan is None or not present.any():
        return None
    if not present.any(axis=0).all():  # a slot no gather recorded has no value
        return None
    ref = chan[np.argmax(present, axis=0), np.arange(chan.shape[1])]
    if np.any((chan != ref) & present):
        return None
    if len(np.unique(ref)) != len(ref):
        return None
    return ref


def _coordinates(
    var,
    reader: StoreReader,
    pairs: Pairs,
    n: int,
    chdim: str,
    chan: np.ndarray | None,
    positions: dict[str, np.ndarray],
) -> list[str]:
    """Coordinate variables of ``redatum.nc`` (``chdim``: the channel dimension's name;
    ``chan``: the channel key's value per trace, None when the dimension is indexed by
    them); returns the auxiliary ones' names."""
    import h5py

    var("pair", ("pair",), "i8", np.arange(n), "index of the redatumed gather")
    aux: list[str] = []
    for j, name in enumerate(reader.dp_names):
        var(
            _cf_name(name),
            ("pair",),
            "i8",
            reader.dp_key[pairs.coherent, j],
            f"{name} (SEG-Y header) of the datapoint",
        )
        aux.append(_cf_name(name))
    ik = reader.instance_key_name or "instance"
    var(
        "recorded_instance_key",
        ("pair",),
        "i8",
        reader.instance_key[pairs.real],
        f"{ik} of the recorded gather (the nuisance donor in 4d mode)",
    )
    text = h5py.string_dtype()
    var(
        "recorded_survey",
        ("pair",),
        text,
        np.array([reader.surveys[s] for s in reader.survey[pairs.real]], dtype=object),
        "survey of the recorded gather",
    )
    var(
        "coherent_survey",
        ("pair",),
        text,
        np.array([reader.surveys[s] for s in reader.dp_survey[pairs.coherent]], dtype=object),
        "survey whose earth (coherent code) is used",
    )
    var(
        "coherent_datapoint",
        ("pair",),
        "i8",
        pairs.coherent,
        "row of the coherent donor in the store's datapoint table",
    )
    var(
        "nuisance_instance",
        ("pair",),
        "i8",
        pairs.nuisance,
        "store row of the nuisance donor (-1: the reference code)",
    )
    var("recorded_instance", ("pair",), "i8", pairs.real, "store row of the recorded gather")
    aux += ["recorded_instance_key", "recorded_survey", "coherent_survey"]
    taken = set(aux) | {_cf_name(reader.channel_key_name or "")}
    for name, values in positions.items():
        if name in taken:  # a datapoint key of that name already holds it (binned)
            continue
        var(
            name,
            ("pair",),
            "f8",
            values,
            f"{POSITIONS[name]} of the recorded gather's first trace, scalar applied",
            "m",
        )
        aux.append(name)
    live = reader.live(pairs.real)
    var(
        "live",
        ("pair", chdim),
        "i1",
        live.astype(np.int8),
        "trace holds a recording",
        flag_values=np.array([0, 1], dtype=np.int8),
        flag_meanings="dead live",
    )
    ck = reader.channel_key_name
    if chan is not None:
        var(
            _cf_name(ck),
            ("pair", chdim),
            "i8",
            chan,
            f"{ck} (SEG-Y header) of each trace",
            _KEY_UNITS.get(ck),
        )
        aux.append(_cf_name(ck))
    return aux


def netcdf_layout(
    nc,
    reader: StoreReader,
    pairs: Pairs,
    c: int,
    t: int,
    present: np.ndarray,
    chan: np.ndarray | None,
    positions: dict[str, np.ndarray],
    uncertainty: bool = False,
) -> dict:
    """Dimensions, CF-1.8 coordinates and attributes of ``redatum.nc`` (``present``,
    ``chan``, ``positions``: from :func:`scan_donor_headers`); returns the data variables
    (pair, channel, twt) to fill. Where every gather shares the channel key's values, the
    channel dimension is named by the key and indexed by them (``ds.sel(offset=1200)``)."""
    n = len(pairs)
    shared = _shared_channel_values(present, chan)
    ck = reader.channel_key_name
    chdim = "channel" if shared is None else _cf_name(ck)
    var = cf_layout(
        nc,
        reader,
        dims={"pair": n, chdim: c, "twt": t},
        channel_values=None if shared is None else (chdim, shared, _KEY_UNITS.get(ck)),
        title=f"symae-seis {pairs.mode} redatuming",
        history=f"symae-redatum ({pairs.mode}, reference: {pairs.reference_label or '-'})",
        mode=pairs.mode,
        store=str(reader.path),
        reference=pairs.reference_label,
        meta=json.dumps(pairs.meta),
        surveys=json.dumps(reader.surveys),
        datapoint_keys=json.dumps([_cf_name(k) for k in reader.dp_names]),
    )
    aux = _coordinates(var, reader, pairs, n, chdim, chan if shared is None else None, positions)
    coords = " ".join(aux)
    names = {
        "recorded": "recorded gather",
        "virtual": "virtual gather (coherent donor's earth, nuisance donor's acquisition)",
        "residual": "virtual minus recorded",
        "reconstruction": "recorded gather rebuilt from its own codes",
        "residual_decoder": "virtual minus the decoder's own rebuild of the recorded "
        "gather with the same nuisance code",
    }
    if uncertainty:
        names["virtual_std"] = (
            "standard deviation of the virtual gather: spread over "
            "bootstrap bags of the coherent donor's instances and the "
            "recorded gather's local misfit to its reconstruction"
        )
    return {
        k: var(k, ("pair", chdim, "twt"), "f4", None, long_name, "1", coordinates=coords)
        for k, long_name in names.items()
    }
