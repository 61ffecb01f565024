"""The zoo benchmark: the shipped defaults on many surveys nobody tuned on
(:mod:`symae_seis.synth.zoo`), scored per draw and as a distribution.

For each draw: SymAE's whole-gather NRMS outside and inside the changed zone and its 4D
error, each divided by the best conventional method's (the lowest over (a)-(f), designed
in the draw's window or on the whole trace), and SymAE's reconstruction NRMS of the
recorded shots it redatums from (:func:`symae_seis.bench.quality.reconstruction_scores`).
SymAE's 4D error is that of its ``residual_decoder`` (virtual gather minus the model's own
rebuild of the baseline shot), where the run scored it; that of ``virtual - baseline`` is
kept beside it (``d4_virtual``).
"""

from __future__ import annotations

import numpy as np

from ..qc.metrics import gather_nrms
from ..synth.zoo import V_WATER, ZooDraw, _wavelet, event_moveout, render_zoo_gather
from .difference4d import DECODER_4D

__all__ = [
    "zoo_ratios",
    "choose_by_reconstruction",
    "zoo_summary",
    "static_fit_residual",
    "warp_fit_residual",
    "oracle_warp_residual",
    "signature_fit_residual",
    "rank_residual",
    "gather_parts",
    "PARTS",
]


def zoo_ratios(rows: list[dict]) -> list[dict]:
    """One dict per zoo draw of the quality rows: ``draw``, ``outside``, ``inside``,
    ``d4`` (SymAE / best conventional; SymAE's ``residual_decoder`` where scored, else
    ``virtual - baseline``), ``d4_virtual`` (always the latter), ``recon`` (SymAE's
    reconstruction NRMS, %) and the best conventional methods' names."""
    by: dict[str, dict] = {}
    for r in rows:
        if str(r["survey"]).startswith("zoo"):
            key = (r["method"], r["zone"], r["metric"])
            by.setdefault(str(r["survey"]), {})[key] = float(r["value"])
    out = []
    for draw, v in sorted(by.items(), key=lambda kv: int(kv[0][3:])):
        conv = sorted({m for m, _, _ in v if m.startswith("(")})

        ours = {
            k: v.get(("SymAE virtual", *k))
            for k in (
                ("outside", "gather"),
                ("inside", "gather"),
                ("inside", "rel_l2_4d"),
                ("all", "recon_gather"),
                ("all", "recon_q4"),
                ("all", "recon_late"),
            )
        }
        d4_virtual = ours[("inside", "rel_l2_4d")]
        d4 = v.get((DECODER_4D, "inside", "rel_l2_4d"), d4_virtual)
        (b_out, n_out), (b_in, n_in), (b_d4, n_d4) = (
            _best(v, conv, "outside", "gather"),
            _best(v, conv, "inside", "gather"),
            _best(v, conv, "inside", "rel_l2_4d"),
        )
        out.append(
            {
                "draw": draw,
                "outside": ours[("outside", "gather")] / b_out,
                "inside": ours[("inside", "gather")] / b_in,
                "d4": d4 / b_d4,
                "d4_virtual": d4_virtual / b_d4,
                "d4_decoder": (DECODER_4D, "inside", "rel_l2_4d") in v,
                "recon": ours[("all", "recon_gather")],
                "recon_far": ours[("all", "recon_q4")],
                "recon_late": ours[("all", "recon_late")],
                "symae_outside": ours[("outside", "gather")],
                "best_outside": b_out,
                "best_outside_method": n_out,
                "best_inside_method": n_in,
                "best_d4_method": n_d4,
            }
        )
    return out


