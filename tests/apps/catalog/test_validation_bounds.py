"""Catalog validation with bounded memory and time: every hostile file ends ``invalid`` with a plain
message, never an exception that leaves the version ``pending``, and never gets the memory it asks
for. In this process (``check``, under a temporary RLIMIT_AS) and in a spawned child (the Celery
task's way), against the real dcgan family at an eighth of its width.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import torch

from apps.catalog import services, tasks
from apps.catalog.models import ModelVersion
from apps.catalog.validation import exit_message
from ml.common.checkpoint import load_checkpoint
from ml.dcgan.model import Generator
from tests.apps.catalog.dcgan_files import CONFIG, dcgan_file

pytestmark = pytest.mark.django_db
# The tests that start a Python process (torch's import alone is 2 s) run with the integration tests,
# keeping `pytest -m unit` quick (tests/plugin.py).
SPAWNS = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
HOSTILE = "a malformed or hostile checkpoint"
# The report: a stride-0 view of 4 bytes claiming (1e6, 512, 4, 4) floats. Unchecked, isfinite()
# alone would allocate 8 GB for it, and the importer's contiguous copy 32 GB.
CLAIM_MESSAGE = ("tensor 'state_dict.main.0.weight' claims 32,768,000,000 bytes (shape (1000000, 512, 4, 4)) "
                 f"but the file stores only 4 bytes for it: {HOSTILE}")
# ngf 40,000: the first layer alone is 100 x 160,000 x 4 x 4 floats, 1 GB, for a file of 60 KB.
WIDE = {"nz": 100, "ngf": 40_000, "nc": 3, "image_size": 32}


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return Generator(CONFIG).state_dict()


@pytest.fixture(scope="module")
def claim(state: dict[str, torch.Tensor]) -> bytes:
    lie = torch.empty(1).as_strided((1_000_000, 512, 4, 4), (0, 0, 0, 0))
    return dcgan_file(state, **{"main.0.weight": lie})


def add(content: bytes) -> ModelVersion:
    return services.add_version("dcgan", "hostile", io.BytesIO(content), "netG.pt")


def ends_invalid(content: bytes, *, isolated: bool = False) -> str:
    version = services.validate_version(add(content), isolated=isolated)
    version.refresh_from_db()
    assert version.validation == ModelVersion.Validation.INVALID, version.validation_errors
    assert version.validation_started_at is not None and version.validation_attempts == 1
    return version.validation_errors


def memory_message(budget: str) -> str:
    return (f"validation needed more than the {budget} of memory it may use "
            "(STUDIO_VALIDATION_MEMORY_BYTES): the checkpoint asks for far more than it holds, or is too "
            "large to check here")


def mib(settings: Any, content: bytes) -> str:
    """The bound validation works under: the setting plus three times the file."""
    return f"{(settings.STUDIO_VALIDATION_MEMORY_BYTES + 3 * len(content)) // 2**20} MiB"


# --- in this process -------------------------------------------------------------------------------


def test_the_32_gb_claim_is_refused_within_a_16_mib_bound(settings: Any, claim: bytes) -> None:
    """Refused from the metadata: with 16 MiB to spare, any attempt at the 8 GB would have said so."""
    settings.STUDIO_VALIDATION_MEMORY_BYTES = 16 * 2**20
    before = resource.getrlimit(resource.RLIMIT_AS)
    assert ends_invalid(claim) == CLAIM_MESSAGE
    assert resource.getrlimit(resource.RLIMIT_AS) == before  # lifted again


def test_a_config_asking_for_a_gigabyte_hits_the_bound_and_the_process_goes_on(
    settings: Any, state: dict[str, torch.Tensor]
) -> None:
    settings.STUDIO_VALIDATION_MEMORY_BYTES = 64 * 2**20
    wide = dcgan_file(state, config=WIDE)
    assert ends_invalid(wide) == memory_message(mib(settings, wide))
    version = services.validate_version(add(dcgan_file(state)))  # the same process, unharmed
    assert version.validation == ModelVersion.Validation.VALID, version.validation_errors


@pytest.mark.parametrize(("error", "message"), [
    (ZeroDivisionError("boom"), "validation failed: ZeroDivisionError: boom"),
    (MemoryError(), memory_message("4.0 GiB")),
    (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 32768000000 bytes"),
     memory_message("4.0 GiB")),
])
def test_any_error_in_the_checks_ends_invalid(error: Exception, message: str,
                                              state: dict[str, torch.Tensor]) -> None:
    with mock.patch("apps.catalog.validation.validate", side_effect=error):
        assert ends_invalid(dcgan_file(state)) == message


def test_an_error_outside_the_checks_ends_invalid_too(state: dict[str, torch.Tensor]) -> None:
    with mock.patch("apps.catalog.services._local_path", side_effect=OSError("disk gone")):
        assert ends_invalid(dcgan_file(state)) == "validation failed: OSError: disk gone"


def test_each_validation_records_its_start(state: dict[str, torch.Tensor]) -> None:
    version = services.validate_version(add(dcgan_file(state)))
    first = version.validation_started_at
    services.validate_version(version)
    version.refresh_from_db()
    assert version.validation_attempts == 2 and version.validation_started_at > first


PEAK_PROBE = """
import json, sys
from pathlib import Path
from apps.catalog.validation import check

