"""safetensors in ml/common: the header is held to the file before any tensor is read, a Git LFS
pointer is named as one, and a studio export round-trips its checkpoint dict byte for byte."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch

from ml.common.checkpoint import (
    CheckpointError,
    checkpoint_dict,
    load_any,
    load_checkpoint,
    load_state_dict_file,
    to_safetensors,
)
from ml.dcgan.config import DCGANConfig
from ml.dcgan.formats import import_dcgan
from ml.dcgan.model import Generator

BROKEN = "a safetensors file with a broken header"
LFS = ("version https://git-lfs.github.com/spec/v1\n"
       "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n")


def raw(header: Any, data: bytes = b"", *, length: int | None = None) -> bytes:
    """A safetensors file with exactly this header (a dict as JSON, or bytes as they are)."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def refusal(data: bytes) -> str:
    with pytest.raises(CheckpointError) as caught:
        load_any(io.BytesIO(data))
    return str(caught.value)


def f32(shape: list[int], start: int, stop: int) -> dict[str, Any]:
    return {"dtype": "F32", "shape": shape, "data_offsets": [start, stop]}


@pytest.mark.parametrize(("data", "message"), [
    (raw(b"{}", length=1000),
     f"{BROKEN}: the header length says 1,000 bytes but the file holds only 2 after it"),
    (raw(b"{nope"), f"{BROKEN}: the header is not JSON (Expecting property name enclosed in double "
                    "quotes: line 1 column 2 (char 1))"),
    (raw({"x": f32([10, 10], 0, 100)}, bytes(100)),
     f"{BROKEN}: tensor 'x' says offsets [0, 100] but its shape (10, 10) of F32 needs 400 bytes"),
    (raw({"x": f32([1], 0, 4000)}, bytes(4)),
     f"{BROKEN}: tensor 'x' says offsets [0, 4000] but the data after the header is 4 bytes"),
    (raw({"x": f32([2], 0, 8), "y": f32([2], 4, 12)}, bytes(12)),
     f"{BROKEN}: tensor 'y' at bytes [4, 12] overlaps tensor 'x', which ends at byte 8"),
    (raw({"x": f32([1], 4, 8)}, bytes(8)), f"{BROKEN}: 4 bytes before tensor 'x' belong to no tensor"),
    (raw({"x": f32([1], 0, 4)}, bytes(8)),
     f"{BROKEN}: the tensors cover 4 bytes but the file holds 8 after the header"),
    (raw({"x": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, bytes(16)),
     f"{BROKEN}: tensor 'x' has unknown dtype 'F128'"),
    (raw({"x": f32([1_000_000, 512, 4, 4], 0, 4)}, bytes(4)),
     f"{BROKEN}: tensor 'x' says offsets [0, 4] but its shape (1000000, 512, 4, 4) of F32 needs "
     "32,768,000,000 bytes"),
    (raw({"x": f32([-1], 0, 4)}, bytes(4)),
     f"{BROKEN}: tensor 'x' has shape [-1], not a list of non-negative integers"),
    (raw({"x": f32([1], 4, 0)}, bytes(4)),
     f"{BROKEN}: tensor 'x' says offsets [4, 0] but the data after the header is 4 bytes"),
    (raw({"__metadata__": {"format": 1}, "x": f32([1], 0, 4)}, bytes(4)),
     f"{BROKEN}: __metadata__ must map text to text"),
    (raw({"x": {"dtype": "F32", "shape": [1]}}, bytes(4)),
     f"{BROKEN}: tensor 'x' must have exactly dtype, shape and data_offsets"),
    (raw(b'{"x": 1}'), f"{BROKEN}: tensor 'x' must have exactly dtype, shape and data_offsets"),
    (LFS.encode(), "this is a Git LFS pointer, not the weights: fetch the real file with git lfs pull"),
])
def test_hostile_and_broken_files_are_refused_in_words(data: bytes, message: str) -> None:
    assert refusal(data) == message


def test_a_file_named_safetensors_says_what_is_wrong_with_its_header(tmp_path: Path) -> None:
    # Not "{" at byte 8, so only its name says what it means to be: not "code/objects" then.
    path = tmp_path / "model.safetensors"
    path.write_bytes(raw([1, 2]))
    with pytest.raises(CheckpointError, match=f"^{BROKEN}: the header is not a JSON object$"):
        load_any(path)
    path.write_bytes(b"\x01\x02")
    with pytest.raises(CheckpointError, match=f"^{BROKEN}: the file has only 2 bytes, fewer than the 8 "):
        load_any(path)


def test_a_git_lfs_pointer_is_named_as_one_wherever_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "netG_epoch_24.pth"
    path.write_text(LFS)
    message = "this is a Git LFS pointer, not the weights: fetch the real file with git lfs pull"
    for read in (load_any, load_checkpoint, load_state_dict_file, import_dcgan):
        with pytest.raises(CheckpointError, match="^" + message + "$"):
            read(path)  # type: ignore[operator]


def small_dcgan() -> dict[str, Any]:
    torch.manual_seed(0)
    cfg = DCGANConfig(ngf=8)
    return checkpoint_dict(family="dcgan", config=cfg, state_dict=Generator(cfg).state_dict(),
                           extra={"epochs": 3, "optimizer": {"step": torch.tensor(5)}})


def test_a_studio_export_round_trips_its_checkpoint_dict_byte_exact(tmp_path: Path) -> None:
    original = small_dcgan()
    path = tmp_path / "dcgan.safetensors"
    path.write_bytes(to_safetensors(original))
    back = load_checkpoint(path)
    assert back["format"] == "studio-checkpoint" and back["version"] == 1 and back["family"] == "dcgan"
    assert back["config"] == original["config"]
    assert back["extra"] == {"epochs": 3}  # the optimizer's tensors are no JSON: left out
    assert sorted(back["state_dict"]) == sorted(original["state_dict"])
    for key, tensor in original["state_dict"].items():
        got = back["state_dict"][key]
        assert got.dtype == tensor.dtype and got.shape == tensor.shape, key
        assert got.numpy().tobytes() == tensor.numpy().tobytes(), key
    # ... and the importer gives it back as it is (no import, no renaming).
    assert import_dcgan(path)["state_dict"].keys() == original["state_dict"].keys()


def test_a_public_safetensors_state_dict_goes_through_the_family_importer(tmp_path: Path) -> None:
    state = small_dcgan()["state_dict"]
    path = tmp_path / "netG.safetensors"
    # As Hugging Face writes them: a plain state_dict, {"format": "pt"} as metadata.
    safetensors.torch.save_file({f"module.{k}": v for k, v in state.items()}, path, metadata={"format": "pt"})
    imported = import_dcgan(path)
    assert imported["config"]["ngf"] == 8
    assert imported["extra"]["imported_from"] == "plain state_dict (DataParallel)"
    assert all(torch.equal(imported["state_dict"][k], v) for k, v in state.items())
    assert set(load_state_dict_file(path)) == {f"module.{k}" for k in state}


def test_metadata_beside_public_weights_comes_back_beside_the_state_dict() -> None:
    data = safetensors.torch.save({"w": torch.ones(2)}, metadata={"tokens": "ab", "n_hidden": "4"})
    obj = load_any(io.BytesIO(data))
    assert obj["tokens"] == "ab" and obj["n_hidden"] == "4"
    assert torch.equal(obj["state_dict"]["w"], torch.ones(2))


def test_a_studio_export_with_unreadable_metadata_is_refused() -> None:
    data = safetensors.torch.save({"w": torch.ones(2)}, metadata={"format": "studio-checkpoint",
                                                                  "version": "1", "config": "{oops"})
    assert refusal(data).startswith("a studio safetensors export with unreadable metadata")
