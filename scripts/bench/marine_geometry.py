"""Diagnostic: how much the shots of one bin of the towed-streamer survey differ because
they were fired at different places, and what terms in the shot's position explain.

Clean shots of marine4d's earth (``symae_seis.synth.marine``; 16 bins of 4 shots, the
monitor's positioning errors) that differ only by their source position: no wavelet,
phase, timing, gain, water-velocity or feathering change, no noise. Per bin (three shots
or more) the gathers are fitted by least squares with a polynomial of order 0, 1 or 2 in
the shot's position from the bin's mean (order 0: one common gather, what a model whose
coherent part is one gather can do at best; order 1: ``SymAEConfig.geometry_terms``);
the median whole-gather NRMS (%) left over the bins is printed last.

    python scripts/bench/marine_geometry.py
"""

from __future__ import annotations

import argparse

import numpy as np

from symae_seis.qc.metrics import gather_nrms
from symae_seis.synth.marine import Marine4DParams, _acquisition, _shoot, marine_models


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bins", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    p = Marine4DParams(
        n_bins=args.bins,
        lens_bins=(args.bins // 3, args.bins // 3 + 4),
        freq_range=(21.0, 21.0),
        phase_range_deg=(0.0, 0.0),
        timing_ms=(0.0, 0.0),
        gain_range=(1.0, 1.0),
        water_spread=0.0,
        feather=0.0,
        seed=args.seed,
    )
    v, _, water = marine_models(p)
    acq = _acquisition(p, np.random.default_rng([20261206, p.seed]))["monitor"]
    x = _shoot(v, water, p, acq).astype(np.float64)
    sx = acq["source_x"]
    bins = np.floor(sx / p.bin_m).astype(int)
    left: dict[int, list[float]] = {0: [], 1: [], 2: []}
    print(f"{'bin':>4} {'shots':>5} {'spread m':>8} {'order 0':>8} {'order 1':>8} {'order 2':>8}")
    for b in np.unique(bins):
        i = np.flatnonzero(bins == b)
        if len(i) < 3:
            continue
        d = (sx[i] - sx[i].mean()) / (0.5 * p.bin_m)
        g = x[i].reshape(len(i), -1)
        row = []
        for order in (0, 1, 2):
            a = np.stack([d**j for j in range(order + 1)], axis=1)
            coef, *_ = np.linalg.lstsq(a, g, rcond=None)
            row.append(float(np.median(gather_nrms((a @ coef).reshape(x[i].shape), x[i]))))
            left[order].append(row[-1])
        print(f"{b:4d} {len(i):5d} {np.ptp(sx[i]):8.1f} " + " ".join(f"{r:8.1f}" for r in row))
    print("median NRMS left: " + " ".join(f"order_{k}={np.median(v):.1f}" for k, v in left.items()))


if __name__ == "__main__":
    main()
