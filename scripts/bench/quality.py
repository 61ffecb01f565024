"""Benchmark: redatuming quality against ground truth, SymAE vs conventional 4D processing.

For each synthetic survey (convolutional ``conv4d``, wave-equation ``wave4d``; and the
deepwater-statics survey) the script generates the survey, ingests it, trains SymAE for a
fixed budget, redatums, and compares against the truth (the monitor earth recorded with
each baseline shot's exact acquisition):

* raw monitor (a monitor shot at the same location, no correction);
* (a) static + RMS scalar, (b) global Wiener matching filter, (c) trace-by-trace
  matching filters smoothed along the key, (d) DTW then (c) - each matching one monitor
  shot to the baseline shot in the no-change design window (above the first sample
  where the truth's 4D difference exceeds 5 % of its largest);
* (e) every monitor shot of the location equalised to the baseline shot (per-trace
  static + scalar, one least-squares matching filter per shot pair) and stacked: the
  strongest conventional method; also designed on the whole trace (best outside the
  changed zone, where nothing changes);
* SymAE virtual gathers (coherent monitor gather + nuisance code of the baseline shot),
  trained with the shipped defaults (``symae_seis/configs/demo4d.yaml``), only the
  dataset changed, redatumed with the shipped defaults (codes fitted to the recorded
  gathers), with 16 bootstrap bags for ``virtual_std`` (its calibration: the percentage
  of truth samples within +-2 sigma, ``calib_2sigma_pct``).

Printed and written to ``quality.csv`` (long format: survey, method, zone, metric,
value): median whole-gather and live-trace NRMS inside and outside the changed zone,
relative L2 error of the 4D difference inside, the mean time shift of the unchanged
overburden inside the zone (samples), wall time; for SymAE the disentanglement checks
of :mod:`symae_seis.qc.disentangle` (swap gap, linear probes of the nuisance code,
survey-label probe inside the zone, bag invariance). For the statics survey: residual
time shifts against the truth (the shot recorded with the reference water velocity),
raw, after (a) and after SymAE's common-reference redatuming. ``quality.png``: whole-
gather NRMS per method.

    python scripts/bench/quality.py                   # default sizes and budget (CPU)
    python scripts/bench/quality.py --surveys conv4d          # one survey
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import torch

from symae_seis.bench.options import add_model_option, model_options
from symae_seis.bench.quality import plot, run_4d, run_statics, table
from symae_seis.bench.surveys import SURVEYS


def _device_name() -> str:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--surveys", nargs="+", default=list(SURVEYS), choices=SURVEYS)
    ap.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="SymAE training epochs per survey (default: the shipped config's)",
    )
    ap.add_argument("--small", action="store_true", help="tiny surveys (a quick look)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("out/bench_quality"))
    ap.add_argument(
        "--precision",
        default="32-true",
        help="Lightning precision for training, e.g. bf16-mixed on a GPU (default: 32-true)",
    )
    add_model_option(ap, "override a shipped model option (repeatable), e.g. filter_shift=true")
    args = ap.parse_args()
    overrides = model_options(ap, args.model)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    cols = ["survey", "method", "zone", "metric", "value", "seed", "design_window_ms"]
    for s in args.surveys:
        kw = {"model": overrides, "precision": args.precision}
        rows += (
            run_statics(args.out, args.epochs, args.small, args.seed, **kw)
            if s == "statics"
            else run_4d(s, args.out, args.epochs, args.small, args.seed, **kw)
        )
        with open(args.out / "quality.csv", "w", newline="") as fh:  # after every survey
            w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    print(table(rows))
    plot(rows, args.out / "quality.png")
    print(f"seed {args.seed}; wrote {args.out / 'quality.csv'} and {args.out / 'quality.png'}")
    print(
        json.dumps(
            {
                "surveys": args.surveys,
                "epochs": args.epochs,
                "small": args.small,
                "precision": args.precision,
                "device": _device_name(),
            }
        )
    )


if __name__ == "__main__":
    main()
