"""Generate the synthetic files a catalog dataset's ``generate:`` spec names."""

from __future__ import annotations

from pathlib import Path

from ..catalog import CatalogError, DatasetEntry

__all__ = ["generate"]


def generate(entry: DatasetEntry, *, overwrite: bool = False) -> list[Path]:
    """Generate the files of ``entry`` from its ``generate:`` spec; return their paths."""
    spec = dict(entry.generate or {})
    if not spec:
        raise CatalogError(
            f"dataset {entry.name!r} has no 'generate:' spec; its files are real recordings"
        )
    kind = spec.pop("kind", None)
    first = next(iter(entry.surveys.values()))[0]
    folder = (entry.root / first).parent
    if kind == "conv4d":
        from .convolutional import Conv4DParams, make_conv4d_survey

        try:
            params = Conv4DParams(**spec)
        except TypeError as err:
            raise CatalogError(f"dataset {entry.name!r}: generate: {err}") from None
        paths = make_conv4d_survey(folder, params, overwrite=overwrite)
        return list(paths.values())
    if kind == "mseed":
        from .mseed import make_mseed_survey

        try:
            return make_mseed_survey(folder, **spec, overwrite=overwrite)
        except TypeError as err:
            raise CatalogError(f"dataset {entry.name!r}: generate: {err}") from None
    if kind == "passive":
        from .passive import PassiveParams, make_passive_survey

        try:
            params = PassiveParams(
                **{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()}
            )
        except (TypeError, ValueError) as err:
            raise CatalogError(f"dataset {entry.name!r}: generate: {err}") from None
        out = make_passive_survey(folder, params, overwrite=overwrite)
        return [*out["mseed"], out["truth"]]
    if kind == "marine4d":
        from .marine import Marine4DParams, make_marine4d_survey

        try:
            params = Marine4DParams(
                **{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()}
            )
        except TypeError as err:
            raise CatalogError(f"dataset {entry.name!r}: generate: {err}") from None
        return list(make_marine4d_survey(folder, params, overwrite=overwrite).values())
    if kind in ("wave4d", "statics"):
        from .wave import Wave4DParams, make_statics_survey, make_wave4d_survey

        try:
            params = Wave4DParams(**spec)
        except TypeError as err:
            raise CatalogError(f"dataset {entry.name!r}: generate: {err}") from None
        make = make_wave4d_survey if kind == "wave4d" else make_statics_survey
        return list(make(folder, params, overwrite=overwrite).values())
    raise CatalogError(
        f"dataset {entry.name!r}: generate.kind must be one of 'conv4d', "
        f"'wave4d', 'statics', 'marine4d', 'mseed', 'passive'; got {kind!r}"
    )
