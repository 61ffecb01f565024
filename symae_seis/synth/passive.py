"""A passive survey with truth: continuous ambient noise at an array, a medium whose
velocity changes day by day (dv/v), written as day-long miniSEED files per station.

The medium is a homogeneous half-space of velocity ``v`` with point scatterers (which give
the records a coda). The Green's function from a point ``x`` to station ``r`` is the
direct arrival plus single scattering, each arrival ``a / sqrt(path)`` at time
``path / v``; on day ``d`` every velocity is ``v (1 + dvv[d])`` (optionally only for the
scatterers inside a local zone), so travel times shrink by ``1 / (1 + dvv)``.

Noise: every window, sources at a fixed ring of candidate positions fire band-limited
random noise whose strength, centre frequency and bandwidth are drawn anew (the
nuisance: the noise field never repeats). Records are ``sum_p S_p(f) G_p,r(f)``, computed
in the frequency domain; days are compressed (``windows_per_day`` windows from midnight).

Non-stationary sources (all off by default; the documented bias of noise
interferometry, Froment et al. 2010, Zhan et al. 2013): the ring's dominant azimuth
(``azimuth_kappa``, a von Mises weighting of the ring's source powers) turns by
``azimuth_turn_deg`` over the record in phase with the seasonal dv/v term, each window's
direction drawn around its day's (``window_kappa``); a local source off the station line
inside the scattering zone (``local_source``: its recorded power against the ring's) is lit
for an episode of each day's windows (0 to ``local_episodes`` of them, at least 40 % on the
days around the drop); incoherent noise local to each station (``local_noise`` of the
ambient record's RMS, its level drawn day by day, ``local_noise_sigma``); attenuation
(``q``). ``dvv_scale=0`` is the twin with the same noise and no change (what the
sources alone make a method read). See :func:`twins`.

Two knobs serve experiments on what limits dv/v (``scripts/bench/passive.py --floor``):
``noise_seed`` draws another noise field through the same medium, and ``repeat_sources``
gives every day the same sequence of source strengths and spectra (window ``w`` of each day
alike, non-stationary states included; only the random phases new): the nuisance repeats
exactly from day to day, which is what a perfectly repeatable virtual source would
achieve.

Truth (``truth.h5``): the dv/v history per day, the day of the sudden drop, the station
positions, and each day's inter-station Green's functions ``G(station i -> station j)``
for the station pairs (what noise interferometry estimates).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from ..qc.dvv import all_pairs as station_pairs
from ..typing import PathLike
from .passive_sources import DayState, band_shape, local_parts

__all__ = [
    "PassiveParams",
    "nonstationary",
    "twins",
    "dvv_history",
    "make_passive_survey",
    "passive_days",
    "station_pairs",
    "stations_xy",
]


@dataclass(frozen=True)
class PassiveParams:
    """Geometry, medium, noise and time of a synthetic passive survey (SI units)."""

    stations: int = 8
    aperture_m: float = 4000.0  # stations on a line this long
    velocity: float = 2000.0  # m/s
    scatterers: int = 60
    scatter_radius_m: float = 6000.0
    sources: int = 24  # candidate noise-source positions on a ring
    source_radius_m: float = 15000.0
    days: int = 30
    windows_per_day: int = 48
    window_s: float = 40.0
    sampling_rate: float = 20.0
    band_hz: tuple[float, float] = (0.5, 4.0)
    seasonal_amp: float = 0.002  # dv/v, peak of the slow seasonal term
    drop_day: int = 18  # the sudden drop (eruption, injection)
    drop: float = -0.004
    recovery_days: float = 8.0
    local_zone: tuple[float, float] | None = None  # x range (m) of a local-only change
    seed: int = 0  # the medium, and (noise_seed None) the noise
    noise_seed: int | None = None  # another noise field through the same medium
    repeat_sources: bool = False  # the same source strengths/spectra every day
    dvv_scale: float = 1.0  # 0: the twin without change
    q: float | None = None  # attenuation quality factor of every arrival
    azimuth_kappa: float = 0.0  # von Mises concentration of the ring's power (0: isotropic)
    azimuth_turn_deg: float = 0.0  # swing of the dominant azimuth over the record
    window_kappa: float = 4.0  # spread of each window's direction around its day's
    local_source: float = 0.0  # recorded power of the local source / the ring's (0: none)
    local_source_xy: tuple[float, float] = (1200.0, 1500.0)
    local_episodes: float = 0.8  # most of a day's windows the local source is lit in
    local_noise: float = 0.0  # station-local noise RMS / the ambient record's
    local_noise_sigma: float = 0.5  # day-to-day log-normal spread of its level
    stationary: bool = False  # every window's source state from one distribution

    def __post_init__(self):
        for name in ("q",):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ValueError(f"PassiveParams.{name} must be positive or None, got {v}")
        for name in ("azimuth_kappa", "window_kappa", "local_source", "local_noise"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"PassiveParams.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.local_episodes <= 1:
            raise ValueError(
                f"PassiveParams.local_episodes must be in [0, 1], got {self.local_episodes}"
            )
        if self.local_source and abs(self.local_source_xy[1]) < 1.0:
            raise ValueError("PassiveParams.local_source_xy must be off the station line (y = 0)")


def dvv_history(p: PassiveParams) -> np.ndarray:
    """dv/v of each day: a seasonal sine plus a sudden drop recovering exponentially."""
    d = np.arange(p.days, dtype=np.float64)
    out = p.seasonal_amp * np.sin(2 * np.pi * d / max(p.days, 1))
    after = d >= p.drop_day
    out[after] += p.drop * np.exp(-(d[after] - p.drop_day) / p.recovery_days)
    return p.dvv_scale * out


def nonstationary(p: PassiveParams = PassiveParams()) -> PassiveParams:
    """Survey ``p`` with the non-stationary sources of issue 30: windows of 160 s,
    attenuation (Q 50), station-local noise at the ambient level changing day by day, a
    dominant azimuth (von Mises, kappa 8) turning by 180 degrees with the seasons and a
    local source at twice the ring's power lit in daily episodes."""
    return replace(
        p,
        window_s=160.0,
        q=50.0,
        local_noise=1.0,
        azimuth_kappa=8.0,
        azimuth_turn_deg=180.0,
        local_source=2.0,
    )


