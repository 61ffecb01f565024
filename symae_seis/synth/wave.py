"""Wave-equation synthetic surveys with ground truth (2-D acoustic, deepwave).

Two surveys, each written as SEG-Y (baseline, monitor) plus ``truth.h5`` in the layout
of :mod:`symae_seis.synth.convolutional` (so :func:`symae_seis.qc.truth.score_4d_against_truth`
scores both):

``make_wave4d_survey``
    Layered, faulted baseline velocity model; the monitor model has a velocity drop in a
    reservoir lens. Shots at ``n_loc`` source locations (the datapoints, CDP = location
    index), ``shots_per_loc`` repeats each with non-repeatable acquisition: Ricker peak
    frequency, constant phase rotation, source position jittered by a few metres, and a
    timing error. Truth: the monitor model shot with every baseline shot's exact
    acquisition.
``make_statics_survey``
    A deep water layer whose velocity changes from shot to shot (temperature, salinity),
    giving offset-dependent time shifts of several ms; baseline and monitor share the
    earth (no 4D change). Truth: every baseline shot recorded with the reference water
    velocity (``virtual``) and its water velocity (``nuisance/.../water_velocity``).

deepwave is an optional dependency (``pip install symae-seis[physics]``).
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

__all__ = ["Wave4DParams", "make_wave4d_survey", "make_statics_survey", "velocity_models"]


@dataclass(frozen=True)
class Wave4DParams:
    """Grid, geometry and non-repeatability of the wave-equation surveys (defaults: a
    CPU-minutes size)."""

    nz: int = 80
    nx: int = 240
    dx: float = 10.0
    nt: int = 1200  # modelling steps
    dt: float = 0.0005  # s
    record_every: int = 8  # output sample interval = dt * record_every (4 ms)
    n_loc: int = 12  # source locations (datapoints)
    shots_per_loc: int = 6
    channels: int = 24
    rec_spacing: int = 3  # cells between receivers
    loc_spacing: int = 8  # cells between source locations
    first_loc: int = 30
    freq_range: tuple[float, float] = (18.0, 30.0)
    phase_range_deg: tuple[float, float] = (-45.0, 45.0)
    jitter_cells: int = 1  # source position jitter (cells, +-)
    timing_ms: tuple[float, float] = (-4.0, 4.0)
    lens: tuple[int, int] = (5, 9)  # source locations spanning the reservoir lens (x)
    dv: float = -0.08  # relative velocity change in the lens
    water_cells: int = 30  # statics survey: water depth (cells)
    water_v_range: tuple[float, float] = (1480.0, 1530.0)
    water_v_ref: float = 1500.0
    seed: int = 0


def velocity_models(p: Wave4DParams) -> tuple[np.ndarray, np.ndarray]:
    """Baseline and monitor velocity (``nz x nx``, m/s): dipping layers, a normal fault,
    and a reservoir lens whose velocity drops by ``dv`` in the monitor."""
    z = np.arange(p.nz)[:, None] * np.ones((1, p.nx))
    x = np.ones((p.nz, 1)) * np.arange(p.nx)[None, :]
    throw = np.where(x > 0.55 * p.nx, 4, 0)
    depth = z - 0.03 * x - throw
    v = np.full((p.nz, p.nx), 1800.0)
    for top, vel in ((15, 2100.0), (32, 2400.0), (45, 2700.0), (60, 3100.0)):
        v[depth >= top] = vel
    mon = v.copy()
    cx0 = p.first_loc + p.lens[0] * p.loc_spacing
    cx1 = p.first_loc + p.lens[1] * p.loc_spacing
    lens = (depth >= 36) & (depth < 42) & (x >= cx0) & (x <= cx1)
    mon[lens] *= 1 + p.dv
    return v.astype(np.float32), mon.astype(np.float32)


def _wavelet(nt: int, dt: float, freq: float, phase_deg: float, delay_s: float) -> np.ndarray:
    """Ricker of peak ``freq`` delayed by ``1.5/freq + delay_s`` and phase-rotated."""
    t = np.arange(nt) * dt - 1.5 / freq - delay_s
    a = (np.pi * freq * t) ** 2
    w = (1 - 2 * a) * np.exp(-a)
    spec = np.fft.rfft(w)
    spec *= np.exp(-1j * np.deg2rad(phase_deg))
    return np.fft.irfft(spec, n=nt).astype(np.float32)


def _shoot(
    v: np.ndarray, p: Wave4DParams, src_x: np.ndarray, wavelets: np.ndarray, rec_x: np.ndarray
) -> np.ndarray:
    """Model shots (one per row of ``src_x``); returns ``(shots, channels, nt)``."""
    import deepwave
    import torch

    n = len(src_x)
    sl = torch.zeros(n, 1, 2, dtype=torch.long)
    sl[:, 0, 0] = 1
    sl[:, 0, 1] = torch.as_tensor(src_x)
    rl = torch.zeros(n, rec_x.shape[1], 2, dtype=torch.long)
    rl[:, :, 0] = 1
    rl[:, :, 1] = torch.as_tensor(rec_x)
    amp = torch.as_tensor(wavelets)[:, None, :]
    out = deepwave.scalar(
        torch.as_tensor(v),
        p.dx,
        p.dt,
        source_amplitudes=amp,
        source_locations=sl,
        receiver_locations=rl,
        accuracy=4,
        pml_freq=float(np.mean(p.freq_range)),
    )
    return out[-1].numpy()


def _decimate(x: np.ndarray, k: int) -> np.ndarray:
    from scipy import signal

    return signal.decimate(x, k, ftype="fir", axis=-1, zero_phase=True).astype(np.float32)


def _write(
    outdir: Path,
    label: str,
    gathers: np.ndarray,
    p: Wave4DParams,
    src: np.ndarray,
    rec: np.ndarray,
    fr0: int,
    overwrite: bool,
) -> None:
    n, c, t = gathers.shape
    loc = np.repeat(np.arange(1, p.n_loc + 1), p.shots_per_loc)
    hdr = {
        "FieldRecord": np.repeat(fr0 + np.arange(n), c),
        "TraceNumber": np.tile(np.arange(1, c + 1), n),
        "CDP": np.repeat(loc, c),
        "offset": ((rec - src[:, None]) * p.dx).round().astype(int).reshape(-1),
        "SourceX": np.repeat((src * p.dx).round().astype(int), c),
        "GroupX": (rec * p.dx).round().astype(int).reshape(-1),
        "SourceGroupScalar": 1,
        "TraceIdentificationCode": 1,
    }
    write_segy(
        outdir / f"{label}.sgy",
        gathers.reshape(-1, t),
        hdr,
        int(round(p.dt * p.record_every * 1e6)),
        textual=f"symae-seis wave-equation synthetic (deepwave): {label}",
        overwrite=overwrite,
    )


def _acquisition(p: Wave4DParams, rng: np.random.Generator):
    n = p.n_loc * p.shots_per_loc
    base_x = p.first_loc + p.loc_spacing * np.repeat(np.arange(p.n_loc), p.shots_per_loc)
    src = base_x + rng.integers(-p.jitter_cells, p.jitter_cells + 1, n)
    freq = rng.uniform(*p.freq_range, n)
    phase = rng.uniform(*p.phase_range_deg, n)
    timing = rng.uniform(*p.timing_ms, n) / 1000.0
    rec = base_x[:, None] + p.rec_spacing * np.arange(p.channels)[None, :]
    return src, freq, phase, timing, rec


def _wavelets(p, freq, phase, timing):
    return np.stack([_wavelet(p.nt, p.dt, f, ph, tm) for f, ph, tm in zip(freq, phase, timing)])


def _check_grid(p: Wave4DParams) -> None:
    last = p.first_loc + p.loc_spacing * (p.n_loc - 1) + p.rec_spacing * (p.channels - 1)
    if last + p.jitter_cells >= p.nx:
        raise ValueError(
            f"geometry reaches cell {last} but the model has nx={p.nx}; enlarge "
            "nx or shrink n_loc, loc_spacing, channels or rec_spacing"
        )


def _truth(
    outdir: Path,
    p: Wave4DParams,
    virtual: np.ndarray,
    base: np.ndarray,
    mon: np.ndarray,
    changed: np.ndarray,
    extra: dict,
    overwrite: bool,
) -> Path:
    n = virtual.shape[0]
    path = outdir / "truth.h5"
    with atomic_path(path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as h5:
        prm = asdict(p)
        prm["n_cdp"] = p.n_loc
        prm["shots_per_cdp"] = p.shots_per_loc
        h5.attrs["params"] = json.dumps(prm)
        h5["virtual"] = virtual
        h5["virtual_fieldrecord"] = 1 + np.arange(n)
        h5["virtual_cdp"] = np.repeat(np.arange(1, p.n_loc + 1), p.shots_per_loc)
        h5["baseline_clean"] = base
        h5["monitor_clean"] = mon
        h5["changed"] = changed
        for key, value in extra.items():
            h5[key] = value
    return path


def make_wave4d_survey(
    outdir: PathLike,
    params: Wave4DParams | None = None,
    *,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Path]:
    """Write the wave-equation 4D survey (``baseline.sgy``, ``monitor.sgy``, ``truth.h5``).

    Baseline FieldRecords are 1..N, monitor 100001..; CDP is the source location index.
    """
    p = params or Wave4DParams()
    _check_grid(p)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(p.seed)
    v_base, v_mon = velocity_models(p)
    acq = {lab: _acquisition(p, rng) for lab in ("baseline", "monitor")}
    shots = {}
    for lab, v in (("baseline", v_base), ("monitor", v_mon)):
        src, freq, phase, timing, rec = acq[lab]
        shots[lab] = _decimate(
            _shoot(v, p, src, _wavelets(p, freq, phase, timing), rec), p.record_every
        )
    src, freq, phase, timing, rec = acq["baseline"]
    virtual = _decimate(
        _shoot(v_mon, p, src, _wavelets(p, freq, phase, timing), rec), p.record_every
    )
    for lab, fr0 in (("baseline", 1), ("monitor", 100001)):
        _write(outdir, lab, shots[lab], p, acq[lab][0], acq[lab][4], fr0, overwrite)
    # the changed zone as the data see it: locations where the monitor earth, shot with the
    # baseline's exact acquisition, differs from the baseline by more than 1 % NRMS
    from ..qc.metrics import nrms

    four_d = nrms(virtual, shots["baseline"]).reshape(p.n_loc, -1)
    changed = np.median(four_d, axis=1) > 1.0
    extra = {"four_d_nrms": np.median(four_d, axis=1)}
    for lab in ("baseline", "monitor"):
        src, freq, phase, timing, _ = acq[lab]
        extra[f"nuisance/{lab}/freq"] = freq
        extra[f"nuisance/{lab}/phase_deg"] = phase
        extra[f"nuisance/{lab}/timing_ms"] = timing * 1000
        extra[f"nuisance/{lab}/source_x_m"] = src * p.dx
    extra["velocity/baseline"], extra["velocity/monitor"] = v_base, v_mon
    truth = _truth(
        outdir, p, virtual, shots["baseline"], shots["monitor"], changed, extra, overwrite
    )
    return {"baseline": outdir / "baseline.sgy", "monitor": outdir / "monitor.sgy", "truth": truth}


def make_statics_survey(
    outdir: PathLike, params: Wave4DParams | None = None, *, overwrite: bool = False
) -> dict[str, Path]:
    """Write the deepwater-statics survey: water velocity varies per shot (the only
    nuisance: source position, wavelet and timing are fixed), no 4D change.

    ``truth.h5``'s ``virtual[j]`` is baseline shot j recorded with the reference water
    velocity (same source, wavelet and timing): redatuming to a common reference should
    remove the water-velocity time shifts.
    """
    p = params or Wave4DParams()
    _check_grid(p)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(p.seed + 1)
    v_earth, _ = velocity_models(p)
    shots, water, acqs = {}, {}, {}
    # the water velocity is the only nuisance here: fixed source, wavelet and timing
    fixed = Wave4DParams(
        **{
            **asdict(p),
            "jitter_cells": 0,
            "phase_range_deg": (0.0, 0.0),
            "timing_ms": (0.0, 0.0),
            "freq_range": (float(np.mean(p.freq_range)),) * 2,
        }
    )
    for lab in ("baseline", "monitor"):
        src, freq, phase, timing, rec = _acquisition(fixed, rng)
        wv = rng.uniform(*p.water_v_range, len(src))
        out = []
        for k in range(len(src)):
            v = v_earth.copy()
            v[: p.water_cells] = wv[k]
            v[p.water_cells :][v[p.water_cells :] < 1800] = 1800.0
            out.append(
                _shoot(
                    v,
                    p,
                    src[k : k + 1],
                    _wavelets(p, freq[k : k + 1], phase[k : k + 1], timing[k : k + 1]),
                    rec[k : k + 1],
                )[0]
            )
        shots[lab] = _decimate(np.stack(out), p.record_every)
        water[lab] = wv
        acqs[lab] = (src, freq, phase, timing, rec)
    v_ref = v_earth.copy()
    v_ref[: p.water_cells] = p.water_v_ref
    src, freq, phase, timing, rec = acqs["baseline"]
    virtual = _decimate(
        _shoot(v_ref, p, src, _wavelets(p, freq, phase, timing), rec), p.record_every
    )
    for lab, fr0 in (("baseline", 1), ("monitor", 100001)):
        _write(outdir, lab, shots[lab], p, acqs[lab][0], acqs[lab][4], fr0, overwrite)
    extra = {f"nuisance/{lab}/water_velocity": water[lab] for lab in water}
    truth = _truth(
        outdir,
        p,
        virtual,
        shots["baseline"],
        shots["monitor"],
        np.zeros(p.n_loc, dtype=bool),
        extra,
        overwrite,
    )
    return {"baseline": outdir / "baseline.sgy", "monitor": outdir / "monitor.sgy", "truth": truth}
