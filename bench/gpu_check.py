"""The GPU check (issue 17): one run on one NVIDIA GPU, one Markdown report.

    bash scripts/gpu_check.sh [--dry-run] [--out PATH] [--only SECTION ...]
    python -m bench.gpu_check [the same]        (without the wrapper's venv setup)

Sections, each with a time budget of its own (the report says what each took):
1. ``cuda-tests``: pytest over the test files that mention CUDA (bench/gpu_external.py);
2. ``tools``: every tool once through its public ml entry point, time and peak memory (gpu_tools.py);
3. ``gatys``: a Gatys iteration at 512 px against the TF32 roofline (gpu_speed.py);
4. ``throughput``: fast style, CycleGAN and DCGAN images/s with and without AMP and channels_last;
5. ``serving``: bench.serving at 64 clients, batching on and off.

Each section runs in a child forked from this process, which imports torch and the models' code once
and never runs a torch op itself (a forked child cannot use CUDA that its parent opened, nor torch's
CPU threads once its parent started them): a section that overruns is killed, one that crashes or
leaves CUDA broken takes nothing else with it. A failing section is recorded in the report and the
next one runs; the exit status is 1 if any failed. ``--dry-run`` runs every section on the CPU at
tiny sizes, in a minute or two: CI runs it (tests/test_gpu_check.py). The report goes to --out, else
$OUT/gpu_report.md when OUT is set, else var/gpu_report.md, and is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import multiprocessing
import os
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from bench.gpu_common import DRY, REAL, Outcome, Plan

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    budget: float  # seconds on the GPU machine; the dry run's are DRY_BUDGET
    entry: str  # "module:function", imported in the section's own process
    # Whether the function takes the seconds it may spend: a section that starts programs ends them
    # itself a little before its budget runs out. A torch section's budget is kept by killing it.
    budgeted: bool = False


# At most 5 min 40 s together (about 3 min is usual), which with the wrapper's venv setup (2 min at
# most) and Python's start keeps the whole check under 8 minutes.
SECTIONS = (
    Section("cuda-tests", "The CUDA tests", 45, "bench.gpu_external:cuda_tests"),
    Section("tools", "Every tool once", 75, "bench.gpu_tools:run"),
    Section("gatys", "Gatys at 512 px against the TF32 roofline", 45, "bench.gpu_speed:gatys"),
    Section("throughput", "Fast style, CycleGAN and DCGAN throughput: AMP and channels_last", 75,
            "bench.gpu_speed:throughput"),
    Section("serving", "Serving at 64 clients, batching on and off", 100, "bench.gpu_external:serving",
            budgeted=True),
)
DRY_BUDGET = 200.0  # any section on a loaded 2-core CI machine: they take 5 s to 1.5 min there
# Programs a section started get this long to be ended by it before its own process is killed.
GRACE = 10.0


def preload() -> None:
    """Import the sections' modules here, once, for every forked child to share (torch.optim's first
    use imports torch._dynamo: seconds). One that fails to import fails again in its section, which
    records why; the other sections still run."""
    for module in ["torch._dynamo", *sorted({s.entry.split(":")[0] for s in SECTIONS})]:
        with contextlib.suppress(Exception):
            importlib.import_module(module)


@dataclass
class Result:
    section: Section
    outcome: Outcome
    seconds: float
    error: str = ""  # why it failed: its exception, its problems, a crash or an overrun

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class Running:
    """A section in its own forked process, its Outcome to come back over ``receive``."""

    section: Section
    child: BaseProcess
    receive: Connection
    started: float
    budget: float


def start(section: Section, plan: Plan) -> Running:
    budget = DRY_BUDGET if plan.dry else section.budget
    print(f"gpu_check: {section.key} (budget {budget:.0f} s) ...", flush=True)
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=child_main, args=(section, plan, budget, send))
    child.start()
    send.close()  # the child's end: once the child exits, a recv here ends instead of waiting on us
    return Running(section, child, receive, time.monotonic(), budget)


def child_main(section: Section, plan: Plan, budget: float, send: Connection) -> None:
    try:
        module, name = section.entry.split(":")
        function = getattr(importlib.import_module(module), name)
        outcome = function(plan, budget - GRACE) if section.budgeted else function(plan)
    except BaseException as exc:  # the parent records why
        outcome = Outcome(problems=[f"{exc!r}\n{traceback.format_exc()}"])
    send.send(outcome)
    send.close()


def finish(running: Running) -> Result:
    """Wait for the section's Outcome until its budget is spent; kill it then."""
    child, error = running.child, ""
    try:
        if running.receive.poll(max(0.0, running.started + running.budget - time.monotonic())):
            outcome: Outcome = running.receive.recv()
            error = "\n\n".join(outcome.problems)
        else:
            child.kill()
            outcome, error = Outcome(), f"ran past its budget of {running.budget:.0f} s and was killed"
    except EOFError:  # it died without a word: a crash in native code, or killed for memory
        child.join(10)
        outcome, error = Outcome(), f"its process died (exit code {child.exitcode})"
    finally:
        child.join(10)
        running.receive.close()
    result = Result(running.section, outcome, time.monotonic() - running.started, error)
    print(f"gpu_check: {result.section.key} {'passed' if result.ok else 'FAILED'} in {result.seconds:.1f} s",
          flush=True)
    return result


