"""``symae-select``: train the candidate model families on a dataset and keep the one that
reconstructs the recorded shots best (no truth needed; :mod:`symae_seis.training.select`).

Examples
--------
The shipped model, the minimum-phase signature terms and the time warp, each trained with
the shipped config (three trainings), the choice in ``runs/my4d-select/model.pt``::

    symae-select my4d --run-dir runs/my4d-select
    symae-select my4d --run-dir runs/my4d-select --families shipped min_phase \\
        -- --config my.yaml --trainer.max_epochs 20

Options after ``--`` go to every ``symae-train fit``, after the shipped config.
``selection.csv`` lists each family's reconstruction NRMS (whole gathers, far quarter of
the channels, late half), the chosen one first. Not a guide on noisy recordings that a
freer model fits (``docs/guide/training.md``).
"""

from __future__ import annotations

import sys

from ._common import command_parser, progress_on, run_main, setup_logging

__all__ = ["main"]


def _parser():
    import argparse

    from ..training.select import DEFAULT_FAMILIES, FAMILIES

    ap = command_parser(
        "symae-select",
        __doc__,
        epilog="\n".join(__doc__.splitlines()[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("dataset", help="dataset name in the catalog")
    ap.add_argument("--catalog", default="data_catalog.yaml", help="catalog file")
    ap.add_argument("--run-dir", required=True, help="folder of the candidates' runs")
    ap.add_argument(
        "--families",
        nargs="+",
        default=list(DEFAULT_FAMILIES),
        metavar="NAME",
        help=f"candidate families, of {', '.join(FAMILIES)} (default: %(default)s)",
    )
    ap.add_argument("--coherent-from", default="monitor", metavar="SURVEY")
    ap.add_argument("--nuisance-from", default="baseline", metavar="SURVEY")
    ap.add_argument("--device", default="auto", help="redatuming device (auto, cpu, cuda)")
    ap.add_argument(
        "--overwrite", action="store_true", help="replace an earlier selection's choice"
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    cut = args.index("--") if "--" in args else len(args)
    ns = _parser().parse_args(args[:cut])
    train_args = args[cut + 1 :]
    setup_logging(ns)

    def run() -> None:
        from ..training.select import select_family

        ranked = select_family(
            ns.dataset,
            ns.catalog,
            ns.run_dir,
            families=ns.families,
            train_args=train_args,
            coherent_from=ns.coherent_from,
            nuisance_from=ns.nuisance_from,
            device=ns.device,
            overwrite=ns.overwrite,
            progress=progress_on(ns),
        )
        print(f"{'family':>16} {'recon NRMS %':>13} {'far quarter':>12} {'late half':>10}")
        for c in ranked:
            s = c.summary
            print(
                f"{c.family:>16} {c.recon:13.2f} {s.get('nrms_recon_q4', float('nan')):12.2f} "
                f"{s.get('nrms_recon_late', float('nan')):10.2f}"
            )
        print(f"chosen: {ranked[0].family} -> {ranked[0].run_dir.parent / 'model.pt'}")

    return run_main("symae-select", run)


if __name__ == "__main__":
    sys.exit(main())
