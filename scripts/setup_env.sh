#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv and install symae-seis.
# Where no NVIDIA GPU is present, the CPU build of torch is installed first so that the
# `torch>=2.3` requirement does not pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
. .venv/bin/activate
if ! python -c "import torch" >/dev/null 2>&1; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
        pip install -q "torch>=2.3"
    else
        pip install -q "torch==2.13.0" || pip install -q "torch>=2.3" --index-url https://download.pytorch.org/whl/cpu
    fi
fi
stamp=.venv/.symae-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    pip install -q -e ".[test]"
    touch "$stamp"
fi
