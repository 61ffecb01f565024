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
    model under-fits; the first needs no trust in the decoder's baseline reconstruction.
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
``virtual.sgy``, ``residual.sgy``: SEG-Y rev 1.0 with the source's textual header (line
C39 says what the file holds) and the nuisance donor's trace headers, with the coherent
donor's datapoint index in bytes 233-236 (segyio ``UnassignedInt1``) and its survey index
in bytes 237-240 (``UnassignedInt2``). Every trace carries the store's time axis: first
sample time as DelayRecordingTime with its scalar (bytes 215-216), sample count and
interval. Padded slots (no recorded trace) are left out; recorded dead traces are
written with trace identification code 2 and zero samples.
``redatum.nc`` (NetCDF4, CF-1.8): ``recorded``, ``virtual``, ``residual``,
``reconstruction``, ``residual_decoder`` on (pair, channel, twt), with ``twt`` in ms,
the datapoint key (e.g. ``cdp``), the channel key's values (e.g. ``offset`` in m),
surveys as strings and the ``live`` mask as coordinates.
``qc.csv``: per coherent datapoint, ``survey`` and one column per datapoint key field,
then NRMS and PRED of the virtual and of the reconstruction against the recorded gathers
(live traces only).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from .io._atomic import atomic_path
from .io.segy import HEADER_FIELDS, SegyWriter
from .io.store import StoreReader, store_schema
from .models import SymAE
from .qc.metrics import nrms, predictability
from .typing import PathLike

__all__ = ["RedatumError", "Pairs", "pair_4d", "pair_reference", "coherent_codes",
           "nuisance_codes", "redatum", "redatum_pairs", "RedatumResult", "DONOR_FIELDS"]

log = logging.getLogger(__name__)

#: Header fields that carry the coherent donor (datapoint index, survey index).
DONOR_FIELDS = ("UnassignedInt1", "UnassignedInt2")


class RedatumError(ValueError):
    """Model and store do not match, or a pairing selects nothing."""


@dataclass
class Pairs:
    """What to decode: pair k = coherent code of datapoint ``coherent[k]`` with the
    nuisance code of store row ``nuisance[k]`` (or of the reference when ``nuisance[k]``
    is -1 and ``reference_code`` is set). ``real[k]`` is the store row compared with."""

    coherent: np.ndarray
    nuisance: np.ndarray
    real: np.ndarray
    mode: str
    reference_code: np.ndarray | None = None
    reference_label: str = ""
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.coherent)


def _survey_index(reader: StoreReader, label: str) -> int:
    if label not in reader.surveys:
        raise RedatumError(f"{reader.path}: no survey {label!r}; surveys are {reader.surveys}")
    return reader.surveys.index(label)


def pair_4d(reader: StoreReader, coherent_from: str = "monitor",
            nuisance_from: str = "baseline") -> Pairs:
    """Coherent code of each ``coherent_from`` datapoint with the nuisance of every
    ``nuisance_from`` instance of the datapoint with the same key."""
    sc, sn = _survey_index(reader, coherent_from), _survey_index(reader, nuisance_from)
    by_key = {tuple(reader.dp_key[d]): d for d in np.flatnonzero(reader.dp_survey == sc)}
    coh, nui = [], []
    for d in np.flatnonzero(reader.dp_survey == sn):
        target = by_key.get(tuple(reader.dp_key[d]))
        if target is None:
            continue
        rows = reader.members[d]
        nui.append(rows)
        coh.append(np.full(len(rows), target))
    if not nui:
        raise RedatumError(f"{reader.path}: no datapoint key of survey {nuisance_from!r} is "
                           f"present in survey {coherent_from!r} (keys {reader.dp_names}); "
                           "nothing to redatum")
    nui_rows = np.concatenate(nui)
    return Pairs(coherent=np.concatenate(coh), nuisance=nui_rows, real=nui_rows, mode="4d",
                 meta={"coherent_from": coherent_from, "nuisance_from": nuisance_from})


