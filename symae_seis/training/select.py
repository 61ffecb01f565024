"""Choose the model family by the recorded shots: train each candidate family on one
dataset, redatum with each, and keep the one that reconstructs the recorded shots best
(``symae-select``).

No truth is needed: the reconstruction of the shots a model redatums from (the median
whole-gather NRMS, ``nrms_recon_recorded`` of ``qc.csv``) is what the user has. Over the
project's recorded quality runs on 1-D surveys (the survey zoo, conv4d, wave4d) it ordered
70 of 71 pairs of runs of one survey as their NRMS against the truth does
(``docs/decisions/far-offsets.md``): it catches the minimum-phase terms on a delayed
Ricker wavelet and the warp on a source ghost, which the store's measures do not. It is no
guide where the recorded shots carry noise that a freer model fits (a towed-streamer
survey with swell: 15 pairs reversed), nor between families of which one has more
freedom in its coherent part.

Each candidate is a full ``symae-train fit`` run in ``<run_dir>/<family>/`` (a family whose
``model.pt`` is already there is scored, not retrained, and one killed in training resumes
from its last checkpoint: a killed selection resumes), then
a ``symae-redatum`` without SEG-Y in ``<run_dir>/<family>/fit/``. The choice is written to
``<run_dir>/selection.csv`` and the chosen ``model.pt`` copied to ``<run_dir>/model.pt``.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import math
import shutil
import time
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import OptionError, SymaeError
from ..io.atomic import atomic_path

__all__ = ["FAMILIES", "DEFAULT_FAMILIES", "Candidate", "select_family"]

log = logging.getLogger(__name__)

#: The candidate families: ``symae-train`` options on top of the user's.
FAMILIES: dict[str, tuple[str, ...]] = {
    "shipped": (),
    "min_phase": ("--model.config.min_phase=true", "--model.config.filter_terms=6"),
    "warp": ("--model.config.warp_terms=true",),
    "warp_min_phase": (
        "--model.config.warp_terms=true",
        "--model.config.min_phase=true",
        "--model.config.filter_terms=6",
    ),
}
#: The shipped training config, under every family's options.
SHIPPED_CONFIG = Path(str(resources.files("symae_seis.configs").joinpath("demo4d.yaml")))
#: Families tried by default (each costs one training).
DEFAULT_FAMILIES = ("shipped", "min_phase", "warp")

COLUMNS = (
    "family",
    "options",
    "nrms_recon_recorded",
    "nrms_recon_q4",
    "nrms_recon_late",
    "train_seconds",
    "chosen",
)


@dataclass
class Candidate:
    """One family's run folder, its reconstruction QC (survey medians) and training time
    (NaN where its model was reused)."""

    family: str
    run_dir: Path
    summary: dict[str, float] = field(default_factory=dict)
    train_seconds: float = float("nan")

    @property
    def recon(self) -> float:
        return float(self.summary.get("nrms_recon_recorded", float("inf")))


def _check(run_dir: Path, families: list[str], overwrite: bool) -> None:
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise OptionError(
            f"families: unknown {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(FAMILIES)}"
        )
    if len(set(families)) != len(families):
        raise OptionError(f"families: {', '.join(families)} names one twice")
    for name in ("selection.csv", "model.pt"):
        if (run_dir / name).exists() and not overwrite:
            raise FileExistsError(
                f"{run_dir / name} exists: a selection was made there; give overwrite "
                "(--overwrite) to choose again, or another run folder"
            )


def _train(dataset: str, catalog: Path, sub: Path, options: list[str]) -> float:
    """Train one candidate into ``sub`` (resuming its last checkpoint if it has one);
    the seconds it took."""
    from .cli import cli

    last = sub / "checkpoints" / "last.ckpt"
    if sub.exists() and not last.is_file():
        raise FileExistsError(
            f"{sub} holds an unfinished candidate run without a checkpoint to resume; "
            "remove it to train the family again"
        )
    resume = ["--ckpt_path", str(last)] if last.is_file() else []
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # in-process on purpose: one line per run is noise
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
            cli(["fit", *options, "--data.dataset", dataset, "--data.catalog", str(catalog),
                 "--run_dir", str(sub), *resume])  # fmt: skip
    except argparse.ArgumentError as err:
        raise OptionError(f"symae-train options: {' '.join(str(err).split())}") from None
    if not (sub / "model.pt").is_file():
        raise SymaeError(f"{sub}: the training wrote no model.pt")
    return time.perf_counter() - start


def _reusable(sub: Path, dataset: str) -> bool:
    """Whether ``sub`` holds a trained candidate of ``dataset`` (an error if of another)."""
    if not (sub / "model.pt").is_file():
        return False
    import yaml

    cfg = sub / "config.yaml"
    doc = yaml.safe_load(cfg.read_text()) if cfg.is_file() else None
    trained_on = (doc or {}).get("data", {}).get("dataset")
    if trained_on not in (None, dataset):
        raise FileExistsError(
            f"{sub / 'model.pt'} was trained on {trained_on!r}, not {dataset!r}; "
            "choose another run folder"
        )
    return True


def select_family(
    dataset: str,
    catalog: str | Path,
    run_dir: str | Path,
    *,
    families: list[str] | tuple[str, ...] = DEFAULT_FAMILIES,
    train_args: list[str] | tuple[str, ...] = (),
    coherent_from: str = "monitor",
    nuisance_from: str = "baseline",
    device: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> list[Candidate]:
    """Train ``families`` (names of :data:`FAMILIES`) on ``dataset`` with the shipped config
    and ``train_args`` on top (``symae-train fit`` options, given before each family's own),
    redatum ``coherent_from`` with ``nuisance_from``'s codes with each, and keep the one
    whose reconstruction of the recorded shots is best (module docstring). Returns the
    candidates, the chosen one first."""
    from ..catalog import load_catalog
    from ..ingest import ensure_store
    from ..io.store import StoreReader
    from ..redatum import pair_4d, redatum, resolve_device

    run_dir, catalog, families = Path(run_dir), Path(catalog), list(families)
    _check(run_dir, families, overwrite)
    resolve_device(device)
    store = ensure_store(load_catalog(catalog)[dataset], progress=progress)
    with StoreReader(store) as reader:  # the surveys are there before anything trains
        pair_4d(reader, coherent_from, nuisance_from)
    candidates = []
    for family in families:
        sub = run_dir / family
        cand = Candidate(family, sub)
        if _reusable(sub, dataset):
            log.info("%s: %s holds a trained model: scoring it", family, sub / "model.pt")
        else:
            log.info("%s: training (%s)", family, " ".join(FAMILIES[family]) or "as given")
            options = ["--config", str(SHIPPED_CONFIG), *train_args, *FAMILIES[family]]
            cand.train_seconds = _train(dataset, catalog, sub, options)
        with StoreReader(store) as reader:
            res = redatum(
                sub / "model.pt",
                reader,
                sub / "fit",
                coherent_from=coherent_from,
                nuisance_from=nuisance_from,
                device=device,
                overwrite=True,  # the selection's own scratch, derived from the model
                write_segy=False,
                progress=progress,
                recon_warn=None,
            )
        cand.summary = res.summary
        log.info("%s: reconstruction of the recorded shots %.2f %% NRMS", family, cand.recon)
        candidates.append(cand)
    # stable: the first listed wins ties; a diverged candidate (NaN) is never chosen
    ranked = sorted(candidates, key=lambda c: (not math.isfinite(c.recon), c.recon))
    if not math.isfinite(ranked[0].recon):
        raise SymaeError(f"{run_dir}: no candidate reconstructs the recorded shots (NaN)")
    _write(run_dir, ranked, overwrite)
    return ranked


def _write(run_dir: Path, ranked: list[Candidate], overwrite: bool) -> None:
    """``selection.csv`` and the chosen ``model.pt``, each written atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for k, c in enumerate(ranked):
        w.writerow(
            {
                "family": c.family,
                "options": " ".join(FAMILIES[c.family]),
                **{m: f"{c.summary.get(m, float('nan')):.3f}" for m in COLUMNS[2:5]},
                "train_seconds": f"{c.train_seconds:.1f}",
                "chosen": int(k == 0),
            }
        )
    with atomic_path(run_dir / "selection.csv", overwrite=overwrite) as tmp:
        tmp.write_text(buf.getvalue())
    with atomic_path(run_dir / "model.pt", overwrite=overwrite) as tmp:
        shutil.copyfile(ranked[0].run_dir / "model.pt", tmp)
