"""SymAE as a plain module: shapes, symmetry, save/load, bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symae_seis.models import (
    InvariantError,
    ModelFileError,
    SymAE,
    check_permutation_invariance,
    check_save_load,
)

from ..conftest import assert_message
from .toys import recon_error_after_training


@pytest.fixture(
    params=["filter", "filter+shift", "filter+fold", "filter+notrace", "generic", "generic+fold"]
)
def model(request):
    torch.manual_seed(0)
    decoder, _, extra = request.param.partition("+")
    m = SymAE(
        8,
        64,
        coherent_dim=6,
        nuisance_dim=5,
        width=4,
        hidden=16,
        decoder=decoder,
        filter_shift=extra == "shift",
        time_fold=2 if extra == "fold" else None,
        trace_terms=False if extra == "notrace" else None,
    )
    if decoder == "filter":  # leave the identity start: random filters, refiner
        for p in (*m.decoder.filter_head[-1].parameters(), *m.decoder.refine[-1].parameters()):
            torch.nn.init.normal_(p, std=0.1)
    return m


def test_shapes_and_codes(model):
    x = torch.randn(3, 5, 8, 64)
    assert model(x).shape == x.shape
    # the filter decoder's coherent gather reaches 8 samples below the record
    expected = (3, 8, 72) if model.config["decoder"] == "filter" else (3, 6)
    assert model.encode_coherent(x).shape == expected == (3, *model.coherent_shape)
    assert model.encode_nuisance(x).shape == (3, 5, 5)
    # any I >= 1 at inference, and redatuming = decode with swapped codes
    c = model.encode_coherent(x[:1, :1])
    n = model.encode_nuisance(x[1:2])
    assert model.decode(c, n).shape == (1, 5, 8, 64)


def test_coherent_code_is_permutation_invariant_exactly(model):
    x = torch.randn(2, 7, 8, 64, dtype=torch.float64)
    m = model.double()
    assert check_permutation_invariance(m, x, trials=5, atol=1e-12) < 1e-12
    # ... and really depends on the instances (not a constant)
    with torch.no_grad():
        m.eval()
        assert (m.encode_coherent(x) - m.encode_coherent(x.flip(0))).abs().max() > 1e-6


def test_permutation_check_catches_an_asymmetric_model(model):
    class FirstInstance(SymAE):
        def encode_coherent(self, x):
            return super().encode_coherent(x[:, :1])

    bad = FirstInstance(8, 64, width=4, hidden=16, decoder=model.config["decoder"])
    with pytest.raises(InvariantError, match="under permutation"):
        check_permutation_invariance(bad, torch.randn(2, 4, 8, 64))


def test_nuisance_dropout_only_in_training():
    model = SymAE(8, 64, width=4, hidden=16, nuisance_dropout=0.4)
    x = torch.randn(2, 3, 8, 64)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.encode_nuisance(x), model.encode_nuisance(x))
    model.train()
    with torch.no_grad():
        assert not torch.equal(model.encode_nuisance(x), model.encode_nuisance(x))
    off = SymAE(8, 64, width=4, hidden=16, nuisance_dropout=0.0).train()
    with torch.no_grad():
        assert torch.equal(off.encode_nuisance(x), off.encode_nuisance(x))


def test_scale_returns_input_units(model):
    big = SymAE(
        8,
        64,
        coherent_dim=6,
        nuisance_dim=5,
        width=4,
        hidden=16,
        scale=1000.0,
        decoder=model.config["decoder"],
        filter_shift=model.config["filter_shift"],
        time_fold=model.config["time_fold"],
        trace_terms=model.config["trace_terms"],
    )
    big.load_state_dict({**model.state_dict(), "scale": torch.tensor(1000.0)})
    x = torch.randn(1, 2, 8, 64)
    model.eval()
    big.eval()
    with torch.no_grad():
        # the filter decoder's pooling is a float32 iterative solver: equal to ~1e-3 after
        # the training's 5 steps (evaluation's 40 undamped ones on this random model's
        # filters amplify float32 round-off further: checked in float64 below)
        cfg = dict(model.config)
        for m in (big, model):
            m.config.update(
                eval_pool_iters=m.config["pool_iters"], eval_pool_eps=m.config["pool_eps"]
            )
        torch.testing.assert_close(big(x * 1000), model(x) * 1000, rtol=1e-3, atol=1e-2)
        for m in (big, model):
            m.config.update(
                eval_pool_iters=cfg["eval_pool_iters"], eval_pool_eps=cfg["eval_pool_eps"]
            )
    big.double(), model.double()
    with torch.no_grad():
        x = x.double()
        torch.testing.assert_close(big(x * 1000), model(x) * 1000, rtol=1e-9, atol=1e-9)


def test_save_load_round_trip(model, tmp_path):
    x = torch.randn(2, 3, 8, 64)
    model.schema = {"channels": 8, "samples": 64, "dataset": "t"}
    assert check_save_load(model, tmp_path / "m.pt", x) == 0.0
    again = SymAE.load(tmp_path / "m.pt")
    assert again.config == model.config and again.schema == model.schema


def test_bad_model_files(model, tmp_path):
    p = model.save(tmp_path / "m.pt")
    data = p.read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError) as err:
        SymAE.load(trunc)
    assert_message(err, str(trunc), "truncated or corrupt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ModelFileError) as err:
        SymAE.load(other)
    assert_message(err, str(other), "not a symae-seis model")
    blob = model.export()
    blob["config"]["width"] = 8  # declares another architecture
    mismatch = tmp_path / "mismatch.pt"
    torch.save(blob, mismatch)
    with pytest.raises(ModelFileError) as err:
        SymAE.load(mismatch)
    assert_message(err, str(mismatch), "weights do not fit")
    with pytest.raises(FileNotFoundError):
        SymAE.load(tmp_path / "absent.pt")


def test_bad_arguments(model):
    with pytest.raises(ValueError, match=r"expected gathers of shape \(B, I, 8, 64\)"):
        model(torch.randn(2, 3, 9, 64))
    with pytest.raises(ValueError, match="nuisance_dropout"):
        SymAE(8, 64, nuisance_dropout=1.0)
    with pytest.raises(ValueError, match="scale"):
        SymAE(8, 64, scale=float("nan"))
    with pytest.raises(ValueError, match="decoder must be one of"):
        SymAE(8, 64, decoder="fliter")


def test_generic_model_saved_before_the_filter_decoder_still_loads(tmp_path):
    torch.manual_seed(0)
    old = SymAE(8, 64, width=4, hidden=16, decoder="generic")
    blob = old.export()
    for key in ("decoder", "filter_terms"):  # what a session-1 model.pt holds
        del blob["config"][key]
    torch.save(blob, tmp_path / "old.pt")
    again = SymAE.load(tmp_path / "old.pt")
    assert again.config["decoder"] == "generic"
    x = torch.randn(1, 3, 8, 64)
    with torch.no_grad():
        assert torch.equal(old.eval()(x), again(x))


def test_filter_family_is_exact():
    from symae_seis.baselines import shift_traces
    from symae_seis.models import filters as FF

    torch.manual_seed(1)
    t = torch.arange(128.0)
    x = torch.exp(-(((t - 50) / 4) ** 2)) * torch.cos(0.6 * (t - 50))
    x = x.expand(1, 6, 128).double()
    theta = torch.zeros(1, FF.n_params(4))
    # a bulk static of 1.3 samples delays every trace by exactly that (Fourier shift)
    theta[0, 4 + 1] = 1.3 / FF.STATIC_SCALE
    y = FF.apply(x, FF.response(theta, 6, 128, 4))
    np.testing.assert_allclose(y.numpy(), shift_traces(x.numpy(), 1.3), atol=1e-5)
    # a static growing along the channel axis moves the last trace more than the first
    theta[0, 4 + 3] = 0.5
    y = FF.apply(x, FF.response(theta, 6, 128, 4)).numpy()
    lag = [np.argmax(np.correlate(y[0, c], x[0, c].numpy(), "full")) - 127 for c in (0, 5)]
    assert lag[1] - lag[0] == 4  # 2 * 0.5 * STATIC_SCALE samples
    # any filter of the family is undone by its inverse (exactly but for the tails of
    # the phase rotation cut at the end of the record: 0.2 % of the peak here)
    theta = torch.randn(3, FF.n_params(4)) * 0.3
    h, hi = FF.response(theta, 6, 128, 4), FF.response(theta, 6, 128, 4, inverse=True)
    xf = x.float().expand(3, 6, 128)
    once = FF.apply(xf, h)
    assert (once - xf).abs().max() > 0.1  # the filter does something
    np.testing.assert_allclose(FF.apply(once, hi).numpy(), xf.numpy(), atol=5e-3)


def test_channel_shift_moves_each_event_by_its_own_slope():
    """filter_shift: a shift of sigma channels is G(c - sigma): a dipping event moves in
    time by sigma times its dip, a flat one stays; integer shifts are exact; the
    operator's adjoint is the shift by -sigma (dot-product test)."""
    from symae_seis.models import filters as FF

    c, t = 16, 128
    tt = torch.arange(float(t))
    g = torch.zeros(c, t, dtype=torch.float64)
    for k in range(c):  # flat event at 30, dipping event 40 + 2 k samples
        g[k] = torch.exp(-(((tt - 30) / 3) ** 2)) + torch.exp(-(((tt - 40 - 2 * k) / 3) ** 2))
    spec = torch.fft.rfft(g, n=2 * t)
    field = FF.shift_field(c, t + 1).double()
    moved = torch.fft.irfft(
        FF.shift_spectra(spec, torch.tensor(0.5, dtype=torch.float64), field), n=2 * t
    )[..., :t]
    for k in (5, 8, 11):  # away from the edges of the gather
        assert moved[k, 20:35].argmax().item() + 20 == 30
        # centroid of the dipping event: 40 + 2 (k - 0.5)
        win = slice(40 + 2 * k - 10, 40 + 2 * k + 9)
        w = moved[k, win].clamp_min(0) ** 2
        centroid = (w * tt[win]).sum() / w.sum()
        assert centroid.item() == pytest.approx(40 + 2 * (k - 0.5), abs=0.05)
    whole = torch.fft.irfft(
        FF.shift_spectra(spec, torch.tensor(2.0, dtype=torch.float64), field), n=2 * t
    )[..., :t]
    torch.testing.assert_close(whole[2:], g[:-2], atol=1e-6, rtol=0)
    assert whole[:2].abs().max() < 1e-6  # no wrap-around
    rng = torch.Generator().manual_seed(0)
    a = torch.randn(3, c, t + 1, dtype=torch.complex128, generator=rng)
    b = torch.randn(3, c, t + 1, dtype=torch.complex128, generator=rng)
    sig = torch.tensor([0.3, -1.7, 4.2], dtype=torch.float64)
    lhs = (FF.shift_spectra(a, sig, field) * b.conj()).sum()
    rhs = (a * FF.shift_spectra(b, -sig, field).conj()).sum()
    assert abs(lhs - rhs) < 1e-9 * abs(lhs)


