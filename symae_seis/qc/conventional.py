"""The conventional 4D estimates a synthetic survey's truth is scored against: the
recorded gathers lined up with the truth, and the cross-equalisations of
:mod:`symae_seis.baselines` designed in the no-change window."""

from __future__ import annotations

import numpy as np

from ..io.store.geometry import shot_positions

__all__ = ["real_gathers_for_truth", "conventional_estimates", "shot_positions"]


def real_gathers_for_truth(
    reader, truth: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Recorded gathers lined up with the truth: the baseline shot of each truth gather
    ``(N, C, T)``, one raw monitor shot at the same location ``(N, C, T)`` (shot j of the
    location for its j-th baseline shot, cyclically) and the store rows of all monitor
    shots of each truth gather's location.

    ``reader`` is an open :class:`~symae_seis.io.store.StoreReader` of a store with
    ``baseline`` and ``monitor`` surveys keyed by CDP.
    """
    b_rows = _baseline_rows(reader, truth)
    mon_sets = _location_rows(reader, truth, "monitor")
    seen: dict[int, int] = {}
    raw_rows = []
    for c, rows in zip(truth["virtual_cdp"].tolist(), mon_sets):
        j = seen.get(c, 0)
        seen[c] = j + 1
        raw_rows.append(rows[j % len(rows)])
    return reader.read(b_rows), reader.read(np.array(raw_rows)), mon_sets


def conventional_estimates(
    reader,
    truth: dict[str, np.ndarray],
    *,
    window: slice | None,
    max_lag: int,
    methods: tuple[str, ...] = ("a", "e", "e_whole"),
    progress: bool = False,
    gathers: tuple | None = None,
    nearest: int = 2,
    pool: str = "monitor",
) -> dict[str, np.ndarray]:
    """Conventional 4D cross-equalisation of the monitor to every baseline shot of the
    truth (see :mod:`symae_seis.baselines`), designed in ``window``.

    ``pool="baseline"`` equalises the *baseline's other* shots instead (those of the
    location for (e); the ``nearest`` other baseline shots in position for (f), whose names
    keep "monitor"), as a 4D processor runs both vintages through one flow: the difference
    of the two estimates is the conventional 4D difference in which what the equalisation
    cannot match of the baseline shot is common to both terms (the parallel difference,
    beside SymAE's ``residual_decoder``). The shot itself is left out (equalised to itself
    it would come back as it is, and keep part of that error in the difference) unless it
    is its location's only one; ``pool="baseline_all"`` keeps it (the stack of every
    baseline shot of the pool, as SymAE's pooling takes every shot of the datapoint).
    Method (a) is skipped for both.

    ``methods``: any of ``"a"`` (static + scalar of one monitor shot), ``"e"`` (every
    monitor shot of the location equalised and stacked), ``"e_whole"`` (the same
    designed on the whole trace: the strongest outside the changed zone, where nothing
    changes, but it also matches away part of the 4D signal inside; only computed when
    ``window`` is not the whole trace), ``"f"`` (4D binning: the ``nearest`` monitor
    shots of the whole survey nearest to the baseline shot in source position, whatever
    their datapoint, equalised and stacked; where the store has source positions; also
    designed on the whole trace where ``window`` is not).
    ``gathers``: the output of :func:`real_gathers_for_truth` when already read.
    """
    from .. import baselines as B
    from ..progress import progress_bar

    if pool not in ("monitor", "baseline", "baseline_all"):
        raise ValueError(f"pool must be 'monitor', 'baseline' or 'baseline_all', got {pool!r}")
    base, raw, mon_sets = gathers or real_gathers_for_truth(reader, truth)
    own = _baseline_rows(reader, truth) if pool == "baseline" else None
    if pool != "monitor":
        mon_sets = _location_rows(reader, truth, "baseline")
    out = {}
    if "a" in methods and pool == "monitor":
        out["(a) static + scalar"] = B.static_and_scalar(raw, base, window=window, max_lag=max_lag)[
            0
        ]
    variants = {"e": ("(e) equalise + stack", window)}
    t = base.shape[-1]
    if window is not None and (window.start or 0, window.stop or t) != (0, t):
        variants["e_whole"] = ("(e) equalise + stack, whole-trace design", None)
    shots: dict[int, np.ndarray] = {}  # the pool's shots of each location, read once
    for key, (name, win) in variants.items():
        if key not in methods:
            continue
        est = np.empty(base.shape, dtype=np.float64)
        for j in progress_bar(range(len(base)), desc=name, unit="shot", disable=not progress):
            cdp = int(truth["virtual_cdp"][j])
            if cdp not in shots:
                shots[cdp] = reader.read(mon_sets[j])
            pooled = shots[cdp]
            if own is not None and (mon_sets[j] != own[j]).any():
                pooled = pooled[mon_sets[j] != own[j]]  # the shot itself left out
            est[j] = B.equalize_and_stack(
                pooled, base[j], length=4 * max_lag + 1, window=win, max_lag=max_lag
            )
        out[name] = est
    if "f" in methods:
        out.update(_binned(reader, truth, base, window, max_lag, nearest, progress, pool))
    return out


def _baseline_rows(reader, truth: dict[str, np.ndarray]) -> np.ndarray:
    """The store row of each truth gather's baseline shot."""
    sb = reader.surveys.index("baseline")
    key_row = {
        (int(s), int(k)): i for i, (s, k) in enumerate(zip(reader.survey, reader.instance_key))
    }
    return np.array([key_row[(sb, int(f))] for f in truth["virtual_fieldrecord"]])


