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
    python scripts/bench/quality.py --zoo 12                  # 12 zoo draws, their distribution
    python scripts/bench/quality.py --zoo 6 --zoo-start 6     # draws 6-11 (another process)
    python scripts/bench/quality.py --zoo-report              # the distribution of both

With ``--zoo N`` the surveys are draws of :mod:`symae_seis.synth.zoo` (physics drawn over the
ranges a processor meets; the design window from each draw's reservoir depth), and the last
lines give, per draw and as a distribution, SymAE / the best conventional method outside and
inside the zone and on the 4D error, SymAE's reconstruction NRMS of its own recorded shots
(whole gathers, far quarter of the channels, late half of the record), and
``zoo_outside_ratio_median= zoo_outside_ratio_worst= zoo_d4_ratio_worst=``.

SymAE's 4D error is scored twice: ``virtual - baseline`` (method ``SymAE virtual``) and its
``residual_decoder`` (method ``SymAE residual_decoder``; the zoo's ratio uses it).
The conventional methods (e) and (f) are also scored by their parallel difference (the
monitor's shots equalised to the baseline shot, minus the baseline's own equalised the same
way; ``symae_seis.bench.difference4d``). ``--rescore-4d`` adds these 4D rows to an earlier
run's folders (every ``<survey>/truth.h5`` with its ``redatum/redatum.nc`` under
``--out``) as ``quality_decoder4d.csv``, no training.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import torch

from symae_seis.bench.options import add_model_option, marine_options, model_options
from symae_seis.bench.quality import plot, run_4d, run_statics, table
from symae_seis.bench.surveys import SURVEYS
from symae_seis.bench.zoo import zoo_summary


def _device_name() -> str:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--surveys", nargs="+", default=list(SURVEYS), choices=SURVEYS)  # or --zoo
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
    ap.add_argument(
        "--zoo",
        type=int,
        default=0,
        metavar="N",
        help="run N draws of the survey zoo (symae_seis.synth.zoo) instead of --surveys, "
        "the design window from each draw's reservoir depth; print their distribution last",
    )
    ap.add_argument(
        "--zoo-start", type=int, default=0, metavar="K", help="the first zoo draw (default 0)"
    )
    ap.add_argument(
        "--zoo-report",
        action="store_true",
        help="only print the zoo distribution of every quality*.csv under --out",
    )
    ap.add_argument(
        "--rescore-4d",
        action="store_true",
        help="only re-score the 4D errors (residual_decoder, the conventional methods plain "
        "and by parallel difference) of the survey folders under --out, no training",
    )
    add_model_option(ap, "override a shipped model option (repeatable), e.g. filter_shift=true")
    ap.add_argument(
        "--marine",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a marine4d survey option (repeatable; symae_seis.synth.marine.Marine4DParams), "
        "e.g. shots_per_bin=2 or positioning_m=[0,25]",
    )
    args = ap.parse_args()
    marine = marine_options(ap, args.marine)
    if args.zoo_report:
        rows = []
        for f in sorted(args.out.glob("**/quality*.csv")):
            with open(f, newline="") as fh:
                rows += list(csv.DictReader(fh))
        print(zoo_summary(rows))
        return
    cols = ["survey", "method", "zone", "metric", "value", "seed", "design_window_ms"]
    if args.rescore_4d:
        rescore_4d(args.out, cols)
        return
    if args.zoo:
        args.surveys = [f"zoo{k}" for k in range(args.zoo_start, args.zoo_start + args.zoo)]
    overrides = model_options(ap, args.model)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in args.surveys:
        kw = {"model": overrides, "precision": args.precision}
        if s == "marine4d":
            kw["survey_options"] = marine
        rows += (
            run_statics(args.out, args.epochs, args.small, args.seed, **kw)
            if s == "statics"
            else run_4d(s, args.out, args.epochs, args.small, args.seed, **kw)
        )
        name = f"quality_zoo{args.zoo_start}.csv" if args.zoo else "quality.csv"
        with open(args.out / name, "w", newline="") as fh:  # after every survey
            w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    print(table(rows))
    if args.zoo:
        print(zoo_summary(rows))
        return
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


def rescore_4d(out: Path, cols: list[str]) -> None:
    """The 4D rows of :func:`symae_seis.bench.difference4d.rescore_4d` for every 4D survey
    folder under ``out`` (a ``catalog.yaml`` and ``redatum/redatum.nc`` beside its
    ``truth.h5``; the statics survey has no 4D difference), printed and written to
    ``out/quality_decoder4d.csv`` with the run's seed."""
    from symae_seis.bench.difference4d import rescore_4d as rescore
    from symae_seis.bench.quality import SWELL_LOW_CUT_HZ

    rows = []
    for truth_h5 in sorted(out.glob("**/truth.h5")):
        folder = truth_h5.parent
        if folder.name == "statics" or not (folder / "redatum" / "redatum.nc").is_file():
            print(f"{folder}: not a 4D quality run's survey folder, left out")
            continue
        seed = next(
            (r["seed"] for f in folder.parent.glob("quality*.csv") for r in csv.DictReader(open(f))
             if r["survey"] == folder.name and r.get("seed")),
            "",
        )  # fmt: skip
        for row in rescore(folder, SWELL_LOW_CUT_HZ):
            print(f"{row['survey']}: {row['method']} 4D error {row['value']:.3f}")
            rows.append({**row, "seed": seed})
    if not rows:
        raise SystemExit(f"{out}: no 4D survey folder (truth.h5 with redatum/) under it")
    with open(out / "quality_decoder4d.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
