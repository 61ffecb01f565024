"""Ingest: catalog datasets into instance stores (SEG-Y/SU and miniSEED planners, build
policy and freshness). ``symae_seis.io`` keeps the formats and the store itself."""

from .build import build_store, ensure_store, file_sha256, store_is_fresh

__all__ = ["build_store", "ensure_store", "store_is_fresh", "file_sha256"]
