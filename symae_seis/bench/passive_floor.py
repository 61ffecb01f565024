"""The nuisance-removal floor of the passive benchmark (``scripts/bench/passive.py
--floor K``): the anchor on K noise fields against twins whose sources repeat day to day,
record four times the windows, or lose the cross terms between sources (oracles)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..synth.passive import PassiveParams, twins
from .passive import anchor_in_memory

__all__ = ["floor", "report_floor"]

log = logging.getLogger(__name__)


def floor(p: PassiveParams, draws: int, max_lag_s: float, coda, band) -> dict:
    """Anchor 1-day errors on ``draws`` noise fields, on their repeated-source twins, on
    the same surveys recording four times as many windows a day, and without the cross
    terms between sources (an oracle)."""
    out = {
        "anchor": [],
        "repeated": [],
        "windows_x4": [],
        "no_cross_terms": [],
        "repeated_no_cross_terms": [],
    }
    for k in range(draws):
        q = replace(p, noise_seed=k)
        plain = anchor_in_memory(q, max_lag_s, coda, band, oracle=True)
        repeated = anchor_in_memory(twins(q)["repeated"], max_lag_s, coda, band, oracle=True)
        more = anchor_in_memory(
            replace(q, windows_per_day=4 * p.windows_per_day), max_lag_s, coda, band
        )
        for key, value in (
            ("anchor", plain["anchor"]),
            ("repeated", repeated["anchor"]),
            ("windows_x4", more["anchor"]),
            ("no_cross_terms", plain["no_cross_terms"]),
            ("repeated_no_cross_terms", repeated["no_cross_terms"]),
        ):
            out[key].append(value)
        log.info(
            "  floor draw %d: anchor %.2e, sources repeated day to day %.2e, 4x windows "
            "%.2e, no cross terms %.2e, both %.2e",
            k,
            out["anchor"][-1],
            out["repeated"][-1],
            out["windows_x4"][-1],
            out["no_cross_terms"][-1],
            out["repeated_no_cross_terms"][-1],
        )
    rms = {key: float(np.sqrt(np.mean(np.square(v)))) for key, v in out.items()}
    return {
        **out,
        "rms": rms,
        "ratio": rms["repeated"] / rms["anchor"],
        "ratio_windows_x4": rms["windows_x4"] / rms["anchor"],
        "ratio_no_cross_terms": rms["no_cross_terms"] / rms["anchor"],
        "ratio_repeated_no_cross_terms": rms["repeated_no_cross_terms"] / rms["anchor"],
    }


def report_floor(p: PassiveParams, draws: int, max_lag_s: float, coda, band, out: Path) -> str:
    """:func:`floor`, written to ``out/floor.json``; returns its summary lines."""
    t0 = time.perf_counter()
    f = floor(p, draws, max_lag_s, coda, band)
    out.mkdir(parents=True, exist_ok=True)
    (out / "floor.json").write_text(json.dumps(f))
    return (
        f"floor over {draws} noise draws ({time.perf_counter() - t0:.0f} s): anchor "
        f"{f['rms']['anchor']:.2e}, sources repeated day to day {f['rms']['repeated']:.2e}, "
        f"4x windows a day {f['rms']['windows_x4']:.2e}, no cross terms "
        f"{f['rms']['no_cross_terms']:.2e}, sources repeated and no cross terms "
        f"{f['rms']['repeated_no_cross_terms']:.2e}\n"
        f"a perfectly repeatable virtual source, the day's windows stacked: {f['ratio']:.2f}x "
        f"the anchor; four times the windows: {f['ratio_windows_x4']:.2f}x; the cross terms "
        f"between sources removed (oracle): {f['ratio_no_cross_terms']:.2f}x; both: "
        f"{f['ratio_repeated_no_cross_terms']:.2f}x"
    )
