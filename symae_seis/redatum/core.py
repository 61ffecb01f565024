"""Decode the pairs of a redatuming run: codes once, then a short batched loop."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..errors import SymaeWarning
from ..io.store import StoreReader, schema_mismatches
from ..models import SymAE, channels_are_receivers
from ..provenance import provenance
from ..typing import PathLike
from .codes import coherent_codes, nuisance_codes, refined_codes, resolve_device
from .fit import RECON_WARN_NRMS
from .pairs import Pairs, RedatumError, pair_4d, pair_reference
from .uncertainty import Bootstrap, model_error_var
from .writer import RedatumWriter

__all__ = ["check_compatible", "default_refine_steps", "RedatumResult", "redatum_pairs", "redatum"]

log = logging.getLogger(__name__)

#: Adam steps per round of fitting the codes to the recorded gathers before decoding,
#: on stores whose channels are receivers (see :func:`default_refine_steps`).
DEFAULT_REFINE_STEPS = 60


def default_refine_steps(reader: StoreReader) -> int:
    """Code fitting by default: :data:`DEFAULT_REFINE_STEPS` where the store's channels are
    receivers keyed by a trace header (gathers), none on miniSEED stores (stations, station
    pairs: windows of ambient noise). There each window's record is mostly the noise of its
    own sources, and fitting its codes to it carries that noise into the virtual gathers:
    on the passive benchmark (small survey, six noise fields) the day-by-day dv/v error of
    the virtual gathers is 1.18x the anchor's with the fit and 1.05x without (RMS over the
    fields; ``docs/passive_code_fitting_small_cpu.txt``). The same rule as the per-trace
    terms and time terms of :class:`~symae_seis.models.SymAE`
    (:func:`~symae_seis.models.channels_are_receivers`)."""
    return DEFAULT_REFINE_STEPS if channels_are_receivers(reader.schema) else 0


def check_compatible(model: SymAE, reader: StoreReader) -> None:
    """Raise :class:`RedatumError` if the model was trained on a store of another layout
    (the rule :func:`~symae_seis.io.store.schema_mismatches` also applies on resume)."""
    expected = {
        "channels": model.config["channels"],
        "samples": model.config["samples"],
        **(model.schema or {}),
    }
    bad = schema_mismatches(expected, reader.schema, labels=("model", "store"))
    if bad:
        raise RedatumError(
            f"model does not match store {reader.path} ({'; '.join(bad)}); "
            "train on this dataset or pick the matching store"
        )


@dataclass
class RedatumResult:
    """Paths of the outputs, the QC rows (``qc.csv``), their medians over the survey and
    the datapoints the model reconstructs worse than the warning threshold (label, part
    of the gather, NRMS %)."""

    out_dir: Path
    files: dict[str, Path]
    qc: list[dict]
    summary: dict[str, float] = field(default_factory=dict)
    poor: list[tuple[str, str, float]] = field(default_factory=list)


class _Codes:
    """Coherent representations of every datapoint the pairs use, on the device."""

    def __init__(
        self,
        model: SymAE,
        reader: StoreReader,
        datapoints: np.ndarray,
        device: torch.device,
        progress: bool,
        refine_steps: int = 0,
    ):
        uniq = np.unique(datapoints)
        self.index = {int(d): k for k, d in enumerate(uniq)}
        self.nuisance: dict[int, np.ndarray] | None = None
        if refine_steps > 0:
            table, self.nuisance = refined_codes(
                model, reader, uniq, steps=refine_steps, device=device, progress=progress
            )
        else:
            table = coherent_codes(model, reader, uniq, device=device, progress=progress)
        self.table = torch.from_numpy(table).to(device)

    def nuisance_of(self, rows: np.ndarray) -> np.ndarray:
        """Refined nuisance codes of store rows (instances of the coded datapoints)."""
        return np.stack([self.nuisance[int(r)] for r in rows])

    def __getitem__(self, datapoints: np.ndarray) -> torch.Tensor:
        idx = [self.index[int(d)] for d in datapoints]
        return self.table[torch.as_tensor(idx, device=self.table.device)]


def redatum_pairs(
    model: SymAE,
    store: StoreReader | PathLike,
    pairs: Pairs,
    out_dir: PathLike,
    *,
    batch_size: int = 64,
    device: str | None = None,
    overwrite: bool = False,
    write_segy: bool = True,
    progress: bool = False,
    refine_steps: int | None = None,
    uncertainty: int = 0,
    seed: int = 0,
    recon_warn: float | None = RECON_WARN_NRMS,
    options: dict | None = None,
) -> RedatumResult:
    """Decode ``pairs`` and write virtual gathers, residuals and QC into ``out_dir``.

    ``uncertainty`` = N > 0: ``virtual_std`` is written beside ``virtual``, the root of
    two variances: (1) the earth code's doubt: the coherent part of every coherent donor
    is pooled again from N bootstrap bags (its instances drawn with replacement, seeded by
    ``seed`` and the datapoint), each decoded with the pair's nuisance code; (2) the
    model's own error: the recorded gather's misfit to its reconstruction, averaged
    locally (:func:`model_error_var`). The bags alone measure how much the shots disagree,
    not what the decoder cannot express, and cover the truth far too rarely.

    ``refine_steps`` > 0: the encoder's codes of every datapoint involved are refined by
    fitting each instance to its own gather (:func:`symae_seis.prior.refine_codes`)
    before decoding; the nuisance codes then come from that fit.

    ``recon_warn``: a :class:`~symae_seis.errors.SymaeWarning` names the datapoints whose
    recorded shots the model reconstructs worse than this NRMS (%), over the whole gather
    or a part of it (:mod:`symae_seis.redatum.fit`); None: no warning.

    ``options``: the caller's own options (mode, donors), recorded with these in the
    outputs' provenance (:mod:`symae_seis.provenance`).

    Raises
    ------
    RedatumError
        If the model does not match the store or ``pairs`` is empty.
    FileExistsError
        If an output exists and ``overwrite`` is false (nothing is written then).
    """
    from ..progress import progress_bar

    if len(pairs) == 0:
        raise RedatumError("the pairing selects no instance; nothing to redatum")
    reader = store if isinstance(store, StoreReader) else StoreReader(store)
    refine_steps = default_refine_steps(reader) if refine_steps is None else int(refine_steps)
    if refine_steps < 0:
        raise RedatumError(f"refine_steps must be >= 0, got {refine_steps}")
    if refine_steps and not model.is_filter:
        refine_steps = 0  # the generic decoder's codes are used as they are
    check_compatible(model, reader)
    if uncertainty < 0 or uncertainty == 1:
        raise RedatumError(f"uncertainty needs at least 2 bootstrap bags, got {uncertainty}")
    record = provenance(
        "redatum",
        model=getattr(model, "source_path", None),
        store=reader.path,
        dataset=reader.dataset,
        options={
            "mode": pairs.mode,
            **(options or {}),
            "batch_size": batch_size,
            "device": str(device or "auto"),
            "refine_steps": refine_steps,
            "uncertainty": uncertainty,
            "seed": seed,
            "recon_warn": recon_warn,
            "write_segy": write_segy,
            "store_low_cut_hz": reader.low_cut_hz,
        },
    )
    writer = RedatumWriter(
        reader,
        pairs,
        Path(out_dir),
        overwrite=overwrite,
        write_segy=write_segy,
        uncertainty=uncertainty > 0,
        provenance=record,
    )
    dev = resolve_device(device)
    model = model.to(dev).eval()
    own_dp = reader.datapoint[pairs.real]
    needed = [pairs.coherent, own_dp]
    ref_row = pairs.meta.get("reference_row")
    if refine_steps > 0 and pairs.reference_code is None:
        needed.append(reader.datapoint[pairs.nuisance])
    if refine_steps > 0 and ref_row is not None:
        needed.append(reader.datapoint[[ref_row]])
    codes = _Codes(model, reader, np.concatenate(needed), dev, progress, refine_steps)
    if codes.nuisance is not None:
        pairs.real_codes = codes.nuisance_of(pairs.real)
        if pairs.reference_label == "mean nuisance code":
            pairs.reference_code = pairs.real_codes.mean(axis=0)
        elif ref_row is not None:
            pairs.reference_code = codes.nuisance_of([ref_row])[0]
    n = len(pairs)
    boot = Bootstrap(model, reader, codes, uncertainty, seed, dev)
    with writer, torch.no_grad():
        for a in progress_bar(
            range(0, n, batch_size), desc="redatum", unit="batch", disable=not progress
        ):
            b = min(n, a + batch_size)
            if pairs.real_codes is not None:
                own = torch.from_numpy(pairs.real_codes[a:b]).to(dev)
            else:
                own = torch.from_numpy(
                    nuisance_codes(
                        model, reader, pairs.real[a:b], batch_size=batch_size, device=dev
                    )
                ).to(dev)
            if pairs.reference_code is not None:
                nui = torch.from_numpy(np.tile(pairs.reference_code, (b - a, 1))).to(dev)
            elif np.array_equal(pairs.nuisance[a:b], pairs.real[a:b]):
                nui = own
            elif codes.nuisance is not None:
                nui = torch.from_numpy(codes.nuisance_of(pairs.nuisance[a:b])).to(dev)
            else:
                nui = torch.from_numpy(
                    nuisance_codes(
                        model, reader, pairs.nuisance[a:b], batch_size=batch_size, device=dev
                    )
                ).to(dev)

            def decode(coherent, nuisance):
                return model.decode(coherent, nuisance[:, None])[:, 0].float().cpu().numpy()

            virtual = decode(codes[pairs.coherent[a:b]], nui)
            recon = decode(codes[own_dp[a:b]], own)
            recon_same = recon if nui is own else decode(codes[own_dp[a:b]], nui)
            std = None
            recorded, live = reader.read(pairs.real[a:b]), reader.live(pairs.real[a:b])
            if uncertainty:
                draws = np.stack(
                    [decode(boot(pairs.coherent[a:b], k), nui) for k in range(uncertainty)]
                )
                std = np.sqrt(draws.var(axis=0, ddof=1) + model_error_var(recorded, recon, live))
            writer.write(a, b, recorded, live, virtual, recon, recon_same, std)
    log.info("redatumed %d gathers into %s", n, out_dir)
    return _result(Path(out_dir), writer, recon_warn)


def _result(out_dir: Path, writer: RedatumWriter, recon_warn: float | None) -> RedatumResult:
    """The outputs, the survey's QC medians (logged) and the warning of poorly
    reconstructed datapoints."""
    summary = writer.fit.summary()
    if summary:
        log.info(
            "model fit over the survey (median NRMS %% of the reconstruction of the recorded "
            "shots): whole gathers %.1f, far quarter of the channels %.1f, late half %.1f",
            summary.get("nrms_recon_recorded", float("nan")),
            summary.get("nrms_recon_q4", float("nan")),
            summary.get("nrms_recon_late", float("nan")),
        )
    poor = writer.fit.poor(recon_warn) if recon_warn is not None else []
    if poor:
        shown = ", ".join(f"{label} ({part} {v:.0f} %)" for label, part, v in poor[:8])
        more = f" and {len(poor) - 8} more" if len(poor) > 8 else ""
        warnings.warn(
            f"{out_dir / 'qc.csv'}: the model reconstructs the recorded shots of "
            f"{len(poor)} of {len(writer.fit.sums)} datapoints worse than {recon_warn:g} % "
            f"NRMS: {shown}{more}; residuals there are not 4D signal (see the "
            "nrms_recon_* columns)",
            SymaeWarning,
            stacklevel=3,
        )
    return RedatumResult(out_dir, writer.files, writer.qc_rows(), summary, poor)


def redatum(
    model: SymAE | PathLike,
    store: StoreReader | PathLike,
    out_dir: PathLike,
    *,
    mode: Literal["4d", "reference"] = "4d",
    coherent_from: str = "monitor",
    nuisance_from: str = "baseline",
    reference: str | int = "mean",
    surveys: list[str] | None = None,
    batch_size: int = 64,
    device: str | None = None,
    overwrite: bool = False,
    write_segy: bool = True,
    progress: bool = False,
    refine_steps: int | None = None,
    uncertainty: int = 0,
    recon_warn: float | None = RECON_WARN_NRMS,
) -> RedatumResult:
    """Redatum a store with a trained model (see the package docstring for the modes).

    Parameters
    ----------
    model
        A :class:`SymAE` or the path of a saved model / training checkpoint.
    store
        The instance store (HDF5), or an open :class:`StoreReader` of it (opened once and
        shared with the caller).
    out_dir
        Output folder (created).
    mode
        ``"4d"`` or ``"reference"``.
    coherent_from, nuisance_from
        Survey labels for ``"4d"``.
    reference
        ``"mean"`` (mean nuisance code of the redatumed instances) or the instance key
        (e.g. FieldRecord) of the instance whose acquisition all are redatumed to.
    surveys
        For ``"reference"``: restrict to these surveys (default all).
    refine_steps
        Fit the codes to the recorded gathers before decoding (steps per round, two
        rounds; None: :func:`default_refine_steps` (:data:`DEFAULT_REFINE_STEPS` on
        gathers, 0 on miniSEED stores); 0: the encoder's codes as they are; filter decoder
        only). See :mod:`symae_seis.prior`.
    uncertainty
        Bootstrap bags per coherent donor for ``virtual_std`` (0: none).
    recon_warn
        Warn, naming them, about datapoints whose recorded shots the model reconstructs
        worse than this NRMS (%) (None: never).

    Returns
    -------
    RedatumResult
    """
    if not isinstance(model, SymAE):
        model = SymAE.load(model)
    reader = store if isinstance(store, StoreReader) else StoreReader(store)
    dev = resolve_device(device)
    if mode == "4d":
        pairs = pair_4d(reader, coherent_from, nuisance_from)
    elif mode == "reference":
        pairs = pair_reference(reader, surveys)
        check_compatible(model, reader)
        if str(reference) == "mean":
            pairs.real_codes = nuisance_codes(
                model, reader, pairs.real, batch_size=batch_size, device=dev, progress=progress
            )
            pairs.reference_code = pairs.real_codes.mean(axis=0)
            pairs.reference_label = "mean nuisance code"
        else:
            try:
                key = int(reference)
            except ValueError:
                raise RedatumError(
                    f"reference must be 'mean' or an instance key, got {reference!r}"
                ) from None
            hit = np.flatnonzero(reader.instance_key == key)
            if hit.size == 0:
                raise RedatumError(f"{reader.path}: no instance with key {key}")
            pairs.reference_code = nuisance_codes(model, reader, hit[:1], device=dev)[0]
            pairs.meta["reference_row"] = int(hit[0])
            pairs.reference_label = f"instance {key}"
    else:
        raise RedatumError(f"mode must be '4d' or 'reference', got {mode!r}")
    return redatum_pairs(
        model,
        reader,
        pairs,
        out_dir,
        batch_size=batch_size,
        device=dev,
        overwrite=overwrite,
        write_segy=write_segy,
        progress=progress,
        refine_steps=refine_steps,
        uncertainty=uncertainty,
        recon_warn=recon_warn,
        options={"coherent_from": coherent_from, "nuisance_from": nuisance_from}
        if mode == "4d"
        else {"reference": str(reference), "surveys": surveys},
    )
