"""The physical filter family of the filter decoder (torch only).

One instance's acquisition acts on the earth's gather ``G (C, T)`` as a filter applied
trace by trace in the frequency domain, on traces zero-padded to ``2 T`` samples (so a
static never wraps around):

``H_c(f) = exp(logA(f) + g0 + g(c)) * exp(-i phi) * exp(-2 pi i f (s0 + s(c)) dt)``

* ``logA(f) = sum_k a_k cos(k pi f / f_N)``, k = 1..K: a smooth log-amplitude spectrum
  (the wavelet's peak frequency and bandwidth), bounded to ``+-LOGAMP_MAX`` nats. The
  terms are a cepstrum (quefrency k samples); with ``min_phase`` the filter also gets the
  phase of the minimum-phase filter of that log-amplitude, ``-sum_k a_k sin(k pi f /
  f_N)``, so that a source signature's echoes (a bubble train, a ghost) change from shot
  to shot as a causal filter (``SymAEConfig(min_phase=True, filter_terms=96)``);
* ``phi``: a constant phase rotation (radians);
* ``s0``: a bulk static (samples), ``g0``: a gain (log);
* ``s(c) = s1 u + s2 (u^2 - 1/3)``, ``g(c) = g1 u + g2 (u^2 - 1/3)`` with ``u`` the
  channel's position in ``[-1, 1]`` along the channel key: statics and gains that vary
  smoothly along the gather (source-position jitter, water-velocity statics that grow
  with offset).

Every filter of the family is invertible exactly (amplitudes are exponentials, phases
unimodular), which the filter decoder uses to equalise instances before stacking them.

Optionally (``trace=True``) every trace also gets a **free static and gain** of its own,
``ts_c`` and ``tg_c``, added to the quadratics: near a source that moves between shots the
trace at the source moves the other way and loses or gains amplitude like ``1 / r`` (a
wave-equation shot moved by a third of a receiver interval: per-trace static and gain
rebuild it to 6 % NRMS, a quadratic along the gather cannot follow its first trace).

Optionally (``shift=True``) a **channel shift** ``sigma`` (in channels) acts on the earth's
gather before the trace filters: a moved source samples the earth's response at offsets
moved by the same distance, ``G(c - sigma, t)``, which moves every event by its own slope
(a direct wave by its full move-out, a flat reflection not at all), something no
trace-by-trace filter does. It is applied in the frequency-wavenumber domain on gathers
zero-padded to ``2 C`` channels (no wrap-around): ``exp(i sigma Phi(k, f))``, with
``Phi`` a phase field per unit shift that starts as the exact shift ``-2 pi k`` and is
learned, so that energy aliased along the channel axis can move along its true dip.

Parameter vector layout (last axis, length ``n_params(K, shift, C if trace else 0)``):
``[a_1 .. a_K, phi, s0, g0, s1, s2, g1, g2(, ts_1 .. ts_C, tg_1 .. tg_C)(, sigma)]``.
"""

from __future__ import annotations

import torch

__all__ = [
    "n_params",
    "PARAM_NAMES",
    "TIME_PARAMS",
    "response",
    "apply",
    "LOGAMP_MAX",
    "STATIC_SCALE",
    "shift_field",
    "shift_spectra",
    "trace_slice",
    "time_mask",
]

#: Bound of the log-amplitude spectrum (nats): a factor of about 3000 either way.
LOGAMP_MAX = 8.0
#: Static parameters are in units of this many samples (conditioning of the MLP output).
STATIC_SCALE = 4.0

PARAM_NAMES = ("phase", "static", "gain", "static_lin", "static_quad", "gain_lin", "gain_quad")

#: The parameters that move or rotate a record in time (held at zero without time terms).
TIME_PARAMS = ("phase", "static", "static_lin", "static_quad")


def n_params(terms: int, shift: bool = False, trace_channels: int = 0) -> int:
    """Length of the parameter vector for ``terms`` cosine terms of the log-amplitude,
    the per-trace static and gain of ``trace_channels`` traces, and the channel shift
    (last) if ``shift``."""
    return terms + len(PARAM_NAMES) + 2 * trace_channels + int(shift)


def trace_slice(terms: int, channels: int) -> slice:
    """Where the per-trace statics and gains (``trace=True``) sit in the vector."""
    base = terms + len(PARAM_NAMES)
    return slice(base, base + 2 * channels)


def time_mask(terms: int, shift: bool = False, trace_channels: int = 0) -> torch.Tensor:
    """Parameter vector mask with 0 at the time terms (:data:`TIME_PARAMS` and the
    per-trace statics) and 1 elsewhere."""
    mask = torch.ones(n_params(terms, shift, trace_channels))
    for name in TIME_PARAMS:
        mask[terms + PARAM_NAMES.index(name)] = 0.0
    if trace_channels:
        base = trace_slice(terms, trace_channels).start
        mask[base : base + trace_channels] = 0.0
    return mask


def _split(theta: torch.Tensor, terms: int) -> dict[str, torch.Tensor]:
    out = {"logamp": theta[..., :terms]}
    for k, name in enumerate(PARAM_NAMES):
        out[name] = theta[..., terms + k]
    return out


