"""The passive benchmark's science: dv/v scores against the truth, daily stacks
correlated in memory (with the cross-term oracle), the anchor's admission, SymAE
trained on the correlation windows with ``symae-train``'s parser, and the conventional
window-level anchor options scored in memory (:func:`windows_in_memory`).
``scripts/bench/passive.py`` is its command line; the conventional dv/v estimators
compared on the same stacks are in :mod:`symae_seis.bench.passive_estimators`, the
nuisance-removal floor in :mod:`symae_seis.bench.passive_floor`."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import h5py
import numpy as np
import yaml

from ..catalog import load_catalog
from ..ingest import build_store
from ..io.store import StoreReader
from ..qc.anchor import AnchorSettings, anchor_dvv, dvv_fit, window_stacks
from ..qc.anchor import dvv_rms_error as rms
from ..qc.dvv import (
    all_pairs,
    correlate,
    correlation_lags,
    correlation_nfft,
    daily_dvv,
    day_stacks,
    whitening_amplitude,
)
from ..qc.stacking import pair_live
from ..redatum import redatum
from ..synth.passive import PassiveParams, make_passive_survey, passive_days, twins
from .training import train

__all__ = [
    "score",
    "admission",
    "max_lag_for",
    "windows_in_memory",
    "stacks_in_memory",
    "anchor_in_memory",
    "anchor_rms",
    "run_survey",
    "symae_stacks",
    "symae_virtual",
    "bootstrap_ratio",
    "rms",
]

log = logging.getLogger(__name__)


def score(
    stacks: np.ndarray,
    lags_s: np.ndarray,
    truth: np.ndarray,
    coda,
    band,
    *,
    days: int = 1,
    reference: str = "others",
) -> dict:
    r = daily_dvv(stacks, lags_s, coda_s=coda, band_hz=band, days=days, reference=reference)
    return _row(r["dvv"], truth, float(r["cc"].mean()))


def _row(dvv: np.ndarray, truth: np.ndarray, cc: float = float("nan")) -> dict:
    """A bench row: :func:`dvv_fit` of the curve ``dvv``, the curve on the truth's mean."""
    fit = dvv_fit(dvv, truth)
    return {
        "rms": fit["rms"],
        "slope": fit["slope"],
        "residual": fit["residual"],
        "drop_day": fit["drop_at"],
        "dvv": (dvv - dvv.mean() + truth.mean()).tolist(),
        "cc": cc,
    }


def _correlations_without_cross_terms(parts: np.ndarray, pairs: np.ndarray, lag: int) -> np.ndarray:
    """Whitened pair correlations of one window with the cross terms between its noise
    sources left out: each source's share ``parts (sources, stations, T)`` correlated with
    itself, whitened and normalised by the whole record (as ``qc.dvv.correlate`` does),
    summed over sources. An oracle: it needs every source's share of the record."""
    i, j = pairs[:, 0], pairs[:, 1]
    nfft = correlation_nfft(parts.shape[-1], lag)
    spec = np.fft.rfft(parts - parts.mean(axis=-1, keepdims=True), nfft, axis=-1)
    whole = spec.sum(axis=0)
    amp = whitening_amplitude(whole)
    spec, whole = spec / amp, whole / amp
    norm = np.sqrt(np.sum(np.abs(whole[i]) ** 2, -1) * np.sum(np.abs(whole[j]) ** 2, -1))
    return correlation_lags((np.conj(spec[:, i]) * spec[:, j]).sum(axis=0), norm, nfft, lag)


def max_lag_for(p: PassiveParams) -> float:
    """The benchmark's largest correlation lag (s) on survey ``p``: 20 s, or half a
    window when windows are shorter than 40 s."""
    return min(20.0, p.window_s / 2)


def _day_windows(p: PassiveParams, max_lag_s: float, *, per_source: bool = False):
    """The lag grid ``(pairs, lag in samples, lags in s)`` of survey ``p``, and a
    generator of its days: ``(dvv, windows (W, stations, T), data)`` with ``data`` as
    :func:`symae_seis.synth.passive.passive_days` yields it (per source with
    ``per_source``, the windows their sum)."""
    n = int(round(p.window_s * p.sampling_rate))
    lag = int(round(max_lag_s * p.sampling_rate))

    def days():
        for _, dvv, data, _ in passive_days(p, per_source=per_source):
            records = data.sum(axis=0) if per_source else data
            yield dvv, records.reshape(p.stations, p.windows_per_day, n).transpose(1, 0, 2), data

    grid = (all_pairs(p.stations), lag, np.arange(-lag, lag + 1) / p.sampling_rate)
    return grid, days()


