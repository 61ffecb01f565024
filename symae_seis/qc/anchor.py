"""The conventional dv/v anchor's options on daily stacks, and their choice on a held-out
noise field (issue 30 item 2).

What a monitoring seismologist tries on the day x lag matrix of each station pair before
stretching (:func:`symae_seis.qc.dvv.daily_dvv`), each an :class:`AnchorSettings` field:

* the coda window (``coda_s``): a later start leaves out the ballistic part, where sources
  that change bias the timing most (Froment et al. 2010);
* the reference (``reference``): the days a stack does not contain, or none (the all-pairs
  inversion of Brenguier et al. 2014);
* SVD denoising (``svd_rank``): each pair's day x lag matrix kept to its first singular
  components (after Moreau et al. 2017), which holds what all days share and drops what
  one day alone has;
* the sides (``sides``): the whole lag axis, or the causal and acausal sides stretched
  apart and their dv/v averaged (a source on one side of a pair biases one side).

:func:`choose_anchor` scores every combination of a grid against the truth of one noise
field; that field is then never used for scores.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .dvv import DvvError, daily_dvv

__all__ = [
    "AnchorSettings",
    "ANCHOR_GRID",
    "svd_denoise",
    "anchor_dvv",
    "choose_anchor",
    "dvv_rms_error",
    "dvv_fit",
]


@dataclass(frozen=True)
class AnchorSettings:
    """One combination of the anchor's options (module docstring); the defaults are the
    passive benchmark's anchor."""

    coda_s: tuple[float, float] = (2.0, 12.0)
    reference: str = "others"
    svd_rank: int | None = None
    sides: str = "both"

    def __post_init__(self):
        if self.reference not in ("others", "pairs", "mean"):
            raise DvvError(f"reference must be 'others', 'pairs' or 'mean', got {self.reference!r}")
        if self.sides not in ("both", "separate"):
            raise DvvError(f"sides must be 'both' or 'separate', got {self.sides!r}")
        if self.svd_rank is not None and self.svd_rank < 1:
            raise DvvError(f"svd_rank must be None or >= 1, got {self.svd_rank}")

    def label(self) -> str:
        return (
            f"coda {self.coda_s[0]:g}-{self.coda_s[1]:g} s, {self.reference}"
            + ("" if self.svd_rank is None else f", SVD rank {self.svd_rank}")
            + (", sides apart" if self.sides == "separate" else "")
        )


#: The combinations :func:`choose_anchor` tries by default.
ANCHOR_GRID = tuple(
    AnchorSettings(coda, ref, rank, sides)
    for coda, ref, rank, sides in itertools.product(
        ((2.0, 12.0), (2.0, 6.0), (4.0, 12.0)),
        ("others", "pairs"),
        (None, 3),
        ("both", "separate"),
    )
)


def svd_denoise(stacks: np.ndarray, rank: int) -> np.ndarray:
    """Daily stacks ``(D, pairs, lags)`` with each pair's day x lag matrix kept to its
    first ``rank`` singular components."""
    out = np.empty_like(stacks, dtype=np.float64)
    for k in range(stacks.shape[1]):
        u, s, vt = np.linalg.svd(stacks[:, k].astype(np.float64), full_matrices=False)
        r = min(rank, s.size)
        out[:, k] = (u[:, :r] * s[:r]) @ vt[:r]
    return out


def anchor_dvv(
    stacks: np.ndarray,
    lags_s: np.ndarray,
    settings: AnchorSettings = AnchorSettings(),
    band_hz: tuple[float, float] | None = None,
) -> np.ndarray:
    """dv/v of every day from daily stacks ``(D, pairs, lags)`` with the anchor's
    ``settings`` (relative: compare after removing the mean)."""
    s = settings
    cur = stacks if s.svd_rank is None else svd_denoise(stacks, s.svd_rank)
    if s.sides == "both":
        return daily_dvv(cur, lags_s, coda_s=s.coda_s, reference=s.reference, band_hz=band_hz)[
            "dvv"
        ]
    sides = [np.where(lags_s > 0, cur, 0.0), np.where(lags_s < 0, cur, 0.0)]
    return np.mean(
        [
            daily_dvv(side, lags_s, coda_s=s.coda_s, reference=s.reference, band_hz=band_hz)["dvv"]
            for side in sides
        ],
        axis=0,
    )


def dvv_rms_error(est: np.ndarray, truth: np.ndarray) -> float:
    """RMS error of a dv/v curve against the truth, each without its mean (stretching
    measures dv/v up to a constant)."""
    return float(np.sqrt(np.mean((est - est.mean() - truth + truth.mean()) ** 2)))


def dvv_fit(est: np.ndarray, truth: np.ndarray) -> dict[str, float | int]:
    """A dv/v curve against the truth, each without its mean: ``rms`` (:func:`dvv_rms_error`),
    ``slope`` (the least-squares gain of ``est`` on ``truth``; 1 is unbiased, below 1 a
    curve shrunk towards 0), ``residual`` (RMS of ``est`` after that linear fit: the scatter
    no gain explains) and ``drop_at`` (index of the largest fall, ``argmin(diff) + 1``; a
    step's place). ``slope`` and ``residual`` are NaN when the truth does not vary."""
    e = np.asarray(est, dtype=np.float64) - np.mean(est)
    t = np.asarray(truth, dtype=np.float64) - np.mean(truth)
    var = float(t @ t)
    gain = float(e @ t) / var if var > 0 else float("nan")
    resid = float(np.sqrt(np.mean((e - gain * t) ** 2))) if var > 0 else float("nan")
    return {
        "rms": dvv_rms_error(est, truth),
        "slope": gain,
        "residual": resid,
        "drop_at": int(np.argmin(np.diff(est))) + 1 if len(est) > 1 else 0,
    }


def choose_anchor(
    stacks: np.ndarray,
    lags_s: np.ndarray,
    truth: np.ndarray,
    band_hz: tuple[float, float] | None = None,
    grid: tuple[AnchorSettings, ...] = ANCHOR_GRID,
) -> list[tuple[AnchorSettings, float]]:
    """Every combination of ``grid`` with its 1-day dv/v RMS error against ``truth`` on
    these stacks (one held-out noise field), best first."""
    scored = [(s, dvv_rms_error(anchor_dvv(stacks, lags_s, s, band_hz), truth)) for s in grid]
    return sorted(scored, key=lambda t: t[1])