class _KnownFilters(SymAE):
    """A filter-decoder SymAE whose nuisance codes *are* the filter parameters: pooling
    and decoding are then pure physics that can be checked against the truth (the plain
    family: no per-trace terms unless asked)."""

    def __init__(self, *args, trace_terms=False, **kwargs):
        # in evaluation, too, the pooling the test asks for (pool_iters, pool_eps)
        kwargs.setdefault("eval_pool_iters", kwargs.get("pool_iters", 5))
        kwargs.setdefault("eval_pool_eps", kwargs.get("pool_eps", 1e-3))
        super().__init__(*args, trace_terms=trace_terms, **kwargs)
        self.decoder.params = lambda nuisance: nuisance  # codes are the parameters


def _known_filter_bag(rng, n_inst=6, c=4, t=64, pad=16, terms=3, below=True):
    from symae_seis.models import filters as FF

    g = np.zeros((c, t + pad))
    for k in range(c):  # reflections, two of them below the record
        for pos in (10 + k, 30, 50 + k % 2, t + 3 + k % 4) if below else (10 + k, 30, 45):
            g[k, pos] = rng.normal()
    g = torch.from_numpy(g)
    theta = torch.zeros(n_inst + 1, FF.n_params(terms), dtype=torch.float64)
    theta[:, 0] = torch.from_numpy(rng.uniform(-0.8, 0.8, n_inst + 1))  # spectrum tilt
    theta[:, 1] = torch.from_numpy(rng.uniform(0.5, 1.5, n_inst + 1))  # band
    theta[:, terms] = torch.from_numpy(rng.uniform(-1, 1, n_inst + 1))  # phase
    theta[:, terms + 1] = torch.from_numpy(rng.uniform(-0.6, 0.6, n_inst + 1))  # static
    h = FF.response(theta, c, t + pad, terms)
    full = FF.apply(g[None].expand(n_inst + 1, c, t + pad), h)[..., :t]  # recorded: crop
    return g, theta, full


