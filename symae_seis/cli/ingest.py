"""``symae-ingest DATASET``: build (or refresh) a catalog dataset's HDF5 instance store."""

from __future__ import annotations

import sys

from ..catalog import load_catalog
from ..ingest import build_store, store_is_fresh
from ..io.store import open_store
from ._common import dataset_parser, progress_on, run_main, setup_logging

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    ap = dataset_parser("symae-ingest", __doc__)
    ap.add_argument("--rebuild", action="store_true", help="rebuild even if the store is fresh")
    args = ap.parse_args(argv)
    setup_logging(args)

    def run():
        entry = load_catalog(args.catalog)[args.dataset]
        fresh, why = store_is_fresh(entry)
        if fresh and not args.rebuild:
            print(f"{entry.store} is up to date")
        else:
            print(f"building {entry.store}: {why if not fresh else 'rebuild asked'}")
            build_store(entry, overwrite=True, progress=progress_on(args))
        ds = open_store(entry.store)
        print(
            f"{ds.sizes['instance']} instances x {ds.sizes['channel']} channels x "
            f"{ds.sizes['time']} samples, {int(ds.datapoint.max()) + 1} datapoints, "
            f"surveys {sorted(set(map(str, ds.survey.values)))}"
            + (
                f", low-cut at {entry.low_cut_hz:g} Hz"
                if getattr(entry, "low_cut_hz", None)
                else ""
            )
        )

    return run_main("symae-ingest", run)


if __name__ == "__main__":
    sys.exit(main())
