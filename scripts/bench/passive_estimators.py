"""Benchmark: does the dv/v estimator, not the data, set the passive floor?

On the small passive survey (``--window-s``, ``--noise-seed``) it builds the anchor's daily
stacks and the oracle stacks of ``passive.py --floor`` (sources repeated day to day, cross
terms between sources removed), and measures dv/v from both with four conventional
estimators: stretching against the mean of the other days (``qc.dvv.daily_dvv``'s
default) and against the mean of all days, a reference re-aligned by each day's estimate
and iterated, and the all-pairs inversion of Brenguier et al. (2014), ``qc.dvv.pairwise_dvv``:
the stretch between every two days, inverted by weighted least squares for one dv/v per
day. Prints the RMS error against the truth (each curve's mean removed) and, beside three
of them, the slope of estimate on truth (1: unbiased).

    python scripts/bench/passive_estimators.py --window-s 160 --noise-seed 0
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from symae_seis.bench.passive import rms
from symae_seis.bench.passive_estimators import CODA, iterated_reference, slope, stacks_of
from symae_seis.qc.dvv import daily_dvv, pairwise_dvv
from symae_seis.synth.passive import PassiveParams


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window-s", type=float, default=40.0)
    ap.add_argument("--noise-seed", type=int, default=0)
    args = ap.parse_args()
    p = replace(
        PassiveParams(stations=5, days=12, drop_day=7, seed=3),
        window_s=args.window_s,
        noise_seed=args.noise_seed,
    )
    t0 = time.perf_counter()
    for name, q, oracle in (
        ("anchor", p, False),
        ("both oracles", replace(p, repeat_sources=True), True),
    ):
        st, truth, lags = stacks_of(q, oracle)
        others = daily_dvv(st, lags, coda_s=CODA, band_hz=p.band_hz)["dvv"]
        mean = daily_dvv(st, lags, coda_s=CODA, band_hz=p.band_hz, reference="mean")["dvv"]
        pairs = pairwise_dvv(st, lags, coda_s=CODA, band_hz=p.band_hz)["dvv"]
        print(
            f"{args.window_s:g} s windows, noise seed {args.noise_seed}, {name:12s}: "
            f"others {rms(others, truth):.2e} (slope {slope(others, truth):.2f}), "
            f"mean {rms(mean, truth):.2e} (slope {slope(mean, truth):.2f}), "
            f"iterated {rms(iterated_reference(st, lags, p.band_hz), truth):.2e}, "
            f"all-pairs {rms(pairs, truth):.2e} (slope {slope(pairs, truth):.2f}) "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