def twins(p: PassiveParams) -> dict[str, PassiveParams]:
    """Survey ``p`` and its twins, through the same medium: ``"zero"`` (the same noise,
    no dv/v: what the sources alone make a method read), ``"stationary"`` (the same
    dv/v and source ingredients, every window's state drawn from one distribution
    whatever the day: no turning azimuth, the local source lit window by window as often
    on average, the local noise's level constant) and ``"repeated"`` (every day the same
    sequence of source states, drawn as the stationary twin's, only the random phases and
    the local noise new: the floor of a perfectly repeatable virtual source; one day's own
    states repeated would make the floor hang on that day's draw, e.g. a local source lit
    in 6 % of its windows)."""
    return {
        "survey": p,
        "zero": replace(p, dvv_scale=0.0),
        "stationary": replace(p, stationary=True),
        "repeated": replace(p, stationary=True, repeat_sources=True),
    }


def stations_xy(p: PassiveParams) -> np.ndarray:
    """Station positions ``(stations, 2)``: evenly on a line along x, centred on 0."""
    x = np.linspace(-p.aperture_m / 2, p.aperture_m / 2, p.stations)
    return np.stack([x, np.zeros_like(x)], axis=1)


class _Medium:
    def __init__(self, p: PassiveParams, rng: np.random.Generator):
        self.p = p
        self.stations = stations_xy(p)
        r = p.scatter_radius_m * np.sqrt(rng.uniform(0, 1, p.scatterers))
        th = rng.uniform(0, 2 * np.pi, p.scatterers)
        self.scat = np.stack([r * np.cos(th), r * np.sin(th)], axis=1)
        self.scat_amp = rng.uniform(0.3, 1.0, p.scatterers) * rng.choice([-1, 1], p.scatterers)
        th = np.linspace(0, 2 * np.pi, p.sources, endpoint=False)
        self.src = p.source_radius_m * np.stack([np.cos(th), np.sin(th)], axis=1)
        zone = p.local_zone
        self.local = (
            np.ones(p.scatterers, bool)
            if zone is None
            else (self.scat[:, 0] >= zone[0]) & (self.scat[:, 0] <= zone[1])
        )

    def green(self, points: np.ndarray, dvv: float, freqs: np.ndarray) -> np.ndarray:
        """Spectra ``(len(points), stations, F)`` of the Green's functions from ``points``
        to every station on a day with velocity change ``dvv``."""
        p, w = self.p, 2j * np.pi * freqs
        v_all = p.velocity * (1 + dvv)
        v_scat = np.where(self.local, v_all, p.velocity)  # (K,)
        out = np.zeros((len(points), p.stations, freqs.size), dtype=np.complex128)
        d_ps = np.linalg.norm(points[:, None] - self.stations[None], axis=-1)  # (P, R)
        d_pk = np.linalg.norm(points[:, None] - self.scat[None], axis=-1)  # (P, K)
        d_kr = np.linalg.norm(self.scat[:, None] - self.stations[None], axis=-1)  # (K, R)
        v_direct = v_all if self.local.all() else p.velocity
        # attenuation: exp(-pi f t / Q) on an arrival of travel time t (a complex "slowness")
        loss = 0.0 if p.q is None else np.pi * freqs / p.q
        out += (1 / np.sqrt(d_ps + 1.0))[..., None] * np.exp(
            -(w + loss) * (d_ps / v_direct)[..., None]
        )
        for k in range(p.scatterers):
            path = d_pk[:, k, None] + d_kr[None, k, :]  # (P, R)
            amp = self.scat_amp[k] * 30.0 / np.sqrt(d_pk[:, k, None] * d_kr[None, k, :] + 1.0)
            out += amp[..., None] * np.exp(-(w + loss) * (path / v_scat[k])[..., None])
        return out


