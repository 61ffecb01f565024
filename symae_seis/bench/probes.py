"""Disentanglement probes of the quality benchmark: what the nuisance codes know of the
known acquisition (linear probes), of the survey label inside and outside the changed
zone, and whether the coherent part depends on which instances a bag holds."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch

from ..io.store import StoreReader

__all__ = ["nuisance_targets", "disentanglement"]


def nuisance_targets(truth_h5: Path, reader: StoreReader) -> dict[str, np.ndarray]:
    """Known acquisition parameters of every store instance (NaN where unknown)."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(truth_h5, "r") as h5:
        if "nuisance" not in h5:
            return out
        for s, label in enumerate(reader.surveys):
            if label not in h5["nuisance"]:
                continue
            g = h5["nuisance"][label]
            fr = g["fieldrecord"][:] if "fieldrecord" in g else None
            for name in g:
                if name == "fieldrecord":
                    continue
                vals = g[name][:]
                arr = out.setdefault(name, np.full(reader.shape[0], np.nan))
                rows = np.flatnonzero(reader.survey == s)
                if fr is not None:
                    pos = {int(f): i for i, f in enumerate(fr)}
                    for r in rows:
                        arr[r] = vals[pos[int(reader.instance_key[r])]]
                elif len(vals) == rows.size:
                    arr[rows] = vals
        offsets = h5["offsets"][:] if "offsets" in h5 else None
    if "amp" in out:
        out["log_amp"] = np.log(out.pop("amp"))
    if "water_static_ms" in out and offsets is not None and offsets.max() > 0:
        # what a gather shows as its bulk static: the shot static plus the water static's
        # mean over the gather's offsets (0.5 (1 + (h / h_max)^2) of it at offset h)
        share = float(np.mean(0.5 * (1 + (offsets / offsets.max()) ** 2)))
        out["bulk_static_ms"] = out["static_ms"] + share * out["water_static_ms"]
    if "source_x_m" in out:
        # the location is the datapoint; the nuisance is where a shot stood around it
        out["source_jitter_m"] = _within(
            out.pop("source_x_m"), reader.dp_key[reader.datapoint][:, 0]
        )
    return out


def _within(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``values`` less the mean of their group (rows; NaN, unknown, left out of it)."""
    out = np.array(values, dtype=np.float64, copy=True)
    for g in np.unique(groups):
        out[groups == g] -= np.nanmean(out[groups == g], axis=0)
    return out


def disentanglement(
    model,
    reader: StoreReader,
    truth_h5: Path,
    virtual: np.ndarray,
    recon: np.ndarray,
    base_real: np.ndarray,
    truth: dict,
    win: slice,
) -> dict[str, float]:
    from symae_seis.qc import disentangle as Q
    from symae_seis.qc.metrics import gather_nrms
    from symae_seis.redatum import nuisance_codes

    m = truth["changed_pair"]
    out = {
        "swap_gap": Q.swap_gap(
            gather_nrms(virtual, truth["virtual"]), gather_nrms(recon, base_real)
        )
    }
    if m.any():
        out["overburden_shift_samples"] = Q.overburden_shift(virtual[m], truth["virtual"][m], win)
    codes = nuisance_codes(model, reader, np.arange(reader.shape[0]))
    # the filter decoder reads a code only through its filter parameters: probes of those
    # say what the decoder uses; dimensions it ignores may carry anything
    spaces = {"": codes}
    if model.is_filter:
        with torch.no_grad():
            dev = next(model.parameters()).device
            spaces["_params"] = (
                model.filter_params(torch.from_numpy(codes).to(dev)).double().cpu().numpy()
            )
    targets = nuisance_targets(truth_h5, reader)
    changed_dp = np.isin(reader.dp_key[:, 0], truth["virtual_cdp"][m])
    zones = {}
    if changed_dp.any() and not changed_dp.all():
        inside = changed_dp[reader.datapoint]
        zones = {"inside": inside, "outside": ~inside}
    for suffix, feats in spaces.items():
        for name, target in targets.items():
            ok = np.isfinite(target)
            if ok.sum() > 10 and np.std(target[ok]) > 0:
                out[f"probe_r2_{name}{suffix}"] = Q.probe_r2(feats[ok], target[ok])
                # within a location: a shot's parameter against the other shots of its
                # datapoint (one earth). One gather cannot tell a static from the earth's
                # own timing, so the absolute probe also scores how well the encoder
                # guesses each location's mean; this one scores the disentanglement
                dp = reader.datapoint[ok]
                out[f"probe_r2_{name}_within{suffix}"] = Q.probe_r2(
                    _within(feats[ok], dp), _within(target[ok], dp)
                )
        for zone, sel in zones.items():
            out[f"probe_survey_{zone}{suffix}_pct"] = Q.probe_accuracy(
                feats[sel], reader.survey[sel]
            )
    spaces_bag = {"coherent": "bag_invariance_pct", "data": "bag_invariance_data_pct"}
    bags: dict[str, list[float]] = {space: [] for space in spaces_bag}
    for mem in reader.members:
        if len(mem) >= 4:
            gathers = reader.read(mem)  # once for both spaces
            geo = reader.geometry(mem) if model.geometry_dim else None
            for space in spaces_bag:
                bags[space].append(Q.bag_invariance(model, gathers, space=space, geometry=geo))
    for space, key in spaces_bag.items():
        out[key] = float(np.median(bags[space]))
    return out
