"""Disentanglement checks of a trained SymAE on a survey with known truth.

Does the coherent part carry the earth and only the earth, and the nuisance code the
acquisition and only the acquisition?

* :func:`swap_gap`: NRMS(virtual, truth) - NRMS(reconstruction, recorded): what swapping
  codes costs beyond the model's own reconstruction error (near 0 when disentangled).
* :func:`overburden_shift`: mean time shift of virtual gathers against the truth in the
  no-change window inside the changed zone; part of a 4D delay explained as a per-shot
  static (leakage) shows up here as a bulk shift of the unchanged overburden.
* :func:`probe_r2`: cross-validated R^2 of a linear probe from nuisance codes to a known
  acquisition parameter (wavelet frequency, phase, static, gain): near 1 when the code
  holds it linearly.
* :func:`probe_accuracy`: cross-validated accuracy of a linear probe from nuisance codes
  to a class label (the survey inside the changed zone): chance when the codes do not
  know which earth they saw.
* :func:`bag_invariance`: relative difference (%) of the coherent parts pooled over two
  disjoint bags of one datapoint, or (``space="data"``) of the gathers decoded from them
  with the datapoint's own nuisance codes.
"""

from __future__ import annotations

import numpy as np

from .metrics import time_shift

__all__ = ["swap_gap", "overburden_shift", "probe_r2", "probe_accuracy", "bag_invariance"]


def swap_gap(nrms_virtual_truth: np.ndarray, nrms_recon_recorded: np.ndarray) -> float:
    """Median NRMS(virtual, truth) minus median NRMS(reconstruction, recorded), points."""
    return float(np.median(nrms_virtual_truth) - np.median(nrms_recon_recorded))


def overburden_shift(
    virtual: np.ndarray, truth: np.ndarray, window: slice, max_lag: int = 4
) -> float:
    """Mean time shift (samples, signed; positive = virtual later) of ``virtual`` against
    ``truth`` ``(N, C, T)`` inside ``window``, over traces with signal there."""
    a = np.asarray(virtual, dtype=np.float64)[..., window]
    b = np.asarray(truth, dtype=np.float64)[..., window]
    r = np.sqrt(np.mean(b * b, axis=-1))
    live = r > 0.05 * r.max()
    if not live.any():
        raise ValueError("no trace holds signal in the window")
    return float(np.mean(time_shift(a, b, 1.0, max_lag=max_lag)[live]))


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    return [perm[i::k] for i in range(k)]


def _design(codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes, dtype=np.float64)
    mu, sd = codes.mean(axis=0), codes.std(axis=0) + 1e-12
    return np.hstack([(codes - mu) / sd, np.ones((len(codes), 1))])


def probe_r2(
    codes: np.ndarray, target: np.ndarray, *, folds: int = 5, ridge: float = 1e-3, seed: int = 0
) -> float:
    """Cross-validated R^2 of a ridge-regularised linear probe ``codes (N, D) -> target
    (N,)`` (``folds``-fold; predictions of held-out rows only)."""
    x, y = _design(codes), np.asarray(target, dtype=np.float64)
    pred = np.empty_like(y)
    for test in _folds(len(y), folds, seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        a = x[train]
        w = np.linalg.solve(a.T @ a + ridge * len(train) * np.eye(a.shape[1]), a.T @ y[train])
        pred[test] = x[test] @ w
    ss = np.sum((y - y.mean()) ** 2)
    return float(1.0 - np.sum((y - pred) ** 2) / ss) if ss > 0 else float("nan")


def probe_accuracy(
    codes: np.ndarray, labels: np.ndarray, *, folds: int = 5, ridge: float = 1e-3, seed: int = 0
) -> float:
    """Cross-validated accuracy (%) of a linear probe separating two classes
    (least-squares on +-1 targets)."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if classes.size != 2:
        raise ValueError(f"probe_accuracy needs two classes, got {classes.size}")
    y = np.where(labels == classes[1], 1.0, -1.0)
    x = _design(codes)
    hits = 0
    for test in _folds(len(y), folds, seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        a = x[train]
        w = np.linalg.solve(a.T @ a + ridge * len(train) * np.eye(a.shape[1]), a.T @ y[train])
        hits += int(np.sum(np.sign(x[test] @ w) == y[test]))
    return 100.0 * hits / len(y)


def bag_invariance(
    model,
    gathers: np.ndarray,
    *,
    seed: int = 0,
    space: str = "coherent",
    geometry: np.ndarray | None = None,
) -> float:
    """Relative difference (%) of what two disjoint random halves of one datapoint's
    instances ``(I, C, T)`` give: ``200 |a - b| / (|a| + |b|)`` (L2 norms).

    ``space="coherent"``: the coherent parts themselves (a filter model's coherent gather
    on its whole support, ``coherent_pad`` included). ``space="data"``: the gathers
    decoded from each half's coherent part with the nuisance codes of every instance of
    the datapoint, i.e. what redatuming outputs. A filter model's coherent gather is a
    deconvolved earth: frequencies outside every wavelet's band are barely constrained
    by the data and differ between halves, yet no decoded gather contains them; the
    data-space figure leaves that null space out. ``geometry`` ``(I, K)``: the instances'
    known geometry, for models that read it."""
    import torch

    if space not in ("coherent", "data"):
        raise ValueError(f"space must be 'coherent' or 'data', got {space!r}")
    n = len(gathers)
    if n < 2:
        raise ValueError("bag_invariance needs at least two instances")
    perm = np.random.default_rng(seed).permutation(n)
    halves = perm[: n // 2], perm[n // 2 :]
    model.eval()
    w = next(model.parameters())
    x = torch.from_numpy(np.ascontiguousarray(gathers))[None].to(w.device, w.dtype)
    geo = None if geometry is None else torch.from_numpy(np.asarray(geometry))[None].to(w.device)
    with torch.no_grad():
        a, b = (
            model.encode_coherent(x[:, h], geometry=None if geo is None else geo[:, h])
            for h in halves
        )
        if space == "data":
            z = model.encode_nuisance(x, noise=False, geometry=geo)
            a, b = model.decode(a, z), model.decode(b, z)
    a, b = (v.double().cpu().numpy() for v in (a, b))
    den = np.linalg.norm(a) + np.linalg.norm(b)
    return float(200.0 * np.linalg.norm(a - b) / den) if den > 0 else 0.0