def test_least_squares_pooling_recovers_the_record_end():
    """Instances made by known filters from one gather with events below the record: the
    pooled coherent gather, seen through a new instance's filter, rebuilds that instance,
    also in its last samples. The Wiener estimate alone cannot (it takes the record as
    zero below its end); conjugate-gradient steps converge to it. A dead trace in one
    instance is left out, not averaged in as zeros."""
    rng = np.random.default_rng(1)
    g, theta, full = _known_filter_bag(rng)
    errs = {}
    for iters in (0, 12, 40):
        m = (
            _KnownFilters(
                4,
                64,
                width=4,
                hidden=8,
                nuisance_dim=theta.shape[1],
                filter_terms=3,
                coherent_pad=16,
                pool_iters=iters,
                pool_eps=1e-6,
            )
            .double()
            .eval()
        )
        x, new = full[None, :-1].clone(), theta[None, -1:]
        x[0, 2, 1] = 0.0  # a dead trace
        with torch.no_grad():
            virt = m.decode(m.pool(x, theta[None, :-1]), new)[0, 0]
        errs[iters] = (
            ((virt - full[-1]).norm() / full[-1].norm()).item(),
            ((virt - full[-1])[:, -8:].norm() / full[-1][:, -8:].norm()).item(),
        )
    assert errs[0][1] > 0.5  # Wiener alone: the end is lost
    assert errs[12][1] < errs[0][1] / 4
    assert errs[40][0] < 0.005 and errs[40][1] < 0.01


