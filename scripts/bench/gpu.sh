#!/usr/bin/env bash
# GPU checks of the filter decoder (issue 9, item 5): the GPU tests, training throughput
# (fp32 and bf16-mixed, default batch and a larger one) and the quality benchmark with
# training on the GPU in bf16-mixed (as symae-train does there).
# Usage: bash scripts/bench/gpu.sh OUTDIR   (on a machine with an NVIDIA GPU and the
# project importable; logs, quality_gpu.csv and quality_gpu.png are written to OUTDIR).
# Environment: SURVEYS (default "conv4d deep4d"), STEP_TIMEOUT (seconds per quality survey,
# default 1800), PYTHON.
set -uo pipefail
PY=${PYTHON:-python3}
out=${1:?usage: gpu.sh OUTDIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
filt() { grep --line-buffered -v -i -E "warning|tip|litlogger|_pytree|warn\(" ; }
run() { echo "== $* ($(date +%T))"; "$@" 2>&1 | filt; }
run "$PY" -m pytest -q -p no:cacheprovider tests/test_gpu.py | tee "$out/tests.txt"
{
  run "$PY" scripts/bench/train.py --accelerator gpu --steps 150 --precision 32-true
  run "$PY" scripts/bench/train.py --accelerator gpu --steps 150 --precision bf16-mixed
  run "$PY" scripts/bench/train.py --accelerator gpu --steps 100 --precision bf16-mixed --batch 32
} | tee "$out/train.txt"
for s in ${SURVEYS:-conv4d deep4d}; do
  tmp=$(mktemp -d)
  run timeout "${STEP_TIMEOUT:-1800}" "$PY" scripts/bench/quality.py --surveys "$s" \
    --precision bf16-mixed --out "$tmp" | tee -a "$out/quality.txt"
  [ -f "$tmp/quality.csv" ] && cp "$tmp/quality.csv" "$out/quality_gpu_$s.csv"
  [ -f "$tmp/quality.png" ] && cp "$tmp/quality.png" "$out/quality_gpu_$s.png"
done
date +%T