def windows_in_memory(p: PassiveParams, max_lag_s: float):
    """Every day's correlation windows of survey ``p``, correlated as
    :func:`stacks_in_memory` does, before stacking: ``(days, rms, pairs, truth, lags)``
    with ``days`` a list of ``(windows, pairs, lags)`` float32 arrays and ``rms`` the
    stations' window RMS ``(days, windows, stations)`` (for amplitude rejection)."""
    (pairs, lag, lags), each_day = _day_windows(p, max_lag_s)
    days, rms, truth = [], [], []
    for dvv, windows, _ in each_day:
        days.append(correlate(windows, pairs, lag).astype(np.float32))
        rms.append(np.std(windows, axis=-1, dtype=np.float64))  # as ingest: mean removed
        truth.append(dvv)
    return days, np.asarray(rms), pairs, np.asarray(truth), lags


def stacks_in_memory(p: PassiveParams, max_lag_s: float, *, oracle: bool = False):
    """Daily stacks ``(days, pairs, lags)`` of survey ``p``, correlated in memory like the
    ingest (whitened, ``max_lag_s``) without the miniSEED round trip: ``"anchor"``, and with
    ``oracle``, from the same pass, the correlations without the cross terms between noise
    sources (``"no_cross_terms"``). Returns ``(stacks, truth dv/v, lags in s)``."""
    (pairs, lag, lags), each_day = _day_windows(p, max_lag_s, per_source=oracle)
    n = int(round(p.window_s * p.sampling_rate))
    stacks: dict[str, list] = {"anchor": [], **({"no_cross_terms": []} if oracle else {})}
    truth = []
    for dvv, windows, data in each_day:
        stacks["anchor"].append(correlate(windows, pairs, lag).mean(axis=0))
        if oracle:
            stacks["no_cross_terms"].append(
                np.mean(
                    [
                        _correlations_without_cross_terms(
                            data[..., w * n : (w + 1) * n], pairs, lag
                        )
                        for w in range(p.windows_per_day)
                    ],
                    axis=0,
                )
            )
        truth.append(dvv)
    return {k: np.stack(v) for k, v in stacks.items()}, np.asarray(truth), lags


def anchor_in_memory(
    p: PassiveParams, max_lag_s: float, coda, band, *, oracle: bool = False
) -> dict[str, float]:
    """The anchor's 1-day RMS error on survey ``p`` for each of :func:`stacks_in_memory`'s
    stacks (``"anchor"``, and with ``oracle`` ``"no_cross_terms"``)."""
    stacks, truth, lags = stacks_in_memory(p, max_lag_s, oracle=oracle)
    return {k: score(v, lags, truth, coda, band)["rms"] for k, v in stacks.items()}


def anchor_rms(p: PassiveParams, max_lag_s: float, settings: AnchorSettings, band) -> float:
    """The 1-day dv/v RMS error of the anchor with ``settings`` on survey ``p``, correlated
    in memory (its windows kept when an option acts on them)."""
    if settings.on_windows:
        days, amp, pairs, truth, lags = windows_in_memory(p, max_lag_s)
        stacks = window_stacks(days, settings, pair_live(amp, pairs, settings.reject_rms))
    else:
        stacks, truth, lags = stacks_in_memory(p, max_lag_s)
        stacks = stacks["anchor"]
    return rms(anchor_dvv(stacks, lags, settings, band), truth)


#: Admission of a non-stationary survey before anyone tunes on it (issue 30): the
#: anchor's apparent dv/v on the twin without change at least this many times its error
#: on the stationary twin ...
ADMIT_APPARENT = 2.0
#: ... and the repeated-source floor at most this fraction of the anchor's error.
ADMIT_FLOOR = 0.35


