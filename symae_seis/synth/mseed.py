"""Small synthetic miniSEED set: a few stations, several days, one datapoint per day.

Each day has its own "earth": a per-station impulse response (a few arrivals whose times
drift from day to day, e.g. a velocity change under a volcano). Each window holds one
event whose source wavelet (frequency, phase, amplitude) is private to that window: the
nuisance. Files are written one per station and day with ObsPy, as recorders do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from ..typing import PathLike

__all__ = ["make_mseed_survey"]


def make_mseed_survey(
    outdir: PathLike,
    *,
    stations: int = 3,
    days: int = 2,
    windows_per_day: int = 6,
    window_s: float = 20.0,
    sampling_rate: float = 20.0,
    seed: int = 0,
    overwrite: bool = False,
) -> list[Path]:
    """Write ``XX.S<k>..HHZ.<day>.mseed`` files; return their paths (sorted).

    Day ``d`` starts at 2024-01-01 + d days; window ``w`` of a day starts at
    ``w * window_s`` seconds after midnight and the files are continuous.

    Raises
    ------
    FileExistsError
        If a file exists and ``overwrite`` is false (nothing is written then).
    """
    from obspy import Stream, Trace, UTCDateTime

    rng = np.random.default_rng(seed)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    n = int(round(window_s * sampling_rate))
    t = np.arange(n) / sampling_rate
    base_times = rng.uniform(2.0, window_s - 4.0, (stations, 3))
    names = [
        f"XX.S{s}..HHZ.{(UTCDateTime(2024, 1, 1) + 86400 * d).julday:03d}.mseed"
        for d in range(days)
        for s in range(stations)
    ]
    taken = [str(outdir / n) for n in names if (outdir / n).exists()]
    if taken and not overwrite:
        raise FileExistsError(f"{taken[0]} already exists; pass overwrite=True (--overwrite)")
    paths = []
    for d in range(days):
        day0 = UTCDateTime(2024, 1, 1) + 86400 * d
        arrivals = base_times * (1 + 0.02 * d)  # the day's earth
        data = np.zeros((stations, n * windows_per_day))
        for w in range(windows_per_day):
            f0 = rng.uniform(1.0, 3.0)
            ph = rng.uniform(-np.pi / 3, np.pi / 3)
            amp = rng.uniform(0.5, 2.0)
            for s in range(stations):
                for k, ta in enumerate(arrivals[s]):
                    arg = 2 * np.pi * f0 * (t - ta)
                    env = np.exp(-(((t - ta) * f0) ** 2))
                    data[s, w * n : (w + 1) * n] += amp * (0.8**k) * env * np.cos(arg + ph)
        for s in range(stations):
            tr = Trace(data=(data[s] * 1000).astype(np.int32))
            tr.stats.network, tr.stats.station, tr.stats.channel = "XX", f"S{s}", "HHZ"
            tr.stats.sampling_rate = sampling_rate
            tr.stats.starttime = day0
            p = outdir / f"XX.S{s}..HHZ.{day0.julday:03d}.mseed"
            with atomic_path(p, overwrite=overwrite) as tmp:
                Stream([tr]).write(str(tmp), format="MSEED", encoding="STEIM2")
            paths.append(p)
    return sorted(paths)
