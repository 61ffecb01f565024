"""Redatuming by swapping latent codes: virtual gathers, residuals, QC.

A virtual gather is ``decoder(coherent code of datapoint A, nuisance code of instance j)``:
the earth of A seen with the acquisition of j. Three pairings are built in:

``4d``
    For every datapoint key present in both surveys: coherent code of the
    ``coherent_from`` (monitor) datapoint with the nuisance code of every
    ``nuisance_from`` (baseline) instance at that key. Two residuals are written:
    ``residual = virtual - real`` (the real baseline gather) and
    ``residual_decoder = virtual - decoder(coherent baseline, same nuisance)``, which
    cancels the decoder's own reconstruction error. The second is cleaner where the
    model under-fits (0.34-1.0 times the other's 4D error on the survey zoo); the first
    needs no trust in the decoder's baseline reconstruction.
``reference``
    Every instance of every datapoint (or of the surveys named) redatumed to one
    reference nuisance: the code of one instance (``reference=<instance key>``) or the
    mean nuisance code (``reference="mean"``). Shot-to-shot statics and wavelet changes
    vanish; residuals are ``virtual - real``.
custom
    :func:`redatum_pairs` takes any arrays of coherent datapoints and nuisance instances.

Work is batched and streamed: codes are computed in batches, virtual gathers decoded
and written batch by batch into the outputs (memory does not grow with the survey).

Outputs (atomic; existing files are kept unless ``overwrite``):
``virtual.sgy``, ``residual.sgy``, ``residual_decoder.sgy`` (not ``reference``): SEG-Y rev 1.0
with the source's textual header (the lines above C39 say what the file holds and where
it came from: toolkit version, model file and its SHA-256, store, dataset, options; C39
``SEG-Y REV1``, C40 ``END TEXTUAL HEADER``) and the nuisance donor's trace headers as
recorded (the coherent donor of each trace is in ``redatum.nc``; bytes 233-240, which
SEG-Y rev 2 gives a meaning, are left as the recording had them). Every trace carries
the store's time axis: first sample time as DelayRecordingTime with its scalar (bytes
215-216), sample count and interval. Padded slots (no recorded trace) are left out;
recorded dead traces are written with trace identification code 2 and zero samples.
``redatum.nc`` (NetCDF4, CF-1.8): ``recorded``, ``virtual``, ``residual``,
``reconstruction``, ``residual_decoder`` on (pair, channel, twt), with ``twt`` in ms,
the datapoint key (e.g. ``cdp``), the channel key's values (e.g. ``offset`` in m),
surveys as strings and the ``live`` mask as coordinates; its global attributes record
the provenance (CF ``history``, ``symae_model`` and ``symae_model_sha256``,
``symae_store``, ``symae_dataset``, ``symae_options``, ``date_created``).
``qc.csv``: per coherent datapoint, ``survey`` and one column per datapoint key field,
then NRMS and PRED of the virtual and of the reconstruction against the recorded gathers
(live traces only); ``qc.json`` beside it: the same provenance and the table's columns.
"""

from .codes import coherent_codes, nuisance_codes, refined_codes, resolve_device
from .core import (
    DEFAULT_REFINE_STEPS,
    RedatumResult,
    check_compatible,
    default_refine_steps,
    redatum,
    redatum_pairs,
)
from .pairs import Pairs, RedatumError, pair_4d, pair_reference
from .writer import QC_COLUMNS, RedatumWriter

__all__ = [
    "DEFAULT_REFINE_STEPS",
    "default_refine_steps",
    "RedatumError",
    "Pairs",
    "pair_4d",
    "pair_reference",
    "coherent_codes",
    "refined_codes",
    "nuisance_codes",
    "resolve_device",
    "redatum",
    "redatum_pairs",
    "RedatumResult",
    "RedatumWriter",
    "check_compatible",
    "QC_COLUMNS",
]