def test_evaluation_pools_further_than_training():
    """Training takes a few damped CG steps (their gradient is what it needs); in
    evaluation (redatuming, QC) the pooling runs the ``eval_pool_*`` steps and recovers
    the record's end that the training setting leaves out. Defaults: 40 steps and 1e-4
    without the channel shift, the training values with it; models saved before the
    option pool in evaluation as they were trained."""
    from symae_seis.models.config import EVAL_POOL, with_legacy_defaults

    rng = np.random.default_rng(1)
    g, theta, full = _known_filter_bag(rng)
    m = _KnownFilters(
        4,
        64,
        width=4,
        hidden=8,
        nuisance_dim=theta.shape[1],
        filter_terms=3,
        coherent_pad=16,
        pool_iters=0,
        eval_pool_iters=40,
        eval_pool_eps=1e-6,
    ).double()
    x, new = full[None, :-1], theta[None, -1:]

    def end_error():
        with torch.no_grad():
            virt = m.decode(m.pool(x, theta[None, :-1]), new)[0, 0]
        return ((virt - full[-1])[:, -8:].norm() / full[-1][:, -8:].norm()).item()

    m.train()
    trained_way = end_error()
    m.eval()
    assert end_error() < 0.01 < 0.5 < trained_way
    with m.training_pool():  # validation's cheap monitoring pooling
        assert end_error() == trained_way
    plain = SymAE(4, 64, width=4, hidden=8).config
    shifted = SymAE(4, 64, width=4, hidden=8, filter_shift=True).config
    assert (plain["eval_pool_iters"], plain["eval_pool_eps"]) == EVAL_POOL
    assert (shifted["eval_pool_iters"], shifted["eval_pool_eps"]) == (5, 1e-3)
    old = with_legacy_defaults(
        {"decoder": "filter", "pool": "wiener", "pool_iters": 5, "pool_eps": 1e-3}
    )
    assert (old["eval_pool_iters"], old["eval_pool_eps"]) == (5, 1e-3)


