"""SymAE: symmetric autoencoder for gathers, as a plain ``torch.nn.Module``.

Input ``x`` is ``(B, I, C, T)``: B datapoints, I instances (gathers) each, C channels,
T samples, in the data's own units. Internally gathers are divided by ``scale`` (the
store's RMS), so codes and the loss live on a unit scale and outputs come back in the
input's units.

* Coherent encoder: a 2-D convolutional trunk over (channel, time) per instance, a
  **mean over the instance axis on the feature maps** (symmetric: any permutation of I
  gives the same code; any I >= 1 works), more convolutions, an MLP -> ``(B, Dc)``.
* Nuisance encoder: its own trunk per instance, an MLP -> ``(B, I, Dn)``. During
  training the code gets multiplicative Gaussian noise (Gaussian dropout of rate ``p``:
  ``z * (1 + sqrt(p / (1 - p)) * N(0, 1))``), the bottleneck that keeps coherent
  information out of it (as in the authors' recipe).
* Decoder, one of two (``decoder=``):

  ``"filter"`` (default for seismic gathers): the nuisance code goes through a small MLP
  to the parameters of a per-instance physical filter (smooth log-amplitude spectrum,
  constant phase, bulk static and gain, per-trace static and gain as quadratics along the
  channel axis; see :mod:`symae_seis.models.filters`). The coherent representation of a
  datapoint is its **coherent gather** ``(B, C, T)``: every instance of the bag is
  equalised by the exact inverse of its own filter, the equalised instances are averaged
  (symmetric pooling over I) and a small convolutional network refines the average
  (zero at initialisation). Decoding applies an instance's filter to a coherent gather by
  zero-padded FFT, so redatuming = the monitor's coherent gather seen through a baseline
  shot's filter. Nothing but the filter's few parameters can pass from an instance to
  its reconstruction, which keeps the earth out of the nuisance code by construction.

  ``"generic"`` (the authors' recipe): ``(Dc + Dn)`` -> MLP -> feature maps -> upsampling
  convolutions -> ``(C, T)`` per instance, for nuisances outside the filter family
  (additive noise, illumination changes). Its coherent code is a vector ``(B, Dc)``.

Why 2-D convolutions over channel x time rather than 1-D over time with channels as
features: reflections are coherent across neighbouring offsets (moveout), so 2-D kernels
share weights along the channel axis and the convolution weights do not grow with C (a
1-D model's first layer has C x width weights per tap and sees no moveout). Gathers of
tens to hundreds of channels and hundreds to thousands of samples are handled by more
down-sampling levels (``levels``); see ``scripts/bench/train.py`` for measured speed.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import OptionError, SymaeError
from . import filters

__all__ = [
    "SymAE",
    "ModelFileError",
    "channels_are_receivers",
    "check_permutation_invariance",
    "check_save_load",
]

_FORMAT = "symae-seis-model"
_FORMAT_VERSION = 1
DECODERS = ("filter", "generic")
#: Traces of at least this many samples are folded by 2 into the encoders (``time_fold``).
FOLD_FROM = 256
POOLS = ("wiener", "mean")


class ModelFileError(SymaeError):
    """A model or checkpoint file is unreadable, truncated or of another model."""


def channels_are_receivers(schema: dict[str, Any] | None) -> bool:
    """Whether a store's channels are receivers of a gather keyed by a trace header (SEG-Y,
    SU: the schema's ``channel_key``), not miniSEED stations or station pairs. Decides the
    defaults that only gathers get: per-trace and time terms here, code fitting at
    redatuming (:func:`symae_seis.redatum.default_refine_steps`). A schema without the
    entry counts as gathers."""
    return bool((schema or {}).get("channel_key", True))


def _block(cin: int, cout: int, stride: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.GroupNorm(1, cout),
        nn.GELU(),
        nn.Conv2d(cout, cout, 3, stride=stride, padding=1),
        nn.GELU(),
    )


def _smooth(n: int) -> bool:
    """Whether ``n`` has no prime factor above 5 (a fast FFT length)."""
    for p in (2, 3, 5):
        while n % p == 0:
            n //= p
    return n == 1


def default_coherent_pad(samples: int) -> int:
    """Samples of the coherent gather below the record (Wiener pooling): at least an
    eighth of the record (and 8), raised until the record plus the pad has no prime
    factor above 5, so the pooling's and the decoder's FFTs (length twice that) are fast
    (375 + 47 = 422 = 2 x 211 ran 3x slower than 432)."""
    pad = max(8, math.ceil(samples / 8))
    while not _smooth(samples + pad):
        pad += 1
    return pad


class _Trunk(nn.Module):
    """Per-instance convolutions that halve time (and channels while > 4) per level.

    With ``fold`` > 1 the trace is first folded: ``fold`` consecutive samples become
    ``fold`` input channels at ``1 / fold`` of the time resolution (a lossless
    rearrangement, unlike a strided convolution: no sample is dropped, nothing aliases),
    so the costliest level, the full-resolution one, runs on ``1 / fold`` of the samples.

    Weights and feature maps are channels-last (NHWC): the oneDNN convolutions of a CPU
    run about 1.7x faster so on these thin, long maps, and GPUs prefer it too."""

    def __init__(self, channels: int, samples: int, width: int, levels: int, fold: int = 1):
        super().__init__()
        self.fold = int(fold)
        blocks, shapes = [], [(channels, samples)]
        cin, c, t = self.fold, channels, -(-samples // self.fold)
        for k in range(levels):
            cout = width * 2 ** min(k, 2)
            stride = (2 if c > 4 else 1, 2 if t > 4 else 1)
            blocks.append(_block(cin, cout, stride))
            c, t = (c + stride[0] - 1) // stride[0], (t + stride[1] - 1) // stride[1]
            shapes.append((c, t))
            cin = cout
        self.blocks = nn.Sequential(*blocks).to(memory_format=torch.channels_last)
        self.out_features = cin
        self.shapes = shapes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.fold
        if f > 1:                                   # (N, 1, C, T) -> (N, f, C, T / f)
            n, _, c, t = x.shape
            x = F.pad(x, (0, -t % f))
            x = x.reshape(n, c, -1, f).permute(0, 3, 1, 2)
        return self.blocks(x.contiguous(memory_format=torch.channels_last))


#: Options that models saved before them lack, with the value those models had: the
#: generic decoder (before the filter decoder), the mean pooling without padding or
#: least-squares steps (before the Wiener pooling), no channel shift.
LEGACY_CONFIG = {"decoder": "generic", "pool": "mean", "coherent_pad": 0, "pool_iters": 0,
                 "filter_shift": False, "time_fold": 1, "trace_terms": False,
                 "time_terms": True, "nuisance_window": None, "nuisance_split": False}


#: Conjugate-gradient steps and damping of the least-squares pooling in evaluation (see
#: ``eval_pool_iters``), where the model has no channel shift.
EVAL_POOL = (40, 1e-4)


#: Sources moving by at least this many receiver intervals between a datapoint's
#: instances turn the channel shift on by default. wave4d's sources (+-10 m against 30 m
#: receivers) move by 0.67 and need it (NRMS 9.9 -> 5.4 % outside the zone); conv4d and
#: deep4d, whose headers jitter by +-5 m without moving the data (0.07-0.09), do not.
SHIFT_FROM = 0.25


def _canonical(x: torch.Tensor, *others: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Bags ``x (B, I, C, T)`` (and tensors ``(B, I, ...)`` that go with them) in a
    canonical order of their instances, by energy. Pooling a bag in that order gives the
    same result bit for bit under any permutation of its instances, however much the
    least-squares pooling's conjugate-gradient steps amplify the round-off of sums over
    I (a random model after 20-40 steps: up to 1e-3 apart otherwise, in float64)."""
    order = torch.argsort(x.detach().float().pow(2).sum(dim=(-2, -1)), dim=1, stable=True)
    return tuple(torch.take_along_dim(v, order.view(*order.shape, *[1] * (v.dim() - 2)),
                                      dim=1) for v in (x, *others))


