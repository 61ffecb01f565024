"""A zoo of 1-D convolutional 4D surveys whose physics is drawn over the ranges a 4D
processor meets, not over what SymAE's filter family expresses.

Each draw (:func:`draw_zoo`, seeded) picks a water depth (30 m to 1.5 km) and the
water-bottom reflection with its slow moveout; reflectors below it with an AVO class
(flat, rising, falling; class I-III: ``R(theta) = A + B sin^2 theta``, angles from the
ray parameter up to near-critical); an offset range and spacing; a wavelet family beyond
Ricker (minimum phase, a bubble train, a source ghost's notch, or Ricker); 6-24 shots per
datapoint; per-shot statics up to +-16 ms, gains, and **water-velocity statics of their
true shape**: a shot's water velocity changes the time of every event's two water legs,
which grow with offset along the ray (``t_water(h) = t_wb / sqrt(1 - (p v_w)^2)`` with the
event's ray parameter ``p``), a hyperbola, not a polynomial. The monitor differs inside a
reservoir lens (its coefficient, and a delay below it).

Traces are rendered exactly in the frequency domain. The truth (``truth.h5``) has the
layout of :mod:`symae_seis.synth.convolutional` (``virtual``: the monitor earth recorded
with each baseline shot's exact acquisition), and the draw's parameters in ``params``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..errors import OptionError
from ..io.atomic import atomic_path
from ..io.segy_write import write_segy
from ..typing import PathLike
from .convolutional import shot_headers

__all__ = [
    "ZooDraw",
    "draw_zoo",
    "make_zoo_survey",
    "event_moveout",
    "WAVELETS",
    "AVO_CLASSES",
]

WAVELETS = ("ricker", "minimum", "bubble", "ghost")
#: AVO classes: (intercept range, gradient range) of ``R = A + B sin^2(theta)``.
AVO_CLASSES = {
    "flat": ((0.1, 0.25), (-0.02, 0.02)),
    "rising": ((0.05, 0.15), (0.1, 0.3)),
    "I": ((0.1, 0.25), (-0.4, -0.15)),
    "II": ((-0.03, 0.03), (-0.35, -0.15)),
    "III": ((-0.25, -0.1), (-0.4, -0.15)),
}
V_WATER = 1500.0  # m/s, the reference water velocity
#: Longest record of a draw (samples): the zoo's training budget on 2 CPU cores.
MAX_SAMPLES = 320


@dataclass(frozen=True)
class ZooDraw:
    """The physics of one zoo survey (every field drawn by :func:`draw_zoo`)."""

    seed: int
    n_cdp: int = 16
    shots_per_cdp: int = 12
    channels: int = 24
    samples: int = 200
    dt_ms: float = 4.0
    delay_rec_ms: float = 0.0  # recording delay: the time of the first sample
    offset_min: float = 100.0
    offset_max: float = 2400.0
    water_depth_m: float = 600.0
    wb_refl: float = 0.4  # water-bottom reflection coefficient
    t0_s: tuple[float, ...] = ()  # reflectors below the water bottom (zero-offset TWT)
    vrms: tuple[float, ...] = ()  # their stacking velocities (m/s)
    avo: tuple[tuple[float, float], ...] = ()  # (A, B) of each reflector
    avo_class: str = "I"
    reservoir: int = 1  # index into t0_s
    delta_a: float = -0.08  # reservoir intercept change inside the lens
    delay_ms: float = 4.0  # delay below the reservoir inside the lens
    lens: tuple[float, float] = (0.35, 0.7)
    wavelet: str = "ricker"
    freq_range: tuple[float, float] = (18.0, 32.0)
    phase_range_deg: tuple[float, float] = (-45.0, 45.0)
    static_range_ms: tuple[float, float] = (-8.0, 8.0)
    gain_range: tuple[float, float] = (0.7, 1.3)
    water_dv_range: tuple[float, float] = (-10.0, 10.0)  # water velocity change (m/s)
    design_window_ms: tuple[float, float] = (0.0, 0.0)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.t0_s:
            return  # a template; draw_zoo fills the physics in
        name = f"zoo draw {self.seed}"
        start, end = self.design_window_ms
        events = [self.t_wb * 1000, *(t * 1000 for t in self.t0_s)]
        if not any(start <= e <= end - 10 for e in events):
            raise OptionError(
                f"{name}: design_window_ms {[start, end]} holds no event "
                f"(events at {[round(e) for e in events]} ms)"
            )
        last = self.delay_rec_ms + (self.samples - 1) * self.dt_ms
        r = self.t0_s[self.reservoir]
        far = float(np.sqrt(r**2 + (self.offset_max / self.vrms[self.reservoir]) ** 2)) * 1000
        if far > last:
            raise OptionError(
                f"{name}: samples={self.samples} end the record at {last:g} ms, "
                f"before the reservoir's event at the far offset ({far:.0f} ms; "
                f"offset_max={self.offset_max:g} m)"
            )

    @property
    def t_wb(self) -> float:
        """Zero-offset two-way time of the water bottom (s)."""
        return 2 * self.water_depth_m / V_WATER


def draw_zoo(seed: int) -> ZooDraw:
    """Draw one survey's physics (``seed`` makes it reproducible).

    Raises
    ------
    OptionError
        If the draw's design window would hold no event (never, for the ranges here: a
        check that names the draw if the ranges change).
    """
    rng = np.random.default_rng([20261206, seed])
    depth = float(np.exp(rng.uniform(np.log(30.0), np.log(1500.0))))
    dt_ms = 4.0
    t_wb = 2 * depth / V_WATER
    n_layers = int(rng.integers(3, 6))
    gaps = rng.uniform(0.08, 0.25, n_layers)
    t0 = t_wb + np.cumsum(gaps)
    v_top = rng.uniform(1550.0, 1800.0)
    vrms = v_top + np.cumsum(rng.uniform(50.0, 400.0, n_layers))
    avo_class = str(rng.choice(list(AVO_CLASSES)))
    a_rng, b_rng = AVO_CLASSES[avo_class]
    signs = rng.choice([-1.0, 1.0], n_layers)
    avo = [(float(rng.uniform(*a_rng)), float(rng.uniform(*b_rng))) for _ in range(n_layers)]
    avo = [(a * s, b * s) for (a, b), s in zip(avo, signs)]  # polarity of the contrast
    # deep water: the recording starts shortly above the water bottom, as it is shot
    delay = float(np.floor(max(0.0, t_wb - 0.1) * 10) * 100)
    end = delay / 1000 + (MAX_SAMPLES - 1) * dt_ms / 1000
    keep = t0 < end - 0.08  # reflectors inside the longest record
    t0, vrms, n_layers = t0[keep], vrms[keep], int(keep.sum())
    # the far offset: drawn, but the record must hold the reservoir's far arrival (and
    # 60 ms after it): a reservoir deep enough for that at 1 km of offset at least
    offset_max = float(rng.uniform(1500.0, 4000.0))
    cap = vrms * np.sqrt(np.maximum((end - 0.06) ** 2 - t0**2, 0.0))
    usable = [k for k in range(1, n_layers) if cap[k] >= 1000.0] or [1]
    reservoir = int(rng.choice(usable))  # at least one reflector above it
    offset_max = float(min(offset_max, cap[reservoir]))
    far = float(np.sqrt(t0[reservoir] ** 2 + (offset_max / vrms[reservoir]) ** 2))
    last = max(t0[-1] + 0.1, far + 0.06)
    samples = int(min(MAX_SAMPLES, np.ceil((last - delay / 1000) * 1000 / dt_ms) + 1))
    channels = int(rng.choice([24, 32]))
    offset_min = float(rng.uniform(50.0, 250.0))
    top = t0[reservoir] * 1000 - 40.0  # the design window closes above the reservoir
    design = (delay, float(top))
    static, dv = float(rng.uniform(4.0, 16.0)), float(rng.uniform(2.0, 15.0))
    if top < t_wb * 1000 + 20:
        raise OptionError(
            f"zoo draw {seed}: design_window_ms {list(design)} holds no event "
            f"(water bottom at {t_wb * 1000:.0f} ms)"
        )
    return ZooDraw(
        seed=seed,
        n_cdp=int(rng.integers(12, 21)),
        shots_per_cdp=int(rng.integers(6, 25)),
        channels=channels,
        samples=samples,
        dt_ms=dt_ms,
        delay_rec_ms=delay,
        offset_min=offset_min,
        offset_max=offset_max,
        water_depth_m=depth,
        wb_refl=float(rng.uniform(0.2, 0.5)),
        t0_s=tuple(float(x) for x in t0),
        vrms=tuple(float(x) for x in vrms),
        avo=tuple(a for a, k in zip(avo, keep) if k),
        avo_class=avo_class,
        reservoir=reservoir,
        delta_a=float(rng.choice([-1, 1]) * rng.uniform(0.04, 0.12)),
        delay_ms=float(rng.uniform(2.0, 8.0)),
        wavelet=str(rng.choice(WAVELETS)),
        static_range_ms=(-static, static),
        water_dv_range=(-dv, dv),
        design_window_ms=design,
    )


def _wavelet(d: ZooDraw, f: np.ndarray, shot: dict) -> np.ndarray:
    """Complex spectrum of one shot's source signature (family ``d.wavelet``)."""
    fp = shot["freq"]
    amp = (2 / np.sqrt(np.pi)) * f**2 / fp**3 * np.exp(-(f**2) / fp**2)
    if d.wavelet == "minimum":  # the minimum-phase wavelet of that amplitude spectrum
        n = 2 * (len(f) - 1)
        ceps = np.fft.irfft(np.log(np.maximum(amp, 1e-8 * amp.max())), n)
        fold = np.zeros(n)
        fold[0], fold[1 : n // 2], fold[n // 2] = ceps[0], 2 * ceps[1 : n // 2], ceps[n // 2]
        spec = np.exp(np.fft.rfft(fold))
    else:
        spec = amp.astype(complex)
    if d.wavelet == "bubble":  # a decaying train of bubble pulses
        period = shot["bubble_s"]
        spec = spec * (
            1 - 0.35 * np.exp(-2j * np.pi * f * period) + 0.12 * np.exp(-4j * np.pi * f * period)
        )
    if d.wavelet == "ghost":  # the source ghost: a notch at v / (2 depth)
        spec = spec * (1 - 0.95 * np.exp(-2j * np.pi * f * 2 * shot["ghost_m"] / V_WATER))
    return spec * np.exp(-1j * np.deg2rad(shot["phase_deg"])) * shot["gain"]


def _events(d: ZooDraw, monitor: bool, inside: float):
    """Zero-offset times, velocities and (A, B) of the water bottom and every reflector."""
    t0 = [d.t_wb, *d.t0_s]
    vel = [V_WATER, *d.vrms]
    ab = [(d.wb_refl, 0.0), *d.avo]
    if monitor and inside > 0:
        r = d.reservoir + 1
        ab[r] = (ab[r][0] + d.delta_a * inside, ab[r][1])
        t0 = [t + (d.delay_ms / 1000 * inside if k > r else 0.0) for k, t in enumerate(t0)]
    return np.array(t0), np.array(vel), np.array(ab)


def event_moveout(
    d: ZooDraw, offsets: np.ndarray, *, monitor: bool = False, inside: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Two-way times (s) and ray parameters (s/m) ``(K, H)`` of the water bottom and every
    reflector (K events) at ``offsets`` (H), before statics and water-velocity changes."""
    t0, vel, _ = _events(d, monitor, inside)
    h = np.asarray(offsets, dtype=np.float64)[None, :]
    t = np.sqrt(t0[:, None] ** 2 + (h / vel[:, None]) ** 2)
    return t, h / (vel[:, None] ** 2 * t)


def render_zoo_gather(
    d: ZooDraw, offsets: np.ndarray, shot: dict, *, monitor: bool = False, inside: float = 0.0
) -> np.ndarray:
    """One shot gather ``(len(offsets), samples)``, exact in the frequency domain."""
    dt = d.dt_ms / 1000.0
    nfft = 2 * d.samples
    f = np.fft.rfftfreq(nfft, dt)
    t0, vel, ab = _events(d, monitor, inside)
    t, p = event_moveout(d, offsets, monitor=monitor, inside=inside)  # (K, H)
    sin_w = np.clip(p * V_WATER, 0.0, 0.999)
    t_water = d.t_wb / np.sqrt(1 - sin_w**2)  # the ray's two water legs
    water = t_water * (V_WATER / (V_WATER + shot["water_dv"]) - 1.0)
    sin2 = np.clip(p * vel[:, None], 0.0, 0.98) ** 2  # angle at the reflector, near-critical
    refl = ab[:, :1] + ab[:, 1:] * sin2
    amp = refl * (t0[:, None] / t)
    tt = t + water + shot["static_ms"] / 1000.0 - d.delay_rec_ms / 1000.0  # record time
    spec = np.einsum("kh,khf->hf", amp, np.exp(-2j * np.pi * f[None, None, :] * tt[..., None]))
    spec *= _wavelet(d, f, shot)[None, :] / dt
    return np.fft.irfft(spec, n=nfft, axis=-1)[:, : d.samples].astype(np.float32)


def _shots(d: ZooDraw, n: int, rng: np.random.Generator) -> list[dict]:
    base_ghost, base_bubble = rng.uniform(5.0, 10.0), rng.uniform(0.08, 0.16)
    return [
        {
            "freq": float(rng.uniform(*d.freq_range)),
            "phase_deg": float(rng.uniform(*d.phase_range_deg)),
            "static_ms": float(rng.uniform(*d.static_range_ms)),
            "gain": float(rng.uniform(*d.gain_range)),
            "water_dv": float(rng.uniform(*d.water_dv_range)),
            "ghost_m": float(base_ghost * rng.uniform(0.85, 1.15)),
            "bubble_s": float(base_bubble * rng.uniform(0.95, 1.05)),
        }
        for _ in range(n)
    ]


def make_zoo_survey(outdir: PathLike, draw: ZooDraw, *, overwrite: bool = False) -> dict[str, Path]:
    """Write ``baseline.sgy``, ``monitor.sgy`` and ``truth.h5`` of ``draw`` into ``outdir``
    (FieldRecords: baseline 1.., monitor 100001..; one CDP per shot, traces by offset).

    Raises
    ------
    FileExistsError
        If an output exists and ``overwrite`` is false.
    """
    outdir = Path(outdir)
    paths = {
        k: outdir / f
        for k, f in (
            ("baseline", "baseline.sgy"),
            ("monitor", "monitor.sgy"),
            ("truth", "truth.h5"),
        )
    }
    if not overwrite:
        for q in paths.values():
            if q.exists():
                raise FileExistsError(f"{q} already exists; pass overwrite=True (--overwrite)")
    rng = np.random.default_rng([draw.seed, 1])
    offsets = np.linspace(draw.offset_min, draw.offset_max, draw.channels)
    x = np.linspace(0.0, 1.0, draw.n_cdp)
    lo, hi = draw.lens
    inside = (
        np.sin(0.5 * np.pi * np.clip(np.minimum(x - lo, hi - x) / (0.08 * (hi - lo)), 0, 1)) ** 2
    )
    cdp = np.repeat(np.arange(1, draw.n_cdp + 1), draw.shots_per_cdp)
    shots, clean = {}, {}
    for label, fr0 in (("baseline", 1), ("monitor", 100001)):
        shots[label] = _shots(draw, len(cdp), rng)
        clean[label] = np.stack(
            [
                render_zoo_gather(
                    draw, offsets, s, monitor=label == "monitor", inside=float(inside[c - 1])
                )
                for s, c in zip(shots[label], cdp)
            ]
        )
        fr = fr0 + np.arange(len(cdp))
        xs = (cdp - 1) * 25.0 + rng.uniform(-5, 5, len(cdp))
        write_segy(
            paths[label],
            clean[label].reshape(-1, draw.samples),
            shot_headers(fr, cdp, offsets, xs),
            int(draw.dt_ms * 1000),
            t0_ms=draw.delay_rec_ms,
            textual=f"symae-seis zoo draw {draw.seed}: {label}",
            overwrite=overwrite,
        )
    virtual = np.stack(
        [
            render_zoo_gather(draw, offsets, s, monitor=True, inside=float(inside[c - 1]))
            for s, c in zip(shots["baseline"], cdp)
        ]
    )
    with atomic_path(paths["truth"], overwrite=overwrite) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["params"] = json.dumps(asdict(draw))
        h5["virtual"] = virtual
        h5["virtual_fieldrecord"] = 1 + np.arange(len(cdp))
        h5["virtual_cdp"] = cdp
        h5["baseline_clean"] = clean["baseline"]
        h5["monitor_clean"] = clean["monitor"]
        h5["changed"] = inside > 0
        h5["offsets"] = offsets
        for label, fr0 in (("baseline", 1), ("monitor", 100001)):
            g = h5.create_group(f"nuisance/{label}")
            for key in ("freq", "phase_deg", "static_ms", "gain", "water_dv"):
                g[key] = np.array([s[key] for s in shots[label]])
            g["fieldrecord"] = fr0 + np.arange(len(cdp))
    return paths