def admission(p: PassiveParams, max_lag_s: float, coda, band, anchor=None) -> dict:
    """The anchor's 1-day dv/v RMS error on survey ``p`` and on its twins
    (:func:`symae_seis.synth.passive.twins`; on ``"zero"`` the apparent dv/v the sources
    alone make it read), the two admission ratios and whether ``p`` passes
    (:data:`ADMIT_APPARENT`, :data:`ADMIT_FLOOR`). ``anchor``: the anchor's options
    (:class:`symae_seis.qc.anchor.AnchorSettings`; default the benchmark's, coda
    ``coda``)."""
    settings = anchor or AnchorSettings(coda_s=tuple(coda))
    out: dict = {"anchor": settings.label()}
    for name, q in twins(p).items():
        out[name] = anchor_rms(q, max_lag_s, settings, band)
        log.info("  admission: anchor on the %s twin %.2e", name, out[name])
    out["apparent_ratio"] = out["zero"] / out["stationary"]
    out["floor_ratio"] = out["repeated"] / out["survey"]
    out["admitted"] = bool(
        out["apparent_ratio"] >= ADMIT_APPARENT and out["floor_ratio"] <= ADMIT_FLOOR
    )
    return out


def run_survey(
    p: PassiveParams,
    out: Path,
    *,
    epochs: int,
    decoder: str = "filter",
    options: dict | None = None,
    anchor: AnchorSettings | None = None,
) -> dict:
    """The passive survey ``p`` generated into ``out``, ingested as correlation windows,
    the anchor scored, SymAE trained (``epochs``, ``decoder``, model ``options``), every
    window redatumed onto the mean nuisance code and scored. With ``anchor`` (settings
    chosen on a held-out field, :func:`symae_seis.qc.anchor.choose_anchor`) the anchor's
    stacks and SymAE's virtual ones are also measured with those settings (rows
    ``anchor 1-day, chosen`` and ``SymAE 1-day, chosen``); amplitude rejection
    (``reject_rms``) is then a second store of the same windows, ``cc_reject``, read by
    those rows alone (every other row, and SymAE's training, see every window). Returns the
    rows by method and ``truth``, ``t_data``, ``t_train`` (seconds)."""
    coda, band = (2.0, 12.0), p.band_hz
    max_lag_s = max_lag_for(p)
    t0 = time.perf_counter()
    survey = make_passive_survey(out / "data", p, overwrite=True)
    cat = out / "catalog.yaml"

    def dataset(name: str, **correlate) -> dict:
        return {
            "format": "mseed",
            "surveys": {"days": [str(f) for f in survey["mseed"]]},
            "window_s": p.window_s,
            "datapoint_by": "day",
            "correlate": {"max_lag_s": max_lag_s, **correlate},
            "store": str(out / f"{name}.h5"),
        }

    datasets = {"cc": dataset("cc")}
    if anchor is not None and anchor.reject_rms is not None:  # for the chosen rows alone
        datasets["cc_reject"] = dataset("cc_reject", reject_rms=anchor.reject_rms)
    cat.write_text(yaml.safe_dump({"datasets": datasets}))
    catalog = load_catalog(cat)
    for name in datasets:
        build_store(catalog[name])
    t_data = time.perf_counter() - t0
    with h5py.File(survey["truth"], "r") as h5:
        truth = h5["dvv"][:]
    with StoreReader(out / "cc.h5") as reader:
        lags = reader.t0_ms / 1000 + reader.dt_ms / 1000 * np.arange(reader.shape[-1])
        stacks = day_stacks(reader)
        rows = {
            "anchor 1-day": score(stacks, lags, truth, coda, band),
            "anchor 5-day": score(stacks, lags, truth, coda, band, days=5),
            "anchor 1-day, mean ref": score(stacks, lags, truth, coda, band, reference="mean"),
            "anchor 1-day, all pairs": score(stacks, lags, truth, coda, band, reference="pairs"),
        }
        virtual, t_train = symae_virtual(
            cat, "cc", reader, out, epochs=epochs, decoder=decoder, options=options
        )
        virtual_stacks = day_stacks(reader, virtual)
        rows["SymAE 1-day"] = score(virtual_stacks, lags, truth, coda, band)
        rows["SymAE 1-day, all pairs"] = score(
            virtual_stacks, lags, truth, coda, band, reference="pairs"
        )
        if anchor is not None:
            chosen = {"anchor": stacks, "SymAE": virtual_stacks}
            if anchor.on_windows:  # the same stacking (and rejection) of both windows
                chosen = _chosen_on_windows(reader, virtual, anchor, out / "cc_reject.h5")
            for name, st in chosen.items():
                rows[f"{name} 1-day, chosen"] = _row(anchor_dvv(st, lags, anchor, band), truth)
    return {"rows": rows, "truth": truth, "t_data": t_data, "t_train": t_train}


