"""Hostile and broken checkpoints, pushed through the catalog (add_version, then validate_version)
against the real dcgan family: each is rejected with a message that says why in words, cannot be
activated, and runs nothing.

The crafted files follow torch's zip layout: ``<dir>/data.pkl`` (the pickle; tensors in it are
persistent ids ``('storage', FloatStorage, key, 'cpu', numel)``), ``<dir>/data/<key>`` (the raw
bytes of each storage, stored uncompressed), ``<dir>/version``, ``<dir>/byteorder`` and so on.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import torch

from apps.catalog import services
from apps.catalog.models import ModelVersion
from ml.common.checkpoint import load_checkpoint, save_checkpoint
from ml.dcgan.model import Generator
from tests.apps.catalog.dcgan_files import CONFIG, dcgan_file

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
CLAIM_NUMEL = 500_000_000  # float32: a 2 GB claim
PLANTED_NUMEL = 70_001  # a tensor of this many elements is the one the crafted files lie about


# --- building files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return Generator(CONFIG).state_dict()


@pytest.fixture(scope="module")
def good(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    save_checkpoint(buffer, family="dcgan", config=CONFIG, state_dict=state)
    return buffer.getvalue()


def write_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip by hand: (name, bytes as stored, method 0 stored / 8 deflated, unpacked size, crc32).
    zipfile would have to deflate 2 GB itself to write the bomb below; this takes its stream as is."""
    out, central = bytearray(), bytearray()
    for name, data, method, size, crc in entries:
        encoded, offset = name.encode(), len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size,
                           len(encoded), 0) + encoded + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc,
                               len(data), size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + end)


