"""Figures of ``symae-qc`` (:mod:`symae_seis.qc.products`): repeatability in the design
window before and after, the 4D signal beside the model's own fit, residual sections on
a gained symmetric scale, time shift and time strain along two-way time. Curves along a
1-D datapoint key, maps over a 2-D one."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..typing import PathLike
from .plots import _plt, _save

__all__ = [
    "plot_repeatability",
    "plot_signal_and_fit",
    "plot_residual_section",
    "plot_shift_strain",
    "PRED_NOTE",
]

PRED_NOTE = (
    "PRED (Kragh & Christie): summed squared cross-correlation over lags within a period, over "
    "the summed products of the autocorrelations; it forgives any gain and, largely, shifts "
    "within that lag, so it stays high where NRMS is large from a static or an amplitude, "
    "and drops when waveforms differ."
)


def _along(ax, key, values, label, **kw):
    order = np.argsort(key)
    ax.plot(np.asarray(key)[order], np.asarray(values)[order], marker="o", ms=3, label=label, **kw)


def _shade(ax, key, zone):
    if zone is None or not np.any(zone):
        return
    order = np.argsort(key)
    ax.fill_between(
        np.asarray(key)[order],
        0,
        1,
        where=np.asarray(zone)[order],
        color="C3",
        alpha=0.1,
        transform=ax.get_xaxis_transform(),
        label="changed zone",
    )


def _map(fig, ax, x, y, values, label, cmap="viridis", vmin=0.0, vmax=None):
    sc = ax.scatter(x, y, c=values, cmap=cmap, s=40, vmin=vmin, vmax=vmax)
    fig.colorbar(sc, ax=ax, label=label)
    ax.set_aspect("equal", adjustable="datalim")
    return sc


def plot_repeatability(
    table: dict[str, np.ndarray],
    keys: list[str],
    out_png: PathLike,
    *,
    window_ms: tuple[float, float],
    zone: np.ndarray | None = None,
) -> Path:
    """NRMS and PRED before (real monitor vs baseline) and after (virtual vs baseline):
    in the design window (solid) and over the whole trace (dashed, named so), along the
    key; for a 2-D key, maps of the design-window NRMS before and after."""
    plt = _plt()
    w = f"design window {window_ms[0]:g}-{window_ms[1]:g} ms"
    if len(keys) >= 2:
        x, y = table[keys[0]], table[keys[1]]
        top = np.nanmax([table["nrms_before_window"], table["nrms_after_window"]])
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), dpi=130)
        for ax, col, name in zip(
            axes, ("nrms_before_window", "nrms_after_window"), ("before", "after")
        ):
            _map(fig, ax, x, y, table[col], "NRMS (%)", vmax=top)
            ax.set_title(f"NRMS {name}, {w}", fontsize=9)
            ax.set_xlabel(keys[0])
            ax.set_ylabel(keys[1])
        fig.tight_layout()
        return _save(plt, fig, out_png)
    key = table[keys[0]]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 6.4), dpi=130, sharex=True)
    _along(a1, key, table["nrms_before_window"], f"before: monitor vs baseline, {w}", color="C0")
    _along(a1, key, table["nrms_after_window"], f"after: virtual vs baseline, {w}", color="C1")
    _along(
        a1, key, table["nrms_before_whole"], "before, whole trace", color="C0", ls="--", alpha=0.6
    )
    _along(a1, key, table["nrms_after_whole"], "after, whole trace", color="C1", ls="--", alpha=0.6)
    if np.isfinite(table["nrms_truth_window"]).any():
        _along(a1, key, table["nrms_truth_window"], f"virtual vs truth, {w}", color="C2")
    _shade(a1, key, zone)
    a1.set_ylabel("NRMS (%)")
    a1.set_ylim(bottom=0)
    a1.grid(alpha=0.3)
    a1.legend(fontsize=7)
    a1.set_title("Repeatability where nothing should change (design window)", fontsize=10)
    _along(a2, key, table["pred_before_window"], f"PRED before, {w}", color="C0")
    _along(a2, key, table["pred_after_window"], f"PRED after, {w}", color="C1")
    _shade(a2, key, zone)
    a2.set_ylabel("PRED (%)")
    a2.set_ylim(top=100.5)
    a2.grid(alpha=0.3)
    a2.legend(fontsize=7)
    a2.set_xlabel(keys[0])
    fig.text(0.01, 0.005, PRED_NOTE, fontsize=6.5, wrap=True)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save(plt, fig, out_png)


def plot_signal_and_fit(
    table: dict[str, np.ndarray],
    keys: list[str],
    out_png: PathLike,
    *,
    reservoir_ms: tuple[float, float],
    zone: np.ndarray | None = None,
) -> Path:
    """The 4D signal (residual RMS in the reservoir window, % of the baseline's) beside
    the model's own fit (NRMS of its reconstruction of the recorded shots): a 4D anomaly
    where the fit is good, a place the model does not explain where it is not."""
    plt = _plt()
    r = f"reservoir window {reservoir_ms[0]:g}-{reservoir_ms[1]:g} ms"
    if len(keys) >= 2:
        x, y = table[keys[0]], table[keys[1]]
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), dpi=130)
        _map(fig, axes[0], x, y, table["signal_4d"], "residual RMS (% of baseline)", cmap="magma")
        axes[0].set_title(f"4D signal, {r}", fontsize=9)
        _map(fig, axes[1], x, y, table["nrms_recon"], "reconstruction NRMS (%)")
        axes[1].set_title("model fit: reconstruction of the recorded shots", fontsize=9)
        for ax in axes:
            ax.set_xlabel(keys[0])
            ax.set_ylabel(keys[1])
        fig.tight_layout()
        return _save(plt, fig, out_png)
    key = table[keys[0]]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 5.6), dpi=130, sharex=True)
    _along(a1, key, table["signal_4d"], "residual RMS / baseline RMS", color="C3")
    _shade(a1, key, zone)
    a1.set_ylabel("4D signal (%)")
    a1.set_ylim(bottom=0)
    a1.grid(alpha=0.3)
    a1.set_title(f"4D signal, {r}", fontsize=10)
    a1.legend(fontsize=7)
    _along(a2, key, table["nrms_recon"], "reconstruction of the recorded shots (whole trace)")
    _shade(a2, key, zone)
    a2.set_ylabel("model misfit NRMS (%)")
    a2.set_ylim(bottom=0)
    a2.grid(alpha=0.3)
    a2.legend(fontsize=7)
    a2.set_xlabel(keys[0])
    a2.set_title(
        "The model's own fit: high here means the model does not explain the data", fontsize=9
    )
    fig.tight_layout()
    return _save(plt, fig, out_png)


def agc(section: np.ndarray, window: int) -> np.ndarray:
    """Running RMS along the last axis over ``window`` samples (at least 1e-12 of the
    largest), the gain a section is divided by."""
    k = np.ones(max(1, window)) / max(1, window)
    p = np.apply_along_axis(lambda s: np.convolve(s * s, k, mode="same"), -1, section)
    r = np.sqrt(p)
    return np.maximum(r, 1e-12 * max(float(r.max()), 1e-30))


def plot_residual_section(
    key: np.ndarray,
    baseline: np.ndarray,
    residual: np.ndarray,
    time_ms: np.ndarray,
    out_png: PathLike,
    *,
    key_name: str,
    plane: str,
    gain_ms: float = 200.0,
) -> Path:
    """Baseline and residual (virtual - baseline) sections ``(D, T)`` across datapoints,
    both divided by the baseline's running RMS (AGC of ``gain_ms``), the residual on a
    symmetric colour scale whose bar says which sign is which."""
    plt = _plt()
    order = np.argsort(key)
    dt = float(time_ms[1] - time_ms[0]) if len(time_ms) > 1 else 1.0
    gain = agc(baseline[order], int(round(gain_ms / dt)))
    base, res = baseline[order] / gain, residual[order] / gain
    k = np.asarray(key)[order]
    dk = (k[-1] - k[0]) / max(len(k) - 1, 1) if len(k) > 1 else 1.0
    extent = (k[0] - dk / 2, k[-1] + dk / 2, time_ms[-1], time_ms[0])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.8), dpi=130, sharey=True)
    cb = float(np.nanpercentile(np.abs(base), 99)) or 1.0
    im1 = a1.imshow(base.T, aspect="auto", cmap="gray_r", vmin=-cb, vmax=cb, extent=extent)
    fig.colorbar(im1, ax=a1, label="baseline / its AGC")
    a1.set_title(f"baseline, {plane}", fontsize=9)
    cr = float(np.nanpercentile(np.abs(res), 99)) or 1.0
    im2 = a2.imshow(res.T, aspect="auto", cmap="RdBu_r", vmin=-cr, vmax=cr, extent=extent)
    bar = fig.colorbar(im2, ax=a2)
    bar.set_label("residual / baseline AGC\n+ (red): virtual above baseline, - (blue): below")
    a2.set_title(f"residual (virtual - baseline), {plane}, gained by the baseline", fontsize=9)
    for ax in (a1, a2):
        ax.set_xlabel(key_name)
    a1.set_ylabel("two-way time (ms)")
    fig.tight_layout()
    return _save(plt, fig, out_png)


def plot_shift_strain(
    key: np.ndarray,
    centre_ms: np.ndarray,
    shift_ms: np.ndarray,
    coef: np.ndarray,
    out_png: PathLike,
    *,
    key_name: str,
    threshold: float,
) -> Path:
    """Time shift (ms, virtual against baseline) and time strain (d shift / d t, in
    parts per thousand) per datapoint ``(D, W)`` against two-way time; windows whose
    correlation coefficient is below ``threshold`` are blank."""
    plt = _plt()
    order = np.argsort(key)
    k = np.asarray(key)[order]
    shift = np.where(coef >= threshold, shift_ms, np.nan)[order]
    strain = np.full_like(shift, np.nan)
    if shift.shape[1] > 1:
        strain = 1000.0 * np.gradient(shift, centre_ms, axis=1)
    dk = (k[-1] - k[0]) / max(len(k) - 1, 1) if len(k) > 1 else 1.0
    dc = (centre_ms[-1] - centre_ms[0]) / max(len(centre_ms) - 1, 1) if len(centre_ms) > 1 else 1.0
    extent = (k[0] - dk / 2, k[-1] + dk / 2, centre_ms[-1] + dc / 2, centre_ms[0] - dc / 2)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.8), dpi=130, sharey=True)
    s = float(np.nanmax(np.abs(shift))) if np.isfinite(shift).any() else 1.0
    im1 = a1.imshow(shift.T, aspect="auto", cmap="RdBu_r", vmin=-s, vmax=s, extent=extent)
    fig.colorbar(im1, ax=a1, label="time shift (ms), + : virtual later")
    a1.set_title(f"time shift (blank: correlation < {threshold:g})", fontsize=9)
    e = float(np.nanmax(np.abs(strain))) if np.isfinite(strain).any() else 1.0
    im2 = a2.imshow(strain.T, aspect="auto", cmap="PuOr_r", vmin=-e, vmax=e, extent=extent)
    fig.colorbar(im2, ax=a2, label="time strain (ms / s), + : slowing down")
    a2.set_title("time strain d(shift)/d(twt)", fontsize=9)
    for ax in (a1, a2):
        ax.set_xlabel(key_name)
    a1.set_ylabel("two-way time (ms)")
    fig.tight_layout()
    return _save(plt, fig, out_png)
