#!/usr/bin/env bash
# The GPU check (issue 17), from the repository root of a machine with one NVIDIA GPU, in under 8 min:
# the CUDA tests, every tool once, Gatys at 512 px against the TF32 roofline, fast style / CycleGAN /
# DCGAN throughput with and without AMP and channels_last, serving at 64 clients with batching on and
# off, peak memory per tool; one Markdown report, printed and written to $OUT/gpu_report.md when OUT is
# set, else var/gpu_report.md (docs/benchmarks.md).
#   bash scripts/gpu_check.sh [--dry-run] [--out PATH] [--only SECTION ...]
# --dry-run: every section on the CPU at tiny sizes (CI runs it: tests/test_gpu_check.py). The exit
# status is 1 if any section failed; the report says which and why.
# GPU_CHECK_PYTHON=path skips the venv setup and runs the check with that interpreter;
# GPU_CHECK_SETUP_SECONDS (default 120) bounds the setup, for the 8 minutes' sake.
set -uo pipefail
cd "$(dirname "$0")/.."
py="${GPU_CHECK_PYTHON:-}"
if [ -z "$py" ]; then
  # A machine with no package index (a lent GPU machine has none) should fail the install in seconds,
  # not retry for minutes; the check then runs on whatever Python has torch, and the sections that need
  # what is missing fail and say so in the report.
  export PIP_RETRIES="${PIP_RETRIES:-1}" PIP_DEFAULT_TIMEOUT="${PIP_DEFAULT_TIMEOUT:-10}"
  # errexit inside: in an && list ("source ... && ensure_venv ...") bash ignores it, and a failed pip
  # would be stamped as installed.
  timeout "${GPU_CHECK_SETUP_SECONDS:-120}" \
    bash -c 'set -euo pipefail; source scripts/venv.sh; ensure_venv requirements-dev.txt'
  status=$?
  py=.venv/bin/python
  if [ "$status" -ne 0 ]; then
    "$py" -c 'import torch' 2>/dev/null || py=python3
    export GPU_CHECK_SETUP="the venv setup (ensure_venv requirements-dev.txt) failed with exit $status; ran on $py"
    echo "gpu_check: $GPU_CHECK_SETUP" >&2
  fi
fi
exec "$py" -m bench.gpu_check "$@"
