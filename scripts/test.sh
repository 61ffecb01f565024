#!/usr/bin/env bash
# The README's test command: set up .venv if needed, then lint (ruff), build the
# documentation strictly (a broken link or page fails) and run the default test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
ruff check symae_seis scripts tests docs
ruff format --check symae_seis scripts tests docs
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
mkdocs build --strict --quiet --site-dir "$site"
python -m pytest -m "not slow" "$@"