def kib(field):
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith(field)).split()[1])

# A good file first, so torch's and the family's first-use allocations are behind us.
check(Path(sys.argv[1]), "dcgan", converted=Path(sys.argv[1] + ".c"), max_bytes=10**9, memory_bytes=0)
rss = kib("VmRSS:")
verdict = check(Path(sys.argv[2]), "dcgan", converted=Path(sys.argv[2] + ".c"), max_bytes=10**9,
                memory_bytes=2**30)  # 1 GiB: a regression fails here, without taking the machine down
print(json.dumps([verdict.errors, kib("VmHWM:") - rss]))
"""


@SPAWNS
def test_the_claim_grows_the_peak_rss_by_almost_nothing(
    claim: bytes, state: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    """In a fresh process, after a good file has warmed it up: its peak resident set (VmHWM)."""
    (tmp_path / "good.pt").write_bytes(dcgan_file(state))
    (tmp_path / "claim.pt").write_bytes(claim)
    files = [str(tmp_path / "good.pt"), str(tmp_path / "claim.pt")]
    done = subprocess.run([sys.executable, "-c", PEAK_PROBE, *files], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    errors, growth_kib = json.loads(done.stdout)
    print(f"peak RSS growth {growth_kib / 1024:.1f} MiB")
    assert errors == [CLAIM_MESSAGE] and growth_kib < 20 * 1024


# --- in a child, as the Celery task runs it ----------------------------------------------------------


@SPAWNS
def test_the_task_validates_in_a_child_and_the_claim_ends_invalid(claim: bytes) -> None:
    """After this process has run torch's thread pool: a forked child could hang on its locks, the
    spawned one starts clean."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert torch.isfinite(torch.randn(512, 512) @ torch.randn(512, 512)).all()
    finally:
        torch.set_num_threads(threads)
    version = add(claim)
    tasks.validate_version(version.pk)  # what the worker runs
    version.refresh_from_db()
    assert version.validation == ModelVersion.Validation.INVALID
    assert version.validation_errors == CLAIM_MESSAGE


@SPAWNS
def test_in_a_child_the_bound_holds_and_a_good_file_passes(settings: Any,
                                                           state: dict[str, torch.Tensor]) -> None:
    settings.STUDIO_VALIDATION_MEMORY_BYTES = 64 * 2**20
    wide = dcgan_file(state, config=WIDE)
    assert ends_invalid(wide, isolated=True) == memory_message(mib(settings, wide))
    version = services.validate_version(add(dcgan_file(state)), isolated=True)
    assert version.validation == ModelVersion.Validation.VALID, version.validation_errors
    assert version.config == {"nz": 100, "ngf": 8, "nc": 3, "image_size": 64}