def choose_by_reconstruction(runs: dict[str, list[dict]]) -> tuple[list[dict], dict[str, str]]:
    """What ``symae-select`` would keep, from quality rows of runs of several model
    families (``{label: rows}``): for every survey, the rows of the run whose SymAE
    reconstruction of the recorded shots (``recon_gather``) is lowest (the first label on
    a tie); returns those rows and ``{survey: label}``."""
    recon: dict[str, list[tuple[float, int, str]]] = {}
    for k, (label, rows) in enumerate(runs.items()):
        for r in rows:
            if r["method"] == "SymAE virtual" and r["metric"] == "recon_gather":
                v = float(r["value"])  # a diverged run (NaN) is never chosen
                recon.setdefault(str(r["survey"]), []).append((v if v == v else np.inf, k, label))
    chosen = {survey: min(vals)[2] for survey, vals in recon.items()}
    rows = [r for label, rs in runs.items() for r in rs if chosen.get(str(r["survey"])) == label]
    return rows, chosen


def _best(v: dict, methods: list[str], zone: str, metric: str) -> tuple[float, str]:
    """The lowest value of ``metric`` in ``zone`` over ``methods``, and its method."""
    vals = {m: v[(m, zone, metric)] for m in methods if (m, zone, metric) in v}
    name = min(vals, key=vals.get)
    return vals[name], name


def zoo_summary(rows: list[dict]) -> str:
    """The per-draw ratios and their distribution as text; the last line holds
    ``zoo_outside_ratio_median= zoo_outside_ratio_worst= zoo_d4_ratio_worst=``."""
    ratios = zoo_ratios(rows)
    if not ratios:
        return "no zoo draw in the rows"
    lines = [
        f"{'draw':7} {'outside':>8} {'inside':>8} {'4D err':>8} {'(v - base)':>9} "
        f"{'recon %':>8} {'far q %':>8} {'late %':>8}  best conventional outside",
        *(
            f"{r['draw']:7} {r['outside']:8.2f} {r['inside']:8.2f} "
            f"{r['d4']:7.2f}{' ' if r['d4_decoder'] else '*'} "
            f"{r['d4_virtual']:9.2f} "
            f"{r['recon']:8.1f} {r['recon_far']:8.1f} {r['recon_late']:8.1f}  "
            f"{r['best_outside_method']} ({r['best_outside']:.1f} %)"
            for r in ratios
        ),
    ]
    if not all(r["d4_decoder"] for r in ratios):
        lines.append("* no residual_decoder score in the run: its 4D ratio is virtual - baseline's")
    col = {
        k: np.array([r[k] for r in ratios])
        for k in ("outside", "inside", "d4", "d4_virtual", "recon")
    }
    lines.append(
        f"{len(ratios)} draws, SymAE / best conventional: outside median "
        f"{np.median(col['outside']):.2f} worst {col['outside'].max():.2f}; inside "
        f"median {np.median(col['inside']):.2f} worst {col['inside'].max():.2f}; "
        f"4D error (residual_decoder) median {np.median(col['d4']):.2f} worst "
        f"{col['d4'].max():.2f} (virtual - baseline: {np.median(col['d4_virtual']):.2f} / "
        f"{col['d4_virtual'].max():.2f}); "
        f"reconstruction NRMS median {np.median(col['recon']):.1f} %"
    )
    lines.append(
        f"zoo_outside_ratio_median={np.median(col['outside']):.3f} "
        f"zoo_outside_ratio_worst={col['outside'].max():.3f} "
        f"zoo_d4_ratio_worst={col['d4'].max():.3f}"
    )
    return "\n".join(lines)


#: Parts of a gather scored apart: whole, channel quarters (far offsets last), halves.
PARTS = ("whole", "q1", "q2", "q3", "q4", "early", "late")