def test_least_squares_pooling_undoes_channel_shifts():
    """filter_shift: instances of one gather seen from sources moved by -1, 0 or +1
    channels (and through their own filters) pool back to it: a new instance is rebuilt
    far better than by a model that cannot shift."""
    rng = np.random.default_rng(2)
    c, t, pad, terms, n_inst = 8, 64, 16, 3, 6
    g, theta, _ = _known_filter_bag(rng, n_inst=n_inst, c=c, t=t, pad=pad, terms=terms)
    sigma = torch.tensor([-1.0, 0.0, 1.0, 1.0, -1.0, 0.0, 1.0], dtype=torch.float64)
    theta = torch.cat([theta, sigma[:, None]], dim=1)
    kw = dict(
        width=4,
        hidden=8,
        nuisance_dim=theta.shape[1],
        filter_terms=terms,
        coherent_pad=pad,
        pool_iters=100,
        pool_eps=1e-6,
    )
    m = _KnownFilters(c, t, filter_shift=True, **kw).double().eval()
    with torch.no_grad():
        full = m.decode(g[None], theta[None])[0]  # the recordings
        x, new = full[None, :-1], theta[None, -1:]
        virt = m.decode(m.pool(x, theta[None, :-1]), new)[0, 0]
        blind = _KnownFilters(c, t, **kw).double().eval()
        base = blind.decode(blind.pool(x, theta[None, :-1, :-1]), new[..., :-1])[0, 0]
    err = ((virt - full[-1]).norm() / full[-1].norm()).item()
    err_blind = ((base - full[-1]).norm() / full[-1].norm()).item()
    assert err < 0.03 and err_blind > 10 * err, (err, err_blind)


def test_models_saved_before_newer_options_load_as_they_were():
    """A saved config without the options added since (decoder, pooling, channel shift)
    loads with the values those models had, weights and outputs unchanged."""
    from symae_seis.models.config import LEGACY_CONFIG

    torch.manual_seed(0)
    x = torch.randn(1, 3, 8, 64)
    for kw, drop in (
        (
            {"decoder": "generic", "pool": "mean", "pool_iters": 0},
            [*LEGACY_CONFIG, "eval_pool_iters", "eval_pool_eps"],
        ),
        (
            {"decoder": "filter", "eval_pool_iters": 5, "eval_pool_eps": 1e-3},
            ["filter_shift", "eval_pool_iters", "eval_pool_eps"],
        ),
    ):
        m = SymAE(8, 64, width=4, hidden=16, **kw).eval()
        blob = m.export()
        for key in drop:
            blob["config"].pop(key)
        again = SymAE.from_export(blob).eval()
        assert again.config == m.config
        with torch.no_grad():
            torch.testing.assert_close(again(x), m(x))


def test_time_fold_sees_every_sample_and_old_models_stay_unfolded():
    """Long traces are folded by 2 into the encoders (lossless, half the cost of the
    full-resolution level); the encoders end on the same grid; models saved before the
    option load unfolded."""
    from symae_seis.errors import OptionError

    torch.manual_seed(0)
    long = SymAE(8, 375, width=4, hidden=16)
    assert long.config["time_fold"] == 2
    assert SymAE(8, 128, width=4, hidden=16).config["time_fold"] == 1
    flat = SymAE(8, 375, width=4, hidden=16, time_fold=1)
    assert long.nuisance.trunk.shapes[-1] == flat.nuisance.trunk.shapes[-1] == (4, 12)
    assert long.config["levels"] == flat.config["levels"] - 1
    # every sample of an odd-length trace, even or odd, reaches the nuisance code
    x = torch.randn(1, 2, 8, 375, requires_grad=True)
    long.encode_nuisance(x).sum().backward()
    reach = x.grad[0, 0].abs().amax(dim=0)
    assert (reach > 0).all()
    # a model saved without the option is the unfolded model it was
    blob = flat.export()
    blob["config"].pop("time_fold")
    again = SymAE.from_export(blob).eval()
    assert again.config["time_fold"] == 1
    with torch.no_grad():
        torch.testing.assert_close(again(x.detach()), flat.eval()(x.detach()))
    with pytest.raises(OptionError, match="time_fold"):
        SymAE(8, 64, time_fold=17)


