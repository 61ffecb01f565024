"""``symae-demo``: the whole job on the embedded default survey.

generate the synthetic 4D survey -> ingest -> train -> redatum -> QC figures and CSV
(``redatum/qc``: the products of ``symae-qc``, without truth), plus a score against the
survey's ground truth. Everything lands in ``--out``.
"""

from __future__ import annotations

import shutil
import sys
import time
from importlib import resources
from pathlib import Path

from ..catalog import load_catalog
from ._common import command_parser, run_main, setup_logging

__all__ = ["main"]


def _config_path(name: str = "demo4d.yaml") -> Path:
    return Path(str(resources.files("symae_seis.configs").joinpath(name)))


def train_arguments(
    dataset: str, catalog: str, run_dir: Path, epochs: int | None, *, gpu: bool
) -> list[str]:
    """``symae-train`` arguments of the demo's training step: the shipped config, and on a
    GPU (when ``epochs`` is not given) the GPU overlay, which trains 40 epochs in about a
    minute where 10 are what 2 CPU cores afford in the demo's budget."""
    args = ["fit", "--config", str(_config_path())]
    if gpu and epochs is None:
        args += ["--config", str(_config_path("gpu.yaml"))]
    args += [
        "--data.dataset",
        dataset,
        "--data.catalog",
        catalog,
        "--data.progress",
        "true",
        "--run_dir",
        str(run_dir),
    ]
    if epochs is not None:
        args += ["--trainer.max_epochs", str(epochs)]
    return args


def _print_scores(rows: list[dict]) -> None:
    print("median NRMS against truth (%), whole gathers | live traces:")
    for r in rows:
        if r["metric"] in ("gather", "live_trace"):
            print(
                f"  {r['zone']:8s} {r['metric']:10s} virtual {r['virtual']:6.1f}   raw "
                f"monitor {r['raw_monitor']:6.1f}   best baseline {r['best_baseline']:6.1f}"
                f" {r['best_baseline_name']}"
            )


def _redatum_and_qc(
    entry, store: Path, model: Path, out: Path, truth: Path, refine_steps: int | None = None
):
    """Redatum (4D), QC figures and, where the survey has one, the truth scores: one
    reader of the store for all of it."""
    import h5py

    from ..catalog import design_window_samples
    from ..io.store import StoreReader
    from ..qc.report import qc_report
    from ..qc.truth import write_truth_scores
    from ..qc.write4d import write_qc
    from ..redatum import redatum

    with StoreReader(store) as reader:
        res = redatum(model, reader, out, progress=True, refine_steps=refine_steps)
        print("[5/5] QC")
        changed = None
        if truth.exists():
            with h5py.File(truth, "r") as h5:
                changed = h5["changed"][:]
        figs = qc_report(res.out_dir, reader, changed=changed)
        # the 4D processor's QC, as symae-qc makes it (no truth: what a field run has)
        win = entry.design_window_ms if isinstance(entry.design_window_ms, tuple) else None
        figs.update(
            {
                f"qc/{k}": v
                for k, v in write_qc(res.out_dir, reader, design_ms=win, progress=True).items()
            }
        )
        if truth.exists():
            win = design_window_samples(entry, reader.t0_ms, reader.dt_ms, reader.shape[-1])
            _print_scores(
                write_truth_scores(
                    reader,
                    res.files["netcdf"],
                    truth,
                    res.out_dir / "truth_scores.csv",
                    window=None if win is None else slice(*win),
                    progress=True,
                )
            )
    return res, figs


def main(argv: list[str] | None = None) -> int:
    ap = command_parser("symae-demo", __doc__)
    ap.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    ap.add_argument("--catalog", default="data_catalog.yaml")
    ap.add_argument("--dataset", default="demo4d")
    ap.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (default: the config's, 10; 40 on a GPU)",
    )
    ap.add_argument(
        "--refine-steps",
        type=int,
        default=None,
        metavar="N",
        help="Adam steps per round of fitting the codes before decoding (default: symae-redatum's)",
    )
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    args = ap.parse_args(argv)
    setup_logging(args)

    def run():
        from ..ingest import ensure_store
        from ..synth import generate
        from ..training.cli import cli

        t0 = time.perf_counter()
        out = Path(args.out)
        if out.exists():
            if not args.overwrite:
                raise FileExistsError(
                    f"{out} exists; pass --overwrite to replace it or --out to write elsewhere"
                )
            shutil.rmtree(out)
        entry = load_catalog(args.catalog)[args.dataset]
        files = [entry.root / f for fs in entry.surveys.values() for f in fs]
        if not all(f.exists() for f in files):
            print(f"[1/5] generating the synthetic survey {args.dataset}")
            generate(entry)
        else:
            print(f"[1/5] survey files of {args.dataset} present")
        print("[2/5] ingest")
        store = ensure_store(entry, progress=True)
        import torch

        gpu = torch.cuda.is_available()
        print(
            "[3/5] train"
            + (" on the GPU (configs/gpu.yaml: 40 epochs)" if gpu and args.epochs is None else "")
        )
        run_dir = out / "run"
        cli(train_arguments(args.dataset, args.catalog, run_dir, args.epochs, gpu=gpu))
        print("[4/5] redatum: monitor earth with every baseline shot's acquisition")
        res, figs = _redatum_and_qc(
            entry,
            store,
            run_dir / "model.pt",
            out / "redatum",
            Path(files[0]).parent / "truth.h5",
            args.refine_steps,
        )
        print(f"done in {time.perf_counter() - t0:.0f} s; outputs in {out}:")
        for p in sorted(set([*res.files.values(), *figs.values(), run_dir / "loss.png"])):
            print(f"  {p}")

    return run_main("symae-demo", run)


if __name__ == "__main__":
    sys.exit(main())
