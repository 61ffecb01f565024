"""Benchmark: filling missing traces with the trained decoder as a prior, against the classics.

On a synthetic 4D survey (convolutional ``conv4d`` by default, or the wave-equation
``wave4d``), a SymAE is trained on the complete survey with the shipped defaults. Traces of
the monitor survey are then removed and filled, and each method is scored by the NRMS of
the filled traces against the recorded ones (which the methods never see):

* ``random30`` / ``random50`` / ``random70``: that fraction of the traces of every
  monitor gather, at random;
* ``gap``: a contiguous 25 % of the channels of a datapoint, in every one of its instances
  (an obstruction);
* ``gap_but_one``: the same gap in every instance of a datapoint but one.

Methods:

* linear interpolation along the channel key, gather by gather;
* f-k reconstruction by sparsity-promoting inversion (FISTA with a decaying threshold,
  the POCS family), PyLops' ``SeismicInterpolation(kind="fk")``, gather by gather;
* SymAE, the encoder's codes alone (pooled from the known traces, no fitting);
* SymAE with the codes fitted to the known traces (:func:`symae_seis.prior.infill`);
  where no instance of a datapoint recorded a channel, the coherent gather of the same
  key in the baseline survey fills it (the earth barely changes between surveys).

Score: median over gathers of the NRMS (%) on the removed traces that carry signal (the
truth's RMS above 5 % of the gather's largest). The last lines are
``ratio_random50=<SymAE / best classical>`` and ``ratio_gap=<...>``.

    python scripts/bench/infill.py                       # conv4d, defaults (CPU minutes)
    python scripts/bench/infill.py --model out/bench_quality/conv4d/model.pt \\
        --store out/bench_quality/conv4d/store.h5       # reuse a quality-bench model
    python scripts/bench/infill.py --small               # quick look
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from symae_seis.bench.infill import SCENARIOS, plot, run
from symae_seis.bench.surveys import make_survey, survey_catalog
from symae_seis.bench.training import train
from symae_seis.catalog import load_catalog
from symae_seis.ingest import build_store
from symae_seis.io.store import StoreReader
from symae_seis.models import SymAE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--survey", default="conv4d", choices=["conv4d", "wave4d"])
    ap.add_argument("--model", type=Path, help="a trained model (default: train one)")
    ap.add_argument("--store", type=Path, help="the store the model was trained on")
    ap.add_argument("--small", action="store_true", help="tiny survey, short training")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    ap.add_argument("--fk-iter", type=int, default=30, help="FISTA iterations of f-k")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("out/bench_infill"))
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    t_train = 0.0
    if args.model is None:
        folder = out / args.survey
        paths = make_survey(args.survey, folder, args.small, args.seed)
        cat = survey_catalog(folder, args.survey, paths)
        store = build_store(load_catalog(cat)[args.survey])
        lit, t_train = train(
            cat,
            args.survey,
            epochs=args.epochs or (3 if args.small else None),
            seed=args.seed,
            run_dir=folder / "run",
        )
        model = lit.model.eval()
        model.save(folder / "model.pt")
    else:
        if args.store is None:
            ap.error("--model needs --store (the store it was trained on)")
        model, store = SymAE.load(args.model), args.store
    with StoreReader(store) as reader:
        t0 = time.perf_counter()
        results = run(model, reader, args.scenarios, args.seed, args.fk_iter)
        wall = time.perf_counter() - t0
    print(
        f"infill benchmark on {args.survey} (training {t_train:.0f} s, scoring {wall:.0f} s)"
        "; median NRMS (%) on the removed traces with signal"
    )
    methods = list(next(iter(results.values())))
    print(f"{'scenario':12s} " + " ".join(f"{m:>22s}" for m in methods))
    for sc, r in results.items():
        print(f"{sc:12s} " + " ".join(f"{r[m]['nrms']:22.2f}" for m in methods))
    (out / "infill.json").write_text(json.dumps(results, indent=1))
    plot(results, out / "infill.png")
    print(f"wrote {out / 'infill.json'} and {out / 'infill.png'}")

    def ratio(sc: str) -> float:
        if sc not in results:
            return float("nan")
        best = min(results[sc]["linear"]["nrms"], results[sc]["f-k (PyLops FISTA)"]["nrms"])
        return results[sc]["SymAE fitted codes"]["nrms"] / best

    print(f"ratio_random50={ratio('random50'):.3f}")
    print(f"ratio_gap={ratio('gap'):.3f}")


if __name__ == "__main__":
    main()
