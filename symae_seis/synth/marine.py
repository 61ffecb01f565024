"""A field-like towed-streamer 4D survey with ground truth (2-D acoustic, deepwave).

What a real marine 4D survey has and the other synthetic surveys do not:

* **a free surface** (source and receiver ghosts, water-bottom multiples) over deep water
  with an undulating sea bed, dipping layers draped over an anticline, and a reservoir lens
  at its crest whose velocity changes between vintages;
* **a towed streamer**: the receivers move with the source (offsets stay, midpoints move);
  each vintage fires one shot per nominal position; the monitor's shots land metres from
  the baseline's (``positioning_m``) and its streamer is shortened by feathering
  (``feather``: inline offsets times ``1 - f``, ``f`` drawn per shot);
* **datapoints are bins of neighbouring shots** (``bin_m``, ``shots_per_bin``): ingest
  them with ``datapoint_bin: {SourceX: bin_m}``; a moved monitor shot may land in the next
  bin, as in the field;
* **per-shot water velocity** (a seasonal shift between vintages, ``water_season``, and a
  spread within one, ``water_spread``), timing (tide and trigger, ``timing_ms``), gain and
  source signature (peak frequency, phase);
* **noise**: swell bursts on runs of neighbouring channels (low frequency, several times the
  signal's RMS; attenuate it at ingest with the catalog's ``low_cut_hz: 8``), white noise
  and dead channels.

Truth (``truth.h5``, the layout of :mod:`symae_seis.synth.convolutional`): ``virtual`` is
the monitor earth shot with every baseline shot's exact acquisition (position, streamer,
water velocity, timing, signature), noise free; ``baseline_clean`` the baseline without
noise; ``virtual_cdp`` each baseline shot's bin (the store's datapoint key);
``dead/baseline`` the dead baseline channels (not scored); ``changed`` the bins
(``changed_key``) where the monitor earth differs from the baseline's by more than 1 % NRMS.

deepwave is an optional dependency (``pip install symae-seis[physics]``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np

from ..errors import OptionError
from ..io.atomic import atomic_path
from ..io.segy_write import write_segy
from ..typing import PathLike
from .wave import _decimate, _wavelet

__all__ = ["Marine4DParams", "make_marine4d_survey", "marine_models"]


@dataclass(frozen=True)
class Marine4DParams:
    """Geometry, earth, non-repeatability and noise of :func:`make_marine4d_survey`."""

    n_bins: int = 48
    bin_m: float = 80.0
    shots_per_bin: int = 4
    channels: int = 32
    group_m: float = 50.0
    near_offset_m: float = 100.0
    dx: float = 10.0  # grid cell (m)
    depth_m: float = 1600.0
    samples: int = 375
    dt_ms: float = 4.0
    model_dt: float = 0.001  # s, the modelling's output interval (decimated to dt_ms)
    water_depth_m: float = 450.0
    seabed_relief_m: float = 40.0
    seabed_wavelength_m: float = 2500.0
    reservoir_depth_m: float = 1050.0  # below the anticline's crest
    lens_bins: tuple[int, int] = (14, 24)  # bins spanning the reservoir lens
    dv: float = -0.08  # relative velocity change in the lens
    water_v: float = 1500.0
    water_season: float = 6.0  # monitor's mean water velocity minus the baseline's (m/s)
    water_spread: float = 2.0  # per-shot water velocity, +- (m/s)
    positioning_m: tuple[float, float] = (10.0, 20.0)  # |monitor - baseline| per shot
    feather: float = 0.02  # largest relative shortening of the inline offsets
    freq_range: tuple[float, float] = (16.0, 26.0)
    phase_range_deg: tuple[float, float] = (-30.0, 30.0)
    timing_ms: tuple[float, float] = (-4.0, 4.0)
    gain_range: tuple[float, float] = (0.8, 1.25)
    swell_rate: float = 1.0  # swell bursts per shot (Poisson mean)
    swell_amp: float = 3.0  # a burst's RMS / the shot's RMS
    swell_channels: tuple[int, int] = (3, 6)
    noise: float = 0.05  # white noise RMS / the shot's RMS
    dead: float = 0.01  # probability of a dead channel
    seed: int = 0

    def __post_init__(self) -> None:
        checks = (
            ("shots_per_bin", self.shots_per_bin >= 1),
            ("n_bins", self.n_bins >= 2),
            ("channels", self.channels >= 2),
            ("lens_bins", 0 <= self.lens_bins[0] < self.lens_bins[1] <= self.n_bins),
            ("positioning_m", 0 <= self.positioning_m[0] <= self.positioning_m[1]),
            ("water_depth_m", 3 * self.dx <= self.water_depth_m < self.reservoir_depth_m),
            ("reservoir_depth_m", self.reservoir_depth_m < self.depth_m - 200.0),
            ("feather", 0 <= self.feather < 0.5),
            ("dead", 0 <= self.dead < 1),
        )
        bad = [name for name, ok in checks if not ok]
        if bad:
            raise OptionError(f"marine4d: option(s) {bad} out of range ({self})")

    @property
    def far_m(self) -> float:
        return self.near_offset_m + self.group_m * (self.channels - 1)

    @property
    def x0(self) -> float:
        """First bin's left edge (m), a multiple of ``bin_m`` (the catalog's bins are
        ``floor(SourceX / bin_m)``): the streamer of the first shot fits on the grid."""
        return float(np.ceil((self.far_m + 300.0) / self.bin_m) * self.bin_m)

    @property
    def nx(self) -> int:
        return int(np.ceil((self.x0 + self.n_bins * self.bin_m + 300.0) / self.dx))

    @property
    def nz(self) -> int:
        return int(np.ceil(self.depth_m / self.dx))


def marine_models(p: Marine4DParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Baseline and monitor velocity (``nz x nx``, m/s) and the water mask: an undulating
    sea bed, layers draped over an anticline under the lens, the lens slower by ``dv`` in
    the monitor."""
    z = (np.arange(p.nz) * p.dx)[:, None]
    x = (np.arange(p.nx) * p.dx)[None, :]
    seabed = p.water_depth_m + p.seabed_relief_m * np.sin(2 * np.pi * x / p.seabed_wavelength_m)
    crest = p.x0 + 0.5 * (p.lens_bins[0] + p.lens_bins[1]) * p.bin_m
    width = 0.6 * (p.lens_bins[1] - p.lens_bins[0]) * p.bin_m + 400.0
    dome = 120.0 * np.exp(-(((x - crest) / width) ** 2))
    dip = 0.04 * (x - crest)  # layers deepen to the right
    v = np.full((p.nz, p.nx), p.water_v)
    water = z < seabed
    v[~water] = 1650.0 + 0.35 * (z - seabed)[~water]  # compacting sediment
    top_res = p.reservoir_depth_m - dome + dip
    for shift, vel in ((-350.0, 2150.0), (-150.0, 2350.0), (0.0, 2550.0), (90.0, 2400.0)):
        v[(z >= top_res + shift) & ~water] = vel
    v[(z >= top_res + 260.0) & ~water] = 3000.0
    mon = v.copy()
    x_lo = p.x0 + p.lens_bins[0] * p.bin_m
    x_hi = p.x0 + p.lens_bins[1] * p.bin_m
    lens = (z >= top_res) & (z < top_res + 90.0) & (x >= x_lo) & (x < x_hi)
    mon[lens] *= 1 + p.dv
    return v.astype(np.float32), mon.astype(np.float32), np.broadcast_to(water, v.shape)


