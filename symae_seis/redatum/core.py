"""Decode the pairs of a redatuming run: codes once, then a short batched loop."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..io.store import StoreReader, schema_mismatches
from ..models import SymAE, channels_are_receivers
from ..typing import PathLike
from .codes import coherent_codes, nuisance_codes, refined_codes, resolve_device
from .pairs import Pairs, RedatumError, pair_4d, pair_reference
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


#: Window (channels, samples) over which the recorded gather's misfit to its own
#: reconstruction is averaged into the model-error variance of ``virtual_std`` (about one
#: wavelet long, one trace either side).
MISFIT_WINDOW = (3, 9)


def model_error_var(
    recorded: np.ndarray,
    recon: np.ndarray,
    live: np.ndarray,
    window: tuple[int, int] = MISFIT_WINDOW,
) -> np.ndarray:
    """Local variance of the model's own error ``(N, C, T)``: the squared misfit between
    recorded gathers and their reconstructions, averaged over a ``window`` of (channels,
    samples). Dead traces (no recording to compare with) take the mean over the gather's
    live traces at each time."""
    from scipy.ndimage import uniform_filter

    r2 = (recorded.astype(np.float64) - recon) ** 2
    dead = ~live.astype(bool)
    n_live = np.maximum(live.sum(axis=1), 1)[:, None]
    fill = np.where(dead[..., None], 0.0, r2).sum(axis=1) / n_live  # (N, T)
    r2 = np.where(dead[..., None], fill[:, None, :], r2)
    return uniform_filter(r2, size=(1, *window), mode="nearest")


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
    """Paths of the outputs and the QC rows."""

    out_dir: Path
    files: dict[str, Path]
    qc: list[dict]


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


class _Bootstrap:
    """Coherent parts of bootstrap bags (instances drawn with replacement), per datapoint,
    cached for the datapoints of the current batch only (memory stays one batch's)."""

    def __init__(
        self,
        model: SymAE,
        reader: StoreReader,
        codes: _Codes,
        n: int,
        seed: int,
        device: torch.device,
    ):
        self.model, self.reader, self.codes, self.n = model, reader, codes, n
        self.seed, self.dev = seed, device
        self.cache: dict[int, torch.Tensor] = {}

    def _draws(self, d: int) -> torch.Tensor:
        if d not in self.cache:
            if len(self.cache) > 256:
                self.cache.clear()
            rows = self.reader.members[d]
            x = torch.from_numpy(self.reader.read(rows)).to(self.dev)
            if self.codes.nuisance is not None:
                z = torch.from_numpy(self.codes.nuisance_of(rows)).to(self.dev)
            else:
                z = self.model.encode_nuisance(x[None], noise=False)[0]
            rng = np.random.default_rng([self.seed, d])
            pick = torch.from_numpy(rng.integers(0, len(rows), (self.n, len(rows))))
            pick = pick.to(self.dev)
            self.cache[d] = self.model.pool(x[pick], z[pick])
        return self.cache[d]

    def __call__(self, datapoints: np.ndarray, k: int) -> torch.Tensor:
        return torch.stack([self._draws(int(d))[k] for d in datapoints])


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

    Raises
    ------
    RedatumError
        If the model does not match the store or ``pairs`` is empty.
    FileExistsError
        If an output exists and ``overwrite`` is false (nothing is written then).
    """
    from tqdm.auto import tqdm

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
    writer = RedatumWriter(
        reader,
        pairs,
        Path(out_dir),
        overwrite=overwrite,
        write_segy=write_segy,
        uncertainty=uncertainty > 0,
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
    boot = _Bootstrap(model, reader, codes, uncertainty, seed, dev)
    with writer, torch.no_grad():
        for a in tqdm(range(0, n, batch_size), desc="redatum", unit="batch", disable=not progress):
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
    return RedatumResult(out_dir=Path(out_dir), files=writer.files, qc=writer.qc_rows())


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
    )
