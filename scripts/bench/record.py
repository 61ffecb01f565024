"""Record a benchmark run in ``benchmarks/results/`` (its files and provenance), or refresh
the README's headline quality table from the recorded results.

    python scripts/bench/record.py quality --metrics out/q/quality.csv --figure out/q/quality.png \\
        --log out/q/log.txt --tag conv4d -- python scripts/bench/quality.py --surveys conv4d
    python scripts/bench/record.py --readme

The folder is ``<bench>/<date>_<commit>_<device>[_<tag>]`` with ``meta.json`` (command,
commit, date, device, environment) and the files under their role's name
(``symae_seis.bench.results``). The documentation's benchmark pages are generated from these
folders when the site is built.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from symae_seis.bench.results import BENCHES, ResultsError, record, scan
from symae_seis.bench.tables import headline, readme_with_headline

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench", nargs="?", choices=sorted(BENCHES))
    ap.add_argument("--metrics", type=Path, help="metrics.csv or metrics.json of the run")
    ap.add_argument("--log", type=Path, help="what the run printed")
    ap.add_argument("--figure", type=Path, help="a PNG figure of the run")
    ap.add_argument("--tag", default="", help="a word for the run (survey, variant)")
    ap.add_argument("--note", default="", help="a sentence shown with the run")
    ap.add_argument(
        "--readme",
        action="store_true",
        help="refresh the README's headline table from the recorded results",
    )
    ap.add_argument(
        "--commit", help="the commit the run was made at (default: HEAD, +dirty if changed)"
    )
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    args.command = argv[cut + 1 :]  # after --: the command that produced the files
    try:
        if args.bench:
            command = " ".join(args.command)
            if not command:
                ap.error("give the command that produced the files after --")
            print(
                record(
                    args.bench,
                    command=command,
                    root=RESULTS,
                    metrics=args.metrics,
                    log=args.log,
                    figure=args.figure,
                    tag=args.tag,
                    note=args.note,
                    meta={"commit": args.commit} if args.commit else None,
                )
            )
        if args.readme:
            readme = ROOT / "README.md"
            readme.write_text(readme_with_headline(readme.read_text(), headline(scan(RESULTS))))
            print(f"updated {readme}")
        if not args.bench and not args.readme:
            ap.error("name a benchmark to record, or --readme")
    except ResultsError as err:
        print(f"record.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