def _acquisition(p: Marine4DParams, rng: np.random.Generator) -> dict[str, dict]:
    """Per vintage: source x (m), streamer shortening, water velocity, timing (s), peak
    frequency, phase, gain and the nominal shot number of every shot."""
    n = p.n_bins * p.shots_per_bin
    nominal = p.x0 + (np.arange(n) + 0.5) * p.bin_m / p.shots_per_bin
    out = {}
    for label, season in (("baseline", 0.0), ("monitor", p.water_season)):
        move = rng.uniform(*p.positioning_m, n) * rng.choice([-1.0, 1.0], n)
        out[label] = {
            "source_x": nominal + (move if label == "monitor" else rng.uniform(-2.0, 2.0, n)),
            "feather": rng.uniform(0.0, p.feather, n),
            "water_v": p.water_v + season + rng.uniform(-p.water_spread, p.water_spread, n),
            "timing": rng.uniform(*p.timing_ms, n) / 1000.0,
            "freq": rng.uniform(*p.freq_range, n),
            "phase": rng.uniform(*p.phase_range_deg, n),
            "gain": np.exp(rng.uniform(*np.log(p.gain_range), n)),
            "shot_point": np.arange(1, n + 1),
        }
    return out


def _receivers(p: Marine4DParams, acq: dict) -> np.ndarray:
    """Receiver x (m) of every shot ``(N, C)``: the streamer trails the source."""
    offsets = p.near_offset_m + p.group_m * np.arange(p.channels)
    return acq["source_x"][:, None] - offsets[None, :] * (1 - acq["feather"][:, None])


