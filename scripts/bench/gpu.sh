#!/usr/bin/env bash
# GPU checks of the filter decoder (issue 9, item 5): training throughput (fp32 and
# bf16-mixed, default batch and a larger one) and the quality benchmark with training on
# the GPU. Usage: bash scripts/bench/gpu.sh OUTDIR   (on a machine with an NVIDIA GPU and
# the project installed; logs, quality.csv and quality.png are written to OUTDIR).
set -uo pipefail
PY=${PYTHON:-python3}
out=${1:?usage: gpu.sh OUTDIR}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
run() { echo "== $*"; date +%T; "$@" 2>&1 | grep -v -i -E "warning|tip|litlogger|_pytree" ; }
{
  run "$PY" scripts/bench/train.py --accelerator gpu --steps 150 --precision 32-true
  run "$PY" scripts/bench/train.py --accelerator gpu --steps 150 --precision bf16-mixed
  run "$PY" scripts/bench/train.py --accelerator gpu --steps 100 --precision bf16-mixed --batch 32
} | tee "$out/train.txt"
tmp=$(mktemp -d)
run "$PY" scripts/bench/quality.py --surveys ${SURVEYS:-conv4d deep4d} --out "$tmp" \
  | tee "$out/quality.txt"
cp "$tmp/quality.csv" "$out/quality_gpu.csv" 2>/dev/null
cp "$tmp/quality.png" "$out/quality_gpu.png" 2>/dev/null
date +%T
