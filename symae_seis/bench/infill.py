"""The infill benchmark's science: the trace-removal scenarios, the classical fills
(linear interpolation, PyLops f-k reconstruction), SymAE's fills (the encoder's codes, and
codes fitted to the known traces) and their scores. ``scripts/bench/infill.py`` is its
command line."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..io.store import StoreReader
from ..models import SymAE
from ..prior import infill
from ..qc.metrics import rms

__all__ = ["SCENARIOS", "masks", "linear", "fk_pocs", "score", "run", "plot"]

SCENARIOS = ("random30", "random50", "random70", "gap", "gap_but_one")


def masks(reader: StoreReader, scenario: str, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Known-trace mask ``(I, C)`` of every monitor datapoint for a scenario."""
    sm = reader.surveys.index("monitor")
    out = {}
    c = reader.shape[1]
    for d in np.flatnonzero(reader.dp_survey == sm):
        n = len(reader.members[d])
        known = np.ones((n, c), dtype=bool)
        if scenario.startswith("random"):
            frac = int(scenario[6:]) / 100
            known = rng.random((n, c)) >= frac
            for k in range(n):  # at least two traces per gather
                if known[k].sum() < 2:
                    known[k, rng.choice(c, 2, replace=False)] = True
        else:
            w = max(1, int(round(0.25 * c)))
            a = int(rng.integers(1, c - w))  # inside the spread, not at its edges
            known[:, a : a + w] = False
            if scenario == "gap_but_one":
                known[int(rng.integers(n))] = True
        out[int(d)] = known
    return out


def linear(x: np.ndarray, known: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Linear interpolation along the channel key, every gather ``(C, T)`` on its own."""
    out = x.copy()
    for i in range(x.shape[0]):
        k = np.flatnonzero(known[i])
        for t in range(x.shape[-1]):
            out[i, :, t] = np.interp(pos, pos[k], x[i, k, t])
    return out


def fk_pocs(x: np.ndarray, known: np.ndarray, dt_s: float, niter: int) -> np.ndarray:
    """Sparsity-promoting f-k reconstruction of every gather (PyLops SeismicInterpolation,
    FISTA with a threshold decaying from 1 to 0, the POCS schedule; step 1: the restricted
    orthonormal 2-D FFT has a largest eigenvalue of 1)."""
    from pylops.waveeqprocessing import SeismicInterpolation

    c, t = x.shape[1:]
    out = x.copy()
    decay = np.linspace(1.0, 0.0, niter) ** 2
    for i in range(x.shape[0]):
        k = np.flatnonzero(known[i])
        data = x[i, k].astype(np.float64)
        # first threshold: a tenth of the largest f-k coefficient (orthonormal FFT)
        eps = 0.2 * np.abs(np.fft.fft2(x[i], s=(2 * c, 2 * t), norm="ortho")).max()
        rec, _, _ = SeismicInterpolation(
            data,
            c,
            k,
            kind="fk",
            nffts=(2 * c, 2 * t),
            sampling=(1.0, dt_s),
            niter=niter,
            eps=eps,
            decay=decay,
            alpha=1.0,
        )
        out[i] = rec
    return out


def score(est: np.ndarray, truth: np.ndarray, known: np.ndarray) -> float | None:
    """NRMS (%) over the removed traces of one datapoint that carry signal, or None."""
    live = rms(truth) > 0.05 * rms(truth).max()
    sel = ~known & live
    if not sel.any():
        return None
    a, b = est[sel], truth[sel]
    return float(
        200 * np.sqrt(np.mean((a - b) ** 2)) / (np.sqrt(np.mean(a**2)) + np.sqrt(np.mean(b**2)))
    )


def run(model: SymAE, reader: StoreReader, scenarios, seed: int, fk_iter: int) -> dict:
    sb = reader.surveys.index("baseline")
    base_dp = {int(reader.dp_key[d, 0]): d for d in np.flatnonzero(reader.dp_survey == sb)}
    pos = np.arange(reader.shape[1], dtype=float)
    dt_s = reader.dt_ms / 1000
    prior_cache: dict[int, torch.Tensor] = {}

    def prior(d: int) -> torch.Tensor | None:
        b = base_dp.get(int(reader.dp_key[d, 0]))
        if b is None or not model.is_filter:
            return None
        if b not in prior_cache:
            with torch.no_grad():
                prior_cache[b] = model.encode_coherent(
                    torch.from_numpy(reader.read(reader.members[b]))[None]
                )
        return prior_cache[b]

    results = {}
    for sc in scenarios:
        rng = np.random.default_rng(seed)
        rows = {
            m: []
            for m in ("linear", "f-k (PyLops FISTA)", "SymAE encoder codes", "SymAE fitted codes")
        }
        secs = dict.fromkeys(rows, 0.0)
        for d, known in masks(reader, sc, rng).items():
            truth = reader.read(reader.members[d]).astype(np.float64)
            x = np.where(known[..., None], truth, 0.0)
            t0 = time.perf_counter()
            est = {"linear": linear(x, known, pos)}
            secs["linear"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            est["f-k (PyLops FISTA)"] = fk_pocs(x, known, dt_s, fk_iter)
            secs["f-k (PyLops FISTA)"] += time.perf_counter() - t0
            xt = torch.from_numpy(x.astype(np.float32))[None]
            kt = torch.from_numpy(known)[None]
            t0 = time.perf_counter()
            enc = infill(model, xt, kt, coherent_prior=prior(d), rounds=1, steps=0)
            est["SymAE encoder codes"] = enc.filled[0].double().numpy()
            secs["SymAE encoder codes"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            fit = infill(model, xt, kt, coherent_prior=prior(d))
            est["SymAE fitted codes"] = fit.filled[0].double().numpy()
            secs["SymAE fitted codes"] += time.perf_counter() - t0
            for m, e in est.items():
                for i in range(truth.shape[0]):
                    s = score(e[i], truth[i], known[i])
                    if s is not None:
                        rows[m].append(s)
        results[sc] = {
            m: {"nrms": float(np.median(v)) if v else float("nan"), "n": len(v), "seconds": secs[m]}
            for m, v in rows.items()
        }
    return results


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    rnd = [s for s in results if s.startswith("random")]
    kept = [100 - int(s[6:]) for s in rnd]
    methods = list(next(iter(results.values())))
    for m in methods:
        axes[0].plot(kept, [results[s][m]["nrms"] for s in rnd], "o-", label=m)
    axes[0].set_xlabel("traces kept (%)")
    axes[0].set_ylabel("median NRMS on the removed traces (%)")
    axes[0].set_title("random trace removal")
    axes[0].legend(fontsize=8)
    gaps = [s for s in results if s.startswith("gap")]
    for k, m in enumerate(methods):
        axes[1].bar(
            np.arange(len(gaps)) + 0.2 * k, [results[s][m]["nrms"] for s in gaps], 0.2, label=m
        )
    axes[1].set_xticks(np.arange(len(gaps)) + 0.3, gaps)
    axes[1].set_title("contiguous gap of 25 % of the channels")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
