#!/usr/bin/env bash
# Run the tests: bash scripts/test.sh [pytest args], e.g. -m "not browser" or tests/ml.
# Integration and browser tests need PostgreSQL and Redis on 127.0.0.1 (5432, 6379) and Chromium at
# /usr/bin/chromium; without them they are skipped locally and fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