def pair_reference(reader: StoreReader, surveys: list[str] | None = None) -> Pairs:
    """Every instance of ``surveys`` (default all) with its own datapoint's coherent code;
    the nuisance is the reference (set by :func:`redatum`)."""
    rows = np.arange(reader.shape[0])
    if surveys:
        keep = np.isin(reader.survey, [_survey_index(reader, s) for s in surveys])
        rows = rows[keep]
    return Pairs(coherent=reader.datapoint[rows], nuisance=np.full(len(rows), -1), real=rows,
                 mode="reference")


def _device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.no_grad()
def coherent_codes(model: SymAE, reader: StoreReader, datapoints: np.ndarray, *,
                   max_instances: int | None = None, device: str | None = None,
                   progress: bool = False) -> np.ndarray:
    """Coherent representation of each datapoint, pooled over its instances (all of
    them, or the first ``max_instances``): ``(len(datapoints), C, T)`` coherent gathers
    for the filter decoder, ``(len(datapoints), Dc)`` codes for the generic one."""
    from tqdm.auto import tqdm

    dev = _device(device)
    model = model.to(dev).eval()
    out = np.zeros((len(datapoints), *model.coherent_shape), dtype=np.float32)
    for k, d in enumerate(tqdm(datapoints, desc="coherent codes", unit="dp",
                               disable=not progress)):
        rows = reader.members[int(d)]
        if max_instances:
            rows = rows[:max_instances]
        x = torch.from_numpy(reader.read(rows))[None].to(dev)
        out[k] = model.encode_coherent(x)[0].float().cpu().numpy()
    return out


@torch.no_grad()
def nuisance_codes(model: SymAE, reader: StoreReader, rows: np.ndarray, *,
                   batch_size: int = 64, device: str | None = None,
                   progress: bool = False) -> np.ndarray:
    """Nuisance code ``(len(rows), Dn)`` of each instance (eval mode: no noise)."""
    from tqdm.auto import tqdm

    dev = _device(device)
    model = model.to(dev).eval()
    out = np.zeros((len(rows), model.config["nuisance_dim"]), dtype=np.float32)
    for a in tqdm(range(0, len(rows), batch_size), desc="nuisance codes", unit="batch",
                  disable=not progress):
        x = torch.from_numpy(reader.read(rows[a:a + batch_size]))[None].to(dev)
        out[a:a + batch_size] = model.encode_nuisance(x)[0].float().cpu().numpy()
    return out


def check_compatible(model: SymAE, store: PathLike) -> None:
    """Raise :class:`RedatumError` if the model was trained on a store of another shape."""
    schema = store_schema(store)
    ms = model.schema or {}
    problems = []
    for key in ("channels", "samples"):
        if model.config[key] != schema[key]:
            problems.append(f"{key}: model {model.config[key]}, store {schema[key]}")
    for key in ("dt_ms", "instance_key", "channel_key", "datapoint_key"):
        if key in ms and ms[key] != schema[key]:
            problems.append(f"{key}: model {ms[key]}, store {schema[key]}")
    if problems:
        raise RedatumError(f"model does not match store {store} (" + "; ".join(problems)
                           + "); train on this dataset or pick the matching store")


@dataclass
class RedatumResult:
    """Paths of the outputs and the QC rows."""

    out_dir: Path
    files: dict[str, Path]
    qc: list[dict]


#: Per-datapoint QC columns: median over pairs of the mean over live traces.
QC_COLUMNS = ("nrms_virtual_recorded", "pred_virtual_recorded", "nrms_recon_recorded",
              "pred_recon_recorded")


def _qc_rows(reader: StoreReader, sums: dict[int, dict]) -> list[dict]:
    rows = []
    for d, acc in sorted(sums.items()):
        row = {"survey": reader.surveys[reader.dp_survey[d]],
               **{name: int(v) for name, v in zip(reader.dp_names, reader.dp_key[d])},
               "pairs": len(acc["nrms_virtual_recorded"])}
        for key in QC_COLUMNS:
            if acc[key]:
                row[key] = float(np.median(acc[key]))
        rows.append(row)
    return rows


