#!/usr/bin/env bash
# Set up on a fresh machine, ingest and build the demo corpus, then serve the API, widget and demo page.
# Usage: bash scripts/demo.sh [--port 8000] [--workers 2]
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .

export READALSO_DB="${READALSO_DB:-readalso-data/demo.db}"
.venv/bin/readalso demo
exec .venv/bin/readalso serve "$@"
