"""The outputs of one redatuming run, owned through one ``contextlib.ExitStack``:
``redatum.nc`` (CF-1.8), ``virtual.sgy`` / ``residual.sgy`` and ``qc.csv``.

Every file is written under a temporary name and renamed only when the whole run
succeeded; on any error every temporary is discarded and nothing the user had is touched.
"""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from ..io.netcdf import cf_layout
from ..io.segy import HEADER_FIELDS, SCALED_BY, scaled_values
from ..io.segy_write import SegyWriter
from ..io.store import StoreReader
from ..provenance import netcdf_attrs, textual_lines, write_sidecar
from ..qc.metrics import pred_lag
from .fit import QC_COLUMNS, FitQC
from .pairs import Pairs

__all__ = ["RedatumWriter", "QC_COLUMNS", "OUTPUT_NAMES"]

#: Output files by role.
OUTPUT_NAMES = {
    "netcdf": "redatum.nc",
    "qc": "qc.csv",
    "qc_meta": "qc.json",
    "virtual": "virtual.sgy",
    "residual": "residual.sgy",
}


def _cf_name(field: str) -> str:
    """NetCDF name of a header field, segysak-like: ``CDP`` -> ``cdp``."""
    return field.lower()


#: Units of the channel key's values where the SEG-Y standard fixes them.
_KEY_UNITS = {
    "offset": "m",
    "SourceX": "m",
    "SourceY": "m",
    "GroupX": "m",
    "GroupY": "m",
    "CDP_X": "m",
    "CDP_Y": "m",
}


#: Positions carried per redatumed gather (m, the coordinate scalar applied), from the
#: recorded gather's first recorded trace: NetCDF name -> header field.
POSITIONS = {
    "source_x": "SourceX",
    "source_y": "SourceY",
    "cdp_x": "CDP_X",
    "cdp_y": "CDP_Y",
}


def _scan_donor_headers(
    reader: StoreReader, pairs: Pairs, c: int, block: int = 256
) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
    """One pass over the recorded gathers' stored headers: which slots hold a recorded
    trace (padded slots have all-zero headers), the channel key's value of each trace
    (None where the store keeps no SEG-Y headers or no channel key) and the gathers'
    positions (:data:`POSITIONS`; those all zero are left out)."""
    n = len(pairs)
    if reader.n_header_fields != len(HEADER_FIELDS):
        return np.ones((n, c), dtype=bool), None, {}
    ck = reader.channel_key_name
    col = reader.header_fields.index(ck) if ck else None
    fields = reader.header_fields
    present = np.zeros((n, c), dtype=bool)
    chan = np.zeros((n, c), dtype=np.int64) if col is not None else None
    pos = {k: np.zeros(n) for k in POSITIONS}
    for a in range(0, n, block):
        h = reader.headers(pairs.real[a : a + block])
        here = np.any(h != 0, axis=-1)
        present[a : a + block] = here
        if chan is not None:
            chan[a : a + block] = h[..., col]
        first = np.argmax(here, axis=1)  # the first recorded trace of each gather
        row = h[np.arange(len(h)), first]
        for name, fld in POSITIONS.items():
            scalar = row[:, fields.index(SCALED_BY[fld])]
            pos[name][a : a + block] = scaled_values(fld, row[:, fields.index(fld)], scalar)
    return present, chan, {k: v for k, v in pos.items() if np.any(v != 0)}


def _shared_channel_values(present: np.ndarray, chan: np.ndarray | None) -> np.ndarray | None:
    """The channel key's values when every gather has them in every slot it recorded
    (then the channel dimension is indexed by them), else None."""
    if chan is None or not present.any():
        return None
    if not present.any(axis=0).all():  # a slot no gather recorded has no value
        return None
    ref = chan[np.argmax(present, axis=0), np.arange(chan.shape[1])]
    if np.any((chan != ref) & present):
        return None
    if len(np.unique(ref)) != len(ref):
        return None
    return ref


