"""Known geometry of a store's instances: where each shot was fired within its bin.

Datapoints binned by source position (the catalog's ``datapoint_bin: {SourceX: size}``)
gather shots fired at different places: one earth seen from a few positions. The
headers record each shot's position, so the model need not guess it
(``SymAEConfig.geometry_terms``): :func:`bin_positions` gives each instance's source
position from its bin's centre in half-bins (-1 and 1 at the bin's edges; a shot that
positioning moved into the next bin of the other survey is placed in its own bin).
The same centre serves both surveys, so a baseline shot's position is known in the
monitor's bin: redatuming places the monitor earth where the baseline shot was fired.
"""

from __future__ import annotations

import json

import numpy as np

__all__ = ["bin_positions", "position_binned", "shot_positions"]


def shot_positions(reader, rows: np.ndarray) -> np.ndarray | None:
    """Source positions ``(len(rows), 2)`` (x, y in metres, the coordinate scalar
    applied) of the instances at ``rows``, from the first recorded trace of each; None
    where the store keeps no SEG-Y headers or every source sits at 0."""
    from ..segy import HEADER_FIELDS
    from ..segy_spec import first_trace_values

    if reader.n_header_fields != len(HEADER_FIELDS):
        return None
    rows = np.asarray(rows)
    out = np.concatenate(
        [
            first_trace_values(
                reader.headers(rows[a : a + 256]), reader.header_fields, ("SourceX", "SourceY")
            )
            for a in range(0, len(rows), 256)
        ]
    )
    return out if np.any(out != 0) else None


def position_binned(entry_json: str | dict | None) -> float | None:
    """The SourceX bin size (m) of a store's catalog entry (its ``catalog_entry``
    attribute), or None where its datapoints are not bins of source position."""
    entry = json.loads(entry_json) if isinstance(entry_json, str) else (entry_json or {})
    size = (entry.get("datapoint_bin") or {}).get("SourceX")
    return float(size) if size else None


def bin_positions(reader, rows: np.ndarray) -> np.ndarray | None:
    """Source positions ``(len(rows), 1)`` (float32) of the instances at ``rows`` from
    their bins' centres, in half-bins; None where the store's datapoints are not bins of
    SourceX.

    Raises
    ------
    StoreError
        If they are, but the store keeps no source coordinates (every SourceX 0, or no
        SEG-Y headers): the bins themselves would then be wrong.
    """
    from .schema import StoreError

    size = reader.position_bin
    if size is None or "SourceX" not in reader.dp_names:
        return None
    rows = np.asarray(rows)
    xy = shot_positions(reader, rows)
    if xy is None:
        raise StoreError(
            f"{reader.path}: datapoints are bins of SourceX (datapoint_bin) but the "
            "instances' SourceX headers are all 0 or missing; check the coordinates and "
            "their scalar (SourceGroupScalar), or bin by another key"
        )
    key = reader.dp_key[reader.datapoint[rows], reader.dp_names.index("SourceX")]
    centre = (key + 0.5) * size
    return ((xy[:, :1] - centre[:, None]) / (0.5 * size)).astype(np.float32)
