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
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

from symae_seis.qc.dvv import daily_dvv, pairwise_dvv, stretch
from symae_seis.synth.passive import PassiveParams

sys.path.insert(0, str(Path(__file__).resolve().parent))
from passive import stacks_in_memory  # noqa: E402

CODA, MAX_LAG_S = (2.0, 12.0), 20.0


def stacks_of(p: PassiveParams, oracle: bool):
    """Daily stacks ``(days, pairs, lags)``: recorded (whitened correlations), or with
    ``oracle`` each source's share correlated with itself alone; the truth; the lags."""
    stacks, truth, lags = stacks_in_memory(p, MAX_LAG_S, oracle=oracle)
    return stacks["no_cross_terms" if oracle else "anchor"], truth, lags


def rms(est: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((est - est.mean() - truth + truth.mean()) ** 2)))


def slope(est: np.ndarray, truth: np.ndarray) -> float:
    return float(np.polyfit(truth - truth.mean(), est - est.mean(), 1)[0])


def _aligned(stack: np.ndarray, eps: float, lags: np.ndarray) -> np.ndarray:
    # stretch's convention: cur(t) ~ ref(t (1 + eps)), so ref(t) ~ cur(t / (1 + eps))
    pos = np.clip(lags / (1 + eps), lags[0], lags[-1])
    return CubicSpline(lags, stack, axis=-1)(pos)


def iterated_reference(stacks: np.ndarray, lags: np.ndarray, band, rounds: int = 4
                       ) -> np.ndarray:
    """Each day against the mean of the other days, each re-aligned by its own estimate;
    ``rounds`` times, starting from the plain mean of the other days."""
    est = daily_dvv(stacks, lags, coda_s=CODA, band_hz=band)["dvv"]
    for _ in range(rounds):
        aligned = np.stack([_aligned(s, e, lags) for s, e in zip(stacks, est)])
        total = aligned.sum(axis=0)
        est = np.array([stretch(stacks[d], (total - aligned[d]) / (len(stacks) - 1), lags,
                                coda_s=CODA)[0] for d in range(len(stacks))])
        est -= est.mean()
    return est


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window-s", type=float, default=40.0)
    ap.add_argument("--noise-seed", type=int, default=0)
    args = ap.parse_args()
    p = replace(PassiveParams(stations=5, days=12, drop_day=7, seed=3),
                window_s=args.window_s, noise_seed=args.noise_seed)
    t0 = time.perf_counter()
    for name, q, oracle in (("anchor", p, False),
                            ("both oracles", replace(p, repeat_sources=True), True)):
        st, truth, lags = stacks_of(q, oracle)
        others = daily_dvv(st, lags, coda_s=CODA, band_hz=p.band_hz)["dvv"]
        mean = daily_dvv(st, lags, coda_s=CODA, band_hz=p.band_hz, reference="mean")["dvv"]
        pairs = pairwise_dvv(st, lags, coda_s=CODA, band_hz=p.band_hz)["dvv"]
        print(f"{args.window_s:g} s windows, noise seed {args.noise_seed}, {name:12s}: "
              f"others {rms(others, truth):.2e} (slope {slope(others, truth):.2f}), "
              f"mean {rms(mean, truth):.2e} (slope {slope(mean, truth):.2f}), "
              f"iterated {rms(iterated_reference(st, lags, p.band_hz), truth):.2e}, "
              f"all-pairs {rms(pairs, truth):.2e} (slope {slope(pairs, truth):.2f}) "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