def run_all(sections: list[Section], plan: Plan) -> list[Result]:
    """One section after another, so that none times another's load. The dry run's figures mean
    nothing, so there serving (other processes, mostly waiting on their start) runs beside the rest."""
    early = {s.key: start(s, plan) for s in sections if plan.dry and s.key == "serving"}
    results = {s.key: finish(start(s, plan)) for s in sections if s.key not in early}
    results.update({key: finish(running) for key, running in early.items()})
    return [results[s.key] for s in sections]


def default_report_path() -> Path:
    out = os.environ.get("OUT")  # the folder a device machine's run sends back
    return Path(out) / "gpu_report.md" if out else ROOT / "var" / "gpu_report.md"


def git_head() -> str:
    try:
        described = subprocess.run(["git", "log", "-1", "--format=%h %cs %s"], cwd=ROOT, capture_output=True,
                                   text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (no git)"
    return f"{described[:90] or 'unknown'}{' (plus uncommitted changes)' if dirty else ''}"


def report(results: list[Result], plan: Plan, seconds: float) -> str:
    device = next((r.outcome.device for r in results if r.outcome.device), "unknown (no torch section ran)")
    failed = [r for r in results if not r.ok]
    lines = [
        f"# GPU check{' (dry run: CPU, tiny sizes; the figures mean nothing)' if plan.dry else ''}",
        "",
        f"- device: **{device}**",
        f"- when: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; commit {git_head()}",
        f"- machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]} ({sys.executable})",
        f"- total: {seconds:.0f} s; {len(results) - len(failed)} of {len(results)} sections passed",
    ]
    if os.environ.get("GPU_CHECK_SETUP"):
        lines.append(f"- setup: {os.environ['GPU_CHECK_SETUP']}")
    lines += ["", "| section | result | seconds | budget |", "| --- | --- | ---: | ---: |"]
    lines += [f"| {r.section.title} | {'passed' if r.ok else '**FAILED**'} | {r.seconds:.1f} | "
              f"{DRY_BUDGET if plan.dry else r.section.budget:.0f} |" for r in results]
    if plan.dry:
        lines += ["", "(In the dry run serving runs beside the other sections.)"]
    for r in results:
        lines += ["", f"## {r.section.title}", "", *r.outcome.lines]
        if not r.ok:
            lines += ["", "**Failed:**", "", "```", r.error.strip(), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bash scripts/gpu_check.sh", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="every section on the CPU at tiny sizes")
    parser.add_argument("--out", type=Path, default=None, help="the report (default: $OUT/gpu_report.md "
                        "when OUT is set, else var/gpu_report.md)")
    parser.add_argument("--only", nargs="+", choices=[s.key for s in SECTIONS], help="these sections alone")
    args = parser.parse_args(argv)
    plan = DRY if args.dry_run else REAL
    started = time.monotonic()
    preload()
    results = run_all([s for s in SECTIONS if not args.only or s.key in args.only], plan)
    text = report(results, plan, time.monotonic() - started)
    path = args.out or default_report_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text)
    print(f"gpu_check: report written to {path}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
