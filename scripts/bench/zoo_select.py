"""Benchmark: what choosing the model family by the recorded shots (``symae-select``) gives
on surveys with truth, from quality runs of each family on the same surveys.

Each ``LABEL=PATH`` is a ``quality.csv`` written by ``quality.py`` (``--zoo`` or
``--surveys``) with one family's model options; for every survey the family whose SymAE
reconstruction of the recorded shots is lowest is kept, and its scores against the truth
are printed, the zoo's distribution last (``zoo_outside_ratio_median= ...``)::

    python scripts/bench/quality.py --zoo 12 --out out/q-shipped
    python scripts/bench/quality.py --zoo 12 --out out/q-minphase \\
        --model min_phase=true --model filter_terms=6
    python scripts/bench/quality.py --zoo 12 --out out/q-warp --model warp_terms=true
    python scripts/bench/zoo_select.py shipped=out/q-shipped/quality.csv \\
        min_phase=out/q-minphase/quality.csv warp=out/q-warp/quality.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from symae_seis.bench.zoo import choose_by_reconstruction, zoo_summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", metavar="LABEL=PATH", help="a family's quality.csv")
    args = ap.parse_args()
    runs = {}
    for spec in args.runs:
        label, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            ap.error(f"{spec}: expected LABEL=PATH of an existing quality.csv")
        with open(path, newline="") as f:
            runs[label] = list(csv.DictReader(f))
    rows, chosen = choose_by_reconstruction(runs)
    for survey in sorted(chosen):
        recon = {
            label: next(
                (float(r["value"]) for r in rs if r["survey"] == survey
                 and r["method"] == "SymAE virtual" and r["metric"] == "recon_gather"),
                float("nan"),
            )
            for label, rs in runs.items()
        }  # fmt: skip
        shown = ", ".join(f"{k} {v:.2f}" for k, v in recon.items())
        print(f"{survey}: chosen {chosen[survey]} (reconstruction NRMS %: {shown})")
    for survey in sorted(s for s in chosen if not s.startswith("zoo")):
        out = next(
            float(r["value"]) for r in rows if r["survey"] == survey
            and r["method"] == "SymAE virtual" and r["zone"] == "outside"
            and r["metric"] == "gather"
        )  # fmt: skip
        print(f"{survey}: SymAE outside the zone {out:.2f} % NRMS")
    if any(s.startswith("zoo") for s in chosen):
        print(zoo_summary(rows))


if __name__ == "__main__":
    main()
