"""The 4D difference scored against a survey's truth: every method's estimate of the
monitor earth at each baseline shot's acquisition minus that shot, SymAE's
``residual_decoder`` and the conventional methods' parallel differences.

A 4D processor runs both vintages through one flow and differences them, so that what the
flow cannot match is common to both terms; SymAE's ``residual_decoder`` (virtual gather
minus the model's own rebuild of the baseline shot, both with that shot's nuisance code)
does the same with the model. The conventional counterpart scored beside it: the
monitor's shots equalised to the baseline shot and stacked, minus the baseline's own shots
(of the location, or the nearest in position for 4D binning) equalised to it and stacked
the same way (:func:`symae_seis.qc.conventional.conventional_estimates`,
``pool="baseline"``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..qc.truth import virtual_for_truth

__all__ = [
    "rel_l2_4d",
    "d4_row",
    "decoder_4d_row",
    "parallel_4d_rows",
    "equalised_both_ways",
    "conventional_low_cut",
    "rescore_4d",
    "max_lag_samples",
    "DECODER_4D",
    "PARALLEL",
    "POOLS",
]

#: The method name under which SymAE's decoder-cancelled 4D difference is scored.
DECODER_4D = "SymAE residual_decoder"
#: Suffix of a conventional method's parallel difference.
PARALLEL = ", parallel difference"
#: The baseline pools of the parallel differences and their names' suffixes: the
#: baseline's other shots, and every one of them with the shot itself (the lower counts).
POOLS = {"baseline": PARALLEL, "baseline_all": PARALLEL + " (shot included)"}


def rel_l2_4d(
    est: np.ndarray,
    base: np.ndarray,
    truth: np.ndarray,
    m: np.ndarray,
    scored: np.ndarray | None = None,
) -> float:
    """``||(est - base) - (truth - base)|| / ||truth - base||`` over the changed pairs ``m``
    ``(N,)`` and, where given, the traces ``scored`` ``(N, C)`` (dead baseline channels
    left out, as the NRMS scores leave them)."""
    sel = np.asarray(m, bool)[:, None] & (
        np.ones(est.shape[:2], bool) if scored is None else np.asarray(scored, bool)
    )
    d_true = truth[sel] - base[sel]
    return float(np.linalg.norm(est[sel] - base[sel] - d_true) / max(np.linalg.norm(d_true), 1e-30))


def d4_row(kind: str, method: str, est: np.ndarray, truth: dict) -> dict:
    """The quality row of ``method``'s 4D error: :func:`rel_l2_4d` of its estimate ``est``
    of the monitor earth at the baseline shots' acquisition, over the truth's changed pairs
    with its dead baseline channels left out (NaN where nothing changed)."""
    m, base = truth["changed_pair"], truth["baseline_clean"]
    scored = ~truth["dead"] if "dead" in truth else None
    value = rel_l2_4d(est, base, truth["virtual"], m, scored) if m.any() else np.nan
    return {
        "survey": kind,
        "method": method,
        "zone": "inside",
        "metric": "rel_l2_4d",
        "value": value,
    }


def decoder_4d_row(redatum_nc: Path, truth: dict, kind: str) -> dict:
    """The 4D error of SymAE's ``residual_decoder`` in the redatum run ``redatum_nc`` of a
    ``4d`` pairing, as a quality row of method :data:`DECODER_4D`."""
    d4 = virtual_for_truth(redatum_nc, truth, variable="residual_decoder")
    return d4_row(kind, DECODER_4D, truth["baseline_clean"] + d4, truth)


def parallel_4d_rows(
    monitor: dict[str, np.ndarray], baselines: dict[str, dict], truth: dict, kind: str
) -> list[dict]:
    """The 4D error of every conventional method's parallel differences: its estimate from
    the monitor's shots (``monitor``) minus the same from each baseline pool
    (``baselines``: ``{pool: estimates by the same names}``, pools of :data:`POOLS`), as
    rows of method ``name + POOLS[pool]``."""
    if not truth["changed_pair"].any():
        return []
    base = truth["baseline_clean"]
    return [
        d4_row(kind, name + POOLS[pool], base + est - baseline[name], truth)
        for pool, baseline in baselines.items()
        for name, est in monitor.items()
        if name in baseline
    ]


#: The largest static the conventional methods search (ms).
MAX_LAG_MS = 20.0


def max_lag_samples(dt_ms: float) -> int:
    """:data:`MAX_LAG_MS` in samples of ``dt_ms`` (at least one)."""
    return max(1, int(round(MAX_LAG_MS / dt_ms)))


def equalised_both_ways(reader, truth: dict, *, low_cut_hz: float | None, **kw) -> tuple:
    """The conventional estimates of :func:`~symae_seis.qc.conventional.conventional_estimates`
    (``kw``: its options) from the monitor's shots, and ``{pool: estimates}`` from the
    baseline's own for every pool of :data:`POOLS` (the second terms of
    :func:`parallel_4d_rows`), each also after the swell low-cut at ``low_cut_hz`` where
    given."""
    from ..qc.conventional import conventional_estimates, low_cut_estimates

    out = {}
    for pool in ("monitor", *POOLS):
        out[pool] = conventional_estimates(reader, truth, pool=pool, **kw)
        if low_cut_hz is not None:
            out[pool].update(low_cut_estimates(reader, truth, hz=low_cut_hz, pool=pool, **kw))
    monitor = out.pop("monitor")
    return monitor, out


def conventional_low_cut(entry, truth: dict, hz: float | None) -> float | None:
    """The low-cut the conventional methods run after reading the store: ``hz`` on a
    survey with swell noise, None where the store was low-cut at ingest already (the
    catalog's ``low_cut_hz``) or there is no swell."""
    if getattr(entry, "low_cut_hz", None) is not None or "swell" not in truth:
        return None
    return hz


def rescore_4d(folder: Path, low_cut_hz: float | None = None) -> list[dict]:
    """The 4D rows of this module for an earlier quality run's survey folder (its
    ``catalog.yaml``, ``truth.h5``, store and ``redatum/redatum.nc``), no training: SymAE's
    ``residual_decoder`` and virtual gather, and the conventional methods (e) and (f), plain
    and by their parallel differences, all with dead baseline channels left out."""
    from ..catalog import design_window_samples, load_catalog
    from ..ingest import build_store
    from ..io.store import StoreReader
    from ..qc.conventional import real_gathers_for_truth
    from ..qc.truth import load_truth

    folder = Path(folder)
    kind = folder.name
    truth = load_truth(folder / "truth.h5")
    entry = load_catalog(folder / "catalog.yaml")[kind]
    rows = [decoder_4d_row(folder / "redatum" / "redatum.nc", truth, kind)]
    with StoreReader(build_store(entry)) as reader:
        t, dt = reader.shape[-1], reader.dt_ms
        eq, eq_base = equalised_both_ways(
            reader,
            truth,
            low_cut_hz=conventional_low_cut(entry, truth, low_cut_hz),
            window=slice(*design_window_samples(entry, reader.t0_ms, dt, t)),
            max_lag=max_lag_samples(dt),
            methods=("e", "e_whole", "f"),
            gathers=real_gathers_for_truth(reader, truth),
        )
    plain = {**eq, "SymAE virtual": virtual_for_truth(folder / "redatum" / "redatum.nc", truth)}
    rows += [d4_row(kind, name, est, truth) for name, est in plain.items()]
    return rows + parallel_4d_rows(eq, eq_base, truth, kind)