def _coordinates(
    var,
    reader: StoreReader,
    pairs: Pairs,
    n: int,
    chdim: str,
    chan: np.ndarray | None,
    positions: dict[str, np.ndarray],
) -> list[str]:
    """Coordinate variables of ``redatum.nc`` (``chdim``: the channel dimension's name;
    ``chan``: the channel key's value per trace, None when the dimension is indexed by
    them); returns the auxiliary ones' names."""
    import h5py

    var("pair", ("pair",), "i8", np.arange(n), "index of the redatumed gather")
    aux: list[str] = []
    for j, name in enumerate(reader.dp_names):
        var(
            _cf_name(name),
            ("pair",),
            "i8",
            reader.dp_key[pairs.coherent, j],
            f"{name} (SEG-Y header) of the datapoint",
        )
        aux.append(_cf_name(name))
    ik = reader.instance_key_name or "instance"
    var(
        "recorded_instance_key",
        ("pair",),
        "i8",
        reader.instance_key[pairs.real],
        f"{ik} of the recorded gather (the nuisance donor in 4d mode)",
    )
    text = h5py.string_dtype()
    var(
        "recorded_survey",
        ("pair",),
        text,
        np.array([reader.surveys[s] for s in reader.survey[pairs.real]], dtype=object),
        "survey of the recorded gather",
    )
    var(
        "coherent_survey",
        ("pair",),
        text,
        np.array([reader.surveys[s] for s in reader.dp_survey[pairs.coherent]], dtype=object),
        "survey whose earth (coherent code) is used",
    )
    var(
        "coherent_datapoint",
        ("pair",),
        "i8",
        pairs.coherent,
        "row of the coherent donor in the store's datapoint table",
    )
    var(
        "nuisance_instance",
        ("pair",),
        "i8",
        pairs.nuisance,
        "store row of the nuisance donor (-1: the reference code)",
    )
    var("recorded_instance", ("pair",), "i8", pairs.real, "store row of the recorded gather")
    aux += ["recorded_instance_key", "recorded_survey", "coherent_survey"]
    taken = set(aux) | {_cf_name(reader.channel_key_name or "")}
    for name, values in positions.items():
        if name in taken:  # a datapoint key of that name already holds it (binned)
            continue
        var(
            name,
            ("pair",),
            "f8",
            values,
            f"{POSITIONS[name]} of the recorded gather's first trace, scalar applied",
            "m",
        )
        aux.append(name)
    live = reader.live(pairs.real)
    var(
        "live",
        ("pair", chdim),
        "i1",
        live.astype(np.int8),
        "trace holds a recording",
        flag_values=np.array([0, 1], dtype=np.int8),
        flag_meanings="dead live",
    )
    ck = reader.channel_key_name
    if chan is not None:
        var(
            _cf_name(ck),
            ("pair", chdim),
            "i8",
            chan,
            f"{ck} (SEG-Y header) of each trace",
            _KEY_UNITS.get(ck),
        )
        aux.append(_cf_name(ck))
    return aux


def _netcdf_layout(
    nc,
    reader: StoreReader,
    pairs: Pairs,
    c: int,
    t: int,
    present: np.ndarray,
    chan: np.ndarray | None,
    positions: dict[str, np.ndarray],
    uncertainty: bool = False,
) -> dict:
    """Dimensions, CF-1.8 coordinates and attributes of ``redatum.nc`` (``present``,
    ``chan``, ``positions``: from :func:`_scan_donor_headers`); returns the data variables
    (pair, channel, twt) to fill. Where every gather shares the channel key's values, the
    channel dimension is named by the key and indexed by them (``ds.sel(offset=1200)``)."""
    n = len(pairs)
    shared = _shared_channel_values(present, chan)
    ck = reader.channel_key_name
    chdim = "channel" if shared is None else _cf_name(ck)
    var = cf_layout(
        nc,
        reader,
        dims={"pair": n, chdim: c, "twt": t},
        channel_values=None if shared is None else (chdim, shared, _KEY_UNITS.get(ck)),
        title=f"symae-seis {pairs.mode} redatuming",
        history=f"symae-redatum ({pairs.mode}, reference: {pairs.reference_label or '-'})",
        mode=pairs.mode,
        store=str(reader.path),
        reference=pairs.reference_label,
        meta=json.dumps(pairs.meta),
        surveys=json.dumps(reader.surveys),
        datapoint_keys=json.dumps([_cf_name(k) for k in reader.dp_names]),
    )
    aux = _coordinates(var, reader, pairs, n, chdim, chan if shared is None else None, positions)
    coords = " ".join(aux)
    names = {
        "recorded": "recorded gather",
        "virtual": "virtual gather (coherent donor's earth, nuisance donor's acquisition)",
        "residual": "virtual minus recorded",
        "reconstruction": "recorded gather rebuilt from its own codes",
        "residual_decoder": "virtual minus the decoder's own rebuild of the recorded "
        "gather with the same nuisance code",
    }
    if uncertainty:
        names["virtual_std"] = (
            "standard deviation of the virtual gather: spread over "
            "bootstrap bags of the coherent donor's instances and the "
            "recorded gather's local misfit to its reconstruction"
        )
    return {
        k: var(k, ("pair", chdim, "twt"), "f4", None, long_name, "1", coordinates=coords)
        for k, long_name in names.items()
    }


class _SegyLayout:
    """Which traces of the redatumed gathers go into the SEG-Y outputs, with which headers.

    Recorded traces keep their headers (the nuisance donor's). Padded slots (no recorded
    trace) are left out; recorded dead traces are written with trace identification code 2
    and zero samples.
    """

    def __init__(self, reader: StoreReader, pairs: Pairs, c: int, present: np.ndarray):
        self.reader, self.pairs, self.c = reader, pairs, c
        self.fields = list(HEADER_FIELDS)
        self.has_headers = reader.n_header_fields == len(HEADER_FIELDS)
        self.present = present
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
        hdr[:, f.index("TraceIdentifier")] = np.where(
            live.reshape(-1), np.where(tid == 0, 1, tid), 2
        )
        keep = self.present[a:b].reshape(-1)
        return hdr[keep], keep


