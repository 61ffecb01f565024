"""Diagnostic: how much two clean shots of the towed-streamer survey fired at the same
place differ once one matching filter has done what it can: the part of the acquisition
(water velocity, feathering) that no filter of the whole gather expresses.

From the truth of ``symae-synth marine4d`` (noise free): each baseline shot's virtual
gather (the monitor's earth, recorded with that shot's acquisition) against the clean
monitor shot nearest in source position, after one least-squares Wiener filter of
``--taps`` samples for the whole gather (``baselines.global_matching_filter``, method (b)
of the quality benchmark: the wavelet, phase, timing and gain are its part); and, for
contrast, pairs of virtual gathers of one bin (one acquisition's differences plus their
separation). The median whole-gather NRMS (%) per distance is
printed (``docs/decisions/field-geometry.md``).

    python scripts/bench/marine_acquisition.py out/marine4d/truth.h5
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import h5py
import numpy as np

from symae_seis.baselines import global_matching_filter
from symae_seis.qc.metrics import gather_nrms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("truth", help="truth.h5 of a marine4d survey")
    ap.add_argument("--taps", type=int, default=21)
    ap.add_argument("--step", type=float, default=5.0, help="distance classes (m)")
    args = ap.parse_args()
    with h5py.File(args.truth, "r") as h:
        virtual, clean = h["virtual"][:], h["monitor_clean"][:]
        bins = h["virtual_cdp"][:]
        bx, mx = h["nuisance/baseline/source_x"][:], h["nuisance/monitor/source_x"][:]

    def matched(target: np.ndarray, source: np.ndarray) -> np.ndarray:
        return global_matching_filter(source, target, length=args.taps)[0]

    near = defaultdict(list)
    for i, g in enumerate(virtual):
        j = int(np.argmin(np.abs(mx - bx[i])))
        d = args.step * round(abs(mx[j] - bx[i]) / args.step)
        near[d].append(float(gather_nrms(g, matched(g, clean[j]))))
    pairs = defaultdict(list)
    for b in np.unique(bins):
        idx = np.flatnonzero(bins == b)
        for n, i in enumerate(idx):
            for j in idx[n + 1 :]:
                d = args.step * round(abs(bx[i] - bx[j]) / args.step)
                g = virtual[i]
                pairs[d].append(float(gather_nrms(g, matched(g, virtual[j]))))
    print("distance (m)  shots  NRMS (%): virtual gather against the nearest clean monitor shot")
    for d in sorted(near):
        print(f"{d:12.0f} {len(near[d]):6d} {np.median(near[d]):9.1f}")
    print("distance (m)  pairs  NRMS (%): two virtual gathers of one bin")
    for d in sorted(pairs):
        print(f"{d:12.0f} {len(pairs[d]):6d} {np.median(pairs[d]):9.1f}")
    same = near.get(0.0, [np.nan])
    print(f"same_place_nrms={np.median(same):.1f}")


if __name__ == "__main__":
    main()
