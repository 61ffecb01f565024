"""Fast convolutional synthetic 4D survey with known earth and per-shot nuisance.

The earth at each CDP is a stack of reflectors with hyperbolic moveout (two-way time
``t0``, stacking velocity, reflection coefficient with a mild AVO trend), dipping slowly
along the line. The monitor survey differs only inside a reservoir lens: the reservoir
reflector's coefficient changes and every reflector below it is delayed (a velocity
drop). Each shot (instance) has its own non-repeatable acquisition: Ricker peak
frequency, constant phase rotation, bulk static (timing error) and amplitude scalar.
Traces are rendered in the frequency domain, so every time shift is exact to sub-sample
precision.

Ground truth written beside the surveys (``truth.h5``):

``virtual``     (N_baseline, C, T)  monitor earth recorded with each baseline shot's
                                     acquisition (what redatuming should produce)
``reference``   (D, C, T)            every datapoint's earth with the reference acquisition
                                     (25 Hz zero-phase, no static, unit amplitude)
``baseline_clean`` / ``monitor_clean`` the recorded surveys without noise
``changed``     (n_cdp,) bool        CDPs inside the reservoir lens
plus each shot's nuisance parameters (``nuisance/<survey>/...``) and FieldRecords.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np

from ..io.atomic import atomic_path
from ..io.segy_write import write_segy
from ..typing import PathLike

__all__ = [
    "Conv4DParams",
    "Earth",
    "Nuisance",
    "render_gather",
    "make_conv4d_survey",
    "shot_headers",
]


@dataclass(frozen=True)
class Conv4DParams:
    """Size and physics of the convolutional 4D survey (defaults: the embedded demo)."""

    n_cdp: int = 32
    shots_per_cdp: int = 12
    channels: int = 24
    samples: int = 128
    dt_ms: float = 4.0
    offset_min: float = 100.0
    offset_max: float = 2400.0
    cdp_spacing: float = 25.0
    n_layers: int = 5
    first_reflector_ms: float = 120.0  # earliest reflector (a long silent top: deep water)
    reservoir_layer: int = 2
    lens: tuple[float, float] = (0.35, 0.7)  # fraction of the line inside the lens
    delta_r: float = -0.12  # reservoir reflection coefficient change
    delay_ms: float = 6.0  # max delay below the reservoir in the lens
    freq_range: tuple[float, float] = (18.0, 32.0)
    phase_range_deg: tuple[float, float] = (-60.0, 60.0)
    static_range_ms: tuple[float, float] = (-8.0, 8.0)
    amp_range: tuple[float, float] = (0.7, 1.3)
    # water-velocity statics (deep water): per-shot static at the far offset (ms), half of
    # it at zero offset, growing with offset squared; None: no such nuisance
    water_static_range_ms: tuple[float, float] | None = None
    snr: float | None = None  # None: noise-free
    seed: int = 0


@dataclass(frozen=True)
class Earth:
    """Reflectors at one CDP: ``t0`` (s), ``vel`` (m/s), ``refl`` per layer."""

    t0: np.ndarray
    vel: np.ndarray
    refl: np.ndarray


@dataclass(frozen=True)
class Nuisance:
    """One shot's acquisition: peak frequency (Hz), phase (deg), static (ms), amplitude,
    and a water-velocity static (ms at the far offset, ``0.5 (1 + (h / h_max)^2)`` of it
    at offset ``h``)."""

    freq: float = 25.0
    phase_deg: float = 0.0
    static_ms: float = 0.0
    amp: float = 1.0
    water_static_ms: float = 0.0


def _earths(
    p: Conv4DParams, rng: np.random.Generator
) -> tuple[list[Earth], list[Earth], np.ndarray]:
    x = np.linspace(0.0, 1.0, p.n_cdp)
    tmax = (p.samples - 1) * p.dt_ms / 1000.0
    first = p.first_reflector_ms / 1000.0
    base_t0 = np.sort(rng.uniform(first, 0.8 * tmax, p.n_layers))
    base_t0 = np.maximum(base_t0, first - 0.02 + 0.06 * np.arange(p.n_layers))
    dip = rng.uniform(-0.04, 0.04, p.n_layers)
    vel = np.sort(rng.uniform(1600.0, 3200.0, p.n_layers))
    refl = rng.choice([-1, 1], p.n_layers) * rng.uniform(0.15, 0.35, p.n_layers)
    lo, hi = p.lens
    inside = np.clip(np.minimum(x - lo, hi - x) / (0.08 * (hi - lo) + 1e-9), 0, 1)
    taper = np.sin(0.5 * np.pi * inside) ** 2  # smooth lens edges
    changed = taper > 0
    base, mon = [], []
    for k in range(p.n_cdp):
        t0 = base_t0 + dip * x[k] + 0.01 * np.sin(2 * np.pi * (x[k] + np.arange(p.n_layers) / 3))
        e_b = Earth(t0=t0, vel=vel.copy(), refl=refl.copy())
        r_m = refl.copy()
        r_m[p.reservoir_layer] += p.delta_r * taper[k]
        t0_m = t0.copy()
        t0_m[p.reservoir_layer + 1 :] += p.delay_ms / 1000.0 * taper[k]
        base.append(e_b)
        mon.append(Earth(t0=t0_m, vel=vel.copy(), refl=r_m))
    return base, mon, changed


def render_gather(
    earth: Earth, nuis: Nuisance, offsets: np.ndarray, samples: int, dt_ms: float
) -> np.ndarray:
    """One ``(len(offsets), samples)`` gather, rendered exactly in the frequency domain."""
    dt = dt_ms / 1000.0
    nfft = 2 * samples
    f = np.fft.rfftfreq(nfft, dt)
    fp = nuis.freq
    ricker = (2 / np.sqrt(np.pi)) * f**2 / fp**3 * np.exp(-(f**2) / fp**2)
    wave = ricker * np.exp(-1j * np.deg2rad(nuis.phase_deg)) * nuis.amp
    h = offsets[None, :]
    t = np.sqrt(earth.t0[:, None] ** 2 + (h / earth.vel[:, None]) ** 2)  # (K, H)
    amp = earth.refl[:, None] * (1 - 0.25 * (h / offsets.max()) ** 2) * (earth.t0[:, None] / t)
    water = 0.5 * (1 + (h / offsets.max()) ** 2) * nuis.water_static_ms
    tt = t + (nuis.static_ms + water) / 1000.0
    spec = np.einsum("kh,khf->hf", amp, np.exp(-2j * np.pi * f[None, None, :] * tt[..., None]))
    spec *= wave[None, :] / dt
    return np.fft.irfft(spec, n=nfft, axis=-1)[:, :samples].astype(np.float32)


def _nuisances(p: Conv4DParams, n: int, rng: np.random.Generator) -> list[Nuisance]:
    out = []
    for _ in range(n):
        kw = {
            "freq": float(rng.uniform(*p.freq_range)),
            "phase_deg": float(rng.uniform(*p.phase_range_deg)),
            "static_ms": float(rng.uniform(*p.static_range_ms)),
            "amp": float(rng.uniform(*p.amp_range)),
        }
        if p.water_static_range_ms is not None:  # drawn only when asked: other surveys
            kw["water_static_ms"] = float(rng.uniform(*p.water_static_range_ms))  # unchanged
        out.append(Nuisance(**kw))
    return out


def shot_headers(
    fr: np.ndarray, cdp: np.ndarray, offsets: np.ndarray, xs: np.ndarray
) -> dict[str, np.ndarray | int]:
    """SEG-Y trace headers of shot gathers ``(len(fr), len(offsets))`` sorted by offset:
    FieldRecord ``fr`` and CDP ``cdp`` per shot, source at ``xs`` (m), receivers at
    ``xs + offset``, midpoints at ``xs + offset / 2`` (coordinates in whole metres)."""
    n, c = len(fr), len(offsets)
    off = np.round(offsets).astype(int)
    sx = np.round(xs).astype(int)
    return {
        "TRACE_SEQUENCE_LINE": np.arange(1, n * c + 1),
        "TRACE_SEQUENCE_FILE": np.arange(1, n * c + 1),
        "FieldRecord": np.repeat(fr, c),
        "TraceNumber": np.tile(np.arange(1, c + 1), n),
        "CDP": np.repeat(cdp, c),
        "CDP_TRACE": np.tile(np.arange(1, c + 1), n),
        "TraceIdentificationCode": 1,
        "offset": np.tile(off, n),
        "SourceGroupScalar": 1,
        "ElevationScalar": 1,
        "SourceX": np.repeat(sx, c),
        "GroupX": np.repeat(sx, c) + np.tile(off, n),
        "CDP_X": np.repeat(sx, c) + np.tile(np.round(offsets / 2).astype(int), n),
        "CoordinateUnits": 1,
    }


def make_conv4d_survey(
    outdir: PathLike, params: Conv4DParams | None = None, *, overwrite: bool = False
) -> dict[str, Path]:
    """Write ``baseline.sgy``, ``monitor.sgy`` and ``truth.h5`` into ``outdir``.

    Shots are FieldRecords (baseline 1.., monitor 100001..), one CDP each, traces sorted
    by offset; SourceX/GroupX/CDP_X in metres.

    Returns
    -------
    dict with keys ``baseline``, ``monitor``, ``truth``.

    Raises
    ------
    FileExistsError
        If an output exists and ``overwrite`` is false.
    """
    p = params or Conv4DParams()
    outdir = Path(outdir)
    paths = {
        "baseline": outdir / "baseline.sgy",
        "monitor": outdir / "monitor.sgy",
        "truth": outdir / "truth.h5",
    }
    if not overwrite:
        for q in paths.values():
            if q.exists():
                raise FileExistsError(f"{q} already exists; pass overwrite=True (--overwrite)")
    rng = np.random.default_rng(p.seed)
    base, mon, changed = _earths(p, rng)
    offsets = np.linspace(p.offset_min, p.offset_max, p.channels)
    ref_nuis = Nuisance()
    out: dict[str, dict[str, np.ndarray]] = {}
    nuis_all = {}
    for label, earths, fr0 in (("baseline", base, 1), ("monitor", mon, 100001)):
        nuis = _nuisances(p, p.n_cdp * p.shots_per_cdp, rng)
        nuis_all[label] = nuis
        clean = np.stack(
            [
                render_gather(earths[i // p.shots_per_cdp], nu, offsets, p.samples, p.dt_ms)
                for i, nu in enumerate(nuis)
            ]
        )
        noisy = clean
        if p.snr is not None:
            sig = float(np.sqrt(np.mean(clean**2)))
            noisy = clean + rng.normal(0, sig / p.snr, clean.shape).astype(np.float32)
        n = clean.shape[0]
        cdp = np.repeat(np.arange(1, p.n_cdp + 1), p.shots_per_cdp)
        fr = fr0 + np.arange(n)
        xs = (cdp - 1) * p.cdp_spacing + rng.uniform(-5, 5, n)  # metres
        hdr = shot_headers(fr, cdp, offsets, xs)
        write_segy(
            paths[label],
            noisy.reshape(-1, p.samples),
            hdr,
            int(p.dt_ms * 1000),
            textual=f"symae-seis convolutional 4D synthetic: {label}\n"
            f"params {json.dumps(asdict(p))[:150]}",
            overwrite=overwrite,
        )
        out[label] = {"clean": clean, "fr": fr, "cdp": cdp}
    # ground truth
    virtual = np.stack(
        [
            render_gather(mon[i // p.shots_per_cdp], nu, offsets, p.samples, p.dt_ms)
            for i, nu in enumerate(nuis_all["baseline"])
        ]
    )
    reference = np.stack(
        [render_gather(e, ref_nuis, offsets, p.samples, p.dt_ms) for e in (*base, *mon)]
    )
    with atomic_path(paths["truth"], overwrite=overwrite) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["params"] = json.dumps(asdict(p))
        h5.attrs["description"] = (
            "virtual[j]: monitor earth with baseline shot j's acquisition; reference[d]: "
            "datapoint d (baseline CDPs then monitor CDPs) with the reference acquisition"
        )
        h5["virtual"] = virtual
        h5["virtual_fieldrecord"] = out["baseline"]["fr"]
        h5["virtual_cdp"] = out["baseline"]["cdp"]
        h5["reference"] = reference
        h5["reference_survey"] = np.repeat(np.array([b"baseline", b"monitor"]), p.n_cdp)
        h5["reference_cdp"] = np.tile(np.arange(1, p.n_cdp + 1), 2)
        h5["baseline_clean"] = out["baseline"]["clean"]
        h5["monitor_clean"] = out["monitor"]["clean"]
        h5["changed"] = changed
        h5["offsets"] = offsets
        for label, nuis in nuis_all.items():
            g = h5.create_group(f"nuisance/{label}")
            fields = ["freq", "phase_deg", "static_ms", "amp"]
            if p.water_static_range_ms is not None:
                fields.append("water_static_ms")
            for fld in fields:
                g[fld] = np.array([getattr(nu, fld) for nu in nuis])
            g["fieldrecord"] = out[label]["fr"]
    return paths
