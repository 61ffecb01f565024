"""Checks of :class:`~symae_seis.models.config.SymAEConfig`'s options on their own (those
that need the gathers are in ``SymAEConfig.resolve``); each raises an
:class:`~symae_seis.errors.OptionError` naming the option."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import OptionError

if TYPE_CHECKING:
    from .config import SymAEConfig

DECODERS = ("filter", "generic")
POOLS = ("wiener", "mean")


def check_decoder(c: SymAEConfig) -> None:
    if c.decoder not in DECODERS:
        raise OptionError(f"decoder must be one of {DECODERS}, got {c.decoder!r}")
    if c.filter_terms is not None and c.filter_terms < 1:
        raise OptionError(f"filter_terms must be >= 1, got {c.filter_terms}")


def check_pool(c: SymAEConfig) -> None:
    if c.pool not in POOLS:
        raise OptionError(f"pool must be one of {POOLS}, got {c.pool!r}")
    if not 0.0 < c.pool_eps < 1.0:
        raise OptionError(f"pool_eps must be in (0, 1), got {c.pool_eps}")
    if c.pool_iters < 0:
        raise OptionError(f"pool_iters must be >= 0, got {c.pool_iters}")
    if c.eval_pool_iters is not None and c.eval_pool_iters < 0:
        raise OptionError(f"eval_pool_iters must be >= 0 (or null), got {c.eval_pool_iters}")
    if c.eval_pool_eps is not None and not 0.0 < c.eval_pool_eps < 1.0:
        raise OptionError(f"eval_pool_eps must be in (0, 1) (or null), got {c.eval_pool_eps}")


def check_dropout(c: SymAEConfig) -> None:
    if c.nuisance_dropout is not None and not 0.0 <= c.nuisance_dropout < 1.0:
        raise OptionError(f"nuisance_dropout must be in [0, 1), got {c.nuisance_dropout}")


def check_sizes(c: SymAEConfig) -> None:
    for name in ("coherent_dim", "nuisance_dim", "width", "hidden"):
        if getattr(c, name) < 1:
            raise OptionError(f"{name} must be >= 1, got {getattr(c, name)}")
    if c.levels is not None and c.levels < 1:
        raise OptionError(f"levels must be >= 1 (or null), got {c.levels}")


def check_window(window, samples: int) -> list[int]:
    try:
        a, b = (int(v) for v in window)
    except (TypeError, ValueError):
        raise OptionError(
            f"nuisance_window must be [start, stop] samples, got {window!r}"
        ) from None
    if not 0 <= a < b <= samples or b - a < 4:
        raise OptionError(
            f"nuisance_window {[a, b]} must hold at least 4 samples inside "
            f"the record [0, {samples}]"
        )
    return [a, b]


def check_pool_terms(c: SymAEConfig, least_squares: bool, schema: dict | None) -> None:
    """The options that extend the least-squares pooling (``least_squares``: the filter
    decoder with Wiener pooling): ``geometry_terms`` (on bins of source position only),
    ``coherent_terms``, ``robust``."""
    if c.geometry_terms and not (schema or {}).get("position_bin", True):
        raise OptionError(
            "geometry_terms needs datapoints binned by source position (the catalog's "
            "datapoint_bin: {SourceX: size})"
        )
    for name in ("geometry_terms", "robust", "warp_terms"):
        if getattr(c, name) and not least_squares:
            raise OptionError(f"{name} needs decoder='filter' and pool='wiener'")
    if c.coherent_terms and not least_squares or not 0 <= c.coherent_terms <= 4:
        raise OptionError(
            f"coherent_terms must be in [0, 4] (and 0 unless decoder='filter' and "
            f"pool='wiener'), got {c.coherent_terms}"
        )
