"""Build policy: when a catalog dataset's store is (re)built, from what, and how its
freshness is decided (catalog entry, file list, sizes, times, SHA-256)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import h5py

from ..catalog import DatasetEntry
from ..io.atomic import atomic_path
from ..io.store import SCHEMA_VERSION, StoreError, write_tables
from ..typing import PathLike
from .mseed import ingest_mseed
from .segy import ingest_segy

__all__ = ["build_store", "ensure_store", "store_is_fresh", "file_sha256"]

log = logging.getLogger(__name__)


def file_sha256(path: PathLike, bufsize: int = 8 << 20, *, between=None) -> str:
    """SHA-256 of a file, read in blocks (memory stays bounded); ``between()`` is called
    before every block."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(bufsize):
            if between is not None:
                between()
            h.update(chunk)
    return h.hexdigest()


def _source_record(path: Path, sha: str) -> dict[str, Any]:
    st = path.stat()
    return {
        "path": str(path.resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "sha256": sha,
    }


#: Catalog keys that do not change what the store holds (training options, prose).
_NOT_STORED = ("design_window_ms", "description")


def _entry_json(entry: DatasetEntry) -> str:
    """The entry as the store records it (a change makes the store stale). Bins of
    scaled header fields are in metres since this rule was added; stores binned before
    it (in the header's raw integers) lack the mark and are rebuilt."""
    from ..io.segy_spec import SCALED_BY

    raw = {k: v for k, v in entry.raw.items() if k not in _NOT_STORED}
    if any(k in SCALED_BY for k in getattr(entry, "datapoint_bin", {}) or {}):
        raw["_bins"] = "scalar applied"
    return json.dumps(raw, sort_keys=True, default=str)


def _hash_child(conn, files: list[str], parent: int) -> None:
    """Child process: SHA-256 of ``files`` sent back through ``conn``; stops at once if
    the parent died (a killed ingest leaves no orphan reading the survey)."""

    def parent_alive() -> None:
        if os.getppid() != parent:
            os._exit(0)

    try:
        conn.send(("ok", [file_sha256(f, between=parent_alive) for f in files]))
    except BaseException as err:  # reported by the parent
        conn.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


class _Hashes:
    """Checksums of the source files computed in a child process, overlapping with the
    ingest (a thread would fight the ingest for the GIL). The child exits when done, or
    as soon as its parent is gone."""

    def __init__(self, files: list[Path]):
        import multiprocessing as mp

        methods = mp.get_all_start_methods()
        ctx = mp.get_context("fork" if "fork" in methods else "spawn")
        self._conn, child = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_hash_child, daemon=True, args=(child, [str(f) for f in files], os.getpid())
        )
        self._proc.start()
        child.close()

    def result(self) -> list[str]:
        try:
            status, value = self._conn.recv()
        except EOFError:
            raise StoreError("the checksum process of the source files died") from None
        finally:
            self.close()
        if status != "ok":
            raise StoreError(f"checksum of the source files failed: {value}")
        return value

    def close(self) -> None:
        self._conn.close()
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()


def build_store(
    entry: DatasetEntry,
    path: PathLike | None = None,
    *,
    overwrite: bool = True,
    progress: bool = False,
) -> Path:
    """Ingest a catalog dataset into an HDF5 instance store.

    Streams the files in blocks of about 64 MB, so memory stays bounded whatever the
    survey size; the store is written under a temporary name and renamed when complete.

    Parameters
    ----------
    entry
        The validated catalog entry.
    path
        Output store (default ``entry.store``).
    overwrite
        Replace an existing store (stores are derived data; default true).
    progress
        Show progress bars.

    Returns
    -------
    Path of the store.

    Raises
    ------
    CatalogError, SegyError, MseedError, FileNotFoundError
        With the file and the problem named.
    """
    path = Path(path) if path is not None else entry.store
    files = entry.survey_files()
    all_files = [p for lst in files.values() for p in lst]
    hashes = _Hashes(all_files)
    with contextlib.closing(hashes), atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as h5:
            ingest = ingest_mseed if entry.format == "mseed" else ingest_segy
            meta = ingest(entry, files, h5, progress=progress)
            shas = hashes.result()
            write_tables(
                h5,
                meta,
                {
                    "dataset": entry.name,
                    "format": entry.format,
                    "catalog_entry": _entry_json(entry),
                    "sources": json.dumps([_source_record(p, s) for p, s in zip(all_files, shas)]),
                    "instance_key_name": entry.instance_key,
                    "channel_key_name": entry.channel_key or "",
                },
            )
            if meta["rms"] == 0.0:
                raise StoreError(
                    f"dataset {entry.name!r}: every sample is zero; nothing to learn from"
                )
    log.info("built store %s for dataset %r", path, entry.name)
    return path


def store_is_fresh(entry: DatasetEntry, path: PathLike | None = None) -> tuple[bool, str]:
    """Whether the store exists and was built from the same catalog entry and files.

    Files are compared by size and modification time; where the time differs, by SHA-256.

    Returns
    -------
    (fresh, reason)
    """
    path = Path(path) if path is not None else entry.store
    if not path.is_file():
        return False, f"{path} does not exist"
    try:
        with h5py.File(path, "r") as h5:
            attrs = dict(h5.attrs)
    except OSError as err:
        return False, f"{path} is not a readable HDF5 file ({err})"
    if attrs.get("schema_version") != SCHEMA_VERSION:
        return False, f"{path} has schema {attrs.get('schema_version')}, not {SCHEMA_VERSION}"
    if attrs.get("catalog_entry") != _entry_json(entry):
        return False, f"catalog entry {entry.name!r} changed since {path} was built"
    try:
        files = [p for lst in entry.survey_files().values() for p in lst]
    except Exception as err:  # noqa: BLE001 - reported as a reason, re-raised on build
        return False, str(err)
    sources = json.loads(attrs["sources"])
    if [str(p.resolve()) for p in files] != [s["path"] for s in sources]:
        return False, "the dataset's file list changed"
    for p, s in zip(files, sources):
        st = p.stat()
        if st.st_size != s["size"]:
            return False, f"{p} changed size"
        if st.st_mtime_ns != s["mtime_ns"] and file_sha256(p) != s["sha256"]:
            return False, f"{p} changed content"
    return True, "fresh"


def ensure_store(entry: DatasetEntry, *, progress: bool = False) -> Path:
    """Build the store of ``entry`` if it is missing or stale; return its path."""
    fresh, reason = store_is_fresh(entry)
    if not fresh:
        log.info("building store for %r: %s", entry.name, reason)
        build_store(entry, overwrite=True, progress=progress)
    return entry.store
