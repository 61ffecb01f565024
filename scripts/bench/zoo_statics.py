"""Diagnostic: what a per-trace static and gain (the filter family's per-trace terms)
leave of a water-velocity change on the zoo's draws, by part of the gather.

A shot of each draw's earth is recorded with and without the draw's largest water-velocity
change, everything else equal; the best sub-sample static and gain per trace map one onto
the other; the NRMS (%) left is printed for the whole gather, each quarter of the channels
(the far offsets last) and each half of the record. A pure per-trace shift is fitted
exactly; what is left is the part of the water static that varies along the trace (each
event's own water path). ``--warp-order K`` fits a shift polynomial in time instead;
``--oracle-warp`` moves every sample by the exact shift of the event nearest to it in
time (the truth): what is left then is where events of different ray parameters overlap.
``--signature`` asks the other question: what the shot filter's spectral terms leave of
a change of source signature alone (per draw: 6 terms zero-phase, the shipped family, and
24 / 48 / 96 terms minimum-phase). ``--rank`` asks what learned coherent terms could do
(``SymAEConfig.coherent_terms``): 9 shots differing only by their water velocity,
approximated by 1, 2 or 3 gathers with a coordinate per shot (no static fitted).

    python scripts/bench/zoo_statics.py --draws 12
"""

from __future__ import annotations

import argparse

from symae_seis.bench.zoo import (
    PARTS,
    oracle_warp_residual,
    rank_residual,
    signature_fit_residual,
    static_fit_residual,
    warp_fit_residual,
)
from symae_seis.synth.zoo import draw_zoo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=12)
    ap.add_argument(
        "--warp-order",
        type=int,
        default=None,
        metavar="K",
        help="instead of a static, a per-trace shift polynomial in time of order K "
        "(least squares, slow: about 10 s a draw)",
    )
    ap.add_argument(
        "--oracle-warp",
        action="store_true",
        help="instead of a static, the exact shift of the nearest event at every sample",
    )
    ap.add_argument(
        "--signature",
        action="store_true",
        help="what the spectral terms leave of shot-to-shot source-signature changes",
    )
    ap.add_argument(
        "--rank",
        action="store_true",
        help="what 1, 2 or 3 coherent gathers with a coordinate per shot leave of the "
        "water-velocity changes",
    )
    args = ap.parse_args()
    if args.rank:
        print(f"{'draw':6} {'depth m':>8} {'dv m/s':>7} {'rank 1':>7} {'rank 2':>7} {'rank 3':>7}")
        for k in range(args.draws):
            d = draw_zoo(k)
            r = rank_residual(d)
            print(
                f"zoo{k:<3} {d.water_depth_m:8.0f} {d.water_dv_range[1]:7.1f} "
                + " ".join(f"{r[j]:7.1f}" for j in (1, 2, 3))
            )
        return
    if args.signature:
        families = [(6, False), (24, True), (48, True), (96, True)]
        names = [f"{k}{'mp' if mp else 'zp'}" for k, mp in families]
        print(f"{'draw':6} {'wavelet':8} " + " ".join(f"{n:>6}" for n in names))
        for k in range(args.draws):
            d = draw_zoo(k)
            r = [signature_fit_residual(d, t, min_phase=mp) for t, mp in families]
            print(f"zoo{k:<3} {d.wavelet:8} " + " ".join(f"{v:6.1f}" for v in r))
        return
    if args.oracle_warp and args.warp_order is not None:
        ap.error("--oracle-warp and --warp-order are two different fits: give one")
    print(f"{'draw':6} {'depth m':>8} {'dv m/s':>7} " + " ".join(f"{p:>6}" for p in PARTS))
    for k in range(args.draws):
        d = draw_zoo(k)
        if args.oracle_warp:
            r = oracle_warp_residual(d)
        elif args.warp_order is not None:
            r = warp_fit_residual(d, args.warp_order)
        else:
            r = static_fit_residual(d)
        print(
            f"zoo{k:<3} {d.water_depth_m:8.0f} {d.water_dv_range[1]:7.1f} "
            + " ".join(f"{r[p]:6.1f}" for p in PARTS)
        )


if __name__ == "__main__":
    main()
