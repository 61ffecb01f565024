"""Benchmark: memory and time of ingest and redatum as the survey grows.

For each size, writes a baseline and a monitor SEG-Y (shot gathers, ``--channels`` x
``--samples``, 10 shots per CDP), then in fresh subprocesses: ``build_store`` and a 4D
``redatum`` (SEG-Y + NetCDF outputs) with a small untrained SymAE (the I/O path is what
is measured, not the model). Prints peak RSS and throughput per stage, and the time and
memory ratios between sizes: memory should stay flat, time grow linearly.

    python scripts/bench/scale.py                        # 0.25 GB and 1 GB of SEG-Y
    python scripts/bench/scale.py --sizes-gb 1 4 --dir /big/scratch
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import segyio

CHILD = r"""
import json, resource, sys, time
stage, cat, out = sys.argv[1:4]
from symae_seis.catalog import load_catalog
e = load_catalog(cat)["scale"]
t = time.perf_counter()
if stage == "ingest":
    from symae_seis.ingest import build_store
    build_store(e)
else:
    from symae_seis.io.store import store_schema
    from symae_seis.models import SymAE
    from symae_seis.redatum import redatum
    s = store_schema(e.store)
    m = SymAE(s["channels"], s["samples"], width=4, hidden=16, coherent_dim=8,
              nuisance_dim=8, schema=s)
    redatum(m, e.store, out, batch_size=64)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_survey(path: Path, gb: float, channels: int, samples: int, first_fr: int) -> int:
    per_shot = channels * (240 + 4 * samples)
    shots = max(10, int(gb * 1e9 / per_shot) // 10 * 10)
    spec = segyio.spec()
    spec.samples, spec.tracecount, spec.format = np.arange(samples) * 2.0, shots * channels, 5
    rng = np.random.default_rng(first_fr)
    block = rng.normal(size=(channels * 50, samples)).astype(np.float32)
    ids = [int(getattr(segyio.TraceField, f)) for f in ("FieldRecord", "offset", "CDP")]
    with segyio.create(str(path), spec) as f:
        f.bin.update(hdt=2000, hns=samples)
        n = shots * channels
        for a in range(0, n, block.shape[0]):
            b = min(n, a + block.shape[0])
            f.trace.raw[a:b] = block[: b - a]
        for i in range(n):
            shot = i // channels
            f.header[i] = {
                ids[0]: first_fr + shot,
                ids[1]: 25 * (i % channels),
                ids[2]: shot // 10 + 1,
            }
    return shots


def run(stage: str, cat: Path, out: Path) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, stage, str(cat), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes-gb",
        type=float,
        nargs="+",
        default=[0.25, 1.0],
        help="total SEG-Y size (baseline + monitor) per run",
    )
    ap.add_argument("--channels", type=int, default=48)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    root = Path(args.dir or tempfile.mkdtemp(prefix="symae-scale-"))
    rows = []
    for gb in args.sizes_gb:
        d = root / f"size_{gb:g}"
        d.mkdir(parents=True, exist_ok=True)
        shots = write_survey(d / "baseline.sgy", gb / 2, args.channels, args.samples, 1)
        write_survey(d / "monitor.sgy", gb / 2, args.channels, args.samples, 10_000_001)
        cat = d / "catalog.yaml"
        cat.write_text(
            json.dumps(
                {
                    "datasets": {
                        "scale": {
                            "surveys": {
                                "baseline": str(d / "baseline.sgy"),
                                "monitor": str(d / "monitor.sgy"),
                            },
                            "datapoint_key": ["CDP"],
                            "store": str(d / "store.h5"),
                        }
                    }
                }
            )
        )
        mb = sum((d / f).stat().st_size for f in ("baseline.sgy", "monitor.sgy")) / 1e6
        ing = run("ingest", cat, d / "out")
        red = run("redatum", cat, d / "out")
        rows.append((mb, 2 * shots, ing, red))
        print(
            f"{mb:8.0f} MB SEG-Y, {2 * shots} gathers: ingest {ing['seconds']:.1f} s "
            f"({mb / ing['seconds']:.0f} MB/s, peak RSS {ing['peak_rss_mb']:.0f} MB); "
            f"redatum {red['seconds']:.1f} s ({shots / red['seconds']:.0f} gathers/s, "
            f"peak RSS {red['peak_rss_mb']:.0f} MB)",
            flush=True,
        )
        shutil.rmtree(d)
    if len(rows) >= 2:
        (m0, _, i0, r0), (m1, _, i1, r1) = rows[0], rows[-1]
        print(
            f"size ratio {m1 / m0:.2f}: ingest time x{i1['seconds'] / i0['seconds']:.2f}, "
            f"memory x{i1['peak_rss_mb'] / i0['peak_rss_mb']:.2f}; redatum time "
            f"x{r1['seconds'] / r0['seconds']:.2f}, memory "
            f"x{r1['peak_rss_mb'] / r0['peak_rss_mb']:.2f}"
        )


if __name__ == "__main__":
    main()