def gather_parts(c: int, t: int) -> dict[str, tuple[slice, slice]]:
    """(channels, samples) slices of each part of a ``(c, t)`` gather (:data:`PARTS`)."""
    out = {"whole": (slice(None), slice(None))}
    for q in range(4):
        out[f"q{q + 1}"] = (slice(q * c // 4, (q + 1) * c // 4), slice(None))
    out["early"], out["late"] = (slice(None), slice(0, t // 2)), (slice(None), slice(t // 2, None))
    return out


def _best_static_gain(target: np.ndarray, source: np.ndarray, up: int = 32) -> np.ndarray:
    """``source`` shifted (to 1 / ``up`` of a sample) and scaled trace by trace to fit
    ``target`` best: what a per-trace static and gain can do."""
    c, n = source.shape
    f = np.fft.rfftfreq(2 * n)
    out = np.zeros_like(target)
    for k in range(c):
        a, b = np.fft.rfft(target[k], 2 * n), np.fft.rfft(source[k], 2 * n)
        cc = np.fft.irfft(np.conj(b) * a, up * 2 * n)
        j = int(np.argmax(cc))
        lag = (j if j < len(cc) // 2 else j - len(cc)) / up
        shifted = np.fft.irfft(b * np.exp(-2j * np.pi * f * lag), 2 * n)[:n]
        out[k] = shifted * (shifted @ target[k]) / max(shifted @ shifted, 1e-30)
    return out


def _with_and_without(draw: ZooDraw, water_dv: float | None) -> tuple[np.ndarray, ...]:
    """One shot of the draw's earth (25 Hz Ricker, no static) without and with a
    water-velocity change (default: the draw's largest), ``(C, T)`` each, float64."""
    offsets = np.linspace(draw.offset_min, draw.offset_max, draw.channels)
    shot = {
        "freq": 25.0,
        "phase_deg": 0.0,
        "static_ms": 0.0,
        "gain": 1.0,
        "water_dv": 0.0,
        "ghost_m": 7.0,
        "bubble_s": 0.1,
    }
    dv = draw.water_dv_range[1] if water_dv is None else water_dv
    return tuple(
        render_zoo_gather(draw, offsets, {**shot, "water_dv": v}).astype(np.float64)
        for v in (0.0, dv)
    )


def _scores(fit: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """NRMS (%) of ``fit`` against ``target`` by part of the gather (:data:`PARTS`)."""
    return {
        name: float(gather_nrms(fit[None][:, ch, ts], target[None][:, ch, ts])[0])
        for name, (ch, ts) in gather_parts(*target.shape).items()
    }


def static_fit_residual(draw: ZooDraw, water_dv: float | None = None) -> dict[str, float]:
    """NRMS (%) by part of the gather of what a per-trace static and gain leave of a
    water-velocity change (``water_dv`` m/s, default the draw's largest): one shot of the
    draw's earth recorded with and without it, everything else equal. A water-velocity
    change moves each event by its own water path (its ray parameter), so at far offsets
    it is a time-variant shift that no static per trace follows."""
    plain, moved = _with_and_without(draw, water_dv)
    return _scores(_best_static_gain(moved, plain), moved)


def _best_warp(target: np.ndarray, source: np.ndarray, dt: float, order: int) -> np.ndarray:
    """``source`` warped trace by trace by a shift polynomial in time of ``order`` (and
    scaled) to fit ``target`` best (least squares from 9 starting statics)."""
    from scipy.interpolate import CubicSpline
    from scipy.optimize import least_squares

    t = np.arange(source.shape[-1]) * dt
    tn = (t - t.mean()) / np.ptp(t)
    out = np.zeros_like(target, dtype=np.float64)
    for k in range(source.shape[0]):
        spline = CubicSpline(t, source[k], extrapolate=False)

        def model(p, spline=spline):
            shift = sum(p[j] * tn**j for j in range(order + 1))
            return p[-1] * np.nan_to_num(spline(t - shift))

        fits = [
            least_squares(lambda p, m=model, y=target[k]: m(p) - y, np.r_[s0, np.zeros(order), 1.0])
            for s0 in np.linspace(-0.02, 0.02, 9)
        ]
        out[k] = model(min(fits, key=lambda r: r.cost).x)
    return out


def warp_fit_residual(draw: ZooDraw, order: int, water_dv: float | None = None) -> dict[str, float]:
    """As :func:`static_fit_residual`, with a per-trace shift that varies along the trace
    as a polynomial in time of ``order`` (0: a static): how far a smooth time-variant
    static would go."""
    plain, moved = _with_and_without(draw, water_dv)
    return _scores(_best_warp(moved, plain, draw.dt_ms / 1000, order), moved)


def _warp(source: np.ndarray, shift: np.ndarray, up: int = 16) -> np.ndarray:
    """``source(c, t - shift(c, t))`` (``shift`` in samples), read from the traces
    band-limited-interpolated ``up`` times finer (no loss below Nyquist)."""
    c, n = source.shape
    fine = np.fft.irfft(np.fft.rfft(source, 2 * n, axis=-1), 2 * n * up, axis=-1) * up
    pos = (np.arange(n)[None, :] - shift) * up
    out = np.zeros_like(source, dtype=np.float64)
    for k in range(c):
        out[k] = np.interp(pos[k], np.arange(fine.shape[-1]), fine[k], left=0.0, right=0.0)
    return out


def oracle_warp_residual(draw: ZooDraw, water_dv: float | None = None) -> dict[str, float]:
    """As :func:`static_fit_residual`, with the best any time warp of the trace can do
    given the truth: every sample moved by the exact water-velocity shift of the event
    nearest to it in time (then the best static and gain per trace). What it leaves is
    where events of different ray parameters overlap on a trace (they cross at far
    offsets, where deeper reflections approach their head waves): there no warp of the
    recorded trace, however it is estimated, maps one shot onto the other."""
    plain, moved = _with_and_without(draw, water_dv)
    dv = draw.water_dv_range[1] if water_dv is None else water_dv
    offsets = np.linspace(draw.offset_min, draw.offset_max, draw.channels)
    t, p = event_moveout(draw, offsets)
    dt = draw.dt_ms / 1000.0
    t_water = draw.t_wb / np.sqrt(1 - np.clip(p * V_WATER, 0.0, 0.999) ** 2)
    shift = t_water * (V_WATER / (V_WATER + dv) - 1.0) / dt  # (K, H) samples
    arrival = (t - draw.delay_rec_ms / 1000.0) / dt
    samples = np.arange(plain.shape[-1])
    nearest = np.argmin(np.abs(samples[None, :, None] - arrival.T[:, None, :]), axis=-1)
    field = np.take_along_axis(shift.T, nearest, axis=-1)  # (H, T)
    return _scores(_best_static_gain(moved, _warp(plain, field)), moved)


def rank_residual(draw: ZooDraw, ranks=(1, 2, 3), shots: int = 9) -> dict[int, float]:
    """Median NRMS (%) over ``shots`` shots of the draw's earth, differing only by their
    water velocity (evenly over the draw's range), of their best approximation by
    ``rank`` gathers: rank 1 is one gather for all (no nuisance term), rank 2 ``G0 + a
    G1`` with one coordinate ``a`` per shot (one learned coherent term), rank 3 two. No
    static or gain is fitted, so this bounds ``coherent_terms`` from above where a
    water-velocity change also moves the whole trace."""
    offsets = np.linspace(draw.offset_min, draw.offset_max, draw.channels)
    dv = draw.water_dv_range[1]
    plain = {"freq": 25.0, "phase_deg": 0.0, "static_ms": 0.0, "gain": 1.0}
    plain.update(water_dv=0.0, ghost_m=7.0, bubble_s=0.1)
    x = np.stack(
        [
            render_zoo_gather(draw, offsets, {**plain, "water_dv": v}).astype(np.float64)
            for v in np.linspace(-dv, dv, shots)
        ]
    )
    u, sv, vt = np.linalg.svd(x.reshape(shots, -1), full_matrices=False)
    out = {}
    for r in ranks:
        fit = ((u[:, :r] * sv[:r]) @ vt[:r]).reshape(x.shape)
        out[r] = float(np.median(gather_nrms(fit, x)))
    return out


def _signature_filter(
    d: ZooDraw, a: dict, b: dict, terms: int, min_phase: bool, band: float = 1e-3
) -> np.ndarray:
    """The shot filter of the family (``terms`` cosine terms of the log-amplitude on the
    FFT grid of twice the record, a gain, a constant phase and a static; with
    ``min_phase`` the phase of the minimum-phase filter of that log-amplitude,
    ``-sum a_k sin(k w)``) closest to the ratio of shot ``b``'s signature to shot
    ``a``'s, by least squares on the log-ratio weighted by ``a``'s power; zero outside
    the band where ``a`` holds ``band`` of its peak power."""
    n = d.samples
    f = np.fft.rfftfreq(2 * n, d.dt_ms / 1000.0)
    wa, wb = _wavelet(d, f, a), _wavelet(d, f, b)
    power = np.abs(wa) ** 2
    ok = power > band * power.max()
    ratio = wb[ok] / wa[ok]
    w = np.pi * np.arange(len(f)) / (len(f) - 1)  # rad per sample of the 2n grid
    k = np.arange(1, terms + 1)
    m = int(ok.sum())
    design = np.zeros((2 * m, terms + 3))
    design[:m, 0] = 1.0
    design[:m, 1 : terms + 1] = np.cos(np.outer(w[ok], k))
    design[m:, terms + 1] = 1.0
    design[m:, terms + 2] = -w[ok]
    if min_phase:
        design[m:, 1 : terms + 1] = -np.sin(np.outer(w[ok], k))
    target = np.concatenate([np.log(np.abs(ratio)), np.unwrap(np.angle(ratio))])
    weight = np.sqrt(np.concatenate([power[ok], power[ok]]) / power.max())
    x = np.linalg.lstsq(design * weight[:, None], target * weight, rcond=None)[0]
    log_amp = x[0] + np.cos(np.outer(w, k)) @ x[1 : terms + 1]
    phase = x[terms + 1] - x[terms + 2] * w
    if min_phase:
        phase = phase - np.sin(np.outer(w, k)) @ x[1 : terms + 1]
    return np.where(ok, np.exp(8.0 * np.tanh(log_amp / 8.0) + 1j * phase), 0.0)


def signature_fit_residual(
    draw: ZooDraw, terms: int, *, min_phase: bool, pairs: int = 4, seed: int = 0
) -> float:
    """Median NRMS (%) of what the best shot filter of the family (see
    :func:`_signature_filter`) leaves when it maps one shot of the draw's earth onto
    another that differs only by its source signature, as the draw's shots differ
    (peak frequency, phase, bubble period +-5 %, ghost depth +-15 %): the part of the
    shot-to-shot nuisance that the spectral terms cannot express, over ``pairs`` pairs."""
    offsets = np.linspace(draw.offset_min, draw.offset_max, draw.channels)
    rng = np.random.default_rng([draw.seed, seed])
    ghost, bubble = rng.uniform(5.0, 10.0), rng.uniform(0.08, 0.16)

    def shot() -> dict:
        return {
            "freq": float(rng.uniform(*draw.freq_range)),
            "phase_deg": float(rng.uniform(*draw.phase_range_deg)),
            "static_ms": 0.0,
            "gain": 1.0,
            "water_dv": 0.0,
            "ghost_m": float(ghost * rng.uniform(0.85, 1.15)),
            "bubble_s": float(bubble * rng.uniform(0.95, 1.05)),
        }

    n, out = draw.samples, []
    for _ in range(pairs):
        a, b = shot(), shot()
        src = render_zoo_gather(draw, offsets, a).astype(np.float64)
        tgt = render_zoo_gather(draw, offsets, b).astype(np.float64)
        h = _signature_filter(draw, a, b, terms, min_phase)
        fit = np.fft.irfft(np.fft.rfft(src, 2 * n, axis=-1) * h, 2 * n, axis=-1)[:, :n]
        out.append(float(gather_nrms(fit, tgt)))
    return float(np.median(out))