def response(
    theta: torch.Tensor,
    channels: int,
    samples: int,
    terms: int,
    *,
    inverse: bool = False,
    trace: bool = False,
    min_phase: bool = False,
) -> torch.Tensor:
    """Complex response ``(..., C, F)`` of filters with parameters ``theta (..., P)``.

    ``F = samples + 1`` bins of a real FFT of length ``2 * samples``. ``inverse`` gives
    the exact inverse filter; ``trace`` reads the per-trace statics and gains;
    ``min_phase`` adds the minimum-phase filter's phase of the log-amplitude terms.
    """
    if theta.dtype not in (torch.float32, torch.float64):
        theta = theta.float()  # FFTs and exponentials in full precision
    with torch.autocast(theta.device.type, enabled=False):  # the spectrum's matmul too
        return _response(
            theta, channels, samples, terms, inverse=inverse, trace=trace, min_phase=min_phase
        )


def _response(
    theta: torch.Tensor,
    channels: int,
    samples: int,
    terms: int,
    *,
    inverse: bool,
    trace: bool,
    min_phase: bool = False,
) -> torch.Tensor:
    dtype = theta.dtype
    p = _split(theta, terms)
    nfft = 2 * samples
    dev = theta.device
    nf = nfft // 2 + 1
    fn = torch.linspace(0.0, 1.0, nf, device=dev, dtype=dtype)  # f / f_Nyquist
    k = torch.arange(1, terms + 1, device=dev, dtype=dtype)
    basis = torch.cos(torch.pi * k[:, None] * fn[None, :])  # (K, F)
    raw = p["logamp"] @ basis  # (..., F)
    logamp = LOGAMP_MAX * torch.tanh(raw / LOGAMP_MAX)
    u = (
        torch.linspace(-1.0, 1.0, channels, device=dev, dtype=dtype)
        if channels > 1
        else torch.zeros(1, device=dev, dtype=dtype)
    )
    q = u * u - 1.0 / 3.0
    gain = (
        p["gain"][..., None] + p["gain_lin"][..., None] * u + p["gain_quad"][..., None] * q
    )  # (..., C)
    static = STATIC_SCALE * (
        p["static"][..., None] + p["static_lin"][..., None] * u + p["static_quad"][..., None] * q
    )  # (..., C) samples
    if trace:
        per = theta[..., trace_slice(terms, channels)]
        static = static + STATIC_SCALE * per[..., :channels]
        gain = gain + per[..., channels:]
    # phase in radians per FFT bin: static (samples) * 2 pi * bin / nfft
    omega = 2.0 * torch.pi * torch.arange(nf, device=dev, dtype=dtype) / nfft
    log_mag = logamp[..., None, :] + gain[..., None]  # (..., C, F)
    phase = p["phase"][..., None, None] + static[..., None] * omega  # (..., C, F)
    if min_phase:  # the causal cepstrum's phase, with the sign of exp(-i phase) below
        sine = torch.sin(torch.pi * k[:, None] * fn[None, :])  # (K, F)
        phase = phase + (p["logamp"] @ sine)[..., None, :]
    if inverse:
        log_mag, phase = -log_mag, -phase
    return torch.polar(torch.exp(log_mag), -phase)


def apply(
    x: torch.Tensor,
    h: torch.Tensor,
    sigma: torch.Tensor | None = None,
    field: torch.Tensor | None = None,
) -> torch.Tensor:
    """Filter traces ``x (..., C, T)`` with responses ``h (..., C, T + 1)`` (broadcast),
    by zero-padded FFT; returns ``(..., C, T)``. With ``sigma`` (and its phase ``field``)
    the traces are first shifted along the channel axis (:func:`shift_spectra`)."""
    t = x.shape[-1]
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()  # no half-precision FFTs of odd lengths
    spec = torch.fft.rfft(x, n=2 * t, dim=-1)
    if sigma is not None:
        spec = shift_spectra(spec, sigma, field)
    return torch.fft.irfft(spec * h, n=2 * t, dim=-1)[..., :t]


def shift_field(channels: int, bins: int) -> torch.Tensor:
    """The exact phase field ``(2 C, F)`` of a shift by one channel, ``-2 pi k`` (``k`` in
    cycles per channel of a ``2 C``-point FFT), the same at every frequency."""
    k = torch.fft.fftfreq(2 * channels, dtype=torch.float64)
    return (-2.0 * torch.pi * k)[:, None].expand(-1, bins).float().clone()


def shift_spectra(spec: torch.Tensor, sigma: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """Shift time spectra ``spec (..., C, F)`` (complex) along the channel axis by
    ``sigma (...)`` channels with the phase field ``field (2 C, F)``; returns
    ``(..., C, F)``. ``-sigma`` gives the adjoint (the phase is unimodular)."""
    c = spec.shape[-2]
    field = field.to(spec.real.dtype)  # the spectra's precision
    k = torch.fft.fft(spec, n=2 * c, dim=-2)
    turn = sigma[..., None, None].to(field.dtype) * field
    k = k * torch.polar(torch.ones_like(turn), turn)
    return torch.fft.ifft(k, dim=-2)[..., :c, :]
