"""``symae-qc RUN``: 4D QC products of a redatum run, without truth (with it, if given).

Examples
--------
QC of the demo's redatum run (the design window from the catalog)::

    symae-qc out/demo/redatum --dataset demo4d

With a truth file, a changed zone along the key and explicit windows::

    symae-qc out/4d --store stores/my4d.h5 --design-window 0 180 \\
        --reservoir-window 180 508 --zone 11 22 --truth data/my4d/truth.h5

Writes into RUN/qc (or --out): repeatability.csv/.json and qc4d.nc (NRMS and PRED in the
design window before and after, and over the whole trace; the 4D signal in the reservoir
window; the model's own fit; time shifts), repeatability.png, signal_4d.png,
residual_section.png, time_shift_strain.png, gathers_strongest_signal.png and, where the
run's model file is at hand (or --model), disentangle.csv.
"""

from __future__ import annotations

import argparse
import sys

from ._common import command_parser, progress_on, run_main, setup_logging

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    ap = command_parser(
        "symae-qc",
        __doc__,
        epilog="\n".join(__doc__.splitlines()[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("run", help="a symae-redatum output folder (4d mode)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="catalog dataset of the run (its store and design window)")
    src.add_argument("--store", help="path of the run's instance store (HDF5)")
    ap.add_argument("--catalog", default="data_catalog.yaml")
    ap.add_argument(
        "--design-window",
        nargs=2,
        type=float,
        metavar=("START", "END"),
        help="ms where nothing changed (default: the catalog's design_window_ms, else the "
        "whole record)",
    )
    ap.add_argument(
        "--reservoir-window",
        nargs=2,
        type=float,
        metavar=("START", "END"),
        help="ms where the 4D signal is measured (default: the design window's end to the "
        "record's end)",
    )
    ap.add_argument(
        "--zone",
        nargs=2,
        type=float,
        metavar=("FROM", "TO"),
        help="the changed zone along the first datapoint key, to shade and to probe "
        "(default: the truth's, else none; the probe then uses the datapoints whose 4D "
        "signal is above its median)",
    )
    ap.add_argument("--truth", help="truth.h5 of a synthetic survey (adds NRMS against it)")
    ap.add_argument("--model", help="the model for the disentanglement probe (default: the run's)")
    ap.add_argument(
        "--coherence",
        type=float,
        default=0.7,
        help="time shifts are shown where the window's correlation is at least this "
        "(default %(default)s)",
    )
    ap.add_argument("--out", help="output folder (default RUN/qc)")
    ap.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    if not 0.0 <= args.coherence <= 1.0:
        ap.error(f"--coherence must be in [0, 1], got {args.coherence}")
    setup_logging(args)

    def run():
        from pathlib import Path

        from ..qc.write4d import write_qc

        design = tuple(args.design_window) if args.design_window else None
        if not (Path(args.run) / "redatum.nc").is_file():
            raise FileNotFoundError(
                f"{Path(args.run) / 'redatum.nc'} does not exist; give a symae-redatum "
                "output folder"
            )
        if args.model and not Path(args.model).is_file():
            raise FileNotFoundError(f"model file {args.model} does not exist")
        if args.dataset:
            from ..catalog import load_catalog
            from ..ingest import ensure_store

            entry = load_catalog(args.catalog)[args.dataset]
            store = ensure_store(entry, progress=progress_on(args))
            win = entry.design_window_ms
            if design is None and isinstance(win, tuple):
                design = win
        else:
            store = args.store
        files = write_qc(
            args.run,
            store,
            args.out,
            design_ms=design,
            reservoir_ms=tuple(args.reservoir_window) if args.reservoir_window else None,
            truth=args.truth,
            model=args.model,
            zone=tuple(args.zone) if args.zone else None,
            coherence=args.coherence,
            overwrite=args.overwrite,
            progress=progress_on(args),
        )
        for name, path in files.items():
            print(f"{name:>14}: {path}")

    return run_main("symae-qc", run)


if __name__ == "__main__":
    sys.exit(main())
