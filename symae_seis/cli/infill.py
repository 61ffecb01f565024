"""``symae-infill``: fill dead or missing traces of a survey with a trained model.

Examples
--------
Fill every dead trace (and padded slot) of the monitor survey::

    symae-infill runs/demo4d/model.pt --dataset demo4d --surveys monitor --out out/infill

Treat channel slots 10-15 as missing in every gather (an obstruction), and refill the
whole of shots 1003 and 1017 from the rest of their datapoints::

    symae-infill runs/demo4d/model.pt --dataset demo4d --missing-channels 10-15 \\
        --missing-instances 1003 1017 --out out/infill

Filled traces carry 1 in trace-header bytes 233-236 of filled.sgy; infill.nc holds the
recorded and filled gathers and the known-trace mask.
"""

from __future__ import annotations

import argparse
import sys

from ._common import (
    add_store_source,
    command_parser,
    progress_on,
    run_main,
    setup_logging,
    store_from_args,
)

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    ap = command_parser(
        "symae-infill",
        __doc__,
        epilog="\n".join(__doc__.splitlines()[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("model", help="model.pt of a training run, or a checkpoint (.ckpt)")
    add_store_source(ap)
    ap.add_argument("--out", default="out/infill", help="output folder (default out/infill)")
    ap.add_argument(
        "--missing-channels",
        nargs="+",
        metavar="SLOT|A-B",
        help="channel slots (0-based, ranges a-b) to treat as missing everywhere",
    )
    ap.add_argument(
        "--missing-instances",
        nargs="+",
        type=int,
        metavar="KEY",
        help="instance keys (e.g. FieldRecord) whose every trace is refilled",
    )
    ap.add_argument("--surveys", nargs="+", help="only these surveys (default all)")
    ap.add_argument(
        "--steps",
        type=int,
        default=60,
        help="Adam steps per round of fitting the codes (default %(default)s)",
    )
    ap.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    ap.add_argument("--no-segy", action="store_true", help="skip filled.sgy")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(args)

    def run():
        from ..infill import infill_store
        from ..io.store import StoreReader
        from ..models import SymAE
        from ..redatum import resolve_device

        # the cheap checks first: the device and the model, before a store is built
        resolve_device(args.device)
        SymAE.load(args.model)
        store = store_from_args(args, progress=progress_on(args))
        with StoreReader(store) as reader:
            res = infill_store(
                args.model,
                reader,
                args.out,
                missing_channels=args.missing_channels,
                missing_instances=args.missing_instances,
                surveys=args.surveys,
                steps=args.steps,
                device=args.device,
                overwrite=args.overwrite,
                write_segy=not args.no_segy,
                progress=progress_on(args),
            )
        print(f"filled {res.n_filled} of {res.n_traces} trace slots")
        for name, path in res.files.items():
            print(f"{name:>8}: {path}")

    return run_main("symae-infill", run)


if __name__ == "__main__":
    sys.exit(main())
