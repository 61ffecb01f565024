"""Benchmark: SEG-Y -> instance store throughput and peak memory.

Prints, for two file sizes, the time of ``build_store`` (header scan, streamed sample
copy, header copy, SHA-256 of the source) against bare segyio ``f.trace.raw[:]`` on the
same file in the same run (page cache warm for both), their throughput ratio, and the
peak RSS of each in a fresh subprocess.

    python scripts/bench/ingest.py                 # 100 MB and 400 MB files
    python scripts/bench/ingest.py --sizes-mb 50 200 --samples 1000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import segyio


def make_file(path: Path, size_mb: float, ns: int, channels: int) -> int:
    """Stream a SEG-Y file of about ``size_mb`` MB: shots of ``channels`` traces."""
    n = int(size_mb * 1e6 / (240 + 4 * ns)) // channels * channels
    spec = segyio.spec()
    spec.samples, spec.tracecount, spec.format = np.arange(ns) * 2.0, n, 5
    rng = np.random.default_rng(0)
    block = rng.normal(size=(channels * 64, ns)).astype(np.float32)
    fr_id, off_id, cdp_id = (
        int(segyio.TraceField.FieldRecord),
        int(segyio.TraceField.offset),
        int(segyio.TraceField.CDP),
    )
    with segyio.create(str(path), spec) as f:
        f.bin.update(hdt=2000, hns=ns)
        for a in range(0, n, block.shape[0]):
            b = min(n, a + block.shape[0])
            f.trace.raw[a:b] = block[: b - a]
        for i in range(n):
            f.header[i] = {
                fr_id: i // channels + 1,
                off_id: 100 * (i % channels),
                cdp_id: i // channels // 4 + 1,
            }
    return n


CHILD = r"""
import json, resource, sys, time
mode, path, store = sys.argv[1:4]
t = time.perf_counter()
if mode == "segyio":
    import segyio
    with segyio.open(path, ignore_geometry=True) as f:
        f.mmap()
        x = f.trace.raw[:]
    nbytes = x.nbytes
elif mode == "copy":
    # the I/O floor of any ingest: bare segyio block reads written straight to a file
    import segyio
    with segyio.open(path, ignore_geometry=True) as f, open(store, "wb") as out:
        f.mmap()
        n = f.tracecount
        for a in range(0, n, 16384):
            out.write(f.trace.raw[a:min(n, a + 16384)].tobytes())
    nbytes = 0
else:
    import yaml
    from symae_seis.catalog import load_catalog
    from symae_seis.ingest import build_store
    cat = store + ".yaml"
    open(cat, "w").write(yaml.safe_dump({"datasets": {"b": {"surveys": {"s": path},
        "instance_key": "FieldRecord", "channel_key": "offset", "datapoint_key": ["CDP"],
        "store": store}}}))
    t = time.perf_counter()   # time the ingest itself, not imports
    build_store(load_catalog(cat)["b"])
    nbytes = 0
dt = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": dt, "peak_rss_mb": rss}))
"""


def run_child(mode: str, path: Path, store: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path), str(store)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes-mb", type=float, nargs="+", default=[100, 400])
    ap.add_argument("--samples", type=int, default=750)
    ap.add_argument("--channels", type=int, default=96)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs for each timing")
    ap.add_argument("--dir", type=Path, default=None, help="scratch folder (default: tmp)")
    args = ap.parse_args()
    tmp = Path(args.dir or tempfile.mkdtemp(prefix="symae-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    print(
        f"{'size MB':>8} {'traces':>8} {'segyio s':>9} {'copy s':>9} {'ingest s':>9} "
        f"{'ratio':>6} {'r_copy':>6} "
        f"{'segyio MB/s':>11} {'ingest MB/s':>11} {'segyio RSS':>10} {'ingest RSS':>10}"
    )
    for size in args.sizes_mb:
        path = tmp / f"bench_{int(size)}.sgy"
        n = make_file(path, size, args.samples, args.channels)
        mb = path.stat().st_size / 1e6
        ref = [run_child("segyio", path, tmp / "x.h5") for _ in range(args.repeat)]
        copy = [run_child("copy", path, tmp / f"copy_{int(size)}.bin") for _ in range(args.repeat)]
        ours = []
        for _ in range(args.repeat):
            store = tmp / f"store_{int(size)}.h5"
            if store.exists():
                store.unlink()
            ours.append(run_child("ingest", path, store))
        t_ref = min(r["seconds"] for r in ref)
        t_ours = min(r["seconds"] for r in ours)
        t_copy = min(r["seconds"] for r in copy)
        print(
            f"{mb:8.0f} {n:8d} {t_ref:9.3f} {t_copy:9.3f} {t_ours:9.3f} {t_ref / t_ours:6.2f} "
            f"{t_copy / t_ours:6.2f} "
            f"{mb / t_ref:11.0f} {mb / t_ours:11.0f} "
            f"{max(r['peak_rss_mb'] for r in ref):9.0f}M "
            f"{max(r['peak_rss_mb'] for r in ours):9.0f}M"
        )
        for f in tmp.glob(f"*{int(size)}*"):
            f.unlink()
    print(
        "ratio  = segyio read time / ingest time (target >= 0.7)\n"
        "r_copy = time of segyio read + write of the same bytes to a plain file (the I/O "
        "floor of any ingest that writes a copy) / ingest time"
    )


if __name__ == "__main__":
    main()