def test_coherent_pad_gives_fast_fft_lengths():
    from symae_seis.models.pooling import _smooth, default_coherent_pad

    for t in (64, 128, 150, 375, 1000, 1501):
        pad = default_coherent_pad(t)
        assert pad >= max(8, -(-t // 8)) and _smooth(t + pad), t
    assert default_coherent_pad(128) == 16 and default_coherent_pad(375) == 57


def test_trace_terms_move_one_trace_alone():
    """A per-trace static and gain act on their own trace only (the first trace of a shot
    whose source moved past it), exactly and invertibly."""
    from symae_seis.models import filters as FF

    c, t, terms = 6, 128, 4
    x = torch.zeros(1, c, t, dtype=torch.float64)
    x[0, :, 40] = 1.0
    theta = torch.zeros(1, FF.n_params(terms, trace_channels=c), dtype=torch.float64)
    per = FF.trace_slice(terms, c)
    theta[0, per.start + 0] = 3.0 / FF.STATIC_SCALE  # trace 0: 3 samples later
    theta[0, per.start + c + 0] = np.log(0.5)  # and half as strong
    y = FF.apply(x, FF.response(theta, c, t, terms, trace=True))[0].numpy()
    assert np.argmax(y[0]) == 43 and y[0].max() == pytest.approx(0.5, abs=1e-9)
    np.testing.assert_allclose(y[1:], x[0, 1:].numpy(), atol=1e-12)
    # without trace=True the same vector is the plain family (terms ignored)
    y0 = FF.apply(x, FF.response(theta, c, t, terms))[0].numpy()
    np.testing.assert_allclose(y0, x[0].numpy(), atol=1e-12)
    back = FF.apply(
        torch.from_numpy(y)[None], FF.response(theta, c, t, terms, inverse=True, trace=True)
    )
    np.testing.assert_allclose(back[0].numpy(), x[0].numpy(), atol=1e-9)
    from symae_seis.errors import OptionError

    with pytest.raises(OptionError, match="trace_terms"):
        SymAE(8, 64, decoder="generic", trace_terms=True)


def test_gauge_terms_hold_a_datapoints_shared_shift_and_trace_terms_at_zero():
    """What every instance of a datapoint shares is the coherent gather's: the objective
    penalises the datapoint's mean per-trace static/gain and the batch's mean channel shift,
    and its gradient pulls them back."""
    from symae_seis.training.objective import objective

    torch.manual_seed(0)
    m = SymAE(8, 64, width=4, hidden=16, nuisance_dim=5, trace_terms=True, filter_shift=True)
    x = torch.randn(2, 4, 8, 64)
    terms = objective(m, x, augment=False)
    assert terms["trace_gauge"] == 0 and terms["shift_gauge"] == 0  # identity filters
    with torch.no_grad():  # every instance: the same trace-3 static
        m.decoder.filter_head[-1].bias[_trace_index(m, 3)] = 0.5
    terms = objective(m, x, augment=False)
    assert terms["trace_gauge"].item() == pytest.approx(0.25 / 16, rel=1e-5)
    terms["trace_gauge"].backward()
    assert m.decoder.filter_head[-1].bias.grad[_trace_index(m, 3)] > 0


def _trace_index(m, channel):
    from symae_seis.models import filters as FF

    return FF.trace_slice(m.config["filter_terms"], m.config["channels"]).start + channel


def test_nuisance_window_hides_the_rest_of_the_record(tmp_path):
    """With a nuisance window the nuisance code reads only that part of the record:
    whatever changes below it (the 4D change under a design window) cannot reach the
    code; the window survives save/load; bad windows are refused by name."""
    from symae_seis.errors import OptionError
    from symae_seis.models.encoders import window_taper

    w = window_taper(64, 0, 40)
    assert w[:32].eq(1).all() and (w[32:40] < 1).all() and w[40:].eq(0).all()
    assert (torch.diff(w[31:41]) < 0).all()  # a smooth ramp down
    assert window_taper(64, 20, 30)[20] < 1  # ramps at inner edges only
    torch.manual_seed(0)
    m = SymAE(8, 64, width=4, hidden=16, nuisance_window=(0, 40)).eval()
    x = torch.randn(2, 3, 8, 64)
    y = x.clone()
    y[..., 40:] += 5 * torch.randn(2, 3, 8, 24)  # another earth below
    z = x.clone()
    z[..., 5] += 1.0  # another shot inside
    with torch.no_grad():
        torch.testing.assert_close(m.encode_nuisance(x), m.encode_nuisance(y), rtol=0, atol=0)
        assert not torch.equal(m.encode_nuisance(x), m.encode_nuisance(z))
        whole = SymAE(8, 64, width=4, hidden=16)
        whole.load_state_dict(m.state_dict())
        assert not torch.equal(whole.eval().encode_nuisance(x), whole.encode_nuisance(y))
    again = SymAE.load(m.save(tmp_path / "m.pt")).eval()
    assert again.config["nuisance_window"] == [0, 40]
    with torch.no_grad():
        torch.testing.assert_close(again(x), m(x))
    for bad, words in (
        ((10, 12), "at least 4 samples"),
        ((0, 80), "inside the record"),
        ("top", "[start, stop]"),
    ):
        with pytest.raises(OptionError) as err:
            SymAE(8, 64, nuisance_window=bad)
        assert_message(err, "nuisance_window", words)


def test_split_nuisance_view_reads_trace_terms_from_the_window_only(tmp_path):
    """nuisance_split: the spectrum, phase, bulk static and gain come from a code of the
    whole record, the per-trace statics and gains from a code of the window alone; so
    what changes below the window moves only the former."""
    from symae_seis.errors import OptionError
    from symae_seis.models import filters as FF
    from symae_seis.prior import refine_codes

    torch.manual_seed(0)
    m = SymAE(
        8, 64, width=4, hidden=16, nuisance_dim=5, nuisance_window=(0, 40), nuisance_split=True
    )
    for head in (m.decoder.filter_head, m.decoder.trace_head):
        torch.nn.init.normal_(head[-1].weight, std=0.1)
    m.eval()
    x = torch.randn(2, 3, 8, 64)
    y = x.clone()
    y[..., 40:] += 5 * torch.randn(2, 3, 8, 24)
    with torch.no_grad():
        tx, ty = m.filter_params(m.encode_nuisance(x)), m.filter_params(m.encode_nuisance(y))
    assert m.code_dim == 10 and tx.shape[-1] == FF.n_params(6, False, 8)
    per = FF.trace_slice(6, 8)
    torch.testing.assert_close(tx[..., per], ty[..., per], rtol=0, atol=0)
    assert not torch.equal(tx[..., : per.start], ty[..., : per.start])
    again = SymAE.load(m.save(tmp_path / "m.pt")).eval()
    with torch.no_grad():
        torch.testing.assert_close(again(x), m(x))
    g, z = refine_codes(m, x, steps=3)  # the redatuming fit takes its codes
    assert g.shape == (2, *m.coherent_shape) and z.shape == (2, 3, 10)
    with pytest.raises(OptionError, match="nuisance_split needs"):
        SymAE(8, 64, nuisance_split=True)


def test_bf16_autocast_keeps_the_filters_in_full_precision():
    """Under bf16 mixed precision (a GPU's default in ``symae-train``) the encoders may
    run in bf16, but the filter parameters, their spectra and the filtering stay float32:
    the same codes give the same statics and responses as in float32, to float32's
    rounding, and the reconstruction stays float32."""
    torch.manual_seed(0)
    m = SymAE(8, 64, nuisance_dim=5, width=4, hidden=16).eval()
    for p in m.decoder.filter_head[-1].parameters():
        torch.nn.init.normal_(p, std=0.1)
    z = torch.randn(3, 4, 5)
    theta = m.filter_params(z)
    h = m.filter_response(z)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        theta16 = m.filter_params(z.bfloat16())
        h16 = m.filter_response(z)
        y16 = m(torch.randn(2, 4, 8, 64))
    assert theta16.dtype == torch.float32 and h16.dtype == torch.complex64
    assert y16.dtype == torch.float32
    # bf16 codes in (z rounded to 8 bits), yet the MLP and the spectra run in float32
    np.testing.assert_allclose(
        m.filter_params(z.bfloat16().float()).detach(), theta16.detach(), rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(h16.detach(), h.detach(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(theta16.detach(), theta.detach(), rtol=0, atol=0.05)


def test_geometry_terms_place_the_earth_where_each_shot_was_fired():
    """With geometry_terms the coherent part is two gathers (the earth at the bin's
    centre and its change with the shot's position) and each shot sees ``G0 + d G1``:
    a bag made that way is pooled back to G0 and G1 and rebuilt, symmetric in the bag;
    the model without the terms cannot rebuild it, and a model that needs the geometry
    says so when it is missing."""
    from symae_seis.errors import OptionError

    torch.manual_seed(0)
    c, t = 6, 64
    kw = dict(width=4, hidden=8, coherent_pad=0, trace_terms=False)
    m = SymAE(c, t, geometry_terms=True, **kw).double().eval()
    assert m.coherent_shape == (2, c, t) and m.code_dim == m.config["nuisance_dim"] + 1
    g0, g1 = torch.randn(2, c, t, dtype=torch.float64), torch.randn(2, c, t, dtype=torch.float64)
    d = torch.tensor([[-0.8, -0.2, 0.3, 0.9], [-0.5, 0.0, 0.4, 0.7]], dtype=torch.float64)
    d = d[..., None]
    x = g0[:, None] + d[..., None] * g1[:, None]
    with torch.no_grad():
        coh = m.encode_coherent(x, geometry=d)
        assert float((coh[:, 0] - g0).abs().max()) < 5e-3
        assert float((coh[:, 1] - g1).abs().max()) < 5e-3
        assert float((m(x, geometry=d) - x).abs().max()) < 5e-3
        perm = [2, 0, 3, 1]
        assert torch.equal(m.encode_coherent(x[:, perm], geometry=d[:, perm]), coh)
        plain = SymAE(c, t, **kw).double().eval()
        assert float((plain(x) - x).abs().max() / x.abs().max()) > 0.3
        with pytest.raises(ValueError, match="geometry"):
            m(x)
    with pytest.raises(OptionError, match="geometry_terms needs"):
        SymAE(c, t, geometry_terms=True, pool="mean", **kw)
    # off by default (measured: docs/decisions/field-geometry.md), and only for bins
    assert not SymAE(c, t, schema={"position_bin": 80.0}, **kw).config["geometry_terms"]
    with pytest.raises(OptionError, match="datapoint_bin"):
        SymAE(c, t, geometry_terms=True, schema={"position_bin": None}, **kw)


def test_coherent_terms_learn_a_shift_that_differs_from_event_to_event():
    """Shots whose events move by their own amounts for one nuisance (a water velocity
    moves each event by its own water path): the filter family cannot express it, one
    learned coherent term (G0 + a G1, ``a`` from each shot's code) can; real training
    steps."""
    torch.manual_seed(0)
    c, t, n_dp, n_inst = 4, 48, 12, 6
    tt = torch.arange(t, dtype=torch.float32)
    t0 = 8 + 30 * torch.rand(n_dp, 3, c)
    sens = 3 * torch.rand(n_dp, 3, 1)  # each event's own shift per unit nuisance
    a = 2 * torch.rand(n_dp, n_inst) - 1
    x = 0
    for e in range(3):
        at = (t0[:, e, None, :] + a[:, :, None] * sens[:, e, None])[..., None]
        x = x + torch.exp(-0.5 * ((tt - at) / 4.0) ** 2) * torch.cos(0.5 * (tt - at))
    err = {k: recon_error_after_training(x, coherent_terms=k, trace_terms=False) for k in (0, 1)}
    assert err[1] < 0.05 and err[1] < 0.3 * err[0], err


def test_robust_pooling_is_not_bent_by_a_noise_burst():
    """A burst of strong noise on three channels of one shot (swell): the least-squares
    pooling carries a share of it into the coherent gather, the robust pooling (traces
    weighted down by their misfit against the bag's median at that channel) nearly none;
    on a clean bag both give the same gather."""
    torch.manual_seed(0)
    c, t = 8, 64
    kw = dict(width=4, hidden=8, coherent_pad=0, trace_terms=False)
    plain = SymAE(c, t, **kw).double().eval()
    robust = SymAE(c, t, robust=True, **kw).double().eval()
    robust.load_state_dict(plain.state_dict())
    g = torch.randn(1, c, t, dtype=torch.float64)
    clean = g[:, None].expand(1, 6, c, t).clone()
    noisy = clean.clone()
    noisy[0, 2, 3:6] += 5.0 * torch.randn(3, t, dtype=torch.float64)
    with torch.no_grad():
        err = {
            name: float((m.encode_coherent(noisy) - g).norm() / g.norm())
            for name, m in (("plain", plain), ("robust", robust))
        }
        same = (robust.encode_coherent(clean) - plain.encode_coherent(clean)).abs().max()
    assert err["robust"] < 0.1 * err["plain"] and err["plain"] > 0.2, err
    assert float(same) < 1e-6
