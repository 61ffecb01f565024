"""The passive survey's non-stationary sources (issue 30): a dominant azimuth that turns,
a local source lit in episodes, station-local noise, attenuation, and the twins."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from symae_seis.catalog import CatalogError, load_catalog
from symae_seis.synth.generate import generate
from symae_seis.synth.passive import PassiveParams, dvv_history, passive_days, twins
from tests.conftest import write_catalog

TINY = PassiveParams(
    stations=3, days=4, drop_day=2, windows_per_day=6, window_s=10.0, scatterers=10, sources=12
)


def _days(p: PassiveParams) -> list[np.ndarray]:
    return [data for _, _, data, _ in passive_days(p, per_source=True)]


def _direction(shares: np.ndarray, p: PassiveParams) -> np.ndarray:
    """Power-weighted mean direction of the ring's recorded shares, per window."""
    th = np.linspace(0, 2 * np.pi, p.sources, endpoint=False)
    n = int(p.window_s * p.sampling_rate)
    power = (shares[: p.sources] ** 2).reshape(p.sources, p.stations, -1, n).sum(axis=(1, 3))
    return np.angle((power * np.exp(1j * th)[:, None]).sum(axis=0))


def test_the_dominant_azimuth_turns_with_the_seasons_and_repeats_when_told():
    p = replace(TINY, azimuth_kappa=8.0, azimuth_turn_deg=180.0)
    days = _days(p)
    mean_dir = [np.angle(np.exp(1j * _direction(d, p)).mean()) for d in days]
    # the swing follows sin(2 pi d / days): day 1 turned ~+90 degrees, day 3 ~-90
    assert np.degrees(mean_dir[1] - mean_dir[3]) == pytest.approx(180, abs=45)
    rep = [_direction(d, p) for d in _days(replace(p, repeat_sources=True))]
    assert np.allclose(rep[1], rep[3], atol=0.35)  # the same states, only the phases new
    # the stationary twin: one distribution every day, no seasonal swing
    still = [
        np.angle(np.exp(1j * _direction(d, p)).mean()) for d in _days(replace(p, stationary=True))
    ]
    assert abs(np.degrees(np.angle(np.exp(1j * (still[1] - still[3]))))) < 45


def test_the_local_source_is_lit_in_episodes_at_its_power():
    p = replace(TINY, local_source=2.0, local_episodes=0.8)
    n = int(p.window_s * p.sampling_rate)
    lit_days = []
    for day in _days(p):
        ring = (day[: p.sources].sum(axis=0) ** 2).reshape(p.stations, -1, n).mean(axis=(0, 2))
        local = (day[p.sources] ** 2).reshape(p.stations, -1, n).mean(axis=(0, 2))
        lit = local > 0
        assert lit.mean() <= 0.8 + 1e-9
        if lit.any():  # contiguous, at the power asked (the window's cut: within 35 %)
            on = np.flatnonzero(lit)
            assert np.all(np.diff(on) == 1)
            assert np.median(local[lit] / ring[lit]) == pytest.approx(2.0, rel=0.35)
        lit_days.append(lit.mean())
    assert min(lit_days[1:4]) >= 0.3  # the days around the drop (day 2) are lit


def test_station_noise_is_incoherent_and_at_its_level():
    p = replace(TINY, local_noise=1.0, local_noise_sigma=0.0)
    day = _days(p)[0]
    noise, ring = day[p.sources], day[: p.sources].sum(axis=0)
    assert np.sqrt((noise**2).mean(axis=1) / (ring**2).mean(axis=1)) == pytest.approx(
        np.ones(p.stations), rel=0.3
    )
    c = np.corrcoef(noise)
    assert np.abs(c[np.triu_indices(p.stations, 1)]).max() < 0.1


def test_attenuation_takes_the_late_coda():
    plain = next(passive_days(TINY))[3]
    lossy = next(passive_days(replace(TINY, q=20.0)))[3]
    late = slice(plain.shape[1] // 2 + int(3 * TINY.sampling_rate), None)  # lags beyond 3 s
    assert (lossy[:, late] ** 2).sum() < 0.5 * (plain[:, late] ** 2).sum()


def test_twins_share_the_noise_and_differ_in_what_they_name():
    p = replace(TINY, azimuth_kappa=4.0, local_source=1.0)
    t = twins(p)
    assert not dvv_history(t["zero"]).any() and dvv_history(t["survey"]).any()
    assert t["stationary"].stationary and t["stationary"].local_source == 1.0
    assert t["repeated"].repeat_sources and t["repeated"].stationary
    a, b = next(passive_days(t["survey"]))[2], next(passive_days(t["zero"]))[2]
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9  # the same noise field


@pytest.mark.parametrize(
    "bad, name",
    [({"q": 0.0}, "q"), ({"local_episodes": 1.5}, "local_episodes"),
     ({"local_source": 1.0, "local_source_xy": [500.0, 0.0]}, "local_source_xy")],
)  # fmt: skip
def test_impossible_options_are_named(tmp_path, bad, name):
    cat = write_catalog(
        tmp_path,
        {
            "pns": {
                "format": "mseed",
                "generate": {"kind": "passive", "days": 2, **bad},
                "surveys": {"days": "data/*.mseed"},
                "streams": ["XX.P*..HHZ"],
                "window_s": 40,
                "datapoint_by": "day",
            }
        },
    )
    with pytest.raises(CatalogError, match=f"pns.*{name}"):
        generate(load_catalog(cat)["pns"])


def test_the_catalog_survey_is_the_documented_one():
    from pathlib import Path

    from symae_seis.synth.passive import nonstationary

    root = Path(__file__).resolve().parents[2]
    spec = dict(load_catalog(root / "data_catalog.yaml")["passive_ns"].generate)
    assert spec.pop("kind") == "passive"
    assert PassiveParams(**spec) == nonstationary(PassiveParams(seed=0))


def test_the_repeated_twin_has_the_same_states_every_day_and_kappa_0_is_uniform():
    from symae_seis.synth.passive import nonstationary
    from symae_seis.synth.passive_sources import DayState

    rep = twins(replace(nonstationary(TINY), window_s=10.0))["repeated"]
    ang = np.linspace(0, 2 * np.pi, rep.sources, endpoint=False)
    first = DayState(rep, 0, ang)
    for day in range(1, rep.days):
        s = DayState(rep, day, ang)
        assert np.array_equal(s.weights, first.weights) and np.array_equal(s.lit, first.lit)
        assert np.array_equal(s.noise, first.noise)
    survey = [DayState(nonstationary(TINY), d, ang).weights for d in (1, 3)]
    assert not np.allclose(*survey)  # the survey's states change with the day
    flat = DayState(replace(TINY, azimuth_kappa=2.0, window_kappa=0.0), 0, ang)
    assert flat.weights.shape == (TINY.windows_per_day, TINY.sources)
