#!/usr/bin/env bash
# Run the tests: bash scripts/test.sh [pytest args], e.g. -m unit, -m integration or tests/ml.
# Integration and browser tests need PostgreSQL and Redis on 127.0.0.1 (5432, 6379) and Chromium at
# /usr/bin/chromium; without them they are skipped locally and fail under CI=true (docs/testing.md).
#
# With no arguments, the whole suite in three runs: the unit tests (SQLite, spread over two processes:
# tests/plugin.py), the integration, browser and starter-training tests (PostgreSQL, one process),
# then the fleet test
# (tests/fleet: its own Redis, S3 server, two web processes and three workers). One run of everything
# would keep the unit tests on PostgreSQL in one process, half a minute slower here.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv requirements-dev.txt
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
status=0
.venv/bin/python -m pytest -m unit || status=$?
.venv/bin/python -m pytest -m "integration or browser or training" || status=$?
.venv/bin/python -m pytest -m fleet -s || status=$?  # -s: its one-line summary of what happened
exit "$status"
