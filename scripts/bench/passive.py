"""Benchmark: dv/v from a passive survey, SymAE against noise interferometry (first version).

Generates the synthetic passive survey (``symae_seis.synth.passive``), ingests it as
station-pair cross-correlations (``correlate: {max_lag_s}``), and measures dv/v day by day
against the truth:

* anchor: the daily stacks of the correlations (1-day, and 5-day moving stacks),
  each stretched against the mean of the days it does not contain
  (``symae_seis.qc.dvv.daily_dvv``; the mean of all days, MSNoise's usual reference,
  holds the day itself and shrinks dv/v towards 0 on a record this short: shown as
  ``anchor 1-day, mean ref``; the all-pairs inversion, no reference at all, as
  ``anchor 1-day, all pairs``);
* SymAE: trained on the correlation windows (datapoint = day), every window redatumed
  onto the mean nuisance code (a virtual, repeatable source), the day's virtual gathers
  averaged and stretched the same way (and by the all-pairs inversion).

Errors are RMS over days against the truth after removing each curve's mean (stretching
measures dv/v up to a constant).

With ``--floor K`` it also measures what removing the nuisance could gain at most, on K
further noise fields through the same medium (``noise_seed``), correlated in memory: the
anchor on each, and on its twin whose days all repeat one sequence of source strengths and
spectra (``repeat_sources``: only the random phases differ from day to day, the nuisance of
a perfectly repeatable virtual source). The ratio of the two (RMS over the K draws) is the
best a redatuming that leaves the day's random-phase noise to the stack can reach. A third
twin records four times as many windows a day: if the error is the sampling noise of the
day's windows it halves. Last, an oracle: the anchor on correlations without the cross terms
between noise sources (each source's share of the record correlated with itself alone), on
the survey and on its repeated-source twin.

Prints RMS dv/v errors, the day where each finds the sudden drop, wall times, and last
``dvv_rms_symae_1day=<x>`` and ``dvv_rms_anchor_1day=<y>``.

    python scripts/bench/passive.py                  # 8 stations x 30 days (CPU: long)
    python scripts/bench/passive.py --small          # 5 stations x 12 days, quick look
    python scripts/bench/passive.py --small --floor 8 --floor-only   # the floor alone
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import h5py
import lightning.pytorch as pl
import numpy as np
import yaml

from symae_seis.catalog import load_catalog
from symae_seis.ingest import build_store
from symae_seis.io.store import StoreReader
from symae_seis.qc.dvv import (
    all_pairs,
    correlate,
    correlation_lags,
    correlation_nfft,
    daily_dvv,
    day_stacks,
    whitening_amplitude,
)
from symae_seis.redatum import redatum
from symae_seis.synth.passive import PassiveParams, make_passive_survey, passive_days
from symae_seis.training import SymAEDataModule, SymAELit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _options import add_model_option, model_options  # noqa: E402


def score(stacks: np.ndarray, lags_s: np.ndarray, truth: np.ndarray, coda, band, *,
          days: int = 1, reference: str = "others") -> dict:
    r = daily_dvv(stacks, lags_s, coda_s=coda, band_hz=band, days=days, reference=reference)
    est = r["dvv"] - r["dvv"].mean() + truth.mean()
    return {"rms": float(np.sqrt(np.mean((est - truth) ** 2))),
            "drop_day": int(np.argmin(np.diff(est))) + 1, "dvv": est.tolist(),
            "cc": float(r["cc"].mean())}


def _correlations_without_cross_terms(parts: np.ndarray, pairs: np.ndarray, lag: int
                                      ) -> np.ndarray:
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


def stacks_in_memory(p: PassiveParams, max_lag_s: float, *, oracle: bool = False):
    """Daily stacks ``(days, pairs, lags)`` of survey ``p``, correlated in memory like the
    ingest (whitened, ``max_lag_s``) without the miniSEED round trip: ``"anchor"``, and with
    ``oracle``, from the same pass, the correlations without the cross terms between noise
    sources (``"no_cross_terms"``). Returns ``(stacks, truth dv/v, lags in s)``."""
    n = int(round(p.window_s * p.sampling_rate))
    lag = int(round(max_lag_s * p.sampling_rate))
    pairs = all_pairs(p.stations)
    stacks: dict[str, list] = {"anchor": [], **({"no_cross_terms": []} if oracle else {})}
    truth = []
    for _, dvv, data, _ in passive_days(p, per_source=oracle):
        records = data.sum(axis=0) if oracle else data
        windows = records.reshape(p.stations, p.windows_per_day, n).transpose(1, 0, 2)
        stacks["anchor"].append(correlate(windows, pairs, lag).mean(axis=0))
        if oracle:
            stacks["no_cross_terms"].append(np.mean([_correlations_without_cross_terms(
                data[..., w * n:(w + 1) * n], pairs, lag)
                for w in range(p.windows_per_day)], axis=0))
        truth.append(dvv)
    lags = np.arange(-lag, lag + 1) / p.sampling_rate
    return {k: np.stack(v) for k, v in stacks.items()}, np.asarray(truth), lags


def anchor_in_memory(p: PassiveParams, max_lag_s: float, coda, band, *,
                     oracle: bool = False) -> dict[str, float]:
    """The anchor's 1-day RMS error on survey ``p`` for each of :func:`stacks_in_memory`'s
    stacks (``"anchor"``, and with ``oracle`` ``"no_cross_terms"``)."""
    stacks, truth, lags = stacks_in_memory(p, max_lag_s, oracle=oracle)
    return {k: score(v, lags, truth, coda, band)["rms"] for k, v in stacks.items()}


def floor(p: PassiveParams, draws: int, max_lag_s: float, coda, band) -> dict:
    """Anchor 1-day errors on ``draws`` noise fields, on their repeated-source twins, on
    the same surveys recording four times as many windows a day, and without the cross
    terms between sources (an oracle)."""
    out = {"anchor": [], "repeated": [], "windows_x4": [], "no_cross_terms": [],
           "repeated_no_cross_terms": []}
    for k in range(draws):
        q = replace(p, noise_seed=k)
        plain = anchor_in_memory(q, max_lag_s, coda, band, oracle=True)
        repeated = anchor_in_memory(replace(q, repeat_sources=True), max_lag_s, coda, band,
                                    oracle=True)
        more = anchor_in_memory(replace(q, windows_per_day=4 * p.windows_per_day),
                                max_lag_s, coda, band)
        for key, value in (("anchor", plain["anchor"]), ("repeated", repeated["anchor"]),
                           ("windows_x4", more["anchor"]),
                           ("no_cross_terms", plain["no_cross_terms"]),
                           ("repeated_no_cross_terms", repeated["no_cross_terms"])):
            out[key].append(value)
        print(f"  floor draw {k}: anchor {out['anchor'][-1]:.2e}, sources repeated day to "
              f"day {out['repeated'][-1]:.2e}, 4x windows {out['windows_x4'][-1]:.2e}, "
              f"no cross terms {out['no_cross_terms'][-1]:.2e}, both "
              f"{out['repeated_no_cross_terms'][-1]:.2e}", flush=True)
    rms = {key: float(np.sqrt(np.mean(np.square(v)))) for key, v in out.items()}
    return {**out, "rms": rms, "ratio": rms["repeated"] / rms["anchor"],
            "ratio_windows_x4": rms["windows_x4"] / rms["anchor"],
            "ratio_no_cross_terms": rms["no_cross_terms"] / rms["anchor"],
            "ratio_repeated_no_cross_terms": rms["repeated_no_cross_terms"] / rms["anchor"]}


def report_floor(p: PassiveParams, draws: int, max_lag_s: float, coda, band, out: Path
                 ) -> None:
    t0 = time.perf_counter()
    f = floor(p, draws, max_lag_s, coda, band)
    out.mkdir(parents=True, exist_ok=True)
    (out / "floor.json").write_text(json.dumps(f))
    print(f"floor over {draws} noise draws ({time.perf_counter() - t0:.0f} s): anchor "
          f"{f['rms']['anchor']:.2e}, sources repeated day to day {f['rms']['repeated']:.2e}, "
          f"4x windows a day {f['rms']['windows_x4']:.2e}, no cross terms "
          f"{f['rms']['no_cross_terms']:.2e}, sources repeated and no cross terms "
          f"{f['rms']['repeated_no_cross_terms']:.2e}")
    print(f"a perfectly repeatable virtual source, the day's windows stacked: {f['ratio']:.2f}x "
          f"the anchor; four times the windows: {f['ratio_windows_x4']:.2f}x; the cross terms "
          f"between sources removed (oracle): {f['ratio_no_cross_terms']:.2f}x; both: "
          f"{f['ratio_repeated_no_cross_terms']:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--decoder", default="filter", choices=["filter", "generic"])
    ap.add_argument("--out", type=Path, default=Path("out/bench_passive"))
    ap.add_argument("--noise-seed", type=int, default=None,
                    help="another noise field through the same medium (PassiveParams)")
    ap.add_argument("--floor", type=int, default=0, metavar="K",
                    help="also measure the nuisance-removal floor on K noise draws")
    ap.add_argument("--floor-only", action="store_true",
                    help="only the floor (no miniSEED survey, no SymAE)")
    ap.add_argument("--window-s", type=float, default=None, metavar="S",
                    help="window length in seconds (PassiveParams.window_s; longer windows "
                         "average the sources' random phases down, not their composition)")
    add_model_option(ap, "set a model option (repeatable), e.g. trace_terms=true")
    args = ap.parse_args()
    options = model_options(ap, args.model)
    p = replace(PassiveParams(stations=5, days=12, drop_day=7, seed=3) if args.small
                else PassiveParams(), noise_seed=args.noise_seed)
    if args.window_s is not None:
        p = replace(p, window_s=args.window_s)
    out = args.out.resolve()
    coda, band = (2.0, 12.0), p.band_hz
    max_lag_s = min(20.0, p.window_s / 2)
    if args.floor_only:
        report_floor(p, args.floor or 4, max_lag_s, coda, band, out)
        return
    t0 = time.perf_counter()
    survey = make_passive_survey(out / "data", p, overwrite=True)
    cat = out / "catalog.yaml"
    cat.write_text(yaml.safe_dump({"datasets": {"cc": {
        "format": "mseed", "surveys": {"days": [str(f) for f in survey["mseed"]]},
        "window_s": p.window_s, "datapoint_by": "day",
        "correlate": {"max_lag_s": max_lag_s}, "store": str(out / "cc.h5")}}}))
    build_store(load_catalog(cat)["cc"])
    t_data = time.perf_counter() - t0
    with h5py.File(survey["truth"], "r") as h5:
        truth = h5["dvv"][:]
    with StoreReader(out / "cc.h5") as reader:
        lags = reader.t0_ms / 1000 + reader.dt_ms / 1000 * np.arange(reader.shape[-1])
        stacks = day_stacks(reader)
        rows = {"anchor 1-day": score(stacks, lags, truth, coda, band),
                "anchor 5-day": score(stacks, lags, truth, coda, band, days=5),
                "anchor 1-day, mean ref": score(stacks, lags, truth, coda, band,
                                                reference="mean"),
                "anchor 1-day, all pairs": score(stacks, lags, truth, coda, band,
                                                 reference="pairs")}
        pl.seed_everything(0)
        dm = SymAEDataModule("cc", str(cat), instances=8, batch_size=8, val_fraction=0.1)
        lit = SymAELit(dm.channels, dm.samples, dm.scale, dm.schema, decoder=args.decoder,
                       **options)
        t1 = time.perf_counter()
        pl.Trainer(max_epochs=args.epochs, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False).fit(lit, dm)
        t_train = time.perf_counter() - t1
        lit.model.save(out / "model.pt")            # for a look with symae-redatum / notebook
        res = redatum(lit.model, reader, out / "redatum", mode="reference", reference="mean",
                      write_segy=False, overwrite=True)
        with h5py.File(res.files["netcdf"], "r") as h5:
            virtual = h5["virtual"][:]
            rec_rows = h5["recorded_instance"][:]
        order = np.empty_like(rec_rows)
        order[rec_rows] = np.arange(rec_rows.size)
        virtual_stacks = day_stacks(reader, virtual[order])
        rows["SymAE 1-day"] = score(virtual_stacks, lags, truth, coda, band)
        rows["SymAE 1-day, all pairs"] = score(virtual_stacks, lags, truth, coda, band,
                                               reference="pairs")
    truth_drop = int(np.argmin(np.diff(truth))) + 1
    print(f"passive survey: {p.stations} stations x {p.days} days x {p.windows_per_day} windows"
          f" of {p.window_s:g} s"
          + ("" if p.noise_seed is None else f", noise seed {p.noise_seed}")
          + f"; data+ingest {t_data:.0f} s, SymAE training {t_train:.0f} s "
          f"({args.epochs} epochs, {args.decoder} decoder"
          + "".join(f", {k}={v}" for k, v in options.items()) + ")")
    print(f"{'method':23s} {'dv/v RMS error':>15s} {'drop day':>9s} {'mean cc':>8s}   "
          f"(truth: drop on day {truth_drop}, dv/v spread {truth.std():.2e})")
    for name, r in rows.items():
        print(f"{name:23s} {r['rms']:15.2e} {r['drop_day']:9d} {r['cc']:8.2f}")
    (out / "passive.json").write_text(json.dumps({"truth": truth.tolist(), **rows}))
    print(f"SymAE / anchor, 1-day: {rows['SymAE 1-day']['rms'] / rows['anchor 1-day']['rms']:.2f}")
    if args.floor:
        report_floor(p, args.floor, max_lag_s, coda, band, out)
    print(f"dvv_rms_symae_1day={rows['SymAE 1-day']['rms']:.3e}")
    print(f"dvv_rms_anchor_1day={rows['anchor 1-day']['rms']:.3e}")


if __name__ == "__main__":
    main()