def _location_rows(reader, truth: dict[str, np.ndarray], survey: str) -> list[np.ndarray]:
    """The store rows of ``survey``'s shots at each truth gather's location (CDP)."""
    s = reader.surveys.index(survey)
    by_cdp = {
        int(reader.dp_key[d, 0]): reader.members[d]
        for d in range(len(reader.dp_survey))
        if reader.dp_survey[d] == s
    }
    return [by_cdp[int(c)] for c in truth["virtual_cdp"].tolist()]


def _binned(
    reader, truth, base, window, max_lag, nearest, progress, pool="monitor"
) -> dict[str, np.ndarray]:
    """(f) 4D binning (see :func:`conventional_estimates`); {} without source positions."""
    from .. import baselines as B
    from ..progress import progress_bar

    b_rows = _baseline_rows(reader, truth)
    m_rows = np.flatnonzero(reader.survey == reader.surveys.index(pool.removesuffix("_all")))
    pos_b, pos_m = shot_positions(reader, b_rows), shot_positions(reader, m_rows)
    if pos_b is None or pos_m is None:
        return {}
    name = f"(f) 4D binning: {nearest} nearest monitor shots, equalised + stack"
    t = base.shape[-1]
    designs = {name: window}
    if window is not None and (window.start or 0, window.stop or t) != (0, t):
        designs[f"{name}, whole-trace design"] = None
    out = {}
    for label, win in designs.items():
        est = np.empty(base.shape, dtype=np.float64)
        for j in progress_bar(range(len(base)), desc=label, unit="shot", disable=not progress):
            cand = m_rows != b_rows[j]  # the baseline pool: the shot itself left out
            if pool == "baseline_all" or not cand.any():
                cand[:] = True
            idx, w = B.bin_4d(pos_b[j], pos_m[cand], nearest=nearest)
            idx = np.flatnonzero(cand)[idx]
            est[j] = B.equalize_and_stack(
                reader.read(m_rows[idx]),
                base[j],
                length=4 * max_lag + 1,
                window=win,
                max_lag=max_lag,
                weights=w,
            )
        out[label] = est
    return out


class _Filtered:
    """A store reader whose gathers come out through ``fn`` (everything else as is)."""

    def __init__(self, reader, fn):
        self._reader, self._fn = reader, fn

    def __getattr__(self, name):
        return getattr(self._reader, name)

    def read(self, rows: np.ndarray) -> np.ndarray:
        return self._fn(self._reader.read(rows))


def low_cut_estimates(
    reader, truth: dict[str, np.ndarray], *, hz: float, gathers: tuple, **kw
) -> dict[str, np.ndarray]:
    """:func:`conventional_estimates` of the recorded gathers after a zero-phase low-cut
    at ``hz`` (:func:`symae_seis.baselines.low_cut`, the swell-noise attenuation a
    marine processor runs first), named with ``", after a <hz> Hz low-cut"``."""
    from ..baselines import low_cut

    def fn(x):
        return low_cut(x, reader.dt_ms, hz)

    base, raw, mon_sets = gathers
    out = conventional_estimates(
        _Filtered(reader, fn), truth, gathers=(fn(base), fn(raw), mon_sets), **kw
    )
    return {f"{name}, after a {hz:g} Hz low-cut": est for name, est in out.items()}
