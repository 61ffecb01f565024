#!/usr/bin/env bash
# GPU study for issue 12: does a longer training bring SymAE's 1-day dv/v error on passive
# data below the anchor's (noise interferometry)? Runs scripts/bench/passive.py on the small
# survey for several noise fields (--noise-seed) and epoch counts, JOBS at a time sharing one
# GPU (each run trains in fp32 there, as passive.py's Trainer does by default), then prints
# SymAE / anchor per field and the RMS over fields for each epoch count.
# Usage: bash scripts/bench/gpu_passive.sh OUTDIR
# Environment:
#   SEEDS   noise fields, "none" for the benchmark's own (default "none 1 2 3 4 5")
#   EPOCHS  epoch counts (default "10 40")
#   FULL    epoch counts for the full survey, 8 stations x 30 days, benchmark's field
#           (default "40"; "" for none)
#   JOBS    runs at a time (default 4); OMP_NUM_THREADS defaults to nproc / JOBS
#   BUDGET  seconds for all runs: a run still going then is stopped and left out of the
#           table, later ones are skipped, and the table is printed (default 3600)
#   PYTHON  interpreter (default python3)
set -uo pipefail
PY=${PYTHON:-python3}
out=${1:?usage: gpu_passive.sh OUTDIR}
mkdir -p "$out"
jobs=${JOBS:-4}
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / jobs > 0 ? $(nproc) / jobs : 1 ))}
deadline=$(( $(date +%s) + ${BUDGET:-3600} ))
runs=()
for e in ${FULL-40}; do runs+=("full none $e"); done
for e in ${EPOCHS:-10 40}; do for s in ${SEEDS:-none 1 2 3 4 5}; do runs+=("small $s $e"); done; done
one() {   # one() SIZE SEED EPOCHS: one benchmark run into OUTDIR/SIZE_seedSEED_EPOCHSep
  local size=$1 seed=$2 ep=$3 dir="$out/${1}_seed${2}_${3}ep" args=()
  local left=$(( deadline - $(date +%s) ))
  (( left < 10 )) && { echo "skipped (budget): $*"; return 0; }
  [ "$size" = small ] && args+=(--small)
  [ "$seed" = none ] || args+=(--noise-seed "$seed")
  mkdir -p "$dir"
  timeout "$left" "$PY" scripts/bench/passive.py "${args[@]}" --epochs "$ep" \
    --out "$dir/work" > "$dir/log.txt" 2>&1 || echo "stopped (budget) or failed: $*"
  cp "$dir/work/passive.json" "$dir/" 2>/dev/null
  rm -rf "$dir/work"
  echo "$size seed $seed, $ep epochs: $(grep -E '^SymAE / anchor' "$dir/log.txt")"
}
export -f one
export PY out deadline
printf '%s\n' "${runs[@]}" | xargs -P "$jobs" -I{} bash -c 'one {}'
"$PY" - "$out" <<'EOF'
import json, sys
from pathlib import Path
rows = {}
for f in sorted(Path(sys.argv[1]).glob("*/passive.json")):
    size, seed, ep = f.parent.name.split("_")
    r = json.loads(f.read_text())
    rows.setdefault((size, int(ep[:-2])), []).append(
        (seed[4:], r["anchor 1-day"]["rms"], r["SymAE 1-day"]["rms"]))
for (size, ep), rs in sorted(rows.items()):
    print(f"{size} survey, {ep} epochs")
    for seed, a, s in rs:
        print(f"  noise seed {seed:5s} anchor {a:.2e}  SymAE {s:.2e}  ({s / a:.2f}x)")
    ra = (sum(a * a for _, a, _ in rs) / len(rs)) ** 0.5
    rsy = (sum(s * s for _, _, s in rs) / len(rs)) ** 0.5
    print(f"  RMS over {len(rs)} fields: anchor {ra:.2e}  SymAE {rsy:.2e}  ({rsy / ra:.2f}x)")
EOF
