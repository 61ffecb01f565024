"""The non-stationary parts of the passive survey's noise (:mod:`symae_seis.synth.passive`):
each day's source states (the ring's azimuthal weights per window, when the local source is
lit, the station-local noise's level) and one window's local-source and station-noise
records."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .passive import PassiveParams

__all__ = ["DayState", "band_shape", "local_parts"]


class DayState:
    """A day's source states (drawn from the day's own generator, the same every day for
    ``repeat_sources``): per window the ring's amplitude weights ``(W, P)`` and whether the
    local source is lit; per station the local noise's level."""

    def __init__(self, p: PassiveParams, day: int, src_angle: np.ndarray):
        d = 0 if p.repeat_sources else day
        rng = np.random.default_rng([p.seed, 0 if p.noise_seed is None else p.noise_seed + 1, 1, d])
        w = p.windows_per_day
        self.weights = np.ones((w, src_angle.size))
        if p.azimuth_kappa > 0:
            # the stationary twin: each window's centre from the whole record's seasons, so
            # its directions have the survey's distribution but none belongs to a day
            phase = rng.uniform(0, 2 * np.pi, w) if p.stationary else 2 * np.pi * d / max(p.days, 1)
            swing = np.radians(p.azimuth_turn_deg) / 2 * np.sin(phase) * np.ones(w)
            theta = rng.vonmises(swing, p.window_kappa)  # kappa 0: uniform directions
            amp = np.exp(0.5 * p.azimuth_kappa * np.cos(src_angle[None] - theta[:, None]))
            self.weights = amp / np.sqrt((amp**2).mean(axis=1, keepdims=True))
        self.lit = np.zeros(w, bool)
        if p.local_source > 0 and p.stationary:  # lit window by window, as often on average
            self.lit = rng.uniform(size=w) < p.local_episodes / 2
        elif p.local_source > 0:
            near_drop = abs(d - p.drop_day) <= 1
            lo = min(0.4, p.local_episodes) if near_drop else 0.0
            u = rng.uniform(lo, p.local_episodes)
            on = int(np.clip(np.round(u * w), np.ceil(lo * w), np.floor(p.local_episodes * w)))
            start = int(rng.integers(0, w - on + 1))
            self.lit[start : start + on] = True
        sigma = p.local_noise_sigma
        if p.stationary:  # a constant level of the survey's mean power, exp(2 sigma^2)
            self.noise = np.full(p.stations, p.local_noise * np.exp(sigma**2))
        else:
            self.noise = p.local_noise * np.exp(sigma * rng.normal(size=p.stations))


def band_shape(p: PassiveParams, freqs: np.ndarray) -> np.ndarray:
    """A smooth amplitude spectrum over the survey's band (the local sources')."""
    lo, hi = p.band_hz
    return np.exp(-0.5 * ((freqs - (lo + hi) / 2) / ((hi - lo) / 2)) ** 2)


def local_parts(
    p: PassiveParams,
    rng: np.random.Generator,
    ring: np.ndarray,
    g_loc: np.ndarray | None,
    lit: bool,
    noise: np.ndarray,
    band: np.ndarray,
) -> list[np.ndarray]:
    """One window's records ``(stations, F)`` of the local source (zero where unlit) and
    of the station-local noise, those the survey has, scaled against the ring's record
    ``ring``."""
    out = []
    power = np.mean(np.abs(ring) ** 2, axis=-1)  # per station
    if g_loc is not None:
        rec = band * np.exp(2j * np.pi * rng.uniform(0, 1, band.size)) * g_loc
        gain = np.sqrt(p.local_source * power.mean() / np.mean(np.abs(rec) ** 2)) if lit else 0
        out.append(rec * gain)
    if p.local_noise > 0:
        z = rng.normal(size=ring.shape) + 1j * rng.normal(size=ring.shape)
        z *= band
        out.append(z * (noise * np.sqrt(power / np.mean(np.abs(z) ** 2, axis=-1)))[:, None])
    return out