class RedatumWriter:
    """Writes the redatumed gathers of ``pairs`` batch by batch, and their QC.

    Use as a context manager; :meth:`write` takes each decoded batch.
    """

    def __init__(
        self,
        reader: StoreReader,
        pairs: Pairs,
        out_dir: Path,
        *,
        overwrite: bool = False,
        write_segy: bool = True,
        uncertainty: bool = False,
        provenance: dict | None = None,
    ):
        self.reader, self.pairs, self.out_dir = reader, pairs, Path(out_dir)
        self.provenance = provenance
        self.uncertainty = uncertainty
        self.overwrite, self.write_segy = overwrite, write_segy
        roles = ("netcdf", "qc", "qc_meta") + (("virtual", "residual") if write_segy else ())
        self.files = {k: self.out_dir / OUTPUT_NAMES[k] for k in roles}
        if not overwrite:
            taken = [str(p) for p in self.files.values() if p.exists()]
            if taken:
                raise FileExistsError(
                    f"output exists: {', '.join(taken)}; pass --overwrite "
                    "to replace, or choose another --out"
                )
        self.fit = FitQC(reader, pairs.coherent, pred_lag(reader.dt_ms))
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> RedatumWriter:
        import h5netcdf

        r, pairs = self.reader, self.pairs
        _, c, t = r.shape
        self.out_dir.mkdir(parents=True, exist_ok=True)
        stack = contextlib.ExitStack()
        try:
            tmp = stack.enter_context(atomic_path(self.files["netcdf"], overwrite=self.overwrite))
            nc = stack.enter_context(h5netcdf.File(tmp, "w"))
            present, chan, positions = _scan_donor_headers(r, pairs, c)
            self.variables = _netcdf_layout(
                nc, r, pairs, c, t, present, chan, positions, self.uncertainty
            )
            if self.provenance is not None:
                nc.attrs.update(netcdf_attrs(self.provenance))
            self.segy = None
            if self.write_segy:
                self.segy = _SegyLayout(r, pairs, c, present)
                self.segy_files = {
                    key: stack.enter_context(
                        SegyWriter(
                            self.files[key],
                            self.segy.n_traces,
                            t,
                            int(round(r.dt_ms * 1000)),
                            t0_ms=r.t0_ms,
                            overwrite=self.overwrite,
                            textual=r.textual_header,
                            note=self._notes(key),
                        )
                    )
                    for key in ("virtual", "residual")
                }
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def _notes(self, key: str) -> list[str]:
        """Textual-header lines of the SEG-Y output ``key``: what it holds, and where it
        came from (the coherent donor of each trace is in redatum.nc)."""
        what = f"symae-seis {self.pairs.mode} redatum: {key}; coherent donors in redatum.nc"
        if self.provenance is None:
            return [what]
        return textual_lines(self.provenance, what)

    def write(
        self,
        a: int,
        b: int,
        recorded: np.ndarray,
        live: np.ndarray,
        virtual: np.ndarray,
        recon: np.ndarray,
        recon_same: np.ndarray,
        virtual_std: np.ndarray | None = None,
    ) -> None:
        """Pairs ``a:b``: recorded gathers, live mask, virtual gathers, reconstruction with
        their own nuisance and with the pairs' nuisance (and the bootstrap standard
        deviation of the virtual gathers). Dead traces are zeroed."""
        dead = ~live[..., None]
        virtual = np.where(dead, 0.0, virtual).astype(np.float32)
        recon = np.where(dead, 0.0, recon).astype(np.float32)
        resid = virtual - recorded
        out = {
            "recorded": recorded,
            "virtual": virtual,
            "residual": resid,
            "reconstruction": recon,
            "residual_decoder": virtual - np.where(dead, 0.0, recon_same),
        }
        if virtual_std is not None:
            out["virtual_std"] = np.where(dead, 0.0, virtual_std).astype(np.float32)
        for name, values in out.items():
            self.variables[name][a:b] = values
        if self.segy is not None:
            hdr, keep = self.segy.headers(a, b, live)
            start, t = self.segy.first_trace(a), recorded.shape[-1]
            self.segy_files["virtual"].write(start, virtual.reshape(-1, t)[keep], hdr)
            self.segy_files["residual"].write(start, resid.reshape(-1, t)[keep], hdr)
        self.fit.add(a, b, recorded, live, virtual, recon)

    def qc_rows(self) -> list[dict]:
        """Per coherent datapoint: survey, key fields, pairs, medians of the QC columns."""
        return self.fit.rows()

    def __exit__(self, exc_type, exc, tb) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.__exit__(exc_type, exc, tb)
        if exc_type is None:
            with (
                atomic_path(self.files["qc"], overwrite=self.overwrite) as tmp,
                open(tmp, "w", newline="") as fh,
            ):
                w = csv.DictWriter(
                    fh,
                    fieldnames=["survey", *self.reader.dp_names, "pairs", *QC_COLUMNS],
                    extrasaction="ignore",
                )
                w.writeheader()
                w.writerows(self.qc_rows())
            write_sidecar(
                self.files["qc_meta"],
                self.provenance or {},
                table=self.files["qc"].name,
                columns=["survey", *self.reader.dp_names, "pairs", *QC_COLUMNS],
            )
