"""Benchmark: hourly dv/v on one real day of noise with a known change injected.

The day: three stations of the YA network on Piton de la Fournaise (UnderVolc, RESIF),
2010-09-01, 100 Hz vertical, as MSNoise 1.6.5's wheel ships it for its tests (fetched with
``pip download msnoise==1.6.5 --no-deps`` into ``$SYMAE_SEIS_CACHE`` or
``~/.cache/symae-seis`` at run time, never committed; or ``--wheel`` a downloaded wheel).
Every station's record is resampled on a clock running ``1 + dv/v`` times as fast
(``symae_seis.bench.real_noise``), which stretches every correlation lag by the same factor:
``none`` (no change: the scatter a method reads on real noise), ``step`` (-1e-3 from hour
12) and ``ramp`` (0 to -1e-3 over the day). The injected files are ingested with the
catalog (``datapoint_by: hour``, 120 s windows at 10 Hz, whitened in 1-4 Hz) and scored
hour by hour against the injected curve, both curves without their mean:

* anchor: the hourly stacks, each stretched against the mean of the other hours (coda
  5-25 s; band, coda and window chosen on ``none``, where the truth is 0);
* SymAE: trained on the windows (datapoint = hour), every window redatumed onto the mean
  nuisance code, the hour's virtual windows stacked and stretched the same way.

Prints, for each change, RMS error, slope (gain of the estimate on the truth), residual
after that linear fit, the hour of the largest drop and the mean correlation after
stretching, with a figure ``passive_real.png``; last ``dvv_ratio_real=`` (SymAE / anchor
RMS on the step), ``dvv_ratio_real_ramp=`` and ``dvv_ratio_real_none=``.

    python scripts/bench/passive_real.py   # none, step, ramp (3 trainings; CPU: an hour)
    python scripts/bench/passive_real.py --kinds step --epochs 5
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from symae_seis.bench.options import add_model_option, model_options
from symae_seis.bench.real_noise import SOURCE, RealNoiseError, run_real
from symae_seis.errors import SymaeError

KINDS = ("none", "step", "ramp")


def figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.2), squeeze=False)
    for ax, (kind, res) in zip(axes[0], results.items()):
        truth = np.asarray(res["truth"])
        hours = np.arange(truth.size) + 0.5
        ax.plot(hours, 1e3 * (truth - truth.mean()), "k-", lw=2, label="injected")
        for (name, r), c in zip(res["rows"].items(), ("tab:blue", "tab:red")):
            est = np.asarray(r["dvv"])
            ax.plot(hours, 1e3 * (est - est.mean()), "o-", ms=3, c=c, label=name)
        ax.set(title=kind, xlabel="hour of 2010-09-01 (UTC)", ylabel="dv/v (1e-3)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("out/bench_passive_real"))
    ap.add_argument("--cache", type=Path, default=None, help="where the day is kept")
    ap.add_argument("--wheel", type=Path, default=None, help="MSNoise 1.6.5's wheel, downloaded")
    add_model_option(ap, "set a model option (repeatable)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("lightning", "lightning.pytorch", "symae_seis.training", "symae_seis.ingest"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    options = model_options(ap, args.model)
    out = args.out.resolve()
    print(f"data: {SOURCE}")
    results = {}
    try:
        for kind in args.kinds:
            results[kind] = run_real(
                out, kind, epochs=args.epochs, cache=args.cache, wheel=args.wheel, options=options
            )
    except RealNoiseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SymaeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(
        f"{'change':6s} {'method':14s} {'RMS':>9s} {'slope':>6s} {'residual':>9s} "
        f"{'drop hour':>9s} {'mean cc':>8s}"
    )
    for kind, res in results.items():
        for name, r in res["rows"].items():
            print(
                f"{kind:6s} {name:14s} {r['rms']:9.2e} {r['slope']:6.2f} {r['residual']:9.2e} "
                f"{r['drop_at']:9d} {r['cc']:8.2f}"
            )
        print(f"{kind:6s} data+ingest {res['t_data']:.0f} s, SymAE training {res['t_train']:.0f} s")
    (out / "passive_real.json").write_text(json.dumps(results))
    figure(results, out / "passive_real.png")
    for kind, res in results.items():
        rows = res["rows"]
        ratio = rows["SymAE 1-hour"]["rms"] / rows["anchor 1-hour"]["rms"]
        suffix = "" if kind == "step" else f"_{kind}"
        print(f"dvv_ratio_real{suffix}={ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