def _source_envelopes(rng: np.random.Generator, p: PassiveParams, freqs: np.ndarray) -> np.ndarray:
    """One window's source amplitude spectra ``(sources, F)``: a random band and strength
    per source (some sources silent)."""
    lo, hi = p.band_hz
    fc = rng.uniform(lo + 0.3 * (hi - lo) / 2, hi - 0.3 * (hi - lo) / 2, p.sources)
    bw = rng.uniform(0.3, 1.0, p.sources) * (hi - lo) / 2
    strength = rng.lognormal(0.0, 0.8, p.sources) * (rng.uniform(0, 1, p.sources) < 0.7)
    return strength[:, None] * np.exp(-0.5 * ((freqs[None] - fc[:, None]) / bw[:, None]) ** 2)


def _noise_spectrum(
    rng: np.random.Generator,
    p: PassiveParams,
    freqs: np.ndarray,
    envelope: np.ndarray | None = None,
) -> np.ndarray:
    """One window's source spectra ``(sources, F)``: ``envelope`` (drawn anew if None)
    with random phases."""
    if envelope is None:
        envelope = _source_envelopes(rng, p, freqs)
    return envelope * np.exp(2j * np.pi * rng.uniform(0, 1, (p.sources, freqs.size)))


def passive_days(p: PassiveParams, *, per_source: bool = False):
    """The survey day by day: yields ``(day, dvv, records (stations, samples),
    greens (pairs, lags))``, the records in arbitrary units (continuous over the day's
    windows, each ``window_s`` long) and the true inter-station Green's functions on lags
    ``-L..L`` (``L = window_s / 2``; zero at negative lags). With ``per_source`` the
    records are each noise source's share ``(sources, stations, samples)``, whose sum over
    sources is the record (for diagnostics; the local source and the station-local noise,
    where the survey has them, are the last rows)."""
    rng = np.random.default_rng(p.seed)
    medium = _Medium(p, rng)
    if p.noise_seed is not None:
        rng = np.random.default_rng([p.seed, p.noise_seed])
    n = int(round(p.window_s * p.sampling_rate))
    nfft = 2 * n  # room for the longest coda, no wrap
    freqs = np.fft.rfftfreq(nfft, 1 / p.sampling_rate)
    envelopes = (
        [_source_envelopes(rng, p, freqs) for _ in range(p.windows_per_day)]
        if p.repeat_sources
        else [None] * p.windows_per_day
    )
    pairs = station_pairs(p.stations)
    lag = n // 2
    src_angle = np.arctan2(medium.src[:, 1], medium.src[:, 0])
    band = band_shape(p, freqs)
    for d, dvv in enumerate(dvv_history(p)):
        g_src = medium.green(medium.src, dvv, freqs)  # (P, R, F)
        g_sta = medium.green(medium.stations, dvv, freqs)  # (R, R, F)
        g_loc = (
            medium.green(np.array([p.local_source_xy]), dvv, freqs)[0] if p.local_source else None
        )
        state = DayState(p, d, src_angle)
        # the local parts' phases are new every day, also where their states repeat
        local_rng = np.random.default_rng(
            [p.seed, 0 if p.noise_seed is None else p.noise_seed + 1, 2, d]
        )
        greens = np.zeros((len(pairs), 2 * lag + 1))
        for k, (i, j) in enumerate(pairs):
            greens[k, lag:] = np.fft.irfft(g_sta[i, j], nfft)[: lag + 1]
        extra = int(p.local_source > 0) + int(p.local_noise > 0)
        data = np.zeros(
            (p.sources + extra, p.stations, n * p.windows_per_day)
            if per_source
            else (p.stations, n * p.windows_per_day)
        )
        for w, env in enumerate(envelopes):
            spec = _noise_spectrum(rng, p, freqs, env) * state.weights[w][:, None]
            shares = spec[:, None] * g_src if per_source else None
            ring = shares.sum(axis=0) if per_source else np.einsum("pf,prf->rf", spec, g_src)
            parts = local_parts(p, local_rng, ring, g_loc, state.lit[w], state.noise, band)
            if per_source:
                rec = np.concatenate([shares, np.stack(parts)]) if parts else shares
            else:
                rec = ring + sum(parts) if parts else ring
            data[..., w * n : (w + 1) * n] = np.fft.irfft(rec, nfft)[..., n // 2 : n // 2 + n]
        yield d, dvv, data, greens


def make_passive_survey(
    outdir: PathLike, params: PassiveParams = PassiveParams(), *, overwrite: bool = False
) -> dict[str, Path]:
    """Write ``XX.P<k>..HHZ.<julday>.mseed`` (one file per station and day, Steim2) and
    ``truth.h5`` into ``outdir``.

    Returns
    -------
    dict with ``files`` (sorted list of the miniSEED paths, under key ``"mseed"``) and
    ``truth``.

    Raises
    ------
    FileExistsError
        If an output exists and ``overwrite`` is false (nothing is written then).
    """
    import h5py
    from obspy import Stream, Trace, UTCDateTime

    p = params
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    day0 = UTCDateTime(2024, 1, 1)
    names = [
        f"XX.P{s}..HHZ.{(day0 + 86400 * d).julday:03d}.mseed"
        for d in range(p.days)
        for s in range(p.stations)
    ]
    taken = [outdir / n for n in [*names, "truth.h5"] if (outdir / n).exists()]
    if taken and not overwrite:
        raise FileExistsError(f"{taken[0]} already exists; pass overwrite=True (--overwrite)")
    dvv = dvv_history(p)
    greens, paths = [], []
    for d, _, data, green in passive_days(p):
        greens.append(green.astype(np.float32))
        scale = 1e4 / max(np.abs(data).max(), 1e-12)
        start = day0 + 86400 * d
        for s in range(p.stations):
            tr = Trace(data=np.round(data[s] * scale).astype(np.int32))
            tr.stats.network, tr.stats.station, tr.stats.channel = "XX", f"P{s}", "HHZ"
            tr.stats.sampling_rate = p.sampling_rate
            tr.stats.starttime = start
            path = outdir / f"XX.P{s}..HHZ.{start.julday:03d}.mseed"
            with atomic_path(path, overwrite=overwrite) as tmp:
                Stream([tr]).write(str(tmp), format="MSEED", encoding="STEIM2")
            paths.append(path)
    truth = outdir / "truth.h5"
    with atomic_path(truth, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as h5:
        h5["dvv"] = dvv
        h5["pairs"] = station_pairs(p.stations)
        h5["stations_xy"] = stations_xy(p)
        h5["greens"] = np.stack(greens)
        h5.attrs["drop_day"] = p.drop_day
        h5.attrs["lag_s"] = (greens[0].shape[-1] // 2) / p.sampling_rate
        h5.attrs["sampling_rate"] = p.sampling_rate
        h5.attrs["params"] = str(asdict(p))
    return {"mseed": sorted(paths), "truth": truth}