def _shoot(v: np.ndarray, water: np.ndarray, p: Marine4DParams, acq: dict, batch: int = 8):
    """Model every shot of ``acq`` in ``v`` with its own water velocity; returns
    ``(N, C, samples)`` at ``dt_ms``, gains applied."""
    import deepwave
    import torch

    every = int(round(p.dt_ms / 1000 / p.model_dt))
    nt = p.samples * every
    rec = _receivers(p, acq)
    out = []
    for a in range(0, len(rec), batch):
        sl = slice(a, a + batch)
        n = len(rec[sl])
        models = np.repeat(v[None], n, axis=0)
        models[:, water] = acq["water_v"][sl, None]
        wavelets = np.stack(
            [
                _wavelet(nt, p.model_dt, f, ph, tm)
                for f, ph, tm in zip(acq["freq"][sl], acq["phase"][sl], acq["timing"][sl])
            ]
        )
        src = torch.zeros(n, 1, 2, dtype=torch.float64)
        src[:, 0, 0] = 1.0  # one cell below the free surface
        src[:, 0, 1] = torch.as_tensor(acq["source_x"][sl] / p.dx)
        rcv = torch.ones(n, p.channels, 2, dtype=torch.float64)
        rcv[:, :, 1] = torch.as_tensor(rec[sl] / p.dx)
        with warnings.catch_warnings():  # deepwave's notes on its own earlier releases
            warnings.simplefilter("ignore", getattr(deepwave, "MigrationWarning", Warning))
            y = _scalar(deepwave, torch, models, wavelets, src, rcv, p)
        out.append(_decimate(y, every) * acq["gain"][sl, None, None])
    return np.concatenate(out).astype(np.float32)


def _scalar(deepwave, torch, models, wavelets, src, rcv, p: Marine4DParams) -> np.ndarray:
    """One batch of shots through deepwave's scalar propagator, free surface on top."""
    return deepwave.scalar(
        torch.as_tensor(models),
        p.dx,
        p.model_dt,
        source_amplitudes=torch.as_tensor(wavelets)[:, None, :],
        source_locations=src.float(),
        receiver_locations=rcv.float(),
        accuracy=4,
        pml_width=[0, 20, 20, 20],
        boundary=["free", "pml", "pml", "pml"],
        pml_freq=float(np.mean(p.freq_range)),
        survey_pad=[None, None, 40, 40],
    )[-1].numpy()


def _noisy(clean: np.ndarray, p: Marine4DParams, rng: np.random.Generator):
    """Recorded shots: clean plus swell bursts and white noise, dead channels zeroed;
    returns the shots and the masks ``(N, C)`` of dead and swell-hit channels."""
    n, c, t = clean.shape
    rms = np.sqrt((clean.astype(np.float64) ** 2).mean(axis=(1, 2)))[:, None, None]
    out = clean + p.noise * rms * rng.standard_normal(clean.shape)
    swell = np.zeros((n, c), bool)
    f = np.fft.rfftfreq(t, p.dt_ms / 1000)
    low = (f > 0.5) & (f < 6.0)  # swell: a few hertz
    for i in range(n):
        for _ in range(rng.poisson(p.swell_rate)):
            width = int(rng.integers(p.swell_channels[0], p.swell_channels[1] + 1))
            first = int(rng.integers(0, max(1, c - width + 1)))
            spec = np.fft.rfft(rng.standard_normal((width, t)), axis=-1) * low
            burst = np.fft.irfft(spec, n=t, axis=-1)
            burst *= np.hanning(width + 2)[1:-1, None]  # strongest mid-burst
            burst *= p.swell_amp * rms[i, 0, 0] / np.sqrt((burst**2).mean())
            out[i, first : first + width] += burst
            swell[i, first : first + width] = True
    dead = rng.random((n, c)) < p.dead
    out[dead] = 0.0
    return out.astype(np.float32), dead, swell


