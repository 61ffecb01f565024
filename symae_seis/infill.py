"""Fill the missing traces of a store's gathers with a trained SymAE (``symae-infill``).

A trace is missing when the store marks it dead (``live`` false: a dead channel, a padded
slot of a short gather) or when the user names it: channel slots (``missing_channels``)
or whole instances (``missing_instances``, by instance key; every trace of such an
instance is refilled from the rest of its datapoint). Each datapoint is completed by
:func:`symae_seis.prior.infill`; a channel that none of its instances recorded takes the
coherent gather of the same key in another survey when there is one.

Outputs in ``out_dir`` (each written under a temporary name, renamed when complete, never
over an existing file without ``overwrite``):

* ``infill.nc`` (CF-1.8): ``recorded``, ``filled``, ``known`` (1 where the trace was
  recorded and used), ``misfit`` per instance, on (instance, channel, twt);
* ``filled.sgy``: every stored trace with its own headers and time axis; filled traces
  carry 1 in bytes 233-236 (:data:`FILLED_FLAG_FIELD`) and trace identification code 1,
  recorded ones 0 there; padded slots (no headers) are left out of the SEG-Y;
* ``infill_qc.png``: recorded | known mask | filled (| held-out recording, where traces
  named missing were in fact recorded) for the gather with the most filled traces.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import SymaeError
from .io.atomic import atomic_path
from .io.netcdf import cf_layout
from .io.segy import HEADER_FIELDS
from .io.segy_write import SegyWriter
from .io.store import StoreReader
from .models import SymAE
from .prior import infill
from .redatum.codes import resolve_device
from .redatum.core import check_compatible
from .typing import PathLike

__all__ = ["infill_store", "InfillRun", "FILLED_FLAG_FIELD", "parse_channels"]

log = logging.getLogger(__name__)

#: Trace header field (bytes 233-236, unassigned in SEG-Y rev 1) flagging filled traces.
FILLED_FLAG_FIELD = "UnassignedInt1"
OUTPUT_NAMES = {"netcdf": "infill.nc", "segy": "filled.sgy", "figure": "infill_qc.png"}


@dataclass
class InfillRun:
    """What :func:`infill_store` wrote and did."""

    out_dir: Path
    files: dict[str, Path]
    n_filled: int
    n_traces: int


def parse_channels(specs: list[str] | None, channels: int) -> np.ndarray:
    """Channel slots from ``["3", "10-12"]`` (0-based, inclusive ranges) as a mask."""
    mask = np.zeros(channels, dtype=bool)
    for spec in specs or []:
        try:
            a, _, b = str(spec).partition("-")
            lo, hi = int(a), int(b or a)
        except ValueError:
            raise SymaeError(f"missing channel {spec!r} is not a slot or a range a-b") from None
        if not 0 <= lo <= hi < channels:
            raise SymaeError(
                f"missing channel {spec!r} outside the gathers' slots 0-{channels - 1}"
            )
        mask[lo : hi + 1] = True
    return mask


def _known_masks(
    reader: StoreReader, rows: np.ndarray, chan_mask: np.ndarray, inst_missing: set[int]
) -> np.ndarray:
    known = reader.live(rows) & ~chan_mask[None]
    for k, r in enumerate(rows.tolist()):
        if int(reader.instance_key[r]) in inst_missing:
            known[k] = False
    return known


def infill_store(
    model: SymAE | PathLike,
    store: StoreReader | PathLike,
    out_dir: PathLike,
    *,
    missing_channels: list[str] | None = None,
    missing_instances: list[int] | None = None,
    surveys: list[str] | None = None,
    steps: int = 60,
    rounds: int = 2,
    device: str | None = None,
    overwrite: bool = False,
    write_segy: bool = True,
    progress: bool = False,
) -> InfillRun:
    """Fill the missing traces of every datapoint of ``store`` (see the module docstring).

    Raises
    ------
    SymaeError
        If the model does not match the store, a named instance key or survey does not
        exist, or a datapoint would have no known trace left.
    FileExistsError
        If an output exists and ``overwrite`` is false (nothing is written then).
    """
    from .progress import progress_bar

    if not isinstance(model, SymAE):
        model = SymAE.load(model)
    reader = store if isinstance(store, StoreReader) else StoreReader(store)
    check_compatible(model, reader)
    n_all, c, t = reader.shape
    chan_mask = parse_channels(missing_channels, c)
    keys = set(reader.instance_key.tolist())
    unknown = [k for k in (missing_instances or []) if int(k) not in keys]
    if unknown:
        raise SymaeError(
            f"{reader.path}: no instance with key {unknown[0]} "
            f"({reader.instance_key_name or 'instance key'})"
        )
    inst_missing = {int(k) for k in missing_instances or []}
    if surveys:
        bad = [s for s in surveys if s not in reader.surveys]
        if bad:
            raise SymaeError(
                f"{reader.path}: no survey {bad[0]!r} (surveys: {', '.join(reader.surveys)})"
            )
    chosen = [
        d
        for d in range(len(reader.dp_survey))
        if not surveys or reader.surveys[reader.dp_survey[d]] in surveys
    ]
    rows_all = np.concatenate([reader.members[d] for d in chosen])
    out_dir = Path(out_dir)
    has_headers = reader.n_header_fields == len(HEADER_FIELDS)
    if write_segy and not has_headers:
        log.warning(
            "%s keeps no SEG-Y headers (miniSEED?): no filled.sgy, NetCDF only", reader.path
        )
        write_segy = False
    files = {"netcdf": out_dir / OUTPUT_NAMES["netcdf"], "figure": out_dir / OUTPUT_NAMES["figure"]}
    if write_segy:
        files["segy"] = out_dir / OUTPUT_NAMES["segy"]
    if not overwrite:
        taken = [str(p) for p in files.values() if p.exists()]
        if taken:
            raise FileExistsError(
                f"output exists: {', '.join(taken)}; pass --overwrite to "
                "replace, or choose another --out"
            )
    for d in chosen:
        known = _known_masks(reader, reader.members[d], chan_mask, inst_missing)
        if not known.any():
            raise SymaeError(
                f"{reader.path}: datapoint {reader.datapoint_label(d)} has no "
                "known trace left (every trace dead or named missing); nothing "
                "to fit"
            )
    dev = resolve_device(device)
    model = model.to(dev).eval()
    partner = _partners(reader, chosen)
    out_dir.mkdir(parents=True, exist_ok=True)
    n = len(rows_all)
    present = np.ones((n, c), dtype=bool)
    if has_headers:
        present = np.any(reader.headers(rows_all) != 0, axis=-1)
    n_filled, worst = 0, (-1, None)
    with contextlib.ExitStack() as stack:
        import h5netcdf

        tmp = stack.enter_context(atomic_path(files["netcdf"], overwrite=overwrite))
        nc = stack.enter_context(h5netcdf.File(tmp, "w"))
        var = _netcdf_layout(nc, reader, rows_all, c, t)
        segy = None
        if write_segy:
            segy = stack.enter_context(
                SegyWriter(
                    files["segy"],
                    int(present.sum()),
                    t,
                    int(round(reader.dt_ms * 1000)),
                    t0_ms=reader.t0_ms,
                    overwrite=overwrite,
                    textual=reader.textual_header,
                    note="symae-infill: recorded and filled traces; filled = 1 in bytes 233-236",
                )
            )
        pos, trace0 = 0, 0
        for d in progress_bar(chosen, desc="infill", unit="dp", disable=not progress):
            rows = reader.members[d]
            x = reader.read(rows)
            known = _known_masks(reader, rows, chan_mask, inst_missing)
            prior = _prior(model, reader, partner.get(d), dev)
            res = infill(
                model,
                torch.from_numpy(x)[None].to(dev),
                torch.from_numpy(known)[None].to(dev),
                coherent_prior=prior,
                rounds=rounds,
                steps=steps,
            )
            filled = res.filled[0].float().cpu().numpy()
            k = len(rows)
            var["recorded"][pos : pos + k] = np.where(reader.live(rows)[..., None], x, 0.0)
            var["filled"][pos : pos + k] = filled
            var["known"][pos : pos + k] = known.astype(np.int8)
            var["misfit"][pos : pos + k] = res.misfit[0].float().cpu().numpy()
            n_new = int((~known).sum())
            n_filled += n_new
            if n_new > worst[0]:
                worst = (n_new, (d, x, known, filled, reader.live(rows)))
            if segy is not None:
                keep = present[pos : pos + k]
                hdr = reader.headers(rows).reshape(k * c, -1).astype(np.int64)
                flag = (~known).reshape(-1).astype(np.int64)
                hdr[:, HEADER_FIELDS.index(FILLED_FLAG_FIELD)] = flag
                tid = HEADER_FIELDS.index("TraceIdentifier")
                hdr[:, tid] = np.where(flag == 1, 1, np.where(hdr[:, tid] == 0, 1, hdr[:, tid]))
                sel = keep.reshape(-1)
                segy.write(trace0, filled.reshape(k * c, t)[sel], hdr[sel])
                trace0 += int(sel.sum())
            pos += k
    if worst[1] is not None:
        _figure(files["figure"], reader, *worst[1], overwrite=overwrite)
    log.info("filled %d of %d traces into %s", n_filled, n * c, out_dir)
    return InfillRun(out_dir, files, n_filled, n * c)


def _partners(reader: StoreReader, chosen: list[int]) -> dict[int, int]:
    """For each datapoint, one datapoint of the same key in another survey, if any."""
    by_key: dict[tuple, list[int]] = {}
    for d in range(len(reader.dp_survey)):
        by_key.setdefault(tuple(reader.dp_key[d].tolist()), []).append(d)
    out = {}
    for d in chosen:
        other = [
            e
            for e in by_key[tuple(reader.dp_key[d].tolist())]
            if reader.dp_survey[e] != reader.dp_survey[d]
        ]
        if other and reader.dp_names:
            out[d] = other[0]
    return out


@torch.no_grad()
def _prior(model: SymAE, reader: StoreReader, d: int | None, dev) -> torch.Tensor | None:
    if d is None or not model.is_filter:
        return None
    x = torch.from_numpy(reader.read(reader.members[d]))[None].to(dev)
    return model.encode_coherent(x)


def _netcdf_layout(nc, reader: StoreReader, rows: np.ndarray, c: int, t: int) -> dict:
    import h5py

    n = len(rows)
    var = cf_layout(
        nc,
        reader,
        dims={"instance": n, "channel": c, "twt": t},
        title="symae-seis infill",
        history="symae-infill",
    )
    var(
        "instance_key",
        ("instance",),
        "i8",
        reader.instance_key[rows],
        f"{reader.instance_key_name or 'instance key'} of the gather",
    )
    var(
        "survey",
        ("instance",),
        h5py.string_dtype(),
        np.array([reader.surveys[s] for s in reader.survey[rows]], dtype=object),
        "survey",
    )
    var("store_row", ("instance",), "i8", rows, "row of the gather in the instance store")
    aux = "instance_key survey"
    out = {
        "recorded": var(
            "recorded",
            ("instance", "channel", "twt"),
            "f4",
            None,
            "recorded gather (dead traces zero)",
            "1",
            coordinates=aux,
        ),
        "filled": var(
            "filled",
            ("instance", "channel", "twt"),
            "f4",
            None,
            "recorded traces kept, missing ones from the decoder",
            "1",
            coordinates=aux,
        ),
        "known": var(
            "known",
            ("instance", "channel"),
            "i1",
            None,
            "trace recorded and used by the fit",
            flag_values=np.array([0, 1], dtype=np.int8),
            flag_meanings="filled recorded",
        ),
        "misfit": var(
            "misfit",
            ("instance",),
            "f4",
            None,
            "relative misfit of the decoder on the known traces",
            "1",
        ),
    }
    return out


def _figure(
    path: Path,
    reader: StoreReader,
    d: int,
    x: np.ndarray,
    known: np.ndarray,
    filled: np.ndarray,
    live: np.ndarray,
    *,
    overwrite: bool,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = int(np.argmax((~known).sum(axis=1)))
    held = live[k] & ~known[k]  # named missing, in fact recorded
    panels = [
        ("recorded (missing blank)", np.where(known[k][:, None], x[k], 0.0)),
        ("known traces", np.repeat(known[k][:, None], x.shape[-1], 1).astype(float)),
        ("filled", filled[k]),
    ]
    if held.any():
        panels.append(("held-out recording", np.where(held[:, None], x[k], 0.0)))
    v = np.percentile(np.abs(x[k][known[k]]), 99) if known[k].any() else 1.0
    t = reader.t0_ms + reader.dt_ms * np.arange(x.shape[-1])
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 4.5), sharey=True)
    for ax, (title, img) in zip(axes, panels):
        mask = title == "known traces"
        ax.imshow(
            img.T,
            aspect="auto",
            cmap="gray_r" if mask else "seismic",
            vmin=0 if mask else -v,
            vmax=1 if mask else v,
            extent=(-0.5, img.shape[0] - 0.5, t[-1], t[0]),
        )
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("channel slot")
    axes[0].set_ylabel("time (ms)")
    fig.suptitle(
        f"{reader.datapoint_label(d)}, instance {reader.instance_key[reader.members[d][k]]}",
        fontsize=9,
    )
    fig.tight_layout()
    with atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