def _cf_name(field: str) -> str:
    """NetCDF name of a header field, segysak-like: ``CDP`` -> ``cdp``."""
    return field.lower()


#: Units of the channel key's values where the SEG-Y standard fixes them.
_KEY_UNITS = {"offset": "m", "SourceX": "m", "SourceY": "m", "GroupX": "m", "GroupY": "m",
              "CDP_X": "m", "CDP_Y": "m"}


def _netcdf_layout(nc, reader: StoreReader, pairs: Pairs, c: int, t: int) -> dict:
    """Dimensions, CF-1.8 coordinates and attributes of ``redatum.nc``; returns the data
    variables (pair, channel, twt) to fill."""
    import h5py

    n = len(pairs)
    nc.dimensions = {"pair": n, "channel": c, "twt": t}
    nc.attrs.update({
        "Conventions": "CF-1.8",
        "title": f"symae-seis {pairs.mode} redatuming",
        "source": f"instance store {reader.path}",
        "history": f"symae-redatum ({pairs.mode}, reference: {pairs.reference_label or '-'})",
        "mode": pairs.mode, "store": str(reader.path), "reference": pairs.reference_label,
        "meta": json.dumps(pairs.meta), "surveys": json.dumps(reader.surveys),
        "instance_key": reader.instance_key_name, "channel_key": reader.channel_key_name,
    })

    def var(name, dims, dtype, values, long_name, units=None, **attrs):
        v = nc.create_variable(name, dims, dtype)
        if values is not None:
            v[:] = values
        v.attrs["long_name"] = long_name
        if units is not None:
            v.attrs["units"] = units
        v.attrs.update(attrs)
        return v

    var("twt", ("twt",), "f8", reader.t0_ms + reader.dt_ms * np.arange(t), "two-way time",
        "ms", axis="T", positive="down")
    var("pair", ("pair",), "i8", np.arange(n), "index of the redatumed gather")
    var("channel", ("channel",), "i8", np.arange(c), "trace slot inside the gather")
    aux = []
    for j, name in enumerate(reader.dp_names):
        var(_cf_name(name), ("pair",), "i8", reader.dp_key[pairs.coherent, j],
            f"{name} (SEG-Y header) of the datapoint")
        aux.append(_cf_name(name))
    ik = reader.instance_key_name or "instance"
    var("recorded_instance_key", ("pair",), "i8", reader.instance_key[pairs.real],
        f"{ik} of the recorded gather (the nuisance donor in 4d mode)")
    text = h5py.string_dtype()
    var("recorded_survey", ("pair",), text, None, "survey of the recorded gather")
    nc["recorded_survey"][:] = np.array([reader.surveys[s] for s in reader.survey[pairs.real]],
                                        dtype=object)
    var("coherent_survey", ("pair",), text, None, "survey whose earth (coherent code) is used")
    nc["coherent_survey"][:] = np.array([reader.surveys[s] for s in
                                         reader.dp_survey[pairs.coherent]], dtype=object)
    var("coherent_datapoint", ("pair",), "i8", pairs.coherent,
        "row of the coherent donor in the store's datapoint table")
    var("nuisance_instance", ("pair",), "i8", pairs.nuisance,
        "store row of the nuisance donor (-1: the reference code)")
    var("recorded_instance", ("pair",), "i8", pairs.real, "store row of the recorded gather")
    aux += ["recorded_instance_key", "recorded_survey", "coherent_survey"]
    live = reader.live(pairs.real)
    var("live", ("pair", "channel"), "i1", live.astype(np.int8), "trace holds a recording",
        flag_values=np.array([0, 1], dtype=np.int8), flag_meanings="dead live")
    ck = reader.channel_key_name
    if ck and reader.n_header_fields:
        col = reader.header_fields.index(ck)
        vals = np.concatenate([reader.headers(pairs.real[a:a + 256])[..., col]
                               for a in range(0, n, 256)]).astype(np.int64)
        var(_cf_name(ck), ("pair", "channel"), "i8", vals, f"{ck} (SEG-Y header) of each trace",
            _KEY_UNITS.get(ck))
        aux.append(_cf_name(ck))
    coords = " ".join(aux)
    names = {"recorded": "recorded gather", "virtual": "virtual gather (coherent donor's "
             "earth, nuisance donor's acquisition)", "residual": "virtual minus recorded",
             "reconstruction": "recorded gather rebuilt from its own codes",
             "residual_decoder": "virtual minus the decoder's own rebuild of the recorded "
             "gather with the same nuisance code"}
    return {k: var(k, ("pair", "channel", "twt"), "f4", None, long_name, "1",
                   coordinates=coords)
            for k, long_name in names.items()}


