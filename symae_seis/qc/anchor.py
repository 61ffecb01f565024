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

and on the windows before they are stacked (:mod:`symae_seis.qc.stacking`):

* the stacking (``stacking``, ``keep``): the mean, selective stacking (the fraction
  ``keep`` of a day's windows most like the record's mean) or the robust stack;
* amplitude-based rejection (``reject_rms``): a station's window left out when its RMS
  exceeds that many times its median.

:func:`choose_anchor` scores every combination of a grid of stack-level options against
the truth of one noise field; :func:`choose_window_options` then scores the window-level
options with the best of them (a search one group of options at a time: the full product
would cost 12 times as many stretchings). That field is then never used for scores.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from .dvv import DvvError, daily_dvv
from .stacking import STACKINGS, pair_live, record_mean, stack_windows

__all__ = [
    "AnchorSettings",
    "ANCHOR_GRID",
    "svd_denoise",
    "WINDOW_GRID",
    "anchor_dvv",
    "window_stacks",
    "choose_anchor",
    "choose_window_options",
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
    stacking: str = "mean"
    keep: float = 0.5
    reject_rms: float | None = None

    def __post_init__(self):
        if self.reference not in ("others", "pairs", "mean"):
            raise DvvError(f"reference must be 'others', 'pairs' or 'mean', got {self.reference!r}")
        if self.sides not in ("both", "separate"):
            raise DvvError(f"sides must be 'both' or 'separate', got {self.sides!r}")
        if self.svd_rank is not None and self.svd_rank < 1:
            raise DvvError(f"svd_rank must be None or >= 1, got {self.svd_rank}")
        if self.stacking not in STACKINGS:
            raise DvvError(f"stacking must be one of {STACKINGS}, got {self.stacking!r}")
        if not 0 < self.keep <= 1:
            raise DvvError(f"keep must be in (0, 1], got {self.keep!r}")
        if self.reject_rms is not None and not self.reject_rms > 1:
            raise DvvError(f"reject_rms must be None or above 1, got {self.reject_rms!r}")

    @property
    def on_windows(self) -> bool:
        """Whether an option acts on the windows before stacking."""
        return self.stacking != "mean" or self.reject_rms is not None

    def label(self) -> str:
        return (
            f"coda {self.coda_s[0]:g}-{self.coda_s[1]:g} s, {self.reference}"
            + ("" if self.svd_rank is None else f", SVD rank {self.svd_rank}")
            + (", sides apart" if self.sides == "separate" else "")
            + {
                "mean": "",
                "selective": f", selective stacking (keep {self.keep:g})",
                "robust": ", robust stacking",
            }[self.stacking]
            + ("" if self.reject_rms is None else f", reject RMS > {self.reject_rms:g}x median")
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


#: The window-level combinations :func:`choose_window_options` tries by default.
WINDOW_GRID = tuple(
    (stacking, keep, reject)
    for stacking, keep in (("mean", 0.5), ("selective", 0.5), ("selective", 0.75), ("robust", 0.5))
    for reject in (None, 2.0, 4.0)
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


def window_stacks(days, settings: AnchorSettings, live=None) -> np.ndarray:
    """Daily stacks ``(D, pairs, lags)`` from each day's windows ``(W, pairs, lags)``
    (``days``, a sequence) with ``settings``' stacking; ``live`` (per day ``(W, pairs)``;
    all live by default) is where each pair recorded, after any rejection (amplitudes are
    not in the windows: the caller applies ``reject_rms``, e.g. with
    :func:`symae_seis.qc.stacking.pair_live`)."""
    live = [np.ones(np.shape(x)[:2], bool) for x in days] if live is None else list(live)
    ref = record_mean(zip(days, live)) if settings.stacking == "selective" else None
    return np.stack(
        [
            stack_windows(x, lv, settings.stacking, keep=settings.keep, reference=ref)
            for x, lv in zip(days, live)
        ]
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


def choose_window_options(
    days,
    rms: np.ndarray,
    pairs: np.ndarray,
    lags_s: np.ndarray,
    truth: np.ndarray,
    base: AnchorSettings,
    band_hz: tuple[float, float] | None = None,
    grid=WINDOW_GRID,
) -> list[tuple[AnchorSettings, float]]:
    """``base`` (the best stack-level settings) with every ``(stacking, keep, reject_rms)``
    of ``grid``, scored as :func:`choose_anchor` does, best first. ``days``: each day's
    windows ``(W, pairs, lags)``; ``rms``: the stations' window RMS ``(D, W, stations)``;
    ``pairs``: the stations of each pair."""
    scored = []
    for stacking, keep, reject in grid:
        s = replace(base, stacking=stacking, keep=keep, reject_rms=reject)
        stacks = window_stacks(days, s, pair_live(rms, pairs, reject))
        scored.append((s, dvv_rms_error(anchor_dvv(stacks, lags_s, s, band_hz), truth)))
    return sorted(scored, key=lambda t: t[1])
