#!/usr/bin/env bash
# Run the tests: bash scripts/test.sh [pytest args], e.g. -m unit, -m integration or tests/ml.
# Integration and browser tests need PostgreSQL and Redis on 127.0.0.1 (5432, 6379) and Chromium at
# /usr/bin/chromium; without them they are skipped locally and fail under CI=true (docs/testing.md).
#
# With no arguments, the whole suite in two runs: the unit tests (SQLite, no services), then the
# integration, browser, starter-training and fleet tests (PostgreSQL, Redis, Chromium, their own S3
# server, Redis and PostgreSQL where they restart one). Both spread over two processes (tests/plugin.py).
# One run of everything would keep the unit tests on PostgreSQL, half a minute slower here.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv requirements-dev.txt
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
status=0
.venv/bin/python -m pytest -m unit || status=$?
.venv/bin/python -m pytest -m "integration or browser or training or fleet" || status=$?
exit "$status"
