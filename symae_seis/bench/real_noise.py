"""Real ambient noise with a known, injected velocity change (issue 30, item 3).

One real day of 100 Hz vertical noise at three stations of the YA network (UnderVolc, Piton
de la Fournaise, 2010-09-01, day 244), as MSNoise ships it for its own tests inside its
wheel (``msnoise==1.6.5``, EUPL-1.1). :func:`fetch` downloads that wheel with pip into a
cache at run time and extracts the three day files; nothing of it is committed.

:func:`inject` writes each station's day again with a known dv/v: the record is resampled
on a clock that runs ``1 + dv/v(hour)`` times as fast as the recorded one, the same factor at
every station, so every cross-correlation of that hour is stretched uniformly in lag,
``C'(tau) = C(tau (1 + dv/v))`` (``qc.dvv.stretch``'s convention; dv/v < 0 lengthens the
lags, as a velocity drop does). The clock's time is continuous from one hour to the next.
The day's own transients, source changes and instrument noise stay what they were.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

from ..errors import SymaeError
from ..io.atomic import atomic_path

__all__ = [
    "RealNoiseError",
    "STATIONS",
    "WHEEL",
    "cache_dir",
    "fetch",
    "injected_curve",
    "clock",
    "inject",
]

#: The pip requirement whose wheel carries the day, and the wheel's file name.
REQUIREMENT, WHEEL = "msnoise==1.6.5", "msnoise-1.6.5-py3-none-any.whl"
#: Stations of the day inside the wheel, and each one's path there.
STATIONS = ("UV05", "UV06", "UV10")
MEMBER = "msnoise/test/data/2010/{s}/HHZ.D/YA.{s}.00.HHZ.D.2010.244"
SOURCE = (
    "YA network (UnderVolc, Piton de la Fournaise; RESIF), stations UV05, UV06, UV10, "
    "HHZ, 2010-09-01, as shipped in MSNoise 1.6.5's wheel (msnoise/test/data; "
    "MSNoise is EUPL-1.1)"
)


class RealNoiseError(SymaeError):
    """The real day could not be fetched, read or injected."""


def cache_dir() -> Path:
    """``$SYMAE_SEIS_CACHE`` or ``~/.cache/symae-seis``."""
    import os

    root = os.environ.get("SYMAE_SEIS_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "symae-seis"


def _download(folder: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", REQUIREMENT, "--no-deps", "-d", str(folder)]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RealNoiseError(f"`{' '.join(cmd[2:])}` failed: {err}") from None
    wheel = folder / WHEEL
    if run.returncode != 0 or not wheel.is_file():
        last = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RealNoiseError(
            f"`pip download {REQUIREMENT} --no-deps` failed ({last[0]}); download {WHEEL} "
            "by hand and pass it with --wheel"
        )
    return wheel


def fetch(cache: Path | None = None, wheel: Path | None = None) -> list[Path]:
    """The three stations' day files (``<cache>/msnoise-1.6.5/YA.*.244``), extracted from
    ``wheel`` or from MSNoise's wheel downloaded with pip; already there: nothing is
    fetched. Each file is written atomically."""
    folder = Path(cache or cache_dir()) / "msnoise-1.6.5"
    paths = [folder / Path(MEMBER.format(s=s)).name for s in STATIONS]
    if all(p.is_file() for p in paths):
        return paths
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmpdir = tempfile.TemporaryDirectory(dir=folder)
    except OSError as err:
        raise RealNoiseError(f"{folder}: cannot write the cache ({err})") from None
    with tmpdir as tmp:
        src = Path(wheel) if wheel is not None else _download(Path(tmp))
        try:
            z = zipfile.ZipFile(src)
        except (OSError, zipfile.BadZipFile) as err:
            raise RealNoiseError(f"{src}: not MSNoise 1.6.5's wheel ({err})") from None
        with z:
            for s, p in zip(STATIONS, paths):
                try:
                    fin = z.open(MEMBER.format(s=s))
                except KeyError:
                    raise RealNoiseError(
                        f"{src}: not MSNoise 1.6.5's wheel with its test day (no "
                        f"{MEMBER.format(s=s)})"
                    ) from None
                try:
                    with fin, atomic_path(p, overwrite=True) as part, open(part, "wb") as fout:
                        shutil.copyfileobj(fin, fout)
                except OSError as err:
                    raise RealNoiseError(f"{p}: cannot write the cache ({err})") from None
    return paths


def injected_curve(kind: str, hours: int = 24, size: float = -1e-3, at: int = 12) -> np.ndarray:
    """dv/v of every hour: ``none`` (0), ``step`` (``size`` from hour ``at`` on) or
    ``ramp`` (0 at the first hour to ``size`` at the last, linearly)."""
    h = np.arange(hours, dtype=np.float64)
    if kind == "none":
        return np.zeros(hours)
    if kind == "step":
        return np.where(h >= at, size, 0.0)
    if kind == "ramp":
        return size * h / (hours - 1)
    raise RealNoiseError(f"injected change {kind!r}: choose none, step or ramp")


def clock(t_s: np.ndarray, dvv_per_hour: np.ndarray) -> np.ndarray:
    """The recorded time read at output times ``t_s`` (seconds from the day's start): the
    integral of ``1 + dv/v`` of each hour, continuous across hours."""
    t_s = np.asarray(t_s, dtype=np.float64)
    rate = 1.0 + np.asarray(dvv_per_hour, dtype=np.float64)
    start = np.concatenate([[0.0], np.cumsum(rate * 3600.0)])  # recorded time at each hour
    h = np.clip((t_s // 3600).astype(np.int64), 0, rate.size - 1)
    return start[h] + (t_s - 3600.0 * h) * rate[h]


def inject(src: Path, dst: Path, dvv_per_hour: np.ndarray, *, overwrite: bool = False) -> Path:
    """``src`` (one station's day of miniSEED, one gap-free trace) written to ``dst`` as
    float32 miniSEED with the change ``dvv_per_hour`` injected (see the module's note):
    resampled hour by hour by cubic spline on the recorded samples (bounded memory). Only
    dv/v <= 0 (a drop), whose clock never runs past the end of the record."""
    import obspy

    dvv = np.asarray(dvv_per_hour, dtype=np.float64)
    if (dvv > 0).any() or (dvv <= -0.1).any():
        bad = dvv[(dvv > 0) | (dvv <= -0.1)][0]
        raise RealNoiseError(f"{src}: injected dv/v must lie in (-0.1, 0], got {bad:g}")
    if Path(dst).exists() and not overwrite:
        raise RealNoiseError(f"{dst} exists; pass overwrite=True to replace it")
    try:
        st = obspy.read(str(src))
    except Exception as err:  # obspy raises many types for a bad file
        raise RealNoiseError(f"{src}: not readable miniSEED ({err})") from None
    if len(st) != 1:
        raise RealNoiseError(f"{src}: {len(st)} traces (gaps?); inject needs one gap-free day")
    tr = st[0]
    start = tr.stats.starttime
    if abs(start - obspy.UTCDateTime(start.date)) % 3600 > 0.5 / tr.stats.sampling_rate:
        raise RealNoiseError(
            f"{src}: the record starts at {start}, not on a UTC hour; the injected hours "
            "must be the hours the catalog's `datapoint_by: hour` cuts"
        )
    sr, n = float(tr.stats.sampling_rate), tr.stats.npts
    if n < dvv.size * 3600 * sr:
        raise RealNoiseError(
            f"{src}: {n / sr / 3600:.2f} h of record, shorter than the {dvv.size} h injected"
        )
    data = tr.data.astype(np.float64)
    out = np.empty(n, dtype=np.float32)
    per_hour = int(round(3600 * sr))
    margin = 8
    for h in range(int(np.ceil(n / per_hour))):
        k = np.arange(h * per_hour, min(n, (h + 1) * per_hour))
        pos = clock(k / sr, dvv) * sr  # fractional recorded sample of each output sample
        a = max(0, int(np.floor(pos[0])) - margin)
        b = min(n, int(np.ceil(pos[-1])) + margin + 1)
        out[k] = CubicSpline(np.arange(a, b), data[a:b])(np.clip(pos, 0, n - 1))
    tr.data = out
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(dst), overwrite=overwrite) as part:
        tr.write(str(part), format="MSEED", encoding="FLOAT32")
    return Path(dst)


#: The correlation and stretching settings of the real day, chosen on the day without an
#: injected change (the hourly dv/v scatter of the anchor, truth 0; see
#: docs/decisions/passive-nonstationary.md): 120 s windows at 10 Hz (30 an hour), whitened
#: in 1-4 Hz, lags to 30 s, coda 5-25 s, each hour against the other hours.
WINDOW_S, RESAMPLE_HZ, MAX_LAG_S = 120.0, 10.0, 30.0
BAND_HZ, CODA_S = (1.0, 4.0), (5.0, 25.0)


def catalog_of(folder: Path, files: list[Path]) -> Path:
    """A catalog with one dataset, ``cc``: the day's files as hourly correlation windows."""
    import yaml

    cat = folder / "catalog.yaml"
    entry = {
        "format": "mseed",
        "surveys": {"day": [str(f) for f in files]},
        "streams": ["YA.*.00.HHZ"],
        "window_s": WINDOW_S,
        "resample_hz": RESAMPLE_HZ,
        "datapoint_by": "hour",
        "correlate": {"max_lag_s": MAX_LAG_S, "whiten": True, "band_hz": list(BAND_HZ)},
        "store": str(folder / "cc.h5"),
    }
    cat.write_text(yaml.safe_dump({"datasets": {"cc": entry}}))
    return cat


def run_real(
    out: Path,
    kind: str,
    *,
    epochs: int,
    cache: Path | None = None,
    wheel: Path | None = None,
    options: dict | None = None,
) -> dict:
    """The real day with the change ``kind`` (:func:`injected_curve`) injected, ingested
    as hourly correlation windows, scored hour by hour against the injected curve: the
    anchor (hourly stacks, each hour against the others) and SymAE (trained on the
    windows, every window redatumed onto the mean nuisance code). Returns the rows by
    method (:func:`symae_seis.qc.anchor.dvv_fit` and the curve), the truth and timings."""
    import time

    from ..catalog import load_catalog
    from ..ingest import build_store
    from ..io.store import StoreReader
    from ..qc.anchor import dvv_fit
    from ..qc.dvv import daily_dvv, day_stacks
    from .passive import symae_stacks

    t0 = time.perf_counter()
    truth = injected_curve(kind)
    folder = Path(out) / kind
    files = [
        inject(f, folder / "data" / f"{f.name}.mseed", truth, overwrite=True)
        for f in fetch(cache, wheel)
    ]
    cat = catalog_of(folder, files)
    build_store(load_catalog(cat)["cc"], overwrite=True)
    t_data = time.perf_counter() - t0

    def scored(stacks):
        r = daily_dvv(stacks, lags, coda_s=CODA_S, band_hz=BAND_HZ)
        return {**dvv_fit(r["dvv"], truth), "dvv": r["dvv"].tolist(), "cc": float(r["cc"].mean())}

    with StoreReader(folder / "cc.h5") as reader:
        if reader.shape[0] != truth.size * int(3600 / WINDOW_S) or len(reader.members) != (
            truth.size
        ):
            raise RealNoiseError(
                f"{folder / 'cc.h5'}: {reader.shape[0]} windows in {len(reader.members)} "
                f"hours, expected {truth.size} hours of {int(3600 / WINDOW_S)}"
            )
        lags = reader.t0_ms / 1000 + reader.dt_ms / 1000 * np.arange(reader.shape[-1])
        rows = {"anchor 1-hour": scored(day_stacks(reader))}
        virtual, t_train = symae_stacks(cat, "cc", reader, folder, epochs=epochs, options=options)
        rows["SymAE 1-hour"] = scored(virtual)
    return {"rows": rows, "truth": truth.tolist(), "t_data": t_data, "t_train": t_train}
