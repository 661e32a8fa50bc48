#!/usr/bin/env bash
# Set up on a fresh machine, ingest and build the demo corpus, then serve the API, widget and demo page.
# Usage: bash scripts/demo.sh [readalso serve options, e.g. --port 8000 --workers 2]
#
# The store is readalso's default, ./readalso-data/readalso.db in the folder you run this from
# (or $READALSO_DB): the one every command in the README uses. Write routes need a token: unless
# READALSO_API_TOKEN is set, a random one is made once and kept beside the store in api-token.
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
VENV="$ROOT/.venv"

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# Install only when pyproject.toml changed since this script last installed: a second run starts at once.
if ! cmp -s "$ROOT/pyproject.toml" "$VENV/.readalso-demo-installed" || [ ! -x "$VENV/bin/readalso" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e "$ROOT"
  cp "$ROOT/pyproject.toml" "$VENV/.readalso-demo-installed"
fi

store="${READALSO_DB:-readalso-data/readalso.db}"
if [ -z "${READALSO_API_TOKEN:-}" ]; then
  token_file="$(dirname "$store")/api-token"
  mkdir -p "$(dirname "$store")"
  [ -s "$token_file" ] || (umask 077 && "$VENV/bin/python" -c "import secrets; print(secrets.token_urlsafe(24))" > "$token_file")
  READALSO_API_TOKEN="$(cat "$token_file")"
  export READALSO_API_TOKEN
  echo "demo: write routes take 'Authorization: Bearer <the token in $token_file>'" >&2
fi

"$VENV/bin/readalso" demo
exec "$VENV/bin/readalso" serve "$@"