def _default_fold(samples: int) -> int:
    """Samples folded into channels at the encoders' input (``time_fold``)."""
    return 2 if samples >= FOLD_FROM else 1


def _default_levels(samples: int, fold: int) -> int:
    """Down-sampling levels until time is at most 16 samples (at most 7)."""
    return max(1, min(7, math.ceil(math.log2(max(-(-samples // fold), 32) / 16))))


def _code_head(trunk: _Trunk, hidden: int, out: int) -> nn.Sequential:
    """MLP from a trunk's last feature map to a code of ``out`` numbers."""
    c, t = trunk.shapes[-1]
    return nn.Sequential(nn.Flatten(), nn.Linear(trunk.out_features * c * t, hidden),
                         nn.GELU(), nn.Linear(hidden, out))


#: Samples of the half-cosine ramps at the inner edges of the nuisance window.
TAPER = 8


def _check_window(window, samples: int) -> list[int]:
    try:
        a, b = (int(v) for v in window)
    except (TypeError, ValueError):
        raise OptionError(f"nuisance_window must be [start, stop] samples, got {window!r}") \
            from None
    if not 0 <= a < b <= samples or b - a < 4:
        raise OptionError(f"nuisance_window {[a, b]} must hold at least 4 samples inside "
                          f"the record [0, {samples}]")
    return [a, b]


def window_taper(samples: int, start: int, stop: int) -> torch.Tensor:
    """Weights ``(samples,)``: 1 inside ``[start, stop)``, 0 outside, with half-cosine
    ramps of up to :data:`TAPER` samples inside the window at edges that are not the
    record's own."""
    w = torch.zeros(samples)
    w[start:stop] = 1.0
    n = min(TAPER, (stop - start) // 4)
    ramp = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(n) + 1) / (n + 1))
    if start > 0:
        w[start:start + n] = ramp
    if stop < samples:
        w[stop - n:stop] = ramp.flip(0)
    return w


def with_legacy_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """A saved model's config completed with :data:`LEGACY_CONFIG` where it lacks a key;
    models saved before ``eval_pool_*`` pool in evaluation as in training."""
    out = {**LEGACY_CONFIG, **config}
    out.setdefault("eval_pool_iters", out["pool_iters"])
    out.setdefault("eval_pool_eps", out.get("pool_eps", 1e-3))
    return out


class SymAE(nn.Module):
    """Symmetric autoencoder for seismic gathers.

    Parameters
    ----------
    channels, samples
        Gather size ``(C, T)`` the model is built for.
    coherent_dim
        Size of the coherent code (per datapoint).
    nuisance_dim
        Size of the nuisance code (per instance).
    width
        Convolution channels of the first level (doubling up to 4x).
    levels
        Down-sampling levels (default: until time is at most 16 samples, at most 7).
    trace_terms
        Add a free static and gain per trace to the filter family (see
        :mod:`symae_seis.models.filters`): a source that moves near the first receivers
        changes their statics and amplitudes in ways no smooth function along the gather
        follows. Default: on with the filter decoder, unless the ``schema`` says the
        channels have no trace-header key (miniSEED stores: stations or station pairs of
        cross-correlations, with no acquisition of their own per window; passive dv/v
        1.53e-3 with them against 1.28e-3 without).
    time_terms
        Keep the filter family's terms that move or rotate a record in time (phase
        rotation, bulk static, statics along the gather, per-trace statics). Default: on
        with the filter decoder, unless the ``schema`` says the channels have no
        trace-header key (miniSEED stores): a window's noise sources do not move the lag
        axis of its station-pair cross-correlations, whose zero the clocks set, and free
        statics there trade against the stretch that dv/v measures (passive dv/v error
        1.05e-3 without them against 1.28e-3 with them).
    filter_shift
        Add a per-instance channel shift to the filter family (see
        :mod:`symae_seis.models.filters`): a source moved along the line samples the
        earth at moved offsets, which moves every event by its own slope. Default: on
        with the filter decoder and least-squares pooling when the ``schema``'s
        ``source_move`` (how far sources move between a datapoint's instances, in
        receiver intervals, :meth:`~symae_seis.io.store.StoreReader.source_move`) is at
        least :data:`SHIFT_FROM`. It costs about 60 % more per step (one coupled system
        per datapoint in the pooling).
    eval_pool_iters, eval_pool_eps
        Conjugate-gradient steps and damping of the least-squares pooling in evaluation
        (redatuming, QC; validation keeps the training pooling, :meth:`training_pool`).
        Default: :data:`EVAL_POOL` (40 steps, 1e-4, against 5 and 1e-3 in training)
        without the channel shift, the training values with it.
        Training needs a few cheap steps for its gradient; a redatuming run pools each
        datapoint once and can converge: conv4d 2.5 / 3.3 % -> 2.1 / 2.7 % NRMS outside /
        inside the changed zone, the gathers decoded from two disjoint halves of a bag
        2.6 -> 1.9 % apart, for about 15 % more redatuming time. With the channel shift
        a datapoint's channels form one coupled system that 40 steps do not bring to
        convergence (a random model: outputs 3e-3 apart in float64 when the data are
        scaled by 1000, against 1e-9 after the training's 5 steps), and wave4d has not
        been measured with it. Models saved before pool as they were trained.
    time_fold
        Consecutive samples folded into input channels before the encoders' first level
        (lossless; default 2 for traces of 256 samples or more, else 1): halves the cost
        of the full-resolution level on long traces.
    hidden
        Width of the MLPs.
    nuisance_dropout
        Gaussian-dropout rate on the nuisance code during training (0 disables; default
        0.4 for the generic decoder, 0 for the filter decoder, whose structure is its
        bottleneck).
    decoder
        ``"filter"`` or ``"generic"`` (see the module docstring).
    filter_terms
        Cosine terms of the filter decoder's log-amplitude spectrum.
    scale
        Data scale (RMS of the store); gathers are divided by it inside.
    schema
        Description of the store the model is trained on (saved, checked by redatum).

    nuisance_window
        ``(start, stop)`` samples: the nuisance encoder sees only this part of the record
        (tapered at its inner edges), None (default) the whole record. Training sets it to
        the dataset's no-change design window with ``SymAELit(nuisance_view="design")``:
        the acquisition filter of a shot acts on the whole record, so it can be read where
        the surveys' earths agree, and a code that never sees the changed part cannot know
        which earth it saw. Measured (``scripts/bench/quality.py``, whole record ->
        window): conv4d seed 0 NRMS outside / inside 2.1 / 2.6 -> 2.1 / 1.9 %, 4D error
        0.048 -> 0.030, survey-label probe inside the zone 90 -> 51 %; deep4d 2.7 / 3.1 ->
        2.9 / 2.7 %, 4D 0.091 -> 0.075, survey label 93 -> 52 %; but conv4d seed 1
        2.0 / 2.4 -> 9.6 / 9.7 %: its window holds too little signal to tell a phase
        rotation from a static (their errors correlate at -0.95), hence not the default.
    nuisance_split
        With a ``nuisance_window``: two nuisance encoders, one of the whole record (the
        spectrum, phase, bulk static, gain and their quadratics along the gather), one of
        the window (the per-trace statics and gains, where the survey-label leak of the
        whole-record code sits); the code is their two codes end to end (:attr:`code_dim`).
        conv4d seeds 0 / 1: NRMS outside 2.0 / 1.7 %, every acquisition probe >= 0.94,
        survey label from the filter parameters 67 / 70 % (77 / 75 % with one encoder of
        the whole record); about 15 % more per training step. Needs ``trace_terms``.

    Examples
    --------
    >>> m = SymAE(channels=24, samples=128)
    >>> x = torch.randn(2, 5, 24, 128)
    >>> m(x).shape
    torch.Size([2, 5, 24, 128])
    """

    def __init__(self, channels: int, samples: int, *, coherent_dim: int = 32,
                 nuisance_dim: int = 32, width: int = 32, levels: int | None = None,
                 hidden: int = 256, nuisance_dropout: float | None = None,
                 scale: float = 1.0, schema: dict[str, Any] | None = None,
                 decoder: str = "filter", filter_terms: int = 6, pool: str = "wiener",
                 pool_eps: float = 1e-3, pool_iters: int = 5,
                 coherent_pad: int | None = None, filter_shift: bool | None = None,
                 time_fold: int | None = None, trace_terms: bool | None = None,
                 time_terms: bool | None = None, eval_pool_iters: int | None = None,
                 eval_pool_eps: float | None = None,
                 nuisance_window: tuple[int, int] | None = None,
                 nuisance_split: bool = False):
        super().__init__()
        if decoder not in DECODERS:
            raise OptionError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        if filter_terms < 1:
            raise OptionError(f"filter_terms must be >= 1, got {filter_terms}")
        if pool not in POOLS:
            raise OptionError(f"pool must be one of {POOLS}, got {pool!r}")
        if not 0.0 < pool_eps < 1.0:
            raise OptionError(f"pool_eps must be in (0, 1), got {pool_eps}")
        if pool_iters < 0:
            raise OptionError(f"pool_iters must be >= 0, got {pool_iters}")
        if eval_pool_iters is not None and eval_pool_iters < 0:
            raise OptionError(f"eval_pool_iters must be >= 0 (or null), got {eval_pool_iters}")
        if eval_pool_eps is not None and not 0.0 < eval_pool_eps < 1.0:
            raise OptionError(f"eval_pool_eps must be in (0, 1) (or null), got {eval_pool_eps}")
        if coherent_pad is None:
            coherent_pad = default_coherent_pad(samples) if decoder == "filter" and \
                pool == "wiener" else 0
        if coherent_pad < 0 or (coherent_pad and pool != "wiener"):
            raise OptionError(f"coherent_pad must be >= 0 (and 0 unless pool='wiener'), got "
                              f"{coherent_pad}")
        receivers = channels_are_receivers(schema)
        if trace_terms is None:
            trace_terms = decoder == "filter" and receivers
        if trace_terms and decoder != "filter":
            raise OptionError("trace_terms needs decoder='filter'")
        if time_terms is None:
            time_terms = decoder != "filter" or receivers
        if not time_terms and decoder != "filter":
            raise OptionError("time_terms=False needs decoder='filter'")
        if filter_shift is None:
            filter_shift = decoder == "filter" and pool == "wiener" and \
                float((schema or {}).get("source_move", 0.0)) >= SHIFT_FROM
        if filter_shift and (decoder != "filter" or pool != "wiener"):
            raise OptionError("filter_shift needs decoder='filter' and pool='wiener'")
        if nuisance_dropout is None:
            nuisance_dropout = 0.0 if decoder == "filter" else 0.4
        converge = decoder == "filter" and pool == "wiener" and not filter_shift
        if eval_pool_iters is None:
            eval_pool_iters = EVAL_POOL[0] if converge else pool_iters
        if eval_pool_eps is None:
            eval_pool_eps = EVAL_POOL[1] if converge else pool_eps
        if channels < 1 or samples < 4:
            raise OptionError(f"gathers must have >= 1 channel and >= 4 samples, got "
                             f"({channels}, {samples})")
        if nuisance_window is not None:
            nuisance_window = _check_window(nuisance_window, samples)
        if nuisance_split and (nuisance_window is None or not trace_terms):
            raise OptionError("nuisance_split needs a nuisance_window and trace_terms")
        if not 0.0 <= nuisance_dropout < 1.0:
            raise OptionError(f"nuisance_dropout must be in [0, 1), got {nuisance_dropout}")
        if not scale > 0 or not math.isfinite(scale):
            raise OptionError(f"scale must be a positive number, got {scale}")
        if time_fold is None:
            time_fold = _default_fold(samples)
        if not 1 <= time_fold <= max(1, samples // 4):
            raise OptionError(f"time_fold must be in [1, samples / 4], got {time_fold}")
        if levels is None:
            levels = _default_levels(samples, time_fold)
        self.config = {
            "channels": int(channels), "samples": int(samples),
            "coherent_dim": int(coherent_dim), "nuisance_dim": int(nuisance_dim),
            "width": int(width), "levels": int(levels), "hidden": int(hidden),
            "nuisance_dropout": float(nuisance_dropout), "scale": float(scale),
            "decoder": decoder, "filter_terms": int(filter_terms), "pool": pool,
            "pool_eps": float(pool_eps), "pool_iters": int(pool_iters),
            "eval_pool_iters": int(eval_pool_iters), "eval_pool_eps": float(eval_pool_eps),
            "coherent_pad": int(coherent_pad), "filter_shift": bool(filter_shift),
            "time_fold": int(time_fold), "trace_terms": bool(trace_terms),
            "time_terms": bool(time_terms), "nuisance_window": nuisance_window,
            "nuisance_split": bool(nuisance_split),
        }
        self.schema = dict(schema or {})
        self._training_pool = False            # training_pool(): evaluation as training
        self.register_buffer("scale", torch.tensor(float(scale)))
        if nuisance_window is not None:                 # not saved: follows from config
            self.register_buffer("nuisance_taper", window_taper(samples, *nuisance_window),
                                 persistent=False)
        self.nui_trunk = _Trunk(channels, samples, width, levels, time_fold)
        feat = self.nui_trunk.out_features
        c_out, t_out = self.nui_trunk.shapes[-1]
        flat = feat * c_out * t_out
        self.nui_head = _code_head(self.nui_trunk, hidden, nuisance_dim)
        if nuisance_split:
            n = nuisance_window[1] - nuisance_window[0]
            fold = _default_fold(n)
            self.win_trunk = _Trunk(channels, n, width, _default_levels(n, fold), fold)
            self.win_head = _code_head(self.win_trunk, hidden, nuisance_dim)
        if decoder == "filter":
            self._build_filter(width, hidden, nuisance_dim, filter_terms)
        else:
            self._build_generic(channels, samples, width, levels, hidden, coherent_dim,
                                nuisance_dim, feat, flat, (feat, c_out, t_out))

    def _build_filter(self, width: int, hidden: int, nuisance_dim: int, terms: int) -> None:
        shift = self.config["filter_shift"]
        n_out = filters.n_params(terms, shift, self._trace_channels)
        if self.config["nuisance_split"]:           # per-trace terms from the window's code
            n_out -= 2 * self._trace_channels
            self.trace_head = nn.Sequential(nn.Linear(nuisance_dim, hidden), nn.GELU(),
                                            nn.Linear(hidden, 2 * self._trace_channels))
            nn.init.zeros_(self.trace_head[-1].weight)
            nn.init.zeros_(self.trace_head[-1].bias)
        self.filter_head = nn.Sequential(nn.Linear(nuisance_dim, hidden), nn.GELU(),
                                         nn.Linear(hidden, n_out))
        if shift:
            self.shift_field = nn.Parameter(filters.shift_field(self.config["channels"],
                                                                self._support + 1))
        nn.init.zeros_(self.filter_head[-1].weight)      # identity filters at initialisation
        nn.init.zeros_(self.filter_head[-1].bias)
        if not self.config["time_terms"]:                # not saved: follows from config
            self.register_buffer("time_mask", filters.time_mask(
                terms, shift, self._trace_channels), persistent=False)
        self.refine = nn.Sequential(nn.Conv2d(2, width, 3, padding=1), nn.GELU(),
                                    nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
                                    nn.Conv2d(width, 1, 3, padding=1))
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)

    def _build_generic(self, channels, samples, width, levels, hidden, coherent_dim,
                       nuisance_dim, feat, flat, dec_shape) -> None:
        self.coh_trunk = _Trunk(channels, samples, width, levels,
                                self.config["time_fold"])
        self.coh_post = nn.Sequential(nn.Conv2d(feat, feat, 3, padding=1), nn.GELU())
        self.coh_head = _code_head(self.coh_trunk, hidden, coherent_dim)
        self.dec_in = nn.Sequential(nn.Linear(coherent_dim + nuisance_dim, hidden), nn.GELU(),
                                    nn.Linear(hidden, flat), nn.GELU())
        self._dec_shape = dec_shape
        ups = []
        widths = [width * 2 ** min(k, 2) for k in range(levels)]
        for k in reversed(range(levels)):
            cin = widths[k]
            cout = widths[k - 1] if k > 0 else width
            ups.append(nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(1, cout),
                                     nn.GELU(), nn.Conv2d(cout, cout, 3, padding=1), nn.GELU()))
        self.ups = nn.ModuleList(ups)
        self.out = nn.Conv2d(width, 1, 3, padding=1)

    # ------------------------------------------------------------------ codes
    def _check(self, x: torch.Tensor) -> torch.Tensor:
        c, t = self.config["channels"], self.config["samples"]
        if x.ndim != 4 or x.shape[-2:] != (c, t):
            raise ValueError(f"expected gathers of shape (B, I, {c}, {t}), got "
                             f"{tuple(x.shape)}")
        return x

    @property
    def code_dim(self) -> int:
        """Size of one instance's nuisance code (twice ``nuisance_dim`` when split)."""
        return self.config["nuisance_dim"] * (2 if self.config["nuisance_split"] else 1)

    @property
    def is_filter(self) -> bool:
        return self.config["decoder"] == "filter"

    def encode_nuisance(self, x: torch.Tensor, *, noise: bool = True) -> torch.Tensor:
        """Nuisance code ``(B, I, Dn)`` of each instance; in training the Gaussian
        dropout noise is added unless ``noise`` is false."""
        b, i, c, t = self._check(x).shape
        window = self.config["nuisance_window"]
        if window is not None and not self.config["nuisance_split"]:
            x = x * self.nuisance_taper
        h = self.nui_trunk((x / self.scale).reshape(b * i, 1, c, t))
        z = self.nui_head(h).reshape(b, i, -1)
        if self.config["nuisance_split"]:         # the window's own code, end to end
            a, e = window
            xw = x[..., a:e] * self.nuisance_taper[a:e] / self.scale
            hw = self.win_trunk(xw.reshape(b * i, 1, c, e - a))
            z = torch.cat([z, self.win_head(hw).reshape(b, i, -1)], dim=-1)
        return self._noisy(z) if noise else z

    def _noisy(self, z: torch.Tensor) -> torch.Tensor:
        p = self.config["nuisance_dropout"]
        if self.training and p > 0:
            z = z * (1 + math.sqrt(p / (1 - p)) * torch.randn_like(z))
        return z

    def filter_params(self, nuisance: torch.Tensor) -> torch.Tensor:
        """Filter parameters ``(..., P)`` of nuisance codes ``(..., Dn)`` (filter decoder);
        layout in :mod:`symae_seis.models.filters`.

        Always in full precision, also under bf16 autocast: a static of a few samples
        read to bf16's 3 digits would move the virtual gather by hundredths of a sample
        and the log spectrum by a percent; these MLPs are a negligible share of a step."""
        if not self.is_filter:
            raise ValueError("filter_params needs a model with decoder='filter'")
        if nuisance.dtype not in (torch.float32, torch.float64):
            nuisance = nuisance.float()
        with torch.autocast(nuisance.device.type, enabled=False):
            return self._filter_params(nuisance)

    def _filter_params(self, nuisance: torch.Tensor) -> torch.Tensor:
        if self.config["nuisance_split"]:
            d = self.config["nuisance_dim"]
            g = self.filter_head(nuisance[..., :d])
            at = filters.trace_slice(self.config["filter_terms"], self._trace_channels).start
            theta = torch.cat([g[..., :at], self.trace_head(nuisance[..., d:]), g[..., at:]],
                              dim=-1)
        else:
            theta = self.filter_head(nuisance)
        if not self.config.get("time_terms", True):
            theta = theta * self.time_mask.to(theta.dtype)
        return theta

    def _response(self, nuisance: torch.Tensor, inverse: bool = False,
                  samples: int | None = None) -> torch.Tensor:
        c = self.config["channels"]
        t = self.config["samples"] if samples is None else samples
        return filters.response(self.filter_params(nuisance), c, t,
                                self.config["filter_terms"], inverse=inverse,
                                trace=self.config.get("trace_terms", False))

    @property
    def _trace_channels(self) -> int:
        """Traces with their own static and gain in the filter vector (``trace_terms``)."""
        return self.config["channels"] if self.config.get("trace_terms") else 0

    def trace_params(self, theta: torch.Tensor) -> torch.Tensor | None:
        """Per-trace statics and gains ``(..., 2 C)`` of filter parameters ``theta``
        (``trace_terms``), else None."""
        if not self._trace_channels:
            return None
        return theta[..., filters.trace_slice(self.config["filter_terms"],
                                              self.config["channels"])]

    @property
    def _shift_field(self) -> torch.Tensor | None:
        """Learned phase field of the channel shift (``filter_shift``), else None."""
        return self.shift_field if self.config["filter_shift"] else None

    def _sigma(self, nuisance: torch.Tensor) -> torch.Tensor | None:
        """Channel shift ``(B, I)`` of each instance (``filter_shift``), else None."""
        if not self.config["filter_shift"]:
            return None
        return self.filter_params(nuisance)[..., -1]

    @contextlib.contextmanager
    def training_pool(self):
        """Pool with the training's solver settings in evaluation mode too (validation:
        a cheap monitoring signal on the training loss's footing)."""
        before, self._training_pool = self._training_pool, True
        try:
            yield self
        finally:
            self._training_pool = before

    def _pool_solver(self) -> tuple[int, float]:
        """Conjugate-gradient steps and damping of the least-squares pooling: the training
        values (``pool_iters``, ``pool_eps``) in training, the ``eval_pool_*`` ones in
        evaluation (redatuming, QC) unless inside :meth:`training_pool`."""
        c = self.config
        if not self.training and not self._training_pool:
            return c["eval_pool_iters"], c["eval_pool_eps"]
        return c.get("pool_iters", 0), c["pool_eps"]

    @property
    def _support(self) -> int:
        """Samples of a coherent gather: the record and ``coherent_pad`` after its end
        (events below the record whose wavelets reach into it)."""
        return self.config["samples"] + self.config.get("coherent_pad", 0)

    def _pool(self, x: torch.Tensor, nuisance: torch.Tensor) -> torch.Tensor:
        """Filter decoder: coherent gathers of bags ``x`` whose (noise-free) nuisance
        codes are known: a symmetric estimate over I, then a refinement.

        ``pool="wiener"`` (default): the least-squares gather ``G`` on the record and
        ``coherent_pad`` samples below it, fitting ``crop_T(H_i G) = x_i`` on the live
        traces of every instance. The first estimate is the Wiener solution
        ``G(f) = sum_i conj(H_i) X_i / (sum_i |H_i|^2 + eps)`` (``eps`` = ``pool_eps``
        times the mean of ``sum_i |H_i|^2`` over frequency, trace by trace): each
        instance counts by its own filter's power, so where a wavelet is weak it does not
        come back amplified. ``pool_iters`` preconditioned steps on the residuals inside
        the record then account for the record's end (what a filter shifts or smears
        across it) and for dead traces (all-zero traces are left out of the fit).
        ``pool="mean"``: the mean of the instances equalised by their exact inverse
        filters (models trained before).
        """
        x, nuisance = _canonical(x, nuisance)
        if self.config.get("pool", "mean") == "mean":
            eq = filters.apply(x, self._response(nuisance, inverse=True))   # (B, I, C, T)
            mean = eq.mean(dim=1)                                           # symmetric
            spread = eq.std(dim=1, correction=0) if x.shape[1] > 1 else \
                torch.zeros_like(mean)
        else:
            mean, spread = self._wiener(x if x.dtype == torch.float64 else x.float(),
                                        nuisance)
        feats = torch.stack([mean, spread], dim=1) / self.scale           # (B, 2, C, L)
        return mean + self.refine(feats)[:, 0] * self.scale

    def _wiener(self, x: torch.Tensor, nuisance: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Least-squares coherent gathers ``(B, C, L)`` of bags ``x`` and the RMS misfit
        of the bag's live traces ``(B, C, L)`` (zero below the record): the Wiener
        estimate, then ``pool_iters`` steps of conjugate gradients preconditioned by it on
        the same damped problem (``+ eps ||G||^2``, so a bag of a few instances stays
        stable where every wavelet is weak). Every (datapoint, channel) is its own small
        system, solved in parallel."""
        t, n = x.shape[-1], self._support
        nfft = 2 * n
        h = self._response(nuisance, samples=n)                             # (B, I, C, F)
        live = (x.abs().amax(dim=-1) > 0).to(x.dtype)[..., None]            # (B, I, C, 1)
        den = ((h.real ** 2 + h.imag ** 2) * live).sum(dim=1)               # symmetric in I
        iters, eps = self._pool_solver()
        lam = eps * den.mean(dim=-1, keepdim=True).clamp_min(1e-12)
        inv = 1.0 / (den + lam)

        sigma = self._sigma(nuisance)                                       # once

        def adjoint(r: torch.Tensor) -> torch.Tensor:        # (B, I, C, T) -> (B, C, L)
            spec = h.conj() * torch.fft.rfft(r * live, n=nfft, dim=-1)
            if sigma is not None:                            # the shift's adjoint: -sigma
                spec = filters.shift_spectra(spec, -sigma, self._shift_field)
            return torch.fft.irfft(spec.sum(dim=1), n=nfft, dim=-1)[..., :n]

        def forward(g: torch.Tensor) -> torch.Tensor:        # (B, C, L) -> (B, I, C, T)
            return filters.apply(g[:, None], h, sigma, self._shift_field)[..., :t] * live

        def precond(v: torch.Tensor) -> torch.Tensor:
            return torch.fft.irfft(torch.fft.rfft(v, n=nfft, dim=-1) * inv, n=nfft,
                                   dim=-1)[..., :n]

        def normal(g: torch.Tensor) -> torch.Tensor:         # damped normal operator
            return adjoint(forward(g)) + lam.mean(dim=-1, keepdim=True) * g

        # one system per (datapoint, channel); a channel shift couples the channels: one
        # system per datapoint then
        axes = (-1,) if sigma is None else (-2, -1)

        def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return (a * b).sum(dim=axes, keepdim=True)

        r = adjoint(x)
        g = precond(r)                                       # the Wiener estimate
        r = r - normal(g)
        z = precond(r)
        p, rz = z, dot(r, z)
        def ratio(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            # CG step sizes a / b (0 where b = 0), differentiated through, in float64:
            # the 1 / b^2 of the gradient of a near-dead trace's tiny b stays finite
            ok = b > 0
            q = a.double() / torch.where(ok, b, torch.ones_like(b)).double()
            return torch.where(ok, q, torch.zeros_like(q)).to(a.dtype)

        for _ in range(iters):
            ap = normal(p)
            alpha = ratio(rz, dot(p, ap))
            g = g + alpha * p
            r = r - alpha * ap
            z = precond(r)
            rz_new = dot(r, z)
            p = z + ratio(rz_new, rz) * p
            rz = rz_new
        resid = forward(g) - x * live
        spread = F.pad((resid.pow(2).mean(dim=1) + 1e-20).sqrt(), (0, n - t))  # finite grad at 0
        return g, spread

    def encode(self, x: torch.Tensor, bag: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Coherent part pooled over the first ``bag`` instances (default all) and the
        nuisance codes of every instance, encoding each instance once."""
        k = x.shape[1] if bag is None else int(bag)
        if not self.is_filter:
            return self.encode_coherent(x[:, :k]), self.encode_nuisance(x)
        z = self.encode_nuisance(x, noise=False)
        return self._pool(x[:, :k], z[:, :k]), self._noisy(z)

    def encode_coherent(self, x: torch.Tensor) -> torch.Tensor:
        """Coherent representation of each datapoint, symmetric in the I axis.

        Filter decoder: the coherent gather ``(B, C, T)`` in the data's units (the bag
        equalised instance by instance and averaged, then refined). Generic decoder: the
        coherent code ``(B, Dc)``.
        """
        b, i, c, t = self._check(x).shape
        if self.is_filter:
            (x,) = _canonical(x)          # the codes, too, from one order of the batch
            return self._pool(x, self.encode_nuisance(x, noise=False))
        h = self.coh_trunk((x / self.scale).reshape(b * i, 1, c, t))
        h = h.reshape(b, i, *h.shape[1:]).mean(dim=1)      # symmetric pooling over instances
        return self.coh_head(self.coh_post(h))

    def decode(self, coherent: torch.Tensor, nuisance: torch.Tensor) -> torch.Tensor:
        """Gathers ``(B, I, C, T)`` from coherent representations (``(B, C, T)`` gathers
        for the filter decoder, ``(B, Dc)`` codes for the generic one) and nuisance codes
        ``(B, I, Dn)``.

        Swapping codes here is redatuming: the coherent representation of one datapoint
        with the nuisance codes of another's instances.
        """
        b, i, _ = nuisance.shape
        if coherent.shape[0] != b:
            raise ValueError(f"coherent codes for {coherent.shape[0]} datapoints, nuisance "
                             f"codes for {b}")
        c, t = self.config["channels"], self.config["samples"]
        if self.is_filter:
            n = self._support
            if tuple(coherent.shape[1:]) != (c, n):
                raise ValueError(f"the filter decoder takes coherent gathers (B, {c}, {n}), "
                                 f"got {tuple(coherent.shape)}")
            return filters.apply(coherent[:, None], self._response(nuisance, samples=n),
                                 self._sigma(nuisance), self._shift_field)[..., :t]
        z = torch.cat([coherent[:, None, :].expand(b, i, -1), nuisance], dim=-1)
        h = self.dec_in(z.reshape(b * i, -1)).reshape(b * i, *self._dec_shape)
        shapes = self.coh_trunk.shapes
        for k, up in enumerate(self.ups):
            h = F.interpolate(h, size=shapes[-2 - k], mode="bilinear", align_corners=False)
            h = up(h)
        y = self.out(h) * self.scale
        return y.reshape(b, i, c, t)

    def forward(self, x: torch.Tensor, bag: int | None = None) -> torch.Tensor:
        """Reconstruct ``x`` ``(B, I, C, T)`` from its own codes; the coherent part is
        pooled over the first ``bag`` instances (default all)."""
        return self.decode(*self.encode(x, bag))

    @property
    def coherent_shape(self) -> tuple[int, ...]:
        """Shape of one datapoint's coherent representation."""
        if self.is_filter:
            return (self.config["channels"], self._support)
        return (self.config["coherent_dim"],)

    # ------------------------------------------------------------------ save/load
    def export(self) -> dict[str, Any]:
        """Everything needed to rebuild the model without Lightning (plain types)."""
        return {"format": _FORMAT, "format_version": _FORMAT_VERSION,
                "config": dict(self.config), "schema": dict(self.schema),
                "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()}}

    def save(self, path: str | Path) -> Path:
        """Save weights, constructor arguments, normalisation and schema (atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            torch.save(self.export(), tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def from_export(cls, blob: dict[str, Any], source: str = "<memory>") -> SymAE:
        if not isinstance(blob, dict) or blob.get("format") != _FORMAT:
            raise ModelFileError(f"{source}: not a symae-seis model (no '{_FORMAT}' record)")
        if blob.get("format_version") != _FORMAT_VERSION:
            raise ModelFileError(f"{source}: model format version {blob.get('format_version')}"
                                 f" is not {_FORMAT_VERSION}")
        cfg = with_legacy_defaults(blob["config"])
        model = cls(cfg.pop("channels"), cfg.pop("samples"), schema=blob.get("schema"), **cfg)
        try:
            model.load_state_dict(blob["state_dict"])
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise ModelFileError(f"{source}: weights do not fit the model they declare: "
                                 f"{first}") from None
        return model

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> SymAE:
        """Load a model saved by :meth:`save`, or from a training checkpoint (``.ckpt``).

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        ModelFileError
            If it is truncated, corrupt, or holds another kind of model.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model file {path} does not exist")
        try:
            blob = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as err:  # noqa: BLE001 - torch raises many types for bad files
            raise ModelFileError(f"{path}: not a readable model file (truncated or corrupt?): "
                                 f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
                                 ) from None
        if isinstance(blob, dict) and "symae" in blob:      # Lightning checkpoint
            blob = blob["symae"]
        model = cls.from_export(blob, str(path))
        model.eval()
        return model

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def check_permutation_invariance(model: SymAE, x: torch.Tensor, *, trials: int = 3,
                                 atol: float = 1e-5, raise_error: bool = True) -> float:
    """Largest change of the coherent code under random permutations of the I axis.

    Runs in eval mode (no nuisance noise), in the model's dtype. Returns the maximum
    absolute difference, relative to the code's RMS; raises ``AssertionError`` above
    ``atol`` when ``raise_error``.
    """
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            ref = model.encode_coherent(x)
            worst = 0.0
            g = torch.Generator().manual_seed(0)
            for _ in range(trials):
                perm = torch.randperm(x.shape[1], generator=g)
                got = model.encode_coherent(x[:, perm])
                rel = (got - ref).abs().max() / ref.pow(2).mean().sqrt().clamp_min(1e-30)
                worst = max(worst, float(rel))
    finally:
        model.train(was)
    if raise_error and worst > atol:
        raise AssertionError(f"coherent code changes by {worst:.3g} (relative) under "
                             f"permutation of instances; tolerance {atol:g}")
    return worst


def check_save_load(model: SymAE, path: str | Path, x: torch.Tensor, *,
                    raise_error: bool = True) -> float:
    """Save, reload and compare outputs on ``x`` (eval mode). Returns max abs difference."""
    model.save(path)
    other = SymAE.load(path)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            diff = float((model(x) - other(x)).abs().max())
    finally:
        model.train(was)
    if raise_error and diff != 0.0:
        raise AssertionError(f"reloaded model differs from the original by {diff:.3g}")
    return diff
