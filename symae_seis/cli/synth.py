"""``symae-synth DATASET``: write the synthetic files a catalog dataset's ``generate:`` names."""

from __future__ import annotations

import sys

from ..catalog import load_catalog
from ..synth.generate import generate
from ._common import dataset_parser, run_main, setup_logging

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    ap = dataset_parser("symae-synth", __doc__)
    ap.add_argument("--overwrite", action="store_true", help="replace existing files")
    args = ap.parse_args(argv)
    setup_logging(args)

    def run():
        for p in generate(load_catalog(args.catalog)[args.dataset], overwrite=args.overwrite):
            print(p)

    return run_main("symae-synth", run)


if __name__ == "__main__":
    sys.exit(main())
