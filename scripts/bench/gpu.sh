#!/usr/bin/env bash
# GPU checks of the filter decoder (issue 9, item 5): the GPU tests, training throughput
# (fp32 and bf16-mixed, default batch and a larger one) and the quality benchmark with
# training on the GPU in bf16-mixed (as symae-train does there).
# Usage: bash scripts/bench/gpu.sh OUTDIR   (on a machine with an NVIDIA GPU and the
# project importable; logs, quality_gpu_<survey>.csv/.png are written to OUTDIR).
# Environment:
#   BUDGET   seconds for the whole script (default 3600); each step gets what is left,
#            and a quality survey starts only with MIN_QUALITY seconds (default 240) left
#   SURVEYS  quality surveys, in order (default "conv4d deep4d")
#   STEPS    timed training steps of the throughput runs (default 150)
#   ACCEL    Lightning accelerator (default gpu; cpu for a dry run of this script)
#   PYTHON   interpreter (default python3)
set -uo pipefail
PY=${PYTHON:-python3}
out=${1:?usage: gpu.sh OUTDIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
start=$(date +%s)
budget=${BUDGET:-3600}
accel=${ACCEL:-gpu}
steps=${STEPS:-150}
left() { echo $(( budget - ($(date +%s) - start) )); }
filt() { grep --line-buffered -v -i -E "warning|tip|litlogger|_pytree|warn\(|deprecat" ; }
run() {   # run CMD... with what is left of the budget; its output filtered
  local t; t=$(left)
  if (( t < 20 )); then echo "== skipped (budget spent): $*"; return 0; fi
  echo "== $* ($(date +%T), ${t} s left)"
  timeout "$t" "$@" 2>&1 | filt
  local rc=${PIPESTATUS[0]}
  (( rc == 124 )) && echo "== timed out: $*"
  return 0
}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$PY" -c "import torch, lightning; print('torch', torch.__version__, 'lightning',
lightning.__version__, 'cuda', torch.cuda.is_available())"; nproc; } | tee "$out/gpu.txt"
{
  run "$PY" scripts/bench/train.py --accelerator "$accel" --steps "$steps" --precision 32-true
  run "$PY" scripts/bench/train.py --accelerator "$accel" --steps "$steps" \
    --precision bf16-mixed
  run "$PY" scripts/bench/train.py --accelerator "$accel" --steps "$steps" \
    --precision bf16-mixed --batch 32
} | tee "$out/train.txt"
run "$PY" -m pytest -q -p no:cacheprovider -p no:warnings tests/test_gpu.py \
  "tests/models/test_model.py::test_bf16_autocast_keeps_the_filters_in_full_precision" \
  | tee "$out/tests.txt"
for s in ${SURVEYS-conv4d deep4d}; do
  if (( $(left) < ${MIN_QUALITY:-240} )); then
    echo "== quality $s skipped: $(left) s left" | tee -a "$out/quality.txt"; continue
  fi
  tmp=$(mktemp -d)
  run "$PY" scripts/bench/quality.py --surveys "$s" --precision bf16-mixed --out "$tmp" \
    | tee -a "$out/quality.txt"
  [ -f "$tmp/quality.csv" ] && cp "$tmp/quality.csv" "$out/quality_gpu_$s.csv"
  [ -f "$tmp/quality.png" ] && cp "$tmp/quality.png" "$out/quality_gpu_$s.png"
done
echo "done $(date +%T), $(( $(date +%s) - start )) s"
