"""The outputs of one redatuming run, owned through one ``contextlib.ExitStack``:
``redatum.nc`` (CF-1.8), ``virtual.sgy`` / ``residual.sgy`` / ``residual_decoder.sgy`` and
``qc.csv``.

Every file is written under a temporary name and renamed only when the whole run
succeeded; on any error every temporary is discarded and nothing the user had is touched.
"""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from ..io.segy import HEADER_FIELDS
from ..io.segy_write import SegyWriter
from ..io.store import StoreReader
from ..provenance import netcdf_attrs, textual_lines, write_sidecar
from ..qc.metrics import pred_lag
from .fit import QC_COLUMNS, FitQC
from .layout import netcdf_layout, scan_donor_headers
from .pairs import Pairs

__all__ = ["RedatumWriter", "QC_COLUMNS", "OUTPUT_NAMES"]

#: Output files by role.
OUTPUT_NAMES = {
    "netcdf": "redatum.nc",
    "qc": "qc.csv",
    "qc_meta": "qc.json",
    "virtual": "virtual.sgy",
    "residual": "residual.sgy",
    "residual_decoder": "residual_decoder.sgy",
}
#: The SEG-Y outputs (one trace per written trace of the redatumed gathers each); the
#: last only where the coherent donor is another datapoint (``4d``): in ``reference``
#: mode a gather's virtual and its own rebuild are one decode, and it would be zeros.
SEGY_ROLES = ("virtual", "residual", "residual_decoder")


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
        self.segy_roles = SEGY_ROLES[:2] if pairs.mode == "reference" else SEGY_ROLES
        roles = ("netcdf", "qc", "qc_meta") + (self.segy_roles if write_segy else ())
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
            present, chan, positions = scan_donor_headers(r, pairs, c)
            self.variables = netcdf_layout(
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
                    for key in self.segy_roles
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
        out = {
            "recorded": recorded,
            "virtual": virtual,
            "residual": virtual - recorded,
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
            for key in self.segy_roles:
                self.segy_files[key].write(start, out[key].reshape(-1, t)[keep], hdr)
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
