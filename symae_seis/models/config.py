"""One configuration object for the model: every option with its one default and checks.

:class:`SymAEConfig` holds what a user chooses; :meth:`SymAEConfig.resolve` turns it into
the complete, plain-typed description a model is built from and saved with (the
``auto`` options filled in from the gather size and the store's schema). Model files
saved before an option existed are completed with :data:`LEGACY_CONFIG`, the value those
models had.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import OptionError
from .auto import (
    EVAL_POOL,
    FILTER_TERMS,
    FOLD_FROM,
    RIPPLE_FROM,
    SHIFT_FROM,
    channels_are_receivers,
    default_fold,
    default_levels,
    default_min_phase,
)
from .config_checks import (
    DECODERS,
    POOLS,
    check_decoder,
    check_dropout,
    check_pool,
    check_pool_terms,
    check_sizes,
    check_window,
)
from .pooling import default_coherent_pad

__all__ = [
    "SymAEConfig",
    "OPTION_NAMES",
    "channels_are_receivers",
    "with_legacy_defaults",
    "DECODERS",
    "POOLS",
    "FOLD_FROM",
    "SHIFT_FROM",
    "RIPPLE_FROM",
    "FILTER_TERMS",
    "EVAL_POOL",
    "LEGACY_CONFIG",
]

#: Options that models saved before them lack, with the value those models had: the
#: generic decoder (before the filter decoder), the mean pooling without padding or
#: least-squares steps (before the Wiener pooling), no channel shift.
LEGACY_CONFIG = {
    "decoder": "generic",
    "pool": "mean",
    "coherent_pad": 0,
    "pool_iters": 0,
    "filter_shift": False,
    "time_fold": 1,
    "trace_terms": False,
    "time_terms": True,
    "nuisance_window": None,
    "nuisance_split": False,
    "min_phase": False,
    "geometry_terms": False,
    "coherent_terms": 0,
    "robust": False,
    "warp_terms": False,
}


def with_legacy_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """A saved model's config completed with :data:`LEGACY_CONFIG` where it lacks a key;
    models saved before ``eval_pool_*`` pool in evaluation as in training."""
    out = {**LEGACY_CONFIG, **config}
    out.setdefault("eval_pool_iters", out["pool_iters"])
    out.setdefault("eval_pool_eps", out.get("pool_eps", 1e-3))
    return out


@dataclass(frozen=True)
class SymAEConfig:
    """Every option of :class:`~symae_seis.models.SymAE`, each with its one default.

    ``None`` means *auto*: the value follows from the gather size and the store's schema
    when the model is built (:meth:`resolve`). The gather size ``(channels, samples)``,
    the data scale and the schema come from the data, not from here.

    Parameters
    ----------
    decoder
        ``"filter"`` (default for seismic gathers): the coherent representation of a
        datapoint is a gather, and each instance's nuisance code sets the parameters of a
        physical filter (wavelet spectrum, phase, statics, gains) applied to it; nothing
        but those few parameters passes from an instance to its reconstruction, which
        keeps the earth out of the nuisance code. ``"generic"`` (the authors' recipe): a
        learned decoder of ``(coherent code, nuisance code)``, for nuisances outside that
        family (additive noise, illumination).
    coherent_dim
        Size of the coherent code (generic decoder only; the filter decoder's coherent
        part is a gather).
    nuisance_dim
        Size of the nuisance code per instance (8-16 suits the filter decoder).
    width
        Convolution channels of the encoders' first level (doubling up to 4x).
    levels
        Down-sampling levels of the encoders. Auto: until time is at most 16 samples, at
        most 7.
    hidden
        Width of the MLPs (nuisance head, filter parameters).
    nuisance_dropout
        Gaussian-dropout rate on the nuisance code during training (0 disables). Auto:
        0.4 for the generic decoder, 0 for the filter decoder, whose structure is its
        bottleneck.
    filter_terms
        Cosine terms of the filter decoder's log-amplitude spectrum (a cepstrum: term k
        is quefrency k samples of the record's sample interval). Auto: 6, or 96 (at most
        the record's samples) with the minimum-phase terms (:data:`FILTER_TERMS`).
    min_phase
        Give the filter the phase of the minimum-phase filter of its log-amplitude, so that
        a source signature's echoes (a bubble train, a ghost) vary from shot to shot as a
        causal filter (with about 96 terms: quefrencies past twice a bubble period). It
        costs conv4d, which has no bubble, 1.4 NRMS points. Auto
        (:func:`~symae_seis.models.auto.default_min_phase`): on where the store's
        signatures ripple (the schema's ``signature_ripple`` at least
        :data:`RIPPLE_FROM`) with the filter decoder and time terms
        (``docs/decisions/far-offsets.md``). Minimum-phase wavelets whose frequency
        changes need it too (with 6 terms: zoo0 and zoo3 0.98 and 1.04x the best
        conventional method outside the zone without, 0.62 and 0.57x with); no store
        measure tells them apart yet. Needs ``time_terms``.
    pool
        How the filter decoder pools a bag into its coherent gather: ``"wiener"`` (least
        squares over the bag's filters, damped by ``pool_eps``) or ``"mean"`` (mean of the
        inversely filtered instances, the older models').
    pool_eps
        Damping of the Wiener pooling, relative to the bag's mean filter power.
    pool_iters
        Preconditioned least-squares steps after the Wiener estimate in training (the
        record's end, dead traces).
    eval_pool_iters
        Conjugate-gradient steps of the pooling in evaluation (redatuming, QC; validation
        keeps the training's). Auto: 40 (:data:`EVAL_POOL`) without the channel shift,
        ``pool_iters`` with it: a redatuming run pools each datapoint once and can
        converge (conv4d 2.5 / 3.3 % -> 2.1 / 2.7 % NRMS outside / inside the changed
        zone), while with the channel shift a datapoint's channels form one coupled system
        that 40 steps do not bring to convergence.
    eval_pool_eps
        Damping of the pooling in evaluation. Auto: 1e-4 (:data:`EVAL_POOL`) without the
        channel shift, ``pool_eps`` with it.
    coherent_pad
        Samples of the coherent gather below the record (events below the record whose
        wavelets reach into it). Auto: an eighth of the record (at least 8, raised to a
        fast FFT length) for the Wiener pooling, else 0.
    filter_shift
        A per-instance channel shift in the filter family (a moved source samples the
        earth at moved offsets). Auto: on with the filter decoder and Wiener pooling when
        the schema's ``source_move`` (how far sources move between a datapoint's
        instances, in receiver intervals) is at least :data:`SHIFT_FROM`. About 60 % more
        per training step.
    time_fold
        Consecutive samples folded into input channels before the encoders' first level
        (lossless). Auto: 2 for traces of :data:`FOLD_FROM` samples or more, else 1.
    trace_terms
        A free static and gain per trace in the filter family (a source that moves near
        the first receivers). Auto: on with the filter decoder for gathers whose channels
        are receivers keyed by a trace header (SEG-Y, SU), off for miniSEED stores
        (station pairs have no acquisition of their own per window; passive dv/v 1.53e-3
        with them against 1.28e-3 without).
    time_terms
        Keep the filter family's terms that move or rotate a record in time (phase, bulk
        static, statics along the gather, per-trace statics). Auto: on for SEG-Y/SU
        gathers, off for miniSEED stores, whose lag axis the clocks set (free statics
        trade against the stretch that dv/v measures: 1.05e-3 without against 1.28e-3).
    nuisance_window
        ``(start, stop)`` samples: the nuisance encoder sees only this part of the record
        (tapered at its inner edges); None (default) the whole record. Training sets it
        from the design window with ``SymAELit(nuisance_view="design")``.
    geometry_terms
        Use each shot's known position in its datapoint (datapoints binned by source
        position: the catalog's ``datapoint_bin: {SourceX: size}``): the coherent part is
        two gathers, the earth at the bin's centre and its rate of change with the
        shot's position, and a shot sees ``G_0 + d G_1`` through its filter, ``d`` its
        position from the bin's centre in half-bins, read from its headers (not a
        nuisance to learn). Redatuming places the monitor earth where the baseline shot
        was fired. Off by default: on marine4d it rebuilt the recorded shots better (38 ->
        24 % NRMS) but its virtual gathers were further from the truth (72 -> 83 %
        outside the zone): the position term fits swell noise too
        (``docs/decisions/field-geometry.md``).
    coherent_terms
        Learned coordinates per instance along as many extra coherent gathers: a shot
        sees ``G_0 + sum_k a_k G_k`` through its filter, ``a`` from its nuisance code (a
        first-order expansion of the earth's response in a nuisance no filter
        expresses: a water-velocity change moves each event by its own water path).
    warp_terms
        A time warp per shot along one learned field of the survey: a shot's events move
        by ``e W(c, t)``, ``e`` from its nuisance code (a water-velocity change moves each
        event by its own water path; :mod:`symae_seis.models.warp`). Off: on the zoo's
        12 draws it fixed the Ricker water-statics draw (zoo7 0.84 -> 0.26x the best
        conventional method outside the zone) but broke a ghosted one (zoo1 0.52 ->
        1.49x) and cost conv4d 0.3 NRMS points (``docs/decisions/far-offsets.md``).
    robust
        Noise bursts on a few channels of a shot (swell) do not bend the fit: the pooling
        is done again with each trace weighted down by its misfit against the bag's
        median at that channel (Cauchy), and the training's misfits weigh traces alike.
    nuisance_split
        With a ``nuisance_window``: two nuisance encoders, one of the whole record (the
        spectrum, phase, bulk static, gain and their quadratics), one of the window (the
        per-trace statics and gains); the code is the two end to end. Needs
        ``trace_terms``.

    Examples
    --------
    >>> cfg = SymAEConfig(width=8)
    >>> cfg.resolve(channels=24, samples=128)["levels"]
    3
    """

    decoder: Literal["filter", "generic"] = "filter"
    coherent_dim: int = 32
    nuisance_dim: int = 16
    width: int = 16
    levels: int | None = None
    hidden: int = 128
    nuisance_dropout: float | None = None
    filter_terms: int | None = None
    pool: Literal["wiener", "mean"] = "wiener"
    pool_eps: float = 1e-3
    pool_iters: int = 5
    eval_pool_iters: int | None = None
    eval_pool_eps: float | None = None
    coherent_pad: int | None = None
    filter_shift: bool | None = None
    time_fold: int | None = None
    trace_terms: bool | None = None
    time_terms: bool | None = None
    nuisance_window: tuple[int, int] | None = None
    nuisance_split: bool = False
    min_phase: bool | None = None
    geometry_terms: bool = False
    coherent_terms: int = 0
    robust: bool = False
    warp_terms: bool = False

    def __post_init__(self) -> None:
        for check in (check_decoder, check_pool, check_dropout, check_sizes):
            check(self)

    def replace(self, **changes: Any) -> SymAEConfig:
        """A copy with ``changes`` (unknown names are an :class:`OptionError`)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise OptionError(
                f"unknown model option(s) {unknown}; the options are "
                f"{[f.name for f in dataclasses.fields(self)]}"
            )
        return dataclasses.replace(self, **changes)

    def resolve(
        self,
        channels: int,
        samples: int,
        *,
        scale: float = 1.0,
        schema: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The complete model description for gathers ``(channels, samples)`` of a store
        with ``schema``: every auto option filled in, plain types (what a model file
        saves).

        Raises
        ------
        OptionError
            If an option does not fit the gathers or the other options.
        """
        if channels < 1 or samples < 4:
            raise OptionError(
                f"gathers must have >= 1 channel and >= 4 samples, got ({channels}, {samples})"
            )
        if not scale > 0 or not math.isfinite(scale):
            raise OptionError(f"scale must be a positive number, got {scale}")
        filt, wiener = self.decoder == "filter", self.pool == "wiener"
        pad = self.coherent_pad
        if pad is None:
            pad = default_coherent_pad(samples) if filt and wiener else 0
        if pad < 0 or (pad and not wiener):
            raise OptionError(f"coherent_pad must be >= 0 (and 0 unless pool='wiener'), got {pad}")
        receivers = channels_are_receivers(schema)
        trace = filt and receivers if self.trace_terms is None else self.trace_terms
        if trace and not filt:
            raise OptionError("trace_terms needs decoder='filter'")
        time_terms = (not filt or receivers) if self.time_terms is None else self.time_terms
        if not time_terms and not filt:
            raise OptionError("time_terms=False needs decoder='filter'")
        shift = self.filter_shift
        if shift is None:
            shift = filt and wiener and float((schema or {}).get("source_move", 0.0)) >= SHIFT_FROM
        if shift and not (filt and wiener):
            raise OptionError("filter_shift needs decoder='filter' and pool='wiener'")
        dropout = self.nuisance_dropout
        if dropout is None:
            dropout = 0.0 if filt else 0.4
        converge = filt and wiener and not shift
        iters = self.eval_pool_iters
        if iters is None:
            iters = EVAL_POOL[0] if converge else self.pool_iters
        eps = self.eval_pool_eps
        if eps is None:
            eps = EVAL_POOL[1] if converge else self.pool_eps
        window = (
            None if self.nuisance_window is None else check_window(self.nuisance_window, samples)
        )
        min_phase = self.min_phase
        if min_phase is None:
            min_phase = default_min_phase(schema, filt and time_terms)
        if min_phase and not (filt and time_terms):
            raise OptionError("min_phase needs decoder='filter' and time_terms")
        if self.warp_terms and not time_terms:
            raise OptionError("warp_terms needs time_terms")
        geometry = self.geometry_terms
        check_pool_terms(self, filt and wiener, schema)
        terms = self.filter_terms
        if terms is None:
            terms = min(FILTER_TERMS[1], samples) if min_phase else FILTER_TERMS[0]
        if self.nuisance_split and (window is None or not trace):
            raise OptionError("nuisance_split needs a nuisance_window and trace_terms")
        fold = default_fold(samples) if self.time_fold is None else self.time_fold
        if not 1 <= fold <= max(1, samples // 4):
            raise OptionError(f"time_fold must be in [1, samples / 4], got {fold}")
        levels = default_levels(samples, fold) if self.levels is None else self.levels
        return {
            "channels": int(channels),
            "samples": int(samples),
            "coherent_dim": int(self.coherent_dim),
            "nuisance_dim": int(self.nuisance_dim),
            "width": int(self.width),
            "levels": int(levels),
            "hidden": int(self.hidden),
            "nuisance_dropout": float(dropout),
            "scale": float(scale),
            "decoder": self.decoder,
            "filter_terms": int(terms),
            "pool": self.pool,
            "pool_eps": float(self.pool_eps),
            "pool_iters": int(self.pool_iters),
            "eval_pool_iters": int(iters),
            "eval_pool_eps": float(eps),
            "coherent_pad": int(pad),
            "filter_shift": bool(shift),
            "time_fold": int(fold),
            "trace_terms": bool(trace),
            "time_terms": bool(time_terms),
            "nuisance_window": window,
            "nuisance_split": bool(self.nuisance_split),
            "min_phase": bool(min_phase),
            "geometry_terms": bool(geometry),
            "coherent_terms": int(self.coherent_terms),
            "robust": bool(self.robust),
            "warp_terms": bool(self.warp_terms),
        }

    @classmethod
    def from_saved(cls, saved: dict[str, Any]) -> tuple[SymAEConfig, dict[str, Any]]:
        """The config of a saved model description (completed with the legacy defaults)
        and the data part of it (``channels``, ``samples``, ``scale``)."""
        cfg = with_legacy_defaults(saved)
        data = {k: cfg.pop(k) for k in ("channels", "samples", "scale") if k in cfg}
        if cfg.get("nuisance_window") is not None:
            cfg["nuisance_window"] = tuple(cfg["nuisance_window"])
        return cls().replace(**cfg), data


#: Names of every option of :class:`SymAEConfig`.
OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(SymAEConfig))
