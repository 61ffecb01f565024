#!/usr/bin/env bash
# The README's main command: set up .venv if needed, then run the whole job on the embedded
# synthetic survey (generate -> ingest -> train -> redatum -> QC figures) into ./out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
exec symae-demo "$@"
