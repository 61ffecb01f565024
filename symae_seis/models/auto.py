"""The rules that fill in a :class:`~symae_seis.models.config.SymAEConfig`'s *auto*
options from the gather size and the store's schema (``SymAEConfig.resolve``), with the
thresholds they use and what each was measured on."""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "FOLD_FROM",
    "SHIFT_FROM",
    "RIPPLE_FROM",
    "FILTER_TERMS",
    "EVAL_POOL",
    "channels_are_receivers",
    "default_fold",
    "default_levels",
    "default_min_phase",
]

#: Traces of at least this many samples are folded by 2 into the encoders (``time_fold``).
FOLD_FROM = 256
#: Sources moving past the receivers by at least this many receiver intervals between a
#: datapoint's instances turn the channel shift on by default. wave4d's sources (+-10 m
#: against 30 m fixed receivers) move by 0.67 and need it (NRMS 9.9 -> 5.4 % outside the
#: zone); conv4d, deep4d (0.0) and marine4d (0.03: the streamer moves with it) do not.
SHIFT_FROM = 0.25
#: Signature ripple (nats, the schema's ``signature_ripple``) from which the filter
#: family gets the minimum-phase signature terms by default. Measured over the survey
#: zoo's draws and the project's surveys: 0.000 without a bubble train, 0.085-0.120 with
#: one; 0.000-0.028 on the towed-streamer survey (noise, swell, shots binned).
RIPPLE_FROM = 0.05
#: Log-amplitude terms by default: ``(smooth, signature)``, the second with the
#: minimum-phase terms (quefrencies to 96 samples: twice a bubble period at 4 ms).
FILTER_TERMS = (6, 96)
#: Conjugate-gradient steps and damping of the least-squares pooling in evaluation (see
#: ``eval_pool_iters``), where the model has no channel shift.
EVAL_POOL = (40, 1e-4)


def channels_are_receivers(schema: dict[str, Any] | None) -> bool:
    """Whether a store's channels are receivers of a gather keyed by a trace header (SEG-Y,
    SU: the schema's ``channel_key``), not miniSEED stations or station pairs. Decides the
    defaults that only gathers get: per-trace and time terms here, code fitting at
    redatuming (:func:`symae_seis.redatum.default_refine_steps`). A schema without the
    entry counts as gathers."""
    return bool((schema or {}).get("channel_key", True))


def default_fold(samples: int) -> int:
    """Samples folded into channels at the encoders' input (``time_fold``)."""
    return 2 if samples >= FOLD_FROM else 1


def default_levels(samples: int, fold: int) -> int:
    """Down-sampling levels until time is at most 16 samples (at most 7)."""
    return max(1, min(7, math.ceil(math.log2(max(-(-samples // fold), 32) / 16))))


def default_min_phase(schema: dict[str, Any] | None, filter_time_terms: bool) -> bool:
    """``min_phase`` by default: on with the filter decoder and its time terms
    (``filter_time_terms``) where the store's signatures ripple (``signature_ripple`` at
    least :data:`RIPPLE_FROM`: a bubble train); :data:`FILTER_TERMS` then gives 96
    log-amplitude terms instead of 6."""
    ripple = float((schema or {}).get("signature_ripple", 0.0))
    return filter_time_terms and ripple >= RIPPLE_FROM
