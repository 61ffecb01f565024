"""Survey factories of the quality benchmark (each writes SEG-Y surveys and their truth)
and the design window a survey's truth implies."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import yaml

__all__ = [
    "DEEP4D",
    "SURVEYS",
    "SWELL_LOW_CUT_HZ",
    "make_survey",
    "no_change_top",
    "survey_catalog",
]

SURVEYS = ("conv4d", "deep4d", "wave4d", "statics", "marine4d")
#: Low-cut (Hz) of the swell attenuation of the marine survey, at ingest (the catalog's
#: ``low_cut_hz``: every method sees the attenuated records; marine4d's swell is 0.5-6 Hz,
#: its wavelets peak at 16-26 Hz).
SWELL_LOW_CUT_HZ = 8.0
#: A quick look at the marine survey (``--small``): 12 bins of 2 shots, 16 channels.
MARINE_SMALL = dict(n_bins=12, shots_per_bin=2, channels=16, lens_bins=(4, 7))

#: A survey the defaults were never tuned on (issue 9, "defaults that travel"): more and
#: longer traces, 600 ms of silent water on top, a deeper and weaker 4D change, and
#: water-velocity statics that grow with offset besides the demo's nuisances.
DEEP4D = dict(
    n_cdp=48,
    shots_per_cdp=12,
    channels=32,
    samples=375,
    offset_min=150.0,
    offset_max=3200.0,
    first_reflector_ms=600.0,
    n_layers=6,
    reservoir_layer=3,
    delta_r=-0.08,
    delay_ms=4.0,
    freq_range=(15.0, 35.0),
    phase_range_deg=(-45.0, 45.0),
    static_range_ms=(-6.0, 6.0),
    water_static_range_ms=(-4.0, 4.0),
)


def make_survey(
    kind: str, folder: Path, small: bool, seed: int, options: dict | None = None
) -> dict[str, Path]:
    """Generate survey ``kind`` (one of :data:`SURVEYS`, or ``zoo<K>``, draw K of
    :mod:`symae_seis.synth.zoo`) into ``folder`` (replacing it); ``small`` for a quick
    look; ``options`` replace the marine survey's parameters. Returns the paths of its
    files and truth."""
    if kind.startswith("zoo"):  # zoo<K>: draw K of the zoo (seed: the draw, not ``seed``)
        from dataclasses import replace

        from symae_seis.synth.zoo import draw_zoo, make_zoo_survey

        draw = draw_zoo(int(kind[3:]))
        if small:
            draw = replace(draw, n_cdp=8, shots_per_cdp=min(draw.shots_per_cdp, 6))
        return make_zoo_survey(folder, draw, overwrite=True)
    if kind == "marine4d":
        from symae_seis.synth.marine import Marine4DParams, make_marine4d_survey

        p = Marine4DParams(seed=seed, **{**(MARINE_SMALL if small else {}), **(options or {})})
        return make_marine4d_survey(folder, p, overwrite=True)
    if kind == "deep4d":
        from symae_seis.synth import Conv4DParams, make_conv4d_survey

        kw = {**DEEP4D, **({"n_cdp": 12, "shots_per_cdp": 6} if small else {})}
        return make_conv4d_survey(folder, Conv4DParams(seed=seed + 101, **kw), overwrite=True)
    if kind == "conv4d":
        from symae_seis.synth import Conv4DParams, make_conv4d_survey

        p = Conv4DParams(n_cdp=16, shots_per_cdp=6, seed=seed) if small else Conv4DParams(seed=seed)
        return make_conv4d_survey(folder, p, overwrite=True)
    from symae_seis.synth.wave import Wave4DParams, make_statics_survey, make_wave4d_survey

    p = Wave4DParams(seed=seed)
    if small:
        p = Wave4DParams(
            nz=60,
            nx=130,
            nt=1200,
            n_loc=5,
            shots_per_loc=4,
            channels=8,
            rec_spacing=4,
            loc_spacing=12,
            first_loc=20,
            lens=(1, 3),
            seed=seed,
        )
    make = make_wave4d_survey if kind == "wave4d" else make_statics_survey
    return make(folder, p, overwrite=True)


def no_change_top(truth: dict) -> int:
    """First sample where the 4D difference of the truth exceeds 5 % of its largest
    (mean over gathers and channels): the end of the no-change design window."""
    d4 = np.abs(truth["virtual"] - truth["baseline_clean"]).mean(axis=(0, 1))
    if d4.max() == 0:
        return d4.size
    return int(np.flatnonzero(d4 > 0.05 * d4.max())[0])


def survey_catalog(
    folder: Path,
    name: str,
    paths: dict[str, Path],
    design_window_ms: list[float] | str | None = None,
) -> Path:
    """``folder/catalog.yaml`` with one dataset ``name``: the survey's baseline and monitor
    files (``paths``, from :func:`make_survey`) by CDP (the marine survey: by bins of
    SourceX, channels by TraceNumber, as its truth's parameters say, low-cut at
    :data:`SWELL_LOW_CUT_HZ`), its store in ``folder``, and the design window (None:
    none)."""
    entry = {
        "surveys": {"baseline": str(paths["baseline"]), "monitor": str(paths["monitor"])},
        "datapoint_key": ["CDP"],
        "store": str(folder / "store.h5"),
    }
    with h5py.File(paths["truth"], "r") as h5:
        params = json.loads(h5.attrs.get("params", "{}"))
    if params.get("kind") == "marine4d":  # shots binned by position, streamer channels
        entry.pop("datapoint_key")
        entry.update(channel_key="TraceNumber", datapoint_bin={"SourceX": params["bin_m"]})
        # swell attenuated first, for every method (also where a variant has no swell:
        # the conventional methods' rule, difference4d.conventional_low_cut, is the same)
        entry["low_cut_hz"] = SWELL_LOW_CUT_HZ
    if design_window_ms is not None:
        entry["design_window_ms"] = design_window_ms
    cat = folder / "catalog.yaml"
    cat.write_text(yaml.safe_dump({"datasets": {name: entry}}))
    return cat