def _write(
    path: Path,
    shots: np.ndarray,
    p: Marine4DParams,
    acq: dict,
    fr0: int,
    label: str,
    overwrite: bool,
) -> None:
    n, c, t = shots.shape
    rec = _receivers(p, acq)
    src = acq["source_x"]
    mid = 0.5 * (src[:, None] + rec)
    dm = lambda x: np.round(np.asarray(x) * 10).astype(np.int64)  # noqa: E731 (decimetres)
    hdr = {
        "FieldRecord": np.repeat(fr0 + np.arange(n), c),
        "TraceNumber": np.tile(np.arange(1, c + 1), n),
        "EnergySourcePoint": np.repeat(acq["shot_point"], c),
        "CDP": np.floor(mid / (p.group_m / 2)).astype(np.int64).reshape(-1),
        "offset": np.round((dm(src)[:, None] - dm(rec)) / 10).astype(np.int64).reshape(-1),
        "SourceX": np.repeat(dm(src), c),
        "GroupX": dm(rec).reshape(-1),
        "SourceGroupScalar": -10,
        "SourceDepth": 10,
        "ReceiverGroupElevation": -10,
        "ElevationScalar": 1,
        "TraceIdentificationCode": 1,
    }
    write_segy(
        path,
        shots.reshape(-1, t),
        hdr,
        int(round(p.dt_ms * 1000)),
        textual=f"symae-seis marine 4D synthetic (deepwave, free surface): {label}",
        overwrite=overwrite,
    )


def make_marine4d_survey(
    outdir: PathLike, params: Marine4DParams | None = None, *, overwrite: bool = False
) -> dict[str, Path]:
    """Write the marine 4D survey: ``baseline.sgy``, ``monitor.sgy`` (FieldRecords 1.. and
    100001..) and ``truth.h5`` (module docstring). Catalog it with ``instance_key:
    FieldRecord``, ``channel_key: TraceNumber``, ``datapoint_bin: {SourceX: bin_m}`` and
    ``low_cut_hz: 8`` (the swell)."""
    p = params or Marine4DParams()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([20261206, p.seed])
    v_base, v_mon, water = marine_models(p)
    acq = _acquisition(p, rng)
    clean = {
        "baseline": _shoot(v_base, water, p, acq["baseline"]),
        "monitor": _shoot(v_mon, water, p, acq["monitor"]),
    }
    virtual = _shoot(v_mon, water, p, acq["baseline"])
    recorded, dead, swell = {}, {}, {}
    for label, fr0 in (("baseline", 1), ("monitor", 100001)):
        recorded[label], dead[label], swell[label] = _noisy(clean[label], p, rng)
        _write(outdir / f"{label}.sgy", recorded[label], p, acq[label], fr0, label, overwrite)
    from ..qc.metrics import nrms

    bins = np.floor(np.round(acq["baseline"]["source_x"] * 10) / 10 / p.bin_m).astype(np.int64)
    four_d = nrms(virtual, clean["baseline"])
    per_bin = {b: float(np.median(four_d[bins == b])) for b in np.unique(bins)}
    path = outdir / "truth.h5"
    with atomic_path(path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as h5:
        prm = asdict(p)
        prm.update(n_cdp=p.n_bins, shots_per_cdp=p.shots_per_bin, kind="marine4d")
        h5.attrs["params"] = json.dumps(prm)
        h5["virtual"] = virtual
        h5["virtual_fieldrecord"] = 1 + np.arange(len(virtual))
        h5["virtual_cdp"] = bins
        h5["baseline_clean"] = clean["baseline"]
        h5["monitor_clean"] = clean["monitor"]
        h5["changed_key"] = np.array(sorted(per_bin))
        h5["changed"] = np.array([per_bin[b] > 1.0 for b in sorted(per_bin)])
        h5["four_d_nrms"] = np.array([per_bin[b] for b in sorted(per_bin)])
        for label in ("baseline", "monitor"):
            h5[f"dead/{label}"] = dead[label]
            h5[f"swell/{label}"] = swell[label]
            for key, value in acq[label].items():
                h5[f"nuisance/{label}/{key}"] = value
        h5["velocity/baseline"], h5["velocity/monitor"] = v_base, v_mon
    return {"baseline": outdir / "baseline.sgy", "monitor": outdir / "monitor.sgy", "truth": path}
