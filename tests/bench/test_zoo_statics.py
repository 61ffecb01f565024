"""The per-trace static diagnostic of the zoo: a bulk static is fitted away, a
water-velocity change is not (each event moves by its own water path)."""

from __future__ import annotations

import dataclasses

from symae_seis.bench.zoo import static_fit_residual
from symae_seis.synth.zoo import draw_zoo


def test_water_velocity_change_is_not_a_per_trace_static():
    d = draw_zoo(2)
    none = static_fit_residual(d, water_dv=0.0)
    moved = static_fit_residual(d, water_dv=10.8)
    assert max(none.values()) < 1e-3  # nothing to fit (float32 round-off)
    assert moved["q4"] > 20 and moved["q4"] > 3 * moved["q1"]  # the far offsets
    deep_only = dataclasses.replace(d, offset_max=d.offset_min + 300.0)
    assert static_fit_residual(deep_only, water_dv=10.8)["whole"] < moved["whole"] / 2
