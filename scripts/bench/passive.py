"""Benchmark: dv/v from a passive survey, SymAE against noise interferometry (first version).

Generates the synthetic passive survey (``symae_seis.synth.passive``), ingests it as
station-pair cross-correlations (``correlate: {max_lag_s}``), and measures dv/v day by day
against the truth:

* anchor: the daily stacks of the correlations (1-day, and 5-day moving stacks),
  each stretched against the mean of the days it does not contain
  (``symae_seis.qc.dvv.daily_dvv``; the mean of all days, MSNoise's usual reference,
  holds the day itself and shrinks dv/v towards 0 on a record this short: shown as
  ``anchor 1-day, mean ref``; the all-pairs inversion, no reference at all, as
  ``anchor 1-day, all pairs``);
* SymAE: trained on the correlation windows (datapoint = day), every window redatumed
  onto the mean nuisance code (a virtual, repeatable source), the day's virtual gathers
  averaged and stretched the same way (and by the all-pairs inversion).

Errors are RMS over days against the truth after removing each curve's mean (stretching
measures dv/v up to a constant).

With ``--floor K`` it also measures what removing the nuisance could gain at most, on K
further noise fields through the same medium (``noise_seed``), correlated in memory: the
anchor on each, and on its twin whose days all repeat one sequence of source strengths and
spectra (``repeat_sources``: only the random phases differ from day to day, the nuisance of
a perfectly repeatable virtual source). The ratio of the two (RMS over the K draws) is the
best a redatuming that leaves the day's random-phase noise to the stack can reach. A third
twin records four times as many windows a day: if the error is the sampling noise of the
day's windows it halves. Last, an oracle: the anchor on correlations without the cross terms
between noise sources (each source's share of the record correlated with itself alone), on
the survey and on its repeated-source twin.

Prints RMS dv/v errors, the day where each finds the sudden drop, wall times, and last
``dvv_rms_symae_1day=<x>`` and ``dvv_rms_anchor_1day=<y>``.

    python scripts/bench/passive.py                  # 8 stations x 30 days (CPU: long)
    python scripts/bench/passive.py --small          # 5 stations x 12 days, quick look
    python scripts/bench/passive.py --small --floor 8 --floor-only   # the floor alone
    python scripts/bench/passive.py --nonstationary --admission-only  # issue 30's gate
    python scripts/bench/passive.py --nonstationary --choose-anchor 100  # the anchor's options

With ``--nonstationary`` the survey has non-stationary sources
(``symae_seis.synth.passive.nonstationary``), and before anything else the anchor is run on
its twins (``bench.passive.admission``): it is admitted for tuning when the anchor's
apparent dv/v on the twin without change is at least twice its error on the stationary
twin, and the repeated-source floor at most 0.35 of its error on the survey.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from symae_seis.bench.options import add_model_option, model_options
from symae_seis.bench.passive import (
    admission,
    anchor_rms,
    bootstrap_ratio,
    max_lag_for,
    run_survey,
    windows_in_memory,
)
from symae_seis.bench.passive_floor import report_floor
from symae_seis.io.atomic import atomic_path
from symae_seis.qc.anchor import (
    AnchorSettings,
    choose_anchor,
    choose_window_options,
    window_stacks,
)
from symae_seis.qc.dvv import DvvError
from symae_seis.synth.passive import PassiveParams, nonstationary, twins


def fields(args, p: PassiveParams, out: Path, options: dict, anchor) -> None:
    """The anchor and SymAE on noise fields ``--fields-from``..K; the median ratio and its
    bootstrap. A field whose ``field<seed>/field.json`` exists (a run finished before,
    e.g. in another process) is read back, not run again."""
    key = "1-day" if anchor is None else "1-day, chosen"
    # what a field's result depends on besides its noise seed: a field read back must
    # have been run with the same
    run_settings = json.loads(
        json.dumps(
            {
                "survey": {k: v for k, v in asdict(p).items() if k != "noise_seed"},
                "epochs": args.epochs,
                "decoder": args.decoder,
                "options": options,
                "anchor": None if anchor is None else asdict(anchor),
            },
            default=str,
        )
    )
    runs = []
    for seed in range(args.fields_from, args.fields + 1):
        done = out / f"field{seed}" / "field.json"
        if done.is_file():
            back = json.loads(done.read_text())
            if back.get("settings") != run_settings:
                raise SystemExit(
                    f"{done}: that field was run with other settings (survey, epochs, "
                    "decoder, model options or anchor); remove it or use another --out"
                )
            runs.append(back)
            print(f"field {seed}: read back from {done}", flush=True)
            continue
        res = run_survey(
            replace(p, noise_seed=seed),
            out / f"field{seed}",
            epochs=args.epochs,
            decoder=args.decoder,
            options=options,
            anchor=anchor,
        )
        a, s = res["rows"][f"anchor {key}"], res["rows"][f"SymAE {key}"]
        # the repeated-source floor of this field, read by the same anchor
        settings = anchor or AnchorSettings(coda_s=(2.0, 12.0))
        q = twins(replace(p, noise_seed=seed))["repeated"]
        floor = anchor_rms(q, max_lag_for(p), settings, p.band_hz)
        gap = (a["rms"] - s["rms"]) / (a["rms"] - floor) if a["rms"] > floor else float("nan")
        runs.append(
            {"field": seed, "anchor": a, "symae": s, "floor": floor, "gap_closed": gap,
             "t_train": res["t_train"], "settings": run_settings}
        )  # fmt: skip
        with atomic_path(done, overwrite=True) as tmp:
            tmp.write_text(json.dumps(runs[-1]))
        print(
            f"field {seed}: anchor {a['rms']:.2e} (slope {a['slope']:.2f}), SymAE "
            f"{s['rms']:.2e} (slope {s['slope']:.2f}, drop day {s['drop_day']}), "
            f"ratio {s['rms'] / a['rms']:.2f}; repeated-source floor {floor:.2e}, gap "
            f"closed {gap:.2f}; training {res['t_train']:.0f} s",
            flush=True,
        )
    b = bootstrap_ratio([r["symae"]["rms"] for r in runs], [r["anchor"]["rms"] for r in runs])
    if args.fields_from > 1:  # a part of the fields: no summary file, no headline figures
        print(f"fields {args.fields_from}-{args.fields} done; run --fields {args.fields} for all")
        return
    with atomic_path(out / "fields.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps({"runs": runs, "bootstrap": b}))
    name = "nonstationary" if args.nonstationary else "stationary"
    print(
        f"SymAE / anchor ({key}) over {b['fields']} noise fields: median {b['median']:.2f}, "
        f"10-90 % bootstrap range of the median {b['lo']:.2f}-{b['hi']:.2f}"
    )
    print(
        "part of the gap to the repeated-source floor that SymAE closes, (anchor - SymAE) / "
        f"(anchor - floor): median {np.nanmedian([r['gap_closed'] for r in runs]):.2f}"
    )
    print(f"dvv_ratio_{name}={b['median']:.3f}")
    print(f"dvv_ratio_{name}_hi={b['hi']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--decoder", default="filter", choices=["filter", "generic"])
    ap.add_argument("--out", type=Path, default=Path("out/bench_passive"))
    ap.add_argument(
        "--noise-seed",
        type=int,
        default=None,
        help="another noise field through the same medium (PassiveParams)",
    )
    ap.add_argument(
        "--floor",
        type=int,
        default=0,
        metavar="K",
        help="also measure the nuisance-removal floor on K noise draws",
    )
    ap.add_argument(
        "--floor-only", action="store_true", help="only the floor (no miniSEED survey, no SymAE)"
    )
    ap.add_argument(
        "--window-s",
        type=float,
        default=None,
        metavar="S",
        help="window length in seconds (PassiveParams.window_s; longer windows "
        "average the sources' random phases down, not their composition)",
    )
    ap.add_argument(
        "--nonstationary",
        action="store_true",
        help="the survey with non-stationary sources (synth.passive.nonstationary); its "
        "admission (the anchor on its twins) is printed first",
    )
    ap.add_argument(
        "--admission-only", action="store_true", help="with --nonstationary: only the admission"
    )
    ap.add_argument(
        "--choose-anchor",
        type=int,
        default=None,
        metavar="SEED",
        help="only choose the anchor's options (symae_seis.qc.anchor) on the noise field "
        "SEED (then never used for scores): every combination's 1-day error, best first",
    )
    ap.add_argument(
        "--anchor",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --nonstationary: the admission's anchor, the first entry of an "
        "anchor.json that --choose-anchor wrote (default: the benchmark's anchor)",
    )
    ap.add_argument(
        "--fields-from",
        type=int,
        default=1,
        metavar="F",
        help="with --fields K: the first noise field (fields F..K; fields run before, by "
        "any process into the same --out, are read back)",
    )
    ap.add_argument(
        "--fields",
        type=int,
        default=0,
        metavar="K",
        help="run the anchor and SymAE on K noise fields (noise seeds 1..K; the anchor's "
        "choice uses field 100) and print the median SymAE / anchor ratio with its upper "
        "90 %% bootstrap bound (dvv_ratio_stationary= or dvv_ratio_nonstationary=)",
    )
    add_model_option(ap, "set a model option (repeatable), e.g. trace_terms=true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("lightning", "lightning.pytorch", "symae_seis.training", "symae_seis.ingest"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    options = model_options(ap, args.model)
    p = replace(
        PassiveParams(stations=5, days=12, drop_day=7, seed=3) if args.small else PassiveParams(),
        noise_seed=args.noise_seed,
    )
    if args.nonstationary:
        p = nonstationary(p)
    elif args.admission_only or args.anchor:
        ap.error("--admission-only and --anchor need --nonstationary")
    if args.choose_anchor is not None and (
        args.admission_only or args.floor or args.floor_only or args.noise_seed is not None
    ):
        ap.error("--choose-anchor runs alone (its noise field is SEED)")
    if args.admission_only and (args.floor or args.floor_only):
        ap.error("--admission-only runs no floor")
    anchor = None
    if args.anchor is not None:
        try:
            first = json.loads(args.anchor.read_text())[0]
            anchor = AnchorSettings(
                tuple(first["coda_s"]),
                first["reference"],
                first["svd_rank"],
                first["sides"],
                first.get("stacking", "mean"),
                first.get("keep", 0.5),
                first.get("reject_rms"),
            )
        except (OSError, ValueError, KeyError, IndexError, TypeError, DvvError) as err:
            ap.error(f"--anchor {args.anchor}: not an anchor.json of --choose-anchor ({err})")
    if args.window_s is not None:
        p = replace(p, window_s=args.window_s)
    out = args.out.resolve()
    coda, band = (2.0, 12.0), p.band_hz
    max_lag_s = max_lag_for(p)
    if args.choose_anchor is not None:
        held_out = replace(p, noise_seed=args.choose_anchor)
        days, amp, pairs, truth, lags = windows_in_memory(held_out, max_lag_s)
        stacks = window_stacks(days, AnchorSettings())
        ranked = choose_anchor(stacks, lags, truth, band)
        print("stack-level options:")
        for s, e in ranked:
            print(f"{e:10.2e}  {s.label()}")
        windows = choose_window_options(days, amp, pairs, lags, truth, ranked[0][0], band)
        print("window-level options, with the best of them:")
        for s, e in windows:
            print(f"{e:10.2e}  {s.label()}")
        ranked = sorted(ranked[1:] + windows, key=lambda t: t[1])
        out.mkdir(parents=True, exist_ok=True)
        (out / "anchor.json").write_text(
            json.dumps([{**s.__dict__, "rms": e} for s, e in ranked], default=list)
        )
        print(f"chosen anchor (noise field {args.choose_anchor}): {ranked[0][0].label()}")
        print(f"dvv_anchor_chosen_rms={ranked[0][1]:.3e}")
        return
    if args.nonstationary:
        a = admission(p, max_lag_s, coda, band, anchor)
        out.mkdir(parents=True, exist_ok=True)
        (out / "admission.json").write_text(json.dumps(a))
        print(
            f"admission ({a['anchor']}; 1-day RMS): survey {a['survey']:.2e}, zero twin (apparent) "
            f"{a['zero']:.2e}, stationary twin {a['stationary']:.2e}, repeated sources "
            f"{a['repeated']:.2e}; apparent / stationary {a['apparent_ratio']:.2f} (>= 2), "
            f"repeated / survey {a['floor_ratio']:.2f} (<= 0.35): "
            + ("admitted" if a["admitted"] else "NOT admitted")
        )
        print(f"dvv_admission_apparent={a['apparent_ratio']:.3f}")
        print(f"dvv_admission_floor={a['floor_ratio']:.3f}")
        if args.admission_only:
            return
    if args.floor_only:
        print(report_floor(p, args.floor or 4, max_lag_s, coda, band, out))
        return
    if args.fields < 0:
        ap.error("--fields K needs K >= 1")
    if args.fields and not 1 <= args.fields_from <= args.fields:
        ap.error(f"--fields-from must be between 1 and --fields ({args.fields})")
    if args.fields:
        if args.noise_seed is not None or args.floor:
            ap.error("--fields chooses its own noise seeds and runs no floor")
        fields(args, p, out, options, anchor)
        return
    res = run_survey(p, out, epochs=args.epochs, decoder=args.decoder, options=options)
    rows, truth = res["rows"], res["truth"]
    truth_drop = int((truth[1:] - truth[:-1]).argmin()) + 1
    print(
        f"passive survey: {p.stations} stations x {p.days} days x {p.windows_per_day} windows"
        f" of {p.window_s:g} s"
        + ("" if p.noise_seed is None else f", noise seed {p.noise_seed}")
        + f"; data+ingest {res['t_data']:.0f} s, SymAE training {res['t_train']:.0f} s "
        f"({args.epochs} epochs, {args.decoder} decoder"
        + "".join(f", {k}={v}" for k, v in options.items())
        + ")"
    )
    print(
        f"{'method':23s} {'dv/v RMS error':>15s} {'slope':>6s} {'residual':>9s} {'drop day':>9s} "
        f"{'mean cc':>8s}   (truth: drop on day {truth_drop}, dv/v spread {truth.std():.2e})"
    )
    for name, r in rows.items():
        print(
            f"{name:23s} {r['rms']:15.2e} {r['slope']:6.2f} {r['residual']:9.2e} "
            f"{r['drop_day']:9d} {r['cc']:8.2f}"
        )
    (out / "passive.json").write_text(json.dumps({"truth": truth.tolist(), **rows}))
    print(f"SymAE / anchor, 1-day: {rows['SymAE 1-day']['rms'] / rows['anchor 1-day']['rms']:.2f}")
    if args.floor:
        print(report_floor(p, args.floor, max_lag_s, coda, band, out))
    print(f"dvv_rms_symae_1day={rows['SymAE 1-day']['rms']:.3e}")
    print(f"dvv_rms_anchor_1day={rows['anchor 1-day']['rms']:.3e}")


if __name__ == "__main__":
    main()
