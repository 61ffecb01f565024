"""The anchor's window-level options (symae_seis.qc.stacking): selective and robust
stacking, amplitude-based rejection in memory and at ingest (catalog
``correlate.reject_rms``), and their choice on a held-out field."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import obspy
import pytest

from symae_seis.bench.passive import _chosen_on_windows, windows_in_memory
from symae_seis.catalog import CatalogError
from symae_seis.ingest import build_store
from symae_seis.io import StoreReader
from symae_seis.qc.anchor import (
    AnchorSettings,
    anchor_dvv,
    choose_window_options,
    dvv_rms_error,
    window_stacks,
)
from symae_seis.qc.dvv import DvvError
from symae_seis.qc.stacking import amplitude_live, pair_live, record_mean, stack_windows
from symae_seis.synth.passive import PassiveParams

from ..conftest import entry


def _windows(seed=0, n=12, outliers=(2, 7, 9)):
    """``n`` windows of one pair: a shared waveform plus noise; ``outliers`` hold another
    waveform (a local source) three times as strong instead."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 201)
    shared = np.sin(40 * t) * np.exp(-3 * t)
    other = np.cos(23 * t) * np.exp(-1 * t)
    x = shared + 0.3 * rng.normal(size=(n, 201))
    x[list(outliers)] = 3 * other + 0.3 * rng.normal(size=(len(outliers), 201))
    return x[:, None, :], shared


def _misfit(stack, shared):
    s = stack[0] / np.linalg.norm(stack[0])
    return np.linalg.norm(s - shared / np.linalg.norm(shared))


def test_selective_and_robust_stacks_leave_out_windows_unlike_the_others():
    x, shared = _windows()
    mean = stack_windows(x)
    np.testing.assert_allclose(mean, x.mean(axis=0))
    ref = np.broadcast_to(shared, x.shape[1:])
    sel = stack_windows(x, stacking="selective", keep=0.5, reference=ref)
    robust = stack_windows(x, stacking="robust")
    assert _misfit(sel, shared) < 0.5 * _misfit(mean, shared)
    assert _misfit(robust, shared) < 0.5 * _misfit(mean, shared)
    # selective with the reference keeps the best half exactly: the 6 shared windows of 9
    cc = [np.dot(w[0], shared) / np.linalg.norm(w[0]) for w in x]
    best = np.argsort(cc)[::-1][:6]
    np.testing.assert_allclose(sel, x[best].mean(axis=0))


def test_dead_windows_and_pairs_count_for_nothing():
    x, shared = _windows()
    x = np.concatenate([x, x[:, :, ::-1]], axis=1)  # two pairs
    live = np.ones(x.shape[:2], bool)
    live[:4, 0] = False
    live[:, 1] = False
    x_dead = x.copy()
    x_dead[:2, 0] = 1e6  # whatever a dead window holds
    x_dead[2:4, 0] = np.nan
    ref = np.broadcast_to(shared, x.shape[1:])
    for stacking in ("mean", "selective", "robust"):
        for keep in (1.0, 0.5):
            got = stack_windows(x_dead, live, stacking, keep=keep, reference=ref)
            want = stack_windows(x[4:, :1], None, stacking, keep=keep, reference=ref[:1])
            assert np.all(got[1] == 0), stacking  # a pair dead all day stays zero
            np.testing.assert_allclose(got[0], want[0], rtol=1e-12, err_msg=stacking)
    # of the 8 live windows, selective keeps the best 4 (ceil(0.5 * 8)) of the live ones
    cc = [np.dot(w[0], shared) / np.linalg.norm(w[0]) for w in x[4:]]
    best = 4 + np.argsort(cc)[::-1][:4]
    np.testing.assert_allclose(
        stack_windows(x_dead, live, "selective", keep=0.5, reference=ref)[0], x[best, 0].mean(0)
    )


def test_robust_stack_of_identical_windows_is_the_window():
    x = np.zeros((3, 1, 5))
    x[:, 0, 0] = 1e5
    np.testing.assert_allclose(stack_windows(x, stacking="robust"), x[0])


def test_amplitude_rejection_leaves_out_a_transient_and_its_pairs():
    rng = np.random.default_rng(2)
    rms = 1 + 0.1 * rng.random((2, 10, 3))
    rms[1, 4, 1] = 5.0  # a transient at station 1, day 1, window 4
    rms[0, 2, 2] = np.nan  # a station that did not record
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    live = pair_live(rms, pairs, 3.0)
    dead = {tuple(i) for i in np.argwhere(~live)}
    assert dead == {(1, 4, 0), (1, 4, 2), (0, 2, 1), (0, 2, 2)}
    assert pair_live(rms, pairs, None).all()
    for bad in (1.0, 0.5):
        with pytest.raises(ValueError, match="above 1"):
            amplitude_live(rms[0], bad)


@pytest.mark.parametrize(
    "bad, words",
    [({"stacking": "median"}, "stacking"), ({"keep": 0.0}, "keep"),
     ({"reject_rms": 1.0}, "reject_rms")],
)  # fmt: skip
def test_impossible_window_settings_are_named(bad, words):
    with pytest.raises(DvvError, match=words):
        AnchorSettings(**bad)


