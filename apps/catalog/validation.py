"""The part of catalog validation that reads the checkpoint, with a bound on its memory: load it
(weights_only, every tensor held to the bytes the file stores), import a public format, check it
against its family with a dry run. No Django here: the database is apps/catalog/services.py's.

It runs in the caller's process (``check``: the starters, a training job's own result, tests) or, for
files people upload, in a fresh child (``check_isolated``: ``python -m apps.catalog.validation``).
ml/common/checkpoint.py refuses tensors that claim more than the file holds, but a file can still ask
for memory other ways (a config asking for a network of billions of weights, a pickle of millions of
objects) or crash torch's C++ on crafted input. Either way the version must end ``invalid`` with a
plain message, and the worker must live on: in the child an address-space limit (RLIMIT_AS) turns an
oversized allocation into MemoryError, and a crash or a kill is only the child's exit status.

The child is spawned (a fresh interpreter), never forked: forking a process whose torch thread pools
have run can deadlock in the child, and Celery's prefork pool processes are daemonic, so they may not
start multiprocessing children at all.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ml.common.checkpoint import (
    HOSTILE,
    CheckpointError,
    as_family_checkpoint,
    is_studio_checkpoint,
    load_any,
)
from ml.common.family import Family, validate
from ml.families import get_family

ROOT = Path(__file__).resolve().parents[2]
OUT_OF_MEMORY = ("can't allocate memory", "not enough memory", "std::bad_alloc", "Cannot allocate memory")


@dataclass
class Verdict:
    errors: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # the checkpoint's, when it has no errors
    # The file was in a public format: the studio checkpoint it became is at ``converted``, and
    # replaces the upload (even when it then fails the family's checks, as it always did).
    converted: bool = False


def check(path: Path, family_name: str, *, converted: Path, max_bytes: int, memory_bytes: int) -> Verdict:
    """Check ``path`` in this process, which may map ``memory_bytes`` more than it does now while it
    does. Never raises: any failure, MemoryError included, is the verdict's error."""
    try:
        family = get_family(family_name)  # before the limit: the first call imports every family
    except KeyError as exc:
        return Verdict(errors=[str(exc.args[0]) if exc.args else "unknown model family"])
    try:
        with memory_limit(memory_bytes):
            return _check(path, family, converted, max_bytes)
    except Exception as exc:  # here the limit is lifted again, and the checkpoint's objects freed
        return Verdict(errors=[describe(exc, memory_bytes)])


def _check(path: Path, family: Family, converted: Path, max_bytes: int) -> Verdict:
    try:
        checkpoint, imported = _studio_checkpoint(path, family, converted, max_bytes)
        if checkpoint.get("family") != family.name:
            return Verdict(errors=[f"checkpoint is for family {checkpoint.get('family')!r}, "
                                   f"not {family.name!r}"], converted=imported)
        report = validate(family, checkpoint)
    except CheckpointError as exc:
        return Verdict(errors=[str(exc)])
    config = {} if report.errors else dict(checkpoint.get("config") or {})
    try:
        json.dumps(config, allow_nan=False)  # to a JSONField (PostgreSQL refuses NaN), via JSON
    except (TypeError, ValueError):
        return Verdict(errors=["the checkpoint's config is not plain data (numbers, text, lists)"],
                       converted=imported)
    return Verdict(errors=list(report.errors), config=config, converted=imported)


def _studio_checkpoint(path: Path, family: Family, converted: Path,
                       max_bytes: int) -> tuple[dict[str, Any], bool]:
    """The file as a studio checkpoint, and whether it was imported from a public format (then also
    saved to ``converted``)."""
    obj = load_any(path, max_bytes=max_bytes)
    if is_studio_checkpoint(obj):
        return as_family_checkpoint(obj, obj.get("family")) or obj, False
    if not family.importer:
        raise CheckpointError("not a studio checkpoint (no 'format: studio-checkpoint' marker), and "
                              f"the {family.name} family imports no public formats")
    del obj
    try:
        # Importers take a path: some name what they import after the file (e.g. a style).
        checkpoint = family.import_public(str(path))
    except CheckpointError as exc:
        raise CheckpointError(f"not a studio checkpoint, nor a public {family.name} format: {exc}") from exc
    torch.save(checkpoint, converted)
    return checkpoint, True