class _SegyLayout:
    """Which traces of the redatumed gathers go into the SEG-Y outputs, with which headers.

    Recorded traces keep their headers (the nuisance donor's). Padded slots (no recorded
    trace) are left out; recorded dead traces are written with trace identification code 2
    and zero samples.
    """

    def __init__(self, reader: StoreReader, pairs: Pairs, c: int):
        self.reader, self.pairs, self.c = reader, pairs, c
        self.fields = list(HEADER_FIELDS)
        self.has_headers = reader.n_header_fields == len(HEADER_FIELDS)
        if self.has_headers:
            self.present = np.zeros((len(pairs), c), dtype=bool)
            for a in range(0, len(pairs), 256):
                h = reader.headers(pairs.real[a:a + 256])
                self.present[a:a + 256] = np.any(h != 0, axis=-1)
        else:
            self.present = np.ones((len(pairs), c), dtype=bool)
        self.offsets = np.concatenate([[0], np.cumsum(self.present.sum(axis=1))])
        self.n_traces = int(self.offsets[-1])

    def first_trace(self, a: int) -> int:
        return int(self.offsets[a])

    def headers(self, a: int, b: int, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Headers of the written traces of pairs ``a:b`` and the mask of those traces."""
        f, pairs, reader, c = self.fields, self.pairs, self.reader, self.c
        if self.has_headers:
            hdr = reader.headers(pairs.real[a:b]).reshape(-1, len(f)).astype(np.int64)
        else:
            hdr = np.zeros(((b - a) * c, len(f)), dtype=np.int64)
            hdr[:, f.index("FieldRecord")] = np.repeat(reader.instance_key[pairs.real[a:b]], c)
            hdr[:, f.index("TraceNumber")] = np.tile(np.arange(1, c + 1), b - a)
        tid = hdr[:, f.index("TraceIdentifier")]
        hdr[:, f.index("TraceIdentifier")] = np.where(live.reshape(-1),
                                                      np.where(tid == 0, 1, tid), 2)
        hdr[:, f.index(DONOR_FIELDS[0])] = np.repeat(pairs.coherent[a:b], c)
        hdr[:, f.index(DONOR_FIELDS[1])] = np.repeat(reader.dp_survey[pairs.coherent[a:b]], c)
        keep = self.present[a:b].reshape(-1)
        return hdr[keep], keep


def redatum_pairs(model: SymAE, store: PathLike, pairs: Pairs, out_dir: PathLike, *,
                  batch_size: int = 64, device: str | None = None, overwrite: bool = False,
                  write_segy: bool = True, progress: bool = False) -> RedatumResult:
    """Decode ``pairs`` and write virtual gathers, residuals and QC into ``out_dir``.

    Raises
    ------
    RedatumError
        If the model does not match the store or ``pairs`` is empty.
    FileExistsError
        If an output exists and ``overwrite`` is false (nothing is written then).
    """
    import h5netcdf
    from tqdm.auto import tqdm

    if len(pairs) == 0:
        raise RedatumError("the pairing selects no instance; nothing to redatum")
    check_compatible(model, store)
    reader = StoreReader(store)
    out_dir = Path(out_dir)
    names = {"netcdf": "redatum.nc", "qc": "qc.csv"}
    if write_segy:
        names.update({"virtual": "virtual.sgy", "residual": "residual.sgy"})
    files = {k: out_dir / v for k, v in names.items()}
    if not overwrite:
        taken = [str(p) for p in files.values() if p.exists()]
        if taken:
            raise FileExistsError(f"output exists: {', '.join(taken)}; pass --overwrite to "
                                  "replace, or choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    dev = _device(device)
    model = model.to(dev).eval()
    n, (_, c, t) = len(pairs), reader.shape
    uniq_coh = np.unique(pairs.coherent)
    coh_all = coherent_codes(model, reader, uniq_coh, device=device, progress=progress)
    coh_index = {int(d): k for k, d in enumerate(uniq_coh)}
    # own-datapoint coherent codes (for the reconstruction and decoder residual)
    own_dp = reader.datapoint[pairs.real]
    uniq_own = np.setdiff1d(np.unique(own_dp), uniq_coh)
    own_codes = coherent_codes(model, reader, uniq_own, device=device, progress=progress)
    for k, d in enumerate(uniq_own):
        coh_index[int(d)] = len(coh_all) + k
    coh_table = torch.from_numpy(np.concatenate([coh_all, own_codes])).to(dev)

    dt_us = int(round(reader.dt_ms * 1000))
    segy = _SegyLayout(reader, pairs, c) if write_segy else None
    seg_ctx = {}
    ctxs = []
    try:
        nc_ctx = atomic_path(files["netcdf"], overwrite=overwrite)
        nc_tmp = nc_ctx.__enter__()
        ctxs.append(nc_ctx)
        if segy is not None:
            for key in ("virtual", "residual"):
                seg_ctx[key] = SegyWriter(
                    files[key], segy.n_traces, t, dt_us, t0_ms=reader.t0_ms,
                    overwrite=overwrite, textual=reader.textual_header,
                    note=f"symae-seis {pairs.mode} redatum: {key}; coherent donor in bytes "
                         "233-240")
        with h5netcdf.File(nc_tmp, "w") as nc:
            variables = _netcdf_layout(nc, reader, pairs, c, t)
            sums: dict[int, dict] = {}
            max_lag = max(1, int(round(40.0 / reader.dt_ms)))   # ~ one period at 25 Hz
            for a in tqdm(range(0, n, batch_size), desc="redatum", unit="batch",
                          disable=not progress):
                b = min(n, a + batch_size)
                real = reader.read(pairs.real[a:b])
                live = reader.live(pairs.real[a:b])
                with torch.no_grad():
                    if pairs.reference_code is not None:
                        nui = torch.from_numpy(np.broadcast_to(
                            pairs.reference_code, (b - a, pairs.reference_code.size)).copy())
                    else:
                        nui = torch.from_numpy(nuisance_codes(model, reader, pairs.nuisance[a:b],
                                                              batch_size=batch_size,
                                                              device=device))
                    nui = nui.to(dev)
                    ci = torch.as_tensor([coh_index[int(d)] for d in pairs.coherent[a:b]],
                                         device=dev)
                    oi = torch.as_tensor([coh_index[int(d)] for d in own_dp[a:b]], device=dev)
                    virtual = model.decode(coh_table[ci], nui[:, None])[:, 0].float().cpu()
                    own_nui = nui
                    if pairs.reference_code is not None:
                        own_nui = torch.from_numpy(nuisance_codes(
                            model, reader, pairs.real[a:b], batch_size=batch_size,
                            device=device)).to(dev)
                    recon = model.decode(coh_table[oi], own_nui[:, None])[:, 0].float().cpu()
                    recon_same = (model.decode(coh_table[oi], nui[:, None])[:, 0].float().cpu()
                                  if pairs.reference_code is not None else recon)
                # dead traces (padded slots, recorded zeros) stay zero in every output
                dead = ~live[..., None]
                virtual = np.where(dead, 0.0, virtual.numpy()).astype(np.float32)
                recon = np.where(dead, 0.0, recon.numpy()).astype(np.float32)
                resid = virtual - real
                resid_dec = virtual - np.where(dead, 0.0, recon_same.numpy())
                variables["recorded"][a:b] = real
                variables["virtual"][a:b] = virtual
                variables["residual"][a:b] = resid
                variables["reconstruction"][a:b] = recon
                variables["residual_decoder"][a:b] = resid_dec
                if segy is not None:
                    hdr, keep = segy.headers(a, b, live)
                    start = segy.first_trace(a)
                    seg_ctx["virtual"].write(start, virtual.reshape(-1, t)[keep], hdr)
                    seg_ctx["residual"].write(start, resid.reshape(-1, t)[keep], hdr)
                nv, nr = nrms(virtual, real), nrms(recon, real)
                pv, pr = predictability(virtual, real, max_lag), predictability(recon, real,
                                                                                 max_lag)
                for k, d in enumerate(pairs.coherent[a:b].tolist()):
                    acc = sums.setdefault(d, {key: [] for key in QC_COLUMNS})
                    ok = live[k]
                    if not ok.any():
                        continue
                    acc["nrms_virtual_recorded"].append(nv[k][ok].mean())
                    acc["pred_virtual_recorded"].append(pv[k][ok].mean())
                    acc["nrms_recon_recorded"].append(nr[k][ok].mean())
                    acc["pred_recon_recorded"].append(pr[k][ok].mean())
        for key in list(seg_ctx):
            seg_ctx.pop(key).close()
        nc_ctx.__exit__(None, None, None)
        ctxs.clear()
    except BaseException as err:
        for w in seg_ctx.values():
            w.abort()
        for ctx in ctxs:
            ctx.__exit__(type(err), err, None)
        raise
    qc = _qc_rows(reader, sums)
    with atomic_path(files["qc"], overwrite=overwrite) as tmp, open(tmp, "w", newline="") as fh:
        cols = ["survey", *reader.dp_names, "pairs", *QC_COLUMNS]
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(qc)
    log.info("redatumed %d gathers into %s", n, out_dir)
    return RedatumResult(out_dir=out_dir, files=files, qc=qc)


def redatum(model: SymAE | PathLike, store: PathLike, out_dir: PathLike, *,
            mode: Literal["4d", "reference"] = "4d", coherent_from: str = "monitor",
            nuisance_from: str = "baseline", reference: str | int = "mean",
            surveys: list[str] | None = None, batch_size: int = 64,
            device: str | None = None, overwrite: bool = False, write_segy: bool = True,
            progress: bool = False) -> RedatumResult:
    """Redatum a store with a trained model (see the module docstring for the modes).

    Parameters
    ----------
    model
        A :class:`SymAE` or the path of a saved model / training checkpoint.
    store
        The instance store (HDF5) the gathers come from.
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

    Returns
    -------
    RedatumResult
    """
    if not isinstance(model, SymAE):
        model = SymAE.load(model)
    reader = StoreReader(store)
    if mode == "4d":
        pairs = pair_4d(reader, coherent_from, nuisance_from)
    elif mode == "reference":
        pairs = pair_reference(reader, surveys)
        check_compatible(model, store)
        if str(reference) == "mean":
            codes = nuisance_codes(model, reader, pairs.real, batch_size=batch_size,
                                   device=device, progress=progress)
            pairs.reference_code = codes.mean(axis=0)
            pairs.reference_label = "mean nuisance code"
        else:
            try:
                key = int(reference)
            except ValueError:
                raise RedatumError(f"reference must be 'mean' or an instance key, got "
                                   f"{reference!r}") from None
            hit = np.flatnonzero(reader.instance_key == key)
            if hit.size == 0:
                raise RedatumError(f"{reader.path}: no instance with key {key}")
            pairs.reference_code = nuisance_codes(model, reader, hit[:1], device=device)[0]
            pairs.reference_label = f"instance {key}"
    else:
        raise RedatumError(f"mode must be '4d' or 'reference', got {mode!r}")
    return redatum_pairs(model, store, pairs, out_dir, batch_size=batch_size, device=device,
                         overwrite=overwrite, write_segy=write_segy, progress=progress)