def _mseed_day(folder, transient_at=None, offset=0.0):
    """3 stations of 200 s of 20 Hz noise; with ``transient_at`` ``(station, window)`` a
    burst 20 times the noise in that 20 s window."""
    rng = np.random.default_rng(5)
    common = rng.normal(size=4000)
    files = []
    for s in range(3):
        data = common + 0.5 * rng.normal(size=4000)
        if transient_at is not None and transient_at[0] == s:
            w = transient_at[1]
            data[w * 400 + 100 : w * 400 + 300] *= 20
        data += offset
        tr = obspy.Trace(data.astype(np.float32), header={
            "network": "XX", "station": f"S{s}", "channel": "HHZ", "sampling_rate": 20.0,
            "starttime": obspy.UTCDateTime(2026, 1, 1),
        })  # fmt: skip
        files.append(folder / f"S{s}.mseed")
        tr.write(str(files[-1]), format="MSEED")
    return [str(f) for f in files]


@pytest.mark.parametrize("offset", [0.0, 2000.0])
def test_reject_rms_at_ingest_marks_the_transients_pairs_dead(tmp_path, offset):
    """A burst at one station in one window, on records with and without a recorder's
    offset (counts): the RMS is taken about the window's mean."""
    files = _mseed_day(tmp_path, transient_at=(1, 4), offset=offset)
    stores = {}
    for name, corr in (("plain", {"max_lag_s": 5}), ("reject", {"max_lag_s": 5, "reject_rms": 3})):
        e = entry(tmp_path, name, format="mseed", surveys={"day": files}, window_s=20.0,
                  correlate=corr, store=f"{name}.h5")  # fmt: skip
        stores[name] = StoreReader(build_store(e))
    rows = np.arange(stores["plain"].shape[0])
    assert stores["plain"].live(rows).all()
    live = stores["reject"].live(rows)
    names = stores["reject"].channel_names
    dead = {(int(w), names[p]) for w, p in np.argwhere(~live)}
    assert dead == {(4, "XX.S0..HHZ|XX.S1..HHZ"), (4, "XX.S1..HHZ|XX.S2..HHZ")}
    x = stores["reject"].read(rows)
    assert np.all(x[4, ~live[4]] == 0)
    np.testing.assert_array_equal(x[live], stores["plain"].read(rows)[live])
    # the bench's chosen rows: recorded and virtual windows stacked alike, live as rejected
    plain, rej = stores["plain"], stores["reject"]
    anchor = AnchorSettings(stacking="robust", reject_rms=3.0)
    got = _chosen_on_windows(plain, plain.read(rows), anchor, tmp_path / "reject.h5")
    want = window_stacks([plain.read(m) for m in plain.members], anchor,
                         [rej.live(m) for m in plain.members])  # fmt: skip
    np.testing.assert_allclose(got["anchor"], want)
    np.testing.assert_allclose(got["SymAE"], want)
    for bad in (1.0, "3", True):
        with pytest.raises(CatalogError, match="reject_rms") as err:
            entry(tmp_path, "x", format="mseed", surveys={"day": files}, window_s=20.0,
                  correlate={"max_lag_s": 5, "reject_rms": bad})  # fmt: skip
        assert "'x'" in str(err.value)


TINY = PassiveParams(
    stations=3, days=5, drop_day=3, windows_per_day=8, window_s=20.0, scatterers=12, sources=8,
    azimuth_kappa=4.0, azimuth_turn_deg=180.0,
)  # fmt: skip


def test_window_options_are_chosen_against_the_truth_best_first():
    days, amp, pairs, truth, lags = windows_in_memory(TINY, 8.0)
    assert len(days) == TINY.days and amp.shape == (TINY.days, TINY.windows_per_day, 3)
    base = AnchorSettings((1.0, 6.0))
    plain = window_stacks(days, base)
    np.testing.assert_allclose(plain, np.stack([d.astype(np.float64).mean(axis=0) for d in days]))
    grid = (("mean", 0.5, None), ("selective", 0.5, None), ("robust", 0.5, 2.0))
    ranked = choose_window_options(days, amp, pairs, lags, truth, base, grid=grid)
    assert [e for _, e in ranked] == sorted(e for _, e in ranked)
    by = {(s.stacking, s.reject_rms): e for s, e in ranked}
    assert by[("mean", None)] == pytest.approx(dvv_rms_error(anchor_dvv(plain, lags, base), truth))
    sel = replace(base, stacking="selective")
    ref = record_mean(zip(days, [np.ones(d.shape[:2], bool) for d in days]))
    stacks = np.stack([stack_windows(d, None, "selective", reference=ref) for d in days])
    assert by[("selective", None)] == pytest.approx(
        dvv_rms_error(anchor_dvv(stacks, lags, sel), truth)
    )
    assert "robust stacking, reject RMS > 2x median" in [s.label() for s, _ in ranked if
                                                          s.stacking == "robust"][0]  # fmt: skip