def _chosen_on_windows(reader, virtual, anchor: AnchorSettings, rejected: Path) -> dict:
    """Daily stacks of the recorded and the virtual windows with ``anchor``'s window-level
    options; with ``reject_rms``, what rejection leaves live is read from the ``rejected``
    store (the same windows, ingested with it; SymAE trained on them all)."""
    live_of = reader
    if anchor.reject_rms is not None:
        live_of = StoreReader(rejected)
        if not np.array_equal(live_of.instance_key, reader.instance_key):
            raise RuntimeError(f"{rejected}: not the windows of {reader.path}")
    try:
        live = [live_of.live(m) for m in reader.members]
        return {
            "anchor": window_stacks([reader.read(m) for m in reader.members], anchor, live),
            "SymAE": window_stacks([virtual[m] for m in reader.members], anchor, live),
        }
    finally:
        if live_of is not reader:
            live_of.close()


def symae_stacks(catalog: Path, dataset: str, reader: StoreReader, out: Path, **kw):
    """:func:`symae_virtual`'s windows averaged by datapoint: the stacks ``(datapoints,
    pairs, lags)`` and the seconds training took."""
    virtual, t_train = symae_virtual(catalog, dataset, reader, out, **kw)
    return day_stacks(reader, virtual), t_train


def symae_virtual(
    catalog: Path,
    dataset: str,
    reader: StoreReader,
    out: Path,
    *,
    epochs: int,
    decoder: str = "filter",
    options: dict | None = None,
) -> tuple[np.ndarray, float]:
    """SymAE trained on the correlation windows of ``dataset`` (the store ``reader``
    reads) as ``symae-train`` does and every window redatumed onto the mean nuisance code (a
    repeatable virtual source): the virtual windows in store order and the seconds
    training took. The model is saved as ``out/model.pt``, the redatuming under
    ``out/redatum``."""
    lit, t_train = train(
        catalog,
        dataset,
        epochs=epochs,
        seed=0,
        run_dir=out / "run",
        model={"decoder": decoder, **(options or {})},
        config=False,
        data={"instances": 8, "batch_size": 8, "val_fraction": 0.1},
    )
    lit.model.save(out / "model.pt")  # for a look with symae-redatum / notebook
    res = redatum(
        lit.model,
        reader,
        out / "redatum",
        mode="reference",
        reference="mean",
        write_segy=False,
        overwrite=True,
    )
    with h5py.File(res.files["netcdf"], "r") as h5:
        virtual = h5["virtual"][:]
        rec_rows = h5["recorded_instance"][:]
    order = np.empty_like(rec_rows)
    order[rec_rows] = np.arange(rec_rows.size)
    return virtual[order], t_train


def bootstrap_ratio(
    num: np.ndarray, den: np.ndarray, *, q: float = 0.9, draws: int = 4000, seed: int = 0
) -> dict[str, float]:
    """The median over noise fields of the per-field ratio ``num / den`` (e.g. SymAE's
    1-day RMS over the anchor's), with the ``1 - q`` and ``q`` quantiles of that median
    over ``draws`` bootstrap resamplings of the fields (``lo``, ``hi``): an upper bound
    that holds with probability ``q`` if the fields are a fair sample."""
    ratio = np.asarray(num, dtype=np.float64) / np.asarray(den, dtype=np.float64)
    if ratio.size == 0 or not np.isfinite(ratio).all():
        raise ValueError(f"bootstrap_ratio needs finite ratios, got {ratio.tolist()}")
    rng = np.random.default_rng(seed)
    meds = np.median(ratio[rng.integers(0, ratio.size, size=(draws, ratio.size))], axis=1)
    return {
        "median": float(np.median(ratio)),
        "lo": float(np.quantile(meds, 1 - q)),
        "hi": float(np.quantile(meds, q)),
        "fields": int(ratio.size),
    }