def deflated_zeros(nbytes: int, chunk: int = 1_000_000) -> tuple[bytes, int]:
    """A raw deflate stream of ``nbytes`` zeros (about 1.3 KB per MB) and their crc32, without
    compressing 2 GB: after a full flush the compressor starts afresh, so each chunk's output is
    the same bytes and can simply be repeated."""
    assert nbytes % chunk == 0
    zeros = bytes(chunk)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(nbytes // chunk):
        crc = zlib.crc32(zeros, crc)
    return block * (nbytes // chunk) + zlib.compressobj(9, zlib.DEFLATED, -15).flush(), crc


def claiming(state: dict[str, torch.Tensor], how: str) -> bytes:
    """A studio checkpoint holding one extra tensor of PLANTED_NUMEL zeros, rewritten to claim
    CLAIM_NUMEL float32 (2 GB) for it:

    storage: data.pkl says the storage has 2 GB; its record holds 16 bytes.
    bomb:    data.pkl says the storage has 2 GB and the record really unpacks to 2 GB of zeros, but
             it is deflated: the file is about 2 MB. torch.load inflates it into memory.
    shape:   the storage is honest (280 KB); the tensor's shape claims 500M elements of it.
    """
    planted = {**state, "planted": torch.zeros(PLANTED_NUMEL)}
    source = zipfile.ZipFile(io.BytesIO(dcgan_file(planted)))
    old, new = b"J" + struct.pack("<i", PLANTED_NUMEL), b"J" + struct.pack("<i", CLAIM_NUMEL)
    entries = []
    for info in source.infolist():
        data = source.read(info.filename)
        if info.filename.endswith("/data.pkl"):
            assert data.count(old) == 2  # the storage's numel, then the tensor's shape
            if how == "shape":
                at = data.rindex(old)
                data = data[:at] + new + data[at + len(old):]
            else:
                data = data.replace(old, new)
        elif info.file_size == PLANTED_NUMEL * 4 and "/data/" in info.filename and how != "shape":
            if how == "bomb":
                stream, crc = deflated_zeros(CLAIM_NUMEL * 4)
                entries.append((info.filename, stream, zipfile.ZIP_DEFLATED, CLAIM_NUMEL * 4, crc))
                continue
            data = data[:16]
        entries.append((info.filename, data, zipfile.ZIP_STORED, len(data), zlib.crc32(data)))
    return write_zip(entries)


def test_the_bomb_is_a_real_zip_of_zeros() -> None:
    """At a small scale, so the 2 GB one is known to be what torch.load would inflate (measured by
    hand: loading it unchecked grows the peak RSS by 1.9 GB)."""
    stream, crc = deflated_zeros(5_000_000)
    archive = write_zip([("a/data/0", stream, zipfile.ZIP_DEFLATED, 5_000_000, crc)])
    assert len(archive) < 10_000
    assert zipfile.ZipFile(io.BytesIO(archive)).read("a/data/0") == bytes(5_000_000)  # crc checked


# --- going through the catalog ---------------------------------------------------------------------


def add(content: bytes) -> ModelVersion:
    return services.add_version("dcgan", "hostile", io.BytesIO(content), "netG.pt")


def rejected(content: bytes, *phrases: str) -> str:
    """Validate through the catalog; it must be invalid, say each phrase, and refuse activation."""
    version = services.validate_version(add(content))
    version.refresh_from_db()
    errors = version.validation_errors
    assert version.validation == ModelVersion.Validation.INVALID, errors
    for phrase in phrases:
        assert phrase in errors, f"{phrase!r} not in {errors!r}"
    with pytest.raises(services.CatalogError, match="has not passed validation"):
        services.activate(version)
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.DRAFT and services.active_version("dcgan") is None
    return errors


def test_the_untouched_checkpoint_validates_and_activates(good: bytes) -> None:
    """The baseline the hostile files are variations of: it passes against the real family."""
    version = services.validate_version(add(good))
    assert version.validation == "valid", version.validation_errors
    assert version.config == {"nz": 100, "ngf": 8, "nc": 3, "image_size": 64}
    services.activate(version)
    assert services.active_version("dcgan") == version


# --- code in the pickle ----------------------------------------------------------------------------


class Payload:
    """Unpickling this calls ``runner(argument)``: either would leave the marker file behind."""

    def __init__(self, runner: Any, argument: str) -> None:
        self.runner, self.argument = runner, argument

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.runner, (self.argument,))


def payload(kind: str, marker: Path) -> Payload:
    if kind == "os.system":
        return Payload(os.system, f"touch {marker}")
    return Payload(builtins.exec, f"open({str(marker)!r}, 'w').close()")


@pytest.mark.parametrize("kind", ["os.system", "exec"])
@pytest.mark.parametrize("container", ["torch.save", "pickle.dumps"])
def test_a_reduce_payload_is_refused_and_never_runs(
    kind: str, container: str, tmp_path: Path, good: bytes
) -> None:
    marker = tmp_path / "pwned"
    if container == "torch.save":  # dressed up as a studio checkpoint, the payload as a weight
        evil = {"format": "studio-checkpoint", "version": 1, "family": "dcgan",
                "config": {"ngf": 8}, "state_dict": {"main.0.weight": payload(kind, marker)}}
        buffer = io.BytesIO()
        torch.save(evil, buffer)
        content = buffer.getvalue()
    else:  # a bare pickle, not a zip: the legacy-format reader gets it
        content = pickle.dumps(payload(kind, marker), protocol=2)
    # Make sure the payload is live: plain pickle would run it.
    pickle.loads(content if container == "pickle.dumps" else pickle.dumps(payload(kind, marker)))
    assert marker.exists()
    marker.unlink()

    rejected(content, "refused: contains code/objects that are not plain tensors")
    assert not marker.exists()


# --- broken files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", ["first 100 bytes", "50%", "90%", "all but the last byte"])
def test_a_truncated_checkpoint_is_rejected(cut: str, good: bytes) -> None:
    keep = {"first 100 bytes": 100, "50%": len(good) // 2, "90%": len(good) * 9 // 10,
            "all but the last byte": len(good) - 1}[cut]
    rejected(good[:keep], "not a checkpoint: file is truncated or corrupt")


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("contents", ["text files", "a checkpoint inside"])
def test_a_zip_that_is_not_a_checkpoint_is_rejected(contents: str, good: bytes) -> None:
    files = ({"README.md": b"# my model\n", "weights/notes.txt": b"trained for 3 days"}
             if contents == "text files" else {"release/netG.pt": good})
    rejected(zip_of(files), "not a checkpoint: a zip archive, but not a PyTorch file (no data.pkl)")


def test_a_plain_state_dict_that_is_no_dcgan_is_rejected() -> None:
    buffer = io.BytesIO()
    torch.save({"encoder.weight": torch.zeros(4, 4)}, buffer)
    rejected(buffer.getvalue(), "not a studio checkpoint, nor a public dcgan format")


def test_a_public_dcgan_file_is_imported_and_replaces_the_upload(state: dict[str, torch.Tensor]) -> None:
    """The tutorial's netG_epoch_N.pth (a plain state_dict) is a public format: the catalog converts
    it to a studio checkpoint, which is what it then stores, hashes and validates."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    upload = buffer.getvalue()
    version = services.validate_version(add(upload))
    version.refresh_from_db()
    assert version.validation == ModelVersion.Validation.VALID, version.validation_errors
    assert version.source == ModelVersion.Source.IMPORTED
    assert version.source_ref == f"uploaded netG.pt sha256:{hashlib.sha256(upload).hexdigest()[:16]}"
    with version.checkpoint.open("rb") as fh:
        stored = fh.read()
    assert hashlib.sha256(stored).hexdigest() == version.sha256 and version.size == len(stored)
    assert load_checkpoint(io.BytesIO(stored))["family"] == "dcgan"
    assert version.checkpoint.name.endswith(".studio.pt")


# --- well-formed files that do not fit ------------------------------------------------------------


@pytest.mark.parametrize(("key", "shape", "model_shape"), [
    ("main.0.weight", (100, 32, 4, 4), (100, 64, 4, 4)),
    ("main.4.running_var", (16,), (32,)),
])
def test_wrong_shapes_are_named_with_both_shapes(
    key: str, shape: tuple[int, ...], model_shape: tuple[int, ...], state: dict[str, torch.Tensor]
) -> None:
    assert tuple(state[key].shape) == model_shape
    rejected(dcgan_file({**state, key: torch.zeros(shape)}),
             f"shape mismatch for {key}: checkpoint {shape}, model {model_shape}")


@pytest.mark.parametrize(("key", "value"), [
    ("main.3.weight", float("nan")),
    ("main.1.running_var", float("inf")),
])
def test_non_finite_weights_are_named(key: str, value: float, state: dict[str, torch.Tensor]) -> None:
    bad = state[key].clone()
    bad.view(-1)[0] = value
    errors = rejected(dcgan_file({**state, key: bad}), f"non-finite values (NaN/inf) in {key}")
    assert errors.count("non-finite") == 1  # only the poisoned tensor is named


@pytest.mark.parametrize(("config", "message"), [
    ({"nz": 100, "ngf": 8, "nc": 3, "image_size": 64, "dropout": 0.5},
     "bad config: unknown dcgan config keys: dropout"),
    ({"nz": 100, "ngf": 8, "nc": 3, "image_size": 128},
     "bad config: image_size must be 64 for this generator layout, got 128"),
])
def test_a_config_the_family_cannot_take_is_named(
    config: dict[str, Any], message: str, state: dict[str, torch.Tensor]
) -> None:
    rejected(dcgan_file(state, config=config), message)


# --- size claims -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def claims(state: dict[str, torch.Tensor], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("claims")
    paths = {}
    for how in ("storage", "bomb", "shape"):
        paths[how] = folder / f"{how}.pt"
        paths[how].write_bytes(claiming(state, how))
    return paths


CLAIM_MESSAGES = {
    "storage": "refused: the file claims 2,000,000,000 bytes for a tensor but holds only 16",
    "bomb": "refused: the file claims 2,000,",
    "shape": "refused: a tensor claims more bytes than the file holds for it",
}


@pytest.mark.parametrize("how", ["storage", "bomb", "shape"])
def test_a_2_gb_claim_in_a_small_file_is_refused(how: str, claims: dict[str, Path]) -> None:
    content = claims[how].read_bytes()
    assert len(content) < 3_000_000  # the bomb is the biggest: ~1.3 KB of deflate per MB it claims
    with mock.patch("ml.common.checkpoint.torch.load", wraps=torch.load) as load:
        errors = rejected(content, CLAIM_MESSAGES[how])
    if how == "bomb":  # refused from the zip directory alone, before torch reads a byte
        assert f"but holds only {len(content):,} (compressed records" in errors
        load.assert_not_called()


RSS_PROBE = """
import json, sys
from ml.common.checkpoint import CheckpointError, load_checkpoint

def kib(field):
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith(field)).split()[1])

