"""The classical side of the infill benchmark (symae_seis.bench.infill): the removal
scenarios, and the PyLops f-k reconstruction it compares against (so a weakened classic
cannot flatter SymAE)."""

from __future__ import annotations

import numpy as np

import symae_seis.bench.infill as bench_infill


def _load():
    return bench_infill


class _Reader:
    """The few store facts the scenarios read: 3 monitor datapoints of 5 shots x 40 traces."""

    surveys = ["baseline", "monitor"]
    dp_survey = np.array([0, 1, 1, 1])
    shape = (20, 40, 64)
    members = [np.arange(5) + 5 * k for k in range(4)]


def test_removal_scenarios():
    B = _load()
    rng = np.random.default_rng(0)
    for frac in (30, 50, 70):
        m = B.masks(_Reader(), f"random{frac}", rng)
        assert sorted(m) == [1, 2, 3]
        removed = 1 - np.mean([k.mean() for k in m.values()])
        assert abs(removed - frac / 100) < 0.05
    gap = B.masks(_Reader(), "gap", rng)
    for known in gap.values():
        miss = np.flatnonzero(~known[0])
        assert miss.size == 10 and np.all(np.diff(miss) == 1) and 0 < miss[0]
        assert (known == known[0]).all()  # the same gap in every shot
    one = B.masks(_Reader(), "gap_but_one", rng)
    for known in one.values():
        assert known.all(axis=1).sum() == 1 and (~known).sum() == 4 * 10


def test_fk_reconstruction_is_a_real_classic():
    """On an unaliased gather of dipping band-limited events, 30 % of the traces removed at
    random, PyLops' f-k inversion rebuilds them within a few percent, better than linear
    interpolation (about 1 % against 4 % here)."""
    B = _load()
    rng = np.random.default_rng(1)
    c, t, dt = 48, 128, 0.004
    f = np.fft.rfftfreq(t, dt)
    gather = np.zeros((c, t))
    for t0, p in ((0.12, 0.0004), (0.25, -0.0006), (0.35, 0.0002)):
        spec = np.exp(-(((f - 25) / 10) ** 2)) * np.exp(
            -2j * np.pi * f[None] * (t0 + p * np.arange(c)[:, None] * 3)
        )
        gather += np.fft.irfft(spec, t, axis=-1)
    known = rng.random((1, c)) >= 0.3
    x = np.where(known[..., None], gather[None], 0.0)
    fk = B.fk_pocs(x, known, dt, 60)[0]
    lin = B.linear(x, known, np.arange(c, dtype=float))[0]
    s_fk = B.score(fk, gather, known[0])
    s_lin = B.score(lin, gather, known[0])
    assert s_fk < 3 and s_fk < 0.5 * s_lin, (s_fk, s_lin)
