"""CF-1.8 NetCDF outputs written with h5netcdf: a variable with its ``long_name`` and
``units``, and the layout every output of a store shares (global attributes, the two-way
time and channel coordinates)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["cf_variable", "cf_layout"]


def cf_variable(
    nc, name: str, dims: tuple, dtype, values, long_name: str, units: str | None = None, **attrs
):
    """Create a variable of an open ``h5netcdf.File`` with its CF ``long_name`` (and
    ``units``, other attributes), filled with ``values`` unless None."""
    v = nc.create_variable(name, dims, dtype)
    if values is not None:
        v[:] = values
    v.attrs["long_name"] = long_name
    if units is not None:
        v.attrs["units"] = units
    v.attrs.update(attrs)
    return v


def cf_layout(
    nc,
    reader,
    *,
    dims: dict[str, int],
    title: str,
    history: str,
    channel_values: tuple[str, np.ndarray, str | None] | None = None,
    **attrs: Any,
) -> Callable:
    """Dimensions ``dims`` (with ``channel`` and ``twt``), the CF-1.8 global attributes
    (``title``, ``history``, the store as ``source``, ``attrs``, the store's key names) and
    the ``twt`` (ms, from the store's first-sample time and interval) and ``channel``
    coordinates of an output of the store ``reader``. Returns :func:`cf_variable` bound to
    ``nc``.

    ``channel_values`` ``(name, values, units)``: every gather shares the channel key's
    values, so the channel dimension is named by the key and indexed by them (segysak's
    way: ``ds.sel(offset=1200)``); ``dims`` then names that dimension instead of
    ``channel``, and ``channel`` is the trace slot along it."""
    nc.dimensions = dims
    nc.attrs.update(
        {
            "Conventions": "CF-1.8",
            "title": title,
            "source": f"instance store {reader.path}",
            "history": history,
            **attrs,
            "instance_key": reader.instance_key_name,
            "channel_key": reader.channel_key_name,
        }
    )
    var = functools.partial(cf_variable, nc)
    t = dims["twt"]
    var(
        "twt",
        ("twt",),
        "f8",
        reader.t0_ms + reader.dt_ms * np.arange(t),
        "two-way time",
        "ms",
        axis="T",
        positive="down",
    )
    if channel_values is None:
        c = dims["channel"]
        var("channel", ("channel",), "i8", np.arange(c), "trace slot inside the gather")
    else:
        name, values, units = channel_values
        var(name, (name,), "i8", values, f"{reader.channel_key_name} (SEG-Y header)", units)
        var("channel", (name,), "i8", np.arange(len(values)), "trace slot inside the gather")
    return var
