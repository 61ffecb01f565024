"""How well the model explains the data it redatums from, without truth: per datapoint
and over the survey, the NRMS and predictability of the virtual gathers and of the
reconstruction of the recorded shots against those shots, the reconstruction also by
quarter of the channels (the far offsets last) and by half of the record; and which
datapoints are reconstructed worse than a threshold (a residual there is not a 4D
signal, the model does not describe the data there)."""

from __future__ import annotations

import numpy as np

from ..qc.metrics import gather_nrms, nrms, predictability

__all__ = ["QC_COLUMNS", "RECON_PARTS", "FitQC", "RECON_WARN_NRMS"]

#: The parts of a gather whose reconstruction is scored apart: channel quarters, the
#: early and the late half of the record.
RECON_PARTS = ("q1", "q2", "q3", "q4", "early", "late")
#: Per-datapoint QC columns: median over pairs. The virtual's NRMS and PRED are means over
#: live traces (the field's trace-by-trace repeatability); the reconstruction's are taken
#: over the live traces of the gather (or of its part) as one series, so weak traces and
#: windows with little energy weigh as little as they hold, and an empty early half does
#: not read as a misfit (trace by trace, the embedded default's early half read 76 % where
#: the gather-level figure is 1.6 %).
QC_COLUMNS = (
    "nrms_virtual_recorded",
    "pred_virtual_recorded",
    "nrms_recon_recorded",
    "pred_recon_recorded",
    *(f"nrms_recon_{p}" for p in RECON_PARTS),
)
#: Default reconstruction NRMS (%) above which a datapoint (or a part of its gathers) is
#: reported as not explained by the model (the embedded default's is about 2 %).
RECON_WARN_NRMS = 30.0


def _part_nrms(a: np.ndarray, b: np.ndarray) -> float:
    """NRMS (%) of the traces ``a`` against ``b`` taken as one series (0 for two empty
    parts)."""
    return float(gather_nrms(a, b))


class FitQC:
    """Accumulates the QC of redatumed pairs batch by batch (:meth:`add`), by coherent
    datapoint; :meth:`rows` gives ``qc.csv``, :meth:`summary` the survey's medians,
    :meth:`poor` the datapoints reconstructed worse than a threshold."""

    def __init__(self, reader, coherent: np.ndarray, max_lag: int):
        self.reader, self.coherent, self.max_lag = reader, coherent, max_lag
        self.sums: dict[int, dict[str, list]] = {}

    def add(
        self,
        a: int,
        b: int,
        recorded: np.ndarray,
        live: np.ndarray,
        virtual: np.ndarray,
        recon: np.ndarray,
    ) -> None:
        """Pairs ``a:b`` (gathers ``(n, C, T)``, live mask ``(n, C)``)."""
        c, t = recorded.shape[1:]
        per = {
            "nrms_virtual_recorded": nrms(virtual, recorded),
            "pred_virtual_recorded": predictability(virtual, recorded, self.max_lag),
            "pred_recon_recorded": predictability(recon, recorded, self.max_lag),
        }
        quarter = np.minimum(np.arange(c) * 4 // max(c, 1), 3)  # channel -> quarter
        halves = {"early": slice(0, t // 2), "late": slice(t // 2, None)}
        for k, d in enumerate(self.coherent[a:b].tolist()):
            acc = self.sums.setdefault(d, {key: [] for key in QC_COLUMNS})
            ok = live[k]
            if not ok.any():
                continue
            for key, values in per.items():
                acc[key].append(float(values[k][ok].mean()))
            rk, ck = recon[k], recorded[k]
            acc["nrms_recon_recorded"].append(_part_nrms(rk[ok], ck[ok]))
            for name, ts in halves.items():
                acc[f"nrms_recon_{name}"].append(_part_nrms(rk[ok, ts], ck[ok, ts]))
            for q in range(4):
                sel = ok & (quarter == q)
                if sel.any():
                    acc[f"nrms_recon_q{q + 1}"].append(_part_nrms(rk[sel], ck[sel]))

    def rows(self) -> list[dict]:
        """Per coherent datapoint: survey, key fields, pairs, medians of the QC columns."""
        r, rows = self.reader, []
        for d, acc in sorted(self.sums.items()):
            row = {
                "survey": r.surveys[r.dp_survey[d]],
                **{name: int(v) for name, v in zip(r.dp_names, r.dp_key[d])},
                "pairs": len(acc[QC_COLUMNS[0]]),
            }
            row.update({key: float(np.median(acc[key])) for key in QC_COLUMNS if acc[key]})
            rows.append(row)
        return rows

    def summary(self) -> dict[str, float]:
        """Median over the datapoints of every QC column."""
        rows = self.rows()
        return {
            key: float(np.median([r[key] for r in rows if key in r]))
            for key in QC_COLUMNS
            if any(key in r for r in rows)
        }

    def poor(self, threshold: float = RECON_WARN_NRMS) -> list[tuple[str, str, float]]:
        """``(datapoint label, part, NRMS)`` of every datapoint whose reconstruction NRMS,
        over the whole gather or one of :data:`RECON_PARTS`, exceeds ``threshold`` (its
        worst part)."""
        out = []
        for d, acc in sorted(self.sums.items()):
            parts = {
                "whole gather": acc["nrms_recon_recorded"],
                **{p: acc[f"nrms_recon_{p}"] for p in RECON_PARTS},
            }
            med = {p: float(np.median(v)) for p, v in parts.items() if v}
            worst = max(med, key=med.get, default=None)
            if worst is not None and med[worst] > threshold:
                out.append((self.reader.datapoint_label(d), worst, med[worst]))
        return out
