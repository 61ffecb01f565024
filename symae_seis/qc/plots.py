"""QC figures: gathers (variable density or wiggle), real | virtual | residual panels,
NRMS along the datapoint key. Every function draws with matplotlib's Agg backend and
returns the PNG path it wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from ..typing import PathLike

__all__ = [
    "plot_gather",
    "plot_redatum_panels",
    "plot_nrms_along_key",
    "plot_nrms_map",
    "plot_uncertainty",
]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, out_png: PathLike, **kw) -> Path:
    """Write ``fig`` to ``out_png`` atomically (a temporary renamed into place), close it,
    return the path."""
    from ..io.atomic import atomic_path

    out_png = Path(out_png)
    try:
        with atomic_path(out_png, overwrite=True) as tmp, open(tmp, "wb") as fh:
            fig.savefig(fh, format=out_png.suffix.lstrip(".") or "png", **kw)
    finally:
        plt.close(fig)
    return out_png


def plot_gather(
    ax,
    data: np.ndarray,
    time_ms: np.ndarray,
    x: np.ndarray | None = None,
    *,
    kind: Literal["density", "wiggle"] = "density",
    clip: float | None = None,
    title: str = "",
    xlabel: str = "channel",
):
    """Draw one gather ``(C, T)`` on ``ax``: time down, channels across.

    ``density``: grey variable density, symmetric ``clip`` (default: 99th percentile of
    |data|). ``wiggle``: traces scaled to the channel spacing, positive lobes filled.
    Returns the image (density) or None.
    """
    data = np.asarray(data, dtype=np.float64)
    c = data.shape[0]
    x = np.arange(c) if x is None else np.asarray(x, dtype=np.float64)
    clip = float(np.percentile(np.abs(data), 99)) if clip is None else clip
    clip = clip or 1.0
    im = None
    if kind == "density":
        dx = (x[-1] - x[0]) / max(c - 1, 1) if c > 1 else 1.0
        extent = (x[0] - dx / 2, x[-1] + dx / 2, time_ms[-1], time_ms[0])
        im = ax.imshow(
            data.T,
            aspect="auto",
            cmap="gray_r",
            vmin=-clip,
            vmax=clip,
            extent=extent,
            interpolation="bilinear",
        )
    else:
        spacing = np.median(np.diff(x)) if c > 1 else 1.0
        for k in range(c):
            tr = np.clip(data[k] / clip, -1.5, 1.5) * spacing * 0.6 + x[k]
            ax.plot(tr, time_ms, color="k", lw=0.5)
            ax.fill_betweenx(time_ms, x[k], tr, where=tr > x[k], color="k", lw=0)
        ax.set_ylim(time_ms[-1], time_ms[0])
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("time (ms)")
    return im


def plot_redatum_panels(
    panels: dict[str, np.ndarray],
    time_ms: np.ndarray,
    out_png: PathLike,
    *,
    x: np.ndarray | None = None,
    title: str = "",
    kind: Literal["density", "wiggle"] = "density",
    xlabel: str = "channel",
) -> Path:
    """Side-by-side gathers (e.g. real | virtual | residual) on one shared colour scale
    (99th percentile of |first panel|), so residual amplitudes read directly."""
    plt = _plt()
    names = list(panels)
    clip = float(np.percentile(np.abs(panels[names[0]]), 99)) or 1.0
    fig, axes = plt.subplots(
        1, len(names), figsize=(3.2 * len(names), 4.6), dpi=130, sharey=True, squeeze=False
    )
    im = None
    for ax, name in zip(axes[0], names):
        im = (
            plot_gather(
                ax, panels[name], time_ms, x, kind=kind, clip=clip, title=name, xlabel=xlabel
            )
            or im
        )
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    if im is not None:
        fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="amplitude (shared scale)")
    fig.suptitle(title, fontsize=10)
    return _save(plt, fig, out_png, bbox_inches="tight")


def plot_nrms_along_key(
    key: np.ndarray,
    series: dict[str, np.ndarray],
    out_png: PathLike,
    *,
    key_name: str = "CDP",
    shade: np.ndarray | None = None,
    title: str = "NRMS along the line",
) -> Path:
    """NRMS (%) curves against a 1-D datapoint key; ``shade`` marks e.g. the changed zone."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=130)
    order = np.argsort(key)
    for name, values in series.items():
        ax.plot(np.asarray(key)[order], np.asarray(values)[order], marker="o", ms=3, label=name)
    if shade is not None and np.any(shade):
        k = np.asarray(key)[order]
        s = np.asarray(shade)[order]
        ax.fill_between(
            k,
            0,
            1,
            where=s,
            color="C3",
            alpha=0.1,
            transform=ax.get_xaxis_transform(),
            label="changed zone",
        )
    ax.set_xlabel(key_name)
    ax.set_ylabel("NRMS (%)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(plt, fig, out_png)


def plot_nrms_map(
    x: np.ndarray,
    y: np.ndarray,
    values: np.ndarray,
    out_png: PathLike,
    *,
    labels: tuple[str, str] = ("x", "y"),
    title: str = "NRMS (%)",
) -> Path:
    """NRMS map for a 2-D datapoint key (e.g. binned SourceX/SourceY)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=130)
    sc = ax.scatter(x, y, c=values, cmap="viridis", s=40, vmin=0)
    fig.colorbar(sc, ax=ax, label="NRMS (%)")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal", adjustable="datalim")
    fig.tight_layout()
    return _save(plt, fig, out_png)


def plot_uncertainty(
    residual: np.ndarray,
    std: np.ndarray,
    time_ms: np.ndarray,
    out_png: PathLike,
    *,
    title: str = "",
) -> Path:
    """Residual (virtual - recorded), the bootstrap standard deviation of the virtual
    gather, and their ratio: where ``|residual| / std`` exceeds 2-3 the difference stands
    out from the model's own doubt (a 4D change), where it stays near 1 it does not."""
    plt = _plt()
    z = residual / np.maximum(std, 1e-12 * max(float(np.abs(std).max()), 1e-30))
    clip = float(np.percentile(np.abs(residual), 99)) or 1.0
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 4.6), dpi=130, sharey=True)
    ext = (-0.5, residual.shape[0] - 0.5, time_ms[-1], time_ms[0])
    for ax, img, name, vmax, cmap in (
        (axes[0], residual, "residual (virtual - recorded)", clip, "seismic"),
        (axes[1], std, "bootstrap std of the virtual", clip, "viridis"),
        (axes[2], z, "residual / std", 4.0, "seismic"),
    ):
        im = ax.imshow(
            img.T,
            aspect="auto",
            cmap=cmap,
            extent=ext,
            vmin=0 if cmap == "viridis" else -vmax,
            vmax=vmax,
        )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("channel")
        fig.colorbar(im, ax=ax, fraction=0.046)
    axes[0].set_ylabel("time (ms)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(plt, fig, out_png)
