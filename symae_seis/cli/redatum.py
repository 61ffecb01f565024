"""``symae-redatum``: virtual gathers and residuals from a trained model.

Examples
--------
4D monitoring (monitor earth seen with every baseline shot's acquisition)::

    symae-redatum runs/demo4d/model.pt --dataset demo4d \\
        --coherent-from monitor --nuisance-from baseline --out out/redatum

Deepwater statics / common reference (every shot redatumed to shot 17's acquisition,
or to the mean nuisance code)::

    symae-redatum runs/demo4d/model.pt --dataset demo4d --reference 17 --out out/ref
    symae-redatum runs/demo4d/model.pt --dataset demo4d --reference mean --out out/ref
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
        "symae-redatum",
        __doc__,
        epilog="\n".join(__doc__.splitlines()[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("model", help="model.pt of a training run, or a checkpoint (.ckpt)")
    add_store_source(ap)
    ap.add_argument(
        "--coherent-from",
        default="monitor",
        metavar="SURVEY",
        help="survey whose earth (coherent code) is kept (default monitor)",
    )
    ap.add_argument(
        "--nuisance-from",
        default="baseline",
        metavar="SURVEY",
        help="survey whose acquisition (nuisance codes) is used (default baseline)",
    )
    ap.add_argument(
        "--reference",
        metavar="KEY|mean",
        help="redatum every instance to one acquisition instead: an instance key "
        "(e.g. FieldRecord) or 'mean' (deepwater statics / common reference)",
    )
    ap.add_argument("--surveys", nargs="+", help="with --reference: only these surveys")
    ap.add_argument("--out", default="out/redatum", help="output folder (default out/redatum)")
    ap.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    ap.add_argument(
        "--refine-steps",
        type=int,
        default=None,
        metavar="N",
        help="fit the codes to the recorded gathers before decoding: N Adam steps "
        "per round, two rounds (default: symae_seis.redatum.DEFAULT_REFINE_STEPS "
        "on gathers, 0 on miniSEED stores; 0: the encoder's codes as they are)",
    )
    ap.add_argument(
        "--uncertainty",
        type=int,
        default=0,
        metavar="N",
        help="N bootstrap bags per coherent donor: virtual_std in redatum.nc (their "
        "spread plus the model's own misfit to the recording) and a figure "
        "of the residual in units of it (default 0: none)",
    )
    ap.add_argument(
        "--recon-warn",
        type=float,
        default=30.0,
        metavar="PCT",
        help="warn, naming them, about datapoints whose recorded shots the model "
        "reconstructs worse than PCT %% NRMS, over the whole gather, a quarter of its "
        "channels or a half of the record (qc.csv: nrms_recon_*; default 30; 0: never)",
    )
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    ap.add_argument("--no-segy", action="store_true", help="skip the SEG-Y outputs")
    ap.add_argument("--no-plots", action="store_true", help="skip the QC figures")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    if args.surveys and args.reference is None:
        ap.error("--surveys chooses the surveys redatumed to one --reference; give --reference")
    setup_logging(args)

    def run():
        from ..io.store import StoreReader
        from ..models import SymAE
        from ..qc.report import qc_report
        from ..redatum import redatum, resolve_device

        # the cheap checks first: the device and the model, before a store is built
        resolve_device(args.device)
        model = SymAE.load(args.model)
        store = store_from_args(args, progress=progress_on(args))
        mode = "reference" if args.reference is not None else "4d"
        with StoreReader(store) as reader:  # the store is opened once
            res = redatum(
                model,
                reader,
                args.out,
                mode=mode,
                coherent_from=args.coherent_from,
                nuisance_from=args.nuisance_from,
                reference=args.reference or "mean",
                surveys=args.surveys,
                batch_size=args.batch_size,
                device=args.device,
                overwrite=args.overwrite,
                write_segy=not args.no_segy,
                progress=progress_on(args),
                refine_steps=args.refine_steps,
                uncertainty=args.uncertainty,
                recon_warn=args.recon_warn or None,
            )
            files = dict(res.files)
            if not args.no_plots:
                files.update(qc_report(res.out_dir, reader))
        for name, path in files.items():
            print(f"{name:>28}: {path}")

    return run_main("symae-redatum", run)


if __name__ == "__main__":
    sys.exit(main())
