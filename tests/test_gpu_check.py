"""scripts/gpu_check.sh, the GPU check (bench/gpu_check.py): its dry run passes on the CPU and writes a
report with every section; a section that fails is recorded, the others still run, and the exit
status says so; the TF32 peaks are found by device name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.gpu_check import SECTIONS
from bench.gpu_speed import tf32_peak

ROOT = Path(__file__).resolve().parents[1]
# Both start Python processes, the dry run the studio's too (bench.serving's web and invoke servers,
# migrate): with the integration tests (tests/plugin.py).
SPAWNS = pytest.mark.integration


def gpu_check(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    report = tmp_path / "gpu_report.md"
    env = {**os.environ, "GPU_CHECK_PYTHON": sys.executable}  # this venv, set up already: no pip
    proc = subprocess.run(["bash", "scripts/gpu_check.sh", *args, "--out", str(report)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=280)
    output = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert report.is_file(), f"no report, exit {proc.returncode}:\n{output}"
    return proc, report.read_text()


@SPAWNS
def test_the_dry_run_passes_with_every_section_in_its_report(tmp_path: Path) -> None:
    proc, report = gpu_check(tmp_path, "--dry-run")
    assert proc.returncode == 0, report
    assert report in proc.stdout  # printed as well
    assert f"{len(SECTIONS)} of {len(SECTIONS)} sections passed" in report
    for section in SECTIONS:
        assert f"## {section.title}" in report
    assert "FAILED" not in report
    for figure in ("needs a CUDA device",  # the CUDA test, skipped on the CPU
                   "| Gatys style", "| fast style (", "| CycleGAN (", "| DCGAN (", "| sentiment (",
                   "| sentiment batch", "| char-RNN",  # every tool
                   "FLOPs per iteration", "achieved:",  # Gatys against the roofline
                   "| CycleGAN | 1x16 px", "| fp16 autocast channels_last |",  # throughput
                   "| batched (<= 64 per forward"):  # serving, both modes
        assert figure in report


@SPAWNS
@pytest.mark.skipif(torch.cuda.is_available(), reason="the sections fail here only for want of CUDA")
def test_a_failed_section_is_recorded_and_the_next_one_still_runs(tmp_path: Path) -> None:
    proc, report = gpu_check(tmp_path, "--only", "tools", "gatys")  # the real run, with no GPU
    assert proc.returncode == 1
    assert "0 of 2 sections passed" in report
    assert report.count("**FAILED**") == 2 and "RuntimeError: CUDA is not available" in report


def test_the_tf32_peak_is_found_by_device_name() -> None:
    assert tf32_peak("NVIDIA H100 80GB HBM3") == 494.7  # the SXM part
    assert tf32_peak("NVIDIA H100 PCIe") == 378.0
    assert tf32_peak("NVIDIA H200") == tf32_peak("NVIDIA H100 80GB HBM3")
    assert tf32_peak("NVIDIA L4") == 60.0
    assert tf32_peak("NVIDIA L40S") is None  # not the L4
    assert tf32_peak("Some Future GPU") is None