results = {}
for path in sys.argv[1:]:
    rss = kib("VmRSS:")
    try:
        load_checkpoint(path)
        message = "loaded"
    except CheckpointError as exc:
        message = str(exc)
    results[path] = [message, kib("VmHWM:") - rss]  # peak during the load, over where it started
print(json.dumps(results))
"""


def test_a_2_gb_claim_allocates_nothing_near_2_gb(claims: dict[str, Path]) -> None:
    """Measured in a fresh process from its peak resident set (VmHWM): the bomb alone would add
    ~1.9 GB if torch.load inflated it."""
    paths = [str(claims[how]) for how in ("storage", "bomb", "shape")]
    done = subprocess.run([sys.executable, "-c", RSS_PROBE, *paths], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    for how, path in zip(("storage", "bomb", "shape"), paths, strict=True):
        message, growth_kib = results[path]
        print(f"{how}: peak RSS growth {growth_kib / 1024:.1f} MiB: {message}")
        assert message.startswith(CLAIM_MESSAGES[how])
        assert growth_kib < 100 * 1024, f"{how}: the load grew the peak RSS by {growth_kib} KiB"


def test_a_file_over_the_limit_is_refused_without_loading(settings: Any, good: bytes) -> None:
    settings.STUDIO_MAX_CHECKPOINT_BYTES = 10_000
    with mock.patch("ml.common.checkpoint.torch.load") as load:
        rejected(good, f"checkpoint too large: {len(good):,} bytes (limit 10,000)")
    load.assert_not_called()