@SPAWNS
def test_a_public_format_is_imported_in_the_child_and_replaces_the_upload(
    state: dict[str, torch.Tensor],
) -> None:
    """The tutorial's netG_epoch_N.pth (a plain state_dict): the child converts it, the worker stores
    the studio checkpoint it wrote."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    version = add(buffer.getvalue())
    tasks.validate_version(version.pk)
    version.refresh_from_db()
    assert version.validation == ModelVersion.Validation.VALID, version.validation_errors
    assert version.source == ModelVersion.Source.IMPORTED and version.checkpoint.name.endswith(".studio.pt")
    with version.checkpoint.open("rb") as fh:
        assert load_checkpoint(fh)["family"] == "dcgan"


@SPAWNS
def test_a_child_that_runs_too_long_is_stopped(settings: Any, state: dict[str, torch.Tensor]) -> None:
    """3/4 of the sweep's timeout, so the task's verdict comes first; here 0.75 s, less than the
    child needs to import torch."""
    settings.STUDIO_VALIDATION_TIMEOUT_S = 1
    assert ends_invalid(dcgan_file(state), isolated=True) == (
        "validation did not finish within 0.75 s and was stopped: the checkpoint is too large to check "
        "in time, or hostile (STUDIO_VALIDATION_TIMEOUT_S)")


@pytest.mark.parametrize(("returncode", "stderr", "message"), [
    (-signal.SIGKILL, "", "validation was killed (SIGKILL), most likely by the system for running out "
                          "of memory: the checkpoint asks for far more than it holds, or is too large to "
                          "check here"),
    (-signal.SIGSEGV, "", f"validation crashed (SIGSEGV) while reading the checkpoint: {HOSTILE}"),
    (-signal.SIGABRT, "libgomp: Thread creation failed",
     f"validation crashed (SIGABRT) while reading the checkpoint: {HOSTILE}"),
    (1, "Traceback...\nImportError: no module named x\n\n", "validation failed: its process exited with "
                                                             "status 1: ImportError: no module named x"),
])
def test_a_child_that_leaves_no_verdict_is_explained(returncode: int, stderr: str, message: str) -> None:
    assert exit_message(returncode, stderr) == message


@SPAWNS
def test_a_real_crash_in_the_child_ends_invalid(state: dict[str, torch.Tensor]) -> None:
    """The child dies by a signal (here: the interpreter is told to abort at start)."""
    crash = f"import os, sys; os.kill(os.getpid(), {int(signal.SIGSEGV)})"
    real_run = subprocess.run

    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return real_run([command[0], "-c", crash], **kwargs)

    with mock.patch("apps.catalog.validation.subprocess.run", run):
        assert ends_invalid(dcgan_file(state), isolated=True) == (
            f"validation crashed (SIGSEGV) while reading the checkpoint: {HOSTILE}")


# --- the task ---------------------------------------------------------------------------------------


def test_a_resent_task_skips_a_version_whose_validation_began_or_ended(
    state: dict[str, torch.Tensor],
) -> None:
    version = add(dcgan_file(state))
    with mock.patch("apps.catalog.services.validate_version") as validate:
        tasks.validate_version(version.pk, resent=True)  # pending, never begun: the lost message
        assert validate.call_count == 1 and validate.call_args.kwargs == {"isolated": True}
        ModelVersion.objects.filter(pk=version.pk).update(validation_started_at=version.created_at)
        tasks.validate_version(version.pk, resent=True)  # begun meanwhile
        ModelVersion.objects.filter(pk=version.pk).update(validation="valid", validation_started_at=None)
        tasks.validate_version(version.pk, resent=True)  # done
        assert validate.call_count == 1
        tasks.validate_version(version.pk)  # an admin's "Validate again" always runs
        assert validate.call_count == 2