def describe(exc: BaseException, memory_bytes: int) -> str:
    """An unexpected failure in words: running out of memory says which limit; anything else names
    the error, since it is a file the checks did not foresee."""
    text = str(exc).strip()
    if isinstance(exc, MemoryError) or any(marker in text for marker in OUT_OF_MEMORY):
        size = f"{memory_bytes / 2**30:.1f} GiB" if memory_bytes >= 2**30 else f"{memory_bytes // 2**20} MiB"
        return (f"validation needed more than the {size} of memory it may use "
                "(STUDIO_VALIDATION_MEMORY_BYTES): the checkpoint asks for far more than it holds, "
                "or is too large to check here")
    first = text.splitlines()[0][:200] if text else "no message"
    return f"validation failed: {type(exc).__name__}: {first}"


_limit_lock = threading.RLock()


@contextmanager
def memory_limit(headroom: int) -> Iterator[None]:
    """Cap this process's address space at what it maps now plus ``headroom`` (an allocation past it
    fails: MemoryError, or torch's RuntimeError), lifted again on exit. Relative, not absolute:
    importing a CUDA build of torch alone maps about 3 GB it never touches. Never loosens a limit
    already set. A no-op where /proc is missing or ``headroom`` is 0."""
    with _limit_lock:  # two threads validating at once would restore each other's limits
        mapped = mapped_bytes()
        if mapped is None or headroom <= 0:
            yield
            return
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = mapped + headroom
        for existing in (soft, hard):
            if existing != resource.RLIM_INFINITY:
                cap = min(cap, existing)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def mapped_bytes() -> int | None:
    """This process's address space now (VmSize), None where /proc does not say."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_isolated(path: Path, family_name: str, *, converted: Path, max_bytes: int, memory_bytes: int,
                   timeout_s: float) -> Verdict:
    """``check`` in a fresh child process, stopped after ``timeout_s``; however it ends, a verdict."""
    result = converted.with_name(converted.name + ".verdict.json")
    request = {"path": str(path), "family": family_name, "converted": str(converted), "result": str(result),
               "max_bytes": max_bytes, "memory_bytes": memory_bytes}
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": python_path,
           # Each thread's malloc arena reserves 64 MB of address space: few, or the limit fills up.
           "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, "-m", "apps.catalog.validation", json.dumps(request)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:  # run() has killed the child
        return Verdict(errors=[f"validation did not finish within {timeout_s:g} s and was stopped: the "
                               "checkpoint is too large to check in time, or hostile "
                               "(STUDIO_VALIDATION_TIMEOUT_S)"])
    if done.returncode == 0 and result.exists():
        return Verdict(**json.loads(result.read_text()))
    return Verdict(errors=[exit_message(done.returncode, done.stderr)])


def exit_message(returncode: int, stderr: str) -> str:
    """Why the child left no verdict, in words."""
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        if -returncode == signal.SIGKILL:
            return (f"validation was killed ({name}), most likely by the system for running out of "
                    "memory: the checkpoint asks for far more than it holds, or is too large to check here")
        return f"validation crashed ({name}) while reading the checkpoint: {HOSTILE}"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = f": {lines[-1][:200]}" if lines else ""
    return f"validation failed: its process exited with status {returncode}{last}"


def main(argv: list[str]) -> int:
    """The child: one JSON request in argv, the verdict as JSON in the file it names."""
    request = json.loads(argv[0])
    torch.set_num_threads(1)  # a tiny dry run; more threads would only take address space
    verdict = check(Path(request["path"]), request["family"], converted=Path(request["converted"]),
                    max_bytes=request["max_bytes"], memory_bytes=request["memory_bytes"])
    Path(request["result"]).write_text(json.dumps(asdict(verdict)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
